"""Seconds per video of every inference-time remedy vs plain sampling, on the same model, images, seeds and steps.

Two measurements in one run:

1. **Whole runs**: ``cilnb.sampling.sample(..., remedy=r)`` against plain sampling, interleaved
   repeats (minimum reported). The ratio includes the extra model calls a remedy needs by design
   (FreeInit: ``iterations`` passes; FrameInit on latent models: one VAE encode).
2. **The remedy's own cost** (target: <= 2 % of a run): the same calls on a *null model* (same
   schedule, conditioning hook and shapes, whose forward returns its input at no cost), so only the
   sampler loop and the remedy's code run; the remedy's own time is its null-model time minus
   ``passes`` x the plain null-model time, quoted as a share of ``passes`` x the plain real run.
   Whole runs drift on a shared machine by more than 2 %; this isolates the code that differs.

Usage: ``python benchmarks/remedies.py [--device cuda] [--model toy|tiny-svd|svd --model-path DIR]
[--images 16] [--steps 25] [--start 0.9] [--remedies none,freeinit,...] [--repeats 3]``.
"""
from __future__ import annotations

import argparse
import contextlib

import torch

from cilnb import remedies as R
from cilnb import sampling
from cilnb._util import data_dir
from cilnb.analytic_init import MomentStats

from _common import add_common_args, elapsed, make_inputs, setup

DEFAULT = "analytic_init,freeinit,frameinit,progressive,alg,cond_noise,alg+analytic_init"


class NullModel(torch.nn.Module):
    """The model's schedule, frames and conditioning hook, with a free forward (returns ``x_t``): what is left is cilnb's own code."""

    def __init__(self, model):
        super().__init__()
        self.schedule, self.n_frames = model.schedule, getattr(model, "n_frames", None)
        self.sample_space = getattr(model, "sample_space", "pixel")
        self._hooks = []

    @contextlib.contextmanager
    def condition_hook(self, fn):
        self._hooks.append(fn)
        try:
            yield
        finally:
            self._hooks.remove(fn)

    def forward(self, x, t, **cond):
        tt = torch.as_tensor(t, dtype=torch.float64).reshape(-1).expand(x.shape[0])
        for fn in self._hooks:
            cond = fn(tt, cond)
        return x


def passes(remedy) -> int:
    """Sampler passes a remedy needs by design (FreeInit: its iterations; others: 1)."""
    return max([getattr(r, "iterations", 1) for r in remedy.members()] or [1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--start", type=float, default=0.9, help="M of Analytic-Init (its remedy sets the start)")
    ap.add_argument("--sampler", default="ddim")
    ap.add_argument("--remedies", default=DEFAULT, help="comma-separated remedy names (cilnb.remedies.build)")
    add_common_args(ap)
    args = ap.parse_args(argv)
    device, model, which = setup(args)
    x0, cond = make_inputs(model, args.images, args.size, device)
    stats_path = data_dir() / "toy_stats.safetensors"
    stats = MomentStats.load(stats_path) if args.model == "toy" and stats_path.exists() else MomentStats().update(x0.cpu())
    rems = {"none": R.build("none")}
    for name in args.remedies.split(","):
        r = R.build(name.strip())
        if any(m.name == "analytic_init" for m in r.members()):
            r = R.compose(*[R.build("analytic_init", start=args.start) if m.name == "analytic_init" else m for m in r.members()])
        rems[name.strip()] = r
    images = x0[:, 0] if getattr(model, "sample_space", "pixel") == "pixel" else None

    def run(m, r):
        return elapsed(lambda: sampling.sample(m, cond, n_steps=args.steps, remedy=r, stats=stats, sampler=args.sampler,
                                               seed=0, frames=x0.shape[1], show_progress=False, images=images), device)

    null = NullModel(model)
    for r in rems.values():  # warm-up
        run(model, r)
    real = {k: [] for k in rems}
    for _ in range(args.repeats):  # interleaved, so drift hits every remedy alike
        for k, r in rems.items():
            real[k].append(run(model, r))
    own = {k: min(run(null, r) for _ in range(max(5, args.repeats))) for k, r in rems.items()}
    t_plain, n_plain = min(real["none"]), own["none"]
    print(f"model: {which} on {device}; {args.images} images, {args.steps} {args.sampler} steps; repeats {args.repeats}")
    print(f"{'remedy':<24} {'s/video':>9} {'ratio':>7} {'passes':>6} {'own ms':>8} {'own %':>7}")
    worst = 0.0
    for k, r in rems.items():
        p = passes(r)
        t = min(real[k])
        extra = own[k] - p * n_plain
        share = 100 * extra / (p * t_plain)
        worst = max(worst, share) if k != "none" else worst
        print(f"{k:<24} {t / args.images:9.4f} {t / t_plain:7.3f} {p:6d} {1e3 * extra:8.2f} {share:7.3f}")
    print(f"largest own overhead: {worst:.3f}% of a run (target <= 2)")


if __name__ == "__main__":
    main()

"""Analytic-Init vs standard sampling time on the same model (issue target: <= 1.02x).

Same model, start M, step count, images and seeds; the only difference is the initial noise
(``init="analytic"`` adds the Eq. 5 mean and variance). Usage:
``python benchmarks/sampling.py [--device cuda] [--model toy|tiny-svd|svd --model-path DIR] [--images 32] [--steps 50] [--start 0.9]``.
Real models use statistics of the benchmark's own encoded videos (the timing does not depend on them).
"""
from __future__ import annotations

import argparse

from cilnb import data, sampling
from cilnb._util import data_dir
from cilnb.analytic_init import MomentStats

from _common import add_common_args, elapsed, make_inputs, setup


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--start", type=float, default=0.9)
    ap.add_argument("--sampler", default="ddim")
    add_common_args(ap)
    args = ap.parse_args(argv)
    device, model, which = setup(args)
    x0, cond = make_inputs(model, args.images, args.size, device)
    stats_path = data_dir() / "toy_stats.safetensors"
    if args.model == "toy" and stats_path.exists():
        stats = MomentStats.load(stats_path)
    elif args.model == "toy":
        stats = MomentStats().update(data.generate(512, seed=1).videos)
    else:
        stats = MomentStats().update(x0.cpu())

    def run(init):
        return elapsed(lambda: sampling.sample(model, cond, n_steps=args.steps, start=args.start, init=init, stats=stats,
                                               sampler=args.sampler, seed=0, frames=x0.shape[1], show_progress=False), device)

    run("standard"), run("analytic")  # warm-up
    times = {"standard": [], "analytic": []}
    for _ in range(args.repeats):  # interleaved, so drift hits both equally
        for init in times:
            times[init].append(run(init))
    t_std, t_ana = min(times["standard"]), min(times["analytic"])
    print(f"model: {which} on {device}; {args.images} images, {args.steps} {args.sampler} steps from M = {args.start}")
    spread = lambda ts: f"(min of {len(ts)}; all: {', '.join(f'{t:.3f}' for t in ts)})"
    print(f"standard init: {t_std:.3f} s  {spread(times['standard'])}")
    print(f"analytic init: {t_ana:.3f} s  {spread(times['analytic'])}")
    print(f"ratio analytic/standard: {t_ana / t_std:.4f}  (target <= 1.02)")
    # the only code that differs, timed on its own (whole-run timings drift by more than its cost)
    shape = (x0.shape[1], *x0.shape[2:])
    seeds = list(range(args.images))
    start = model.schedule.parse_start(args.start)
    init_t = {init: min(elapsed(lambda: sampling.initial_noise(model, seeds, shape, start, init, stats), device) for _ in range(20))
              for init in ("standard", "analytic")}
    extra = init_t["analytic"] - init_t["standard"]
    print(f"initial noise alone: standard {1e3 * init_t['standard']:.2f} ms, analytic {1e3 * init_t['analytic']:.2f} ms; "
          f"extra {1e3 * extra:.2f} ms = {100 * extra / t_std:.3f}% of a standard run")


if __name__ == "__main__":
    main()

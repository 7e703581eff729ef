"""Analytic-Init vs standard sampling time on the same model (issue target: <= 1.02x).

Same model, start M, step count, images and seeds; the only difference is the initial noise
(``init="analytic"`` adds the Eq. 5 mean and variance). Usage:
``python benchmarks/sampling.py [--device cuda] [--images 32] [--steps 50] [--start 0.9]``.
"""
from __future__ import annotations

import argparse

from cilnb import data, sampling
from cilnb._util import data_dir, resolve_device
from cilnb.analytic_init import MomentStats

from _common import elapsed, load_toy


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--start", type=float, default=0.9)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    device = resolve_device(args.device)
    model, which = load_toy(device)
    stats_path = data_dir() / "toy_stats.safetensors"
    if stats_path.exists():
        stats = MomentStats.load(stats_path)
    else:
        stats = MomentStats()
        stats.update(data.generate(512, seed=1).videos)
    y = data.generate(args.images, seed=0).condition.to(device)

    def run(init):
        return elapsed(lambda: sampling.sample(model, y, n_steps=args.steps, start=args.start, init=init, stats=stats,
                                               seed=0, show_progress=False), device)

    run("standard"), run("analytic")  # warm-up
    times = {"standard": [], "analytic": []}
    for _ in range(args.repeats):  # interleaved, so drift hits both equally
        for init in times:
            times[init].append(run(init))
    t_std, t_ana = min(times["standard"]), min(times["analytic"])
    print(f"model: {which} on {device}; {args.images} images, {args.steps} steps from M = {args.start}")
    print(f"standard init: {t_std:.3f} s")
    print(f"analytic init: {t_ana:.3f} s")
    print(f"ratio analytic/standard: {t_ana / t_std:.4f}  (target <= 1.02)")


if __name__ == "__main__":
    main()

"""The toy's achieved GFLOP/s against a plain matmul on the same machine, in one run (issue 14: "goal: at least half").

Counts the work of one denoiser call with ``torch.utils.flop_counter`` (multiply-adds x 2) and times
it at several batch sizes (videos per call) and thread counts; a 2048x2048 float32 matmul, timed in
the same process, is the machine's reference rate. Prints GFLOP per video, GFLOP/s per setting and
the ratio to the matmul. ``python benchmarks/toy_speed.py [--batch 1 8 32] [--threads 1 2]``.
"""
from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from _common import add_common_args, elapsed, setup


def matmul_rate(device, n: int = 2048, repeats: int = 3) -> float:
    """GFLOP/s of an ``n x n`` float32 matmul (2 n^3 flops), best of ``repeats``."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b  # warm-up
    return 2 * n**3 / min(elapsed(lambda: a @ b, device) for _ in range(repeats)) / 1e9


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8, 32], help="videos per denoiser call")
    ap.add_argument("--threads", type=int, nargs="+", default=[torch.get_num_threads()], help="CPU thread counts to try")
    args = ap.parse_args(argv)
    device, model, what = setup(args)
    if args.model != "toy":
        raise SystemExit("toy_speed.py measures the built-in toy (--model toy)")
    cfg = model.net.config
    print(f"model: {what}; device {device}; videos [{cfg.frames}, {cfg.channels}, {cfg.size}, {cfg.size}]")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, cfg.frames, cfg.channels, cfg.size, cfg.size, generator=gen).to(device)
    y = x[:, 0].clamp(-1, 1)
    t = torch.full((1,), 0.5, dtype=torch.float64)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x, t, y=y)
    gflop = counter.get_total_flops() / 1e9
    print(f"work: {gflop:.3f} GFLOP per video per denoiser call")
    print(f"{'threads':>7} {'batch':>5} {'s/call':>8} {'GFLOP/s':>8} {'matmul GFLOP/s':>15} {'ratio':>6}")
    for th in args.threads:
        if device.type == "cpu":
            torch.set_num_threads(th)
        ref = matmul_rate(device)
        for b in args.batch:
            xb, yb, tb = x.expand(b, -1, -1, -1, -1).contiguous(), y.expand(b, -1, -1, -1).contiguous(), t.expand(b)
            with torch.no_grad():
                model(xb, tb, y=yb)  # warm-up
                sec = min(elapsed(lambda: model(xb, tb, y=yb), device) for _ in range(args.repeats))
            rate = gflop * b / sec
            print(f"{th:>7} {b:>5} {sec:8.4f} {rate:8.1f} {ref:15.1f} {rate / ref:6.2f}")


if __name__ == "__main__":
    main()

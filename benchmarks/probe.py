"""Probe time vs the raw forward passes it needs (issue target: <= 1.1x).

Both sides run the same number of model evaluations on the same batch size in one process:
"raw" times only ``model(x_t, t, **cond)`` (``cond`` holds ``y``) on pre-built inputs; "probe" times
``cilnb.probe.one_step_predictions`` (noise drawing, ``X_t`` construction, batching, output
assembly included). Usage: ``python benchmarks/probe.py [--device cuda] [--model toy|tiny-svd|svd
--model-path DIR] [--videos 32] [--ts 20]``.
"""
from __future__ import annotations

import argparse

import torch

from cilnb import probe

from _common import add_common_args, elapsed, make_inputs, setup


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--videos", type=int, default=32)
    ap.add_argument("--ts", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=64)
    add_common_args(ap)
    args = ap.parse_args(argv)
    device, model, which = setup(args)
    x0, cond = make_inputs(model, args.videos, args.size, device)
    ts = torch.linspace(0.05, 1.0, args.ts, dtype=torch.float64)
    B, K, bs = x0.shape[0], ts.numel(), args.batch_size

    # raw: the exact forward passes the probe makes, inputs pre-built
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0)).to(device)
    t_all = ts.repeat(B)
    b_all = torch.arange(B).repeat_interleave(K)
    chunks = []
    for lo in range(0, B * K, bs):
        bi = b_all[lo:lo + bs].to(device)
        chunks.append((model.schedule.add_noise(x0[bi], t_all[lo:lo + bs], eps[bi]), t_all[lo:lo + bs], cond.select(bi)))

    @torch.no_grad()
    def raw():
        for xt, t, c in chunks:
            model(xt, t, **c)

    def run_probe():
        probe.one_step_predictions(model, x0, ts, cond=cond, seed=0, batch_size=bs)

    raw(), run_probe()  # warm-up
    t_raw = min(elapsed(raw, device) for _ in range(args.repeats))
    t_probe = min(elapsed(run_probe, device) for _ in range(args.repeats))
    print(f"model: {which} on {device}; {B} videos x {K} t = {B * K} evaluations, batch {bs}")
    print(f"raw forward passes: {t_raw:.3f} s")
    print(f"probe:              {t_probe:.3f} s")
    print(f"ratio probe/raw:    {t_probe / t_raw:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()

"""Probe time vs the raw forward passes it needs (issue target: <= 1.1x), on the toy I2V model.

Both sides run the same number of model evaluations on the same batch size in one process:
"raw" times only ``model(x_t, t, y=y)`` on pre-built inputs; "probe" times
``cilnb.probe.one_step_predictions`` (noise drawing, ``X_t`` construction, batching, output
assembly included). Usage: ``python benchmarks/probe.py [--device cuda] [--videos 32] [--ts 20]``.
"""
from __future__ import annotations

import argparse

import torch

from cilnb import data, probe
from cilnb._util import resolve_device

from _common import elapsed, load_toy


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--videos", type=int, default=32)
    ap.add_argument("--ts", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    device = resolve_device(args.device)
    model, which = load_toy(device)
    vids = data.generate(args.videos, seed=0).videos.to(device)
    ts = torch.linspace(0.05, 1.0, args.ts, dtype=torch.float64)
    B, K, bs = vids.shape[0], ts.numel(), args.batch_size

    # raw: the exact forward passes the probe makes, inputs pre-built
    eps = torch.randn(vids.shape, generator=torch.Generator().manual_seed(0)).to(device)
    t_all = ts.repeat(B)
    b_all = torch.arange(B).repeat_interleave(K)
    chunks = []
    for lo in range(0, B * K, bs):
        bi = b_all[lo:lo + bs].to(device)
        chunks.append((model.schedule.add_noise(vids[bi], t_all[lo:lo + bs], eps[bi]), t_all[lo:lo + bs], vids[bi, 0]))

    @torch.no_grad()
    def raw():
        for xt, t, y in chunks:
            model(xt, t, y=y)

    def run_probe():
        probe.one_step_predictions(model, vids, ts, seed=0, batch_size=bs)

    raw(), run_probe()  # warm-up
    t_raw = min(elapsed(raw, device) for _ in range(args.repeats))
    t_probe = min(elapsed(run_probe, device) for _ in range(args.repeats))
    print(f"model: {which} on {device}; {B} videos x {K} t = {B * K} evaluations, batch {bs}")
    print(f"raw forward passes: {t_raw:.3f} s")
    print(f"probe:              {t_probe:.3f} s")
    print(f"ratio probe/raw:    {t_probe / t_raw:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()

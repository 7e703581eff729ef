"""Paired read-outs for the toy (issue 11): an M sweep of one checkpoint, or checkpoints side by side.

Every configuration samples the same held-out conditional images (``generate(n, seed=4242)`` of the
checkpoint's own data config, never used in training) with the same per-image noise seeds, so each
row is compared with the first **paired**, image by image; that takes the image-to-image spread out
of the difference's standard error. Motion is the tracker's net sprite displacement (first to last
frame, :func:`cilnb.data.motion`), its ratio to 1024 data clips (seed 4243) with the delta-method
s.e.; quality is sprite-count stability and the PSNR of frame 0 to y. Sampling uses each model's
defaults (the shipped toy: SVD's frame-wise guidance 1 -> 3) unless ``--guidance`` says otherwise.

    python benchmarks/toy_paired.py sweep base --starts 1,0.7,0.55,0.4        # M sweep, both initial noises
    python benchmarks/toy_paired.py compare naive,timenoise                   # fine-tunes side by side
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from toy_ablation import mean_se, parse_guidance, ratio_se  # noqa: E402

import cilnb.data as D  # noqa: E402
from cilnb.analytic_init import MomentStats  # noqa: E402
from cilnb.metrics.quality import psnr  # noqa: E402
from cilnb.models import toy  # noqa: E402
from cilnb.sampling import SAMPLERS, sample  # noqa: E402


def readout(v: torch.Tensor, y: torch.Tensor, ref_disp, first) -> tuple[dict, np.ndarray]:
    m = D.motion(v)
    d = np.asarray(m.displacement, dtype=np.float64)
    diff = d - (d if first is None else first)
    ok = np.isfinite(diff)
    return {"disp_ratio": ratio_se(mean_se(d), ref_disp), "paired_gain_px": mean_se(diff[ok]) if ok.sum() > 1 else (0.0, 0.0),
            "stability": mean_se(m.count_stability),
            "psnr0": mean_se(psnr(v[:, 0].clamp(-1, 1), y, value_range=(-1.0, 1.0)).numpy())}, d


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("sweep", "compare"))
    ap.add_argument("checkpoints", help="comma-separated toy checkpoints (shipped names or files); sweep: the first")
    ap.add_argument("--starts", default="1,0.7,0.55,0.4", help="sweep: start times M (1 first: the reference)")
    ap.add_argument("--images", type=int, default=96)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--sampler", default="ddim", choices=sorted(SAMPLERS),
                    help="the toy's default is DDIM 50; the notebooks sample with dpm++2m 15")
    ap.add_argument("--guidance", default="default", help="default (each model's own), none, a number or A:B")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", default="", help="JSON lines file (also printed)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    paths = [p.strip() for p in args.checkpoints.split(",") if p.strip()]
    cond = {} if args.guidance == "default" else {"guidance": parse_guidance(args.guidance)}
    held = ref = stats = None
    rows, first = [], None
    jobs = []
    if args.mode == "sweep":
        for M in (float(x) for x in args.starts.split(",")):
            jobs += [(paths[0], M, "standard")] if M >= 1 else [(paths[0], M, "analytic"), (paths[0], M, "standard")]
    else:
        jobs = [(p, 1.0, "standard") for p in paths]
    models = {}
    for path, M, init in jobs:
        model = models.setdefault(path, toy.load(path, device="cpu"))
        if held is None:
            cfg = model.data_config
            held = D.generate(args.images, seed=4242, config=cfg, flow=False)
            ref = mean_se(D.motion(D.generate(1024, seed=4243, config=cfg, flow=False).videos).displacement)
            stats = MomentStats()
            g = torch.Generator().manual_seed(4244)
            for _ in range(4):
                stats.update(D.generate(500, g, config=cfg, flow=False).videos)
        t0 = time.perf_counter()
        kw = {} if M >= 1 else {"start": M, "init": init, "stats": stats}
        v = sample(model, held.condition, n_steps=args.steps, sampler=args.sampler, seed=args.seed, cond=cond, show_progress=False, **kw)
        r, d = readout(v, held.condition, ref, first)
        first = d if first is None else first
        row = {"checkpoint": path, "M": M, "init": init, "guidance": cond.get("guidance", model.guidance), **r,
               "images": args.images, "steps": args.steps, "sampler": args.sampler, "seconds": round(time.perf_counter() - t0, 1)}
        rows.append(row)
        print(json.dumps(row, default=str), flush=True)
    if args.out:
        Path(args.out).write_text("".join(json.dumps(r, default=str) + "\n" for r in rows))
    f = lambda ms, d=2: f"{ms[0]:.{d}f} ± {ms[1]:.{d}f}"  # noqa: E731
    print("| checkpoint | M | init | displacement ratio | paired gain vs first row, px | stability | PSNR frame 0 dB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {Path(r['checkpoint']).stem} | {r['M']:g} | {r['init']} | {f(r['disp_ratio'])} | {f(r['paired_gain_px'])} | "
              f"{r['stability'][0]:.2f} | {r['psnr0'][0]:.1f} |")


if __name__ == "__main__":
    main()

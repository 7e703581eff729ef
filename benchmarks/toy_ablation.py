"""Issue 11 ablation read-outs for toy checkpoints, on held-out images (deterministic, seeded).

For each checkpoint and each guidance setting it measures, with DDIM ``--steps`` (default 25):

- the **deficit at M = T**: net sprite displacement (first -> last frame) and tracker speed of the
  samples (:func:`cilnb.data.motion`) against ``--ref`` data clips of the checkpoint's own training
  data config; ratio sample / data with its delta-method s.e. (``under-moves`` when
  ``ratio + 2 s.e. <= 0.85``);
- **motion at M = --start** (default 0.85) with Analytic-Init (moments of 2000 clips of that
  data) and with N(0, I);
- **quality**: sprite count stability (fraction of frames keeping frame 0's count) and the toy FD
  with its 95 % bootstrap interval (:func:`cilnb.evaluation.frechet_to_reference_ci`);
- **first-frame alignment**: PSNR of frame 0 (clamped to [-1, 1]) to y (:func:`cilnb.metrics.quality.psnr`, range [-1, 1]);
- the **probe's retention at t >= 0.9** with the model's default guidance (:func:`cilnb.probe.probe_table` at t = 0.9, 0.95, 1.0 on
  ``--probe-videos`` clips): Farneback flow retention (:func:`cilnb.experiments.flow_motion`, the
  notebooks' read-out) and sprite-displacement retention, over clips that move.

Held-out data: ``generate(n, seed=--data-seed)`` (training streams use 2 seed and 2 seed + 1 of
the run seed; 4242-4245 are used by nothing else). The model's data config is read from its
``train_config`` metadata (the shipped checkpoints: the default data). ``--guidance`` lists
settings: ``none``, a number (constant), or ``A:B`` (frame-wise linear A -> B, as SVD).

Usage: ``python benchmarks/toy_ablation.py build/abl/control.safetensors data/toy_base.safetensors
--guidance none --out build/abl/results.jsonl`` (one JSON line per checkpoint and guidance, and a
markdown table on stdout).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from cilnb import data as D
from cilnb.analytic_init import MomentStats
from cilnb.evaluation import frechet_to_reference_ci
from cilnb.experiments import SpriteMotion, flow_motion
from cilnb.metrics.quality import psnr
from cilnb.models import toy
from cilnb.probe import probe_table
from cilnb.sampling import sample

UNDER = 0.85  # the bar: at least 15 % below the data


def parse_guidance(text: str):
    """``none`` -> None, ``2.5`` -> 2.5, ``1:3`` -> (1.0, 3.0) (frame-wise linear, SVD's default)."""
    text = text.strip()
    if text.lower() in ("none", "off", "1"):
        return None
    if ":" in text:
        a, b = text.split(":")
        return (float(a), float(b))
    return float(text)


def mean_se(x) -> tuple[float, float]:
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x)))


def ratio_se(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """``a / b`` and its delta-method s.e. for independent means ``(mean, se)``."""
    r = a[0] / b[0]
    return r, abs(r) * math.sqrt((a[1] / a[0]) ** 2 + (b[1] / b[0]) ** 2)


def motion_summary(videos: torch.Tensor) -> dict:
    m = D.motion(videos)
    return {"disp": mean_se(m.displacement), "speed": mean_se(m.speed), "stability": mean_se(m.count_stability)}


def evaluate(path: str, guidances, args) -> list[dict]:
    model = toy.load(path, device="cpu")
    cfg = model.data_config
    held = D.generate(args.images, seed=args.data_seed, config=cfg, flow=False)
    ref = D.generate(args.ref, seed=args.data_seed + 1, config=cfg, flow=False)
    stats = MomentStats()
    g = torch.Generator().manual_seed(args.data_seed + 2)
    for _ in range(4):
        stats.update(D.generate(500, g, config=cfg, flow=False).videos)
    ref_m = motion_summary(ref.videos)
    y = held.condition
    rows = []
    # probe with the model's default forward, as the notebooks (a toy trained with image dropout: guided 1 -> 3), once
    # per checkpoint whatever --guidance lists: retention at t >= 0.9
    t0 = time.perf_counter()
    pv = D.generate(args.probe_videos, seed=args.data_seed + 3, config=cfg, flow=False)
    fns = {"flow": flow_motion, "disp": SpriteMotion(pv.videos, "displacement")}
    df = probe_table(model, pv.videos, torch.tensor([0.9, 0.95, 1.0], dtype=torch.float64), motion_fns=fns, seed=args.seed)
    probe = {}
    for name, lo in (("flow", 0.1), ("disp", 2.0)):
        ok = df[f"{name}_gt"] >= lo
        per_video = df[ok].groupby("video")[f"{name}_retention"].mean()
        probe[name] = mean_se(per_video.to_numpy())
    probe_s = time.perf_counter() - t0
    for gd in guidances:
        t0 = time.perf_counter()
        cond = {"guidance": gd}  # None: off, also for a model whose default is guided
        out = {"checkpoint": path, "guidance": gd, "data": cfg.to_dict(), "images": args.images, "steps": args.steps,
               "data_disp": ref_m["disp"], "data_speed": ref_m["speed"], "data_stability": ref_m["stability"],
               "probe_flow_ret": probe["flow"], "probe_disp_ret": probe["disp"]}
        v = sample(model, y, n_steps=args.steps, seed=args.seed, cond=cond, show_progress=False)
        m = motion_summary(v)
        out.update(disp=m["disp"], speed=m["speed"], stability=m["stability"],
                   disp_ratio=ratio_se(m["disp"], ref_m["disp"]), speed_ratio=ratio_se(m["speed"], ref_m["speed"]),
                   psnr0=mean_se(psnr(v[:, 0].clamp(-1, 1), y, value_range=(-1.0, 1.0)).numpy()))
        out["fd"] = frechet_to_reference_ci(v, ref.videos, n_boot=args.boot, seed=args.seed)
        out["under_moves"] = out["disp_ratio"][0] + 2 * out["disp_ratio"][1] <= UNDER
        for init in ("analytic", "standard") if gd in args.m_guidances else ():
            vm = sample(model, y, n_steps=args.steps, start=args.start, init=init, stats=stats, seed=args.seed, cond=cond, show_progress=False)
            mm = motion_summary(vm)
            out[f"M_{init}"] = {"disp": mm["disp"], "speed": mm["speed"], "stability": mm["stability"],
                                "disp_ratio": ratio_se(mm["disp"], ref_m["disp"]),
                                "psnr0": mean_se(psnr(vm[:, 0].clamp(-1, 1), y, value_range=(-1.0, 1.0)).numpy())}
        out["seconds"] = round(time.perf_counter() - t0 + probe_s / len(guidances), 1)
        out["start"] = args.start
        rows.append(out)
        print(json.dumps(out), file=sys.stderr, flush=True)
    return rows


def fmt(ms, d=2) -> str:
    return f"{ms[0]:.{d}f} +- {ms[1]:.{d}f}"


def _m(r: dict, key: str) -> str:
    return fmt(r[key]["disp_ratio"]) if key in r else "-"


def table(rows) -> str:
    head = ("| checkpoint | guidance | disp px (data) | ratio +- s.e. | speed ratio | M={M} AI / N(0,I) disp ratio | "
            "stability | FD [95%] | PSNR f0 dB | probe flow / disp retention t>=0.9 |")
    lines = [head.format(M=rows[0]["start"] if rows else "M"), "|" + "---|" * 10]
    for r in rows:
        g = "off" if r["guidance"] is None else (f"{r['guidance'][0]:g}->{r['guidance'][1]:g}" if isinstance(r["guidance"], (list, tuple)) else f"{r['guidance']:g}")
        lines.append(
            f"| {Path(r['checkpoint']).stem} | {g} | {r['disp'][0]:.2f} ({r['data_disp'][0]:.2f}) | {fmt(r['disp_ratio'])}"
            f"{' **under**' if r['under_moves'] else ''} | {fmt(r['speed_ratio'])} | "
            f"{_m(r, 'M_analytic')} / {_m(r, 'M_standard')} | "
            f"{r['stability'][0]:.2f} ({r['data_stability'][0]:.2f}) | {r['fd'][0]:.0f} [{r['fd'][1]:.0f}-{r['fd'][2]:.0f}] | "
            f"{r['psnr0'][0]:.1f} | {r['probe_flow_ret'][0]:.2f} / {r['probe_disp_ret'][0]:.2f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+", help="toy checkpoint files (or shipped names: base, naive, timenoise)")
    ap.add_argument("--guidance", default="none", help="comma-separated: none, a number, or A:B (frame-wise)")
    ap.add_argument("--images", type=int, default=96)
    ap.add_argument("--ref", type=int, default=1024, help="data clips for the data's motion and the FD reference")
    ap.add_argument("--probe-videos", type=int, default=48)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--start", type=float, default=0.85, help="M for the early-start read-outs")
    ap.add_argument("--m-guidance", default=None, help="guidance settings that also get the M < T read-outs (default: all of --guidance; '' for none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-seed", type=int, default=4242)
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="append JSON lines here")
    args = ap.parse_args(argv)
    if args.images < 8 or args.ref < 8 or args.probe_videos < 4:
        raise SystemExit("need --images >= 8, --ref >= 8 and --probe-videos >= 4 for standard errors")
    torch.set_num_threads(args.threads)
    guidances = [parse_guidance(s) for s in args.guidance.split(",")]
    args.m_guidances = guidances if args.m_guidance is None else [parse_guidance(s) for s in args.m_guidance.split(",") if s.strip()]
    rows = []
    for ck in args.checkpoints:
        rows += evaluate(ck, guidances, args)
    if args.out:
        with open(args.out, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()

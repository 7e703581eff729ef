"""Fewer sampler steps, same read-outs? Paired comparison of cheaper samplers with 50-step DDIM on the toy.

Samples the M-sweep grid (``--Ms`` x ``--inits``, ``--images`` fresh toy images, one noise seed) once
with the reference sampler (``--ref-steps`` DDIM steps) and once per candidate (``--steps N`` with
``--sampler``), all through the run store (:func:`cilnb.experiments.sample_grid`), so every video of a
candidate starts from the same initial noise as its reference twin. Then, per cell and read-out
(sprite speed, net sprite travel, frame-0 PSNR, sprite stability) it prints both means with their standard errors, the
paired difference with its standard error and ``agree`` (:func:`cilnb.experiments.agreement.paired_agreement`:
the candidate moves the mean by at most one reference standard error), plus the Fréchet distance of
both with 95% bootstrap intervals and the model evaluations each sampler spent. Usage::

    python benchmarks/sampler_steps.py [--images 64] [--Ms 1.0 0.5] [--steps 25 15 10] [--sampler ddim]
        [--ref-steps 50] [--run-root DIR] [--ref-dir DIR] [--n-reference 512] [--model-path base] [--csv FILE]

``--ref-dir``: a folder of stored reference videos of the same grid (e.g. the M sweep's
``build/runs/m_sweep_base_<hash>``, DDIM 50 on ``toy:64``): units found there are not sampled again.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch

import cilnb as C
from cilnb.experiments.agreement import paired_agreement
from cilnb.sampling import SAMPLERS

READOUTS = ["motion", "net_travel", "first_frame_psnr", "sprite_stability"]


def evaluations(n_steps: int, sampler: str) -> int:
    """Model calls per video: DDIM, Euler and DPM-Solver++(2M) one per step, Heun two per step but the last."""
    return 2 * n_steps - 1 if sampler == "heun" else n_steps


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0, help="data seed of the conditional images (the M sweep's default: 0)")
    ap.add_argument("--Ms", type=float, nargs="+", default=[1.0, 0.5])
    ap.add_argument("--inits", nargs="+", default=["standard", "analytic"])
    ap.add_argument("--steps", type=int, nargs="+", default=[25])
    ap.add_argument("--sampler", default="ddim", choices=sorted(SAMPLERS))
    ap.add_argument("--ref-steps", type=int, default=50)
    ap.add_argument("--run-root", default="build/sampler_steps")
    ap.add_argument("--ref-dir", default="")
    ap.add_argument("--n-reference", type=int, default=512, help="real toy videos for the Fréchet distance (0: none)")
    ap.add_argument("--model-path", default="base")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--csv", default="", help="write the agreement table here")
    args = ap.parse_args(argv)

    net = C.models.load("toy", args.model_path, device="cpu")
    stats, stats_file = C.experiments.load_stats("toy", "", ["analytic"])
    images, readout = C.experiments.sweep_inputs("toy", n_images=args.images, seed=args.seed, n_reference=args.n_reference)
    root = Path(args.run_root)
    label = C.experiments.run_label("toy", args.model_path)

    def grid(n_steps: int, sampler: str, out: Path):
        t0 = time.perf_counter()
        per, summ = C.experiments.sample_grid(net, out, images, readout, Ms=args.Ms, inits=args.inits, seeds=[0], n_steps=n_steps,
                                              stats=stats, stats_path=stats_file, batch_size=args.batch_size, show_progress=False,
                                              sampler=sampler, label=label)
        return per, summ, time.perf_counter() - t0

    ref_out = Path(args.ref_dir) if args.ref_dir else root / f"{label}_ddim{args.ref_steps}"
    ref, ref_summ, ref_s = grid(args.ref_steps, "ddim", ref_out)
    print(f"toy {label}: {args.images} images x M {args.Ms} x {args.inits}; reference DDIM {args.ref_steps} "
          f"({evaluations(args.ref_steps, 'ddim')} model calls/video) in {ref_out} ({ref_s:.0f} s, stored units reused)")
    tables = []
    for n in args.steps:
        cand, cand_summ, s = grid(n, args.sampler, root / f"{label}_{args.sampler}{n}")
        ag = paired_agreement(ref, cand, READOUTS)
        ag.insert(0, "sampler", f"{args.sampler} {n}")
        tables.append(ag)
        calls = evaluations(n, args.sampler)
        print(f"\n{args.sampler} {n} steps ({calls} model calls/video, {calls / evaluations(args.ref_steps, 'ddim'):.2f}x the reference; "
              f"{s:.0f} s): paired against DDIM {args.ref_steps}")
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(ag.drop(columns="sampler").round(4).to_string(index=False))
        if "fd" in ref_summ and "fd" in cand_summ:
            fd = ref_summ[["M", "init", "fd", "fd_lo", "fd_hi"]].merge(cand_summ[["M", "init", "fd", "fd_lo", "fd_hi"]], on=["M", "init"],
                                                                         suffixes=("_ref", "_cand"))
            print("Fréchet distance (95% bootstrap), reference vs candidate:")
            for r in fd.itertuples():
                print(f"  M={r.M:g} {r.init:<8}: {r.fd_ref:7.1f} [{r.fd_lo_ref:.1f}-{r.fd_hi_ref:.1f}]  vs  "
                      f"{r.fd_cand:7.1f} [{r.fd_lo_cand:.1f}-{r.fd_hi_cand:.1f}]")
        print(f"all {len(ag)} cell read-outs agree within 1 reference s.e.: {bool(ag.agree.all())} "
              f"(largest |diff| / ref s.e.: {float((ag['diff'].abs() / ag.ref_se).max()):.2f})")
    if args.csv and tables:
        pd.concat(tables, ignore_index=True).to_csv(args.csv, index=False)
        print(f"table written to {args.csv}")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()

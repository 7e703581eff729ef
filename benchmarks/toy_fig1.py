"""Fig. 1 on held-out sources (issue 11): output motion against the input's, and whether the fixes lower the error.

The notebook's read-out (:func:`cilnb.experiments.motion_control`) on source clips no notebook uses
(``data_seed`` 4245 of the checkpoint's own data), under the toy's default sampler (DDIM 50) unless told
otherwise. Each source conditions the model on its clip's true motion in the unit of the model's label
(speed, or whole-frame flow for ``--motion-label flow``), and the output is judged in that label's read-out
(:func:`cilnb.experiments.motion_control`). Every configuration samples the same sources with the same noise,
so each error change is paired, image by image, against the base at M = T (± 2 s.e.).

    python benchmarks/toy_fig1.py                                   # the shipped base and TimeNoise fine-tune
    python benchmarks/toy_fig1.py --base B.safetensors --timenoise T.safetensors --sampler dpm++2m --steps 15
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

import cilnb.experiments as E
from cilnb.experiments.agreement import paired_difference
from cilnb.sampling import SAMPLERS


def summarise(df) -> list[dict]:
    """One row per configuration: output/input ratio, out - in (± 2 s.e.), mean error and its paired change vs the first."""
    groups = [(key, g.set_index("image")) for key, g in df.groupby(["model", "M", "init"], sort=False)]
    first = groups[0][1]
    rows = []
    for (m, M, init), g in groups:
        g = g.loc[first.index]
        d, d_se, _ = paired_difference(g.input_motion, g.output_motion)
        de, de_se, _ = paired_difference(first.error, g.error)
        row = {"model": m, "M": float(M), "init": init, "images": len(g), "out_over_in": float(g.output_motion.mean() / g.input_motion.mean()),
               "out_minus_in": [d, 2 * d_se], "error": float(g.error.mean()), "error_change": [de, 2 * de_se]}
        if "output_travel" in g:
            row["travel_out_over_in"] = float(g.output_travel.mean() / g.input_travel.mean())
        rows.append(row)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="", help="base toy checkpoint (empty: the shipped base)")
    ap.add_argument("--timenoise", default="", help="its TimeNoise fine-tune (empty: the shipped one)")
    ap.add_argument("--images", type=int, default=128)
    ap.add_argument("--data-seed", type=int, default=4245)
    ap.add_argument("--start", type=float, default=0.7, help="M of the Analytic-Init configurations")
    ap.add_argument("--sampler", default="ddim", choices=sorted(SAMPLERS), help="the toy's default is DDIM 50")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--run-dir", default="", help="store samples here (a rerun resumes); empty: not stored")
    ap.add_argument("--out", default="", help="JSON lines file (also printed)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    models = E.load_variants("toy", args.base, timenoise=args.timenoise, which=("base", "timenoise"), device="cpu")
    stats, stats_file = E.load_stats("toy", "", model_path=args.base)
    images = E.motion_control_images("toy", n_images=args.images, data_seed=args.data_seed, model_path=args.base)
    readout = E.motion_readout("toy")
    configs = [(k, M, i) for k in models for M, i in ((1.0, "standard"), (args.start, "analytic"))]
    t0 = time.perf_counter()
    df = E.motion_control(models, configs, images, readout, n_steps=args.steps, stats=stats, stats_path=stats_file, seed=args.seed,
                          out_root=args.run_dir or None, show_progress=sys.stderr.isatty(), sampler=args.sampler)
    rows = summarise(df)
    label = E.toy_motion_label(models["base"])
    for r in rows:
        r.update(label=label, sampler=args.sampler, steps=args.steps, data_seed=args.data_seed)
        print(json.dumps(r), flush=True)
    if args.out:
        Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"sampled and read in {time.perf_counter() - t0:.0f} s; label {label!r}, judged in {df.attrs['motion_name']}")
    f = lambda ms: f"{ms[0]:+.3f} ± {ms[1]:.3f}"  # noqa: E731
    print("| configuration | output / input | output - input | mean error | error change vs the first row (paired) | travel out / in |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        init = "M = T" if r["M"] >= 1 else f"Analytic-Init {r['M']:g} T"
        print(f"| {r['model']}, {init} | {r['out_over_in']:.2f} | {f(r['out_minus_in'])} | {r['error']:.3f} | "
              f"{f(r['error_change']) if r is not rows[0] else ''} | {r.get('travel_out_over_in', float('nan')):.2f} |")


if __name__ == "__main__":
    main()

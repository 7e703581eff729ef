"""Do the notebooks' verdicts come out the same with another sampler? DDIM 50 as the arbiter, on the shipped toy.

The step test (``sampler_steps.py``) asks whether each cell's mean moves by less than one standard error; a notebook's
verdicts read paired differences with much smaller errors, so a sampler can pass it and still change a verdict decided
near 2 s.e. This script re-decides two of them on the notebooks' own images and noise with each ``--samplers`` entry
(``name:steps``) and prints the verdict lines side by side:

- ``table1``: Claim 3 (``timenoise_training.ipynb``: base, naive and TimeNoise at M = T, the fine-tunes with
  Analytic-Init at ``--M``; ``--images`` images of data seed 1), through :func:`cilnb.experiments.compare_models`;
- ``remedies``: the rows ``--rows`` of the remedies notebook's default grid against plain sampling (``--images``
  images of data seed 0, 512 reference videos), through :func:`cilnb.remedies.compare`.

Usage::

    python benchmarks/verdict_samplers.py table1 --samplers ddim:50 dpm++2m:15 dpm++3m:10
    python benchmarks/verdict_samplers.py remedies --samplers ddim:50 --rows "analytic_init M=0.8" "cond_noise 0.1"

Nothing is stored; a run of ``table1`` with the three samplers above takes about 6 minutes on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import time

import torch

import cilnb as C

E = C.experiments


def sampler_spec(text: str) -> tuple[str, int]:
    """``"dpm++3m:10"`` -> ``("dpm++3m", 10)``."""
    name, _, steps = text.partition(":")
    if name not in C.sampling.SAMPLERS or not steps.isdigit() or int(steps) < 1:
        raise argparse.ArgumentTypeError(f"give NAME:STEPS with NAME one of {sorted(C.sampling.SAMPLERS)}, e.g. ddim:50; got {text!r}")
    return name, int(steps)


def table1(samplers, n_images: int, M: float, n_reference: int) -> None:
    stats, stats_file = E.load_stats("toy", "")
    images, readout = E.sweep_inputs("toy", n_images=n_images, seed=1, n_reference=n_reference, show_progress=False)
    models = E.load_variants("toy", "", naive="", timenoise="", device="cpu")
    configs = [(k, 1.0, "standard") for k in models] + [(k, M, "analytic") for k in models if k != "base"]
    for name, steps in samplers:
        t0 = time.perf_counter()
        per, tab = E.compare_models(models, configs, images, readout, out_root=None, seeds=[0], n_steps=steps, stats=stats,
                                    stats_path=stats_file, batch_size=64, show_progress=False, sampler=name)
        print(f"== {name} {steps} ({time.perf_counter() - t0:.0f} s)")
        print(E.verdicts.timenoise_motion(tab, per_video=per), flush=True)


def remedies(samplers, n_images: int, rows, n_reference: int, start: float) -> None:
    stats, _ = E.load_stats("toy", "")
    net = C.models.load("toy", None, device="cpu")
    images, _ = E.sweep_inputs("toy", n_images=n_images, seed=0, n_reference=0)
    full = C.remedies.default_grid(start)
    unknown = [r for r in rows if r not in full]
    if unknown:
        raise SystemExit(f"--rows {unknown} are not rows of the default grid: {list(full)}")
    grid = {k: v for k, v in full.items() if k == "none" or k in rows}
    for name, steps in samplers:
        t0 = time.perf_counter()
        cmp = C.remedies.compare(net, images, grid, seeds=[0], n_steps=steps, start=1.0, stats=stats, sampler=name, batch_size=64,
                                 n_reference=n_reference, data_seed=0)
        print(f"== {name} {steps} ({time.perf_counter() - t0:.0f} s)")
        print(E.verdicts.remedy_table2(cmp), flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["table1", "remedies"])
    ap.add_argument("--samplers", type=sampler_spec, nargs="+", default=[("ddim", 50), ("dpm++2m", 15), ("dpm++3m", 10)])
    ap.add_argument("--images", type=int, default=64, help="conditional images (the notebooks' default: 64)")
    ap.add_argument("--M", type=float, default=0.7, help="table1: the fine-tunes' Analytic-Init start")
    ap.add_argument("--rows", nargs="+", default=["analytic_init M=0.8", "progressive alpha=2", "cond_noise 0.1"],
                    help="remedies: rows of the default grid compared with plain sampling")
    ap.add_argument("--start", type=float, default=0.7, help="remedies: the default grid's Analytic-Init M (the notebook's 0.7)")
    ap.add_argument("--n-reference", type=int, default=512, help="real toy videos for the Fréchet distance")
    args = ap.parse_args(argv)
    torch.set_grad_enabled(False)
    if args.what == "table1":
        table1(args.samplers, args.images, args.M, args.n_reference)
    else:
        remedies(args.samplers, args.images, args.rows, args.n_reference, args.start)


if __name__ == "__main__":
    main()

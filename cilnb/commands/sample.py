"""``python -m cilnb sample``: a resumable sampling sweep over M x init x seeds x images (:func:`cilnb.runs.run_sweep`)."""
from __future__ import annotations

import argparse
import json

from .common import OnceList, add_model_options, finite_float, nonneg_int, path_arg, positive_int, size_hw


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .._util import UserError
    from ..analytic_init import MomentStats
    from ..io import load_images
    from ..runs import run_sweep
    from .common import check_toy_shape, model_for_output, rank_device

    model = model_for_output(args, folder=True, device=rank_device(args.device))
    check_toy_shape(model, args)
    if args.stats and Path(args.stats).is_dir():
        raise UserError(f"--stats {args.stats} is a folder: pass the statistics file in it (.safetensors from `python -m cilnb stats`)")
    stats = MomentStats.load(args.stats) if args.stats else None
    if stats is not None and hasattr(model, "data_config"):  # a toy: its statistics must describe its data
        from ..experiments.inputs import check_toy_stats

        check_toy_stats(stats, args.stats, model)
    images = load_images(args.images, model, size=args.size, data_seed=args.data_seed)
    cond_kwargs = {k: v for k, v in (("motion_bucket_id", args.motion_bucket_id), ("fps", args.cond_fps), ("noise_aug_strength", args.noise_aug_strength)) if v is not None}
    for item in args.cond or []:
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--cond takes KEY=VALUE (e.g. prompt='a dog' or num_frames=81), got {item!r}")
        if key in cond_kwargs:  # one value would silently win over the other
            given = _COND_OPTIONS.get(key, f"--cond {key}=...")
            raise UserError(f"--cond {item}: {key} is already given ({given}); give each conditioning once")
        try:
            cond_kwargs[key] = json.loads(val)
        except json.JSONDecodeError:
            cond_kwargs[key] = val
        if not _finite(cond_kwargs[key]):  # json reads NaN and Infinity; refused here, before the sweep folder is made
            raise UserError(f"--cond {item}: the value is not finite (NaN or inf); give a finite number")
    _check_cond_names(model, cond_kwargs)
    remedy = None
    if args.remedy is not None:
        from ..remedies import from_cli

        remedy = from_cli(args.remedy, args.remedy_arg or [])
    elif args.remedy_arg:
        raise ValueError("--remedy-arg sets a remedy's settings: name the remedy with --remedy NAME")
    if args.stats and "analytic" not in args.init and not getattr(remedy, "needs_stats", False):
        import sys

        print("cilnb sample: note: --stats is used only by --init analytic (or an Analytic-Init remedy); this run samples "
              "standard noise only (add --init analytic to use them)", file=sys.stderr)
    res = run_sweep(
        model, images, args.out, Ms=args.M, inits=args.init, seeds=args.seeds, n_steps=args.n_steps, stats=stats,
        stats_path=args.stats, sampler=args.sampler, native=args.native, frames=args.frames, batch_size=args.batch_size,
        cond_kwargs=cond_kwargs, model_name=args.model, model_path=args.model_path, max_units=args.max_units,
        mp4=args.mp4, motion_method=args.motion_method, show_progress=not args.quiet, remedy=remedy,
    )
    if res.rank == 0:
        print(f"{len(res.table)} unit(s) stored in {res.out} (results.csv); this run: {res.computed} sampled on rank 0 of {res.world}, {res.recovered} recovered; {res.pending} were pending")
    return 0


def _finite(value) -> bool:
    """No NaN or inf anywhere in a JSON value (numbers, lists, objects)."""
    import math

    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


# the options that set a conditioning keyword of prepare_condition (the rest come from --cond KEY=VALUE)
_COND_OPTIONS = {"motion_bucket_id": "--motion-bucket-id", "fps": "--cond-fps", "noise_aug_strength": "--noise-aug-strength"}


def _check_cond_names(model, cond_kwargs: dict) -> None:
    """A model whose ``prepare_condition`` is the base one passes extra conditioning through unchanged, and refuses the
    keys it does not accept (``cond_keys``) only at the first sampler call, after ``sweep.json`` is written: refuse them
    here, naming the option (e.g. the SVD-only ``--motion-bucket-id`` for the toy)."""
    from .._util import UserError
    from ..models.base import Adapter

    keys = getattr(model, "cond_keys", None)
    if keys is None or getattr(type(model), "prepare_condition", None) is not Adapter.prepare_condition:
        return
    extra = [k for k in keys if k != "y"]
    for k in cond_kwargs:
        if k not in keys:
            opt = _COND_OPTIONS.get(k, f"--cond {k}=...")
            takes = f"its extra conditioning: {', '.join(extra)}, via --cond KEY=VALUE" if extra else "it takes no extra conditioning"
            raise UserError(f"{opt}: the {getattr(model, 'name', None) or type(model).__name__} model has no {k!r} conditioning "
                            f"({takes}); drop {opt}")


def add_parser(sub) -> None:
    """Register ``python -m cilnb sample``."""
    from ..runs import INITS  # no torch at import

    p = sub.add_parser(
        "sample",
        help="sampling sweep over M x init x seeds x images; resumable, data-parallel under torchrun/accelerate",
        description="Start-at-M sampling with standard or Analytic-Init noise (Alg. 1) over a grid; "
        "videos and a results table are stored incrementally so a killed sweep resumes.",
    )
    add_model_options(p, model_help="model name for cilnb.models.load (toy, svd, ...)",
                      device_help="auto (cuda:LOCAL_RANK under torchrun) | cpu | cuda:N")
    p.add_argument("--images", type=path_arg, required=True, help="'toy:N' (first frames of N sprite videos of the toy checkpoint's training data) or a folder of images")
    p.add_argument("--size", type=size_hw, default=None, help="HxW for folder images (default: the toy's size)")
    p.add_argument("--data-seed", type=nonneg_int, default=0, help="seed of the toy:N videos")
    p.add_argument("--M", type=finite_float, nargs="+", required=True, action=OnceList, help="start times M: normalised in (0, 1] (or native with --native)")
    p.add_argument("--native", action="store_true", help="--M values are native times (SVD: sigma_M, e.g. 700 100)")
    p.add_argument("--init", nargs="+", default=["standard"], choices=INITS, action=OnceList, help="initial noise modes")
    p.add_argument("--seeds", type=nonneg_int, nargs="+", default=[0], action=OnceList, help="seeds (each image is sampled once per seed)")
    p.add_argument("--n-steps", type=positive_int, default=50, help="sampler steps over [0, M]")
    p.add_argument("--sampler", default="ddim", choices=["ddim", "euler", "heun", "dpm++2m", "dpm++3m"],
                   help="ddim (VC1/DC), heun (SVD), dpm++2m (DPM-Solver++ 2M), dpm++3m (DPM-Solver++ 3M, on VP schedules a grid packed near t = 0)")
    p.add_argument("--stats", type=path_arg, default=None, help="Analytic-Init statistics (.safetensors from `cilnb stats`, or an official .pt)")
    p.add_argument("--frames", type=positive_int, default=None, help="frames per video (default: the model's n_frames or the stats)")
    p.add_argument("--batch-size", type=positive_int, default=8, help="units per sampler call")
    p.add_argument("--motion-bucket-id", type=finite_float, default=None, help="SVD motion bucket (adapter default if unset)")
    p.add_argument("--cond-fps", type=finite_float, default=None, help="SVD fps conditioning (adapter default if unset)")
    p.add_argument("--noise-aug-strength", type=finite_float, default=None, help="SVD conditioning noise (adapter default if unset)")
    p.add_argument("--cond", action="append", metavar="KEY=VALUE", help="extra keyword for the adapter's prepare_condition (repeatable; JSON values, else strings)")
    p.add_argument("--remedy", default=None, metavar="NAME",
                   help="inference-time remedy for every unit (cilnb.remedies: freeinit, frameinit, progressive, alg, cond_noise, "
                   "analytic_init, or a combination such as alg+analytic_init); stored in sweep.json")
    p.add_argument("--remedy-arg", action="append", metavar="KEY=VALUE",
                   help="a setting of the remedy (repeatable), read as the setting's type: iterations=2, method=gaussian; "
                   "member.key=value in a combination")
    p.add_argument("--out", type=path_arg, required=True, help="output folder (sweep.json, videos/, results/, results.csv)")
    p.add_argument("--max-units", type=nonneg_int, default=None, help="stop this rank after that many units (resume later)")
    p.add_argument("--mp4", action="store_true", help="also write an mp4 preview per unit")
    p.add_argument("--motion-method", default="farneback", choices=["farneback", "raft", "none"],
                   help="flow for the motion score (cilnb.metrics, SVD protocol: 450x800, sum over pairs); raft needs its weights")
    p.set_defaults(func=run)

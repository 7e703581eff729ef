"""``python -m cilnb stats``: Analytic-Init statistics of a folder of videos (:func:`cilnb.stats.compute_stats`)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_model_options, file_path_arg, path_arg, positive_float, positive_int, size_hw


def run(args: argparse.Namespace) -> int:
    from .._util import UserError
    from ..stats import check_out_not_input, compute_stats
    from .common import check_toy_shape, check_videos_folder, model_for_output

    if not Path(args.videos).is_dir():
        raise UserError(f"--videos {args.videos} is not a folder; pass the folder that holds the videos")
    _check_out_file(Path(args.out))
    try:  # an --out among the inputs (a video name in --videos, the weights) refused before the model loads
        check_out_not_input(Path(args.out), Path(args.videos), args.model_path)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    # --out checked before the model loads and any video is encoded; the videos found before the weights load
    model = model_for_output(args, folder=False, ready=lambda: check_videos_folder(args.videos))
    check_toy_shape(model, args)  # a toy's statistics must have its frame count and size to be of use to it
    res = compute_stats(
        model, args.videos, args.out, frames=args.frames, size=args.size, batch_size=args.batch_size,
        max_videos=args.max_videos, stride=args.stride, fps=args.fps, checkpoint_every=args.checkpoint_every,
        resume=not args.no_resume, model_name=args.model, model_path=args.model_path, show_progress=not args.quiet,
    )
    print(res.summary())
    print(f"mean shape {tuple(res.stats.shape)}, tr(Cov)/d = {res.stats.avg_var:.6g}")
    return 0


def _check_out_file(out: Path) -> None:
    """An existing ``--out`` is replaced only when it is a statistics file (a rerun recomputes it): another file there (a
    checkpoint, a typo'd path) would be overwritten silently."""
    from safetensors import safe_open

    from .._util import UserError
    from ..analytic_init import FORMAT
    from ..stats import progress_path

    if not out.is_file() or progress_path(out).is_file():  # nothing there, or a run this one resumes (or restarts)
        return
    try:
        with safe_open(str(out), framework="pt") as f:
            fmt = (f.metadata() or {}).get("format")
    except Exception:  # noqa: BLE001 (not a safetensors file at all)
        fmt = None
    if fmt != FORMAT:
        raise UserError(f"--out {out} exists and is not a cilnb statistics file: choose another --out, or delete {out} first "
                        "if it may be replaced")


def add_parser(sub) -> None:
    """Register ``python -m cilnb stats``."""
    p = sub.add_parser(
        "stats",
        help="Analytic-Init statistics (E[X0], tr(Cov)/d) of a folder of videos, through the model's VAE",
        description="Decode videos, encode them with the model's VAE (latents times the scaling factor; "
        "--model toy: pixels), stream the per-element moments into a safetensors file. Resumable.",
    )
    add_model_options(p, model_help="model name for cilnb.models.load (svd, toy, ...)")
    p.add_argument("--videos", type=path_arg, required=True, help="folder of videos (mp4/webm/gif/avi/mov/mkv) and/or frame folders")
    p.add_argument("--frames", type=positive_int, required=True, help="frames per video (the model's F, e.g. 14 for SVD)")
    p.add_argument("--size", type=size_hw, required=True, help="HxW after resize + centre crop, e.g. 320x512")
    p.add_argument("--out", type=file_path_arg, required=True, help="output statistics file (.safetensors)")
    p.add_argument("--batch-size", type=positive_int, default=4, help="videos per VAE batch")
    p.add_argument("--max-videos", type=positive_int, default=None, help="stop when this many videos are in the statistics")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--stride", type=positive_int, default=None, help="take every s-th decoded frame (default 1)")
    g.add_argument("--fps", type=positive_float, default=None, help="target frame rate: stride = round(native fps / fps)")
    p.add_argument("--checkpoint-every", type=positive_int, default=50, help="videos between checkpoints")
    p.add_argument("--no-resume", action="store_true", help="ignore an existing progress file and start over")
    p.set_defaults(func=run)

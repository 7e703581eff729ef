"""``python -m cilnb stats``: Analytic-Init statistics of a folder of videos (:func:`cilnb.stats.compute_stats`)."""
from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from ..stats import compute_stats
    from ._common import load_model

    model = load_model(args.model, args.model_path, device=args.device, dtype=args.dtype)
    res = compute_stats(
        model, args.videos, args.out, frames=args.frames, size=args.size, batch_size=args.batch_size,
        max_videos=args.max_videos, stride=args.stride, fps=args.fps, checkpoint_every=args.checkpoint_every,
        resume=not args.no_resume, model_name=args.model, model_path=args.model_path, show_progress=not args.quiet,
    )
    print(res.summary())
    print(f"mean shape {tuple(res.stats.shape)}, tr(Cov)/d = {res.stats.avg_var:.6g}")
    return 0


def add_parser(sub) -> None:
    """Register ``python -m cilnb stats``."""
    p = sub.add_parser(
        "stats",
        help="Analytic-Init statistics (E[X0], tr(Cov)/d) of a folder of videos, through the model's VAE",
        description="Decode videos, encode them with the model's VAE (latents times the scaling factor; "
        "--model toy: pixels), stream the per-element moments into a safetensors file. Resumable.",
    )
    p.add_argument("--model", required=True, help="model name for cilnb.models.load (svd, toy, ...)")
    p.add_argument("--model-path", default=None, help="local pipeline folder or cached hub id (toy: checkpoint file, default: shipped base)")
    p.add_argument("--videos", required=True, help="folder of videos (mp4/webm/gif/avi/mov/mkv) and/or frame folders")
    p.add_argument("--frames", type=int, required=True, help="frames per video (the model's F, e.g. 14 for SVD)")
    p.add_argument("--size", required=True, help="HxW after resize + centre crop, e.g. 320x512")
    p.add_argument("--out", required=True, help="output statistics file (.safetensors)")
    p.add_argument("--batch-size", type=int, default=4, help="videos per VAE batch")
    p.add_argument("--max-videos", type=int, default=None, help="stop when this many videos are in the statistics")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--stride", type=int, default=None, help="take every s-th decoded frame (default 1)")
    g.add_argument("--fps", type=float, default=None, help="target frame rate: stride = round(native fps / fps)")
    p.add_argument("--checkpoint-every", type=int, default=50, help="videos between checkpoints")
    p.add_argument("--no-resume", action="store_true", help="ignore an existing progress file and start over")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--dtype", default="auto", help="auto (fp16 on CUDA, fp32 on CPU) | float32 | float16 | bfloat16")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)

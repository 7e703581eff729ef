"""Analytic-Init statistics at scale: videos -> (VAE latents) -> streaming moments (Eq. 5, Alg. 1).

``python -m cilnb stats --model svd --model-path P --videos DIR --frames 14 --size 320x512 --out FILE``
decodes every video under ``DIR`` (mp4, webm, gif, avi, mov, mkv through PyAV, the engine of
imageio's ``pyav`` plugin, called directly: the plugin runs ``gc.collect()`` on every close; and
folders of image frames, read with imageio), takes ``--frames`` frames from the start of each video at
a fixed stride, resizes and centre-crops them to ``--size``, maps them to ``[-1, 1]``, encodes
them with the model's VAE (``adapter.encode_video``: latents *times the VAE scaling factor*, the
space Analytic-Init works in; ``--model toy`` uses the pixels themselves) and streams each batch
into a :class:`cilnb.analytic_init.MomentStats` (float64, memory constant in the number of
videos). Unreadable and too-short files are skipped and reported, never fatal.

Frame sampling: frame indices ``0, s, 2s, ..., (F-1)s`` of the decoded stream, with ``s`` the
``--stride`` (default 1) or, with ``--fps f``, ``s = max(1, round(native_fps / f))`` from the
container's average frame rate. A video with fewer than ``(F-1)s + 1`` frames is too short.

Resume: every ``--checkpoint-every`` videos the statistics are written to a fresh
``FILE.ckpt-<k>`` (MomentStats.save) and then ``FILE.progress.json`` (processed and skipped file
names, settings, the checkpoint's name) is replaced atomically; the JSON is the commit point,
so a run killed at any moment resumes from a state in which every counted video is listed and
every listed video is counted exactly once. The finished file is ``FILE``; the progress file is
kept (pointing at ``FILE``), so a later run over a folder with new videos only encodes those.

The video helpers (:func:`find_videos`, :func:`read_clip`, :func:`clip_to_tensor`) live in
:mod:`cilnb.io` and are re-exported here. Shown in ``docs/at_scale.md``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .io import IMAGE_EXTS, VIDEO_EXTS, VideoSkip, clip_to_tensor, find_videos, parse_size, read_clip
from .io import to_rgb as _rgb  # noqa: F401  (old private name, kept for callers of stats_cli._rgb)

__all__ = [
    "VIDEO_EXTS",
    "IMAGE_EXTS",
    "VideoSkip",
    "StatsResult",
    "parse_size",
    "find_videos",
    "read_clip",
    "clip_to_tensor",
    "load_model",
    "encoder_for",
    "compute_stats",
    "add_cli",
]

PROGRESS_FORMAT = "cilnb.stats_progress"
PROGRESS_VERSION = 1


# ----------------------------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------------------------


def _dtype(dtype, device):
    import torch

    if dtype in (None, "auto"):
        return torch.float16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    table = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if dtype not in table:
        raise ValueError(f"dtype must be auto, float32, float16 or bfloat16, got {dtype!r}")
    return table[dtype]


def load_model(name: str, model_path: str | None = None, *, device="auto", dtype=None):
    """A model on the denoiser contract by name, through :func:`cilnb.models.load`.

    ``toy`` without a path loads the shipped ``base`` checkpoint; a path to a toy checkpoint file
    works too. Other names need ``model_path`` (a local pipeline folder or a cached hub id).
    """
    from . import models
    from ._util import resolve_device

    dev = resolve_device(device)
    dt = _dtype(dtype, dev)
    loader = getattr(models, "load", None)
    if name == "toy" and (loader is None or model_path is None):
        from .models import toy

        return toy.load(model_path or "base", device=dev)
    if loader is None:
        raise ValueError(f"cilnb.models.load is not available in this checkout; cannot load model {name!r}")
    if model_path is None:
        raise ValueError(f"--model {name} needs --model-path (a local pipeline folder or a hub id already in the cache)")
    return loader(name, model_path, device=dev, dtype=dt)


def _model_device_dtype(model):
    import torch

    for p in model.parameters() if hasattr(model, "parameters") else ():
        return p.device, p.dtype
    return torch.device("cpu"), torch.float32


def encoder_for(model) -> tuple[Callable, int, float | None, str]:
    """``(encode, channels, vae_scaling_factor, space)``: how frames ``[B, F, 3, H, W]`` reach the model's sample space.

    Latent models (an ``encode_video`` that is implemented) -> their encoder, 3 input channels,
    the VAE scaling factor; pixel models (the toy) -> identity on ``config.channels`` channels.
    """
    from .models.base import Adapter

    enc = getattr(model, "encode_video", None)
    own = getattr(type(model), "encode_video", None)
    if enc is not None and own is not getattr(Adapter, "encode_video"):
        scaling = getattr(model, "scaling_factor", None)
        if scaling is None:
            vae = getattr(model, "vae", None)
            scaling = getattr(getattr(vae, "config", None), "scaling_factor", None)
        return enc, 3, (float(scaling) if scaling is not None else None), "latent"
    channels = int(getattr(getattr(model, "config", None), "channels", 3))
    return (lambda frames: frames), channels, None, "pixel"


# ----------------------------------------------------------------------------------------------
# the streaming computation
# ----------------------------------------------------------------------------------------------


@dataclass
class StatsResult:
    """What :func:`compute_stats` did: the statistics, where they are, what was used and skipped."""

    stats: object  # MomentStats
    path: Path
    used: int  # videos in the statistics (all runs)
    new: int  # videos encoded in this run
    found: int  # candidate videos under the folder
    skipped: dict = field(default_factory=dict)  # name -> reason (all runs)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [f"statistics of {self.used} video(s) -> {self.path} ({self.new} encoded in this run, {self.found} found, {len(self.skipped)} skipped, {self.seconds:.1f} s)"]
        if self.skipped:
            lines.append("skipped:")
            lines += [f"  {name}: {why}" for name, why in sorted(self.skipped.items())]
        return "\n".join(lines)


def _progress_path(out: Path) -> Path:
    return out.with_name(out.name + ".progress.json")


def _read_progress(out: Path, settings: dict):
    from .analytic_init import MomentStats

    prog = _progress_path(out)
    if not prog.is_file():
        return None
    try:
        state = json.loads(prog.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"progress file {prog} is unreadable ({exc}); delete it (and {out.name}.ckpt-*) to start over, or pass resume=False / --no-resume") from exc
    if state.get("format") != PROGRESS_FORMAT:
        raise ValueError(f"{prog} is not a cilnb stats progress file; delete it or choose another --out")
    if state.get("settings") != settings:
        diff = {k: (state.get("settings", {}).get(k), v) for k, v in settings.items() if state.get("settings", {}).get(k) != v}
        raise ValueError(
            f"{out} was started with other settings {diff} (stored, now): rerun with the same settings to resume, "
            "choose another --out, or pass --no-resume to start over"
        )
    stats_file = out.parent / state["stats_file"]
    stats = MomentStats.load(stats_file)
    if stats.count != len(state["done"]):
        raise ValueError(f"{prog} lists {len(state['done'])} processed videos but {stats_file.name} counts {stats.count}: the checkpoint is inconsistent; start over with --no-resume")
    return stats, list(state["done"]), dict(state.get("skipped", {})), state["stats_file"], int(state.get("serial", 0))


def compute_stats(
    model,
    videos: str | os.PathLike,
    out: str | os.PathLike,
    *,
    frames: int,
    size,
    batch_size: int = 4,
    max_videos: int | None = None,
    stride: int | None = None,
    fps: float | None = None,
    checkpoint_every: int = 50,
    resume: bool = True,
    model_name: str | None = None,
    model_path: str | None = None,
    show_progress: bool = True,
    on_batch: Callable[[dict], None] | None = None,
) -> StatsResult:
    """Stream the (latent) moments of the videos under ``videos`` into ``out``: the inputs of Eq. (5).

    ``model`` is a model object (an adapter with ``encode_video``, or a pixel-space model such as
    the toy). Returns a :class:`StatsResult`; ``result.stats`` is the
    :class:`~cilnb.analytic_init.MomentStats` saved at ``out`` (safetensors). ``on_batch`` is
    called after each encoded batch with ``{"done", "new", "skipped"}`` (tests use it to interrupt
    a run). See the module docstring for frame sampling and resume. Shown in ``docs/at_scale.md``.
    """
    import torch

    from .analytic_init import MomentStats
    from ._util import progress

    t0 = time.time()
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise ValueError(f"frames must be a positive int, got {frames!r}")
    hw = parse_size(size)
    if stride is not None and fps is not None:
        raise ValueError("give either stride or fps, not both")
    if stride is not None and (isinstance(stride, bool) or not isinstance(stride, int) or stride < 1):
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    if fps is not None and not (fps > 0 and math.isfinite(fps)):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    if batch_size < 1 or checkpoint_every < 1:
        raise ValueError("batch_size and checkpoint_every must be >= 1")
    if max_videos is not None and max_videos < 1:
        raise ValueError(f"max_videos must be >= 1, got {max_videos}")
    out = Path(out)
    root = Path(videos)
    candidates = find_videos(root)
    if not candidates:
        raise ValueError(f"no videos found in {root} (looked for {', '.join(VIDEO_EXTS)} files and folders of {', '.join(IMAGE_EXTS)} frames)")

    encode, channels, scaling, space = encoder_for(model)
    device, _ = _model_device_dtype(model)
    settings = {
        "model": model_name or type(model).__name__,
        "model_path": None if model_path is None else str(model_path),
        "space": space,
        "frames": frames,
        "size": list(hw),
        "stride": stride,
        "fps": fps,
    }
    state = _read_progress(out, settings) if resume else None
    if state is None:
        stats, done, skipped, serial = MomentStats(), [], {}, 0
        current = None
        for old in out.parent.glob(f"{out.name}.ckpt-*"):  # leftovers of an abandoned run
            old.unlink(missing_ok=True)
    else:
        stats, done, skipped, current, serial = state
    done_set = set(done)
    source = (
        f"cilnb stats: model={settings['model']} path={settings['model_path']} space={space} frames={frames} "
        f"size={hw[0]}x{hw[1]} " + (f"fps={fps}" if fps is not None else f"stride={stride or 1}") + f" videos={root}"
    )
    names = [p.relative_to(root).as_posix() for p in candidates]
    todo = [(n, p) for n, p in zip(names, candidates) if n not in done_set and n not in skipped]
    new = 0
    since_ckpt = 0

    def checkpoint(final: bool = False):
        nonlocal current, serial, since_ckpt
        if stats.count == 0:
            return
        if final:
            target = out
        else:
            serial += 1
            target = out.with_name(f"{out.name}.ckpt-{serial}")
        stats.save(target, source=source, vae_scaling_factor=scaling)
        payload = {
            "format": PROGRESS_FORMAT,
            "version": PROGRESS_VERSION,
            "settings": settings,
            "stats_file": target.name,
            "serial": serial,
            "count": stats.count,
            "done": done,
            "skipped": skipped,
        }
        from ._util import atomic_write

        atomic_write(_progress_path(out), lambda tmp: tmp.write_text(json.dumps(payload, indent=1)))
        old = current
        current = target.name
        if old and old != current and old != out.name:
            (out.parent / old).unlink(missing_ok=True)
        since_ckpt = 0

    total = len(todo) if max_videos is None else min(len(todo), max(0, max_videos - len(done)))
    bar = progress(None, total=total, disable=not show_progress, desc="stats", unit="video")
    buf: list[tuple[str, object]] = []

    def flush():
        nonlocal new, since_ckpt
        if not buf:
            return
        x = torch.stack([clip_to_tensor(c, hw, channels) for _, c in buf]).to(device=device)  # float32; adapters cast for their VAE
        with torch.no_grad():
            z = encode(x)
        stats.update(z)  # all or nothing: validated before it changes the moments
        done.extend(n for n, _ in buf)
        new += len(buf)
        since_ckpt += len(buf)
        bar.update(len(buf))
        buf.clear()
        if since_ckpt >= checkpoint_every:
            checkpoint()
        if on_batch is not None:
            on_batch({"done": len(done), "new": new, "skipped": dict(skipped)})

    try:
        for name, path in todo:
            if max_videos is not None and len(done) + len(buf) >= max_videos:
                break
            try:
                clip = read_clip(path, frames, stride=stride, fps=fps)
            except VideoSkip as exc:
                skipped[name] = str(exc)
                bar.set_postfix(skipped=len(skipped))
                continue
            buf.append((name, clip))
            if len(buf) >= batch_size:
                flush()
        flush()
    except BaseException:
        checkpoint()  # the in-memory state is consistent after every batch: keep the work done so far
        raise
    finally:
        bar.close()
    if stats.count == 0:
        raise ValueError(
            f"none of the {len(candidates)} video(s) in {root} could be used; skipped:\n"
            + "\n".join(f"  {n}: {why}" for n, why in sorted(skipped.items()))
        )
    checkpoint(final=True)
    stats.source = source
    return StatsResult(stats=stats, path=out, used=len(done), new=new, found=len(candidates), skipped=skipped, seconds=time.time() - t0)


# ----------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    model = load_model(args.model, args.model_path, device=args.device, dtype=args.dtype)
    res = compute_stats(
        model, args.videos, args.out, frames=args.frames, size=args.size, batch_size=args.batch_size,
        max_videos=args.max_videos, stride=args.stride, fps=args.fps, checkpoint_every=args.checkpoint_every,
        resume=not args.no_resume, model_name=args.model, model_path=args.model_path, show_progress=not args.quiet,
    )
    print(res.summary())
    print(f"mean shape {tuple(res.stats.shape)}, tr(Cov)/d = {res.stats.avg_var:.6g}")
    return 0


def add_cli(sub) -> None:
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
    p.set_defaults(func=_run)

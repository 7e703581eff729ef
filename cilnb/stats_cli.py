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

The video helpers (:func:`find_videos`, :func:`read_clip`, :func:`clip_to_tensor`) are reused by
:mod:`cilnb.finetune`. Shown in ``docs/at_scale.md``.
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

VIDEO_EXTS = (".mp4", ".webm", ".gif", ".avi", ".mov", ".mkv", ".m4v")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
PROGRESS_FORMAT = "cilnb.stats_progress"
PROGRESS_VERSION = 1


class VideoSkip(Exception):
    """A video that cannot be used (unreadable, too short); the message says why."""


# ----------------------------------------------------------------------------------------------
# videos
# ----------------------------------------------------------------------------------------------


def parse_size(size) -> tuple[int, int]:
    """``"320x512"`` / ``(320, 512)`` / ``32`` -> ``(H, W)``; positive ints only."""
    if isinstance(size, str):
        parts = size.lower().replace("*", "x").split("x")
        try:
            hw = tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError(f"size must look like HxW (e.g. 320x512), got {size!r}") from None
    elif isinstance(size, int):
        hw = (size, size)
    else:
        hw = tuple(int(s) for s in size)
    if len(hw) == 1:
        hw = (hw[0], hw[0])
    if len(hw) != 2 or min(hw) < 1:
        raise ValueError(f"size must be two positive ints HxW (e.g. 320x512), got {size!r}")
    return hw  # type: ignore[return-value]


def find_videos(root: str | os.PathLike) -> list[Path]:
    """Video files (``VIDEO_EXTS``) and frame folders (folders holding ``IMAGE_EXTS`` files) under ``root``, sorted.

    A folder counts as one video when it directly holds image files; its own sub-folders are not
    searched further. Hidden files and folders (``.name``) are ignored.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"--videos {root} is not a folder; pass the folder that holds the videos")
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        names = [f for f in filenames if not f.startswith(".")]
        here = Path(dirpath)
        if here != root and any(f.lower().endswith(IMAGE_EXTS) for f in names):
            out.append(here)
            dirnames[:] = []
            continue
        out.extend(here / f for f in names if f.lower().endswith(VIDEO_EXTS))
    return sorted(out)


def _stride(stride: int | None, fps: float | None, native_fps: float | None) -> int:
    if fps is None:
        return int(stride or 1)
    if not native_fps or not math.isfinite(native_fps) or native_fps <= 0:
        raise VideoSkip("frame rate unknown (needed for --fps); use --stride instead")
    return max(1, int(round(native_fps / fps)))


def _rgb(frame):
    import numpy as np

    a = np.asarray(frame)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3:
        raise VideoSkip(f"unexpected frame shape {a.shape}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.shape[2] == 4:
        a = a[..., :3]
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.integer):
            a = (a.astype(np.float64) / np.iinfo(a.dtype).max * 255).round().astype(np.uint8)
        else:
            a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    return a


def _decode_pyav(path: Path, frames: int, stride, fps):
    """Decode the needed frames with PyAV (the engine of imageio's ``pyav`` plugin).

    PyAV is called directly because imageio's plugin runs ``gc.collect()`` on every close, which
    costs 0.1-0.5 s per video in a process that holds a large model.
    """
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoSkip("no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            native = float(stream.average_rate) if stream.average_rate else None
            s = _stride(stride, fps, native)
            need = (frames - 1) * s + 1
            clip, n = [], 0
            for i, frame in enumerate(container.decode(stream)):
                n = i + 1
                if i % s == 0:
                    clip.append(frame.to_ndarray(format="rgb24"))
                if n >= need:
                    break
    except VideoSkip:
        raise
    except Exception as exc:
        raise VideoSkip(f"unreadable ({type(exc).__name__}: {exc})") from exc
    return clip, n, s, need


def read_clip(path: str | os.PathLike, frames: int, *, stride: int | None = None, fps: float | None = None):
    """``frames`` RGB frames ``[F, H, W, 3]`` uint8 from the start of a video file or frame folder.

    Frame indices ``0, s, ..., (F-1)s`` (see the module docstring for ``s``); decoding stops after
    the last needed frame. Raises :class:`VideoSkip` for unreadable or too-short videos.
    """
    import numpy as np

    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTS and not p.name.startswith("."))
        s = int(stride or 1) if fps is None else _stride(None, fps, None)
        need = (frames - 1) * s + 1
        if len(files) < need:
            raise VideoSkip(f"too short: {len(files)} frames, needs {need} ({frames} frames at stride {s})")
        import imageio.v3 as iio

        try:
            clip = [_rgb(iio.imread(files[i * s])) for i in range(frames)]
        except VideoSkip:
            raise
        except Exception as exc:
            raise VideoSkip(f"unreadable frame ({type(exc).__name__}: {exc})") from exc
    else:
        clip, n, s, need = _decode_pyav(path, frames, stride, fps)
        if n < need:
            raise VideoSkip(f"too short: {n} frames, needs {need} ({frames} frames at stride {s})")
    shapes = {c.shape for c in clip}
    if len(shapes) != 1:
        raise VideoSkip(f"frames of different sizes {sorted(shapes)}")
    return np.stack(clip)


def clip_to_tensor(clip, size: tuple[int, int], channels: int = 3):
    """uint8 ``[F, H, W, 3]`` -> float ``[F, C, h, w]`` in ``[-1, 1]``: scale to cover ``size``, centre-crop.

    Antialiased bilinear resizing (``torch.nn.functional.interpolate(antialias=True)``) by the one
    factor ``max(h/H, w/W)`` that makes the frame cover the target, then a centre crop (no
    distortion). ``channels=1`` converts to luma (ITU-R BT.601 weights), for the grayscale toy.
    """
    import torch
    import torch.nn.functional as Fn

    h, w = size
    x = torch.from_numpy(clip).permute(0, 3, 1, 2).to(torch.float32) / 255.0
    H, W = x.shape[-2:]
    scale = max(h / H, w / W)
    nh, nw = max(h, int(math.ceil(H * scale - 1e-6))), max(w, int(math.ceil(W * scale - 1e-6)))
    if (nh, nw) != (H, W):
        x = Fn.interpolate(x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
    top, left = (nh - h) // 2, (nw - w) // 2
    x = x[..., top : top + h, left : left + w].clamp(0, 1)
    if channels == 1:
        x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    elif channels != 3:
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    return x * 2 - 1


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

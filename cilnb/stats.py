"""Analytic-Init statistics at scale: videos -> (VAE latents) -> streaming moments (Eq. 5, Alg. 1).

:func:`compute_stats` (``python -m cilnb stats --model svd --model-path P --videos DIR --frames 14
--size 320x512 --out FILE``, :mod:`cilnb.commands.stats`) decodes every video under ``DIR`` (mp4, webm, gif, avi, mov, mkv through PyAV, the engine of
imageio's ``pyav`` plugin, called directly: the plugin runs ``gc.collect()`` on every close; and
folders of image frames, read with imageio), takes ``--frames`` frames from the start of each video at
a fixed stride, resizes and centre-crops them to ``--size``, maps them to ``[-1, 1]``, encodes
them with the model's VAE (``adapter.encode_video``: latents *times the VAE scaling factor*, the
space Analytic-Init works in; ``--model toy`` uses the pixels themselves) and streams each batch
into a :class:`cilnb.analytic_init.MomentStats` (float64, memory constant in the number of
videos). Unreadable and too-short files are skipped and reported, never fatal.

Frames are read, sampled and resized by :class:`cilnb.io.ClipSet` (see :mod:`cilnb.io` for the
frame-sampling rule).

Resume: every ``--checkpoint-every`` videos the statistics are written to a fresh
``FILE.ckpt-<k>`` (MomentStats.save) and then ``FILE.progress.json`` (processed and skipped file
names, settings, the checkpoint's name) is replaced atomically; the JSON is the commit point,
so a run killed at any moment resumes from a state in which every counted video is listed and
every listed video is counted exactly once. The finished file is ``FILE``; the progress file is
kept (pointing at ``FILE``), so a later run over a folder with new videos only encodes those.
Resume is bit-exact: batches restart at a checkpoint (a batch boundary) and the float64 moments
round-trip exactly, so a killed and resumed run writes the same ``FILE`` as an uninterrupted one.
One run at a time per ``FILE``: ``FILE.lock`` (pid, host) refuses a second concurrent run (a lock
whose process is gone is taken over); temporary files a kill left behind are removed at start.
The output location is checked before the model encodes anything; only regular files are read.

Statistics files are read only by :meth:`cilnb.analytic_init.MomentStats.load`. Shown in
``docs/at_scale.md``.
"""
from __future__ import annotations

import json
import numbers
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .io import ClipSet, VideoSkip, parse_size

__all__ = ["StatsResult", "encoder_for", "compute_stats"]

PROGRESS_FORMAT = "cilnb.stats_progress"
PROGRESS_VERSION = 1


# ----------------------------------------------------------------------------------------------
# a model's sample space
# ----------------------------------------------------------------------------------------------


def encoder_for(model) -> tuple[Callable, int, float | None, str]:
    """``(encode, channels, vae_scaling_factor, space)``: how frames ``[B, F, 3, H, W]`` reach the model's sample space.

    Latent models (an ``encode_video`` that is implemented) -> their encoder, 3 input channels,
    the VAE scaling factor; pixel models (the toy) -> identity on ``config.channels`` channels.
    """
    from .checks import InputTypeError
    from .models.base import Adapter

    if model is None or isinstance(model, (str, bytes, os.PathLike, numbers.Number, Mapping, list, tuple)):
        hint = f": load it first, cilnb.models.load({model!r})" if isinstance(model, str) else ""
        raise InputTypeError(f"model must be a loaded model (cilnb.models.load(...)), got {type(model).__name__}{hint} "
                             "(it would be read as a 3-channel pixel model: statistics of pixels, not of the model's latents)")
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
        # names of undecodable bytes (os.fsdecode's lone surrogates) failed in print(): shown escaped
        return "\n".join(lines).encode("utf-8", "backslashreplace").decode("utf-8")


def progress_path(out: Path) -> Path:
    """The progress file that ``compute_stats`` keeps beside the statistics file ``out`` while it runs (resume reads it)."""
    return out.with_name(out.name + ".progress.json")


def _read_progress(out: Path, settings: dict):
    from .analytic_init import MomentStats

    prog = progress_path(out)
    if not prog.is_file():
        return None
    try:
        state = json.loads(prog.read_text())
        if not isinstance(state, dict):
            raise json.JSONDecodeError("not a JSON object", "", 0)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"progress file {prog} is unreadable ({exc}); delete it (and {out.name}.ckpt-*) to start over, or pass resume=False / --no-resume") from exc
    if state.get("format") != PROGRESS_FORMAT:
        raise ValueError(f"{prog} is not a cilnb stats progress file; delete it or choose another --out")
    if not isinstance(state.get("settings"), dict):  # a list failed with an AttributeError
        raise ValueError(f"progress file {prog} is corrupt (its settings are {type(state.get('settings')).__name__}, not an object): "
                         "delete it to start over, or pass resume=False / --no-resume")
    if state.get("settings") != settings:
        diff = {k: (state.get("settings", {}).get(k), v) for k, v in settings.items() if state.get("settings", {}).get(k) != v}
        raise ValueError(
            f"{out} was started with other settings {diff} (stored, now): rerun with the same settings to resume, "
            "choose another --out, or pass --no-resume to start over"
        )
    try:
        stats_file = out.parent / state["stats_file"]
        done, skipped, serial = list(state["done"]), dict(state.get("skipped", {})), int(state.get("serial", 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"progress file {prog} is incomplete ({exc!r} missing or malformed): delete it to start over, or pass --no-resume") from exc
    # "done": "ab" was read as the two videos "a" and "b" (then counted again); a stats_file of another folder was
    # loaded and, at the next checkpoint, deleted
    if (not isinstance(state["done"], list) or not all(isinstance(n, str) for n in done)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in skipped.items())):
        raise ValueError(f"progress file {prog} is corrupt ('done' must list video names, 'skipped' map names to reasons): "
                         "delete it to start over, or pass --no-resume")
    name = state["stats_file"]
    if not isinstance(name, str) or not (name == out.name or (name.startswith(f"{out.name}.ckpt-") and name.rpartition("-")[2].isdigit())):
        raise ValueError(f"progress file {prog} is corrupt: its statistics file {name!r} is neither {out.name} nor one of its "
                         f"checkpoints ({out.name}.ckpt-N): delete it to start over, or pass --no-resume")
    try:
        stats = MomentStats.load(stats_file)
    except (ValueError, FileNotFoundError) as exc:
        raise ValueError(f"{exc}; the checkpoint of {prog} is unusable: pass --no-resume (or delete {prog.name}) to start over") from exc
    if stats.count != len(done):
        raise ValueError(f"{prog} lists {len(state['done'])} processed videos but {stats_file.name} counts {stats.count}: the checkpoint is inconsistent; start over with --no-resume")
    return stats, done, skipped, state["stats_file"], serial


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
    from ._util import JobLock, check_output_path, clean_tmp_files

    from . import checks

    t0 = time.time()
    if model is None or isinstance(model, (str, bytes, os.PathLike)) or not (callable(model) or callable(getattr(model, "encode_video", None))):
        raise checks.InputTypeError(
            f"model must be a loaded model (e.g. cilnb.models.load('svd', path) or cilnb.models.load('toy')), got {model!r} "
            f"({type(model).__name__}); its statistics would otherwise be taken as pixels")
    frames = checks.check_int("frames", frames, min=1, fix="(frames per clip)")  # numpy ints too: the settings are stored as JSON
    hw = parse_size(size)
    if stride is not None and fps is not None:
        raise ValueError("give either stride or fps, not both")
    if stride is not None:
        stride = checks.check_int("stride", stride, min=1, fix="(take every stride-th frame; None to use fps)")
    if fps is not None:
        fps = checks.check_number("fps", fps, lo=0, lo_open=True, fix="(the frame rate to sample clips at; None to use stride)")
    batch_size = checks.check_int("batch_size", batch_size, min=1, fix="(videos per VAE batch)")
    checkpoint_every = checks.check_int("checkpoint_every", checkpoint_every, min=1, fix="(videos between checkpoints)")
    if max_videos is not None:
        max_videos = checks.check_int("max_videos", max_videos, min=1, fix="(None for all videos)")
    checks.check_bool("resume", resume, numpy_bools=False)
    show_progress = checks.check_bool("show_progress", show_progress)
    if on_batch is not None and not callable(on_batch):
        raise checks.InputTypeError(f"on_batch must be a callable taking a dict (or None), got {type(on_batch).__name__}")
    out = check_output_path(checks.check_path("out", out, "a statistics file path"), option="out (--out)")
    root = checks.check_path("videos", videos, "a folder of videos")
    if not root.is_dir():
        raise ValueError(f"--videos {root} is not a folder; pass the folder that holds the videos")
    check_out_not_input(out, root, model_path)
    channels = encoder_for(model)[1]
    checks.check_fits_in_memory(8.0 * frames * max(3, channels) * hw[0] * hw[1], f"compute_stats(frames={frames}, size={hw[0]}x{hw[1]})",
                                "one clip at this size does not fit: pass a smaller --size (e.g. 320x512) or fewer --frames")
    with JobLock(out.with_name(out.name + ".lock"), f"statistics file {out}"):
        clean_tmp_files(out.parent, [out.name, f"{out.name}.ckpt-*", progress_path(out).name])
        return _compute(model, root, out, frames=frames, hw=hw, batch_size=batch_size, max_videos=max_videos, stride=stride,
                        fps=fps, checkpoint_every=checkpoint_every, resume=resume, model_name=model_name, model_path=model_path,
                        show_progress=show_progress, on_batch=on_batch, t0=t0)


def check_out_not_input(out: Path, root: Path, model_path) -> None:
    """Refuse an ``out`` that is one of the inputs: a video or frame of ``root`` (it was read, then overwritten with the
    statistics) or the model's weights file ``model_path``."""
    from .io import IMAGE_EXTS, VIDEO_EXTS

    o, r = out.resolve(), root.resolve()
    if o.suffix.lower() in VIDEO_EXTS + IMAGE_EXTS and (o.parent == r or r in o.parents):
        raise ValueError(f"out (--out) {out} is a video or frame name inside --videos {root}: it would be read as a video "
                         "and overwritten with the statistics; choose a .safetensors path outside the videos (e.g. stats.safetensors)")
    if isinstance(model_path, (str, os.PathLike)) and str(model_path) and Path(model_path).is_file() and Path(model_path).resolve() == o:
        raise ValueError(f"out (--out) {out} is the model's weights file (model_path): choose another path for the statistics")


def _compute(model, root: Path, out: Path, *, frames, hw, batch_size, max_videos, stride, fps, checkpoint_every, resume,
             model_name, model_path, show_progress, on_batch, t0) -> StatsResult:
    """:func:`compute_stats` after its checks, holding the lock."""
    import torch

    from .analytic_init import MomentStats
    from ._util import atomic_write, model_device_dtype, progress

    encode, channels, scaling, space = encoder_for(model)
    clips = ClipSet(root, frames=frames, size=hw, stride=stride, fps=fps, channels=channels)
    device, _ = model_device_dtype(model)
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
    todo = [i for i, n in enumerate(clips.names) if n not in done_set and n not in skipped]
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
        atomic_write(progress_path(out), lambda tmp: tmp.write_text(json.dumps(payload, indent=1)))
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
        x = torch.stack([c for _, c in buf]).to(device=device)  # float32; adapters cast for their VAE
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

    def skip(i: int, exc: VideoSkip) -> None:
        skipped[clips.names[i]] = str(exc)
        bar.set_postfix(skipped=len(skipped))

    def full() -> bool:
        return max_videos is not None and len(done) + len(buf) >= max_videos

    try:
        if not full():
            for i, clip in clips.usable(todo, on_skip=skip):
                buf.append((clips.names[i], clip))
                if len(buf) >= batch_size:
                    flush()
                if full():
                    break
        flush()
    except BaseException:
        checkpoint()  # the in-memory state is consistent after every batch: keep the work done so far
        raise
    finally:
        bar.close()
    if stats.count == 0:
        raise ValueError(
            f"none of the {len(clips)} video(s) in {root} could be used (check --frames, --size, --stride/--fps); skipped:\n"
            + "\n".join(f"  {n}: {why}" for n, why in sorted(skipped.items()))
        )
    checkpoint(final=True)
    stats.source = source
    return StatsResult(stats=stats, path=out, used=len(done), new=new, found=len(clips), skipped=skipped, seconds=time.time() - t0)

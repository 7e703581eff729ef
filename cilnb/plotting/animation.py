"""Videos that play: one video or a labelled grid as an inline animation, plus GIF and MP4 exporters.

A motion deficit is easier to see than to read from frame strips. :func:`play` returns an
``IPython.display.HTML`` holding a self-contained animated GIF (base64, a few kB for toy
videos), which plays in JupyterLab, in executed notebooks and in exported HTML alike; it returns
the object and never displays it, so a cell shows it exactly once. :func:`save_gif` and
:func:`save_mp4` write the same tiles for slides. Frame strips (:func:`cilnb.plotting.video_grid`)
stay for the saved static figures.

Videos are ``[F, C, H, W]`` or ``[N, F, C, H, W]`` (C = 1 gray or 3 RGB) with values on
``[vmin, vmax]`` (default ``[-1, 1]``, cilnb's pixel range), or a list of ``[F, C, H, W]``.
Shown in notebooks/explore.ipynb.
"""
from __future__ import annotations

import base64
import io
import itertools
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["tile_frames", "gif_bytes", "save_gif", "save_mp4", "play"]

_LABEL_H = 14  # pixels of the caption band above each tile when labels are given
_LABEL_PT = 10  # caption font size (DejaVu Sans from matplotlib, which has X̂ and →; PIL's bitmap font does not)


def _as_videos(videos) -> list[np.ndarray]:
    """A list of float arrays ``[F, C, H, W]`` from a tensor/array ``[F, C, H, W]``/``[N, F, C, H, W]`` or a list;
    wrong types, shapes, empty videos and NaN/inf are refused with a message naming the video."""
    import torch

    from ..checks import InputTypeError

    def arr(v, what: str):
        from ..checks import check_not_meta

        check_not_meta(what, v)
        if (torch.is_tensor(v) and v.dtype == torch.bool) or (isinstance(v, np.ndarray) and v.dtype == np.bool_):
            raise InputTypeError(f"{what} holds booleans (a mask?), not pixel values: pass v.float() * 2 - 1 for [-1, 1] pixels")
        if torch.is_tensor(v):
            if v.is_complex():
                raise InputTypeError(f"{what} has the complex dtype {v.dtype}; pass real pixel values (e.g. v.real or v.abs())")
            return check_cast(what, v, v.detach().float().cpu().numpy())
        if isinstance(v, np.ndarray) and v.dtype.kind not in "biuf":
            raise InputTypeError(f"{what} has dtype {v.dtype}; pass real pixel values (a float tensor or array)")
        if isinstance(v, (str, bytes)):
            raise InputTypeError(f"{what} must be a tensor or array [F, C, H, W], got the string {v!r}")
        try:
            with np.errstate(over="ignore"):  # an overflow is said by check_cast, not as numpy's RuntimeWarning
                a = np.asarray(v, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InputTypeError(f"{what} must be a tensor or array [F, C, H, W] of numbers, got {type(v).__name__} ({exc})") from None
        return check_cast(what, v, a)

    if torch.is_tensor(videos) or isinstance(videos, np.ndarray):
        a = arr(videos, "videos")
        if a.ndim == 4:
            out = [a]
        elif a.ndim == 5:
            out = list(a)
            if not out:
                raise ValueError(f"videos holds no video (shape {a.shape}): pass at least one [F, C, H, W] video")
        else:
            raise ValueError(f"videos must be [F, C, H, W] or [N, F, C, H, W], got shape {a.shape}")
    elif isinstance(videos, Sequence) and not isinstance(videos, (str, bytes)) and len(videos) > 0:
        out = [arr(v, f"video {i}") for i, v in enumerate(videos)]
    else:
        raise ValueError("videos must be a tensor/array [F, C, H, W] or [N, F, C, H, W], or a non-empty list of [F, C, H, W]")
    for i, v in enumerate(out):
        if v.ndim != 4 or v.shape[1] not in (1, 3):
            raise ValueError(f"video {i} must be [F, C, H, W] with C in (1, 3), got shape {v.shape}{layout_hint(v.shape)}")
        if 0 in v.shape:
            raise ValueError(f"video {i} is empty (shape {v.shape}): each video needs at least one frame of at least 1 x 1 pixels")
        if not np.isfinite(v).all():
            raise ValueError(f"video {i} holds NaN or inf values: nothing sensible can be shown; check the model's output")
    return out


def layout_hint(shape) -> str:
    """How to get a video of ``shape`` into ``[F, C, H, W]`` when it looks channels-last ``[F, H, W, C]`` (imageio's layout)."""
    if len(shape) == 4 and shape[-1] in (1, 3) and shape[1] not in (1, 3):
        return ": it looks like [F, H, W, C] (channels last): pass v.permute(0, 3, 1, 2) (a tensor) or v.transpose(0, 3, 1, 2) (an array)"
    return ""


_F32_MAX = float(np.finfo(np.float32).max)


def check_cast(what: str, src, a: np.ndarray) -> np.ndarray:
    """``a``, the float32 copy of ``src``; finite values beyond float32's range (float64 ``1e300``) became inf there and were
    then refused as "NaN or inf ... check the model's output": said as what they are."""
    if a.dtype.kind == "f" and a.size and not np.isfinite(a).all():  # the rare path: look at the values before the cast
        import torch

        big = src.detach().cpu().double().numpy() if torch.is_tensor(src) else np.asarray(src, dtype=np.float64)
        if np.isfinite(big).all():
            raise ValueError(f"{what} holds values up to {float(np.abs(big).max()):.3g}, beyond what float32 pixels hold "
                             f"({_F32_MAX:.3g}): rescale them to the shown range [vmin, vmax]")
    return a


def check_span(vmin: float, vmax: float) -> None:
    """Refuse a ``[vmin, vmax]`` that float32 frames cannot be scaled by: a bound or the width beyond float32's range
    overflowed to inf in ``(v - vmin) / (vmax - vmin)`` and every frame was shown black or white without a word."""
    if max(abs(vmin), abs(vmax), vmax - vmin) > _F32_MAX:
        raise ValueError(f"[vmin, vmax] = [{vmin:g}, {vmax:g}] is beyond what float32 frames can be scaled by (bounds and width at "
                         f"most {_F32_MAX:.3g}): pass the range your videos use, e.g. vmin=-1, vmax=1")


_FAR = 10.0  # values further than this many range widths outside [vmin, vmax] are another scale, not an overshoot
_MAX_CANVAS_BYTES = 2 << 30  # 2 GiB of frames: far beyond any GIF worth showing


def check_uint8(videos, vmin: float, vmax: float) -> None:
    """Refuse ``uint8`` videos (0..255 pixels) shown on the default ``[-1, 1]``: dark ones would pass the range check and
    show saturated."""
    import torch

    if (vmin, vmax) != (-1.0, 1.0):
        return
    items = [videos] if torch.is_tensor(videos) or isinstance(videos, np.ndarray) else list(videos)
    for i, v in enumerate(items):
        if getattr(v, "dtype", None) in (torch.uint8, np.uint8):
            what = "videos are" if len(items) == 1 else f"video {i} is"
            raise ValueError(f"{what} uint8 (0..255 pixels) but shown on [vmin, vmax] = [-1, 1]: pass vmin=0, vmax=255, "
                             "or rescale with x.float() / 127.5 - 1")


def check_shown_range(vids: list[np.ndarray], vmin: float, vmax: float) -> None:
    """Refuse videos far outside ``[vmin, vmax]`` (e.g. 0..255 pixels on the default [-1, 1]): clipping would show garbage."""
    width = vmax - vmin
    for i, v in enumerate(vids):
        lo, hi = float(v.min()), float(v.max())
        if lo < vmin - _FAR * width or hi > vmax + _FAR * width:
            fix = ("they look like 0..255 pixels: pass vmin=0, vmax=255, or rescale with x / 127.5 - 1"
                   if lo >= 0 and hi > 1.5 and (vmin, vmax) == (-1.0, 1.0) else "pass the vmin and vmax your videos use, or rescale them")
            raise ValueError(f"video {i} values span [{lo:.4g}, {hi:.4g}], far outside the shown range [vmin, vmax] = "
                             f"[{vmin:g}, {vmax:g}]: {fix}")


def tile_frames(videos, labels: Sequence[str] | None = None, *, ncols: int | None = None, scale: int | None = None,
                vmin: float = -1.0, vmax: float = 1.0, pad: int = 2) -> np.ndarray:
    """The frames of a labelled grid of videos as ``uint8 [F, H', W', 3]`` (shorter videos hold their last frame).

    ``scale`` enlarges each pixel (nearest neighbour; default: tiles at least 96 pixels high), so
    32x32 toy videos stay crisp. ``labels`` (one per video) are drawn above the tiles. Values
    outside ``[vmin, vmax]`` are clipped; values more than 10 range widths outside (0..255 pixels
    on the default ``[-1, 1]``) are refused, as are NaN/inf and empty videos.
    """
    from ..checks import check_int, check_number

    vids = _as_videos(videos)
    vmin = check_number("vmin", vmin, fix="(the value shown black)")
    vmax = check_number("vmax", vmax, fix="(the value shown white)")
    if not vmax > vmin:
        raise ValueError(f"vmax must be greater than vmin, got vmin={vmin}, vmax={vmax}")
    check_span(vmin, vmax)
    check_uint8(videos, vmin, vmax)
    check_shown_range(vids, vmin, vmax)
    labels = _check_labels(labels, len(vids))
    n = len(vids)
    ncols = n if ncols is None else check_int("ncols", ncols, min=1, fix="(videos per row)")
    h = max(v.shape[2] for v in vids)
    w = max(v.shape[3] for v in vids)
    scale = max(1, -(-96 // h)) if scale is None else check_int("scale", scale, min=1, fix="(screen pixels per video pixel)")
    pad = check_int("pad", pad, min=0, fix="(white pixels between tiles)")
    th, tw = h * scale, w * scale
    band = _LABEL_H if labels is not None else 0
    nrows = -(-n // ncols)
    n_f = max(v.shape[0] for v in vids)
    size = n_f * (nrows * (th + band + pad) + pad) * (ncols * (tw + pad) + pad) * 3
    if size > _MAX_CANVAS_BYTES:
        raise ValueError(f"the grid would take {size / 2**30:.1f} GiB ({n_f} frames of {nrows} x {ncols} tiles of {th} x {tw} pixels): "
                         f"lower scale (now {scale}) or show fewer or shorter videos")
    canvas = np.full((n_f, nrows * (th + band + pad) + pad, ncols * (tw + pad) + pad, 3), 255, np.uint8)
    for k, v in enumerate(vids):
        img = np.clip((v - vmin) / (vmax - vmin), 0, 1)
        img = (img * 255 + 0.5).astype(np.uint8).transpose(0, 2, 3, 1)  # [F, H, W, C]
        if img.shape[-1] == 1:
            img = np.repeat(img, 3, axis=-1)
        img = img.repeat(scale, axis=1).repeat(scale, axis=2)
        img = np.concatenate([img, np.repeat(img[-1:], n_f - img.shape[0], axis=0)])  # hold the last frame
        r, c = divmod(k, ncols)
        y0, x0 = pad + r * (th + band + pad) + band, pad + c * (tw + pad)
        canvas[:, y0:y0 + img.shape[1], x0:x0 + img.shape[2]] = img
    if labels is not None:
        _draw_labels(canvas, labels, ncols, th, tw, band, pad)
    return canvas


def _check_labels(labels, n: int):
    """``labels`` as a list of ``n`` captions (or ``None``); a string or another count is refused."""
    if labels is None:
        return None
    from ..checks import InputTypeError

    if isinstance(labels, (str, bytes)):
        raise InputTypeError(f"labels must be a list of captions, one per video, got the string {labels!r}: pass [{labels!r}] for one video")
    if isinstance(labels, (set, frozenset, Mapping)):  # no order (a set), or keys mistaken for captions (a dict)
        raise InputTypeError(f"labels must be a list of captions in the videos' order, got a {type(labels).__name__}: pass a list")
    try:
        labels = list(labels)
    except TypeError:
        raise InputTypeError(f"labels must be a list of captions, one per video, got {type(labels).__name__}") from None
    if len(labels) != n:
        raise ValueError(f"got {len(labels)} labels for {n} videos: give one label per video (or labels=None)")
    for i, lab in enumerate(labels):
        if "\n" in str(lab) or "\r" in str(lab):
            raise ValueError(f"label {i} ({str(lab)!r}) has a line break, but a caption is one line above its tile: "
                             f"pass {' '.join(str(lab).split())!r}")
    return labels


def _label_font():
    """DejaVu Sans (shipped with matplotlib: it draws X̂ and →) at :data:`_LABEL_PT`; PIL's default font if absent."""
    from PIL import ImageFont

    try:
        from matplotlib import font_manager

        return ImageFont.truetype(font_manager.findfont("DejaVu Sans", fallback_to_default=False), _LABEL_PT)
    except (ImportError, OSError, ValueError):
        return ImageFont.load_default()


def _draw_labels(canvas: np.ndarray, labels, ncols: int, th: int, tw: int, band: int, pad: int) -> None:
    from PIL import Image, ImageDraw

    strip = Image.fromarray(canvas[0])
    draw = ImageDraw.Draw(strip)
    font = _label_font()
    for k, lab in enumerate(labels):
        r, c = divmod(k, ncols)
        text = str(lab)
        while len(text) > 1 and draw.textlength(text, font=font) > tw:
            text = text[:-2] + "…"
        draw.text((pad + c * (tw + pad), pad + r * (th + band + pad)), text, fill=(0, 0, 0), font=font)
    labelled = np.asarray(strip)
    mask = np.zeros(canvas.shape[1:3], bool)
    for k in range(len(labels)):
        r, c = divmod(k, ncols)
        y0, x0 = pad + r * (th + band + pad), pad + c * (tw + pad)
        mask[y0:y0 + band, x0:x0 + tw] = True
    canvas[:, mask] = labelled[mask]


def check_fps(fps: float) -> float:
    """``fps`` as a float > 0 (frames per second of an animation or export), else a clear error."""
    from ..checks import check_number

    return check_number("fps", fps, lo=0, lo_open=True, fix="(frames per second, e.g. 6)")


_GIF_MAX_MS = 655350  # a GIF frame delay is 16 bits of 10 ms


def gif_duration(fps: float) -> int:
    """Milliseconds per GIF frame for ``fps`` (at least 20 ms: GIF players show faster frames at 20 ms anyway)."""
    ms = 1000 / fps  # inf for a subnormal fps: checked before round(), which cannot take it
    if not math.isfinite(ms) or round(ms) > _GIF_MAX_MS:
        raise ValueError(f"fps = {fps:g} is too slow for a GIF (a frame shows at most {_GIF_MAX_MS / 1000:g} s): "
                         f"use fps >= {math.ceil(1e7 / _GIF_MAX_MS) / 1e4:g}")
    return max(20, round(ms))


def _out_path(path, suffix: str, other: str) -> Path:
    """``path`` checked before any work: a file path ending in ``suffix`` whose folder can be made (not a folder itself)."""
    from .._util import check_output_path
    from ..checks import InputTypeError

    if not isinstance(path, (str, os.PathLike)):
        raise InputTypeError(f"path must be a file path (str or pathlib.Path) ending in {suffix}, got {type(path).__name__}")
    path = Path(path).expanduser()  # "~/slides/a.gif" is the home folder's, not a folder named "~" here
    if path.suffix.lower() != suffix:
        writer = "save_gif" if suffix == ".gif" else "save_mp4"
        raise ValueError(f"{writer} writes {suffix} files, got {path.name!r}: use {other}")
    if path.is_dir():
        raise ValueError(f"path {path} is a folder: give a file path ending in {suffix}, e.g. {path / ('grid' + suffix)}")
    check_output_path(path, option="path")
    return path


def gif_bytes(videos, labels: Sequence[str] | None = None, *, fps: float = 6.0, **tile_kwargs) -> bytes:
    """An animated, looping GIF of :func:`tile_frames` (Pillow, lossless palette for these few colours).

    GIF frame delays are whole 10 ms steps of at least 20 ms (players show faster frames at 20 ms), so
    ``fps`` above 50 plays at 50; ``fps`` below 0.0016 (a frame longer than 655 s) is refused.
    """
    from PIL import Image

    fps = check_fps(fps)
    ms = gif_duration(fps)  # a bad fps fails before the frames are tiled
    frames = tile_frames(videos, labels, **tile_kwargs)
    same = np.all(frames[1:] == frames[:-1], axis=(1, 2, 3))  # Pillow merges identical frames in a row, adding their delays
    run = max((sum(1 for _ in g) for still, g in itertools.groupby(same) if still), default=0) + 1
    if run > 1 and run * ms > _GIF_MAX_MS:  # its 16-bit delay field would overflow inside Pillow
        raise ValueError(f"at fps = {fps:g}, {run} identical frames in a row would show for {run * ms / 1000:g} s, longer than a GIF "
                         f"frame can ({_GIF_MAX_MS / 1000:g} s): use fps >= {math.ceil(run * 1e7 / _GIF_MAX_MS) / 1e4:g}")
    images = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=ms,
                   loop=0, disposal=1, optimize=False)
    return buf.getvalue()


def save_gif(videos, path: str | os.PathLike, labels: Sequence[str] | None = None, *, fps: float = 6.0, **tile_kwargs) -> Path:
    """Write :func:`gif_bytes` to ``path`` (for slides); returns the path."""
    from .._util import atomic_write

    path = _out_path(path, ".gif", "save_mp4 for .mp4")
    data = gif_bytes(videos, labels, fps=fps, **tile_kwargs)
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def save_mp4(videos, path: str | os.PathLike, labels: Sequence[str] | None = None, *, fps: float = 6.0, **tile_kwargs) -> Path:
    """Write the grid as an H.264 MP4 (PyAV, from the ``models`` extra; OpenCV's ``mp4v`` when PyAV is absent)."""
    from .._util import atomic_write

    from fractions import Fraction

    path = _out_path(path, ".mp4", "save_gif for .gif")
    fps = check_fps(fps)
    from ..io import MP4_MAX_FPS, MP4_MAX_SIDE

    if fps > MP4_MAX_FPS:
        raise ValueError(f"fps = {fps:g} is too fast for an MP4 written here (players and decoders drop such streams): use fps <= {MP4_MAX_FPS}")
    if Fraction(fps).limit_denominator(1000) <= 0:  # the stream's rate: 0 would silently become the encoder's default
        raise ValueError(f"fps = {fps:g} is too slow for an MP4 (its frame rate is a fraction with denominator <= 1000): use fps >= 0.001")
    frames = tile_frames(videos, labels, **tile_kwargs)
    frames = np.pad(frames, ((0, 0), (0, frames.shape[1] % 2), (0, frames.shape[2] % 2), (0, 0)), constant_values=255)
    if max(frames.shape[1:3]) > MP4_MAX_SIDE:
        raise ValueError(f"the grid is {frames.shape[1]}x{frames.shape[2]} px, larger than H.264 encodes (at most {MP4_MAX_SIDE} px "
                         "a side): pass fewer videos, ncols= for more rows, a smaller scale=, or save a GIF")
    atomic_write(path, lambda tmp: _write_mp4(tmp, frames, fps, path))
    return path


def _write_mp4(tmp: Path, frames: np.ndarray, fps: float, path: Path) -> None:
    try:
        import av
    except ImportError:
        av = None
    if av is not None:
        from fractions import Fraction

        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4",
                                          rate=Fraction(fps).limit_denominator(1000))
            stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
            for f in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
            container.mux(stream.encode())
    else:
        import cv2

        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frames.shape[2], frames.shape[1]))
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV could not open an MP4 writer for {path}: install the models extra (PyAV)")
        for f in frames:
            writer.write(f[..., ::-1])
        writer.release()


def play(videos, labels: Sequence[str] | None = None, *, fps: float = 6.0, title: str | None = None, **tile_kwargs):
    """An inline, looping animation of one video or a labelled grid (``IPython.display.HTML``; returned, not displayed).

    The GIF is embedded as a data URI, so the notebook stays self-contained; ``title`` is shown
    above it. Use ``display(play(...))`` inside a loop or function, or make it a cell's last value.
    """
    import html

    from IPython.display import HTML

    if title is not None and not isinstance(title, str):
        from ..checks import InputTypeError

        raise InputTypeError(f"title must be a string (or None), got {type(title).__name__}: pass str(title)")
    data = base64.b64encode(gif_bytes(videos, labels, fps=fps, **tile_kwargs)).decode("ascii")
    head = f"<div style='font-weight:600;margin:2px 0'>{html.escape(title)}</div>" if title else ""
    return HTML(f"<div class='cilnb-video'>{head}<img src='data:image/gif;base64,{data}' "
                f"style='image-rendering:pixelated' alt='{html.escape(title or 'video')}'/></div>")

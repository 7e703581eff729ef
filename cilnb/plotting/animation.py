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
import os
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["tile_frames", "gif_bytes", "save_gif", "save_mp4", "play"]

_LABEL_H = 14  # pixels of the caption band above each tile when labels are given
_LABEL_PT = 10  # caption font size (DejaVu Sans from matplotlib, which has X̂ and →; PIL's bitmap font does not)


def _as_videos(videos) -> list[np.ndarray]:
    """A list of float arrays ``[F, C, H, W]`` from a tensor/array ``[F, C, H, W]``/``[N, F, C, H, W]`` or a list."""
    import torch

    def arr(v):
        return v.detach().float().cpu().numpy() if torch.is_tensor(v) else np.asarray(v, dtype=np.float32)

    if torch.is_tensor(videos) or isinstance(videos, np.ndarray):
        a = arr(videos)
        if a.ndim == 4:
            out = [a]
        elif a.ndim == 5:
            out = list(a)
        else:
            raise ValueError(f"videos must be [F, C, H, W] or [N, F, C, H, W], got shape {a.shape}")
    elif isinstance(videos, Sequence) and len(videos) > 0:
        out = [arr(v) for v in videos]
    else:
        raise ValueError("videos must be a tensor/array [F, C, H, W] or [N, F, C, H, W], or a non-empty list of [F, C, H, W]")
    for i, v in enumerate(out):
        if v.ndim != 4 or v.shape[1] not in (1, 3):
            raise ValueError(f"video {i} must be [F, C, H, W] with C in (1, 3), got shape {v.shape}")
        if not np.isfinite(v).all():
            raise ValueError(f"video {i} holds NaN or inf values: nothing sensible can be shown; check the model's output")
    return out


def tile_frames(videos, labels: Sequence[str] | None = None, *, ncols: int | None = None, scale: int | None = None,
                vmin: float = -1.0, vmax: float = 1.0, pad: int = 2) -> np.ndarray:
    """The frames of a labelled grid of videos as ``uint8 [F, H', W', 3]`` (shorter videos hold their last frame).

    ``scale`` enlarges each pixel (nearest neighbour; default: tiles at least 96 pixels high), so
    32x32 toy videos stay crisp. ``labels`` (one per video) are drawn above the tiles.
    """
    vids = _as_videos(videos)
    if not vmax > vmin:
        raise ValueError(f"vmax must be greater than vmin, got vmin={vmin}, vmax={vmax}")
    if labels is not None and len(labels) != len(vids):
        raise ValueError(f"got {len(labels)} labels for {len(vids)} videos")
    n = len(vids)
    ncols = n if ncols is None else int(ncols)
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    h = max(v.shape[2] for v in vids)
    w = max(v.shape[3] for v in vids)
    scale = max(1, -(-96 // h)) if scale is None else int(scale)
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    th, tw = h * scale, w * scale
    band = _LABEL_H if labels is not None else 0
    nrows = -(-n // ncols)
    n_f = max(v.shape[0] for v in vids)
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


def _check_fps(fps: float) -> float:
    fps = float(fps)
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps}")
    return fps


def gif_bytes(videos, labels: Sequence[str] | None = None, *, fps: float = 6.0, **tile_kwargs) -> bytes:
    """An animated, looping GIF of :func:`tile_frames` (Pillow, lossless palette for these few colours)."""
    from PIL import Image

    fps = _check_fps(fps)
    frames = tile_frames(videos, labels, **tile_kwargs)
    images = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=max(20, round(1000 / fps)),
                   loop=0, disposal=1, optimize=False)
    return buf.getvalue()


def save_gif(videos, path: str | os.PathLike, labels: Sequence[str] | None = None, *, fps: float = 6.0, **tile_kwargs) -> Path:
    """Write :func:`gif_bytes` to ``path`` (for slides); returns the path."""
    from .._util import atomic_write

    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise ValueError(f"save_gif writes .gif files, got {path.name!r}: use save_mp4 for .mp4")
    data = gif_bytes(videos, labels, fps=fps, **tile_kwargs)
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def save_mp4(videos, path: str | os.PathLike, labels: Sequence[str] | None = None, *, fps: float = 6.0, **tile_kwargs) -> Path:
    """Write the grid as an H.264 MP4 (PyAV, from the ``models`` extra; OpenCV's ``mp4v`` when PyAV is absent)."""
    from .._util import atomic_write

    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise ValueError(f"save_mp4 writes .mp4 files, got {path.name!r}: use save_gif for .gif")
    fps = _check_fps(fps)
    frames = tile_frames(videos, labels, **tile_kwargs)
    frames = np.pad(frames, ((0, 0), (0, frames.shape[1] % 2), (0, frames.shape[2] % 2), (0, 0)), constant_values=255)
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

    data = base64.b64encode(gif_bytes(videos, labels, fps=fps, **tile_kwargs)).decode("ascii")
    head = f"<div style='font-weight:600;margin:2px 0'>{html.escape(title)}</div>" if title else ""
    return HTML(f"<div class='cilnb-video'>{head}<img src='data:image/gif;base64,{data}' "
                f"style='image-rendering:pixelated' alt='{html.escape(title or 'video')}'/></div>")

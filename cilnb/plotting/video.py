"""Frames of videos in a grid: probe strips (Fig. 2), generated videos (Fig. 3), TimeNoise views."""
from __future__ import annotations

from collections.abc import Mapping

__all__ = ["video_grid"]

_MAX_PIXELS = 2**28  # 268 megapixels (1 GiB of RGBA): far beyond any grid worth drawing


def video_grid(rows, labels=None, *, col_labels=None, vmin: float = -1.0, vmax: float = 1.0, cell: float = 1.0, title: str | None = None):
    """A grid of frames: one row per video ``[F, C, H, W]`` (C = 1 gray or 3 RGB), one column per frame.

    ``rows`` is a sequence (or a ``[R, F, C, H, W]`` tensor); values are shown on ``[vmin, vmax]``
    (clipped outside it). ``labels``: one per row; ``col_labels``: one per frame column.
    Returns the figure. Used for probe strips (Fig. 2) and generated videos (Fig. 3).
    """
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    from ..checks import InputTypeError, check_number
    from .animation import check_shown_range, check_span, check_uint8, layout_hint

    if (torch.is_tensor(rows) or isinstance(rows, np.ndarray)) and rows.ndim == 4:  # its frames were read as rows [C, H, W]
        raise ValueError(f"rows is one video [F, C, H, W] (shape {tuple(rows.shape)}), but video_grid takes a list of videos or "
                         "[R, F, C, H, W]: pass [video] (or video[None]) for one row")
    if title is not None and not isinstance(title, str):  # matplotlib drew str(title), e.g. "['a']"
        raise InputTypeError(f"title must be a string (or None), got {type(title).__name__}: pass str(title)")
    raw = _as_rows(rows)
    rows = [_as_row(i, r) for i, r in enumerate(raw)]
    if not rows:
        raise ValueError("video_grid needs at least one video")
    for i, r in enumerate(rows):
        if r.ndim != 4 or r.shape[1] not in (1, 3):
            raise ValueError(f"each video must be [F, C, H, W] with C in (1, 3), got {tuple(r.shape)}{layout_hint(tuple(r.shape))}")
        if 0 in r.shape:
            raise ValueError(f"video {i} is empty (shape {tuple(r.shape)}): each video needs at least one frame of at least 1 x 1 pixels")
        if not bool(torch.isfinite(r).all()):
            raise ValueError(f"video {i} holds NaN or inf values: nothing sensible can be shown; check where it came from")
    vmin = check_number("vmin", vmin, fix="(the value shown black)")
    vmax = check_number("vmax", vmax, fix="(the value shown white)")
    if not vmax > vmin:
        raise ValueError(f"vmax must be greater than vmin, got vmin={vmin}, vmax={vmax}")
    check_span(vmin, vmax)
    check_uint8(raw, vmin, vmax)  # dark 0..255 pixels pass the range check below and show saturated
    check_shown_range([r.numpy() for r in rows], vmin, vmax)  # 0..255 pixels on [-1, 1] would show blank frames
    cell = check_number("cell", cell, lo=0, lo_open=True, fix="(inches per frame)")
    n_f = max(r.shape[0] for r in rows)
    dpi = max(float(plt.rcParams["figure.dpi"]), float(plt.rcParams["savefig.dpi"]) if plt.rcParams["savefig.dpi"] != "figure" else 0.0)
    if cell * dpi < 1:  # frames under a pixel: matplotlib failed when saving ("cannot write empty image"), or drew nothing readable
        raise ValueError(f"cell = {cell:g} inches per frame is under one pixel at {dpi:g} dpi: pass e.g. cell=1 (the default)")
    px = (cell * n_f * dpi) * (cell * len(rows) * dpi)
    if px > _MAX_PIXELS:  # matplotlib would fail when drawing or saving it (std::bad_alloc, "Image size ... too large")
        raise ValueError(f"the grid would be {cell * n_f:g} x {cell * len(rows):g} inches ({px / 1e6:.0f} megapixels at {dpi:g} dpi): "
                         f"lower cell (now {cell:g} inches per frame) or show fewer or shorter videos")
    for what, labs, n, per in (("labels", labels, len(rows), "row"), ("col_labels", col_labels, n_f, "frame column")):
        if labs is None:
            continue
        if isinstance(labs, (str, bytes)):
            raise InputTypeError(f"{what} must be a list of captions, one per {per}, got the string {labs!r}: pass [{labs!r}]")
        if not hasattr(labs, "__len__") or not hasattr(labs, "__getitem__") or isinstance(labs, Mapping):
            raise InputTypeError(f"{what} must be a list of captions, one per {per}, got {type(labs).__name__}")
        if len(labs) != n:
            raise ValueError(f"got {len(labs)} {what} for {n} {per}s: give one per {per} (or {what}=None)")
    fig, axes = plt.subplots(len(rows), n_f, figsize=(cell * n_f, cell * len(rows)), squeeze=False)
    for i, r in enumerate(rows):
        for j in range(n_f):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            if j >= r.shape[0]:
                ax.axis("off")
                continue
            img = r[j]
            if img.shape[0] == 1:
                ax.imshow(img[0].numpy(), cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
            else:
                ax.imshow(np.clip((img.permute(1, 2, 0).numpy() - vmin) / (vmax - vmin), 0, 1), interpolation="nearest")
        if labels is not None:
            axes[i, 0].set_ylabel(labels[i], rotation=0, ha="right", va="center", fontsize=9)
    if col_labels is not None:
        for j, lab in enumerate(col_labels[:n_f]):
            axes[0, j].set_title(lab, fontsize=9)
    if title:
        fig.suptitle(title)
    fig.subplots_adjust(wspace=0.04, hspace=0.04)
    return fig


def _as_rows(rows) -> list:
    """``rows`` as a list (a sequence, an iterable or a ``[R, ...]`` tensor); ``None`` and strings are refused."""
    from ..checks import InputTypeError

    if rows is None or isinstance(rows, (str, bytes)):
        raise InputTypeError(f"rows must be a list of videos [F, C, H, W] or a tensor [R, F, C, H, W], got {rows!r}")
    try:
        return list(rows)
    except TypeError:
        raise InputTypeError(f"rows must be a list of videos [F, C, H, W] or a tensor [R, F, C, H, W], got {type(rows).__name__}") from None


def _as_row(i: int, r):
    """Row ``i`` as a float32 CPU tensor (tensors are converted as before; arrays and lists through ``torch.as_tensor``)."""
    import numpy as np
    import torch

    from ..checks import InputTypeError, check_not_meta

    check_not_meta(f"video {i}", r)
    if torch.is_tensor(r) and r.dtype == torch.bool or isinstance(r, np.ndarray) and r.dtype == np.bool_:
        raise InputTypeError(f"video {i} holds booleans (a mask?), not pixel values: pass v.float() * 2 - 1 for [-1, 1] pixels")
    from .animation import check_cast

    if torch.is_tensor(r):
        if r.is_complex():
            raise InputTypeError(f"video {i} has the complex dtype {r.dtype}; pass real pixel values")
        out = r.detach().float().cpu()
    else:
        try:
            out = torch.as_tensor(r, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InputTypeError(f"video {i} must be a tensor or array [F, C, H, W] of numbers, got {type(r).__name__} ({exc})") from None
    check_cast(f"video {i}", r, out.numpy())  # float64 1e300 became inf: said as a value beyond float32, not as NaN
    return out

"""Input checks and frame preparation shared by the metrics (layout ``[B, F, C, H, W]``)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .. import checks
from ..checks import as_tensor, check_value_range  # shared with the models' inputs (cilnb.checks)


def check_size(size, name: str = "resize") -> tuple[int, int] | None:
    """``None`` or a pair of positive ints ``(H, W)``."""
    if size is None:
        return None
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in size)):
        raise ValueError(f"{name} must be None or (H, W) with positive ints, e.g. (450, 800); got {size!r}")
    return int(size[0]), int(size[1])


def check_frames_fit(size, channels: int, n_fields: int, what: str,
                     fix: str = "pass a frame size that fits, e.g. resize=(450, 800) (the SVD protocol's) or None (the videos' own)") -> None:
    """Refuse, before any frame is resized, a ``resize=(H, W)`` whose frames alone do not fit in this machine's memory
    (one pair of float32 frames at ``size`` and ``n_fields`` float32 flow fields ``[2, H, W]``): torch's allocator failed
    deep inside with the byte count. ``size=None`` (native size) is always taken."""
    if size is None:
        return
    px = float(size[0]) * float(size[1])
    checks.check_fits_in_memory(4.0 * px * (2 * max(int(channels), 3) + 2 * max(int(n_fields), 1)), what, fix)


def check_metric_range(value_range) -> tuple[float, float]:
    """``value_range`` as ``(lo, hi)``: a pair of real numbers (not strings or bools, which ``float()`` would read), ``lo < hi``."""
    if isinstance(value_range, (str, bytes)) or not hasattr(value_range, "__len__") or len(value_range) != 2:
        raise checks.InputTypeError(f"value_range must be a pair (lo, hi) of numbers such as (0, 1) or (-1, 1), got {value_range!r}")
    for i, v in enumerate(value_range):
        checks.check_number(f"value_range[{i}]", v, fix="(value_range is (lo, hi), e.g. (0, 1) or (-1, 1))")
    return check_value_range(value_range)


def check_images(x, name: str, value_range, **kw) -> torch.Tensor:
    """:func:`cilnb.checks.check_images` after a strict check of ``value_range`` (:func:`check_metric_range`)."""
    check_metric_range(value_range)
    checks.check_not_meta(name, x)
    if isinstance(x, torch.Tensor):  # checked detached (no autograd warning on its min/max), returned as given
        checks.check_images(x.detach(), name, value_range, **kw)
        return x
    return checks.check_images(x, name, value_range, **kw)


def check_videos(videos, value_range, name: str = "videos", min_frames: int = 2) -> torch.Tensor:
    """Validate a video batch ``[B, F, C, H, W]`` with ``C in (1, 3)`` and ``F >= min_frames``."""
    v = check_images(videos, name, value_range, rank=5)
    if v.shape[1] < min_frames:
        raise ValueError(f"{name} has {v.shape[1]} frame(s); motion needs at least {min_frames} frames per video")
    return v


def to_unit(x: torch.Tensor, value_range, device=None) -> torch.Tensor:
    """float32 copy of ``x`` mapped to ``[0, 1]`` (uint8: ``/255``; float: ``(x - lo) / (hi - lo)``), clamped."""
    x = x.to(device) if device is not None else x
    if x.dtype == torch.uint8:
        return x.float() / 255.0
    lo, hi = check_value_range(value_range)
    return ((x.float() - lo) / (hi - lo)).clamp_(0.0, 1.0)


def resize_frames(x: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
    """Bilinear resize of ``[N, C, H, W]`` to ``size`` (antialiased, ``align_corners=False``); ``None``: unchanged."""
    if size is None or tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Repeat a grayscale ``[N, 1, H, W]`` batch to three channels (RGB input is returned as is)."""
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def to_gray(x: torch.Tensor) -> torch.Tensor:
    """Luma ``[N, H, W]`` of ``[N, C, H, W]``: ``0.299 R + 0.587 G + 0.114 B`` (OpenCV's RGB2GRAY) or the one channel."""
    if x.shape[1] == 1:
        return x[:, 0]
    w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device)
    return torch.einsum("nchw,c->nhw", x, w)


def as_scores(x, name: str) -> torch.Tensor:
    """1-D float64 tensor of per-video scores from a tensor, array, list or a result with ``.score``."""
    if hasattr(x, "score"):
        x = x.score
    if isinstance(x, (list, tuple)):
        try:
            kind = np.asarray(x).dtype.kind  # a list of bools is not a list of scores (float() reads True as 1)
            x = torch.tensor(x, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise checks.InputTypeError(f"{name} must be numbers (one score per video), got {x!r} ({exc})") from None
        if kind == "b":
            raise checks.InputTypeError(f"{name} must be numbers (one score per video), got booleans")
    if isinstance(x, np.ndarray) and x.dtype.kind not in "biufc":
        raise checks.InputTypeError(f"{name} must hold numbers (one score per video), got a numpy array of dtype {x.dtype}")
    if not isinstance(x, (torch.Tensor, np.ndarray)):
        raise checks.InputTypeError(f"{name} must be one score per video: a 1-D tensor, array or list, or the result of "
                                    f"motion_score / pia_motion_score; got {type(x).__name__}")
    x = as_tensor(x, name)
    if x.dim() != 1:
        raise ValueError(f"{name} must be 1-D (one score per video), got shape {tuple(x.shape)}")
    if not (x.is_floating_point() or x.dtype in (torch.int32, torch.int64)):
        raise ValueError(f"{name} must hold numbers, got dtype {x.dtype}")
    x = x.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf")
    return x


def frame_indices(n_frames: int, stride: int) -> list[int]:
    """Frames kept when keeping every ``stride``-th frame from the first."""
    return list(range(0, n_frames, max(1, int(stride))))


def pair_chunks(n_videos: int, frames: Sequence[int], batch_size: int):
    """Adjacent pairs ``(video, frames[p], frames[p + 1])`` in video-major order, in chunks of ``batch_size``.

    Yields ``(start, b, f1, f2)`` with ``start`` the flat index of the first pair of the chunk.
    """
    P = len(frames) - 1
    total = n_videos * P
    fr = torch.as_tensor(list(frames), dtype=torch.long)
    for start in range(0, total, batch_size):
        flat = torch.arange(start, min(start + batch_size, total))
        b, p = flat // P, flat % P
        yield start, b, fr[p], fr[p + 1]

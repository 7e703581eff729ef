"""Synthetic videos with known motion, to validate the motion metrics (used by the tests and the notebook).

The texture is an analytic sum of random plane waves (wavelengths 8-32 px by default), evaluated at
exactly moved coordinates, so sub-pixel motion needs no interpolation and the true flow is known in
closed form. Shown in notebooks/motion_metrics.ipynb.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .. import checks
from . import videos as _videos

__all__ = ["texture", "synthetic_translation_video", "synthetic_rotation_video", "synthetic_motion_set",
           "true_per_pair", "true_motion_score"]


def _waves(rng: np.random.Generator, n: int, wavelengths: tuple[float, float]):
    lam = rng.uniform(*wavelengths, size=n)
    ang = rng.uniform(0, 2 * np.pi, size=n)
    k = np.stack([np.cos(ang), np.sin(ang)], 1) * (2 * np.pi / lam)[:, None]
    return k, rng.uniform(0, 2 * np.pi, size=n), rng.uniform(0.5, 1.0, size=n)


def texture(x: np.ndarray, y: np.ndarray, *, channels: int = 3, seed: int = 0, n_waves: int = 32,
            wavelengths: tuple[float, float] = (8.0, 32.0)) -> np.ndarray:
    """Random smooth texture ``[C, *x.shape]`` in [0, 1] at (sub-pixel) coordinates ``x``, ``y``.

    Each channel: ``0.5 + s / (6 std(s))`` clipped to [0, 1], ``s`` a sum of ``n_waves`` plane waves.
    """
    channels = _channels(channels)
    seed = checks.check_int("seed", seed, min=0, fix="(the texture's numpy seed; None is refused so that videos are reproducible)")
    n_waves = checks.check_int("n_waves", n_waves, min=1, fix="(plane waves summed per channel)")
    # the waves' parameters are drawn at once (numpy's bare MemoryError for a mistyped count)
    checks.check_fits_in_memory(6 * 8.0 * n_waves, f"texture(n_waves={n_waves})", "pass a few dozen waves, e.g. n_waves=32 (the default)")
    x, y = _coords("x", x), _coords("y", y)
    if x.shape != y.shape:
        raise ValueError(f"x {x.shape} and y {y.shape} must have the same shape (the coordinates of each sample point)")
    _pair("wavelengths", wavelengths, positive=True)
    if wavelengths[0] > wavelengths[1]:
        raise ValueError(f"wavelengths must be (shortest, longest) in pixels, got {wavelengths!r}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(channels):
        k, phase, amp = _waves(rng, n_waves, wavelengths)
        s = sum(a * np.cos(kk[0] * x + kk[1] * y + ph) for kk, ph, a in zip(k, phase, amp))
        std = math.sqrt(float((amp**2).sum()) / 2)
        out.append(np.clip(0.5 + s / (6 * std), 0.0, 1.0))
    return np.stack(out).astype(np.float32)


def _channels(channels) -> int:
    """``channels`` as an int, 1 or 3 (not ``True``, ``"3"`` or ``3.0``)."""
    c = checks.check_int("channels", channels, fix="(1 for grayscale or 3 for RGB)")
    if c not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {c}")
    return c


def _coords(name: str, value):
    """Sample coordinates checked: real and finite (a clear error for ``None``, strings, NaN). Arrays and tensors are
    returned as given, anything else (a nested list) as a float64 array."""
    what = f"{name} must be an array of pixel coordinates (real numbers)"
    if value is None or isinstance(value, (str, bytes)):
        raise checks.InputTypeError(f"{what}, got {value!r}")
    if (isinstance(value, torch.Tensor) and (value.is_complex() or value.dtype == torch.bool)) or (
            isinstance(value, np.ndarray) and value.dtype.kind not in "iuf"):
        raise checks.InputTypeError(f"{what}, got dtype {value.dtype}")
    try:
        arr = value.detach().cpu().double().numpy() if isinstance(value, torch.Tensor) else np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise checks.InputTypeError(f"{what}, got {type(value).__name__} ({exc})") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds {int((~np.isfinite(arr)).sum())} non-finite coordinate(s) (NaN or inf): pass finite pixel coordinates")
    return value if isinstance(value, (np.ndarray, torch.Tensor)) else arr


def _pair(name: str, value, *, positive: bool = False) -> None:
    """``value`` must be a pair of finite real numbers (each > 0 when ``positive``)."""
    if isinstance(value, torch.Tensor) and value.ndim == 1:
        value = value.detach().cpu().tolist()  # a tensor of two numbers is a pair
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
        raise checks.InputTypeError(f"{name} must be a pair of numbers, got {value!r}")
    for i, v in enumerate(value):
        checks.check_number(f"{name}[{i}]", v, lo=0 if positive else None, lo_open=positive)


def _check(n_frames, size, channels, seed):
    checks.check_int("seed", seed, min=0, fix="(the texture's numpy seed; None is refused so that videos are reproducible)")
    checks.check_int("n_frames", n_frames, min=1, fix="(frames per video)")
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size)):
        raise checks.InputTypeError(f"size must be (H, W) with positive ints, e.g. (128, 128), got {size!r}")
    if min(size) < 1:
        raise ValueError(f"size must be (H, W) with positive ints, got {size!r}")
    _channels(channels)
    # the frames (float32) and the flow (float32, 2 fields per pair) alone, before numpy's bare MemoryError (or hours of
    # evaluating a texture per frame) for a mistyped size or frame count
    px = float(size[0]) * float(size[1])
    checks.check_fits_in_memory(4.0 * px * int(n_frames) * (int(channels) + 2) + 3 * 8.0 * px,
                                f"a synthetic video of {int(n_frames)} frames of {int(size[0])}x{int(size[1])} pixels",
                                "pass a smaller size or fewer frames, e.g. n_frames=8, size=(128, 128) (the defaults)")


def synthetic_translation_video(n_frames: int = 8, size: tuple[int, int] = (128, 128),
                                velocity: tuple[float, float] = (0.0, 1.0), *, channels: int = 3, seed: int = 0,
                                **texture_kw) -> tuple[torch.Tensor, torch.Tensor]:
    """A texture translated by ``velocity = (dy, dx)`` pixels per frame (any sub-pixel amount).

    Returns ``(video [F, C, H, W] float32 in [0, 1], flow [F-1, 2, H, W])`` with the exact forward
    flow ``(u, v) = (dx, dy)`` everywhere. ``velocity=(0, 0)`` is a static video.
    """
    _check(n_frames, size, channels, seed)
    _pair("velocity", velocity)
    dy, dx = float(velocity[0]), float(velocity[1])
    ys, xs = np.meshgrid(np.arange(size[0], dtype=np.float64), np.arange(size[1], dtype=np.float64), indexing="ij")
    frames = [texture(xs - t * dx, ys - t * dy, channels=channels, seed=seed, **texture_kw) for t in range(n_frames)]
    flow = torch.empty(max(n_frames - 1, 0), 2, *size)
    flow[:, 0], flow[:, 1] = dx, dy
    return torch.from_numpy(np.stack(frames)), flow


def synthetic_rotation_video(n_frames: int = 8, size: tuple[int, int] = (128, 128), degrees_per_frame: float = 2.0,
                             *, center: tuple[float, float] | None = None, channels: int = 3, seed: int = 0,
                             **texture_kw) -> tuple[torch.Tensor, torch.Tensor]:
    """A texture rotating by ``degrees_per_frame`` (counter-clockwise on screen for > 0) about ``center = (cy, cx)``.

    Returns ``(video [F, C, H, W], flow [F-1, 2, H, W])``; the forward flow at ``p`` is
    ``R(theta)(p - c) - (p - c)``, magnitude ``2 |p - c| sin(theta / 2)``.
    """
    _check(n_frames, size, channels, seed)
    checks.check_number("degrees_per_frame", degrees_per_frame)
    if center is not None:
        _pair("center", center)
    cy, cx = (float(c) for c in center) if center is not None else ((size[0] - 1) / 2, (size[1] - 1) / 2)
    th = math.radians(float(degrees_per_frame))
    ys, xs = np.meshgrid(np.arange(size[0], dtype=np.float64), np.arange(size[1], dtype=np.float64), indexing="ij")
    rx, ry = xs - cx, ys - cy
    frames = []
    for t in range(n_frames):
        c, s = math.cos(-t * th), math.sin(-t * th)  # frame t shows the texture rotated by t*theta: sample R(-t theta)
        # screen y points down, so a counter-clockwise on-screen rotation is R(-theta) in (x, y) pixel coords
        frames.append(texture(cx + c * rx + s * ry, cy - s * rx + c * ry, channels=channels, seed=seed, **texture_kw))
    # forward flow: p - c -> R_screen(theta)(p - c), R_screen(theta) = [[cos, sin], [-sin, cos]] in (x, y)
    c, s = math.cos(th), math.sin(th)
    u = (c * rx + s * ry) - rx
    v = (-s * rx + c * ry) - ry
    flow = torch.from_numpy(np.stack([u, v]).astype(np.float32))[None].repeat(max(n_frames - 1, 0), 1, 1, 1)
    return torch.from_numpy(np.stack(frames)), flow


def _check_flow(flow, *, exact_rank: bool) -> None:
    layout = "[P, 2, H, W]" if exact_rank else "[..., P, 2, H, W]"
    if not isinstance(flow, torch.Tensor):
        raise checks.InputTypeError(f"flow must be a torch.Tensor {layout} (u, v in pixels), got {type(flow).__name__}")
    checks.check_not_meta("flow", flow)
    if (flow.ndim != 4 if exact_rank else flow.ndim < 4) or flow.shape[-3] != 2:
        raise ValueError(f"flow must be {layout} (u, v in pixels), got shape {tuple(flow.shape)}")
    if flow.dtype == torch.bool or flow.is_complex():
        raise checks.InputTypeError(f"flow must hold real displacements in pixels, got dtype {flow.dtype}")
    checks.check_finite("flow", flow, "a known flow is finite: pass the flow of synthetic_translation_video / synthetic_rotation_video")
    if flow.numel() == 0:
        raise ValueError(f"flow is empty (shape {tuple(flow.shape)}): a video of F frames has F - 1 pairs; pass the flow of a video "
                         "of at least 2 frames")


def true_motion_score(flow: torch.Tensor, reduce: str = "sum") -> float:
    """SVD-protocol score of a known flow ``[P, 2, H, W]`` at its own size (spatial mean magnitude, ``reduce`` over pairs)."""
    if reduce not in ("sum", "mean"):
        raise ValueError(f"reduce must be 'sum' or 'mean', got {reduce!r}")
    _check_flow(flow, exact_rank=True)
    f = flow.double()
    per_pair = torch.hypot(f[:, 0], f[:, 1]).flatten(1).mean(1)
    return float(per_pair.sum() if reduce == "sum" else per_pair.mean())


def synthetic_motion_set(speeds=(0.0, 0.5, 1.0, 2.0, 4.0), rotation_deg: float | None = 3.0, *, n_frames: int = 8,
                         size: tuple[int, int] = (128, 128), direction_deg: float = 30.0, channels: int = 3,
                         seed: int = 0, **texture_kw) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """A batch of known-motion videos: one translation per speed (px/frame, along ``direction_deg``, same
    texture) plus, unless ``rotation_deg`` is None, one rotation. Returns ``(videos [B, F, C, H, W] in
    [0, 1], flows [B, F-1, 2, H, W], labels)``. Shown in notebooks/motion_metrics.ipynb.
    """
    speeds = checks.check_sequence("speeds", speeds, fix="e.g. speeds=(0.0, 1.0, 2.0) (px/frame)")
    for i, sp in enumerate(speeds):
        checks.check_number(f"speeds[{i}]", sp, fix="(px/frame)")
    if rotation_deg is not None:
        checks.check_number("rotation_deg", rotation_deg, fix="(degrees per frame, or None for no rotation)")
    if not speeds and rotation_deg is None:
        raise ValueError("synthetic_motion_set got no speeds and rotation_deg=None: give at least one speed or a rotation")
    _check(n_frames, size, channels, seed)
    a = math.radians(checks.check_number("direction_deg", direction_deg))
    vids, flows, labels = [], [], []
    for sp in speeds:
        v, f = synthetic_translation_video(n_frames, size, (float(sp) * math.sin(a), float(sp) * math.cos(a)),
                                           channels=channels, seed=seed, **texture_kw)
        vids.append(v)
        flows.append(f)
        labels.append("static" if sp == 0 else f"shift {float(sp):g} px/f")
    if rotation_deg is not None:
        v, f = synthetic_rotation_video(n_frames, size, rotation_deg, channels=channels, seed=seed, **texture_kw)
        vids.append(v)
        flows.append(f)
        labels.append(f"rotate {float(rotation_deg):g} deg/f")
    return torch.stack(vids), torch.stack(flows), labels


def true_per_pair(flow: torch.Tensor, resize: tuple[int, int] | None = None) -> torch.Tensor:
    """Spatial mean magnitude per pair (float64 ``[..., P]``) of known flows ``[..., P, 2, H, W]``, optionally
    as measured after resizing the frames to ``resize = (H', W')`` (u scaled by W'/W, v by H'/H)."""
    _check_flow(flow, exact_rank=False)
    _videos.check_size(resize)
    f = flow.double()
    if resize is not None:
        h, w = f.shape[-2:]
        f = f * torch.tensor([resize[1] / w, resize[0] / h], dtype=torch.float64).view(2, 1, 1)
    return torch.hypot(f[..., 0, :, :], f[..., 1, :, :]).flatten(-2).mean(-1)

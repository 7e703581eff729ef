"""Proxies for the user study (Sec. 4.1): conditioning-image alignment and temporal consistency.

The paper judges image alignment and temporal consistency with a user study (10 subjects). Without
one, these are *proxies*, not the paper's measurements: first-frame PSNR/SSIM to the conditional
image (alignment) and the flow-warping error between adjacent frames (temporal consistency).
Shown in notebooks/motion_metrics.ipynb.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .. import checks
from . import videos as _videos
from .flow import FlowEngine
from .motion import iter_flows

__all__ = ["psnr", "ssim", "condition_alignment", "warping_error", "align_psnr"]


def _pair(a, b, value_range, names=("a", "b")):
    x = _videos.check_images(a, names[0], value_range)
    y = _videos.check_images(b, names[1], value_range)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{names[0]} has {x.shape[0]} images but {names[1]} has {y.shape[0]}: batch sizes must match")
    if x.shape[-2:] != y.shape[-2:]:
        raise ValueError(f"{names[0]} is {tuple(x.shape[-2:])} but {names[1]} is {tuple(y.shape[-2:])}: sizes must match")
    x, y = _videos.to_unit(x, value_range).double(), _videos.to_unit(y, value_range).double()
    if x.shape[1] != y.shape[1]:
        x, y = _videos.to_rgb(x), _videos.to_rgb(y)
    return x, y


def psnr(a, b, *, value_range=(0.0, 1.0)) -> torch.Tensor:
    """PSNR in dB ``[N]`` of image batches ``[N, C, H, W]`` (data range 1 after mapping ``value_range`` to [0, 1]).

    Identical images give ``inf``.
    """
    return _psnr(a, b, value_range)


def _psnr(a, b, value_range, names=("a", "b")) -> torch.Tensor:
    x, y = _pair(a, b, value_range, names)
    mse = (x - y).pow(2).flatten(1).mean(1)
    return 10.0 * torch.log10(1.0 / mse)


def align_psnr(videos, images) -> torch.Tensor:
    """Image alignment of sampled videos ``[B]``: PSNR (dB, data range 2) of generated frame 0 to the conditional image.

    ``videos [B, F, C, H, W]`` and ``images [B, C, H, W]`` in ``[-1, 1]``; frame 0 is clamped to
    ``[-1, 1]``, the images are not and must lie in it (up to 0.002 of round-off; others are refused) (a frame 0 holding
    NaN or inf gives NaN); float32; the MSE is floored at ``1e-12`` (identical frames give
    ~126 dB, not ``inf``). The same quantity as :func:`psnr` with ``value_range=(-1, 1)``, but not
    computed by it, on purpose: :func:`psnr` works in float64, returns ``inf`` for identical images and
    refuses images outside the range, so it would change the ``align_psnr`` numbers every stored sweep
    (``results.jsonl``) holds and a resumed sweep would mix the two (``tests/test_metrics_toy_quality.py`` checks both).
    Written into every sweep row by :mod:`cilnb.runs`.
    """
    _check_align(videos, images)
    first = videos[:, 0].float()
    first = first.masked_fill(torch.isinf(first), float("nan"))  # a diverged (inf) frame is NaN like a NaN one, not clamped to +-1
    mse = (first.clamp(-1, 1) - images.float().to(videos.device)).pow(2).mean(dim=(1, 2, 3))
    return 10 * (4.0 / mse.clamp(min=1e-12)).log10()


def _check_align(videos, images) -> None:
    """:func:`align_psnr`'s inputs: float tensors, videos ``[B, F, C, H, W]``, images of frame 0's ``[C, H, W]`` that broadcast
    to its ``[B, C, H, W]`` (one per video, or one for all), finite images (a generated video may hold NaN: its PSNR is NaN, which the sweeps record as missing)."""
    for name, x, layout in (("videos", videos, "[B, F, C, H, W]"), ("images", images, "[B, C, H, W]")):
        if not isinstance(x, torch.Tensor):
            fix = f": pass torch.from_numpy({name})" if isinstance(x, np.ndarray) else ""
            raise checks.InputTypeError(f"{name} must be a torch.Tensor {layout} in [-1, 1], got {type(x).__name__}{fix}")
        checks.check_not_meta(name, x)
        if not x.is_floating_point():
            how = f" (0..255 pixels? use {name}.float() / 127.5 - 1)" if x.dtype == torch.uint8 else ""
            raise checks.InputTypeError(f"{name} has dtype {x.dtype}; align_psnr reads float frames in [-1, 1]{how}")
    if videos.ndim != 5:
        hint = " For one video use videos[None]." if videos.ndim == 4 else ""
        raise ValueError(f"videos must be [B, F, C, H, W], got shape {tuple(videos.shape)} (rank {videos.ndim}).{hint}")
    if videos.shape[1] == 0:
        raise ValueError(f"videos have no frames (shape {tuple(videos.shape)}): align_psnr compares frame 0 with the conditional image")
    if videos.shape[0] == 0:
        raise ValueError(f"videos holds no videos (shape {tuple(videos.shape)}): pass at least one")
    if any(s == 0 for s in videos.shape[2:]):  # the mean over no pixels was NaN
        raise ValueError(f"videos have empty frames (shape {tuple(videos.shape)}): pass frames of at least 1x1 pixels and 1 channel")
    frame0 = tuple(videos[:, 0].shape)
    try:  # one image for all videos broadcasts; a channel or pixel dimension of 1 does not (a 1-channel image "matched" RGB)
        ok = images.ndim >= 3 and tuple(images.shape[-3:]) == frame0[1:] and tuple(torch.broadcast_shapes(tuple(images.shape), frame0)) == frame0
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(f"images {tuple(images.shape)} do not match the videos' frame 0 {frame0}: "
                         "give one conditional image [B, C, H, W] per video, of the videos' channels and size")
    checks.check_finite("images", images)
    first = videos[:, 0]
    first = first[torch.isfinite(first)]  # a generated video may hold NaN (its PSNR is NaN)
    for name, x, what in (("images", images, "conditional images"), ("videos", first, "videos (frame 0 is clamped to [-1, 1])")):
        if x.numel():
            lo, hi = float(x.min()), float(x.max())
            if lo >= 0 and hi > 2:  # [-1, 1] frames never look like this, not even a sampler's overshoot
                raise ValueError(f"{name} values span [{lo:.4g}, {hi:.4g}]; align_psnr reads {what} in [-1, 1]: "
                                 f"it looks like 0..255 pixels, use {name} / 127.5 - 1")
            if name == "images" and (lo < -1.002 or hi > 1.002):  # not clamped: a PSNR to images of another scale (-29 dB)
                raise ValueError(f"images values span [{lo:.4g}, {hi:.4g}] but align_psnr reads conditional images in [-1, 1] "
                                 "(they are not clamped): rescale them to [-1, 1]")


def _gauss(window: int, sigma: float) -> torch.Tensor:
    r = torch.arange(window, dtype=torch.float64) - (window - 1) / 2
    try:
        g = torch.exp(-r**2 / (2 * sigma**2))
        g = g / g.sum()
    except OverflowError:  # sigma**2 beyond float64
        g = torch.full((window,), float("nan"), dtype=torch.float64)
    if not bool(torch.isfinite(g).all()):
        raise ValueError(f"sigma={sigma:g} gives no usable Gaussian window of {window} px (weights underflow or overflow): "
                         "use a sigma of the window's scale, e.g. sigma=1.5 for window=11")
    return g


def ssim(a, b, *, value_range=(0.0, 1.0), window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """SSIM ``[N]`` (Wang et al. 2004) of image batches ``[N, C, H, W]``, float64.

    Gaussian window ``window``/``sigma`` (11/1.5), ``K1 = 0.01``, ``K2 = 0.03``, data range 1, statistics
    over 'valid' windows only (no padding), mean over channels and positions.
    """
    return _ssim(a, b, value_range, window, sigma)


def _ssim(a, b, value_range, window, sigma, names=("a", "b")) -> torch.Tensor:
    window = checks.check_int("window", window, min=1, fix="(side of the Gaussian window in pixels; 11 is the usual)")
    sigma = checks.check_number("sigma", sigma, lo=0, lo_open=True, fix="(std of the Gaussian window in pixels; 1.5 is the usual)")
    x, y = _pair(a, b, value_range, names)
    if min(x.shape[-2:]) < window:
        raise ValueError(f"images of {tuple(x.shape[-2:])} are smaller than the SSIM window {window}")
    n, c = x.shape[:2]
    g = _gauss(window, sigma).to(x.device)
    kx, ky = g.view(1, 1, 1, -1).repeat(c, 1, 1, 1), g.view(1, 1, -1, 1).repeat(c, 1, 1, 1)

    def blur(z):
        return F.conv2d(F.conv2d(z, kx, groups=c), ky, groups=c)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    m = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return m.flatten(1).mean(1)


def condition_alignment(videos, cond_images, *, value_range=(0.0, 1.0), frame: int = 0) -> dict[str, torch.Tensor]:
    """Alignment proxy: PSNR (dB) and SSIM of ``videos[:, frame]`` to the conditional images ``[B, C, H, W]``.

    A proxy for the paper's user-study 'image alignment', not the paper's measurement. Returns
    ``{"psnr": [B], "ssim": [B]}``. Shown in notebooks/motion_metrics.ipynb.
    """
    v = _videos.check_videos(videos, value_range, min_frames=1)
    frame = checks.check_int("frame", frame, fix="(the index of the frame compared with the conditional image)")
    if not -v.shape[1] <= frame < v.shape[1]:
        raise ValueError(f"frame={frame} is out of range for {v.shape[1]} frames")
    first = v[:, frame]
    names = (f"videos[:, {frame}]", "cond_images")  # the errors name the caller's arguments, not psnr's a and b
    return {"psnr": _psnr(first, cond_images, value_range, names),
            "ssim": _ssim(first, cond_images, value_range, 11, 1.5, names)}


def _backward_warp(img: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``img [N, C, H, W]`` at ``p + flow(p)``; returns the warped image and the in-bounds mask."""
    n, _, h, w = img.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=flow.dtype), torch.arange(w, dtype=flow.dtype), indexing="ij")
    sx, sy = xs + flow[:, 0], ys + flow[:, 1]
    grid = torch.stack([2 * sx / max(w - 1, 1) - 1, 2 * sy / max(h - 1, 1) - 1], dim=-1)
    warped = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)
    mask = ((sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)).unsqueeze(1)
    return warped, mask


def warping_error(videos, method: str = "farneback", *, value_range=(0.0, 1.0), resize=None,
                  arch: str = "large", weights=None, flow_model=None, num_flow_updates: int = 20,
                  farneback_params: dict | None = None, batch_size: int | None = None, device="auto",
                  show_progress: bool = False) -> torch.Tensor:
    """Temporal-consistency proxy ``[B]``: mean flow-warping error between adjacent frames (lower: smoother).

    For each pair, the backward flow ``f`` from frame ``i+1`` to frame ``i`` warps frame ``i`` onto
    frame ``i+1`` (``warped(p) = frame_i(p + f(p))``, bilinear); the error is the mean absolute
    difference to frame ``i+1`` over pixels whose source lies inside the frame and over channels, in
    [0, 1] units; the video's value is the mean over pairs. No occlusion mask: a proxy for the paper's
    user-study 'temporal consistency', not its measurement. Shown in notebooks/motion_metrics.ipynb.
    """
    show_progress = checks.check_bool("show_progress", show_progress)
    v = _videos.check_videos(videos, value_range)
    size = _videos.check_size(resize) or tuple(v.shape[-2:])
    _videos.check_frames_fit(size, v.shape[2], 1, f"warping_error(resize={size})")
    engine = FlowEngine(method, arch=arch, weights=weights, flow_model=flow_model, num_flow_updates=num_flow_updates,
                        farneback_params=farneback_params, device=device, batch_size=batch_size)
    B, Fr = v.shape[:2]
    rev = v.flip(1)  # pairs (i+1 -> i) of v are the adjacent pairs of the reversed video
    P = Fr - 1
    errs = torch.empty(B * P, dtype=torch.float64)
    for start, flows in iter_flows(rev, engine, list(range(Fr)), size, value_range, show_progress,
                                    f"warping error ({method})"):
        flat = torch.arange(start, start + len(flows))
        b, p = flat // P, flat % P  # reversed pair p: frame Fr-1-p (target) -> Fr-2-p (source)
        tgt = _videos.resize_frames(_videos.to_unit(v[b, Fr - 1 - p], value_range), size).double()
        src = _videos.resize_frames(_videos.to_unit(v[b, Fr - 2 - p], value_range), size).double()
        warped, mask = _backward_warp(src, flows.double().cpu())
        diff = (warped - tgt).abs().mean(1, keepdim=True) * mask
        errs[start:start + len(flows)] = diff.flatten(1).sum(1) / mask.flatten(1).sum(1).clamp(min=1)
    return errs.reshape(B, P).mean(1)

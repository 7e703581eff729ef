"""Frequency filters the remedies share: FreeInit's spatio-temporal low-pass and ALG's image low-pass.

- :func:`freq_filter`: the FreeInit low-pass mask over ``(F, H, W)`` in fftshift-ed frequency
  coordinates (Wu et al., "FreeInit", ECCV 2024, Sec. 3.3; the same mask as diffusers'
  ``FreeInitMixin._get_free_init_freq_filter``, built without Python loops). ConsistI2V's
  FrameInit uses the same mask.
- :func:`freq_mix`: low frequencies of one video plus high frequencies of another (FreeInit Eq. 7-8).
- :func:`lowpass_image`: ALG's "down_up" filter (Choi et al. 2025, arXiv 2506.08456): bilinear,
  antialiased resize by ``resize_factor`` and back.

Videos are ``[B, F, C, H, W]`` (cilnb's layout); the 3D transforms run over frames and space
(dims 1, 3, 4), never over channels, exactly as FreeInit's run over ``(F, H, W)`` of
``[B, C, F, H, W]``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as Fn

from .. import checks

__all__ = ["FILTERS", "check_cutoff", "check_filter_settings", "freq_filter", "freq_mix", "lowpass_image"]

#: FreeInit's filter families.
FILTERS = ("butterworth", "gaussian", "ideal")
#: the smallest FreeInit cutoff ``d_s``/``d_t`` (below it ``d_s^2`` underflows or ``d_s / d_t`` overflows in float64 and the mask
#: is NaN); far below any use: a cutoff under ``1 / (2 n)`` already keeps only the mean of an ``n``-long axis
MIN_CUTOFF = 1e-100
#: the largest Butterworth order (an int64; larger ones overflowed in torch); from order ~100 on the mask is the ideal filter's
MAX_ORDER = 2**63 - 1
_DIMS = (1, 3, 4)  # F, H, W of [B, F, C, H, W]


def _is_real(v) -> bool:
    """A real number (Python or numpy), not a bool."""
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _is_integer(v) -> bool:
    """An integer (Python or numpy), not a bool."""
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def check_cutoff(name: str, value) -> float:
    """A normalised cutoff frequency must lie in (0, 1]; returns it as float or raises a ValueError saying so
    (an :class:`cilnb.checks.InputTypeError` for a non-number)."""
    msg = f"{name} must lie in (0, 1] (a normalised cutoff frequency; 1 keeps everything up to Nyquist), got {value!r}"
    if not _is_real(value):
        raise checks.InputTypeError(msg)
    if not math.isfinite(float(value)) or not 0.0 < float(value) <= 1.0:
        raise ValueError(msg)
    return float(value)


def check_filter_settings(method: str, order: int, d_s: float, d_t: float) -> None:
    """Raise a ValueError unless ``method`` is one of :data:`FILTERS`, ``order`` a positive int and both cutoffs in (0, 1]."""
    if not isinstance(method, str) or method not in FILTERS:
        raise ValueError(f"method must be one of {FILTERS}, got {method!r}")
    freq_filter(1, 1, 1, method=method, order=order, d_s=d_s, d_t=d_t)


def freq_filter(frames: int, height: int, width: int, *, method: str = "butterworth", order: int = 4,
                d_s: float = 0.25, d_t: float = 0.25, dtype=torch.float64) -> torch.Tensor:
    """FreeInit's low-pass mask ``[F, 1, H, W]`` (broadcasts over ``[B, F, C, H, W]``), in fftshift-ed order.

    With frequencies ``f = 2 k / n - 1`` per axis (``k = 0..n-1`` after ``fftshift``) and the
    squared distance ``D^2 = (d_s / d_t * f_t)^2 + f_h^2 + f_w^2``: Butterworth
    ``1 / (1 + (D^2 / d_s^2)^order)`` (the official code's form: order ``n`` on ``D^2``), Gaussian
    ``exp(-D^2 / (2 d_s^2))``, ideal ``1[D <= 2 d_s]`` (FreeInit, Sec. 3.3 and its official code).
    """
    if method not in FILTERS:
        raise ValueError(f"filter method must be one of {FILTERS}, got {method!r}")
    d_s, d_t = check_cutoff("d_s (spatial cutoff)", d_s), check_cutoff("d_t (temporal cutoff)", d_t)
    for n, v in (("d_s (spatial cutoff)", d_s), ("d_t (temporal cutoff)", d_t)):
        if v < MIN_CUTOFF:
            raise ValueError(f"{n} = {v:g} is too small for float64 (the mask would be NaN): pass a cutoff in [{MIN_CUTOFF:g}, 1], "
                             "e.g. FreeInit's 0.25")
    for n, v in (("order (Butterworth order)", order), ("frames", frames), ("height", height), ("width", width)):
        if not _is_integer(v):
            raise checks.InputTypeError(f"{n} must be a positive int, got {v!r}")
        if v < 1:
            raise ValueError(f"{n} must be a positive int, got {v!r}")
    if order > MAX_ORDER:
        raise ValueError(f"order (Butterworth order) = {order!r:.24} is too large (at most 2**63 - 1; from order ~100 on the mask is the "
                         "ideal filter's): pass a small order, e.g. FreeInit's 4")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:  # a string was read as a device; an int dtype
        # truncated the mask's weights in (0, 1) to 0, leaving a mask that keeps only the zero frequency
        raise checks.InputTypeError(f"dtype must be a floating torch.dtype (e.g. torch.float64, the default), got {dtype!r}")
    checks.check_fits_in_memory(4 * 8.0 * frames * height * width, f"freq_filter({frames}, {height}, {width})",
                                "pass the frames, height and width of one video (e.g. 16, 64, 64)")

    def axis(n):
        return 2 * torch.arange(n, dtype=torch.float64) / n - 1

    ft = (d_s / d_t) * axis(frames)
    d2 = ft.view(-1, 1, 1) ** 2 + axis(height).view(1, -1, 1) ** 2 + axis(width).view(1, 1, -1) ** 2
    if method == "butterworth":
        mask = 1 / (1 + (d2 / d_s**2) ** order)
    elif method == "gaussian":
        mask = torch.exp(-d2 / (2 * d_s**2))
    else:
        mask = (d2 <= d_s * 2).to(torch.float64)
    return mask.unsqueeze(1).to(dtype)


def freq_mix(low: torch.Tensor, high: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``IFFT(FFT(low) * mask + FFT(high) * (1 - mask))`` over ``(F, H, W)`` of ``[B, F, C, H, W]`` (FreeInit Eq. 7-8).

    ``mask`` is a low-pass mask in fftshift-ed order (:func:`freq_filter`). Computed as
    ``high + Re IFFT(FFT(low - high) * mask)`` (the same by linearity, one transform pair instead
    of three transforms) with the mask moved to unshifted order once; in ``low``'s precision
    (float64 stays float64, else float32), returned in ``low``'s dtype. Acts on each sample alone.
    """
    for name, x in (("low", low), ("high", high), ("mask", mask)):
        if not isinstance(x, torch.Tensor):
            raise checks.InputTypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}"
                                        + (f": pass torch.from_numpy({name})" if type(x).__module__ == "numpy" else ""))
    for name, x in (("low", low), ("high", high)):
        checks.check_not_meta(name, x)
        if not x.is_floating_point():  # integers were truncated on the way back, complex values lost their imaginary part
            raise checks.InputTypeError(f"{name} must be a float video [B, F, C, H, W], got dtype {x.dtype}: convert it with {name}.float()")
    if low.shape != high.shape or low.ndim != 5:
        raise ValueError(f"low and high must be the same [B, F, C, H, W] shape, got {tuple(low.shape)} and {tuple(high.shape)}")
    if low.numel() == 0:
        raise ValueError(f"low and high hold no values (shape {tuple(low.shape)}): pass at least one video of at least one frame and pixel")
    F_, C, H, W = low.shape[1:]
    if mask.ndim != 4 or (mask.shape[0], mask.shape[2], mask.shape[3]) != (F_, H, W) or mask.shape[1] not in (1, C):
        raise ValueError(f"mask must be [F, 1, H, W] = {(F_, 1, H, W)} for videos {tuple(low.shape)} (freq_filter(F, H, W)), "
                         f"got {tuple(mask.shape)}")
    checks.check_not_meta("mask", mask)
    checks.check_finite("mask", mask, "build it with freq_filter(F, H, W)")
    work = torch.float64 if low.dtype == torch.float64 else torch.float32
    m = torch.fft.ifftshift(mask.to(low.device, work), dim=(0, 2, 3))  # [F, 1, H, W] -> unshifted frequency order
    h = high.to(work)
    diff = torch.fft.fftn(low.to(work) - h, dim=_DIMS)
    return (h + torch.fft.ifftn(diff * m, dim=_DIMS).real).to(low.dtype)


def lowpass_image(images: torch.Tensor, resize_factor: float) -> torch.Tensor:
    """ALG's ``down_up`` low-pass of ``[..., H, W]`` (``[B, C, H, W]``, or more leading dims, folded as ALG
    folds frames): bilinear antialiased resize to ``round(resize_factor * (H, W))`` and back
    (Choi et al. 2025, arXiv 2506.08456, Sec. 3)."""
    resize_factor = check_cutoff("resize_factor", resize_factor)
    if not isinstance(images, torch.Tensor):
        raise checks.InputTypeError(f"images must be a torch.Tensor [B, C, H, W], got {type(images).__name__}"
                                    + (": pass torch.from_numpy(images)" if type(images).__module__ == "numpy" else ""))
    checks.check_not_meta("images", images)  # a meta tensor came back filtered, still without values
    if images.ndim < 3:
        raise ValueError(f"images must be [B, C, H, W] (or [..., H, W]), got shape {tuple(images.shape)}")
    if not images.is_floating_point():  # integers were truncated after the filter, complex values lost their imaginary part
        fix = "images.float() / 127.5 - 1" if images.dtype == torch.uint8 else "images.float()"
        raise checks.InputTypeError(f"images must be float images, got dtype {images.dtype}: convert them with {fix}")
    if images.shape[-2] == 0 or images.shape[-1] == 0:
        raise ValueError(f"images have no pixels (H x W = {images.shape[-2]} x {images.shape[-1]}, shape {tuple(images.shape)}): "
                         "pass images of at least 1 x 1 pixels")
    if resize_factor == 1.0:
        return images
    h0, w0 = images.shape[-2:]
    h1, w1 = max(1, round(h0 * resize_factor)), max(1, round(w0 * resize_factor))
    x = images.float() if images.dtype not in (torch.float32, torch.float64) else images
    x = x.reshape(-1, 1, h0, w0)
    x = Fn.interpolate(x, size=(h1, w1), mode="bilinear", align_corners=False, antialias=True)
    x = Fn.interpolate(x, size=(h0, w0), mode="bilinear", align_corners=False, antialias=True)
    return x.reshape(images.shape).to(images.dtype)

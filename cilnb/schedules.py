"""Forward processes ``X_t = alpha_t X_0 + sigma_t eps`` (Eq. 1) on one common time axis.

The common currency is the normalised time ``t in [0, 1]`` (``t = 1`` is ``T``); each family
keeps its native time alongside:

============  =========================================  ==========================================
family        alpha(t), sigma(t)                         native time
============  =========================================  ==========================================
``vp``        ``sqrt(abar(s))``, ``sqrt(1 - abar(s))``,   timestep index ``n = t*T - 1``
              ``s = t*T``, ``abar`` linear between the    (``t = (n + 1) / T``; ``t = 0`` is clean)
              DDPM knots ``abar(n+1) = alphas_cumprod[n]``
``edm``       ``1``, Karras interpolation                 ``sigma`` itself
              ``(smin^(1/rho) + t(smax^(1/rho) -
              smin^(1/rho)))^rho``
``flow``      ``1 - t``, ``t``                            ``t * num_train_timesteps``
============  =========================================  ==========================================

With the EDM map a uniform grid in ``t`` *is* the Karras grid, so starting at ``M`` rebuilds the
Karras sigmas with ``sigma_max = sigma_M`` exactly as the official SVD code does; a start given as
a sigma (``sigma_M = 100``) converts with :meth:`EDMSchedule.from_native`. EDM's ``t = 0`` is
``sigma_min``, not clean data: every sampler ends with one step to the clean state
(``alpha = 1, sigma = 0``), for all families alike (DDIM's ``final_alpha_cumprod = 1``, Karras'
trailing zero sigma, FlowMatch's trailing zero).

Used by every sampler and probe; the three families are compared in ``notebooks/analytic_init.ipynb`` through
:func:`cilnb.analytic_init.schedule_families`.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, Mapping

import numpy as np
import torch

from .checks import InputTypeError, check_bool, check_fits_in_memory, check_int, check_n_steps, check_not_meta, check_number, is_complex

_START_FIX = "(the normalised start time M in (0, 1]; 1 = T)"

__all__ = ["Schedule", "VPSchedule", "EDMSchedule", "FlowSchedule", "from_diffusers", "vp_betas", "as_t", "batch_times"]

Float = torch.Tensor
_F64 = torch.float64


def _times(t: Any, name: str) -> Float:
    """``t`` (a number, a list/array of numbers or a real tensor) as a float64 CPU tensor, or an :class:`InputTypeError` naming ``name``."""
    if isinstance(t, torch.Tensor):
        if t.is_complex() or t.dtype == torch.bool:
            raise InputTypeError(f"{name} must hold real numbers, got a tensor of dtype {t.dtype}")
        try:
            return t.detach().to("cpu", _F64)
        except NotImplementedError:  # a 'meta' tensor has no values to copy (torch: "Cannot copy out of meta tensor")
            check_not_meta(name, t)
            raise
    if t is None or isinstance(t, (str, bytes, bool)):
        raise InputTypeError(f"{name} must be a number or a list/array/tensor of numbers, got {t!r} ({type(t).__name__})")
    try:
        return torch.as_tensor(t, dtype=_F64).detach().cpu()
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputTypeError(f"{name} must be a number or a list/array/tensor of numbers, got {t!r} ({exc})") from None


def as_t(t: Any, name: str = "t", lo: float = 0.0, hi: float = 1.0) -> Float:
    """``t`` as a float64 CPU tensor, validated to be finite and lie in ``[lo, hi]`` (normalised time by default)."""
    x = _times(t, name)
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite, got {t!r}")
    if bool((x < lo).any()) or bool((x > hi).any()):
        raise ValueError(f"{name} must lie in [{lo}, {hi}] (normalised time, 1 = T); got min {x.min().item():.6g}, max {x.max().item():.6g}")
    return x


def batch_times(t: Any, B: int) -> Float:
    """``t`` (a scalar or ``[B]``) as validated float64 ``[B]`` normalised times on the CPU (:func:`as_t`, then one per batch element)."""
    B = check_int("B", B, min=0, fix="(the batch size)")
    tt = as_t(t)
    if tt.ndim == 0:
        tt = tt.expand(B)
    if tt.shape != (B,):
        raise ValueError(f"t must be a scalar or have one entry per batch element ({B}), got shape {tuple(tt.shape)}")
    return tt


class Schedule(ABC):
    """A forward process on normalised time ``t in [0, 1]``; subclasses define alpha, sigma, native time."""

    kind: str = ""

    @abstractmethod
    def alpha(self, t) -> Float:
        """Signal scale ``alpha_t`` (float64, same shape as ``t``)."""

    @abstractmethod
    def sigma(self, t) -> Float:
        """Noise scale ``sigma_t`` (float64, same shape as ``t``)."""

    @abstractmethod
    def to_native(self, t) -> Float:
        """Normalised ``t`` -> the family's native time (timestep index, sigma, flow timestep)."""

    @abstractmethod
    def from_native(self, native) -> Float:
        """Native time -> normalised ``t``."""

    @abstractmethod
    def grid(self, n_steps: int, start: float = 1.0) -> Float:
        """``n_steps`` descending normalised times from ``start`` (= M) towards 0; samplers then step to clean."""

    def prior_std(self, start: float = 1.0) -> float:
        """Std of the *standard* initial noise when sampling starts at ``start`` (``init="standard"``).

        VP and flow: ``1`` (``p_M = p_T = N(0, I)``, the paper's baseline for an early start).
        EDM: ``sqrt(1 + sigma_M^2)``, what diffusers' SVD pipeline draws (``init_noise_sigma``)
        once the Karras sigmas are rebuilt with ``sigma_max = sigma_M``.
        """
        check_number("start", start, lo=0, hi=1, fix=_START_FIX)  # VP/flow ignore its value, but not a bad one
        return 1.0

    def log_snr(self, t) -> Float:
        """``log(alpha_t^2 / sigma_t^2)`` (``-inf`` where alpha is 0, ``+inf`` where sigma is 0)."""
        a, s = self.alpha(t), self.sigma(t)
        return 2 * (torch.log(a) - torch.log(s))

    def add_noise(self, x0: torch.Tensor, t, noise: torch.Tensor) -> torch.Tensor:
        """Eq. (1): ``alpha_t x0 + sigma_t noise``, ``t`` scalar or one entry per batch element (dim 0)."""
        for name, x in (("x0", x0), ("noise", noise)):
            if not isinstance(x, torch.Tensor):
                raise InputTypeError(f"{name} must be a torch.Tensor [B, ...], got {type(x).__name__}"
                                     + (f": pass torch.from_numpy({name})" if hasattr(x, "__array__") else ""))
            if not x.is_floating_point():  # alpha_t, sigma_t would be cast to x0's integer dtype (truncated to 0 and 1)
                raise InputTypeError(f"{name} must be a floating tensor [B, ...], got dtype {x.dtype}: convert it with .float() "
                                     "(uint8 pixels: x.float() / 127.5 - 1)")
        if x0.shape != noise.shape:
            raise ValueError(f"x0 {tuple(x0.shape)} and noise {tuple(noise.shape)} must have the same shape")
        if x0.ndim == 0:
            raise ValueError("x0 must have a batch dim [B, ...], got a 0-d tensor: use x0[None] for one item")
        a, s = self.broadcast(t, x0)
        return a * x0 + s * noise

    def broadcast(self, t, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(alpha_t, sigma_t)`` shaped ``[B, 1, ..., 1]`` on ``like``'s device and dtype; ``t`` a scalar or ``[B]`` (dim 0 of ``like``)."""
        if not isinstance(like, torch.Tensor):
            raise InputTypeError(f"like must be a torch.Tensor [B, ...] (its batch size, device and dtype are used), got {type(like).__name__}")
        if not like.is_floating_point():  # alpha_t, sigma_t in an integer dtype would be truncated to 0 and 1
            raise InputTypeError(f"like must be a floating tensor [B, ...] (alpha_t, sigma_t take its dtype), got dtype {like.dtype}: "
                                 "convert it with .float() (uint8 pixels: x.float() / 127.5 - 1)")
        if like.ndim == 0:
            raise ValueError("like must have a batch dim [B, ...], got a 0-d tensor: use x[None] for one item")
        tt = batch_times(t, like.shape[0])
        view = (-1,) + (1,) * (like.ndim - 1)
        a = self.alpha(tt).to(like.device, like.dtype).view(view)
        s = self.sigma(tt).to(like.device, like.dtype).view(view)
        return a, s

    _broadcast = broadcast  # deprecated alias (the pre-0.2 private name); use broadcast

    def parse_start(self, start: float | None = None, *, native: float | None = None) -> float:
        """The start time M as normalised ``t``: give ``start`` in (0, 1] or ``native`` (e.g. a sigma)."""
        if (start is None) == (native is None):
            raise ValueError("give exactly one of start (normalised M in (0, 1]) or native (e.g. sigma_M)")
        if native is not None:
            t = self.from_native(native)
            if t.numel() != 1:
                raise ValueError(f"native must be one start time (e.g. a sigma or a timestep), got {t.numel()} values: {native!r}")
            start = float(t)
        start = check_number("start", start, fix="(the normalised start time M in (0, 1]; 1 = T)")
        if not 0.0 < start <= 1.0:
            raise ValueError(f"start M must lie in (0, 1] (normalised; 1 = T), got {start!r}")
        return start

    @staticmethod
    def _check_steps(n_steps: int, start: float) -> float:
        """Check ``n_steps`` (a positive int) and ``start`` (a real number in (0, 1]); returns ``start`` as a float."""
        check_n_steps(n_steps)
        start = check_number("start", start, fix="(the normalised start time M in (0, 1]; 1 = T)")
        if not 0.0 < start <= 1.0:
            raise ValueError(f"start M must lie in (0, 1] (normalised; 1 = T), got {start!r}")
        return start


# ----------------------------------------------------------------------------------------------
# VP (DDPM) discrete schedules
# ----------------------------------------------------------------------------------------------


def vp_betas(kind: str = "linear", num_train_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Float:
    """DDPM beta schedules ``linear``, ``scaled_linear`` (LDM/SD) and ``squaredcos_cap_v2`` (iDDPM)."""
    n = check_int("num_train_timesteps", num_train_timesteps, min=2, fix="(DDPM training steps, e.g. 1000)", integral_float=True)
    _check_train_steps_fit(n)
    beta_start = check_number("beta_start", beta_start, lo=0, lo_open=True, hi=1, hi_open=True)
    beta_end = check_number("beta_end", beta_end, lo=0, lo_open=True, hi=1, hi_open=True)
    if kind in ("linear", "scaled_linear") and beta_start > beta_end:
        raise ValueError(f"beta_start ({beta_start:g}) > beta_end ({beta_end:g}): the betas would decrease with the timestep; "
                         "swap them (e.g. beta_start=1e-4, beta_end=0.02)")
    if kind == "linear":
        return torch.linspace(beta_start, beta_end, n, dtype=_F64)
    if kind == "scaled_linear":
        return torch.linspace(beta_start**0.5, beta_end**0.5, n, dtype=_F64) ** 2
    if kind == "squaredcos_cap_v2":
        i = torch.arange(n + 1, dtype=_F64)
        abar = torch.cos((i / n + 0.008) / 1.008 * math.pi / 2) ** 2
        return torch.clamp(1 - abar[1:] / abar[:-1], max=0.999)
    raise ValueError(f"unknown beta schedule {kind!r}; choose linear, scaled_linear or squaredcos_cap_v2")


def _check_train_steps_fit(n: int) -> None:
    """Refuse, before torch's allocator does, a count of training timesteps whose schedule arrays (betas, their cumulative
    product and its knots, float64) alone exceed this machine's memory."""
    check_fits_in_memory(4 * 8 * float(n), f"a VP schedule of num_train_timesteps = {n}",
                         "pass the number of timesteps the model was trained with (DDPM: 1000)")


def _zero_terminal_snr(alphas_cumprod: Float) -> Float:
    """Rescale so that ``abar_T = 0`` while keeping ``abar_1`` (Lin et al. 2024, Alg. 1)."""
    s = alphas_cumprod.sqrt()
    s0, sT = s[0].clone(), s[-1].clone()
    s = (s - sT) * s0 / (s0 - sT)
    return s**2


class VPSchedule(Schedule):
    """Variance-preserving discrete DDPM schedule (VideoCrafter1, DynamiCrafter, I2VGen-XL, PIA, CogVideoX).

    ``alpha_t^2 + sigma_t^2 = 1``. ``rescale_zero_terminal_snr`` gives ``alpha_T = 0`` (I2VGen-XL,
    CogVideoX); ``snr_shift_scale`` divides the SNR as CogVideoX's schedulers do.
    """

    kind = "vp"

    def __init__(
        self,
        beta_schedule: str = "linear",
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        num_train_timesteps: int = 1000,
        *,
        rescale_zero_terminal_snr: bool = False,
        snr_shift_scale: float = 1.0,
        betas=None,
    ):
        rescale_zero_terminal_snr = check_bool("rescale_zero_terminal_snr", rescale_zero_terminal_snr)  # "no" would be true
        if betas is not None:
            check_not_meta("betas", betas)
            if is_complex(betas):
                raise InputTypeError(f"betas must be real numbers in (0, 1), got a complex {type(betas).__name__} "
                                     "(its imaginary part would be dropped)")
            try:
                betas = torch.as_tensor(betas, dtype=_F64).detach().cpu()
            except (TypeError, ValueError, RuntimeError) as exc:
                raise InputTypeError(f"betas must be a 1-D sequence of numbers in (0, 1), got {type(betas).__name__} ({exc})") from None
            if betas.ndim != 1:
                raise ValueError(f"betas must be 1-D (one beta per training timestep), got shape {tuple(betas.shape)}")
            if not bool(torch.isfinite(betas).all()):
                raise ValueError(f"betas hold {int((~torch.isfinite(betas)).sum())} NaN/inf value(s): pass finite betas in (0, 1)")
            num_train_timesteps = int(betas.numel())
        else:
            if not isinstance(beta_schedule, str):
                raise InputTypeError(f"beta_schedule must be a string (linear, scaled_linear or squaredcos_cap_v2), got {beta_schedule!r}")
            # as an int: 1000.0 (or a numpy int) was kept as given in self.T, and training's timestep draws failed on it in torch
            num_train_timesteps = check_int("num_train_timesteps", num_train_timesteps, min=2, fix="(DDPM training steps, e.g. 1000)",
                                            integral_float=True)
            _check_train_steps_fit(num_train_timesteps)
            check_number("beta_start", beta_start, lo=0, lo_open=True, hi=1, hi_open=True)
            check_number("beta_end", beta_end, lo=0, lo_open=True, hi=1, hi_open=True)
            if not (0 < beta_start < beta_end < 1):
                raise ValueError(f"need 0 < beta_start < beta_end < 1, got {beta_start}, {beta_end}")
            betas = vp_betas(beta_schedule, num_train_timesteps, beta_start, beta_end)
        if num_train_timesteps < 2:
            raise ValueError("a VP schedule needs at least 2 training timesteps")
        if bool((betas <= 0).any()) or bool((betas >= 1).any()):
            raise ValueError("betas must lie in (0, 1)")
        lost = (1.0 - betas) == 1.0  # below float64's resolution at 1: the step adds no noise (sigma stays 0, NaN after a rescale)
        if bool(lost.any()):
            k = int(lost.nonzero()[0])
            raise ValueError(f"betas[{k}] = {float(betas[k]):.3g} is below float64's resolution of 1 - beta (about 1.1e-16), so that step adds "
                             "no noise (sigma_t stays 0 and the samplers divide by it): pass betas of at least 1e-12 (DDPM's start from 1e-4)")
        check_number("snr_shift_scale", snr_shift_scale, lo=0, lo_open=True, fix="(CogVideoX's SNR shift; 1 = none)")
        abar = torch.cumprod(1.0 - betas, dim=0)
        if snr_shift_scale != 1.0:
            abar = abar / (snr_shift_scale + (1 - snr_shift_scale) * abar)
            flat = abar >= 1.0  # a tiny shift takes alpha_t^2 to 1 in float64: sigma_t = 0 (NaN after a rescale), as for lost betas
            if bool(flat.any()):
                k = int(flat.nonzero()[0])
                raise ValueError(f"snr_shift_scale = {float(snr_shift_scale):g} shifts alpha_t^2 of timestep {k} to 1 in float64, so that step "
                                 "adds no noise (sigma_t = 0: the samplers divide by it, and rescale_zero_terminal_snr gives NaN): pass "
                                 "CogVideoX's SNR shift, e.g. 1 (none) or 3")
        if rescale_zero_terminal_snr:
            abar = _zero_terminal_snr(abar)
        self.T = num_train_timesteps
        self.alphas_cumprod = abar
        self.config = dict(
            beta_schedule=beta_schedule, beta_start=beta_start, beta_end=beta_end,
            num_train_timesteps=num_train_timesteps, rescale_zero_terminal_snr=rescale_zero_terminal_snr,
            snr_shift_scale=snr_shift_scale,
        )
        # knots s = 0..T: abar(0) = 1 (clean), abar(n + 1) = alphas_cumprod[n]
        self._knots = torch.cat([torch.ones(1, dtype=_F64), abar])

    def abar(self, t) -> Float:
        """``alpha_t^2``, piecewise linear in ``s = t * T`` between the DDPM knots."""
        s = as_t(t) * self.T
        lo = torch.clamp(torch.floor(s).long(), 0, self.T - 1)
        w = s - lo.to(_F64)
        return (1 - w) * self._knots[lo] + w * self._knots[lo + 1]

    def alpha(self, t) -> Float:
        return self.abar(t).clamp(min=0).sqrt()

    def sigma(self, t) -> Float:
        return (1 - self.abar(t)).clamp(min=0).sqrt()

    def to_native(self, t) -> Float:
        return as_t(t) * self.T - 1

    def from_native(self, native) -> Float:
        n = _times(native, "native (the timestep index)")
        return as_t((n + 1) / self.T, "timestep (index + 1) / T")

    def grid(self, n_steps: int, start: float = 1.0, power: float = 1.0) -> Float:
        """``trailing`` spacing: integer timesteps ``round(M T (1 - i/n)) - 1``; at M = 1: 999, 979, ..., 19.

        Starting at M < 1 re-spaces all ``n_steps`` over ``[0, M]`` (as the official DynamiCrafter
        Analytic-Init code does) rather than truncating the full-length grid. ``power`` > 1 packs the
        steps towards the clean end: times ``round(M T ((n - i)/n)^power)`` (``1``: trailing; the
        ``dpm++3m`` sampler's default, :data:`cilnb.sampling.GRID_POWER`). Times that round to the same
        timestep are merged, so a grid can come out shorter than ``n_steps``.
        """
        start = self._check_steps(n_steps, start)
        power = check_number("power", power, lo=0, lo_open=True, fix="(grid exponent: 1 is trailing, > 1 packs steps near t = 0)")
        frac = (torch.arange(n_steps, 0, -1, dtype=_F64) / n_steps) ** power
        idx = torch.round(start * self.T * frac)
        if float(idx[0]) < 1:  # M T rounds to timestep -1, the clean data: the clamp below started the grid at 1/T, above M
            raise ValueError(f"start M = {start:g} lies below this VP schedule's first timestep: M * T = {start * self.T:.3g} rounds to "
                             f"no timestep (the clean data), and a grid starting at 1/T = {1 / self.T:g} would start above M (where the "
                             f"initial noise is drawn): pass M >= 1/T = {1 / self.T:g} (timestep 0)")
        idx = torch.clamp(idx, min=1)
        return torch.unique_consecutive(idx) / self.T


# ----------------------------------------------------------------------------------------------
# EDM / VE (SVD)
# ----------------------------------------------------------------------------------------------


def _check_edm_map(sigma_min: float, sigma_max: float, rho: float) -> None:
    """Refuse a ``rho`` whose Karras map ``sigma^(1/rho)`` cannot be computed and inverted in float64 for these sigmas: a small
    rho overflows (``OverflowError`` deep in the arithmetic), a huge one maps both ends to 1 (``from_native`` divides by 0,
    sigma(1) is no longer sigma_max)."""
    try:
        lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
        back = (lo**rho, hi**rho)
    except OverflowError:
        lo = hi = math.nan
        back = (math.nan, math.nan)
    ok = math.isfinite(lo) and math.isfinite(hi) and lo < hi and all(
        math.isfinite(b) and abs(b - v) <= 1e-6 * v for b, v in zip(back, (sigma_min, sigma_max)))
    if not ok:
        raise ValueError(f"rho = {rho:g} cannot map sigma in [{sigma_min:g}, {sigma_max:g}] through sigma^(1/rho) in float64 (the map "
                         "overflows, or loses the sigmas' ends): pass Karras' rho, e.g. 7 (SVD)")


class EDMSchedule(Schedule):
    """Variance-exploding EDM schedule (Karras et al. 2022; SVD: sigma in [0.002, 700], rho = 7).

    ``alpha = 1``; ``sigma(t) = (smin^(1/rho) + t (smax^(1/rho) - smin^(1/rho)))^rho``, so a uniform
    grid in ``t`` is the Karras grid and ``t = 1`` is ``sigma_max``.
    """

    kind = "edm"

    def __init__(self, sigma_min: float = 0.002, sigma_max: float = 700.0, rho: float = 7.0):
        check_number("sigma_min", sigma_min, lo=0, lo_open=True)
        check_number("sigma_max", sigma_max, lo=0, lo_open=True)
        if not sigma_min < sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max < inf, got {sigma_min}, {sigma_max}")
        check_number("rho", rho, lo=0, lo_open=True, fix="(Karras' rho; SVD uses 7)")
        self.sigma_min, self.sigma_max, self.rho = float(sigma_min), float(sigma_max), float(rho)
        _check_edm_map(self.sigma_min, self.sigma_max, self.rho)
        self.config = dict(sigma_min=sigma_min, sigma_max=sigma_max, rho=rho)

    def alpha(self, t) -> Float:
        return torch.ones_like(as_t(t))

    def sigma(self, t) -> Float:
        t = as_t(t)
        lo, hi = self.sigma_min ** (1 / self.rho), self.sigma_max ** (1 / self.rho)
        return (lo + t * (hi - lo)) ** self.rho

    def to_native(self, t) -> Float:
        return self.sigma(t)

    def prior_std(self, start: float = 1.0) -> float:
        start = check_number("start", start, lo=0, hi=1, fix=_START_FIX)
        return float((1 + self.sigma(start) ** 2).sqrt())

    def from_native(self, native) -> Float:
        s = _times(native, "native (sigma)")
        if not bool(torch.isfinite(s).all()) or bool((s < self.sigma_min * (1 - 1e-9)).any()) or bool((s > self.sigma_max * (1 + 1e-9)).any()):
            raise ValueError(f"sigma must lie in [{self.sigma_min}, {self.sigma_max}], got {native!r}")
        lo, hi = self.sigma_min ** (1 / self.rho), self.sigma_max ** (1 / self.rho)
        return ((s ** (1 / self.rho) - lo) / (hi - lo)).clamp(0, 1)

    def grid(self, n_steps: int, start: float = 1.0) -> Float:
        """Karras sigmas from ``sigma(start)`` down to ``sigma_min`` (``n_steps`` points), as normalised t."""
        start = self._check_steps(n_steps, start)
        if n_steps == 1:
            return torch.tensor([start], dtype=_F64)
        return torch.linspace(start, 0.0, n_steps, dtype=_F64)


# ----------------------------------------------------------------------------------------------
# Rectified flow / flow matching (Wan, LTX, HunyuanVideo, SD3-style)
# ----------------------------------------------------------------------------------------------


class FlowSchedule(Schedule):
    """Flow matching: ``alpha = 1 - t``, ``sigma = t``; inference grids use the timestep shift.

    The shift maps a uniform ``u`` to ``t = shift u / (1 + (shift - 1) u)`` (SD3/Wan/LTX schedulers;
    ``shift = 1`` is no shift). Native time is the model's timestep ``t * num_train_timesteps``.
    """

    kind = "flow"

    def __init__(self, shift: float = 1.0, num_train_timesteps: int = 1000):
        check_number("shift", shift, lo=0, lo_open=True, fix="(the timestep shift; 1 = none)")
        T = check_int("num_train_timesteps", num_train_timesteps, min=1, fix="(the model's timestep scale, e.g. 1000)", integral_float=True)
        if T > 2**53:  # 10**400 failed in grid() with "int too large to convert to float"; float64 holds whole timesteps up to 2**53
            raise ValueError("num_train_timesteps is beyond any model's timestep scale (more than 2**53, float64's whole numbers): "
                             "pass the scale the model was trained with, e.g. 1000")
        given, shift = shift, float(shift)
        # the shift map t = s u / (1 + (s - 1) u) and its inverse at u = t = 1 must give 1 in float64, else the grid holds NaN/inf
        den, inv = 1 + (shift - 1), shift - (shift - 1)
        if not (den > 0 and inv > 0 and abs(shift / den - 1) <= 1e-6 and abs(1 / inv - 1) <= 1e-6):
            raise ValueError(f"shift = {shift:g} is beyond float64's precision in the timestep shift t = shift u / (1 + (shift - 1) u) "
                             "(its grid would hold NaN or inf): pass a shift such as 3 or 5 (SD3, Wan; 1 = none)")
        self.shift, self.T = shift, T
        self.config = dict(shift=given, num_train_timesteps=num_train_timesteps)

    def alpha(self, t) -> Float:
        return 1 - as_t(t)

    def sigma(self, t) -> Float:
        return as_t(t).clone()

    def to_native(self, t) -> Float:
        return as_t(t) * self.T

    def from_native(self, native) -> Float:
        return as_t(_times(native, "native (the timestep)") / self.T, "timestep / num_train_timesteps")

    def shifted(self, u) -> Float:
        u = as_t(u, "u")
        return self.shift * u / (1 + (self.shift - 1) * u)

    def unshifted(self, t) -> Float:
        t = as_t(t)
        return t / (self.shift - (self.shift - 1) * t)

    def grid(self, n_steps: int, start: float = 1.0) -> Float:
        """FlowMatchEuler's grid: ``u`` uniform from ``unshift(M)`` to ``shift(1/T)``, then shifted.

        (diffusers takes the lower end of the linspace from the already shifted training sigmas;
        we follow it so that ``start = 1`` reproduces ``FlowMatchEulerDiscreteScheduler.sigmas``.)
        Equal times are merged, as in :meth:`VPSchedule.grid`: a start at or below that lower end (or
        ``num_train_timesteps=1``) gives the one-point grid ``[start]``, not ``n_steps`` copies of it, which
        every sampler refuses as not strictly decreasing.
        """
        start = self._check_steps(n_steps, start)
        u_hi = float(self.unshifted(start))
        u_lo = min(float(self.shifted(1.0 / self.T)), u_hi)
        # clamp(max=1): shift(unshift(1)) can round to 1 + 2^-52 (shift = 0.2, 0.45), which every sampler refused as t > 1
        return torch.unique_consecutive(self.shifted(torch.linspace(u_hi, u_lo, n_steps, dtype=_F64)).clamp(max=1.0))


# ----------------------------------------------------------------------------------------------
# diffusers interop
# ----------------------------------------------------------------------------------------------

_VP_SCHEDULERS = {
    "DDPMScheduler", "DDIMScheduler", "PNDMScheduler", "DPMSolverMultistepScheduler", "EulerDiscreteScheduler",
    "EulerAncestralDiscreteScheduler", "LCMScheduler", "UniPCMultistepScheduler", "DEISMultistepScheduler",
    "CogVideoXDDIMScheduler", "CogVideoXDPMScheduler", "DDIMInverseScheduler", "HeunDiscreteScheduler",
}


def from_diffusers(scheduler) -> Schedule:
    """The :class:`Schedule` of a diffusers scheduler (or its config dict).

    EDM: ``EDMEulerScheduler``/``EDMDPMSolverMultistepScheduler`` and the SVD-style
    ``EulerDiscreteScheduler`` with ``use_karras_sigmas`` and continuous timesteps. Flow:
    ``FlowMatchEulerDiscreteScheduler`` (and its Heun variant); dynamic shifting (resolution
    dependent ``mu``) is not a fixed schedule and is refused. Everything else with DDPM betas: VP.
    """
    raw = getattr(scheduler, "config", scheduler)
    if not isinstance(raw, Mapping):
        raise InputTypeError(f"scheduler must be a diffusers scheduler (e.g. pipe.scheduler) or its config dict, got {type(scheduler).__name__}")
    cfg = dict(raw)
    name = cfg.get("_class_name") or type(scheduler).__name__
    if not isinstance(name, str):
        raise InputTypeError(f"scheduler config field _class_name must be the scheduler's class name (a string such as "
                             f"'DDIMScheduler'), got {name!r} ({type(name).__name__}): fix the scheduler config")
    return _schedule_from_config(cfg, name)


def _cfg_number(cfg: dict, key: str, default, name: str, *, kind=float, unset_is_default: bool = False):
    """``kind(cfg[key])`` (``default`` when the key is missing, or with ``unset_is_default`` also when it is ``None``),
    or a ``ValueError`` naming the scheduler's field instead of a bare ``float()``/``int()`` error. A 0 is a value,
    not "unset": the schedule's own check refuses it (a shift or sigma of 0 was silently replaced by the default)."""
    v = cfg.get(key, default)
    if unset_is_default and v is None:
        v = default
    if isinstance(v, (bool, np.bool_)):  # float(True) = 1.0 would take a flag for a number
        raise ValueError(f"scheduler {name!r} config field {key}={v!r} is not a number: fix the scheduler config")
    try:
        out = kind(v)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"scheduler {name!r} config field {key}={v!r} is not a number: fix the scheduler config") from None
    if kind is int and isinstance(v, (float, np.floating)) and out != v:  # int(1000.5) = 1000 would truncate silently
        raise ValueError(f"scheduler {name!r} config field {key}={v!r} must be a whole number: fix the scheduler config")
    return out


def _cfg_flag(cfg: dict, key: str, name: str) -> bool:
    """``cfg[key]`` as a bool (missing or ``None``: false), or a ``ValueError``: ``bool("false")`` is true."""
    v = cfg.get(key)
    if v is None:
        return False
    if not isinstance(v, (bool, np.bool_)):
        raise ValueError(f"scheduler {name!r} config field {key}={v!r} must be true or false: fix the scheduler config")
    return bool(v)


def _schedule_from_config(cfg: dict, name: str) -> Schedule:
    euler_karras = (name == "EulerDiscreteScheduler" and _cfg_flag(cfg, "use_karras_sigmas", name)
                    and cfg.get("timestep_type") == "continuous")
    if euler_karras:
        unset = [k for k in ("sigma_min", "sigma_max") if cfg.get(k) is None]
        if unset:  # diffusers then takes the range from the betas on each inference grid: it moves with n_steps and spacing
            raise ValueError(f"scheduler {name!r} with Karras sigmas has no {' or '.join(unset)} in its config: diffusers then "
                             "takes the sigma range from the betas at each inference grid (it changes with the number of steps and "
                             "timestep_spacing), which is no fixed EDM schedule; set sigma_min and sigma_max in the scheduler config "
                             "(SVD's: 0.002 and 700.0)")
    if name in {"EDMEulerScheduler", "EDMDPMSolverMultistepScheduler"} or euler_karras:
        return EDMSchedule(
            sigma_min=_cfg_number(cfg, "sigma_min", 0.002, name, unset_is_default=True),
            sigma_max=_cfg_number(cfg, "sigma_max", 80.0, name, unset_is_default=True),
            rho=_cfg_number(cfg, "rho", 7.0, name),
        )
    if name.startswith("FlowMatch") or _cfg_flag(cfg, "use_flow_sigmas", name) or cfg.get("prediction_type") == "flow_prediction":
        # FlowMatch* schedulers, and multistep solvers run on flow sigmas (Wan's UniPC: flow_shift)
        if _cfg_flag(cfg, "use_dynamic_shifting", name):
            raise ValueError(
                f"{name} uses dynamic (resolution-dependent) shifting; build FlowSchedule(shift=exp(mu)) "
                "for the resolution you sample at"
            )
        key = "shift" if name.startswith("FlowMatch") or "flow_shift" not in cfg else "flow_shift"
        return FlowSchedule(shift=_cfg_number(cfg, key, 1.0, name, unset_is_default=True),
                            num_train_timesteps=_cfg_number(cfg, "num_train_timesteps", 1000, name, kind=int))
    if name in _VP_SCHEDULERS or "beta_schedule" in cfg:
        trained = cfg.get("trained_betas")
        rescale = _cfg_flag(cfg, "rescale_betas_zero_snr", name)
        return VPSchedule(
            beta_schedule=cfg.get("beta_schedule", "linear"),
            beta_start=_cfg_number(cfg, "beta_start", 1e-4, name),
            beta_end=_cfg_number(cfg, "beta_end", 0.02, name),
            num_train_timesteps=_cfg_number(cfg, "num_train_timesteps", 1000, name, kind=int),
            rescale_zero_terminal_snr=rescale,
            snr_shift_scale=_cfg_number(cfg, "snr_shift_scale", 1.0, name),
            betas=trained,
        )
    raise ValueError(f"cannot build a cilnb schedule from scheduler {name!r}: not a VP, EDM or flow-matching scheduler")

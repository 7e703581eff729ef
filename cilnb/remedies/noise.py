"""Remedies that act on the initial noise: Analytic-Init, FrameInit and PYoCo's correlated noise."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .. import checks
from .base import Context, Remedy, analytic_params, plain_settings
from .filters import check_filter_settings, freq_filter, freq_mix

__all__ = ["AnalyticInit", "FrameInit", "Progressive", "pyoco_matrix", "pyoco_correlation"]


#: the largest PYoCo ``alpha`` (``alpha^2`` must not overflow a float); from ``alpha = 1000`` on, neighbouring frames already
#: correlate beyond 0.9999995
_MAX_ALPHA = 1e150


def _unit_float(name: str, v, *, allow_none: bool = False, lo_open: bool = True):
    if v is None and allow_none:
        return None
    msg = f"{name} must lie in (0, 1] (normalised time, 1 = T){' or be None' if allow_none else ''}, got {v!r}"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise checks.InputTypeError(msg)
    if not math.isfinite(float(v)) or not (0.0 < float(v) <= 1.0):
        raise ValueError(msg)
    return float(v)


@dataclass(frozen=True)
class AnalyticInit(Remedy):
    """Start at M with Analytic-Init (this paper, Sec. 3.2, Alg. 1, Eq. 5): ``N(alpha_M E[X0], (alpha_M^2 tr(Cov)/d + sigma_M^2) I)``.

    The same numbers as ``sample(init="analytic", stats=...)`` (the same draw, the same arithmetic).
    ``start``: M in (0, 1] this remedy asks for (None: the caller's ``start``; the paper uses
    0.96T/0.92T for VideoCrafter1/DynamiCrafter and ``sigma_M = 100`` for SVD). Needs ``stats``.
    """

    start: float | None = None
    name = "analytic_init"
    needs_stats = True

    def __post_init__(self):
        plain_settings(self)
        object.__setattr__(self, "start", _unit_float("start", self.start, allow_none=True))

    def prior(self, ctx: Context):
        return analytic_params(ctx)


@dataclass(frozen=True)
class FrameInit(Remedy):
    """FrameInit (Ren et al., "ConsistI2V", TMLR 2024, Sec. 3.3): the conditional frame repeated over
    time, noised to ``noise_level`` with the initial noise itself, gives the low frequencies of the
    initial sample; its high frequencies stay the initial noise's:
    ``x = LP(alpha_n [y]*F + sigma_n z) + HP(x_init)``.

    Defaults are ConsistI2V's inference config (Gaussian filter, ``d_s = d_t = 0.25``); its noise
    level is DDPM timestep 850 of 1000 (``noise_level=0.85`` here), cilnb's default ``None`` noises to
    the start time M (as the issue describes). Latent models: the frame is encoded with the model's
    VAE (``encode_video``), so ``sample`` needs ``images=`` (the pixel conditional images).
    """

    method: str = "gaussian"
    order: int = 4
    d_s: float = 0.25
    d_t: float = 0.25
    noise_level: float | None = None
    name = "frameinit"

    def __post_init__(self):
        plain_settings(self)
        check_filter_settings(self.method, self.order, self.d_s, self.d_t)
        object.__setattr__(self, "noise_level", _unit_float("noise_level", self.noise_level, allow_none=True))

    def frame(self, ctx: Context) -> torch.Tensor:
        """The conditional frame in the sample space ``[B, 1, C, H, W]`` (float64): ``y`` for pixel
        models, the VAE encoding of ``ctx.images`` for latent models."""
        model = ctx.model
        latent = getattr(model, "sample_space", None) == "latent" or getattr(model, "vae", None) is not None
        if latent:
            if ctx.images is None:
                raise ValueError("frameinit on a latent model encodes the conditional frame with the VAE: pass images= "
                                 "(the pixel conditional images [B, 3, H, W] in [-1, 1]) to cilnb.sampling.sample")
            with torch.no_grad():
                f = model.encode_video(ctx.images[:, None])
        else:
            f = ctx.y[:, None]
        if tuple(f.shape[2:]) != tuple(ctx.shape[1:]):
            raise ValueError(f"frameinit: the conditional frame {tuple(f.shape[2:])} does not match the sample's frame shape "
                             f"{tuple(ctx.shape[1:])} (C, H, W)")
        return f.detach().to("cpu", torch.float64)

    def initial(self, ctx: Context, x: torch.Tensor) -> torch.Tensor:
        t = ctx.start if self.noise_level is None else self.noise_level
        a, s = float(ctx.schedule.alpha(t)), float(ctx.schedule.sigma(t))
        static = self.frame(ctx).expand(-1, ctx.shape[0], -1, -1, -1)
        F, _, H, W = ctx.shape
        mask = freq_filter(F, H, W, method=self.method, order=self.order, d_s=self.d_s, d_t=self.d_t)
        return freq_mix(a * static + s * ctx.z, x, mask)


def _check_pyoco(frames, alpha) -> None:
    frames = checks.check_int("frames", frames, min=1, fix="(frames of the video)")
    checks.check_fits_in_memory(3 * 8 * float(frames) ** 2, f"PYoCo's {frames} x {frames} frame matrix", "pass the frames of one video (e.g. 16)")
    checks.check_number("alpha", alpha, lo=0, hi=_MAX_ALPHA, fix="(PYoCo's correlation strength; 0: independent frames, "
                        "alpha >= 1000 all but identical noise in every frame)")


def pyoco_matrix(frames: int, alpha: float, mode: str = "progressive") -> torch.Tensor:
    """``L`` ``[F, F]`` with ``eps = L z`` over frames for the *progressive* mode of PYoCo (Ge et al.,
    ICCV 2023, Eq. 4): ``eps_0 = z_0``, ``eps_i = a eps_{i-1} + b z_i``, ``a = alpha / sqrt(1 + alpha^2)``,
    ``b = 1 / sqrt(1 + alpha^2)`` (unit variance per frame)."""
    if mode != "progressive":
        raise ValueError("pyoco_matrix covers the progressive mode only (mixed noise adds a shared draw)")
    _check_pyoco(frames, alpha)
    a, b = alpha / math.sqrt(1 + alpha**2), 1 / math.sqrt(1 + alpha**2)
    i = torch.arange(frames, dtype=torch.float64)
    lag = i[:, None] - i[None, :]
    L = torch.where(lag >= 0, a ** lag.clamp(min=0), torch.zeros(()))
    L[:, 1:] *= b
    return torch.tril(L)


def pyoco_correlation(frames: int, alpha: float, mode: str = "progressive") -> torch.Tensor:
    """Closed-form correlation ``[F, F]`` across frames of PYoCo's noise: mixed ``alpha^2 / (1 + alpha^2)``
    off the diagonal (Eq. 3), progressive ``(alpha / sqrt(1 + alpha^2))^|i - j|`` (Eq. 4)."""
    _check_pyoco(frames, alpha)
    i = torch.arange(frames, dtype=torch.float64)
    if mode == "mixed":
        rho = alpha**2 / (1 + alpha**2)
        return torch.where(i[:, None] == i[None, :], torch.ones(()), torch.full((), rho, dtype=torch.float64))
    if mode == "progressive":
        return (alpha / math.sqrt(1 + alpha**2)) ** (i[:, None] - i[None, :]).abs()
    raise ValueError(f"mode must be 'progressive' or 'mixed', got {mode!r}")


@dataclass(frozen=True)
class Progressive(Remedy):
    """PYoCo's video noise prior (Ge et al., "Preserve Your Own Correlation", ICCV 2023, Sec. 3.2):
    noise correlated across frames, each frame still ``N(0, I)``.

    ``mode="mixed"`` (Eq. 3): ``eps_i = eps_shared + eps_ind_i`` with variances
    ``alpha^2 / (1 + alpha^2)`` and ``1 / (1 + alpha^2)``; ``mode="progressive"`` (Eq. 4): an AR(1)
    chain over frames. ``alpha`` is the correlation strength (0: independent frames); its default 1.0
    is ConsistI2V's ``noise_alpha`` (the PYoCo noise its pipeline implements). Acts on the
    standard-normal draw, so it composes with Analytic-Init (the prior maps the correlated draw).
    """

    mode: str = "progressive"
    alpha: float = 1.0
    name = "progressive"

    def __post_init__(self):
        plain_settings(self)
        if self.mode not in ("progressive", "mixed"):
            raise ValueError(f"mode must be 'progressive' or 'mixed', got {self.mode!r}")
        msg = f"alpha (correlation strength) must be a finite number >= 0, got {self.alpha!r}"
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)):
            raise checks.InputTypeError(msg)
        if not math.isfinite(self.alpha) or self.alpha < 0:
            raise ValueError(msg)
        if self.alpha > _MAX_ALPHA:
            raise ValueError(f"alpha (correlation strength) = {self.alpha:g} is too large (alpha^2 overflows); it must be at most "
                             f"{_MAX_ALPHA:g}, and from alpha = 1000 on the frames' noise is all but identical already")
        object.__setattr__(self, "alpha", float(self.alpha))

    def noise(self, ctx: Context, z: torch.Tensor) -> torch.Tensor:
        F = z.shape[1]
        if self.mode == "progressive":
            return torch.einsum("ij,bj...->bi...", pyoco_matrix(F, self.alpha), z)
        shared = ctx.normal("pyoco_shared", (1, *z.shape[2:]))
        a2 = self.alpha**2
        return math.sqrt(a2 / (1 + a2)) * shared + math.sqrt(1 / (1 + a2)) * z

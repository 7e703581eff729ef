"""Samplers on the denoiser contract, and start-at-M with Analytic-Init (Sec. 3.2, Alg. 1).

Every low-level sampler has one signature (k-diffusion style)::

    sample_X(model, x, ts, cond=None, *, callback=None, disable=None, generator=None) -> x0

``x`` is the noisy video at ``ts[0]`` (``[B, F, C, H, W]``), ``ts`` the descending normalised
times from :meth:`cilnb.schedules.Schedule.grid`; each sampler ends with one step to the clean
state (``alpha = 1, sigma = 0``). ``callback`` receives ``{"x", "i", "t", "denoised"}`` after
every model call. :func:`sample` is the high-level entry: it builds the grid from a start time
``M``, draws the initial noise (``init="standard"`` or ``"analytic"``) with one seed per sample
(so a video depends only on its image and seed, never on the batch it was drawn in), and runs a
sampler. The sampling notebooks reach it through :func:`cilnb.sweep.run_sweep`.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from . import checks
from ._util import progress
from .denoiser import Cond, Images, Video

__all__ = ["sample_ddim", "sample_euler", "sample_heun", "sample_dpmpp_2m", "sample_dpmpp_3m", "SAMPLERS", "GRID_POWER", "ETA_CONVENTIONS", "initial_noise", "sample", "per_sample_noise"]


def _coeffs(model, ts: torch.Tensor, x) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Grid times plus the terminal clean state: ``(ts, alphas, sigmas)``, alphas/sigmas one longer.

    Also the low-level samplers' input check: ``model`` on the denoiser contract, ``ts`` numbers without NaN/inf,
    ``x`` (the noisy video) a finite batch."""
    checks.check_model(model)
    ts = checks.check_times("ts", ts, "the descending normalised times of model.schedule.grid(n_steps, M)")
    if ts.numel() < 1:
        raise ValueError("the time grid is empty")
    if not bool(torch.isfinite(ts).all()):
        raise ValueError(f"the time grid ts holds NaN or inf ({ts.tolist()}): build it with model.schedule.grid(n_steps, M)")
    if not isinstance(x, torch.Tensor):
        raise checks.InputTypeError(f"x (the noisy start video [B, F, C, H, W]) must be a torch.Tensor, got {type(x).__name__}"
                                    + (": pass torch.from_numpy(x)" if isinstance(x, np.ndarray) else ""))
    checks.check_not_meta("x", x)
    if x.ndim == 0:  # the batch size x.shape[0] of every model call failed with a bare IndexError
        raise ValueError("x (the noisy start video) is a 0-d tensor: pass a batch of videos, [B, F, C, H, W]")
    if x.shape[0] == 0:  # the model failed deep inside (a convolution of no items)
        raise ValueError(f"x (the noisy start video) holds no videos (batch size 0, shape {tuple(x.shape)}): pass at least one")
    checks.check_finite("x", x, "the noisy start video must be finite (initial_noise, or a state of a finite run)")
    if ts.numel() > 1 and not bool((ts[1:] < ts[:-1]).all()):
        raise ValueError("the time grid must be strictly decreasing")
    sched = model.schedule
    alphas = torch.cat([sched.alpha(ts), torch.ones(1, dtype=torch.float64)])
    sigmas = torch.cat([sched.sigma(ts), torch.zeros(1, dtype=torch.float64)])
    return ts, alphas, sigmas


def _low_level_cond(cond, callback) -> Mapping:
    """The low-level samplers' ``cond`` (``None`` or a dict / :class:`~cilnb.denoiser.Cond`) and ``callback`` (``None`` or
    a function), checked before the first model call: a tensor given as ``cond`` (``sample_ddim(model, x, ts, y)``)
    failed inside ``cond or {}`` with torch's "Boolean value of Tensor ... is ambiguous", a non-callable callback only
    after the first model call."""
    if cond is not None and not isinstance(cond, Mapping):
        fix = ": pass the conditional images as {'y': y}" if isinstance(cond, torch.Tensor) else ""
        raise checks.InputTypeError(f"cond must be a dict of conditioning (e.g. {{'y': y}} or model.prepare_condition(images)) or None, "
                                    f"got {type(cond).__name__}{fix}")
    if callback is not None and not callable(callback):
        raise checks.InputTypeError(f"callback must be a function of one dict (or None), got {type(callback).__name__}")
    return cond if cond is not None else {}


def _denoise(model, x: Video, t: float, cond: Cond | dict) -> Video:
    tt = torch.full((x.shape[0],), float(t), dtype=torch.float64)
    return model(x, tt, **cond)


def _step_x0(model, x: Video, ts: torch.Tensor, i: int, cond, callback) -> Video:
    """The model's ``x0`` at grid time ``ts[i]``, reported to ``callback`` (the samplers' shared step head)."""
    x0 = _denoise(model, x, ts[i], cond)
    if callback is not None:
        callback({"x": x, "i": i, "t": float(ts[i]), "denoised": x0})
    return x0


ETA_CONVENTIONS = ("cilnb", "official")
#: the largest DDIM ``eta`` (0: deterministic, 1: DDPM-like noise; above 1 the fresh noise already exceeds the next time's
#: sigma on most steps): far beyond any use, low enough that the noise cannot overflow (``eta = 1e200`` failed with a bare
#: ``OverflowError``, larger ones turned the videos into inf/NaN)
MAX_ETA = 1000.0
_ETA_FIX = "(0: deterministic DDIM, 1: DDPM-like noise)"


def _unrescaled_alphas(model, ts: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """``sqrt(alphas_cumprod)`` on the grid plus the clean state: the schedule's ``vp`` (DynamiCrafter's
    dynamic rescale, :class:`cilnb.models.generic.RescaledVPSchedule`) without its scale, else ``a`` itself."""
    vp = getattr(model.schedule, "vp", None)
    if vp is None:
        return a
    return torch.cat([vp.alpha(ts), torch.ones(1, dtype=torch.float64)])


@torch.no_grad()
def sample_ddim(model, x, ts, cond=None, *, callback=None, disable=None, generator=None, eta: float = 0.0,
                eta_convention: str = "cilnb"):
    """DDIM (Song et al. 2021, Eq. 12) on ``x_t = alpha x0 + sigma eps``; ``eta > 0`` adds fresh noise.

    ``eta_convention`` only matters for ``eta > 0`` on a rescaled schedule (DynamiCrafter's dynamic
    rescale, ``x_t = sqrt(abar) s_t X0 + sqrt(1 - abar) eps``): ``"cilnb"`` takes the noise variance
    of Eq. (12) from this ``alpha_t = sqrt(abar) s_t``, ``"official"`` from ``alphas_cumprod`` alone, as
    DynamiCrafter's ``make_ddim_sampling_parameters`` does (``sigma^2 = eta^2 (1 - abar_prev) /
    (1 - abar) (1 - abar / abar_prev)``), so the states match the official sampler at ``ddim_eta = 1``.
    Without a rescale the two agree. See docs/parity.md.

    ``generator`` (needed for ``eta > 0``): one ``torch.Generator`` for the whole batch, or one per
    sample (a list of ``B``), so that each sample's noise depends on its own generator only, not on
    the batch it runs in (what :func:`sample` passes).
    """
    cond = _low_level_cond(cond, callback)
    ts, a, s = _coeffs(model, ts, x)
    eta = checks.check_number("eta", eta, lo=0, hi=MAX_ETA, fix=_ETA_FIX)
    if eta_convention not in ETA_CONVENTIONS:
        raise ValueError(f"eta_convention must be one of {ETA_CONVENTIONS} (see docs/parity.md), got {eta_convention!r}")
    if eta > 0 and generator is None:
        raise ValueError("eta > 0 draws fresh noise: pass generator=")
    if isinstance(generator, (list, tuple)) and len(generator) != x.shape[0]:
        raise ValueError(f"generator: give one torch.Generator, or one per sample ({x.shape[0]}), got {len(generator)}")
    if generator is not None:
        bad = [g for g in (generator if isinstance(generator, (list, tuple)) else [generator]) if not isinstance(g, torch.Generator)]
        if bad:
            raise checks.InputTypeError(f"generator must be a torch.Generator or a list of them (one per sample), got {bad[0]!r} "
                                        f"({type(bad[0]).__name__}): pass e.g. torch.Generator().manual_seed(0)")
    a_var = _unrescaled_alphas(model, ts, a) if eta_convention == "official" else a
    for i in progress(range(len(ts)), disable=disable, desc="ddim", leave=False):
        x0 = _step_x0(model, x, ts, i, cond, callback)
        if s[i + 1] == 0:
            x = x0
            continue
        eps = (x - a[i] * x0) / s[i]
        if eta > 0:
            # posterior variance of q(x_next | x, x0) for x = alpha x0 + sigma eps (DDIM's sigma_t at eta = 1)
            var = s[i + 1] ** 2 * (1 - (a_var[i] ** 2 * s[i + 1] ** 2) / (a_var[i + 1] ** 2 * s[i] ** 2))
            std = float(eta) * float(var.clamp(min=0).sqrt())
            noise = _fresh_noise(x, generator)
            dir_s = (s[i + 1] ** 2 - std**2).clamp(min=0).sqrt()
            x = a[i + 1] * x0 + dir_s * eps + std * noise
        else:
            x = a[i + 1] * x0 + s[i + 1] * eps
    return x


@torch.no_grad()
def sample_euler(model, x, ts, cond=None, *, callback=None, disable=None, generator=None):
    """Euler on the probability-flow ODE in ``(x / alpha, sigma / alpha)`` (Karras et al. 2022, Alg. 1 without the correction).

    Mathematically the same path as deterministic DDIM, written as an ODE step; needs ``alpha > 0``
    on the grid (zero terminal SNR at ``t = 1``: use DDIM or start below T).
    """
    return _karras(model, x, ts, cond, callback=callback, disable=disable, second_order=False)


@torch.no_grad()
def sample_heun(model, x, ts, cond=None, *, callback=None, disable=None, generator=None):
    """Heun's 2nd-order method (Karras et al. 2022, Alg. 1), SVD's sampler; 2 model calls per step but the last."""
    return _karras(model, x, ts, cond, callback=callback, disable=disable, second_order=True)


def _karras(model, x, ts, cond, *, callback, disable, second_order: bool):
    cond = _low_level_cond(cond, callback)
    ts, a, s = _coeffs(model, ts, x)
    if bool((a[:-1] <= 0).any()):
        raise ValueError("Euler/Heun work on x/alpha and need alpha_t > 0 on the grid (zero terminal SNR at T): use sampler='ddim' or start below T")
    if bool((s[:-1] <= 0).any()):
        raise ValueError(f"Euler/Heun divide by sigma_t, which is 0 at grid time(s) {[float(t) for t in ts[s[:-1] <= 0]]}: the grid must stop "
                         "above the clean state (the sampler takes the last step to it itself); build it with model.schedule.grid(n_steps, M)")
    sig = s / a  # sigma-tilde, terminal 0
    xt = x / a[0]
    for i in progress(range(len(ts)), disable=disable, desc="heun" if second_order else "euler", leave=False):
        x0 = _denoise(model, xt * a[i], ts[i], cond)
        if callback is not None:
            callback({"x": xt * a[i], "i": i, "t": float(ts[i]), "denoised": x0})
        d = (xt - x0) / sig[i]
        x_next = xt + (sig[i + 1] - sig[i]) * d
        if second_order and sig[i + 1] > 0:
            x0_next = _denoise(model, x_next * a[i + 1], ts[i + 1], cond)
            d_next = (x_next - x0_next) / sig[i + 1]
            x_next = xt + (sig[i + 1] - sig[i]) * (d + d_next) / 2
        xt = x_next
    return xt


@torch.no_grad()
def sample_dpmpp_2m(model, x, ts, cond=None, *, callback=None, disable=None, generator=None):
    """DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Alg. 2): the multistep second-order solver of the
    probability-flow ODE in the data prediction, one model call per step.

    With ``lambda = log(alpha / sigma)`` and ``h = lambda_next - lambda_i``, each step is
    ``x_next = (sigma_next / sigma_i) x + alpha_next (1 - e^-h) D``, ``D = x0_i`` on the first step (where it
    is exactly DDIM) and ``D = (1 + 1/(2r)) x0_i - 1/(2r) x0_prev`` after it (``r = h_prev / h``). The last
    step to the clean state is first order, as diffusers' and k-diffusion's ``lower_order_final`` do for few
    steps: it returns the last ``x0``. Written in ``(alpha, sigma)`` rather than ``sigma / alpha``, so a
    zero-SNR start (``alpha_T = 0``) is a plain first step. Same calls and signature as :func:`sample_ddim`.
    """
    cond = _low_level_cond(cond, callback)
    ts, a, s = _coeffs(model, ts, x)
    lam = torch.log(a) - torch.log(s)  # -inf at alpha = 0, +inf at the clean state
    x0_prev = None
    for i in progress(range(len(ts)), disable=disable, desc="dpm++2m", leave=False):
        x0 = _step_x0(model, x, ts, i, cond, callback)
        if s[i + 1] == 0:
            x = x0
            continue
        h = lam[i + 1] - lam[i]
        d = x0
        if x0_prev is not None and bool(torch.isfinite(lam[i - 1])):
            r = (lam[i] - lam[i - 1]) / h
            d = x0 + (x0 - x0_prev) * float(1 / (2 * r))
        x = x * float(s[i + 1] / s[i]) + d * float(a[i + 1] * -torch.expm1(-h))
        x0_prev = x0
    return x


@torch.no_grad()
def sample_dpmpp_3m(model, x, ts, cond=None, *, callback=None, disable=None, generator=None):
    """DPM-Solver++(3M) (Lu et al. 2022, "DPM-Solver++", Sec. 4 and App. B): the multistep third-order solver of
    the probability-flow ODE in the data prediction, one model call per step.

    With ``lambda = log(alpha / sigma)``, ``h = lambda_next - lambda_i`` and the model's ``x0`` at the last three
    grid times (``D0`` now, then ``D_1``, ``D_2``), each step is ``x_next = (sigma_next / sigma_i) x - alpha_next
    (e^-h - 1) D0`` plus, when one earlier ``x0`` is known, ``alpha_next phi2 D1`` (``phi2 = (e^-h - 1) / h + 1``,
    ``D1 = (D0 - D_1) / r0``, ``r0 = h_prev / h``) and, when two are, the third-order form ``alpha_next (phi2 D1 -
    phi3 D2)`` (``phi3 = phi2 / h - 1/2``, ``D1`` and ``D2`` the divided differences of ``D0, D_1, D_2``), as
    diffusers' ``DPMSolverMultistepScheduler(solver_order=3, algorithm_type="dpmsolver++", solver_type="heun")``
    steps. The first step is DDIM, the second second order, and the last step to the clean state returns the last
    ``x0``. A step from a zero-SNR time (``alpha = 0``) starts the history anew. Same calls and signature as
    :func:`sample_ddim`; :data:`GRID_POWER` gives it a grid packed towards ``t = 0`` in :func:`sample`.
    """
    cond = _low_level_cond(cond, callback)
    ts, a, s = _coeffs(model, ts, x)
    lam = torch.log(a) - torch.log(s)  # -inf at alpha = 0, +inf at the clean state
    prev: list[torch.Tensor] = []  # the model's x0 at the previous grid times with finite lambda, newest last
    for i in progress(range(len(ts)), disable=disable, desc="dpm++3m", leave=False):
        x0 = _step_x0(model, x, ts, i, cond, callback)
        if s[i + 1] == 0:
            x = x0
            continue
        h = float(lam[i + 1] - lam[i])
        em = math.expm1(-h)  # e^-h - 1
        a_next = float(a[i + 1])
        x_next = x * float(s[i + 1] / s[i]) - x0 * (a_next * em)
        if prev:
            phi2 = em / h + 1
            r0 = float(lam[i] - lam[i - 1]) / h
            d1_0 = (x0 - prev[-1]) / r0
            if len(prev) == 1:
                x_next = x_next + d1_0 * (a_next * phi2)
            else:
                phi3 = phi2 / h - 0.5
                r1 = float(lam[i - 1] - lam[i - 2]) / h
                d1_1 = (prev[-1] - prev[-2]) / r1
                d1 = d1_0 + (d1_0 - d1_1) * (r0 / (r0 + r1))
                d2 = (d1_0 - d1_1) / (r0 + r1)
                x_next = x_next + d1 * (a_next * phi2) - d2 * (a_next * phi3)
        prev = (prev + [x0])[-2:] if bool(torch.isfinite(lam[i])) else []  # no history across a zero-SNR start
        x = x_next
    return x


SAMPLERS: dict[str, Callable] = {"ddim": sample_ddim, "euler": sample_euler, "heun": sample_heun, "dpm++2m": sample_dpmpp_2m,
                                 "dpm++3m": sample_dpmpp_3m}

# Exponent of the time grid each sampler steps on by default on DDPM (VP) schedules (``Schedule.grid(..., power=)``;
# 1: trailing). DPM-Solver++(3M) at 10 steps on the power-1.2 grid reads out as 50 DDIM steps on the toy within
# 0.6 s.e., where the trailing grid shifts frame-0 PSNR by 2.5 s.e. (benchmarks/README.md, "sampler_steps.py").
GRID_POWER: dict[str, float] = {"dpm++3m": 1.2}


def _fresh_noise(x: torch.Tensor, generator) -> torch.Tensor:
    """``N(0, I)`` shaped like ``x`` from one generator, or sample by sample from one generator each."""
    if isinstance(generator, (list, tuple)):
        return torch.stack([torch.randn(x.shape[1:], generator=g, dtype=x.dtype, device=g.device) for g in generator]).to(x.device)
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=generator.device).to(x.device)


def _eta_generators(seeds: Sequence[int]) -> list:
    """One CPU generator per sample for DDIM's fresh noise (``eta > 0``), seeded from the sample's seed through a
    hash, so this stream is independent of the sample's initial noise (:func:`per_sample_noise`, seeded by the seed itself)."""
    from ._util import hashed_seed

    return [torch.Generator().manual_seed(hashed_seed(f"cilnb-ddim-eta:{int(sd)}")) for sd in seeds]


def _check_noise_fits(n: int, shape: Sequence[int], dtype: torch.dtype, what: str, fix: str) -> None:
    """Refuse, before torch's allocator fails, a draw of ``n`` samples of ``shape`` that alone exceeds this machine's memory."""
    numel = float(n)
    for d in shape:
        numel *= d
    checks.check_fits_in_memory(numel * torch.finfo(dtype).bits / 8, f"{what}({n} x {tuple(shape)} {str(dtype).replace('torch.', '')})", fix)


def per_sample_noise(seeds: Sequence[int], shape: Sequence[int], *, dtype=torch.float32) -> torch.Tensor:
    """``N(0, I)`` of ``[len(seeds), *shape]``; sample ``b`` drawn from its own CPU generator seeded ``seeds[b]``."""
    if isinstance(seeds, (str, bytes, int)) or not hasattr(seeds, "__len__") or np.ndim(seeds) == 0:
        raise checks.InputTypeError(f"seeds must be a list of ints, one per sample (e.g. [0, 1, 2]), got {seeds!r} ({type(seeds).__name__})")
    seeds = checks.check_seeds(seeds if isinstance(seeds, (list, tuple, range)) or torch.is_tensor(seeds) or isinstance(seeds, np.ndarray)
                               else list(seeds), len(seeds), name="seeds")
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise checks.InputTypeError(f"shape must be the sample shape (a tuple of positive ints such as (F, C, H, W)), got {shape!r}")
    shape = tuple(checks.check_int(f"shape[{k}]", d, min=1, fix="(a sample dimension)") for k, d in enumerate(shape))
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise checks.InputTypeError(f"dtype must be a floating torch.dtype (e.g. torch.float32 or torch.float64), got {dtype!r}")
    _check_noise_fits(len(seeds), shape, dtype, "per_sample_noise", "pass one sample's shape (F, C, H, W), e.g. (8, 1, 32, 32)")
    out = torch.empty((len(seeds), *shape), dtype=dtype)
    gen = torch.Generator()
    for b, sd in enumerate(seeds):  # one draw per sample: results never depend on batch composition
        gen.manual_seed(int(sd))
        out[b] = torch.randn(tuple(shape), generator=gen, dtype=dtype)
    return out


def initial_noise(model, seeds: Sequence[int], shape: Sequence[int], start: float, init: str = "standard", stats=None) -> torch.Tensor:
    """The sample at ``M = start``: ``init="standard"`` draws ``N(0, prior_std^2 I)`` (``p_M = p_T``),
    ``init="analytic"`` draws Analytic-Init ``N(alpha_M E[X0], (alpha_M^2 tr(Cov)/d + sigma_M^2) I)`` (Eq. 5)."""
    sched = checks.check_model(model).schedule
    start = sched.parse_start(checks.check_number("start M", start, fix="(normalised in (0, 1]; 1 = T)"))
    z = per_sample_noise(seeds, shape, dtype=torch.float64)
    if init == "standard":
        return (z * sched.prior_std(start)).float()
    if init == "analytic":
        if stats is None:
            raise ValueError("init='analytic' needs stats= (a cilnb.analytic_init.MomentStats for this data/latent space)")
        from .analytic_init import init_params

        checks.check_stats(stats, optional=False)
        if tuple(stats.shape) != tuple(shape):
            raise ValueError(
                f"stats shape {tuple(stats.shape)} does not match the sample shape {tuple(shape)}: "
                "recompute the statistics (python -m cilnb stats / MomentStats) for this resolution and frame count"
            )
        mean, var = init_params(stats, float(sched.alpha(start)), float(sched.sigma(start)))
        mean = torch.as_tensor(mean, dtype=torch.float64)
        return (mean + float(var) ** 0.5 * z).float()
    raise ValueError(f"init must be 'standard' or 'analytic', got {init!r}")


def check_guidance(cond: Mapping) -> None:
    """Refuse negative or boolean guidance weights in the conditioning (``guidance`` / ``guidance_scale``) before sampling;
    the model names every other malformed spec (:func:`cilnb.models.base.guidance_weights`)."""
    for key in ("guidance", "guidance_scale"):
        g = cond.get(key) if key in cond else None
        if g is None or (isinstance(g, str) and g == "default"):
            continue
        if isinstance(g, (bool, np.bool_)):
            raise checks.InputTypeError(f"{key} must be a number, (first, last), [B] or [B, F] weights, got {g!r}: "
                                        "pass 1.0 for off or None for the model's default")
        try:
            w = g.detach().double() if torch.is_tensor(g) else torch.as_tensor(g, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            continue  # not numbers: the model says which forms it takes
        if w.numel() and bool((w < 0).any()):
            raise ValueError(f"{key} must be >= 0 (1 = off, > 1 strengthens the image condition), got {g!r}")


def check_finite_cond(cond: Mapping) -> None:
    """Refuse NaN/inf in the per-video conditioning extras (``motion``, embeddings...): they would turn every video into NaN.
    Guidance weights are the model's to check (:func:`cilnb.models.base.guidance_weights` names them)."""
    for k, v in cond.items():
        checks.check_not_meta(f"cond[{k!r}]", v)  # every value check below met torch's "item() cannot be called on meta tensors"
        if k in ("y", "guidance", "guidance_scale"):
            continue
        if torch.is_tensor(v):
            bad = int((~torch.isfinite(v)).sum()) if (v.is_floating_point() or v.is_complex()) else 0
        elif isinstance(v, np.ndarray):
            bad = int((~np.isfinite(v)).sum()) if v.dtype.kind in "fc" else 0
        elif isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)):
            bad = int(not math.isfinite(float(v)))
        elif isinstance(v, (list, tuple)) and all(isinstance(e, numbers.Real) and not isinstance(e, (bool, np.bool_)) for e in v):
            bad = sum(not math.isfinite(float(e)) for e in v)
        else:
            continue
        if bad:
            raise ValueError(f"cond[{k!r}] contains {bad} non-finite value(s) (NaN or inf): give finite conditioning "
                             "(every video of a NaN condition comes out NaN)")


@torch.no_grad()
def _grid(sched, n_steps: int, start: float, sampler: str, grid_power: float | None) -> torch.Tensor:
    """The descending times :func:`sample` steps on: ``sched.grid``, with the sampler's :data:`GRID_POWER` on VP schedules."""
    vp = getattr(sched, "kind", None) == "vp"
    if grid_power is None:
        power = GRID_POWER.get(sampler, 1.0) if vp else 1.0
    else:
        power = checks.check_number("grid_power", grid_power, lo=0, lo_open=True, fix="(time-grid exponent: 1 is trailing, > 1 packs steps near t = 0)")
        if power != 1.0 and not vp:
            raise ValueError(f"grid_power = {power:g} re-spaces DDPM (VP) grids; this {getattr(sched, 'kind', type(sched).__name__)} schedule "
                             "steps on its own grid: pass grid_power=None (or 1)")
    return sched.grid(n_steps, start) if power == 1.0 else sched.grid(n_steps, start, power=power)


def sample(
    model,
    y: Images | Cond,
    *,
    n_steps: int = 50,
    start: float | None = 1.0,
    start_native: float | None = None,
    init: str = "standard",
    stats=None,
    sampler: str = "ddim",
    seed: int | Sequence[int] = 0,
    frames: int | None = None,
    cond: dict | None = None,
    callback=None,
    show_progress: bool = True,
    eta: float = 0.0,
    batch_size: int | None = None,
    eta_convention: str = "cilnb",
    remedy=None,
    images: Images | None = None,
    grid_power: float | None = None,
) -> Video:
    """Generate videos ``[B, F, C, H, W]`` from conditional images ``y`` (``[B, C, H, W]``).

    ``y`` is the conditional image tensor, or the whole conditioning: a :class:`cilnb.denoiser.Cond`
    (what ``model.prepare_condition(images)`` returns) or a dict holding ``"y"``. ``cond`` adds
    per-video extras (e.g. ``{"motion": tensor [B]}``) to either; a key in both is an error.

    ``start`` is M normalised in (0, 1] (or ``start_native``, e.g. ``sigma_M = 100`` for SVD); the
    ``n_steps`` grid is re-spaced over ``[0, M]``. ``seed`` is an int (sample ``b`` uses
    ``seed + b``) or one seed per image. ``frames`` defaults to ``model.n_frames`` or
    ``stats.shape[0]``. Alg. 1 with ``init="analytic"``. ``eta``/``eta_convention``: see :func:`sample_ddim`;
    with ``eta > 0`` each sample's fresh noise comes from its own seed (not its batch), like its initial noise.
    Inputs are checked by :mod:`cilnb.checks` (``y`` float in the model's range, one seed per image).

    ``remedy``: an inference-time remedy (:mod:`cilnb.remedies`: an object, a name such as
    ``"freeinit"`` or ``"alg+analytic_init"``, or a spec dict); a remedy that asks for a start time
    (``analytic_init(start=...)``) sets M. ``images``: the pixel conditional images ``[B, 3, H, W]``,
    needed only by remedies that encode them (FrameInit on latent models). Per-sample seeding holds
    with every remedy.

    ``grid_power``: exponent of the time grid on DDPM (VP) schedules (:meth:`cilnb.schedules.VPSchedule.grid`;
    1 is trailing, > 1 packs the steps towards ``t = 0``); ``None``: the sampler's default, :data:`GRID_POWER`
    (``dpm++3m``: 1.2), else 1. EDM and flow schedules step on their own grids (Karras sigmas, shifted flow times).
    """
    checks.check_model(model)
    show_progress = checks.check_bool("show_progress", show_progress)
    full = Cond.of(y) if isinstance(y, Mapping) else Cond(y)  # the one coercion; y itself is checked next
    y = checks.check_model_input("y", checks.check_not_meta("y", full.y), model, rank=4,
                                 layout="[B, C, H, W] (conditional images)")  # rank, dtype, NaN/inf
    seeds = checks.check_seeds(seed, y.shape[0])  # one int per image
    extra = checks.check_cond(full.extras, y.shape[0], scalars=False)
    added = checks.check_cond(cond, y.shape[0], scalars=False)
    if "y" in added:  # sample(model, cond["y"], cond=cond): the same tensor twice is the old spelling, accepted
        if added.pop("y") is not full.y:
            raise ValueError("cond= holds another 'y' than the y given: pass the whole conditioning as y (sample(model, cond)), or y and the extras")
    both = sorted(set(extra) & set(added))
    if both:
        raise ValueError(f"conditioning {both} given both in y's Cond and in cond=: give each once")
    full = Cond(y, **extra, **added)  # every tensor with one entry per image
    check_guidance(full)
    check_finite_cond(full)
    if images is not None:
        if not isinstance(images, torch.Tensor):
            raise checks.InputTypeError(f"images must be a torch.Tensor [B, C, H, W] (the pixel conditional images) or None, got "
                                        f"{type(images).__name__}" + (": pass torch.from_numpy(images)" if isinstance(images, np.ndarray) else ""))
        if images.ndim != 4 or images.shape[0] != y.shape[0]:
            raise ValueError(f"images must be the pixel conditional images [B, C, H, W], one per image of y ({y.shape[0]}), "
                             f"got shape {tuple(images.shape)}")
        checks.check_not_meta("images", images)
        if not images.is_floating_point():
            raise checks.InputTypeError(f"images must be float pixels in [-1, 1], got dtype {images.dtype}"
                                        + (": convert with images.float() / 127.5 - 1" if images.dtype == torch.uint8 else ": convert with images.float()"))
        checks.check_finite("images", images)
        # 0..255 pixels: the remedies that read them were wrong; [0, 1] ones are warned of
        checks.warn_unit_range("images", images, checks.check_range("images", images, checks.PIXEL_RANGE))
    batch_size = checks.check_batch_size("batch_size", batch_size)
    eta = checks.check_number("eta", eta, lo=0, hi=MAX_ETA, fix=_ETA_FIX)
    frames = None if frames is None else checks.check_int("frames", frames, min=1, fix="(frames per video)")
    if not isinstance(sampler, str) or sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {sorted(SAMPLERS)}, got {sampler!r}")
    if not isinstance(init, str) or init not in ("standard", "analytic"):  # with a remedy, any other value was read as "standard"
        raise ValueError(f"init must be 'standard' or 'analytic', got {init!r}")
    if not isinstance(eta_convention, str) or eta_convention not in ETA_CONVENTIONS:
        raise ValueError(f"eta_convention must be one of {ETA_CONVENTIONS} (see docs/parity.md), got {eta_convention!r}")
    if callback is not None and not callable(callback):
        raise checks.InputTypeError(f"callback must be a function of one dict (or None), got {type(callback).__name__}")
    checks.check_stats(stats)
    if start is not None:
        start = checks.check_number("start M", start, fix="(normalised in (0, 1]; 1 = T)")
    if start_native is not None:
        start_native = checks.check_number("start_native", start_native, fix="(the native start time, e.g. sigma_M)")
        if start is not None and start != 1.0:
            raise ValueError(f"give start or start_native, not both (start={start:g}, start_native={start_native:g}): "
                             "pass start=None with start_native")
    if eta > 0 and sampler != "ddim":
        raise ValueError(f"eta = {eta:g} adds fresh noise only in DDIM; sampler {sampler!r} is deterministic: "
                         "pass sampler='ddim', or eta=0")
    sched = model.schedule
    rem = None
    if remedy is not None:
        from .remedies import resolve

        rem = resolve(remedy)
        if rem.start is not None:
            if start_native is not None or (start is not None and float(start) not in (1.0, rem.start)):
                raise ValueError(f"remedy {rem.label()} sets the start time M = {rem.start}; do not also pass start/start_native")
            start, start_native = rem.start, None
    if start_native is not None:
        try:
            start = sched.parse_start(native=start_native)
        except ValueError as exc:
            raise ValueError(f"start_native = {start_native:g} is not a start time of this schedule (native times run up to "
                             f"{float(sched.to_native(1.0)):g} at M = 1): {exc}") from None
    else:
        start = sched.parse_start(start)
    B = y.shape[0]
    if frames is None:
        frames = getattr(model, "n_frames", None) or (stats.shape[0] if stats is not None else None)
        if frames is None:
            raise ValueError("pass frames= (the model has no n_frames and no stats were given)")
    shape = (int(frames), *y.shape[1:])
    _check_noise_fits(B, shape, torch.float64, "the initial noise of sample",
                      f"pass the frames the model makes (frames={getattr(model, 'n_frames', None) or 'the model.n_frames'}) or fewer images per call")
    ts = _grid(sched, n_steps, start, sampler, grid_power)
    device = y.device
    gens = _eta_generators(seeds) if eta > 0 else None  # per sample: a video never depends on its batch
    fn = SAMPLERS[sampler]
    kwargs = {"eta": eta, "eta_convention": eta_convention} if sampler == "ddim" else {}
    step = batch_size or B

    def run(x: Video, full_cond: Cond | dict) -> Video:
        full_cond = Cond.of(full_cond)
        outs = []
        for lo in range(0, B, step):
            sl = slice(lo, lo + step)
            c = full_cond.select(sl)
            xs = x[sl].to(device=device, dtype=y.dtype)
            outs.append(fn(model, xs, ts, c, callback=callback, disable=not show_progress, generator=gens and gens[sl], **kwargs))
        return torch.cat(outs)

    if rem is None:
        return run(initial_noise(model, seeds, shape, start, init, stats), full)
    from .remedies.base import Context, run as run_remedy

    ctx = Context(model=model, y=y, seeds=seeds, shape=shape, start=start, ts=ts, stats=stats, images=images, init=init)
    return run_remedy(rem, ctx, full, run)

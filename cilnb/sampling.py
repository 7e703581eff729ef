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

from typing import Callable, Sequence

import torch

from ._util import check_finite, progress

__all__ = ["sample_ddim", "sample_euler", "sample_heun", "SAMPLERS", "initial_noise", "sample", "per_sample_noise"]


def _coeffs(model, ts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Grid times plus the terminal clean state: ``(ts, alphas, sigmas)``, alphas/sigmas one longer."""
    ts = torch.as_tensor(ts, dtype=torch.float64).flatten()
    if ts.numel() < 1:
        raise ValueError("the time grid is empty")
    if ts.numel() > 1 and not bool((ts[1:] < ts[:-1]).all()):
        raise ValueError("the time grid must be strictly decreasing")
    sched = model.schedule
    alphas = torch.cat([sched.alpha(ts), torch.ones(1, dtype=torch.float64)])
    sigmas = torch.cat([sched.sigma(ts), torch.zeros(1, dtype=torch.float64)])
    return ts, alphas, sigmas


def _denoise(model, x, t: float, cond: dict) -> torch.Tensor:
    tt = torch.full((x.shape[0],), float(t), dtype=torch.float64)
    return model(x, tt, **cond)


@torch.no_grad()
def sample_ddim(model, x, ts, cond=None, *, callback=None, disable=None, generator=None, eta: float = 0.0):
    """DDIM (Song et al. 2021, Eq. 12) on ``x_t = alpha x0 + sigma eps``; ``eta > 0`` adds fresh noise."""
    cond = cond or {}
    ts, a, s = _coeffs(model, ts)
    if eta < 0:
        raise ValueError(f"eta must be >= 0, got {eta}")
    if eta > 0 and generator is None:
        raise ValueError("eta > 0 draws fresh noise: pass generator=")
    for i in progress(range(len(ts)), disable=disable, desc="ddim", leave=False):
        x0 = _denoise(model, x, ts[i], cond)
        if callback is not None:
            callback({"x": x, "i": i, "t": float(ts[i]), "denoised": x0})
        if s[i + 1] == 0:
            x = x0
            continue
        eps = (x - a[i] * x0) / s[i]
        if eta > 0:
            # posterior variance of q(x_next | x, x0) for x = alpha x0 + sigma eps (DDIM's sigma_t at eta = 1)
            var = s[i + 1] ** 2 * (1 - (a[i] ** 2 * s[i + 1] ** 2) / (a[i + 1] ** 2 * s[i] ** 2))
            std = float(eta) * float(var.clamp(min=0).sqrt())
            noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=generator.device).to(x.device)
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
    cond = cond or {}
    ts, a, s = _coeffs(model, ts)
    if bool((a[:-1] <= 0).any()):
        raise ValueError("Euler/Heun work on x/alpha and need alpha_t > 0 on the grid (zero terminal SNR at T): use sampler='ddim' or start below T")
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


SAMPLERS: dict[str, Callable] = {"ddim": sample_ddim, "euler": sample_euler, "heun": sample_heun}


def per_sample_noise(seeds: Sequence[int], shape: Sequence[int], *, dtype=torch.float32) -> torch.Tensor:
    """``N(0, I)`` of ``[len(seeds), *shape]``; sample ``b`` drawn from its own CPU generator seeded ``seeds[b]``."""
    out = torch.empty((len(seeds), *shape), dtype=dtype)
    gen = torch.Generator()
    for b, sd in enumerate(seeds):  # one draw per sample: results never depend on batch composition
        gen.manual_seed(int(sd))
        out[b] = torch.randn(tuple(shape), generator=gen, dtype=dtype)
    return out


def initial_noise(model, seeds: Sequence[int], shape: Sequence[int], start: float, init: str = "standard", stats=None) -> torch.Tensor:
    """The sample at ``M = start``: ``init="standard"`` draws ``N(0, prior_std^2 I)`` (``p_M = p_T``),
    ``init="analytic"`` draws Analytic-Init ``N(alpha_M E[X0], (alpha_M^2 tr(Cov)/d + sigma_M^2) I)`` (Eq. 5)."""
    sched = model.schedule
    z = per_sample_noise(seeds, shape, dtype=torch.float64)
    if init == "standard":
        return (z * sched.prior_std(start)).float()
    if init == "analytic":
        if stats is None:
            raise ValueError("init='analytic' needs stats= (a cilnb.analytic_init.MomentStats for this data/latent space)")
        from .analytic_init import init_params

        if tuple(stats.shape) != tuple(shape):
            raise ValueError(
                f"stats shape {tuple(stats.shape)} does not match the sample shape {tuple(shape)}: "
                "recompute the statistics (python -m cilnb stats / MomentStats) for this resolution and frame count"
            )
        mean, var = init_params(stats, float(sched.alpha(start)), float(sched.sigma(start)))
        mean = torch.as_tensor(mean, dtype=torch.float64)
        return (mean + float(var) ** 0.5 * z).float()
    raise ValueError(f"init must be 'standard' or 'analytic', got {init!r}")


@torch.no_grad()
def sample(
    model,
    y: torch.Tensor,
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
) -> torch.Tensor:
    """Generate videos ``[B, F, C, H, W]`` from conditional images ``y`` (``[B, C, H, W]``).

    ``start`` is M normalised in (0, 1] (or ``start_native``, e.g. ``sigma_M = 100`` for SVD); the
    ``n_steps`` grid is re-spaced over ``[0, M]``. ``seed`` is an int (sample ``b`` uses
    ``seed + b``) or one seed per image. ``frames`` defaults to ``model.n_frames`` or
    ``stats.shape[0]``. Alg. 1 with ``init="analytic"``.
    """
    if y.ndim != 4:
        raise ValueError(f"y must be [B, C, H, W], got shape {tuple(y.shape)}")
    check_finite("y", y)
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {sorted(SAMPLERS)}, got {sampler!r}")
    sched = model.schedule
    if start_native is not None:
        start = sched.parse_start(native=start_native)
    else:
        start = sched.parse_start(start)
    B = y.shape[0]
    seeds = [int(seed) + b for b in range(B)] if isinstance(seed, int) else [int(s) for s in seed]
    if len(seeds) != B:
        raise ValueError(f"got {len(seeds)} seeds for {B} images")
    if frames is None:
        frames = getattr(model, "n_frames", None) or (stats.shape[0] if stats is not None else None)
        if frames is None:
            raise ValueError("pass frames= (the model has no n_frames and no stats were given)")
    shape = (int(frames), *y.shape[1:])
    ts = sched.grid(n_steps, start)
    x = initial_noise(model, seeds, shape, start, init, stats)
    device = y.device
    extra = dict(cond or {})
    for k, v in extra.items():
        if torch.is_tensor(v) and v.shape[:1] != (B,):
            raise ValueError(f"cond[{k!r}] has batch size {v.shape[0]}, expected {B}")
    gen = torch.Generator().manual_seed(seeds[0]) if eta > 0 else None
    fn = SAMPLERS[sampler]
    kwargs = {"eta": eta} if sampler == "ddim" else {}
    step = batch_size or B
    outs = []
    for lo in range(0, B, step):
        sl = slice(lo, lo + step)
        c = {"y": y[sl], **{k: (v[sl] if torch.is_tensor(v) else v) for k, v in extra.items()}}
        xs = x[sl].to(device=device, dtype=y.dtype)
        outs.append(fn(model, xs, ts, c, callback=callback, disable=not show_progress, generator=gen, **kwargs))
    return torch.cat(outs)

"""TimeNoise: a time-dependent logit-normal noise level for the conditional image (Eq. 6, Alg. 2).

During fine-tuning the conditional image is perturbed as ``y_s = y_0 + beta_s eps`` with
``eps ~ N(0, I)`` and a noise level ``beta_s`` whose distribution moves with the diffusion time::

    logit(beta_s / beta_m) ~ N(mu(t), 1),        mu(t) = 2 t^a - 1,   t in [0, 1] (1 = T)

so ``beta_s in (0, beta_m)``, with mostly high levels at large ``t`` (where ``X_t`` carries little
about the video and the model would otherwise lean on ``y_0``) and mostly low levels near ``t = 0``.
The paper uses ``a = 5`` everywhere and ``beta_m`` = 25 (VideoCrafter1), 100 (DynamiCrafter, SVD in
the paper; the official SVD train config uses 15). At inference the clean ``y_0`` is used.

Ablation modes of :func:`add_timenoise` (Sec. 4.2, Table 2 "conditioning augmentation", Fig. 9, App. D):

==============  ===================================================================================
``additive``    TimeNoise, Eq. (6): ``y_0 + beta_s eps``, ``beta_s ~ p_t`` (the method).
``interp``      Eq. (20): ``(1 - beta_s) y_0 + beta_s eps`` with ``beta_s ~ p_t``; the paper sets
                ``beta_m = 1`` (it discolours SVD, Fig. 12). Needs ``beta_m <= 1``.
``constant``    The paper's "naive baseline using a single value": no distribution, the one
                deterministic level ``beta_s = beta_m (mu(t) + 1) / 2 = beta_m t^a`` per ``t``
                (still time-dependent; "poor image alignment", Fig. 9).
``fixed``       One fixed level ``beta_s = level`` for every sample and every ``t``: CDM's inference-time
                conditioning augmentation ("a fixed noise level across all time steps, following
                CDM"); trained this way it is the "CDM" row (low motion, Fig. 9).
``cdm``         CDM's training-time augmentation: ``beta_s ~ U(0, beta_m)`` independent of ``t``
                (Ho et al. 2022); pair it with ``fixed`` at inference.
==============  ===================================================================================

Random functions take ``generator=`` (a ``torch.Generator``) **or** ``seed=`` (an int); exactly one
is required and the global RNG is never used. Draws happen on the generator's device in float64
(levels) / the image dtype (``eps``) and are moved to the image's device.

Official code (thu-ml/cond-image-leakage): ``beta_m * sigmoid(randn + mu)``, ``mu = 2 (t/1000)^a - 1``
for the integer DDPM timestep ``t``; the SVD example normalises EDM time as ``sigma / 700``.
Shown in ``notebooks/timenoise.ipynb``.
"""
from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np
import torch

from . import checks
from ._util import check_finite, make_generator

__all__ = [
    "MODES",
    "mu",
    "log_density",
    "density",
    "cdf",
    "quantile",
    "sample_beta",
    "add_timenoise",
    "density_grid",
    "check_samples",
    "check_verdict",
    "PAPER_SETTINGS",
]

MODES = ("additive", "interp", "constant", "fixed", "cdm")
_F64 = torch.float64
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_TINY = float(np.finfo(np.float64).tiny)  # the smallest normal float64


# ----------------------------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------------------------


def _is_scalar(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _bool_or_complex(x) -> bool:
    """Whether ``x`` holds booleans or complex numbers (which a float64 conversion would turn into 0/1 or real parts)."""
    if isinstance(x, torch.Tensor):
        return x.dtype == torch.bool or x.is_complex()
    if isinstance(x, (list, tuple)):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError):
            return False
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "bc"
    return isinstance(x, (np.bool_, complex, np.complexfloating))


def _tensor(x, name: str) -> torch.Tensor:
    if isinstance(x, bool):
        raise ValueError(f"{name} must be a number or tensor, got a bool")
    if x is None or isinstance(x, (str, bytes)):
        raise checks.InputTypeError(f"{name} must be a real number or array, got {x!r} ({type(x).__name__})")
    checks.check_not_meta(name, x)  # a shape without values: torch's "Cannot copy out of meta tensor" otherwise
    if isinstance(x, torch.Tensor):  # converted to float64 below: a huge (e.g. expanded) tensor fails in torch's allocator
        checks.check_fits_in_memory(8.0 * x.numel(), f"{name} of shape {tuple(x.shape)}",
                                    f"{name} is converted to float64 ({x.numel():,} values): pass fewer values")
    if _bool_or_complex(x):
        dtype = f" of dtype {x.dtype}" if isinstance(x, (torch.Tensor, np.ndarray)) else ""
        raise checks.InputTypeError(f"{name} must hold real numbers, got booleans or complex values ({type(x).__name__}{dtype}; "
                                    "booleans would be read as 0/1, complex values lose their imaginary part): pass float values")
    try:
        out = x.detach().to("cpu", _F64) if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float64))
    except OverflowError:  # an int beyond float64 (10**400): "int too large to convert to float" from numpy
        raise ValueError(f"{name} holds a number too large for float64 (at most {np.finfo(np.float64).max:.4g}), got {x!r:.60}: "
                         f"pass {name} in its range") from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real number or array, got {x!r}") from exc
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"{name} must be finite, got non-finite value(s) in {x!r}")
    return out


def _check_t(t, name: str = "t") -> torch.Tensor:
    tt = _tensor(t, name)
    if bool((tt < 0).any()) or bool((tt > 1).any()):
        raise ValueError(
            f"{name} must be the normalised time in [0, 1] (1 = T), got min {tt.min().item():.6g}, max {tt.max().item():.6g}; "
            "divide a DDPM timestep by num_train_timesteps (the official code uses t / 1000)"
        )
    return tt


def check_a(a) -> torch.Tensor:
    """TimeNoise's ``a`` (Eq. 6) as a float64 tensor, each value > 0."""
    aa = _tensor(a, "a")
    if bool((aa <= 0).any()):
        raise ValueError(f"a must be > 0 (mu(t) = 2 t^a - 1; the paper uses a = 5), got {a!r}")
    return aa


def check_beta_m(beta_m) -> torch.Tensor:
    """TimeNoise's ``beta_m`` (the maximum noise level) as a float64 tensor, each value a normal float > 0."""
    bm = _tensor(beta_m, "beta_m")
    if bool((bm <= 0).any()):
        raise ValueError(f"beta_m (the maximum noise level) must be > 0, got {beta_m!r}")
    if bool((bm < _TINY).any()):  # subnormal: its levels hold a few bits (draws come out quantised) and the density is inf
        raise ValueError(f"beta_m = {float(bm.min()):g} is below float64's smallest normal number ({_TINY:.4g}): its noise levels "
                         "cannot be held with any precision (the density overflows to inf); pass a larger beta_m (the paper uses 15 to 100)")
    return bm


def _broadcast(**named: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The tensors broadcast together, or a ``ValueError`` naming each argument's shape (not torch's bare message)."""
    _check_broadcast_size(**named)
    return torch.broadcast_tensors(*named.values())


def _check_broadcast_size(**named: torch.Tensor) -> None:
    """A ``ValueError`` when the tensors do not broadcast (naming each argument's shape, not torch's bare message) or
    when their broadcast shape is too large for this machine's memory (a few float64 arrays of it are computed)."""
    try:
        shape = torch.broadcast_shapes(*(v.shape for v in named.values()))
    except RuntimeError:
        shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in named.items())
        raise ValueError(f"the shapes of {shapes} do not broadcast together: give scalars, or arrays of one shape "
                         "(e.g. t [B] with scalar a and beta_m)") from None
    n = math.prod(shape)
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in named.items())
    checks.check_fits_in_memory(8.0 * 4 * n, f"TimeNoise over the broadcast of {shapes} ({n:,} values)",
                                "pass fewer values (e.g. t [B] with scalar a and beta_m)")


def scalar_param(name: str, value, check) -> float:
    """One number (``a`` or ``beta_m``) for the tabulating functions, validated by ``check`` (:func:`check_a`, ...)."""
    if isinstance(value, (str, bytes)) or value is None:
        raise checks.InputTypeError(f"{name} must be one real number, got {value!r} ({type(value).__name__})")
    v = check(value)
    if v.numel() != 1:
        raise ValueError(f"{name} must be one number here, got shape {tuple(v.shape)}")
    return float(v.reshape(()))


def _generator(generator, seed) -> torch.Generator:
    if generator is not None and seed is not None:
        raise ValueError("pass either generator= or seed=, not both")
    if generator is None and seed is None:
        raise ValueError("a generator= (torch.Generator) or seed= (int) is required: cilnb never draws from the global RNG")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}; pass an int as seed= instead")
    return make_generator(generator if generator is not None else seed)


def _ret(x: torch.Tensor, scalar: bool):
    return float(x) if scalar else x


# ----------------------------------------------------------------------------------------------
# the distribution
# ----------------------------------------------------------------------------------------------


def mu(t, a):
    """Centre of TimeNoise, ``mu(t) = 2 t^a - 1`` on normalised ``t in [0, 1]`` (Sec. 3.2, Fig. 4b).

    Floats in, float out; otherwise a float64 tensor (broadcast of ``t`` and ``a``).
    Drawn by the figures of notebooks/timenoise.ipynb.
    """
    scalar = _is_scalar(t) and _is_scalar(a)
    tt, aa = _check_t(t), check_a(a)
    _check_broadcast_size(t=tt, a=aa)  # shapes that do not broadcast, or too many values: say which
    out = 2 * tt**aa - 1
    return _ret(out, scalar)


def _in_support(beta_s, t, a, beta_m):
    """``beta_s``, ``mu(t)``, ``beta_m`` validated and broadcast (float64), the mask of the open support
    ``(0, beta_m)``, and ``beta_s`` with points outside it moved to ``beta_m / 2`` (keeps the logit finite)."""
    b = _tensor(beta_s, "beta_s")
    m = torch.as_tensor(mu(_check_t(t), check_a(a)))
    bm = check_beta_m(beta_m)
    b, m, bm = _broadcast(beta_s=b, **{"mu(t, a)": m}, beta_m=bm)
    inside = (b > 0) & (b < bm)
    return b, m, bm, inside, torch.where(inside, b, bm / 2)


def log_density(beta_s, t, a, beta_m):
    """``log p_t(beta_s)`` of Eq. (6), ``-inf`` outside the open interval ``(0, beta_m)``, computed in log space.

    Drawn by the figures of notebooks/timenoise.ipynb.
    """
    scalar = all(_is_scalar(v) for v in (beta_s, t, a, beta_m))
    _, m, bm, inside, bs = _in_support(beta_s, t, a, beta_m)
    log_b, log_c = torch.log(bs), torch.log(bm - bs)
    z = log_b - log_c  # logit(beta_s / beta_m)
    lp = torch.log(bm) - _LOG_SQRT_2PI - log_b - log_c - 0.5 * (z - m) ** 2
    lp = torch.where(inside, lp, torch.full_like(lp, -math.inf))
    return _ret(lp, scalar)


def density(beta_s, t, a, beta_m):
    """TimeNoise density ``p_t(beta_s; mu(t), beta_m)``, Eq. (6); exactly 0 outside ``(0, beta_m)``.

    ``beta_m / sqrt(2 pi) / (beta_s (beta_m - beta_s)) exp(-(logit(beta_s / beta_m) - mu(t))^2 / 2)``,
    broadcast over all arguments, evaluated as ``exp(log_density)`` so tails and endpoints stay
    finite. Floats in, float out. Drawn by the figures of notebooks/timenoise.ipynb.
    """
    scalar = all(_is_scalar(v) for v in (beta_s, t, a, beta_m))
    lp = log_density(_tensor(beta_s, "beta_s"), t, a, beta_m)
    return _ret(torch.exp(lp), scalar)


def cdf(beta_s, t, a, beta_m):
    """``P(beta <= beta_s) = Phi(logit(beta_s / beta_m) - mu(t))`` (0 below 0, 1 above ``beta_m``); Eq. (6).

    Checked by :func:`check_samples` (notebooks/timenoise.ipynb).
    """
    scalar = all(_is_scalar(v) for v in (beta_s, t, a, beta_m))
    b, m, bm, inside, bs = _in_support(beta_s, t, a, beta_m)
    z = torch.log(bs) - torch.log(bm - bs)
    c = torch.special.ndtr(z - m)
    c = torch.where(inside, c, (b >= bm).to(_F64))
    return _ret(c, scalar)


def quantile(q, t, a, beta_m):
    """Inverse of :func:`cdf`: ``beta_m sigmoid(mu(t) + Phi^-1(q))`` for ``q in [0, 1]``; Eq. (6)."""
    scalar = all(_is_scalar(v) for v in (q, t, a, beta_m))
    qq = _tensor(q, "q")
    if bool((qq < 0).any()) or bool((qq > 1).any()):
        raise ValueError(f"q must lie in [0, 1], got {q!r}")
    m = torch.as_tensor(mu(_check_t(t), check_a(a)))
    bm = check_beta_m(beta_m)
    qq, m, bm = _broadcast(q=qq, **{"mu(t, a)": m}, beta_m=bm)
    return _ret(bm * torch.sigmoid(m + torch.special.ndtri(qq)), scalar)


def sample_beta(t, a, beta_m, generator: torch.Generator | None = None, *, seed: int | None = None) -> torch.Tensor:
    """One TimeNoise level per entry of ``t``: ``beta_m * sigmoid(N(mu(t), 1))`` (Eq. 6, Alg. 2 line 4).

    ``t`` is normalised (``[B]`` or a scalar, giving a 0-d tensor). Exactly one of ``generator``
    (``torch.Generator``) or ``seed`` (int) is required. Returns float64 on the CPU.
    Checked by :func:`check_samples` (notebooks/timenoise.ipynb).
    """
    gen = _generator(generator, seed)
    tt = _check_t(t)
    m = torch.as_tensor(mu(tt, check_a(a)))
    bm = check_beta_m(beta_m)
    shape = _broadcast(t=tt, **{"mu(t, a)": m}, beta_m=bm)[0].shape
    z = torch.randn(shape, generator=gen, dtype=_F64, device=gen.device).cpu()
    return bm * torch.sigmoid(m + z)


def add_timenoise(
    y0: torch.Tensor,
    t,
    a: float,
    beta_m: float,
    generator: torch.Generator | None = None,
    *,
    seed: int | None = None,
    mode: str = "additive",
    level: float | None = None,
    return_beta: bool = False,
):
    """Perturb the conditional image with TimeNoise, ``y_s = y_0 + beta_s eps`` (Eq. 6, Alg. 2).

    ``y0`` is ``[B, ...]`` (e.g. ``[B, C, H, W]`` images, or ``[B, L, D]`` CLIP tokens, or SVD's VAE
    latent of ``y_0``); ``t`` is normalised, a scalar or ``[B]``. One ``beta_s`` per batch element,
    i.i.d. ``eps`` per element. ``mode`` picks the paper's ablations (see the module docstring):
    ``additive`` (the method), ``interp`` (Eq. 20, needs ``beta_m <= 1``), ``constant``
    (``beta_s = beta_m t^a``), ``fixed`` (``beta_s = level``, required there) and ``cdm``
    (``beta_s ~ U(0, beta_m)``). The level is drawn before ``eps``. Returns ``y_s`` in ``y0``'s
    dtype, and with ``return_beta=True`` also the float64 ``[B]`` levels used.
    Drawn in notebooks/timenoise_training.ipynb (:func:`cilnb.experiments.timenoise_views`).
    """
    return_beta = checks.check_bool("return_beta", return_beta)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not isinstance(y0, torch.Tensor) or y0.ndim < 1 or not y0.is_floating_point():
        raise checks.InputTypeError(
            f"y0 must be a floating tensor [B, ...], got {type(y0).__name__} {getattr(y0, 'dtype', '')} {tuple(getattr(y0, 'shape', ()))}: "
            "convert images with y0.float() (uint8 pixels: y0.float() / 127.5 - 1)"
        )
    checks.check_not_meta("y0", y0)
    if y0.shape[0] == 0:
        raise ValueError(f"y0 holds no items (batch size 0, shape {tuple(y0.shape)})")
    check_finite("y0", y0)
    B = y0.shape[0]
    tt = _check_t(t)
    if tt.ndim == 0:
        tt = tt.expand(B)
    if tt.shape != (B,):
        raise ValueError(f"t must be a scalar or have one entry per batch element of y0 ({B}), got shape {tuple(tt.shape)}")
    aa, bm = check_a(a), check_beta_m(beta_m)
    if aa.ndim or bm.ndim:
        raise ValueError("a and beta_m must be scalars")
    if mode == "interp" and float(bm) > 1:
        raise ValueError(f"mode='interp' (Eq. 20: (1 - beta_s) y0 + beta_s eps) needs beta_m <= 1 (the paper uses 1), got {float(bm)}")
    if mode == "fixed":
        if level is None or not _is_scalar(level) or not math.isfinite(level) or level < 0:
            raise ValueError(f"mode='fixed' needs level= a finite noise level >= 0 (the same beta_s for every t), got {level!r}")
    elif level is not None:
        raise ValueError(f"level= is only used by mode='fixed', not mode={mode!r}")
    gen = _generator(generator, seed)

    if mode in ("additive", "interp"):
        beta = sample_beta(tt, aa, bm, gen)
    elif mode == "constant":
        beta = bm * (torch.as_tensor(mu(tt, aa)) + 1) / 2
    elif mode == "fixed":
        beta = torch.full((B,), float(level), dtype=_F64)
    else:  # cdm
        beta = bm * torch.rand((B,), generator=gen, dtype=_F64, device=gen.device).cpu()

    eps = torch.randn(tuple(y0.shape), generator=gen, dtype=y0.dtype, device=gen.device).to(y0.device)
    view = (B,) + (1,) * (y0.ndim - 1)
    b = beta.to(y0.device, y0.dtype).view(view)
    ys = (1 - b) * y0 + b * eps if mode == "interp" else y0 + b * eps
    # born here: a level too large for y0's dtype (beta_m = 1e6 on float16 gives inf)
    checks.check_finite("add_timenoise's y_s", ys, fix=f"beta_m = {float(bm):g} overflows {y0.dtype} (largest "
                        f"{torch.finfo(y0.dtype).max:.4g}): pass y0 in float32 (y0.float()) or a smaller beta_m")
    return (ys, beta) if return_beta else ys


# ----------------------------------------------------------------------------------------------
# tidy data and figures for notebooks/timenoise.ipynb
# ----------------------------------------------------------------------------------------------


# (a, beta_m) of the paper's TimeNoise fine-tuning per model (Sec. 4 / App. A); beta_m in the units of
# the conditional input the noise is added to (latents for these models)
PAPER_SETTINGS = {"svd": (5.0, 100.0), "dynamicrafter": (5.0, 100.0), "videocrafter1": (5.0, 25.0)}


def density_grid(a: float, beta_m: float, n_t: int = 101, n_beta: int = 200):
    """``(t, beta, p)``: normalised times ``[n_t]``, interior levels ``[n_beta]`` and ``p_t(beta)`` ``[n_beta, n_t]``."""
    a = scalar_param("a", a, check_a)
    beta_m = scalar_param("beta_m", beta_m, check_beta_m)
    n_t = checks.check_int("n_t", n_t, min=2, fix="(time grid points)")
    n_beta = checks.check_int("n_beta", n_beta, min=2, fix="(level grid points)")
    if n_t < 2 or n_beta < 2:
        raise ValueError("n_t and n_beta must be >= 2")
    checks.check_fits_in_memory(8.0 * 4 * n_t * n_beta, f"density_grid(n_t={n_t}, n_beta={n_beta})",
                                "the density is tabulated as an n_beta x n_t float64 grid: pass fewer points, e.g. n_t=101, n_beta=200")
    t = torch.linspace(0, 1, n_t, dtype=_F64)
    beta = float(beta_m) * (torch.arange(n_beta, dtype=_F64) + 0.5) / n_beta
    if not bool(torch.isfinite(beta).all()):  # beta_m * (k + 0.5) overflowed (beta_m near float64's largest): divide first
        beta = float(beta_m) * ((torch.arange(n_beta, dtype=_F64) + 0.5) / n_beta)
    return t, beta, density(beta[:, None], t[None, :], a, beta_m)


def check_samples(t_values: Sequence[float], a: float, beta_m: float, n: int = 20000, seed: int = 0):
    """Sampler vs Eq. (6): per ``t`` a KS test against :func:`cdf` and the moments of ``logit(beta / beta_m)``.

    Returns a DataFrame with ``t, mu, logit_mean, logit_std, median_beta, ks_stat, ks_p, n``.
    Shown in notebooks/timenoise.ipynb.
    """
    import pandas as pd
    from scipy import stats

    t_values = checks.check_sequence("t_values", t_values, fix="e.g. [0.3, 0.8, 1.0]")
    if not t_values:
        raise ValueError("t_values is empty: give the normalised times to check, e.g. [0.3, 0.8, 1.0]")
    t_values = [checks.check_number(f"t_values[{i}]", t, lo=0, hi=1, fix="(a normalised time in [0, 1]; 1 = T)")
                for i, t in enumerate(t_values)]
    twice = checks.repeated(t_values)
    if twice:  # two rows of one t, from other draws: check_verdict's "median grows with t" would compare them
        raise ValueError(f"t_values lists {twice} more than once: each t is checked once (one row), pass each time once")
    a = scalar_param("a", a, check_a)
    beta_m = scalar_param("beta_m", beta_m, check_beta_m)
    n = checks.check_int("n", n, min=2, fix="(draws per t for the KS test)")
    checks.check_fits_in_memory(48 * n, f"check_samples(n={n})", "the draws of one t, their logits and the KS test's copies "
                                "(~48 bytes a draw) must fit at once: pass fewer draws, e.g. n=20000 (the default)")
    gen = make_generator(seed)
    rows = []
    for t in t_values:
        b = sample_beta(torch.full((n,), float(t), dtype=_F64), a, beta_m, gen)
        z = torch.log(b) - torch.log(beta_m - b)
        ks = stats.kstest(b.numpy(), lambda x: cdf(x, float(t), a, beta_m).numpy())
        rows.append(dict(t=float(t), mu=mu(float(t), float(a)), logit_mean=z.mean().item(), logit_std=z.std().item(),
                         median_beta=b.median().item(), ks_stat=float(ks.statistic), ks_p=float(ks.pvalue), n=n))
    return pd.DataFrame(rows)


def check_verdict(table, p_min: float = 1e-3) -> dict:
    """Did the sampler reproduce Eq. (6) and the "more noise at larger t" principle in a :func:`check_samples` table?

    ``ks_ok``: every KS p-value above ``p_min``; ``moments_ok``: ``logit(beta / beta_m)`` has mean
    ``mu(t)`` (within 5 standard errors) and std 1 (within 5%); ``monotone_ok``: the median level
    grows with ``t``; ``holds``: all three.
    """
    import pandas as pd

    from .tables import check_table

    if not isinstance(table, pd.DataFrame):
        raise checks.InputTypeError(f"table must be a check_samples DataFrame, got {type(table).__name__}")
    cols = ["t", "n", "ks_p", "logit_mean", "mu", "logit_std", "median_beta"]
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the columns {missing}: pass the DataFrame that check_samples returns")
    if table.empty:
        raise ValueError("table is empty: check_samples(t_values, ...) with at least one t")
    check_table("table", table, cols, "the DataFrame that check_samples returns", numeric=cols)  # text columns compared as text
    p_min = checks.check_number("p_min", p_min, lo=0, hi=1, fix="(the smallest KS p-value accepted, e.g. 1e-3)")
    for c in cols:  # a NaN made a check False (or, for n, every moment pass) without a word
        bad = ~np.isfinite(table[c].to_numpy(dtype=float))
        if bad.any():
            raise ValueError(f"table[{c!r}] holds {int(bad.sum())} NaN or infinite value(s): pass the DataFrame that check_samples returns")
    n = table["n"].to_numpy(dtype=float)
    if ((n < 2) | (n != np.round(n))).any():  # n = 0 gave an infinite standard error: every mean "matched" mu(t)
        raise ValueError(f"table['n'] must be the whole number of draws per t (>= 2), got {table['n'].tolist()}: "
                         "pass the DataFrame that check_samples returns")
    twice = checks.repeated(table["t"].tolist())
    if twice:  # rows of one t, in no order: the median's growth with t is not defined
        raise ValueError(f"table lists t = {twice} in more than one row: pass the DataFrame that check_samples returns (one row per t)")
    t = table.sort_values("t")
    se = 1.0 / t["n"] ** 0.5
    out = dict(
        ks_ok=bool((t["ks_p"] > p_min).all()),
        moments_ok=bool(((t["logit_mean"] - t["mu"]).abs() < 5 * se).all() and ((t["logit_std"] - 1).abs() < 0.05).all()),
        monotone_ok=bool(t["median_beta"].is_monotonic_increasing),
        min_ks_p=float(t["ks_p"].min()),
    )
    out["holds"] = out["ks_ok"] and out["moments_ok"] and out["monotone_ok"]
    return out


# deprecated for one release: the figures live in cilnb.plotting, the model's setting in cilnb.experiments
_MOVED = {"plot_density": "cilnb.plotting:plot_timenoise_density", "plot_mu": "cilnb.plotting:plot_timenoise_mu",
          "plot_samples": "cilnb.plotting:plot_timenoise_samples", "settings_for": "cilnb.experiments:timenoise_settings"}


def __getattr__(name: str):
    if name in _MOVED:
        import importlib

        module, attr = _MOVED[name].split(":")
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'cilnb.timenoise' has no attribute {name!r}")

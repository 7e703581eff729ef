"""Figures of TimeNoise (Eq. 6, Fig. 4a/4b) for notebooks/timenoise.ipynb; the math is :mod:`cilnb.timenoise`."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..timenoise import check_samples, density, density_grid, mu, sample_beta
from .._util import make_generator

__all__ = ["plot_timenoise_density", "plot_timenoise_mu", "plot_timenoise_samples"]

_F64 = torch.float64


def _numbers(name: str, values, example: str, **bounds) -> list:
    """``values`` as a non-empty list of finite numbers (within ``bounds``, :func:`~cilnb.checks.check_number`'s
    ``lo``/``hi``/``lo_open``/``fix``): one number or a string is refused with the fix."""
    from ..checks import check_number, check_sequence, repeated

    values = check_sequence(name, values, fix=f"pass e.g. {name}={example}")
    if not values:
        raise ValueError(f"{name} is empty: give at least one value, e.g. {name}={example}")
    values = [check_number(f"{name}[{i}]", v, **bounds) for i, v in enumerate(values)]
    twice = repeated(values)
    if twice:  # the same curve was drawn twice, with two legend entries (check_samples refuses a repeated t too)
        raise ValueError(f"{name} lists {twice} more than once: each value draws one curve; pass each value once")
    return values


def _scalars(a, beta_m) -> tuple[float, float]:
    """``a`` and ``beta_m`` as the floats the math reads them as (:func:`cilnb.timenoise.density_grid`'s check): a one-element
    tensor or array passed the math but failed in the figure's labels ("unsupported format string passed to Tensor.__format__")."""
    from ..timenoise import check_a, check_beta_m, scalar_param

    return scalar_param("a", a, check_a), scalar_param("beta_m", beta_m, check_beta_m)


def plot_timenoise_density(a: float = 5.0, beta_m: float = 100.0, t_slices: Sequence[float] = (0.2, 0.6, 0.8, 0.9, 1.0), n_t: int = 201, n_beta: int = 300):
    """Fig. 4(a): heatmap of ``beta_m p_t(beta_s)`` over ``(t, beta_s)`` and density slices at a few ``t``.

    The heatmap shows the dimensionless ``beta_m p_t`` (the density of ``beta_s / beta_m``) with the
    median level ``beta_m sigmoid(mu(t))`` and the ``constant`` ablation ``beta_m t^a`` overlaid.
    Shown in notebooks/timenoise.ipynb.
    """
    import matplotlib.pyplot as plt

    t_slices = _numbers("t_slices", t_slices, "(0.2, 0.9)", lo=0, hi=1, fix="(a normalised time in [0, 1]; 1 = T)")
    t, beta, p = density_grid(a, beta_m, n_t, n_beta)
    a, beta_m = _scalars(a, beta_m)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.2, 1]})
    im = ax0.imshow((p * beta_m).numpy(), origin="lower", aspect="auto", extent=(0, 1, 0, beta_m), cmap="magma")
    fig.colorbar(im, ax=ax0, label=r"$\beta_m\,p_t(\beta_s)$")
    ax0.plot(t.numpy(), (beta_m * torch.sigmoid(torch.as_tensor(mu(t, a)))).numpy(), color="cyan", lw=1.5, label=r"median $\beta_m\,\sigma(\mu(t))$")
    ax0.plot(t.numpy(), (beta_m * t**a).numpy(), color="white", lw=1.2, ls="--", label=r"'constant' ablation $\beta_m t^a$")
    ax0.set(xlabel="t (normalised, 1 = T)", ylabel=r"$\beta_s$", title=rf"TimeNoise density, a = {a:g}, $\beta_m$ = {beta_m:g}")
    ax0.legend(loc="upper left", fontsize=8, framealpha=0.6)
    fine = float(beta_m) * torch.linspace(1e-4, 1 - 1e-4, 800, dtype=_F64)
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(t_slices)))
    for ts, c in zip(t_slices, colors):
        ax1.plot(fine.numpy(), density(fine, float(ts), a, beta_m).numpy(), color=c, label=f"t = {ts:g} (mu = {mu(float(ts), float(a)):+.2f})")
    ax1.set(xlabel=r"$\beta_s$", ylabel=r"$p_t(\beta_s)$", title="slices: more noise at larger t")
    ax1.set_ylim(0, ax1.get_ylim()[1] * 1.45)
    ax1.legend(fontsize=8, loc="upper center", ncol=2)
    fig.tight_layout()
    return fig


def plot_timenoise_mu(a_values: Sequence[float] = (0.1, 0.5, 1.0, 2.0, 5.0), beta_m: float | None = None):
    """Fig. 4(b): ``mu(t) = 2 t^a - 1`` for several ``a``, and the median level ``sigmoid(mu(t))`` (times ``beta_m``).

    Shown in notebooks/timenoise.ipynb.
    """
    import matplotlib.pyplot as plt

    from ..checks import check_number

    a_values = _numbers("a_values", a_values, "(0.5, 1.0, 5.0)", lo=0, lo_open=True, fix="(the exponent a of mu(t) = 2 t^a - 1)")
    if beta_m is not None:
        beta_m = check_number("beta_m", beta_m, lo=0, lo_open=True, fix="(TimeNoise's maximum level; None: the fraction beta_s / beta_m)")
    t = torch.linspace(0, 1, 201, dtype=_F64)
    scale = 1.0 if beta_m is None else float(beta_m)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.8))
    for av in a_values:
        m = torch.as_tensor(mu(t, av))
        kind = "linear" if av == 1 else ("concave" if av < 1 else "convex")
        ax0.plot(t.numpy(), m.numpy(), label=f"a = {av:g} ({kind})")
        ax1.plot(t.numpy(), (scale * torch.sigmoid(m)).numpy(), label=f"a = {av:g}")
    ax0.set(xlabel="t (normalised)", ylabel=r"$\mu(t)$", title=r"$\mu(t) = 2t^a - 1$ (Fig. 4b)", ylim=(-1.05, 1.05))
    ax0.legend(fontsize=8)
    ylab = r"median $\beta_s/\beta_m$" if beta_m is None else rf"median $\beta_s$ ($\beta_m$ = {scale:g})"
    ax1.set(xlabel="t (normalised)", ylabel=ylab, title=r"median level $\beta_m\,\sigma(\mu(t))$")
    fig.tight_layout()
    return fig


#: the most histogram bins :func:`plot_timenoise_samples` draws (a panel is ~300 pixels wide)
MAX_BINS = 10_000


def plot_timenoise_samples(a: float = 5.0, beta_m: float = 100.0, t_values: Sequence[float] = (0.3, 0.8, 0.9, 1.0), n: int = 20000, seed: int = 0, bins: int = 60,
                           p_min: float = 1e-3):
    """Histograms of :func:`sample_beta` draws at a few ``t`` over the Eq. (6) density, with KS p-values
    read for the learner: each panel says "consistent with Eq. (6)" and "pass" when ``p > p_min`` (the
    verdict's rule, :func:`cilnb.timenoise.check_verdict`), since a large p means no evidence that the sampler differs.

    Shown in notebooks/timenoise.ipynb.
    """
    import matplotlib.pyplot as plt

    from ..checks import check_int, check_number

    bins = check_int("bins", bins, min=1, fix="(histogram bins)")
    if bins > MAX_BINS:  # a panel is a few hundred pixels wide; 10**9 bins failed in matplotlib's allocator
        raise ValueError(f"bins = {bins} is more than a histogram panel can show (at most {MAX_BINS}, a few per pixel): pass "
                         "e.g. bins=60, the default")
    p_min = check_number("p_min", p_min, lo=0, hi=1, fix="(smallest KS p-value that passes, e.g. 1e-3)")
    table = check_samples(t_values, a, beta_m, n, seed)
    a, beta_m = _scalars(a, beta_m)
    gen = make_generator(seed)
    fig, axes = plt.subplots(1, len(t_values), figsize=(3.2 * len(t_values), 3.2), sharey=False, squeeze=False)
    fine = float(beta_m) * torch.linspace(1e-4, 1 - 1e-4, 600, dtype=_F64)
    for ax, t, (_, row) in zip(axes[0], t_values, table.iterrows()):
        b = sample_beta(torch.full((n,), float(t), dtype=_F64), a, beta_m, gen)
        ax.hist(b.numpy(), bins=bins, range=(0, float(beta_m)), density=True, alpha=0.55, label=f"{n} samples")
        ax.plot(fine.numpy(), density(fine, float(t), a, beta_m).numpy(), color="k", lw=1.3, label="Eq. (6)")
        ok = row.ks_p > p_min  # the notebook verdict's rule (check_verdict)
        ax.set(xlabel=r"$\beta_s$")
        if ok:
            title = f"t = {t:g}: consistent with Eq. (6)\nKS p = {row.ks_p:.2f} > {p_min:g}: pass"
        else:
            title = f"t = {t:g}: differs from Eq. (6)\nKS p = {row.ks_p:.2g} \u2264 {p_min:g}: FAIL"
        ax.set_title(title, fontsize=9, color="#1a7f37" if ok else "#c62828")
    axes[0][0].set_ylabel("density")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(rf"Sampler vs the density of Eq. (6) (a = {a:g}, $\beta_m$ = {beta_m:g}). KS test at each t: pass when p > {p_min:g}"
                 "\n(a large p means no evidence that the samples differ from the curve; a small p would flag a mismatch)",
                 fontsize=9.5)
    fig.tight_layout()
    return fig

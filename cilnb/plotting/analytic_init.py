"""Figures of Analytic-Init (Eq. 5, Prop. 1) for notebooks/analytic_init.ipynb; the math is :mod:`cilnb.analytic_init`."""
from __future__ import annotations

import math
from typing import Sequence

import torch

from ..analytic_init import GaussianMixture, init_params

__all__ = ["plot_init_params", "plot_init_kl", "plot_init_marginals"]

_F64 = torch.float64


def _kl_table(table, columns) -> None:
    from ..tables import check_table

    check_table("table", table, ["family", "M", *columns], "the table of cilnb.analytic_init.kl_table", numeric=["M", *columns])


def plot_init_params(table):
    """Eq. (5) vs ``M`` per family: the optimal mean scale ``alpha_M`` and variance ``sigma_p^2*`` (lines),
    the numeric argmin (markers) and the baseline variance (dashed). Shown in notebooks/analytic_init.ipynb."""
    import matplotlib.pyplot as plt

    _kl_table(table, ["mean_scale", "var_opt", "var_base"] + (["num_var"] if "num_mean_scale" in table else []))
    fams = list(dict.fromkeys(table["family"]))
    fig, axes = plt.subplots(2, len(fams), figsize=(4.2 * len(fams), 6.4), squeeze=False, sharex=True)
    for j, fam in enumerate(fams):
        t = table[table["family"] == fam]
        ax0, ax1 = axes[0][j], axes[1][j]
        ax0.plot(t["M"], t["mean_scale"], label=r"Eq. (5): $\alpha_M$")
        ax1.plot(t["M"], t["var_opt"], label=r"Eq. (5): $\sigma_p^{2*}$")
        ax1.plot(t["M"], t["var_base"], ls="--", color="gray", label="baseline variance")
        if "num_mean_scale" in t:
            ax0.plot(t["M"], t["num_mean_scale"], "o", ms=4, mfc="none", label="numeric argmin")
            ax1.plot(t["M"], t["num_var"], "o", ms=4, mfc="none", label="numeric argmin")
        ax0.set(title=f"{fam}: optimal mean scale", ylabel=r"mean scale $c$ in $c\,E[X_0]$", ylim=(-0.05, 1.08))
        ax1.set(title=f"{fam}: optimal variance", xlabel="M (normalised start time)", ylabel="variance")
        if t["var_opt"].max() / max(t["var_opt"].min(), 1e-300) > 100:
            ax1.set_yscale("log")
        ax0.legend(fontsize=8)
        ax1.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_init_kl(table):
    """``KL(q_M || p)`` vs ``M`` per family, split as ``KL(q_M || g_M) + KL(g_M || p)``.

    Solid/dashed: the exact part ``KL(g_M || p)`` that the choice of ``p`` controls, for
    Analytic-Init (Eq. 5) and the standard start; dotted: the Monte Carlo non-Gaussian part
    ``KL(q_M || g_M)`` shared by both (shown where it exceeds 2 standard errors).
    Shown in notebooks/analytic_init.ipynb."""
    import matplotlib.pyplot as plt

    _kl_table(table, ["kl_gauss_baseline", "kl_gauss_analytic", "nongauss", "nongauss_se"])
    fams = list(dict.fromkeys(table["family"]))
    fig, axes = plt.subplots(1, len(fams), figsize=(4.3 * len(fams), 3.8), squeeze=False)
    for ax, fam in zip(axes[0], fams):
        t = table[table["family"] == fam]
        ax.plot(t["M"], t["kl_gauss_baseline"], "--", label=r"standard $N(0, s_M^2 I)$")
        ax.plot(t["M"], t["kl_gauss_analytic"], label="Analytic-Init (Eq. 5)")
        sig = (t["nongauss"] > 2 * t["nongauss_se"]) & (t["nongauss"] > 1e-12)
        ax.plot(t["M"][sig], t["nongauss"][sig], ":", color="gray", label=r"shared $KL(q_M\|g_M)$ (MC)")
        ax.set_yscale("log", nonpositive="mask")
        ax.set(title=fam, xlabel="M (normalised start time)", ylabel=r"$KL(g_M \| p)$ [nats]")
        ax.legend(fontsize=8)
    fig.suptitle(r"$KL(q_M\|p) = KL(q_M\|g_M) + KL(g_M\|p)$, $g_M$ = moment-matched diagonal Gaussian", y=1.02)
    fig.tight_layout()
    return fig


def plot_init_marginals(schedule, data: GaussianMixture, Ms: Sequence[float] = (0.15, 0.35, 0.6), coord: int = 0):
    """One coordinate of ``q_M`` (exact mixture density) against the Analytic-Init and standard Gaussians.

    Shown in notebooks/analytic_init.ipynb."""
    import matplotlib.pyplot as plt

    from ..checks import InputTypeError, check_int, check_number, check_sequence, repeated
    from ..schedules import Schedule

    if not isinstance(schedule, Schedule):
        raise InputTypeError(f"schedule must be a cilnb.schedules.Schedule (e.g. VPSchedule()), got {type(schedule).__name__}")
    if not isinstance(data, GaussianMixture):
        raise InputTypeError(f"data must be a cilnb.analytic_init.GaussianMixture (e.g. synthetic_data()), got {type(data).__name__}")
    # each M in (0, 1] here, where the entry is named (schedule.parse_start's "start M must lie in (0, 1]" did not say which)
    Ms = [check_number(f"Ms[{i}]", M, lo=0, lo_open=True, hi=1, fix="(a normalised start time in (0, 1]; 1 = T)")
          for i, M in enumerate(check_sequence("Ms", Ms, fix="pass e.g. Ms=(0.15, 0.6)"))]
    if not Ms:
        raise ValueError("Ms is empty: give at least one start time M, e.g. Ms=(0.15, 0.6)")
    twice = repeated(Ms)
    if twice:  # the same panel was drawn twice
        raise ValueError(f"Ms lists {twice} more than once: each M draws one panel; pass each start time once")
    coord = check_int("coord", coord, min=0, fix="(the coordinate shown)")
    if not 0 <= coord < data.d:
        raise ValueError(f"coord must lie in [0, {data.d}), got {coord}")
    stats = data.stats()
    fig, axes = plt.subplots(1, len(Ms), figsize=(3.6 * len(Ms), 3.2), squeeze=False)
    for ax, M in zip(axes[0], Ms):
        M = schedule.parse_start(float(M))
        alpha, sigma = float(schedule.alpha(M)), float(schedule.sigma(M))
        q = data.diffuse(alpha, sigma)
        mean_p, var_p = init_params(stats, alpha, sigma)
        s_b = float(schedule.prior_std(M))
        mk, vk = q.means[:, coord], q.variances[:, coord]
        sd = float(max(vk.max().sqrt(), math.sqrt(var_p), s_b))
        lo, hi = float(mk.min()) - 4 * sd, float(mk.max()) + 4 * sd
        x = torch.linspace(lo, hi, 600, dtype=_F64)
        dens = (q.weights * torch.exp(-0.5 * (x[:, None] - mk) ** 2 / vk) / torch.sqrt(2 * math.pi * vk)).sum(1)

        def gauss(m, v):
            return torch.exp(-0.5 * (x - m) ** 2 / v) / math.sqrt(2 * math.pi * v)

        ax.fill_between(x.numpy(), dens.numpy(), alpha=0.3, label=r"$q_M$ (exact)")
        ax.plot(x.numpy(), gauss(float(mean_p[coord]), var_p).numpy(), label="Analytic-Init")
        ax.plot(x.numpy(), gauss(0.0, s_b**2).numpy(), "--", label="standard")
        ax.set(title=f"M = {M:.2f} (alpha = {alpha:.2f})", xlabel=f"x[{coord}]")
    axes[0][0].set_ylabel("density")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"coordinate {coord} of q_M; both starts are isotropic (one variance for every coordinate)", y=1.03)
    fig.tight_layout()
    return fig

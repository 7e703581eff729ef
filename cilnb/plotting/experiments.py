"""Figures of the sampling and probe experiments (:mod:`cilnb.experiments`): Fig. 1, 2, 3(a), 5(a), Table 1."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ..tables import check_filled, check_table
from .video import video_grid

__all__ = ["plot_probe_strips", "plot_probe_curves", "plot_leakage_index", "plot_m_sweep", "plot_sweep_videos", "plot_compare",
           "plot_timenoise_conditioning", "plot_motion_control"]


def plot_probe_strips(bench, predictions: torch.Tensor, ts, show_t: Sequence[float], video: int = 0):
    """Fig. 2: the ground-truth video above ``Xhat_{t->0}`` (Eq. 4) at the probed times nearest ``show_t``.
    Shown in notebooks/leakage_probe.ipynb."""
    from .. import checks
    from ..experiments.inputs import Bench

    if not isinstance(bench, Bench):
        raise checks.InputTypeError(f"bench must be the probe's Bench (probe_bench / toy_bench), got {type(bench).__name__}")
    if isinstance(predictions, dict):
        raise checks.InputTypeError(f"predictions must be one model's predictions [B, K, F, C, H, W], got the dict of every model's "
                                    f"({list(predictions)}): pass predictions[label]")
    if not isinstance(predictions, torch.Tensor) or predictions.ndim != 6:
        got = tuple(predictions.shape) if isinstance(predictions, torch.Tensor) else type(predictions).__name__
        raise ValueError(f"predictions must be run_probe's predictions of one model, [B, K, F, C, H, W], got {got}")
    ts = checks.check_times("ts", ts, "the probed normalised times (a list or tensor)")
    if ts.numel() != predictions.shape[1]:
        raise ValueError(f"ts holds {ts.numel()} times but predictions hold {predictions.shape[1]} (dim 1): pass the ts the probe ran on")
    show_t = [checks.check_number(f"show_t[{i}]", t, fix="(a normalised time to show)")
              for i, t in enumerate(checks.check_sequence("show_t", show_t, fix="pass a list of times, e.g. [0.5, 0.9]"))]
    B = predictions.shape[0]
    video = checks.check_int("video", video, fix=f"(a video index, 0 .. {B - 1})")
    if not -B <= video < B:
        raise ValueError(f"video {video} is out of range: the probe holds {B} video(s), 0 .. {B - 1}")
    rows, labels = [bench.videos[video]], ["ground truth"]
    for t in show_t:
        k = int(torch.argmin((ts - float(t)).abs()))
        rows.append(bench.decode(predictions[video, k][None])[0])
        labels.append(rf"$\hat X_{{t\to 0}}$, t = {ts[k]:.2f}")
    return video_grid(rows, labels, col_labels=[f"frame {j}" for j in range(bench.videos.shape[1])])


def plot_probe_curves(table: pd.DataFrame, columns: Sequence[str], *, ylabel: str = r"motion of $\hat X_{t\to 0}$ / ground truth", recommend: float | None = None):
    """Fig. 5(a): mean (with 95% CI) of each ``column`` over videos vs t, one line per model.
    The CI is seaborn's bootstrap, seeded (0) so the same table gives the same figure.
    Shown in notebooks/leakage_probe.ipynb."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .. import checks

    if isinstance(columns, str):
        raise checks.InputTypeError(f"columns must be a list of column names, got the string {columns!r}: pass [{columns!r}]")
    columns = checks.check_sequence("columns", columns, fix="name the probe columns to plot, e.g. ['speed_retention']")
    if not columns:
        raise ValueError("columns is empty: name the probe columns to plot, e.g. ['speed_retention']")
    check_table("table", table, ["model", "t", *columns], "the table of cilnb.experiments.run_probe", numeric=["t"], drawn=columns)
    check_filled("table", table, ["model", "t"], "the table of cilnb.experiments.run_probe", finite=["t", *columns])
    if recommend is not None:
        recommend = checks.check_number("recommend", recommend, fix="(the recommended start time; None for none)")
    fig, axes = plt.subplots(1, len(columns), figsize=(4.5 * len(columns), 3.5), squeeze=False)
    for ax, col in zip(axes[0], columns):
        sns.lineplot(data=table, x="t", y=col, hue="model", marker="o", ax=ax, errorbar=("ci", 95), seed=0)
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        if recommend is not None:
            ax.axvline(recommend, color="tab:red", lw=1, ls=":", label=f"recommended M = {recommend:.2f}")
            ax.legend(fontsize=8)
        ax.set_title(col)
        ax.set_xlabel("t (normalised, 1 = T)")
        ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def plot_leakage_index(li: pd.DataFrame):
    """The leakage index over t: share of the prediction's sensitivity owed to the conditional image.
    Shown in notebooks/leakage_probe.ipynb."""
    import matplotlib.pyplot as plt
    import seaborn as sns


    check_table("li", li, ["model", "t", "index"], "the table of cilnb.experiments.run_leakage_index", numeric=["t"], drawn=["index"])
    check_filled("li", li, ["model", "t"], "the table of cilnb.experiments.run_leakage_index", finite=["t", "index"])
    fig, ax = plt.subplots(figsize=(5, 3.5))
    sns.lineplot(data=li, x="t", y="index", hue="model", marker="o", ax=ax, errorbar=("ci", 95), seed=0)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("t (normalised, 1 = T)")
    ax.set_ylabel(r"leakage index  $d_y / (d_y + d_x)$")
    ax.set_title(r"how much $\hat X_{t\to 0}$ follows $y$ rather than $X_t$")
    fig.tight_layout()
    return fig


def _no_fd(ax, summary: pd.DataFrame) -> bool:
    """Draw a note instead of a quality panel when the sweep has no quality distance."""
    from ..experiments.verdicts import has_fd

    if has_fd(summary):
        return False
    ax.text(0.5, 0.5, "no quality distance:\npass i3d_path for FVD", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([]), ax.set_yticks([])
    return True


def plot_m_sweep(summary: pd.DataFrame):
    """Fig. 3(a) / Tables 8-9: motion, quality (FD) and alignment vs M, standard vs Analytic-Init.
    Shown in notebooks/m_sweep.ipynb."""
    import matplotlib.pyplot as plt

    from ..experiments.verdicts import check_cells, has_fd

    what = "the summary of cilnb.experiments.sample_grid (its second value)"
    travel = isinstance(summary, pd.DataFrame) and "net_travel_data" in summary  # the toy: net sprite travel, a panel of its own
    numeric = ["M", "motion", "motion_sem", "gt_motion", "first_frame_psnr", "first_frame_psnr_sem"]
    check_table("summary", summary, numeric + ["init", "motion_name", "fd_name"] + (["net_travel", "net_travel_sem"] if travel else []),
           what, numeric=numeric, drawn=["motion", "first_frame_psnr"])
    check_filled("summary", summary, ["M", "init"], what, finite=["motion", "motion_sem", "fd", "fd_lo", "fd_hi", "first_frame_psnr",
                                                            "first_frame_psnr_sem", "net_travel", "net_travel_sem"])
    check_cells("summary", summary, ["M", "init"], what)  # an infinite M, or a cell twice, drew a point off the axis or a zigzag
    if has_fd(summary):  # drawn with its bootstrap interval
        check_table("summary", summary, ["fd_lo", "fd_hi"], what, numeric=["fd_lo", "fd_hi"])
    fig, axes = plt.subplots(1, 4 if travel else 3, figsize=(17 if travel else 13, 3.6))
    no_fd = _no_fd(axes[1], summary)
    for init, g in summary.groupby("init"):
        g = g.sort_values("M")
        axes[0].errorbar(g.M, g.motion, yerr=g.motion_sem, marker="o", label=init, capsize=3)
        if not no_fd:
            axes[1].errorbar(g.M, g.fd, yerr=[g.fd - g.fd_lo, g.fd_hi - g.fd], marker="o", label=init, capsize=3)
        axes[2].errorbar(g.M, g.first_frame_psnr, yerr=g.first_frame_psnr_sem, marker="o", label=init, capsize=3)
        if travel:
            axes[3].errorbar(g.M, g.net_travel, yerr=g.net_travel_sem, marker="o", label=init, capsize=3)
    gt = summary.gt_motion.iloc[0]
    if np.isfinite(gt):
        axes[0].axhline(gt, color="k", ls="--", lw=0.8, label="ground truth")
    axes[0].set_ylabel(summary.motion_name.iloc[0])
    axes[1].set_ylabel(f"{summary.fd_name.iloc[0]}\n(lower is better; bars: 95% bootstrap)")
    axes[2].set_ylabel("frame-0 PSNR to y (dB)")
    if travel:
        axes[3].axhline(summary.net_travel_data.iloc[0], color="k", ls="--", lw=0.8, label="real videos")
        axes[3].set_ylabel("net sprite travel, first to last frame (px)")
    for ax in [a for k, a in enumerate(axes) if not (no_fd and k == 1)]:
        ax.set_xlabel("start time M (normalised)")
        ax.invert_xaxis()
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_sweep_videos(per_video: pd.DataFrame, out_dir: str | Path, *, image_index: int = 0, seed: int | None = None, images=None):
    """Generated videos of one conditional image for every (M, init) of a sweep, one row each, frames labelled;
    with ``images`` (the sweep's ImageSet) the conditional image and the ground truth come first.
    Shown in notebooks/m_sweep.ipynb."""
    from ..experiments.run_dirs import sweep_videos

    vids, labels = sweep_videos(per_video, out_dir, image_index=image_index, seed=seed, images=images)
    n_f = max(v.shape[0] for v in vids)
    return video_grid(vids, labels, col_labels=[f"frame {f}" for f in range(n_f)])


def plot_compare(summary: pd.DataFrame):
    """Table 1 as bars: motion (ratio to the ground truth), quality (FD) and alignment per configuration.
    Shown in notebooks/timenoise_training.ipynb."""
    import matplotlib.pyplot as plt


    check_table("summary", summary, ["model", "M", "init", "motion_ratio", "first_frame_psnr", "motion_name", "fd_name"],
           "the summary of cilnb.experiments.compare_models (its second value)", numeric=["M", "motion_ratio"],
           drawn=["first_frame_psnr"])
    if not bool(summary.motion_ratio.notna().any()):  # the motion panel is a ratio to the ground truth's motion
        still = "gt_motion" in summary and bool((summary.gt_motion == 0).all())
        raise ValueError("summary['motion_ratio'] holds only NaN: there is nothing to draw; " + (
            "the ground-truth videos do not move (gt_motion 0), so motion has no ratio to them: compare on videos that move"
            if still else "check the run or read-out that made it (e.g. no sprite or flow was found in any video)"))
    check_filled("summary", summary, ["model", "M", "init"], "the summary of cilnb.experiments.compare_models (its second value)",
          finite=["motion_ratio", "fd", "fd_lo", "fd_hi", "first_frame_psnr"])
    if "fd" in summary and bool(summary.fd.notna().all()):  # drawn with its bootstrap interval
        check_table("summary", summary, ["fd_lo", "fd_hi"], "the summary of cilnb.experiments.compare_models (its second value)")
    names = [f"{r.model}\n{'M=' + format(r.M, 'g') + chr(10) + r.init if (r.M < 1 or r.init != 'standard') else 'M=T'}" for r in summary.itertuples()]
    fig, axes = plt.subplots(1, 3, figsize=(4 + 1.6 * len(names), 3.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    no_fd = _no_fd(axes[1], summary)
    for ax, col, lab in zip(axes, ["motion_ratio", "fd", "first_frame_psnr"],
                            ["motion / ground truth", f"quality: {summary.fd_name.iloc[0]} (lower is better)", "alignment: frame-0 PSNR (dB)"]):
        if col == "fd" and no_fd:
            continue
        err = [summary.fd - summary.fd_lo, summary.fd_hi - summary.fd] if col == "fd" else None
        ax.bar(range(len(names)), summary[col], yerr=err, capsize=3, color=[colors[k % len(colors)] for k in range(len(names))])
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, fontsize=8)
        ax.set_title(lab, fontsize=10)
    axes[0].axhline(1.0, color="k", ls="--", lw=0.8)
    axes[0].set_ylabel(f"ratio of {summary.motion_name.iloc[0]}", fontsize=8)
    fig.tight_layout()
    return fig


def plot_timenoise_conditioning(y: torch.Tensor, ts: Sequence[float], a: float, beta_m: float, *, seed: int = 0, n_draws: int = 3, model=None):
    """What TimeNoise (Eq. 6) does to the conditional image (:func:`cilnb.experiments.timenoise_views`), rows:
    draws, columns: t. ``model``: a latent model (noise on its VAE latent, decoded), or a pixel model
    or ``None`` (noise on the pixels). Shown in notebooks/timenoise_training.ipynb."""
    from ..experiments.timenoise_training import sample_space, timenoise_views

    rows = timenoise_views(model, y, ts, a, beta_m, seed=seed, n_draws=n_draws)
    where = "on the VAE latent, decoded" if sample_space(model) == "latent" else "on the pixels"
    return video_grid(rows, [f"draw {k}" for k in range(n_draws)], col_labels=[f"t={float(t):g}" for t in ts],
                      title=f"TimeNoise on y ({where}): a={a:g}, beta_m={beta_m:g} (shown clipped to [-1, 1])")


def plot_motion_control(df: pd.DataFrame, *, xlabel: str = "input (target) motion", ylabel: str = "output motion"):
    """Fig. 1: output vs input motion per configuration, the diagonal, and the mean error.
    (Toy: both in px/frame. SVD: motion bucket id vs the flow motion score; the diagonal is where
    the two scales agree, which is the claim under test.) When the table has the toy's ``input_score`` /
    ``output_score`` (the paper's motion score of the source video and of the output), a second row shows
    them the same way. Shown in notebooks/motion_control.ipynb."""
    import matplotlib.pyplot as plt

    from ..experiments.verdicts import config_name

    check_table("df", df, ["model", "M", "init", "input_motion", "output_motion"], "the table of cilnb.experiments.motion_control",
           numeric=["M", "input_motion", "output_motion"])
    check_filled("df", df, ["model", "M", "init"], "the table of cilnb.experiments.motion_control",
          finite=["input_motion", "output_motion", "input_score", "output_score"])
    if not bool((df.input_motion.notna() & df.output_motion.notna()).any()):
        raise ValueError("df holds no row with both input_motion and output_motion finite: nothing to draw (no motion was read)")
    groups = list(df.groupby(["model", "M", "init"], sort=False))
    rows = [("input_motion", "output_motion", xlabel, ylabel)]
    if {"input_score", "output_score"} <= set(df) and "target" not in df:  # a flow-label toy: the first row is already it
        rows.append(("input_score", "output_score", "source's motion score (px/frame)", "output's motion score (whole frame)"))
    fig, axes = plt.subplots(len(rows), len(groups), figsize=(3.6 * len(groups), 3.6 * len(rows)), squeeze=False,
                             sharex="row", sharey="row")
    for r, (x, y, xl, yl) in enumerate(rows):
        hi = float(np.nanmax(np.r_[df[x], df[y]])) * 1.05
        for ax, ((model, M, init), g) in zip(axes[r], groups):
            err = np.nanmean(np.abs(g[y] - g[x]))
            ax.scatter(g[x], g[y], s=12, alpha=0.7)
            ax.plot([0, hi], [0, hi], "k--", lw=0.8)
            ax.set_title(f"{config_name(model, M, init)}\nerror {err:.2f}", fontsize=9)
            ax.set_xlabel(xl)
        axes[r, 0].set_ylabel(yl)
    fig.tight_layout()
    return fig

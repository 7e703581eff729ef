"""Table 2 figures of the remedies comparison (:func:`cilnb.remedies.compare`): the motion/quality trade-off and
the videos of one image under every remedy. Shown in notebooks/remedies.ipynb."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["plot_tradeoff", "plot_videos"]


def plot_tradeoff(summary: pd.DataFrame):
    """Motion vs quality, one point per remedy and setting, error bars: 2 s.e. of motion and the FD's 95%
    bootstrap interval (toy), or first-frame PSNR when there is no quality distance."""
    import matplotlib.pyplot as plt

    has_fd = "fd" in summary and bool(summary.fd.notna().all())
    panels = [("fd", "FD to real toy videos (lower is better;\nbars: 95% bootstrap)")] if has_fd else []
    if "sprite_stability" in summary:
        panels.append(("sprite_stability", "sprite stability (higher is better)"))
    panels += [("first_frame_psnr", "frame-0 PSNR to y (dB)"), ("sec_per_video", "seconds per video (same run)")]
    families = list(dict.fromkeys(r.split(" ")[0] for r in summary.remedy))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.5), squeeze=False)
    axes = axes[0]
    for ax, (col, lab) in zip(axes, panels):
        for r in summary.itertuples():
            fam = r.remedy.split(" ")[0]
            if col == "fd":
                yerr = [[r.fd - r.fd_lo], [r.fd_hi - r.fd]]
            elif col in ("first_frame_psnr", "sprite_stability"):
                yerr = 2 * getattr(r, f"{col}_sem")
            else:
                yerr = None
            ax.errorbar(r.motion, getattr(r, col), xerr=2 * r.motion_sem, yerr=yerr, fmt="o", capsize=3,
                        color=f"C{families.index(fam) % 10}")
            ax.annotate(r.remedy, (r.motion, getattr(r, col)), fontsize=7, xytext=(3, 3), textcoords="offset points")
        gt = summary.gt_motion.iloc[0]
        if np.isfinite(gt):
            ax.axvline(gt, color="k", ls="--", lw=0.8, label="data's motion")
            ax.legend(fontsize=8)
        ax.set_xlabel("motion (mean; bars: 2 s.e.)")
        ax.set_ylabel(lab)
    fig.tight_layout()
    return fig


def plot_videos(cmp, image_index: int = 0, seed: int | None = None):
    """The videos of one conditional image under every remedy, one strip each (same seed)."""
    from .video import video_grid

    pv = cmp.per_video
    first = pv[pv.remedy == pv.remedy.iloc[0]]
    sel = (first.image_index == image_index) & ((first.seed == seed) if seed is not None else True)
    if not bool(np.any(sel)):
        raise ValueError(f"no video of image {image_index} (seed {seed}) in the comparison")
    k = int(np.flatnonzero(np.asarray(sel))[0])
    labels = list(cmp.videos)
    return video_grid([cmp.videos[l][k] for l in labels], labels)

"""Table 2 figures of the remedies comparison (:func:`cilnb.remedies.compare`): the motion/quality trade-off and
the videos of one image under every remedy. Shown in notebooks/remedies.ipynb."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["plot_tradeoff", "plot_videos", "remedy_family", "place_labels"]

MARKERS = "osD^vPX*<>ph"
_DIRS = [(1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]  # label offsets: NE first, then around
_RINGS = (3, 9, 16, 24, 34, 46, 60, 76, 95)  # offset radii, points


def remedy_family(label: str) -> tuple[str, str]:
    """``(family, setting)`` of a comparison label: the words before the first setting (a word with ``=`` or a
    number) and the rest, e.g. ``"freeinit N=3" -> ("freeinit", "N=3")``, ``"alg + analytic_init M=0.9" ->
    ("alg + analytic_init", "M=0.9")``, ``"cond_noise 0.1" -> ("cond_noise", "0.1")``, ``"none" -> ("none", "")``."""
    words = str(label).split()
    for k, w in enumerate(words):
        if k and ("=" in w or _is_number(w)):
            return " ".join(words[:k]), " ".join(words[k:])
    return str(label), ""


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def place_labels(ax, xy, texts, *, renderer=None, fontsize: float = 7, marker_px: float = 4.0, colors=None) -> list:
    """Annotate the data points ``xy`` (``[n, 2]``) with ``texts`` so that no two labels overlap (greedy).

    Each label goes to the first candidate offset (8 directions on rings of growing radius, in
    points) whose box lies inside the axes and overlaps no label placed before and no point's marker
    (a ``2 marker_px`` square); off the first two rings a thin leader line joins it to its point. A
    label that fits nowhere takes the candidate with the fewest overlaps. Empty texts are skipped;
    ``colors``: one text colour per point (default black); labels sit on a translucent white box.
    Call it once the layout is final: offsets are in points, so saving at another dpi keeps labels apart.
    Returns the annotations in the order placed.
    """
    from matplotlib.transforms import Bbox

    fig = ax.figure
    renderer = renderer or fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    disp = ax.transData.transform(xy)
    m = marker_px * fig.dpi / 100.0
    taken = [Bbox.from_bounds(x - m, y - m, 2 * m, 2 * m) for x, y in disp if np.isfinite([x, y]).all()]
    out = []
    colors = ["k"] * len(xy) if colors is None else list(colors)
    back = dict(boxstyle="square,pad=0.05", fc="white", ec="none", alpha=0.75)
    for (x, y), text, color in zip(xy, texts, colors):
        if not text or not np.isfinite([x, y]).all():
            continue
        best = None  # (hits, ring, offset, ha, va, box)
        for ring, r in enumerate(_RINGS):
            for dx, dy in _DIRS:
                ha, va = {1: "left", -1: "right", 0: "center"}[dx], {1: "bottom", -1: "top", 0: "center"}[dy]
                ann = ax.annotate(text, (x, y), xytext=(dx * r, dy * r), textcoords="offset points", fontsize=fontsize, ha=ha,
                                  va=va, annotation_clip=False)
                box = ann.get_window_extent(renderer).padded(1.0)
                ann.remove()
                inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
                hits = sum(box.overlaps(b) for b in taken) + (0 if inside else len(taken) + 1)
                if best is None or hits < best[0]:
                    best = (hits, ring, (dx * r, dy * r), ha, va, box)
                if hits == 0:
                    break
            if best[0] == 0:
                break
        _, ring, offset, ha, va, box = best
        arrow = dict(arrowstyle="-", lw=0.5, color="0.45", shrinkA=0, shrinkB=2) if ring > 1 else None
        out.append(ax.annotate(text, (x, y), xytext=offset, textcoords="offset points", fontsize=fontsize, ha=ha, va=va,
                               annotation_clip=False, arrowprops=arrow, color=color, bbox=back))
        taken.append(box)
    return out


def plot_tradeoff(summary: pd.DataFrame):
    """Motion vs quality, one point per remedy and setting, error bars: 2 s.e. of motion and the FD's 95%
    bootstrap interval (toy), or first-frame PSNR when there is no quality distance.

    One colour and marker per remedy family (:func:`remedy_family`) with a legend below the panels; in a
    family of several settings each point is labelled with its setting (``"default"`` for the bare name),
    placed by :func:`place_labels` so that no two labels overlap, in a darker shade of the family's colour."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb
    from matplotlib.lines import Line2D

    from ..experiments.verdicts import has_fd
    from ..tables import check_filled, check_table

    what = "the summary of cilnb.remedies.compare (cmp.summary)"
    check_table("summary", summary, ["remedy", "motion", "motion_sem", "gt_motion", "first_frame_psnr", "first_frame_psnr_sem",
                                "sec_per_video"], what, numeric=["motion_sem", "gt_motion", "first_frame_psnr", "sec_per_video"], drawn=["motion"])
    fd = has_fd(summary)
    needed = (["fd_lo", "fd_hi"] if fd else []) + (["sprite_stability_sem"] if "sprite_stability" in summary else [])
    check_table("summary", summary, needed, what)
    check_filled("summary", summary, ["remedy"], what, finite=["motion", "motion_sem", "fd", "fd_lo", "fd_hi", "first_frame_psnr",
                                                       "first_frame_psnr_sem", "sprite_stability", "sprite_stability_sem", "sec_per_video"])
    dup = summary.remedy[summary.remedy.duplicated()].tolist()
    if dup:  # two points with one label, the second's label placed over the first
        raise ValueError(f"summary lists the remedy {dup[0]!r} more than once: pass {what}, one row per remedy")
    panels = [("fd", "FD to real toy videos (lower is better;\nbars: 95% bootstrap)")] if fd else []
    if "sprite_stability" in summary:
        panels.append(("sprite_stability", "sprite stability (higher is better)"))
    panels += [("first_frame_psnr", "frame-0 PSNR to y (dB)"), ("sec_per_video", "seconds per video (same run)")]
    fam_of = {r: remedy_family(r) for r in summary.remedy}
    families = list(dict.fromkeys(f for f, _ in fam_of.values()))
    size = {f: sum(g == f for g, _ in fam_of.values()) for f in families}
    style = {f: (f"C{k % 10}", MARKERS[k % len(MARKERS)]) for k, f in enumerate(families)}
    texts = [(s or "default") if size[f] > 1 else "" for f, s in (fam_of[r] for r in summary.remedy)]
    n_rows = -(-(len(families) + 1) // 5)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 5.0 + 0.25 * n_rows), squeeze=False)
    axes = axes[0]
    gt = float(summary.gt_motion.iloc[0])
    for ax, (col, lab) in zip(axes, panels):
        for r in summary.itertuples():
            if col == "fd":
                yerr = [[r.fd - r.fd_lo], [r.fd_hi - r.fd]]
            elif col in ("first_frame_psnr", "sprite_stability"):
                yerr = 2 * getattr(r, f"{col}_sem")
            else:
                yerr = None
            c, mk = style[fam_of[r.remedy][0]]
            ax.errorbar(r.motion, getattr(r, col), xerr=2 * r.motion_sem, yerr=yerr, fmt=mk, ms=6, capsize=3, color=c,
                        elinewidth=0.9, alpha=0.9)
        if np.isfinite(gt):
            ax.axvline(gt, color="k", ls="--", lw=0.8)
        ax.margins(0.18)
        ax.set_xlabel("motion (mean; bars: 2 s.e.)")
        ax.set_ylabel(lab)
    handles = [Line2D([], [], ls="", marker=style[f][1], color=style[f][0], label=f) for f in families]
    if np.isfinite(gt):
        handles.append(Line2D([], [], color="k", ls="--", lw=0.8, label="data's motion"))
    fig.legend(handles=handles, loc="lower center", ncol=min(5, len(handles)), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.02 + 0.045 * n_rows, 1, 1))
    renderer = fig.canvas.get_renderer()
    dark = [tuple(0.6 * c for c in to_rgb(style[fam_of[r][0]][0])) for r in summary.remedy]
    for ax, (col, _) in zip(axes, panels):
        place_labels(ax, np.column_stack([summary.motion, summary[col]]), texts, renderer=renderer, colors=dark)
    return fig


def plot_videos(cmp, image_index: int = 0, seed: int | None = None):
    """The videos of one conditional image under every remedy, one strip each (same seed)."""
    from ..checks import InputTypeError, check_int
    from .video import video_grid

    if not (isinstance(getattr(cmp, "per_video", None), pd.DataFrame) and isinstance(getattr(cmp, "videos", None), dict)):
        raise InputTypeError(f"cmp must be the result of cilnb.remedies.compare (with .per_video and .videos), got {type(cmp).__name__}")
    image_index = check_int("image_index", image_index, min=0, fix="(the conditional image's index)")
    if seed is not None:
        seed = check_int("seed", seed, fix="(a seed of the comparison, or None for the first)")
    pv = cmp.per_video
    first = pv[pv.remedy == pv.remedy.iloc[0]]
    sel = (first.image_index == image_index) & ((first.seed == seed) if seed is not None else True)
    if not bool(np.any(sel)):
        raise ValueError(f"no video of image {image_index} (seed {seed}) in the comparison")
    k = int(np.flatnonzero(np.asarray(sel))[0])
    labels = list(cmp.videos)
    return video_grid([cmp.videos[l][k] for l in labels], labels)

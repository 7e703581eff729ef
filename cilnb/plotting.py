"""Figure helpers shared by every notebook: one style, one ``savefig`` with stable names."""
from __future__ import annotations

import os
import re
from pathlib import Path

import matplotlib

__all__ = ["use_style", "savefig", "figure_dir", "video_grid"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def use_style() -> None:
    """Seaborn's paper style with readable defaults (used by every notebook's setup cell)."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight"})


def figure_dir(fig_dir: str | os.PathLike | None = None) -> Path:
    """``fig_dir``, else ``$CILNB_FIG_DIR``, else ``<repo>/figures``; created if missing."""
    from ._util import repo_root

    if fig_dir is None or str(fig_dir) == "":
        fig_dir = os.environ.get("CILNB_FIG_DIR") or (repo_root() / "figures")
    path = Path(fig_dir).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def savefig(fig, name: str, fig_dir: str | os.PathLike | None = None, formats=("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``<fig_dir>/<name>.<fmt>`` for each format and return the paths.

    Refuses a figure whose axes show no data and names that are not plain file stems, so a broken
    notebook fails loudly instead of writing an empty or misnamed figure.
    """
    if not isinstance(name, str) or not _NAME.match(name) or name.endswith((".png", ".pdf")):
        raise ValueError(f"figure name must be a plain stem like 'timenoise_density', got {name!r}")
    if not fig.axes:
        raise ValueError(f"figure {name!r} has no axes: nothing was plotted")
    out = figure_dir(fig_dir)
    paths = []
    for fmt in formats:
        path = out / f"{name}.{fmt}"
        fig.savefig(path, format=fmt)
        paths.append(path)
    return paths


def video_grid(rows, labels=None, *, col_labels=None, vmin: float = -1.0, vmax: float = 1.0, cell: float = 1.0, title: str | None = None):
    """A grid of frames: one row per video ``[F, C, H, W]`` (C = 1 gray or 3 RGB), one column per frame.

    ``rows`` is a sequence (or a ``[R, F, C, H, W]`` tensor); values are shown on ``[vmin, vmax]``.
    Returns the figure. Used for probe strips (Fig. 2) and generated videos (Fig. 3).
    """
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    rows = [r.detach().float().cpu() if torch.is_tensor(r) else torch.as_tensor(r, dtype=torch.float32) for r in rows]
    if not rows:
        raise ValueError("video_grid needs at least one video")
    n_f = max(r.shape[0] for r in rows)
    fig, axes = plt.subplots(len(rows), n_f, figsize=(cell * n_f, cell * len(rows)), squeeze=False)
    for i, r in enumerate(rows):
        if r.ndim != 4 or r.shape[1] not in (1, 3):
            raise ValueError(f"each video must be [F, C, H, W] with C in (1, 3), got {tuple(r.shape)}")
        for j in range(n_f):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            if j >= r.shape[0]:
                ax.axis("off")
                continue
            img = r[j]
            if img.shape[0] == 1:
                ax.imshow(img[0].numpy(), cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
            else:
                ax.imshow(np.clip((img.permute(1, 2, 0).numpy() - vmin) / (vmax - vmin), 0, 1), interpolation="nearest")
        if labels is not None:
            axes[i, 0].set_ylabel(labels[i], rotation=0, ha="right", va="center", fontsize=9)
    if col_labels is not None:
        for j, lab in enumerate(col_labels[:n_f]):
            axes[0, j].set_title(lab, fontsize=9)
    if title:
        fig.suptitle(title)
    fig.subplots_adjust(wspace=0.04, hspace=0.04)
    return fig

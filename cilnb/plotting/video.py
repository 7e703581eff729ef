"""Frames of videos in a grid: probe strips (Fig. 2), generated videos (Fig. 3), TimeNoise views."""
from __future__ import annotations

__all__ = ["video_grid"]


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

"""Pictures of optical flow and motion scores (Sec. 4.1, App. B.3) for the motion metrics workshop.

Shown in notebooks/motion_metrics.ipynb. Flow layout ``[N, 2, H, W]`` (u = x, v = y, pixels), as
:mod:`cilnb.metrics`; frames ``[N, C, H, W]`` in [0, 1].
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["flow_to_rgb", "draw_color_wheel", "plot_flow_fields", "plot_per_pair", "plot_protocols",
           "plot_agreement"]


def _np(x) -> np.ndarray:
    return x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)


def flow_to_rgb(flow, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-code flow ``[..., 2, H, W]`` as RGB ``[..., H, W, 3]`` in [0, 1]: hue = direction, saturation = speed.

    Direction is the screen angle of ``(u, v)`` (y down): right red, down yellow-green, left cyan, up
    blue-violet; saturation is ``|flow| / max_magnitude`` (default: the largest magnitude), white = still.
    """
    from matplotlib.colors import hsv_to_rgb

    f = _np(flow)
    u, v = f[..., 0, :, :], f[..., 1, :, :]
    mag = np.hypot(u, v)
    top = float(mag.max()) if max_magnitude is None else float(max_magnitude)
    hue = (np.arctan2(v, u) / (2 * np.pi)) % 1.0
    sat = np.clip(mag / top, 0.0, 1.0) if top > 0 else np.zeros_like(mag)
    return hsv_to_rgb(np.stack([hue, sat, np.ones_like(mag)], axis=-1))


def draw_color_wheel(ax, size: int = 65) -> None:
    """Legend of :func:`flow_to_rgb` on ``ax``: flow ``(x, y)`` at each point of a disc of radius 1."""
    r = np.linspace(-1, 1, size)
    xx, yy = np.meshgrid(r, r)
    rgb = flow_to_rgb(np.stack([xx, yy]), max_magnitude=1.0)
    rgb[np.hypot(xx, yy) > 1] = 1.0
    ax.imshow(rgb, extent=(-1, 1, 1, -1))
    ax.set_title("direction / speed", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def _image(frame) -> np.ndarray:
    x = _np(frame)
    return x[0] if x.shape[0] == 1 else np.clip(x.transpose(1, 2, 0), 0, 1)


def plot_flow_fields(frames, flows, titles=None, *, step: int | None = None, max_magnitude: float | None = None):
    """One row per item: the frame with flow arrows, the colour-coded flow, the magnitude map (mean in the title).

    ``frames [N, C, H, W]`` in [0, 1] (the first frame of each pair), ``flows [N, 2, H, W]``. Arrows are
    drawn every ``step`` pixels, magnified so the longest is ~``step`` (the factor is in the title).
    Colours and magnitudes use each row's own maximum unless ``max_magnitude`` is given.
    """
    import matplotlib.patheffects as pe
    import matplotlib.pyplot as plt

    fl = _np(flows)
    n, _, h, w = fl.shape
    mags = np.hypot(fl[:, 0], fl[:, 1])
    step = step or max(4, min(h, w) // 8)
    titles = titles or [f"pair {i}" for i in range(n)]
    fig, axes = plt.subplots(n, 4, figsize=(12, 2.9 * n), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 1.1, 0.5]})
    ys, xs = np.mgrid[step // 2:h:step, step // 2:w:step]
    for i in range(n):
        a0, a1, a2, a3 = axes[i]
        top = float(mags[i].max()) if max_magnitude is None else float(max_magnitude)
        top = top if top > 0 else 1.0
        gain = step / top
        img = _image(frames[i])
        a0.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1, alpha=0.55)
        q = a0.quiver(xs, ys, fl[i, 0][ys, xs], fl[i, 1][ys, xs], color="black", angles="xy", scale_units="xy",
                      scale=1 / gain, width=0.008, headwidth=4)
        q.set_path_effects([pe.withStroke(linewidth=2, foreground="white")])
        a0.set_title(f"{titles[i]}: arrows (x{gain:.1f})", fontsize=9)
        a1.imshow(flow_to_rgb(fl[i], top))
        a1.set_title("colour-coded flow", fontsize=9)
        im = a2.imshow(mags[i], cmap="magma", vmin=0, vmax=top)
        a2.set_title(f"|flow|, spatial mean {mags[i].mean():.2f} px", fontsize=9)
        fig.colorbar(im, ax=a2, fraction=0.046, pad=0.03, label="px")
        for a in (a0, a1, a2):
            a.set_xticks([])
            a.set_yticks([])
            a.grid(False)
        if i == 0:
            draw_color_wheel(a3)
        else:
            a3.axis("off")
    fig.tight_layout()
    return fig


def plot_per_pair(scores, labels, true_per_pair=None, *, title: str = ""):
    """Per-pair spatial-mean magnitudes of each video (lines) and the final scores, sum and mean (bars).

    ``scores``: a ``MotionScores`` of the SVD protocol; ``true_per_pair [B, P]`` (optional) is drawn dashed.
    """
    import matplotlib.pyplot as plt

    pp = _np(scores.per_pair)
    B, P = pp.shape
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(12.5, 3.8), gridspec_kw={"width_ratios": [1.3, 1]})
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for b in range(B):
        c = colors[b % len(colors)]
        a0.plot(np.arange(1, P + 1), pp[b], "o-", color=c, label=labels[b])
        if true_per_pair is not None:
            a0.plot(np.arange(1, P + 1), _np(true_per_pair)[b], "--", color=c, alpha=0.7)
    a0.set_xticks(np.arange(1, P + 1))
    a0.set_xlabel("frame pair (f -> f+1)")
    a0.set_ylabel("spatial mean |flow| (px)")
    a0.set_title("per-pair magnitudes" + (" (dashed: true)" if true_per_pair is not None else ""))
    a0.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    x = np.arange(B)
    a1.bar(x - 0.2, pp.sum(1), 0.4, label="sum over pairs (paper)")
    a1.bar(x + 0.2, pp.mean(1), 0.4, label="mean over pairs (official code)")
    a1.set_xticks(x, labels, rotation=20, fontsize=8)
    a1.set_ylabel("motion score")
    a1.set_title("final score")
    a1.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_protocols(x, svd_scores, vbench_scores, *, xlabel: str = "speed (px / frame)", pia_scores=None):
    """The protocols side by side on the same videos: SVD-style score, VBench top-5 % score with its
    threshold and dynamic/static decision, and optionally PIA's 1 - affinity, against ``x``."""
    import matplotlib.pyplot as plt

    n = 3 if pia_scores is not None else 2
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6))
    x = _np(x)
    order = np.argsort(x, kind="stable")
    axes[0].plot(x[order], _np(svd_scores.score)[order], "o-")
    axes[0].set_title(f"SVD protocol ({svd_scores.reduce} over pairs)\nat {svd_scores.size[0]}x{svd_scores.size[1]}")
    axes[0].set_ylabel("motion score (px)")
    vb = _np(vbench_scores.score)
    dyn = vbench_scores.dynamic.numpy()
    axes[1].plot(x[order], vb[order], "-", color="0.6")
    axes[1].scatter(x[dyn], vb[dyn], color="tab:green", zorder=3, label="dynamic")
    axes[1].scatter(x[~dyn], vb[~dyn], color="tab:red", marker="x", zorder=3, label="static")
    axes[1].axhline(vbench_scores.threshold, ls="--", color="k", lw=1,
                    label=f"threshold {vbench_scores.threshold:.2f} px")
    axes[1].set_title(f"VBench dynamic degree (fps {vbench_scores.info['fps']:g}, "
                      f"stride {vbench_scores.info['stride']})\nneeds {vbench_scores.count_num} pair(s) above")
    axes[1].set_ylabel("mean of top-5 % |flow| (px)")
    axes[1].legend(fontsize=8)
    if pia_scores is not None:
        axes[2].plot(x[order], _np(pia_scores.score)[order], "o-", color="tab:purple")
        axes[2].set_title("PIA: 1 - affinity (HSV L1)")
        axes[2].set_ylabel("motion score (0 .. 0.8)")
    for a in axes:
        a.set_xlabel(xlabel)
    fig.tight_layout()
    return fig


def plot_agreement(true, estimates: dict, *, xlabel: str = "true motion score (px)", title: str = ""):
    """Scatter of each estimator's scores (``{name: [B]}``) against ``true`` with the identity line."""
    import matplotlib.pyplot as plt

    t = _np(true)
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    hi = max([t.max()] + [_np(v).max() for v in estimates.values()]) * 1.05
    ax.plot([0, hi], [0, hi], color="0.5", lw=1, ls="--", label="y = x")
    for name, est in estimates.items():
        ax.scatter(t, _np(est), label=name, alpha=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("measured motion score (px)")
    ax.set_xlim(0, hi)
    ax.set_ylim(0, hi)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig

"""Pictures of optical flow and motion scores (Sec. 4.1, App. B.3) for the motion metrics workshop.

Shown in notebooks/motion_metrics.ipynb. Flow layout ``[N, 2, H, W]`` (u = x, v = y, pixels), as
:mod:`cilnb.metrics`; frames ``[N, C, H, W]`` in [0, 1].
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["flow_to_rgb", "draw_color_wheel", "plot_flow_fields", "plot_per_pair", "plot_protocols",
           "plot_agreement"]


def _np(x, name: str = "input") -> np.ndarray:
    from ..checks import InputTypeError, check_not_meta, is_complex

    check_not_meta(name, x)
    if is_complex(x):
        raise InputTypeError(f"{name} must be real numbers, got complex values")
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    if x is None or isinstance(x, (str, bytes)):
        raise InputTypeError(f"{name} must be numbers (a tensor, array or list), got {x!r}")
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"{name} must be numbers (a tensor, array or list), got {type(x).__name__} ({exc})") from None


def _flows(flow, name: str, rank: int | None = None) -> np.ndarray:
    """``flow`` as float64 ``[..., 2, H, W]`` (``rank`` dims when given), finite: a clear error otherwise."""
    f = _np(flow, name)
    layout = "[N, 2, H, W]" if rank == 4 else "[..., 2, H, W]"
    if f.ndim < 3 or f.shape[-3] != 2 or (rank is not None and f.ndim != rank):
        hint = " (it looks like [..., H, W, 2]: move the last axis, e.g. flow.permute(0, 3, 1, 2))" if f.ndim >= 3 and f.shape[-1] == 2 else ""
        raise ValueError(f"{name} must be flow {layout} (u, v in pixels), got shape {f.shape}{hint}")
    if f.size == 0:
        raise ValueError(f"{name} is empty (shape {f.shape}): pass at least one flow field")
    if not np.isfinite(f).all():
        raise ValueError(f"{name} holds {int((~np.isfinite(f)).sum())} non-finite value(s) (NaN or inf): check the flow estimator")
    return f


def _max_magnitude(max_magnitude) -> float | None:
    from ..checks import check_number

    if max_magnitude is None:
        return None
    return check_number("max_magnitude", max_magnitude, lo=0, lo_open=True, fix="(the |flow| shown fully saturated, px; None: the largest)")


def _captions(name: str, labels, n: int, what: str) -> list:
    """``labels`` as a list of ``n`` captions: a string or another count is refused."""
    from ..checks import InputTypeError

    if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__"):
        raise InputTypeError(f"{name} must be a list of captions, one per {what}, got {labels!r}")
    if len(labels) != n:
        raise ValueError(f"got {len(labels)} {name} for {n} {what}s: give one per {what}")
    return list(labels)


def flow_to_rgb(flow, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-code flow ``[..., 2, H, W]`` as RGB ``[..., H, W, 3]`` in [0, 1]: hue = direction, saturation = speed.

    Direction is the screen angle of ``(u, v)`` (y down): right red, down yellow-green, left cyan, up
    blue-violet; saturation is ``|flow| / max_magnitude`` (default: the largest magnitude), white = still.
    """
    from matplotlib.colors import hsv_to_rgb

    f = _flows(flow, "flow")
    u, v = f[..., 0, :, :], f[..., 1, :, :]
    mag = np.hypot(u, v)
    max_magnitude = _max_magnitude(max_magnitude)
    top = float(mag.max()) if max_magnitude is None else float(max_magnitude)
    hue = (np.arctan2(v, u) / (2 * np.pi)) % 1.0
    sat = np.clip(mag / top, 0.0, 1.0) if top > 0 else np.zeros_like(mag)
    return hsv_to_rgb(np.stack([hue, sat, np.ones_like(mag)], axis=-1))


def draw_color_wheel(ax, size: int = 65) -> None:
    """Legend of :func:`flow_to_rgb` on ``ax``: flow ``(x, y)`` at each point of a disc of radius 1."""
    from ..checks import check_int

    if not callable(getattr(ax, "imshow", None)):
        from ..checks import InputTypeError

        raise InputTypeError(f"ax must be a matplotlib Axes (e.g. plt.gca() or fig.add_subplot()), got {type(ax).__name__}")
    size = check_int("size", size, min=2, fix="(pixels across the wheel)")
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

    from ..checks import check_int

    fl = _flows(flows, "flows", rank=4)
    n, _, h, w = fl.shape
    fr = _np(frames, "frames")
    if fr.ndim != 4 or fr.shape[0] != n or fr.shape[2:] != (h, w) or fr.shape[1] not in (1, 3):
        raise ValueError(f"frames must be [N, C, H, W] = [{n}, 1 or 3, {h}, {w}] (the first frame of each pair, one per flow), "
                         f"got shape {fr.shape}")
    if not np.isfinite(fr).all():
        raise ValueError("frames hold NaN or inf values: nothing sensible can be shown")
    lo, hi = float(fr.min()), float(fr.max())
    if lo < -10 or hi > 11:  # far outside [0, 1]: another scale, not an overshoot (0..255 pixels would show blank)
        raise ValueError(f"frames values span [{lo:.4g}, {hi:.4g}] but are shown on [0, 1]"
                         + (": they look like 0..255 pixels, use x / 255" if lo >= 0 else ": rescale them to [0, 1]"))
    if lo < -0.25:  # a [0, 1] frame does not overshoot this far; a [-1, 1] one would show half black
        raise ValueError(f"frames values span [{lo:.4g}, {hi:.4g}] but are shown on [0, 1]: they look like [-1, 1] frames, "
                         "use (x + 1) / 2")
    max_magnitude = _max_magnitude(max_magnitude)
    mags = np.hypot(fl[:, 0], fl[:, 1])
    step = max(4, min(h, w) // 8) if step is None else check_int("step", step, min=1, fix="(pixels between arrows)")
    titles = [f"pair {i}" for i in range(n)] if titles is None else _captions("titles", titles, n, "flow")
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

    if not hasattr(scores, "per_pair"):
        from ..checks import InputTypeError

        raise InputTypeError(f"scores must be the MotionScores of cilnb.metrics.motion_score, got {type(scores).__name__}")
    if getattr(scores, "protocol", "svd") != "svd":
        from ..checks import InputTypeError

        raise InputTypeError(f"scores must be the MotionScores of motion_score(..., protocol='svd') (spatial mean |flow| per pair), "
                             f"got the {scores.protocol!r} protocol's")
    pp = _np(scores.per_pair)
    B, P = pp.shape
    labels = _captions("labels", labels, B, "video")
    if true_per_pair is not None:
        true_per_pair = _np(true_per_pair, "true_per_pair")
        if true_per_pair.shape != (B, P):
            raise ValueError(f"true_per_pair must be [B, P] = {(B, P)} like scores.per_pair, got shape {true_per_pair.shape}")
        if not np.isfinite(true_per_pair).all():
            raise ValueError("true_per_pair holds NaN or inf values: give the finite true magnitudes (cilnb.metrics.true_per_pair)")
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

    from ..checks import InputTypeError

    for name, sc, protocol in (("svd_scores", svd_scores, "svd"), ("vbench_scores", vbench_scores, "vbench")):
        if getattr(sc, "protocol", None) != protocol:
            raise InputTypeError(f"{name} must be the MotionScores of motion_score(..., protocol={protocol!r}), got "
                                 + (f"the {sc.protocol!r} protocol's" if hasattr(sc, "protocol") else type(sc).__name__))
    if pia_scores is not None and not (hasattr(pia_scores, "per_frame") and hasattr(pia_scores, "score")):
        raise InputTypeError(f"pia_scores must be the PIAMotionScores of pia_motion_score (or None), got {type(pia_scores).__name__}")
    x = _np(x, "x").reshape(-1)
    n_svd, n_vb = len(svd_scores.score), len(vbench_scores.score)
    if n_svd != n_vb:
        raise ValueError(f"svd_scores hold {n_svd} video(s) but vbench_scores hold {n_vb}: score the same videos with both protocols")
    if len(x) != n_svd:
        raise ValueError(f"x has {len(x)} value(s) but the scores hold {n_svd} video(s): give one x per video")
    if pia_scores is not None and len(pia_scores.score) != n_svd:
        raise ValueError(f"pia_scores hold {len(pia_scores.score)} video(s) but svd_scores hold {n_svd}: score the same videos")
    if not np.isfinite(x).all():
        raise ValueError("x holds NaN or inf values: give a finite x per video")
    n = 3 if pia_scores is not None else 2
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6))
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

    from collections.abc import Mapping

    from ..checks import InputTypeError

    t = _np(true, "true").reshape(-1)
    if not isinstance(estimates, Mapping):
        raise InputTypeError(f"estimates must be a dict {{estimator name: scores [B]}}, got {type(estimates).__name__}")
    estimates = {k: _np(v, f"estimates[{k!r}]").reshape(-1) for k, v in estimates.items()}
    if not len(t):
        raise ValueError("true is empty: give one true score per video")
    for name, v in [("true", t)] + [(f"estimates[{k!r}]", e) for k, e in estimates.items()]:
        if len(v) != len(t):
            raise ValueError(f"{name} has {len(v)} value(s) but true has {len(t)}: give one score per video")
        if not np.isfinite(v).all():
            raise ValueError(f"{name} holds NaN or inf values: give finite scores")
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

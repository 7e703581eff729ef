"""Motion scores (Sec. 4.1, App. B.3): SVD-style flow magnitude, VBench dynamic degree, PIA's 1 - affinity.

Shown in notebooks/motion_metrics.ipynb. The exact protocols are written down in
:mod:`cilnb.metrics` (the package docstring).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .. import checks
from .._util import progress
from . import videos as _videos
from .flow import FlowEngine

__all__ = [
    "PROTOCOLS",
    "VBENCH_RULES",
    "MotionScores",
    "motion_score",
    "video_flows",
    "vbench_params",
    "motion_score_error",
    "PIAMotionScores",
    "pia_motion_score",
    "rgb_to_hsv",
]

#: protocol -> (default frame size (H, W) or None for native, default reduction over frame pairs)
PROTOCOLS = {"svd": ((450, 800), "sum"), "vbench": (None, "mean")}

#: VBench dynamic-degree threshold rules: ``"current"`` is VBench's ``dynamic_degree.py`` since its
#: commit fc4620b (2024-07-13) and still at the time of writing, ``6 * min(H, W) / 256`` px; ``"2024-07"``
#: is the rule of commit 11abda9 (2024-07-03, "[fix] fps<8 bug"), which scaled it by ``max(1, 8 / fps)``
#: and was dropped ten days later. See docs/parity.md.
VBENCH_RULES = ("current", "2024-07")


@dataclass(frozen=True, eq=False)
class MotionScores:
    """Per-video motion scores and what produced them (all tensors on CPU, float64 unless stated).

    ``score [B]``: the motion score (``reduce`` over frame pairs of ``per_pair``). ``per_pair [B, P]``:
    spatial mean flow magnitude (``svd``) or mean of the top 5 % magnitudes (``vbench``) of each
    adjacent pair, in pixels of the ``size`` the flow was computed at. ``dynamic [B]`` (bool, VBench
    only): VBench's dynamic/static decision. ``frames``: indices of the frames used (VBench keeps every
    ``round(fps / 8)``-th). ``threshold``/``count_num``: VBench's per-pair threshold and required count.
    """

    score: torch.Tensor
    per_pair: torch.Tensor
    protocol: str
    method: str
    reduce: str
    size: tuple
    frames: tuple
    dynamic: torch.Tensor | None = None
    threshold: float | None = None
    count_num: int | None = None
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.score.numel())

    def tolist(self) -> list[float]:
        """The per-video scores as Python floats."""
        return self.score.tolist()

    def numpy(self) -> np.ndarray:
        """The per-video scores as a float64 array."""
        return self.score.numpy()


def vbench_params(n_frames: int, fps: float, size: tuple[int, int], *, rule: str = "current") -> dict:
    """VBench dynamic-degree settings for a clip of ``n_frames`` at ``fps`` scored at ``size = (H, W)``.

    ``stride = max(1, round(fps / 8))`` (frames kept: every ``stride``-th), ``count = len(kept)``,
    ``threshold = 6 * min(H, W) / 256`` pixels (``rule="current"``, VBench today) or
    ``max(1, 8 / fps) * 6 * min(H, W) / 256`` (``rule="2024-07"``, VBench from 2024-07-03 to 2024-07-13;
    see :data:`VBENCH_RULES`), ``count_num = round(4 * count / 16)`` (Python's ``round``: half to even, as
    VBench). A video is dynamic when at least ``count_num`` adjacent pairs have a top-5 % mean magnitude
    above ``threshold``.
    """
    if rule not in VBENCH_RULES:
        raise ValueError(f"rule must be one of {VBENCH_RULES} (VBench's threshold rule, see docs/parity.md), got {rule!r}")
    n_frames = checks.check_int("n_frames", n_frames, min=1, fix="(frames per clip)")
    fps = checks.check_number("fps", fps, lo=0, lo_open=True, fix="(the clip's frame rate)")
    if isinstance(size, (str, bytes)) or not isinstance(size, (tuple, list)) or len(size) != 2:
        raise checks.InputTypeError(f"size must be (H, W), the frame size the flow is computed at, got {size!r}")
    size = tuple(checks.check_int(f"size[{i}]", v, min=1, fix="(pixels)") for i, v in enumerate(size))
    stride = max(1, round(fps / 8))
    count = len(range(0, n_frames, stride))  # frame_indices' length without listing the frames (n_frames may be huge)
    factor = max(1.0, 8.0 / fps) if rule == "2024-07" else 1.0
    return {
        "stride": stride,
        "count": count,
        "threshold": factor * 6.0 * (min(size) / 256.0),
        "count_num": round(4 * (count / 16.0)),
    }


def _protocol_setup(protocol, reduce, resize, fps, shape, vbench_rule="current"):
    if vbench_rule not in VBENCH_RULES:
        raise ValueError(f"vbench_rule must be one of {VBENCH_RULES} (see docs/parity.md), got {vbench_rule!r}")
    if not isinstance(protocol, str) or protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {sorted(PROTOCOLS)}, got {protocol!r}")
    default_size, default_reduce = PROTOCOLS[protocol]
    reduce = default_reduce if reduce is None else reduce
    if reduce not in ("sum", "mean"):
        raise ValueError(f"reduce must be 'sum' (the paper) or 'mean' (the official code), got {reduce!r}")
    size = default_size if (isinstance(resize, str) and resize == "protocol") else _videos.check_size(resize)
    size = tuple(size) if size is not None else tuple(shape[-2:])
    F_ = shape[1]
    if protocol == "vbench":
        if fps is None:
            raise ValueError("protocol='vbench' needs fps= (the frame rate of the input frames; VBench keeps every "
                             "round(fps/8)-th frame); pass fps=8 for 8-fps clips")
        vb = vbench_params(F_, fps, size, rule=vbench_rule)
        frames = _videos.frame_indices(F_, vb["stride"])
        if len(frames) < 2:
            raise ValueError(f"{F_} frames at fps={fps} leave {len(frames)} frame after VBench's resampling to ~8 fps")
    else:
        vb, frames = None, list(range(F_))
    return reduce, size, frames, vb


def iter_flows(v, engine, frames, size, value_range, show_progress, desc):
    """Yield ``(start, flows [n, 2, h, w])`` for the adjacent pairs of ``frames`` of every video, in
    chunks of ``engine.pairs_per_batch(size)`` pairs."""
    show_progress = checks.check_bool("show_progress", show_progress)
    B = v.shape[0]
    total = B * (len(frames) - 1)
    bar = progress(None, total=total, disable=not show_progress, desc=desc, unit="pair")
    flat = v.reshape(-1, *v.shape[2:])
    try:
        with engine.context():
            for start, b, f1, f2 in _videos.pair_chunks(B, frames, engine.pairs_per_batch(size)):
                keys = torch.cat([b * v.shape[1] + f1, b * v.shape[1] + f2])
                uniq, inv = torch.unique(keys, return_inverse=True)
                x = flat[uniq.to(v.device)]
                x = _videos.resize_frames(_videos.to_unit(x, value_range, engine.device), size)
                n = len(b)
                flows = engine(x, inv[:n], inv[n:])
                bar.update(n)
                yield start, flows
    finally:
        bar.close()


def video_flows(videos, method: str = "raft", *, value_range=(0.0, 1.0), resize=None, frame_stride: int = 1,
                arch: str = "large", weights=None, flow_model=None, num_flow_updates: int = 20,
                farneback_params: dict | None = None, batch_size: int | None = None, device="auto",
                show_progress: bool = False) -> torch.Tensor:
    """Flow fields between adjacent (kept) frames: ``[B, P, 2, h, w]`` float32 (for plots and small sets).

    Same batching as :func:`motion_score`, but keeps every field in memory: use it for a few videos.
    Shown in notebooks/motion_metrics.ipynb.
    """
    show_progress = checks.check_bool("show_progress", show_progress)
    v = _videos.check_videos(videos, value_range)
    size = _videos.check_size(resize) or tuple(v.shape[-2:])
    frame_stride = checks.check_int("frame_stride", frame_stride, min=1, fix="(keep every frame_stride-th frame)")
    frames = _videos.frame_indices(v.shape[1], frame_stride)
    if len(frames) < 2:
        raise ValueError(f"frame_stride={frame_stride} leaves fewer than 2 of {v.shape[1]} frames")
    _videos.check_frames_fit(size, v.shape[2], v.shape[0] * (len(frames) - 1), f"video_flows(resize={size})")  # every field is kept
    engine = FlowEngine(method, arch=arch, weights=weights, flow_model=flow_model, num_flow_updates=num_flow_updates,
                        farneback_params=farneback_params, device=device, batch_size=batch_size)
    P = len(frames) - 1
    out = torch.empty(v.shape[0] * P, 2, *size)
    for start, flows in iter_flows(v, engine, frames, size, value_range, show_progress,
                                    f"flow ({method})"):
        out[start:start + len(flows)] = flows.float().cpu()
    return out.reshape(v.shape[0], P, 2, *size)


def motion_score(videos, method: str = "raft", protocol: str = "svd", reduce: str | None = None,
                 resize="protocol", *, value_range=(0.0, 1.0), fps: float | None = None, arch: str = "large",
                 weights=None, flow_model=None, num_flow_updates: int = 20, farneback_params: dict | None = None,
                 batch_size: int | None = None, device="auto", show_progress: bool = True,
                 vbench_rule: str = "current") -> MotionScores:
    """Optical-flow motion score of each video in ``videos [B, F, C, H, W]`` (Sec. 4.1, App. B.3; Fig. 1, Table 1).

    ``videos``: float in ``value_range`` (default ``(0, 1)``; ``(-1, 1)`` for the toy videos) or uint8 in
    ``[0, 255]``; C = 1 (repeated to RGB / used as luma) or 3. ``method``: ``"raft"`` (torchvision RAFT,
    ``arch="large"`` or ``"small"``, weights from ``weights=`` or the torch hub cache, or a ready
    ``flow_model``) or ``"farneback"`` (OpenCV, no weights). ``protocol``: ``"svd"`` (resize to
    ``resize``, default (450, 800); per-pair spatial mean magnitude; ``reduce="sum"`` as the paper or
    ``"mean"`` as the official ``motion_score_flow``) or ``"vbench"`` (native size unless ``resize``;
    needs ``fps``; top-5 % mean per pair, ``reduce="mean"`` by default, plus the dynamic/static decision;
    ``vbench_rule`` picks VBench's threshold, ``"current"`` or the briefly used ``"2024-07"`` with its
    ``max(1, 8 / fps)`` factor, see :func:`vbench_params`). ``resize="protocol"`` takes the protocol's
    size; ``None`` keeps the input size.

    All pairs of all videos are scored in batches of ``batch_size`` pairs (RAFT: on ``device``, each
    frame encoded once per batch); the scores equal pair-by-pair scoring up to float32 round-off.
    ``batch_size=None`` picks 16 pairs, for RAFT on CPU at most ~2 Mpx of frames per batch (5 pairs at
    450x800), where larger batches run slower, and on a GPU as many as keep the correlation volumes
    within half its free memory (:func:`cilnb.metrics.flow.pairs_per_batch`).
    Returns :class:`MotionScores` (``.score`` is ``[B]`` float64). Shown in notebooks/motion_metrics.ipynb.
    """
    show_progress = checks.check_bool("show_progress", show_progress)
    v = _videos.check_videos(videos, value_range)
    reduce, size, frames, vb = _protocol_setup(protocol, reduce, resize, fps, v.shape, vbench_rule)
    _videos.check_frames_fit(size, v.shape[2], 1, f"motion_score(resize={size})")
    engine = FlowEngine(method, arch=arch, weights=weights, flow_model=flow_model, num_flow_updates=num_flow_updates,
                        farneback_params=farneback_params, device=device, batch_size=batch_size)
    B, P = v.shape[0], len(frames) - 1
    per_pair = torch.empty(B * P, dtype=torch.float64)
    k_top = max(1, int(size[0] * size[1] * 0.05))
    for start, flows in iter_flows(v, engine, frames, size, value_range, show_progress,
                                    f"motion score ({method}, {protocol})"):
        flows = flows.float()
        mag = torch.hypot(flows[:, 0], flows[:, 1]).flatten(1)  # [n, h*w]; vector_norm over the 2 channels is ~80x slower
        if protocol == "svd":
            vals = mag.double().mean(1)
        else:
            vals = torch.topk(mag, k_top, dim=1, sorted=False).values.double().mean(1)
        per_pair[start:start + len(vals)] = vals.cpu()
    per_pair = per_pair.reshape(B, P)
    score = per_pair.sum(1) if reduce == "sum" else per_pair.mean(1)
    kw = {}
    if vb is not None:
        n_above = (per_pair > vb["threshold"]).sum(1)
        kw = dict(dynamic=n_above >= vb["count_num"], threshold=float(vb["threshold"]), count_num=int(vb["count_num"]),
                  info={"fps": float(fps), "stride": vb["stride"], "n_above": n_above, "top_k": k_top, "vbench_rule": vbench_rule})
    return MotionScores(score=score, per_pair=per_pair, protocol=protocol, method=method, reduce=reduce,
                        size=tuple(size), frames=tuple(frames), **kw)


def motion_score_error(output_scores, input_scores) -> torch.Tensor:
    """Motion score error ``|output MS - input MS|`` per video ``[B]`` float64 (Sec. 4.1, Fig. 1).

    For motion-conditioned models (SVD's motion bucket, PIA): ``input_scores`` are the requested /
    source-video scores, ``output_scores`` those measured on the generated videos (same protocol).
    Accepts tensors, arrays, lists or :class:`MotionScores`.
    """
    out = _videos.as_scores(output_scores, "output_scores")
    inp = _videos.as_scores(input_scores, "input_scores")
    if out.shape != inp.shape:
        raise ValueError(f"output_scores ({out.numel()}) and input_scores ({inp.numel()}) must score the same videos")
    if out.numel() == 0:
        raise ValueError("output_scores and input_scores hold no scores: pass one score per video (at least one video)")
    return (out - inp).abs()


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """HSV of RGB ``[..., 3, H, W]`` in [0, 1]: H as a fraction of the circle in [0, 1), S and V in [0, 1].

    Same as OpenCV's float ``COLOR_RGB2HSV`` with H divided by 360 (ties: red, then green, win).
    ``x`` must be a float tensor in [0, 1] (tolerance 1e-3), finite: uint8 pixels, [-1, 1] or 0..255 images are refused.
    """
    if not isinstance(x, torch.Tensor):
        fix = ": pass torch.from_numpy(x)" if isinstance(x, np.ndarray) else ""
        raise checks.InputTypeError(f"x must be a torch.Tensor [..., 3, H, W] of RGB in [0, 1], got {type(x).__name__}{fix}")
    checks.check_not_meta("x", x)
    if x.ndim < 3 or x.shape[-3] != 3:
        raise ValueError(f"x must be RGB [..., 3, H, W] (channels at dim -3), got shape {tuple(x.shape)}; "
                         "repeat grayscale to 3 channels first")
    if not x.is_floating_point():
        how = " (0..255 pixels? use x.float() / 255)" if x.dtype == torch.uint8 else ""
        raise checks.InputTypeError(f"x has dtype {x.dtype}; rgb_to_hsv reads float RGB in [0, 1]{how}")
    if x.numel():
        checks.check_finite("x", x)
        checks.check_range("x", x, (0.0, 1.0), fix="rgb_to_hsv reads RGB in [0, 1]: use (x + 1) / 2 for [-1, 1] images, x / 255 for 0..255")
    return _rgb_to_hsv(x)


def _rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(-3)
    maxc = torch.maximum(torch.maximum(r, g), b)
    minc = torch.minimum(torch.minimum(r, g), b)
    delta = maxc - minc
    s = torch.where(maxc > 0, delta / maxc.clamp(min=1e-12), torch.zeros_like(maxc))
    d = delta.clamp(min=1e-12)
    h = torch.where(maxc == r, torch.remainder((g - b) / d, 6.0),
                    torch.where(maxc == g, (b - r) / d + 2.0, (r - g) / d + 4.0))
    h = torch.where(delta > 0, h / 6.0, torch.zeros_like(h))
    return torch.stack([h, s, maxc], dim=-3)


_HSV_SCALES = {"unit": (1.0, 1.0, 1.0), "opencv": (360.0, 1.0, 255.0)}


@dataclass(frozen=True, eq=False)
class PIAMotionScores:
    """PIA-style motion scores: ``score [B]`` (mean of ``per_frame`` over the non-condition frames),
    ``per_frame [B, F]`` (``m^i``), ``distance [B, F]`` (``d^i``), and the ``d_max`` used."""

    score: torch.Tensor
    per_frame: torch.Tensor
    distance: torch.Tensor
    d_max: float
    m_max: float
    m_min: float

    def __len__(self) -> int:
        return int(self.score.numel())

    def tolist(self) -> list[float]:
        return self.score.tolist()


def pia_motion_score(videos, cond_frame=0, *, value_range=(0.0, 1.0), d_max: float | None = None,
                     m_max: float = 1.0, m_min: float = 0.2, hsv_scale: str = "unit") -> PIAMotionScores:
    """PIA's motion score ``1 - affinity`` (App. B.3, after PIA's inter-frame affinity; Fig. 1 for PIA).

    ``d^i = mean_{pixels, channels} |HSV(v^i) - HSV(cond)|``, ``m^i = d^i / d_max * (m_max - m_min)``
    with ``(m_max, m_min) = (1, 0.2)`` (so ``affinity^i = 1 - m^i`` lies in ``[0.2, 1]``), and the video's
    score is the mean of ``m^i`` over its frames other than the condition frame. ``d_max`` is the largest
    ``d^i`` over all frames of all videos given ("the dataset maximum"): score a whole dataset in one
    call, or pass the ``d_max`` of a reference set to compare sets. ``cond_frame``: a frame index (int
    or ``[B]`` ints) or condition images ``[B, C, H, W]`` (then all frames count). ``hsv_scale``:
    ``"unit"`` (H/360, S, V all in [0, 1]) or ``"opencv"`` (H in degrees, S in [0, 1], V in [0, 255]:
    OpenCV's float scales that PIA's own ``get_score`` works in). Hue differences are plain absolute
    differences (not circular), as in PIA. Shown in notebooks/motion_metrics.ipynb.
    """
    v = _videos.check_videos(videos, value_range, min_frames=1)
    B, F_ = v.shape[:2]
    if not isinstance(hsv_scale, str) or hsv_scale not in _HSV_SCALES:
        raise ValueError(f"hsv_scale must be one of {sorted(_HSV_SCALES)}, got {hsv_scale!r}")
    m_max = checks.check_number("m_max", m_max, fix="(PIA uses 1)")
    m_min = checks.check_number("m_min", m_min, fix="(PIA uses 0.2)")
    if not (np.isfinite(m_max) and np.isfinite(m_min) and m_max > m_min):
        raise ValueError(f"need finite m_max > m_min, got ({m_max}, {m_min})")
    if isinstance(cond_frame, (list, tuple)):  # [B] frame indices given as a list
        cond_frame = torch.tensor([checks.check_int(f"cond_frame[{i}]", c, fix="(a frame index)") for i, c in enumerate(cond_frame)],
                                  dtype=torch.long)
    if not (checks.is_int(cond_frame) or isinstance(cond_frame, (torch.Tensor, np.ndarray))):
        raise checks.InputTypeError(f"cond_frame must be a frame index (int), {B} int indices (one per video) or condition "
                                    f"images [B, C, H, W], got {cond_frame!r} ({type(cond_frame).__name__})")
    scale = torch.tensor(_HSV_SCALES[hsv_scale], dtype=torch.float64).view(3, 1, 1)
    hsv = _rgb_to_hsv(_videos.to_rgb(_videos.to_unit(v.reshape(B * F_, *v.shape[2:]), value_range)).double())
    hsv = hsv.reshape(B, F_, 3, *v.shape[-2:]) * scale
    exclude = None
    if checks.is_int(cond_frame):  # an int, a numpy int or a 0-d integer tensor
        idx = torch.full((B,), int(cond_frame), dtype=torch.long)
    elif _videos.as_tensor(cond_frame, "cond_frame").dim() == 1:
        idx = _videos.as_tensor(cond_frame, "cond_frame")
        if idx.dtype not in (torch.int32, torch.int64) or idx.numel() != B:
            raise ValueError(f"cond_frame indices must be {B} ints, got {idx.dtype} of shape {tuple(idx.shape)}")
        idx = idx.long()
    else:
        idx = None
        c = _videos.check_images(cond_frame, "cond_frame", value_range)
        if c.shape[0] != B or c.shape[1:] != v.shape[2:]:
            raise ValueError(f"cond_frame images must be [B, C, H, W] = {(B, *v.shape[2:])}, got {tuple(c.shape)}")
        cond = _rgb_to_hsv(_videos.to_rgb(_videos.to_unit(c, value_range)).double()) * scale
    if idx is not None:
        if bool(((idx < -F_) | (idx >= F_)).any()):
            raise ValueError(f"cond_frame index out of range for {F_} frames: {idx.tolist()}")
        if F_ < 2:
            raise ValueError("videos have 1 frame, the condition frame itself: no other frame is left to score; pass videos of "
                             "at least 2 frames, or the condition images [B, C, H, W] as cond_frame")
        idx = idx % F_
        cond = hsv[torch.arange(B), idx]
        exclude = idx
    d = (hsv - cond[:, None]).abs().mean(dim=(2, 3, 4))  # [B, F]
    if d_max is not None:
        checks.check_number("d_max", d_max, fix="(the largest d^i of the reference set; None: this set's)")
    dm = float(d.max()) if d_max is None else float(d_max)
    if not np.isfinite(dm) or dm < 0:
        raise ValueError(f"d_max must be a finite non-negative number, got {d_max!r}")
    if dm == 0 and d_max is not None and float(d.max()) > 0:
        raise ValueError(f"d_max=0 but these videos' frames differ from their condition (largest d^i = {float(d.max()):.4g}): "
                         "m^i = d^i / d_max is undefined; pass the d_max of a reference set that moves, or d_max=None (this set's)")
    m = d / dm * (m_max - m_min) if dm > 0 else torch.zeros_like(d)
    keep = torch.ones(B, F_, dtype=torch.bool)
    if exclude is not None and F_ > 1:
        keep[torch.arange(B), exclude] = False
    score = (m * keep).sum(1) / keep.sum(1)
    return PIAMotionScores(score=score, per_frame=m, distance=d, d_max=dm, m_max=float(m_max), m_min=float(m_min))

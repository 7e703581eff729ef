"""Metrics of the paper (Sec. 4.1, App. B.3): motion scores, motion score error, PIA's 1 - affinity, FVD,
and proxies for the user study. Shown in notebooks/motion_metrics.ipynb.

Videos are ``[B, F, C, H, W]`` (the diffusers layout), C = 1 or 3, float in ``value_range``
(default ``(0, 1)``; pass ``value_range=(-1, 1)`` for [-1, 1] videos such as the toy data) or uint8
read as [0, 255]. Nothing is guessed: values outside ``value_range``, NaN/inf, other dtypes, other
ranks, a single frame or mismatched batch sizes raise ``ValueError``. Grayscale is repeated to RGB for
RAFT, HSV and I3D, and used directly as the luma for Farneback (RGB luma: 0.299 R + 0.587 G + 0.114 B).

Motion score, ``motion_score(videos, method, protocol, reduce, resize)``
------------------------------------------------------------------------
Flow (``method``):
- ``"raft"``: torchvision ``raft_large`` (default; ``arch="small"`` for ``raft_small``),
  ``num_flow_updates=20`` (the original ``iters=20``), frames mapped to [-1, 1], weights from
  ``weights=<file>`` or ``<torch hub dir>/checkpoints/raft_large_C_T_V1-22a6c225.pth`` (torchvision's port
  of the original ``raft-things``; never downloaded: a missing file raises ``FileNotFoundError`` naming the
  file and folder). H and W are replicate-padded to multiples of 8 (split evenly, like RAFT's
  ``InputPadder``) and the flow is cropped back; padded sizes below 128 px are refused. The model runs
  in eval mode (BatchNorm on running statistics), so a pair's flow does not depend on its batch.
- ``"farneback"``: ``cv2.calcOpticalFlowFarneback`` on the luma in [0, 255] (float32) with
  ``FARNEBACK_DEFAULTS`` (pyr_scale 0.5, 5 levels, winsize 15, 3 iterations, poly_n 5, poly_sigma 1.2);
  no weights. Validated against synthetic videos of known motion in ``tests/test_metrics.py`` (within
  a few % for translation and rotation). Limitation: OpenCV regularises its update step, so where the
  frames carry no structure at the ~15 px window scale (flat areas, small videos upsampled many-fold,
  e.g. 32x32 -> 450x800) Farneback under-estimates motion; score such videos at (near) native size.

``protocol="svd"`` (the paper's motion score, after SVD):
1. resize every frame to ``resize=(H, W)``, default ``(450, 800)`` ("800x450"), bilinear with
   antialiasing, no crop (the aspect ratio is not kept); ``resize=None`` keeps the input size;
2. flow between every pair of adjacent frames (frame f -> f+1, all frames, no fps resampling);
3. per-pixel magnitude ``sqrt(u^2 + v^2)`` in pixels of the resized frame, spatial mean per pair;
4. ``reduce="sum"`` over the F-1 pairs (the paper: "summing them across all frames") or ``"mean"``
   (the official ``motion_score_flow``, which averages over frames, height and width; it is never
   called in the official repository). ``sum = (F - 1) * mean``.

``protocol="vbench"`` (VBench's dynamic degree, ``vbench/dynamic_degree.py``), needs ``fps``:
1. keep every ``stride = max(1, round(fps / 8))``-th frame (resampling to ~8 fps), native size unless
   ``resize`` is given;
2. per adjacent kept pair: mean of the top ``max(1, int(0.05 H W))`` flow magnitudes (VBench ranks the
   padded field; here the field is cropped back first, a difference only when H or W is not a multiple
   of 8);
3. ``threshold = 6 * min(H, W) / 256`` px (current VBench; ``vbench_rule="2024-07"`` multiplies it by
   ``max(1, 8 / fps)``, as VBench did from 2024-07-03 to 2024-07-13, see docs/parity.md),
   ``count_num = round(4 * n_kept / 16)``; ``dynamic = (#pairs above threshold) >= count_num``;
4. ``score`` = ``reduce`` (default ``"mean"``) of the per-pair top-5 % means.

Speed: all pairs of all videos go through the flow model in batches of ``batch_size`` pairs (default:
16, for RAFT at most ~2 Mpx of frames per batch on CPU and within half the free memory on a GPU);
within a batch each frame is encoded once, the context features' share of RAFT's recurrent unit is
computed once instead of in each of the 20 updates, and the flow is upsampled only after the last
update. Scores equal pair-by-pair scoring and
torchvision's forward up to float32 round-off (tested: relative 1e-4). See ``benchmarks/motion_score.py``.

PIA motion score, ``pia_motion_score`` (App. B.3): ``d^i`` = mean over pixels and HSV channels of
``|HSV(frame i) - HSV(condition frame)|``; ``m^i = d^i / d_max * (m_max - m_min)`` with
``(m_max, m_min) = (1, 0.2)`` and ``d_max`` the largest ``d^i`` over the dataset; a video's score is the
mean of ``m^i`` over its non-condition frames (= 1 - PIA's affinity).
"""
from __future__ import annotations

from .flow import FARNEBACK_DEFAULTS, RAFT_WEIGHT_FILES, load_raft, optical_flow, raft_weights_path
from .fvd import (I3D_FILE, I3D_KWARGS, frechet_difference, frechet_distance, frechet_distance_from_stats, frechet_interval, fvd,
                  gaussian_stats,
                  i3d_features, i3d_path, load_i3d)
from .motion import (PROTOCOLS, VBENCH_RULES, MotionScores, PIAMotionScores, motion_score, motion_score_error, pia_motion_score,
                     rgb_to_hsv, vbench_params, video_flows)
from .quality import align_psnr, condition_alignment, psnr, ssim, warping_error
from .synthetic import (synthetic_motion_set, synthetic_rotation_video, synthetic_translation_video, texture,
                        true_motion_score, true_per_pair)
from .toy_quality import frechet_to_reference, frechet_to_reference_ci, standardised_features, video_features

__all__ = [
    "motion_score", "MotionScores", "PROTOCOLS", "VBENCH_RULES", "vbench_params", "video_flows", "optical_flow",
    "load_raft", "raft_weights_path", "RAFT_WEIGHT_FILES", "FARNEBACK_DEFAULTS",
    "motion_score_error", "pia_motion_score", "PIAMotionScores", "rgb_to_hsv",
    "psnr", "ssim", "condition_alignment", "warping_error", "align_psnr",
    "frechet_distance", "frechet_distance_from_stats", "frechet_interval", "frechet_difference", "gaussian_stats", "fvd", "i3d_features", "i3d_path",
    "load_i3d", "I3D_FILE", "I3D_KWARGS",
    "synthetic_translation_video", "synthetic_rotation_video", "synthetic_motion_set", "texture",
    "true_motion_score", "true_per_pair",
    "video_features", "standardised_features", "frechet_to_reference", "frechet_to_reference_ci",
]

"""Quality of generated toy videos: a Fréchet distance in a fixed toy feature space (the toy's FVD stand-in).

The paper scores quality with FVD/IS (I3D/C3D features of real videos). The toy has no such
network, so cilnb uses a **fixed, documented feature space** and the same Fréchet distance:

``video_features(videos)`` (``[N, F, 1, H, W]`` in ``[-1, 1]``) concatenates, per video,

- appearance: frame 0 average-pooled to 4x4 (16 values);
- per-frame brightness mean and standard deviation (2F);
- per-frame high-frequency energy, the mean squared Laplacian (F): noise and blur;
- temporal change, the mean absolute difference of adjacent frames (F-1);
- sprite statistics from :func:`cilnb.data.track_sprites`: centroid speed, sprite count in
  frame 0, count stability, total area in frame 0, area coefficient of variation (5).

``FD`` is the Fréchet distance between the feature Gaussians of generated and real videos, each
feature standardised by the real videos' mean and spread (so pixels of area and brightness
values weigh alike; lower is better, 0 for identical distributions). Alignment with the conditional image is the
PSNR of generated frame 0 to ``y`` (:func:`cilnb.metrics.align_psnr`; the paper's "image alignment"
user study has no toy analogue: this is a proxy). Motion is the sprite tracker's centroid speed
(:func:`cilnb.experiments.sprite_speed`), checked against ground truth in the tests. The toy's
read-out (:class:`cilnb.experiments.ToyReadout`) computes these for the sampling notebooks.
(Moved here from ``cilnb.evaluation``, which stays as an alias for one release.)
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .. import checks
from .. import data as _data

__all__ = ["video_features", "standardised_features", "frechet_to_reference", "frechet_to_reference_ci"]

_LAPLACE = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=torch.float64).view(1, 1, 3, 3)


def _check(videos: torch.Tensor, name: str = "videos") -> torch.Tensor:
    if not torch.is_tensor(videos):
        fix = f": pass torch.from_numpy({name})" if isinstance(videos, np.ndarray) else ""
        raise checks.InputTypeError(f"{name} must be a [N, F, 1, H, W] torch.Tensor (toy layout), got {type(videos).__name__}{fix}")
    checks.check_not_meta(name, videos)
    if videos.ndim != 5 or videos.shape[2] != 1:
        raise ValueError(f"{name} must be a [N, F, 1, H, W] tensor (toy layout), got {getattr(videos, 'shape', type(videos))}")
    if videos.shape[0] == 0:
        raise ValueError(f"{name} holds no videos (shape {tuple(videos.shape)}): pass at least one")
    if videos.shape[1] < 2:
        raise ValueError(f"{name} need at least 2 frames")
    if videos.shape[3] == 0 or videos.shape[4] == 0:
        raise ValueError(f"{name} have empty frames (shape {tuple(videos.shape)}): pass frames of at least 1x1 pixels")
    if videos.shape[3] < 3 or videos.shape[4] < 3:  # the Laplacian's interior and a frame's spread: NaN features below 3x3
        raise ValueError(f"{name} have frames of {videos.shape[3]}x{videos.shape[4]} pixels (shape {tuple(videos.shape)}); the toy "
                         "features need at least 3x3 (a Laplacian over the frame's interior): pass frames of at least 3x3 pixels")
    if not bool(torch.isfinite(videos).all()):
        raise ValueError(f"{name} contain NaN or inf")
    if videos.is_floating_point():
        lo, hi = float(videos.min()), float(videos.max())
        if lo >= 0 and hi > 2:  # [-1, 1] data (a sample may overshoot a little) never looks like this
            raise ValueError(f"{name} values span [{lo:.4g}, {hi:.4g}]; the toy features read frames in [-1, 1]: "
                             f"it looks like 0..255 pixels, use {name} / 127.5 - 1")
    return videos.detach().to("cpu", torch.float64)


def video_features(videos: torch.Tensor) -> np.ndarray:
    """The fixed toy feature map described in the module docstring: ``[N, 16 + 4F + 4]``."""
    v = _check(videos)
    N, Fr, _, H, W = v.shape
    app = F.adaptive_avg_pool2d(v[:, 0], 4).reshape(N, -1)
    frames = v[:, :, 0]
    mean, std = frames.mean(dim=(2, 3)), frames.std(dim=(2, 3))
    lap = F.conv2d(frames.reshape(N * Fr, 1, H, W), _LAPLACE, padding=1)[:, :, 1:-1, 1:-1]
    hf = lap.pow(2).mean(dim=(1, 2, 3)).reshape(N, Fr)
    tdiff = (frames[:, 1:] - frames[:, :-1]).abs().mean(dim=(2, 3))
    tr = _data.track_sprites(videos.detach().cpu())
    sprite = np.stack([
        np.nan_to_num(tr.speed, nan=0.0),
        tr.count[:, 0].astype(np.float64),
        tr.count_stability,
        tr.area[:, 0].sum(-1),
        np.nan_to_num(tr.area_cv, nan=0.0),
    ], axis=1)
    return np.concatenate([app.numpy(), mean.numpy(), std.numpy(), hf.numpy(), tdiff.numpy(), sprite], axis=1)


def standardised_features(videos: torch.Tensor, reference) -> tuple[np.ndarray, np.ndarray]:
    """Features of ``videos`` and of ``reference`` (videos or features), standardised by the reference:
    a fixed affine map, so every feature counts in units of its real spread. The space every toy FD is
    computed in (feed both to :func:`cilnb.metrics.frechet_distance` and its intervals)."""
    if isinstance(reference, np.ndarray):
        ref = reference
        if ref.ndim != 2:
            raise ValueError(f"reference features must be [M, D] (video_features of the reference videos), got shape {ref.shape}")
        if not np.issubdtype(ref.dtype, np.number) or np.issubdtype(ref.dtype, np.complexfloating):
            raise checks.InputTypeError(f"reference features must be real numbers, got dtype {ref.dtype}")
        if not np.isfinite(ref).all():
            raise ValueError(f"reference features contain {int((~np.isfinite(ref)).sum())} non-finite value(s) (NaN or inf): "
                             "compute them with video_features of finite videos")
    elif torch.is_tensor(reference) and reference.ndim == 2:
        raise checks.InputTypeError("reference features must be a numpy array [M, D] (reference.numpy()), or pass the reference videos")
    else:
        _check(reference, "reference")  # named in its errors; the features read the tensor as given
        if torch.is_tensor(videos) and videos.ndim == 5 and tuple(videos.shape[3:]) != tuple(reference.shape[3:]):
            raise ValueError(f"reference videos are {reference.shape[3]}x{reference.shape[4]} pixels but videos are "
                             f"{videos.shape[3]}x{videos.shape[4]}: the sprite areas and speeds are in pixels, so compare videos "
                             "with reference videos of the same size")
        ref = video_features(reference)
    if ref.shape[0] < 2:
        raise ValueError(f"reference has {ref.shape[0]} video(s); standardising by its spread needs at least 2")
    feats = video_features(videos)
    if feats.shape[1] != ref.shape[1]:
        raise ValueError(f"reference has {ref.shape[1]} features per video but videos of {videos.shape[1]} frames have "
                         f"{feats.shape[1]} (16 + 4F + 4): use reference videos (or their features) with the same frame count")
    mu, sd = ref.mean(0), ref.std(0)
    sd = np.where(sd > 1e-8, sd, 1.0)
    return (feats - mu) / sd, (ref - mu) / sd


def _two_videos(videos) -> None:
    v = _check(videos)
    if v.shape[0] < 2:
        raise ValueError(f"videos has {v.shape[0]} video(s); a Fréchet distance needs at least 2 (a covariance): pass more videos")


def frechet_to_reference(videos: torch.Tensor, reference: torch.Tensor | np.ndarray) -> float:
    """Fréchet distance between :func:`video_features` of ``videos`` and of ``reference`` (videos or features)."""
    from .fvd import frechet_distance

    _two_videos(videos)
    return float(frechet_distance(*standardised_features(videos, reference)))


def frechet_to_reference_ci(videos: torch.Tensor, reference: torch.Tensor | np.ndarray, *, n_boot: int = 200,
                            seed: int = 0) -> tuple[float, float, float]:
    """:func:`frechet_to_reference` and its 95% bootstrap interval over the generated videos
    (:func:`cilnb.metrics.frechet_interval`): ``(fd, lo, hi)``. On the toy a few videos whose sprite
    fades or splits (area variation tens of reference spreads away) can dominate the distance."""
    from .fvd import frechet_distance, frechet_interval

    _two_videos(videos)
    a, b = standardised_features(videos, reference)
    return (float(frechet_distance(a, b)), *frechet_interval(a, b, n_boot=n_boot, seed=seed))

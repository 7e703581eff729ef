"""The motion metrics workshop (notebooks/motion_metrics.ipynb): the motion-score protocols of Sec. 4.1 /
App. B.3 on videos of known motion (:mod:`cilnb.metrics`), and on a model's own videos.

Figures: :mod:`cilnb.plotting` (flow pictures); verdict: :func:`cilnb.experiments.verdicts.motion_protocol`.
"""
from __future__ import annotations

import torch

from ..denoiser import Cond
from .inputs import prepare_condition
from .readouts import readout_for

__all__ = ["model_videos", "measured_pair", "agreement_set"]

#: the smallest frame side RAFT takes (its feature pyramid); the agreement set is scored at least this large
RAFT_MIN_SIDE = 128


def model_videos(model: str, model_path: str = "", *, n_videos: int, seed: int = 0, videos_dir: str = "", frames: int = 14,
                 size="320x512", n_steps: int = 25, device="auto") -> tuple[torch.Tensor, torch.Tensor]:
    """``(generated, ground truth)`` videos ``[N, F, C, H, W]`` in ``[-1, 1]``: ``n_videos`` samples of
    ``model`` (M = T, standard noise, DDIM) conditioned on frame 0 of ground-truth clips (toy: fresh
    sprite videos from ``seed``, of the data the checkpoint was trained on; real models: the clips in
    ``videos_dir``, decoded by the VAE).
    Shown in notebooks/motion_metrics.ipynb."""
    from .. import checks
    from .. import models as _models
    from ..sampling import sample
    from .timenoise_training import sample_space

    checks.check_seeds(checks.check_int("seed", seed), checks.check_int("n_videos", n_videos, min=1, fix="(videos to sample)"))  # before loading
    net = _models.load(model, model_path or None, device=device)
    truth = readout_for(model).truth_videos(n_videos, seed, videos_dir=videos_dir, frames=frames, size=size, data=net)
    dev, dtype = next(net.parameters()).device, next(net.parameters()).dtype
    cond = Cond(truth[:, 0].to(dev, dtype))
    latent = sample_space(net) == "latent"
    if latent:
        cond = prepare_condition(net, cond.y, seed)
    x = sample(net, cond, n_steps=n_steps, seed=list(range(seed, seed + n_videos)), frames=truth.shape[1], show_progress=False)
    if latent:
        with torch.no_grad():
            x = net.decode_latents(x)
    return x.float().cpu().clamp(-1, 1), truth


def measured_pair(speed: float, direction_deg: float, *, size: tuple[int, int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """One known-motion frame pair (:func:`cilnb.metrics.synthetic_motion_set`) and its Farneback flow, as
    ``(frame [1, C, H, W], flow [1, 2, H, W], [title])`` for :func:`cilnb.plotting.plot_flow_fields`
    (the title holds the measured mean magnitude). Shown in notebooks/motion_metrics.ipynb."""
    from ..metrics import synthetic_motion_set, video_flows

    v, _, lab = synthetic_motion_set([speed], None, n_frames=2, size=size, direction_deg=direction_deg, seed=seed)
    fl = video_flows(v, "farneback")[:, 0]
    return v[:, 0], fl, [f"{lab[0]}, measured mean {fl.norm(dim=1).mean():.2f} px"]


def agreement_set(videos: torch.Tensor, true_flows: torch.Tensor, frames: int) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    """The Farneback-vs-RAFT comparison's inputs: ``(videos[:, :frames], true mean |flow| per video [B], size)``, the truth
    as measured at ``size`` (each side at least :data:`RAFT_MIN_SIDE`, where both methods score). ``videos [B, F, C, H, W]``
    and ``true_flows [B, F - 1, 2, H, W]`` of :func:`cilnb.metrics.synthetic_motion_set`; ``frames`` in ``[2, F]`` (RAFT is
    slow on the CPU, so the notebook scores a few). Shown in notebooks/motion_metrics.ipynb."""
    from .. import checks
    from ..metrics import true_per_pair

    for name, x, rank in (("videos", videos, 5), ("true_flows", true_flows, 5)):
        if not isinstance(x, torch.Tensor) or x.ndim != rank:
            raise checks.InputTypeError(f"{name} must be the [B, ...] tensor synthetic_motion_set returns, got "
                                        f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if tuple(true_flows.shape[:2]) != (videos.shape[0], videos.shape[1] - 1):
        raise ValueError(f"true_flows {tuple(true_flows.shape)} must hold one flow per frame pair of videos {tuple(videos.shape)}")
    F = videos.shape[1]
    frames = checks.check_int("agreement_frames", frames, min=2, fix=f"(frames per video in the comparison, 2 to {F}: one pair at least)")
    if frames > F:
        raise ValueError(f"agreement_frames={frames} is more than the videos' {F} frames: pass 2 to {F}")
    h, w = videos.shape[-2:]
    size = (max(RAFT_MIN_SIDE, int(h)), max(RAFT_MIN_SIDE, int(w)))
    return videos[:, :frames], true_per_pair(true_flows[:, :frames - 1], resize=size).mean(1), size

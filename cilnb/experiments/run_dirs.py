"""Reading a folder of sampled videos back; the run hashing it is named by lives in :mod:`cilnb.runs`.

A sampling notebook stores its videos in ``<run root>/<kind>_<label>_<hash>``
(:func:`cilnb.runs.default_run_dir`, re-exported here) through the resumable run store
:mod:`cilnb.runs`; the hash covers the model's weights (:func:`cilnb.runs.weights_digest`) and every
setting a resumed sweep cannot change, so a retrained model or other settings never reuse stale videos.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from ..runs import default_run_dir, file_digest, weights_digest  # their home is cilnb.runs; kept importable from here

__all__ = ["sweep_videos", "weights_digest", "default_run_dir", "sample_store_dir", "load_sweep_videos"]


def sample_store_dir(label: str, model, images, *, n_steps: int, sampler: str = "ddim", stats_path=None, cond_kwargs=None,
                     motion=None, batch_size: int = 64) -> Path:
    """The one run folder of ``model``'s samples on ``images`` with these sampler settings, whichever notebook asks:
    ``<run root>/samples_<label>_<hash>`` (:func:`default_run_dir`).

    The key holds everything a stored video depends on and nothing about the experiment that asks for
    it: the weights, the images (spec, names and per-image conditioning), steps, sampler, the
    Analytic-Init statistics' content (SHA-256 of the file, not its path), ``cond_kwargs``, the sweep's
    motion read-out and ``batch_size`` (the run store's canonical batches, so a unit is computed in the
    same batch whoever computes it). Units are ``(M, init, seed, image)``, so two experiments that need
    the same cell (the M sweep's and Table 1's base model at M = T on the same images) share its
    videos: whichever runs first samples them, the other finds them stored (:func:`cilnb.runs.run_sweep`
    resumes; its lock keeps two runs from writing one folder at once). Shown in notebooks/m_sweep.ipynb."""
    digest = file_digest(stats_path) if stats_path is not None else None
    return default_run_dir("samples", label, model, images=images.spec, image_names=list(images.names), cond=images.cond,
                           n_steps=int(n_steps), sampler=sampler, stats_sha256=digest, cond_kwargs=dict(cond_kwargs or {}),
                           motion=motion, batch_size=int(batch_size))


def load_sweep_videos(out: str | Path, table: pd.DataFrame) -> torch.Tensor:
    """The stored videos of the rows of a :func:`cilnb.runs.run_sweep` table, in row order."""
    from safetensors.torch import load_file

    return torch.stack([load_file(str(Path(out) / f))["video"].float() for f in table["file"]])


def sweep_videos(per_video: pd.DataFrame, out: str | Path, *, image_index: int = 0, seed: int | None = None,
                 images=None) -> tuple[list[torch.Tensor], list[str]]:
    """The videos of one conditional image for every (M, init) of a sweep, with their labels.

    With ``images`` (the sweep's :class:`cilnb.io.ImageSet`) the list starts with the conditional
    image (one frame) and, when the set carries its source videos, the ground truth. Each video is
    ``[F, C, H, W]`` in ``[-1, 1]``. Shown in notebooks/m_sweep.ipynb (as strips and playing)."""
    sub = per_video[per_video.image_index == image_index]
    if seed is not None:
        sub = sub[sub.seed == seed]
    if sub.empty:
        raise ValueError(f"the sweep has no video of image {image_index}" + (f" with seed {seed}" if seed is not None else ""))
    sub = sub.drop_duplicates(["M", "init"]).sort_values(["init", "M"], ascending=[True, False])
    vids = list(load_sweep_videos(out, sub))
    labels = [f"{r.init} M={r.M:g}" for r in sub.itertuples()]
    if images is not None:
        head, head_labels = [images.images[image_index][None].float().cpu()], ["conditional image"]
        if getattr(images, "videos", None) is not None:
            head.append(images.videos[image_index].float().cpu())
            head_labels.append("ground truth")
        vids, labels = head + vids, head_labels + labels
    return vids, labels

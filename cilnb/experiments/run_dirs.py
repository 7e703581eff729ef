"""Reading a folder of sampled videos back; the run hashing it is named by lives in :mod:`cilnb.runs`.

A sampling notebook stores its videos in ``<run root>/<kind>_<label>_<hash>``
(:func:`cilnb.runs.default_run_dir`, re-exported here) through the resumable run store
:mod:`cilnb.runs`; the hash covers the model's weights (:func:`cilnb.runs.weights_digest`) and every
setting a resumed sweep cannot change, so a retrained model or other settings never reuse stale videos.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

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
    from .. import checks
    from ..io import ImageSet
    from ..sampling import SAMPLERS

    if not isinstance(label, str) or not label or "/" in label or "\\" in label or label in (".", ".."):
        raise ValueError(f"label must be a plain name for the run folder such as 'base' (no path separators), got {label!r}")
    checks.check_model(model)
    if not isinstance(images, ImageSet):
        raise checks.InputTypeError(f"images must be a cilnb.io.ImageSet (sweep_inputs(...)[0] or cilnb.io.load_images), "
                                    f"got {type(images).__name__}")
    n_steps = checks.check_n_steps(n_steps, fix="(sampler steps)")
    batch_size = checks.check_int("batch_size", batch_size, min=1, fix="(videos per model call)")
    if not isinstance(sampler, str) or sampler not in SAMPLERS:  # a typo hashed into a folder no sweep could fill
        raise ValueError(f"sampler must be one of {sorted(SAMPLERS)}, got {sampler!r}")
    if cond_kwargs is not None and not isinstance(cond_kwargs, Mapping):
        raise checks.InputTypeError(f"cond_kwargs must be a dict of prepare_condition settings (or None), got {type(cond_kwargs).__name__}")
    if stats_path is not None:
        stats_path = checks.check_path("stats_path", stats_path, "the Analytic-Init statistics file")
        if not stats_path.is_file():
            raise ValueError(f"stats_path {stats_path} is not a file: pass the statistics file the sweep samples with (load_stats), or None")
    digest = file_digest(stats_path) if stats_path is not None else None
    return default_run_dir("samples", label, model, images=images.spec, image_names=list(images.names), cond=images.cond,
                           n_steps=int(n_steps), sampler=sampler, stats_sha256=digest, cond_kwargs=dict(cond_kwargs or {}),
                           motion=motion, batch_size=int(batch_size))


def load_sweep_videos(out: str | Path, table: pd.DataFrame) -> torch.Tensor:
    """The stored videos of the rows of a :func:`cilnb.runs.run_sweep` table, in row order."""
    from .. import checks

    out = checks.check_path("out", out, "the sweep's folder")
    if not isinstance(table, pd.DataFrame) or "file" not in table:
        got = f"columns {list(table.columns)}" if isinstance(table, pd.DataFrame) else type(table).__name__
        raise ValueError(f"table must be rows of the sweep's per-video table (with a 'file' column), got {got}")
    if table.empty:
        raise ValueError("table has no rows: select at least one stored video")
    if not out.is_dir():
        raise ValueError(f"out {out} is not a folder: pass the folder the sweep stored its videos in (sample_grid's out_dir)")
    missing = [f for f in table["file"] if not (out / f).is_file()]
    if missing:
        raise ValueError(f"{out} holds no stored video {missing[0]!r} ({len(missing)} of {len(table)} missing): pass the folder "
                         "this table's sweep stored its videos in (sample_grid's out_dir)")
    from ..runs import load_unit_video

    videos = []
    for f in table["file"]:
        path = out / f
        video = load_unit_video(path, "delete it and rerun the sweep: its unit is sampled again")
        if videos and video.shape != videos[0].shape:
            raise ValueError(f"stored video {path} has shape {tuple(video.shape)}, unlike {tuple(videos[0].shape)} of {table['file'].iloc[0]}: "
                             "it comes from another run; delete it and rerun the sweep: its unit is sampled again")
        videos.append(video)
    return torch.stack(videos)


def sweep_videos(per_video: pd.DataFrame, out: str | Path, *, image_index: int = 0, seed: int | None = None,
                 images=None) -> tuple[list[torch.Tensor], list[str]]:
    """The videos of one conditional image for every (M, init) of a sweep, with their labels.

    With ``images`` (the sweep's :class:`cilnb.io.ImageSet`) the list starts with the conditional
    image (one frame) and, when the set carries its source videos, the ground truth. Each video is
    ``[F, C, H, W]`` in ``[-1, 1]``. Shown in notebooks/m_sweep.ipynb (as strips and playing)."""
    from .. import checks

    what = "the per-video table of sample_grid (its first value)"
    if not isinstance(per_video, pd.DataFrame):
        raise checks.InputTypeError(f"per_video must be {what}, got {type(per_video).__name__}")
    missing = [c for c in ("image_index", "seed", "M", "init", "file") if c not in per_video]
    if missing:
        raise ValueError(f"per_video lacks the columns {missing}: pass {what}, not its summary")
    image_index = checks.check_int("image_index", image_index, min=0, fix="(the conditional image's index in the sweep)")
    if seed is not None:
        seed = checks.check_int("seed", seed, fix="(a seed of the sweep, or None for any)")
    if images is not None and image_index >= len(images):
        raise ValueError(f"image_index {image_index} is beyond the {len(images)} image(s) of images: pass the sweep's own ImageSet")
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

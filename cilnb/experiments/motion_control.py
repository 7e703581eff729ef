"""Motion control of Fig. 1 (notebooks/motion_control.ipynb): condition every configuration on a
target motion per image and measure the motion of what it generates (the toy's ``motion``
conditioning plays SVD's motion bucket).

Figure: :func:`cilnb.plotting.plot_motion_control`; verdict: :func:`cilnb.experiments.verdicts.motion_control`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .readouts import MOTION_COND, ToyReadout, flow_motion, readout_for
from .timenoise_training import compare_models

__all__ = ["MOTION_COND", "motion_control_images", "motion_control"]


def _flow_label(models: Mapping, images) -> bool:
    """Whether the models' motion conditioning is the flow label (toys trained with ``--motion-label flow``); every
    model must share one label, and the images' targets must be in it (:func:`motion_control_images` of that model)."""
    labels = {getattr(m, "motion_label", None) for m in models.values()} - {None}
    if len(labels) > 1:
        raise ValueError(f"the models were trained on different motion labels ({sorted(labels)}): compare models of one "
                         "label (train the fine-tunes from the same base, which they inherit it from)")
    flow = labels == {"flow"}
    has_flow = "input_flow" in getattr(images, "columns", {})
    if flow != has_flow:
        want = "the flow label (whole-frame flow)" if flow else "the speed label"
        raise ValueError(f"the models take {want}, but the images' targets are in the other unit: build them with "
                         "motion_control_images(model, model_path=<the base the models came from>)")
    return flow


def motion_control_images(model: str, *, n_images: int, data_seed: int = 0, targets: Sequence[float] = (), videos_dir: str = "",
                          frames: int = 14, size="320x512", stride: int = 1, model_path: str = ""):
    """The conditional images with their target motion as per-image conditioning.

    Toy: frame 0 of fresh sprite videos of the data the checkpoint ``model_path`` was trained on (empty:
    the shipped base's), target = each video's true motion in the unit of the checkpoint's label: its sprites'
    speed (``input_speed``, px/frame), or for a toy trained with ``--motion-label flow`` its whole-frame mean flow
    magnitude (``input_flow``).
    SVD: frame 0 of the clips in ``videos_dir``, each with every ``targets`` value as
    ``motion_bucket_id`` (the paper's "input motion score"). Shown in notebooks/motion_control.ipynb."""
    return readout_for(model).motion_control_images(model, n_images=n_images, data_seed=data_seed, targets=targets,
                                                    videos_dir=videos_dir, frames=frames, size=size, stride=stride,
                                                    model_path=model_path)


def motion_control(models: Mapping, configs: Sequence[tuple[str, float, str]], images, readout, *, n_steps: int, stats=None,
                   stats_path=None, seed: int = 0, out_root: str | Path | None = None, batch_size: int = 64,
                   show_progress: bool = True, sampler: str = "ddim") -> pd.DataFrame:
    """Condition every ``(model, M, init)`` on each image's target motion and measure the output.

    As in Fig. 1 (SVD's motion bucket set to an input motion score): rows ``model, M, init, image,
    input_motion`` (the target), ``output_motion`` (``readout``'s motion), ``error = |output - input|``;
    a toy trained on the flow label (``train-toy --motion-label flow``) is judged in that unit: ``input_motion`` /
    ``output_motion`` are then the motion scores of the source video and of the output (``target``: the exact
    label it was conditioned on) and ``input_tracked`` is left out;
    on the toy also ``input_travel`` / ``output_travel``, the net sprite travel (px, first to last
    frame) of the source video and of the output, ``input_tracked``, the source video's speed as the
    tracker reads it (the output's estimator on both sides; the tracker reads slow sprites a little fast), and
    ``input_score`` / ``output_score``, the paper's motion score (:func:`cilnb.experiments.flow_motion`: SVD
    protocol, Farneback over the whole frame) of the source video and of the output.
    Sampled through :func:`cilnb.experiments.compare_models`, so an interrupted run resumes.
    Shown in notebooks/motion_control.ipynb."""
    from .. import checks
    from ..io import ImageSet
    from .probe import check_models

    show_progress = checks.check_bool("show_progress", show_progress)
    check_models(models)
    if not isinstance(images, ImageSet):
        raise checks.InputTypeError(f"images must be the cilnb.io.ImageSet of motion_control_images(...), got {type(images).__name__}")
    if len(images.cond) != 1:
        raise ValueError(f"images need exactly one per-image motion conditioning (motion_control_images), got {sorted(images.cond)}")
    (name, targets), = images.cond.items()
    flow_label = _flow_label(models, images)
    if flow_label and not (isinstance(readout, ToyReadout) and images.videos is not None):
        raise ValueError("a toy conditioned on the flow label is judged in the motion score of its source videos and outputs: "
                         "use the toy's read-out (C.experiments.motion_readout('toy')) and motion_control_images('toy', ...)")
    per, _ = compare_models(models, configs, images, readout, out_root=out_root, seeds=[seed], n_steps=n_steps, stats=stats,
                            stats_path=stats_path, batch_size=batch_size, show_progress=show_progress, sampler=sampler)
    inp = np.asarray(targets, dtype=float)[per.image_index.to_numpy()]
    df = pd.DataFrame({"model": per.model, "M": per.M, "init": per.init, "image": per.image_index,
                       "input_motion": inp, "output_motion": per.motion.to_numpy(), "error": np.abs(per.motion.to_numpy() - inp)})
    if "net_travel" in per and images.videos is not None:  # the toy: net sprite travel of the output and of its source video
        from .. import data as _data

        src = _data.track_sprites(images.videos.float().cpu())
        idx = per.image_index.to_numpy()
        df["input_travel"], df["output_travel"] = np.asarray(src.displacement, dtype=float)[idx], per.net_travel.to_numpy(dtype=float)
        if not flow_label:  # the source's speed through the output's read-out (a flow-label toy is judged in the score)
            df["input_tracked"] = np.asarray(src.speed, dtype=float)[idx]
        if "motion_score" in per:  # the paper's metric on both sides: it counts the panning background too
            df["input_score"] = flow_motion(images.videos.float())[idx]
            df["output_score"] = per.motion_score.to_numpy(dtype=float)
    motion_name = readout.motion_name
    if flow_label:
        # the label is the clip's whole-frame flow magnitude, so output and input are compared in that unit, each
        # read by the same estimator (Farneback on the source video and on the output); the exact label stays as target
        df["target"] = df["input_motion"]
        df["input_motion"], df["output_motion"] = df["input_score"], df["output_score"]
        df["error"] = (df.output_motion - df.input_motion).abs()
        name, motion_name = "source's motion score", "output's motion score (px/frame)"
    df.attrs.update(target=name, motion_name=motion_name)
    # M as a float, as in the table (compare_models checked every M): a 0-d tensor M missed its rows with a bare KeyError
    order = {(c[0], float(c[1]), c[2]): k for k, c in enumerate(configs)}
    df["order"] = [order[(m, M, i)] for m, M, i in zip(df.model, df.M, df.init)]
    return df.sort_values(["order", "image"], kind="stable").drop(columns="order").reset_index(drop=True)

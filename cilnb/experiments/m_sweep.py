"""The M sweep of Fig. 3(a) and Tables 8/9 (notebooks/m_sweep.ipynb): sample every start time M with
standard noise and with Analytic-Init (Eq. 5, Alg. 1) on the same images and seeds, resumably,
and read motion, quality and alignment with the model's read-out.

:func:`sample_grid` is also the sampling step of Table 1 and Fig. 1
(:func:`cilnb.experiments.compare_models`). Figures: :func:`cilnb.plotting.plot_m_sweep`,
:func:`cilnb.plotting.plot_sweep_videos`; verdict: :func:`cilnb.experiments.verdicts.start_time`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import checks
from .readouts import fd_with_interval, motion_ratio, readout_for

__all__ = ["sample_grid", "run_label"]


def check_readout(readout) -> None:
    """``readout`` must be a read-out object (:class:`~cilnb.experiments.ToyReadout` / :class:`~cilnb.experiments.FlowReadout`),
    not a model name or ``None``."""
    if not all(hasattr(readout, a) for a in ("sweep_motion", "read", "gt_motion")):
        raise checks.InputTypeError(f"readout must be a read-out object such as sweep_inputs(...)[1] or motion_readout(model) "
                                    f"(ToyReadout / FlowReadout), got {readout!r} ({type(readout).__name__})")


def _grid_list(name: str, value, example: str) -> list:
    """A grid axis (``Ms``, ``inits``, ``seeds``) as a list: one value or a string is refused, not split or iterated over."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise checks.InputTypeError(f"{name} must be a list, got {value!r} ({type(value).__name__}): pass e.g. {name}={example}")
    return list(value)


def run_label(model: str, model_path: str = "") -> str:
    """The label of a model's runs: the toy checkpoint's name (``base``, a file's stem), or the real model's name.
    Shown in notebooks/m_sweep.ipynb."""
    if model_path is not None and not isinstance(model_path, (str, Path)):
        raise checks.InputTypeError(f"model_path must be a checkpoint path (str or pathlib.Path) or '', got {model_path!r}")
    return readout_for(model).run_label(model, model_path)


def sample_grid(model, out_dir: str | Path, images, readout, *, Ms: Sequence[float], inits: Sequence[str], seeds: Sequence[int],
                n_steps: int, stats=None, stats_path=None, cond_kwargs: Mapping | None = None, batch_size: int = 32,
                show_progress: bool = True, label: str = "", sampler: str = "ddim") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sample every (M, init, seed, image) with :func:`cilnb.runs.run_sweep` (saved as they finish,
    resumed when rerun) and read them with ``readout`` (:class:`~cilnb.experiments.ToyReadout` /
    :class:`~cilnb.experiments.FlowReadout`): ``(per_video, summary)``. ``sampler``: ``"ddim"``,
    ``"euler"``, ``"heun"``, ``"dpm++2m"`` or ``"dpm++3m"`` (:mod:`cilnb.sampling`). Shown in notebooks/m_sweep.ipynb.

    ``per_video``: the sweep's rows plus ``motion``, ``gt_motion`` (of the image's source video) and
    ``first_frame_psnr`` (the sweep's ``align_psnr``: generated frame 0 vs the conditional image,
    dB). ``summary``: per ``(M, init)``, means and standard errors, ``motion_ratio`` = generated /
    ground-truth motion, ``fd`` with its 95% bootstrap interval ``fd_lo``-``fd_hi`` and paired FD
    differences ``fd_vs_standard`` / ``fd_vs_top`` with theirs (when the readout has a quality
    distance; every cell samples the same images and noise seeds), and the read-outs' names
    (``motion_name``, ``fd_name``).
    """
    from ..runs import run_sweep

    show_progress = checks.check_bool("show_progress", show_progress)
    check_readout(readout)
    Ms, inits = _grid_list("Ms", Ms, "[1.0, 0.8]"), _grid_list("inits", inits, "['standard', 'analytic']")
    seeds = _grid_list("seeds", seeds, "[0]")
    if cond_kwargs is not None and not isinstance(cond_kwargs, Mapping):  # a list failed in dict() with a bare TypeError
        raise checks.InputTypeError(f"cond_kwargs must be a dict of prepare_condition settings (or None), got {type(cond_kwargs).__name__}")
    if not isinstance(label, str):  # it fills the tables' model column, which the verdicts and plots match on names
        raise checks.InputTypeError(f"label must be the model's name for the tables (a string such as 'base'), got {label!r}")
    if readout.fd_name and hasattr(images, "__len__") and len(images) * len(seeds) < 2:  # refused before sampling, not after at the first Fréchet distance
        raise ValueError(f"{len(images)} image(s) x {len(seeds)} seed(s) give one video per cell; the Fréchet distance ({readout.fd_name}) "
                         "needs at least 2: pass more images or seeds, or n_reference=0 (no quality distance)")
    method, kw = readout.sweep_motion
    res = run_sweep(model, images, out_dir, Ms=list(Ms), inits=list(inits), seeds=list(seeds), n_steps=n_steps,
                          stats=stats, stats_path=stats_path, batch_size=batch_size, motion_method=method, motion_kwargs=kw, sampler=sampler,
                          cond_kwargs=dict(cond_kwargs or {}) or None, model_name=label or "toy", show_progress=show_progress)
    table = res.table
    # the folder may hold cells other experiments sampled (a shared store): keep this grid's
    grid = table.M.isin([float(m) for m in Ms]) & table.init.isin(list(inits)) & table.seed.isin([int(s) for s in seeds]) \
        & table.image.isin(list(images.names))
    table = table[grid].sort_values(["M", "init", "seed", "image_index"]).reset_index(drop=True)
    extra = readout.read(table, Path(out_dir))
    table["motion"] = extra.pop("motion")
    table["first_frame_psnr"] = table["align_psnr"]
    table["gt_motion"] = readout.gt_motion(images)[table["image_index"].to_numpy()]
    table["model"] = label
    for k, v in extra.items():
        table[k] = v
    rows, feats = [], {}
    ref = None
    for (M, init), g in table.groupby(["M", "init"], sort=False):
        row = {"model": label, "M": M, "init": init, "n": len(g),
               "motion": g.motion.mean(), "motion_sem": g.motion.sem(), "gt_motion": g.gt_motion.mean(),
               "motion_ratio": motion_ratio(g.motion.mean(), g.gt_motion.mean()),
               "first_frame_psnr": g.first_frame_psnr.mean(), "first_frame_psnr_sem": g.first_frame_psnr.sem()}
        for k in extra:
            row[k], row[f"{k}_sem"] = g[k].mean(), g[k].sem()
            if k in readout.reference_columns:
                row[f"{k}_data"] = readout.reference_columns[k]
            if k in readout.reference_sems:
                row[f"{k}_data_sem"] = readout.reference_sems[k]
        if readout.fd_name:
            cell, ref = readout.features(g, Path(out_dir))
            feats[(M, init)] = (cell, list(zip(g.seed, g.image_index)))
            row["fd"], row["fd_lo"], row["fd_hi"] = fd_with_interval(feats[(M, init)][0], ref)
        rows.append(row)
    summary = pd.DataFrame(rows).sort_values(["init", "M"], ascending=[True, False]).reset_index(drop=True)
    if feats:
        _paired_fd_columns(summary, feats, ref)
    summary["motion_name"], summary["fd_name"] = readout.motion_name, readout.fd_name or ""
    return table, summary


def _paired_fd_columns(summary: pd.DataFrame, feats: dict, ref: np.ndarray) -> None:
    """Add paired FD differences (:func:`cilnb.metrics.frechet_difference`; same images and noise seeds in
    both cells) to ``summary`` in place: ``fd_vs_standard`` (+ ``_lo``/``_hi``): each cell minus standard
    noise at the same M; ``fd_vs_top``: each cell minus standard noise at the largest M (plain sampling).
    NaN for the reference cell itself, where that cell is missing, or where the two cells do not hold the
    same (seed, image) pairs."""
    from ..metrics import frechet_difference

    top = summary.M.max()

    def diff(a, b):
        if a not in feats or b not in feats or a == b or feats[a][1] != feats[b][1]:
            return (float("nan"),) * 3
        return frechet_difference(feats[a][0], feats[b][0], ref)

    for name, other in (("fd_vs_standard", lambda M: (M, "standard")), ("fd_vs_top", lambda M: (top, "standard"))):
        vals = [diff((r.M, r.init), other(r.M)) for r in summary.itertuples()]
        summary[name], summary[f"{name}_lo"], summary[f"{name}_hi"] = map(list, zip(*vals))

"""The leakage probe of Fig. 2 and Fig. 5(a) (notebooks/leakage_probe.ipynb): one-step predictions
``Xhat_{t->0}`` (Eq. 4) of every model on the same ground truth, noise and times.

:func:`probe_bench` builds the ground truth the model's read-out asks for (:func:`toy_bench`:
moving sprites; :func:`video_bench`: clips encoded by a latent model); :func:`run_probe` and
:func:`run_leakage_index` run :mod:`cilnb.probe` over every model; :func:`recommend_start` turns the
retention curve into a start time M. Figures: :mod:`cilnb.plotting`; verdict:
:func:`cilnb.experiments.verdicts.leakage`.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
import torch

from .. import checks
from .. import data as _data
from .. import probe as _probe
from ..denoiser import Cond
from .inputs import Bench, prepare_condition, read_clips, toy_data
from .readouts import SpriteMotion, flow_motion, readout_for
from .verdicts import check_model_label

__all__ = ["toy_bench", "video_bench", "probe_bench", "probe_times", "run_probe", "run_leakage_index", "recommend_start",
           "ProbePredictions"]


def toy_bench(n_videos: int, seed: int, *, device="cpu", data=None, frames: int | None = None, size: int | None = None) -> Bench:
    """Moving-sprite ground truth (:func:`cilnb.data.generate`) for the toy, drawn from ``data`` (anything
    :func:`cilnb.experiments.toy_data` takes; default: the shipped toy's data; ``frames``/``size`` replace
    its own); motion read by Farneback flow (``flow``) and by the tracker (``speed``, ``displacement``)."""
    from .._util import resolve_device

    over = {k: checks.check_int(k, v, min=1, fix="(replaces the toy data's own)") for k, v in (("frames", frames), ("size", size))
            if v is not None}
    device = resolve_device(device)  # "auto" (probe_bench's default) and a typo failed in torch's .to(), after generating
    sv = _data.generate(n_videos, seed=seed, config=toy_data(data), flow=True, **over)
    x0 = sv.videos.to(device)
    fns = {"flow": flow_motion, "speed": SpriteMotion(sv.videos, "speed"), "displacement": SpriteMotion(sv.videos, "displacement")}
    # near-static videos have no motion to retain (a ratio to ~0 is noise): 0.5 px/frame, 2 px, 0.1
    return Bench(x0=x0, cond=Cond(x0[:, 0]), videos=sv.videos, motion_fns=fns, truth=sv,
                 min_motion={"speed": 0.5, "displacement": 2.0, "flow": 0.1})


def video_bench(adapter, videos_dir: str, n_videos: int, *, frames: int, size, stride: int = 1, cond_kwargs: Mapping | None = None,
                seed: int = 0) -> Bench:
    """Ground truth from a folder of real videos for a latent model: read with
    :func:`cilnb.experiments.read_clips`, encoded by ``adapter.encode_video``, conditioned by
    ``adapter.prepare_condition`` on frame 0 (its random draws, e.g. SVD's noise augmentation, from
    ``seed``); motion is the Farneback score of decoded predictions."""
    seed = checks.check_seed("seed", seed, fix="(the conditioning's random draws)")
    pix, _ = read_clips(videos_dir, n_videos, frames=frames, size=size, stride=stride)  # [B, F, 3, H, W] in [-1, 1]
    dev = next(adapter.parameters()).device
    dtype = next(adapter.parameters()).dtype
    with torch.no_grad():
        x0 = adapter.encode_video(pix.to(dev, dtype))
    cond = prepare_condition(adapter, pix[:, 0].to(dev, dtype), seed, **dict(cond_kwargs or {}))

    def decode(lat):
        with torch.no_grad():
            return adapter.decode_latents(lat.to(dev, dtype)).float().cpu()

    fns = {"flow": lambda lat: flow_motion(decode(lat), upsample=1)}
    return Bench(x0=x0, cond=cond, videos=pix, decode=decode, motion_fns=fns)


def probe_bench(model: str, adapter, n_videos: int, seed: int = 0, *, videos_dir: str = "", frames: int = 14, size="320x512",
                stride: int = 1, cond_kwargs: Mapping | None = None, device="auto") -> Bench:
    """The ground truth the probe reads ``model`` on: :func:`toy_bench` for the toy (``device``; the clip
    settings are not used), :func:`video_bench` of ``adapter`` on ``videos_dir`` for a real model.
    ``bench.retention_columns`` names the motion columns of the probe table. Shown in notebooks/leakage_probe.ipynb."""
    return readout_for(model).probe_bench(adapter, n_videos, seed, videos_dir=videos_dir, frames=frames, size=size, stride=stride,
                                          cond_kwargs=cond_kwargs, device=device)


def probe_times(n: int, t_min: float = 0.05) -> torch.Tensor:
    """``n`` probe times evenly spaced on ``[t_min, 1]`` (normalised). Shown in notebooks/leakage_probe.ipynb."""
    n = checks.check_int("n", n, min=1, fix="(the number of probe times)")
    t_min = checks.check_number("t_min", t_min, lo=0, lo_open=True, hi=1, fix="(the smallest probe time, normalised: 1 = T)")
    if n > 1 and t_min == 1:  # linspace(1, 1, n): the time 1 n times, which the probe refuses
        raise ValueError(f"t_min = 1 leaves no room for n = {n} different probe times on [t_min, 1]: pass a smaller t_min "
                         "(e.g. 0.05) or n = 1")
    checks.check_fits_in_memory(8.0 * n, f"probe_times(n={n})", "pass a number of probe times that the probe can run, e.g. n=10")
    return torch.linspace(t_min, 1.0, n, dtype=torch.float64) if n > 1 else torch.ones(1, dtype=torch.float64)


def check_models(models) -> None:
    """``models`` must be a non-empty dict ``{label: model}``."""
    if not isinstance(models, Mapping):
        raise checks.InputTypeError(f"models must be a dict {{label: model}} (e.g. load_models(...)), got {type(models).__name__}"
                                    + (": pass {'name': model}" if not isinstance(models, (list, tuple)) else ": give each model a label"))
    if not models:
        raise ValueError("models is empty: pass at least one model as {label: model}")


def _check_bench(bench) -> None:
    if not isinstance(bench, Bench):
        raise checks.InputTypeError(f"bench must be the probe's ground truth, a Bench (probe_bench, toy_bench or video_bench), "
                                    f"got {type(bench).__name__}")


def _times(ts) -> list[float]:
    """The probe times as a list of floats (to tell whether two calls probed the same times)."""
    from .. import checks

    return checks.check_times("ts", ts, "normalised times in (0, 1] (a list or tensor)").tolist()


def _check_same_inputs(predictions, bench: Bench, ts, seed) -> None:
    """Predictions of :func:`run_probe` are reused only on the bench, times and seed they were made with: others would
    mix one-step predictions of other videos, times or noise into the index silently."""
    made = getattr(predictions, "made_with", None)
    if not made:
        return
    x0 = made["x0"]
    other = [name for name, same in (
        ("ts", made["ts"] == _times(ts)), ("seed", made["seed"] == seed),
        ("bench", x0 is bench.x0 or (x0.shape == bench.x0.shape and torch.equal(x0, bench.x0.to(x0.device)))),
    ) if not same]
    if other:
        raise ValueError(f"predictions were made by run_probe with another {' and '.join(other)} (ts {made['ts']}, seed {made['seed']}): "
                         "pass the same bench, ts and seed as that run_probe call, or predictions=None to compute them")


class ProbePredictions(dict):
    """:func:`run_probe`'s predictions: ``label -> [B, K, F, C, H, W]`` (a ``dict``), and in :attr:`uncond` each model's
    unconditional guidance branch (raw outputs of the same shape, or ``None``), which :func:`run_leakage_index`
    reuses for the swapped-image prediction."""

    def __init__(self, *args, uncond: Mapping | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.uncond = dict(uncond or {})
        self.made_with: dict = {}  # set by run_probe: the times, seed and ground truth they were made with


def run_probe(models: Mapping, bench: Bench, ts, *, seed: int = 0, batch_size: int = 64, show_progress: bool = False,
              keep_uncond: bool = True):
    """Probe every model on the same videos, noise and times (Eq. 4): ``(table, predictions)``.

    ``table`` is :func:`cilnb.probe.probe_table` with a ``model`` column; motion columns are
    measured on decoded predictions; ``predictions[label]`` is ``[B, K, F, C, H, W]`` (sample space), a
    :class:`ProbePredictions` that also keeps each model's unconditional guidance branch where the leakage index can
    reuse it (``keep_uncond``; the branch drops the image; as much memory again) for :func:`run_leakage_index`.
    Shown in notebooks/leakage_probe.ipynb.
    """
    show_progress = checks.check_bool("show_progress", show_progress)
    keep_uncond = checks.check_bool("keep_uncond", keep_uncond)
    check_models(models)
    _check_bench(bench)
    tables, preds = [], ProbePredictions()
    for label, m in models.items():
        got = _probe.one_step_predictions(m, bench.x0, ts, cond=bench.cond, seed=seed, batch_size=batch_size,
                                          show_progress=show_progress, with_uncond=keep_uncond)
        pred, preds.uncond[label] = got if keep_uncond else (got, None)
        df = _probe.probe_table(m, bench.x0, ts, cond=bench.cond, motion_fns=bench.motion_fns, predictions=pred)
        for name, lo in bench.min_motion.items():
            if f"{name}_gt" in df:
                df.loc[df[f"{name}_gt"] < lo, f"{name}_retention"] = np.nan
        df.insert(0, "model", label)
        tables.append(df)
        preds[label] = pred
    preds.made_with = {"ts": _times(ts), "seed": seed, "x0": bench.x0}  # run_leakage_index reuses them only on the same inputs
    return pd.concat(tables, ignore_index=True), preds


def run_leakage_index(models: Mapping, bench: Bench, ts, *, seed: int = 0, batch_size: int = 64, show_progress: bool = False,
                      predictions: Mapping | None = None) -> pd.DataFrame:
    """:func:`cilnb.probe.leakage_index` for every model on the same inputs, with a ``model`` column.
    ``predictions``: :func:`run_probe`'s (same ``bench``, ``ts``, ``seed``, ``batch_size``), reused as the
    index's unperturbed prediction instead of computed again, and their unconditional branches
    (:class:`ProbePredictions`) for the swapped image. Shown in notebooks/leakage_probe.ipynb."""
    show_progress = checks.check_bool("show_progress", show_progress)
    check_models(models)
    _check_bench(bench)
    if predictions is not None:
        if not isinstance(predictions, Mapping):
            raise checks.InputTypeError(f"predictions must be run_probe's predictions, a dict {{label: tensor}}, got "
                                        f"{type(predictions).__name__}: pass the second value run_probe returned, or None")
        missing = [k for k in models if k not in predictions]
        if missing:
            raise ValueError(f"predictions hold no predictions of the model(s) {missing} (they hold {list(predictions)}): "
                             "pass run_probe's predictions of the same models, or None to compute them")
        _check_same_inputs(predictions, bench, ts, seed)
    out = []
    uncond = getattr(predictions, "uncond", {})
    for label, m in models.items():
        pred = None if predictions is None else predictions[label]
        df = _probe.leakage_index(m, bench.x0, ts, cond=bench.cond, seed=seed, batch_size=batch_size, show_progress=show_progress,
                                  predictions=pred, uncond=uncond.get(label))
        df.insert(0, "model", label)
        out.append(df)
    return pd.concat(out, ignore_index=True)


def recommend_start(table: pd.DataFrame, model: str, column: str, threshold: float = 0.8) -> tuple[float | None, str]:
    """:func:`cilnb.probe.recommend_start` for one model of a :func:`run_probe` table, as ``(M or None, sentence)``:
    ``None`` (and the reason) when no contiguous run of small t keeps ``threshold`` of the motion.
    Shown in notebooks/leakage_probe.ipynb."""
    if not isinstance(table, pd.DataFrame):
        raise checks.InputTypeError(f"table must be the table of run_probe (a DataFrame), got {type(table).__name__}")
    if "model" not in table:
        raise ValueError(f"table has no 'model' column (columns {list(table.columns)}): pass the table of run_probe")
    check_model_label(table, model)
    try:  # bad input raises; only a curve that keeps the threshold nowhere gives no start time
        M = _probe.recommend_start(table[table.model == model], column, threshold)
    except _probe.NoStartTime as exc:
        return None, f"No recommended start time for {model}: {exc}."
    return M, (f"Recommended start time M = {M:.2f} T for {model} (largest t keeping >= {threshold:.0%} of the motion "
               f"by {column}; a heuristic to start an M sweep from).")

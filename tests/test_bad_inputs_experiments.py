"""Bad input to the probe, the experiments layer (``cilnb.experiments``), the figures (``cilnb.plotting``) and
``cilnb.denoiser.Cond`` fails at once with a clear error naming the input and the fix (the project standard: never a
silent fallback, a NaN result or figure, or a traceback from deep inside torch/numpy/pandas/matplotlib/seaborn).

Each case asserts the error type (``ValueError``, or ``TypeError`` for a wrong type; cilnb's ``InputTypeError`` is
both) and that the message names the input. Every case was mishandled before this file: a silently wrong result (a
typo'd init labelled as standard noise, a conditioning key dropped, an out-of-range row selected as nothing, a
fractional step count truncated, a sweep of the wrong reduce judged "not reproduced", 0..255 frames drawn blank, an
empty figure saved), a bare ``KeyError``/``IndexError``/``AttributeError``, or an error from deep inside a library
that names neither the argument nor the fix. Siblings: ``test_bad_inputs.py``, ``test_bad_inputs_api.py``,
``test_bad_inputs_more.py``, ``test_bad_inputs_data.py``, ``test_bad_inputs_sampling.py``.
"""
from __future__ import annotations

import functools
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

import cilnb.experiments as E
import cilnb.plotting as PL
from cilnb import analytic_init as AI
from cilnb import data as D
from cilnb import metrics as M
from cilnb import probe as P
from cilnb.denoiser import Cond
from cilnb.experiments import agreement as AG
from cilnb.experiments import verdicts as V
from cilnb.io import ImageSet
from cilnb.models import toy
from cilnb.plotting import flow as FL
from cilnb.schedules import VPSchedule

NAN, INF = float("nan"), float("inf")
T, VE = TypeError, ValueError
NOWHERE = os.path.join(tempfile.gettempdir(), "cilnb-nonexistent-folder", "run")  # refused before anything is written there


# ---------------------------------------------------------------------------------------------
# tiny inputs, built on first use
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _toy():
    """A tiny random-weight toy (2 frames of 8 x 8, pixels in [-1, 1])."""
    return toy.build(frames=2, size=8, widths=(8,), temporal="none", temporal_levels=(), temporal_width=8, emb_dim=16, seed=0).eval()


_CFG = D.SpriteConfig(frames=2, size=8, radius=(1.0, 2.0))


@functools.lru_cache(maxsize=None)
def _bench():
    return E.toy_bench(2, 0, data=_CFG)


_TS = [0.5, 0.9]


@functools.lru_cache(maxsize=None)
def _probed():
    """``(table, predictions)`` of run_probe on the tiny toy (label ``"a"``)."""
    return E.run_probe({"a": _toy()}, _bench(), _TS)


def _table():
    return _probed()[0].copy()


def _preds():
    return _probed()[1]


def _li():
    return pd.DataFrame({"model": "a", "video": [0, 0, 1, 1], "t": [0.5, 0.9] * 2, "d_y": 0.1, "d_x": 0.1, "index": 0.5})


@functools.lru_cache(maxsize=None)
def _images():
    sv = D.generate(2, seed=0, config=_CFG)
    speed = sv.speed.tolist()
    return ImageSet(["a", "b"], sv.condition, "toy:2", {"input_speed": speed}, sv.videos, {"motion": speed}, _CFG)


def _readout():
    return E.ToyReadout(0, data=_CFG)


_DEFAULT = object()


def _grid(readout=_DEFAULT, **kw):
    args = dict(Ms=[1.0], inits=["standard"], seeds=[0], n_steps=1, show_progress=False)
    args.update(kw)
    return E.sample_grid(_toy(), NOWHERE, _images(), _readout() if readout is _DEFAULT else readout, **args)


def _compare(models=None, configs=None, readout=_DEFAULT, **kw):
    args = dict(seeds=[0], n_steps=1, out_root=NOWHERE, show_progress=False)
    args.update(kw)
    return E.compare_models({"a": _toy()} if models is None else models, [("a", 1.0, "standard")] if configs is None else configs,
                            _images(), _readout() if readout is _DEFAULT else readout, **args)


def _summary():
    """A sample_grid summary of two cells (M = 1 and 0.8, standard noise)."""
    return pd.DataFrame([{"model": "a", "M": M_, "init": "standard", "n": 4, "motion": mo, "motion_sem": 0.1, "gt_motion": 1.0,
                          "motion_ratio": mo, "first_frame_psnr": 20.0, "first_frame_psnr_sem": 0.1, "motion_name": "speed",
                          "fd_name": ""} for M_, mo in ((1.0, 0.5), (0.8, 0.9))])


def _per_video(image_index=0):
    return pd.DataFrame({"M": [1.0], "init": ["standard"], "seed": [0], "image_index": [image_index], "file": ["videos/x.safetensors"]})


def _mc():
    return pd.DataFrame({"model": "a", "M": 1.0, "init": "standard", "image": [0, 1, 2], "input_motion": [1.0, 2.0, 3.0],
                         "output_motion": [0.5, 1.0, 1.5], "error": [0.5, 1.0, 1.5]})


def _pt():
    return pd.DataFrame({"model": "a", "t": [0.5, 0.9, 0.5, 0.9], "video": [0, 0, 1, 1], "r": [1.0, 0.4, 1.0, 0.5]})


def _pairs():
    return pd.DataFrame({"M": 1.0, "init": "standard", "seed": 0, "image_index": np.arange(6), "motion": np.arange(6.0)})


@functools.lru_cache(maxsize=None)
def _protocol():
    """``(svd, svd_mean, vbench, true_svd, labels)`` on three known-motion videos (static, 1 and 2 px/frame)."""
    vids, flows, labels = M.synthetic_motion_set([0.0, 1.0, 2.0], None, n_frames=3, size=(32, 32), seed=0)
    kw = dict(resize=None, show_progress=False)
    return (M.motion_score(vids, "farneback", protocol="svd", **kw), M.motion_score(vids, "farneback", protocol="svd", reduce="mean", **kw),
            M.motion_score(vids, "farneback", protocol="vbench", fps=8, **kw), M.true_per_pair(flows), labels)


def _motion_protocol(svd=None, true=None, labels=None, speeds=(0.0, 1.0, 2.0), vbench=None):
    s, _, vb, tr, lab = _protocol()
    return V.motion_protocol(s if svd is None else svd, tr if true is None else true, lab if labels is None else labels, list(speeds),
                             vb if vbench is None else vbench, method="farneback")


def _cond(n=2):
    return Cond(torch.zeros(n, 1, 4, 4), motion=torch.ones(n))


def _image():
    return torch.zeros(1, 8, 8)


def _flow(n=2):
    return torch.randn(n, 2, 16, 16, generator=torch.Generator().manual_seed(0))


def _frames(n=2):
    return torch.rand(n, 1, 16, 16, generator=torch.Generator().manual_seed(0))


@functools.lru_cache(maxsize=None)
def _kl():
    return AI.kl_table(VPSchedule(), AI.synthetic_data(d=4), [0.3, 0.6], n_mc=100, numeric=False)


def _tradeoff():
    return pd.DataFrame([{"remedy": r, "motion": 0.5, "motion_sem": 0.1, "gt_motion": 1.0, "first_frame_psnr": 20.0,
                          "first_frame_psnr_sem": 0.1, "sec_per_video": 1.0} for r in ("none", "freeinit N=2")])


class _Comparison:  # the fields of cilnb.remedies.Comparison that plot_videos / plot_tradeoff read
    def __init__(self):
        self.summary = _tradeoff()
        self.per_video = pd.DataFrame({"remedy": ["none", "none"], "image_index": [0, 1], "seed": 0})
        self.videos = {"none": torch.zeros(2, 2, 1, 8, 8)}


def _video():
    return torch.zeros(2, 3, 1, 8, 8)


CASES = [
    # --- the probe's times, models and bench (cilnb.experiments.probe) ---------------------------------------
    pytest.param(lambda: E.probe_times("3"), T, r"n must be a positive int \(the number of probe times\), got '3'", id="probe-times-string-n"),
    pytest.param(lambda: E.probe_times(2.5), T, r"n must be a positive int", id="probe-times-float-n"),
    pytest.param(lambda: E.probe_times(3, NAN), VE, r"t_min must be finite", id="probe-times-nan-t_min"),
    pytest.param(lambda: E.probe_times(3, 0.0), VE, r"t_min must be > 0", id="probe-times-zero-t_min"),
    pytest.param(lambda: E.probe_times(3, 1.5), VE, r"t_min must be <= 1", id="probe-times-t_min-above-1"),
    pytest.param(lambda: E.toy_bench(2, 0, data=_CFG, frames=2.5), T, r"frames must be a positive int", id="toy-bench-fractional-frames"),
    pytest.param(lambda: E.toy_bench(2, 0, data=_CFG, size="x"), T, r"size must be a positive int", id="toy-bench-string-size"),
    pytest.param(lambda: E.run_probe([_toy()], _bench(), _TS), T, r"models must be a dict \{label: model\}", id="run-probe-list-of-models"),
    pytest.param(lambda: E.run_probe({}, _bench(), _TS), VE, r"models is empty", id="run-probe-no-models"),
    pytest.param(lambda: E.run_probe({"a": _toy()}, None, _TS), T, r"bench must be the probe's ground truth, a Bench", id="run-probe-no-bench"),
    pytest.param(lambda: E.run_leakage_index({}, _bench(), _TS), VE, r"models is empty", id="leakage-index-no-models"),
    pytest.param(lambda: E.run_leakage_index({"b": _toy()}, _bench(), _TS, predictions=_preds()), VE,
                 r"predictions hold no predictions of the model\(s\) \['b'\]", id="leakage-index-predictions-of-another-model"),
    pytest.param(lambda: E.run_leakage_index({"a": _toy()}, _bench(), _TS, predictions=_preds()["a"]), T,
                 r"predictions must be run_probe's predictions, a dict", id="leakage-index-one-models-predictions"),
    # --- recommend_start: bad input raised, not returned as "no recommended start time" -------------------------
    pytest.param(lambda: E.recommend_start(_table(), "zzz", "speed_retention"), VE, r"model 'zzz' is not in the table", id="recommend-unknown-model"),
    pytest.param(lambda: E.recommend_start(_table(), "a", "zzz"), VE, r"column 'zzz' not in the probe table", id="recommend-unknown-column"),
    pytest.param(lambda: E.recommend_start(_table(), "a", "speed_retention", "0.8"), T, r"threshold must be a real number",
                 id="recommend-string-threshold"),
    pytest.param(lambda: E.recommend_start(_table(), "a", "speed_retention", NAN), VE, r"threshold must be finite", id="recommend-nan-threshold"),
    pytest.param(lambda: E.recommend_start(_table(), "a", ["speed_retention"]), T, r"column must be the name of one probe column",
                 id="recommend-list-column"),
    pytest.param(lambda: E.recommend_start([1], "a", "speed_retention"), T, r"table must be the table of run_probe", id="recommend-list-table"),
    pytest.param(lambda: E.recommend_start(_table().drop(columns="model"), "a", "err_gt"), VE, r"table has no 'model' column",
                 id="recommend-no-model-column"),
    pytest.param(lambda: P.recommend_start(_table(), ["err_gt"]), T, r"column must be the name of one probe column.*pass 'err_gt'",
                 id="probe-recommend-list-column"),
    # --- the probe's figures ----------------------------------------------------------------------------------
    pytest.param(lambda: PL.plot_probe_strips(_bench(), _preds(), _TS, [0.5]), T, r"got the dict of every model's .*pass predictions\[label\]",
                 id="strips-all-predictions"),
    pytest.param(lambda: PL.plot_probe_strips(_bench(), _preds()["a"], _TS, [0.5], video=5), VE, r"video 5 is out of range: the probe holds 2",
                 id="strips-video-out-of-range"),
    pytest.param(lambda: PL.plot_probe_strips(_bench(), _preds()["a"], _TS, [0.5], video=1.0), T, r"video must be an int", id="strips-float-video"),
    pytest.param(lambda: PL.plot_probe_strips(_bench(), _preds()["a"], _TS, 0.5), T, r"show_t must be a list", id="strips-scalar-show_t"),
    pytest.param(lambda: PL.plot_probe_strips(_bench(), _preds()["a"], _TS, [NAN]), VE, r"show_t\[0\] must be finite", id="strips-nan-show_t"),
    pytest.param(lambda: PL.plot_probe_strips(_bench(), _preds()["a"], [0.2, 0.5, 0.9], [0.5]), VE, r"ts holds 3 times but predictions hold 2",
                 id="strips-other-ts"),
    pytest.param(lambda: PL.plot_probe_strips(None, _preds()["a"], _TS, [0.5]), T, r"bench must be the probe's Bench", id="strips-no-bench"),
    pytest.param(lambda: PL.plot_probe_curves(_table(), "err_gt"), T, r"columns must be a list of column names, got the string 'err_gt'",
                 id="curves-string-columns"),
    pytest.param(lambda: PL.plot_probe_curves(_table(), ["zzz"]), VE, r"table lacks the columns \['zzz'\]", id="curves-unknown-column"),
    pytest.param(lambda: PL.plot_probe_curves(_table(), []), VE, r"columns is empty", id="curves-no-columns"),
    pytest.param(lambda: PL.plot_probe_curves(_table().iloc[:0], ["err_gt"]), VE, r"table is empty", id="curves-empty-table"),
    pytest.param(lambda: PL.plot_probe_curves(_table().drop(columns="model"), ["err_gt"]), VE, r"table lacks the columns \['model'\]",
                 id="curves-no-model-column"),
    pytest.param(lambda: PL.plot_probe_curves(_table(), ["err_gt"], recommend=NAN), VE, r"recommend must be finite", id="curves-nan-recommend"),
    pytest.param(lambda: PL.plot_probe_curves(_table(), ["err_gt"], recommend="0.5"), T, r"recommend must be a real number",
                 id="curves-string-recommend"),
    pytest.param(lambda: PL.plot_leakage_index(_li().drop(columns="index")), VE, r"li lacks the columns \['index'\]", id="leakage-plot-no-index"),
    pytest.param(lambda: PL.plot_leakage_index(_li().iloc[:0]), VE, r"li is empty", id="leakage-plot-empty"),
    pytest.param(lambda: PL.plot_leakage_index([1]), T, r"li must be a pandas DataFrame", id="leakage-plot-list"),
    # --- the sweep, its store and its figures -----------------------------------------------------------------
    pytest.param(lambda: _grid(readout="toy"), T, r"readout must be a read-out object .* got 'toy'", id="grid-readout-name"),
    pytest.param(lambda: _grid(readout=None), T, r"readout must be a read-out object", id="grid-no-readout"),
    pytest.param(lambda: _grid(inits="standard"), T, r"inits must be a list, got 'standard'", id="grid-string-inits"),
    pytest.param(lambda: _grid(seeds=0), T, r"seeds must be a list, got 0", id="grid-int-seeds"),
    pytest.param(lambda: _grid(Ms="1.0"), T, r"Ms must be a list, got '1.0'", id="grid-string-Ms"),
    pytest.param(lambda: _compare(configs=[]), VE, r"configs is empty", id="compare-no-configs"),
    pytest.param(lambda: _compare(configs=("a", 1.0, "standard")), T, r"got one triple .*pass \[\('a', 1\.0, 'standard'\)\]",
                 id="compare-one-triple"),
    pytest.param(lambda: _compare(configs=[("a", 1.0)]), VE, r"each config must be a \(model label, M, init\) triple", id="compare-pair-config"),
    pytest.param(lambda: _compare(configs="a"), T, r"configs must be a list of \(model label, M, init\) triples", id="compare-string-configs"),
    pytest.param(lambda: _compare(models=[_toy()]), T, r"models must be a dict", id="compare-list-of-models"),
    pytest.param(lambda: _compare(readout="toy"), T, r"readout must be a read-out object", id="compare-readout-name"),
    pytest.param(lambda: E.motion_control({"a": _toy()}, [("a", 1.0, "standard")], None, _readout(), n_steps=1, out_root=NOWHERE), T,
                 r"images must be the cilnb.io.ImageSet of motion_control_images", id="motion-control-no-images"),
    pytest.param(lambda: E.motion_control([_toy()], [("a", 1.0, "standard")], _images(), _readout(), n_steps=1, out_root=NOWHERE), T,
                 r"models must be a dict", id="motion-control-list-of-models"),
    pytest.param(lambda: E.sample_store_dir("a", _toy(), _images(), n_steps=2.5), T, r"n_steps must be a positive int", id="store-fractional-steps"),
    pytest.param(lambda: E.sample_store_dir("a", _toy(), _images(), n_steps="10"), T, r"n_steps must be a positive int", id="store-string-steps"),
    pytest.param(lambda: E.sample_store_dir("a", _toy(), _images(), n_steps=0), VE, r"n_steps must be a positive int", id="store-zero-steps"),
    pytest.param(lambda: E.sample_store_dir("a", _toy(), _images(), n_steps=1, batch_size=2.5), T, r"batch_size must be a positive int",
                 id="store-fractional-batch"),
    pytest.param(lambda: E.sample_store_dir("../x", _toy(), _images(), n_steps=1), VE, r"label must be a plain name", id="store-label-path"),
    pytest.param(lambda: E.sample_store_dir(None, _toy(), _images(), n_steps=1), VE, r"label must be a plain name", id="store-no-label"),
    pytest.param(lambda: E.sample_store_dir("a", _toy(), None, n_steps=1), T, r"images must be a cilnb.io.ImageSet", id="store-no-images"),
    pytest.param(lambda: E.sample_store_dir("a", _toy(), _images(), n_steps=1, cond_kwargs=[1]), T, r"cond_kwargs must be a dict",
                 id="store-list-cond_kwargs"),
    pytest.param(lambda: E.sample_store_dir("a", _toy(), _images(), n_steps=1, stats_path=NOWHERE), VE, r"stats_path .* is not a file",
                 id="store-missing-stats"),
    pytest.param(lambda: E.sample_store_dir("a", None, _images(), n_steps=1), T, r"model must be a cilnb model", id="store-no-model"),
    pytest.param(lambda: E.load_sweep_videos(NOWHERE, _per_video()), VE, r"out .* is not a folder: pass the folder the sweep stored",
                 id="load-videos-missing-folder"),
    pytest.param(lambda: E.load_sweep_videos(NOWHERE, _per_video().drop(columns="file")), VE, r"table must be rows .*\(with a 'file' column\)",
                 id="load-videos-no-file-column"),
    pytest.param(lambda: E.load_sweep_videos(NOWHERE, _per_video().iloc[:0]), VE, r"table has no rows", id="load-videos-no-rows"),
    pytest.param(lambda: E.sweep_videos(_summary(), NOWHERE), VE, r"per_video lacks the columns .*not its summary", id="sweep-videos-summary"),
    pytest.param(lambda: E.sweep_videos(_per_video(), NOWHERE, image_index="0"), T, r"image_index must be an int", id="sweep-videos-string-image"),
    pytest.param(lambda: E.sweep_videos(_per_video(1), NOWHERE, image_index=1, images=ImageSet(["a"], _images().images[:1], "toy:1")), VE,
                 r"image_index 1 is beyond the 1 image\(s\) of images", id="sweep-videos-image-beyond-the-set"),
    pytest.param(lambda: PL.plot_sweep_videos([1], NOWHERE), T, r"per_video must be the per-video table of sample_grid", id="sweep-plot-list"),
    pytest.param(lambda: PL.plot_m_sweep(_summary().iloc[:0]), VE, r"summary is empty", id="m-sweep-plot-empty"),
    pytest.param(lambda: PL.plot_m_sweep(_per_video()), VE, r"summary lacks the columns", id="m-sweep-plot-per-video"),
    pytest.param(lambda: PL.plot_m_sweep([1]), T, r"summary must be a pandas DataFrame", id="m-sweep-plot-list"),
    pytest.param(lambda: PL.plot_compare(_summary().iloc[:0]), VE, r"summary is empty", id="compare-plot-empty"),
    pytest.param(lambda: PL.plot_compare(_summary().drop(columns="motion_ratio")), VE, r"summary lacks the columns \['motion_ratio'\]",
                 id="compare-plot-no-ratio"),
    pytest.param(lambda: PL.plot_motion_control(_mc().iloc[:0]), VE, r"df is empty", id="motion-plot-empty"),
    pytest.param(lambda: PL.plot_motion_control(_mc().drop(columns="output_motion")), VE, r"df lacks the columns \['output_motion'\]",
                 id="motion-plot-no-output"),
    pytest.param(lambda: PL.plot_motion_control(_mc().assign(output_motion=NAN)), VE, r"df holds no row with both input_motion and output_motion",
                 id="motion-plot-all-nan"),
    pytest.param(lambda: PL.plot_motion_control(_mc().assign(output_motion=INF)), VE, r"df\['output_motion'\] holds infinite values",
                 id="motion-plot-inf"),
    pytest.param(lambda: PL.plot_motion_control([1]), T, r"df must be a pandas DataFrame", id="motion-plot-list"),
    # --- inputs: models, images, TimeNoise views ----------------------------------------------------------------
    pytest.param(lambda: E.run_label("toy", 3), T, r"model_path must be a checkpoint path", id="run-label-int-path"),
    pytest.param(lambda: E.load_models("toy", variants=None), T, r"variants must name toy checkpoints", id="load-models-no-variants"),
    pytest.param(lambda: E.load_models("toy", model_path=3), T, r"model_path must be a checkpoint path", id="load-models-int-path"),
    pytest.param(lambda: E.load_variants("toy", which="base"), T, r"which must be a list of variants .*pass \['base'\]", id="load-variants-string-which"),
    pytest.param(lambda: E.load_variants("toy", which=["bogus"]), VE, r"which names unknown variant\(s\) \['bogus'\]", id="load-variants-unknown"),
    pytest.param(lambda: E.describe_models([_toy()]), T, r"models must be a dict", id="describe-list-of-models"),
    pytest.param(lambda: E.toy_images(2.5, 0, data=_CFG), T, r"n_images must be a positive int", id="toy-images-fractional"),
    pytest.param(lambda: E.toy_images("2", 0, data=_CFG), T, r"n_images must be a positive int", id="toy-images-string"),
    pytest.param(lambda: E.timenoise_views(None, _image()[None], [0.5], 5.0, 10.0), VE, r"image must be one conditional image \[C, H, W\].*image\[0\]",
                 id="timenoise-views-batch-image"),
    pytest.param(lambda: E.timenoise_views(None, _image() + 200, [0.5], 5.0, 10.0), VE, r"image values span .*0\.\.255", id="timenoise-views-0-255"),
    pytest.param(lambda: E.timenoise_views(None, _image().numpy(), [0.5], 5.0, 10.0), T, r"image must be a torch.Tensor.*from_numpy",
                 id="timenoise-views-numpy"),
    pytest.param(lambda: E.timenoise_views(None, _image(), "0.5", 5.0, 10.0), T, r"ts must be a list, got the string", id="timenoise-views-string-ts"),
    pytest.param(lambda: E.timenoise_views(None, _image(), [], 5.0, 10.0), VE, r"ts is empty", id="timenoise-views-no-ts"),
    pytest.param(lambda: E.timenoise_views(None, _image(), [0.5], 5.0, 10.0, n_draws=0), VE, r"n_draws must be a positive int",
                 id="timenoise-views-no-draws"),
    pytest.param(lambda: E.timenoise_views(None, _image(), [0.5], 5.0, 10.0, seed=1.5), T, r"seed must be an int", id="timenoise-views-float-seed"),
    pytest.param(lambda: E.timenoise_views("svd", _image(), [0.5], 5.0, 10.0), T, r"load it first, cilnb.models.load\('svd'\)", id="timenoise-views-model-name"),
    pytest.param(lambda: PL.plot_timenoise_conditioning(_image(), [0.5], 5.0, 10.0, n_draws=0), VE, r"n_draws must be a positive int",
                 id="timenoise-plot-no-draws"),
    pytest.param(lambda: E.shown_image("toy", None), T, r"images must be the sweep's cilnb.io.ImageSet", id="shown-image-no-images"),
    # --- verdicts -------------------------------------------------------------------------------------------------
    pytest.param(lambda: V.config_name("base", 0.8, "analytc"), VE, r"init must be one of \['standard', 'analytic'\]", id="config-name-init-typo"),
    pytest.param(lambda: V.leakage(_pt().assign(r="x"), "r", model="a"), VE, r"table\['r'\] must hold numbers", id="leakage-text-column"),
    pytest.param(lambda: V.leakage(_pt().assign(t="x"), "r", model="a"), VE, r"table\['t'\] must hold numbers", id="leakage-text-t"),
    pytest.param(lambda: V.leakage(_pt(), "r", model=["a"]), T, r"model must be the label of one model", id="leakage-list-model"),
    pytest.param(lambda: V.leakage(_pt(), "r", model="a", recommendation=3), T, r"recommendation must be the sentence", id="leakage-int-recommendation"),
    pytest.param(lambda: V.start_time(_summary().assign(M="x")), VE, r"summary\['M'\] must hold numbers", id="start-time-text-M"),
    # a half sweep table failed with a bare AttributeError/KeyError (fd without fd_lo, net_travel_data without net_travel)
    pytest.param(lambda: V.start_time(_summary().assign(fd=[1.0, 2.0], fd_hi=3.0, motion_ratio=1.0)), VE,
                 r"summary has 'fd' but lacks \['fd_lo'\], which are read with it", id="start-time-fd-without-lo"),
    pytest.param(lambda: V.start_time(_summary().assign(net_travel_data=1.0)), VE,
                 r"summary has 'net_travel_data' but lacks \['net_travel', 'net_travel_sem'\]", id="start-time-travel-data-only"),
    pytest.param(lambda: V.start_time(_summary().assign(sprite_stability=0.9)), VE, r"lacks \['sprite_stability_sem'\]",
                 id="start-time-stability-without-sem"),
    # int(inf) inside the one-video check: OverflowError
    pytest.param(lambda: V.start_time(_summary().assign(n=[4, np.inf])), VE, r"summary\['n'\] \(videos per cell\) must hold whole numbers",
                 id="start-time-inf-n"),
    pytest.param(lambda: V.motion_control(pd.concat([_mc(), _mc()])), VE, r"df has 3 row\(s\) repeating an image", id="motion-verdict-duplicates"),
    # "output - input -inf +- nan"; output_travel without input_travel: a bare KeyError
    pytest.param(lambda: V.motion_control(_mc().assign(input_motion=[1.0, INF, 3.0])), VE, r"df\['input_motion'\] holds infinite values",
                 id="motion-verdict-inf-input"),
    pytest.param(lambda: V.motion_control(_mc().assign(output_travel=1.0)), VE, r"df has 'output_travel' but lacks \['input_travel'\]",
                 id="motion-verdict-travel-half"),
    pytest.param(lambda: V.timenoise_motion(_summary().assign(model=["naive", "timenoise"], M=1.0, n=[4, INF])), VE,
                 r"summary\['n'\] \(videos per cell\) must hold whole numbers", id="timenoise-verdict-inf-n"),
    pytest.param(lambda: V.timenoise_motion(_summary().assign(model=["naive", "timenoise"], M=1.0, fd=1.0, fd_lo=0.5)), VE,
                 r"summary has 'fd' but lacks \['fd_hi'\]", id="timenoise-verdict-fd-half"),
    pytest.param(lambda: V.timenoise_motion(_summary().assign(model=["naive", "timenoise"], M=1.0, motion_sem=[0.1, INF])), VE,
                 r"summary\['motion_sem'\] holds infinite values", id="timenoise-verdict-inf-sem"),
    pytest.param(lambda: V.motion_control(_mc().assign(output_motion="x")), VE, r"df\['output_motion'\] must hold numbers",
                 id="motion-verdict-text-column"),
    pytest.param(lambda: _motion_protocol(svd=_protocol()[1]), VE, r"svd must be scored with reduce='sum'", id="protocol-mean-reduce"),
    pytest.param(lambda: _motion_protocol(svd=_protocol()[2], vbench=_protocol()[0]), T, r"svd must be the MotionScores .*protocol='svd'",
                 id="protocol-swapped-scores"),
    pytest.param(lambda: _motion_protocol(svd=_protocol()[0].score), T, r"svd must be the MotionScores", id="protocol-tensor-scores"),
    pytest.param(lambda: _motion_protocol(labels=_protocol()[4][:2]), VE, r"got 2 labels for 3 scored videos", id="protocol-labels-short"),
    pytest.param(lambda: _motion_protocol(speeds=(0.0, 3.0, 6.0)), VE, r"speeds do not match labels", id="protocol-other-speeds"),
    pytest.param(lambda: _motion_protocol(true=_protocol()[3][:2]), VE, r"true_svd must be the true per-pair motion .*shape \(3, 2\)",
                 id="protocol-true-shape"),
    pytest.param(lambda: _motion_protocol(true=_protocol()[3] * 0), VE, r"true_svd holds no moving video", id="protocol-no-moving-video"),
    # --- paired agreement -----------------------------------------------------------------------------------------
    pytest.param(lambda: AG.paired_agreement(_pairs(), _pairs(), ["motion"], keys=[]), VE, r"keys is empty", id="agreement-no-keys"),
    pytest.param(lambda: AG.paired_agreement(_pairs(), _pairs(), ["M"]), VE, r"\['M'\] is named in more than one of keys, pair_on and columns",
                 id="agreement-column-is-a-key"),
    pytest.param(lambda: AG.paired_agreement(_pairs(), _pairs(), ["motion", "motion"]), VE, r"columns names \['motion'\] more than once",
                 id="agreement-column-twice"),
    # --- Cond -------------------------------------------------------------------------------------------------------
    pytest.param(lambda: Cond.cat([_cond(), Cond(torch.zeros(2, 1, 4, 4))]), VE, r"conditioning 1 has the keys \['y'\] but conditioning 0",
                 id="cond-cat-missing-key"),
    pytest.param(lambda: Cond.cat([Cond(torch.zeros(2, 1, 4, 4)), _cond()]), VE, r"conditioning 1 has the keys \['motion', 'y'\]",
                 id="cond-cat-extra-key-dropped"),
    pytest.param(lambda: Cond.cat([_cond(), Cond(torch.zeros(2, 3, 4, 4), motion=torch.ones(2))]), VE, r"the rows of 'y' differ in shape",
                 id="cond-cat-shapes"),
    pytest.param(lambda: Cond.cat([_cond(), Cond(torch.zeros(2, 1, 4, 4), motion=1.0)]), VE, r"'motion' must be a tensor with a batch dim",
                 id="cond-cat-tensor-and-number"),
    pytest.param(lambda: Cond.cat(None), T, r"Cond.cat takes a list of conditionings", id="cond-cat-none"),
    pytest.param(lambda: _cond().select(5), VE, r"row 5 is out of range for a conditioning of 2 row\(s\)", id="cond-select-out-of-range"),
    pytest.param(lambda: _cond().select("0"), T, r"index must be an int, a slice", id="cond-select-string"),
    pytest.param(lambda: _cond().select(1.0), T, r"index must be an int, a slice", id="cond-select-float"),
    pytest.param(lambda: _cond().select([0, 5]), VE, r"rows \[5\] are out of range", id="cond-select-list-out-of-range"),
    pytest.param(lambda: _cond(1).expand(0), VE, r"n must be a positive int", id="cond-expand-zero"),
    pytest.param(lambda: _cond(1).expand(-1), VE, r"n must be a positive int", id="cond-expand-negative"),
    pytest.param(lambda: _cond(1).expand(2.5), T, r"n must be a positive int", id="cond-expand-float"),
    pytest.param(lambda: _cond().to("bogus"), VE, r"device 'bogus' is not a torch device", id="cond-to-bogus-device"),
    pytest.param(lambda: _cond().to(None, "float16"), T, r"dtype must be a torch.dtype", id="cond-to-string-dtype"),
    # --- flow pictures ----------------------------------------------------------------------------------------------
    pytest.param(lambda: FL.flow_to_rgb(_flow(), NAN), VE, r"max_magnitude must be finite", id="flow-rgb-nan-max"),
    pytest.param(lambda: FL.flow_to_rgb(_flow(), -1.0), VE, r"max_magnitude must be > 0", id="flow-rgb-negative-max"),
    pytest.param(lambda: FL.flow_to_rgb(torch.full((1, 2, 4, 4), NAN)), VE, r"flow holds 32 non-finite", id="flow-rgb-nan-flow"),
    pytest.param(lambda: FL.flow_to_rgb(_flow().permute(0, 2, 3, 1)), VE, r"flow must be flow \[\.\.\., 2, H, W\].*\[\.\.\., H, W, 2\]",
                 id="flow-rgb-channels-last"),
    pytest.param(lambda: FL.plot_flow_fields(_frames(), _flow()[0]), VE, r"flows must be flow \[N, 2, H, W\]", id="flow-fields-rank-3"),
    pytest.param(lambda: FL.plot_flow_fields(_frames(), _flow(), ["a"]), VE, r"got 1 titles for 2 flows", id="flow-fields-titles-short"),
    pytest.param(lambda: FL.plot_flow_fields(_frames(), _flow(), step=0), VE, r"step must be a positive int", id="flow-fields-zero-step"),
    pytest.param(lambda: FL.plot_flow_fields(_frames(1), _flow()), VE, r"frames must be \[N, C, H, W\] = \[2, 1 or 3, 16, 16\]",
                 id="flow-fields-fewer-frames"),
    pytest.param(lambda: FL.plot_flow_fields(torch.rand(2, 1, 8, 8), _flow()), VE, r"frames must be \[N, C, H, W\]", id="flow-fields-frame-size"),
    pytest.param(lambda: FL.plot_flow_fields(_frames() * 255, _flow()), VE, r"0\.\.255 pixels, use x / 255", id="flow-fields-0-255-frames"),
    pytest.param(lambda: FL.plot_flow_fields(_frames(), _flow() * NAN), VE, r"flows holds .* non-finite", id="flow-fields-nan-flow"),
    pytest.param(lambda: FL.plot_per_pair(_protocol()[0], ["a"]), VE, r"got 1 labels for 3 videos", id="per-pair-labels-short"),
    pytest.param(lambda: FL.plot_per_pair(torch.zeros(2, 2), ["a", "b"]), T, r"scores must be the MotionScores", id="per-pair-tensor"),
    pytest.param(lambda: FL.plot_per_pair(_protocol()[0], list("abc"), torch.zeros(1, 5)), VE, r"true_per_pair must be \[B, P\] = \(3, 2\)",
                 id="per-pair-true-shape"),
    pytest.param(lambda: FL.plot_agreement(np.array([NAN, 2.0]), {"x": np.array([1.0, 2.0])}), VE, r"true holds NaN or inf",
                 id="agreement-plot-nan"),
    pytest.param(lambda: FL.plot_agreement(np.array([1.0, 2.0]), {"x": np.array([1.0])}), VE, r"estimates\['x'\] has 1 value\(s\) but true has 2",
                 id="agreement-plot-lengths"),
    pytest.param(lambda: FL.plot_agreement(np.array([1.0, 2.0]), [np.array([1.0, 2.0])]), T, r"estimates must be a dict", id="agreement-plot-list"),
    pytest.param(lambda: FL.plot_protocols(_protocol()[3].mean(1)[:2], _protocol()[0], _protocol()[2]), VE, r"x has 2 value\(s\) but the scores hold 3",
                 id="protocols-plot-x-short"),
    pytest.param(lambda: FL.plot_protocols(_protocol()[3].mean(1), _protocol()[2], _protocol()[0]), T, r"svd_scores must be the MotionScores",
                 id="protocols-plot-swapped"),
    pytest.param(lambda: FL.draw_color_wheel(plt.figure().add_subplot(), 0), VE, r"size must be an int >= 2", id="color-wheel-zero-size"),
    # --- TimeNoise and Analytic-Init figures ------------------------------------------------------------------------
    pytest.param(lambda: PL.plot_timenoise_density(5.0, 2.0, "0.5", n_t=11, n_beta=12), T, r"t_slices must be a list, got the string",
                 id="density-plot-string-slices"),
    pytest.param(lambda: PL.plot_timenoise_density(5.0, 2.0, [], n_t=11, n_beta=12), VE, r"t_slices is empty", id="density-plot-no-slices"),
    pytest.param(lambda: PL.plot_timenoise_mu(beta_m=NAN), VE, r"beta_m must be finite", id="mu-plot-nan-beta_m"),
    pytest.param(lambda: PL.plot_timenoise_mu(beta_m=-5.0), VE, r"beta_m must be > 0", id="mu-plot-negative-beta_m"),
    pytest.param(lambda: PL.plot_timenoise_mu(5.0), T, r"a_values must be a list", id="mu-plot-scalar-a"),
    pytest.param(lambda: PL.plot_timenoise_mu([]), VE, r"a_values is empty", id="mu-plot-no-a"),
    pytest.param(lambda: PL.plot_timenoise_samples(5.0, 2.0, (0.5,), n=50, bins=0), VE, r"bins must be a positive int", id="samples-plot-zero-bins"),
    pytest.param(lambda: PL.plot_timenoise_samples(5.0, 2.0, (0.5,), n=50, p_min="0.001"), T, r"p_min must be a real number",
                 id="samples-plot-string-p_min"),
    pytest.param(lambda: PL.plot_timenoise_samples(5.0, 2.0, (0.5,), n=50, p_min=NAN), VE, r"p_min must be finite", id="samples-plot-nan-p_min"),
    pytest.param(lambda: PL.plot_init_params(_kl().iloc[:0]), VE, r"table is empty", id="init-params-empty"),
    pytest.param(lambda: PL.plot_init_params(_kl().drop(columns="var_opt")), VE, r"table lacks the columns \['var_opt'\]", id="init-params-missing"),
    pytest.param(lambda: PL.plot_init_params(AI.kl_table(VPSchedule(), AI.synthetic_data(d=4), [0.3, 0.6], n_mc=100).drop(columns="num_var")),
                 VE, r"table lacks the columns \['num_var'\]", id="init-params-numeric-half"),
    pytest.param(lambda: PL.plot_init_kl(_kl().drop(columns="nongauss")), VE, r"table lacks the columns \['nongauss'\]", id="init-kl-missing"),
    pytest.param(lambda: PL.plot_init_marginals(VPSchedule(), AI.synthetic_data(d=4), [0.5], coord="0"), T, r"coord must be an int",
                 id="marginals-string-coord"),
    pytest.param(lambda: PL.plot_init_marginals(VPSchedule(), AI.synthetic_data(d=4), [0.5], coord=True), T, r"coord must be an int",
                 id="marginals-bool-coord"),
    pytest.param(lambda: PL.plot_init_marginals(VPSchedule(), AI.synthetic_data(d=4), "0.5"), T, r"Ms must be a list, got the string",
                 id="marginals-string-Ms"),
    pytest.param(lambda: PL.plot_init_marginals(VPSchedule(), AI.synthetic_data(d=4), []), VE, r"Ms is empty", id="marginals-no-Ms"),
    pytest.param(lambda: PL.plot_init_marginals("vp", AI.synthetic_data(d=4), [0.5]), T, r"schedule must be a cilnb.schedules.Schedule",
                 id="marginals-schedule-name"),
    # --- remedies figures and video grids ---------------------------------------------------------------------------
    pytest.param(lambda: PL.plot_tradeoff(_tradeoff().iloc[:0]), VE, r"summary is empty", id="tradeoff-empty"),
    pytest.param(lambda: PL.plot_tradeoff(_tradeoff().drop(columns="sec_per_video")), VE, r"summary lacks the columns \['sec_per_video'\]",
                 id="tradeoff-no-seconds"),
    pytest.param(lambda: PL.plot_tradeoff(_Comparison()), T, r"pass its \.summary", id="tradeoff-comparison"),
    pytest.param(lambda: PL.plot_videos(None), T, r"cmp must be the result of cilnb.remedies.compare", id="remedy-videos-no-comparison"),
    pytest.param(lambda: PL.plot_videos(_Comparison(), "0"), T, r"image_index must be an int", id="remedy-videos-string-image"),
    pytest.param(lambda: PL.video_grid(_video() + 200), VE, r"0\.\.255 pixels: pass vmin=0, vmax=255", id="grid-0-255"),
    pytest.param(lambda: PL.video_grid(_video(), labels=3), T, r"labels must be a list of captions", id="grid-int-labels"),
]


@pytest.mark.parametrize("call,exc,pattern", CASES)
def test_bad_input_raises_a_clear_error(call, exc, pattern):
    try:
        with pytest.raises(exc, match=pattern):
            call()
    finally:
        plt.close("all")


def test_savefig_checks_the_figure_formats_and_folder(tmp_path):
    """A file as fig_dir was errno text; formats="png" was split into letters; an empty formats list saved nothing; an
    Axes or None failed with AttributeError; a figure of empty axes was saved although savefig promises to refuse it."""
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    (tmp_path / "file").write_text("x")
    cases = [
        (lambda: PL.savefig(fig, "a", tmp_path / "file"), VE, r"fig_dir .*file is a file, not a folder"),
        (lambda: PL.savefig(fig, "a", tmp_path / "file" / "sub"), VE, r"fig_dir .*is a file, so no folder can be made under it"),
        (lambda: PL.savefig(fig, "a", 3), T, r"fig_dir must be a folder path"),
        (lambda: PL.savefig(None, "a", tmp_path), T, r"fig must be a matplotlib Figure"),
        (lambda: PL.savefig(ax, "a", tmp_path), T, r"got Axes: pass ax\.figure"),
        (lambda: PL.savefig(fig, "a", tmp_path, formats="png"), T, r"formats must be a list .*pass \('png',\)"),
        (lambda: PL.savefig(fig, "a", tmp_path, formats=()), VE, r"formats must name one or more of"),
        (lambda: PL.savefig(fig, "a", tmp_path, formats=(".png",)), VE, r"\(no dot\), got \['\.png'\]"),
        (lambda: PL.savefig(plt.subplots()[0], "empty", tmp_path), VE, r"figure 'empty' shows no data"),
    ]
    try:
        for call, exc, pattern in cases:
            with pytest.raises(exc, match=pattern):
                call()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing written
        assert [p.name for p in PL.savefig(fig, "a", tmp_path / "new", formats=("png",))] == ["a.png"]
    finally:
        plt.close("all")


def test_stored_videos_of_another_folder_are_named(tmp_path):
    """A folder without the table's videos failed inside safetensors with a bare FileNotFoundError."""
    with pytest.raises(ValueError, match=r"holds no stored video 'videos/x\.safetensors' \(1 of 1 missing\)"):
        E.load_sweep_videos(tmp_path, _per_video())
    with pytest.raises(ValueError, match=r"holds no stored video"):
        PL.plot_sweep_videos(_per_video(), tmp_path)


def test_start_time_without_finite_motion_is_undecided():
    """A cell without a finite motion (no sprite found in any video) was judged 'does NOT rise' from NaN numbers."""
    v = V.start_time(_summary().assign(motion=[NAN, 0.9]))
    assert v.holds is None and "Undecided" in str(v) and "M=1 standard" in str(v) and "nan" not in str(v)
    assert V.start_time(_summary()).holds is True  # finite cells decide as before


def test_start_time_paired_fd_without_its_interval_falls_back_to_the_intervals():
    """A paired FD difference without its _lo/_hi printed "paired difference -1.0 [nan, +2.0]" and judged on NaN."""
    rows = [{"M": M_, "init": init, "n": 4, "motion": mo, "motion_sem": 0.01, "gt_motion": 1.0, "motion_ratio": mo,
             "first_frame_psnr": 20.0, "first_frame_psnr_sem": 0.1, "motion_name": "speed", "fd_name": "FD", "fd": fd,
             "fd_lo": fd - 1, "fd_hi": fd + 1, "fd_vs_standard": -5.0, "fd_vs_standard_hi": -4.0}
            for M_, init, mo, fd in ((1.0, "standard", 0.5, 10.0), (0.8, "standard", 0.9, 12.0), (0.8, "analytic", 0.9, 9.0))]
    with pytest.raises(ValueError, match=r"has 'fd_vs_standard' but lacks \['fd_vs_standard_lo'\]"):
        V.start_time(pd.DataFrame(rows))
    v = str(V.start_time(pd.DataFrame(rows).assign(fd_vs_standard_lo=np.nan)))
    assert "nan" not in v and "FD 9.0 [8.0-10.0] vs 12.0 [11.0-13.0] (quality better)" in v


def test_cond_rows_and_values_that_used_to_go_wrong_silently():
    """select(-1) gave an empty conditioning (slice(-1, 0)); equal numpy values made Cond.cat fail on their truth value."""
    y = torch.arange(3.0).view(3, 1, 1, 1)
    c = Cond(y, motion=torch.tensor([1.0, 2.0, 3.0]))
    assert torch.equal(c.select(-1).y, y[2:]) and torch.equal(c.select(-3)["motion"], torch.tensor([1.0]))
    assert torch.equal(c.select(torch.tensor([2, 0])).y, y[[2, 0]]) and torch.equal(c.select(torch.tensor([True, False, True])).y, y[[0, 2]])
    with pytest.raises(ValueError, match=r"row -4 is out of range"):
        c.select(-4)
    with pytest.raises(ValueError, match=r"boolean row mask must have one entry per row"):
        c.select(torch.tensor([True, False]))
    joined = Cond.cat([Cond(y[:1], grid=np.ones(2)), Cond(y[1:], grid=np.ones(2))])
    assert joined.y.shape == (3, 1, 1, 1) and np.array_equal(joined["grid"], np.ones(2))
    with pytest.raises(ValueError, match=r"different non-tensor values for 'grid'"):
        Cond.cat([Cond(y[:1], grid=np.ones(2)), Cond(y[1:], grid=np.zeros(2))])
    assert c.equals(c.copy()) and not c.equals(None) and not c.equals([1])


def test_recommend_start_still_says_when_no_start_time_qualifies():
    """Bad input now raises; a curve that keeps the threshold nowhere still gives (None, the reason)."""
    M_, msg = E.recommend_start(_table(), "a", "err_gt", threshold=1e9)
    assert M_ is None and msg.startswith("No recommended start time for a: no probed t keeps mean err_gt")
    M_, msg = E.recommend_start(_table(), "a", "err_gt", threshold=1e-9)
    assert M_ == pytest.approx(0.9) and msg.startswith("Recommended start time M = 0.90 T for a")


def test_slider_options_may_be_an_array_or_tensor():
    """An array or tensor of the stored times was refused as not '(options, value)' although it is exactly that."""
    pytest.importorskip("ipywidgets")
    for options in (np.array([0.25, 0.5]), torch.tensor([0.25, 0.5], dtype=torch.float64)):
        w = PL.sliders(lambda t: plt.figure(), True, t=(options, 0.5))
        assert list(w.children[0].options) == [0.25, 0.5] and w.children[0].value == 0.5
    plt.close("all")


def test_valid_inputs_still_work(tmp_path):
    """The checks refuse only bad input: the calls the notebooks make still run."""
    table, preds = _probed()
    assert set(table.model) == {"a"} and preds["a"].shape[:2] == (2, 2)
    li = E.run_leakage_index({"a": _toy()}, _bench(), _TS, predictions=preds)
    assert len(li) == 4
    assert torch.equal(E.probe_times(3), torch.linspace(0.05, 1.0, 3, dtype=torch.float64))
    for fig in (PL.plot_probe_strips(_bench(), preds["a"], torch.tensor(_TS), [0.9], video=-1),
                PL.plot_probe_curves(table, ["err_gt"], recommend=0.5), PL.plot_leakage_index(li), PL.plot_m_sweep(_summary()),
                PL.plot_compare(_summary()), PL.plot_motion_control(_mc()), PL.plot_tradeoff(_tradeoff()),
                FL.plot_flow_fields(_frames(), _flow(), ["x", "y"]), PL.plot_timenoise_mu(beta_m=100.0),
                PL.plot_init_marginals(VPSchedule(), AI.synthetic_data(d=4), (0.5,), coord=np.int64(1)),
                PL.plot_timenoise_conditioning(_image(), [0.5], 5.0, 10.0)):
        assert PL.savefig(fig, "valid", tmp_path, formats=("png",))
    plt.close("all")
    assert V.config_name("base", 1.0, "standard") == "base" and V.motion_control(_mc()).holds is True
    assert _motion_protocol().holds is True
    assert E.sample_store_dir("a", _toy(), _images(), n_steps=np.int64(2)) == E.sample_store_dir("a", _toy(), _images(), n_steps=2)
    assert len(AG.paired_agreement(_pairs(), _pairs(), ["motion"])) == 1

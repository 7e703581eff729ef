"""Edge inputs to the experiments layer (``cilnb.experiments``) that were mishandled: a verdict that judged what it
could not (one video, no standard error, a configuration without shared images) or printed "nan"/"inf", a table whose
repeated cells were silently picked from, a typo'd init dropped, a probe's predictions reused on other times, seed or
ground truth, and compare_models configurations refused only after sampling the cells before them."""
from __future__ import annotations

import functools
import os

import numpy as np
import pandas as pd
import pytest

import cilnb.experiments as E
from cilnb import data as D
from cilnb.experiments import verdicts as V
from cilnb.io import ImageSet
from cilnb.models import toy

NAN = float("nan")


@functools.lru_cache(maxsize=None)
def _toy():
    return toy.build(frames=2, size=8, widths=(8,), temporal="none", temporal_levels=(), temporal_width=8, emb_dim=16, seed=0).eval()


_CFG = D.SpriteConfig(frames=2, size=8, radius=(1.0, 2.0))


@functools.lru_cache(maxsize=None)
def _bench(n=2, seed=0):
    return E.toy_bench(n, seed, data=_CFG)


@functools.lru_cache(maxsize=None)
def _images():
    sv = D.generate(2, seed=0, config=_CFG)
    speed = sv.speed.tolist()
    return ImageSet(["a", "b"], sv.condition, "toy:2", {"input_speed": speed}, sv.videos, {"motion": speed}, _CFG)


def _pt():
    return pd.DataFrame({"model": "a", "t": [0.5, 0.9, 0.5, 0.9], "video": [0, 0, 1, 1], "r": [1.0, 0.4, 1.0, 0.5]})


def _sweep():
    return pd.DataFrame({"M": [1.0, 0.6, 1.0, 0.6], "init": ["standard", "standard", "analytic", "analytic"], "n": 4,
                         "motion": [1.0, 1.5, 1.0, 1.4], "motion_sem": 0.1, "gt_motion": 1.4, "motion_ratio": [0.7, 1.1, 0.7, 1.0],
                         "first_frame_psnr": [30.0, 20.0, 30.0, 29.0], "first_frame_psnr_sem": 0.5, "motion_name": "speed",
                         "fd_name": ""})


def _tn():
    return pd.DataFrame([{"model": m, "M": 1.0, "init": "standard", "n": 5, "motion": mo, "motion_sem": 0.05, "gt_motion": 1.0,
                          "motion_name": "speed", "first_frame_psnr": 20.0} for m, mo in (("naive", 1.0), ("timenoise", 1.3))])


def _mc():
    return pd.DataFrame({"model": "a", "M": 1.0, "init": "standard", "image": [0, 1, 2], "input_motion": [1.0, 2.0, 3.0],
                         "output_motion": [0.5, 1.0, 1.5], "error": [0.5, 1.0, 1.5]})


def _clean(v):
    text = str(v).lower()
    return "nan" not in text and "inf" not in text


# --- leakage ------------------------------------------------------------------------------------------------------


def test_leakage_on_one_moving_video_is_undecided_not_judged_against_an_infinite_interval():
    """One moving video printed '95% CI -inf-inf%' and judged the claim NOT reproduced."""
    v = V.leakage(_pt().iloc[[0, 1]], "r", model="a")
    assert v.holds is None and "undecided" in v.reasons[0] and "single moving video" in v.reasons[0] and _clean(v)
    assert V.leakage(_pt(), "r", model="a").holds is True  # two videos decide as before


def test_leakage_lines_of_models_without_a_finite_value_do_not_print_nan():
    """Another model (or the judged one) without a finite retention at large t printed 'mean r ... = nan'."""
    v = V.leakage(pd.concat([_pt(), _pt().assign(model="b", r=NAN)]), "r", model="a")
    assert v.holds is True and "b: mean r at t >= 0.9 = none (no finite value)" in str(v) and _clean(v)
    v = V.leakage(_pt().assign(r=NAN), "r", model="a")
    assert v.holds is None and _clean(v)


def test_leakage_refuses_infinite_retentions():
    """An infinite retention printed 'keeps inf% (95% CI nan-nan%)' and judged it."""
    with pytest.raises(ValueError, match=r"table\['r'\] holds infinite values"):
        V.leakage(_pt().assign(r=[1.0, np.inf, 1.0, 0.5]), "r", model="a")


# --- start_time ---------------------------------------------------------------------------------------------------


def test_start_time_refuses_repeated_cells_and_unknown_inits():
    """Two models' summaries concatenated were judged on whichever row came first ('does NOT rise' from the other model);
    a typo'd init was dropped silently ('(b) not judged: standard noise only'); text in fd/motion_ratio failed in an f-string."""
    s = _sweep()
    with pytest.raises(ValueError, match=r"summary has 4 row\(s\) repeating a cell .*one model"):
        V.start_time(pd.concat([s.assign(model="a"), s.assign(model="b", motion=[3.0, 0.5, 3.0, 0.5])]))
    with pytest.raises(ValueError, match=r"summary\['init'\] holds \['analytc'\]"):
        V.start_time(s.assign(init=["standard", "standard", "analytc", "analytc"]))
    with pytest.raises(ValueError, match=r"summary\['M'\] holds NaN"):
        V.start_time(s.assign(M=[1.0, NAN, 1.0, 0.6]))
    with pytest.raises(ValueError, match=r"summary\['motion_ratio'\] must hold numbers"):
        V.start_time(s.assign(motion_ratio="x"))
    assert V.start_time(s).holds is True


def test_start_time_without_standard_errors_is_undecided():
    """Cells of several videos but a NaN motion_sem (one finite motion) printed '+- nan' and judged 'does NOT rise'."""
    v = V.start_time(_sweep().assign(motion_sem=NAN))
    assert v.holds is None and v.reasons[0].startswith("Undecided") and _clean(v)


# --- timenoise_motion ---------------------------------------------------------------------------------------------


def test_timenoise_motion_refuses_repeated_cells_and_one_model_twice():
    with pytest.raises(ValueError, match=r"summary has 2 row\(s\) repeating a cell .*'model': 'naive'"):
        V.timenoise_motion(pd.concat([_tn(), _tn().assign(motion=[2.0, 0.1])]))
    with pytest.raises(ValueError, match=r"naive and timenoise both name 'naive'"):
        V.timenoise_motion(_tn(), timenoise="naive")


def test_timenoise_motion_without_finite_motion_or_standard_error_is_undecided():
    """'+- nan' / '+nan' was printed and the claim judged NOT reproduced."""
    for tn in (_tn().assign(motion_sem=NAN), _tn().drop(columns="n").assign(motion_sem=NAN), _tn().assign(motion=[NAN, 1.3])):
        v = V.timenoise_motion(tn)
        assert v.holds is None and v.reasons[0].startswith("Undecided") and _clean(v)
    assert V.timenoise_motion(_tn()).holds is True


# --- motion_control verdict ---------------------------------------------------------------------------------------


def test_motion_control_configuration_without_shared_images_is_not_judged():
    """A configuration that read other images than the first printed 'paired difference +nan +- nan' and 'not different'."""
    df = pd.concat([_mc(), _mc().assign(M=0.8, init="analytic", image=[3, 4, 5])])
    v = V.motion_control(df)
    assert v.holds is None and "error not judged" in v.reasons[1] and _clean(v)
    with pytest.raises(ValueError, match=r"df\['M'\] holds NaN"):
        V.motion_control(_mc().assign(M=NAN))
    assert V.motion_control(_mc()).holds is True


# --- the probe ----------------------------------------------------------------------------------------------------


def test_leakage_index_refuses_predictions_of_other_times_seed_or_ground_truth():
    """run_probe's predictions were reused silently at other ts, another seed or on another bench of the same size."""
    table, preds = E.run_probe({"a": _toy()}, _bench(), [0.5, 0.9])
    for kw, what in ((dict(ts=[0.5, 0.7]), "ts"), (dict(seed=3), "seed"), (dict(bench=_bench(2, 1)), "bench")):
        args = dict(bench=_bench(), ts=[0.5, 0.9], seed=0)
        args.update(kw)
        with pytest.raises(ValueError, match=rf"predictions were made by run_probe with another {what}"):
            E.run_leakage_index({"a": _toy()}, args["bench"], args["ts"], seed=args["seed"], predictions=preds)
    li = E.run_leakage_index({"a": _toy()}, E.toy_bench(2, 0, data=_CFG), np.array([0.5, 0.9]), predictions=preds)  # same inputs
    assert len(li) == 4


# --- compare_models -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("configs,pattern", [
    ([("a", 0.9, "standard"), ("zzz", 1.0, "standard")], r"names model 'zzz', not among \['a'\]"),
    ([("a", 0.9, "standard"), ("a", 0.8, "analytc")], r"has init 'analytc'"),
    ([("a", 0.9, "standard"), ("a", 0.8, "analytic")], r"needs Analytic-Init statistics"),
    ([("a", 0.9, "standard"), ("a", 1.5, "standard")], r"M must be <= 1"),
    ([("a", 0.9, "standard"), ("a", 0.9, "standard")], r"configs repeat the cell \('a', 0\.9, 'standard'\)"),
    ([("a", 0.9, "standard"), (1, 1.0, "standard")], r"names model 1"),
])
def test_compare_models_refuses_bad_configs_before_sampling_any_cell(tmp_path, configs, pattern):
    """The first model's cells were sampled before an unknown label, a typo'd init, missing statistics or an M > 1 of a
    later config was refused (a repeated cell was silently merged; a non-string label failed in pathlib)."""
    with pytest.raises(ValueError, match=pattern):
        E.compare_models({"a": _toy()}, configs, _images(), E.ToyReadout(0, data=_CFG), out_root=tmp_path, seeds=[0], n_steps=1,
                         show_progress=False)
    assert not os.listdir(tmp_path)  # nothing sampled

"""Edge cases of the public API found by calling it as a careless notebook user would (2026-12, API edge round).

Every test here failed on the code before its fix: a bad input was accepted silently (a misspelled ``init`` under a
remedy, a NaN motion label in the probe, a probe table with times outside (0, 1], a non-PSD covariance, frames too
small for the toy features, an infinite frame 0 in ``align_psnr``), failed deep inside torch/numpy (a tensor given as
a low-level sampler's ``cond``, tensors on the "meta" device, a remedy class instead of an object), or came out of a
schedule in a form the samplers refuse (a flow grid of equal times). Siblings: ``test_bad_inputs_*.py``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
import torch

import cilnb
import cilnb.remedies as R
from cilnb import metrics as M
from cilnb import probe as P
from cilnb import sampling as S
from cilnb import schedules as SC
from cilnb import timenoise as TN
from cilnb.analytic_init import MomentStats
from cilnb.checks import InputTypeError


@pytest.fixture(scope="module")
def toy():
    return cilnb.models.load("toy")


def _y(n=1, seed=0):
    return torch.rand(n, 1, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _x0(n=1, seed=0):
    return torch.rand(n, 8, 1, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


class _Const(torch.nn.Module):
    """A denoiser on any schedule that always predicts ``target``: every sampler must return it."""

    n_frames = 2

    def __init__(self, schedule, target):
        super().__init__()
        self.schedule, self.target = schedule, target

    def forward(self, x, t, y=None, **kw):
        return self.target.expand_as(x).to(x.dtype)


# --- sampling ------------------------------------------------------------------------------------------------------


def test_sample_refuses_an_unknown_init_with_a_remedy_too(toy):
    """With a remedy, init="Analytic" (or any other text) was read as "standard" without a word."""
    for remedy in ("progressive", "alg", None):
        with pytest.raises(ValueError, match=r"init must be 'standard' or 'analytic', got 'Analytic'"):
            S.sample(toy, _y(), n_steps=1, init="Analytic", remedy=remedy, show_progress=False)


@pytest.mark.parametrize("name", sorted(S.SAMPLERS))
def test_low_level_samplers_name_a_tensor_cond_and_a_bad_callback(toy, name):
    """sample_X(model, x, ts, y) failed in ``cond or {}`` with torch's "Boolean value of Tensor ... is ambiguous"; a
    callback that is not callable failed only after the first model call, as a bare TypeError."""
    fn, x, y = S.SAMPLERS[name], torch.randn(1, 8, 1, 32, 32), _y()
    with pytest.raises(InputTypeError, match=r"cond must be a dict of conditioning .*got Tensor: pass the conditional images as \{'y': y\}"):
        fn(toy, x, [0.5], y, disable=True)
    with pytest.raises(InputTypeError, match=r"callback must be a function of one dict \(or None\), got int"):
        fn(toy, x, [0.5], {"y": y}, callback=3, disable=True)


@pytest.mark.parametrize("ts", [[True, False], np.array([True]), torch.tensor([True, False]), [0.9, np.bool_(True)],
                                [0.9 + 0j, 0.5]])
def test_times_refuse_booleans_and_complex_numbers(toy, ts):
    """A sampler's or the probe's times given as booleans were read as 1 and 0 (complex ones lost their imaginary part)."""
    with pytest.raises(InputTypeError, match=r"ts must be .*got (booleans|complex numbers)"):
        S.sample_ddim(toy, torch.randn(1, 8, 1, 32, 32), ts, {"y": _y()}, disable=True)
    with pytest.raises(InputTypeError, match=r"ts must be .*got (booleans|complex numbers)"):
        P.one_step_predictions(toy, _x0(), ts)
    assert P.one_step_predictions(toy, _x0(), [1.0, 0.5]).shape[:2] == (1, 2)  # numbers still pass


def test_flow_grid_merges_equal_times():
    """A start at or below the flow grid's lower end (or num_train_timesteps=1) gave n_steps copies of one time, which
    every sampler refused as "not strictly decreasing": sample(flow_model, start=1e-3) failed with that message."""
    fl = SC.FlowSchedule(shift=3.0)
    assert fl.grid(4, 1e-3).tolist() == pytest.approx([1e-3])
    assert SC.FlowSchedule(num_train_timesteps=1).grid(3).tolist() == [1.0]
    g = fl.grid(5)  # an ordinary grid is unchanged: FlowMatchEuler's shifted linspace
    u = torch.linspace(1.0, float(fl.shifted(1 / 1000)), 5, dtype=torch.float64)
    assert torch.equal(g, 3 * u / (1 + 2 * u))
    target = torch.randn(1, 2, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    out = S.sample(_Const(fl, target), torch.zeros(1, 1, 4, 4), n_steps=4, start=1e-3, show_progress=False)
    assert torch.allclose(out, target)


# --- probe ---------------------------------------------------------------------------------------------------------


def test_probe_refuses_non_finite_conditioning(toy):
    """A NaN motion label made every one-step prediction NaN without a word (sample refused it already)."""
    x0, bad = _x0(), {"motion": torch.tensor([math.nan])}
    for call in (lambda: P.one_step_predictions(toy, x0, [0.5], cond=bad),
                 lambda: P.probe_table(toy, x0, [0.5], cond=bad),
                 lambda: P.leakage_index(toy, x0, [0.5], cond=bad, y_swap=_y(seed=1))):
        with pytest.raises(ValueError, match=r"cond\['motion'\] contains 1 non-finite value"):
            call()


@pytest.mark.parametrize("t, pattern", [
    ([0.5, 5.0], r"'t' column holds 1 value\(s\) outside \(0, 1\] \(e\.g\. 5\)"),  # was: M = 5.0 recommended
    ([math.nan, 0.5], r"'t' column holds 1 value\(s\) outside \(0, 1\] \(e\.g\. nan\)"),  # was: the row dropped
    ([0.0, 0.5], r"outside \(0, 1\]"),
    (["a", "b"], r"'t' column holds .* values, not probe times"),  # was: numpy's "could not convert string to float"
])
def test_recommend_start_refuses_times_outside_0_1(t, pattern):
    table = pd.DataFrame({"t": t, "r": [1.0, 1.0]})
    with pytest.raises(ValueError, match=pattern):
        P.recommend_start(table, "r")
    assert P.recommend_start(pd.DataFrame({"t": [0.1, 0.5, 0.9], "r": [1.0, 0.9, 0.2]}), "r") == 0.5


# --- metrics -------------------------------------------------------------------------------------------------------


def test_video_features_refuse_frames_below_3x3():
    """1x1 and 2x2 frames gave NaN features (an empty Laplacian interior, a one-pixel spread), returned as numbers."""
    v = torch.rand(3, 4, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    for s in (1, 2):
        with pytest.raises(ValueError, match=rf"frames of {s}x{s} pixels .*at least 3x3"):
            M.video_features(v[..., :s, :s])
    with pytest.raises(ValueError, match=r"frames of 8x2 pixels"):
        M.video_features(v[..., :2])
    assert np.isfinite(M.video_features(v[..., :3, :3])).all()


def test_align_psnr_of_an_infinite_frame_is_nan_like_a_nan_frame():
    """An inf in frame 0 was clamped to 1 and gave a finite PSNR (4.7 dB here); a NaN gives NaN (the sweeps' 'missing')."""
    v = torch.rand(2, 2, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    im = v[:, 0].clone()
    bad = v.clone()
    bad[0, 0, 0, 0, 0] = math.inf
    bad[1, 0, 0, 0, 0] = -math.inf
    assert torch.isnan(M.align_psnr(bad, im)).all()
    ok = v.clone()
    ok[:, 1] = math.inf  # a later frame is not compared
    assert torch.equal(M.align_psnr(ok, im), M.align_psnr(v, im))


def test_frechet_refuses_a_covariance_that_is_not_positive_semi_definite():
    """[[1, 2], [2, 1]] (eigenvalues 3 and -1, a positive diagonal) was taken as a covariance, its negative eigenvalue
    clipped to 0, and a distance returned."""
    not_psd = np.array([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match=r"sigma_a is not a covariance: it is not positive semi-definite \(smallest eigenvalue -1"):
        M.frechet_distance_from_stats(np.zeros(2), not_psd, np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match=r"sigma_b is not a covariance: it is not positive semi-definite"):
        M.frechet_distance_from_stats(np.zeros(2), np.eye(2), np.zeros(2), not_psd)
    # singular covariances (fewer samples than features, float32 round-off) are still covariances: checked against scipy
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 6)), rng.normal(size=(5, 6)) * 2
    sa, sb = np.cov(a, rowvar=False), torch.cov(torch.tensor(b, dtype=torch.float32).T).double().numpy()
    sb = (sb + sb.T) / 2
    ref = float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(sa + sb - 2 * scipy.linalg.sqrtm(sa @ sb).real))
    assert M.frechet_distance_from_stats(a.mean(0), sa, b.mean(0), sb) == pytest.approx(ref, rel=1e-6)


# --- tensors on the meta device --------------------------------------------------------------------------------------


def _meta(shape):
    return torch.empty(shape, device="meta")


@pytest.mark.parametrize("call, name", [
    (lambda m: M.motion_score(_meta((1, 2, 1, 16, 16)), "farneback", resize=None, show_progress=False), "videos"),
    (lambda m: M.psnr(_meta((1, 1, 8, 8)), torch.rand(1, 1, 8, 8)), "a"),
    (lambda m: M.align_psnr(_meta((1, 2, 1, 8, 8)), torch.zeros(1, 1, 8, 8)), "videos"),
    (lambda m: M.align_psnr(torch.zeros(1, 2, 1, 8, 8), _meta((1, 1, 8, 8))), "images"),
    (lambda m: M.video_features(_meta((2, 4, 1, 8, 8))), "videos"),
    (lambda m: M.frechet_distance(_meta((4, 3)), np.zeros((4, 3))), "feats_a"),
    (lambda m: P.one_step_predictions(m, _meta((1, 8, 1, 32, 32)), [0.5]), "x0"),
    (lambda m: S.sample(m, _meta((1, 1, 32, 32)), n_steps=1, show_progress=False), "y"),
    (lambda m: S.sample_ddim(m, _meta((1, 8, 1, 32, 32)), [0.5], {"y": _y()}, disable=True), "x"),
    (lambda m: TN.add_timenoise(_meta((2, 1, 4, 4)), 0.5, 5.0, 25.0, seed=0), "y0"),
    (lambda m: MomentStats().update(_meta((2, 3))), "batch"),
], ids=["motion_score", "psnr", "align-videos", "align-images", "video_features", "frechet", "probe", "sample",
        "sample_ddim", "add_timenoise", "moment_stats"])
def test_meta_tensors_are_named(toy, call, name):
    """Each failed inside torch ("Tensor.item() cannot be called on meta tensors", "Cannot copy out of meta tensor")."""
    with pytest.raises(InputTypeError, match=rf"^{name} is a tensor on the 'meta' device \(a shape without values"):
        call(toy)


# --- remedies --------------------------------------------------------------------------------------------------------


def test_a_remedy_class_is_named_with_the_fix(toy):
    """remedy=R.FreeInit (the class) was "remedy must be a Remedy, a name ..., got type"."""
    with pytest.raises(InputTypeError, match=r"got the class FreeInit: pass FreeInit\(\) .*or its name 'freeinit'"):
        R.resolve(R.FreeInit)
    with pytest.raises(InputTypeError, match=r"got the class ALG: pass ALG\(\)"):
        S.sample(toy, _y(), n_steps=1, remedy=R.ALG, show_progress=False)
    with pytest.raises(ValueError, match=r"got the class Progressive"):
        R.compose("alg", R.Progressive)


@pytest.mark.parametrize("y, pattern", [
    (torch.zeros(2, 3, 32, 32), r"takes conditional images y \[B, 1, 32, 32\] .*got \(2, 3, 32, 32\)"),
    (torch.zeros(2, 1, 16, 16), r"takes conditional images y \[B, 1, 32, 32\] .*got \(2, 1, 16, 16\)"),
])
def test_the_toy_names_a_conditional_image_of_another_size(toy, y, pattern):
    """A 3-channel or 16x16 y made sample fail inside the network as "takes [B, F, 1, 32, 32] videos, got (4, ...)": the
    videos it never got, with the batch doubled by guidance."""
    with pytest.raises(ValueError, match=pattern):
        S.sample(toy, y, n_steps=1, show_progress=False)
    with pytest.raises(ValueError, match=r"y holds 3 image\(s\) for 2 video\(s\)"):
        toy(_x0(2), 0.5, y=_y(3))

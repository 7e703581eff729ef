"""Bad input to the metrics, Analytic-Init, TimeNoise, media I/O, the sprite data and the schedules fails at once
with a clear error naming the argument and the fix (the project standard: never a silent fallback, a NaN result or
a traceback from deep inside torch/numpy/scipy/OpenCV).

Every case here was mishandled before this file: a silent NaN, zero or garbage result (a Farneback window of 0,
0..255 pixels as toy features, a non-PSD covariance, NaN DDPM betas), silently non-reproducible output
(``seed=None``), an error from deep inside a library that names neither the argument nor the fix (torch's
``new(): invalid data type 'str'``, a numpy ``matmul`` core-dimension error, an OpenCV assertion, a bare
``float()``/``int()`` conversion error), or a bare ``KeyError``/``IndexError``/``AttributeError``. Siblings:
``test_bad_inputs.py``, ``test_bad_inputs_api.py``, ``test_bad_inputs_more.py``.
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
import torch

from cilnb import analytic_init as A
from cilnb import data as D
from cilnb import io as IO
from cilnb import metrics as M
from cilnb import schedules as S
from cilnb import timenoise as TN
from cilnb.schedules import EDMSchedule, FlowSchedule, VPSchedule

NAN = float("nan")
T, V = TypeError, ValueError


# ---------------------------------------------------------------------------------------------
# tiny inputs, built on first use
# ---------------------------------------------------------------------------------------------


def _v01(*shape):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(0))


@functools.lru_cache(maxsize=None)
def _sprites():
    return D.generate(2, seed=0, frames=3, size=16, flow=False)


def _x():
    return _sprites().videos.clone()  # [2, 3, 1, 16, 16] in [-1, 1]


def _stats():
    return A.MomentStats.from_moments(torch.zeros(2, 1, 4, 4, dtype=torch.float64), torch.ones(2, 1, 4, 4, dtype=torch.float64))


def _farneback(**params):
    return M.motion_score(_v01(1, 2, 1, 16, 16), "farneback", resize=None, farneback_params=params, show_progress=False)


def _sprite_config(**kw):
    return D.SpriteConfig(frames=3, size=8, radius=(1.0, 2.0), **kw)


@functools.lru_cache(maxsize=None)
def _kl_table(numeric=False):
    return A.kl_table(VPSchedule(), A.synthetic_data(d=4), [0.5], n_mc=100, numeric=numeric)


def _ts_table():
    return TN.check_samples([0.5], 5.0, 1.0, n=10)


CASES = [
    # --- metrics: motion scores, alignment, Fréchet statistics, toy features ------------------------------
    pytest.param(lambda: M.motion_score_error(["a"], [1.0]), T, r"output_scores must be numbers", id="motion-error-strings"),
    pytest.param(lambda: M.condition_alignment(_v01(2, 2, 3, 16, 16), _v01(3, 3, 16, 16)), V,
                 r"videos\[:, 0\] has 2 images but cond_images has 3", id="condition-alignment-batch-names"),
    pytest.param(lambda: M.condition_alignment(_v01(2, 2, 3, 16, 16), _v01(2, 3, 16, 16) * 255), V,
                 r"^cond_images values span", id="condition-alignment-range-names"),
    pytest.param(lambda: M.condition_alignment(_v01(2, 2, 3, 16, 16), _v01(3, 16, 16)), V,
                 r"^cond_images must be \[N, C, H, W\]", id="condition-alignment-rank-names"),
    pytest.param(lambda: M.frechet_distance_from_stats(np.zeros((1, 3)), np.eye(3), np.zeros((1, 3)), np.eye(3)), V,
                 r"mu_a must be a mean \[D\]", id="fd-stats-2d-mean"),
    pytest.param(lambda: M.frechet_distance_from_stats(np.zeros(3), -np.eye(3), np.zeros(3), np.eye(3)), V,
                 r"sigma_a is not a covariance: its diagonal holds 3 negative", id="fd-stats-negative-covariance"),
    pytest.param(lambda: M.pia_motion_score(_v01(1, 3, 3, 8, 8), d_max=0), V, r"d_max=0 but these videos' frames differ",
                 id="pia-d_max-zero"),
    pytest.param(lambda: _farneback(winsize=0), V, r"farneback_params\['winsize'\] must be a positive int", id="farneback-winsize-zero"),
    pytest.param(lambda: _farneback(poly_n=0), V, r"farneback_params\['poly_n'\] must be a positive int", id="farneback-poly_n-zero"),
    pytest.param(lambda: _farneback(iterations=0), V, r"farneback_params\['iterations'\] must be a positive int",
                 id="farneback-iterations-zero"),
    pytest.param(lambda: _farneback(pyr_scale=2.0), V, r"farneback_params\['pyr_scale'\] must be < 1", id="farneback-pyr_scale-2"),
    pytest.param(lambda: _farneback(flags=4), V, r"farneback_params\['flags'\] must be 0 or 256", id="farneback-flags-initial-flow"),
    pytest.param(lambda: M.video_features((_x() + 1) * 127.5), V, r"videos values span .*0\.\.255 pixels, use videos / 127\.5 - 1",
                 id="features-0-255"),
    pytest.param(lambda: M.standardised_features(_x(), (_x() + 1) * 127.5), V, r"reference values span .*0\.\.255",
                 id="standardised-reference-0-255"),
    # --- metrics: synthetic videos of known motion -----------------------------------------------------------
    pytest.param(lambda: M.synthetic_translation_video(2, (8, 8), seed="a"), T, r"seed must be an int >= 0", id="synthetic-seed-string"),
    pytest.param(lambda: M.synthetic_translation_video(2, (8, 8), seed=None), T, r"seed must be an int >= 0.*reproducible",
                 id="synthetic-seed-none"),
    pytest.param(lambda: M.synthetic_rotation_video(2, (8, 8), seed=-1), V, r"seed must be an int >= 0", id="synthetic-seed-negative"),
    pytest.param(lambda: M.texture(np.zeros((2, 2)), np.zeros((2, 2)), seed=1.5), T, r"seed must be an int >= 0", id="texture-seed-float"),
    pytest.param(lambda: M.synthetic_motion_set(speeds=[1.0], rotation_deg=None, size=(8, 8), n_frames=2, seed="s"), T,
                 r"seed must be an int >= 0", id="synthetic-set-seed-string"),
    pytest.param(lambda: M.true_motion_score(torch.full((1, 2, 4, 4), NAN)), V, r"flow contains 32 non-finite", id="true-score-nan-flow"),
    pytest.param(lambda: M.true_per_pair(torch.full((1, 2, 4, 4), NAN)), V, r"flow contains 32 non-finite", id="true-per-pair-nan-flow"),
    # --- Analytic-Init ---------------------------------------------------------------------------------------
    pytest.param(lambda: A.MomentStats().update("abc"), T, r"batch must be a tensor", id="stats-update-string"),
    pytest.param(lambda: A.MomentStats().update(None), T, r"batch must be a tensor", id="stats-update-none"),
    pytest.param(lambda: A.MomentStats.load(None), T, r"path must be a file path", id="stats-load-none"),
    pytest.param(lambda: A.MomentStats.from_official(None), T, r"path must be a file path", id="stats-official-none"),
    pytest.param(lambda: A.MomentStats.from_moments(torch.zeros(3), avg_var="abc"), T, r"avg_var must be a real number",
                 id="from-moments-avg_var-string"),
    pytest.param(lambda: A.MomentStats.from_moments(torch.zeros(3), avg_var=True), T, r"avg_var must be a real number",
                 id="from-moments-avg_var-bool"),
    pytest.param(lambda: A.init_params(A.MomentStats.from_moments(torch.zeros(0), avg_var=1.0), 0.5, 0.5), V, r"mean is empty",
                 id="from-moments-empty-mean"),
    pytest.param(lambda: A.sample_init(_stats(), 0.5, 0.5, 2, seed=0, device="bogus"), V, r"device 'bogus' is not a torch device",
                 id="sample-init-bogus-device"),
    pytest.param(lambda: A.init_params_at(_stats(), "vp", 0.5), T, r"schedule must be a cilnb.schedules.Schedule",
                 id="init-params-at-string-schedule"),
    pytest.param(lambda: A.gaussian_kl(torch.zeros(3), 1.0, torch.zeros(4), 1.0), V, r"p_mean of shape \(4,\) does not broadcast",
                 id="gaussian-kl-mean-mismatch"),
    pytest.param(lambda: A.gaussian_cross_entropy(torch.zeros(3), 1.0, torch.zeros(4), 1.0), V, r"p_mean of shape \(4,\)",
                 id="cross-entropy-mean-mismatch"),
    pytest.param(lambda: A.gaussian_kl(torch.zeros(0), 1.0, 0.0, 1.0), V, r"q_mean is empty", id="gaussian-kl-empty"),
    pytest.param(lambda: A.kl_table(VPSchedule(), A.synthetic_data(d=4), ["a"], numeric=False, n_mc=100), T,
                 r"Ms\[0\] must be a real number", id="kl-table-string-M"),
    pytest.param(lambda: A.kl_table(VPSchedule(), A.synthetic_data(d=4), [True], numeric=False, n_mc=100), T,
                 r"Ms\[0\] must be a real number", id="kl-table-bool-M"),
    pytest.param(lambda: A.kl_table(VPSchedule(), A.synthetic_data(d=4), [], numeric=False, n_mc=100), V, r"Ms is empty",
                 id="kl-table-no-M"),
    pytest.param(lambda: A.check_prop1(pd.DataFrame()), V, r"table lacks the columns \['kl_baseline', 'kl_analytic'\]",
                 id="prop1-empty-frame"),
    pytest.param(lambda: A.check_prop1([1, 2]), T, r"table must be a kl_table DataFrame", id="prop1-list"),
    # a half numeric argmin was read as none ("max relative error nan": True); an infinite KL printed "smallest gap -inf nats"
    pytest.param(lambda: A.check_prop1(_kl_table(numeric=True).drop(columns="num_mean_scale")), V,
                 r"table has \['num_var', 'num_shift_sd', 'kl_numeric'\] but lacks \['num_mean_scale'\]", id="prop1-half-numeric"),
    pytest.param(lambda: A.check_prop1(_kl_table().assign(kl_analytic=np.inf)), V, r"table\['kl_analytic'\] holds infinite values",
                 id="prop1-inf-kl"),
    pytest.param(lambda: A.check_prop1(_kl_table().iloc[:0]), V, r"table is empty", id="prop1-no-rows"),
    pytest.param(lambda: A.check_prop1(_kl_table(), rtol="a"), T, r"rtol must be a real number", id="prop1-string-rtol"),
    # --- TimeNoise -------------------------------------------------------------------------------------------
    pytest.param(lambda: TN.density_grid(5.0, "abc"), T, r"beta_m must be one real number", id="density-grid-string-beta_m"),
    pytest.param(lambda: TN.density_grid(5.0, None), T, r"beta_m must be one real number", id="density-grid-none-beta_m"),
    pytest.param(lambda: TN.density_grid(5.0, [1.0, 2.0]), V, r"beta_m must be one number here", id="density-grid-list-beta_m"),
    pytest.param(lambda: TN.density(torch.ones(3), torch.full((2,), 0.5), 5.0, 1.0), V, r"beta_s \(3,\), mu\(t, a\) \(2,\).*do not broadcast",
                 id="density-shape-mismatch"),
    pytest.param(lambda: TN.sample_beta(torch.full((3,), 0.5), 5.0, torch.ones(2), seed=0), V, r"beta_m \(2,\) do not broadcast",
                 id="sample-beta-shape-mismatch"),
    pytest.param(lambda: TN.mu(None, 5.0), T, r"t must be a real number or array, got None", id="mu-none"),
    pytest.param(lambda: TN.add_timenoise(torch.zeros(2, 1, 4, 4), 0.5, 5.0, "1", seed=0), T, r"beta_m must be a real number or array, got '1'",
                 id="timenoise-string-beta_m"),
    pytest.param(lambda: TN.check_samples([], 5.0, 1.0, n=10), V, r"t_values is empty", id="check-samples-empty"),
    pytest.param(lambda: TN.check_samples(["a"], 5.0, 1.0, n=10), T, r"t_values\[0\] must be a real number", id="check-samples-string-t"),
    pytest.param(lambda: TN.check_samples([0.5], 5.0, [1.0, 2.0], n=10), V, r"beta_m must be one number", id="check-samples-list-beta_m"),
    pytest.param(lambda: TN.check_samples([0.5], 5.0, "1", n=10), T, r"beta_m must be one real number", id="check-samples-string-beta_m"),
    pytest.param(lambda: TN.check_verdict(pd.DataFrame()), V, r"table lacks the columns", id="check-verdict-empty-frame"),
    pytest.param(lambda: TN.check_verdict([1]), T, r"table must be a check_samples DataFrame", id="check-verdict-list"),
    pytest.param(lambda: TN.check_verdict(_ts_table(), p_min="a"), T, r"p_min must be a real number", id="check-verdict-string-p_min"),
    # --- media I/O -------------------------------------------------------------------------------------------
    pytest.param(lambda: IO.read_clip(None, 2), T, r"path must be a file or folder path", id="read-clip-none"),
    pytest.param(lambda: IO.write_mp4(None, np.zeros((2, 8, 8, 3), np.uint8), 8), T, r"path must be a file path",
                 id="write-mp4-none"),
    # --- sprite data -----------------------------------------------------------------------------------------
    pytest.param(lambda: _sprite_config(speed_power="2"), T, r"SpriteConfig.speed_power must be a real number", id="sprite-speed_power-string"),
    pytest.param(lambda: _sprite_config(speed_power=None), T, r"SpriteConfig.speed_power must be a real number", id="sprite-speed_power-none"),
    pytest.param(lambda: _sprite_config(turn_prob="0.5"), T, r"SpriteConfig.turn_prob must be a real number", id="sprite-turn_prob-string"),
    pytest.param(lambda: _sprite_config(turn_angle=None), T, r"SpriteConfig.turn_angle must be a \(low, high\) pair", id="sprite-turn_angle-none"),
    pytest.param(lambda: _sprite_config(turn_angle=(1, 2, 3)), T, r"SpriteConfig.turn_angle must be a \(low, high\) pair",
                 id="sprite-turn_angle-three"),
    pytest.param(lambda: _sprite_config(turn_angle="ab"), T, r"SpriteConfig.turn_angle must be a \(low, high\) pair", id="sprite-turn_angle-string"),
    pytest.param(lambda: _sprite_config(shapes=None), T, r"SpriteConfig.shapes must be a tuple of shape names", id="sprite-shapes-none"),
    pytest.param(lambda: _sprite_config(edge="1"), T, r"SpriteConfig.edge must be a real number", id="sprite-edge-string"),
    pytest.param(lambda: _sprite_config(n_sprites=(True, 2)), V, r"SpriteConfig.n_sprites must be ints", id="sprite-n_sprites-bool"),
    pytest.param(lambda: _sprite_config(texture_waves=True), V, r"SpriteConfig.texture_waves must be an int", id="sprite-texture_waves-bool"),
    pytest.param(lambda: D.SpriteConfig.from_json('{"speed_power": "x"}'), T, r"SpriteConfig.speed_power must be a real number",
                 id="sprite-json-string-value"),
    # --- schedules -------------------------------------------------------------------------------------------
    pytest.param(lambda: VPSchedule().alpha("0.5"), T, r"t must be a number or a list/array/tensor of numbers", id="vp-alpha-string"),
    pytest.param(lambda: VPSchedule().sigma(None), T, r"t must be a number", id="vp-sigma-none"),
    pytest.param(lambda: EDMSchedule().sigma(["a"]), T, r"t must be a number", id="edm-sigma-list-of-strings"),
    pytest.param(lambda: FlowSchedule().alpha(torch.tensor(0.5 + 0j)), T, r"t must hold real numbers", id="flow-alpha-complex"),
    pytest.param(lambda: VPSchedule().from_native("abc"), T, r"native \(the timestep index\) must be a number", id="vp-from-native-string"),
    pytest.param(lambda: EDMSchedule().from_native(None), T, r"native \(sigma\) must be a number", id="edm-from-native-none"),
    pytest.param(lambda: FlowSchedule().from_native("x"), T, r"native \(the timestep\) must be a number", id="flow-from-native-string"),
    pytest.param(lambda: VPSchedule().parse_start("abc"), T, r"start must be a real number", id="parse-start-string"),
    pytest.param(lambda: VPSchedule().parse_start(True), T, r"start must be a real number", id="parse-start-bool"),
    pytest.param(lambda: EDMSchedule().parse_start(native=[1.0, 2.0]), V, r"native must be one start time", id="parse-start-native-list"),
    pytest.param(lambda: VPSchedule().grid(10, "1"), T, r"start must be a real number", id="grid-string-start"),
    pytest.param(lambda: S.vp_betas("linear", 10, NAN), V, r"beta_start must be finite", id="vp-betas-nan-start"),
    pytest.param(lambda: S.vp_betas("linear", 10, -0.5), V, r"beta_start must be > 0", id="vp-betas-negative-start"),
    pytest.param(lambda: S.vp_betas("linear", 10, 0.1, 5.0), V, r"beta_end must be < 1", id="vp-betas-end-above-1"),
    pytest.param(lambda: S.vp_betas("linear", 10, "a"), T, r"beta_start must be a real number", id="vp-betas-string-start"),
    pytest.param(lambda: VPSchedule().add_noise(np.zeros((2, 3)), 0.5, np.zeros((2, 3))), T, r"x0 must be a torch.Tensor.*from_numpy",
                 id="add-noise-numpy"),
    pytest.param(lambda: VPSchedule().add_noise([1.0], 0.5, [1.0]), T, r"x0 must be a torch.Tensor", id="add-noise-list"),
    pytest.param(lambda: VPSchedule().broadcast(0.5, np.zeros((2, 3))), T, r"like must be a torch.Tensor", id="broadcast-numpy"),
    pytest.param(lambda: S.batch_times(0.5, -1), V, r"B must be an int >= 0", id="batch-times-negative-B"),
    pytest.param(lambda: S.from_diffusers(None), T, r"scheduler must be a diffusers scheduler", id="from-diffusers-none"),
    pytest.param(lambda: S.from_diffusers("DDIMScheduler"), T, r"scheduler must be a diffusers scheduler", id="from-diffusers-string"),
    pytest.param(lambda: S.from_diffusers({"_class_name": "EDMEulerScheduler", "sigma_max": "abc"}), V,
                 r"config field sigma_max='abc' is not a number", id="from-diffusers-string-field"),
    pytest.param(lambda: S.from_diffusers({"_class_name": "DDIMScheduler", "num_train_timesteps": None}), V,
                 r"config field num_train_timesteps=None is not a number", id="from-diffusers-none-field"),
]


@pytest.mark.parametrize("call,exc,pattern", CASES)
def test_bad_input_raises_a_clear_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_numpy_ints_count_as_ints_and_other_types_are_named():
    # numpy ints (from a loop over np.arange) were refused as seeds and frame counts; strings and flags are named
    np.testing.assert_array_equal(D.generate(2, seed=np.int64(1), frames=3, size=16, flow=False).videos,
                                  D.generate(2, seed=1, frames=3, size=16, flow=False).videos)
    assert M.synthetic_motion_set(speeds=(1.0,), n_frames=np.int64(3), size=(16, 16))[0].shape[1] == 3
    with pytest.raises(T, match=r"seed must be an int or a torch\.Generator, got 1\.5"):
        D.generate(2, seed=1.5, frames=3, size=16)
    with pytest.raises(T, match=r"flow must be True or False"):
        IO.load_images("toy:2", flow="no")


def test_toy_motion_condition_of_text_is_named():
    from cilnb import sampling
    from cilnb.models import toy

    net = toy.build(frames=3, size=16, widths=(8, 16), temporal_levels=(1,), temporal_width=8, emb_dim=32)
    with pytest.raises(T, match=r"cond\['motion'\] must be numbers .* got 'fast'"):
        sampling.sample(net, torch.zeros(1, 1, 16, 16), cond={"motion": "fast"}, n_steps=1, seed=0, show_progress=False)


def test_stats_save_to_a_folder_names_the_folder(tmp_path):
    """Was IsADirectoryError on the atomic writer's temporary file name."""
    (tmp_path / "a.safetensors").mkdir()
    with pytest.raises(ValueError, match=r"a\.safetensors is a folder: give a file path"):
        _stats().save(tmp_path / "a.safetensors")


def test_clip_index_out_of_range_is_named(tmp_path):
    """Was a bare IndexError ('list index out of range')."""
    IO.write_mp4(tmp_path / "a.mp4", np.zeros((2, 8, 8, 3), np.uint8), 8)
    clips = IO.ClipSet(tmp_path, frames=2, size=8)
    with pytest.raises(ValueError, match=r"video index 5 is out of range: this set holds 1 video"):
        clips.clip(5)
    assert clips.clip(-1).shape == (2, 3, 8, 8)  # negative indices still count from the end


def test_valid_inputs_still_work():
    """The fixes refuse only bad input: real numbers of other types, numpy floats, 0-d tensors and
    OpenCV's Gaussian Farneback flag are accepted as before (or, for the grid start, newly)."""
    vp = VPSchedule()
    ref = vp.grid(10, 0.5)
    for start in (np.float32(0.5), torch.tensor(0.5), np.float64(0.5)):  # np.float32 / 0-d tensors were refused with "must lie in (0, 1]"
        torch.testing.assert_close(vp.grid(10, start), ref)
    assert vp.parse_start(np.float64(0.5)) == 0.5
    assert float(EDMSchedule().parse_start(native=torch.tensor(700.0))) == 1.0
    assert torch.isfinite(_farneback(flags=256, winsize=3, poly_n=7, levels=0).score).all()
    assert M.pia_motion_score(torch.zeros(1, 2, 3, 8, 8), d_max=0).score.item() == 0.0  # a static set with d_max=0 stays 0
    assert A.MomentStats.from_moments(torch.zeros(3), avg_var=np.float64(0.5)).avg_var == 0.5
    assert M.video_features(_x() * 1.02).shape[0] == 2  # samples that overshoot [-1, 1] a little are still featurised
    mu, sig = M.gaussian_stats(np.random.default_rng(0).normal(size=(10, 3)))
    assert M.frechet_distance_from_stats(mu, sig, mu, sig) == pytest.approx(0.0, abs=1e-9)
    assert S.from_diffusers({"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": None}).shift == 1.0


def test_proposition1_says_when_the_numeric_argmin_was_not_computed():
    """A table without the numeric argmin printed "numeric argmin agrees with Eq. (5) (max relative error nan): True"."""
    from cilnb.experiments import verdicts

    text = str(verdicts.proposition1(_kl_table()))
    assert "nan" not in text and "numeric argmin not computed" in text
    assert "max relative error" in str(verdicts.proposition1(_kl_table(numeric=True)))

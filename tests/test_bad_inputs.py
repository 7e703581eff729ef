"""Bad input to the public library API fails at once with a clear error (issue 13), never deep in torch or as NaN.

Each case asserts the error type (``ValueError``, or ``TypeError`` for a wrong type; cilnb's
``InputTypeError`` is both) and that the message names the input and the problem. Every case in
``CASES`` failed on the code before this test (commit ce95cdc): no error at all (silent NaN or
garbage), a bare Python/torch error that names neither input nor fix, or the wrong error type.
The cases only use API that existed then, so the file runs against the old code unchanged.
"""
from __future__ import annotations

import functools
import math

import pytest
import torch

from cilnb import analytic_init as A
from cilnb import data as D
from cilnb import metrics as M
from cilnb import probe as P
from cilnb import sampling as S
from cilnb import timenoise as TN
from cilnb.models import toy
from cilnb.schedules import EDMSchedule, FlowSchedule, VPSchedule, vp_betas

NAN, INF = float("nan"), float("inf")


# ---------------------------------------------------------------------------------------------
# small inputs, built on first use (the cases are lambdas so that collection stays cheap)
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _toy():
    """A tiny random-weight toy model (pixel space, frames in [-1, 1]): 2 frames of 8 x 8."""
    return toy.build(frames=2, size=8, widths=(8,), temporal="none", temporal_levels=(), temporal_width=8, emb_dim=16, seed=0).eval()


@functools.lru_cache(maxsize=None)
def _sprites():
    return D.generate(2, seed=0, frames=2, size=8, radius=(1.0, 2.0))


def _x0():
    return _sprites().videos.clone()  # [2, 2, 1, 8, 8] in [-1, 1]


def _y():
    return _sprites().condition.clone()  # [2, 1, 8, 8]


def _stats(mean=0.0, var=1.0):
    shape = (2, 1, 8, 8)
    return A.MomentStats.from_moments(torch.full(shape, mean, dtype=torch.float64), torch.full(shape, var, dtype=torch.float64))


def _sample(**kw):
    args = dict(n_steps=2, show_progress=False)
    args.update(kw)
    y = args.pop("y", None)
    return S.sample(_toy(), _y() if y is None else y, **args)


def _probe(**kw):
    args = dict(x0=_x0(), ts=[0.5])
    args.update(kw)
    return P.one_step_predictions(_toy(), args.pop("x0"), args.pop("ts"), **args)


def _table():
    return P.probe_table(_toy(), _x0(), [0.5])


def _videos01():
    return torch.rand((1, 4, 3, 16, 16), generator=torch.Generator().manual_seed(0))


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _ddim_nan_eta():
    x = torch.zeros((1, 2, 1, 8, 8))
    return S.sample_ddim(_toy(), x, _toy().schedule.grid(2), {"y": _y()[:1]}, disable=True, eta=NAN)


T, V = TypeError, ValueError

CASES = [
    # --- schedules: NaN/inf/invalid parameters in constructors, non-integer step counts -------------------
    pytest.param(lambda: VPSchedule(betas=[0.1, NAN, 0.2]), V, r"betas.*NaN", id="vp-nan-betas"),
    pytest.param(lambda: VPSchedule(betas=[[0.1, 0.2], [0.1, 0.2]]), V, r"betas must be 1-D", id="vp-2d-betas"),
    pytest.param(lambda: VPSchedule(betas="abc"), T, r"betas must be", id="vp-string-betas"),
    pytest.param(lambda: VPSchedule(snr_shift_scale=NAN).alpha(0.5), V, r"snr_shift_scale must be finite", id="vp-nan-snr-shift"),
    pytest.param(lambda: VPSchedule(snr_shift_scale=INF).alpha(0.5), V, r"snr_shift_scale must be finite", id="vp-inf-snr-shift"),
    pytest.param(lambda: VPSchedule(num_train_timesteps=1000.5), T, r"num_train_timesteps must be .*int", id="vp-fractional-T"),
    pytest.param(lambda: VPSchedule(num_train_timesteps="1000"), T, r"num_train_timesteps must be", id="vp-string-T"),
    pytest.param(lambda: VPSchedule(beta_schedule=3), T, r"beta_schedule must be a string", id="vp-nonstring-beta-schedule"),
    pytest.param(lambda: vp_betas("linear", 1000.5), T, r"num_train_timesteps must be", id="vp_betas-fractional-T"),
    pytest.param(lambda: EDMSchedule(rho=NAN).sigma(0.5), V, r"rho must be finite", id="edm-nan-rho"),
    pytest.param(lambda: EDMSchedule(rho=INF).sigma(0.5), V, r"rho must be finite", id="edm-inf-rho"),
    pytest.param(lambda: EDMSchedule(sigma_max="700"), T, r"sigma_max must be a real number", id="edm-string-sigma-max"),
    pytest.param(lambda: FlowSchedule(num_train_timesteps=0).grid(10), V, r"num_train_timesteps must be a positive int", id="flow-T-zero"),
    pytest.param(lambda: FlowSchedule(num_train_timesteps=-5).grid(10), V, r"num_train_timesteps must be a positive int", id="flow-T-negative"),
    pytest.param(lambda: FlowSchedule(num_train_timesteps=2.5), T, r"num_train_timesteps must be", id="flow-fractional-T"),
    pytest.param(lambda: FlowSchedule(shift="3"), T, r"shift must be a real number", id="flow-string-shift"),
    # --- sampling: range, dtype, batch sizes, seeds, eta, frames, cond, Analytic-Init stats -----------------
    pytest.param(lambda: _sample(y=(_y() + 1) * 127.5), V, r"y values span .*0\.\.255.*127\.5", id="sample-y-0-255"),
    pytest.param(lambda: _sample(y=_y() * 3), V, r"y values span .* must lie in \[-1, 1\]", id="sample-y-out-of-range"),
    pytest.param(lambda: _sample(y=((_y() + 1) * 127.5).to(torch.uint8)), T, r"y has dtype torch.uint8.*127\.5", id="sample-y-uint8"),
    pytest.param(lambda: _sample(y=_y().long()), T, r"y has dtype torch.int64", id="sample-y-int64"),
    pytest.param(lambda: _sample(y=_y().numpy()), T, r"y must be a torch.Tensor.*from_numpy", id="sample-y-numpy"),
    pytest.param(lambda: _sample(y=_y()[:0]), V, r"y holds no items", id="sample-y-empty"),
    pytest.param(lambda: _sample(batch_size=0), V, r"batch_size must be a positive int", id="sample-batch-size-zero"),
    pytest.param(lambda: _sample(batch_size=-1), V, r"batch_size must be a positive int", id="sample-batch-size-negative"),
    pytest.param(lambda: _sample(batch_size=1.5), T, r"batch_size must be a positive int", id="sample-batch-size-float"),
    pytest.param(lambda: _sample(seed=1.5), T, r"seed must be an int", id="sample-seed-float"),
    pytest.param(lambda: _sample(seed="a"), T, r"seed must be an int", id="sample-seed-string"),
    pytest.param(lambda: _sample(seed=None), T, r"seed must be an int", id="sample-seed-none"),
    pytest.param(lambda: _sample(seed=[0, 1.5]), T, r"seed must be an int or a list of ints.*1\.5", id="sample-seed-list-with-float"),
    pytest.param(lambda: _sample(eta=NAN), V, r"eta must be finite", id="sample-eta-nan"),
    pytest.param(lambda: _sample(eta="1"), T, r"eta must be a real number", id="sample-eta-string"),
    pytest.param(lambda: _sample(frames=2.5), T, r"frames must be a positive int", id="sample-frames-float"),
    pytest.param(lambda: _sample(cond={"motion": torch.tensor(1.0)}), V, r"cond\['motion'\] is a 0-d tensor", id="sample-cond-0d"),
    pytest.param(lambda: _sample(cond=[("motion", 1.0)]), T, r"cond must be a dict", id="sample-cond-not-dict"),
    pytest.param(lambda: _sample(start=0.5, init="analytic", stats=_stats(mean=1e39)), V, r"statistics look corrupt.*E\[X0\]", id="sample-absurd-stats-mean"),
    pytest.param(lambda: _sample(start=0.5, init="analytic", stats=_stats(var=1e300)), V, r"statistics look corrupt.*tr\(Cov\)", id="sample-absurd-stats-var"),
    pytest.param(_ddim_nan_eta, V, r"eta must be finite", id="sample_ddim-eta-nan"),
    # --- probe: seeds, batch sizes, cond lengths, range and dtype, tables -------------------------------
    pytest.param(lambda: _probe(seed=[0]), V, r"got 1 seed\(s\) for 2 item\(s\)", id="probe-one-seed-two-videos"),
    pytest.param(lambda: P.probe_table(_toy(), _x0(), [0.5], seed=[0]), V, r"got 1 seed\(s\) for 2", id="probe_table-one-seed"),
    pytest.param(lambda: P.leakage_index(_toy(), _x0(), [0.5], seed=0.5), T, r"seed must be an int", id="leakage-seed-float"),
    pytest.param(lambda: _probe(batch_size=0), V, r"batch_size must be a positive int", id="probe-batch-size-zero"),
    pytest.param(lambda: _probe(cond={"motion": torch.ones(1)}), V, r"cond\['motion'\] has 1 item", id="probe-cond-too-short"),
    pytest.param(lambda: _probe(x0=(_x0() + 1) * 127.5), V, r"x0 values span .*0\.\.255", id="probe-x0-0-255"),
    pytest.param(lambda: _probe(y=(_y() + 1) * 127.5), V, r"y values span .*0\.\.255", id="probe-y-0-255"),
    pytest.param(lambda: _probe(x0=((_x0() + 1) * 127.5).to(torch.uint8)), T, r"x0 has dtype torch.uint8", id="probe-x0-uint8"),
    pytest.param(lambda: _probe(x0=_x0().numpy()), T, r"x0 must be a torch.Tensor", id="probe-x0-numpy"),
    pytest.param(lambda: _probe(ts="0.5"), T, r"ts must be normalised times", id="probe-ts-string"),
    pytest.param(lambda: P.probe_table(_toy(), _x0(), [0.5], predictions=torch.zeros(1, 2, 3)), V, r"predictions must be one_step_predictions", id="probe_table-bad-predictions"),
    pytest.param(lambda: P.probe_table(_toy(), _x0(), [0.5], motion_fns={"speed": 3}), T, r"motion_fns must be a dict", id="probe_table-motion-fn-not-callable"),
    pytest.param(lambda: P.recommend_start(_table(), "err_gt", threshold="0.8"), T, r"threshold must be a real number", id="recommend-threshold-string"),
    pytest.param(lambda: P.recommend_start([1, 2], "err_gt"), T, r"table must be a probe_table DataFrame", id="recommend-table-list"),
    # --- TimeNoise ---------------------------------------------------------------------------------------
    pytest.param(lambda: TN.add_timenoise(_y().half(), 0.9, 5.0, 1e6, seed=0), V, r"beta_m = 1e\+06 overflows torch.float16", id="timenoise-fp16-overflow"),
    pytest.param(lambda: TN.add_timenoise(_y().to(torch.uint8), 0.9, 5.0, 1.0, seed=0), T, r"y0 must be a floating tensor.*float\(\)", id="timenoise-uint8"),
    pytest.param(lambda: TN.add_timenoise(_y()[:0], 0.9, 5.0, 1.0, seed=0), V, r"y0 holds no items", id="timenoise-empty"),
    pytest.param(lambda: TN.density_grid(5.0, 1.0, n_t=2.5), T, r"n_t must be", id="density_grid-float-n_t"),
    pytest.param(lambda: TN.check_samples([0.5], 5.0, 1.0, n=0), V, r"n must be an int >= 2", id="check_samples-n-zero"),
    pytest.param(lambda: TN.check_samples("0.5", 5.0, 1.0), T, r"t_values must be a list", id="check_samples-string-t"),
    pytest.param(lambda: TN.settings_for("svd", NAN, 1.0), V, r"a must be finite", id="settings_for-nan-a"),
    # --- Analytic-Init -----------------------------------------------------------------------------------
    pytest.param(lambda: A.MomentStats().update(torch.tensor([[1e200], [-1e200]], dtype=torch.float64)), V, r"overflow float64", id="stats-update-overflow"),
    pytest.param(lambda: A.init_params(_stats(mean=1e39), 0.5, 0.5), V, r"statistics look corrupt", id="init_params-absurd-mean"),
    pytest.param(lambda: A.sample_init(_stats(var=1e300), 0.5, 0.5, 2, seed=0), V, r"statistics look corrupt", id="sample_init-absurd-var"),
    pytest.param(lambda: A.sample_init(_stats(), 0.5, 0.5, 2.5, seed=0), T, r"shape must be a batch size", id="sample_init-float-shape"),
    pytest.param(lambda: A.sample_init(_stats(), 0.5, 0.5, 2, seed=0, dtype="float32"), T, r"dtype must be a floating torch.dtype", id="sample_init-string-dtype"),
    pytest.param(lambda: A.MomentStats.from_moments("abc", avg_var=1.0), T, r"mean must be numbers", id="from_moments-string-mean"),
    pytest.param(lambda: A.synthetic_data().sample(0, seed=0), V, r"n must be a positive int", id="mixture-sample-zero"),
    pytest.param(lambda: A.synthetic_data().sample(2.5, seed=0), T, r"n must be a positive int", id="mixture-sample-float"),
    pytest.param(lambda: A.kl_table(VPSchedule(), A.synthetic_data(), "[0.5]"), T, r"Ms must be a list", id="kl_table-string-Ms"),
    pytest.param(lambda: A.kl_table({}, A.synthetic_data(), [0.5]), T, r"schedules must be", id="kl_table-no-schedules"),
    # --- sprite data -------------------------------------------------------------------------------------
    pytest.param(lambda: D.SpriteConfig(max_frequency=NAN), V, r"max_frequency must be finite", id="sprite-nan-frequency"),
    pytest.param(lambda: D.SpriteConfig(n_sprites=(1,)), T, r"n_sprites must be a \(low, high\) pair", id="sprite-n_sprites-one"),
    pytest.param(lambda: D.SpriteConfig(radius=3.0), T, r"radius must be a \(low, high\) pair", id="sprite-radius-scalar"),
    pytest.param(lambda: D.SpriteConfig.from_json('{"frames": 8, "size"'), V, r"SpriteConfig JSON is not valid JSON", id="sprite-json-truncated"),
    pytest.param(lambda: D.SpriteConfig.from_json('{"foo": 1}'), V, r"unknown SpriteConfig field", id="sprite-json-unknown-field"),
    pytest.param(lambda: D.generate(2, foo=1), T, r"unknown SpriteConfig field.*foo", id="generate-unknown-override"),
    pytest.param(lambda: D.generate(2, config={"frames": 4}), T, r"config must be a SpriteConfig", id="generate-dict-config"),
    pytest.param(lambda: D.track_sprites(torch.full((1, 2, 1, 8, 8), NAN)), V, r"videos contains .* non-finite", id="track-nan-videos"),
    pytest.param(lambda: D.track_sprites(_x0(), threshold=NAN), V, r"threshold must be finite", id="track-nan-threshold"),
    pytest.param(lambda: D.track_sprites(_x0(), min_area=0), V, r"min_area must be a positive int", id="track-min-area-zero"),
    pytest.param(lambda: D.track_sprites(_x0(), max_sprites=2.5), T, r"max_sprites must be an int", id="track-max-sprites-float"),
    pytest.param(lambda: D.track_sprites(((_x0() + 1) * 127.5).to(torch.uint8)), T, r"videos have dtype torch.uint8", id="track-uint8"),
    pytest.param(lambda: D.track_sprites("abc"), T, r"videos must be a tensor", id="track-string"),
    pytest.param(lambda: D.motion(_x0(), M=[1.0, 2.0, 3.0]), V, r"label M= has 3 values for 2 videos", id="motion-label-length"),
    # --- metrics -----------------------------------------------------------------------------------------
    pytest.param(lambda: M.vbench_params(16, "8", (64, 64)), T, r"fps must be a real number", id="vbench-string-fps"),
    pytest.param(lambda: M.vbench_params(0, 8.0, (64, 64)), V, r"n_frames must be a positive int", id="vbench-zero-frames"),
    pytest.param(lambda: M.vbench_params(16, 8.0, (0, 64)), V, r"size\[0\] must be a positive int", id="vbench-zero-size"),
    pytest.param(lambda: M.vbench_params(16, 8.0, None), T, r"size must be \(H, W\)", id="vbench-no-size"),
    pytest.param(lambda: M.video_flows(_videos01(), "farneback", frame_stride=0), V, r"frame_stride must be a positive int", id="video_flows-stride-zero"),
    pytest.param(lambda: M.video_flows(_videos01(), "farneback", frame_stride=1.5), T, r"frame_stride must be a positive int", id="video_flows-stride-float"),
    pytest.param(lambda: M.pia_motion_score(_videos01(), m_max="1"), T, r"m_max must be a real number", id="pia-string-m_max"),
]


@pytest.mark.parametrize("call,exc,pattern", CASES)
def test_bad_input_raises_a_clear_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_there_are_many_cases():
    assert len(CASES) >= 60


# ---------------------------------------------------------------------------------------------
# files: a corrupt or truncated file is named in the error
# ---------------------------------------------------------------------------------------------


def test_truncated_stats_file_is_named(tmp_path):
    """(Already handled before issue 13; kept as a guard.) Truncated MomentStats files name the file."""
    good = _stats().save(tmp_path / "stats.safetensors")
    raw = good.read_bytes()
    for n in (0, 4, 20, len(raw) // 2, len(raw) - 3):
        bad = _write(tmp_path / f"cut{n}.safetensors", raw[:n])
        with pytest.raises(ValueError, match=rf"{bad.name}.*(corrupt|truncated)"):
            A.MomentStats.load(bad)


def test_official_stats_with_nan_name_the_file(tmp_path):
    path = tmp_path / "initial_noise_512.pt"
    mean = torch.zeros((2, 1, 8, 8))
    mean[0, 0, 0, 0] = NAN
    torch.save({"Expectation_x_0": mean, "trCov_d": torch.tensor(1.0)}, path)
    with pytest.raises(ValueError, match=r"Expectation_x_0 in .*initial_noise_512\.pt contains 1 non-finite"):
        A.MomentStats.from_official(path)


# ---------------------------------------------------------------------------------------------
# converted, not refused: float64/float16 inputs to a float32 model
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_other_float_precisions_run_in_the_models_float32(dtype):
    ref = _sample(seed=[3, 4])
    out = _sample(y=_y().to(dtype), seed=[3, 4])
    assert out.dtype == torch.float32
    tol = 1e-6 if dtype == torch.float64 else 5e-2
    torch.testing.assert_close(out, ref, rtol=tol, atol=tol)
    pred = _probe(x0=_x0().to(dtype))
    assert pred.dtype == torch.float32 and torch.isfinite(pred).all()


def test_valid_seed_forms_agree():
    """An int seed, its list, a numpy array and a tensor of seeds give the same videos (seed b = seed + b)."""
    import numpy as np

    a = _sample(seed=5)
    for s in ([5, 6], np.array([5, 6]), torch.tensor([5, 6]), np.int64(5)):
        torch.testing.assert_close(_sample(seed=s), a, rtol=0, atol=0)


def test_error_types_are_also_value_errors():
    """Wrong types raise cilnb.checks.InputTypeError: both a TypeError and a ValueError (old `except ValueError` still works)."""
    from cilnb.checks import InputTypeError

    with pytest.raises(InputTypeError) as info:
        _sample(batch_size=1.5)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)


def test_papermill_string_lists_and_corrupt_toy_checkpoints_name_the_problem(tmp_path):
    """Two classes from issue 13 at the library level: a list parameter given as text (papermill -p), and a
    truncated toy checkpoint passed to models.load (not only through the CLI)."""
    import cilnb as C
    from cilnb import io, runs

    model = C.models.load("toy", device="cpu")
    with pytest.raises(ValueError, match=r"Ms must be a list, got the string '\[1.0,0.6\]'.*-y"):
        runs.run_sweep(model, io.load_images("toy:1", model), tmp_path / "s", Ms="[1.0,0.6]", n_steps=1, show_progress=False)
    with pytest.raises(ValueError, match="seeds must be a list"):
        runs.run_sweep(model, io.load_images("toy:1", model), tmp_path / "s", Ms=[1.0], seeds="0 1", n_steps=1, show_progress=False)
    bad = tmp_path / "toy.safetensors"
    bad.write_bytes(C.models.toy.checkpoint_path("base").read_bytes()[:200])
    with pytest.raises(ValueError, match=rf"toy checkpoint {bad} is not a readable safetensors file.*retrain"):
        C.models.load("toy", str(bad), device="cpu")
    assert not (tmp_path / "s" / "sweep.json").exists()

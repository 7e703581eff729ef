"""Edge cases of the metrics and the leakage probe: inputs that gave a wrong answer, a NaN, a hang or a traceback from
inside torch/numpy/OpenCV, now refused up front with a message naming the input and the fix. Each test's docstring says
what happened before."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from cilnb import checks
from cilnb import metrics as M
from cilnb import probe as P
from cilnb.experiments import probe as EP
from cilnb.experiments import readouts as R

T = checks.InputTypeError


def _toy():
    from cilnb.models import toy

    return toy.build(frames=2, size=8, widths=(8,), temporal="none", temporal_levels=(), temporal_width=8, emb_dim=16, seed=0).eval()


def _x0(b: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, 2, 1, 8, 8, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _toy_videos(n: int = 3) -> torch.Tensor:
    from cilnb import data as D

    return D.generate(n, seed=0, frames=4, size=16).videos  # [n, 4, 1, 16, 16] in [-1, 1]


# --- the probe -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [P.one_step_predictions, P.probe_table, P.leakage_index], ids=["predictions", "table", "index"])
def test_probe_times_listed_twice_are_refused(fn):
    """ts=[0.5, 0.5] ran the model twice on the same times and gave two rows per (video, t) in the tables (averaged
    together again by recommend_start): now refused, naming the repeated time."""
    with pytest.raises(ValueError, match=r"ts lists the time\(s\) \[0\.5\] more than once: probe each time once"):
        fn(_toy(), _x0(), [0.5, 0.9, 0.5])
    assert P.one_step_predictions(_toy(), _x0(), [0.9, 0.5]).shape[:2] == (2, 2)  # unsorted, distinct times still pass


def test_probe_times_with_t_min_1_are_refused():
    """probe_times(3, t_min=1.0) returned [1, 1, 1], the time 1 three times (which the probe now refuses); a huge n
    failed in torch's allocator."""
    with pytest.raises(ValueError, match=r"t_min = 1 leaves no room for n = 3 different probe times.*smaller t_min"):
        EP.probe_times(3, 1.0)
    with pytest.raises(ValueError, match=r"probe_times\(n=1000000000000000\) needs more than .* GiB.*n=10"):
        EP.probe_times(10**15)
    assert EP.probe_times(1, 1.0).tolist() == [1.0]
    assert torch.equal(EP.probe_times(3, 0.5), torch.tensor([0.5, 0.75, 1.0], dtype=torch.float64))


@pytest.mark.parametrize("name,column", [("err", "err_gt"), ("dist_y", "dist_y_gt")])
def test_a_motion_function_named_like_a_table_column_is_refused(name, column):
    """A motion function named "err" wrote its ground-truth motion into the table's "err_gt" column (the prediction
    error), silently; "dist_y" overwrote both distances to the conditional image."""
    fns = {name: lambda v: v.abs().mean(dim=(1, 2, 3, 4))}
    with pytest.raises(ValueError, match=rf"motion_fns name '{name}' would overwrite the probe table's column '{column}'"):
        P.probe_table(_toy(), _x0(), [0.5], motion_fns=fns)
    ok = P.probe_table(_toy(), _x0(), [0.5], motion_fns={"mean_abs": fns[name]})
    assert {"err_gt", "dist_y_gt", "mean_abs_gt"} <= set(ok.columns)


def test_a_motion_function_returning_strings_is_named():
    """A motion function returning strings failed with numpy's bare 'could not convert string to float: np.str_('a')',
    naming neither the function nor the fix."""
    with pytest.raises(T, match=r"motion function 'speed' must return one real number per video, got a <U1 array"):
        P.probe_table(_toy(), _x0(), [0.5], motion_fns={"speed": lambda v: ["a"] * v.shape[0]})


@pytest.mark.parametrize("dtype", [torch.uint8, torch.bool, torch.int64])
def test_integer_predictions_are_refused(dtype):
    """Predictions of an integer dtype were used as one-step predictions (uint8 zeros gave a table and an index of
    made-up numbers); bool predictions failed inside torch ('Subtraction ... with a bool tensor is not supported')."""
    bad = torch.zeros(2, 1, 2, 1, 8, 8, dtype=dtype)
    with pytest.raises(T, match=rf"predictions have dtype {dtype}; one_step_predictions\(\.\.\.\) returns the model's float"):
        P.probe_table(_toy(), _x0(), [0.5], predictions=bad)
    with pytest.raises(T, match=rf"predictions have dtype {dtype}"):
        P.leakage_index(_toy(), _x0(), [0.5], predictions=bad)


def test_leakage_index_predictions_on_the_meta_device_are_refused():
    """leakage_index(predictions=<meta tensor>) failed with torch's 'Tensor.item() cannot be called on meta tensors'
    (probe_table named it already)."""
    with pytest.raises(T, match=r"predictions is a tensor on the 'meta' device"):
        P.leakage_index(_toy(), _x0(), [0.5], predictions=torch.zeros(2, 1, 2, 1, 8, 8, device="meta"))


@pytest.mark.parametrize("uncond,err,match", [
    (torch.full((2, 1, 2, 1, 8, 8), float("nan")), ValueError, r"uncond contains 256 non-finite value\(s\)"),
    (torch.zeros(2, 1, 2, 1, 8, 8, device="meta"), T, r"uncond is a tensor on the 'meta' device"),
    (torch.zeros(2, 1, 2, 1, 8, 8, dtype=torch.uint8), T, r"uncond have dtype torch\.uint8"),
], ids=["nan", "meta", "uint8"])
def test_leakage_index_uncond_is_checked_like_predictions(uncond, err, match):
    """The unconditional outputs given back with predictions were not checked: NaN ones made every swapped-image
    prediction NaN where they are reused (a NaN index), a meta tensor or an integer one were taken as they were."""
    net, x0 = _toy(), _x0()
    pred = P.one_step_predictions(net, x0, [0.5])
    with pytest.raises(err, match=match):
        P.leakage_index(net, x0, [0.5], predictions=pred, uncond=uncond)


# --- Fréchet distances -----------------------------------------------------------------------------------------------


def test_frechet_statistics_too_large_for_float64_are_named():
    """Finite covariances of 1e300 overflowed in the matrix products and numpy raised a bare LinAlgError
    ('Eigenvalues did not converge'); means of 1e200 gave a distance of inf."""
    with pytest.raises(ValueError, match=r"statistics are too large for a float64 Fréchet distance .*rescale the features"):
        M.frechet_distance_from_stats(np.zeros(3), np.eye(3) * 1e300, np.zeros(3), np.eye(3) * 1e300)
    with pytest.raises(ValueError, match=r"statistics are too large for a float64 Fréchet distance \(largest \|value\| 1e\+200"):
        M.frechet_distance_from_stats(np.full(3, 1e200), np.eye(3), np.full(3, -1e200), np.eye(3))
    assert M.frechet_distance_from_stats(np.zeros(2), np.eye(2), np.ones(2), np.eye(2)) == pytest.approx(2.0)


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_features_too_large_for_a_covariance_are_named():
    """Finite features of 1e160 overflowed in the covariance and the error named 'sigma_a' (which the caller never
    passed) and told them to 'compute the statistics from finite features'."""
    a = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match=r"feats are too large for a float64 covariance \(largest \|value\| .*e\+160.*rescale"):
        M.frechet_distance(a * 1e160, a)
    with pytest.raises(ValueError, match=r"feats are too large for a float64 covariance"):
        M.gaussian_stats(a * 1e160)


@pytest.mark.parametrize("make", [lambda a: a > 0, lambda a: torch.from_numpy(a > 0)], ids=["numpy", "tensor"])
def test_boolean_features_are_refused(make):
    """Boolean features were read as 0 and 1 and gave a Fréchet distance (0.09) of no meaning."""
    a, b = np.random.default_rng(0).normal(size=(2, 20, 3))
    with pytest.raises(T, match=r"feats_a must be .* got booleans \(read as 0 and 1\)"):
        M.frechet_distance(make(a), b)


class _NaNDet(torch.nn.Module):
    def forward(self, x, **kw):
        return x.mean((2, 3, 4)) * float("nan")


class _TransposedDet(torch.nn.Module):
    def forward(self, x, **kw):
        return x.mean((2, 3, 4)).T  # [3, b]: features first


def test_a_detector_giving_nan_features_is_named():
    """i3d_features returned NaN features without a word when the detector gave NaN for finite videos (fvd then blamed
    'feats_a', an argument the caller never passed)."""
    v = torch.rand(4, 2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"the detector gave 12 non-finite feature value\(s\).*check the detector"):
        M.i3d_features(v, _NaNDet(), show_progress=False)


def test_a_detector_giving_one_row_per_feature_is_refused():
    """A detector returning [D, b] (features first) had its output reshaped to [B, D] silently: each video got other
    videos' features."""
    v = torch.rand(2, 2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"the detector returned \(3, 2\) for a batch of 2 videos; it must return features \[b, D\]"):
        M.i3d_features(v, _TransposedDet(), show_progress=False)


def test_toy_reference_videos_of_another_size_are_refused():
    """frechet_to_reference compared 10x10 videos with 16x16 reference videos (sprite areas and speeds in pixels of
    other frames) and gave a distance of ~1500 as if it measured quality."""
    ref = _toy_videos(3)
    with pytest.raises(ValueError, match=r"reference videos are 16x16 pixels but videos are 10x10.*same size"):
        M.frechet_to_reference(ref[..., :10, :10], ref)


# --- flow and motion -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda v: M.motion_score(v, "farneback", resize=(10**6, 10**6), show_progress=False),
    lambda v: M.video_flows(v, "farneback", resize=(10**5, 10**5)),
    lambda v: M.optical_flow(v[:, 0], v[:, 1], "farneback", resize=(10**6, 10**6)),
    lambda v: M.warping_error(v, resize=(10**6, 10**6)),
], ids=["motion_score", "video_flows", "optical_flow", "warping_error"])
def test_a_resize_too_large_for_memory_is_refused(call):
    """resize=(10**6, 10**6) failed in torch's allocator ('DefaultCPUAllocator: can't allocate memory: you tried to
    allocate 72000000000000 bytes')."""
    v = torch.rand(1, 2, 3, 16, 16)
    with pytest.raises(ValueError, match=r"\(resize=\(\d+, \d+\)\) needs more than .* GiB .* resize=\(450, 800\)"):
        call(v)


@pytest.mark.parametrize("key,value", [("winsize", 5000), ("iterations", 5000)])
def test_farneback_settings_that_run_for_hours_are_refused(key, value):
    """OpenCV's time per frame pair grows linearly with winsize and iterations: winsize=10**9 ran for over a minute on
    one 16x16 pair (hours at 2**31 - 1 iterations) before any error; 5000 ran and gave a flow of no meaning."""
    with pytest.raises(ValueError, match=rf"farneback_params\['{key}'\]={value} is beyond any use \(at most \d+.*default is"):
        M.video_flows(torch.rand(1, 2, 3, 16, 16), "farneback", farneback_params={key: value})


def test_flow_motion_of_0_255_videos_is_refused():
    """flow_motion clamps videos to value_range first: 0..255 videos became all 1 and scored a motion of exactly 0."""
    v = _toy_videos(2)
    with pytest.raises(ValueError, match=r"videos values span .* but are read in \[-1, 1\] \(clamped to it first\): it looks like "
                                         r"0\.\.255 pixels, use videos\.float\(\) / 127\.5 - 1"):
        R.flow_motion(v * 127.5 + 127.5)
    with pytest.raises(ValueError, match=r"looks like 0\.\.255 pixels"):
        R.flow_motion(((v + 1) * 127.5).to(torch.uint8))
    assert R.flow_motion(((v + 1) * 127.5).to(torch.uint8).float(), value_range=(0, 255)).shape == (2,)


def test_flow_motion_value_range_is_checked():
    """value_range='ab' reached torch's clamp(): 'clamp() received an invalid combination of arguments'."""
    with pytest.raises(T, match=r"value_range must be a pair \(lo, hi\) of numbers"):
        R.flow_motion(_toy_videos(2), value_range="ab")


def test_flow_motion_upsample_too_large_for_memory_is_refused():
    """flow_motion(upsample=10**6) failed in torch's allocator."""
    with pytest.raises(ValueError, match=r"flow_motion\(upsample=1000000\) of 16x16 frames needs more than .* GiB.*smaller upsample"):
        R.flow_motion(_toy_videos(2), upsample=10**6)


def test_sprite_speed_of_0_255_videos_is_refused():
    """sprite_speed clamps videos to [-1, 1]: 0..255 videos (float or uint8) became all 1, no sprite was found, and the
    speed was 0 for every video."""
    v = _toy_videos(2)
    with pytest.raises(ValueError, match=r"videos values span .* it looks like 0\.\.255 pixels"):
        R.sprite_speed(v * 127.5 + 127.5)
    with pytest.raises(ValueError, match=r"it looks like 0\.\.255 pixels"):
        R.sprite_speed(((v + 1) * 127.5).to(torch.uint8))


def test_sprite_motion_checks_threshold_and_scales():
    """SpriteMotion took threshold=-1 (every pixel a sprite: a 'speed' of ~0.1 px/frame for any video), a 0..255 ground
    truth (a background of another scale) and uint8 predictions (read as 0..255 against a [-1, 1] background)."""
    v = _toy_videos(2)
    with pytest.raises(ValueError, match=r"threshold must be > 0 \(excess over the background"):
        R.SpriteMotion(v, threshold=-1)
    with pytest.raises(ValueError, match=r"ground_truth values span .* but are read in \[-1, 1\]: it looks like 0\.\.255"):
        R.SpriteMotion(v * 127.5 + 127.5)
    with pytest.raises(T, match=r"videos have dtype torch\.uint8; SpriteMotion reads float frames.*videos\.float\(\) / 127\.5 - 1"):
        R.SpriteMotion(v)(((v + 1) * 127.5).to(torch.uint8))
    assert R.SpriteMotion(v)(v).shape == (2,)


# --- alignment -------------------------------------------------------------------------------------------------------


def test_align_psnr_of_no_videos_or_empty_frames_is_refused():
    """align_psnr returned an empty tensor for an empty batch and NaN for 0x0 frames (the mean over no pixels)."""
    v = torch.rand(2, 2, 1, 8, 8) * 2 - 1
    with pytest.raises(ValueError, match=r"videos holds no videos \(shape \(0, 2, 1, 8, 8\)\): pass at least one"):
        M.align_psnr(v[:0], v[:0, 0])
    with pytest.raises(ValueError, match=r"videos have empty frames \(shape \(2, 2, 1, 0, 0\)\)"):
        M.align_psnr(v[..., :0, :0], v[:, 0, :, :0, :0])


def test_align_psnr_images_outside_minus_1_1_are_refused():
    """Conditional images are not clamped: images in [-100, 100] gave a PSNR of -29 dB, images in [-3, 3] 4.8 dB (only
    all-positive 0..255 images were refused)."""
    v = torch.rand(2, 2, 1, 8, 8) * 2 - 1
    for scale in (100.0, 3.0):
        with pytest.raises(ValueError, match=r"images values span .* but align_psnr reads conditional images in \[-1, 1\]"):
            M.align_psnr(v, v[:, 0] * scale)
    assert M.align_psnr(v, v[:, 0]).tolist() == pytest.approx([126.0206, 126.0206], abs=1e-3)


def test_valid_inputs_give_the_same_numbers():
    """The checks above change no number of a valid input (spot checks of the values before the changes)."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    assert M.frechet_distance(a, b) == 0.37857915176607015
    v = _toy_videos(3)
    assert M.frechet_to_reference(v, v) == M.frechet_to_reference(v, M.video_features(v))
    table = P.probe_table(_toy(), _x0(), [0.9, 0.5])
    assert table.t.tolist() == [0.9, 0.5, 0.9, 0.5] and isinstance(table, pd.DataFrame)

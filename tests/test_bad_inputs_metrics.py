"""Bad input to the metrics (motion scores, PIA, HSV, PSNR/SSIM/alignment, Fréchet statistics, toy features, synthetic
videos) and the flow pictures fails at once with a clear error naming the input and the fix.

Every case here was mishandled before: accepted silently (a string or boolean ``value_range`` read by ``float()``, an
unknown device or RAFT arch ignored by Farneback, a PIA score of 0 for one-frame videos, complex features with their
imaginary part dropped, a non-symmetric covariance symmetrised, [-1, 1] frames drawn half black, a VBench score
plotted as a spatial mean), a bare ``TypeError``/``AttributeError``/``IndexError`` or an OpenCV/torch/numpy error naming
neither the argument nor the fix, or a valid call refused (numpy ints as counts, videos that require grad, a tensor
velocity). Siblings: ``test_bad_inputs_api.py``, ``test_bad_inputs_data.py`` (earlier metrics cases).
"""
from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from cilnb import metrics as M
from cilnb.checks import InputTypeError
from cilnb.plotting import flow as FL

NAN = float("nan")
T, VE = InputTypeError, ValueError


def _v(*shape, seed=0):
    """Random frames in [0, 1]."""
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _fb(videos, **kw):
    return M.motion_score(videos, "farneback", **{"resize": None, "show_progress": False, **kw})


@functools.lru_cache(maxsize=None)
def _scores():
    """``(svd, vbench, labels, videos)`` of two known-motion videos (static, 1 px/frame), 3 frames of 32x32."""
    vids, _, labels = M.synthetic_motion_set([0.0, 1.0], None, n_frames=3, size=(32, 32), seed=0)
    return _fb(vids), _fb(vids, protocol="vbench", fps=8), labels, vids


_A = np.random.default_rng(0).normal(size=(10, 3))
_B = np.random.default_rng(1).normal(size=(12, 3))


class _Det(torch.nn.Module):
    """A stand-in detector: the mean of each colour channel."""

    def forward(self, x, **kw):
        return x.mean((2, 3, 4))


CASES = [
    # --- value_range: strings and booleans were read by float() ------------------------------------------------
    pytest.param(lambda: _fb(_v(1, 2, 1, 16, 16), value_range="01"), T, r"value_range must be a pair \(lo, hi\) of numbers", id="range-string"),
    pytest.param(lambda: _fb(_v(1, 2, 1, 16, 16), value_range=("0", "1")), T, r"value_range\[0\] must be a real number", id="range-strings"),
    pytest.param(lambda: _fb(_v(1, 2, 1, 16, 16), value_range=(False, True)), T, r"value_range\[0\] must be a real number", id="range-bools"),
    pytest.param(lambda: M.psnr(_v(1, 1, 8, 8), _v(1, 1, 8, 8, seed=1), value_range="01"), T, r"value_range must be a pair", id="psnr-range-string"),
    # --- choices given as lists: a bare 'unhashable type' TypeError ----------------------------------------------
    pytest.param(lambda: _fb(_v(1, 2, 1, 16, 16), protocol=["svd"]), VE, r"protocol must be one of \['svd', 'vbench'\]", id="protocol-list"),
    pytest.param(lambda: M.pia_motion_score(_v(1, 2, 3, 8, 8), hsv_scale=["unit"]), VE, r"hsv_scale must be one of", id="hsv-scale-list"),
    # --- RAFT-only options were ignored by Farneback, whatever they said -----------------------------------------
    pytest.param(lambda: _fb(_v(1, 2, 1, 16, 16), device="gpu0"), VE, r"device 'gpu0' is not a torch device", id="farneback-bad-device"),
    pytest.param(lambda: _fb(_v(1, 2, 1, 16, 16), arch="huge"), VE, r"arch must be one of \['large', 'small'\]", id="farneback-bad-arch"),
    # --- counts: wrong types were a plain ValueError, OpenCV's C int overflowed deep inside cv2 -----------------------
    pytest.param(lambda: _fb(_v(1, 2, 1, 16, 16), batch_size=2.0), T, r"batch_size must be a positive int \(pairs per flow batch\).*pass 2",
                 id="flow-batch-float"),
    pytest.param(lambda: _fb(_v(1, 2, 1, 16, 16), num_flow_updates="20"), T, r"num_flow_updates must be a positive int", id="flow-updates-string"),
    pytest.param(lambda: _fb(_v(1, 2, 1, 16, 16), farneback_params={"iterations": 10**12}), VE,
                 r"farneback_params\['iterations'\]=1000000000000 does not fit OpenCV's C int.*default is 3", id="farneback-int-overflow"),
    pytest.param(lambda: M.i3d_features(_v(2, 2, 3, 8, 8), _Det(), batch_size=1.0, show_progress=False), T,
                 r"batch_size must be a positive int \(videos per detector call\)", id="i3d-batch-float"),
    # --- PIA: cond_frame of another kind, one-frame videos scored 0 ---------------------------------------------------
    pytest.param(lambda: M.pia_motion_score(_v(2, 3, 3, 8, 8), cond_frame=1.0), T,
                 r"cond_frame must be a frame index \(int\), 2 int indices \(one per video\) or condition images", id="pia-cond-float"),
    pytest.param(lambda: M.pia_motion_score(_v(2, 3, 3, 8, 8), cond_frame=None), T, r"cond_frame must be a frame index", id="pia-cond-none"),
    pytest.param(lambda: M.pia_motion_score(_v(2, 3, 3, 8, 8), cond_frame=True), T, r"cond_frame must be a frame index", id="pia-cond-bool"),
    pytest.param(lambda: M.pia_motion_score(_v(2, 3, 3, 8, 8), cond_frame=["0", 1]), T, r"cond_frame\[0\] must be an int", id="pia-cond-list-string"),
    pytest.param(lambda: M.pia_motion_score(_v(2, 1, 3, 8, 8)), VE, r"videos have 1 frame.*no other frame is left to score", id="pia-one-frame"),
    # --- rgb_to_hsv: AttributeError/IndexError, or garbage hues for uint8, 0..255 and [-1, 1] -----------------------
    pytest.param(lambda: M.rgb_to_hsv(None), T, r"x must be a torch\.Tensor \[\.\.\., 3, H, W\]", id="hsv-none"),
    pytest.param(lambda: M.rgb_to_hsv(np.random.rand(3, 4, 4)), T, r"torch\.from_numpy\(x\)", id="hsv-numpy"),
    pytest.param(lambda: M.rgb_to_hsv(_v(1, 4, 4)), VE, r"x must be RGB \[\.\.\., 3, H, W\].*repeat grayscale", id="hsv-one-channel"),
    pytest.param(lambda: M.rgb_to_hsv(_v(3)), VE, r"x must be RGB", id="hsv-rank-1"),
    pytest.param(lambda: M.rgb_to_hsv((_v(3, 4, 4) * 255).to(torch.uint8)), T, r"x has dtype torch\.uint8.*x\.float\(\) / 255", id="hsv-uint8"),
    pytest.param(lambda: M.rgb_to_hsv(_v(3, 4, 4) * 255), VE, r"x values span .* must lie in \[0, 1\].*x / 255", id="hsv-0-255"),
    pytest.param(lambda: M.rgb_to_hsv(_v(3, 4, 4) * 2 - 1), VE, r"must lie in \[0, 1\].*\(x \+ 1\) / 2", id="hsv-minus-1-1"),
    pytest.param(lambda: M.rgb_to_hsv(torch.full((3, 2, 2), NAN)), VE, r"x contains 12 non-finite", id="hsv-nan"),
    # --- motion_score_error: booleans read as 1, numpy text arrays failed inside torch, nothing to compare ---------
    pytest.param(lambda: M.motion_score_error([True, False], [1.0, 0.0]), T, r"output_scores must be numbers .*got booleans", id="error-bools"),
    pytest.param(lambda: M.motion_score_error(np.array(["a"]), [1.0]), T, r"output_scores must hold numbers .*dtype <U1", id="error-numpy-text"),
    pytest.param(lambda: M.motion_score_error(1.0, [1.0]), T, r"output_scores must be one score per video: a 1-D tensor, array or list",
                 id="error-scalar"),
    pytest.param(lambda: M.motion_score_error([], []), VE, r"hold no scores", id="error-empty"),
    # --- SSIM window, alignment -------------------------------------------------------------------------------------------
    pytest.param(lambda: M.ssim(_v(1, 1, 16, 16), _v(1, 1, 16, 16, seed=1), sigma=1e300), VE, r"sigma=1e\+300 gives no usable Gaussian window",
                 id="ssim-sigma-overflow"),
    pytest.param(lambda: M.ssim(_v(1, 1, 16, 16), _v(1, 1, 16, 16, seed=1), sigma=1e-300), VE, r"sigma=1e-300 gives no usable Gaussian window",
                 id="ssim-sigma-underflow"),
    pytest.param(lambda: M.align_psnr(_v(2, 0, 1, 8, 8), _v(2, 1, 8, 8)), VE, r"videos have no frames", id="align-no-frames"),
    pytest.param(lambda: M.align_psnr(_v(2, 2, 1, 8, 8) * 2 - 1, _v(2, 1, 8, 8) * 255), VE,
                 r"images values span .*0\.\.255 pixels, use images / 127\.5 - 1", id="align-0-255-images"),
    pytest.param(lambda: M.align_psnr(_v(2, 2, 1, 8, 8) * 255, _v(2, 1, 8, 8) * 2 - 1), VE,
                 r"videos values span .*0\.\.255 pixels, use videos / 127\.5 - 1", id="align-0-255-videos"),
    # --- Fréchet statistics -----------------------------------------------------------------------------------------------
    pytest.param(lambda: M.frechet_distance(_A.astype(complex), _B), T, r"feats_a must hold real numbers.*complex", id="fd-complex"),
    pytest.param(lambda: M.frechet_distance(torch.tensor(_A).to(torch.complex64), _B), T, r"feats_a must hold real numbers", id="fd-complex-tensor"),
    pytest.param(lambda: M.frechet_distance_from_stats(np.zeros(3) + 1j, np.eye(3), np.zeros(3), np.eye(3)), T, r"mu_a must hold real numbers",
                 id="fd-stats-complex"),
    pytest.param(lambda: M.frechet_distance_from_stats(np.zeros(2), np.array([[1.0, 5.0], [0.0, 1.0]]), np.zeros(2), np.eye(2)), VE,
                 r"sigma_a is not a covariance: it is not symmetric", id="fd-stats-asymmetric"),
    pytest.param(lambda: M.frechet_distance_from_stats(np.zeros(0), np.zeros((0, 0)), np.zeros(0), np.zeros((0, 0))), VE,
                 r"mu_a is empty", id="fd-stats-empty"),
    # --- toy features, synthetic videos of known motion ----------------------------------------------------------------
    pytest.param(lambda: M.video_features(torch.zeros(2, 2, 1, 0, 4)), VE, r"videos have empty frames", id="features-empty-frames"),
    pytest.param(lambda: M.texture(np.zeros((2, 2)), np.zeros((2, 2)), channels="3"), T, r"channels must be an int \(1 for grayscale or 3 for RGB\)",
                 id="texture-channels-string"),
    pytest.param(lambda: M.texture(np.zeros((2, 2)), np.zeros((2, 2)), channels=3.0), T, r"channels must be an int.*pass 3", id="texture-channels-float"),
    pytest.param(lambda: M.synthetic_translation_video(2, (8, 8), channels=True), T, r"channels must be an int", id="synthetic-channels-bool"),
    pytest.param(lambda: M.texture(None, np.zeros((2, 2))), T, r"x must be an array of pixel coordinates", id="texture-x-none"),
    pytest.param(lambda: M.texture(np.full((2, 2), NAN), np.zeros((2, 2))), VE, r"x holds 4 non-finite coordinate", id="texture-x-nan"),
    pytest.param(lambda: M.texture(np.zeros((2, 2)), np.zeros((3, 3))), VE, r"x \(2, 2\) and y \(3, 3\) must have the same shape", id="texture-xy-shapes"),
    pytest.param(lambda: M.true_motion_score(torch.zeros(0, 2, 4, 4)), VE, r"flow is empty .*at least 2 frames", id="true-score-no-pairs"),
    pytest.param(lambda: M.true_motion_score(torch.zeros(1, 2, 0, 4)), VE, r"flow is empty", id="true-score-empty-frames"),
    pytest.param(lambda: M.true_per_pair(torch.zeros(1, 0, 2, 4, 4)), VE, r"flow is empty", id="true-per-pair-no-pairs"),
    # --- flow pictures ----------------------------------------------------------------------------------------------------
    pytest.param(lambda: FL.flow_to_rgb(torch.zeros(1, 2, 4, 4, dtype=torch.complex64)), T, r"flow must be real numbers, got complex", id="rgb-complex"),
    pytest.param(lambda: FL.draw_color_wheel(None), T, r"ax must be a matplotlib Axes", id="wheel-no-axes"),
    pytest.param(lambda: FL.plot_flow_fields(_v(1, 1, 16, 16) * 2 - 1, torch.zeros(1, 2, 16, 16)), VE,
                 r"they look like \[-1, 1\] frames, use \(x \+ 1\) / 2", id="flow-fields-minus-1-1"),
    pytest.param(lambda: FL.plot_per_pair(_scores()[1], _scores()[2]), T, r"protocol='svd'.*got the 'vbench' protocol's", id="per-pair-vbench"),
    pytest.param(lambda: FL.plot_per_pair(_scores()[0], _scores()[2], torch.full((2, 2), NAN)), VE, r"true_per_pair holds NaN", id="per-pair-nan-truth"),
    pytest.param(lambda: FL.plot_protocols([0, 1], *_scores()[:2], pia_scores=[0.1, 0.2]), T, r"pia_scores must be the PIAMotionScores",
                 id="protocols-pia-list"),
    pytest.param(lambda: FL.plot_protocols([0, 1], *_scores()[:2], pia_scores=M.pia_motion_score(_scores()[3][:1])), VE,
                 r"pia_scores hold 1 video\(s\) but svd_scores hold 2", id="protocols-pia-short"),
    pytest.param(lambda: FL.plot_protocols([0], _fb(_scores()[3][:1]), _scores()[1]), VE,
                 r"svd_scores hold 1 video\(s\) but vbench_scores hold 2", id="protocols-mismatched-sets"),
]


@pytest.mark.parametrize("call, exc, pattern", CASES)
def test_bad_metrics_input_is_named(call, exc, pattern):
    try:
        with pytest.raises(exc, match=pattern):
            call()
    finally:
        plt.close("all")


def test_numpy_ints_are_counts():
    """np.int64 batch sizes, update counts and bootstrap sizes were refused as 'not a positive int'."""
    v = _v(1, 3, 1, 16, 16)
    ref = _fb(v).score
    assert torch.equal(_fb(v, batch_size=np.int64(1)).score, ref)
    assert torch.equal(_fb(v, num_flow_updates=np.int64(3)).score, ref)  # a RAFT option, checked for every method
    assert M.frechet_interval(_A, _B, n_boot=np.int64(10)) == M.frechet_interval(_A, _B, n_boot=10)
    feats = M.i3d_features(_v(2, 2, 3, 8, 8), _Det(), batch_size=np.int64(1), show_progress=False)
    assert np.array_equal(feats, M.i3d_features(_v(2, 2, 3, 8, 8), _Det(), batch_size=1, show_progress=False))


def test_videos_that_require_grad_are_scored():
    """Farneback called .numpy() on them: 'Can't call numpy() on Tensor that requires grad'."""
    v = _v(2, 3, 1, 16, 16)
    g = v.clone().requires_grad_()
    assert torch.equal(_fb(g).score, _fb(v).score)
    assert torch.equal(M.optical_flow(g[:, 0], g[:, 1], "farneback"), M.optical_flow(v[:, 0], v[:, 1], "farneback"))
    assert torch.equal(M.warping_error(g).detach(), M.warping_error(v))


def test_pia_frame_indices_as_a_0d_tensor_or_a_list():
    """A 0-d index tensor was read as condition images ('must be [N, C, H, W]'), a list of indices refused."""
    v = _v(2, 3, 3, 8, 8)
    assert torch.equal(M.pia_motion_score(v, cond_frame=torch.tensor(1)).score, M.pia_motion_score(v, cond_frame=1).score)
    assert torch.equal(M.pia_motion_score(v, cond_frame=[0, 2]).score, M.pia_motion_score(v, cond_frame=torch.tensor([0, 2])).score)


def test_tensor_pairs_and_list_coordinates_in_synthetic_videos():
    """velocity/center given as a tensor of two numbers was refused as 'not a pair of numbers'; texture coordinates given
    as nested lists failed inside numpy ("can't multiply sequence by non-int")."""
    a, fa = M.synthetic_translation_video(3, (8, 8), torch.tensor([0.5, 1.0]))
    b, fb = M.synthetic_translation_video(3, (8, 8), (0.5, 1.0))
    assert torch.equal(a, b) and torch.equal(fa, fb)
    c, _ = M.synthetic_rotation_video(2, (8, 8), 3.0, center=torch.tensor([3.0, 4.0]))
    assert torch.equal(c, M.synthetic_rotation_video(2, (8, 8), 3.0, center=(3.0, 4.0))[0])
    assert np.array_equal(M.texture([[0.0, 1.0]], [[0.0, 1.0]]), M.texture(np.array([[0.0, 1.0]]), np.array([[0.0, 1.0]])))


def test_valid_metric_calls_are_unchanged():
    """The checks refuse bad input only: valid calls give the numbers they gave before them (measured on that code; this
    test passes there too, by design)."""
    assert _fb(_v(1, 3, 1, 16, 16)).score.tolist() == pytest.approx([3.537001609103754], rel=1e-6)
    assert _fb(_v(1, 3, 1, 16, 16), value_range=np.array([0.0, 1.0])).score.tolist() == pytest.approx([3.537001609103754], rel=1e-6)
    assert M.pia_motion_score(_v(2, 3, 3, 8, 8), cond_frame=1).score.tolist() == pytest.approx([0.7301558195045287, 0.7838564261895854], rel=1e-9)
    assert M.ssim(_v(1, 1, 16, 16), _v(1, 1, 16, 16, seed=1)).tolist() == pytest.approx([-0.19864095901999354], rel=1e-9)
    assert M.rgb_to_hsv(_v(3, 2, 2)).flatten().tolist()[:2] == pytest.approx([0.8691926002502441, 0.002173413522541523], rel=1e-6)
    assert M.frechet_distance(_A, _B) == pytest.approx(0.5928422797721176, rel=1e-9)
    assert M.frechet_interval(_A, _B, n_boot=10) == pytest.approx((0.2426245220250982, 1.1112008977509107), rel=1e-9)
    assert M.align_psnr(_v(2, 2, 1, 8, 8) * 2 - 1, _v(2, 1, 8, 8, seed=1) * 2 - 1).tolist() == pytest.approx([8.003730773925781, 8.63766098022461], rel=1e-6)

"""Bad input to the recently added public API fails at once with a clear error, never deep in numpy/torch/pandas,
as NaN, or as a silent fallback: the Fréchet intervals and differences, the toy features, the remedies and their
comparison, paired agreement, the read-outs, the verdicts and the toy training helpers.

Each case asserts the error type (``ValueError``, or ``TypeError`` for a wrong type; cilnb's ``InputTypeError`` is
both) and that the message names the input. Every case failed on the code before this file: no error at all (a NaN,
garbage, a silently truncated or global-RNG value, a silent fallback to an unpaired comparison), a bare
numpy/torch/pandas/Python error naming neither the input nor the fix, or the wrong error type.
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
import torch

import cilnb.remedies as R
from cilnb import data as D
from cilnb import metrics as M
from cilnb import toy_training as TT
from cilnb.experiments import agreement as AG
from cilnb.experiments import readouts as RO
from cilnb.experiments import verdicts as V
from cilnb.io import ImageSet
from cilnb.models import toy
from cilnb.schedules import VPSchedule

NAN, INF = float("nan"), float("inf")
T, VE = TypeError, ValueError


# ---------------------------------------------------------------------------------------------
# small inputs, built on first use
# ---------------------------------------------------------------------------------------------


def _feats(n=20, d=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


A, C, B = _feats(20, 3, 0), _feats(20, 3, 1), _feats(40, 3, 2)
A_NAN = np.where(A > 1, NAN, A)


def _v(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _gen():
    return torch.Generator().manual_seed(0)


def _comparison(n=6):
    """A Comparison of two remedies on the same n videos (toy-like: with FD features)."""
    rng = np.random.default_rng(0)
    rows, summary, feats = [], [], {}
    for name in ("none", "up"):
        m = rng.normal(size=n)
        rows.append(pd.DataFrame({"remedy": name, "image_index": np.arange(n), "seed": 0, "motion": m,
                                  "sprite_stability": 0.9 + 0 * m, "first_frame_psnr": 20 + m}))
        feats[name] = rng.normal(size=(n, 3))
        summary.append({"remedy": name, "motion": m.mean(), "motion_sem": 0.1, "motion_ratio": 1.0, "sprite_stability": 0.9,
                        "sprite_stability_sem": 0.01, "first_frame_psnr": 20.0, "fd": 1.0, "sec_per_video": 1.0, "time_ratio": 1.0})
    return R.Comparison(pd.concat(rows, ignore_index=True), pd.DataFrame(summary), {}, {}, feats, rng.normal(size=(30, 3)))


@functools.lru_cache(maxsize=None)
def _toy_setup():
    model = toy.build(frames=2, size=8, widths=(8,), temporal="none", temporal_levels=(), temporal_width=8, emb_dim=16, seed=0).eval()
    cfg = D.SpriteConfig(frames=2, size=8, radius=(1.0, 2.0))
    sv = D.generate(2, seed=0, config=cfg)
    return model, cfg, sv


def _images(n=2):
    _, cfg, sv = _toy_setup()
    speed = sv.speed[:n].tolist()
    return ImageSet(["a", "b"][:n], sv.condition[:n], f"toy:{n}", {"input_speed": speed}, sv.videos[:n], {"motion": speed}, cfg)


def _compare(remedies=None, images=None, **kw):
    args = dict(n_steps=1, n_reference=0)
    args.update(kw)
    return R.compare(_toy_setup()[0], _images() if images is None else images,
                     {"none": "none", "cn": "cond_noise"} if remedies is None else remedies, **args)


def _agreement_table():
    return pd.DataFrame({"M": 1.0, "init": "standard", "seed": 0, "image_index": np.arange(6), "motion": np.arange(6.0)})


def _tn_summary():
    return pd.DataFrame([{"model": m, "M": 1.0, "init": "standard", "motion": mo, "motion_sem": 0.05, "gt_motion": 1.0,
                          "motion_name": "speed", "first_frame_psnr": 20.0} for m, mo in (("naive", 1.0), ("timenoise", 1.3))])


def _tn_per_video():
    return pd.DataFrame([{"model": m, "M": 1.0, "init": "standard", "image": i, "seed": 0, "motion": mo + 0.01 * i}
                         for m, mo in (("naive", 1.0), ("timenoise", 1.3)) for i in range(5)])


def _probe_table():
    return pd.DataFrame({"model": ["a"], "t": [0.95], "video": [0], "x": [0.5]})


class _Run:  # the fields of cilnb.live.SampleResult that start_on_one_image reads
    def __init__(self, motion):
        self.motion, self.settings, self.truth_motion = motion, {}, 1.0


def _train_config(**kw):
    return TT.TrainConfig(variant="base", pretrain_steps=0, steps=1, **kw)


def _timenoise_config(**kw):
    """A TimeNoise fine-tune config that reads no checkpoint (model, data and recipe given)."""
    recipe = dict(image_dropout=0.0, t_dist="uniform", t_p_mean=0.7, t_p_std=1.6, cond_aug=0.0, motion_label_noise=0.0)
    return TT.TrainConfig(variant="timenoise", init="unused.safetensors", steps=1, model=toy.ToyConfig(), data=D.SpriteConfig(),
                          **{**recipe, **kw})


CASES = [
    # --- metrics: Fréchet distance, statistics, bootstrap intervals ---------------------------------------
    pytest.param(lambda: M.frechet_distance("abc", B), T, r"feats_a must be \[N, D\] features", id="fd-string-feats"),
    pytest.param(lambda: M.frechet_distance(np.zeros((5, 0)), np.zeros((5, 0))), VE, r"feats_a has 0 features", id="fd-zero-features"),
    pytest.param(lambda: M.frechet_distance_from_stats(np.full(3, NAN), np.eye(3), np.zeros(3), np.eye(3)), VE,
                 r"mu_a contains 3 non-finite", id="fd-stats-nan-mean"),
    pytest.param(lambda: M.frechet_distance_from_stats(np.zeros(3), np.full((3, 3), NAN), np.zeros(3), np.eye(3)), VE,
                 r"sigma_a contains 9 non-finite", id="fd-stats-nan-covariance"),
    pytest.param(lambda: M.frechet_distance_from_stats("a", np.eye(3), np.zeros(3), np.eye(3)), T, r"mu_a must be", id="fd-stats-string"),
    pytest.param(lambda: M.gaussian_stats(A[:3], ddof=3), VE, r"ddof=3 needs more than 3 samples", id="gaussian-stats-ddof-n"),
    pytest.param(lambda: M.gaussian_stats(A, ddof=True), T, r"ddof must be an int", id="gaussian-stats-ddof-bool"),
    pytest.param(lambda: M.gaussian_stats(A, ddof=-1), VE, r"ddof must be an int >= 0", id="gaussian-stats-ddof-negative"),
    pytest.param(lambda: M.frechet_interval(A, B, n_boot=100.0), T, r"n_boot must be an int >= 10", id="interval-n_boot-float"),
    pytest.param(lambda: M.frechet_interval(A, B, n_boot=True), T, r"n_boot must be an int >= 10", id="interval-n_boot-bool"),
    pytest.param(lambda: M.frechet_interval(A, B, level="0.9"), T, r"level must be a real number", id="interval-level-string"),
    pytest.param(lambda: M.frechet_interval(A, B, level=None), T, r"level must be a real number", id="interval-level-none"),
    pytest.param(lambda: M.frechet_interval(A, B, n_boot=10, seed=None), T, r"seed must be an int >= 0", id="interval-seed-none"),
    pytest.param(lambda: M.frechet_interval(A, B, n_boot=10, seed=True), T, r"seed must be an int >= 0", id="interval-seed-bool"),
    pytest.param(lambda: M.frechet_interval(A, B, n_boot=10, seed=1.5), T, r"seed must be an int >= 0", id="interval-seed-float"),
    pytest.param(lambda: M.frechet_interval(A, B, n_boot=10, seed=-1), VE, r"seed must be an int >= 0", id="interval-seed-negative"),
    pytest.param(lambda: M.frechet_difference(A, C, B, level="0.95"), T, r"level must be a real number", id="difference-level-string"),
    pytest.param(lambda: M.frechet_difference(A, C, B, n_boot=10, seed=None), T, r"seed must be an int >= 0", id="difference-seed-none"),
    # --- metrics: toy features -------------------------------------------------------------------------------
    pytest.param(lambda: M.video_features(_v(2, 3, 1, 8, 8).numpy()), T, r"videos must be .*torch\.Tensor.*from_numpy", id="features-numpy"),
    pytest.param(lambda: M.video_features(_v(0, 3, 1, 8, 8)), VE, r"videos holds no videos", id="features-empty"),
    pytest.param(lambda: M.standardised_features(_v(2, 3, 1, 8, 8), [[1.0, 2.0]]), T, r"reference must be", id="standardised-reference-list"),
    pytest.param(lambda: M.standardised_features(_v(2, 3, 1, 8, 8), torch.zeros(4, 32)), T, r"reference features must be a numpy array",
                 id="standardised-reference-feature-tensor"),
    pytest.param(lambda: M.standardised_features(_v(2, 3, 1, 8, 8), np.zeros(32)), VE, r"reference features must be \[M, D\]",
                 id="standardised-reference-1d"),
    pytest.param(lambda: M.standardised_features(_v(2, 3, 1, 8, 8), np.zeros((4, 5))), VE,
                 r"reference has 5 features per video but videos of 3 frames have 32", id="standardised-reference-width"),
    pytest.param(lambda: M.standardised_features(_v(2, 3, 1, 8, 8), _v(3, 4, 1, 8, 8, seed=1)), VE,
                 r"reference has 36 features per video but videos of 3 frames have 32", id="standardised-reference-frames"),
    pytest.param(lambda: M.standardised_features(_v(2, 3, 1, 8, 8), np.full((4, 32), NAN)), VE, r"reference features contain .*non-finite",
                 id="standardised-reference-nan"),
    pytest.param(lambda: M.standardised_features(_v(2, 3, 1, 8, 8), np.zeros((0, 32))), VE, r"reference has 0 video\(s\)",
                 id="standardised-reference-empty"),
    pytest.param(lambda: M.frechet_to_reference(_v(1, 3, 1, 8, 8), _v(3, 3, 1, 8, 8, seed=1)), VE, r"videos has 1 video\(s\)",
                 id="frechet-to-reference-one-video"),
    # --- metrics: alignment, SSIM, PIA, Farneback, synthetic videos ------------------------------------------
    pytest.param(lambda: M.align_psnr(_v(2, 1, 8, 8), _v(2, 1, 8, 8)), VE, r"videos must be \[B, F, C, H, W\]", id="align-rank-4-videos"),
    pytest.param(lambda: M.align_psnr(_v(3, 2, 1, 8, 8), _v(2, 1, 8, 8)), VE, r"images \(2, 1, 8, 8\) do not match the videos' frame 0 \(3, 1, 8, 8\)",
                 id="align-batch-mismatch"),
    pytest.param(lambda: M.align_psnr(((_v(2, 2, 1, 8, 8) + 1) * 127.5).to(torch.uint8), _v(2, 1, 8, 8)), T, r"videos has dtype torch\.uint8",
                 id="align-uint8-videos"),
    pytest.param(lambda: M.align_psnr(_v(2, 2, 1, 8, 8).numpy(), _v(2, 1, 8, 8)), T, r"videos must be a torch\.Tensor", id="align-numpy"),
    pytest.param(lambda: M.align_psnr(_v(2, 2, 1, 8, 8), torch.full((2, 1, 8, 8), NAN)), VE, r"images contains .*non-finite",
                 id="align-nan-images"),
    pytest.param(lambda: M.ssim(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16), window=0), VE, r"window must be a positive int",
                 id="ssim-window-zero"),
    pytest.param(lambda: M.ssim(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16), window=5.5), T, r"window must be a positive int",
                 id="ssim-window-float"),
    pytest.param(lambda: M.ssim(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16), window=True), T, r"window must be a positive int",
                 id="ssim-window-bool"),
    pytest.param(lambda: M.ssim(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16), sigma=0), VE, r"sigma must be > 0", id="ssim-sigma-zero"),
    pytest.param(lambda: M.ssim(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16), sigma="1"), T, r"sigma must be a real number",
                 id="ssim-sigma-string"),
    pytest.param(lambda: M.condition_alignment(torch.rand(1, 2, 1, 16, 16), torch.rand(1, 1, 16, 16), frame=1.5), T,
                 r"frame must be an int", id="condition-alignment-frame-float"),
    pytest.param(lambda: M.condition_alignment(torch.rand(1, 2, 1, 16, 16), torch.rand(1, 1, 16, 16), frame="0"), T,
                 r"frame must be an int", id="condition-alignment-frame-string"),
    pytest.param(lambda: M.pia_motion_score(torch.rand(1, 2, 3, 8, 8), d_max="1"), T, r"d_max must be a real number", id="pia-d_max-string"),
    pytest.param(lambda: M.pia_motion_score(torch.rand(1, 2, 3, 8, 8), d_max=True), T, r"d_max must be a real number", id="pia-d_max-bool"),
    pytest.param(lambda: M.motion_score(torch.rand(1, 3, 1, 32, 32), "farneback", resize=None, farneback_params={"levels": "x"},
                                        show_progress=False), T, r"farneback_params\['levels'\] must be an int", id="farneback-param-string"),
    pytest.param(lambda: M.motion_score(torch.rand(1, 3, 1, 32, 32), "farneback", resize=None, farneback_params=[1], show_progress=False), T,
                 r"farneback_params must be a dict", id="farneback-params-list"),
    pytest.param(lambda: M.synthetic_translation_video(2, None), T, r"size must be \(H, W\)", id="synthetic-size-none"),
    pytest.param(lambda: M.synthetic_translation_video(2, (8.5, 8)), T, r"size must be \(H, W\)", id="synthetic-size-float"),
    pytest.param(lambda: M.synthetic_translation_video(2, (8, 8), None), T, r"velocity must be a pair", id="synthetic-velocity-none"),
    pytest.param(lambda: M.synthetic_rotation_video(2, (8, 8), "3"), T, r"degrees_per_frame must be a real number", id="synthetic-degrees-string"),
    pytest.param(lambda: M.texture(np.zeros((2, 2)), np.zeros((2, 2)), n_waves=0), VE, r"n_waves must be a positive int", id="texture-no-waves"),
    pytest.param(lambda: M.texture(np.zeros((2, 2)), np.zeros((2, 2)), wavelengths=(0.0, 0.0)), VE, r"wavelengths\[0\] must be > 0",
                 id="texture-zero-wavelength"),
    pytest.param(lambda: M.synthetic_motion_set(speeds=[], rotation_deg=None, size=(8, 8), n_frames=2), VE,
                 r"no speeds and rotation_deg=None", id="synthetic-set-empty"),
    pytest.param(lambda: M.synthetic_motion_set(speeds="ab", size=(8, 8), n_frames=2), T, r"speeds must be a list", id="synthetic-set-string"),
    pytest.param(lambda: M.true_motion_score(torch.zeros(2, 8, 8)), VE, r"flow must be \[P, 2, H, W\]", id="true-score-rank"),
    pytest.param(lambda: M.true_per_pair(torch.zeros(1, 2, 8, 8), resize=(0, 8)), VE, r"resize must be None or \(H, W\)", id="true-per-pair-resize"),
    # --- remedies ----------------------------------------------------------------------------------------------
    pytest.param(lambda: R.pyoco_matrix(2.5, 1.0), T, r"frames must be a positive int", id="pyoco-frames-float"),
    pytest.param(lambda: R.pyoco_matrix(-1, 1.0), VE, r"frames must be a positive int", id="pyoco-frames-negative"),
    pytest.param(lambda: R.pyoco_correlation(0, 1.0), VE, r"frames must be a positive int", id="pyoco-frames-zero"),
    pytest.param(lambda: R.pyoco_matrix(3, NAN), VE, r"alpha must be finite", id="pyoco-alpha-nan"),
    pytest.param(lambda: R.pyoco_correlation(3, "1"), T, r"alpha must be a real number", id="pyoco-alpha-string"),
    pytest.param(lambda: R.pyoco_correlation(3, -1.0, "mixed"), VE, r"alpha must be >= 0", id="pyoco-alpha-negative"),
    pytest.param(lambda: R.derive_seed("a", "x"), T, r"seed must be an int", id="derive-seed-string"),
    pytest.param(lambda: R.derive_seed(1.5, "x"), T, r"seed must be an int", id="derive-seed-float"),
    pytest.param(lambda: R.derive_seed(1, 5), T, r"tag must be a string", id="derive-seed-tag-int"),
    pytest.param(lambda: R.per_sample_normal(3, (2,)), T, r"seeds must be a list of int seeds", id="per-sample-normal-int-seeds"),
    pytest.param(lambda: R.per_sample_normal([1.5], (2,)), T, r"seeds\[0\] must be an int", id="per-sample-normal-float-seed"),
    pytest.param(lambda: R.per_sample_normal([1], (-2,)), VE, r"shape\[0\] must be an int >= 0", id="per-sample-normal-negative-shape"),
    pytest.param(lambda: R.freq_mix(torch.zeros(1, 2, 1, 4, 4), torch.zeros(1, 2, 1, 4, 4), torch.zeros(3, 1, 5, 5)), VE,
                 r"mask must be \[F, 1, H, W\] = \(2, 1, 4, 4\)", id="freq-mix-mask-shape"),
    pytest.param(lambda: R.freq_mix(torch.zeros(1, 2, 1, 4, 4), torch.zeros(1, 2, 1, 4, 4), np.zeros((2, 1, 4, 4))), T,
                 r"mask must be a torch\.Tensor", id="freq-mix-mask-numpy"),
    pytest.param(lambda: R.freq_mix(np.zeros((1, 2, 1, 4, 4)), np.zeros((1, 2, 1, 4, 4)), R.freq_filter(2, 4, 4)), T,
                 r"low must be a torch\.Tensor", id="freq-mix-numpy"),
    pytest.param(lambda: R.lowpass_image(np.zeros((1, 1, 8, 8)), 0.5), T, r"images must be a torch\.Tensor", id="lowpass-numpy"),
    pytest.param(lambda: R.alg_switch_time(torch.linspace(1, 0, 5), NAN), VE, r"until .*must lie in \[0, 1\]", id="alg-switch-until-nan"),
    pytest.param(lambda: R.alg_switch_time(torch.linspace(1, 0, 5), -0.5), VE, r"until .*must lie in \[0, 1\]", id="alg-switch-until-negative"),
    pytest.param(lambda: R.alg_switch_time(torch.linspace(1, 0, 5), 2.0), VE, r"until .*must lie in \[0, 1\]", id="alg-switch-until-above-1"),
    pytest.param(lambda: R.alg_switch_time(torch.linspace(1, 0, 5), "0.1"), VE, r"until .*must lie in \[0, 1\]", id="alg-switch-until-string"),
    pytest.param(lambda: R.alg_switch_time(torch.zeros(0), 0.1), VE, r"ts is empty", id="alg-switch-empty-grid"),
    pytest.param(lambda: R.build({"name": "compose", "settings": {"remedies": "ab"}}), T, r"settings\['remedies'\] must be a list",
                 id="build-compose-spec-string"),
    pytest.param(lambda: R.from_cli("freeinit", "iterations=2"), T, r"args must be a list of 'key=value' strings", id="from-cli-args-string"),
    pytest.param(lambda: R.default_grid("0.9"), T, r"start must be a real number", id="default-grid-start-string"),
    pytest.param(lambda: R.paired(_comparison().per_video), T, r"cmp must be a cilnb\.remedies\.Comparison", id="paired-not-a-comparison"),
    pytest.param(lambda: R.assess(_comparison().summary), T, r"cmp must be a cilnb\.remedies\.Comparison", id="assess-not-a-comparison"),
    pytest.param(lambda: R.verdict({"none": 1}), T, r"cmp must be a cilnb\.remedies\.Comparison", id="verdict-not-a-comparison"),
    pytest.param(lambda: V.remedy_table2(_comparison().summary), T, r"cmp must be a cilnb\.remedies\.Comparison", id="table2-not-a-comparison"),
    pytest.param(lambda: R.paired(_comparison(1)), VE, r"remedy 'none' has 1 video\(s\); the paired FD difference needs at least 2",
                 id="paired-one-video"),
    pytest.param(lambda: _compare(["none"]), T, r"remedies must be a dict", id="compare-remedies-list"),
    pytest.param(lambda: _compare({0: "none", "0": "cond_noise"}), VE, r"labels that are the same as text \['0'\]", id="compare-duplicate-labels"),
    pytest.param(lambda: _compare(images=_images().images), T, r"images must be a cilnb\.io\.ImageSet", id="compare-images-tensor"),
    pytest.param(lambda: _compare(seeds=3), T, r"seeds must be a list", id="compare-seeds-int"),
    pytest.param(lambda: _compare(seeds="01"), T, r"seeds must be a list, got the string '01'", id="compare-seeds-string"),
    pytest.param(lambda: _compare(seeds=[1.5]), T, r"seeds\[0\] must be an int", id="compare-seeds-float"),
    pytest.param(lambda: _compare(seeds=[True]), T, r"seeds\[0\] must be an int", id="compare-seeds-bool"),
    pytest.param(lambda: _compare(n_reference=1), VE, r"n_reference must be 0 .*or >= 2", id="compare-one-reference-video"),
    pytest.param(lambda: _compare(n_reference="4"), T, r"n_reference must be an int", id="compare-n_reference-string"),
    pytest.param(lambda: _compare(n_reference=4, data_seed="a"), T, r"data_seed must be an int", id="compare-data_seed-string"),
    pytest.param(lambda: _compare(images=_images(1), n_reference=4), VE, r"1 image\(s\) x 1 seed\(s\) give one video per remedy",
                 id="compare-one-video-with-fd"),
    pytest.param(lambda: _compare(cond_kwargs=[1]), T, r"cond_kwargs must be a dict", id="compare-cond_kwargs-list"),
    # --- paired agreement ------------------------------------------------------------------------------------
    pytest.param(lambda: AG.paired_difference([1.0, 2.0, 3.0], [1.0, 2.0]), VE, r"a and b must hold one value per pair", id="paired-difference-lengths"),
    pytest.param(lambda: AG.paired_difference([1.0], [1.0, 2.0, 3.0]), VE, r"a and b must hold one value per pair", id="paired-difference-broadcast"),
    pytest.param(lambda: AG.paired_difference(np.ones((2, 3)), np.ones((3, 2))), VE, r"a and b must hold one value per pair",
                 id="paired-difference-shapes"),
    pytest.param(lambda: AG.paired_difference("abc", [1.0]), T, r"a must be numbers", id="paired-difference-string"),
    pytest.param(lambda: AG.paired_difference(None, None), T, r"a must be numbers", id="paired-difference-none"),
    pytest.param(lambda: AG.paired_agreement(_agreement_table(), _agreement_table(), "motion"), T,
                 r"columns must be a list of column names, got the string 'motion'", id="agreement-columns-string"),
    pytest.param(lambda: AG.paired_agreement(_agreement_table(), _agreement_table(), ["motion"], keys="init"), T,
                 r"keys must be a list of column names", id="agreement-keys-string"),
    pytest.param(lambda: AG.paired_agreement(_agreement_table(), _agreement_table(), []), VE, r"columns is empty", id="agreement-no-columns"),
    pytest.param(lambda: AG.paired_agreement(_agreement_table(), _agreement_table(), ["motion"], tolerance="1"), T,
                 r"tolerance must be a real number", id="agreement-tolerance-string"),
    pytest.param(lambda: AG.paired_agreement(_agreement_table(), _agreement_table(), ["motion"], tolerance=NAN), VE,
                 r"tolerance must be finite", id="agreement-tolerance-nan"),
    pytest.param(lambda: AG.paired_agreement(_agreement_table().to_dict("list"), _agreement_table(), ["motion"]), T,
                 r"ref must be a pandas DataFrame", id="agreement-ref-dict"),
    pytest.param(lambda: AG.paired_agreement(None, _agreement_table(), ["motion"]), T, r"ref must be a pandas DataFrame", id="agreement-ref-none"),
    pytest.param(lambda: AG.paired_agreement(pd.concat([_agreement_table()] * 2), _agreement_table(), ["motion"]), VE,
                 r"ref has 6 row\(s\) repeating a video", id="agreement-duplicate-videos"),
    pytest.param(lambda: AG.paired_agreement(_agreement_table().assign(motion="x"), _agreement_table(), ["motion"]), VE,
                 r"ref\['motion'\] must hold numbers", id="agreement-text-column"),
    # --- read-outs ---------------------------------------------------------------------------------------------
    pytest.param(lambda: RO.fd_with_interval(A_NAN, B), VE, r"^feats contains NaN", id="fd-with-interval-nan"),
    pytest.param(lambda: RO.fd_with_interval(A[:1], B), VE, r"^feats needs at least 2 samples", id="fd-with-interval-one-video"),
    pytest.param(lambda: RO.fd_with_interval(A, B[:, :2]), VE, r"feats have 3 features per video but ref has 2", id="fd-with-interval-widths"),
    pytest.param(lambda: RO.flow_motion(_v(1, 3, 1, 16, 16).numpy()), T, r"videos must be a torch\.Tensor", id="flow-motion-numpy"),
    pytest.param(lambda: RO.flow_motion(_v(1, 3, 1, 16, 16), upsample=0), VE, r"upsample must be a positive int", id="flow-motion-upsample-zero"),
    pytest.param(lambda: RO.flow_motion(_v(1, 3, 1, 16, 16), upsample=1.5), T, r"upsample must be a positive int", id="flow-motion-upsample-float"),
    pytest.param(lambda: RO.sprite_speed(_v(1, 3, 1, 16, 16).numpy()), T, r"videos must be a torch\.Tensor", id="sprite-speed-numpy"),
    pytest.param(lambda: RO.SpriteMotion(_v(3, 1, 16, 16)), VE, r"ground_truth must be \[B, F, C, H, W\]", id="sprite-motion-rank-4"),
    pytest.param(lambda: RO.SpriteMotion(_v(1, 3, 1, 16, 16).numpy()), T, r"ground_truth must be a torch\.Tensor", id="sprite-motion-numpy"),
    pytest.param(lambda: RO.SpriteMotion(_v(0, 3, 1, 16, 16)), VE, r"ground_truth holds no videos", id="sprite-motion-empty"),
    pytest.param(lambda: RO.SpriteMotion(torch.full((1, 3, 1, 16, 16), NAN)), VE, r"ground_truth contains .*non-finite", id="sprite-motion-nan"),
    pytest.param(lambda: RO.SpriteMotion(_v(1, 3, 1, 16, 16), threshold=NAN), VE, r"threshold must be finite", id="sprite-motion-threshold-nan"),
    pytest.param(lambda: RO.SpriteMotion(_v(1, 3, 1, 16, 16), threshold="x"), T, r"threshold must be a real number",
                 id="sprite-motion-threshold-string"),
    pytest.param(lambda: RO.SpriteMotion(_v(1, 3, 1, 16, 16))(_v(1, 3, 1, 8, 8)), VE, r"videos have frames \(1, 8, 8\)",
                 id="sprite-motion-other-size"),
    pytest.param(lambda: RO.SpriteMotion(_v(1, 3, 1, 16, 16))(_v(3, 1, 16, 16)), VE, r"videos must be \[B, F, C, H, W\]",
                 id="sprite-motion-call-rank-4"),
    pytest.param(lambda: RO.ToyReadout("10"), T, r"n_reference must be an int", id="toy-readout-n_reference-string"),
    pytest.param(lambda: RO.ToyReadout(2.5), T, r"n_reference must be an int", id="toy-readout-n_reference-float"),
    pytest.param(lambda: RO.ToyReadout(2, "a"), T, r"data_seed must be an int", id="toy-readout-data_seed-string"),
    pytest.param(lambda: RO.FlowReadout(batch_size=0), VE, r"batch_size must be a positive int", id="flow-readout-batch-zero"),
    pytest.param(lambda: RO.FlowReadout(batch_size=2.5), T, r"batch_size must be a positive int", id="flow-readout-batch-float"),
    pytest.param(lambda: RO.FlowReadout(motion_kwargs=[1, 2]), T, r"motion_kwargs must be a dict", id="flow-readout-kwargs-list"),
    pytest.param(lambda: RO.FlowReadout(motion_kwargs={"bogus": 1}), VE, r"motion_kwargs has unknown setting\(s\) \['bogus'\]",
                 id="flow-readout-kwargs-unknown"),
    pytest.param(lambda: RO.FlowReadout(motion_kwargs={"method": "raft"}), VE, r"motion_kwargs may not set \['method'\]",
                 id="flow-readout-kwargs-method"),
    pytest.param(lambda: RO.readout_for(3), T, r"model must be a model name", id="readout-for-int"),
    # --- verdicts ----------------------------------------------------------------------------------------------
    pytest.param(lambda: V.timenoise_motion(_tn_summary(), per_video=[1, 2]), T, r"per_video must be a pandas DataFrame",
                 id="timenoise-per-video-list"),
    pytest.param(lambda: V.timenoise_motion(_tn_summary(), per_video=_tn_summary()), VE, r"per_video lacks the columns \['image', 'seed'\]",
                 id="timenoise-per-video-is-the-summary"),
    pytest.param(lambda: V.timenoise_motion(_tn_summary(), per_video=_tn_per_video().drop(columns="model")), VE,
                 r"per_video lacks the columns \['model'\]", id="timenoise-per-video-no-model"),
    pytest.param(lambda: V.timenoise_motion(_tn_summary(), per_video=_tn_per_video().iloc[:0]), VE, r"per_video is empty",
                 id="timenoise-per-video-empty"),
    pytest.param(lambda: V.timenoise_motion(_tn_summary(), per_video=_tn_per_video().replace("naive", "base")), VE,
                 r"per_video has no videos of \['naive'\]", id="timenoise-per-video-other-models"),
    pytest.param(lambda: V.timenoise_motion([1, 2]), T, r"summary must be a pandas DataFrame", id="timenoise-summary-list"),
    pytest.param(lambda: V.timenoise_motion(_tn_summary().drop(columns="motion_sem")), VE, r"summary lacks the columns \['motion_sem'\]",
                 id="timenoise-summary-no-sem"),
    pytest.param(lambda: V.leakage(_probe_table(), "y", model="a"), VE, r"table lacks the columns \['y'\]", id="leakage-unknown-column"),
    pytest.param(lambda: V.leakage(_probe_table(), "x", model="b"), VE, r"model 'b' is not in the table", id="leakage-unknown-model"),
    pytest.param(lambda: V.leakage(_probe_table(), "x", model="a", t_high="0.9"), T, r"t_high must be a real number", id="leakage-t_high-string"),
    pytest.param(lambda: V.leakage(_probe_table(), "x", model="a", marked=NAN), VE, r"marked must be finite", id="leakage-marked-nan"),
    pytest.param(lambda: V.start_time(_tn_summary().assign(first_frame_psnr_sem=0.1).iloc[:0]), VE, r"summary is empty", id="start-time-empty"),
    pytest.param(lambda: V.start_time([1]), T, r"summary must be a pandas DataFrame", id="start-time-list"),
    pytest.param(lambda: V.motion_control(pd.DataFrame(columns=["model", "M", "init", "image", "input_motion", "output_motion", "error"])), VE,
                 r"df is empty", id="motion-control-empty"),
    pytest.param(lambda: V.motion_control(pd.DataFrame({"model": ["a"], "M": [1.0], "init": ["standard"], "image": [0]})), VE,
                 r"df lacks the columns \['input_motion', 'output_motion', 'error'\]", id="motion-control-missing-columns"),
    pytest.param(lambda: V.config_name("base", "0.8", "analytic"), T, r"M must be a real number", id="config-name-M-string"),
    pytest.param(lambda: V.proposition1(None), T, r"table must be a pandas DataFrame", id="proposition1-no-table"),
    pytest.param(lambda: V.proposition1(pd.DataFrame({"kl_baseline": [], "kl_analytic": []})), VE, r"table is empty", id="proposition1-empty"),
    pytest.param(lambda: V.timenoise_sampler(None), T, r"checks must be a pandas DataFrame", id="timenoise-sampler-no-table"),
    pytest.param(lambda: V.start_on_one_image(_Run([1.0, 2.0]), _Run([1.5, 2.5]), "0.8", "analytic"), T, r"M must be a real number",
                 id="one-image-M-string"),
    pytest.param(lambda: V.start_on_one_image(_Run([]), _Run([]), 0.8, "analytic"), VE, r"base and early need at least one seed",
                 id="one-image-no-seeds"),
    # --- toy training ------------------------------------------------------------------------------------------
    pytest.param(lambda: TT.noisy_motion_label(torch.ones(3), -0.5, _gen()), VE, r"s must be >= 0", id="label-noise-negative"),
    pytest.param(lambda: TT.noisy_motion_label(torch.ones(3), NAN, _gen()), VE, r"s must be finite", id="label-noise-nan"),
    pytest.param(lambda: TT.noisy_motion_label(torch.ones(3), "0.5", _gen()), T, r"s must be a real number", id="label-noise-string"),
    pytest.param(lambda: TT.noisy_motion_label(torch.ones(3), True, _gen()), T, r"s must be a real number", id="label-noise-bool"),
    pytest.param(lambda: TT.noisy_motion_label(torch.ones(3), 0.5, None), T, r"generator must be a torch\.Generator", id="label-noise-no-generator"),
    pytest.param(lambda: TT.noisy_motion_label(torch.ones(3), 0.5, 0), T, r"generator must be a torch\.Generator", id="label-noise-int-generator"),
    pytest.param(lambda: TT.noisy_motion_label(np.ones(3), 0.5, _gen()), T, r"speed must be a torch\.Tensor", id="label-noise-numpy-speed"),
    pytest.param(lambda: TT.noisy_motion_label(torch.tensor([1.0, NAN]), 0.5, _gen()), VE, r"speed contains 1 non-finite", id="label-noise-nan-speed"),
    pytest.param(lambda: TT.noisy_motion_label(torch.tensor([-1.0]), 0.5, _gen()), VE, r"speed must be >= 0", id="label-noise-negative-speed"),
    pytest.param(lambda: _train_config(motion_label_noise="0.1"), T, r"motion_label_noise must be a number", id="config-label-noise-string"),
    pytest.param(lambda: _train_config(motion_label_noise=True), T, r"motion_label_noise must be a number", id="config-label-noise-bool"),
    pytest.param(lambda: _train_config(lr="1e-3"), T, r"lr must be a number", id="config-lr-string"),
    pytest.param(lambda: _train_config(lr=True), T, r"lr must be a number", id="config-lr-bool"),
    pytest.param(lambda: _train_config(grad_clip=0), VE, r"grad_clip must be a positive number", id="config-grad-clip-zero"),
    pytest.param(lambda: _train_config(grad_clip=NAN), VE, r"grad_clip must be a positive number", id="config-grad-clip-nan"),
    pytest.param(lambda: _train_config(grad_clip="1"), T, r"grad_clip must be a number", id="config-grad-clip-string"),
    pytest.param(lambda: _train_config(ema="0.9"), T, r"ema must be a number", id="config-ema-string"),
    pytest.param(lambda: _train_config(ema=False), T, r"ema must be a number", id="config-ema-bool"),
    pytest.param(lambda: _train_config(motion_dropout="0.2"), T, r"motion_dropout must be a number", id="config-motion-dropout-string"),
    pytest.param(lambda: _train_config(image_dropout="0.1"), T, r"image_dropout must be a number", id="config-image-dropout-string"),
    pytest.param(lambda: _train_config(cond_aug=True), T, r"cond_aug must be a number", id="config-cond-aug-bool"),
    pytest.param(lambda: _train_config(t_p_mean="0.7"), T, r"t_p_mean must be a number", id="config-t_p_mean-string"),
    pytest.param(lambda: _train_config(seed=1.5), T, r"seed must be a Python int", id="config-seed-float"),
    pytest.param(lambda: _train_config(seed="a"), T, r"seed must be a Python int", id="config-seed-string"),
    pytest.param(lambda: _train_config(seed=True), T, r"seed must be a Python int", id="config-seed-bool"),
    pytest.param(lambda: _train_config(seed=np.int64(2)), T, r"seed must be a Python int", id="config-seed-numpy"),
    pytest.param(lambda: _train_config(data={"frames": 8}), T, r"data must be a cilnb\.data\.SpriteConfig", id="config-data-dict"),
    pytest.param(lambda: _train_config(model={"frames": 8}), T, r"model must be a cilnb\.models\.toy\.ToyConfig", id="config-model-dict"),
    pytest.param(lambda: TT.TrainConfig(variant="naive", init=5), T, r"init must be the path of a base checkpoint", id="config-init-int"),
    pytest.param(lambda: _timenoise_config(timenoise_a="5"), T, r"timenoise_a must be a number", id="config-timenoise-a-string"),
    pytest.param(lambda: _timenoise_config(timenoise_beta_m=INF), VE, r"TimeNoise needs finite a > 0 and beta_m > 0", id="config-timenoise-beta-inf"),
    pytest.param(lambda: TT.sample_train_t(-1, VPSchedule(), _gen()), VE, r"n must be an int >= 0", id="train-t-negative-n"),
    pytest.param(lambda: TT.sample_train_t(2.5, VPSchedule(), _gen()), T, r"n must be an int >= 0", id="train-t-float-n"),
    pytest.param(lambda: TT.sample_train_t(2, VPSchedule(), None), T, r"generator must be a torch\.Generator", id="train-t-no-generator"),
    pytest.param(lambda: TT.sample_train_t(2, VPSchedule(), _gen(), "lognormal", 0.7, NAN), VE, r"p_std must be finite", id="train-t-p_std-nan"),
    pytest.param(lambda: TT.sample_train_t(2, VPSchedule(), _gen(), "lognormal", 0.7, 0.0), VE, r"p_std must be > 0", id="train-t-p_std-zero"),
    pytest.param(lambda: TT.lognormal_t_cdf(VPSchedule(), 0.7, NAN), VE, r"p_std must be finite", id="lognormal-cdf-p_std-nan"),
    pytest.param(lambda: TT.lognormal_t_cdf(VPSchedule(), 0.7, 0.0), VE, r"p_std must be > 0", id="lognormal-cdf-p_std-zero"),
    pytest.param(lambda: TT.image_dropout_mask(3, 1.5, _gen()), VE, r"p must be <= 1", id="image-dropout-p-above-1"),
    pytest.param(lambda: TT.image_dropout_mask(3, NAN, _gen()), VE, r"p must be finite", id="image-dropout-p-nan"),
    pytest.param(lambda: TT.image_dropout_mask(-1, 0.5, _gen()), VE, r"B must be an int >= 0", id="image-dropout-negative-B"),
    pytest.param(lambda: TT.image_dropout_mask(3, 0.5, None), T, r"generator must be a torch\.Generator", id="image-dropout-no-generator"),
    pytest.param(lambda: TT.finetune_toy_pair("unused", steps=1, a="5", beta_m=1.0), T, r"a must be a real number", id="finetune-pair-a-string"),
    pytest.param(lambda: TT.toy_stats(None, n=2, batch=0, show_progress=False), VE, r"batch must be a positive int", id="toy-stats-batch-zero"),
    pytest.param(lambda: TT.toy_stats(None, n=0, show_progress=False), VE, r"n must be a positive int", id="toy-stats-no-videos"),
    pytest.param(lambda: TT.toy_stats(None, n=2.5, show_progress=False), T, r"n must be a positive int", id="toy-stats-float-n"),
]


@pytest.mark.parametrize("call,exc,pattern", CASES)
def test_bad_input_raises_a_clear_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_train_refuses_a_bad_config_and_stop_after_before_any_work(tmp_path):
    """A dict for cfg failed deep inside the run (AttributeError); stop_after=0 ran a step and stopped anyway."""
    out = tmp_path / "toy.safetensors"
    with pytest.raises(TypeError, match=r"cfg must be a TrainConfig"):
        TT.train({"variant": "base"}, out, device="cpu", show_progress=False)
    cfg = TT.TrainConfig(variant="base", pretrain_steps=0, steps=2, batch_size=1, model=toy.ToyConfig(frames=2, size=8, widths=(8,),
                         temporal_levels=(), emb_dim=16), data=D.SpriteConfig(frames=2, size=8, radius=(1.0, 2.0)))
    with pytest.raises(ValueError, match=r"stop_after must be a positive int"):
        TT.train(cfg, out, device="cpu", show_progress=False, stop_after=0)
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_there_are_many_cases():
    assert len(CASES) >= 150

"""Bad input to the samplers, the remedies and their comparison, and the live lab fails at once with a clear error
(an audit of cilnb.sampling, cilnb.remedies and cilnb.live against the project standard: never a silent fallback, a
NaN result or a traceback from deep inside torch/numpy/pandas).

Each case asserts the error type (``ValueError``, or ``TypeError`` for a wrong type; cilnb's ``InputTypeError`` is
both) and that the message names the input. Every case was mishandled before this file: a silent NaN/inf result or
a silently wrong one (duplicate seeds counted twice in the paired statistics, a list of per-image conditioning not
sliced by the lab, settings silently ignored, an empty combination of remedies), a bare ``AttributeError`` /
``OverflowError`` / ``NotImplementedError`` / ``TypeError`` from deep inside, or an error naming another parameter.
Siblings: ``test_bad_inputs.py``, ``test_bad_inputs_api.py``, ``test_bad_inputs_more.py``.
"""
from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
import torch

import cilnb.remedies as R
from _media import tiny_sprites as _sprites, tiny_toy, tiny_x0 as _x0, tiny_y as _y
from cilnb import sampling as S
from cilnb.io import ImageSet
from cilnb.live import Lab

NAN, INF = float("nan"), float("inf")
T, V = TypeError, ValueError


# ---------------------------------------------------------------------------------------------
# tiny inputs, built on first use
# ---------------------------------------------------------------------------------------------


_toy = functools.partial(tiny_toy, 8)  # a tiny random-weight toy: 2 frames of 8 x 8, pixels in [-1, 1]


def _x():
    return torch.randn((2, 2, 1, 8, 8), generator=torch.Generator().manual_seed(0))


def _sample(**kw):
    args = dict(n_steps=1, show_progress=False)
    args.update(kw)
    return S.sample(_toy(), args.pop("y", _y()), **args)


def _lab(**kw):
    return Lab(_toy(), _y(), _x0(), **{"n_steps": 1, "n_seeds": 1, **kw})


def _images():
    sv = _sprites()
    speed = sv.speed.tolist()
    return ImageSet(["a", "b"], sv.condition, "toy:2", {"input_speed": speed}, sv.videos, {"motion": speed}, sv.config)


def _compare(remedies=None, **kw):
    args = dict(n_steps=1, n_reference=0)
    args.update(kw)
    return R.compare(args.pop("model", _toy()), _images(), {"none": "none", "cn": "cond_noise"} if remedies is None else remedies, **args)


@functools.lru_cache(maxsize=None)
def _comparison():
    return _compare()


def _without(*columns):
    cmp = copy.deepcopy(_comparison())
    cmp.summary = cmp.summary.drop(columns=list(columns))
    return cmp


def _with_per_video(**columns):
    cmp = copy.deepcopy(_comparison())
    cmp.per_video = cmp.per_video.assign(**columns)
    return cmp


def test_assess_recomputes_paired_effects_a_summary_lacks():
    """A summary without motion_diff_sem (or fd_diff_lo) failed with a bare AttributeError: the effects are recomputed."""
    cmp = _comparison()
    assert R.assess(_without("motion_diff_sem")) == R.assess(cmp)
    assert R.assess(_without("motion_diff", "motion_diff_sem", "n_pairs")) == R.assess(cmp)


def test_assess_says_not_read_for_missing_numbers():
    """A baseline without a motion or PSNR read printed "0.427 vs nan" and "29.5 dB vs inf"."""
    cmp = copy.deepcopy(_comparison())
    base = cmp.summary.remedy == "none"
    cmp.summary.loc[base, "motion"] = np.nan
    cmp.summary.loc[base, "first_frame_psnr"] = np.inf
    lines = R.verdict(cmp)
    assert not any(w in " ".join(lines).lower() for w in ("nan", "inf ", "inf;", "inf)"))
    assert "vs not read" in lines[0]


CASES = [
    # --- sample: NaN/inf in the per-video conditioning made every video NaN -------------------------------
    pytest.param(lambda: _sample(cond={"motion": torch.tensor([NAN, 1.0])}), V, r"cond\['motion'\] contains 1 non-finite value",
                 id="sample-nan-motion-tensor"),
    pytest.param(lambda: _sample(cond={"motion": torch.tensor([1.0, INF])}), V, r"cond\['motion'\] contains 1 non-finite value",
                 id="sample-inf-motion-tensor"),
    pytest.param(lambda: _sample(cond={"motion": np.array([NAN, 1.0])}), V, r"cond\['motion'\] contains 1 non-finite", id="sample-nan-motion-numpy"),
    pytest.param(lambda: _sample(cond={"motion": [NAN, 1.0]}), V, r"cond\['motion'\] contains 1 non-finite", id="sample-nan-motion-list"),
    pytest.param(lambda: _sample(cond={"motion": NAN}), V, r"cond\['motion'\] contains 1 non-finite", id="sample-nan-motion-number"),
    # --- sample: images= was ignored whatever it was (a crash inside the VAE on latent models) ----------------
    pytest.param(lambda: _sample(images=np.zeros((2, 1, 8, 8))), T, r"images must be a torch\.Tensor.*from_numpy", id="sample-numpy-images"),
    pytest.param(lambda: _sample(images=torch.zeros(3, 1, 8, 8)), V, r"images must be .* one per image of y \(2\), got shape \(3, 1, 8, 8\)",
                 id="sample-images-wrong-batch"),
    pytest.param(lambda: _sample(images=torch.full((2, 1, 8, 8), NAN)), V, r"images contains .* non-finite", id="sample-nan-images"),
    # --- the low-level samplers -------------------------------------------------------------------------------
    pytest.param(lambda: S.sample_euler(_toy(), _x(), torch.tensor([0.5, 0.0]), {"y": _y()}, disable=True), V,
                 r"Euler/Heun divide by sigma_t, which is 0 at grid time\(s\) \[0\.0\]", id="euler-grid-at-clean-state"),
    pytest.param(lambda: S.sample_heun(_toy(), _x(), torch.tensor([0.5, 0.0]), {"y": _y()}, disable=True), V,
                 r"Euler/Heun divide by sigma_t", id="heun-grid-at-clean-state"),
    pytest.param(lambda: S.sample_ddim(_toy(), _x().numpy(), _toy().schedule.grid(2), {"y": _y()}, disable=True), T,
                 r"x \(the noisy start video .*\) must be a torch\.Tensor, got ndarray: pass torch\.from_numpy", id="ddim-numpy-x"),
    pytest.param(lambda: S.sample_ddim(_toy(), None, _toy().schedule.grid(2), {"y": _y()}, disable=True), T,
                 r"x \(the noisy start video .*\) must be a torch\.Tensor, got NoneType", id="ddim-none-x"),
    pytest.param(lambda: S.sample_dpmpp_2m(_toy(), torch.tensor(0.5), _toy().schedule.grid(2), {"y": _y()}, disable=True), V,
                 r"x \(the noisy start video\) is a 0-d tensor: pass a batch of videos", id="dpm-scalar-x"),
    *[pytest.param(lambda fn=fn: fn("toy", _x(), _toy().schedule.grid(2), {"y": _y()}, disable=True), T,
                   r"model must be a cilnb model .*load it first, cilnb\.models\.load\('toy'\)", id=f"{fn.__name__}-model-name")
      for fn in (S.sample_ddim, S.sample_euler, S.sample_heun, S.sample_dpmpp_2m, S.sample_dpmpp_3m)],
    pytest.param(lambda: S.sample_ddim(_toy(), _x(), _toy().schedule.grid(2), {"y": _y()}, disable=True, eta=0.5, generator=3), T,
                 r"generator must be a torch\.Generator or a list of them.*got 3 \(int\)", id="ddim-int-generator"),
    pytest.param(lambda: S.sample_ddim(_toy(), _x(), _toy().schedule.grid(2), {"y": _y()}, disable=True, eta=0.5, generator=[0, 1]), T,
                 r"generator must be a torch\.Generator", id="ddim-int-generators"),
    pytest.param(lambda: S.per_sample_noise([0], (2,), dtype=torch.int64), T, r"dtype must be a floating torch\.dtype", id="noise-int-dtype"),
    pytest.param(lambda: S.per_sample_noise([0], (2,), dtype="float32"), T, r"dtype must be a floating torch\.dtype.*'float32'",
                 id="noise-string-dtype"),
    # --- building remedies ------------------------------------------------------------------------------------
    pytest.param(lambda: R.build("alg+"), V, r"remedy 'alg\+' has an empty name around '\+'", id="build-trailing-plus"),
    pytest.param(lambda: R.build("+"), V, r"remedy '\+' has an empty name", id="build-only-plus"),
    pytest.param(lambda: R.build("compose", remedies="alg"), T, r"compose's remedies must be a list.*pass remedies=\['alg'\]",
                 id="build-compose-string"),
    pytest.param(lambda: R.build("compose", remedy=["alg"]), V, r"unknown setting\(s\) \['remedy'\] for remedy 'compose'",
                 id="build-compose-unknown-setting"),
    pytest.param(lambda: R.build({"name": "freeinit", "settings": [("iterations", 2)]}), T, r"a remedy spec's settings must be a dict",
                 id="build-spec-settings-list"),
    pytest.param(lambda: R.build({"name": "freeinit", "settings": "iterations=2"}), T, r"a remedy spec's settings must be a dict",
                 id="build-spec-settings-string"),
    pytest.param(lambda: R.from_cli("freeinit", [2]), T, r"remedy settings must be 'key=value' strings.*got 2 \(int\)", id="from-cli-int-arg"),
    pytest.param(lambda: R.from_cli("freeinit", 2), T, r"args must be a list of 'key=value' strings", id="from-cli-int-args"),
    pytest.param(lambda: R.build("progressive", alpha=1e200), V, r"alpha \(correlation strength\) = 1e\+200 is too large", id="progressive-huge-alpha"),
    pytest.param(lambda: R.pyoco_correlation(3, 1e200, "mixed"), V, r"alpha must be <= 1e\+150", id="pyoco-correlation-huge-alpha"),
    pytest.param(lambda: R.pyoco_matrix(3, 1e200), V, r"alpha must be <= 1e\+150", id="pyoco-matrix-huge-alpha"),
    pytest.param(lambda: _sample(remedy=R.build("cond_noise", level=1e300)), V, r"cond_noise level = 1e\+300 overflows", id="cond-noise-overflow"),
    # wrong types are InputTypeErrors (TypeError) naming the setting
    pytest.param(lambda: R.build("freeinit", iterations="2"), T, r"iterations must be an int >= 1", id="freeinit-string-iterations"),
    pytest.param(lambda: R.build("freeinit", order="4"), T, r"order \(Butterworth order\) must be a positive int", id="freeinit-string-order"),
    pytest.param(lambda: R.build("freeinit", d_s="0.25"), T, r"d_s \(spatial cutoff\) must lie in \(0, 1\]", id="freeinit-string-d_s"),
    pytest.param(lambda: R.build("progressive", alpha="1"), T, r"alpha \(correlation strength\) must be a finite number", id="progressive-string-alpha"),
    pytest.param(lambda: R.build("cond_noise", level=None), T, r"level \(noise std on y\) must be a finite number", id="cond-noise-none-level"),
    pytest.param(lambda: R.build("analytic_init", start="0.9"), T, r"start must lie in \(0, 1\]", id="analytic-init-string-start"),
    pytest.param(lambda: R.build("alg", until="0.1"), T, r"until .*must lie in \[0, 1\]", id="alg-string-until"),
    # --- the comparison ---------------------------------------------------------------------------------------
    pytest.param(lambda: _compare(model=None), T, r"model must be a cilnb model", id="compare-none-model"),
    pytest.param(lambda: _compare(seeds=[0, 0]), V, r"seeds \[0\] are given more than once", id="compare-duplicate-seeds"),
    pytest.param(lambda: _compare(run_dir=3), T, r"run_dir must be a folder path", id="compare-int-run_dir"),
    pytest.param(lambda: _compare(cond_kwargs={"noise_aug_strength": 0.1}), V,
                 r"cond_kwargs \['noise_aug_strength'\] are settings of a latent model's prepare_condition", id="compare-cond_kwargs-pixel-model"),
    pytest.param(lambda: R.assess(_comparison(), ["none"]), T, r"baseline must be the label of a remedy", id="assess-list-baseline"),
    pytest.param(lambda: R.paired(_comparison(), ["none"]), T, r"baseline must be the label of a remedy", id="paired-list-baseline"),
    pytest.param(lambda: R.assess(_without("motion")), V, r"cmp\.summary lacks the columns \['motion'\]", id="assess-no-motion"),
    pytest.param(lambda: R.verdict(_without("sec_per_video", "time_ratio")), V, r"cmp\.summary lacks the columns \['sec_per_video'\]",
                 id="verdict-no-seconds"),
    # a per-video row of no remedy was looked up as None: a bare KeyError
    pytest.param(lambda: R.paired(_with_per_video(remedy=None)), V, r"cmp\.per_video\['remedy'\] is missing in 4 of 4 rows",
                 id="paired-unnamed-rows"),
    # --- the live lab -----------------------------------------------------------------------------------------
    pytest.param(lambda: Lab(_toy(), None, _x0()), T, r"images must be a torch\.Tensor .*got None", id="lab-none-images"),
    pytest.param(lambda: Lab(_toy(), _y(), None), T, r"truth must be a torch\.Tensor .*got None", id="lab-none-truth"),
    pytest.param(lambda: _lab(cond={"motion": [1.0, 5.0]}), T, r"cond\['motion'\] is a list: per-image conditioning must be a tensor",
                 id="lab-list-cond"),
    pytest.param(lambda: _lab(cond={"motion": np.array([1.0, 5.0])}), T, r"cond\['motion'\] is a ndarray", id="lab-numpy-cond"),
    pytest.param(lambda: Lab(_toy(), (_y() + 1) * 127.5, _x0()), V, r"images values span .*0\.\.255", id="lab-images-0-255"),
    pytest.param(lambda: Lab(_toy(), _y().long(), _x0()), T, r"images has dtype torch\.int64", id="lab-int-images"),
    pytest.param(lambda: _lab(decode=lambda v: v.numpy()).sample(0), T, r"decode must return the pixel videos as a torch\.Tensor",
                 id="lab-decode-numpy-sample"),
    pytest.param(lambda: _lab(decode=lambda v: v.numpy()).probe(0), T, r"decode must return the pixel videos as a torch\.Tensor",
                 id="lab-decode-numpy-probe"),
    pytest.param(lambda: _lab().sample(0, start=0.5), V, r"Lab\.sample sets start itself: pass M=", id="lab-sample-start"),
    pytest.param(lambda: _lab().sample(0, stats=None), V, r"Lab\.sample sets stats itself: build the Lab with stats=", id="lab-sample-stats"),
    pytest.param(lambda: Lab.toy(n_images=0), V, r"n_images must be a positive int", id="lab-toy-zero-images"),
    pytest.param(lambda: Lab.toy(n_images=1.5), T, r"n_images must be a positive int", id="lab-toy-fractional-images"),
]


@pytest.mark.parametrize("call,exc,pattern", CASES)
def test_bad_input_raises_a_clear_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_wrong_setting_types_are_also_value_errors():
    """The remedies' settings now raise InputTypeError for a wrong type: still a ValueError, as before."""
    for call in (lambda: R.build("freeinit", iterations="2"), lambda: R.build("alg", resize_factor="0.5")):
        with pytest.raises(ValueError):
            call()


def test_numpy_scalar_settings_are_numbers():
    """np.float32(0.5) / np.int64(2) were refused with a message saying the value must lie in a range it lies in; they are
    numbers like 0.5 and 2, stored as Python numbers (the spec stays JSON)."""
    import json

    for name, kw, want in (("freeinit", {"iterations": np.int64(2), "order": np.int64(2), "d_s": np.float32(0.5)},
                            {"iterations": 2, "order": 2, "d_s": 0.5}),
                           ("frameinit", {"noise_level": np.float32(0.5), "d_t": np.float64(0.5)}, {"noise_level": 0.5, "d_t": 0.5}),
                           ("progressive", {"alpha": np.float32(2.0)}, {"alpha": 2.0}),
                           ("alg", {"until": np.float32(0.5), "resize_factor": np.float32(0.5)}, {"until": 0.5, "resize_factor": 0.5}),
                           ("cond_noise", {"level": np.float32(0.5)}, {"level": 0.5})):
        r = R.build(name, **kw)
        settings = r.spec()["settings"]
        for k, v in want.items():
            assert settings[k] == v and type(settings[k]) is type(v), (name, k, settings[k])
        json.dumps(r.spec())
        assert R.build(r.spec()) == r


def test_valid_inputs_still_run():
    """What the new checks let through: finite conditioning (tensor, list, number), tensor images, a generator per sample,
    a combination, a compose spec, distinct seeds, tensor conditioning in the lab."""
    out = _sample(cond={"motion": [1.0, 2.0]}, images=_y())
    assert torch.isfinite(out).all()
    gens = [torch.Generator().manual_seed(s) for s in (0, 1)]
    assert torch.isfinite(S.sample_ddim(_toy(), _x(), _toy().schedule.grid(2), {"y": _y()}, disable=True, eta=0.5, generator=gens)).all()
    assert isinstance(R.build("alg+cond_noise"), R.Compose)
    assert len(R.build("compose", remedies=["alg", "cond_noise"]).remedies) == 2
    assert R.from_cli("alg+cond_noise", ["level=0.1"]).remedies[1].level == 0.1
    assert torch.isfinite(_sample(remedy=R.build("cond_noise", level=10.0))).all()
    lab = _lab(cond={"motion": torch.tensor([1.0, 2.0])})
    assert torch.isfinite(lab.sample(1).videos).all()
    lines, _ = R.assess(_comparison())
    assert lines

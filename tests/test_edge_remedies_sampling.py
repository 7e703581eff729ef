"""Edge cases of the remedies, the schedules, the samplers and the denoiser contract: bad input fails at once with a
clear error naming the input and the fix (a ``ValueError``, or ``cilnb.checks.InputTypeError`` for a wrong type), never a
NaN result, a silently wrong answer, a run of days or a traceback from deep inside torch. Each test's docstring says what
happened before the fix; valid inputs next to each edge still give what they gave.
"""
from __future__ import annotations

import functools
import re

import numpy as np
import pytest
import torch

import cilnb.remedies as R
from cilnb import sampling as S
from cilnb import schedules
from cilnb.checks import InputTypeError
from cilnb.denoiser import Cond, edm_scalings
from cilnb.remedies.filters import MIN_CUTOFF, freq_filter, freq_mix, lowpass_image
from cilnb.remedies.freeinit import MAX_ITERATIONS

HUGE = 10**12


@functools.lru_cache(maxsize=None)
def _toy():
    from cilnb.models import toy

    return toy.build(frames=2, size=8, widths=(8,), temporal="none", temporal_levels=(), temporal_width=8, emb_dim=16, seed=0).eval()


def _y(n=2):
    return torch.rand((n, 1, 8, 8), generator=torch.Generator().manual_seed(1)) * 2 - 1


def _sample(**kw):
    return S.sample(_toy(), kw.pop("y", _y()), **{"n_steps": 2, "show_progress": False, **kw})


# --- FreeInit: a pass count without a limit ----------------------------------------------------------


def test_freeinit_iterations_have_a_named_limit():
    """FreeInit(iterations=10**12) was accepted: sample() would have run 10**12 whole sampler passes (days for one video)."""
    with pytest.raises(ValueError, match=rf"iterations = {HUGE} .*at most {MAX_ITERATIONS}.*iterations=3"):
        R.build("freeinit", iterations=HUGE)
    with pytest.raises(ValueError, match="at most 100"):
        R.from_cli("freeinit", ["iterations=1000000"])
    assert R.build("freeinit", iterations=MAX_ITERATIONS).iterations == MAX_ITERATIONS  # the limit itself is allowed


def test_nested_freeinits_multiply_their_passes_and_are_limited():
    """compose(FreeInit(50), FreeInit(50)) was accepted: the outer FreeInit reruns the inner one per pass, 2,500 sampler runs."""
    with pytest.raises(ValueError, match=r"run 2500 sampler passes .*at most 100"):
        R.compose(R.build("freeinit", iterations=50), R.build("freeinit", iterations=50))
    assert len(R.compose("freeinit", "freeinit").members()) == 2  # 3 x 3 passes: still allowed


# --- the frequency filters --------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [dict(d_s=1e-200), dict(d_s=1e-200, method="gaussian"), dict(d_t=1e-320)], ids=["d_s", "d_s-gauss", "d_t"])
def test_a_cutoff_too_small_for_float64_is_refused(kw):
    """A cutoff of 1e-200 (d_s^2 underflows) or a subnormal d_t (d_s / d_t overflows) gave a NaN mask without a word, and
    FreeInit(d_s=1e-200) was accepted: every video would have come out NaN."""
    with pytest.raises(ValueError, match=r"cutoff\) = .* is too small for float64 .*pass a cutoff in \[1e-100, 1\]"):
        freq_filter(4, 8, 8, **kw)
    with pytest.raises(ValueError, match="too small for float64"):
        R.build("freeinit", **kw)
    assert bool(torch.isfinite(freq_filter(4, 8, 8, d_s=MIN_CUTOFF, d_t=MIN_CUTOFF)).all())


def test_a_butterworth_order_beyond_int64_is_refused():
    """order = 2**64 failed with torch's bare 'OverflowError: int too big to convert'."""
    with pytest.raises(ValueError, match=r"order \(Butterworth order\) = 18446744073709551616 is too large .*e\.g\. FreeInit's 4"):
        freq_filter(4, 8, 8, order=2**64)
    with pytest.raises(ValueError, match="is too large"):
        R.build("freeinit", order=10**400)
    assert bool(torch.isfinite(freq_filter(4, 8, 8, order=10**6)).all())  # a huge but representable order still works


def test_freq_mix_refuses_non_float_videos_empty_batches_and_a_nan_mask():
    """freq_mix truncated integer videos on the way back, dropped a complex video's imaginary part, returned NaN for a
    NaN mask, and failed with MKL's 'Inconsistent configuration parameters' on an empty batch."""
    x, m = torch.zeros(1, 2, 1, 4, 4), freq_filter(2, 4, 4)
    with pytest.raises(InputTypeError, match=r"low must be a float video .*dtype torch\.int64.*low\.float\(\)"):
        freq_mix(x.long(), x, m)
    with pytest.raises(InputTypeError, match=r"high must be a float video .*complex64"):
        freq_mix(x, x.to(torch.complex64), m)
    with pytest.raises(ValueError, match="mask contains 32 non-finite value"):
        freq_mix(x, x, m * float("nan"))
    with pytest.raises(ValueError, match=r"hold no values \(shape \(0, 2, 1, 4, 4\)\)"):
        freq_mix(x[:0], x[:0], m)


def test_lowpass_image_refuses_non_float_images_and_images_without_pixels():
    """lowpass_image truncated uint8 pixels (off by up to 1), turned bool images into bool again and complex ones into real
    ones with only a UserWarning, and an image of 0 rows failed in torch's reshape ('the unspecified dimension size -1 ...')."""
    with pytest.raises(InputTypeError, match=r"dtype torch\.uint8: convert them with images\.float\(\) / 127\.5 - 1"):
        lowpass_image(torch.full((1, 1, 8, 8), 7, dtype=torch.uint8), 0.5)
    for dtype in (torch.bool, torch.complex64):
        with pytest.raises(InputTypeError, match="images must be float images"):
            lowpass_image(torch.zeros(1, 1, 8, 8, dtype=dtype), 0.5)
    with pytest.raises(ValueError, match=r"images have no pixels \(H x W = 0 x 8"):
        lowpass_image(torch.zeros(1, 1, 0, 8), 0.5)
    assert lowpass_image(torch.zeros(1, 1, 8, 8, dtype=torch.float16), 0.5).dtype == torch.float16


def test_pyoco_frames_too_many_for_memory_are_refused():
    """pyoco_matrix(10**6 frames) reached torch's allocator ('DefaultCPUAllocator: can't allocate memory')."""
    for fn in (R.pyoco_matrix, R.pyoco_correlation):
        with pytest.raises(ValueError, match=r"PYoCo's 10000000 x 10000000 frame matrix needs more than .* GiB.*frames of one video"):
            fn(10**7, 1.0)
    assert R.pyoco_matrix(4, 1.0).shape == (4, 4)


# --- remedy names, specs and combinations ------------------------------------------------------------


def test_a_combination_setting_given_both_qualified_and_plain_is_refused():
    """build('alg+analytic_init', **{'alg.until': 0.2, 'until': 0.3}) kept whichever came last (until = 0.3) without a word;
    from_cli with --remedy-arg alg.until=0.2 --remedy-arg until=0.3 did the same."""
    with pytest.raises(ValueError, match=r"setting alg\.until of 'alg\+analytic_init' is given twice \(as 'alg\.until' and 'until'\)"):
        R.build("alg+analytic_init", **{"alg.until": 0.2, "until": 0.3})
    with pytest.raises(ValueError, match="is given twice"):
        R.from_cli("alg+analytic_init", ["alg.until=0.2", "until=0.3"])
    assert R.build("alg+analytic_init", **{"alg.until": 0.2}).members()[0].until == 0.2


def test_from_cli_takes_a_member_prefix_on_a_single_remedy():
    """from_cli('alg', ['alg.until=0.2']) accepted the key, then build refused it as the unknown setting 'alg.until'."""
    assert R.from_cli("alg", ["alg.until=0.2"]).until == 0.2
    with pytest.raises(ValueError, match="is given twice"):
        R.from_cli("alg", ["alg.until=0.2", "until=0.3"])


def test_from_cli_refuses_a_name_that_is_not_a_string():
    """from_cli(None) looked up str(None), reporting the unknown remedy 'None' as if the text 'None' had been given."""
    with pytest.raises(InputTypeError, match=r"name must be a remedy name \(str\) .*got None \(NoneType\)"):
        R.from_cli(None, [])


def test_a_spec_with_settings_not_keyed_by_name_is_refused():
    """build({'name': 'freeinit', 'settings': {1: 2}}) failed with Python's bare 'TypeError: keywords must be strings'."""
    with pytest.raises(InputTypeError, match=r"settings must be keyed by setting names \(str\), got the key 1 \(int\)"):
        R.build({"name": "freeinit", "settings": {1: 2}})


# --- compare ---------------------------------------------------------------------------------------


def _images(n=2):
    from cilnb.io import ImageSet

    vids = torch.rand(n, 2, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return ImageSet([str(i) for i in range(n)], vids[:, 0], "test", {}, vids)


def test_compare_refuses_the_label_none_for_a_remedy():
    """compare(..., {'none': FreeInit, ...}) ran FreeInit as the baseline: its row was re-timed as plain sampling and every
    other remedy's paired effect and time ratio were read against it (a verdict 'vs none' that was FreeInit)."""
    with pytest.raises(ValueError, match=r"remedies\['none'\] is freeinit\(.*the label 'none' is plain sampling.*another label"):
        R.compare(_toy(), _images(), {"none": "freeinit", "alg": "alg"}, n_steps=1, n_reference=0)


def test_compare_refuses_an_image_set_without_images():
    """An empty ImageSet reached the sampler, whose error named y (not the images given to compare)."""
    with pytest.raises(ValueError, match=r"images holds no images: pass at least one conditional image"):
        R.compare(_toy(), _images(0), {"none": "none"}, n_steps=1, n_reference=0)


# --- sample and the low-level samplers ---------------------------------------------------------------


def test_eta_has_a_named_limit():
    """eta = 1e200 failed with a bare 'OverflowError: (34, Numerical result out of range)' inside DDIM's step; larger
    values that did not overflow Python floats turned the videos into inf/NaN."""
    with pytest.raises(ValueError, match=r"eta must be <= 1000 \(0: deterministic DDIM, 1: DDPM-like noise\), got 1e\+200"):
        _sample(eta=1e200)
    ts = _toy().schedule.grid(2)
    with pytest.raises(ValueError, match="eta must be <= 1000"):
        S.sample_ddim(_toy(), torch.zeros(2, 2, 1, 8, 8), ts, {"y": _y()}, eta=1e200, generator=torch.Generator())
    assert bool(torch.isfinite(_sample(eta=2.0)).all())  # eta above 1 (more noise than DDPM) still runs


def test_frames_too_many_for_memory_are_refused_before_drawing():
    """sample(frames=10**12) and per_sample_noise with a huge shape reached torch's allocator
    ('DefaultCPUAllocator: can't allocate memory: you tried to allocate 1024000000000000 bytes')."""
    with pytest.raises(ValueError, match=r"initial noise of sample\(2 x \(1000000000000, 1, 8, 8\) float64\) needs more than .*frames=2"):
        _sample(frames=HUGE)
    with pytest.raises(ValueError, match=r"per_sample_noise\(1 x \(1000000, 1000000, 10\) float32\) needs more than .* GiB"):
        S.per_sample_noise([0], (10**6, 10**6, 10))


def test_meta_tensors_in_the_conditioning_or_images_are_named():
    """A 'meta' tensor in cond or as images= failed with torch's bare 'Tensor.item() cannot be called on meta tensors'."""
    with pytest.raises(InputTypeError, match=r"cond\['motion'\] is a tensor on the 'meta' device"):
        _sample(cond={"motion": torch.zeros(2, device="meta")})
    with pytest.raises(InputTypeError, match=r"images is a tensor on the 'meta' device"):
        _sample(images=torch.zeros(2, 1, 8, 8, device="meta"))


def test_integer_images_are_refused():
    """images= as uint8 0..255 pixels was accepted silently (FrameInit on a latent model encodes them as if in [-1, 1])."""
    with pytest.raises(InputTypeError, match=r"images must be float pixels in \[-1, 1\], got dtype torch\.uint8: .*/ 127\.5 - 1"):
        _sample(images=torch.zeros(2, 1, 8, 8, dtype=torch.uint8))
    assert _sample(images=_y()).shape == (2, 2, 1, 8, 8)


def test_the_low_level_samplers_refuse_an_empty_batch():
    """sample_ddim(model, x with 0 videos, ...) failed deep in the model's convolution ('expected input[0, 1, 8, 8] to
    have 4 channels')."""
    for fn in (S.sample_ddim, S.sample_euler, S.sample_dpmpp_2m):
        with pytest.raises(ValueError, match=r"x \(the noisy start video\) holds no videos \(batch size 0"):
            fn(_toy(), torch.zeros(0, 2, 1, 8, 8), _toy().schedule.grid(2), {"y": _y()[:0]})


# --- schedules -------------------------------------------------------------------------------------


@pytest.mark.parametrize("shift", [0.2, 0.45])
def test_flow_grids_of_a_small_shift_stay_in_time_range(shift):
    """FlowSchedule(shift=0.2).grid(25) started at 1 + 2**-52 (shift(unshift(1)) rounded up), so every sampler refused
    it with 't must lie in [0.0, 1.0]' although the user passed nothing out of range."""
    sch = schedules.FlowSchedule(shift=shift)
    ts = sch.grid(25)
    assert float(ts.max()) == 1.0 and bool((ts[1:] < ts[:-1]).all())
    sch.alpha(ts)  # no error
    ref = schedules.FlowSchedule(shift=3.0)
    assert torch.equal(ref.grid(25), ref.shifted(torch.linspace(float(ref.unshifted(1.0)), float(ref.shifted(1 / 1000)), 25,
                                                                dtype=torch.float64)))  # other grids: bit for bit as before


@pytest.mark.parametrize("shift", [1e-300, 1e-20, 1e16, 1e300])
def test_a_flow_shift_beyond_float64_precision_is_refused(shift):
    """FlowSchedule(shift=1e300).grid(5) failed with 'u must be finite, got tensor([nan, ...])' and shift=1e-20 gave a grid
    holding inf without a word."""
    with pytest.raises(ValueError, match=rf"shift = {re.escape(f'{shift:g}')} is beyond float64's precision .*pass a shift such as 3 or 5"):
        schedules.FlowSchedule(shift=shift)


@pytest.mark.parametrize("rho", [1e-3, 1e15, 1e300])
def test_an_edm_rho_the_karras_map_cannot_hold_is_refused(rho):
    """EDMSchedule(rho=1e-3).sigma(t) raised a bare 'OverflowError: (34, Numerical result out of range)'; rho = 1e15 put
    sigma(1) at 781 instead of sigma_max = 700 (a wrong answer) and rho = 1e300 made from_native NaN."""
    with pytest.raises(ValueError, match=rf"rho = {re.escape(f'{rho:g}')} cannot map sigma in \[0.002, 700\] .*e\.g\. 7 \(SVD\)"):
        schedules.EDMSchedule(sigma_max=700.0, rho=rho)
    assert float(schedules.EDMSchedule(sigma_max=700.0, rho=7.0).sigma(1.0)) == pytest.approx(700.0)


def test_vp_betas_below_float64_resolution_are_refused():
    """VPSchedule(betas=[1e-300] * 10, rescale_zero_terminal_snr=True) gave alphas_cumprod of NaN; without the rescale
    sigma_t stayed exactly 0 over the first steps, which the samplers divide by."""
    with pytest.raises(ValueError, match=r"betas\[0\] = 1e-300 is below float64's resolution of 1 - beta .*at least 1e-12"):
        schedules.VPSchedule(betas=[1e-300] * 10, rescale_zero_terminal_snr=True)
    with pytest.raises(ValueError, match=r"betas\[2\] = 1e-20 is below"):
        schedules.VPSchedule(betas=[0.01, 0.01, 1e-20] + [0.02] * 7)


def test_vp_training_steps_too_many_for_memory_are_refused():
    """VPSchedule(num_train_timesteps=10**13) and vp_betas(...) reached torch's allocator ('can't allocate memory')."""
    with pytest.raises(ValueError, match=r"VP schedule of num_train_timesteps = 10000000000000 needs more than .*DDPM: 1000"):
        schedules.VPSchedule(num_train_timesteps=10**13)
    with pytest.raises(ValueError, match="needs more than"):
        schedules.vp_betas("linear", 10**13)


def test_meta_times_are_named():
    """as_t / schedule.alpha of a 'meta' tensor failed with torch's bare 'NotImplementedError: Cannot copy out of meta tensor';
    betas on the meta device were reported as 'Cannot copy out of meta tensor; no data!' in a type message."""
    with pytest.raises(InputTypeError, match=r"t is a tensor on the 'meta' device"):
        schedules.as_t(torch.zeros(3, device="meta"))
    with pytest.raises(InputTypeError, match=r"t is a tensor on the 'meta' device"):
        _toy().schedule.alpha(torch.zeros(3, device="meta"))
    with pytest.raises(InputTypeError, match=r"betas is a tensor on the 'meta' device"):
        schedules.VPSchedule(betas=torch.full((10,), 0.01, device="meta"))


# --- the denoiser contract -------------------------------------------------------------------------


def test_cond_select_refuses_reversed_and_zero_step_slices():
    """Cond.select(slice(None, None, -1)) failed in torch with 'step must be greater than zero' and a zero step with Python's
    'slice step cannot be zero', neither naming the conditioning."""
    c = Cond(_y(), motion=torch.zeros(2))
    for step in (-1, 0):
        with pytest.raises(ValueError, match=rf"the slice's step must be a positive int .*got {step}"):
            c.select(slice(None, None, step))
    assert c.select(slice(0, 2, 2)).y.shape[0] == 1


def test_edm_scalings_refuse_a_sigma_data_whose_square_overflows():
    """edm_scalings(1.0, sigma_data=1e300) failed with a bare 'OverflowError: (34, Numerical result out of range)'."""
    with pytest.raises(ValueError, match=r"sigma_data must be <= 1e\+150"):
        edm_scalings(1.0, sigma_data=1e300)
    assert all(bool(torch.isfinite(c).all()) for c in edm_scalings(1.0, sigma_data=0.5))

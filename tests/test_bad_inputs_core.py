"""Bad inputs to the core math (schedules, TimeNoise, the denoiser helpers, Analytic-Init, toy training) that were
accepted silently (a flag read as a number, an integer dtype truncating alpha_t to 0, an imaginary part dropped) or
failed deep inside torch, numpy or pathlib naming neither the argument nor the fix.

Siblings: ``test_bad_inputs_leftovers.py``, ``test_bad_inputs_api.py``, ``test_bad_inputs_sampling.py``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from cilnb import analytic_init as AI
from cilnb import denoiser as DN
from cilnb import timenoise as TN
from cilnb import toy_training as TR
from cilnb.checks import InputTypeError
from cilnb.schedules import EDMSchedule, FlowSchedule, VPSchedule, from_diffusers, vp_betas

# ----------------------------------------------------------------------------------------------
# schedules
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sched", [VPSchedule(), FlowSchedule(shift=3.0)], ids=["vp", "flow"])
@pytest.mark.parametrize("start, exc, pattern", [
    (float("nan"), ValueError, r"start must be finite.*normalised start time"),
    (2.0, ValueError, r"start must be <= 1"),
    (None, InputTypeError, r"start must be a real number"),
    ("0.5", InputTypeError, r"start must be a real number"),
])
def test_prior_std_checks_start_although_vp_and_flow_ignore_it(sched, start, exc, pattern):
    """VP and flow returned 1.0 for any start, NaN, None and strings included."""
    with pytest.raises(exc, match=pattern):
        sched.prior_std(start)
    assert sched.prior_std(0.6) == 1.0
    assert EDMSchedule().prior_std(0.6) == pytest.approx(math.sqrt(1 + float(EDMSchedule().sigma(0.6)) ** 2))


@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, torch.complex64])
def test_add_noise_and_broadcast_refuse_non_float_tensors(dtype):
    """alpha_t and sigma_t were cast to x0's integer dtype (alpha -> 0, sigma -> 1): x0 was silently dropped."""
    x = torch.ones(2, 3, dtype=dtype)
    with pytest.raises(InputTypeError, match=r"x0 must be a floating tensor.*\.float\(\)"):
        VPSchedule().add_noise(x, 0.5, torch.ones(2, 3))
    with pytest.raises(InputTypeError, match=r"like must be a floating tensor.*\.float\(\)"):
        VPSchedule().broadcast(0.5, x)
    x0, noise = torch.ones(2, 3), torch.zeros(2, 3)
    assert torch.allclose(VPSchedule().add_noise(x0, 0.5, noise), VPSchedule().alpha(0.5).float() * x0)


def test_add_noise_and_broadcast_refuse_a_0d_tensor():
    """A 0-d x0 failed with torch's 'tuple index out of range'."""
    with pytest.raises(ValueError, match=r"x0 must have a batch dim.*x0\[None\]"):
        VPSchedule().add_noise(torch.tensor(1.0), 0.5, torch.tensor(0.0))
    with pytest.raises(ValueError, match=r"like must have a batch dim"):
        EDMSchedule().broadcast(0.5, torch.tensor(1.0))


@pytest.mark.parametrize("flag", ["no", None, 0])
def test_vp_rescale_flag_must_be_a_bool(flag):
    """rescale_zero_terminal_snr="no" is truthy: the zero-SNR rescale was applied without a word."""
    with pytest.raises(InputTypeError, match=r"rescale_zero_terminal_snr must be True or False"):
        VPSchedule(rescale_zero_terminal_snr=flag)
    assert float(VPSchedule(rescale_zero_terminal_snr=np.bool_(True)).alpha(1.0)) == 0.0


def test_vp_refuses_complex_betas():
    """Complex betas lost their imaginary part with only a torch warning."""
    with pytest.raises(InputTypeError, match=r"betas must be real numbers.*imaginary part"):
        VPSchedule(betas=torch.tensor([0.1 + 1j, 0.2]))


def test_vp_betas_refuses_a_reversed_range():
    """vp_betas returned decreasing betas for beta_start > beta_end (VPSchedule refused them)."""
    with pytest.raises(ValueError, match=r"beta_start \(0\.02\) > beta_end \(0\.0001\).*swap them"):
        vp_betas("linear", 1000, 0.02, 1e-4)
    with pytest.raises(ValueError, match=r"swap them"):
        vp_betas("scaled_linear", 1000, 0.02, 1e-4)
    assert torch.equal(vp_betas("linear", 10, 1e-4, 0.02), torch.linspace(1e-4, 0.02, 10, dtype=torch.float64))


_EULER_KARRAS = {"_class_name": "EulerDiscreteScheduler", "use_karras_sigmas": True, "timestep_type": "continuous"}


@pytest.mark.parametrize("cfg, pattern", [
    ({"_class_name": "DDIMScheduler", "num_train_timesteps": 1000.5}, r"num_train_timesteps=1000\.5 must be a whole number"),
    ({"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 999.7}, r"must be a whole number"),
    ({"_class_name": "DDIMScheduler", "num_train_timesteps": True}, r"num_train_timesteps=True is not a number"),
    ({"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": True}, r"shift=True is not a number"),
    ({"_class_name": "DDIMScheduler", "rescale_betas_zero_snr": "false"}, r"rescale_betas_zero_snr='false' must be true or false"),
    ({**_EULER_KARRAS, "use_karras_sigmas": "false"}, r"use_karras_sigmas='false' must be true or false"),
    ({"_class_name": "UniPCMultistepScheduler", "use_flow_sigmas": "no"}, r"use_flow_sigmas='no' must be true or false"),
])
def test_from_diffusers_refuses_configs_that_were_read_wrongly(cfg, pattern):
    """int(1000.5) truncated, float(True) made a flag the shift, bool("false") switched the zero-SNR rescale on."""
    with pytest.raises(ValueError, match=pattern):
        from_diffusers(cfg)
    ok = from_diffusers({"_class_name": "DDIMScheduler", "num_train_timesteps": 1000.0, "rescale_betas_zero_snr": False})
    assert ok.T == 1000 and float(ok.alpha(1.0)) > 0


@pytest.mark.parametrize("cfg, pattern", [
    ({"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 0}, r"shift must be > 0"),
    ({"_class_name": "UniPCMultistepScheduler", "use_flow_sigmas": True, "flow_shift": 0.0}, r"shift must be > 0"),
    ({"_class_name": "EDMEulerScheduler", "sigma_min": 0.0}, r"sigma_min must be > 0"),
    ({**_EULER_KARRAS, "sigma_min": 0.002, "sigma_max": 0}, r"sigma_max must be > 0"),
])
def test_from_diffusers_refuses_a_zero_shift_or_sigma(cfg, pattern):
    """A shift or sigma of 0 was taken for "unset" and silently replaced by the default (1, 0.002 or 80)."""
    with pytest.raises(ValueError, match=pattern):
        from_diffusers(cfg)
    assert from_diffusers({"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": None}).shift == 1.0


@pytest.mark.parametrize("unset", [("sigma_min",), ("sigma_max",), ("sigma_min", "sigma_max")])
def test_from_diffusers_refuses_euler_karras_without_its_sigma_range(unset):
    """diffusers takes an unset Karras range from the betas at each inference grid (157.4 at the top for linspace, 61.4
    at 10 leading steps, 108.0 at 25): cilnb silently used EDM's 0.002 and 80 instead, another schedule."""
    cfg = {**_EULER_KARRAS, "sigma_min": 0.002, "sigma_max": 700.0, **{k: None for k in unset}}
    with pytest.raises(ValueError, match=r"with Karras sigmas has no " + " or ".join(unset) + r" in its config.*set sigma_min and sigma_max"):
        from_diffusers(cfg)
    diffusers = pytest.importorskip("diffusers")
    sch = diffusers.EulerDiscreteScheduler(use_karras_sigmas=True, timestep_type="continuous", timestep_spacing="leading", steps_offset=1)
    tops = []
    for n in (10, 25):
        sch.set_timesteps(n)
        tops.append(float(sch.sigmas[0]))
    assert tops[0] != pytest.approx(tops[1], rel=0.1)  # why: no fixed schedule to build
    with pytest.raises(ValueError, match=r"no sigma_min or sigma_max in its config"):
        from_diffusers(sch)


def test_from_diffusers_names_a_non_string_class_name():
    """_class_name = 5 failed with "'int' object has no attribute 'startswith'"."""
    with pytest.raises(InputTypeError, match=r"_class_name must be the scheduler's class name"):
        from_diffusers({"_class_name": 5})


# ----------------------------------------------------------------------------------------------
# TimeNoise
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("t", [np.bool_(True), torch.tensor([True]), [True], torch.tensor([0.5 + 1j]), np.array([0.5 + 1j])],
                         ids=["np-bool", "bool-tensor", "bool-list", "complex-tensor", "complex-array"])
def test_timenoise_refuses_booleans_and_complex_values(t):
    """A bool became t = 1 and a complex t lost its imaginary part (with only a warning)."""
    with pytest.raises(InputTypeError, match=r"t must hold real numbers, got booleans or complex values"):
        TN.mu(t, 5.0)
    with pytest.raises(InputTypeError, match=r"t must hold real numbers"):
        TN.sample_beta(t, 5.0, 1.0, seed=0)
    assert TN.mu(0.5, 1.0) == 0.0


def test_mu_names_shapes_that_do_not_broadcast():
    """t [2] with a [3] failed with torch's 'The size of tensor a (2) must match ...'."""
    with pytest.raises(ValueError, match=r"the shapes of t \(2,\), a \(3,\) do not broadcast"):
        TN.mu([0.5, 0.2], [1.0, 2.0, 3.0])
    assert torch.allclose(TN.mu(torch.tensor([0.5, 1.0]), torch.tensor([1.0, 2.0])), torch.tensor([0.0, 1.0], dtype=torch.float64))


def test_check_verdict_refuses_text_columns():
    """A table whose columns held text passed with holds=True."""
    table = pd.DataFrame(dict(t=["0.5"], n=[10], ks_p=[0.5], logit_mean=[0.0], mu=[0.0], logit_std=[1.0], median_beta=[1.0]))
    with pytest.raises(ValueError, match=r"table\['t'\] must hold numbers.*check_samples"):
        TN.check_verdict(table)


# ----------------------------------------------------------------------------------------------
# denoiser helpers
# ----------------------------------------------------------------------------------------------


def test_to_x0_names_mismatched_shapes_and_non_tensors():
    """A wrong-shaped network output failed with torch's broadcast error; a numpy x_t with numpy's operand error."""
    x = torch.randn(2, 3)
    with pytest.raises(ValueError, match=r"network output \(4, 5\) and x_t \(2, 3\) must have the same shape"):
        DN.to_x0("eps", x, torch.randn(4, 5), 0.5, 0.5)
    with pytest.raises(InputTypeError, match=r"x_t must be a torch\.Tensor.*torch\.from_numpy\(x_t\)"):
        DN.to_x0("eps", x.numpy(), x, 0.5, 0.5)
    out = torch.randn(2, 3)
    assert torch.equal(DN.to_x0("v", x, out, 0.6, 0.8), (0.6 * x - 0.8 * out) / (0.6**2 + 0.8**2))


@pytest.mark.parametrize("sigma, exc, pattern", [
    (0.0, ValueError, r"sigma must be finite and > 0"),
    (-1.0, ValueError, r"sigma must be finite and > 0"),
    (float("nan"), ValueError, r"sigma must be finite and > 0"),
    (torch.tensor([1.0, 0.0]), ValueError, r"sigma must be finite and > 0"),
    ("1", InputTypeError, r"sigma must be a number or a tensor"),
    (None, InputTypeError, r"sigma must be a number or a tensor"),
    (torch.tensor([1 + 1j]), InputTypeError, r"sigma must hold real noise levels"),
])
def test_edm_scalings_refuses_bad_sigmas(sigma, exc, pattern):
    """sigma <= 0 or NaN gave a -inf/NaN c_noise, a complex sigma complex scalings, None/str torch's dtype errors."""
    with pytest.raises(exc, match=pattern):
        DN.edm_scalings(sigma)


@pytest.mark.parametrize("sigma_data, exc", [(0.0, ValueError), (-0.5, ValueError), ("0.5", InputTypeError), (None, InputTypeError)])
def test_edm_scalings_refuses_bad_sigma_data(sigma_data, exc):
    """sigma_data = 0 gave c_skip = c_out = 0 silently; a string failed in `**`."""
    with pytest.raises(exc, match=r"sigma_data must be"):
        DN.edm_scalings(1.0, sigma_data=sigma_data)
    c_skip, c_out, c_in, c_noise = DN.edm_scalings(torch.tensor([2.0], dtype=torch.float64), sigma_data=0.5)
    assert torch.allclose(c_skip, torch.tensor([0.25 / 4.25], dtype=torch.float64))
    assert torch.allclose(c_noise, torch.tensor([0.25 * math.log(2.0)], dtype=torch.float64))


def test_prediction_from_diffusers_names_a_non_string():
    """A list failed with 'unhashable type: list'."""
    with pytest.raises(InputTypeError, match=r"prediction_type must be a string"):
        DN.prediction_from_diffusers(["epsilon"])


@pytest.mark.parametrize("index, exc, pattern", [
    (True, InputTypeError, r"index must be an int.*got True \(bool\)"),
    (torch.tensor([0.0]), InputTypeError, r"index tensor must hold integer rows.*index\.long\(\)"),
    (["a"], InputTypeError, r"rows to select must be ints.*got 'a'"),
    ([True], ValueError, r"boolean row mask must have one entry per row \(2\)"),
])
def test_cond_select_refuses_flags_floats_and_text(index, exc, pattern):
    """select(True) selected row 1; a float index tensor and ['a'] failed inside torch's indexing."""
    cond = DN.Cond(torch.arange(6.0).reshape(2, 3))
    with pytest.raises(exc, match=pattern):
        cond.select(index)
    assert torch.equal(cond.select([False, True]).y, cond.select(1).y)


def test_cond_to_refuses_an_integer_dtype():
    """to(dtype=torch.int64) truncated the floating conditional images to ints."""
    with pytest.raises(ValueError, match=r"dtype must be a floating dtype"):
        DN.Cond(torch.full((1, 3), 0.5)).to(dtype=torch.int64)
    assert DN.Cond(torch.full((1, 3), 0.5)).to(dtype=torch.float16).y.dtype == torch.float16


# ----------------------------------------------------------------------------------------------
# Analytic-Init
# ----------------------------------------------------------------------------------------------


def _stats():
    return AI.MomentStats.from_moments(torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2))


@pytest.mark.parametrize("coef", [np.bool_(True), torch.tensor(True)], ids=["np-bool", "bool-tensor"])
def test_init_params_refuses_boolean_coefficients(coef):
    """A numpy or tensor bool was read as alpha = 1 (a Python bool was already refused)."""
    with pytest.raises(ValueError, match=r"alpha must be a number.*convert it with float\(\) first"):
        AI.init_params(_stats(), coef, 0.5)
    assert AI.init_params(_stats(), torch.tensor(0.5), 0.5)[1] == pytest.approx(0.5)


def test_init_params_at_refuses_several_start_times():
    """Several M failed with 'only one element tensors can be converted to Python scalars'."""
    with pytest.raises(ValueError, match=r"start must be one normalised start time.*once per M"):
        AI.init_params_at(_stats(), VPSchedule(), [0.5, 0.6])
    assert AI.init_params_at(_stats(), VPSchedule(), 0.5)[1] == pytest.approx(1.0)


@pytest.mark.parametrize("shape", [(), [2], (2, 1, 2, 2)], ids=["empty", "batch-in-a-list", "no-batch-dim"])
def test_sample_init_names_a_shape_without_batch_or_sample_dims(shape):
    """These were blamed on the statistics ('recompute with python -m cilnb stats'), the wrong fix."""
    with pytest.raises(ValueError, match=r"must be the batch size B or the full latents shape \(B, \*stats\.shape\) = \(B, 2, 1, 2, 2\)"):
        AI.sample_init(_stats(), 0.5, 0.5, shape, seed=0)
    assert AI.sample_init(_stats(), 0.5, 0.5, (3, 2, 1, 2, 2), seed=0).shape == (3, 2, 1, 2, 2)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_sample_init_names_cuda_that_is_not_there():
    """device='cuda' without CUDA failed inside torch ('Found no NVIDIA driver')."""
    with pytest.raises(ValueError, match=r"CUDA is not available; use device='cpu'"):
        AI.sample_init(_stats(), 0.5, 0.5, 2, seed=0, device="cuda")


@pytest.mark.parametrize("latents", [None, np.ones(3), torch.ones(3, dtype=torch.long)], ids=["none", "numpy", "int"])
def test_pipeline_latents_needs_a_float_tensor(latents):
    """None failed in '/', a numpy array came back as numpy (which pipelines refuse later)."""
    with pytest.raises(InputTypeError, match=r"latents must be a floating torch\.Tensor"):
        AI.pipeline_latents(latents, 2.0)
    assert torch.equal(AI.pipeline_latents(torch.full((3,), 4.0), 2.0), torch.full((3,), 2.0))


def test_gaussian_mixture_refuses_zero_dimensions():
    """means [K, 0] were accepted and failed later (stats(): 'mean is empty')."""
    with pytest.raises(ValueError, match=r"d = 0 dimensions"):
        AI.GaussianMixture(torch.ones(1), torch.zeros(1, 0), torch.ones(1, 0))


def test_check_prop1_refuses_text_columns():
    """Text columns failed inside numpy ('bad operand type for abs(): str')."""
    with pytest.raises(ValueError, match=r"table\['kl_baseline'\] must hold numbers.*kl_table"):
        AI.check_prop1(pd.DataFrame(dict(kl_baseline=["1"], kl_analytic=["2"])))


# ----------------------------------------------------------------------------------------------
# toy training
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [("timenoise_a", float("nan")), ("timenoise_a", -1.0), ("timenoise_beta_m", math.inf)])
def test_train_config_checks_timenoise_settings_of_every_variant(field, value):
    """A base (or naive) config kept NaN or negative TimeNoise settings without a word."""
    with pytest.raises(ValueError, match=r"TimeNoise needs finite a > 0 and beta_m > 0"):
        TR.TrainConfig(**{field: value})


@pytest.mark.parametrize("seed", [2**63, 2**70, -(2**62) - 1])
def test_train_config_refuses_a_seed_its_generators_cannot_take(seed):
    """The config was accepted and train() failed in torch's manual_seed ('Overflow when unpacking long long')."""
    with pytest.raises(ValueError, match=r"seed must lie in \[-2\*\*62, 2\*\*63\)"):
        TR.TrainConfig(seed=seed)
    assert TR.TrainConfig(seed=2**63 - 1).seed == 2**63 - 1


def test_train_names_a_missing_output_path():
    """out=None failed in pathlib ('expected str, bytes or os.PathLike object, not NoneType')."""
    with pytest.raises(InputTypeError, match=r"out must be the output checkpoint path"):
        TR.train(TR.TrainConfig(steps=1, pretrain_steps=0), None, show_progress=False)


@pytest.mark.parametrize("schedule", ["vp", EDMSchedule()], ids=["string", "edm"])
def test_training_timesteps_need_a_discrete_vp_schedule(schedule):
    """Anything else failed with "... object has no attribute 'T'"."""
    with pytest.raises(InputTypeError, match=r"schedule must be a discrete cilnb\.schedules\.VPSchedule"):
        TR.sample_train_t(3, schedule, torch.Generator().manual_seed(0))
    with pytest.raises(InputTypeError, match=r"schedule must be a discrete"):
        TR.lognormal_t_cdf(schedule)


def test_null_image_names_a_non_tensor():
    """None failed inside torch.zeros_like."""
    with pytest.raises(InputTypeError, match=r"y must be the conditional images"):
        TR.null_image(None)


def test_finetune_toy_pair_names_a_missing_folder():
    """out_dir=None reached TrainConfig's 'init checkpoint ... does not exist' or pathlib's TypeError."""
    with pytest.raises(InputTypeError, match=r"out_dir must be the folder for the two checkpoints"):
        TR.finetune_toy_pair(None, steps=1, a=5.0, beta_m=1.0)


# ----------------------------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------------------------


def test_timenoise_figures_name_their_own_lists():
    """t_slices=[2] was reported as 't must be the normalised time', a_values=[-1] as 'a must be > 0'."""
    from cilnb.plotting import plot_timenoise_density, plot_timenoise_mu

    with pytest.raises(ValueError, match=r"t_slices\[1\] must be <= 1"):
        plot_timenoise_density(t_slices=[0.5, 2.0], n_t=3, n_beta=3)
    with pytest.raises(ValueError, match=r"a_values\[0\] must be > 0"):
        plot_timenoise_mu(a_values=[-1.0])


@pytest.mark.parametrize("sched", [VPSchedule(), EDMSchedule(), FlowSchedule(shift=3.0)], ids=["vp", "edm", "flow"])
def test_a_step_count_beyond_any_use_is_named_before_the_grid_is_allocated(sched):
    """Was: ``grid(10**12)`` asked torch for terabytes (a bare allocator error, or minutes of swapping); the most steps
    a grid takes is :data:`cilnb.checks.MAX_STEPS`, and that many still works."""
    from cilnb.checks import MAX_STEPS

    with pytest.raises(ValueError, match=r"n_steps = 1000000000000 is beyond any sampler's use .*pass the number of sampler steps"):
        sched.grid(10**12)
    with pytest.raises(ValueError, match=r"n_steps = 1000001 is beyond"):
        sched.grid(MAX_STEPS + 1)
    assert len(sched.grid(1000)) >= 1  # ordinary counts unchanged


def test_a_step_count_beyond_any_use_is_refused_before_a_sweep_or_comparison_writes_anything(tmp_path):
    """Was: ``cilnb sample --n-steps 10000000`` wrote the sweep's ``sweep.json`` and then failed at the first grid; the
    sweep, the remedies' comparison, the run store's folder name and the live lab check the count at their entry."""
    from _media import tiny_toy
    from cilnb import experiments as E
    from cilnb import remedies as R
    from cilnb import runs
    from cilnb.io import load_images
    from cilnb.live import Lab

    toy = tiny_toy(16)  # 16 px: the default sprites of toy:N
    images = load_images("toy:2", toy)
    big = 10**7
    calls = [
        lambda: runs.run_sweep(toy, images, tmp_path / "sweep", Ms=[1.0], n_steps=big, show_progress=False),
        lambda: R.compare(toy, images, {"none": "none"}, n_steps=big, n_reference=0, run_dir=tmp_path / "cmp"),
        lambda: E.sample_store_dir("x", toy, images, n_steps=big),
        lambda: Lab(toy, images.images, images.videos, n_steps=big),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=r"n_steps = 10000000 is beyond any sampler's use"):
            call()
    assert not any(tmp_path.iterdir())

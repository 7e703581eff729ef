"""Schedules against diffusers' own schedulers, and their internal consistency."""
from __future__ import annotations

import math

import pytest
import torch

from cilnb.schedules import EDMSchedule, FlowSchedule, VPSchedule, from_diffusers

diffusers = pytest.importorskip("diffusers")

BETAS = [("linear", 1e-4, 0.02), ("scaled_linear", 0.00085, 0.012), ("squaredcos_cap_v2", 1e-4, 0.02)]


@pytest.mark.parametrize("kind,b0,b1", BETAS)
@pytest.mark.parametrize("zero_snr", [False, True])
@pytest.mark.parametrize("cls", ["DDPMScheduler", "DDIMScheduler"])
def test_vp_alphas_cumprod_match_diffusers(cls, kind, b0, b1, zero_snr):
    sch = getattr(diffusers, cls)(beta_schedule=kind, beta_start=b0, beta_end=b1, rescale_betas_zero_snr=zero_snr)
    ours = from_diffusers(sch)
    assert isinstance(ours, VPSchedule)
    t = (torch.arange(1000, dtype=torch.float64) + 1) / 1000
    torch.testing.assert_close(ours.alpha(t) ** 2, sch.alphas_cumprod.double(), atol=2e-6, rtol=1e-5)
    torch.testing.assert_close(ours.to_native(t), torch.arange(1000, dtype=torch.float64))
    if zero_snr:
        assert ours.alpha(1.0).item() == pytest.approx(0.0, abs=1e-7)


def test_vp_trailing_grid_matches_ddim_trailing_timesteps():
    sch = diffusers.DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, timestep_spacing="trailing")
    sch.set_timesteps(50)
    ours = from_diffusers(sch)
    torch.testing.assert_close(ours.to_native(ours.grid(50)), sch.timesteps.double())


def test_vp_start_respaces_the_grid():
    s = VPSchedule()
    g = s.grid(50, start=0.96)
    assert len(g) == 50 and g[0].item() == pytest.approx(0.96) and (g[1:] < g[:-1]).all()
    native = s.to_native(g)
    assert torch.equal(native, native.round())  # integer timesteps for discrete models


def test_cogvideox_snr_shift_matches_its_scheduler():
    sch = diffusers.CogVideoXDDIMScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, snr_shift_scale=3.0, rescale_betas_zero_snr=True
    )
    ours = from_diffusers(sch)
    t = (torch.arange(1000, dtype=torch.float64) + 1) / 1000
    torch.testing.assert_close(ours.alpha(t) ** 2, sch.alphas_cumprod.double(), atol=2e-6, rtol=1e-5)


def test_edm_matches_svd_euler_karras_sigmas():
    sch = diffusers.EulerDiscreteScheduler(
        use_karras_sigmas=True, timestep_type="continuous", sigma_min=0.002, sigma_max=700.0,
        prediction_type="v_prediction", interpolation_type="linear",
    )
    sch.set_timesteps(25)
    ours = from_diffusers(sch)
    assert isinstance(ours, EDMSchedule) and ours.sigma_max == 700.0
    torch.testing.assert_close(ours.sigma(ours.grid(25)), sch.sigmas[:-1].double(), rtol=2e-6, atol=1e-6)
    assert sch.sigmas[-1] == 0  # every sampler ends with the step to sigma = 0, as ours do


def test_edm_start_sigma_rebuilds_karras_with_sigma_max():
    ours = EDMSchedule(sigma_max=700.0)
    m = ours.parse_start(native=100.0)
    rebuilt = diffusers.EulerDiscreteScheduler(
        use_karras_sigmas=True, timestep_type="continuous", sigma_min=0.002, sigma_max=100.0, interpolation_type="linear"
    )
    rebuilt.set_timesteps(25)
    torch.testing.assert_close(ours.sigma(ours.grid(25, m)), rebuilt.sigmas[:-1].double(), rtol=2e-6, atol=1e-6)
    assert ours.to_native(m).item() == pytest.approx(100.0)
    with pytest.raises(ValueError, match="sigma must lie"):
        ours.parse_start(native=800.0)


@pytest.mark.parametrize("shift", [1.0, 3.0, 7.0])
def test_flow_matches_flowmatch_euler_sigmas(shift):
    sch = diffusers.FlowMatchEulerDiscreteScheduler(shift=shift)
    sch.set_timesteps(30)
    ours = from_diffusers(sch)
    assert isinstance(ours, FlowSchedule)
    g = ours.grid(30)
    torch.testing.assert_close(ours.sigma(g), sch.sigmas[:-1].double(), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ours.to_native(g), sch.timesteps.double(), atol=1e-3, rtol=1e-6)
    torch.testing.assert_close(ours.alpha(g) + ours.sigma(g), torch.ones_like(g))


def test_unipc_on_flow_sigmas_is_a_flow_schedule():
    """Wan's hub scheduler: UniPC with use_flow_sigmas and flow_shift is flow matching, not VP."""
    sch = diffusers.UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0)
    ours = from_diffusers(sch)
    assert isinstance(ours, FlowSchedule) and ours.shift == 5.0


def test_dynamic_shifting_is_refused():
    sch = diffusers.FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True)
    with pytest.raises(ValueError, match="dynamic"):
        from_diffusers(sch)


@pytest.mark.parametrize("sched", [VPSchedule(), VPSchedule(beta_schedule="squaredcos_cap_v2"), EDMSchedule(), FlowSchedule(3.0)], ids=repr)
def test_native_round_trip_and_monotone_snr(sched):
    t = torch.linspace(0.01, 1.0, 37, dtype=torch.float64)
    torch.testing.assert_close(sched.from_native(sched.to_native(t)), t)
    snr = sched.log_snr(t)
    assert (snr[1:] < snr[:-1]).all(), "log-SNR must fall with t"


def test_vp_is_variance_preserving_and_clean_at_zero():
    s = VPSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    t = torch.rand(100, dtype=torch.float64)
    torch.testing.assert_close(s.alpha(t) ** 2 + s.sigma(t) ** 2, torch.ones_like(t))
    assert s.alpha(0.0).item() == 1.0 and s.sigma(0.0).item() == 0.0


def test_add_noise_and_validation():
    s = VPSchedule()
    x0, eps = torch.randn(2, 3, 1, 4, 4), torch.randn(2, 3, 1, 4, 4)
    xt = s.add_noise(x0, torch.tensor([0.2, 0.9]), eps)
    a, sg = s.alpha(0.9).item(), s.sigma(0.9).item()
    torch.testing.assert_close(xt[1], (a * x0[1] + sg * eps[1]).float())
    for bad in (1.2, -0.1, float("nan")):
        with pytest.raises(ValueError):
            s.alpha(bad)
    with pytest.raises(ValueError, match="one entry per batch"):
        s.add_noise(x0, torch.tensor([0.1, 0.2, 0.3]), eps)
    with pytest.raises(ValueError):
        s.grid(0)
    with pytest.raises(ValueError, match="start M"):
        s.grid(10, start=0.0)
    with pytest.raises(ValueError):
        VPSchedule(beta_start=0.02, beta_end=0.01)
    with pytest.raises(ValueError, match="unknown beta"):
        VPSchedule(beta_schedule="cosine2")
    assert math.isfinite(float(EDMSchedule().log_snr(0.5)))

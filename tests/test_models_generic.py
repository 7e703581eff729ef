"""The generic adapter with a tiny stand-in for LVDM's LatentDiffusion.apply_model (DynamiCrafter / VideoCrafter1 shape)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import cilnb.models
from cilnb.analytic_init import MomentStats
from cilnb.models.generic import GenericAdapter, RescaledVPSchedule, dynamicrafter_scale_arr, ldm_schedule
from cilnb.probe import one_step_predictions
from cilnb.sampling import initial_noise, sample

B, C, F, H = 2, 4, 3, 6  # batch, latent channels, frames, latent size
D = 8  # context width


class TinyLVDM(nn.Module):
    """Stand-in with LVDM's shapes: apply_model(x [B, C, F, h, w], t long [B], cond={'c_concat': [..], 'c_crossattn': [..]}, fs=)."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv = nn.Conv3d(2 * C, C, 3, padding=1)
        self.t_proj, self.ctx, self.fs = nn.Linear(16, C), nn.Linear(D, C), nn.Embedding(64, C)
        self.enc = nn.Conv2d(3, C, 2, stride=2)
        self.dec = nn.ConvTranspose2d(C, 3, 2, stride=2)
        for p in self.parameters():
            p.data = torch.randn(p.shape, generator=g) * 0.3
        self.scale_factor = 0.5

    def apply_model(self, x_noisy, t, cond, fs=None):
        assert t.dtype == torch.long and x_noisy.shape[1] == C  # integer DDPM steps, channels first
        xc = torch.cat([x_noisy] + cond["c_concat"], dim=1)
        ctx = torch.cat(cond["c_crossattn"], dim=1).mean(1)
        freqs = torch.exp(-math.log(1000.0) * torch.arange(8) / 8)
        temb = torch.cat([torch.sin(t[:, None] * freqs), torch.cos(t[:, None] * freqs)], 1)
        emb = self.t_proj(temb) + self.ctx(ctx) + (0 if fs is None else self.fs(fs))
        return torch.tanh(self.conv(xc)) + emb[:, :, None, None, None]

    def encode_first_stage(self, x):
        return self.enc(x) * self.scale_factor

    def decode_first_stage(self, z):
        return self.dec(z / self.scale_factor)


def make_cond(cond, frames, uncond):
    """The DynamiCrafter recipe of docs/real_models.md: concat the image latent over frames, text+image context, fs."""
    ctx = cond["uc_context"] if uncond else cond["context"]
    img = cond["y"][:, :, None].expand(-1, -1, frames, -1, -1)
    return {"c_crossattn": [ctx], "c_concat": [img]}, {"fs": cond["fs"]}


@pytest.fixture(scope="module")
def net():
    return TinyLVDM().eval()


def _cond(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"y": torch.randn((B, C, H, H), generator=g), "context": torch.randn((B, 5, D), generator=g),
            "uc_context": torch.randn((B, 5, D), generator=g), "fs": torch.tensor([3, 24])}


def _adapter(net, prediction, schedule, g=7.5):
    return GenericAdapter(net.apply_model, schedule, prediction, make_cond=make_cond, guidance_scale=g, n_frames=F,
                          encode_fn=net.encode_first_stage, decode_fn=net.decode_first_stage, scaling_factor=net.scale_factor)


def _raw(net, x_bcfhw, t_long, cond, g):
    """What an LVDM DDIM sampler feeds its update: e_t_uncond + g (e_t_cond - e_t_uncond)."""
    c, kw = make_cond(cond, F, False)
    u, ukw = make_cond(cond, F, True)
    out_c, out_u = net.apply_model(x_bcfhw, t_long, c, **kw), net.apply_model(x_bcfhw, t_long, u, **ukw)
    return out_u + g * (out_c - out_u)


def test_ldm_linear_schedule_is_sqrt_linear():
    """LVDM make_beta_schedule('linear'): betas = linspace(sqrt(0.00085), sqrt(0.012), 1000)**2."""
    betas = np.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=np.float64) ** 2
    abar = np.cumprod(1 - betas)
    np.testing.assert_allclose(ldm_schedule().alphas_cumprod.numpy(), abar, rtol=1e-12)
    zs = ldm_schedule(zero_snr=True)
    assert float(zs.alpha(1.0)) == 0.0 and float(zs.alphas_cumprod[0]) == pytest.approx(abar[0], rel=1e-12)


@pytest.mark.parametrize("prediction,zero_snr", [("eps", False), ("v", True)])
def test_x0_hat_equals_pred_original_sample(net, prediction, zero_snr):
    DDIMScheduler = pytest.importorskip("diffusers").DDIMScheduler

    sch = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                        prediction_type="epsilon" if prediction == "eps" else "v_prediction", rescale_betas_zero_snr=zero_snr)
    sch.set_timesteps(50)
    ad = _adapter(net, prediction, ldm_schedule(zero_snr=zero_snr))
    cond = _cond()
    g = torch.Generator().manual_seed(1)
    for step in [999, 500, 20]:
        x = torch.randn((B, C, F, H, H), generator=g)
        t_long = torch.full((B,), step, dtype=torch.long)
        with torch.no_grad():
            ref = sch.step(_raw(net, x, t_long, cond, 7.5), step, x).pred_original_sample
            ours = ad(x.permute(0, 2, 1, 3, 4), torch.full((B,), (step + 1) / 1000, dtype=torch.float64), **cond)
        if prediction == "eps" and step == 999:
            assert float(ad.schedule.alpha(1.0)) > 0
        torch.testing.assert_close(ours, ref.permute(0, 2, 1, 3, 4), rtol=1e-4, atol=1e-4)


def _ddim_reference(net, x, timesteps, abar, cond, g, prediction, scale=None):
    """DynamiCrafter's p_sample_ddim (eta = 0) over the given DDPM steps, final alpha 1; optional dynamic rescale.
    Returns the state after every step and the final pred_x0."""
    xs = []
    for i, step in enumerate(timesteps):
        a = float(abar[step])
        a_prev = float(abar[timesteps[i + 1]]) if i + 1 < len(timesteps) else 1.0
        out = _raw(net, x.float(), torch.full((x.shape[0],), int(step), dtype=torch.long), cond, g).double()
        if prediction == "v":
            e_t = a**0.5 * out + (1 - a) ** 0.5 * x
            x0 = a**0.5 * x - (1 - a) ** 0.5 * out
        else:
            e_t, x0 = out, (x - (1 - a) ** 0.5 * out) / a**0.5
        if scale is not None:  # pred_x0 *= scale_prev / scale_t (their ddim_scale_arr_prev)
            s_prev = float(scale[timesteps[i + 1]]) if i + 1 < len(timesteps) else float(scale[step])
            x0 = x0 * s_prev / float(scale[step])
        x = a_prev**0.5 * x0 + (1 - a_prev) ** 0.5 * e_t
        xs.append(x)
    return xs, x0


def test_sampling_from_T_reproduces_diffusers_ddim(net):
    """M = T: DDIMScheduler (trailing, final alpha 1) driven by apply_model gives our video."""
    DDIMScheduler = pytest.importorskip("diffusers").DDIMScheduler

    sch = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                        set_alpha_to_one=True, timestep_spacing="trailing")
    ad = _adapter(net, "eps", ldm_schedule())
    cond = _cond(2)
    x_T = initial_noise(ad, [5, 6], (F, C, H, H), 1.0)
    sch.set_timesteps(5)
    x = x_T.permute(0, 2, 1, 3, 4).clone()
    with torch.no_grad():
        for t in sch.timesteps:
            x = sch.step(_raw(net, x, torch.full((B,), int(t), dtype=torch.long), cond, 7.5), t, x).prev_sample
        ours = sample(ad, cond["y"], n_steps=5, start=1.0, sampler="ddim", seed=[5, 6], frames=F, cond=cond, show_progress=False)
    torch.testing.assert_close(ours, x.permute(0, 2, 1, 3, 4), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("M", [0.96, 0.8])
def test_start_below_T_matches_dynamicrafter_respacing(net, M):
    """M < T: DDIM over DynamiCrafter's 'uniform_trailing' steps for ddpm_from = M T (all n steps re-spaced over [0, M])."""
    sched = ldm_schedule(zero_snr=True)
    ad = _adapter(net, "v", sched)
    cond = _cond(3)
    n, MT = 6, round(M * 1000)
    steps = (np.round(np.arange(MT, 0, -MT / n)) - 1).astype(int)  # their make_ddim_timesteps, flipped to descending
    seen = []
    x_M = initial_noise(ad, [1, 2], (F, C, H, H), M)
    with torch.no_grad():
        ours = sample(ad, cond["y"], n_steps=n, start=M, sampler="ddim", seed=[1, 2], frames=F, cond=cond,
                      callback=lambda d: seen.append(d["t"]), show_progress=False)
        ref, _ = _ddim_reference(net, x_M.permute(0, 2, 1, 3, 4).double(), steps, sched.alphas_cumprod, cond, 7.5, "v")
    np.testing.assert_allclose(np.array(seen) * 1000 - 1, steps, atol=1e-6)
    torch.testing.assert_close(ours.double(), ref[-1].permute(0, 2, 1, 3, 4), rtol=1e-4, atol=1e-4)


def test_dynamic_rescale_matches_dynamicrafters_ddim(net):
    """use_dynamic_rescale: same states as DynamiCrafter's sampler (pred_x0 *= s_prev / s_t); our final video is the
    clean X0 (their last pred_x0 divided by s at the last step)."""
    scale = dynamicrafter_scale_arr()
    sched = RescaledVPSchedule(ldm_schedule(zero_snr=True), scale)
    ad = _adapter(net, "v", sched)
    cond = _cond(4)
    steps = (np.round(np.arange(1000, 0, -1000 / 5)) - 1).astype(int)
    xs = []
    x_T = initial_noise(ad, [3, 4], (F, C, H, H), 1.0)
    with torch.no_grad():
        ours = sample(ad, cond["y"], n_steps=5, start=1.0, sampler="ddim", seed=[3, 4], frames=F, cond=cond,
                      callback=lambda d: xs.append(d["x"]), show_progress=False)
        ref, last_x0 = _ddim_reference(net, x_T.permute(0, 2, 1, 3, 4).double(), steps, sched.alphas_cumprod, cond, 7.5, "v", scale)
    for i in range(1, 5):
        torch.testing.assert_close(xs[i].double(), ref[i - 1].permute(0, 2, 1, 3, 4), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ours.double(), (last_x0 / float(scale[steps[-1]])).permute(0, 2, 1, 3, 4), rtol=1e-4, atol=1e-4)
    assert float(sched.alpha(0.9)) == pytest.approx(float(ldm_schedule(zero_snr=True).alpha(0.9)) * 0.7, rel=1e-12)


@pytest.mark.parametrize("rescaled", [False, True])
def test_analytic_init_draws_have_the_requested_moments(net, rescaled):
    """Eq. (5) at M = 0.9: mean alpha_M E[X0], variance alpha_M^2 tr(Cov)/d + sigma_M^2 (alpha includes s(t) when rescaled)."""
    vp = ldm_schedule(zero_snr=True)
    ad = _adapter(net, "v", RescaledVPSchedule(vp, dynamicrafter_scale_arr()) if rescaled else vp)
    shape = (F, C, H, H)
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(shape, generator=g, dtype=torch.float64)
    var = torch.rand(shape, generator=g, dtype=torch.float64) + 0.2
    stats = MomentStats.from_moments(mean, var)
    abar = float(vp.alphas_cumprod[899])
    alpha = abar**0.5 * (0.7 if rescaled else 1.0)
    want_mean, want_var = alpha * mean, alpha**2 * float(var.mean()) + 1 - abar
    n = 1500
    x = initial_noise(ad, list(range(n)), shape, 0.9, "analytic", stats).double()
    z = (x - want_mean) / math.sqrt(want_var)
    d = mean.numel()
    assert abs(float(z.mean())) < 4 / math.sqrt(n * d)
    assert float(z.var()) == pytest.approx(1.0, abs=4 * math.sqrt(2 / (n * d)) + 1e-5)


def test_probe_vae_helpers_and_load(net):
    ad = cilnb.models.load("generic", net.apply_model, schedule=ldm_schedule(), prediction="eps", make_cond=make_cond,
                           guidance_scale=1.0, n_frames=F, encode_fn=net.encode_first_stage, decode_fn=net.decode_first_stage)
    assert isinstance(ad, GenericAdapter) and ad.model is net  # the owning module is registered (device/dtype visible)
    video = torch.rand((B, F, 3, 2 * H, 2 * H), generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        lat = ad.encode_video(video)
        torch.testing.assert_close(lat[1], net.encode_first_stage(video[1]))
        assert ad.decode_latents(lat).shape == video.shape
    cond = _cond()
    cond.pop("y")
    pred = one_step_predictions(ad, lat, [0.2, 0.9], cond=cond)  # y defaults to the first latent frame
    assert pred.shape == (B, 2, F, C, H, H) and torch.isfinite(pred).all()


def test_bad_inputs_raise_clear_errors(net):
    with pytest.raises(ValueError, match="callable"):
        cilnb.models.load("generic")
    with pytest.raises(ValueError, match="make_cond"):
        GenericAdapter(net.apply_model, guidance_scale=3.0)(torch.zeros((1, F, C, H, H)), torch.tensor([0.5]), **{k: v[:1] for k, v in _cond().items()})
    with pytest.raises(ValueError, match="prediction"):
        GenericAdapter(net.apply_model, prediction="flow")
    with pytest.raises(ValueError, match="scale_arr"):
        RescaledVPSchedule(ldm_schedule(), torch.ones(10))

"""Wan 2.1 I2V and LTX-Video I2V adapters on tiny random pipelines.

References are diffusers' own computations: the transformers called the way the pipelines call
them, ``FlowMatchEulerDiscreteScheduler`` (sigmas, ``step``), ``calculate_shift``, the pipelines'
``prepare_latents``/``encode_image`` and ``__call__``.
"""
from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")

from diffusers import (  # noqa: E402
    AutoencoderKLLTXVideo,
    AutoencoderKLWan,
    FlowMatchEulerDiscreteScheduler,
    LTXImageToVideoPipeline,
    LTXVideoTransformer3DModel,
    UniPCMultistepScheduler,
    WanImageToVideoPipeline,
    WanTransformer3DModel,
)
from diffusers.pipelines.ltx.pipeline_ltx_image2video import calculate_shift  # noqa: E402
from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection  # noqa: E402

from cilnb import sampling  # noqa: E402
from cilnb.analytic_init import MomentStats  # noqa: E402
from cilnb.models import flow_video  # noqa: E402
from cilnb.models.base import WeightsNotFoundError  # noqa: E402
from cilnb.models.flow_video import LTXFlowSchedule, LTXI2VAdapter, WanI2VAdapter, flow_schedule, ltx_mu  # noqa: E402
from cilnb.schedules import FlowSchedule  # noqa: E402

from _tiny import TXT, random_image  # noqa: E402  (the embeds fixture is conftest's)

WAN_PX, WAN_NF, WAN_LAT = 32, 9, (3, 16, 4, 4)
LTX_PX, LTX_NF, LTX_LAT = 32, 9, (3, 8, 8, 8)
LTX_SCHED = dict(use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05, base_image_seq_len=1024, max_image_seq_len=4096,
                 shift_terminal=0.1)  # LTX-Video's released scheduler config


# ----------------------------------------------------------------------------------------------
# tiny pipelines (configs after diffusers' own fast tests)
# ----------------------------------------------------------------------------------------------


def _wan_transformer(image_dim=4):
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=36, out_channels=16, text_dim=32,
        freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
        image_dim=image_dim,
    )


def _wan(two_experts=False):
    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True])
    kw = {}
    if two_experts:  # Wan 2.2 A14B layout: two experts split at boundary_ratio, no CLIP tokens
        kw = dict(transformer=_wan_transformer(None), transformer_2=_wan_transformer(None), boundary_ratio=0.6)
    else:
        kw = dict(
            transformer=_wan_transformer(),
            image_encoder=CLIPVisionModelWithProjection(CLIPVisionConfig(
                hidden_size=4, projection_dim=4, num_hidden_layers=2, num_attention_heads=2, image_size=8,
                intermediate_size=16, patch_size=2)),
            image_processor=CLIPImageProcessor(crop_size=8, size=8),
        )
    pipe = WanImageToVideoPipeline(tokenizer=None, text_encoder=None, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), **kw)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _ltx():
    torch.manual_seed(0)
    tr = LTXVideoTransformer3DModel(in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4,
                                    attention_head_dim=8, cross_attention_dim=32, num_layers=1, caption_channels=32)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False), decoder_inject_noise=(False,) * 5, upsample_residual=(False,) * 4,
        upsample_factor=(1, 1, 1, 1), timestep_conditioning=False, patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False,
    )
    vae.use_framewise_encoding = vae.use_framewise_decoding = False
    pipe = LTXImageToVideoPipeline(scheduler=FlowMatchEulerDiscreteScheduler(**LTX_SCHED), vae=vae, text_encoder=None,
                                   tokenizer=None, transformer=tr)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def wan_pipe():
    return _wan()


@pytest.fixture(scope="module")
def wan(wan_pipe, embeds):
    m = WanI2VAdapter(wan_pipe)
    m.set_prompt_embeds(*embeds)
    return m


@pytest.fixture(scope="module")
def wan_cond(wan):
    """The Wan conditioning of the test image (computed once: the VAE is the slow part)."""
    return wan.prepare_condition(random_image(WAN_PX)[1], num_frames=WAN_NF)


@pytest.fixture(scope="module")
def ltx_pipe():
    return _ltx()


@pytest.fixture(scope="module")
def ltx(ltx_pipe, embeds):
    m = LTXI2VAdapter(ltx_pipe, num_frames=LTX_NF, height=LTX_PX, width=LTX_PX)
    m.set_prompt_embeds(embeds[0], None, embeds[1], None)
    return m


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _calls(module):
    """Forward pre-hook recording the keyword arguments of every call; use as a context manager."""

    class Spy:
        def __enter__(self):
            self.calls = []
            self.h = module.register_forward_pre_hook(lambda m, a, kw: self.calls.append(kw), with_kwargs=True)
            return self

        def __exit__(self, *exc):
            self.h.remove()

    return Spy()


# ----------------------------------------------------------------------------------------------
# the flow algebra and the schedules
# ----------------------------------------------------------------------------------------------


def test_ddim_on_flow_is_flowmatch_euler():
    """On alpha = 1 - t, sigma = t a DDIM step is the Euler step x + (t' - t) u of the velocity ODE."""
    sched = FlowSchedule(shift=3.0)
    x, u = _rand(2, 3, 4, 2, 2, seed=1), _rand(2, 3, 4, 2, 2, seed=2)

    class Const(torch.nn.Module):
        schedule = sched

        def forward(self, x_t, t, **_):
            return x_t - t.view(-1, 1, 1, 1, 1).float() * u  # x0 of a constant velocity u

    ts = torch.tensor([0.8, 0.45], dtype=torch.float64)
    seen = []
    sampling.sample_ddim(Const(), x, ts, callback=lambda d: seen.append(d["x"]), disable=True)
    fm = FlowMatchEulerDiscreteScheduler()
    fm.set_timesteps(sigmas=[0.8, 0.45])
    ref = fm.step(u, fm.timesteps[0], x).prev_sample
    torch.testing.assert_close(seen[1], ref, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(seen[1], x + (0.45 - 0.8) * u, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("n", [1, 2, 4, 25])
@pytest.mark.parametrize("seq", [192, 2000, 7392])
def test_ltx_grid_at_T_is_the_pipelines(n, seq):
    cfg = dict(num_train_timesteps=1000, **LTX_SCHED)
    mu = calculate_shift(seq, cfg["base_image_seq_len"], cfg["max_image_seq_len"], cfg["base_shift"], cfg["max_shift"])
    assert ltx_mu(seq, cfg) == pytest.approx(mu, rel=1e-12)
    if n == 1:
        assert LTXFlowSchedule(math.exp(mu), shift_terminal=0.1).grid(1).tolist() == [1.0]
        return
    fm = FlowMatchEulerDiscreteScheduler(**LTX_SCHED)
    fm.set_timesteps(sigmas=np.linspace(1.0, 1 / n, n), mu=mu)
    ours = LTXFlowSchedule(math.exp(mu), shift_terminal=0.1).grid(n)
    torch.testing.assert_close(ours.float(), fm.sigmas[:-1], rtol=1e-5, atol=1e-6)
    fm = FlowMatchEulerDiscreteScheduler(**dict(LTX_SCHED, shift_terminal=None))
    fm.set_timesteps(sigmas=np.linspace(1.0, 1 / n, n), mu=mu)
    torch.testing.assert_close(LTXFlowSchedule(math.exp(mu)).grid(n).float(), fm.sigmas[:-1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("M", [0.3, 0.8, 1.0])
def test_ltx_grid_below_T_is_documented(M):
    s = LTXFlowSchedule(shift=4.0, shift_terminal=0.1)
    n = 6
    g = s.grid(n, M)
    u = float(s.unshifted(M)) * torch.arange(n, 0, -1, dtype=torch.float64) / n
    z = s.shift * u / (1 + (s.shift - 1) * u)
    want = M - (M - z) * M * 0.9 / (M - z[-1])  # stretch fixing M, ending at shift_terminal * M
    torch.testing.assert_close(g, want)
    assert g[0] == pytest.approx(M) and g[-1] == pytest.approx(0.1 * M)
    assert bool((g[1:] < g[:-1]).all())


def test_wan_schedule_and_hub_unipc():
    assert flow_schedule(FlowMatchEulerDiscreteScheduler(shift=7.0)).shift == 7.0
    uni = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    s = flow_schedule(uni)  # the Wan hub's scheduler, VP-like by name: read as flow from use_flow_sigmas
    assert isinstance(s, FlowSchedule) and s.shift == 3.0
    # FlowSchedule's grid is FlowMatchEuler's sigmas (what the tiny pipelines below sample with)
    fm = FlowMatchEulerDiscreteScheduler(shift=7.0)
    fm.set_timesteps(5)
    torch.testing.assert_close(FlowSchedule(shift=7.0).grid(5).float(), fm.sigmas[:-1], rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# Wan 2.1 I2V
# ----------------------------------------------------------------------------------------------


def test_wan_prepare_condition_matches_pipeline(wan_pipe, wan):
    pil, img = random_image(WAN_PX)
    cond = wan.prepare_condition(img, num_frames=WAN_NF)
    proc = wan_pipe.video_processor.preprocess(pil, height=WAN_PX, width=WAN_PX)
    _, ref = wan_pipe.prepare_latents(proc, 1, 16, WAN_PX, WAN_PX, WAN_NF, torch.float32, "cpu", None, torch.zeros(1, 16, 3, 4, 4))
    torch.testing.assert_close(cond["condition"], ref.permute(0, 2, 1, 3, 4))  # [B, F, 4 mask + 16, h, w]
    torch.testing.assert_close(cond["y"], ref[:, 4:, 0])
    torch.testing.assert_close(cond["image_embeds"], wan_pipe.encode_image(pil, "cpu"))
    assert wan.n_frames == 3  # num_frames (pixel) sets the latent frame count sample() draws


def test_wan_x0_equals_x_minus_sigma_velocity(wan_pipe, wan, wan_cond, embeds):
    cond = wan_cond
    fm = wan_pipe.scheduler
    fm.set_timesteps(4)
    x = _rand(1, *WAN_LAT, seed=3)
    for i in range(4):
        sigma, ts = float(fm.sigmas[i]), fm.timesteps[i : i + 1]
        # the transformer called as the pipeline calls it: [B, C, F, H, W], condition on channels
        hidden = torch.cat([x.permute(0, 2, 1, 3, 4), cond["condition"].permute(0, 2, 1, 3, 4)], dim=1)
        u = wan_pipe.transformer(hidden_states=hidden, timestep=ts, encoder_hidden_states=embeds[0],
                                 encoder_hidden_states_image=cond["image_embeds"], return_dict=False)[0]
        ref = x - sigma * u.permute(0, 2, 1, 3, 4)
        got = wan(x, torch.tensor([sigma], dtype=torch.float64), **cond)
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("guidance", [1.0, 4.0])
def test_wan_sample_at_T_reproduces_pipeline(wan_pipe, wan_cond, embeds, guidance):
    pil, _ = random_image(WAN_PX)
    m = WanI2VAdapter(wan_pipe, guidance_scale=guidance)
    m.set_prompt_embeds(*embeds)
    cond = dict(wan_cond)
    y = cond.pop("y")
    got = sampling.sample(m, y, n_steps=4, start=1.0, sampler="ddim", seed=4, frames=WAN_LAT[0], cond=cond, show_progress=False)
    init = sampling.initial_noise(m, [4], WAN_LAT, 1.0)
    ref = wan_pipe(image=pil, prompt_embeds=embeds[0], negative_prompt_embeds=embeds[1], guidance_scale=guidance,
                   num_inference_steps=4, num_frames=WAN_NF, height=WAN_PX, width=WAN_PX,
                   latents=init.permute(0, 2, 1, 3, 4), output_type="latent").frames
    torch.testing.assert_close(got, ref.permute(0, 2, 1, 3, 4), rtol=1e-4, atol=1e-4)


def test_wan_two_experts_reproduce_pipeline(embeds):
    pipe = _wan(two_experts=True)
    pil, img = random_image(WAN_PX)
    m = WanI2VAdapter(pipe)
    m.set_prompt_embeds(*embeds)
    cond = m.prepare_condition(img, num_frames=WAN_NF)
    assert "image_embeds" not in cond
    y = cond.pop("y")
    with _calls(pipe.transformer) as hi, _calls(pipe.transformer_2) as lo:
        got = sampling.sample(m, y, n_steps=4, start=1.0, sampler="ddim", seed=6, frames=WAN_LAT[0], cond=cond, show_progress=False)
    assert len(hi.calls) > 0 and len(lo.calls) > 0 and len(hi.calls) + len(lo.calls) == 4
    init = sampling.initial_noise(m, [6], WAN_LAT, 1.0)
    ref = pipe(image=pil, prompt_embeds=embeds[0], guidance_scale=1.0, num_inference_steps=4, num_frames=WAN_NF,
               height=WAN_PX, width=WAN_PX, latents=init.permute(0, 2, 1, 3, 4), output_type="latent").frames
    torch.testing.assert_close(got, ref.permute(0, 2, 1, 3, 4), rtol=1e-4, atol=1e-4)


def test_wan_start_M_matches_flowmatch_euler_loop(wan_pipe, wan, wan_cond):
    cond = dict(wan_cond)
    y = cond.pop("y")
    M, n = 0.7, 3
    with _calls(wan.transformer) as spy:
        got = sampling.sample(wan, y, n_steps=n, start=M, sampler="ddim", seed=2, frames=WAN_LAT[0], cond=cond, show_progress=False)
    grid = wan.schedule.grid(n, M)
    # documented grid: u uniform from unshift(M) to shift(1/T), then shifted (FlowMatchEuler's construction from M)
    s = 7.0
    lo = s * 1e-3 / (1 + (s - 1) * 1e-3)
    u = torch.linspace(M / (s - (s - 1) * M), lo, n, dtype=torch.float64)
    torch.testing.assert_close(grid, s * u / (1 + (s - 1) * u))
    assert [float(kw["timestep"][0]) for kw in spy.calls] == pytest.approx((grid * 1000).tolist(), rel=1e-6)
    fm = FlowMatchEulerDiscreteScheduler()  # shift 1: takes the given sigmas as they are
    fm.set_timesteps(sigmas=grid.tolist())
    x = sampling.initial_noise(wan, [2], WAN_LAT, M)
    for i, tt in enumerate(fm.timesteps):
        u_i = wan.raw_output(x, grid[i : i + 1], y, **cond)
        x = fm.step(u_i, tt, x).prev_sample
    torch.testing.assert_close(got, x, rtol=1e-4, atol=1e-4)


def test_flow_analytic_init_moments(wan):
    g = torch.Generator().manual_seed(3)
    shape = (2, 4, 2, 2)
    mean = torch.randn(shape, generator=g, dtype=torch.float64)
    var = torch.rand(shape, generator=g, dtype=torch.float64) + 0.5
    stats = MomentStats.from_moments(mean, var)
    M, N = 0.6, 4000
    x = sampling.initial_noise(wan, list(range(N)), shape, M, init="analytic", stats=stats).double()
    want_var = (1 - M) ** 2 * float(var.mean()) + M**2  # alpha_M = 1 - M, sigma_M = M
    assert float((x.mean(0) - (1 - M) * mean).abs().max()) < 5 * (want_var / N) ** 0.5
    assert abs(float(x.var(0).mean()) / want_var - 1) < 0.03


def test_wan_y_drives_condition_frame0(wan, wan_cond):
    cond = dict(wan_cond)
    cond["y"] = _rand(1, *WAN_LAT[1:], seed=5)  # a different image latent than the one in condition
    x = _rand(1, *WAN_LAT, seed=6)
    with _calls(wan.transformer) as spy:
        wan(x, torch.tensor([0.5]), **cond)
    h = spy.calls[0]["hidden_states"]  # what the transformer sees: [B, 16 + 4 + 16, F, h, w]
    assert h.shape == (1, 36, 3, 4, 4)
    torch.testing.assert_close(h[:, :16], x.permute(0, 2, 1, 3, 4))
    torch.testing.assert_close(h[:, 16:20], wan_cond["condition"][:, :, :4].permute(0, 2, 1, 3, 4))  # mask
    torch.testing.assert_close(h[:, 20:, 0], cond["y"])
    torch.testing.assert_close(h[:, 20:, 1:], wan_cond["condition"][:, 1:, 4:].permute(0, 2, 1, 3, 4))


def test_wan_bad_inputs(wan):
    x, y = _rand(1, *WAN_LAT), _rand(1, *WAN_LAT[1:])
    with pytest.raises(ValueError, match="prepare_condition"):
        wan(x, torch.tensor([0.5]), y=y)
    with pytest.raises(ValueError, match="condition must be"):
        wan(x, torch.tensor([0.5]), y=y, condition=torch.zeros(1, 3, 16, 4, 4), image_embeds=torch.zeros(1, 17, 4))
    with pytest.raises(ValueError, match="image_embeds"):
        wan(x, torch.tensor([0.5]), y=y, condition=torch.zeros(1, 3, 20, 4, 4))
    with pytest.raises(ValueError, match="unknown conditioning"):
        wan(x, torch.tensor([0.5]), y=y, motion=torch.ones(1))
    with pytest.raises(ValueError, match="4k \\+ 1"):
        wan.prepare_condition(torch.zeros(1, 3, 32, 32), num_frames=8)


# ----------------------------------------------------------------------------------------------
# LTX-Video I2V
# ----------------------------------------------------------------------------------------------


def test_ltx_prepare_condition_matches_pipeline(ltx_pipe, ltx):
    _, img = random_image(LTX_PX)
    y = ltx.prepare_condition(img, generator=torch.Generator().manual_seed(5))["y"]
    lat, mask = ltx_pipe.prepare_latents(img, 1, 8, LTX_PX, LTX_PX, LTX_NF, torch.float32, "cpu", torch.Generator().manual_seed(5))
    ref = ltx.unpack(lat, *LTX_LAT[:1], *LTX_LAT[2:])
    torch.testing.assert_close(y, ref[:, 0])  # the pipeline puts the clean image latent in frame 0
    frame0 = torch.zeros(1, LTX_LAT[0], 1, *LTX_LAT[2:])
    frame0[:, 0] = 1
    torch.testing.assert_close(ltx.pack(frame0)[..., 0], mask)  # the pipeline's conditioning mask: frame-0 tokens


def test_ltx_x0_replaces_frame0_and_uses_per_token_timesteps(ltx_pipe, ltx, embeds):
    x, y = _rand(1, *LTX_LAT, seed=3), _rand(1, *LTX_LAT[1:], seed=4)
    fm = ltx_pipe.scheduler
    fm.set_timesteps(sigmas=np.linspace(1.0, 0.25, 4), mu=ltx.mu)
    F, C, h, w = LTX_LAT
    x_pipe = x.clone()
    x_pipe[:, 0] = y  # the pipeline's latents hold the clean image latent in frame 0
    _, mask = ltx_pipe.prepare_latents(None, 1, C, LTX_PX, LTX_PX, LTX_NF, torch.float32, "cpu", None, ltx.pack(x_pipe))
    for i in (0, 2):
        sigma, ts = float(fm.sigmas[i]), fm.timesteps[i]
        u = ltx_pipe.transformer(
            hidden_states=ltx.pack(x_pipe), encoder_hidden_states=embeds[0], timestep=ts.expand(1).unsqueeze(-1) * (1 - mask),
            encoder_attention_mask=torch.ones(1, TXT[0]), num_frames=F, height=h, width=w,
            rope_interpolation_scale=(4 / 25, 4, 4), return_dict=False,
        )[0]
        ref = x - sigma * ltx.unpack(u, F, h, w)
        ref[:, 0] = y
        with _calls(ltx.transformer) as spy:
            got = ltx(x, torch.tensor([sigma], dtype=torch.float64), y=y)
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)
        tt = spy.calls[0]["timestep"]
        assert bool((tt[:, : h * w] == 0).all()) and torch.allclose(tt[:, h * w :], ts.expand(1, F * h * w - h * w))


@pytest.mark.parametrize("guidance", [1.0, 3.0])
def test_ltx_sample_at_T_reproduces_pipeline(ltx_pipe, embeds, guidance):
    m = LTXI2VAdapter(ltx_pipe, num_frames=LTX_NF, height=LTX_PX, width=LTX_PX, guidance_scale=guidance)
    m.set_prompt_embeds(embeds[0], None, embeds[1], None)
    _, img = random_image(LTX_PX)
    y = m.prepare_condition(img)["y"]
    got = sampling.sample(m, y, n_steps=4, start=1.0, sampler="ddim", seed=9, show_progress=False)
    init = sampling.initial_noise(m, [9], LTX_LAT, 1.0)
    init[:, 0] = y  # frame 0 of the pipeline's latents is the image latent
    ones = torch.ones(1, TXT[0])
    ref = ltx_pipe(prompt_embeds=embeds[0], prompt_attention_mask=ones, negative_prompt_embeds=embeds[1],
                   negative_prompt_attention_mask=ones, guidance_scale=guidance, num_inference_steps=4, num_frames=LTX_NF,
                   height=LTX_PX, width=LTX_PX, latents=m.pack(init), output_type="latent").frames
    F, _, h, w = LTX_LAT
    torch.testing.assert_close(got, m.unpack(ref, F, h, w), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(got[:, 0], y)


def test_ltx_schedule_follows_resolution(ltx_pipe):
    m = LTXI2VAdapter(ltx_pipe, num_frames=LTX_NF, height=LTX_PX, width=LTX_PX)
    assert m.latent_size == (3, 8, 8)
    assert m.schedule.shift == pytest.approx(math.exp(calculate_shift(192, 1024, 4096, 0.95, 2.05)))
    m.set_resolution(17, 64, 64)
    assert m.latent_size == (5, 16, 16) and m.n_frames == 5
    assert m.schedule.shift == pytest.approx(math.exp(calculate_shift(5 * 16 * 16, 1024, 4096, 0.95, 2.05)))
    with pytest.raises(ValueError, match="set_resolution"):
        m(_rand(1, *LTX_LAT), torch.tensor([0.5]), y=_rand(1, *LTX_LAT[1:]))
    m.prepare_condition(torch.zeros(1, 3, 64, 32))  # the images' size (and the current 17 frames) fix the schedule
    assert m.resolution == (17, 64, 32) and m.latent_size == (5, 16, 8)
    m.prepare_condition(torch.zeros(1, 3, 32, 32), num_frames=LTX_NF)
    assert m.latent_size == (3, 8, 8)
    with pytest.raises(ValueError, match="4k \\+ 1"):
        m.set_resolution(10, 64, 64)


def test_ltx_analytic_init_enters_sampling(ltx):
    g = torch.Generator().manual_seed(1)
    mean = torch.randn(LTX_LAT, generator=g, dtype=torch.float64)
    stats = MomentStats.from_moments(mean, torch.full(LTX_LAT, 0.8, dtype=torch.float64))
    seen = []
    y = _rand(1, *LTX_LAT[1:], seed=2)
    out = sampling.sample(ltx, y, n_steps=2, start=0.8, init="analytic", stats=stats, seed=3, show_progress=False,
                          callback=lambda d: seen.append(d["x"].clone()) if d["i"] == 0 else None)
    torch.testing.assert_close(seen[0], sampling.initial_noise(ltx, [3], LTX_LAT, 0.8, init="analytic", stats=stats))
    torch.testing.assert_close(out[:, 0], y)


def test_encode_decode_shapes(wan, ltx):
    v = torch.rand(1, 5, 3, 32, 32) * 2 - 1  # 5 frames -> 2 latent frames for both tiny VAEs
    z = wan.encode_video(v)
    assert z.shape == (1, 2, *WAN_LAT[1:]) and wan.decode_latents(z).shape == v.shape
    z = ltx.encode_video(v)
    assert z.shape == (1, 2, *LTX_LAT[1:]) and ltx.decode_latents(z).shape == v.shape


def test_from_pipeline_dispatch(wan_pipe, ltx_pipe):
    assert isinstance(flow_video.from_pipeline(wan_pipe), WanI2VAdapter)
    assert isinstance(flow_video.from_pipeline(ltx_pipe, num_frames=LTX_NF, height=LTX_PX, width=LTX_PX), LTXI2VAdapter)
    with pytest.raises(ValueError, match="WanImageToVideoPipeline"):
        flow_video.from_pipeline(object())


@pytest.mark.parametrize("loader", ["load_wan", "load_ltx"])
def test_missing_weights_fail_fast(loader, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    fn = getattr(flow_video, loader)
    t0 = time.perf_counter()
    with pytest.raises(WeightsNotFoundError, match="model_path"):
        fn("cilnb-test/no-such-model", device="cpu")
    with pytest.raises(WeightsNotFoundError, match="model_index.json"):
        fn(tmp_path, device="cpu")
    models = pytest.importorskip("cilnb.models")
    if hasattr(models, "load"):  # through the registry, default hub id (not in the cache here)
        name, hub = {"load_wan": ("wan-i2v", flow_video.WAN_HUB_ID), "load_ltx": ("ltx-i2v", flow_video.LTX_HUB_ID)}[loader]
        with pytest.raises(WeightsNotFoundError, match=hub):
            models.load(name, None, device="cpu")
    assert time.perf_counter() - t0 < 10


def test_wan_condition_hook_reaches_condition_frame0(wan, wan_cond):
    """A hook that replaces y changes the latent frame 0 of condition, as passing that y does."""
    x, y = _rand(1, *WAN_LAT), _rand(1, *WAN_LAT[1:], seed=4)
    with torch.no_grad():
        ref = wan(x, torch.tensor([0.5]), **{**wan_cond, "y": y})
        with wan.condition_hook(lambda t, c: {**c, "y": y}):
            got = wan(x, torch.tensor([0.5]), **wan_cond)
    assert torch.equal(got, ref) and not torch.equal(got, wan(x, torch.tensor([0.5]), **wan_cond))


def test_every_remedy_runs_on_wan(wan, wan_cond):
    """The remedies on a flow-matching transformer adapter (Wan): each acts (the video differs from plain
    sampling), stays finite, and repeats exactly; FrameInit encodes the pixel image with Wan's VAE."""
    from cilnb import remedies

    cond = dict(wan_cond)
    y = cond.pop("y")
    pixels = random_image(WAN_PX)[1]
    # below T: at M = T a flow schedule has alpha_T = 0, where Analytic-Init is the standard prior and FrameInit's
    # frame, noised to M, is pure noise (both then equal plain sampling exactly)
    kw = dict(n_steps=2, start=0.9, sampler="ddim", seed=3, frames=WAN_LAT[0], cond=cond, show_progress=False)
    with torch.no_grad():
        stats = MomentStats().update(torch.randn(4, *WAN_LAT, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    plain = sampling.sample(wan, y, **kw)
    for name in ("analytic_init", "freeinit", "frameinit", "progressive", "alg", "cond_noise"):
        r = remedies.build(name, **({"iterations": 2} if name == "freeinit" else {}))
        got = sampling.sample(wan, y, remedy=r, images=pixels, stats=stats, **kw)
        assert got.shape == plain.shape and torch.isfinite(got).all(), name
        assert torch.equal(got, sampling.sample(wan, y, remedy=r, images=pixels, stats=stats, **kw)), name
        assert not torch.equal(got, plain), name  # each acts (cond_noise through y, which Wan writes into condition's frame 0)

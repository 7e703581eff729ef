"""PIA and I2VGen-XL adapters against diffusers' DDIMScheduler and pipelines (tiny random models, no downloads)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from cilnb.analytic_init import MomentStats
from cilnb.probe import one_step_predictions
from cilnb.sampling import initial_noise, sample
from cilnb.schedules import VPSchedule

from _tiny import tiny_i2vgenxl_pipeline, tiny_pia_pipeline

F, PX, LAT = 3, 16, 8  # frames, image size, latent size (tiny VAEs downsample by 2)


@pytest.fixture(scope="module")
def pia(tmp_path_factory):
    from cilnb.models.vp_video import pia_from_pipeline

    pipe = tiny_pia_pipeline(tmp_path_factory.mktemp("pia"), PX)
    return pipe, pia_from_pipeline(pipe, n_frames=F)


@pytest.fixture(scope="module")
def i2v(tmp_path_factory):
    from cilnb.models.vp_video import i2vgenxl_from_pipeline

    pipe = tiny_i2vgenxl_pipeline(tmp_path_factory.mktemp("i2v"), PX)
    # clip_skip=None in these tests: diffusers' I2VGenXLPipeline default clip_skip=1 reads
    # text_encoder.text_model, which transformers 5 removed (our clip_skip=1 path is tested below)
    return pipe, i2vgenxl_from_pipeline(pipe, n_frames=F, clip_skip=None)


def _images(n=1, seed=3):
    """Images in [0, 1] on the uint8 grid, so the I2VGen-XL pipeline's PIL round trip is lossless."""
    return torch.randint(0, 256, (n, 3, PX, PX), generator=torch.Generator().manual_seed(seed)).float() / 255


def _capture(pipe, **call):
    """The pipeline's own UNet inputs at its first step (forward pre-hook), for a 1-step latent-only run.

    Initial latents are given so that the generator is used only for the conditioning."""
    seen = {}

    def hook(module, args, kwargs):
        if not seen:
            seen.update(kwargs)
            seen["sample"] = args[0]
            seen["timestep"] = args[1]

    h = pipe.unet.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with torch.no_grad():
            pipe(output_type="latent", num_frames=F, num_inference_steps=1, latents=torch.zeros((1, 4, F, LAT, LAT)), **call)
    finally:
        h.remove()
    return seen


# ---------------------------------------------------------------------------------------------
# schedules
# ---------------------------------------------------------------------------------------------


def test_schedules_come_from_the_schedulers(pia, i2v):
    for pipe, ad in (pia, i2v):
        assert isinstance(ad.schedule, VPSchedule)
        n = torch.arange(0, 1000, 37)
        torch.testing.assert_close(ad.schedule.alpha((n + 1) / 1000.0) ** 2, pipe.scheduler.alphas_cumprod[n].double(), rtol=2e-5, atol=1e-7)
    assert pia[1].prediction == "eps" and i2v[1].prediction == "v"
    assert float(i2v[1].schedule.alpha(1.0)) == 0.0 and float(pia[1].schedule.alpha(1.0)) > 0  # zero terminal SNR


# ---------------------------------------------------------------------------------------------
# PIA
# ---------------------------------------------------------------------------------------------


def test_pia_prepare_condition_matches_the_pipeline(pia):
    pipe, ad = pia
    img = _images(1)
    seen = _capture(pipe, image=img, prompt="a cat", height=PX, width=PX, guidance_scale=7.5, motion_scale=4,
                    generator=torch.Generator().manual_seed(5))
    cond = ad.prepare_condition(img * 2 - 1, prompt="a cat", motion_scale=4, generator=torch.Generator().manual_seed(5))
    x = seen["sample"]  # [2B, 4 + 1 + 4, F, h, w]: latents, mask, masked image; CFG doubled
    torch.testing.assert_close(cond["y"], x[1:, 5:, 0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ad.mask_coefficients(cond["motion"], F), x[1:, 4, :, 0, 0])
    ehs = seen["encoder_hidden_states"]  # [2B * F, L, D] = negative, positive, repeated per frame
    torch.testing.assert_close(cond["negative_prompt_embeds"], ehs[:1])
    torch.testing.assert_close(cond["prompt_embeds"], ehs[F:F + 1])


@pytest.mark.parametrize("guidance", [1.0, 7.5])
def test_pia_x0_hat_equals_pred_original_sample(pia, guidance):
    pipe, ad = pia
    cond = ad.prepare_condition(_images(2) * 2 - 1, prompt=["a cat", "a dog"], motion_scale=[0, 5], seed=1)
    sch = pipe.scheduler
    sch.set_timesteps(5)
    g = torch.Generator().manual_seed(2)
    mask = ad.mask_coefficients(cond["motion"], F)[:, None, :, None, None].expand(2, 1, F, LAT, LAT)
    extra = torch.cat([mask, cond["y"][:, :, None].expand(-1, -1, F, -1, -1)], 1)
    for t in sch.timesteps[[0, 3]]:
        x = torch.randn((2, 4, F, LAT, LAT), generator=g)  # the pipeline's [B, C, F, h, w]
        with torch.no_grad():
            if guidance > 1:
                ehs = torch.cat([cond["negative_prompt_embeds"], cond["prompt_embeds"]]).repeat_interleave(F, 0)
                u, c = pipe.unet(torch.cat([torch.cat([x, extra], 1)] * 2), t, encoder_hidden_states=ehs).sample.chunk(2)
                out = u + guidance * (c - u)
            else:
                out = pipe.unet(torch.cat([x, extra], 1), t, encoder_hidden_states=cond["prompt_embeds"].repeat_interleave(F, 0)).sample
            ref = sch.step(out, t, x).pred_original_sample
            tt = torch.full((2,), (int(t) + 1) / 1000.0, dtype=torch.float64)
            ours = ad(x.permute(0, 2, 1, 3, 4), tt, guidance_scale=guidance, **cond)
        torch.testing.assert_close(ours, ref.permute(0, 2, 1, 3, 4), rtol=1e-4, atol=1e-4)


def test_pia_sampling_from_T_reproduces_the_pipeline(pia):
    """M = T, DDIM: the pipeline (trailing spacing, final alpha 1) from the same initial latents gives our video."""
    pipe, ad = pia
    img, seed, n = _images(1, seed=8), 4, 4
    x_T = initial_noise(ad, [seed], (F, 4, LAT, LAT), 1.0)
    with torch.no_grad():
        ref = pipe(image=img, prompt="a cat", height=PX, width=PX, num_frames=F, num_inference_steps=n, guidance_scale=7.5,
                   motion_scale=2, generator=torch.Generator().manual_seed(5), output_type="latent",
                   latents=x_T.permute(0, 2, 1, 3, 4) / pipe.scheduler.init_noise_sigma).frames
    cond = ad.prepare_condition(img * 2 - 1, prompt="a cat", motion_scale=2, generator=torch.Generator().manual_seed(5))
    ours = sample(ad, cond.pop("y"), n_steps=n, start=1.0, sampler="ddim", seed=seed, frames=F, cond=cond, show_progress=False)
    torch.testing.assert_close(ours, ref.permute(0, 2, 1, 3, 4), rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------------------------------------
# I2VGen-XL
# ---------------------------------------------------------------------------------------------


def test_i2vgenxl_prepare_condition_matches_the_pipeline(i2v):
    pipe, ad = i2v
    img = _images(1)
    torch.manual_seed(9)  # the pipeline samples the image latent from the global RNG
    seen = _capture(pipe, image=img, prompt="a cat", height=PX, width=PX, guidance_scale=9.0, target_fps=12, clip_skip=None)
    cond = ad.prepare_condition(img * 2 - 1, prompt="a cat", target_fps=12, generator=torch.Generator().manual_seed(9))
    il = seen["image_latents"]  # [2B, 4, F, h, w]: image latent, then position planes
    torch.testing.assert_close(cond["y"], il[1:, :, 0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(il[1, :, 1:, 0, 0], torch.tensor([1 / 2, 1.0]).expand(4, 2))
    torch.testing.assert_close(cond["image_embeds"], seen["image_embeddings"][1:], rtol=1e-4, atol=1e-5)
    assert float(seen["image_embeddings"][0].abs().max()) == 0.0
    torch.testing.assert_close(cond["negative_prompt_embeds"], seen["encoder_hidden_states"][:1])
    torch.testing.assert_close(cond["prompt_embeds"], seen["encoder_hidden_states"][1:])
    assert cond["fps"].tolist() == seen["fps"].float().tolist()[1:]


def test_i2vgenxl_clip_skip_uses_the_penultimate_layer(i2v):
    """The pipeline's default clip_skip=1: hidden_states[-2] through the final layer norm."""
    from cilnb.models.vp_video import i2vgenxl_from_pipeline

    pipe, _ = i2v
    ad = i2vgenxl_from_pipeline(pipe, clip_skip=1)
    pos, neg = ad.encode_prompt(["a cat", "dog"], batch_size=2)
    ids = pipe.tokenizer(["a cat", "dog", "", ""], padding="max_length", max_length=8, truncation=True, return_tensors="pt").input_ids
    with torch.no_grad():
        hidden = pipe.text_encoder(ids, output_hidden_states=True).hidden_states[-2]
        want = torch.nn.functional.layer_norm(hidden, (8,), pipe.text_encoder.final_layer_norm.weight,
                                              pipe.text_encoder.final_layer_norm.bias, eps=1e-5)
    torch.testing.assert_close(torch.cat([pos, neg]), want)


@pytest.mark.parametrize("guidance", [1.0, 9.0])
def test_i2vgenxl_x0_hat_equals_pred_original_sample(i2v, guidance):
    """Including t = T, where alpha = 0 (zero terminal SNR) and x0_hat = -v."""
    pipe, ad = i2v
    cond = ad.prepare_condition(_images(2) * 2 - 1, prompt=["a cat", "a dog"], target_fps=[8, 16], seed=1)
    sch = pipe.scheduler
    sch.set_timesteps(5)
    g = torch.Generator().manual_seed(2)
    pos = torch.cat([torch.ones(2, 4, 1, LAT, LAT) * k / (F - 1) for k in range(1, F)], 2)
    il = torch.cat([cond["y"][:, :, None], pos], 2)
    for t in sch.timesteps[[0, 3]]:
        x = torch.randn((2, 4, F, LAT, LAT), generator=g)
        with torch.no_grad():
            if guidance > 1:
                u, c = pipe.unet(torch.cat([x, x]), t, fps=torch.cat([cond["fps"]] * 2), image_latents=torch.cat([il, il]),
                                 image_embeddings=torch.cat([torch.zeros_like(cond["image_embeds"]), cond["image_embeds"]]),
                                 encoder_hidden_states=torch.cat([cond["negative_prompt_embeds"], cond["prompt_embeds"]]),
                                 return_dict=False)[0].chunk(2)
                out = u + guidance * (c - u)
            else:
                out = pipe.unet(x, t, fps=cond["fps"], image_latents=il, image_embeddings=cond["image_embeds"],
                                encoder_hidden_states=cond["prompt_embeds"], return_dict=False)[0]
            ref = sch.step(out, t, x).pred_original_sample
            tt = torch.full((2,), (int(t) + 1) / 1000.0, dtype=torch.float64)
            ours = ad(x.permute(0, 2, 1, 3, 4), tt, guidance_scale=guidance, **cond)
        torch.testing.assert_close(ours, ref.permute(0, 2, 1, 3, 4), rtol=1e-4, atol=1e-4)
        if int(t) == 999:
            torch.testing.assert_close(ours, -out.permute(0, 2, 1, 3, 4), rtol=1e-5, atol=1e-5)


def test_i2vgenxl_sampling_from_T_reproduces_the_pipeline(i2v):
    pipe, ad = i2v
    img, seed, n = _images(1, seed=6), 2, 4
    x_T = initial_noise(ad, [seed], (F, 4, LAT, LAT), 1.0)
    torch.manual_seed(9)
    with torch.no_grad():
        ref = pipe(image=img, prompt="a cat", height=PX, width=PX, num_frames=F, num_inference_steps=n, guidance_scale=9.0,
                   output_type="latent", clip_skip=None, latents=x_T.permute(0, 2, 1, 3, 4) / pipe.scheduler.init_noise_sigma).frames
    cond = ad.prepare_condition(img * 2 - 1, prompt="a cat", generator=torch.Generator().manual_seed(9))
    ours = sample(ad, cond.pop("y"), n_steps=n, start=1.0, sampler="ddim", seed=seed, frames=F, cond=cond, show_progress=False)
    torch.testing.assert_close(ours, ref.permute(0, 2, 1, 3, 4), rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------------------------------------
# start at M < T, Analytic-Init, probe
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("M", [0.96, 0.8, 0.5])
def test_start_below_T_respaces_ddim_over_0_M(pia, M):
    """The timesteps the UNet sees: DynamiCrafter's 'uniform_trailing' over M*T DDPM steps
    (round(arange(M T, 0, -M T / n)) - 1), not a truncation of the T-grid."""
    pipe, ad = pia
    seen = []
    hook = pipe.unet.register_forward_pre_hook(lambda m, a: seen.append(float(a[1].flatten()[0])))
    try:
        cond = {"prompt_embeds": torch.zeros((1, 8, 16)), "guidance_scale": 1.0}
        sample(ad, torch.zeros((1, 4, LAT, LAT)), n_steps=10, start=M, sampler="ddim", seed=0, frames=F, cond=cond, show_progress=False)
    finally:
        hook.remove()
    MT = M * 1000
    want = np.round(np.arange(MT, 0, -MT / 10)) - 1
    np.testing.assert_allclose(seen, want, atol=1e-3)
    assert len(seen) == 10 and seen[0] == pytest.approx(round(MT) - 1)


@pytest.mark.parametrize("which,M", [("pia", 0.9), ("i2v", 0.9), ("i2v", 1.0)])
def test_analytic_init_draws_have_the_requested_moments(pia, i2v, which, M):
    """Eq. (5): mean sqrt(abar_M) E[X0], variance abar_M tr(Cov)/d + 1 - abar_M, abar from the scheduler itself."""
    pipe, ad = pia if which == "pia" else i2v
    shape = (F, 4, LAT, LAT)
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(shape, generator=g, dtype=torch.float64) * 2
    var = torch.rand(shape, generator=g, dtype=torch.float64) * 3 + 0.5
    stats = MomentStats.from_moments(mean, var)
    abar = float(pipe.scheduler.alphas_cumprod[round(M * 1000) - 1])
    want_mean, want_var = math.sqrt(abar) * mean, abar * float(var.mean()) + 1 - abar
    n = 600
    x = initial_noise(ad, list(range(n)), shape, M, "analytic", stats).double()
    z = (x - want_mean) / math.sqrt(want_var)
    d = mean.numel()
    assert abs(float(z.mean())) < 4 / math.sqrt(n * d)
    assert float(z.var()) == pytest.approx(1.0, abs=4 * math.sqrt(2 / (n * d)) + 1e-5)
    assert float((x.mean(0) - want_mean).abs().max()) < 5 * math.sqrt(want_var / n)


def test_probe_and_vae_helpers(i2v):
    pipe, ad = i2v
    video = torch.rand((2, F, 3, PX, PX), generator=torch.Generator().manual_seed(1)) * 2 - 1
    lat = ad.encode_video(video)
    torch.testing.assert_close(lat[1], pipe.vae.encode(video[1]).latent_dist.mode() * pipe.vae.config.scaling_factor)
    frames = ad.decode_latents(lat)
    assert frames.shape == video.shape
    cond = ad.prepare_condition(video[:, 0], prompt="x", seed=0)
    cond.pop("y")
    pred = one_step_predictions(ad, lat, [0.5, 1.0], cond=cond)  # y defaults to the first latent frame: x_t's space
    assert pred.shape == (2, 2, F, 4, LAT, LAT) and torch.isfinite(pred).all()


def test_bad_inputs_raise_clear_errors(pia, i2v):
    _, ad = pia
    with pytest.raises(ValueError, match="motion_scale"):
        ad.prepare_condition(torch.zeros((1, 3, PX, PX)), prompt="x", motion_scale=11)
    with pytest.raises(ValueError, match="prepare_condition"):
        ad(torch.zeros((1, F, 4, LAT, LAT)), torch.tensor([0.5]))
    with pytest.raises(ValueError, match="unknown pia conditioning"):
        ad(torch.zeros((1, F, 4, LAT, LAT)), torch.tensor([0.5]), y=torch.zeros((1, 4, LAT, LAT)), image_embeds=torch.zeros(1))
    with pytest.raises(ValueError, match="prompt"):
        i2v[1].prepare_condition(torch.zeros((2, 3, PX, PX)), prompt=["only one"])


def test_forward_is_the_pre_base_formula_bit_for_bit(pia):
    """PIAAdapter.forward as written before the adapter base: [B, C, F] layout, one batched [negative; prompt] call,
    per-video guidance, x0 = (x - sigma eps) / alpha."""
    _, ad = pia
    cond = ad.prepare_condition(_images(2) * 2 - 1, prompt=["a cat", "a dog"], motion_scale=[1, 5], seed=0)
    x = torch.randn((2, F, 4, LAT, LAT), generator=torch.Generator().manual_seed(6))
    t = torch.tensor([0.35, 0.75], dtype=torch.float64)
    a, s = ad.schedule.broadcast(t, x)
    native = ad.schedule.to_native(t).float()
    mask = ad.mask_coefficients(cond["motion"], F)[:, None, :, None, None].expand(2, 1, F, LAT, LAT)
    extra = torch.cat([mask, cond["y"][:, :, None].expand(-1, -1, F, -1, -1)], dim=1)
    xb = x.permute(0, 2, 1, 3, 4)
    text = torch.cat([cond["negative_prompt_embeds"], cond["prompt_embeds"]]).repeat_interleave(F, dim=0)
    g = torch.tensor([7.5, 2.0])
    with torch.no_grad():
        out = ad.unet(torch.cat([torch.cat([xb, xb]), torch.cat([extra, extra])], dim=1), torch.cat([native, native]),
                      encoder_hidden_states=text).sample.float()
        u, c = out.chunk(2)
        eps = (u + g.view(2, 1, 1, 1, 1) * (c - u)).permute(0, 2, 1, 3, 4)
        assert torch.equal(ad(x, t, guidance_scale=g, **cond), (x - s * eps) / a)

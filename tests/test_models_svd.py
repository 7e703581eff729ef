"""The SVD adapter against diffusers' own EulerDiscreteScheduler and StableVideoDiffusionPipeline (tiny random models)."""
from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from cilnb.analytic_init import MomentStats
from cilnb.denoiser import edm_scalings
from cilnb.probe import one_step_predictions
from cilnb.sampling import initial_noise, sample
from cilnb.schedules import EDMSchedule

from _tiny import tiny_svd_pipeline

F, PX, LAT = 2, 16, 8  # frames, image size, latent size (the tiny VAE downsamples by 2)


@pytest.fixture(scope="module")
def pipe():
    return tiny_svd_pipeline(F, PX)


@pytest.fixture(scope="module")
def adapter(pipe):
    from cilnb.models.svd import from_pipeline

    return from_pipeline(pipe)


def _images(n=1, seed=3):
    return torch.rand((n, 3, PX, PX), generator=torch.Generator().manual_seed(seed))  # [0, 1], as the pipeline takes tensors


def test_schedule_comes_from_the_scheduler_config(adapter):
    sch = adapter.schedule
    assert isinstance(sch, EDMSchedule) and (sch.sigma_min, sch.sigma_max, sch.rho) == (0.002, 700.0, 7.0)
    assert adapter.n_frames == F and adapter.scaling_factor == pytest.approx(0.18215)


def test_preconditioning_is_the_schedulers_own(pipe):
    """c_in = scale_model_input, c_skip x + c_out F = step().pred_original_sample, c_noise = the timestep: sigma_data = 1, c_out < 0."""
    from cilnb.models.svd import svd_scalings

    sch = pipe.scheduler
    sch.set_timesteps(6)
    g = torch.Generator().manual_seed(0)
    for i in [0, 2, 5]:
        sch._step_index = None
        t = sch.timesteps[i]
        sigma = float(sch.sigmas[i])
        x = torch.randn((1, F, 4, LAT, LAT), generator=g) * math.sqrt(sigma**2 + 1)
        out = torch.randn(x.shape, generator=g)
        c_skip, c_out, c_in, c_noise = svd_scalings(torch.tensor(sigma, dtype=torch.float64))
        torch.testing.assert_close(sch.scale_model_input(x, t), (x * c_in).float(), rtol=1e-5, atol=1e-6)
        x0 = sch.step(out, t, x).pred_original_sample
        torch.testing.assert_close(x0, (c_skip * x + c_out * out).float(), rtol=1e-5, atol=1e-5)
        assert float(t) == pytest.approx(float(c_noise), rel=1e-5, abs=1e-6)
        # = Karras' Table 1 with sigma_data = 1 and the sign of c_out flipped (v-prediction)
        k_skip, k_out, k_in, _ = edm_scalings(torch.tensor(sigma, dtype=torch.float64), sigma_data=1.0)
        torch.testing.assert_close((c_skip, -c_out, c_in), (k_skip, k_out, k_in))


def _manual_unet_output(pipe, x, t, cond, guidance):
    """What the pipeline's loop feeds scheduler.step (its own code path: scale_model_input, concat, CFG)."""
    lat_in = pipe.scheduler.scale_model_input(x, t)
    y = cond["y"][:, None].expand(-1, x.shape[1], -1, -1, -1)
    ids = torch.stack([cond["fps_id"], cond["motion"], cond["noise_aug_strength"]], dim=1)
    emb = cond["image_embeds"]
    if guidance is None:
        return pipe.unet(torch.cat([lat_in, y], 2), t, encoder_hidden_states=emb, added_time_ids=ids, return_dict=False)[0]
    both = pipe.unet(torch.cat([torch.cat([lat_in] * 2), torch.cat([torch.zeros_like(y), y])], 2), t,
                     encoder_hidden_states=torch.cat([torch.zeros_like(emb), emb]), added_time_ids=torch.cat([ids, ids]), return_dict=False)[0]
    u, c = both.chunk(2)
    g = torch.linspace(guidance[0], guidance[1], x.shape[1]).view(1, -1, 1, 1, 1)
    return u + g * (c - u)


@pytest.mark.parametrize("guidance", [None, (1.0, 2.5)])
def test_x0_hat_equals_pred_original_sample(pipe, adapter, guidance):
    cond = adapter.prepare_condition(_images(2) * 2 - 1, motion_bucket_id=[40, 200], generator=torch.Generator().manual_seed(1))
    sch = pipe.scheduler
    sch.set_timesteps(5)
    g = torch.Generator().manual_seed(2)
    for i in [0, 3]:
        sch._step_index = None
        t = sch.timesteps[i]
        sigma = float(sch.sigmas[i])
        x = torch.randn((2, F, 4, LAT, LAT), generator=g) * sigma
        with torch.no_grad():
            ref = sch.step(_manual_unet_output(pipe, x, t, cond, guidance), t, x).pred_original_sample
            tt = adapter.schedule.from_native(torch.tensor([sigma, sigma], dtype=torch.float64))
            ours = adapter(x, tt, guidance=guidance, **cond)
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)


def test_prepare_condition_matches_the_pipeline(pipe, adapter):
    """y (noise-augmented VAE mode), CLIP embedding and added_time_ids as the pipeline computes them."""
    seen = {}

    def hook(module, args, kwargs):
        seen.setdefault("sample", args[0] if args else kwargs["sample"])
        seen.setdefault("emb", kwargs["encoder_hidden_states"])
        seen.setdefault("ids", kwargs["added_time_ids"])

    img = _images(1)
    h = pipe.unet.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        pipe(img, height=PX, width=PX, num_frames=F, num_inference_steps=1, min_guidance_scale=1.0, max_guidance_scale=1.0,
             fps=9, motion_bucket_id=33, noise_aug_strength=0.1, generator=torch.Generator().manual_seed(5), output_type="latent")
    finally:
        h.remove()
    cond = adapter.prepare_condition(img * 2 - 1, fps=9, motion_bucket_id=33, noise_aug_strength=0.1, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(cond["y"], seen["sample"][:, 0, 4:], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(cond["image_embeds"], seen["emb"], rtol=1e-4, atol=1e-5)
    ids = torch.stack([cond["fps_id"], cond["motion"], cond["noise_aug_strength"]], 1)
    torch.testing.assert_close(ids, seen["ids"].float())


def _run_pipeline(pipe, img, z, n_steps, guidance, seed=5):
    with torch.no_grad():
        return pipe(img, height=PX, width=PX, num_frames=F, num_inference_steps=n_steps, min_guidance_scale=guidance[0],
                    max_guidance_scale=guidance[1], generator=torch.Generator().manual_seed(seed), latents=z, output_type="latent").frames


def test_sampling_from_T_reproduces_the_pipeline(pipe, adapter):
    """M = T, Euler: our sampler from the same initial noise gives the pipeline's latents (it multiplies by init_noise_sigma)."""
    img, seed, n = _images(1), 11, 4
    x_T = initial_noise(adapter, [seed], (F, 4, LAT, LAT), 1.0)  # what sample() starts from
    pipe.scheduler.set_timesteps(n)  # init_noise_sigma reads the inference sigmas
    ref = _run_pipeline(pipe, img, x_T / pipe.scheduler.init_noise_sigma, n, (1.0, 2.5))
    cond = adapter.prepare_condition(img * 2 - 1, generator=torch.Generator().manual_seed(5))
    y = cond.pop("y")
    ours = sample(adapter, y, n_steps=n, start=1.0, sampler="euler", seed=seed, frames=F, cond={**cond, "guidance": (1.0, 2.5)}, show_progress=False)
    assert float(pipe.scheduler.init_noise_sigma) == pytest.approx(adapter.schedule.prior_std(1.0), rel=1e-6)
    torch.testing.assert_close(ours, ref, rtol=2e-3, atol=2e-3)


def test_start_at_sigma_M_is_karras_rebuilt_with_sigma_max_M(adapter):
    """M < T: the sigmas the model sees are the scheduler's Karras sigmas for sigma_max = sigma_M, and
    sampling equals the pipeline with that scheduler (the official SVD Analytic-Init recipe)."""
    from diffusers import EulerDiscreteScheduler

    from cilnb.models.svd import from_pipeline

    pipe_m = tiny_svd_pipeline(F, PX, sigma_max=100.0)
    ref_sched = EulerDiscreteScheduler.from_config(pipe_m.scheduler.config)
    ref_sched.set_timesteps(5)
    seen = []
    img, seed = _images(1, seed=4), 3
    cond = adapter.prepare_condition(img * 2 - 1, generator=torch.Generator().manual_seed(5))
    y = cond.pop("y")
    ours = sample(adapter, y, n_steps=5, start_native=100.0, sampler="euler", seed=seed, frames=F, cond=cond,
                  callback=lambda d: seen.append(d["t"]), show_progress=False)
    sig = adapter.schedule.sigma(torch.tensor(seen, dtype=torch.float64))
    torch.testing.assert_close(sig.float(), ref_sched.sigmas[:-1], rtol=1e-5, atol=1e-6)
    assert adapter.schedule.prior_std(adapter.schedule.parse_start(native=100.0)) == pytest.approx(float(ref_sched.init_noise_sigma), rel=1e-6)
    # same weights, scheduler rebuilt with sigma_max = 100: the pipeline gives the same video
    assert from_pipeline(pipe_m).schedule.sigma_max == 100.0
    pipe_m.scheduler.set_timesteps(5)
    x_M = initial_noise(adapter, [seed], (F, 4, LAT, LAT), adapter.schedule.parse_start(native=100.0))
    ref = _run_pipeline(pipe_m, img, x_M / pipe_m.scheduler.init_noise_sigma, 5, (1.0, 3.0))
    torch.testing.assert_close(ours, ref, rtol=2e-3, atol=2e-3)


def test_analytic_init_draws_have_the_requested_moments(adapter):
    """Eq. (5) at sigma_M = 100 (alpha = 1): mean E[X0], variance tr(Cov)/d + sigma_M^2; and sample() starts from it."""
    shape = (F, 4, LAT, LAT)
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(shape, generator=g, dtype=torch.float64) * 30
    var = torch.rand(shape, generator=g, dtype=torch.float64) * 400 + 100
    stats = MomentStats.from_moments(mean, var)
    start = adapter.schedule.parse_start(native=100.0)
    n = 600
    x = initial_noise(adapter, list(range(n)), shape, start, "analytic", stats).double()
    want_var = float(var.mean()) + 100.0**2
    d = mean.numel()
    z = (x - mean) / math.sqrt(want_var)  # should be iid N(0, 1)
    assert abs(float(z.mean())) < 4 / math.sqrt(n * d)
    assert float(z.var()) == pytest.approx(1.0, abs=4 * math.sqrt(2 / (n * d)))
    assert float((x.mean(0) - mean).abs().max()) < 5 * math.sqrt(want_var / n)
    first = []
    y = torch.zeros((2, 4, LAT, LAT))
    cond = {"image_embeds": torch.zeros((2, 1, 32)), "guidance": None}
    sample(adapter, y, n_steps=2, start=start, init="analytic", stats=stats, sampler="euler", seed=[7, 8], frames=F, cond=cond,
           callback=lambda dd: first.append(dd["x"]) if dd["i"] == 0 else None, show_progress=False)
    torch.testing.assert_close(first[0], initial_noise(adapter, [7, 8], shape, start, "analytic", stats))


def test_probe_and_vae_round_trip(adapter):
    cond = adapter.prepare_condition(_images(2) * 2 - 1, seed=0)
    y = cond.pop("y")
    video = torch.rand((2, F, 3, PX, PX), generator=torch.Generator().manual_seed(1)) * 2 - 1
    lat = adapter.encode_video(video)
    assert lat.shape == (2, F, 4, LAT, LAT)
    dist = adapter.vae.encode(video[0]).latent_dist.mode() * adapter.scaling_factor
    torch.testing.assert_close(lat[0], dist, rtol=1e-5, atol=1e-5)
    frames = adapter.decode_latents(lat)
    assert frames.shape == video.shape and frames.abs().max() <= 1
    pred = one_step_predictions(adapter, lat, [0.3, 1.0], y=y, cond=cond)
    assert pred.shape == (2, 2, F, 4, LAT, LAT) and torch.isfinite(pred).all()


def test_bad_inputs_raise_clear_errors(adapter):
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        adapter.prepare_condition(torch.rand((1, 3, PX, PX)) * 3, seed=0)
    with pytest.raises(ValueError, match="generator= or seed="):
        adapter.prepare_condition(torch.zeros((1, 3, PX, PX)))
    with pytest.raises(ValueError, match="prepare_condition"):
        adapter(torch.zeros((1, F, 4, LAT, LAT)), torch.tensor([0.5]))
    with pytest.raises(ValueError, match="unknown SVD conditioning"):
        adapter(torch.zeros((1, F, 4, LAT, LAT)), torch.tensor([0.5]), y=torch.zeros((1, 4, LAT, LAT)),
                image_embeds=torch.zeros((1, 1, 32)), prompt="x")


def test_condition_hook_and_guidance_forms_on_svd(adapter):
    """A hook's y is what both guidance branches are built from; constant, frame-wise pair and [B, F] weights agree."""
    cond = adapter.prepare_condition(_images(2) * 2 - 1, seed=0)
    x = torch.randn((2, F, 4, LAT, LAT), generator=torch.Generator().manual_seed(4)) * 5
    t = torch.tensor([0.5, 0.8], dtype=torch.float64)
    with torch.no_grad():
        ref = adapter(x, t, **{**cond, "y": cond["y"] * 0.5})
        with adapter.condition_hook(lambda tt, c: {**c, "y": c["y"] * 0.5}):
            assert torch.equal(adapter(x, t, **cond), ref)
        assert not torch.equal(adapter(x, t, **cond), ref)
        assert torch.equal(adapter(x, t, guidance=2.0, **cond), adapter(x, t, guidance=(2.0, 2.0), **cond))
        assert torch.equal(adapter(x, t, guidance=torch.tensor([[1.0, 3.0]] * 2), **cond), adapter(x, t, **cond))  # default (1, 3)
        assert torch.equal(adapter(x, t, guidance=1.0, **cond), adapter(x, t, guidance=None, **cond))


def test_forward_is_the_pre_base_formula_bit_for_bit(adapter):
    """SVDAdapter.forward as written before the adapter base: one batched [uncond; cond] UNet call, frame-wise CFG, EDM x0."""
    from cilnb.models.svd import svd_scalings

    cond = adapter.prepare_condition(_images(2) * 2 - 1, motion_bucket_id=[40, 200], seed=0)
    x = torch.randn((2, F, 4, LAT, LAT), generator=torch.Generator().manual_seed(6)) * 7
    t = torch.tensor([0.45, 0.85], dtype=torch.float64)
    c_skip, c_out, c_in, c_noise = (c.float() for c in svd_scalings(adapter.schedule.sigma(t)))
    v = (-1, 1, 1, 1, 1)
    x_in = x * c_in.view(v)
    y = cond["y"][:, None].expand(2, F, *cond["y"].shape[1:])
    emb = cond["image_embeds"]
    ids = torch.stack([cond["fps_id"], cond["motion"], cond["noise_aug_strength"]], dim=1)
    with torch.no_grad():
        out = adapter.unet(torch.cat([torch.cat([x_in, x_in]), torch.cat([torch.zeros_like(y), y])], dim=2), torch.cat([c_noise, c_noise]),
                           encoder_hidden_states=torch.cat([torch.zeros_like(emb), emb]), added_time_ids=torch.cat([ids, ids]),
                           return_dict=False)[0].float()
        u, c = out.chunk(2)
        w = torch.linspace(1.0, 3.0, F).view(1, F, 1, 1, 1)  # the default guidance (1, 3): 1 at frame 0, 3 at the last
        ref = c_skip.view(v) * x + c_out.view(v) * (u + w * (c - u))
        assert torch.equal(adapter(x, t, **cond), ref)
        plain = adapter.unet(torch.cat([x_in, y], dim=2), c_noise, encoder_hidden_states=emb, added_time_ids=ids, return_dict=False)[0].float()
        assert torch.equal(adapter(x, t, guidance=None, **cond), c_skip.view(v) * x + c_out.view(v) * plain)

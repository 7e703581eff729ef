"""CogVideoX-I2V adapter on a tiny random pipeline: x0 vs the scheduler, sampling vs the pipeline.

The reference numbers come from diffusers itself (``CogVideoXDDIMScheduler.step``'s
``pred_original_sample``, its ``alphas_cumprod``, the pipeline's ``__call__``), never from cilnb's
own schedule code.
"""
from __future__ import annotations

import time

import pytest
import torch

pytest.importorskip("diffusers")

from diffusers import (  # noqa: E402
    AutoencoderKLCogVideoX,
    CogVideoXDDIMScheduler,
    CogVideoXImageToVideoPipeline,
    CogVideoXTransformer3DModel,
)

from cilnb import probe, sampling  # noqa: E402
from cilnb.analytic_init import MomentStats  # noqa: E402
from cilnb.models import cogvideox  # noqa: E402
from cilnb.models.base import WeightsNotFoundError  # noqa: E402
from cilnb.models.cogvideox import CogVideoXI2VAdapter  # noqa: E402

from _tiny import TXT, random_image  # noqa: E402  (text tokens, T5 width; the embeds fixture is conftest's)

PX, NF = 32, 9  # pixel size and frames -> latents [3, 4, 4, 4]
LAT = (3, 4, 4, 4)


def _pipe(prediction="v_prediction", zero_snr=True, snr_shift=3.0):
    torch.manual_seed(0)
    tr = CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=16, in_channels=8, out_channels=4, time_embed_dim=2, text_embed_dim=32,
        num_layers=1, sample_width=4, sample_height=4, sample_frames=NF, patch_size=2, temporal_compression_ratio=4,
        max_text_seq_length=16, use_rotary_positional_embeddings=True, use_learned_positional_embeddings=True, ofs_embed_dim=2,
    )
    vae = AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4, up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8), latent_channels=4, layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4,
    )
    sch = CogVideoXDDIMScheduler(prediction_type=prediction, rescale_betas_zero_snr=zero_snr, timestep_spacing="trailing",
                                 snr_shift_scale=snr_shift, clip_sample=False)
    pipe = CogVideoXImageToVideoPipeline(tokenizer=None, text_encoder=None, vae=vae, transformer=tr, scheduler=sch)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def pipe():
    return _pipe()


@pytest.fixture(scope="module")
def model(pipe, embeds):
    m = CogVideoXI2VAdapter(pipe)
    m.set_prompt_embeds(*embeds)
    return m


@pytest.fixture(scope="module")
def image():
    return random_image(PX)


class _Spy:
    """Records what the transformer receives (a forward pre-hook; removed in ``finally``)."""

    def __init__(self, module):
        self.calls, self.module = [], module

    def __enter__(self):
        self.h = self.module.register_forward_pre_hook(lambda mod, args, kw: self.calls.append(kw), with_kwargs=True)
        return self

    def __exit__(self, *exc):
        self.h.remove()


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("prediction,zero_snr", [("v_prediction", True), ("epsilon", False)])
def test_x0_equals_scheduler_pred_original_sample(prediction, zero_snr, embeds):
    p = _pipe(prediction, zero_snr)
    m = CogVideoXI2VAdapter(p)
    m.set_prompt_embeds(*embeds)
    sch = p.scheduler
    sch.set_timesteps(4)
    x, y = _rand(4, *LAT, seed=1), _rand(4, *LAT[1:], seed=2)
    natives = sch.timesteps  # 999, 749, 499, 249 (trailing)
    t = (natives.double() + 1) / 1000
    out = m.raw_output(x, t, y)
    x0 = m(x, t, y=y)
    for b, n in enumerate(natives.tolist()):
        ref = sch.step(out[b : b + 1], n, x[b : b + 1]).pred_original_sample
        torch.testing.assert_close(x0[b : b + 1], ref.float(), rtol=1e-5, atol=1e-5)


def test_transformer_sees_pipeline_layout(model, embeds):
    x, y = _rand(2, *LAT, seed=3), _rand(2, *LAT[1:], seed=4)
    with _Spy(model.transformer) as spy:
        model(x, torch.tensor([1.0, 0.25]), y=y)
    kw = spy.calls[0]
    h = kw["hidden_states"]
    assert h.shape == (2, 3, 8, 4, 4)  # [B, F, 2C, H, W]: noisy latents | image latent padded with zeros
    torch.testing.assert_close(h[:, :, :4], x)
    torch.testing.assert_close(h[:, 0, 4:], y)
    assert bool((h[:, 1:, 4:] == 0).all())
    assert kw["timestep"].tolist() == [999.0, 249.0]
    assert kw["ofs"].tolist() == [2.0]
    torch.testing.assert_close(kw["encoder_hidden_states"], embeds[0].expand(2, *TXT))


def test_prepare_condition_matches_pipeline(pipe, model, image):
    pil, img = image
    cond = model.prepare_condition(img, generator=torch.Generator().manual_seed(5))
    proc = pipe.video_processor.preprocess(pil, height=PX, width=PX)
    _, ref = pipe.prepare_latents(proc, 1, 4, NF, PX, PX, torch.float32, "cpu", torch.Generator().manual_seed(5), torch.zeros(1, *LAT))
    torch.testing.assert_close(cond["y"], ref[:, 0])
    assert bool((ref[:, 1:] == 0).all())  # the pipeline pads with zero latents, as the adapter does


@pytest.mark.parametrize("guidance", [1.0, 3.0])
def test_sample_at_T_reproduces_pipeline(pipe, embeds, image, guidance):
    pil, img = image
    m = CogVideoXI2VAdapter(pipe, guidance_scale=guidance)
    m.set_prompt_embeds(*embeds)
    y = m.prepare_condition(img, generator=torch.Generator().manual_seed(0))["y"]
    got = sampling.sample(m, y, n_steps=4, start=1.0, sampler="ddim", seed=11, show_progress=False)
    init = sampling.initial_noise(m, [11], LAT, 1.0)
    ref = pipe(image=pil, prompt_embeds=embeds[0], negative_prompt_embeds=embeds[1], guidance_scale=guidance,
               num_inference_steps=4, num_frames=NF, height=PX, width=PX, max_sequence_length=TXT[0], latents=init,
               generator=torch.Generator().manual_seed(0), output_type="latent").frames
    assert got.shape == ref.shape == (1, *LAT)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)


def test_start_M_uses_respaced_trailing_grid(pipe, model, image):
    _, img = image
    y = model.prepare_condition(img)["y"]
    M, n = 0.6, 4
    with _Spy(model.transformer) as spy:
        got = sampling.sample(model, y, n_steps=n, start=M, sampler="ddim", seed=2, show_progress=False)
    natives = [float(kw["timestep"][0]) for kw in spy.calls]
    expected = [round(M * 1000 * (n - i) / n) - 1 for i in range(n)]  # documented: n steps re-spaced over [0, M]
    assert natives == expected == [599, 449, 299, 149]
    # independent DDIM loop on diffusers' alphas_cumprod and the scheduler's own x0 conversion
    ac = pipe.scheduler.alphas_cumprod.double()
    pipe.scheduler.set_timesteps(n)
    x = sampling.initial_noise(model, [2], LAT, M)
    for i, k in enumerate(expected):
        out = model.raw_output(x, torch.tensor([(k + 1) / 1000.0]), y)
        x0 = pipe.scheduler.step(out, k, x).pred_original_sample.double()
        a, a_next = ac[k], (ac[expected[i + 1]] if i + 1 < n else torch.tensor(1.0, dtype=torch.float64))
        eps = (x.double() - a.sqrt() * x0) / (1 - a).sqrt()
        x = (a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps).float()
    torch.testing.assert_close(got, x, rtol=1e-4, atol=1e-4)


def test_analytic_init_moments(model, pipe):
    g = torch.Generator().manual_seed(3)
    mean = torch.randn(LAT, generator=g, dtype=torch.float64)
    var = torch.rand(LAT, generator=g, dtype=torch.float64) * 2 + 0.5
    stats = MomentStats.from_moments(mean, var)
    M, N = 0.7, 4000
    abar = float(pipe.scheduler.alphas_cumprod[round(M * 1000) - 1])  # diffusers' own alpha_bar at timestep 699
    x = sampling.initial_noise(model, list(range(N)), LAT, M, init="analytic", stats=stats).double()
    want_mean = abar**0.5 * mean
    want_var = abar * float(var.mean()) + (1 - abar)
    se = (want_var / N) ** 0.5
    assert float((x.mean(0) - want_mean).abs().max()) < 5 * se
    assert abs(float(x.var(0).mean()) / want_var - 1) < 0.03
    # sample() starts from exactly that draw
    seen = []
    sampling.sample(model, torch.zeros(1, *LAT[1:]), n_steps=2, start=M, init="analytic", stats=stats, seed=5,
                    callback=lambda d: seen.append(d["x"].clone()) if d["i"] == 0 else None, show_progress=False)
    torch.testing.assert_close(seen[0], sampling.initial_noise(model, [5], LAT, M, init="analytic", stats=stats))


def test_probe_runs_batched(model):
    x0, y = _rand(2, *LAT, seed=8), _rand(2, *LAT[1:], seed=9)
    pred = probe.one_step_predictions(model, x0, [0.3, 0.9], y=y, batch_size=3)
    assert pred.shape == (2, 2, *LAT)
    eps = sampling.per_sample_noise([0], LAT)  # the probe's noise for video 0 (seed + 0)
    xt = model.schedule.add_noise(x0[:1], 0.9, eps)
    torch.testing.assert_close(pred[0, 1:2], model(xt, torch.tensor([0.9]), y=y[:1]), rtol=1e-5, atol=1e-5)


def test_encode_decode_shapes(model):
    frames = torch.rand(1, NF, 3, PX, PX) * 2 - 1
    z = model.encode_video(frames)
    assert z.shape == (1, *LAT)
    assert model.decode_latents(z).shape == (1, NF, 3, PX, PX)


def test_bad_inputs(model, pipe):
    x, y = _rand(1, *LAT), _rand(1, *LAT[1:])
    with pytest.raises(ValueError, match="B, F, C, H, W"):
        model(x[0], torch.tensor([0.5]), y=y)
    with pytest.raises(ValueError, match="image latent"):
        model(x, torch.tensor([0.5]), y=y[:, :2])
    with pytest.raises(ValueError, match="needs y"):
        model(x, torch.tensor([0.5]))
    with pytest.raises(ValueError, match="unknown conditioning"):
        model(x, torch.tensor([0.5]), y=y, motion=torch.ones(1))
    with pytest.raises(ValueError, match="lie in"):
        model(x, torch.tensor([1.5]), y=y)
    with pytest.raises(ValueError, match="CogVideoXImageToVideoPipeline"):
        CogVideoXI2VAdapter(object())
    bare = CogVideoXI2VAdapter(pipe)  # no text encoder and no embeddings set
    with pytest.raises(ValueError, match="prompt_embeds"):
        bare(x, torch.tensor([0.5]), y=y)


def test_schedule_is_the_schedulers(model, pipe):
    ac = pipe.scheduler.alphas_cumprod.double()
    k = torch.tensor([0, 249, 999])
    torch.testing.assert_close(model.schedule.alpha((k + 1) / 1000.0) ** 2, ac[k], rtol=1e-6, atol=1e-9)
    assert float(model.schedule.alpha(1.0)) == pytest.approx(0.0, abs=1e-6)  # zero terminal SNR


def test_missing_weights_fail_fast(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    t0 = time.perf_counter()
    with pytest.raises(WeightsNotFoundError, match="model_path"):
        cogvideox.load("cilnb-test/no-such-cogvideox", device="cpu")
    with pytest.raises(WeightsNotFoundError, match="model_index.json"):
        cogvideox.load(tmp_path, device="cpu")
    models = pytest.importorskip("cilnb.models")
    if hasattr(models, "load"):  # through the registry, default hub id (not in the cache here)
        with pytest.raises(WeightsNotFoundError, match="THUDM/CogVideoX-5b-I2V"):
            models.load("cogvideox-i2v", None, device="cpu")
    assert time.perf_counter() - t0 < 10


def test_condition_hook_changes_y(model):
    x, y = _rand(1, *LAT), _rand(1, *LAT[1:], seed=1)
    with torch.no_grad():
        ref = model(x, torch.tensor([0.5]), y=2 * y)
        with model.condition_hook(lambda t, c: {**c, "y": 2 * c["y"]}):
            assert torch.equal(model(x, torch.tensor([0.5]), y=y), ref)

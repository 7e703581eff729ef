"""``cilnb.svd_finetune`` and ``python -m cilnb finetune``: the SVD TimeNoise training step and the accelerate loop, on a tiny random SVD (CPU)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")
iio = pytest.importorskip("imageio.v3")

from cilnb import svd_finetune as FT
from cilnb.timenoise import mu

from _tiny import tiny_svd_pipeline

F, PX = 2, 16  # frames, pixels (latents 8 x 8)


def _adapter():
    from cilnb.models.svd import from_pipeline

    return from_pipeline(tiny_svd_pipeline(F, PX)).eval()


@pytest.fixture(scope="module")
def adapter():
    return _adapter()


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("train_videos")
    rng = np.random.RandomState(0)
    yy, xx = np.mgrid[0:20, 0:24]
    for k in range(3):
        fr = [np.clip(127 + 100 * np.sin(2 * np.pi * (xx + 2 * i + k) / 24)[..., None] * rng.uniform(0.3, 1, 3), 0, 255).astype(np.uint8) for i in range(4)]
        iio.imwrite(d / f"v{k}.mp4", np.stack(fr), plugin="pyav", codec="libx264", fps=8)
    iio.imwrite(d / "short.mp4", np.zeros((1, 20, 24, 3), np.uint8), plugin="pyav", codec="libx264", fps=8)  # replaced by the next video
    return d


def _frames(B=2, seed=0):
    return torch.rand((B, F, 3, PX, PX), generator=torch.Generator().manual_seed(seed)) * 2 - 1


class Recorder:
    """Stands in for the denoiser: records what the UNet would see and returns ``x0_hat = 0``."""

    def __call__(self, x_t, t, **cond):
        self.x_t, self.t, self.cond = x_t, t, cond
        return torch.zeros_like(x_t)


def test_step_math_edm_noise_weight_and_conditioning(adapter):
    cfg = FT.FinetuneConfig(frames=F, size=PX, cond_drop=0.0)
    frames = _frames()
    rec = Recorder()
    out = FT.training_step(adapter, frames, config=cfg, generator=torch.Generator().manual_seed(1), denoiser=rec)
    x0, sigma = out.latents, out.sigma
    # X0: VAE posterior samples times the scaling factor; X_t = X0 + sigma eps with eps ~ N(0, I)
    assert x0.shape == (2, F, 4, PX // 2, PX // 2)
    eps = (rec.x_t - x0) / sigma.float().view(-1, 1, 1, 1, 1)
    assert abs(float(eps.mean())) < 0.15 and abs(float(eps.std()) - 1) < 0.15
    torch.testing.assert_close(adapter.schedule.sigma(rec.t), sigma)  # the model sees the same sigma
    # loss = mean((sigma^2 + 1) / sigma^2 |x0_hat - X0|^2), here with x0_hat = 0
    w = (sigma**2 + 1) / sigma**2
    expect = float((w.view(-1, 1, 1, 1, 1) * x0.double() ** 2).mean())
    assert float(out.loss) == pytest.approx(expect, rel=1e-5)
    # conditioning: fixed motion bucket 20, fps id 3, TimeNoise level as noise_aug_strength, no CFG
    c = rec.cond
    assert c["guidance"] is None
    assert torch.all(c["motion"] == 20) and torch.all(c["fps_id"] == 3)
    torch.testing.assert_close(c["noise_aug_strength"].double(), out.beta)
    assert bool(((out.beta > 0) & (out.beta < cfg.beta_m)).all())
    # y_s = y_0 + beta eps' on the *latent* of the clean frame 0 (VAE first), eps' i.i.d. per element
    y0 = adapter.prepare_condition(frames[:, 0], noise_aug_strength=0.0)["y"]
    z = (c["y"] - y0) / out.beta.float().view(-1, 1, 1, 1)
    assert abs(float(z.std()) - 1) < 0.2 and float(z.flatten(1).std(1).min()) > 0.5
    torch.testing.assert_close(c["image_embeds"], adapter.encode_image_embeds(frames[:, 0]))


def test_timenoise_levels_follow_eq6_centre():
    """The step's level draw is add_timenoise's: logit(beta / beta_m) ~ N(2 t^a - 1, 1) at t = sigma / sigma_max."""
    from cilnb.timenoise import add_timenoise

    t = torch.full((4000,), 0.9, dtype=torch.float64)
    _, beta = add_timenoise(torch.zeros(4000, 1), t, 5.0, 15.0, generator=torch.Generator().manual_seed(0), return_beta=True)
    logit = torch.log(beta / (15.0 - beta))
    assert float(logit.mean()) == pytest.approx(mu(0.9, 5.0), abs=0.06) and float(logit.std()) == pytest.approx(1.0, abs=0.05)


def test_switch_changes_the_conditional_latent(adapter):
    frames = _frames(seed=3)
    y0 = adapter.prepare_condition(frames[:, 0], noise_aug_strength=0.0)["y"]
    outs = {}
    for tn in (True, False):
        cfg = FT.FinetuneConfig(frames=F, size=PX, cond_drop=0.0, timenoise=tn)
        rec = Recorder()
        outs[tn] = FT.training_step(adapter, frames, config=cfg, generator=torch.Generator().manual_seed(5), denoiser=rec)
    tn, naive = outs[True], outs[False]
    torch.testing.assert_close(tn.sigma, naive.sigma)  # same EDM noise: only the condition differs
    assert not torch.allclose(tn.cond_latent, naive.cond_latent)
    # naive: log-normal pixel noise before the VAE, so its latent is not the clean one either
    assert bool((naive.beta > 0).all())
    assert not torch.allclose(naive.cond_latent, y0)
    # TimeNoise: the difference to the clean latent scales with the level it drew
    d = (tn.cond_latent - y0).flatten(1).std(1).double()
    np.testing.assert_allclose((d / tn.beta).numpy(), 1.0, atol=0.35)
    # classifier-free dropout zeroes the conditional latent and the CLIP embedding
    rec = Recorder()
    drop = FT.training_step(adapter, frames, config=FT.FinetuneConfig(frames=F, size=PX, cond_drop=0.999), generator=torch.Generator().manual_seed(0), denoiser=rec)
    assert bool(drop.dropped.all()) and float(rec.cond["y"].abs().max()) == 0 and float(rec.cond["image_embeds"].abs().max()) == 0


def _params(unet):
    return {k: v.detach().clone() for k, v in unet.state_dict().items()}


def test_few_steps_resume_and_cli(videos, tmp_path):
    """3 steps in one go == 2 steps + resume to 3 (CLI, from a saved pipeline folder); loss finite, weights move."""
    from safetensors.torch import load_file

    from cilnb.__main__ import main

    pipe = tiny_svd_pipeline(F, PX)
    folder = tmp_path / "svd"
    pipe.save_pretrained(folder, safe_serialization=True)
    from cilnb.models.svd import from_pipeline

    ad = from_pipeline(pipe).eval()
    before = _params(ad.unet)
    cfg = FT.FinetuneConfig(frames=F, size=PX, max_steps=3, checkpoint_every=2, batch_size=2, lr=1e-3)
    res = FT.finetune(ad, videos, tmp_path / "a", config=cfg, show_progress=False)
    assert res.step == 3 and len(res.losses) == 3 and all(math.isfinite(x) for x in res.losses)
    after = _params(ad.unet)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert (tmp_path / "a" / "checkpoint-00000003" / "unet.safetensors").is_file()
    assert (tmp_path / "a" / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    log = [json.loads(l) for l in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3]

    common = ["finetune", "--model-path", str(folder), "--videos", str(videos), "--out", str(tmp_path / "b"), "--frames", str(F),
              "--size", f"{PX}x{PX}", "--batch-size", "2", "--lr", "1e-3", "--checkpoint-every", "2", "--device", "cpu", "--quiet"]
    assert main(common + ["--max-steps", "2"]) == 0
    assert FT.latest_checkpoint(tmp_path / "b").name == "checkpoint-00000002"
    assert main(common + ["--max-steps", "3"]) == 0  # resumes from step 2
    log_b = [json.loads(l) for l in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log_b] == [1, 2, 3]
    np.testing.assert_allclose([r["loss"] for r in log_b], [r["loss"] for r in log], rtol=1e-5)
    final_b = load_file(str(tmp_path / "b" / "checkpoint-00000003" / "unet.safetensors"))
    for k, v in after.items():
        torch.testing.assert_close(final_b[k], v, atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="supports --model svd"):
        main(common + ["--model", "toy"])

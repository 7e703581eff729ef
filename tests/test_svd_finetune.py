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
        main(common + ["--model", "toy", "--debug"])  # --debug: the error itself, not the one-line exit 2


# ----------------------------------------------------------------------------------------------
# a long job: killed, resumed, locked, refused with other settings
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def svd_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("svd_pipe") / "svd"
    tiny_svd_pipeline(F, PX).save_pretrained(folder, safe_serialization=True)
    return folder


def _ft_args(folder, videos, out, *extra):
    return ["finetune", "--model-path", str(folder), "--videos", str(videos), "--out", str(out), "--frames", str(F),
            "--size", f"{PX}x{PX}", "--batch-size", "2", "--lr", "1e-3", "--checkpoint-every", "1", "--max-steps", "3",
            "--device", "cpu", "--quiet", *map(str, extra)]


def _ckpt_tensors(folder):
    from safetensors.torch import load_file

    return {name: load_file(str(folder / name)) for name in ("unet.safetensors", "optimizer.safetensors")}


def _unet_folder_tensors(out):
    from safetensors.torch import load_file

    return load_file(str(out / "unet" / "diffusion_pytorch_model.safetensors"))


def _losses(out):
    return [(r["step"], r["loss"]) for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())]


def test_finetune_killed_by_sigkill_resumes_bit_exactly(svd_folder, videos, tmp_path):
    """``python -m cilnb finetune`` killed (SIGKILL) as soon as its first checkpoint is on disk, then rerun: the final
    checkpoint, the UNet folder and the loss log equal an uninterrupted run's bit for bit; no lock or temporary left."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from cilnb.__main__ import main

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "cilnb", *_ft_args(svd_folder, videos, killed)],
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t_end = time.time() + 240
    while time.time() < t_end and proc.poll() is None and not (killed.is_dir() and FT.latest_checkpoint(killed) is not None):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    done = FT.latest_checkpoint(killed)
    assert done is not None and done.name != "checkpoint-00000003", "the kill came too late to test a resume"
    assert (killed / "finetune.lock").exists()  # left by the killed run
    (killed / ".unet.tmp").mkdir()  # what a kill inside the final save leaves
    (killed / ".unet.tmp" / "config.json").write_text("{")
    with pytest.warns(UserWarning, match="stale lock"):
        assert main(_ft_args(svd_folder, videos, killed)) == 0
    assert main(_ft_args(svd_folder, videos, tmp_path / "straight")) == 0
    a, b = _ckpt_tensors(killed / "checkpoint-00000003"), _ckpt_tensors(tmp_path / "straight" / "checkpoint-00000003")
    for name in a:
        assert a[name].keys() == b[name].keys()
        for k in a[name]:
            assert torch.equal(a[name][k], b[name][k]), (name, k)
    ua, ub = _unet_folder_tensors(killed), _unet_folder_tensors(tmp_path / "straight")
    assert ua.keys() == ub.keys() and all(torch.equal(ua[k], ub[k]) for k in ua)
    assert _losses(killed) == _losses(tmp_path / "straight") and [s for s, _ in _losses(killed)] == [1, 2, 3]
    left = sorted(p.name for p in killed.rglob("*") if p.name.endswith((".tmp", ".lock")))
    assert left == []


def test_finetune_refuses_to_mix_settings_and_no_resume_starts_over(capsys, svd_folder, videos, tmp_path):
    from cilnb.__main__ import main

    out = tmp_path / "o"
    assert main(_ft_args(svd_folder, videos, out, "--max-steps", "2")) == 0
    # another recipe in the same folder: one line naming what differs and the ways out, nothing written
    capsys.readouterr()
    assert main(_ft_args(svd_folder, videos, out, "--naive")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "timenoise True -> False" in err and "--no-resume" in err and "--out" in err
    assert FT.latest_checkpoint(out).name == "checkpoint-00000002"
    # a longer run with the same recipe continues (max_steps, checkpoint_every may change)
    assert main(_ft_args(svd_folder, videos, out, "--checkpoint-every", "3")) == 0
    assert FT.latest_checkpoint(out).name == "checkpoint-00000003"
    # --no-resume starts over: the earlier run's checkpoints are gone, so a later resume cannot pick them up
    assert main(_ft_args(svd_folder, videos, out, "--naive", "--max-steps", "1", "--no-resume")) == 0
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-00000001"]
    assert [s for s, _ in _losses(out)] == [1]
    assert json.loads((out / "config.json").read_text())["timenoise"] is False
    # the new run's checkpoint is the naive recipe's: resuming it with TimeNoise is refused like above
    assert main(_ft_args(svd_folder, videos, out)) == 2
    assert "timenoise False -> True" in capsys.readouterr().err


def test_finetune_refuses_a_folder_another_live_run_holds(capsys, svd_folder, videos, tmp_path):
    import socket
    import subprocess
    import sys

    from cilnb.__main__ import main

    out = tmp_path / "o"
    out.mkdir()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / "finetune.lock").write_text(json.dumps({"pid": live.pid, "host": socket.gethostname(), "started": 0}))
        assert main(_ft_args(svd_folder, videos, out)) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "in use by another run" in err and str(live.pid) in err
        assert not list(out.glob("checkpoint-*"))
    finally:
        live.kill()
        live.wait()


def test_a_checkpoint_of_another_model_is_refused_in_one_line(capsys, videos, tmp_path):
    from cilnb.__main__ import main

    out = tmp_path / "o"
    small, other = tmp_path / "small", tmp_path / "other"
    tiny_svd_pipeline(F, PX).save_pretrained(small, safe_serialization=True)
    assert main(_ft_args(small, videos, out, "--max-steps", "1")) == 0
    pipe = tiny_svd_pipeline(F, PX)
    from diffusers import UNetSpatioTemporalConditionModel

    cfg = dict(pipe.unet.config)
    cfg["block_out_channels"] = [2 * c for c in cfg["block_out_channels"]]
    pipe.unet = UNetSpatioTemporalConditionModel.from_config(cfg)
    pipe.save_pretrained(other, safe_serialization=True)
    capsys.readouterr()
    assert main(_ft_args(other, videos, out)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "does not fit this model's UNet" in err and "--no-resume" in err

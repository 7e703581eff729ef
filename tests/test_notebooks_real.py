"""The figure notebooks run on a real diffusers model: a tiny random-weight SVD saved to a folder,
a folder of generated clips, its Analytic-Init statistics and a "fine-tuned" UNet folder.

The numbers are meaningless (random weights); what is checked is that every notebook takes
``model="svd"`` with local paths end to end, writes its figures, stores its sweep so a rerun
resumes, and that the ground-truth and generated motion are read with one protocol.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from _tiny import PX, tiny_svd_pipeline, tiny_wan_pipeline  # noqa: E402

from cilnb.figures import declared_parameters, notebook_paths, run_notebook  # noqa: E402

FRAMES, N_CLIPS = 2, 3
NOTEBOOKS = {p.stem: p for p in notebook_paths()}


def _clip(seed: int, speed: int, frames: int = FRAMES) -> np.ndarray:
    """A smooth random texture shifted ``speed`` px per frame: ``[frames + 1, PX, PX, 3]`` uint8."""
    rng = np.random.RandomState(seed)
    big = rng.rand(PX + 8 * frames, PX + 8 * frames, 3)
    big = (big + np.roll(big, 1, 0) + np.roll(big, 1, 1) + np.roll(big, 1, (0, 1))) / 4
    return (np.stack([big[: PX, f * speed : f * speed + PX] for f in range(frames + 1)]) * 255).astype(np.uint8)


def _write_clips(folder, frames: int = FRAMES):
    """``N_CLIPS`` frame folders of ``frames + 1`` PNGs (clip ``k`` moves ``k + 1`` px per frame) and a broken video."""
    import imageio.v3 as iio

    for k in range(N_CLIPS):
        d = folder / f"clip{k}"
        d.mkdir(parents=True)
        for f, frame in enumerate(_clip(k, speed=k + 1, frames=frames)):
            iio.imwrite(d / f"{f:03d}.png", frame)
    (folder / "broken.mp4").write_bytes(b"not a video")  # skipped with a warning, not fatal
    return folder


@pytest.fixture(scope="module")
def svd_world(tmp_path_factory):
    from cilnb import models
    from cilnb.stats import compute_stats

    root = tmp_path_factory.mktemp("svd_world")
    pipe = tiny_svd_pipeline(frames=FRAMES)
    pipe.save_pretrained(root / "svd")
    with torch.no_grad():  # a "fine-tuned" UNet: the same network, slightly moved
        for p in pipe.unet.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    pipe.unet.save_pretrained(root / "tuned_unet")
    clips = _write_clips(root / "clips")
    adapter = models.load("svd", str(root / "svd"), device="cpu")
    compute_stats(adapter, clips, root / "stats.safetensors", frames=FRAMES, size=PX, show_progress=False)
    return {"model": "svd", "model_path": str(root / "svd"), "videos_dir": str(clips), "frames": FRAMES,
            "size": f"{PX}x{PX}", "stats_path": str(root / "stats.safetensors"), "device": "cpu", "show_progress": False,
            "root": root}


def _run(name: str, world: dict, tmp_path, **params):
    figs = tmp_path / "figs"
    declared = declared_parameters(NOTEBOOKS[name])
    base = {k: v for k, v in world.items() if k in declared}  # what this notebook takes
    res = run_notebook(NOTEBOOKS[name], "smoke", figs, tmp_path / "executed", progress=False, params={**base, **params})
    assert res.ok, res.error
    for fig in json.loads(NOTEBOOKS[name].read_text())["metadata"]["cilnb"]["figures"]:
        assert (figs / f"{fig}.png").stat().st_size > 1000, f"{fig}.png missing or empty"
    return res


@pytest.mark.slow
def test_leakage_probe_runs_on_svd(svd_world, tmp_path):
    res = _run("leakage_probe", svd_world, tmp_path, n_videos=N_CLIPS, n_t=3, show_t=[0.5, 1.0], batch_size=4)
    assert "leakage probe" in res.verdict and "on svd" in res.verdict


class _FrameMeans(torch.nn.Module):
    """A stand-in for the I3D TorchScript detector: per-frame mean intensity, ``[B, 3, T, H, W] -> [B, T]``."""

    def forward(self, x: torch.Tensor, rescale: bool, resize: bool, return_features: bool) -> torch.Tensor:
        return x.mean(dim=(1, 3, 4))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_m_sweep_runs_on_svd_resumes_and_measures_fvd(svd_world, tmp_path):
    import re

    import pandas as pd

    from cilnb import experiments as E
    from cilnb.metrics import frechet_distance

    i3d = tmp_path / "i3d_torchscript.pt"
    torch.jit.script(_FrameMeans()).save(str(i3d))
    run = tmp_path / "run"
    params = dict(Ms=[1.0, 0.6], n_images=N_CLIPS, n_steps=2, batch_size=4, run_dir=str(run))
    res = _run("m_sweep", svd_world, tmp_path, **params)
    assert "(a) motion" in res.verdict and "quality not measured" in res.verdict
    table = pd.read_csv(run / "results.csv")
    assert len(table) == 2 * 2 * N_CLIPS and table.motion_score.notna().all()
    assert table.motion_method.str.startswith("farneback/svd/sum").all()
    stamp = {f: f.stat().st_mtime_ns for f in (run / "videos").glob("*.safetensors")}
    res = _run("m_sweep", svd_world, tmp_path, i3d_path=str(i3d), **params)  # resumes: nothing is sampled again
    assert {f: f.stat().st_mtime_ns for f in (run / "videos").glob("*.safetensors")} == stamp
    # the FVD in the verdict, recomputed by hand: frame means of the stored videos vs of the clips, in [0, 255]
    fd_ana, fd_std = map(float, re.search(r"FD (\S+) \[\S+\] vs (\S+) \[", res.verdict).groups())
    clips, _ = E.read_clips(svd_world["videos_dir"], N_CLIPS, frames=FRAMES, size=PX)
    feats = lambda v: ((v.float().clamp(-1, 1) + 1) * 127.5).mean(dim=(2, 3, 4)).double().numpy()
    for init, fd in (("analytic", fd_ana), ("standard", fd_std)):
        rows = table[(table.M == 0.6) & (table.init == init)].sort_values("image_index")
        assert frechet_distance(feats(E.load_sweep_videos(run, rows)), feats(clips)) == pytest.approx(fd, abs=0.051)


@pytest.mark.slow
def test_timenoise_training_compares_finetuned_unets_on_svd(svd_world, tmp_path):
    tuned = str(svd_world["root"] / "tuned_unet")
    res = _run("timenoise_training", svd_world, tmp_path, naive=tuned, timenoise=tuned, beta_m=15.0, n_images=2, n_steps=2,
               sampler="euler", batch_size=4, run_dir=str(tmp_path / "run"))
    assert "Claim 3" in res.verdict


@pytest.mark.slow
def test_motion_control_conditions_svd_on_motion_buckets(svd_world, tmp_path):
    res = _run("motion_control", svd_world, tmp_path, timenoise=str(svd_world["root"] / "tuned_unet"), targets=[20, 120],
               n_images=2, n_steps=2, batch_size=4, run_dir=str(tmp_path / "run"))
    assert "base output/input motion" in res.verdict


def test_load_variants_says_what_a_finetuned_unet_folder_must_hold(svd_world, tmp_path):
    from cilnb import experiments as E

    with pytest.raises(ValueError, match="diffusers UNet folder"):
        E.load_variants("svd", svd_world["model_path"], timenoise=str(tmp_path), device="cpu")
    both = E.load_variants("svd", svd_world["model_path"], timenoise=str(svd_world["root"] / "tuned_unet"), device="cpu")
    assert list(both) == ["base", "timenoise"]
    assert E.weights_digest(both["base"]) != E.weights_digest(both["timenoise"])


@pytest.mark.slow
def test_analytic_init_adds_the_model_schedule(svd_world, tmp_path):
    res = _run("analytic_init", svd_world, tmp_path)
    assert "Proposition 1 reproduced" in res.verdict


@pytest.mark.slow
def test_motion_metrics_scores_svd_samples(svd_world, tmp_path):
    _run("motion_metrics", svd_world, tmp_path)


@pytest.mark.slow
def test_remedies_notebook_runs_on_svd(svd_world, tmp_path):
    """Table 2 on a real adapter: every remedy family through SVD's conditioning and latent space (FrameInit
    encodes the images), Analytic-Init from the model's own statistics."""
    res = _run("remedies", svd_world, tmp_path, n_images=2, n_steps=2, batch_size=4,
               remedies=["none", "analytic_init", "freeinit", "frameinit", "progressive", "alg", "cond_noise"])
    for name in ("analytic_init", "freeinit", "frameinit", "progressive", "alg", "cond_noise"):
        assert f"{name}:" in res.verdict


# ----------------------------------------------------------------------------------------------
# a tiny flow model: Wan 2.1 I2V with its own text encoder, tokenizer and CLIP image encoder
# ----------------------------------------------------------------------------------------------

WAN_FRAMES = 81  # the Wan adapter samples the pipeline's default 81 frames (21 latent frames); clips as long, for its statistics


@pytest.fixture(scope="module")
def wan_world(tmp_path_factory):
    """A tiny Wan pipeline folder (every component, text encoder included, saved with ``save_pretrained``),
    81-frame clips and the model's Analytic-Init statistics of them."""
    pytest.importorskip("ftfy")  # diffusers' Wan prompt cleaning (cilnb's models extra)
    from cilnb import models
    from cilnb.stats import compute_stats

    root = tmp_path_factory.mktemp("wan_world")
    tiny_wan_pipeline(PX).save_pretrained(root / "wan")
    clips = _write_clips(root / "clips", frames=WAN_FRAMES - 1)
    adapter = models.load("wan-i2v", str(root / "wan"), device="cpu")
    compute_stats(adapter, clips, root / "stats.safetensors", frames=WAN_FRAMES, size=PX, show_progress=False)
    return {"model": "wan-i2v", "model_path": str(root / "wan"), "videos_dir": str(clips), "frames": WAN_FRAMES,
            "size": f"{PX}x{PX}", "stats_path": str(root / "stats.safetensors"), "device": "cpu", "show_progress": False,
            "root": root}


def test_wan_folder_loads_with_its_text_encoder_and_encodes_prompts(wan_world):
    """``models.load("wan-i2v", folder)`` goes through diffusers' ``from_pretrained`` and gets every component; the
    prompt states are the UMT5 states of the prompt's tokens (``</s>`` appended), zero-padded to the pipeline's length."""
    from transformers import UMT5EncoderModel

    from cilnb import models
    from cilnb.models.flow_video import WanI2VAdapter

    m = models.load("wan-i2v", wan_world["model_path"], device="cpu")
    assert isinstance(m, WanI2VAdapter) and isinstance(m.pipe.text_encoder, UMT5EncoderModel)
    assert m.pipe.tokenizer is not None and m.pipe.image_encoder is not None and m.n_frames == (WAN_FRAMES - 1) // 4 + 1
    ids = m.pipe.tokenizer("A cat walks").input_ids
    assert ids[-1] == m.pipe.tokenizer.eos_token_id and m.pipe.tokenizer.unk_token_id not in ids and len(ids) == 4
    pe, ne = m.encode_prompt("A cat walks", "")
    with torch.no_grad():
        states = m.pipe.text_encoder(torch.tensor([ids])).last_hidden_state[0]
    torch.testing.assert_close(pe[0, :4], states)
    assert pe.shape[1] > 4 and not pe[0, 4:].any()  # padded with zeros
    assert ne[0, :1].abs().sum() > 0 and not ne[0, 1:].any()  # "" is just </s>
    # no prompt given: the conditioning carries the encoded empty prompt
    img = torch.rand(1, 3, PX, PX) * 2 - 1
    cond = m.prepare_condition(img, num_frames=5)
    x = torch.randn(1, m.n_frames, 16, PX // 8, PX // 8)
    torch.testing.assert_close(m.check_condition(x, cond)["prompt_embeds"], ne)


def test_wan_prompt_encoding_without_ftfy_says_what_to_install(wan_world, monkeypatch):
    import diffusers.utils

    from cilnb import models

    m = models.load("wan-i2v", wan_world["model_path"], device="cpu")
    monkeypatch.setattr(diffusers.utils, "is_ftfy_available", lambda: False)
    with pytest.raises(ValueError, match="pip install ftfy"):
        m.encode_prompt("a cat")


@pytest.mark.slow
def test_remedies_notebook_runs_on_wan(wan_world, tmp_path):
    """Table 2 on a flow model, loaded from its folder and run through papermill exactly like the other notebooks:
    every remedy family (and a combination) through Wan's flow schedule, its ``condition``/``y`` and latent space,
    Analytic-Init from the model's own statistics, the empty prompt encoded by the folder's own UMT5."""
    names = ["none", "analytic_init", "freeinit", "frameinit", "progressive", "alg", "cond_noise", "alg+analytic_init"]
    res = _run("remedies", wan_world, tmp_path, n_images=2, n_steps=2, batch_size=4, remedies=names)
    assert "wan-i2v: 2 images x 1 seeds, 8 remedies" in res.output.read_text()
    for name in names[1:]:
        assert f"{name}:" in res.verdict
    assert "raise motion without losing quality:" in res.verdict and "Table 2 ordering" in res.verdict

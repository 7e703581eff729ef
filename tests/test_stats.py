"""``cilnb.stats`` and ``python -m cilnb stats``: streaming moments over a video folder, skips and resume."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

iio = pytest.importorskip("imageio.v3")
pytest.importorskip("av")

from cilnb import io as IO
from cilnb import stats as S
from cilnb.analytic_init import MomentStats

from _media import BAD, GOOD  # the video_dir fixture is conftest's

F, SIZE = 3, 16  # frames per clip, output size


class Pixels(torch.nn.Module):
    """A pixel-space stand-in (like the toy): no VAE, 3 channels."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))


def _direct_moments(video_dir, names):
    """Mean and population variance by numpy over independently read clips (the check of the streaming code)."""
    clips = np.stack([IO.clip_to_tensor(IO.read_clip(video_dir / n, F), (SIZE, SIZE)).numpy() for n in names]).astype(np.float64)
    return clips.mean(0), clips.var(0)


def test_compute_stats_matches_direct_moments_and_reports_skips(video_dir, tmp_path):
    res = S.compute_stats(Pixels(), video_dir, tmp_path / "st.safetensors", frames=F, size=SIZE, batch_size=4, show_progress=False)
    assert res.used == len(GOOD) and res.new == len(GOOD) and res.found == len(GOOD) + len(BAD)
    assert set(res.skipped) == set(BAD)
    for name, why in BAD.items():
        assert res.skipped[name].startswith(why)
    assert "corrupt.mp4" in res.summary() and "too short" in res.summary()
    mean, var = _direct_moments(video_dir, GOOD)
    st = MomentStats.load(tmp_path / "st.safetensors")
    assert st.count == len(GOOD) and st.shape == (F, 3, SIZE, SIZE)
    np.testing.assert_allclose(st.mean.numpy(), mean, atol=1e-6)
    np.testing.assert_allclose(st.var.numpy(), var, atol=1e-6)
    assert st.avg_var == pytest.approx(var.mean(), abs=1e-8)
    # a rerun with nothing new re-uses everything and keeps the numbers
    again = S.compute_stats(Pixels(), video_dir, tmp_path / "st.safetensors", frames=F, size=SIZE, show_progress=False)
    assert again.new == 0 and again.stats.count == len(GOOD)
    with pytest.raises(ValueError, match="other settings"):
        S.compute_stats(Pixels(), video_dir, tmp_path / "st.safetensors", frames=F, size=8, show_progress=False)


class _Stop(Exception):
    pass


def test_interrupted_run_resumes_without_double_counting(video_dir, tmp_path):
    full = S.compute_stats(Pixels(), video_dir, tmp_path / "full.safetensors", frames=F, size=SIZE, batch_size=1, show_progress=False).stats
    snap = tmp_path / "snapshot"

    def kill_after(n, snapshot=False):
        def cb(info):
            if snapshot and info["done"] == 2:  # the files as a SIGKILL right now would leave them
                shutil.copytree(tmp_path / "run", snap)
            if info["done"] == n:
                raise _Stop
        return cb

    # (1) an exception: the handler keeps the finished batches; the rerun does only the rest
    (tmp_path / "run").mkdir()
    out = tmp_path / "run" / "st.safetensors"
    with pytest.raises(_Stop):
        S.compute_stats(Pixels(), video_dir, out, frames=F, size=SIZE, batch_size=1, checkpoint_every=2, show_progress=False, on_batch=kill_after(3, snapshot=True))
    prog = json.loads((tmp_path / "run" / "st.safetensors.progress.json").read_text())
    assert prog["count"] == 3 == len(prog["done"])
    rest = S.compute_stats(Pixels(), video_dir, out, frames=F, size=SIZE, batch_size=1, checkpoint_every=2, show_progress=False)
    assert rest.new == len(GOOD) - 3 and rest.stats.count == len(GOOD)
    # (2) a hard kill right after the checkpoint at 2 videos: resume from the copied files
    assert not (snap / "st.safetensors").exists() and len(json.loads((snap / "st.safetensors.progress.json").read_text())["done"]) == 2
    resumed = S.compute_stats(Pixels(), video_dir, snap / "st.safetensors", frames=F, size=SIZE, batch_size=1, show_progress=False)
    assert resumed.new == len(GOOD) - 2 and resumed.stats.count == len(GOOD)
    for st in (rest.stats, resumed.stats, MomentStats.load(out)):
        np.testing.assert_allclose(st.mean.numpy(), full.mean.numpy(), atol=1e-12)
        np.testing.assert_allclose(st.var.numpy(), full.var.numpy(), atol=1e-12)
    assert not list((tmp_path / "run").glob("*.ckpt-*"))  # checkpoints are cleaned up once final


def test_max_videos_and_clear_errors(video_dir, tmp_path):
    res = S.compute_stats(Pixels(), video_dir, tmp_path / "m.safetensors", frames=F, size=SIZE, max_videos=2, show_progress=False)
    assert res.stats.count == 2 and res.skipped == {}  # a.mp4, b.avi: nothing past them was read
    again = S.compute_stats(Pixels(), video_dir, tmp_path / "m.safetensors", frames=F, size=SIZE, max_videos=2, show_progress=False)
    assert again.new == 0 and again.stats.count == 2
    more = S.compute_stats(Pixels(), video_dir, tmp_path / "m.safetensors", frames=F, size=SIZE, max_videos=4, batch_size=3, show_progress=False)
    assert more.new == 2 and set(more.skipped) == {"corrupt.mp4"}  # c.webm, corrupt.mp4 (skipped), d.gif; then stop
    mean, _ = _direct_moments(video_dir, GOOD[:4])
    np.testing.assert_allclose(more.stats.mean.numpy(), mean, atol=1e-6)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no videos found"):
        S.compute_stats(Pixels(), tmp_path / "empty", tmp_path / "e.safetensors", frames=F, size=SIZE, show_progress=False)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.mp4").write_bytes(b"nope")
    with pytest.raises(ValueError, match="none of the 1 video"):
        S.compute_stats(Pixels(), bad, tmp_path / "b.safetensors", frames=F, size=SIZE, show_progress=False)


def test_cli_toy_pixel_space(video_dir, tmp_path, capsys):
    from cilnb.__main__ import main
    from cilnb.models import toy

    net = toy.build(frames=F, size=SIZE, widths=(8, 16), temporal_levels=(1,), temporal_width=8, emb_dim=32).net
    ckpt = toy.save_checkpoint(tmp_path / "toy.safetensors", net, {})
    out = tmp_path / "toy_stats.safetensors"
    rc = main(["stats", "--model", "toy", "--model-path", str(ckpt), "--videos", str(video_dir), "--frames", str(F),
               "--size", f"{SIZE}x{SIZE}", "--out", str(out), "--device", "cpu", "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "corrupt.mp4" in text and f"statistics of {len(GOOD)} video(s)" in text
    st = MomentStats.load(out)
    assert st.shape == (F, 1, SIZE, SIZE)  # the toy is grayscale: luma of the decoded frames
    clips = np.stack([IO.clip_to_tensor(IO.read_clip(video_dir / n, F), (SIZE, SIZE), channels=1).numpy() for n in GOOD])
    np.testing.assert_allclose(st.mean.numpy(), clips.astype(np.float64).mean(0), atol=1e-6)


def test_cli_svd_latents_times_scaling_factor(video_dir, tmp_path, capsys):
    """Through the real loader: a tiny SVD pipeline saved to a folder; moments of vae.encode(x).mode() * scaling_factor."""
    pytest.importorskip("diffusers")
    pytest.importorskip("transformers")
    from cilnb.__main__ import main

    from _tiny import tiny_svd_pipeline

    pipe = tiny_svd_pipeline(frames=F, px=SIZE)
    folder = tmp_path / "svd"
    pipe.save_pretrained(folder, safe_serialization=True)
    out = tmp_path / "svd_stats.safetensors"
    rc = main(["stats", "--model", "svd", "--model-path", str(folder), "--videos", str(video_dir), "--frames", str(F),
               "--size", f"{SIZE}x{SIZE}", "--out", str(out), "--device", "cpu", "--dtype", "float32", "--batch-size", "3", "--quiet"])
    assert rc == 0
    st = MomentStats.load(out)
    assert st.shape == (F, 4, SIZE // 2, SIZE // 2) and st.count == len(GOOD)
    assert st.vae_scaling_factor == pytest.approx(pipe.vae.config.scaling_factor)
    clips = torch.stack([IO.clip_to_tensor(IO.read_clip(video_dir / n, F), (SIZE, SIZE)) for n in GOOD])
    with torch.no_grad():
        z = pipe.vae.encode(clips.flatten(0, 1)).latent_dist.mode() * pipe.vae.config.scaling_factor
    z = z.reshape(len(GOOD), F, *z.shape[1:]).double()
    np.testing.assert_allclose(st.mean.numpy(), z.mean(0).numpy(), atol=1e-5)
    np.testing.assert_allclose(st.var.numpy(), z.var(0, unbiased=False).numpy(), atol=1e-5)


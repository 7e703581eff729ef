"""``python -m cilnb stats``: decoding, frame sampling, resize/crop, streaming moments, skips and resume."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

iio = pytest.importorskip("imageio.v3")
pytest.importorskip("av")

from cilnb import stats_cli as S
from cilnb.analytic_init import MomentStats

F, SIZE = 3, 16  # frames per clip, output size


def _frames(n, h=24, w=32, seed=0):
    """``n`` smooth RGB frames (codec-friendly: low-frequency content survives h264/vp8 nearly exactly)."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for i in range(n):
        c = rng.uniform(0.2, 0.8, size=3)
        ph = rng.uniform(0, 2 * np.pi)
        base = 0.5 + 0.3 * np.sin(2 * np.pi * xx / w + ph + 0.4 * i)[..., None] * c[None, None]
        out.append(np.clip(base * 255, 0, 255).astype(np.uint8))
    return np.stack(out)


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    iio.imwrite(d / "a.mp4", _frames(6, seed=1), plugin="pyav", codec="libx264", fps=8)
    iio.imwrite(d / "b.avi", _frames(5, seed=2), plugin="pyav", codec="mpeg4", fps=8)
    iio.imwrite(d / "c.webm", _frames(4, seed=3), plugin="pyav", codec="libvpx", fps=8)
    iio.imwrite(d / "d.gif", _frames(4, seed=4), plugin="pillow", duration=125, loop=0)
    sub = d / "nested" / "e_frames"
    sub.mkdir(parents=True)
    for i, fr in enumerate(_frames(4, seed=5)):
        iio.imwrite(sub / f"{i:03d}.png", fr)
    iio.imwrite(d / "nested" / "f.mp4", _frames(6, seed=6), plugin="pyav", codec="libx264", fps=8)
    iio.imwrite(d / "short.mp4", _frames(2, seed=7), plugin="pyav", codec="libx264", fps=8)  # too short for F = 3
    (d / "corrupt.mp4").write_bytes(b"\x00\x00\x00 ftypisom" + b"garbage" * 50)
    (d / ".hidden.mp4").write_bytes(b"ignored")
    (d / "notes.txt").write_text("not a video")
    return d


GOOD = ["a.mp4", "b.avi", "c.webm", "d.gif", "nested/e_frames", "nested/f.mp4"]
BAD = {"corrupt.mp4": "unreadable", "short.mp4": "too short"}


class Pixels(torch.nn.Module):
    """A pixel-space stand-in (like the toy): no VAE, 3 channels."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))


def _direct_moments(video_dir, names):
    """Mean and population variance by numpy over independently read clips (the check of the streaming code)."""
    clips = np.stack([S.clip_to_tensor(S.read_clip(video_dir / n, F), (SIZE, SIZE)).numpy() for n in names]).astype(np.float64)
    return clips.mean(0), clips.var(0)


def test_find_videos_lists_files_and_frame_folders(video_dir):
    names = [p.relative_to(video_dir).as_posix() for p in S.find_videos(video_dir)]
    assert sorted(names) == sorted(GOOD + list(BAD))


def test_read_clip_stride_fps_and_too_short(tmp_path):
    # frame i is a flat grey of level 20 i: the decoded level tells which frame was taken
    fr = np.stack([np.full((16, 16, 3), 20 * i, np.uint8) for i in range(9)])
    iio.imwrite(tmp_path / "ramp.mp4", fr, plugin="pyav", codec="libx264", fps=8)
    lev = lambda c: c.reshape(len(c), -1).mean(1) / 20  # noqa: E731
    np.testing.assert_allclose(lev(S.read_clip(tmp_path / "ramp.mp4", 3)), [0, 1, 2], atol=0.15)
    np.testing.assert_allclose(lev(S.read_clip(tmp_path / "ramp.mp4", 3, stride=3)), [0, 3, 6], atol=0.15)
    np.testing.assert_allclose(lev(S.read_clip(tmp_path / "ramp.mp4", 3, fps=4)), [0, 2, 4], atol=0.15)  # 8 fps -> 4 fps: stride 2
    with pytest.raises(S.VideoSkip, match="too short: 9 frames, needs 10"):
        S.read_clip(tmp_path / "ramp.mp4", 4, stride=3)


def test_clip_to_tensor_covers_then_centre_crops():
    # 20 x 40 frame: black | grey 128 over columns 8..31 | white
    fr = np.zeros((1, 20, 40, 3), np.uint8)
    fr[:, :, 8:32] = 128
    fr[:, :, 32:] = 255
    x = S.clip_to_tensor(fr, (10, 10))  # scale 0.5 -> 10 x 20; the centre 10 columns see only grey (filter support 2 px)
    assert x.shape == (1, 3, 10, 10)
    np.testing.assert_allclose(x.numpy(), 128 / 255 * 2 - 1, atol=1e-5)
    wide = S.clip_to_tensor(fr, (10, 40))  # scale 1 in width: no crop in width, 10 of 20 rows
    assert wide.shape == (1, 3, 10, 40) and float(wide.min()) == -1.0 and float(wide.max()) == 1.0
    rgb = np.zeros((1, 4, 4, 3), np.uint8)
    rgb[..., 1] = 255
    gray = S.clip_to_tensor(rgb, (4, 4), channels=1)
    np.testing.assert_allclose(gray.numpy(), 0.587 * 2 - 1, atol=1e-6)  # BT.601 luma of pure green


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
    assert res.stats.count == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no videos found"):
        S.compute_stats(Pixels(), tmp_path / "empty", tmp_path / "e.safetensors", frames=F, size=SIZE, show_progress=False)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.mp4").write_bytes(b"nope")
    with pytest.raises(ValueError, match="none of the 1 video"):
        S.compute_stats(Pixels(), bad, tmp_path / "b.safetensors", frames=F, size=SIZE, show_progress=False)
    with pytest.raises(ValueError, match="HxW"):
        S.parse_size("320by512")


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
    clips = np.stack([S.clip_to_tensor(S.read_clip(video_dir / n, F), (SIZE, SIZE), channels=1).numpy() for n in GOOD])
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
    clips = torch.stack([S.clip_to_tensor(S.read_clip(video_dir / n, F), (SIZE, SIZE)) for n in GOOD])
    with torch.no_grad():
        z = pipe.vae.encode(clips.flatten(0, 1)).latent_dist.mode() * pipe.vae.config.scaling_factor
    z = z.reshape(len(GOOD), F, *z.shape[1:]).double()
    np.testing.assert_allclose(st.mean.numpy(), z.mean(0).numpy(), atol=1e-5)
    np.testing.assert_allclose(st.var.numpy(), z.var(0, unbiased=False).numpy(), atol=1e-5)


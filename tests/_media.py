"""Small inputs for the I/O, stats, sweep, CLI and fine-tuning tests: video folders (imageio + PyAV; test files importorskip
them) and a tiny toy checkpoint with statistics of its data."""
from __future__ import annotations

import functools

import numpy as np

# the folder made by :func:`video_folder`: usable videos, and the unusable ones with the reason they are skipped
GOOD = ["a.mp4", "b.avi", "c.webm", "d.gif", "nested/e_frames", "nested/f.mp4"]
BAD = {"corrupt.mp4": "unreadable", "short.mp4": "too short"}


def smooth_frames(n, h=24, w=32, seed=0):
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


def video_folder(d):
    """Fill ``d`` with every container cilnb reads (``GOOD``, 3+ frames), a frame folder, and the ``BAD`` videos."""
    import imageio.v3 as iio

    iio.imwrite(d / "a.mp4", smooth_frames(6, seed=1), plugin="pyav", codec="libx264", fps=8)
    iio.imwrite(d / "b.avi", smooth_frames(5, seed=2), plugin="pyav", codec="mpeg4", fps=8)
    iio.imwrite(d / "c.webm", smooth_frames(4, seed=3), plugin="pyav", codec="libvpx", fps=8)
    iio.imwrite(d / "d.gif", smooth_frames(4, seed=4), plugin="pillow", duration=125, loop=0)
    sub = d / "nested" / "e_frames"
    sub.mkdir(parents=True)
    for i, fr in enumerate(smooth_frames(4, seed=5)):
        iio.imwrite(sub / f"{i:03d}.png", fr)
    iio.imwrite(d / "nested" / "f.mp4", smooth_frames(6, seed=6), plugin="pyav", codec="libx264", fps=8)
    iio.imwrite(d / "short.mp4", smooth_frames(2, seed=7), plugin="pyav", codec="libx264", fps=8)  # too short for 3 frames
    (d / "corrupt.mp4").write_bytes(b"\x00\x00\x00 ftypisom" + b"garbage" * 50)
    (d / ".hidden.mp4").write_bytes(b"ignored")
    (d / "notes.txt").write_text("not a video")
    return d


def tiny_toy_files(d, frames, size, n_stats=8):
    """A tiny toy network (widths 8, 16; seed 0) saved as ``d/toy.safetensors`` and Analytic-Init statistics of ``n_stats``
    sprite videos of that shape as ``d/stats.safetensors``; returns both paths."""
    import torch

    from cilnb import data
    from cilnb.analytic_init import MomentStats
    from cilnb.models import toy

    torch.manual_seed(0)
    net = toy.build(frames=frames, size=size, widths=(8, 16), temporal_levels=(1,), temporal_width=8, emb_dim=32).net
    ckpt = toy.save_checkpoint(d / "toy.safetensors", net, {})
    MomentStats().update(data.generate(n_stats, seed=7, frames=frames, size=size, flow=False).videos).save(d / "stats.safetensors")
    return ckpt, d / "stats.safetensors"


@functools.lru_cache(maxsize=None)
def tiny_toy(size: int = 8):
    """A tiny random-weight toy of 2 frames of ``size`` x ``size`` (seed 0, eval mode); 16 fits the default sprites of toy:N
    images (sweeps). Shared by the bad-input test files: treat it as read-only."""
    from cilnb.models import toy

    return toy.build(frames=2, size=size, widths=(8,), temporal="none", temporal_levels=(), temporal_width=8, emb_dim=16, seed=0).eval()


@functools.lru_cache(maxsize=None)
def tiny_sprites():
    """Two sprite videos of 2 frames of 8 x 8 (seed 0) with their conditions: inputs for :func:`tiny_toy`."""
    from cilnb import data as D

    return D.generate(2, seed=0, config=D.SpriteConfig(frames=2, size=8, radius=(1.0, 2.0)))


def tiny_y():
    """A fresh copy of :func:`tiny_sprites`' conditional images ``[2, 1, 8, 8]``."""
    return tiny_sprites().condition.clone()


def tiny_x0():
    """A fresh copy of :func:`tiny_sprites`' videos ``[2, 2, 1, 8, 8]``."""
    return tiny_sprites().videos.clone()

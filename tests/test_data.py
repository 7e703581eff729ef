"""Moving-sprite data: determinism, ground truth, and the tracker checked against the generator."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from cilnb import data as D


@pytest.fixture(scope="module")
def one_sprite():
    return D.generate(64, seed=3, n_sprites=(1, 1))


@pytest.fixture(scope="module")
def mixed():
    return D.generate(96, seed=4)


def test_layout_range_and_condition(mixed):
    v = mixed.videos
    assert v.shape == (96, 8, 1, 32, 32) and v.dtype == torch.float32
    assert float(v.min()) >= -1 and float(v.max()) <= 1
    assert torch.equal(mixed.condition, v[:, 0])
    assert mixed.flow.shape == (96, 7, 2, 32, 32)
    assert mixed.positions.shape == (96, 8, 2, 2) and mixed.speed.shape == (96,)
    counts = mixed.present.sum(1)
    assert set(counts.tolist()) == {1, 2}
    assert torch.isnan(mixed.positions[~mixed.present[:, None].expand(-1, 8, -1)]).all()


def test_deterministic_given_seed():
    a, b = D.generate(8, seed=11), D.generate(8, seed=11)
    assert torch.equal(a.videos, b.videos) and torch.equal(a.flow, b.flow)
    assert not torch.equal(a.videos, D.generate(8, seed=12).videos)
    g = torch.Generator().manual_seed(11)
    c = D.generate(8, g)
    assert torch.equal(c.videos, a.videos)
    assert not torch.equal(D.generate(8, g).videos, a.videos)  # the generator advanced
    import numpy as np

    assert torch.equal(D.generate(np.int64(8), seed=11).videos, a.videos)  # a numpy count is a count
    with pytest.raises(ValueError, match="n must be a positive int"):
        D.generate(np.int64(0))


def test_config_overrides_and_sizes():
    sv = D.generate(4, seed=0, frames=5, size=24, radius=(2.0, 3.0))
    assert sv.videos.shape == (4, 5, 1, 24, 24) and sv.config.frames == 5


def test_bounce_matches_step_by_step_reflection():
    g = torch.Generator().manual_seed(0)
    p0 = 3 + 20 * torch.rand(200, generator=g, dtype=torch.float64)
    v = 12 * (torch.rand(200, generator=g, dtype=torch.float64) - 0.5)
    lo, hi = torch.tensor(3.0, dtype=torch.float64), torch.tensor(23.0, dtype=torch.float64)
    p, vel = p0.clone(), v.clone()
    for f in range(1, 12):  # brute force: move, then reflect (possibly several times)
        p = p + vel
        for _ in range(4):
            over, under = p > hi, p < lo
            p = torch.where(over, 2 * hi - p, torch.where(under, 2 * lo - p, p))
            vel = torch.where(over | under, -vel, vel)
        closed = D.bounce(p0, v, torch.tensor(float(f), dtype=torch.float64), lo, hi)
        assert torch.allclose(closed, p, atol=1e-9)


def test_sprites_stay_inside_and_speed_is_ground_truth(mixed):
    pos, r = mixed.positions, mixed.radius
    ok = mixed.present[:, None, :].expand(-1, 8, -1)
    inner = pos[ok]
    rr = r[:, None, :].expand(-1, 8, -1)[ok]
    assert bool(((inner - rr[:, None]) >= -1e-9).all()) and bool(((inner + rr[:, None]) <= 31 + 1e-9).all())
    step = (pos[:, 1:] - pos[:, :-1]).norm(dim=-1)
    brute = torch.stack([step[i][:, mixed.present[i]].mean() for i in range(len(mixed))])
    assert torch.allclose(brute, mixed.speed)
    # bounces shorten a step but never lengthen it: per-frame step <= nominal speed
    nominal = mixed.velocity.norm(dim=-1)[:, None, :].expand_as(step)
    assert bool((step[mixed.present[:, None, :].expand_as(step)] <= nominal[mixed.present[:, None, :].expand_as(step)] + 1e-9).all())


def test_sprites_brighter_than_every_background_pixel(one_sprite):
    cfg = one_sprite.config
    v = one_sprite.videos[:, :, 0]
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    c = one_sprite.positions[:, :, 0].float()
    d = ((xx - c[..., 0, None, None]) ** 2 + (yy - c[..., 1, None, None]) ** 2).sqrt()
    far = d > one_sprite.radius[:, 0, None, None, None].float() * math.sqrt(2) + cfg.edge + 0.01
    assert float(v[far].max()) <= cfg.background_range[1] + 1e-6
    assert float(v.max()) >= cfg.sprite_brightness[0] - 1e-6
    centre = v[torch.arange(64)[:, None], torch.arange(8), c[..., 1].round().long(), c[..., 0].round().long()]
    assert bool((centre > D.THRESHOLD).all())


def test_tracker_recovers_trajectories_of_single_sprites(one_sprite):
    tr = D.track_sprites(one_sprite.videos)
    assert (tr.count == 1).all()
    err = np.abs(tr.centroids[:, :, 0] - one_sprite.positions[:, :, 0].numpy())
    assert err.max() < 0.5 and err.mean() < 0.1
    assert np.abs(tr.speed - one_sprite.speed.numpy()).max() < 0.2
    gt_disp = (one_sprite.positions[:, -1, 0] - one_sprite.positions[:, 0, 0]).norm(dim=-1).numpy()
    assert np.abs(tr.displacement - gt_disp).max() < 0.6
    assert np.allclose(tr.count_stability, 1.0)
    # areas: a disk of radius r covers about pi r^2 pixels (the threshold sits mid-edge)
    disk = one_sprite.shape[:, 0] == D.SHAPES.index("disk")
    r = one_sprite.radius[:, 0].numpy()
    a0 = tr.area[:, 0, 0]
    rel = a0[disk.numpy()] / (math.pi * r[disk.numpy()] ** 2)
    assert 0.75 < rel.min() and rel.max() < 1.35
    assert np.nanmax(tr.area_cv) < 0.15


def test_tracker_links_two_separated_sprites(mixed):
    pos = mixed.positions
    two = mixed.present.all(1)
    gap = (pos[:, :, 0] - pos[:, :, 1]).norm(dim=-1).amin(1) - mixed.radius.sum(1) * math.sqrt(2)
    sel = (two & (gap > 3)).numpy()
    assert sel.sum() >= 5
    tr = D.track_sprites(mixed.videos[sel], max_sprites=2)
    assert (tr.count == 2).all()
    # per-track step lengths match the ground-truth per-sprite steps (as sets per frame pair)
    gt_step = (pos[sel][:, 1:] - pos[sel][:, :-1]).norm(dim=-1).numpy()
    assert np.allclose(np.sort(tr.step, -1), np.sort(gt_step, -1), atol=0.35)
    assert np.abs(tr.speed - mixed.speed[sel].numpy()).max() < 0.2


def test_tracker_on_shifted_and_static_videos():
    base = D.generate(6, seed=9, n_sprites=(1, 1), speed=(0.0, 0.0), texture_waves=0, background_range=(-1.0, -0.5))
    v = base.videos
    assert np.allclose(D.track_sprites(v).speed, 0.0)
    # translate frame 0 by exactly k px per frame with np.roll on a constant background
    shifted = torch.stack([torch.roll(v[:, 0], shifts=2 * f, dims=-1) for f in range(4)], dim=1)
    tr = D.track_sprites(shifted)
    ok = np.isfinite(tr.speed)
    # a roll wraps around; sprites that stay inside move exactly 2 px per frame
    c0 = base.positions[:, 0, 0, 0].numpy()
    inside = ok & (c0 + 6 + base.radius[:, 0].numpy() + 1 < 31)
    assert inside.sum() >= 1
    assert np.allclose(tr.speed[inside], 2.0, atol=1e-6)


def test_flow_is_consistent_with_sprite_motion(one_sprite):
    fl = one_sprite.flow  # [B, F-1, 2, H, W]
    disp = (one_sprite.positions[:, 1:, 0] - one_sprite.positions[:, :-1, 0]).float()  # [B, F-1, 2]
    moving = fl.abs().sum(2) > 0
    # every non-zero flow vector equals the sprite's displacement; background flow is zero
    vals = fl.permute(0, 1, 3, 4, 2)[moving]  # [n, 2]
    expect = disp[:, :, None, None, :].expand(-1, -1, 32, 32, -1)[moving]
    assert torch.allclose(vals, expect)
    # the flow covers the sprite: its support is the set of pixels above the threshold (up to the edge ring)
    tr = D.track_sprites(one_sprite.videos)
    support = moving.sum((2, 3)).numpy()
    still = (disp.norm(dim=-1) == 0).numpy()
    area = tr.area[:, :-1, 0]
    rel = support[~still] / area[~still]
    assert 0.8 < rel.min() and rel.max() < 1.8 and 0.95 < np.median(rel) < 1.2
    # mean flow over the sprite = tracker's centroid displacement
    mean_flow = (fl.sum((3, 4)) / moving.sum((2, 3)).clamp(min=1)[:, :, None]).numpy()
    tracked = tr.centroids[:, 1:, 0] - tr.centroids[:, :-1, 0]
    m = ~still
    assert np.abs(mean_flow[m] - tracked[m]).max() < 0.7 and np.abs(mean_flow[m] - tracked[m]).mean() < 0.1


def test_motion_dataframe(mixed):
    df = D.motion(mixed.videos[:10], method="gt", input_speed=mixed.speed[:10])
    assert isinstance(df, pd.DataFrame) and len(df) == 10
    for col in ("video", "speed", "displacement", "path_length", "count0", "count_stability", "area0", "area_cv", "method", "input_speed"):
        assert col in df
    assert (df.method == "gt").all()
    assert np.allclose(df.input_speed, mixed.speed[:10].numpy())


def test_tracker_on_noise_and_empty_frames():
    empty = -torch.ones(2, 4, 1, 16, 16)
    tr = D.track_sprites(empty)
    assert (tr.count == 0).all() and np.isnan(tr.speed).all()
    df = D.motion(empty)
    assert df.speed.isna().all()


def test_bad_input_raises():
    with pytest.raises(ValueError, match="brighter"):
        D.SpriteConfig(sprite_brightness=(0.0, 1.0), background_range=(-1.0, 0.2))
    with pytest.raises(ValueError, match="frames"):
        D.generate(2, seed=0, frames=1)
    with pytest.raises(ValueError, match="positive int"):
        D.generate(0, seed=0)
    with pytest.raises(ValueError, match="seed"):
        D.generate(2, seed=None)
    with pytest.raises(ValueError, match="fit"):
        D.SpriteConfig(size=8, radius=(2.0, 4.0))
    with pytest.raises(ValueError, match=r"\[B, F, 1, H, W\]"):
        D.track_sprites(torch.zeros(2, 8, 3, 32, 32))
    with pytest.raises(ValueError, match="shapes"):
        D.SpriteConfig(shapes=("triangle",))

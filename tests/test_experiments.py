"""The notebooks' experiment functions: read-outs checked against ground truth, verdicts against numbers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from cilnb import data, evaluation, experiments as E


@pytest.fixture(scope="module")
def videos():
    return data.generate(48, seed=3)


def test_sprite_motion_reads_true_speed_on_clean_and_blurred_videos(videos):
    truth = videos.speed.numpy()
    moving = truth > 0.05
    speed = E.SpriteMotion(videos.videos, "speed")
    clean = speed(videos.videos)
    assert np.isfinite(clean[moving]).all()
    assert np.mean(np.abs(clean[moving] - truth[moving])) < 0.15
    fixed = E.sprite_speed(videos.videos)  # the plain tracker on clean videos: no better
    assert np.mean(np.abs(clean - truth)[moving]) <= np.nanmean(np.abs(fixed - truth)[moving]) + 0.1
    # a blurred, dimmed sprite on the same background (like a one-step prediction at large t): the
    # fixed threshold loses most sprites; the excess over the background still reads the motion
    bg = speed.background[:, None]
    blur = bg + 0.3 * F.avg_pool2d((videos.videos - bg).flatten(0, 1), 5, 1, 2).view_as(videos.videos)
    assert np.isnan(data.track_sprites(blur).speed).mean() > 0.5
    hm = speed(blur)
    assert np.isfinite(hm[moving]).mean() > 0.9 and np.nanmean(np.abs(hm - truth)[moving]) < 0.25
    # a sprite parked at its first position reads as (almost) no motion, not as texture motion
    parked = videos.videos[:, :1].expand(-1, 8, -1, -1, -1).contiguous()
    assert np.nanmean(speed(parked)[moving]) < 0.1
    # video-major predictions: K per video
    rep = videos.videos.repeat_interleave(3, dim=0)
    assert np.allclose(speed(rep), np.repeat(clean, 3), equal_nan=True)
    with pytest.raises(ValueError, match="multiple"):
        speed(videos.videos[:5])


def test_flow_motion_tracks_speed_and_static_is_zero(videos):
    f = E.flow_motion(videos.videos)
    assert np.corrcoef(f, videos.speed.numpy())[0, 1] > 0.6
    static = videos.videos[:, :1].expand(-1, 8, -1, -1, -1).contiguous()
    assert np.abs(E.flow_motion(static)).max() < 0.05 * f.mean()


def test_frechet_to_reference_is_small_for_same_distribution_and_large_for_broken_videos():
    ref = evaluation.video_features(data.generate(256, seed=10).videos)
    same = evaluation.frechet_to_reference(data.generate(256, seed=11).videos, ref)
    noisy = data.generate(256, seed=11).videos
    noisy = (noisy + 0.3 * torch.randn(noisy.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    frozen = data.generate(256, seed=11).videos[:, :1].expand(-1, 8, -1, -1, -1).contiguous()
    assert same < evaluation.frechet_to_reference(noisy, ref) / 5
    assert same < evaluation.frechet_to_reference(frozen, ref) / 2


def test_video_features_reject_bad_input():
    with pytest.raises(ValueError, match="toy layout"):
        evaluation.video_features(torch.zeros(2, 8, 3, 8, 8))
    bad = torch.zeros(2, 8, 1, 8, 8)
    bad[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        evaluation.video_features(bad)


def test_probe_verdict_follows_the_numbers():
    rng = np.random.default_rng(0)
    rows = [{"model": "m", "video": v, "t": t, "r": (0.9 if t < 0.9 else 0.3) + 0.05 * rng.standard_normal()}
            for v in range(10) for t in (0.5, 0.9, 1.0)]
    df = pd.DataFrame(rows)
    ok, msg = E.probe_verdict(df, "r", model="m")
    assert ok and "REPRODUCED" in msg and "10 moving videos" in msg
    df.loc[df.t >= 0.9, "r"] = 0.95 + 0.3 * rng.standard_normal((df.t >= 0.9).sum())  # not marked: CI spans 1
    assert not E.probe_verdict(df, "r", model="m")[0]
    df.loc[df.t >= 0.9, "r"] = np.nan
    ok, msg = E.probe_verdict(df, "r", model="m")
    assert not ok and "could NOT be measured" in msg


def test_sweep_verdict_reads_motion_quality_and_alignment():
    s = pd.DataFrame({
        "M": [1.0, 0.6, 1.0, 0.6], "init": ["standard", "standard", "analytic", "analytic"],
        "speed": [1.0, 1.5, 1.0, 1.4], "gt_speed": 1.4, "speed_ratio": [0.7, 1.1, 0.7, 1.0],
        "fd": [2.0, 5.0, 2.0, 1.5], "first_frame_psnr": [30.0, 20.0, 30.0, 29.0],
    })
    lines = E.sweep_verdict(s)
    assert "rises" in lines[0] and "beats" in lines[1] and "(better)" in lines[2]


def test_weights_digest_changes_with_the_weights():
    from cilnb.models import toy

    a, b = toy.build(seed=0), toy.build(seed=0)
    assert E.weights_digest(a) == E.weights_digest(b)
    with torch.no_grad():
        next(b.parameters()).add_(1e-3)
    assert E.weights_digest(a) != E.weights_digest(b)


def test_load_models_refuses_empty_variants():
    with pytest.raises(ValueError, match="variants is empty"):
        E.load_models("toy", "", " , ")

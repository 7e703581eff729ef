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
        "motion": [1.0, 1.5, 1.0, 1.4], "motion_sem": 0.1, "gt_motion": 1.4, "motion_ratio": [0.7, 1.1, 0.7, 1.0],
        "fd": [2.0, 5.0, 2.0, 1.5], "fd_lo": [1.8, 4.5, 1.8, 1.2], "fd_hi": [2.2, 5.5, 2.2, 1.7],
        "first_frame_psnr": [30.0, 20.0, 30.0, 29.0], "first_frame_psnr_sem": 0.5, "motion_name": "speed", "fd_name": "FD",
    })
    lines = E.sweep_verdict(s)
    assert "rises" in lines[0] and "beats" in lines[1] and "(better)" in lines[2] and len(lines) == 3
    # the toy's outlier-robust quality read-out, when present
    lines = E.sweep_verdict(s.assign(sprite_stability=[0.9, 0.6, 0.9, 0.8], sprite_stability_sem=0.02, sprite_stability_data=0.92))
    assert "(d)" in lines[3] and "0.80 vs standard 0.60 (better)" in lines[3] and "real videos 0.92" in lines[3]
    # differences within the noise do not count: 2 s.e. for motion, overlapping intervals for FD
    assert "does NOT rise" in E.sweep_verdict(s.assign(motion_sem=0.3))[0]
    lines = E.sweep_verdict(s.assign(fd_hi=[2.2, 5.5, 2.2, 4.6]))
    assert "does NOT beat" in lines[1] and "indistinguishable" in lines[1]
    # without a quality distance (a real model without I3D) the verdict says so instead of inventing one
    lines = E.sweep_verdict(s.drop(columns=["fd", "fd_lo", "fd_hi"]).assign(fd_name=""))
    assert len(lines) == 2 and "quality not measured" in lines[1] and "beats" in lines[1]
    lines = E.sweep_verdict(s.assign(first_frame_psnr=[30.0, 29.5, 30.0, 27.0]))
    assert "does NOT beat" in lines[1] and "alignment worse" in lines[1]


def test_per_image_conditioning_reaches_the_model_and_the_rows(tmp_path):
    """The toy's motion target rides along per image (Fig. 1 through the resumable sweep)."""
    from cilnb import sweep
    from cilnb.models import toy

    net = toy.build(seed=0)
    images = E.toy_images(3, data_seed=4)
    images.cond = {"motion": [0.0, 2.0, 4.0]}
    res = sweep.run_sweep(net, images, tmp_path / "a", Ms=[1.0], n_steps=2, motion_method=None, show_progress=False)
    assert res.table.sort_values("image_index")["motion"].tolist() == [0.0, 2.0, 4.0]
    seeds = [sweep.Unit(1.0, "standard", 0, k, n).noise_seed for k, n in enumerate(images.names)]
    direct = __import__("cilnb.sampling", fromlist=["sample"]).sample(
        net, images.images, n_steps=2, seed=seeds, cond={"motion": torch.tensor([0.0, 2.0, 4.0])}, show_progress=False)
    stored = E.load_sweep_videos(tmp_path / "a", res.table.sort_values("image_index"))
    assert torch.allclose(stored, direct, atol=1e-6)
    images.cond = {"motion": [1.0, 2.0]}
    with pytest.raises(ValueError, match="2 values for 3 images"):
        sweep.run_sweep(net, images, tmp_path / "b", Ms=[1.0], n_steps=2, motion_method=None, show_progress=False)


def test_with_targets_repeats_images_per_target():
    images = E.toy_images(2, data_seed=0)
    t = E.with_targets(images, "motion_bucket_id", [20, 100, 180])
    assert len(t) == 6 and t.cond["motion_bucket_id"] == [20.0, 100.0, 180.0] * 2
    assert torch.equal(t.images[3], images.images[1]) and t.names[4].endswith("motion_bucket_id100")
    assert t.columns["input_speed"][3] == images.columns["input_speed"][1]
    with pytest.raises(ValueError, match="at least one"):
        E.with_targets(images, "motion_bucket_id", [])


def test_inputs_refuse_bad_settings(tmp_path):
    with pytest.raises(ValueError, match="n_reference"):
        E.ToyReadout(1)
    with pytest.raises(ValueError, match="videos_dir is empty"):
        E.read_clips("", 2, frames=2, size=16)
    with pytest.raises(ValueError, match="positive int"):
        E.read_clips(tmp_path, 0, frames=2, size=16)
    (tmp_path / "junk.mp4").write_bytes(b"no video")
    with pytest.raises(ValueError, match="no readable videos"), pytest.warns(UserWarning, match="junk.mp4"):
        E.read_clips(tmp_path, 2, frames=2, size=16)
    with pytest.raises(ValueError, match="motion-conditioned"):
        E.motion_control_images("pia", n_images=2)
    with pytest.raises(ValueError, match="motion_bucket_id targets"):
        E.motion_control_images("svd", n_images=2, targets=[])
    with pytest.raises(ValueError, match="python -m cilnb stats"):
        E.load_stats("svd", "", ["standard", "analytic"])
    assert E.load_stats("svd", "", ["standard"]) == (None, None)
    with pytest.raises(ValueError, match="cilnb finetune"):
        E.finetune_pair(tmp_path, steps=1, a=5, beta_m=2, model="svd")
    with pytest.raises(ValueError, match="farneback"):
        E.FlowReadout("sobel")


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


def test_default_run_dir_follows_cilnb_run_dir(monkeypatch, tmp_path):
    from cilnb.models import toy

    net = toy.build(seed=0)
    monkeypatch.setenv("CILNB_RUN_DIR", str(tmp_path))
    a = E.default_run_dir("m_sweep", "base", net, n_steps=8)
    assert a.parent == tmp_path and a.name.startswith("m_sweep_base_")
    assert E.default_run_dir("m_sweep", "base", net, n_steps=9) != a  # other settings, other folder
    monkeypatch.delenv("CILNB_RUN_DIR")
    assert E.default_run_dir("m_sweep", "base", net, n_steps=8).parent.parts[-2:] == ("build", "runs")


def test_motion_control_verdict_uses_paired_differences():
    rng = np.random.default_rng(0)
    n = 40
    inp = rng.uniform(0.5, 3.0, n)
    base = inp * 0.8 + rng.normal(0, 0.05, n)  # clearly below the target
    fixed = inp + rng.normal(0, 0.05, n)  # on target
    rows = lambda model, M, out: pd.DataFrame({"model": model, "M": M, "init": "analytic" if M < 1 else "standard", "image": range(n),
                                               "input_motion": inp, "output_motion": out, "error": np.abs(out - inp)})
    lines = E.motion_control_verdict(pd.concat([rows("base", 1.0, base), rows("base", 0.8, fixed), rows("tn", 1.0, inp * 0.8 + rng.normal(0, 0.05, n))]))
    assert "BELOW" in lines[0] and "reproduced" in lines[0] and "NOT reproduced" not in lines[0]
    assert "(lower" in lines[1] and "(not different" in lines[2]
    lines = E.motion_control_verdict(rows("base", 1.0, fixed))
    assert "NOT distinguishable" in lines[0]

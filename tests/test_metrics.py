"""cilnb.metrics: motion scores checked against videos of known motion, RAFT batching, PIA, proxies, FVD."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cilnb.metrics as M
from cilnb.metrics import videos as _videos

SIZE = (128, 128)


def _translate(vel, n_frames=6, size=SIZE, channels=3, seed=0):
    return M.synthetic_translation_video(n_frames, size, vel, channels=channels, seed=seed)


def _fb(videos, **kw):
    kw.setdefault("resize", None)
    return M.motion_score(videos, method="farneback", show_progress=False, **kw)


# ---------------------------------------------------------------------------------------------
# Farneback on videos of known motion
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("vel", [(0.0, 1.0), (0.3, 0.7), (2.0, -3.0), (-1.25, 0.0), (4.0, 4.0)])
def test_farneback_translation_within_10_percent_of_true_flow(vel):
    v, flow = _translate(vel)
    got = _fb(v[None]).score.item()
    true = M.true_motion_score(flow)
    assert true == pytest.approx((len(v) - 1) * math.hypot(*vel))
    assert got == pytest.approx(true, rel=0.10)


@pytest.mark.parametrize("deg", [1.5, 3.0])
def test_farneback_rotation_within_10_percent_of_true_flow(deg):
    v, flow = M.synthetic_rotation_video(6, SIZE, deg)
    # the closed-form magnitude 2 r sin(theta/2) matches the constructed field
    r = torch.linalg.vector_norm(flow[0], dim=0)
    ys, xs = torch.meshgrid(torch.arange(SIZE[0]) - 63.5, torch.arange(SIZE[1]) - 63.5, indexing="ij")
    assert torch.allclose(r, 2 * torch.hypot(ys, xs) * math.sin(math.radians(deg) / 2), atol=1e-4)
    assert _fb(v[None]).score.item() == pytest.approx(M.true_motion_score(flow), rel=0.10)


def test_static_video_scores_zero_and_speed_doubles_score():
    vids = torch.stack([_translate((0.0, 0.0))[0], _translate((0.5, 1.0))[0], _translate((1.0, 2.0))[0]])
    s = _fb(vids)
    assert s.score.shape == (3,) and s.score.dtype == torch.float64
    assert s.per_pair.shape == (3, 5)
    assert s.score[0].item() < 0.01 * s.score[1].item()
    assert (s.score[2] / s.score[1]).item() == pytest.approx(2.0, rel=0.05)


def test_sum_is_pairs_times_mean_and_resize_scales_flow():
    v = _translate((0.0, 1.0))[0][None]
    s_sum, s_mean = _fb(v, reduce="sum"), _fb(v, reduce="mean")
    assert s_sum.score.item() == pytest.approx(5 * s_mean.score.item(), rel=1e-12)
    assert s_sum.reduce == "sum" and s_sum.size == SIZE
    # flow is measured in pixels of the resized frame: 2x larger frames, 2x the score
    big = _fb(v, resize=(256, 256))
    assert big.size == (256, 256)
    assert big.score.item() == pytest.approx(2 * s_sum.score.item(), rel=0.10)


def test_svd_protocol_defaults_to_450x800_and_sum():
    # fine texture (3-10 px): after the 5x upsampling Farneback still sees structure at its 15 px scale
    v = M.synthetic_translation_video(3, (90, 160), (0.0, 1.0), wavelengths=(3.0, 10.0))[0][None]
    s = M.motion_score(v, method="farneback", show_progress=False)
    assert s.size == (450, 800) and s.reduce == "sum" and s.frames == (0, 1, 2)
    assert s.score.item() == pytest.approx(2 * 5.0, rel=0.10)  # 1 px/frame at 160 px wide -> 5 px at 800


def test_input_encodings_agree():
    """[-1, 1] floats with value_range, uint8, and grayscale C=1 give the documented results."""
    v = _translate((0.0, 1.5))[0][None]
    ref = _fb(v).score
    assert torch.allclose(_fb(v * 2 - 1, value_range=(-1, 1)).score, ref, rtol=1e-5)
    assert _fb((v * 255).round().to(torch.uint8)).score.item() == pytest.approx(ref.item(), rel=0.02)
    gray = _videos.to_gray(v[0])[:, None][None]  # the luma Farneback sees
    assert torch.allclose(_fb(gray).score, ref, rtol=1e-5)
    gray_video = _translate((0.0, 1.5), channels=1)[0][None]
    assert _fb(gray_video).score.item() == pytest.approx(7.5, rel=0.10)


def test_video_flows_match_true_flow():
    v, flow = _translate((0.5, -1.0), n_frames=3)
    est = M.video_flows(v[None], method="farneback")
    assert est.shape == (1, 2, 2, *SIZE)
    inner = est[0, :, :, 16:-16, 16:-16]
    assert (inner - flow[:, :, 16:-16, 16:-16]).abs().mean().item() < 0.05


# ---------------------------------------------------------------------------------------------
# VBench protocol
# ---------------------------------------------------------------------------------------------


def test_vbench_params_follow_the_rule():
    p = M.vbench_params(16, 8.0, (256, 512))
    assert p == {"stride": 1, "count": 16, "threshold": 6.0, "count_num": 4}
    p = M.vbench_params(16, 24.0, (128, 128))
    assert p["stride"] == 3 and p["count"] == 6 and p["threshold"] == pytest.approx(3.0) and p["count_num"] == 2
    p = M.vbench_params(16, 4.0, (256, 256))  # low fps: current VBench keeps 6 px
    assert p["stride"] == 1 and p["threshold"] == pytest.approx(6.0)
    p = M.vbench_params(16, 4.0, (256, 256), rule="2024-07")  # VBench 2024-07-03..13: scaled by 8 / fps
    assert p["stride"] == 1 and p["threshold"] == pytest.approx(12.0)
    assert M.vbench_params(16, 24.0, (128, 128), rule="2024-07") == M.vbench_params(16, 24.0, (128, 128))
    assert M.vbench_params(10, 8.0, (64, 64))["count_num"] == round(2.5) == 2  # half to even, like VBench
    with pytest.raises(ValueError, match="fps"):
        M.vbench_params(16, 0.0, (64, 64))


def test_vbench_protocol_scores_and_decisions():
    vids = torch.stack([_translate((0.0, 0.0), n_frames=9)[0], _translate((0.0, 4.0), n_frames=9)[0]])
    s = M.motion_score(vids, method="farneback", protocol="vbench", fps=16, show_progress=False)
    assert s.frames == (0, 2, 4, 6, 8) and s.size == SIZE and s.reduce == "mean"
    assert s.threshold == pytest.approx(3.0) and s.count_num == round(4 * 5 / 16) == 1
    assert s.dynamic.tolist() == [False, True]
    # 16 fps, stride 2: 8 px between kept frames, uniform flow: the top-5 % mean is ~8 px
    assert s.score[1].item() == pytest.approx(8.0, rel=0.10)
    # brute force from the flow fields
    fl = M.video_flows(vids, method="farneback", frame_stride=2)
    mag = torch.linalg.vector_norm(fl, dim=2).flatten(2)
    k = int(0.05 * SIZE[0] * SIZE[1])
    top = mag.sort(dim=-1, descending=True).values[..., :k].double().mean(-1)
    assert torch.allclose(s.per_pair, top, rtol=1e-6)
    with pytest.raises(ValueError, match="fps"):
        M.motion_score(vids, method="farneback", protocol="vbench", show_progress=False)


# ---------------------------------------------------------------------------------------------
# RAFT: random weights, weight files, batching
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raft():
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(0)
    return raft_small(weights=None).eval()


def test_raft_batched_equals_per_pair_and_torchvision(raft):
    vids = torch.stack([_translate((0.5 * i, 1.0), n_frames=3, size=(124, 132), seed=i)[0] for i in range(2)])
    kw = dict(method="raft", flow_model=raft, resize=None, num_flow_updates=2)
    batched = M.video_flows(vids, batch_size=64, **kw)  # all 4 pairs of both videos in one batch
    # documented padding: replicate, split evenly, to multiples of 8 (124x132 -> 128x136), flow cropped back
    x = F.pad(vids.flatten(0, 1) * 2 - 1, (2, 2, 2, 2), mode="replicate").view(2, 3, 3, 128, 136)
    with torch.inference_mode():
        ref = torch.stack([raft(x[b, :-1], x[b, 1:], num_flow_updates=2)[-1][:, :, 2:-2, 2:-2] for b in range(2)])
    assert batched.shape == (2, 2, 2, 124, 132) and torch.allclose(batched, ref, atol=1e-4)
    single = M.motion_score(vids, batch_size=1, show_progress=False, **kw)  # one pair at a time
    from_batched = torch.linalg.vector_norm(batched, dim=2).double().mean((-1, -2))
    assert torch.allclose(single.per_pair, from_batched, rtol=1e-4, atol=0)
    auto = M.motion_score(vids, batch_size=None, show_progress=False, **kw)  # automatic: all 4 pairs at once here
    assert torch.allclose(auto.per_pair, from_batched, rtol=1e-4, atol=0)
    assert raft.training is False


def test_automatic_batch_size(monkeypatch):
    """None: 16 pairs; RAFT on CPU at most CPU_BATCH_PIXELS of padded frames per batch; explicit sizes kept."""
    from cilnb.metrics.flow import CPU_BATCH_PIXELS, pairs_per_batch

    assert pairs_per_batch(None, (128, 224), "raft", "cpu") == 16
    assert pairs_per_batch(None, (450, 800), "raft", "cpu") == CPU_BATCH_PIXELS // (456 * 800) == 5
    assert pairs_per_batch(None, (4000, 4000), "raft", "cpu") == 1
    gib = 2 ** 30  # a GPU: correlation pyramids of a batch within half the free memory
    assert M.flow.corr_pyramid_bytes((450, 800)) == int(4 * (57 * 100) ** 2 * 85 / 64)  # 1/8 of 456x800, 4 levels
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda dev=None: (80 * gib, 141 * gib))
    assert pairs_per_batch(None, (450, 800), "raft", "cuda") == 16
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda dev=None: (8 * gib, 24 * gib))
    per_pair = M.flow.corr_pyramid_bytes((1080, 1920))
    assert 5.5e9 < per_pair < 5.7e9 and pairs_per_batch(None, (1080, 1920), "raft", "cuda") == 1  # never 0
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda dev=None: (2 * gib, 24 * gib))
    assert pairs_per_batch(None, (450, 800), "raft", "cuda") == gib // M.flow.corr_pyramid_bytes((450, 800)) == 6
    assert pairs_per_batch(None, (450, 800), "farneback", "cpu") == 16
    assert pairs_per_batch(64, (450, 800), "raft", "cpu") == 64
    for bad in (0, -1, 2.0, True, "8"):
        with pytest.raises(ValueError, match="batch_size"):
            pairs_per_batch(bad)


def test_raft_large_convex_upsampling_matches_torchvision():
    """raft_large: convex upsampling once at the end and the recurrent unit's context terms computed once
    give torchvision's last prediction over several updates (the split GRU is exercised on both its
    separable (1x5, 5x1) units)."""
    from torchvision.models.optical_flow import raft_large

    from cilnb.metrics import flow as flowmod

    torch.manual_seed(1)
    model = raft_large(weights=None).eval()
    v = _translate((0.5, 1.0), n_frames=3)[0][None]
    fl = M.video_flows(v, "raft", flow_model=model, num_flow_updates=6)
    with torch.inference_mode():
        ref = model(v[0, :-1] * 2 - 1, v[0, 1:] * 2 - 1, num_flow_updates=6)[-1][None]
        ctx = torch.randn(2, 128, 16, 16)
        assert len(flowmod._Update(model.update_block, ctx).grus) == 2
    assert torch.allclose(fl, ref, atol=1e-4, rtol=1e-4)


def test_raft_custom_recurrent_unit_falls_back_to_its_own_forward(raft):
    """A recurrent unit the split cannot reproduce (here reflect padding) runs through the module itself."""
    import copy

    from cilnb.metrics import flow as flowmod

    model = copy.deepcopy(raft)
    model.update_block.recurrent_block.convgru1.convq.padding_mode = "reflect"
    with torch.inference_mode():
        assert flowmod._Update(model.update_block, torch.randn(1, 64, 16, 16)).grus is None
        assert len(flowmod._Update(raft.update_block, torch.randn(1, 64, 16, 16)).grus) == 1  # raft_small: one 3x3 unit
        v = _translate((0.5, 1.0), n_frames=2)[0][None]
        fl = M.video_flows(v, "raft", flow_model=model, num_flow_updates=3)
        ref = model(v[0, :1] * 2 - 1, v[0, 1:] * 2 - 1, num_flow_updates=3)[-1][None]
        base = M.video_flows(v, "raft", flow_model=raft, num_flow_updates=3)
    assert torch.allclose(fl, ref, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(fl, base, atol=1e-4, rtol=1e-4), "the changed padding is really used"


def test_raft_resize_and_eval_mode_restored(raft):
    v = _translate((0.0, 1.0), n_frames=2, size=(40, 60))[0][None]
    raft.train()
    try:
        s = M.motion_score(v, method="raft", flow_model=raft, resize=(128, 136), num_flow_updates=1, show_progress=False)
        assert raft.training, "the caller's training flag is restored"
    finally:
        raft.eval()
    assert s.size == (128, 136) and torch.isfinite(s.score).all()
    with pytest.raises(ValueError, match="at least 128x128"):
        M.motion_score(v, method="raft", flow_model=raft, resize=None, num_flow_updates=1, show_progress=False)


def test_raft_weights_from_file(raft, tmp_path):
    path = tmp_path / "raft_small_random.pth"
    torch.save(raft.state_dict(), path)
    loaded = M.load_raft("small", weights=path, device="cpu", cache=False)
    assert all(torch.equal(a, b) for a, b in zip(raft.state_dict().values(), loaded.state_dict().values()))
    v = _translate((0.0, 1.0), n_frames=2)[0][None]
    kw = dict(method="raft", resize=None, num_flow_updates=1, show_progress=False, device="cpu")
    a = M.motion_score(v, arch="small", weights=path, **kw).score
    b = M.motion_score(v, flow_model=raft, **kw).score
    assert torch.allclose(a, b, rtol=1e-5)
    with pytest.raises(ValueError, match="raft_large"):  # small weights into the large arch
        M.load_raft("large", weights=path, device="cpu", cache=False)
    orig = tmp_path / "raft-things.pth"
    torch.save({"module.fnet.conv1.weight": torch.zeros(1)}, orig)
    with pytest.raises(ValueError, match="princeton-vl"):
        M.load_raft("small", weights=orig, device="cpu", cache=False)


def test_missing_raft_weights_error_says_where(tmp_path):
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    try:
        with pytest.raises(FileNotFoundError) as err:
            M.motion_score(_translate((0, 1), n_frames=2)[0][None], method="raft", show_progress=False)
    finally:
        torch.hub.set_dir(old)
    msg = str(err.value)
    assert "raft_large_C_T_V1-22a6c225.pth" in msg and str(tmp_path / "hub" / "checkpoints") in msg
    assert "farneback" in msg
    with pytest.raises(FileNotFoundError, match="does not exist"):
        M.load_raft("small", weights=tmp_path / "nope.pth")


# ---------------------------------------------------------------------------------------------
# bad inputs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad, match", [
    (torch.rand(6, 3, 32, 32), "rank 4"),
    (torch.rand(1, 1, 3, 32, 32), "at least 2 frames"),
    (torch.full((1, 2, 3, 32, 32), float("nan")), "non-finite"),
    (torch.randint(0, 255, (1, 2, 3, 32, 32)), "dtype"),
    (torch.rand(1, 2, 3, 32, 32) * 2 - 1, "value_range"),
    (torch.rand(1, 2, 4, 32, 32), "channel"),
    (torch.rand(1, 3, 2, 32, 32), "permute"),
    ([[1.0]], "torch.Tensor"),
])
def test_bad_videos_raise_value_error(bad, match):
    with pytest.raises(ValueError, match=match):
        _fb(bad)


@pytest.mark.parametrize("kw, match", [
    (dict(protocol="vbench2"), "protocol"),
    (dict(reduce="max"), "reduce"),
    (dict(resize=(0, 8)), "resize"),
    (dict(method="lucas"), "method"),
    (dict(batch_size=0), "batch_size"),
    (dict(value_range=(1, 0)), "value_range"),
    (dict(farneback_params={"levelz": 3}), "farneback_params"),
])
def test_bad_options_raise_value_error(kw, match):
    v = _translate((0, 1), n_frames=2, size=(32, 32))[0][None]
    kw = {"method": "farneback", "resize": None, "show_progress": False, **kw}
    with pytest.raises(ValueError, match=match):
        M.motion_score(v, **kw)


def test_motion_score_error():
    out = M.motion_score_error([1.0, 5.0, 2.0], torch.tensor([2.0, 3.0, 2.0]))
    assert out.tolist() == [1.0, 2.0, 0.0] and out.dtype == torch.float64
    s = _fb(torch.stack([_translate((0, 1), n_frames=2)[0]] * 2))
    assert M.motion_score_error(s, s).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="same videos"):
        M.motion_score_error([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        M.motion_score_error([float("nan")], [1.0])
    with pytest.raises(ValueError, match="1-D"):
        M.motion_score_error(torch.ones(2, 2), torch.ones(2, 2))


# ---------------------------------------------------------------------------------------------
# PIA motion score
# ---------------------------------------------------------------------------------------------


def test_rgb_to_hsv_matches_opencv():
    import cv2

    rgb = torch.rand(3, 17, 19)
    rgb[:, 0, :5] = 0.5  # grey pixels: hue and saturation 0
    rgb[:, 1, :5] = 0.0  # black
    ours = M.rgb_to_hsv(rgb)
    ref = cv2.cvtColor(rgb.permute(1, 2, 0).numpy(), cv2.COLOR_RGB2HSV)
    ref = torch.from_numpy(ref).permute(2, 0, 1) / torch.tensor([360.0, 1.0, 1.0]).view(3, 1, 1)
    assert torch.allclose(ours, ref, atol=1e-4)


def test_pia_motion_score_formula():
    gen = torch.Generator().manual_seed(0)
    v = torch.rand(2, 4, 3, 8, 8, generator=gen)
    v[1] = v[1, :1]  # a static video
    s = M.pia_motion_score(v)
    hsv = M.rgb_to_hsv(v.double())
    d = (hsv - hsv[:, :1]).abs().mean(dim=(2, 3, 4))
    assert torch.allclose(s.distance, d) and s.d_max == pytest.approx(float(d.max()))
    m = d / d.max() * 0.8
    assert torch.allclose(s.per_frame, m)
    assert torch.allclose(s.score, m[:, 1:].mean(1))
    assert s.score[1].item() == 0.0 and s.per_frame.max().item() == pytest.approx(0.8)
    # a shared d_max makes scores comparable across sets; a condition image counts every frame
    s2 = M.pia_motion_score(v, d_max=2 * s.d_max)
    assert torch.allclose(s2.score, s.score / 2)
    s3 = M.pia_motion_score(v, cond_frame=v[:, 0])
    assert torch.allclose(s3.score, m.mean(1))
    s4 = M.pia_motion_score(v, cond_frame=torch.tensor([0, 2]))
    assert s4.score[1].item() == 0.0
    cv_scale = M.pia_motion_score(v, hsv_scale="opencv")
    assert cv_scale.d_max > s.d_max  # degrees and [0, 255] dominate
    with pytest.raises(ValueError, match="cond_frame"):
        M.pia_motion_score(v, cond_frame=v[:1, 0])
    with pytest.raises(ValueError, match="out of range"):
        M.pia_motion_score(v, cond_frame=7)


# ---------------------------------------------------------------------------------------------
# proxies: PSNR, SSIM, warping error
# ---------------------------------------------------------------------------------------------


def test_psnr_and_ssim():
    from scipy.ndimage import correlate1d

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 24, 24, generator=gen) * 0.8
    y = (x + 0.05 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    assert M.psnr(x, (x + 0.1)).tolist() == pytest.approx([20.0] * 3)
    assert torch.allclose(M.ssim(x, x), torch.ones(3, dtype=torch.float64))

    # independent SSIM: scipy filtering with the same Gaussian, valid region
    r = np.arange(11) - 5.0
    g = np.exp(-r**2 / (2 * 1.5**2))
    g /= g.sum()

    def blur(z):
        return correlate1d(correlate1d(z, g, axis=-1, mode="constant"), g, axis=-2, mode="constant")[..., 5:-5, 5:-5]

    a, b = x.double().numpy(), y.double().numpy()
    ma, mb = blur(a), blur(b)
    va, vb, cab = blur(a * a) - ma**2, blur(b * b) - mb**2, blur(a * b) - ma * mb
    ref = ((2 * ma * mb + 1e-4) * (2 * cab + 9e-4) / ((ma**2 + mb**2 + 1e-4) * (va + vb + 9e-4))).mean(axis=(1, 2, 3))
    assert np.allclose(M.ssim(x, y).numpy(), ref, atol=1e-10)

    al = M.condition_alignment(torch.stack([x, y], 1), x)
    assert torch.isinf(al["psnr"]).all() and torch.allclose(al["ssim"], torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="batch sizes"):
        M.psnr(x, x[:2])


def test_warping_error_low_for_smooth_motion_high_for_shuffled():
    smooth = _translate((0.5, 1.0), n_frames=4)[0]
    shuffled = torch.stack([_translate((0, 0), n_frames=1, seed=s)[0][0] for s in range(4)])
    static = _translate((0, 0), n_frames=4)[0]
    err = M.warping_error(torch.stack([smooth, shuffled, static]))
    assert err.shape == (3,)
    assert err[2].item() < 1e-3 and err[0].item() < 0.02 and err[1].item() > 5 * err[0].item()


# ---------------------------------------------------------------------------------------------
# Fréchet distance and FVD
# ---------------------------------------------------------------------------------------------


def test_frechet_distance_matches_scipy_sqrtm():
    import scipy.linalg

    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(loc=0.5, size=(150, 6)) @ rng.normal(size=(6, 6))
    mu_a, mu_b = a.mean(0), b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ref = ((mu_a - mu_b) ** 2).sum() + np.trace(sa + sb - 2 * scipy.linalg.sqrtm(sa @ sb).real)
    assert M.frechet_distance(a, b) == pytest.approx(ref, rel=1e-8)
    assert M.frechet_distance(torch.from_numpy(a), a) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError, match="dims"):
        M.frechet_distance(a, b[:, :5])
    with pytest.raises(ValueError, match="at least 2"):
        M.frechet_distance(a[:1], b)


class _FakeI3D(torch.nn.Module):
    def forward(self, x: torch.Tensor, rescale: bool, resize: bool, return_features: bool) -> torch.Tensor:
        assert x.dim() == 5 and x.shape[1] == 3  # [B, C, T, H, W]
        return x.mean(dim=(3, 4)).flatten(1)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_fvd_with_user_supplied_torchscript(tmp_path):
    path = tmp_path / "i3d_torchscript.pt"
    torch.jit.script(_FakeI3D()).save(str(path))
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(6, 3, 1, 8, 8, generator=gen)
    b = torch.rand(6, 3, 1, 8, 8, generator=gen)
    feats = M.i3d_features(a, path, batch_size=4, device="cpu", show_progress=False)
    expected = (a.repeat(1, 1, 3, 1, 1) * 255).mean(dim=(3, 4)).permute(0, 2, 1).flatten(1).double().numpy()
    assert feats.shape == (6, 9) and np.allclose(feats, expected, atol=1e-4)
    fb = M.i3d_features(b, path, device="cpu", show_progress=False)
    assert M.fvd(a, b, path, device="cpu", show_progress=False) == pytest.approx(M.frechet_distance(feats, fb))
    with pytest.raises(FileNotFoundError, match="i3d_torchscript.pt"):
        M.fvd(a, b, tmp_path / "missing" / "i3d_torchscript.pt", device="cpu")


def test_frechet_difference_is_paired_and_matches_a_direct_bootstrap():
    """FD(a) - FD(c) of paired sets, resampled jointly: equal to a direct loop over the same resamples, zero
    for identical sets, and separating two sets whose own intervals overlap when the pairs share most of their variation."""
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(500, 5))
    shared = rng.normal(size=(48, 5))  # what a pair shares (the image, the noise)
    a, c = shared + 0.5 + 0.2 * rng.normal(size=(48, 5)), shared + 0.2 * rng.normal(size=(48, 5))
    d, lo, hi = M.frechet_difference(a, c, ref, n_boot=100, seed=7)
    assert d == pytest.approx(M.frechet_distance(a, ref) - M.frechet_distance(c, ref), rel=1e-9)
    idx = np.random.default_rng(7).integers(0, 48, size=(100, 48))
    reps = np.array([M.frechet_distance(a[i], ref) - M.frechet_distance(c[i], ref) for i in idx])
    want = np.quantile(reps, [0.025, 0.975]) - (np.median(reps) - d)
    assert (lo, hi) == pytest.approx(tuple(want), rel=1e-6, abs=1e-9)
    assert lo > 0  # a is shifted away from the reference: farther, beyond the interval
    la, ha = M.frechet_interval(a, ref, n_boot=100, seed=7)
    lc, hc = M.frechet_interval(c, ref, n_boot=100, seed=7)
    assert la < hc  # unpaired, the two intervals overlap: only the paired interval separates them
    assert hi - lo < 0.75 * ((ha - la) + (hc - lc))  # the pairing cancels the shared part
    assert M.frechet_difference(c, c, ref, n_boot=20) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="same shape"):
        M.frechet_difference(a, c[:40], ref)
    with pytest.raises(ValueError, match="n_boot"):
        M.frechet_difference(a, c, ref, n_boot=3)


def test_frechet_interval_covers_the_truth_and_shrinks_with_n():
    """Bootstrap interval of the FD between two samples of the same Gaussian: low, deterministic, narrower with more data."""
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(2000, 4))
    small, big = rng.normal(size=(40, 4)), rng.normal(size=(400, 4))
    lo_s, hi_s = M.frechet_interval(small, ref, seed=1)
    lo_b, hi_b = M.frechet_interval(big, ref, seed=1)
    assert lo_s <= M.frechet_distance(small, ref) <= hi_s and 0 <= lo_b < hi_b < hi_s
    assert (lo_s, hi_s) == M.frechet_interval(small, ref, seed=1)
    shifted = rng.normal(size=(400, 4)) + 1.0  # true FD = |shift|^2 = 4
    lo, hi = M.frechet_interval(shifted, ref, seed=1)
    assert lo < 4.0 + 0.3 and hi > 4.0 - 0.3 and hi - lo < 2.0
    # one wild outlier dominates a small sample's FD; the interval shows it
    spiked = small.copy()
    spiked[0] = 50.0
    lo_x, hi_x = M.frechet_interval(spiked, ref, seed=1)
    assert hi_x > 10 * hi_s and lo_x < hi_s
    with pytest.raises(ValueError, match="n_boot"):
        M.frechet_interval(small, ref, n_boot=5)

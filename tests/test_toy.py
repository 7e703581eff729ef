"""The toy I2V model and its training: contract, determinism, resume, TimeNoise switch, shipped checkpoints."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from cilnb import toy_training as TR
from cilnb.denoiser import x0_from_v
from cilnb.models import toy
from cilnb.schedules import VPSchedule

TINY = toy.ToyConfig(widths=(8, 16), patch=4, temporal_levels=(1,), temporal_width=8, emb_dim=32)


def _tiny_cfg(**kw) -> TR.TrainConfig:
    base = dict(model=TINY, steps=6, pretrain_steps=4, batch_size=2, pretrain_batch_size=8, warmup=2, checkpoint_every=3, log_every=2, lr=2e-3)
    base.update(kw)
    return TR.TrainConfig(**base)


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # bitwise-reproducible CPU kernels, and no oversubscription
    yield
    torch.set_num_threads(n)


def test_contract_shapes_and_v_conversion(gen):
    model = toy.build(TINY)
    assert isinstance(model.schedule, VPSchedule) and model.n_frames == 8
    x = torch.randn(3, 8, 1, 32, 32, generator=gen)
    y = torch.randn(3, 1, 32, 32, generator=gen)
    t = torch.tensor([0.1, 0.5, 1.0], dtype=torch.float64)
    for p in model.net.parameters():  # leave the zero-initialised output layer non-zero
        p.data.normal_(0, 0.05, generator=gen)
    x0 = model(x, t, y=y)
    assert x0.shape == x.shape and torch.isfinite(x0).all()
    v = model.net(x, t.float(), y=y)
    a, s = model.schedule.broadcast(t, x)
    assert torch.allclose(x0, x0_from_v(x, v, a, s), atol=1e-6)
    # motion conditioning changes the output, the null embedding is the default
    assert not torch.allclose(model(x, t, y=y, motion=torch.tensor([0.0, 1.0, 3.0])), x0)
    assert torch.allclose(model(x, t, y=y, motion=None), x0)


def test_y_is_seen_by_every_frame_and_temporal_layers_couple_frames(gen):
    model = toy.build(TINY)
    for p in model.net.parameters():
        p.data.normal_(0, 0.05, generator=gen)
    x = torch.randn(1, 8, 1, 32, 32, generator=gen)
    y = torch.randn(1, 1, 32, 32, generator=gen)
    t = torch.tensor([0.7], dtype=torch.float64)
    out = model(x, t, y=y)
    out_y = model(x, t, y=y + 1)
    assert ((out_y - out).abs().flatten(2).amax(-1) > 0).all()  # y reaches all 8 frames
    x2 = x.clone()
    x2[:, 5] += 1
    diff = (model(x2, t, y=y) - out).abs().flatten(2).amax(-1)[0]
    assert diff[0] > 0  # frame 5's input reaches frame 0 only through the temporal layers
    no_temporal = toy.build(dataclasses.replace(TINY, temporal="none"))
    no_temporal.net.load_state_dict(model.net.state_dict(), strict=False)
    d2 = (no_temporal(x2, t, y=y) - no_temporal(x, t, y=y)).abs().flatten(2).amax(-1)[0]
    assert d2[0] == 0 and d2[5] > 0


def test_new_conditioning_channels_start_at_zero():
    net = toy.ToyUNet(TINY)
    assert torch.count_nonzero(net.stem_y.weight) == 0
    assert all(torch.count_nonzero(p) == 0 for n, p in net.named_parameters() if "attn_out" in n or "conv_out" in n)


def test_bad_configs_and_inputs_raise():
    with pytest.raises(ValueError, match="divisible"):
        toy.ToyConfig(size=30)
    with pytest.raises(ValueError, match="temporal"):
        toy.ToyConfig(temporal="lstm")
    with pytest.raises(ValueError, match="temporal_levels"):
        toy.ToyConfig(widths=(8, 16), temporal_levels=(3,))
    model = toy.build(TINY)
    with pytest.raises(ValueError, match="8 frames"):
        model(torch.zeros(1, 4, 1, 32, 32), torch.tensor([0.5]), y=torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="conditional image"):
        model(torch.zeros(1, 8, 1, 32, 32), torch.tensor([0.5]))
    with pytest.raises(ValueError, match="variant"):
        TR.TrainConfig(variant="fancy")
    with pytest.raises(ValueError, match="init"):
        TR.TrainConfig(variant="naive")
    with pytest.raises(ValueError, match="from scratch"):
        TR.TrainConfig(variant="base", init="x.safetensors")
    with pytest.raises(ValueError, match="disagree"):
        TR.TrainConfig(model=dataclasses.replace(TINY, frames=4))


def test_missing_checkpoint_error_names_path_and_command(tmp_path, monkeypatch):
    monkeypatch.setenv("CILNB_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="train-toy") as err:
        toy.load("naive", device="cpu")
    assert str(tmp_path / "toy_naive.safetensors") in str(err.value)
    with pytest.raises(ValueError, match="neither"):
        toy.load(str(tmp_path / "nope.safetensors"), device="cpu")


def _fixed_batch_loss(net) -> float:
    from cilnb import data as D
    from cilnb.denoiser import v_from_x0_eps

    x0 = D.generate(8, seed=99, flow=False)
    g = torch.Generator().manual_seed(1)
    t = torch.linspace(0.05, 0.95, 8, dtype=torch.float64)
    eps = torch.randn(x0.videos.shape, generator=g)
    a, s = TINY.schedule().broadcast(t, x0.videos)
    with torch.no_grad():
        v = net(a * x0.videos + s * eps, t.float(), y=x0.condition)
    return float(((v - v_from_x0_eps(x0.videos, eps, a, s)) ** 2).mean())


def test_training_reduces_loss(tmp_path):
    cfg = _tiny_cfg(pretrain_steps=0, steps=30, batch_size=4, log_every=10, warmup=5, checkpoint_every=100, ema=0.0)
    before = _fixed_batch_loss(toy.init_net(TINY, cfg.seed))
    out = TR.train(cfg, tmp_path / "m.safetensors", device="cpu", show_progress=False)
    after = _fixed_batch_loss(toy.load_checkpoint(out).net)
    assert after < 0.85 * before  # 30 steps of a tiny net: a clear but modest fall (0.48 -> 0.37)
    curve = toy.read_metadata(out)["loss_curve"]
    assert [c[:2] for c in curve] == [["video", 10], ["video", 20], ["video", 30]]
    assert not TR.resume_path(out).exists()


def test_resume_matches_uninterrupted_run(tmp_path):
    cfg = _tiny_cfg()  # 4 image steps then 6 video steps; interrupt inside each stage and at the switch
    full = TR.train(cfg, tmp_path / "full.safetensors", device="cpu", show_progress=False)
    part = tmp_path / "part.safetensors"
    for n in (3, 1, 4):
        state = TR.train(cfg, part, device="cpu", show_progress=False, stop_after=n)
        assert state == TR.resume_path(part) and state.exists() and not part.exists()
    TR.train(cfg, part, device="cpu", show_progress=False)
    a, b = toy.load_checkpoint(full), toy.load_checkpoint(part)
    for (k, va), (_, vb) in zip(a.net.state_dict().items(), b.net.state_dict().items()):
        assert torch.equal(va, vb), k
    assert a.meta["loss_curve"] == b.meta["loss_curve"]
    # rerunning a finished command is a no-op; a different config refuses to overwrite
    assert TR.train(cfg, part, device="cpu", show_progress=False) == part
    with pytest.raises(ValueError, match="different configuration"):
        TR.train(_tiny_cfg(seed=1), part, device="cpu", show_progress=False)


def test_same_seed_same_weights_and_samples(tmp_path):
    cfg = _tiny_cfg(pretrain_steps=2, steps=2)
    a = toy.load_checkpoint(TR.train(cfg, tmp_path / "a.safetensors", device="cpu", show_progress=False))
    b = toy.load_checkpoint(TR.train(cfg, tmp_path / "b.safetensors", device="cpu", show_progress=False))
    assert all(torch.equal(x, y) for x, y in zip(a.net.state_dict().values(), b.net.state_dict().values()))
    c = toy.load_checkpoint(TR.train(_tiny_cfg(pretrain_steps=2, steps=2, seed=1), tmp_path / "c.safetensors", device="cpu", show_progress=False))
    assert not all(torch.equal(x, y) for x, y in zip(a.net.state_dict().values(), c.net.state_dict().values()))


def test_timenoise_switch_changes_only_the_conditioning(tmp_path, monkeypatch):
    base = TR.train(_tiny_cfg(pretrain_steps=0, steps=1), tmp_path / "base.safetensors", device="cpu", show_progress=False)
    seen: dict[str, list] = {}

    def spy(variant):
        orig = toy.ToyUNet.forward

        def forward(self, x, t, y=None, motion=None, **kw):
            seen.setdefault(variant, []).append((x.detach().clone(), y.detach().clone(), t.detach().clone()))
            return orig(self, x, t, y=y, motion=motion, **kw)

        return forward

    for variant in ("naive", "timenoise"):
        monkeypatch.setattr(toy.ToyUNet, "forward", spy(variant))
        cfg = TR.TrainConfig(variant=variant, init=str(base), model=TINY, steps=2, batch_size=3, checkpoint_every=100, timenoise_beta_m=2.0)
        TR.train(cfg, tmp_path / f"{variant}.safetensors", device="cpu", show_progress=False)
    from cilnb import data as D

    g = torch.Generator().manual_seed(0)  # the data stream of seed 0 (TrainConfig: data generator seed 2 * seed)
    first = D.generate(3, g, flow=False)
    (xn, yn, tn), (xt, yt, tt) = seen["naive"][0], seen["timenoise"][0]
    assert torch.equal(yn, first.condition)  # naive: the clean frame 0
    assert torch.equal(tn, tt)  # same seed: the same timesteps ...
    assert not torch.allclose(yt, yn)  # ... but TimeNoise perturbs y
    assert (yt - yn).abs().mean() > 1e-3


@pytest.mark.parametrize("name", ["base", "naive", "timenoise"])
def test_shipped_checkpoints_load_and_are_deterministic(name):
    model = toy.load(name, device="cpu")
    assert model.meta["variant"] == name and model.meta["steps"] > 0 and model.meta["loss_curve"]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 8, 1, 32, 32, generator=g)
    y = torch.rand(2, 1, 32, 32, generator=g) * 2 - 1
    t = torch.tensor([0.3, 0.9], dtype=torch.float64)
    with torch.no_grad():
        a = model(x, t, y=y)
        b = model(x, t, y=y, motion=torch.tensor([1.0, 2.0]))
    assert torch.isfinite(a).all() and torch.isfinite(b).all()
    with torch.no_grad():
        assert torch.equal(model(x, t, y=y), a)


def test_cli_registers_train_toy():
    from cilnb.__main__ import build_parser

    args = build_parser().parse_args(["train-toy", "--variant", "naive", "--init", "x.safetensors", "--steps", "5"])
    from cilnb.commands import train_toy

    assert args.variant == "naive" and args.steps == 5 and args.func is train_toy.run


def test_finetune_config_defaults_come_from_the_init_checkpoint(tmp_path):
    base = TR.train(_tiny_cfg(pretrain_steps=0, steps=1), tmp_path / "base.safetensors", device="cpu", show_progress=False)
    cfg = TR.TrainConfig(variant="timenoise", init=str(base))
    assert cfg.model == TINY and cfg.lr == 1e-4 and cfg.steps == 1000
    assert TR.TrainConfig().model == toy.ToyConfig() and TR.TrainConfig().steps == 4000
    with pytest.raises(ValueError, match="does not exist"):
        TR.TrainConfig(variant="naive", init=str(tmp_path / "missing.safetensors"))


# ----------------------------------------------------------------------------------------------
# the fast forward (channels-last, fused scale-shift, no frame reshapes) against the old one
# ----------------------------------------------------------------------------------------------


def _assert_rounding_close(new, old, rel=4e-6, floor=0.1):
    """``new`` equals ``old`` to float32 rounding through a deep net: max |diff| <= rel * max |old| (measured: < 1e-6)."""
    err, scale = float((new - old).abs().max()), float(old.abs().max())
    assert scale > floor, "compare a real signal, not zeros"
    assert err <= rel * scale, f"max |new - old| = {err:.3g} exceeds {rel:g} x max |old| = {scale:.3g}"


@pytest.mark.parametrize("temporal", ["attn", "conv", "conv+attn"])
def test_fast_forward_matches_the_old_forward(gen, temporal):
    from _toy_reference import reference_forward

    net = toy.ToyUNet(dataclasses.replace(TINY, temporal=temporal, temporal_levels=(0, 1)))
    for p in net.parameters():  # every layer live (the zero-initialised outputs too)
        p.data.normal_(0, 0.1, generator=gen)
    x = torch.randn(3, 8, 1, 32, 32, generator=gen)
    y = torch.randn(3, 1, 32, 32, generator=gen)
    t = torch.tensor([0.05, 0.5, 0.95])
    motion = torch.tensor([0.0, 1.5, 3.0])
    with torch.no_grad():
        for kw in ({}, {"motion": motion}, {"image_mode": True}):
            new, old = net(x, t, y=y, **kw), reference_forward(net, x, t, y=y, **kw)
            assert new.shape == old.shape and new.is_contiguous()
            _assert_rounding_close(new, old)
    # with autograd on (training) the out-of-place path gives the same values and gradients
    xg = x.clone().requires_grad_(True)
    new = net(xg, t, y=y)
    (new.square().sum()).backward()
    g_new = xg.grad.clone()
    xg.grad = None
    old = reference_forward(net, xg, t, y=y)
    (old.square().sum()).backward()
    _assert_rounding_close(new.detach(), old.detach())
    _assert_rounding_close(g_new, xg.grad, rel=1e-5, floor=1e-3)


@pytest.mark.parametrize("name", ["base", "timenoise"])
def test_shipped_checkpoint_fast_forward_matches_the_old_forward(name):
    from _toy_reference import reference_forward

    model = toy.load(name, device="cpu")
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 8, 1, 32, 32, generator=g)
    y = torch.rand(4, 1, 32, 32, generator=g) * 2 - 1
    t = torch.tensor([0.02, 0.3, 0.7, 1.0], dtype=torch.float64)
    with torch.no_grad():
        new = model(x, t, y=y, guidance=None)  # through the Adapter (v -> x0), the conditional branch alone
        a, s = model.schedule.broadcast(t, x)
        old = x0_from_v(x, reference_forward(model.net, x, t.float(), y=y), a, s)
        _assert_rounding_close(new, old)
        assert (new - old).abs().max() < 1e-5  # the absolute bound on x0_hat in [-1, 1]
        both = model(x, t, y=y, guidance=2.0)  # guidance's other branch: y = 0 (image dropout) or image mode
        null = dict(y=torch.zeros_like(y)) if model.null_image == "zero" else dict(image_mode=True)
        ref_u = x0_from_v(x, reference_forward(model.net, x, t.float(), **null), a, s)
        _assert_rounding_close(both, ref_u + 2.0 * (old - ref_u), rel=1e-5)


# ----------------------------------------------------------------------------------------------
# bfloat16 inference (ToyUNet.set_precision)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("per_video", [False, True])
def test_bf16_group_norm_matches_torch_group_norm(per_video):
    """The low-precision GroupNorm + scale-shift (float32 statistics from channel sums) against PyTorch's GroupNorm in
    float32 on the same bf16 values, per channel and per video (frames folded into the batch)."""
    g = torch.Generator().manual_seed(0)
    B, F, C, h = 3, 4, 16, 5
    x = (torch.randn(B * F, C, h, h, generator=g) * 2 + 1.5).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    mul = torch.randn(B, C, generator=g) if per_video else torch.randn(C, generator=g)
    add = torch.randn(B, C, generator=g) if per_video else torch.randn(C, generator=g)
    out = toy._norm_scale_shift(x, 4, 1e-5, mul, add)
    assert out.dtype == torch.bfloat16 and out.is_contiguous(memory_format=torch.channels_last)
    n = torch.nn.functional.group_norm(x.float(), 4, eps=1e-5).view(B, F, C, h, h)
    ref = (n * mul.view(-1, 1, C, 1, 1) + add.view(-1, 1, C, 1, 1)).view(B * F, C, h, h) if per_video else \
        n.view(B * F, C, h, h) * mul.view(1, C, 1, 1) + add.view(1, C, 1, 1)
    err = (out.float() - ref).abs()
    assert err.max() <= 0.01 * ref.abs().max() and err.mean() < 4e-3  # bf16 rounding of the output (8 mantissa bits)


def test_bf16_toy_is_close_to_float32_and_only_for_inference(gen):
    fp = toy.load("base", device="cpu")
    bf = toy.load("base", device="cpu", dtype="bfloat16")
    assert fp.net.precision == torch.float32 and bf.net.precision == torch.bfloat16
    assert bf.net.time_mlp[0].weight.dtype == torch.float32 and bf.net.null_motion.dtype == torch.float32  # sinusoids stay fp32
    from cilnb._util import model_device_dtype
    from cilnb.runs import weights_digest

    assert model_device_dtype(bf) == (torch.device("cpu"), torch.float32)  # the sampler's state stays float32
    assert weights_digest(bf) != weights_digest(fp)  # bf16 samples never share a run store with float32 ones
    x = torch.randn(2, 8, 1, 32, 32, generator=gen)
    y = torch.rand(2, 1, 32, 32, generator=gen) * 2 - 1
    t = torch.tensor([0.3, 0.9])
    with torch.no_grad():
        a, b = fp(x, t, y=y), bf(x, t, y=y)  # guided (both branches)
    assert b.dtype == torch.float32 and torch.isfinite(b).all()
    err = (a - b).abs()
    assert 0 < err.mean() < 0.01 and err.max() < 0.2, (err.mean(), err.max())
    with pytest.raises(ValueError, match="for sampling and probing"):
        bf.net(x, t, y=y)  # autograd on: refused, not silently trained in bf16
    for bad in ("float16", torch.float16, "int8", 3):
        with pytest.raises(ValueError, match="float32 or bfloat16"):
            toy.precision(bad)
    assert [toy.precision(d) for d in (None, "auto", "fp32", "torch.float32", "BF16", torch.bfloat16)] == \
        [torch.float32] * 4 + [torch.bfloat16] * 2
    import cilnb as C

    assert C.models.load("toy", dtype="bfloat16", device="cpu").net.precision == torch.bfloat16


def test_bf16_sampling_stays_near_float32():
    """Sampled videos in bf16 (the sampler in float32, the network in bf16) against float32: the rounding noise is small
    per video (benchmarks/README.md measures what it does to the notebooks' verdicts)."""
    import cilnb as C

    fp = toy.load("base", device="cpu")
    bf = toy.load("base", device="cpu", dtype="bfloat16")
    y = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(5)) * 2 - 1
    kw = dict(n_steps=4, sampler="dpm++2m", seed=[0, 1, 2], show_progress=False)
    a, b = C.sampling.sample(fp, y, **kw), C.sampling.sample(bf, y, **kw)
    assert b.dtype == torch.float32 and torch.equal(b, C.sampling.sample(bf, y, **kw))  # deterministic
    assert (a - b).abs().mean() < 0.02


# ----------------------------------------------------------------------------------------------
# The inference path (ResBlock.infer): upsampling folded into the convolutions
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("s,t", [(1, 1), (4, 4), (3, 5), (8, 8)])
def test_upsampled_conv3x3_equals_the_convolution_of_the_upsampled_image(gen, s, t):
    """The four-phase 2x2 convolution of the small image against upsampling it (nearest, 2x) and convolving, the
    brute-force way, border rows and columns included."""
    N, C, O = 3, 5, 7
    small = torch.randn(N, C, s, t, generator=gen).contiguous(memory_format=torch.channels_last)
    w = torch.randn(O, C, 3, 3, generator=gen)
    out = torch.randn(N, O, 2 * s, 2 * t, generator=gen).contiguous(memory_format=torch.channels_last)
    ref = out + torch.nn.functional.conv2d(torch.nn.functional.interpolate(small, scale_factor=2, mode="nearest"), w, padding=1)
    got = toy._add_upsampled_conv3x3(out, small, w)
    assert got is out and out.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(got, ref, atol=1e-5, rtol=1e-5), float((got - ref).abs().max())
    big = torch.randn(N, C, 2 * s, 2 * t, generator=gen).contiguous(memory_format=torch.channels_last)
    ref = big + torch.nn.functional.interpolate(small, scale_factor=2, mode="nearest")
    assert torch.equal(toy._add_upsampled(big, small), ref)


def test_inference_group_norm_statistics_of_an_upsampled_concatenation(gen):
    """An up block's first GroupNorm from the small image's channel sums (each pixel counted four times) and the skip's,
    with a group straddling the two parts (12 channels = 5 + 7), against GroupNorm of the real concatenation."""
    blk = toy.ResBlock(12, 6, 8)
    blk.norm1 = torch.nn.GroupNorm(2, 12)  # groups of 6 channels: the first straddles (5 upsampled + 1 of the skip)
    for p in blk.parameters():
        p.data.normal_(0, 0.3, generator=gen)
    small = (torch.randn(8, 5, 3, 4, generator=gen) * 2 + 1).contiguous(memory_format=torch.channels_last)
    skip = torch.randn(8, 7, 6, 8, generator=gen).contiguous(memory_format=torch.channels_last)
    emb = torch.randn(2, 8, generator=gen)
    cat = torch.cat([torch.nn.functional.interpolate(small, scale_factor=2, mode="nearest"), skip], 1)
    ref = blk(cat, emb)  # autograd on: the plain path
    with torch.no_grad():
        got = blk.infer(skip, emb, small=small)
        assert torch.allclose(blk(cat.contiguous(memory_format=torch.channels_last), emb), ref, atol=1e-5)
    assert got.shape == ref.shape and got.is_contiguous(memory_format=torch.channels_last)
    _assert_rounding_close(got, ref.detach(), rel=1e-5)

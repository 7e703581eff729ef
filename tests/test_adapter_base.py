"""The one adapter base (cilnb.models.base.Adapter): t validation, guidance, prediction -> x0, the condition hook."""
from __future__ import annotations

import pytest
import torch

from cilnb import denoiser as D
from cilnb.models import toy
from cilnb.models.base import Adapter, Denoiser, cfg_combine, guidance_weights, stack_conditions
from cilnb.schedules import EDMSchedule, FlowSchedule, VPSchedule

TINY = dict(frames=4, size=16, widths=(8, 16), temporal_levels=(1,), temporal_width=8, emb_dim=32)
B, F = 2, 4


@pytest.fixture(scope="module")
def model():
    """A tiny toy with every weight random (a fresh build has zero-initialised outputs and image/temporal paths)."""
    m = toy.build(seed=3, **TINY).eval()
    g = torch.Generator().manual_seed(3)
    for p in m.parameters():
        p.data = torch.randn(p.shape, generator=g) * 0.2
    return m


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((B, F, 1, 16, 16), generator=g)
    y = torch.randn((B, 1, 16, 16), generator=g)
    return x, y, torch.tensor([0.3, 0.9], dtype=torch.float64)


# ----------------------------------------------------------------------------------------------
# the toy through the base: same numbers as the pre-refactor formula
# ----------------------------------------------------------------------------------------------


def test_toy_forward_is_the_v_prediction_formula(model):
    """Pre-refactor ToyModel: x0 = (alpha x - sigma v) / (alpha^2 + sigma^2), v = net(x, t float32, y, motion)."""
    x, y, t = _inputs()
    a, s = model.schedule.broadcast(t, x)
    with torch.no_grad():
        v = model.net(x, t.float(), y=y, motion=None)
        ref = (a * x - s * v) / (a**2 + s**2)
        assert torch.equal(model(x, t, y=y), ref)
        vm = model.net(x, t.float(), y=y, motion=torch.tensor([0.5, 0.5]))
        assert torch.equal(model(x, t, y=y, motion=0.5), (a * x - s * vm) / (a**2 + s**2))
        assert torch.equal(model.raw_output(x, t, y), v)  # y positional, as the contract allows
    assert model.sample_space == "pixel" and model.scaling_factor is None and model.prediction == "v"


def test_toy_guidance_off_by_default_and_hand_computed_when_on(model):
    x, y, t = _inputs(1)
    with torch.no_grad():
        plain = model(x, t, y=y)
        assert torch.equal(model(x, t, y=y, guidance=None), plain)
        assert torch.equal(model(x, t, y=y, guidance=1.0), plain)  # weights all 1: off
        assert torch.equal(model(x, t, y=y, guidance=(1.0, 1.0)), plain)  # SVD's rule: off when last <= 1
        c = model.net(x, t.float(), y=y, motion=None)
        u = model.net(x, t.float(), y=None, image_mode=True)  # the unconditional branch: image mode
        a, s = model.schedule.broadcast(t, x)

        def x0(v):
            return (a * x - s * v) / (a**2 + s**2)

        assert torch.equal(model(x, t, y=y, guidance=2.5), x0(u + 2.5 * (c - u)))
        w = torch.linspace(1.0, 3.0, F).view(1, F, 1, 1, 1)  # SVD's default: 1 at frame 0 -> 3 at the last frame
        assert torch.equal(model(x, t, y=y, guidance=(1.0, 3.0)), x0(u + w * (c - u)))
        per_video = torch.tensor([2.0, 4.0])
        assert torch.equal(model(x, t, y=y, guidance=per_video), x0(u + per_video.view(B, 1, 1, 1, 1) * (c - u)))
        assert not torch.equal(model(x, t, y=y, guidance=2.5), plain)


def test_guidance_weights_hand_computed():
    assert guidance_weights(None, 2, 3) is None
    assert guidance_weights(1.0, 2, 3) is None
    assert guidance_weights((2.0, 1.0), 2, 3) is None  # last <= 1: off (the pipeline's rule)
    torch.testing.assert_close(guidance_weights((1.0, 3.0), 2, 3), torch.tensor([[1.0, 2.0, 3.0]] * 2), rtol=0, atol=0)
    torch.testing.assert_close(guidance_weights(2.5, 2, 3), torch.full((2, 3), 2.5), rtol=0, atol=0)
    # a 2-sequence is (first, last), as in SVD; per-video weights are a tensor [B]
    torch.testing.assert_close(guidance_weights(torch.tensor([1.0, 4.0]), 2, 3), torch.tensor([[1.0] * 3, [4.0] * 3]), rtol=0, atol=0)
    bf = torch.tensor([[1.0, 2.0, 3.0], [0.5, 1.0, 1.0]])
    assert torch.equal(guidance_weights(bf, 2, 3), bf)
    assert guidance_weights(torch.ones(2, 3), 2, 3) is None
    u, c = torch.zeros(2, 3, 1, 2, 2), torch.ones(2, 3, 1, 2, 2)
    assert torch.equal(cfg_combine(u, c, bf), bf.view(2, 3, 1, 1, 1).expand(2, 3, 1, 2, 2))
    # constant and frame-wise agree when the frame-wise weights are constant
    assert torch.equal(cfg_combine(u, 3 * c, guidance_weights(2.0, 2, 3)), cfg_combine(u, 3 * c, guidance_weights((2.0, 2.0), 2, 3)))
    for bad in (torch.ones(3), torch.ones(2, 4), float("nan"), (1.0, float("inf")), "strong"):
        with pytest.raises(ValueError, match="guidance"):
            guidance_weights(bad, 2, 3)


def test_stack_conditions_batches_per_video_values_and_keeps_shared_ones():
    shared = torch.ones(1, 5)
    cond = {"y": torch.ones(2, 3), "text": shared, "m": None}
    unc = {**cond, "y": torch.zeros(2, 3)}
    both = stack_conditions(unc, cond, 2)
    assert torch.equal(both["y"], torch.cat([torch.zeros(2, 3), torch.ones(2, 3)])) and both["text"] is shared and both["m"] is None
    with pytest.raises(ValueError, match="not batched"):
        stack_conditions({**cond, "text": torch.zeros(1, 5)}, cond, 2)


# ----------------------------------------------------------------------------------------------
# t and x_t validation, once in the base
# ----------------------------------------------------------------------------------------------


def test_t_validation_errors(model):
    x, y, _ = _inputs()
    with torch.no_grad():
        for bad, msg in [(torch.tensor([0.5, 1.5]), "lie in"), (torch.tensor([0.5, float("nan")]), "finite"),
                         (torch.tensor([-0.1, 0.5]), "lie in"), (torch.tensor([0.5, 0.5, 0.5]), "one entry per batch"),
                         (torch.ones(2, 1), "one entry per batch")]:
            with pytest.raises(ValueError, match=msg):
                model(x, bad, y=y)
        with pytest.raises(ValueError, match="B, F, C, H, W"):
            model(x[0], torch.tensor([0.5]), y=y)
        with pytest.raises(ValueError, match="unknown toy conditioning"):
            model(x, 0.5, y=y, fps=3)
        # a scalar t and a float32 t on the batch are the same call
        assert torch.equal(model(x, 0.25, y=y), model(x, torch.tensor([0.25, 0.25], dtype=torch.float32), y=y))


# ----------------------------------------------------------------------------------------------
# prediction -> x0: one dispatch, each type against its closed form
# ----------------------------------------------------------------------------------------------


def _net_returning(out):
    return lambda x, native, **_: out


@pytest.mark.parametrize("prediction", ["eps", "v", "x0", "flow", "edm"])
def test_denoiser_prediction_types_closed_forms(prediction):
    g = torch.Generator().manual_seed(5)
    x, out = torch.randn((2, 3, 1, 4, 4), generator=g), torch.randn((2, 3, 1, 4, 4), generator=g)
    t = torch.tensor([0.2, 0.7], dtype=torch.float64)
    sched = {"flow": FlowSchedule(shift=3.0), "edm": EDMSchedule()}.get(prediction, VPSchedule())
    seen = {}

    def net(x_in, native, **cond):
        seen.update(x_in=x_in, native=native)
        return out

    got = Denoiser(net, sched, prediction)(x, t)
    a, s = sched.broadcast(t, x)
    if prediction == "eps":
        ref = (x - s * out) / a
    elif prediction == "v":
        ref = (a * x - s * out) / (a**2 + s**2)
    elif prediction == "x0":
        ref = out
    elif prediction == "flow":
        ref = x - t.float().view(-1, 1, 1, 1, 1) * out
    else:
        sig = sched.sigma(t).view(-1, 1, 1, 1, 1)
        c_skip, c_out, c_in = 0.25 / (sig**2 + 0.25), sig * 0.5 / (sig**2 + 0.25).sqrt(), 1 / (sig**2 + 0.25).sqrt()
        ref = (c_skip * x + c_out * out).float()
        torch.testing.assert_close(seen["x_in"], (c_in * x).float())
        torch.testing.assert_close(seen["native"], 0.25 * sched.sigma(t).log().float())
    torch.testing.assert_close(got, ref)
    assert D.to_x0 is not None and prediction in D.PREDICTION_TYPES


def test_one_spelling_of_prediction_types():
    assert [D.prediction_from_diffusers(p) for p in ("epsilon", "v_prediction", "sample", "flow_prediction")] == ["eps", "v", "x0", "flow"]
    with pytest.raises(ValueError, match="prediction_type"):
        D.prediction_from_diffusers("eps")
    with pytest.raises(ValueError, match="prediction must be one of"):
        Denoiser(_net_returning(None), VPSchedule(), "epsilon")
    with pytest.raises(ValueError, match="FlowSchedule"):
        Denoiser(_net_returning(None), VPSchedule(), "flow")
    assert D.Denoiser is Denoiser  # the public name in cilnb.denoiser keeps working


# ----------------------------------------------------------------------------------------------
# the condition hook
# ----------------------------------------------------------------------------------------------


def test_condition_hook_changes_y_and_sees_t(model):
    x, y, t = _inputs(2)
    calls = []

    def zero_y(tt, cond):
        calls.append((tt.clone(), tt.dtype, sorted(cond)))
        return {**cond, "y": torch.zeros_like(cond["y"])}

    with torch.no_grad():
        ref = model(x, t, y=torch.zeros_like(y))
        assert not model.hooked
        with model.condition_hook(zero_y) as m:
            assert m is model and model.hooked
            got = model(x, t, y=y)
        assert not model.hooked
        assert torch.equal(got, ref)
        assert len(calls) == 1 and torch.equal(calls[0][0], t) and calls[0][1] == torch.float64 and calls[0][2] == ["y"]
        assert not torch.equal(model(x, t, y=y), ref)  # removed on exit


def test_condition_hook_removed_after_exception(model):
    x, y, t = _inputs()
    with pytest.raises(RuntimeError, match="boom"):
        with model.condition_hook(lambda tt, c: {**c, "y": c["y"] * 0}):
            raise RuntimeError("boom")
    assert model._hooks() == []

    def failing(tt, c):
        raise KeyError("inside")

    with pytest.raises(KeyError):
        with model.condition_hook(failing), torch.no_grad():
            model(x, t, y=y)
    assert model._hooks() == []


def test_nested_hooks_apply_in_order_entered(model):
    x, y, t = _inputs()
    order = []

    def add(k):
        def fn(tt, c):
            order.append(k)
            return {**c, "y": c["y"] + k}
        return fn

    def double(tt, c):
        order.append("x2")
        return {**c, "y": c["y"] * 2}

    with torch.no_grad():
        with model.condition_hook(add(1)):
            with model.condition_hook(double):
                got = model(x, t, y=y)
            assert order == [1, "x2"]
            only_outer = model(x, t, y=y)
        assert torch.equal(got, model(x, t, y=(y + 1) * 2))
        assert torch.equal(only_outer, model(x, t, y=y + 1))


def test_hook_runs_before_guidance_builds_the_unconditional_branch():
    """The hook's cond reaches both guidance branches; the unconditional branch is built from the hooked cond."""
    seen = []

    class Probe(Adapter):
        schedule, prediction, cond_keys = VPSchedule(), "x0", ("y",)

        def raw(self, x_in, native, cond):
            seen.append(cond["y"].clone())
            return x_in * 0 + cond["y"][:, None]

        def uncond(self, cond):
            return {**cond, "y": cond["y"] - 100}

    m = Probe()
    x, y = torch.zeros(2, 3, 1, 2, 2), torch.ones(2, 1, 2, 2)
    with m.condition_hook(lambda tt, c: {**c, "y": c["y"] * 5}):
        out = m(x, 0.5, y=y, guidance=2.0)
    (both,) = seen
    assert torch.equal(both, torch.cat([y * 5 - 100, y * 5]))  # one batched call: [uncond; cond]
    assert torch.equal(out, (-95 + 2 * (5 - -95)) * torch.ones_like(x))


def test_hook_must_return_a_new_dict(model):
    x, y, t = _inputs()

    def mutate(tt, c):
        c["y"] = c["y"] * 0
        return c

    with pytest.raises(ValueError, match="NEW dict"):
        with model.condition_hook(mutate), torch.no_grad():
            model(x, t, y=y)
    with pytest.raises(ValueError, match="must return a dict"):
        with model.condition_hook(lambda tt, c: None), torch.no_grad():
            model(x, t, y=y)
    with pytest.raises(ValueError, match="callable"):
        with model.condition_hook("not a function"):
            pass


def test_hook_sees_every_sampler_step(model):
    """Through cilnb.sampling: the hook gets each step's t; the docs' low-pass-early example changes the video."""
    from cilnb.sampling import sample

    _, y, _ = _inputs(3)
    y = y.clamp(-1, 1)  # the toy takes images in [-1, 1] (cilnb.checks)
    seen = []

    def lowpass_early(t, cond):
        seen.append(float(t[0]))
        yy = cond["y"]
        w = (t > 0.7).to(yy.dtype).view(-1, 1, 1, 1)
        return {**cond, "y": w * torch.nn.functional.avg_pool2d(yy, 3, 1, 1) + (1 - w) * yy}

    kw = dict(n_steps=4, seed=0, show_progress=False)
    plain = sample(model, y, **kw)
    with model.condition_hook(lowpass_early):
        hooked = sample(model, y, **kw)
    torch.testing.assert_close(torch.tensor(seen, dtype=torch.float64), model.schedule.grid(4, 1.0), rtol=0, atol=1e-12)
    assert not torch.equal(hooked, plain) and torch.equal(sample(model, y, **kw), plain)


def test_a_denoiser_moves_its_inputs_to_the_networks_device_and_its_output_back():
    """The adapter contract gives ``raw`` ``x_in`` on ``x_t``'s device: a network elsewhere (a toy on a GPU, conditional
    images on the CPU) got tensors of two devices and failed deep inside torch. A network with a parameter on the
    "meta" device stands in for the GPU: it must see every tensor input there, and the adapter's output comes back on
    the CPU, guided (both branches) or not."""
    seen = []

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1, device="meta"))

        def forward(self, x, t, y=None, motion=None):
            seen.append({x.device, t.device} | ({y.device} if y is not None else set()))
            return torch.full(x.shape, 0.5)  # on the CPU, as a GPU network's output is not

    class Guided(Denoiser):
        def uncond(self, cond):
            return D.Cond(torch.zeros_like(cond["y"]))

    m = Guided(Net(), VPSchedule(), prediction="eps")
    x, y, t = _inputs()
    out = m(x, t, y=y)
    assert out.device.type == "cpu" and torch.isfinite(out).all()
    out_g = m(x, t, y=y, guidance=(1.0, 2.0))  # uncond and cond branch, combined on x_t's device
    assert out_g.device.type == "cpu"
    assert seen and all(devs == {torch.device("meta")} for devs in seen)

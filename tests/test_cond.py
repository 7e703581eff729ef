"""``cilnb.denoiser.Cond``: the one conditioning type that carries ``y`` end to end (coercion, rows, sampling, stored runs)."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cilnb import data, io, runs
from cilnb.denoiser import Cond
from cilnb.models import toy
from cilnb.models.base import stack_conditions
from cilnb.probe import one_step_predictions
from cilnb.sampling import sample

F, SIZE = 4, 16


def test_of_coerces_tensors_dicts_and_keeps_a_cond():
    y = torch.randn(2, 1, 4, 4)
    c = Cond.of(y)
    assert isinstance(c, Cond) and c.y is y and dict(c) == {"y": y} and c.extras == {}
    d = Cond.of({"motion": torch.ones(2), "y": y, "fps": 7})
    assert isinstance(d, Cond) and d.y is y and list(d) == ["y", "motion", "fps"] and d["fps"] == 7
    assert Cond.of(d) is d  # a Cond passes through, not copied
    assert isinstance(d, dict) and {**d}["y"] is y  # still a dict: model(x, t, **cond) and cond["y"] work
    assert Cond(None, image_mode=True).y is None  # an unconditional branch that drops the image
    back = pickle.loads(pickle.dumps(d))
    assert isinstance(back, Cond) and torch.equal(back.y, y) and back["fps"] == 7
    assert isinstance(d.copy(), Cond) and d.copy() is not d


def test_of_refuses_a_dict_without_y_and_other_types():
    with pytest.raises(ValueError, match=r"no 'y'.*prepare_condition\(images\).*Cond\(y, \*\*extras\)"):
        Cond.of({"motion": torch.ones(2)})
    with pytest.raises(TypeError, match="a Cond, a dict holding 'y', or an image tensor"):
        Cond.of([1, 2])
    with pytest.raises(ValueError, match="y twice"):
        Cond(torch.zeros(1), **{"y": torch.zeros(1)})


def test_select_slices_batched_values_and_keeps_the_rest():
    B = 3
    y = torch.arange(B * 2 * 2 * 2, dtype=torch.float32).view(B, 2, 2, 2)
    text = torch.randn(1, 5, 8)  # one prompt shared by the batch: not batched
    c = Cond(y, motion=torch.tensor([1.0, 2.0, 3.0]), scale=torch.tensor(2.0), text=text, fps=7, mask=None)
    s = c.select(slice(1, 3))
    assert isinstance(s, Cond) and list(s) == list(c)
    assert torch.equal(s.y, y[1:3]) and torch.equal(s["motion"], torch.tensor([2.0, 3.0]))
    assert s["scale"] is c["scale"] and s["text"] is text and s["fps"] == 7 and s["mask"] is None
    assert torch.equal(c.select(np.int64(2)).y, y[2:3])
    one = c.select(2)  # an int keeps the batch dim
    assert one.y.shape == (1, 2, 2, 2) and torch.equal(one["motion"], torch.tensor([3.0]))
    idx = c.select(torch.tensor([2, 0, 2]))  # index tensors (the probe's rows)
    assert torch.equal(idx.y, y[[2, 0, 2]]) and torch.equal(idx["motion"], torch.tensor([3.0, 1.0, 3.0]))
    rep = one.expand(4)
    assert rep.y.shape == (4, 2, 2, 2) and torch.equal(rep["motion"], torch.full((4,), 3.0)) and rep["scale"] is c["scale"]
    with pytest.raises(ValueError, match="select"):
        c.expand(2)
    w = c.with_y(torch.zeros_like(y))
    assert isinstance(w, Cond) and float(w.y.abs().sum()) == 0 and w["motion"] is c["motion"] and torch.equal(c.y, y)
    moved = c.to("cpu", torch.float64)
    assert moved.y.dtype == torch.float64 and moved["fps"] == 7
    ints = Cond(y, ids=torch.tensor([1, 2, 3])).to("cpu", torch.float64)
    assert ints["ids"].dtype == torch.int64  # only floating tensors are cast


def test_cat_joins_rows_and_refuses_differing_non_tensors():
    a = Cond(torch.zeros(1, 1, 2, 2), motion=torch.tensor([1.0]), fps=7)
    b = {"y": torch.ones(1, 1, 2, 2), "motion": torch.tensor([2.0]), "fps": 7}
    c = Cond.cat([a, b])
    assert isinstance(c, Cond) and c.y.shape == (2, 1, 2, 2) and torch.equal(c["motion"], torch.tensor([1.0, 2.0])) and c["fps"] == 7
    with pytest.raises(ValueError, match="'fps'"):
        Cond.cat([a, {**b, "fps": 8}])


def test_stack_conditions_and_prepare_condition_return_cond():
    B = 2
    c = Cond(torch.ones(B, 1, 2, 2), motion=torch.tensor([1.0, 2.0]))
    both = stack_conditions(c.with_y(torch.zeros(B, 1, 2, 2)), c, B)
    assert isinstance(both, Cond) and both.y.shape == (2 * B, 1, 2, 2) and float(both.y[:B].abs().sum()) == 0
    model = toy.build(frames=F, size=SIZE, widths=(8, 16), temporal_levels=(1,), temporal_width=8, emb_dim=32)
    assert isinstance(model.prepare_condition(torch.zeros(B, 1, SIZE, SIZE)), Cond)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = toy.build(frames=F, size=SIZE, widths=(8, 16), temporal_levels=(1,), temporal_width=8, emb_dim=32).eval()
    with torch.no_grad():  # untrained layers start at zero; random ones let the motion reach the output
        for p in m.net.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    return m


def test_sample_with_a_dict_a_cond_or_y_and_extras_is_bit_identical(model):
    y = data.generate(2, seed=3, frames=F, size=SIZE, flow=False).condition
    motion = torch.tensor([0.5, 2.0])
    kw = dict(n_steps=3, start=0.8, seed=[11, 12], show_progress=False, batch_size=1)
    old = sample(model, y, cond={"motion": motion}, **kw)
    from_dict = sample(model, {"y": y, "motion": motion}, **kw)
    from_cond = sample(model, Cond(y, motion=motion), **kw)
    split = sample(model, Cond(y), cond={"motion": motion}, **kw)
    assert torch.equal(old, from_dict) and torch.equal(old, from_cond) and torch.equal(old, split)
    assert not torch.equal(old, sample(model, y, **kw))  # the extra really reaches the model
    with pytest.raises(ValueError, match="both in y's Cond and in cond="):
        sample(model, Cond(y, motion=motion), cond={"motion": motion}, **kw)
    assert torch.equal(old, sample(model, y, cond={"y": y, "motion": motion}, **kw))  # the old spelling: the same y twice
    with pytest.raises(ValueError, match="cond= holds another 'y'"):
        sample(model, y, cond={"y": y.clone()}, **kw)
    with pytest.raises(ValueError, match="no 'y'"):
        sample(model, {"motion": motion}, **kw)
    with pytest.raises(ValueError, match="y must be a torch.Tensor"):  # a bad y is still reported as y
        sample(model, y.numpy(), **kw)


def test_prepare_condition_keeps_extras_and_refuses_unknown_ones(model):
    """The base prepare_condition carries extras (the toy's motion) into the Cond; none is dropped silently."""
    y = data.generate(2, seed=3, frames=F, size=SIZE, flow=False).condition
    motion = torch.tensor([0.5, 2.0])
    kw = dict(n_steps=3, seed=[11, 12], show_progress=False)
    c = model.prepare_condition(y, motion=motion, generator=torch.Generator().manual_seed(0))
    assert isinstance(c, Cond) and set(c) == {"y", "motion"} and torch.equal(c["motion"], motion)
    assert torch.equal(sample(model, c, **kw), sample(model, y, cond={"motion": motion}, **kw))
    with pytest.raises(ValueError, match=r"unknown toy conditioning \['fps'\]"):
        sample(model, model.prepare_condition(y, fps=7), **kw)


def test_probe_takes_the_whole_cond_or_y_and_extras(model):
    sv = data.generate(2, seed=4, frames=F, size=SIZE, flow=False)
    motion = torch.tensor([1.0, 3.0])
    ts = [0.3, 0.9]
    a = one_step_predictions(model, sv.videos, ts, y=sv.condition, cond={"motion": motion}, batch_size=3)
    b = one_step_predictions(model, sv.videos, ts, cond=Cond(sv.condition, motion=motion), batch_size=3)
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="y is given twice"):
        one_step_predictions(model, sv.videos, ts, y=sv.condition, cond=Cond(sv.condition.clone()))


class _Stop(Exception):
    pass


def test_stored_run_with_extras_resumes_identically(model, tmp_path):
    """runs.run_sweep builds one Cond per canonical batch through the model's prepare_condition (y + the per-image
    motion, which must reach the model: motion_control lost it once); a killed run resumes bit-identically."""
    ckpt = toy.save_checkpoint(tmp_path / "toy.safetensors", model.net, {})
    net = toy.load(str(ckpt), device="cpu")
    base = io.load_images("toy:2", net)
    images = io.ImageSet(base.names, base.images, base.spec, base.columns, base.videos, cond={"motion": [0.5, 2.0]})
    grid = dict(Ms=[1.0, 0.6], inits=["standard"], seeds=[0, 1], n_steps=2, batch_size=3, show_progress=False, motion_kwargs={"resize": None})
    full = runs.run_sweep(net, images, tmp_path / "full", model_name="toy", **grid)

    def stop(info):
        raise _Stop

    with pytest.raises(_Stop):
        runs.run_sweep(net, images, tmp_path / "part", model_name="toy", on_batch=stop, **grid)
    last = runs.run_sweep(net, images, tmp_path / "part", model_name="toy", **grid)
    assert 0 < last.computed < full.computed == 8
    videos = {p.name: load_file(str(p))["video"] for p in (tmp_path / "full" / "videos").glob("*.safetensors")}
    resumed = {p.name: load_file(str(p))["video"] for p in (tmp_path / "part" / "videos").glob("*.safetensors")}
    assert videos.keys() == resumed.keys() and all(torch.equal(videos[k], resumed[k]) for k in videos)
    # a stored unit is direct sampling with Cond(y, motion=...) of its image alone
    u = runs.Unit(0.6, "standard", 1, 1, images.names[1])
    x = sample(net, Cond(images.images[1:2], motion=torch.tensor([2.0])), n_steps=2, start=0.6, seed=[u.noise_seed], show_progress=False)
    torch.testing.assert_close(videos[f"{u.uid}.safetensors"], x[0], atol=1e-5, rtol=0)
    no_motion = sample(net, images.images[1:2], n_steps=2, start=0.6, seed=[u.noise_seed], show_progress=False)
    assert not torch.allclose(videos[f"{u.uid}.safetensors"], no_motion[0], atol=1e-4)


def test_cond_equals_compares_tensors_by_value():
    y = torch.zeros(2, 3, 4, 4)
    a = Cond(y, motion=torch.tensor([1.0, 2.0]), fps=7)
    assert a.equals(Cond(y.clone(), motion=torch.tensor([1.0, 2.0]), fps=7))
    assert not a.equals(Cond(y + 1, motion=torch.tensor([1.0, 2.0]), fps=7))
    assert not a.equals(Cond(y, motion=torch.tensor([1.0, 2.0]), fps=8))
    assert not a.equals(Cond(y, motion=torch.tensor([1.0, 2.0])))
    assert Cond(None, image_mode=True).equals(Cond(None, image_mode=True))

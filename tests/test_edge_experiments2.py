"""Edge inputs of the experiments layer (``cilnb.experiments``) that were still mishandled after
``test_edge_experiments.py`` and ``test_bad_inputs_experiments.py``: each one now fails at once with a
``ValueError`` (or :class:`cilnb.checks.InputTypeError` for a wrong type) naming the argument and the fix, or
works where it failed in torch. Each test's docstring says what happened before; the valid inputs next to
each edge are checked to give what they gave before.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import cilnb.experiments as E
from cilnb import checks
from cilnb import data as D
from cilnb.io import ImageSet
from cilnb.models import toy

NAN = float("nan")
_CFG = D.SpriteConfig(frames=2, size=8, radius=(1.0, 2.0))


@functools.lru_cache(maxsize=None)
def _toy():
    """A tiny random-weight toy (2 frames of 8 x 8, pixels in [-1, 1])."""
    return toy.build(frames=2, size=8, widths=(8,), temporal="none", temporal_levels=(), temporal_width=8, emb_dim=16, seed=0).eval()


@functools.lru_cache(maxsize=None)
def _sprites():
    return D.generate(2, seed=0, config=_CFG)


def _images():
    sv = _sprites()
    speed = sv.speed.tolist()
    return ImageSet(["a", "b"], sv.condition, "toy:2", {"input_speed": speed}, sv.videos, {"motion": speed}, _CFG)


def _image():
    return _sprites().condition[0]


# ---------------------------------------------------------------------------------------------
# with_targets
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("targets, exc, pattern", [
    pytest.param("12", TypeError, r"targets must be a list, got the string '12'", id="string"),
    pytest.param(60, TypeError, r"targets must be a list, got int", id="one-number"),
    pytest.param([20, NAN], ValueError, r"targets\[1\] must be finite", id="nan"),
    pytest.param([True], TypeError, r"targets\[0\] must be a real number", id="bool"),
    pytest.param([20, 60, 20], ValueError, r"targets lists 20 more than once: give each motion_bucket_id value once", id="repeated"),
])
def test_with_targets_refuses_targets_it_split_or_passed_on(targets, exc, pattern):
    """Before: the string "12" became the targets 1 and 2, ``True`` the target 1, NaN was passed on to the model,
    a repeated target gave two images of one name (the run store keeps one video per name), and one number failed
    with Python's bare "'int' object is not iterable"."""
    with pytest.raises(exc, match=pattern):
        E.with_targets(_images(), "motion_bucket_id", targets)
    # the valid neighbours give what they gave before: image-major, every target as a float
    got = E.with_targets(_images(), "motion_bucket_id", np.array([20, 60]))
    assert got.cond == {"motion_bucket_id": [20.0, 60.0, 20.0, 60.0]}
    assert got.names == ["a_motion_bucket_id20", "a_motion_bucket_id60", "b_motion_bucket_id20", "b_motion_bucket_id60"]


def test_with_targets_refuses_other_images_and_names():
    """Before: ``images=None`` failed with Python's bare "object of type 'NoneType' has no len()", and a number as
    ``name`` became the conditioning key ``3`` that no model reads."""
    with pytest.raises(TypeError, match=r"images must be a cilnb.io.ImageSet"):
        E.with_targets(None, "motion_bucket_id", [20])
    with pytest.raises(TypeError, match=r"name must be the name of a per-image conditioning"):
        E.with_targets(_images(), 3, [20])


# ---------------------------------------------------------------------------------------------
# inputs: timenoise_settings, prepare_condition, readout_for
# ---------------------------------------------------------------------------------------------


def test_timenoise_settings_refuses_a_number_as_model_path():
    """Before: pathlib's bare "expected str, bytes or os.PathLike object, not int", naming neither argument nor fix."""
    with pytest.raises(TypeError, match=r"model_path must be a checkpoint path \(str or pathlib.Path\)"):
        E.timenoise_settings("toy", model_path=3)
    assert E.timenoise_settings("toy", 5.0, 10.0, model_path="") == (5.0, 10.0, "given")


def test_prepare_condition_refuses_what_is_not_a_model():
    """Before: ``adapter=None`` (or a model's name) failed with a bare AttributeError on ``prepare_condition``."""
    with pytest.raises(TypeError, match=r"adapter must be a loaded model with prepare_condition"):
        E.prepare_condition(None, _image()[None])
    with pytest.raises(TypeError, match=r"adapter must be a loaded model .*\(str\)"):
        E.prepare_condition("toy", _image()[None])


def test_readout_for_refuses_an_empty_model_name():
    """Before: ``""`` was taken for a real model and read by optical flow (``run_label("")`` returned ``""``), failing
    later wherever the model was loaded."""
    with pytest.raises(ValueError, match=r"model is an empty name \(''\): pass a model name such as 'toy'"):
        E.readout_for("")
    with pytest.raises(ValueError, match=r"model is an empty name"):
        E.run_label("  ")
    assert E.readout_for("Toy") is E.ToyReadout and E.readout_for("svd") is E.FlowReadout


# ---------------------------------------------------------------------------------------------
# probe: toy_bench's device
# ---------------------------------------------------------------------------------------------


def test_toy_bench_takes_auto_and_names_a_bad_device():
    """Before: ``device="auto"`` (probe_bench's default spelling) and a typo both failed in torch's ``.to()`` with
    "Expected one of cpu, cuda, ... device type at start of device string", after the videos were generated."""
    with pytest.raises(ValueError, match=r"device 'bogus' is not a torch device: use 'auto', 'cpu'"):
        E.toy_bench(2, 0, data=_CFG, device="bogus")
    auto = E.toy_bench(2, 0, data=_CFG, device="auto")
    cpu = E.toy_bench(2, 0, data=_CFG)
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert auto.x0.device.type == want and cpu.x0.device.type == "cpu"
    assert torch.equal(auto.x0.cpu(), cpu.x0) and torch.equal(cpu.x0, _sprites().videos)


# ---------------------------------------------------------------------------------------------
# sample_grid, compare_models, motion_control, sample_store_dir
# ---------------------------------------------------------------------------------------------


def _grid(out, **kw):
    args = dict(Ms=[1.0], inits=["standard"], seeds=[0], n_steps=1, show_progress=False)
    args.update(kw)
    return E.sample_grid(_toy(), out, _images(), E.ToyReadout(0, data=_CFG), **args)


def test_sample_grid_refuses_a_list_of_cond_kwargs_and_a_number_as_label(tmp_path):
    """Before: ``cond_kwargs=[1]`` failed in ``dict()`` with "cannot convert dictionary update sequence element #0",
    and ``label=3`` filled the tables' ``model`` column with the number 3 (verdicts and plots match names)."""
    with pytest.raises(TypeError, match=r"cond_kwargs must be a dict of prepare_condition settings"):
        _grid(tmp_path / "a", cond_kwargs=[1])
    with pytest.raises(TypeError, match=r"label must be the model's name for the tables"):
        _grid(tmp_path / "b", label=3)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # refused before anything was written


def test_compare_models_refuses_a_number_as_out_root(tmp_path):
    """Before: pathlib's bare "expected str, bytes or os.PathLike object, not int"."""
    with pytest.raises(TypeError, match=r"out_root must be the folder of the runs"):
        E.compare_models({"a": _toy()}, [("a", 1.0, "standard")], _images(), E.ToyReadout(0, data=_CFG), out_root=3, seeds=[0],
                         n_steps=1, show_progress=False)


def test_compare_models_and_motion_control_take_a_tensor_start_time(tmp_path):
    """Before: a config's M given as a 0-d tensor (``torch.tensor(1.0)``, passed every check) was sampled, then the
    summary rows were not found in the configs' order: a bare ``KeyError: ('a', 1.0, 'standard')``."""
    ro = E.ToyReadout(0, data=_CFG)
    per, summary = E.compare_models({"a": _toy()}, [("a", torch.tensor(1.0), "standard")], _images(), ro, out_root=tmp_path, seeds=[0],
                                    n_steps=1, show_progress=False)
    _, plain = E.compare_models({"a": _toy()}, [("a", 1.0, "standard")], _images(), ro, out_root=tmp_path, seeds=[0], n_steps=1,
                                show_progress=False)
    assert summary.M.tolist() == [1.0] and summary.equals(plain)
    df = E.motion_control({"a": _toy()}, [("a", torch.tensor(1.0), "standard")], _images(), ro, n_steps=1, show_progress=False,
                          out_root=tmp_path)
    assert df.M.tolist() == [1.0, 1.0] and df.image.tolist() == [0, 1]


def test_sample_store_dir_refuses_an_unknown_sampler():
    """Before: any ``sampler`` (a typo, a number) was hashed into a run folder's name that no sweep could fill."""
    with pytest.raises(ValueError, match=r"sampler must be one of \['ddim', 'dpm\+\+2m', .*got 'DDIM '"):
        E.sample_store_dir("a", _toy(), _images(), n_steps=1, sampler="DDIM ")
    with pytest.raises(ValueError, match=r"sampler must be one of .*got 3"):
        E.sample_store_dir("a", _toy(), _images(), n_steps=1, sampler=3)
    assert E.sample_store_dir("a", _toy(), _images(), n_steps=1, sampler="euler").name.startswith("samples_a_")


# ---------------------------------------------------------------------------------------------
# timenoise_views
# ---------------------------------------------------------------------------------------------


def test_timenoise_views_refuses_meta_and_empty_images():
    """Before: a meta tensor failed with torch's "Tensor.item() cannot be called on meta tensors", an empty image with
    "min(): Expected reduction dim to be specified for input.numel() == 0", neither naming ``image``."""
    with pytest.raises(TypeError, match=r"image is a tensor on the 'meta' device"):
        E.timenoise_views(None, torch.empty(1, 8, 8, device="meta"), [0.5], 5.0, 10.0)
    with pytest.raises(ValueError, match=r"image is empty \(shape \(1, 0, 8\)\)"):
        E.timenoise_views(None, torch.empty(1, 0, 8), [0.5], 5.0, 10.0)


def test_timenoise_views_refuses_a_grid_of_times():
    """Before: ``ts`` as a ``[2, 2]`` array was flattened into 4 times in row order without a word."""
    with pytest.raises(ValueError, match=r"ts must be a flat list of normalised times, got shape \(2, 2\)"):
        E.timenoise_views(None, _image(), np.full((2, 2), 0.5), 5.0, 10.0)
    rows = E.timenoise_views(None, _image(), np.array([0.2, 0.9]), 5.0, 10.0, n_draws=2)
    same = E.timenoise_views(None, _image(), [0.2, 0.9], 5.0, 10.0, n_draws=2)
    assert len(rows) == 2 and all(torch.equal(a, b) for a, b in zip(rows, same)) and rows[0].shape == (2, *_image().shape)


def test_timenoise_views_refuses_more_draws_than_memory(monkeypatch):
    """Before: a huge ``n_draws`` drew row after row until the machine ran out of memory (here a machine of 1 MiB,
    where 5000 draws of one 8 x 8 float32 image at one time need 5000 x 64 x 4 bytes, about 1.2 MiB)."""
    monkeypatch.setattr(checks, "physical_memory", lambda: 2**20)
    with pytest.raises(ValueError, match=r"timenoise_views\(n_draws=5000\) needs more than .* GiB .*pass a few draws, e.g. n_draws=3"):
        E.timenoise_views(None, _image(), [0.5], 5.0, 10.0, n_draws=5000)
    assert len(E.timenoise_views(None, _image(), [0.5], 5.0, 10.0, n_draws=3)) == 3


def test_a_static_ground_truth_gives_no_motion_ratio(tmp_path):
    """Source videos that do not move (ground-truth motion 0) gave motion_ratio = inf (0.478 / 0.0), which the verdicts
    and plots refuse: it is NaN now, "not read" in the verdicts."""
    import dataclasses

    import cilnb as C

    net = C.models.load("toy")
    ims = C.io.load_images("toy:2", net)
    still = dataclasses.replace(ims, videos=ims.images[:, None].expand_as(ims.videos).clone(), columns={**ims.columns, "input_speed": [0.0, 0.0]})
    _, summary = E.sample_grid(net, tmp_path, still, E.ToyReadout(0), Ms=[1.0, 0.8], inits=["standard"], seeds=[0, 1], n_steps=2,
                               show_progress=False)
    assert bool((summary.gt_motion == 0).all()) and bool(summary.motion.notna().all()) and bool(summary.motion_ratio.isna().all())
    assert "inf" not in str(E.verdicts.start_time(summary))
    cmp = C.remedies.compare(net, still, {"none": "none", "cn": "cond_noise"}, seeds=[0, 1], n_steps=2, n_reference=0, show_progress=False)
    assert bool((cmp.summary.gt_motion == 0).all()) and bool(cmp.summary.motion_ratio.isna().all())
    assert "ratio to data not read" in C.remedies.verdict(cmp)[0]

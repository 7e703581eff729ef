"""Bad input to the live lab, the sweep store, the figure runner and the remedies: each was accepted silently (a sweep
written into the current folder, a string read as True, a setting dropped), or failed later or deep inside a library.

Siblings: ``test_bad_inputs_more.py`` (the lab, sliders, the sweep store, the figure runner), ``test_bad_inputs_sampling.py``
(the samplers, the remedies and their comparison).
"""
from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch

import cilnb.remedies as R
from _media import tiny_sprites as _sprites, tiny_toy, tiny_x0 as _x0, tiny_y as _y
from cilnb import figures as FG
from cilnb import io as IO
from cilnb import runs
from cilnb import sampling as S
from cilnb.checks import InputTypeError
from cilnb.io import ImageSet
from cilnb.live import Lab

NAN = float("nan")
T, V = TypeError, ValueError


# ---------------------------------------------------------------------------------------------
# tiny inputs, built on first use
# ---------------------------------------------------------------------------------------------


_toy = functools.partial(tiny_toy, 8)  # a tiny random-weight toy: 2 frames of 8 x 8, pixels in [-1, 1]
_toy16 = functools.partial(tiny_toy, 16)  # the same at 16 x 16 (the default sprites of toy:N images fit it): sweeps


def _images():
    sv = _sprites()
    speed = sv.speed.tolist()
    return ImageSet(["a", "b"], sv.condition, "toy:2", {"input_speed": speed}, sv.videos, {"motion": speed}, sv.config)


# ---------------------------------------------------------------------------------------------
# the live lab: refused when built, not at the first sample or probe (or with a message naming align_psnr's "images")
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make, exc, pattern", [
    pytest.param(lambda: Lab(_toy(), _y(), _x0().long()), T, r"truth has dtype torch\.int64; the lab takes float .* truth\.float\(\)",
                 id="integer-truth"),
    pytest.param(lambda: Lab(_toy(), _y(), ((_x0() + 1) * 127.5).to(torch.uint8)), T, r"truth has dtype torch\.uint8.*/ 127\.5 - 1",
                 id="uint8-truth"),
    pytest.param(lambda: Lab(_toy(), _y(), _x0()[..., :4, :4]), V,
                 r"truth frames are \[C, H, W\] = \(1, 4, 4\) but images are \(1, 8, 8\).*images = truth\[:, 0\]", id="truth-other-size"),
    pytest.param(lambda: Lab(_toy(), _y(), _x0(), x0=torch.full_like(_x0(), NAN)), V, r"x0 contains .* non-finite", id="nan-x0"),
    pytest.param(lambda: Lab(_toy(), _y(), _x0(), x0=_x0().long()), T, r"x0 has dtype torch\.int64", id="integer-x0"),
    pytest.param(lambda: Lab(_toy(), _y(), _x0(), x0=_x0()[:, 0]), V, r"x0 must be \[N, F, C, H, W\]", id="x0-without-frames"),
    pytest.param(lambda: Lab(_toy(), _y(), _x0(), motion_fn=lambda v: ["fast"] * len(v)), T,
                 r"motion_fn must return one number per video .*got \['fast', 'fast'\]", id="motion-fn-text"),
])
def test_lab_refuses_bad_ground_truth_when_built(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()


def test_lab_valid_ground_truth_still_builds():
    lab = Lab(_toy(), _y(), _x0(), x0=_x0().double(), n_steps=1, n_seeds=1, motion_fn=lambda v: torch.zeros(len(v)))
    assert lab.x0.dtype == torch.float64 and lab.truth_motion.tolist() == [0.0, 0.0]
    assert Lab(_toy(), _y(), _x0()[..., :4, :4], x0=_x0(), n_steps=1).truth.shape[-1] == 4  # a decoded/latent setup is not checked


# ---------------------------------------------------------------------------------------------
# the sweep store (cilnb.runs)
# ---------------------------------------------------------------------------------------------


def _sweep(out, **kw):
    args = dict(Ms=[1.0], n_steps=1, show_progress=False, motion_method=None)
    args.update(kw)
    model = _toy16()
    return runs.run_sweep(model, IO.load_images("toy:2", model), out, **args)


@pytest.mark.parametrize("out", ["", None, 3])
def test_sweep_needs_a_folder_path(tmp_path, monkeypatch, out):
    """``out=""`` was the current folder: the sweep wrote sweep.json, videos/ and results/ there."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputTypeError, match=r"out must be the sweep's folder path \(--out\)"):
        _sweep(out)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kw, exc, pattern", [
    ({"mp4": "no"}, T, r"mp4 must be True or False, got 'no'"),  # was: mp4 previews written
    ({"native": "no"}, T, r"native must be True or False, got 'no'"),  # was: M read as a native time
    ({"cond_kwargs": ["motion", 1.0]}, T, r"cond_kwargs must be a dict of extra conditioning"),  # was: dict()'s own error
    ({"cond_kwargs": "motion=1"}, T, r"cond_kwargs must be a dict of extra conditioning .*got 'motion=1'"),
    ({"stats": "stats.safetensors"}, T, r"stats must be a cilnb\.analytic_init\.MomentStats"),  # was: ignored (standard init only)
])
def test_sweep_settings_of_the_wrong_type_are_refused_before_anything_is_written(tmp_path, kw, exc, pattern):
    with pytest.raises(exc, match=pattern):
        _sweep(tmp_path / "out", **kw)
    assert not (tmp_path / "out").exists()


def test_read_rows_needs_an_existing_sweep_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no sweep folder at .*nowhere: pass the folder given to run_sweep"):
        runs.read_rows(tmp_path / "nowhere")  # was: {} (an empty table, as if nothing were sampled)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match=r"afile is a file, not a sweep folder"):
        runs.read_rows(tmp_path / "afile")
    with pytest.raises(InputTypeError, match=r"out must be the sweep's folder"):
        runs.read_rows(None)
    assert runs.read_rows(tmp_path) == {}  # a folder without results: no rows


def test_store_helpers_name_their_bad_input():
    units = runs.grid_units([1.0], ["standard"], [0], ["a", "b"])
    with pytest.raises(ValueError, match=r"batch_size must be a positive int"):
        runs.canonical_batches(units, [1.0], ["standard"], 0)  # was: range() arg 3 must not be zero
    assert runs.canonical_batches(units, [1.0], ["standard"], 1) == [[units[0]], [units[1]]]
    with pytest.raises(InputTypeError, match=r"videos must be a torch\.Tensor .*from_numpy"):
        runs.frame_diff(np.zeros((1, 2, 1, 4, 4)))  # was: 'numpy.ndarray' object has no attribute 'float'
    with pytest.raises(ValueError, match=r"videos must be \[B, F, C, H, W\] \(for one video use videos\[None\]\)"):
        runs.frame_diff(torch.zeros(2, 1, 4, 4))  # was: IndexError
    assert runs.frame_diff(torch.zeros(1, 2, 1, 4, 4)).tolist() == [0.0]
    for call in (lambda: runs.weights_digest(None), lambda: runs.default_run_dir("samples", "x", None)):
        with pytest.raises(InputTypeError, match=r"model must be a torch model with weights"):
            call()  # was: 'NoneType' object has no attribute 'state_dict'


# ---------------------------------------------------------------------------------------------
# the figure runner
# ---------------------------------------------------------------------------------------------


def _notebook(path, nb):
    path.write_text(json.dumps(nb))
    return path


def test_figure_runner_names_a_missing_notebook_and_the_fix(tmp_path):
    for call in (lambda p: FG.notebook_parameters(p, "smoke"), FG.declared_parameters,
                 lambda p: FG.run_notebook(p, "default", tmp_path / "f", tmp_path / "e")):
        with pytest.raises(FileNotFoundError, match=r"notebook .*nope\.ipynb does not exist: pass a \.ipynb file"):
            call(tmp_path / "nope.ipynb")  # was: [Errno 2] No such file or directory
        with pytest.raises(FileNotFoundError, match=r"is a folder, not a notebook file"):
            call(tmp_path)  # was: [Errno 21] Is a directory
    assert not (tmp_path / "e").exists()


@pytest.mark.parametrize("nb, call, pattern", [
    ({"cells": [], "metadata": {"cilnb": "x"}}, lambda p: FG.notebook_parameters(p, "smoke"), r"metadata\.cilnb must be a JSON object"),
    ({"cells": [], "metadata": {"cilnb": {"profiles": ["smoke"]}}}, lambda p: FG.notebook_parameters(p, "smoke"),
     r"metadata\.cilnb\.profiles must be a JSON object"),
    ({"cells": [], "metadata": {"cilnb": {"profiles": {"smoke": [1, 2]}}}}, lambda p: FG.notebook_parameters(p, "smoke"),
     r"metadata\.cilnb\.profiles\.smoke must be a JSON object \{parameter: value\}"),
    ({"cells": [], "metadata": ["x"]}, FG.declared_parameters, r"not a Jupyter notebook: its 'metadata' is a list"),
    ({"cells": "x", "metadata": {}}, FG.declared_parameters, r"not a Jupyter notebook: its 'cells' is a str"),
    ({"cells": ["x"], "metadata": {}}, FG.declared_parameters, r"has a cell that is not a JSON object"),
    ({"cells": [], "metadata": {"cilnb": {"seconds": [1]}}}, lambda p: FG.start_order([p], "smoke", p.parent / "TIMES.md"),
     r"metadata\.cilnb\.seconds must be a JSON object"),
])
def test_malformed_notebook_metadata_names_the_notebook(tmp_path, nb, call, pattern):
    """Was an AttributeError ('str' object has no attribute 'get') or dict()'s TypeError, naming no notebook."""
    path = _notebook(tmp_path / "a.ipynb", nb)
    with pytest.raises(ValueError, match=pattern) as info:
        call(path)
    assert str(path) in str(info.value)


def test_start_order_refuses_an_unknown_profile(tmp_path):
    path = _notebook(tmp_path / "a.ipynb", {"cells": [], "metadata": {}})
    with pytest.raises(ValueError, match=r"unknown profile 'fast'; choose one of"):
        FG.start_order([path], "fast", tmp_path / "TIMES.md")  # was: sorted by nothing, silently
    assert FG.start_order([path], "smoke", tmp_path / "TIMES.md") == [path]


@pytest.mark.parametrize("kw, pattern", [
    ({"out": ""}, r"out must be the figure folder \(--out\), or None for the default"),  # was: <repo>/figures, silently
    ({"out": 3}, r"out must be the figure folder"),  # was: pathlib's TypeError
    ({"executed_dir": ""}, r"executed_dir must be the folder of the executed notebooks"),
    ({"notebook_dir": ""}, r"notebook_dir must be the folder of the notebooks"),
    ({"only": [3]}, r"only \(--only\) must list notebook names such as 'explore', got 3"),
    ({"only": [None]}, r"only \(--only\) must list notebook names"),
    ({"only": ["explore", ""]}, r"only \(--only\) must list notebook names .*got ''"),
])
def test_run_all_refuses_empty_or_wrong_paths_and_names(tmp_path, kw, pattern):
    args = {"out": tmp_path / "figs", "only": ["no_such_notebook"], "profile": "smoke", **kw}
    with pytest.raises(InputTypeError, match=pattern):
        FG.run_all(**args)
    assert not (tmp_path / "figs").exists()


def test_figures_cli_refuses_an_empty_notebook_name(capsys, tmp_path):
    from cilnb.commands import main

    with pytest.raises(SystemExit) as info:
        main(["figures", "--only", "", "--out", str(tmp_path / "figs")])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "argument --only: expected a notebook name such as explore, got ''" in err


# ---------------------------------------------------------------------------------------------
# the remedies
# ---------------------------------------------------------------------------------------------


def test_remedy_settings_are_never_dropped():
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['x'\] in a compose spec"):
        R.build({"name": "compose", "settings": {"remedies": [{"name": "alg"}], "x": 1}})  # was: x ignored
    assert R.build({"name": "compose", "settings": {"remedies": [{"name": "alg"}]}}).label() == R.build("alg").label()
    with pytest.raises(ValueError, match=r"remedy setting 'iterations' is given twice"):
        R.from_cli("freeinit", ["iterations=2", "iterations=3"])  # was: the last one, silently
    assert R.from_cli("freeinit", ["iterations=2", "d_s=0.5"]).settings()["iterations"] == 2


def _compare(remedies=None, **kw):
    args = dict(n_steps=1, n_reference=0)
    args.update(kw)
    return R.compare(_toy(), _images(), {"none": "none", "cn": "cond_noise"} if remedies is None else remedies, **args)


@pytest.fixture
def sampler_calls(monkeypatch):
    calls = []
    real = S.sample

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(S, "sample", counting)
    return calls


@pytest.mark.parametrize("remedies, kw, exc, pattern", [
    ({"none": "none", "ai": "analytic_init"}, {}, V, r"remedies\['ai'\]: remedy 'analytic_init' needs Analytic-Init statistics"),
    ({"none": "none", "mix": "alg+analytic_init"}, {}, V, r"remedies\['mix'\]: .*needs Analytic-Init statistics"),
    (None, {"n_steps": 0}, V, r"n_steps must be a positive int"),
    (None, {"n_steps": "2"}, T, r"n_steps must be a positive int"),
    (None, {"stats": "toy_stats.safetensors"}, T, r"stats must be a cilnb\.analytic_init\.MomentStats"),
])
def test_compare_refuses_before_sampling_any_row(sampler_calls, remedies, kw, exc, pattern):
    """Were refused by the sampler at the remedy's own row, after the warm-up and every row before it."""
    with pytest.raises(exc, match=pattern):
        _compare(remedies, **kw)
    assert sampler_calls == []


def test_compare_refuses_an_empty_run_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputTypeError, match=r"run_dir must be a folder path .*got ''"):
        _compare(run_dir="")  # was: remedies_toy_<hash>/ written into the current folder
    assert list(tmp_path.iterdir()) == []


def test_compare_names_a_corrupt_stored_row(tmp_path):
    from safetensors.torch import save_file

    ref = _compare(run_dir=tmp_path)
    (folder,) = tmp_path.glob("remedies_*")
    row = sorted(folder.glob("cn_*.safetensors"))[0]
    data = row.read_bytes()
    for write, pattern in (
        (lambda: row.write_bytes(data[: len(data) // 2]), r"is not a readable safetensors file"),  # was: SafetensorError
        (lambda: save_file({"foo": torch.zeros(2)}, str(row), metadata={"seconds": "1.0"}), r"tensors \['foo'\]"),
        (lambda: save_file({"out": torch.zeros(2, 2, 1, 8, 8)}, str(row), metadata={"x": "1"}), r"metadata \['x'\]"),  # was: KeyError
        (lambda: save_file({"out": torch.zeros(3, 2, 1, 8, 8)}, str(row), metadata={"seconds": "1.0"}),
         r"'out' of shape \(3, 2, 1, 8, 8\) for 2 videos"),  # was: align_psnr's shape error
    ):
        write()
        with pytest.raises(ValueError, match=r"stored comparison row .*cn_.*" + pattern + r".*delete it and rerun"):
            _compare(run_dir=tmp_path)
    row.write_bytes(data)
    again = _compare(run_dir=tmp_path)
    assert torch.equal(again.videos["cn"], ref.videos["cn"])

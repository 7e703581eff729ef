"""Edge cases of the figure runner (cilnb.figures, ``python -m cilnb figures``), the ``sample`` command and the run store
(cilnb.runs, cilnb.experiments.run_dirs): options given twice, notebook names listed twice, output folders inside the
notebooks' own, TIMES.md edited by hand, notebook parameters of the wrong type, a sweep made with a remedy rerun without
it, other files in a sweep folder, corrupt stored videos and run-folder names that are paths. Each docstring says what
happened before the fix."""
from __future__ import annotations

import json
import re

import pytest
import torch

from cilnb import figures as FG
from cilnb import io, runs
from cilnb.checks import InputTypeError
from cilnb.models import toy

from test_cli_errors import cli, one_error

F, SIZE = 4, 16


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from _media import tiny_toy_files

    ckpt, stats = tiny_toy_files(tmp_path_factory.mktemp("edge_runner_inputs"), F, SIZE, n_stats=32)
    return {"ckpt": ckpt, "stats": stats}


@pytest.fixture(scope="module")
def model(files):
    return toy.load(str(files["ckpt"]), device="cpu")


def _sweep(model, out, **kw):
    images = io.load_images("toy:2", model)
    args = dict(Ms=[1.0], inits=["standard"], seeds=[0], n_steps=1, show_progress=False, motion_method=None, model_name="toy")
    return runs.run_sweep(model, images, out, **{**args, **kw})


def _notebooks(nb_dir, names=("a_one",), params='n: int = 1\nname: str = "a"\nxs: list = []\nfig_dir: str = ""\ninteractive: bool = True'):
    """Tiny notebooks that print their parameters (the runner's tests in tests/test_notebooks.py build them alike)."""
    import nbformat

    nb_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell(params)
        cell.metadata["tags"] = ["parameters"]
        nb.cells = [cell, nbformat.v4.new_code_cell("print(repr(n), repr(name), repr(xs))")]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["cilnb"] = {"figures": [], "profiles": {"smoke": {}}}
        nbformat.write(nb, nb_dir / f"{name}.ipynb")
    return nb_dir


def _sample_args(files, out, *extra):
    return ["sample", "--model", "toy", "--model-path", files["ckpt"], "--images", "toy:1", "--n-steps", "1",
            "--motion-method", "none", "--device", "cpu", "--quiet", "--out", out, *extra]


# ----------------------------------------------------------------------------------------------
# command line: a list option given twice
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("option, first, again", [("--M", "1.0", "0.5"), ("--seeds", "0", "1"), ("--init", "standard", "standard")])
def test_a_sample_list_option_given_twice_is_one_line(capsys, files, tmp_path, option, first, again):
    """Was: argparse kept the last list alone: ``--seeds 0 --seeds 1`` sampled seed 1 only (``--M 1.0 --M 0.5`` only
    M = 0.5), the first list dropped without a word."""
    extra = [] if option == "--M" else ["--M", "1.0"]
    out = tmp_path / "o"
    one_error(*cli(capsys, *_sample_args(files, out, *extra, option, first, option, again)),
              f"argument {option}", "more than once", f"{option} {first} {again}")
    assert not out.exists()


def test_figures_only_given_twice_is_one_line(capsys, tmp_path):
    """Was: ``--only explore --only m_sweep`` ran m_sweep alone (argparse kept the last list)."""
    one_error(*cli(capsys, "figures", "--profile", "smoke", "--only", "explore", "--only", "m_sweep", "--out", tmp_path / "f"),
              "argument --only", "more than once", "--only explore m_sweep")
    assert not (tmp_path / "f").exists()


def test_list_options_given_once_parse_as_before():
    from cilnb.commands import build_parser

    p = build_parser()
    a = p.parse_args(["sample", "--model", "toy", "--images", "toy:1", "--M", "1", "0.5", "--out", "x"])
    assert (a.M, a.seeds, a.init) == ([1.0, 0.5], [0], ["standard"])
    a = p.parse_args(["sample", "--model", "toy", "--images", "toy:1", "--M", "1", "--seeds", "3", "4", "--init", "analytic", "--out", "x"])
    assert (a.M, a.seeds, a.init) == ([1.0], [3, 4], ["analytic"])
    assert p.parse_args(["figures"]).only is None and p.parse_args(["figures", "--only", "a", "b"]).only == ["a", "b"]


# ----------------------------------------------------------------------------------------------
# the figure runner
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("only, match", [
    (["a_one", "a_one"], "names the notebook.*a_one more than once"),
    (["a_one", "a_one.ipynb"], "names the notebook.*a_one more than once"),
    (["a_one.txt"], r"unknown notebook\(s\) \['a_one.txt'\]"),
])
def test_runner_only_with_a_repeated_or_misspelt_name_is_refused(tmp_path, only, match):
    """Was: a name listed twice (also as ``a_one`` and ``a_one.ipynb``) ran the notebook once without a word, and
    ``a_one.txt`` ran ``a_one`` (only the stem was compared)."""
    nb_dir = _notebooks(tmp_path / "nbs")
    with pytest.raises(ValueError, match=match):
        FG.run_all(profile="smoke", only=only, notebook_dir=nb_dir, out=tmp_path / "f", executed_dir=tmp_path / "x", progress=False)
    assert not (tmp_path / "f").exists() and not (tmp_path / "x").exists()


@pytest.mark.parametrize("where", ["out", "executed_dir", "out_inside"])
def test_runner_writing_into_the_notebooks_folder_is_refused(tmp_path, where):
    """Was: ``executed_dir`` = the notebooks' folder overwrote every notebook with its executed copy (parameters injected,
    outputs stored); ``--out notebooks`` (or a folder inside it) put the figures, VERDICTS.md and TIMES.md among them."""
    nb_dir = _notebooks(tmp_path / "nbs")
    before = (nb_dir / "a_one.ipynb").read_bytes()
    kw = dict(out=tmp_path / "f", executed_dir=tmp_path / "x")
    kw.update({"out": {"out": nb_dir}, "executed_dir": {"executed_dir": nb_dir}, "out_inside": {"out": nb_dir / "figs"}}[where])
    option = "out (--out)" if where.startswith("out") else "executed_dir"
    with pytest.raises(ValueError, match=rf"{re.escape(option)} .* (is the notebooks' own folder|is inside the notebooks' folder).*choose"):
        FG.run_all(profile="smoke", notebook_dir=nb_dir, progress=False, **kw)
    assert sorted(p.name for p in nb_dir.iterdir()) == ["a_one.ipynb"] and (nb_dir / "a_one.ipynb").read_bytes() == before


def test_times_md_edited_by_hand_does_not_break_the_end_of_a_run(tmp_path):
    """Was: a kept row whose seconds were no number (``| a | n/a | ...``) raised 'could not convert string to float' at the
    end of a partial run, after its notebooks had run, and TIMES.md was not written; a time of ``nan`` put that notebook at
    an arbitrary place in the start order."""
    path = tmp_path / "TIMES.md"
    res = lambda name, s=1.0: FG.NotebookResult(name, True, s, tmp_path)
    FG.write_times(path, "smoke", [res("a"), res("b"), res("c", 3.0)], load_before="x", load_after="y")
    path.write_text(path.read_text().replace("| a | 1.0 |", "| a | n/a |").replace("| c | 3.0 |", "| c | nan |"))
    assert FG.previous_seconds(path, "smoke") == {"b": 1.0}
    with pytest.warns(UserWarning) as caught:
        FG.write_times(path, "smoke", [res("b", 2.0)], load_before="x", load_after="y", keep_others=True)
    said = [str(w.message) for w in caught]
    assert any(re.search(r"the row of a has no time in seconds \('n/a'\).*--only a", m) for m in said), said
    assert any("the row of c has no time in seconds ('nan')" in m for m in said), said
    text = path.read_text()
    assert "| a |" not in text and "| b | 2.0 |" in text and "| total |" in text
    # valid rows are kept as before
    FG.write_times(path, "smoke", [res("d", 4.0)], load_before="x", load_after="y", keep_others=True)
    assert FG.previous_seconds(path, "smoke") == {"b": 2.0, "d": 4.0}


@pytest.mark.parametrize("params, kind, match", [
    ({"m": 3}, ValueError, r"params\['m'\]: a_one.ipynb declares no parameter 'm'"),
    ({"n": "3"}, InputTypeError, r"params\['n'\] must be an int .*got '3' \(str\)"),
    ({"n": True}, InputTypeError, r"params\['n'\] must be an int"),
    ({"n": 2.5}, InputTypeError, r"params\['n'\] must be an int"),
    ({"xs": (1, 2)}, InputTypeError, r"params\['xs'\] must be a list .*pass a list, \[1, 2\]"),
    ({"xs": [1, (2, 3)]}, InputTypeError, r"params\['xs'\] must be a list of plain values"),
    ({"name": __import__("pathlib").Path("b")}, InputTypeError, r"params\['name'\] must be a str .*pass str\('b'\)"),
    ({"fig_dir": "elsewhere"}, ValueError, r"params\['fig_dir'\] is set by the runner"),
    ({"interactive": True}, ValueError, r"params\['interactive'\] is set by the runner"),
])
def test_run_notebook_params_of_unknown_name_or_wrong_type_are_refused(tmp_path, params, kind, match):
    """Was: papermill ran the notebook with them: a misspelt name was added unused, a tuple or a Path arrived as its
    string ('(1, 2)'), '3' as a str where an int belongs, and fig_dir / interactive in params were overwritten silently."""
    nb_dir = _notebooks(tmp_path / "nbs")
    with pytest.raises(kind, match=match):
        FG.run_notebook(nb_dir / "a_one.ipynb", "smoke", tmp_path / "f", tmp_path / "x", progress=False, params=params)
    assert not (tmp_path / "x").exists()


def test_run_notebook_valid_params_still_reach_the_notebook(tmp_path):
    import numpy as np

    nb_dir = _notebooks(tmp_path / "nbs")
    res = FG.run_notebook(nb_dir / "a_one.ipynb", "smoke", tmp_path / "f", tmp_path / "x", progress=False,
                          params={"n": 3, "name": "b", "xs": [1.0, np.float64(0.5), {"k": [2]}]})
    assert res.ok, res.error
    assert res.verdict == "3 'b' [1.0, 0.5, {'k': [2]}]"


# ----------------------------------------------------------------------------------------------
# the run store
# ----------------------------------------------------------------------------------------------


def test_a_store_made_with_a_remedy_is_refused_without_it(model, tmp_path):
    """Was: a sweep stored with ``--remedy freeinit`` rerun without ``--remedy`` resumed: its FreeInit videos were
    reported as plain samples (only the keys of the new settings were compared, and no remedy stores no key)."""
    from cilnb import remedies

    out = tmp_path / "rem"
    assert _sweep(model, out, remedy=remedies.from_cli("freeinit", ["iterations=2"])).computed == 2
    with pytest.raises(ValueError, match=r"other settings \{'remedy': \(\{'name': 'freeinit'.*None\)\}"):
        _sweep(model, out)
    assert _sweep(model, out, remedy=remedies.from_cli("freeinit", ["iterations=2"])).computed == 0  # same remedy: resumes
    plain = tmp_path / "plain"  # and a plain store still resumes plain
    assert _sweep(model, plain).computed == 2 and _sweep(model, plain).computed == 0


def test_other_tmp_files_in_the_sweep_folder_are_kept(model, tmp_path):
    """Was: every ``.*.tmp`` file in --out was deleted at start (taken for leftovers of the store's atomic writes), so a
    folder given as --out lost its own temporary files."""
    out = tmp_path / "o"
    out.mkdir()
    (out / ".notes.txt.tmp").write_text("mine")
    (out / ".sweep.json.abc123.tmp").write_text("{")  # a killed write of the store's own file: removed
    (out / "videos").mkdir()
    (out / "videos" / ".M1_x.safetensors.abc.tmp").write_bytes(b"x")
    _sweep(model, out)
    assert (out / ".notes.txt.tmp").read_text() == "mine"
    assert not (out / ".sweep.json.abc123.tmp").exists() and not (out / "videos" / ".M1_x.safetensors.abc.tmp").exists()


@pytest.mark.parametrize("row, what", [({"unit": "x"}, "no 'M'"), ({"unit": "x", "M": "1.0", "init": "standard", "seed": 0,
                                                                     "image_index": 0}, "M = '1.0'")])
def test_a_foreign_row_in_results_is_refused_with_its_file_and_line(model, tmp_path, row, what):
    """Was: any JSON object with a 'unit' string in results/*.jsonl became a row of the table: a foreign file's rows went
    into results.csv (NaN everywhere), one with the id of a unit counted it as done, and an M given as text broke the
    table's sort with a TypeError."""
    out = tmp_path / "o"
    _sweep(model, out)
    (out / "results" / "notes.jsonl").write_text("\n" + json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=rf"notes.jsonl line 2 is not a row of a cilnb sweep \({what}.*delete that line"):
        _sweep(model, out)
    with pytest.raises(ValueError, match="notes.jsonl line 2"):
        runs.read_rows(out)


def test_a_torn_last_row_is_still_skipped(model, tmp_path):
    out = tmp_path / "o"
    _sweep(model, out)
    with open(out / "results" / "rank0.jsonl", "a") as f:
        f.write('{"unit": "M1_standard_seed0_x", "M": 1')  # a kill mid-line
    assert len(runs.read_rows(out)) == 2 and _sweep(model, out).computed == 0


def test_load_sweep_videos_of_a_corrupt_or_foreign_file_names_it(model, tmp_path):
    """Was: a truncated stored video raised safetensors' 'SafetensorError: Error while deserializing header' and a file
    without a 'video' tensor a bare KeyError: 'video', neither naming the file."""
    from safetensors.torch import save_file

    from cilnb._util import UserError
    from cilnb.experiments.run_dirs import load_sweep_videos

    out = tmp_path / "o"
    table = _sweep(model, out).table
    assert load_sweep_videos(out, table).shape[0] == 2  # intact: as before
    first, second = out / table["file"][0], out / table["file"][1]
    save_file({"latents": torch.zeros(2)}, str(second))
    with pytest.raises(ValueError, match=rf"stored video .*{second.name} holds no 'video' tensor .*delete it"):
        load_sweep_videos(out, table)
    first.write_bytes(first.read_bytes()[:50])
    with pytest.raises(UserError, match=rf"stored video .*{first.name} is not a readable safetensors file .*delete it"):
        load_sweep_videos(out, table)


@pytest.mark.parametrize("kw, match", [
    (dict(label="../elsewhere"), "label must be a plain name"),
    (dict(label=""), "label must be a plain name"),
    (dict(kind="a/b"), "kind must be a plain name"),
    (dict(root=""), "root must be"),
])
def test_default_run_dir_with_a_path_for_a_name_is_refused(model, tmp_path, kw, match):
    """Was: the label (or kind) was pasted into the folder name, so '../elsewhere' put the run folder outside the run
    root, and root='' was the current folder."""
    args = {"kind": "samples", "label": "base", "root": tmp_path, **kw}
    with pytest.raises(ValueError, match=match):
        runs.default_run_dir(args.pop("kind"), args.pop("label"), model, **args)
    assert runs.default_run_dir("samples", "base", model, root=tmp_path).parent == tmp_path  # a plain name: as before


def test_a_profile_only_some_notebooks_have_names_them_all_and_the_way_out(tmp_path):
    """Was: 'b_two has no 'workshop' profile in metadata.cilnb.profiles' for the first such notebook only, without a fix."""
    import nbformat

    nb_dir = _notebooks(tmp_path / "nbs", names=("a_one", "b_two", "c_three"))
    nb = nbformat.read(nb_dir / "c_three.ipynb", as_version=4)
    nb.metadata["cilnb"]["profiles"]["workshop"] = {"n": 2}  # the only notebook with that profile
    nbformat.write(nb, nb_dir / "c_three.ipynb")
    with pytest.raises(ValueError, match=r"--profile workshop: a_one, b_two have no 'workshop' profile .*add one to those "
                                         r"notebooks, run the others alone \(--only c_three\), or use --profile default"):
        FG.run_all(profile="workshop", notebook_dir=nb_dir, out=tmp_path / "f", executed_dir=tmp_path / "x", progress=False)
    assert not (tmp_path / "f").exists()

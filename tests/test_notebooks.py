"""Every notebook runs headlessly with its smoke profile through papermill and writes its figures."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cilnb.figures import notebook_paths, run_notebook

NOTEBOOKS = notebook_paths()


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_smoke(path, tmp_path):
    figs, out = tmp_path / "figs", tmp_path / "executed"
    res = run_notebook(path, "smoke", figs, out, progress=False)
    assert res.ok, res.error
    from test_progress import progress_outputs  # the executed copy (show_progress=False) holds no progress bar

    assert progress_outputs(res.output) == [], f"progress bars in the executed copy: {progress_outputs(res.output)}"
    for fig in json.loads(path.read_text())["metadata"]["cilnb"]["figures"]:
        for ext in ("png", "pdf"):
            f = figs / f"{fig}.{ext}"
            assert f.is_file() and f.stat().st_size > 1000, f"{f.name} missing or empty"


def test_runner_rejects_unknown_profile_and_notebook():
    from cilnb.figures import notebook_parameters, run_all

    with pytest.raises(ValueError, match="unknown profile"):
        notebook_parameters(NOTEBOOKS[0], "huge")
    with pytest.raises(ValueError, match="unknown notebook"):
        run_all(profile="smoke", only=["no_such_notebook"])


def test_runner_keeps_going_and_reports_failure(tmp_path):
    """A failing notebook does not stop the others; the CLI exits nonzero."""
    import nbformat

    from cilnb.figures import run_all

    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    for name, body in [("a_bad", "raise RuntimeError('boom')"), ("b_good", "print('claim holds')")]:
        nb = nbformat.v4.new_notebook()
        params = nbformat.v4.new_code_cell("fig_dir = ''\ninteractive = True")
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params, nbformat.v4.new_code_cell(body)]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["cilnb"] = {"figures": [], "profiles": {"smoke": {}}}
        nbformat.write(nb, nb_dir / f"{name}.ipynb")
    results = run_all(profile="smoke", notebook_dir=nb_dir, out=tmp_path / "f", executed_dir=tmp_path / "x", progress=False)
    assert [r.ok for r in results] == [False, True]
    assert "boom" in results[0].error
    verdicts = (tmp_path / "f" / "VERDICTS.md").read_text()
    assert "## a_bad" in verdicts and "FAILED" in verdicts and "claim holds" in verdicts
    assert results[1].verdict == "claim holds"


def test_declared_parameters_reads_the_parameters_cell():
    from cilnb.figures import declared_parameters

    for path in NOTEBOOKS:
        names = declared_parameters(path)
        assert {"fig_dir", "interactive", "show_progress", "device"} <= names, path.stem


def test_verdicts_of_a_partial_run_keep_the_other_notebooks(tmp_path):
    from cilnb.figures import NotebookResult, write_verdicts

    path = tmp_path / "VERDICTS.md"
    res = lambda name, text, ok=True: NotebookResult(name, ok, 1.0, tmp_path, verdict=text)
    write_verdicts(path, "default", [res("a", "claim A"), res("b", "claim B")])
    write_verdicts(path, "default", [res("b", "claim B2"), res("c", "", ok=False)], keep_others=True)
    text = path.read_text()
    assert text.index("## a") < text.index("## b") < text.index("## c")
    assert "claim A" in text and "claim B2" in text and "claim B\n" not in text and "FAILED" in text
    assert text.count("\n\n```\n") == 3  # every section laid out alike, kept or new
    write_verdicts(path, "smoke", [res("b", "tiny")], keep_others=True)  # another profile starts afresh
    assert "claim A" not in path.read_text()
    write_verdicts(path, "default", [res("b", "x")])  # a full run writes only what it ran
    assert "## a" not in path.read_text()


def _code_cells(path):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_thin_and_ends_with_a_verdict(path):
    """Valid nbformat v4 (outputs and the parameters cell: tests/test_project.py); no drawing or widget code of its
    own; the last cell prints one :class:`cilnb.experiments.Verdict` computed by cilnb."""
    import re

    import nbformat

    from cilnb.experiments import verdicts

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    cells = _code_cells(path)
    src = "\n".join("".join(c["source"]) for c in cells)
    assert not re.search(r"^\s*(import|from)\s+(matplotlib|seaborn|ipywidgets)\b", src, re.M), "draw with C.plotting"
    last = "".join(cells[-1]["source"]).strip()
    m = re.fullmatch(r"print\((?:C\.experiments\.|E\.)verdicts\.(\w+)\(.*\)\)", last, re.S)
    assert m and m.group(1) in verdicts.__all__, f"last cell must print a verdict of cilnb.experiments.verdicts, got {last!r}"

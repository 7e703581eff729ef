"""Every notebook runs headlessly with its smoke profile through papermill and writes its figures."""
from __future__ import annotations

import json
import os
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


def test_runner_keeps_going_and_reports_failure(tmp_path, capfd):
    """A failing notebook, or one whose kernel dies, does not stop the others; each failure is in the summary. The
    kernels' own log lines (ipykernel's warnings at start, its KeyboardInterrupt note at shutdown) are not printed."""
    import nbformat

    from cilnb.figures import run_all

    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    for name, body in [("a_bad", "raise RuntimeError('boom')"), ("b_good", "print('claim holds')"),
                       ("c_dies", "import os\nos._exit(3)")]:
        nb = nbformat.v4.new_notebook()
        params = nbformat.v4.new_code_cell("fig_dir = ''\ninteractive = True")
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params, nbformat.v4.new_code_cell(body)]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["cilnb"] = {"figures": [], "profiles": {"smoke": {}}}
        nbformat.write(nb, nb_dir / f"{name}.ipynb")
    results = run_all(profile="smoke", notebook_dir=nb_dir, out=tmp_path / "f", executed_dir=tmp_path / "x", progress=False)
    assert [r.ok for r in results] == [False, True, False]
    assert "boom" in results[0].error
    assert "died" in results[2].error.lower() or "dead" in results[2].error.lower(), results[2].error
    verdicts = (tmp_path / "f" / "VERDICTS.md").read_text()
    assert "## a_bad" in verdicts and "FAILED" in verdicts and "claim holds" in verdicts and "## c_dies" in verdicts
    assert results[1].verdict == "claim holds"
    printed = capfd.readouterr()
    assert "[IPKernelApp]" not in printed.out + printed.err
    assert "--- c_dies failed ---" in printed.err


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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_profile_names_declared_parameters(path):
    """Each notebook stores a ``smoke`` and a ``workshop`` profile; every parameter a profile sets is declared in
    its parameters cell (papermill would otherwise inject a name the notebook never reads)."""
    from cilnb.figures import PROFILES, declared_parameters, notebook_parameters

    declared = declared_parameters(path)
    for profile in PROFILES:
        params = notebook_parameters(path, profile)  # raises when the profile is missing
        assert set(params) <= declared, f"{profile} sets undeclared parameters {sorted(set(params) - declared)}"
    assert notebook_parameters(path, "default") == {}


def _tiny_notebooks(nb_dir, names, profile_params=None):
    import nbformat

    nb_dir.mkdir(exist_ok=True)
    for name in names:
        nb = nbformat.v4.new_notebook()
        params = nbformat.v4.new_code_cell("fig_dir = ''\ninteractive = True\nn = 1")
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params, nbformat.v4.new_code_cell("print(f'n is {n}')")]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["cilnb"] = {"figures": [], "profiles": {"smoke": {}, "workshop": dict(profile_params or {"n": 2})}}
        nbformat.write(nb, nb_dir / f"{name}.ipynb")


def test_runner_prints_and_records_each_notebooks_time(tmp_path, capsys):
    """The end-of-run summary prints every notebook's time and the total; TIMES.md records them with the load,
    apart from VERDICTS.md (which holds no time, so it stays deterministic); a partial run keeps the other rows."""
    from cilnb.figures import run_all

    nb_dir = tmp_path / "nbs"
    _tiny_notebooks(nb_dir, ["a_one", "b_two"])
    kw = dict(notebook_dir=nb_dir, out=tmp_path / "f", executed_dir=tmp_path / "x", progress=False)
    results = run_all(profile="workshop", **kw)
    assert all(r.ok for r in results) and [r.verdict for r in results] == ["n is 2", "n is 2"]  # the workshop profile's n
    out = capsys.readouterr().out
    summary = out[out.index("Summary (workshop profile, 1 at a time; load"):]
    for r in results:
        assert f"{r.name:<28} {r.seconds:7.1f}s" in summary
    assert "total" in summary
    times = (tmp_path / "f" / "TIMES.md").read_text()
    assert times.startswith("# Notebook times (workshop profile)")
    assert "| a_one |" in times and "| b_two |" in times and "load" in times and "| total |" in times
    verdicts = (tmp_path / "f" / "VERDICTS.md").read_text()
    assert "load" not in verdicts and not any(f"{r.seconds:.1f}" in verdicts for r in results)
    run_all(profile="workshop", only=["b_two"], **kw)
    again = (tmp_path / "f" / "TIMES.md").read_text()
    assert again.count("| a_one |") == 1 and again.count("| b_two |") == 1
    assert next(l for l in again.splitlines() if l.startswith("| a_one |")) == next(l for l in times.splitlines() if l.startswith("| a_one |"))


def test_runner_dtype_reaches_the_notebooks_that_declare_it(tmp_path, capsys):
    """--dtype bfloat16: passed as ``dtype`` to the notebooks with that parameter (not to the others), named in the
    titles of VERDICTS.md and TIMES.md and in the summary; an unknown precision is refused before anything runs."""
    import nbformat

    from cilnb.figures import run_all

    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    for name, src in (("a_toy", 'dtype = "auto"\nfig_dir = ""\ninteractive = True'), ("b_math", 'fig_dir = ""\ninteractive = True')):
        nb = nbformat.v4.new_notebook()
        params = nbformat.v4.new_code_cell(src)
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params, nbformat.v4.new_code_cell("print(globals().get('dtype', 'no dtype'))")]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["cilnb"] = {"figures": [], "profiles": {"smoke": {}}}
        nbformat.write(nb, nb_dir / f"{name}.ipynb")
    kw = dict(notebook_dir=nb_dir, out=tmp_path / "f", executed_dir=tmp_path / "x", progress=False, profile="smoke")
    assert [r.verdict for r in run_all(**kw)] == ["auto", "no dtype"]
    assert (tmp_path / "f" / "VERDICTS.md").read_text().startswith("# Verdicts (smoke profile)\n")
    results = run_all(dtype="bfloat16", **kw)
    assert [r.verdict for r in results] == ["bfloat16", "no dtype"]
    assert (tmp_path / "f" / "VERDICTS.md").read_text().startswith("# Verdicts (smoke profile, toy in bfloat16)\n")
    assert (tmp_path / "f" / "TIMES.md").read_text().startswith("# Notebook times (smoke profile, toy in bfloat16)\n")
    assert "Summary (smoke profile, toy in bfloat16, 1 at a time" in capsys.readouterr().out
    with pytest.raises(ValueError, match="dtype must be one of"):
        run_all(dtype="float16", **kw)


def test_start_order_falls_back_to_the_seconds_shipped_with_the_notebook(tmp_path):
    """A fresh clone has no TIMES.md: the longest notebook still starts first, by metadata.cilnb.seconds;
    the previous run's TIMES.md of the same profile counts where it is longer (a notebook re-run alone from its
    stored samples took seconds: it must not start last next time); a notebook with neither starts first."""
    import nbformat

    from cilnb import figures

    shipped = {"long": {"smoke": 50, "default": 900}, "mid": {"smoke": 20}, "short": {"smoke": 5, "default": 10}, "new": {}}
    paths = []
    for name, secs in shipped.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata["cilnb"] = {"figures": [], "profiles": {"smoke": {}}, "seconds": secs}
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
        paths.append(tmp_path / f"{name}.ipynb")
    times = tmp_path / "TIMES.md"
    order = figures.start_order(paths, "smoke", times)  # no TIMES.md
    assert [p.stem for p in order] == ["new", "long", "mid", "short"]
    times.write_text("# Notebook times (smoke profile)\n\n| notebook | seconds | status | when, load |\n"
                     "|---|---|---|---|\n| short | 99.0 | ok | x |\n")
    assert [p.stem for p in figures.start_order(paths, "smoke", times)] == ["new", "short", "long", "mid"]
    assert [p.stem for p in figures.start_order(paths, "default", times)] == ["mid", "new", "long", "short"]
    times.write_text("# Notebook times (smoke profile)\n\n| notebook | seconds | status | when, load |\n"
                     "|---|---|---|---|\n| long | 3.0 | ok | x |\n| mid | 30.0 | ok | x |\n")
    assert [p.stem for p in figures.start_order(paths, "smoke", times)] == ["new", "long", "mid", "short"]


def test_every_notebook_ships_its_measured_seconds_per_profile():
    """metadata.cilnb.seconds orders a fresh clone's --jobs run; one per profile, positive numbers."""
    from cilnb import figures

    for path in figures.notebook_paths():
        secs = json.loads(path.read_text())["metadata"]["cilnb"].get("seconds", {})
        assert set(secs) == set(figures.PROFILES), f"{path.name}: metadata.cilnb.seconds needs {figures.PROFILES}"
        assert all(isinstance(v, (int, float)) and v > 0 for v in secs.values()), path.name


def test_every_notebook_that_loads_a_model_passes_its_dtype():
    """`figures --dtype` reaches every notebook that loads a model: each declares `dtype` and gives it to the loader."""
    from cilnb import figures

    loaders = ("models.load(", "load_models(", "load_variants(", "Lab.toy(")
    for path in figures.notebook_paths():
        cells = json.loads(path.read_text())["cells"]
        calls = [line for c in cells if c["cell_type"] == "code" for line in "".join(c["source"]).splitlines()
                 if any(k in line for k in loaders) and ".schedule" not in line]  # analytic_init reads a schedule only
        if calls:
            assert "dtype" in figures.declared_parameters(path), f"{path.name} loads a model but has no dtype parameter"
            assert all("dtype=dtype" in line for line in calls), (path.name, calls)


def test_runner_runs_notebooks_at_once_with_their_threads(tmp_path, capfd, monkeypatch):
    """--jobs 2: both notebooks run (each kernel with cpu_count // 2 math threads and glibc's malloc keeping freed
    memory), reported in notebook
    order, the longest of the previous TIMES.md started first; the wall clock is recorded; jobs < 1 is refused."""
    import nbformat

    from cilnb import figures

    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    for name in ("a_short", "b_long", "c_new"):
        nb = nbformat.v4.new_notebook()
        params = nbformat.v4.new_code_cell("fig_dir = ''\ninteractive = True")
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params, nbformat.v4.new_code_cell("import os\nprint(os.environ.get('OMP_NUM_THREADS'), os.environ.get('MALLOC_MMAP_MAX_'))")]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["cilnb"] = {"figures": [], "profiles": {"smoke": {}}}
        nbformat.write(nb, nb_dir / f"{name}.ipynb")
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "TIMES.md").write_text("# Notebook times (smoke profile)\n\n| notebook | seconds | status | when, load |\n"
                                             "|---|---|---|---|\n| a_short | 1.0 | ok | x |\n| b_long | 9.0 | ok | x |\n")
    assert figures.previous_seconds(tmp_path / "f" / "TIMES.md", "smoke") == {"a_short": 1.0, "b_long": 9.0}
    assert figures.previous_seconds(tmp_path / "f" / "TIMES.md", "default") == {}
    monkeypatch.setattr(figures.os, "cpu_count", lambda: 4)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    cwd = os.getcwd()
    results = figures.run_all(profile="smoke", notebook_dir=nb_dir, out=tmp_path / "f", executed_dir=tmp_path / "x",
                              progress=False, jobs=2)
    assert [r.name for r in results] == ["a_short", "b_long", "c_new"] and all(r.ok for r in results)
    assert [r.verdict for r in results] == ["2 0", "2 0", "2 0"]  # 4 CPUs / 2 jobs, in every kernel; freed memory kept
    out = capfd.readouterr().out  # the workers print to the process's stdout
    started = [line.split()[2].split(".")[0] for line in out.splitlines() if line.endswith("(smoke) ...")]
    assert sorted(started) == ["a_short", "b_long", "c_new"] and started[-1] == "a_short"  # the shortest last
    assert os.environ["OMP_NUM_THREADS"] == "7" and os.getcwd() == cwd  # restored; papermill's chdir stayed in the workers
    assert "2 at a time" in out
    assert "notebook(s) at a time" in (tmp_path / "f" / "TIMES.md").read_text()
    for bad in (0, "two", 1.5, True):
        with pytest.raises(ValueError, match="'auto' or a positive int"):
            figures.run_all(profile="smoke", notebook_dir=nb_dir, jobs=bad)


def test_every_parameter_line_parses_for_papermill():
    """papermill reads each parameters-cell line to inject overrides; a line it cannot parse (e.g. an '='
    inside the comment) is silently left out of `papermill --help-notebook` and of declared_parameters."""
    from papermill.translators import PythonTranslator

    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
        src = "".join(cell["source"])
        lines = [line for line in src.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        assert len(PythonTranslator.inspect({"source": src})) == len(lines), path.stem

"""Progress bars: shown for slow set-up when asked (interactive use), never stored in executed copies."""
from __future__ import annotations

import json
import re

import pytest

from cilnb._util import progress_steps
from cilnb.figures import notebook_paths, run_notebook

# what a tqdm bar leaves in a notebook: its text ("3/3 [00:01<00:00, 2.1it/s]") or its widget
_BAR_TEXT = re.compile(r"\d+%\|.*\|\s*\d+/\d+|(it|step|row)/s\]|s/(it|step|row)\]")
_WIDGET = "application/vnd.jupyter.widget-view+json"


def progress_outputs(path) -> list[str]:
    """Every output of an executed notebook that is (or holds) a progress bar, as 'cell k: ...'."""
    found = []
    for k, cell in enumerate(json.loads(path.read_text())["cells"]):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if _WIDGET in data:
                found.append(f"cell {k}: widget {data.get('text/plain', '')!r}"[:200])
            text = "".join(out.get("text", "")) + "".join(data.get("text/plain", ""))
            if _BAR_TEXT.search(text):
                found.append(f"cell {k}: {text[:160]!r}")
    return found


def test_progress_steps_names_each_step_and_completes(capsys):
    with progress_steps(["load", "draw"], desc="setup", disable=False) as step:
        step("load")
        step("draw")
    err = capsys.readouterr().err
    assert "setup" in err and "2/2" in err and "draw" in err and "done" in err
    with progress_steps(["load"], disable=True) as step:
        step("load")
    assert capsys.readouterr().err == ""


def test_kl_table_progress_changes_no_number(capsys):
    import numpy as np

    from cilnb import analytic_init as A
    from cilnb.schedules import VPSchedule

    data = A.synthetic_data("mixture", 4, 0)
    quiet = A.kl_table(VPSchedule(), data, [0.3, 1.0], n_mc=256, seed=1, numeric=False)
    assert capsys.readouterr().err == ""
    shown = A.kl_table(VPSchedule(), data, [0.3, 1.0], n_mc=256, seed=1, numeric=False, show_progress=True)
    assert "KL table" in capsys.readouterr().err
    np.testing.assert_array_equal(quiet.select_dtypes("number").to_numpy(), shown.select_dtypes("number").to_numpy())


@pytest.mark.slow
def test_executed_copies_hold_no_progress_bar_but_interactive_runs_show_one(tmp_path):
    """The figure runner's copy (show_progress=False) has no bar; the same notebook run with
    show_progress=True has the set-up bar (so the scan above can see one)."""
    path = next(p for p in notebook_paths() if p.stem == "explore")
    res = run_notebook(path, "smoke", tmp_path / "figs", tmp_path / "quiet", progress=False)
    assert res.ok, res.error
    assert progress_outputs(res.output) == [], f"progress bars in the executed copy: {progress_outputs(res.output)}"
    res = run_notebook(path, "smoke", tmp_path / "figs", tmp_path / "shown", progress=False, params={"show_progress": True})
    assert res.ok, res.error
    assert progress_outputs(res.output), "show_progress=True showed no set-up bar (Lab.toy)"


@pytest.mark.slow
def test_figure_runner_copy_of_analytic_init_has_no_bar(tmp_path):
    path = next(p for p in notebook_paths() if p.stem == "analytic_init")
    res = run_notebook(path, "smoke", tmp_path / "figs", tmp_path / "quiet", progress=False)
    assert res.ok, res.error
    assert progress_outputs(res.output) == [], f"progress bars in the executed copy: {progress_outputs(res.output)}"


def test_sweep_inputs_progress_shows_the_reference_steps(capsys):
    from cilnb.experiments import sweep_inputs

    images, quiet = sweep_inputs("toy", n_images=2, seed=0, n_reference=8)
    assert capsys.readouterr().err == ""
    images2, shown = sweep_inputs("toy", n_images=2, seed=0, n_reference=8, show_progress=True)
    err = capsys.readouterr().err
    assert "8 reference videos" in err and "4/4" in err
    assert shown.reference_columns == quiet.reference_columns and (images2.images == images.images).all()
    sweep_inputs("toy", n_images=2, seed=0, n_reference=0, show_progress=True)  # nothing to set up: no bar
    assert capsys.readouterr().err == ""

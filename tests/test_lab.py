"""`make lab` opens working copies, never the tracked notebooks, and starts as root with a notice."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.skipif(not (ROOT / ".venv" / ".cilnb-installed").exists(), reason="make lab would first install .venv here (make test makes it)")
def test_make_lab_opens_working_copies(tmp_path):
    lab = tmp_path / "lab"
    tracked = {p.name: p.read_bytes() for p in (ROOT / "notebooks").glob("*.ipynb")}
    # JUPYTER=echo prints the command line instead of starting a server
    run = lambda: subprocess.run(["make", "-s", "lab", f"LAB_DIR={lab}", "JUPYTER=echo"], cwd=ROOT,
                                 capture_output=True, text=True, check=True).stdout
    out = run()
    assert sorted(p.name for p in lab.glob("*.ipynb")) == sorted(tracked)
    assert f"--notebook-dir={lab}" in out and "notebooks/" not in out.split("lab --notebook-dir")[-1]
    assert ("--allow-root" in out) == (os.geteuid() == 0)
    # a user's edits in the working copy survive the next `make lab`
    edited = lab / sorted(tracked)[0]
    edited.write_text(edited.read_text() + " ")
    run()
    assert edited.read_text().endswith(" ")
    assert {p.name: p.read_bytes() for p in (ROOT / "notebooks").glob("*.ipynb")} == tracked

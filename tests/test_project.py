"""Project hygiene: environment.yml matches pyproject, notebooks are stored clean and well formed."""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _name(req: str) -> str:
    return re.split(r"[\s<>=!~\[;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_names() -> set[str]:
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in proj["dependencies"]}
    for reqs in proj.get("optional-dependencies", {}).values():
        names |= {_name(r) for r in reqs}
    return names


def _environment_names() -> set[str]:
    yaml = pytest.importorskip("yaml")
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for dep in env["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        for item in items:
            if item.startswith("-"):  # pip options such as "-e ." (the project itself)
                continue
            names.add(_name(item.split("=")[0] if not isinstance(dep, dict) else item))
    return names - {"python", "pip"}


def test_environment_yml_names_same_packages_as_pyproject():
    assert _environment_names() == _pyproject_names()


def test_notebooks_exist():
    assert NOTEBOOKS, "notebooks/ holds no notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_stored_clean_and_well_formed(path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "stored with outputs"
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).lstrip().startswith("#"), "first cell: title"
    first_code = code[0]
    assert "parameters" in first_code.get("metadata", {}).get("tags", []), "first code cell must be tagged 'parameters'"
    src = "".join(first_code["source"])
    for name in ("seed", "fig_dir", "interactive", "show_progress"):
        assert re.search(rf"^{name}\s*:", src, re.M), f"parameters cell lacks the standard parameter {name!r}"
    meta = nb["metadata"].get("cilnb", {})
    assert meta.get("figures"), "metadata.cilnb.figures must list the figure stems the notebook writes"
    assert "smoke" in meta.get("profiles", {}), "metadata.cilnb.profiles.smoke is missing"
    body = "".join("".join(c["source"]) for c in code)
    assert "C._" not in body, "notebooks call cilnb's public API only (C._util is private and not loaded lazily)"
    for fig in meta["figures"]:
        assert f'"{fig}"' in body or f"'{fig}'" in body, f"figure {fig!r} is declared but never saved"


def test_readme_indexes_every_figure():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        for fig in json.loads(path.read_text())["metadata"]["cilnb"]["figures"]:
            assert fig in readme, f"README's figure index lacks {fig} ({path.name})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_documents_every_parameter(path):
    """`papermill --help-notebook` must parse every line of the parameters cell (a '=' in a comment breaks it)."""
    import papermill as pm

    nb = json.loads(path.read_text())
    src = "".join(next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))["source"])
    names = [l.split(":")[0].split("=")[0].strip() for l in src.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    inferred = pm.inspect_notebook(str(path))
    assert sorted(inferred) == sorted(names)
    assert all(p["help"] for p in inferred.values()), "every parameter needs a comment"


def _private_uses(tree, module: str) -> list[str]:
    """``from cilnb.x import _name`` and ``x._name`` (``x`` a cilnb module imported here) in one module's syntax tree."""
    import ast

    package = module.rsplit(".", 1)[0]  # cilnb.plotting for cilnb.plotting.experiments and cilnb.plotting.__init__

    def absolute(level: int, name: str | None) -> str:
        base = package.split(".")
        base = base[:len(base) - (level - 1)] if level else []
        return ".".join(base + ([name] if name else [])) if level else (name or "")

    found, cilnb_names = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            src = absolute(node.level, node.module)
            if not src.startswith("cilnb"):
                continue
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    found.append(f"from {src} import {a.name}")
                cilnb_names.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            cilnb_names |= {a.asname for a in node.names if a.name.startswith("cilnb") and a.asname}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in cilnb_names
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_no_private_name_crosses_modules():
    """A name another module imports is public (STYLE.md: ``sweep._safe``, ``stats_cli._rgb`` were the examples to avoid);
    ``cilnb._util`` is a private module whose names are shared on purpose (``from ._util import ...``)."""
    import ast

    bad = {}
    for path in sorted((ROOT / "cilnb").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        uses = [u for u in _private_uses(ast.parse(path.read_text()), module) if "._util" not in u and " _util" not in u]
        if uses:
            bad[module] = uses
    assert not bad, f"private names used across modules (make them public where they belong): {bad}"


def test_private_name_check_finds_them():
    import ast

    src = "from ..verdicts import _table, ok\nfrom . import checks\nchecks._is_int(1)\nfrom ._util import x\nimport os\nos._exit\n"
    uses = _private_uses(ast.parse(src), "cilnb.plotting.experiments")
    assert uses == ["from cilnb.verdicts import _table", "checks._is_int"]

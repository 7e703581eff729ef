"""Every "Shown in notebooks/X.ipynb" line in cilnb's docstrings is true: notebook X really calls it.

A function's or class's line needs X's code cells to call or reference it by name (``name(`` or
``.name``); a module's line needs X to use the module (``C.<module>``) or call one of its public
names. "Shown in every notebook" needs it in every notebook.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cilnb"
NOTEBOOKS = {p.stem: p for p in sorted((ROOT / "notebooks").glob("*.ipynb"))}
SHOWN = re.compile(r"shown in (.+?)(?:\.\s|\.$|;|$)", re.IGNORECASE)


def _code(path: Path) -> str:
    """The code cells of a notebook, comments dropped (a name in a comment is not a call)."""
    cells = json.loads(path.read_text())["cells"]
    src = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return "\n".join(line.split("  #", 1)[0] for line in src.splitlines() if not line.lstrip().startswith("#"))


CODE = {name: _code(p) for name, p in NOTEBOOKS.items()}


def _uses(code: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}\s*\(|\.{re.escape(name)}\b", code) is not None


def claims(text: str) -> list[str] | None:
    """The notebooks one docstring says it is shown in (``None``: no such line; "Shown in docs/x.md" is not about notebooks)."""
    flat = " ".join(text.split())
    found = [s for s in SHOWN.findall(flat) if ".ipynb" in s or "every notebook" in s.lower()]
    if not found:
        return None
    names = []
    for sentence in found:
        if "every notebook" in sentence.lower():
            names += list(NOTEBOOKS)
        names += re.findall(r"([A-Za-z0-9_]+)\.ipynb", sentence)
    return names


def _public(tree: ast.Module) -> set[str]:
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            names |= set(ast.literal_eval(node.value))
    return names


def collect() -> list[tuple[str, str, str, list[str] | None]]:
    """``(where, kind, name, notebooks)`` for every docstring with a "Shown in" line."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text())
        module = path.parent.name if path.name == "__init__.py" else path.stem
        doc = ast.get_docstring(tree)
        if doc and (nbs := claims(doc)) is not None:
            out.append((rel, "module", module, nbs, _public(tree)))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                doc = ast.get_docstring(node)
                if doc and (nbs := claims(doc)) is not None:
                    out.append((f"{rel}:{node.lineno}", "def", node.name, nbs, set()))
    return out


CLAIMS = collect()


def test_the_checker_finds_the_claims_and_refuses_false_ones():
    assert len(CLAIMS) > 30
    assert claims("Foo. Shown in notebooks/m_sweep.ipynb and notebooks/timenoise.ipynb.") == ["m_sweep", "timenoise"]
    assert claims("Shown in every notebook.") == list(NOTEBOOKS)
    assert claims("no claim here") is None and claims("Shown in ``docs/at_scale.md``.") is None
    assert _uses("x = C.experiments.run_probe(models)", "run_probe") and not _uses("run_probe_x()", "run_probe")
    assert not _uses("C.experiments.sample_grid(", "sample")


@pytest.mark.parametrize("where,kind,name,notebooks,public", CLAIMS, ids=[c[0] for c in CLAIMS])
def test_shown_in_line_is_true(where, kind, name, notebooks, public):
    assert notebooks, f"{where}: a 'Shown in' line that names no notebook"
    unknown = sorted(set(notebooks) - set(NOTEBOOKS))
    assert not unknown, f"{where}: names notebooks that do not exist: {unknown}"
    false = []
    for nb in dict.fromkeys(notebooks):
        code = CODE[nb]
        ok = _uses(code, name) if kind == "def" else (
            re.search(rf"\b(C|cilnb)\.{re.escape(name)}\b|from cilnb(\.\w+)* import .*\b{re.escape(name)}\b", code) is not None
            or any(_uses(code, n) for n in public))
        if not ok:
            false.append(nb)
    assert not false, f"{where}: {name} is not called in {false}"

"""The README's library table names every module of cilnb, one row each (issue 10)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _table() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The library"):]
    section = section[:section.index("\n## ", 1)]
    return [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| module")]


def test_every_module_has_one_row():
    rows = _table()
    firsts = [r.split("|")[1] for r in rows]
    named = set()
    for cell in firsts:
        named |= set(re.findall(r"`(?:C|cilnb)\.(\w+)`", cell))
    aliases = next(r for r in rows if r.startswith("| deprecated aliases"))
    named |= set(re.findall(r"`(?:C|cilnb)\.(\w+)`", aliases))
    modules = {p.stem for p in (ROOT / "cilnb").glob("*.py") if p.stem not in ("__init__", "__main__")}
    modules |= {p.parent.name for p in (ROOT / "cilnb").glob("*/__init__.py")}
    assert not sorted(modules - named), "add a row (or an alias entry) to the README's library table"
    assert len(firsts) == len(set(firsts)), "one row per module"
    for row in rows:
        assert row.count("|") == 3, f"a '|' inside a cell breaks the table: {row[:60]}"

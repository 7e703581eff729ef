"""One style and one ``savefig`` with stable names, shared by every notebook."""
from __future__ import annotations

import os
import re
from pathlib import Path

import matplotlib

__all__ = ["use_style", "savefig", "figure_dir"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def use_style() -> None:
    """Seaborn's paper style with readable defaults (every notebook's setup cell calls it).

    Shown in every notebook."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight"})


def figure_dir(fig_dir: str | os.PathLike | None = None) -> Path:
    """``fig_dir``, else ``$CILNB_FIG_DIR``, else ``<repo>/figures``; created if missing."""
    from .._util import repo_root

    if fig_dir is None or str(fig_dir) == "":
        fig_dir = os.environ.get("CILNB_FIG_DIR") or (repo_root() / "figures")
    path = Path(fig_dir).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def savefig(fig, name: str, fig_dir: str | os.PathLike | None = None, formats=("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``<fig_dir>/<name>.<fmt>`` for each format and return the paths.

    Refuses a figure whose axes show no data and names that are not plain file stems, so a broken
    notebook fails loudly instead of writing an empty or misnamed figure.
    """
    if not isinstance(name, str) or not _NAME.match(name) or name.endswith((".png", ".pdf")):
        raise ValueError(f"figure name must be a plain stem like 'timenoise_density', got {name!r}")
    if not fig.axes:
        raise ValueError(f"figure {name!r} has no axes: nothing was plotted")
    out = figure_dir(fig_dir)
    paths = []
    for fmt in formats:
        path = out / f"{name}.{fmt}"
        fig.savefig(path, format=fmt)
        paths.append(path)
    return paths

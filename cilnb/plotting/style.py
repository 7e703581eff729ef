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
    from .._util import check_output_path, repo_root
    from ..checks import InputTypeError

    if fig_dir is not None and not isinstance(fig_dir, (str, os.PathLike)):
        raise InputTypeError(f"fig_dir must be a folder path (str or pathlib.Path) or None, got {fig_dir!r} ({type(fig_dir).__name__})")
    if fig_dir is None or str(fig_dir) == "":
        fig_dir = os.environ.get("CILNB_FIG_DIR") or (repo_root() / "figures")
    path = Path(fig_dir).expanduser().resolve()
    if not path.is_dir():
        check_output_path(path, option="fig_dir", folder=True)  # a file in the way: say so, not errno text
    path.mkdir(parents=True, exist_ok=True)
    return path


def savefig(fig, name: str, fig_dir: str | os.PathLike | None = None, formats=("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``<fig_dir>/<name>.<fmt>`` for each format and return the paths.

    Refuses a figure whose axes show no data and names that are not plain file stems, so a broken
    notebook fails loudly instead of writing an empty or misnamed figure.
    """
    from matplotlib.backend_bases import FigureCanvasBase
    from matplotlib.figure import Figure

    from ..checks import InputTypeError

    if not isinstance(name, str) or not _NAME.match(name) or name.endswith((".png", ".pdf")):
        raise ValueError(f"figure name must be a plain stem like 'timenoise_density', got {name!r}")
    stem, _, ext = name.rpartition(".")
    if stem and ext.lower() in FigureCanvasBase.get_supported_filetypes():  # "fig.jpg" would be written as fig.jpg.png
        raise ValueError(f"figure name must be a plain stem like 'timenoise_density', got {name!r}: pass {stem!r} and "
                         f"formats=({ext.lower()!r},) for a .{ext.lower()} file")
    if not isinstance(fig, Figure):
        hint = ": pass ax.figure" if hasattr(fig, "figure") and isinstance(getattr(fig, "figure"), Figure) else ""
        raise InputTypeError(f"fig must be a matplotlib Figure (what the plot_* functions return), got {type(fig).__name__}{hint}")
    if not fig.axes:
        raise ValueError(f"figure {name!r} has no axes: nothing was plotted")
    if not any(ax.has_data() for ax in fig.axes):
        raise ValueError(f"figure {name!r} shows no data (its axes are empty): check the table or videos it was drawn from")
    if isinstance(formats, str) or not isinstance(formats, (list, tuple)):
        raise InputTypeError(f"formats must be a list of file formats such as ('png', 'pdf'), got {formats!r}"
                             + (f": pass ({formats!r},)" if isinstance(formats, str) else ""))
    supported = FigureCanvasBase.get_supported_filetypes()  # what Figure.savefig writes, whatever the backend
    bad = [f for f in formats if not isinstance(f, str) or f not in supported]
    if bad or not formats:
        raise ValueError(f"formats must name one or more of {sorted(supported)} (no dot), got {list(formats)!r}")
    out = figure_dir(fig_dir)
    paths = []
    for fmt in formats:
        path = out / f"{name}.{fmt}"
        fig.savefig(path, format=fmt)
        paths.append(path)
    return paths

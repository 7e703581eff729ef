"""``python -m cilnb figures``: run every notebook headlessly (:func:`cilnb.figures.run_all`)."""
from __future__ import annotations

import argparse

from .common import OnceList, path_arg, positive_int


def jobs_arg(text: str) -> int | str:
    """argparse type: ``auto`` or a positive integer."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a positive integer, got {text!r}") from None


def notebook_name(text: str) -> str:
    """argparse type: a notebook stem such as ``explore`` (an empty one, e.g. an unset shell variable, is refused)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a notebook name such as explore, got {text!r} (an unset shell variable?)")
    return text


def run(args: argparse.Namespace) -> int:
    from ..figures import auto_jobs, run_all

    jobs = auto_jobs() if args.jobs == "auto" else args.jobs
    results = run_all(profile=args.profile, only=args.only, out=args.out, progress=not args.quiet, jobs=jobs, dtype=args.dtype)
    return 0 if all(r.ok for r in results) else 1


def add_parser(sub) -> None:
    """Register ``python -m cilnb figures``."""
    fig = sub.add_parser("figures", help="run every notebook headlessly and regenerate its figures")
    fig.add_argument("--profile", default="default", choices=["default", "workshop", "smoke"])
    fig.add_argument("--only", nargs="+", metavar="NAME", type=notebook_name, action=OnceList, help="notebook stems to run (default: all)")
    fig.add_argument("--out", type=path_arg, default=None, help="figure folder (default: <repo>/figures)")
    fig.add_argument("--quiet", action="store_true", help="no per-cell progress bars")
    fig.add_argument("--jobs", type=jobs_arg, default="auto",
                     help="notebooks run at once, each kernel with CPUs // JOBS math threads "
                          "(default auto: 2 on a machine with 2 or more CPUs, else 1)")
    fig.add_argument("--dtype", default=None, choices=["auto", "float32", "bfloat16"],
                     help="the toy's precision in every notebook (default: the notebooks' own, auto = float32, the "
                          "reference); bfloat16 is 1.6x faster on CPUs with bf16 units but its rounding noise widens close "
                          "paired comparisons (benchmarks/README.md)")
    fig.set_defaults(func=run)

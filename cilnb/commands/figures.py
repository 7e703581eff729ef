"""``python -m cilnb figures``: run every notebook headlessly (:func:`cilnb.figures.run_all`)."""
from __future__ import annotations

import argparse

from .common import positive_int


def run(args: argparse.Namespace) -> int:
    from ..figures import run_all

    results = run_all(profile=args.profile, only=args.only, out=args.out, progress=not args.quiet, jobs=args.jobs)
    return 0 if all(r.ok for r in results) else 1


def add_parser(sub) -> None:
    """Register ``python -m cilnb figures``."""
    fig = sub.add_parser("figures", help="run every notebook headlessly and regenerate its figures")
    fig.add_argument("--profile", default="default", choices=["default", "workshop", "smoke"])
    fig.add_argument("--only", nargs="+", metavar="NAME", help="notebook stems to run (default: all)")
    fig.add_argument("--out", default=None, help="figure folder (default: <repo>/figures)")
    fig.add_argument("--quiet", action="store_true", help="no per-cell progress bars")
    fig.add_argument("--jobs", type=positive_int, default=1,
                     help="notebooks run at once, each kernel with CPUs // JOBS math threads (default 1)")
    fig.set_defaults(func=run)

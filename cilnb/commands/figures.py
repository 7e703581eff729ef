"""``python -m cilnb figures``: run every notebook headlessly (:func:`cilnb.figures.run_all`)."""
from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from ..figures import run_all

    results = run_all(profile=args.profile, only=args.only, out=args.out, progress=not args.quiet)
    return 0 if all(r.ok for r in results) else 1


def add_parser(sub) -> None:
    """Register ``python -m cilnb figures``."""
    fig = sub.add_parser("figures", help="run every notebook headlessly and regenerate its figures")
    fig.add_argument("--profile", default="default", choices=["default", "workshop", "smoke"])
    fig.add_argument("--only", nargs="+", metavar="NAME", help="notebook stems to run (default: all)")
    fig.add_argument("--out", default=None, help="figure folder (default: <repo>/figures)")
    fig.add_argument("--quiet", action="store_true", help="no per-cell progress bars")
    fig.set_defaults(func=run)

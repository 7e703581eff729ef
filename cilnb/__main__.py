"""Command line: ``python -m cilnb <command>`` (see ``--help``)."""
from __future__ import annotations

import argparse
import sys


def _figures(args: argparse.Namespace) -> int:
    from .figures import run_all

    results = run_all(profile=args.profile, only=args.only, out=args.out, progress=not args.quiet)
    return 0 if all(r.ok for r in results) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cilnb", description="Conditional image leakage notebooks")
    sub = parser.add_subparsers(dest="command", required=True)

    fig = sub.add_parser("figures", help="run every notebook headlessly and regenerate its figures")
    fig.add_argument("--profile", default="default", choices=["default", "smoke"])
    fig.add_argument("--only", nargs="+", metavar="NAME", help="notebook stems to run (default: all)")
    fig.add_argument("--out", default=None, help="figure folder (default: <repo>/figures)")
    fig.add_argument("--quiet", action="store_true", help="no per-cell progress bars")
    fig.set_defaults(func=_figures)

    from . import cli_commands

    cli_commands.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

"""The command line: ``python -m cilnb <command>``, one thin module per command.

Each module is named after its command (``train-toy`` -> :mod:`cilnb.commands.train_toy`) and has
``add_parser(subparsers)``, which declares its arguments, and ``run(args) -> int``, which calls
library functions (:mod:`cilnb.stats`, :mod:`cilnb.runs`, :mod:`cilnb.svd_finetune`,
:mod:`cilnb.toy_training`, :mod:`cilnb.figures`). Building the parser imports no torch, so
``python -m cilnb --help`` is fast: the library is imported inside ``run``. A new command is a new
module here plus its name in :data:`COMMANDS`.
"""
from __future__ import annotations

import argparse
import importlib
from typing import Sequence

__all__ = ["COMMANDS", "build_parser", "register", "main"]

# the commands in the order ``--help`` lists them
COMMANDS: tuple[str, ...] = ("figures", "stats", "sample", "finetune", "train-toy", "toy-stats")


def register(sub: argparse._SubParsersAction, names: Sequence[str] = COMMANDS) -> None:
    """Add the commands ``names`` to ``sub``; each module declares its own arguments."""
    for name in names:
        importlib.import_module(f"{__name__}.{name.replace('-', '_')}").add_parser(sub)


def build_parser() -> argparse.ArgumentParser:
    """The ``cilnb`` parser with every command of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(prog="cilnb", description="Conditional image leakage notebooks")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the command; returns its exit status."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)

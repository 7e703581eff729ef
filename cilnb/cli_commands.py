"""Registry for subcommands contributed by other modules (train-toy, stats, sample, ...)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add every optional subcommand; each module owns its own arguments."""
    for module_name in _COMMAND_MODULES:
        import importlib

        module = importlib.import_module(f"cilnb.{module_name}")
        module.add_cli(sub)


# Modules that define ``add_cli(subparsers)``; extended as commands land.
_COMMAND_MODULES: list[str] = ["stats_cli", "sweep", "finetune", "training"]

"""The command line: ``python -m cilnb <command>``, one thin module per command.

Each module is named after its command (``train-toy`` -> :mod:`cilnb.commands.train_toy`) and has
``add_parser(subparsers)``, which declares its arguments, and ``run(args) -> int``, which calls
library functions (:mod:`cilnb.stats`, :mod:`cilnb.runs`, :mod:`cilnb.svd_finetune`,
:mod:`cilnb.toy_training`, :mod:`cilnb.figures`). Building the parser imports no torch, so
``python -m cilnb --help`` is fast: the library is imported inside ``run``. A new command is a new
module here plus its name in :data:`COMMANDS`.

Errors (:func:`main`): a *user error* prints one line, ``cilnb <command>: error: <what and the
fix>``, to stderr and exits 2; ``--debug`` (before or after the command) shows the traceback
instead. User errors are :class:`cilnb._util.UserError`, ``ValueError`` and ``TypeError`` (cilnb
validates its inputs with them), ``FileNotFoundError`` (also ``models.WeightsNotFoundError``),
``NotADirectoryError``, ``IsADirectoryError``, ``PermissionError`` and ``FileExistsError``;
argparse's own errors use the same one-line form. Anything else is unexpected: the traceback
is shown and the exit status is 1, except running out of memory and a file name too long, which are one line and exit
2 too. A refused run removes the folders of ``--out`` it created, when they hold no file. Ctrl-C prints one line and exits 130;
SIGTERM (``kill``) stops the same way (locks released, all saved so far kept for a resume) and exits 143.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

__all__ = ["COMMANDS", "USER_ERRORS", "build_parser", "register", "main"]

# the exception types main() reports as one line and exit status 2 (without --debug)
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, TypeError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, FileExistsError,
)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``cilnb <command>: error: <message> (see --help)`` and exit 2."""

    def error(self, message: str):  # noqa: D102 (argparse API)
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")

# the commands in the order ``--help`` lists them
COMMANDS: tuple[str, ...] = ("figures", "stats", "sample", "finetune", "train-toy", "toy-stats")


def register(sub: argparse._SubParsersAction, names: Sequence[str] = COMMANDS) -> None:
    """Add the commands ``names`` to ``sub``; each module declares its own arguments."""
    for name in names:
        importlib.import_module(f"{__name__}.{name.replace('-', '_')}").add_parser(sub)
        sub.choices[name].add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                                       help="show the full traceback of an error")


def build_parser() -> argparse.ArgumentParser:
    """The ``cilnb`` parser with every command of :data:`COMMANDS`."""
    parser = _Parser(prog="cilnb", description="Conditional image leakage notebooks")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error (also after the command)")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the command; returns its exit status.

    User errors (:data:`USER_ERRORS`, module docstring) print one line and return 2; ``--debug``
    re-raises them with their traceback.
    """
    args = build_parser().parse_args(argv)
    from .._util import keep_heap

    keep_heap()  # freed memory stays in the heap: faster CPU sampling, same numbers (cilnb._util.KEEP_HEAP_ENV)
    made = _first_missing_folder(getattr(args, "out", None))
    previous = _on_sigterm()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        if args.debug:
            raise
        how = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"cilnb {args.command}: {how} (rerun the same command to resume where it stopped)", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except USER_ERRORS as exc:
        if args.debug:
            raise
        _remove_empty_folders(made)
        print(f"cilnb {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as exc:
        if args.debug or not _out_of_memory(exc):
            raise
        _remove_empty_folders(made)
        first = (str(exc).strip().splitlines() or ["MemoryError"])[0]
        print(f"cilnb {args.command}: error: out of memory ({first[:200]}): {_SMALLER.get(args.command, 'use smaller sizes')}",
              file=sys.stderr)
        return 2
    except OSError as exc:
        import errno

        if args.debug or exc.errno != errno.ENAMETOOLONG:
            raise
        _remove_empty_folders(made)
        print(f"cilnb {args.command}: error: {one_line(exc)}: use a shorter name", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM during a command (``kill PID``, a job scheduler's stop): raised where the command is, so it stops as after
    Ctrl-C (locks released, partial files removed, everything saved so far kept for a resume) and exits 143."""


def _on_sigterm():
    """Turn SIGTERM into :class:`Terminated` for the command's duration; returns the handler to restore (``None`` when
    not in the main thread, where Python cannot set one)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise Terminated()

    return signal.signal(signal.SIGTERM, handler)


# what to make smaller when a command runs out of memory
_SMALLER = {
    "sample": "use a smaller --batch-size, fewer --images toy:N or a smaller --size",
    "stats": "use a smaller --batch-size, --size or --frames",
    "train-toy": "use a smaller --batch-size or --widths",
    "toy-stats": "use a smaller --n",
    "finetune": "use a smaller --batch-size, --size or --frames (or --gradient-checkpointing, --mixed-precision)",
}


def _out_of_memory(exc: BaseException) -> bool:
    """An allocation the machine cannot make (``MemoryError``, torch's CPU allocator, CUDA out of memory): a size the user
    chose, not a bug."""
    text = str(exc)
    return isinstance(exc, MemoryError) or "can't allocate memory" in text or "out of memory" in text.lower()


def _first_missing_folder(out):
    """The outermost folder of ``--out`` (a file or a folder path) that does not exist yet: what a run may create."""
    if not out:
        return None
    from pathlib import Path

    path, missing = Path(out).absolute(), None
    try:
        while not path.exists() and path != path.parent:
            missing, path = path, path.parent
    except OSError:  # e.g. a name too long: the command reports it
        return None
    return missing


def _remove_empty_folders(top) -> None:
    """After a refused run: remove the folders it created under ``top`` if they hold no file (never a file)."""
    import os

    if top is None or not os.path.isdir(top) or os.path.islink(top):
        return
    for root, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):  # deepest first
        try:
            os.rmdir(root)  # only empty folders go
        except OSError:
            pass


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (lines joined by ``; ``), prefixed by its type unless it is a plain ValueError/UserError."""
    msg = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
    if isinstance(exc, KeyError):
        msg = str(exc.args[0]) if exc.args else msg
    from .._util import UserError

    if type(exc) is not ValueError and not isinstance(exc, UserError):
        msg = f"{type(exc).__name__}: {msg}"
    return msg

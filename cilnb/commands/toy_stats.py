"""``python -m cilnb toy-stats``: Analytic-Init statistics of the toy training data (:func:`cilnb.toy_training.toy_stats`)."""
from __future__ import annotations

import argparse

from .common import file_path_arg, nonneg_int, positive_int


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .._util import UserError, check_output_path, clean_tmp_files, data_dir
    from ..experiments.inputs import toy_data
    from ..toy_training import toy_stats

    if args.seed > 2**64 - 1:  # was torch's range error naming "seed", after the output checks
        raise UserError(f"--seed {args.seed} is beyond what a torch.Generator takes: pass a seed in [0, 2**64 - 1]")
    out = args.out or str(data_dir() / "toy_stats.safetensors")
    check_output_path(out, option="--out")
    source = _source_file(args.data_from)
    if source is not None and Path(out).is_file() and Path(out).samefile(source):  # --force would replace the checkpoint
        raise UserError(f"--out {out} is the --data-from checkpoint: the statistics would replace it; choose another --out")
    if Path(out).exists() and not args.force:
        shipped = " (the shipped statistics the notebooks use)" if not args.out else ""
        raise UserError(f"{out} exists{shipped}: pass --out elsewhere, or --force to overwrite it (or delete it first)")
    try:
        if args.data_from:
            _check_toy_checkpoint(args.data_from)
        data = toy_data(args.data_from or None)  # the data the statistics describe: a checkpoint's training data
    except (ValueError, TypeError) as exc:
        raise UserError(f"--data-from: {exc}") from None
    clean_tmp_files(Path(out).parent, [Path(out).name])  # left by a killed earlier run
    toy_stats(out, n=args.n, seed=args.seed, config=data, show_progress=not args.quiet)
    print(f"wrote {out}")
    return 0


def _source_file(source: str):
    """The file ``--data-from`` names (a path or a shipped name), or None."""
    from pathlib import Path

    from ..models import toy

    if not source:
        return None
    path = toy.checkpoint_path(source) if source in toy.CHECKPOINTS and not Path(source).exists() else Path(source)
    return path if path.is_file() else None


def _check_toy_checkpoint(source: str) -> None:
    """A ``--data-from`` file must be a toy checkpoint: another file (statistics, a safetensors of something else) has no
    training data in its metadata and would silently give the default sprites' statistics."""
    from ..models import toy

    path = toy.resolve(source)
    meta = toy.read_metadata(path)
    fmt = meta.get("format")
    if fmt != toy.FORMAT:
        raise ValueError(f"{path} is not a cilnb toy checkpoint (format {fmt!r}, expected {toy.FORMAT!r}): pass a shipped name "
                         "(base, naive, timenoise) or a checkpoint written by `python -m cilnb train-toy`")
    if toy.train_data(meta) is None:  # saved by hand: the statistics would silently describe the default sprites
        raise ValueError(f"{path} records no training data (it was not written by `python -m cilnb train-toy`): leave --data-from "
                         "out for the statistics of the default sprites, or pass the checkpoint train-toy wrote")


def add_parser(sub) -> None:
    """Register ``python -m cilnb toy-stats``."""
    s = sub.add_parser("toy-stats", help="Analytic-Init statistics (Eq. 5) of the toy training data")
    s.add_argument("--n", type=positive_int, default=5000, help="number of training videos")
    s.add_argument("--seed", type=nonneg_int, default=12345)
    s.add_argument("--out", type=file_path_arg, default=None, help="default: data/toy_stats.safetensors (refused if it exists, unless --force)")
    s.add_argument("--data-from", default="", metavar="CKPT",
                   help="the toy checkpoint (base | naive | timenoise | a file) whose training data the statistics describe "
                        "(default: the shipped base's)")
    s.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=run)

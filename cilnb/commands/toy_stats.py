"""``python -m cilnb toy-stats``: Analytic-Init statistics of the toy training data (:func:`cilnb.toy_training.toy_stats`)."""
from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from .._util import data_dir
    from ..toy_training import toy_stats

    out = args.out or str(data_dir() / "toy_stats.safetensors")
    toy_stats(out, n=args.n, seed=args.seed, show_progress=not args.quiet)
    print(f"wrote {out}")
    return 0


def add_parser(sub) -> None:
    """Register ``python -m cilnb toy-stats``."""
    s = sub.add_parser("toy-stats", help="Analytic-Init statistics (Eq. 5) of the toy training data")
    s.add_argument("--n", type=int, default=5000, help="number of training videos")
    s.add_argument("--seed", type=int, default=12345)
    s.add_argument("--out", default=None, help="default: data/toy_stats.safetensors")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=run)

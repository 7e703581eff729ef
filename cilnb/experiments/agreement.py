"""Paired agreement of two samplings of the same grid: does a cheaper sampler read out the same numbers?

:func:`paired_agreement` compares per-video read-outs (motion, frame-0 PSNR, sprite stability, ...)
of two :func:`cilnb.experiments.sample_grid` tables made on the same images and noise seeds (the run
store gives every unit ``(M, init, seed, image)`` the same initial noise whatever the step count),
so each video of one table has its twin in the other. Per cell ``(M, init)`` and read-out it gives
both means with their standard errors and the paired difference with its standard error (the
standard deviation of the per-video differences over sqrt(n)). Used by ``benchmarks/sampler_steps.py``
to decide where the figure notebooks may sample with fewer steps than 50-step DDIM.
"""
from __future__ import annotations

from collections.abc import Hashable
from typing import Sequence

import numpy as np
import pandas as pd

from .. import checks

__all__ = ["paired_agreement", "paired_difference"]


def _numbers(x, name: str) -> np.ndarray:
    """``x`` (a list, array, Series or tensor of numbers; NaN allowed) as a float array, or a clear error."""
    if x is None or isinstance(x, (str, bytes)):
        raise checks.InputTypeError(f"{name} must be numbers (a list, array or Series), got {type(x).__name__}")
    if checks.is_complex(x):
        raise checks.InputTypeError(f"{name} must be real numbers, got complex values: pass their .real or abs()")
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise checks.InputTypeError(f"{name} must be numbers (a list, array or Series), got {type(x).__name__} ({exc})") from None


def _names(name: str, value) -> list:
    """Column names: a list or tuple of names (a single string is refused, not split into letters)."""
    if isinstance(value, str):
        raise checks.InputTypeError(f"{name} must be a list of column names, got the string {value!r}: pass [{value!r}]")
    if not isinstance(value, (list, tuple)):
        raise checks.InputTypeError(f"{name} must be a list of column names, got {type(value).__name__}")
    bad = [v for v in value if not isinstance(v, Hashable)]
    if bad:  # a nested list reached pandas as an unhashable key
        raise checks.InputTypeError(f"{name} must be a flat list of column names, got {bad[0]!r} ({type(bad[0]).__name__}) in it")
    return list(value)


def paired_difference(a, b) -> tuple[float, float, int]:
    """``(mean, s.e., n)`` of ``b - a`` over the pairs where both are finite (s.e.: the standard deviation of
    the differences, ``ddof=1``, over sqrt(n); NaN below 2 pairs; the mean NaN with none)."""
    a, b = _numbers(a, "a"), _numbers(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must hold one value per pair (the same shape), got {a.shape} and {b.shape}: "
                         "pair each value of a with its twin in b")
    ok = np.isfinite(a) & np.isfinite(b)
    d = b[ok] - a[ok]
    n = len(d)
    return (float(d.mean()) if n else float("nan"), float(np.std(d, ddof=1) / np.sqrt(n)) if n > 1 else float("nan"), n)


def paired_agreement(ref: pd.DataFrame, cand: pd.DataFrame, columns: Sequence[str], *, keys: Sequence[str] = ("M", "init"),
                     pair_on: Sequence[str] = ("seed", "image_index"), tolerance: float = 1.0) -> pd.DataFrame:
    """One row per cell (``keys``) and read-out in ``columns``: ``ref_mean, ref_se, cand_mean, cand_se, diff``
    (``cand - ref``, mean over pairs), ``diff_se`` (paired standard error), ``n`` (pairs with both values
    finite) and ``agree``: ``|diff| <= tolerance * ref_se``, i.e. switching to the candidate sampler moves the
    cell's mean by no more than ``tolerance`` of the standard error it is already reported with.

    ``ref`` and ``cand`` are per-video tables holding ``keys``, ``pair_on`` and ``columns``; a video of
    ``ref`` without a twin in ``cand`` (same ``keys`` and ``pair_on``) is left out, and a pair where either
    value is NaN (e.g. no sprite found) is left out of that read-out. Standard errors use ``ddof=1``.
    """
    keys, pair_on, columns = _names("keys", keys), _names("pair_on", pair_on), _names("columns", columns)
    if not columns:
        raise ValueError("columns is empty: name the read-outs to compare, e.g. columns=['motion']")
    if not keys:
        raise ValueError("keys is empty: name the columns that make a cell, e.g. keys=['M', 'init']")
    for name, names in (("keys", keys), ("pair_on", pair_on), ("columns", columns)):
        twice = sorted({c for c in names if names.count(c) > 1}, key=str)
        if twice:
            raise ValueError(f"{name} names {twice} more than once: name each column once")
    shared = [c for c in columns if c in keys + pair_on] + [c for c in keys if c in pair_on]
    if shared:
        raise ValueError(f"{shared} is named in more than one of keys, pair_on and columns: a cell key, a pairing column "
                         "and a read-out must be different columns")
    for name, df in (("ref", ref), ("cand", cand)):
        if not isinstance(df, pd.DataFrame):
            raise checks.InputTypeError(f"{name} must be a pandas DataFrame (a per-video table of sample_grid), got {type(df).__name__}")
        missing = [c for c in keys + pair_on + columns if c not in df]
        if missing:
            raise ValueError(f"{name} lacks the columns {missing}: give per-video tables of sample_grid (or name other keys/columns)")
        dup = df.duplicated(keys + pair_on)
        if dup.any():
            first = df.loc[dup, keys + pair_on].iloc[0].to_dict()
            raise ValueError(f"{name} has {int(dup.sum())} row(s) repeating a video ({keys + pair_on} = {first}): "
                             "each video must appear once (drop duplicates, or add the column that tells them apart to pair_on)")
        for c in columns:
            try:
                df[c].to_numpy(float)
            except (TypeError, ValueError):
                raise ValueError(f"{name}[{c!r}] must hold numbers (NaN where a read-out is missing), got dtype {df[c].dtype}") from None
    checks.check_number("tolerance", tolerance, lo=0, lo_open=True, fix="(in standard errors of the reference)")
    both = ref[keys + pair_on + columns].merge(cand[keys + pair_on + columns], on=keys + pair_on, suffixes=("_ref", "_cand"))
    if both.empty:
        raise ValueError("ref and cand share no video (same cells and seeds/images): sample the same grid with both samplers")
    rows = []
    for cell, g in both.groupby(keys, sort=False):
        cell = cell if isinstance(cell, tuple) else (cell,)
        for col in columns:
            a, b = g[f"{col}_ref"].to_numpy(float), g[f"{col}_cand"].to_numpy(float)
            ok = np.isfinite(a) & np.isfinite(b)
            a, b = a[ok], b[ok]
            n = len(a)
            se = lambda v: float(np.std(v, ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
            diff, diff_se, _ = paired_difference(a, b)
            ref_se = se(a)
            rows.append({**dict(zip(keys, cell)), "readout": col, "n": n, "ref_mean": float(a.mean()) if n else float("nan"),
                         "ref_se": ref_se, "cand_mean": float(b.mean()) if n else float("nan"), "cand_se": se(b),
                         "diff": diff, "diff_se": diff_se, "agree": bool(n > 1 and abs(diff) <= tolerance * ref_se)})
    return pd.DataFrame(rows)

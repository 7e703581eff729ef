"""Checks of the tables (pandas DataFrames) that the experiments return and the verdicts and plots read.

Each names the table, the column and the table to pass instead, as every input check of cilnb does: a half table, a
column of text, a NaN key or an infinite read-out would otherwise fail deep inside pandas or matplotlib, or be printed
as "nan"/"inf" in a verdict.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .checks import InputTypeError

__all__ = ["check_table", "check_finite_columns", "check_filled"]


def check_table(name: str, df, columns, what: str, *, empty_ok: bool = False, numeric=(), drawn=()) -> None:
    """``df`` must be a DataFrame holding ``columns`` (and rows, unless ``empty_ok``); ``what`` says which table to pass.
    The columns in ``numeric`` must hold numbers (NaN allowed), not text or booleans; those in ``drawn`` (numeric too)
    at least one value that is not NaN, or a plot would draw an empty panel."""
    numeric = list(numeric) + [c for c in drawn if c not in numeric]
    if not isinstance(df, pd.DataFrame):
        hint = "; pass its .summary" if hasattr(df, "summary") and isinstance(getattr(df, "summary"), pd.DataFrame) else ""
        raise InputTypeError(f"{name} must be a pandas DataFrame ({what}), got {type(df).__name__}{hint}")
    missing = [c for c in list(columns) + [c for c in numeric if c not in columns] if c not in df]
    if missing:
        raise ValueError(f"{name} lacks the columns {missing}: pass {what}")
    if not empty_ok and df.empty:
        raise ValueError(f"{name} is empty (no rows): pass {what} with the run's rows")
    for c in numeric:
        col = df[c]
        if isinstance(col, pd.DataFrame):
            raise ValueError(f"{name} has several columns named {c!r}: pass {what}")
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            raise ValueError(f"{name}[{c!r}] must hold numbers (NaN where missing), got dtype {col.dtype}: pass {what}")
    for c in drawn:
        if not empty_ok or not df.empty:
            if not bool(df[c].notna().any()):
                raise ValueError(f"{name}[{c!r}] holds only NaN: there is nothing to draw; check the run or read-out that made it "
                                 "(e.g. no sprite or flow was found in any video)")


def check_finite_columns(name: str, df: pd.DataFrame, columns, what: str | None = None, *, fix: str | None = None) -> None:
    """Refuse infinite values in the numeric ``columns`` present (NaN stays "not read"): a verdict would print
    "-inf +- nan" and judge on it, a plot drop the point. ``fix`` (default: pass ``what``) ends the message.
    The one check of the verdicts, the plots (:func:`check_filled`) and Prop. 1's table."""
    fix = fix or f"no verdict can be read from them; pass {what} (check the read-out that made them)"
    for c in columns:
        if c in df and pd.api.types.is_numeric_dtype(df[c]) and bool(np.isinf(df[c].to_numpy(dtype=float)).any()):
            raise ValueError(f"{name}[{c!r}] holds infinite values: {fix}")


def check_filled(name: str, df: pd.DataFrame, columns, what: str, *, finite=()) -> None:
    """Refuse missing values in the key ``columns`` of ``df`` (grouping and seaborn would drop those rows without a word,
    or draw empty panels) and infinite values in the numeric ``finite`` columns present (matplotlib would drop the
    points, or fail deep inside with "'yerr' must not contain negative values")."""
    for c in columns:
        bad = df[c].isna().to_numpy()
        if bad.any():
            raise ValueError(f"{name}[{c!r}] is missing in {int(bad.sum())} of {len(df)} rows (e.g. row {df.index[bad][0]!r}): "
                             f"each row needs its {c}; pass {what}")
    check_finite_columns(name, df, finite, fix="nothing sensible can be drawn; check the read-out that made them")

"""What several commands share: the model named by ``--model``/``--model-path``/``--device``/``--dtype``,
and argparse ``type=`` functions whose errors name the option and the expected form (no torch)."""
from __future__ import annotations

import argparse
import math

__all__ = ["DTYPES", "load_model", "positive_int", "nonneg_int", "int_list", "finite_float", "positive_float",
           "nonneg_float", "probability", "unit_interval", "size_hw"]

# the --dtype values the commands accept ("auto": float16 on CUDA, float32 elsewhere)
DTYPES = ("auto", "float32", "fp32", "float16", "fp16", "bfloat16", "bf16")


def load_model(name: str, model_path: str | None = None, *, device="auto", dtype=None):
    """The model a command's options name, loaded by :func:`cilnb.models.load` (the one loader).

    ``toy`` without a path is the shipped ``base`` checkpoint (a path to a toy checkpoint file works
    too); other names need ``model_path`` (a local pipeline folder or a cached hub id). ``dtype``
    ``None``/``"auto"`` means float16 on CUDA and float32 elsewhere, for every model.
    """
    import torch

    from .. import models
    from .._util import resolve_device

    dev = resolve_device(device)
    if dtype is None or (isinstance(dtype, str) and dtype == "auto"):
        dtype = torch.float16 if dev.type == "cuda" else torch.float32
    elif not isinstance(dtype, torch.dtype) and dtype not in DTYPES:
        raise ValueError(f"dtype must be auto, float32, float16 or bfloat16, got {dtype!r}")
    key = name.strip().lower().replace("_", "-") if isinstance(name, str) else name
    if key not in models.available():
        raise ValueError(f"unknown model {name!r}: --model takes one of {', '.join(models.available())}")
    if key != "toy" and model_path is None:
        raise ValueError(f"--model {name} needs --model-path (a local pipeline folder or a hub id already in the cache)")
    if key == "toy" and model_path is not None:
        from .._util import file_errors

        with file_errors(model_path, "toy checkpoint", "pass a checkpoint written by `python -m cilnb train-toy`"):
            return models.load(name, model_path, device=dev, dtype=dtype)
    return models.load(name, model_path, device=dev, dtype=dtype)


# ----------------------------------------------------------------------------------------------
# argparse types: a bad value is reported as "argument --x: <what was expected>, got 'abc'"
# ----------------------------------------------------------------------------------------------


def _number(text: str, kind, what: str, ok=lambda v: True):
    try:
        v = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if (isinstance(v, float) and not math.isfinite(v)) or not ok(v):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return v


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    return _number(text, int, "a positive integer", lambda v: v >= 1)


def nonneg_int(text: str) -> int:
    """argparse type: an int >= 0."""
    return _number(text, int, "an integer >= 0", lambda v: v >= 0)


def finite_float(text: str) -> float:
    """argparse type: a finite number."""
    return _number(text, float, "a finite number")


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    return _number(text, float, "a finite number > 0", lambda v: v > 0)


def nonneg_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    return _number(text, float, "a finite number >= 0", lambda v: v >= 0)


def probability(text: str) -> float:
    """argparse type: a number in [0, 1]."""
    return _number(text, float, "a number in [0, 1]", lambda v: 0 <= v <= 1)


def unit_interval(text: str) -> float:
    """argparse type: a number in [0, 1) (e.g. an EMA decay)."""
    return _number(text, float, "a number in [0, 1)", lambda v: 0 <= v < 1)


def int_list(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated integers >= 0, e.g. ``48,64,64``."""
    parts = [x.strip() for x in text.split(",") if x.strip()]
    try:
        vals = tuple(int(x) for x in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers (e.g. 48,64,64), got {text!r}") from None
    if not vals or any(v < 0 for v in vals):
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 0 (e.g. 48,64,64), got {text!r}")
    return vals


def size_hw(text: str) -> str:
    """argparse type: ``HxW`` (e.g. ``320x512``) or one number for a square; returned as given."""
    from ..io import parse_size

    try:
        parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW (e.g. 320x512) or one positive integer, got {text!r}") from None
    return text

"""Shared input validation: one place that says what was wrong and how to fix it.

Every public entry point of cilnb (schedules, samplers, the probe, TimeNoise, Analytic-Init, the
sprite data, the metrics) checks its inputs where they enter, with the helpers here, so that a bad
input fails at once with a message naming the input and the fix, never deep inside torch or as a
silent NaN. The rules:

* wrong *types* (a float where an int is needed, a string, ``None``, a numpy array where a tensor is
  needed, a ``uint8`` image where float is needed) raise :class:`InputTypeError`, which is both a
  ``TypeError`` and a ``ValueError`` (so ``except ValueError`` keeps working);
* wrong *values* (out of range, NaN/inf, mismatched lengths, empty batches) raise ``ValueError``;
* float inputs of another precision than a float32 model's weights (float64, float16, bfloat16)
  are converted to float32 (:func:`check_model_input`); nothing else is converted or guessed.

Images and videos given to a model are checked against the value range the model declares
(``value_range = (lo, hi)``; the toy: ``(-1, 1)``); models that declare none (latent models, generic
adapters) are range-checked by their own ``prepare_condition``.
"""
from __future__ import annotations

import json
import math
import numbers
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

__all__ = [
    "PixelRangeWarning",
    "warn_unit_range",
    "check_model",
    "as_tensor",
    "InputTypeError",
    "check_int",
    "check_batch_size",
    "check_n_steps",
    "MAX_STEPS",
    "check_number",
    "check_seed",
    "check_seeds",
    "offset_seed",
    "SEED_RANGE",
    "check_finite",
    "check_value_range",
    "check_range",
    "check_images",
    "check_model_input",
    "check_cond",
    "model_dtype",
    "model_value_range",
    "check_sequence",
    "check_path",
    "parse_json",
    "PIXEL_RANGE",
    "check_not_meta",
    "repeated",
]

#: Value range of pixel-space frames and images everywhere in cilnb (the diffusers convention).
PIXEL_RANGE = (-1.0, 1.0)
_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_SEED_MIN, _SEED_MAX = -(2**63), 2**64 - 1  # what torch.Generator.manual_seed accepts
#: The seeds cilnb takes: what ``torch.Generator.manual_seed`` accepts (it reads a negative seed modulo ``2**64``,
#: so ``-1`` and ``2**64 - 1`` seed the same generator).
SEED_RANGE = (_SEED_MIN, _SEED_MAX)
#: The most sampler steps cilnb takes (:func:`check_n_steps`): far above any use, low enough that a schedule's grid
#: arrays fit in memory (a larger count failed in torch's allocator).
MAX_STEPS = 1_000_000


class InputTypeError(TypeError, ValueError):
    """An input of the wrong type; also a ``ValueError``, so callers catching bad input keep working."""


def check_bool(name: str, value: Any, *, numpy_bools: bool = True, allow_none: bool = False) -> bool | None:
    """``value`` as a ``bool``: ``True``/``False`` (and numpy bools unless ``numpy_bools=False``, for JSON-stored configs);
    a string such as ``"no"``, ``None`` or a number is an :class:`InputTypeError` (``bool("no")`` would be true).
    ``allow_none``: ``None`` is a documented value of the flag (e.g. tqdm's ``disable=None``) and is returned as is."""
    if value is None and allow_none:
        return None
    if not isinstance(value, (bool, np.bool_) if numpy_bools else bool):
        want = "True, False or None" if allow_none else "True or False"
        raise InputTypeError(f"{name} must be {want}, got {value!r} ({_kind(value)}): pass {want}")
    return bool(value)


def check_stats(stats: Any, *, optional: bool = True):
    """``stats``: a :class:`cilnb.analytic_init.MomentStats` (or ``None`` when ``optional``), else an :class:`InputTypeError`."""
    from .analytic_init import MomentStats

    if stats is None and optional:
        return None
    if not isinstance(stats, MomentStats):
        raise InputTypeError(f"stats must be a cilnb.analytic_init.MomentStats (MomentStats.load(path)){' or None' if optional else ''}, "
                             f"got {_kind(stats)}")
    return stats


def is_complex(x: Any) -> bool:
    """Whether ``x`` holds complex numbers: a complex tensor, numpy array or scalar, a Python complex, or a list of them
    (``float()``/``float64`` would drop their imaginary part without a word)."""
    if isinstance(x, torch.Tensor):
        return x.is_complex()
    try:
        return bool(np.iscomplexobj(x))
    except (TypeError, ValueError):  # a ragged list: not numbers at all, the caller's conversion names it
        return False


def _kind(x: Any) -> str:
    return type(x).__name__


def is_int(x: Any) -> bool:
    """Whether ``x`` is a whole number of an integer type: a Python or numpy int, or a 0-d integer tensor (never a bool)."""
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, (int, np.integer)):
        return True
    return isinstance(x, torch.Tensor) and x.ndim == 0 and not x.is_floating_point() and not x.is_complex() and x.dtype != torch.bool


def check_int(name: str, value: Any, *, min: int | None = None, fix: str = "", integral_float: bool = False) -> int:
    """``value`` as a Python ``int`` (ints, numpy ints and 0-d integer tensors; never bool), ``>= min``.

    Floats are refused unless ``integral_float`` and the float is a whole number (``1000.0``).
    ``fix`` is appended to the message (e.g. ``"(the number of sampler steps)"``).
    """
    want = "a positive int" if min == 1 else ("an int >= 0" if min == 0 else (f"an int >= {min}" if min is not None else "an int"))
    hint = f" {fix}" if fix else ""
    if integral_float and isinstance(value, float) and math.isfinite(value) and value == int(value):
        value = int(value)
    if not is_int(value):
        extra = ""
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            extra = f"; pass {int(value)}"
        raise InputTypeError(f"{name} must be {want}{hint}, got {value!r} ({_kind(value)}){extra}")
    v = int(value)
    if min is not None and v < min:
        raise ValueError(f"{name} must be {want}{hint}, got {v}")
    return v


def check_batch_size(name: str, value: Any, *, allow_none: bool = True) -> int | None:
    """A positive int, or ``None`` (everything in one batch) when ``allow_none``."""
    if value is None and allow_none:
        return None
    fix = "(items per model call" + ("; None for all at once)" if allow_none else ")")
    return check_int(name, value, min=1, fix=fix)


def check_n_steps(n_steps: Any, fix: str = "(the number of sampler steps)") -> int:
    """A sampler step count: :func:`check_int` (at least 1) and at most :data:`MAX_STEPS`, else a ``ValueError`` naming
    the count and the fix; every entry that takes ``n_steps`` checks it here, before it writes or samples anything."""
    n = check_int("n_steps", n_steps, min=1, fix=fix)
    if n > MAX_STEPS:
        raise ValueError(f"n_steps = {n} is beyond any sampler's use (at most {MAX_STEPS:,}; a DDPM schedule has "
                         "1000 timesteps, samplers take 10-50 steps): pass the number of sampler steps, e.g. 25")
    return n


def check_number(name: str, value: Any, *, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False, hi_open: bool = False, fix: str = "") -> float:
    """A finite real number (Python, numpy or 0-d tensor; not bool, not a string) as ``float``, within bounds."""
    hint = f" {fix}" if fix else ""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{name} must be a real number{hint}, got {value!r} ({_kind(value)})")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite{hint}, got {v}")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo:g}{hint}, got {v:g}")
    if hi is not None and (v > hi or (hi_open and v == hi)):
        raise ValueError(f"{name} must be {'<' if hi_open else '<='} {hi:g}{hint}, got {v:g}")
    return v


def _seed_range_error(name: str, value: int) -> ValueError:
    return ValueError(f"{name} = {value} is outside the range a torch.Generator accepts, [-2**63, 2**64 - 1]: "
                      f"pass a seed in that range (e.g. {name} % 2**64 = {value % 2**64})")


def check_seed(name: str, value: Any, *, fix: str = "") -> int:
    """One seed as a Python ``int`` (:func:`check_int`: ints, numpy ints, 0-d integer tensors; never bool) within
    :data:`SEED_RANGE` ``[-2**63, 2**64 - 1]``, else a ``ValueError`` naming the range and the fix (not torch's bare
    ``Overflow when unpacking long long``). Negative seeds are kept (torch reads them modulo ``2**64``)."""
    v = check_int(name, value, fix=fix)
    if not _SEED_MIN <= v <= _SEED_MAX:
        raise _seed_range_error(name, v)
    return v


def offset_seed(seed: int, offset: int) -> int:
    """``seed + offset`` reduced modulo ``2**64``: a seed derived from another (a second noise stream, a per-epoch
    permutation) stays in :data:`SEED_RANGE` for every seed in it, even near the top, instead of overflowing in
    torch. The generator is the same as ``manual_seed(seed + offset)`` whenever that sum is in range (torch reads a
    negative seed modulo ``2**64`` too), so the reduction changes no stream that worked before."""
    return (int(seed) + int(offset)) % 2**64


def check_seeds(seed: Any, n: int, name: str = "seed") -> list[int]:
    """One int seed per item: ``seed`` an int (item ``b`` uses ``seed + b``) or a sequence of ``n`` ints."""
    if is_int(seed):
        base = int(seed)
        # one Python int per item (a list entry and the int): a huge n listed seeds until the machine ran out of memory
        check_fits_in_memory(64.0 * n, f"{n} {name}s (one per item)", "pass fewer items")
        seeds = [base + b for b in range(n)]
    elif isinstance(seed, (list, tuple, range, np.ndarray, torch.Tensor)):
        items = seed.tolist() if isinstance(seed, (np.ndarray, torch.Tensor)) else list(seed)
        if isinstance(seed, (np.ndarray, torch.Tensor)) and np.ndim(items) != 1:
            raise ValueError(f"{name} must be an int or a flat list of ints, got shape {tuple(seed.shape)}")
        bad = [s for s in items if not is_int(s)]
        if bad:
            raise InputTypeError(f"{name} must be an int or a list of ints (one per item), got {bad[0]!r} ({_kind(bad[0])}) in {name}")
        seeds = [int(s) for s in items]
        if len(seeds) != n:
            raise ValueError(
                f"got {len(seeds)} {name}(s) for {n} item(s): pass one {name} per item "
                f"(e.g. {name}={list(range(n))}), or one int (item b then uses {name} + b)"
            )
    else:
        raise InputTypeError(
            f"{name} must be an int (item b uses {name} + b) or a list of {n} ints, got {seed!r} ({_kind(seed)})"
        )
    out = [(b, s) for b, s in enumerate(seeds) if not _SEED_MIN <= s <= _SEED_MAX]
    if out:
        b, s = out[0]
        if is_int(seed):
            if s == base:
                raise _seed_range_error(name, s)
            raise ValueError(f"{name} = {base} gives item {b} the seed {name} + {b} = {s}, outside the range a torch.Generator "
                             f"accepts, [-2**63, 2**64 - 1]: pass a smaller {name} (at most {_SEED_MAX - (n - 1)} for {n} items) "
                             f"or one {name} per item")
        raise _seed_range_error(f"{name}[{b}]", s)
    return seeds


def holds_bool(x: Any) -> bool:
    """Whether ``x`` is a bool, a bool tensor or array, or a (nested) list or tuple holding one."""
    if isinstance(x, (bool, np.bool_)):
        return True
    if isinstance(x, torch.Tensor):
        return x.dtype == torch.bool
    if isinstance(x, np.ndarray):
        return x.dtype == np.bool_
    if isinstance(x, (list, tuple)):
        return any(holds_bool(v) for v in x)
    return False


def check_times(name: str, ts: Any, what: str) -> torch.Tensor:
    """``ts`` (a number, or a flat list, array or tensor of times) as a flat float64 tensor, or an :class:`InputTypeError`
    saying that ``name`` must be ``what`` (a ``ValueError`` for an array of 2 or more dimensions). Range and order are the
    caller's to check."""
    if isinstance(ts, (str, bytes)):
        raise InputTypeError(f"{name} must be {what}, got the string {ts!r}")
    if holds_bool(ts):  # True/False would be read as the times 1 and 0
        raise InputTypeError(f"{name} must be {what}, got booleans ({ts!r:.60}): pass the times as numbers, e.g. [1.0, 0.5]")
    if is_complex(ts):
        raise InputTypeError(f"{name} must be {what}, got complex numbers ({ts!r:.60})")
    if isinstance(ts, torch.Tensor):
        check_not_meta(name, ts)  # a meta tensor failed later in .item() with torch's words
    try:
        out = torch.as_tensor(ts, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputTypeError(f"{name} must be {what}, got {ts!r} ({exc})") from None
    if out.ndim > 1:  # a [2, 3] grid was read as 6 times in row order, without a word
        raise ValueError(f"{name} must be a flat list of times ({what}), got shape {tuple(out.shape)}: pass one time per entry, "
                         f"e.g. {name}.flatten() if that order is meant")
    return out.flatten()


def check_finite(name: str, x: torch.Tensor, fix: str = "") -> torch.Tensor:
    """Raise ``ValueError`` naming ``name`` (and the fix) when the float tensor ``x`` holds NaN or infinity."""
    if isinstance(x, torch.Tensor) and (x.is_floating_point() or x.is_complex()):
        bad = ~torch.isfinite(x)
        if bool(bad.any()):
            raise ValueError(f"{name} contains {int(bad.sum())} non-finite value(s) (NaN or inf){'; ' + fix if fix else ''}")
    return x


def check_value_range(value_range) -> tuple[float, float]:
    """Validate ``value_range=(lo, hi)`` (finite, ``lo < hi``)."""
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be a pair (lo, hi) such as (0, 1) or (-1, 1), got {value_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"value_range must be finite with lo < hi, got {value_range!r}")
    return lo, hi


def _range_hint(xmin: float, xmax: float, lo: float, hi: float) -> str:
    """How to get data spanning ``[xmin, xmax]`` into ``[lo, hi]`` for the common pixel conventions."""
    if (lo, hi) == PIXEL_RANGE:
        if xmin >= 0 and xmax > 1.5:
            return "it looks like 0..255 pixels: use x / 127.5 - 1"
        if xmin >= 0:
            return "use x * 2 - 1 for [0, 1] images"
    return "rescale it"


def check_range(name: str, x: torch.Tensor, value_range, *, fix: str = "") -> tuple[float, float]:
    """Raise ``ValueError`` when float ``x`` leaves ``value_range`` by more than ``1e-3`` of its width; else return the
    span ``(min, max)`` of ``x`` (for :func:`warn_unit_range`, so the values are read once)."""
    lo, hi = check_value_range(value_range)
    tol = 1e-3 * (hi - lo)
    xmin, xmax = float(x.min()), float(x.max())
    if xmin < lo - tol or xmax > hi + tol:
        how = fix or _range_hint(xmin, xmax, lo, hi)
        raise ValueError(f"{name} values span [{xmin:.4g}, {xmax:.4g}] but must lie in [{lo:g}, {hi:g}]: {how}")
    return xmin, xmax


def as_tensor(x, name: str) -> torch.Tensor:
    """``torch.Tensor`` view of ``x`` (tensor or numpy array); anything else is a ``ValueError`` naming ``name`` (a meta
    tensor, which has no values, an :class:`InputTypeError`)."""
    if isinstance(x, torch.Tensor):
        return check_not_meta(name, x)
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    raise ValueError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")


def check_images(x, name: str, value_range, *, channels=(1, 3), rank: int = 4) -> torch.Tensor:
    """Validate an image batch ``[N, C, H, W]`` (or ``rank`` 5 video batch) and its value range.

    ``uint8`` is always read as ``[0, 255]``; float input must lie in ``value_range`` (tolerance
    ``1e-3`` of its width). Other dtypes, NaN/inf, and values outside the range are refused.
    (The metrics' convention; models use :func:`check_model_input`.)
    """
    x = as_tensor(x, name)
    layout = "[B, F, C, H, W] (diffusers layout)" if rank == 5 else "[N, C, H, W]"
    if x.dim() != rank:
        hint = " For one video use videos[None]." if rank == 5 and x.dim() == 4 else ""
        raise ValueError(f"{name} must be {layout}, got shape {tuple(x.shape)} (rank {x.dim()}).{hint}")
    c = x.shape[-3]
    if c not in channels:
        hint = ""
        if rank == 5 and x.shape[1] in channels:
            hint = " If it is [B, C, F, H, W], pass videos.permute(0, 2, 1, 3, 4)."
        raise ValueError(f"{name}: channel dim (index {rank - 3}) is {c}; expected one of {channels}.{hint}")
    if any(s == 0 for s in x.shape):
        raise ValueError(f"{name} is empty: shape {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x
    if x.dtype not in _FLOAT_DTYPES:
        raise ValueError(f"{name} has dtype {x.dtype}; use float (in value_range) or uint8 (in [0, 255])")
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        raise ValueError(f"{name} contains {int(bad.sum())} non-finite value(s) (NaN or inf)")
    lo, hi = check_value_range(value_range)
    tol = 1e-3 * (hi - lo)
    xmin, xmax = float(x.min()), float(x.max())
    if xmin < lo - tol or xmax > hi + tol:
        raise ValueError(
            f"{name} values span [{xmin:.4g}, {xmax:.4g}] but value_range=({lo:g}, {hi:g}); pass the range "
            "your data uses (value_range=(-1, 1) for [-1, 1] videos, (0, 255) for float pixels) or rescale"
        )
    return x


def model_dtype(model) -> torch.dtype | None:
    """The floating dtype shared by all of ``model``'s parameters, or ``None`` (no parameters, or mixed)."""
    params = getattr(model, "parameters", None)
    if not callable(params):
        return None
    try:
        dtypes = {p.dtype for p in params() if p.is_floating_point()}
    except Exception:  # a foreign object whose parameters() is not torch's
        return None
    return dtypes.pop() if len(dtypes) == 1 else None


def model_value_range(model) -> tuple[float, float] | None:
    """The value range ``model`` takes its frames and conditional images in, if it declares one.

    ``model.value_range`` when set (the toy: ``(-1, 1)``), else ``None``: a model's sample space
    alone says nothing about its range (a ``"pixel"`` generic adapter may take any scale, latents
    have their VAE's), so only a declared range is checked.
    """
    vr = getattr(model, "value_range", None)
    return None if vr is None else check_value_range(vr)


def check_model(model, name: str = "model"):
    """``model`` on the denoiser contract (callable, with a ``.schedule``: what :func:`cilnb.models.load` returns), else an
    :class:`InputTypeError` naming the fix (a model's name, a path or ``None`` failed later with an AttributeError)."""
    if not callable(model) or not hasattr(model, "schedule"):
        hint = f": load it first, cilnb.models.load({model!r})" if isinstance(model, str) else ""
        raise InputTypeError(f"{name} must be a cilnb model (a denoiser with a .schedule, e.g. cilnb.models.load('toy')), "
                             f"got {type(model).__name__}{hint}")
    return model


class PixelRangeWarning(UserWarning):
    """Pixels meant for ``[-1, 1]`` hold no value below 0: perhaps ``[0, 1]`` images (:func:`warn_unit_range`)."""


def warn_unit_range(name: str, x: torch.Tensor, span: tuple[float, float] | None = None) -> None:
    """Warn (:class:`PixelRangeWarning`) when float pixels for ``[-1, 1]`` have none below 0 and some above: the mark of
    ``[0, 1]`` images, which lie inside ``[-1, 1]`` and so pass the range check, yet are read as washed-out bright ones
    (black is read as mid-grey). A warning, not an error: a bright image with no pixel darker than mid-grey looks the
    same. Filter it with ``warnings.filterwarnings("ignore", category=cilnb.checks.PixelRangeWarning)``. ``span``: ``x``'s
    ``(min, max)`` when the caller has it (what :func:`check_range` returns)."""
    if x.numel() == 0:
        return
    xmin, xmax = span if span is not None else (float(x.min()), float(x.max()))
    if xmin >= 0 and xmax > 0:
        import warnings

        warnings.warn(f"{name} has no value below 0 (it spans [{xmin:.3g}, {xmax:.3g}]): cilnb reads pixels in [-1, 1], where "
                      "[0, 1] images come out washed-out and bright; if these are [0, 1] images, pass x * 2 - 1 (bright images "
                      "with no pixel darker than mid-grey look the same: then ignore this warning)", PixelRangeWarning,
                      stacklevel=_outside_cilnb())


_WRAPPERS = ("cilnb.", "torch.utils._contextlib.", "contextlib.", "functools.")  # module prefixes a warning skips


def _outside_cilnb() -> int:
    """The ``stacklevel`` of a warning raised here that points at the first caller outside cilnb (the user's line), past
    the wrappers between (torch's ``no_grad`` decorator, functools, contextlib)."""
    import sys

    frame, level = sys._getframe(2), 2  # 1: this helper's caller (the warning's function), 2: its caller
    while frame is not None and (frame.f_globals.get("__name__", "") + ".").startswith(_WRAPPERS):
        frame, level = frame.f_back, level + 1
    return level



def check_model_input(name: str, x, model, *, rank: int, layout: str) -> torch.Tensor:
    """A tensor given to ``model`` (conditional images, ground-truth videos), checked and in a dtype it takes.

    Refuses non-tensors, another rank than ``rank`` (``layout`` names it), an empty batch, integer and
    bool dtypes (``uint8`` 0..255 pixels included: say how to convert), NaN/inf, and values outside
    :func:`model_value_range`. Float input of another precision than a float32 model's weights is
    returned as float32; everything else is returned unchanged.
    """
    if not isinstance(x, torch.Tensor):
        fix = f": pass torch.from_numpy({name})" if isinstance(x, np.ndarray) else ""
        raise InputTypeError(f"{name} must be a torch.Tensor {layout}, got {_kind(x)}{fix}")
    check_not_meta(name, x)
    if x.ndim != rank:
        raise ValueError(f"{name} must be {layout}, got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} holds no items (batch size 0, shape {tuple(x.shape)}): pass at least one")
    vr = model_value_range(model)
    if not x.is_floating_point():
        if x.dtype == torch.uint8:
            how = ("convert with x.float() / 127.5 - 1" if vr == PIXEL_RANGE else
                   "convert to float in the model's range" if vr is not None else
                   "convert to float [-1, 1] and pass the images through model.prepare_condition")
            raise InputTypeError(f"{name} has dtype torch.uint8 (0..255 pixels?); the model takes float: {how}")
        raise InputTypeError(f"{name} has dtype {x.dtype}; the model takes a float tensor")
    check_finite(name, x)
    if vr is not None:
        span = check_range(name, x, vr)
        if vr == PIXEL_RANGE:
            warn_unit_range(name, x, span)
    if x.dtype != torch.float32 and model_dtype(model) == torch.float32:
        x = x.float()
    return x


def check_cond(cond, n: int, name: str = "cond", *, scalars: bool = True) -> dict:
    """``cond`` as a new dict; every tensor in it with a batch axis must hold ``n`` items (one per video).

    ``scalars=False`` also refuses 0-d tensors (callers that slice every tensor per batch)."""
    if cond is None:
        return {}
    if not isinstance(cond, Mapping):
        raise InputTypeError(f"{name} must be a dict of per-item conditioning (e.g. {{'motion': tensor [B]}}), got {_kind(cond)}")
    out = dict(cond)
    for k, v in out.items():
        if isinstance(v, torch.Tensor) and v.ndim == 0 and not scalars:
            raise ValueError(f"{name}[{k!r}] is a 0-d tensor: give one value per item, e.g. value.expand({n})")
        if isinstance(v, torch.Tensor) and v.ndim > 0 and v.shape[0] != n:
            raise ValueError(
                f"{name}[{k!r}] has {v.shape[0]} item(s) along dim 0 but there are {n} video(s): give one entry per video"
            )
    return out


def parse_json(text: str, what: str) -> Any:
    """``json.loads(text)``, or a ``ValueError`` naming ``what`` (a file, a metadata field) instead of a bare JSONDecodeError."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise InputTypeError(f"{what} must be JSON text, got {_kind(text)}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}): the file or text is corrupt or truncated") from None


def check_sequence(name: str, value: Any, *, fix: str = "") -> list:
    """A list/tuple/array of items (not a string, which papermill passes for list parameters given as text)."""
    if isinstance(value, (str, bytes)):
        raise InputTypeError(f"{name} must be a list, got the string {value!r}{'; ' + fix if fix else ''}")
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.reshape(-1).tolist()
    if not isinstance(value, Sequence):
        raise InputTypeError(f"{name} must be a list, got {_kind(value)}{'; ' + fix if fix else ''}")
    return list(value)


def check_path(name: str, path: Any, what: str = "a file path") -> Path:
    """``path`` (a non-empty str or os.PathLike) as a :class:`~pathlib.Path`; anything else (``None``, a number, ``""``)
    is an :class:`InputTypeError` naming ``name``, not pathlib's bare TypeError."""
    if isinstance(path, (str, os.PathLike)) and str(path) != "":
        return Path(path)
    raise InputTypeError(f"{name} must be {what} (str or pathlib.Path), got {path!r} ({_kind(path)})")


def check_not_meta(name: str, x: Any) -> Any:
    """``x`` as given, unless it is a tensor on the ``"meta"`` device (a shape without values), which every value check
    would otherwise meet as torch's bare "Tensor.item() cannot be called on meta tensors": then an
    :class:`InputTypeError` naming ``name`` and the fix. Anything else (other devices, non-tensors) is the caller's to check."""
    if isinstance(x, torch.Tensor) and x.is_meta:
        raise InputTypeError(f"{name} is a tensor on the 'meta' device (a shape without values, shape {tuple(x.shape)}): "
                             "it has no values to check or compute with (nor to copy to another device): pass the real tensor, on 'cpu' or 'cuda'")
    return x


def repeated(values) -> list:
    """The values listed more than once in ``values``, in the order of their first appearance (``[]`` when all differ)."""
    values = list(values)
    return sorted({v for v in values if values.count(v) > 1}, key=values.index)


def physical_memory() -> int | None:
    """This machine's physical memory in bytes, or None where the OS does not say (not POSIX)."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    return ram if ram > 0 else None


def check_fits_in_memory(need: float, what: str, fix: str) -> None:
    """Refuse, before anything is allocated, a request whose arrays alone (``need`` bytes, a lower bound of the peak) are
    more than this machine's memory: torch's or numpy's allocator would fail deep inside, or the OS kill the process.
    ``what`` names the request (``"frechet_interval(n_boot=10**9)"``), ``fix`` says what to pass instead."""
    ram = physical_memory()
    if ram is not None and need > ram:
        raise ValueError(f"{what} needs more than {need / 2**30:.3g} GiB but this machine has {ram / 2**30:.3g} GiB of memory: {fix}")

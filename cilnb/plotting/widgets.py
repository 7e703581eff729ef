"""ipywidgets sliders for notebooks, built only when ``interactive`` is True (the figure runner passes False)."""
from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["sliders", "span"]


def _check_range_spec(name: str, spec) -> tuple:
    """``(min, max, step, value)`` of a slider: finite numbers, ``min <= value <= max`` and ``step > 0`` (ipywidgets
    would clamp the value silently and accept a zero step); returned unchanged."""
    from ..checks import check_number

    lo, hi, step, value = spec
    for what, v in (("min", lo), ("max", hi), ("step", step), ("value", value)):
        check_number(f"slider {name!r} {what}", v)
    if not lo <= hi:
        raise ValueError(f"slider {name!r}: min {lo!r} is above max {hi!r}; give (min, max, step, value) with min <= max")
    if not step > 0:
        raise ValueError(f"slider {name!r}: step must be > 0, got {step!r}")
    if not lo <= value <= hi:
        raise ValueError(f"slider {name!r}: the value {value!r} lies outside [{lo!r}, {hi!r}]; widen the range or change the value")
    return lo, hi, step, value


def span(value: float, lo: float, hi: float, step: float) -> tuple:
    """``(min, max, step, value)`` of a slider over ``[lo, hi]``, widened to hold ``value`` (a notebook parameter):
    ``(0.1, 10, 0.1, beta_m)`` refused the SVD setting ``beta_m = 15``. Shown in notebooks/timenoise.ipynb and
    notebooks/timenoise_training.ipynb."""
    from ..checks import check_number

    value = check_number("value", value, fix="(the slider's start value, a notebook parameter)")
    return min(lo, value), max(hi, value), step, value


def sliders(fn: Callable, interactive: bool, **specs):
    """Re-run ``fn(**values)`` (which returns a matplotlib Figure) whenever a slider moves.

    Each keyword is ``name=(min, max, step, value)`` and becomes a ``FloatSlider`` (``IntSlider``
    when all four are ints), or ``name=(options, value)`` with a list of the only values there are
    (e.g. the probe's stored times) and becomes a ``SelectionSlider``, so the slider never reads a
    value the figure does not show. The widget is returned, not displayed: as a cell's last value it
    is shown once. With ``interactive=False`` the function and the specs are still checked, nothing is imported and
    ``None`` is returned, so headless runs stay deterministic and catch a bad slider.
    Shown in notebooks/timenoise.ipynb, notebooks/analytic_init.ipynb, notebooks/leakage_probe.ipynb,
    notebooks/m_sweep.ipynb, notebooks/timenoise_training.ipynb and notebooks/motion_metrics.ipynb.
    """
    from ..checks import InputTypeError

    if not isinstance(interactive, (bool, np.bool_)):
        raise InputTypeError(f"interactive must be True or False, got {interactive!r} ({type(interactive).__name__}); "
                             "with papermill pass -p interactive False (not -r)")
    if not callable(fn):
        raise InputTypeError(f"fn must be a function of the slider values that returns a matplotlib Figure, got {type(fn).__name__}")
    import torch

    from ..checks import check_sequence, is_int, repeated

    kinds = {}  # name -> ("select", options, value) or ("int"/"float", lo, hi, step, value): checked headless too
    for name, spec in specs.items():
        if not isinstance(spec, (list, tuple)):
            raise InputTypeError(f"slider {name!r} needs (min, max, step, value) or (options, value), got {spec!r}")
        if len(spec) == 2 and isinstance(spec[0], (list, tuple, np.ndarray, torch.Tensor)):
            options, value = check_sequence(f"slider {name!r} options", spec[0]), spec[1]  # an array or tensor: its numbers
            if not options or value not in options:
                raise ValueError(f"slider {name!r}: the value {value!r} must be one of its options {options!r}")
            try:
                twice = repeated(options)
            except TypeError:  # unhashable options (lists): nothing to compare here, ipywidgets shows them as given
                twice = []
            if twice:  # the slider stopped twice at one value, showing the same figure
                raise ValueError(f"slider {name!r}: its options list {twice!r} more than once; give each value once, "
                                 "e.g. sorted(set(options))")
            kinds[name] = ("select", options, value)
            continue
        if len(spec) != 4:
            raise ValueError(f"slider {name!r} needs (min, max, step, value) or (options, value), got {spec!r}")
        lo, hi, step, value = _check_range_spec(name, spec)
        # numpy ints too (np.int64 from an array or a table): they made a FloatSlider, fn got floats
        kinds[name] = ("int", int(lo), int(hi), int(step), int(value)) if all(is_int(v) for v in spec) else ("float", lo, hi, step, value)
    if not interactive:
        return None
    import ipywidgets as W
    import matplotlib.pyplot as plt
    from IPython.display import display

    controls = {}
    for name, (kind, *args) in kinds.items():
        if kind == "select":
            controls[name] = W.SelectionSlider(options=args[0], value=args[1], description=name, continuous_update=False)
        else:
            lo, hi, step, value = args
            cls = W.IntSlider if kind == "int" else W.FloatSlider
            controls[name] = cls(min=lo, max=hi, step=step, value=value, description=name, continuous_update=False)

    def _show(**values):
        fig = fn(**values)
        display(fig)
        plt.close(fig)

    return W.interactive(_show, **controls)

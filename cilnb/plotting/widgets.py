"""ipywidgets sliders for notebooks, built only when ``interactive`` is True (the figure runner passes False)."""
from __future__ import annotations

from typing import Callable

__all__ = ["sliders"]


def sliders(fn: Callable, interactive: bool, **specs):
    """Re-run ``fn(**values)`` (which returns a matplotlib Figure) whenever a slider moves.

    Each keyword is ``name=(min, max, step, value)`` and becomes a ``FloatSlider``
    (``IntSlider`` when all four are ints). With ``interactive=False`` nothing is imported or
    shown and ``None`` is returned, so headless runs stay deterministic.
    Shown in notebooks/timenoise.ipynb, notebooks/analytic_init.ipynb, notebooks/leakage_probe.ipynb,
    notebooks/m_sweep.ipynb, notebooks/timenoise_training.ipynb and notebooks/motion_metrics.ipynb.
    """
    if not interactive:
        return None
    import ipywidgets as W
    import matplotlib.pyplot as plt
    from IPython.display import display

    controls = {}
    for name, spec in specs.items():
        if len(spec) != 4:
            raise ValueError(f"slider {name!r} needs (min, max, step, value), got {spec!r}")
        lo, hi, step, value = spec
        cls = W.IntSlider if all(isinstance(v, int) and not isinstance(v, bool) for v in spec) else W.FloatSlider
        controls[name] = cls(min=lo, max=hi, step=step, value=value, description=name, continuous_update=False)

    def _show(**values):
        fig = fn(**values)
        display(fig)
        plt.close(fig)

    out = W.interactive(_show, **controls)
    display(out)
    return out

"""Deprecated alias (one release) of :mod:`cilnb.plotting.widgets`: ``C.widgets.sliders`` is ``C.plotting.sliders``."""
from __future__ import annotations

from .plotting.widgets import __all__, sliders  # noqa: F401

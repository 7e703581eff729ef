"""Deprecated alias (one release) of :mod:`cilnb.plotting.flow`: flow pictures now live in :mod:`cilnb.plotting`."""
from __future__ import annotations

from .plotting.flow import __all__, draw_color_wheel, flow_to_rgb, plot_agreement, plot_flow_fields, plot_per_pair, plot_protocols  # noqa: F401

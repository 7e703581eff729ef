"""The one place that draws: style, ``savefig``, video grids, flow pictures, widgets and every figure.

Math modules (:mod:`cilnb.timenoise`, :mod:`cilnb.analytic_init`, :mod:`cilnb.metrics`,
:mod:`cilnb.experiments`) return numbers and tables; the functions here turn them into figures.

===================  ===========================================================================
module               what
===================  ===========================================================================
``style``            :func:`use_style`, :func:`savefig` (stable names), :func:`figure_dir`
``video``            :func:`video_grid`: frames of videos in a grid
``flow``             flow pictures (was ``cilnb.flowviz``): :func:`plot_flow_fields`, :func:`flow_to_rgb`, ...
``widgets``          :func:`sliders` (was ``cilnb.widgets``): ipywidgets only when ``interactive``
``timenoise``        Fig. 4(a)/(b): :func:`plot_timenoise_density`, :func:`plot_timenoise_mu`, ...
``analytic_init``    Prop. 1: :func:`plot_init_params`, :func:`plot_init_kl`, :func:`plot_init_marginals`
``experiments``      Fig. 1, 2, 3(a), 5(a), Table 1: :func:`plot_probe_strips`, :func:`plot_m_sweep`, ...
``remedies``         Table 2 (:mod:`cilnb.remedies`): :func:`plot_tradeoff`, :func:`plot_videos`
``animation``        videos that play: :func:`play` (inline GIF), :func:`save_gif`, :func:`save_mp4`
``live``             the live lab's widgets (:class:`cilnb.live.Lab`): :func:`sampling_widget`, :func:`probe_widget`
===================  ===========================================================================

Every name is importable from ``cilnb.plotting`` itself. Old homes keep working for one release:
``cilnb.flowviz``, ``cilnb.widgets``, ``cilnb.timenoise.plot_density/plot_mu/plot_samples``,
``cilnb.analytic_init.plot_params/plot_kl/plot_marginals`` and ``cilnb.experiments.plot_*``.
"""
from __future__ import annotations

from .animation import gif_bytes, play, save_gif, save_mp4, tile_frames
from .analytic_init import plot_init_kl, plot_init_marginals, plot_init_params
from .experiments import (plot_compare, plot_leakage_index, plot_m_sweep, plot_motion_control, plot_probe_curves, plot_probe_strips,
                          plot_sweep_videos, plot_timenoise_conditioning)
from .live import probe_widget, sampling_widget
from .flow import draw_color_wheel, flow_to_rgb, plot_agreement, plot_flow_fields, plot_per_pair, plot_protocols
from .remedies import plot_tradeoff, plot_videos
from .style import figure_dir, savefig, use_style
from .timenoise import plot_timenoise_density, plot_timenoise_mu, plot_timenoise_samples
from .video import video_grid
from .widgets import sliders, span

__all__ = [
    "use_style", "savefig", "figure_dir", "video_grid", "sliders", "span",
    "flow_to_rgb", "draw_color_wheel", "plot_flow_fields", "plot_per_pair", "plot_protocols", "plot_agreement",
    "plot_timenoise_density", "plot_timenoise_mu", "plot_timenoise_samples",
    "plot_init_params", "plot_init_kl", "plot_init_marginals",
    "plot_probe_strips", "plot_probe_curves", "plot_leakage_index", "plot_m_sweep", "plot_sweep_videos", "plot_compare",
    "plot_timenoise_conditioning", "plot_motion_control", "plot_tradeoff", "plot_videos",
    "play", "save_gif", "save_mp4", "tile_frames", "gif_bytes", "sampling_widget", "probe_widget",
]

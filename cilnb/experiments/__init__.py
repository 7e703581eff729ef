"""The paper's experiments as functions the notebooks call (no logic lives in the notebooks).

One module per notebook, plus what they share:

==========================  ===============================================================================
module                      what
==========================  ===============================================================================
``inputs``                  clips, conditional images, the probe's :class:`Bench`, models (via
                            :func:`cilnb.models.load`) and Analytic-Init statistics (via ``MomentStats``)
``readouts``                how a model's videos are read, chosen once per model: :class:`ToyReadout`
                            (sprite tracker) or :class:`FlowReadout` (optical flow); :func:`readout_for`
``run_dirs``                stored videos of a run, the shared sample store (:func:`sample_store_dir`); run hashing
                            (:func:`default_run_dir`, :func:`weights_digest`) lives in ``cilnb.runs``
``agreement``               paired agreement of two samplings of one grid (fewer sampler steps, same read-outs?)
``verdicts``                :class:`Verdict` (claim, holds, reasons), the one type every verdict returns
``probe``                   leakage probe, Fig. 2 / Fig. 5(a) (``notebooks/leakage_probe.ipynb``)
``m_sweep``                 M sweep, Fig. 3(a) / Tables 8-9 (``notebooks/m_sweep.ipynb``)
``timenoise_training``      TimeNoise fine-tuning, Table 1 (``notebooks/timenoise_training.ipynb``)
``motion_control``          motion control, Fig. 1 (``notebooks/motion_control.ipynb``)
``motion_metrics``          the motion scores on a model's videos (``notebooks/motion_metrics.ipynb``)
==========================  ===============================================================================

``cilnb.experiments.motion_control`` is the Fig. 1 function (as before the split); its module is
``sys.modules["cilnb.experiments.motion_control"]`` (``from cilnb.experiments.motion_control import ...`` works).
Figures are drawn by :mod:`cilnb.plotting`. The names notebooks called before the split stay here:
``cilnb.experiments.run_probe`` etc. Deprecated for one release: ``plot_*`` (now
``cilnb.plotting.plot_*``) and ``probe_verdict``, ``sweep_verdict``, ``table1_verdict``,
``motion_control_verdict`` (their old shapes; :mod:`cilnb.experiments.verdicts` returns
:class:`Verdict`).
"""
from __future__ import annotations

import importlib

from . import agreement, inputs, m_sweep, motion_metrics, probe, readouts, run_dirs, timenoise_training, verdicts  # noqa: F401
from .inputs import (TOY_VARIANTS, Bench, check_toy_stats, describe_models, load_models, load_stats, optional_stats, load_toy_models, load_variants, load_toy_variants,
                     load_tuned_variants, prepare_condition, read_clips, reference_videos, timenoise_settings,
                     toy_data, toy_images, toy_motion_label, video_images, with_targets)
from .m_sweep import run_label, sample_grid
from .motion_control import MOTION_COND, motion_control, motion_control_images
from .motion_metrics import agreement_set, measured_pair, model_videos
from .probe import ProbePredictions, probe_bench, probe_times, recommend_start, run_leakage_index, run_probe, toy_bench, video_bench
from .readouts import FlowReadout, SpriteMotion, ToyReadout, flow_motion, motion_readout, readout_for, sprite_speed, sweep_inputs
from .run_dirs import default_run_dir, load_sweep_videos, sample_store_dir, sweep_videos, weights_digest
from .timenoise_training import compare_models, finetune_pair, sample_space, shown_image, timenoise_views
from .verdicts import Verdict, config_name, motion_control_verdict, probe_verdict, sweep_verdict, table1_verdict

__all__ = [
    "Verdict", "Bench", "SpriteMotion", "sprite_speed", "flow_motion", "ToyReadout", "FlowReadout", "readout_for",
    "toy_bench", "video_bench", "probe_bench", "probe_times", "run_probe", "run_leakage_index", "recommend_start", "ProbePredictions",
    "read_clips", "toy_data", "toy_images", "toy_motion_label", "video_images", "with_targets", "reference_videos", "prepare_condition",
    "TOY_VARIANTS", "MOTION_COND", "load_models", "load_variants", "load_toy_models", "load_toy_variants", "load_tuned_variants",
    "describe_models", "load_stats", "check_toy_stats", "optional_stats", "timenoise_settings", "sample_space",
    "sweep_inputs", "motion_readout", "sample_grid", "run_label", "compare_models", "timenoise_views", "shown_image",
    "finetune_pair", "motion_control_images", "motion_control", "model_videos", "measured_pair", "agreement_set",
    "weights_digest", "default_run_dir", "sample_store_dir", "load_sweep_videos", "sweep_videos", "config_name",
    "probe_verdict", "sweep_verdict", "table1_verdict", "motion_control_verdict",
]

# deprecated for one release: the plots live in cilnb.plotting
_PLOTS = {"plot_probe_strips", "plot_probe_curves", "plot_leakage_index", "plot_m_sweep", "plot_sweep_videos", "plot_compare",
          "plot_timenoise_conditioning", "plot_motion_control"}


def __getattr__(name: str):
    if name in _PLOTS:
        return getattr(importlib.import_module("cilnb.plotting"), name)
    raise AttributeError(f"module 'cilnb.experiments' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_PLOTS))

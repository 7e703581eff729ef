"""cilnb: a research companion for conditional image leakage in image-to-video diffusion models.

Notebooks do ``import cilnb as C`` and call the submodules: ``C.schedules``, ``C.timenoise``,
``C.analytic_init``, ``C.denoiser``, ``C.sampling``, ``C.probe``, ``C.data``, ``C.models``,
``C.metrics``, ``C.plotting``, ``C.io``. Submodules load on first use, so ``import cilnb`` stays fast.
``C.sweep``, ``C.stats_cli``, ``C.training`` and ``C.finetune`` are deprecated aliases of
``C.runs``, ``C.stats`` (with ``C.io``), ``C.toy_training`` and ``C.svd_finetune``.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "schedules", "timenoise", "analytic_init", "denoiser", "sampling", "probe", "data", "models",
    "metrics", "plotting", "figures", "widgets", "experiments", "evaluation", "sweep", "stats_cli",
    "finetune", "training", "flowviz", "io", "stats", "runs", "toy_training", "svd_finetune", "commands", "live", "remedies",
    "checks", "tables",
}


_HELPERS = {"data_dir", "repo_root", "run_root", "resolve_device"}  # from cilnb._util, for notebooks


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _HELPERS:
        return getattr(importlib.import_module(f"{__name__}._util"), name)
    raise AttributeError(f"module 'cilnb' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES) + list(_HELPERS))

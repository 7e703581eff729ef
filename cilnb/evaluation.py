"""Deprecated alias (one release) of :mod:`cilnb.metrics.toy_quality`: the toy's feature space and Fréchet distance."""
from __future__ import annotations

from .metrics.toy_quality import __all__, frechet_to_reference, frechet_to_reference_ci, standardised_features, video_features  # noqa: F401

"""Run hashing: which weights and settings made a folder of sampled videos, and reading it back.

A sampling notebook stores its videos in ``<run root>/<kind>_<label>_<hash>``
(:func:`default_run_dir`) through the resumable run store :mod:`cilnb.runs`; the hash covers the
model's weights (:func:`weights_digest`) and every setting a resumed sweep cannot change, so a
retrained model or other settings never reuse stale videos.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

__all__ = ["weights_digest", "default_run_dir", "load_sweep_videos"]


def weights_digest(model) -> str:
    """SHA-256 of a model's parameters and buffers (names, shapes and values): which weights made a result."""
    import hashlib

    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().to("cpu").contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def default_run_dir(kind: str, label: str, model, **settings) -> Path:
    """``<run root>/<kind>_<label>_<hash>`` (:func:`cilnb._util.run_root`: ``$CILNB_RUN_DIR`` or
    ``<repo>/build/runs``): the hash covers the weights and the settings a sweep cannot change on
    resume, so a retrained model or other settings never reuse stale videos. Shown in notebooks/m_sweep.ipynb."""
    import hashlib
    import json

    from .._util import run_root
    from ..runs import NOISE_RULE

    # the sweep's noise rule is part of the key: folders of sweeps seeded another way are never resumed
    key = json.dumps({"weights": weights_digest(model), "noise": NOISE_RULE, **settings}, sort_keys=True, default=str)
    return run_root() / f"{kind}_{label}_{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def load_sweep_videos(out: str | Path, table: pd.DataFrame) -> torch.Tensor:
    """The stored videos of the rows of a :func:`cilnb.runs.run_sweep` table, in row order."""
    from safetensors.torch import load_file

    return torch.stack([load_file(str(Path(out) / f))["video"].float() for f in table["file"]])

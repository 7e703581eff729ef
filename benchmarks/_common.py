"""What the toy benchmarks share: the model they time and a wall clock that waits for the GPU.

Imported as ``from _common import ...``: the scripts run as ``python benchmarks/<name>.py``, which
puts this folder first on ``sys.path``.
"""
from __future__ import annotations

import time
from typing import Callable

import torch

from cilnb.models import toy


def load_toy(device: torch.device) -> tuple[toy.ToyModel, str]:
    """The shipped base toy checkpoint on ``device`` (eval mode), or an untrained toy when this checkout has none; plus which.

    Only a missing checkpoint falls back: a checkpoint that exists but does not load raises (``ValueError``).
    """
    if toy.checkpoint_path("base").is_file():
        return toy.load("base", device=device), "shipped base checkpoint"
    return toy.build().to(device).eval(), "untrained toy (no checkpoint found)"


def elapsed(fn: Callable[[], object], device: torch.device) -> float:
    """Wall-clock seconds of one ``fn()`` call, its GPU work included (CUDA synchronised before and after)."""
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    fn()
    if cuda:
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0

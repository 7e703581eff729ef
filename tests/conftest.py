"""Shared test set-up: seeded RNGs, few threads, headless matplotlib."""
from __future__ import annotations

import os
import random

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_everything():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture
def gen():
    """A fresh seeded CPU generator."""
    g = torch.Generator()
    g.manual_seed(1234)
    return g

"""Shared test set-up: seeded RNGs, few threads, headless matplotlib."""
from __future__ import annotations

import os
import random

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest
import torch

from _tiny import prompt_embeds


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """One torch thread for the whole run: the tests' tensors are tiny, so thread start-up dominates and on a
    shared 2-core machine one thread is faster (e.g. test_models_cogvideox 16 s -> 6 s); restored at the end."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    from cilnb._util import keep_heap

    keep_heap()  # as the CLIs do: no page faults per large tensor (bit-identical results)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True, scope="session")
def _run_dir(tmp_path_factory):
    """Sweeps started by the tests (notebook smoke runs) go to a temporary folder, not the checkout's build/runs;
    the notebooks' kernels inherit the variable."""
    old = os.environ.get("CILNB_RUN_DIR")
    os.environ["CILNB_RUN_DIR"] = str(tmp_path_factory.mktemp("runs"))
    yield
    if old is None:
        os.environ.pop("CILNB_RUN_DIR", None)
    else:
        os.environ["CILNB_RUN_DIR"] = old


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


@pytest.fixture(scope="module")
def embeds():
    """Random ``(prompt_embeds, negative_prompt_embeds)`` ``[1, *_tiny.TXT]``: T5 stand-ins for the tiny transformer pipelines."""
    return prompt_embeds()


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory):
    """A folder of good and bad videos and frame folders (tests/_media.py), made once per test module."""
    from _media import video_folder

    return video_folder(tmp_path_factory.mktemp("videos"))

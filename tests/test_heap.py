"""Freed memory kept in the heap (cilnb._util.keep_heap): the settings, who gets them, and that they remove the
page faults that cost the toy's CPU sampling 20-25 % of its time."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cilnb import _util

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")

# a child allocating and freeing a 64 MiB tensor 100 times; prints keep_heap()'s answer and its minor page faults
CHILD = """
import resource, sys, torch
from cilnb._util import keep_heap
kept = keep_heap()
torch.zeros(1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(100):
    x = torch.ones(16 * 2**20)
    del x
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _child(**env):
    clean = {k: v for k, v in os.environ.items() if not (k.startswith("MALLOC_") or k in ("GLIBC_TUNABLES", "CILNB_KEEP_HEAP"))}
    out = subprocess.run([sys.executable, "-c", CHILD], env={**clean, "OMP_NUM_THREADS": "1", **env},
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0] == "True", int(out[1])


@linux
def test_keep_heap_removes_the_page_faults_of_large_tensors():
    kept, faults = _child()
    off, faults_off = _child(CILNB_KEEP_HEAP="0")
    assert kept and not off
    # 100 x 64 MiB = 1,638,400 pages faulted in afresh by default; kept: a fixed 50,000-131,000 (first tensors)
    assert faults_off > 1_000_000 and faults < faults_off / 4, (faults, faults_off)
    by_env, faults_env = _child(**_util.KEEP_HEAP_ENV)  # a kernel started with the environment form
    assert by_env and faults_env < faults_off / 4, (faults_env, faults_off)


@linux
def test_keep_heap_env_leaves_the_users_malloc_settings_alone():
    assert _util.keep_heap_env({}) == _util.KEEP_HEAP_ENV
    assert _util.keep_heap_env({"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F"}) == _util.KEEP_HEAP_ENV
    assert _util.keep_heap_env({"CILNB_KEEP_HEAP": "0"}) == {}
    assert _util.keep_heap_env({"MALLOC_ARENA_MAX": "2"}) == _util.KEEP_HEAP_ENV  # not a malloc tunable (no trailing _)
    assert _util.keep_heap_env({"MALLOC_ARENA_MAX_": "2"}) == {}
    assert _util.keep_heap_env({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}) == {}
    kept, _ = _child(MALLOC_TOP_PAD_="0")  # the user's own setting: left as it is, and reported as not ours
    assert not kept


def test_figures_kernel_env_sets_and_restores(monkeypatch):
    from cilnb import figures

    for k in _util.KEEP_HEAP_ENV:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.delenv("CILNB_KEEP_HEAP", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    with figures._kernel_env(3):
        assert os.environ["OMP_NUM_THREADS"] == "3"
        if sys.platform.startswith("linux"):
            assert all(os.environ[k] == v for k, v in _util.KEEP_HEAP_ENV.items())
    assert os.environ["OMP_NUM_THREADS"] == "7" and not any(k in os.environ for k in _util.KEEP_HEAP_ENV)
    monkeypatch.setenv("CILNB_KEEP_HEAP", "0")
    with figures._kernel_env():
        assert not any(k in os.environ for k in _util.KEEP_HEAP_ENV) and os.environ["OMP_NUM_THREADS"] == "7"

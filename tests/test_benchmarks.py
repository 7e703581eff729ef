"""The benchmark scripts run (tiny settings) and their two sides compute the same thing.

Timings are not asserted (speed claims live in benchmarks/README.md); what is checked is that each
script still runs against the current package and that the compared results agree.
"""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _number(pattern: str, text: str) -> float:
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not in output:\n{text}"
    return float(m.group(1))


def test_motion_score_benchmark_sides_agree():
    out = _run("motion_score.py", "--arch", "small", "--videos", "2", "--frames", "3", "--size", "128", "136",
               "--iters", "3", "--threads", "1")
    assert _number(r"max \|score diff\|\s*:\s*([0-9.eE+-]+) px", out) < 1e-4
    assert _number(r"max rel ([0-9.eE+-]+)\)", out) < 1e-4
    work = re.search(r"work per pair\s*: loop ([0-9.]+) GFLOP, cilnb ([0-9.]+) GFLOP", out)
    assert work and float(work.group(1)) > float(work.group(2)) > 0, "cilnb must count less work than the loop"
    assert math.isfinite(_number(r"exact-math bound\s*: ~([0-9.]+)x", out))


@pytest.mark.parametrize("script,args,ratio", [
    ("probe.py", ["--videos", "2", "--ts", "2", "--repeats", "1"], r"ratio probe/raw:\s*([0-9.]+)"),
    ("sampling.py", ["--images", "2", "--steps", "2", "--repeats", "1"], r"ratio analytic/standard:\s*([0-9.]+)"),
    ("remedies.py", ["--images", "2", "--steps", "2", "--repeats", "1"], r"freeinit\s+[0-9.]+\s+([0-9.]+)"),
    ("toy_speed.py", ["--batch", "1", "2", "--repeats", "1"], r"work: ([0-9.]+) GFLOP per video"),
])
def test_model_benchmarks_run(script, args, ratio):
    out = _run(script, *args)
    value = _number(ratio, out)
    assert math.isfinite(value) and value > 0


def test_cpu_sampling_benchmark_keeps_videos_bit_identical():
    out = _run("cpu_sampling.py", "--images", "2", "--steps", "2", "--repeats", "1")
    assert "videos bit-identical: True" in out  # freed memory kept changes speed, never the videos
    assert math.isfinite(_number(r"speed-up of memory kept: ([0-9.]+)x", out))
    assert _number(r"bfloat16 videos vs float32: mean \|diff\| ([0-9.]+)", out) < 0.05

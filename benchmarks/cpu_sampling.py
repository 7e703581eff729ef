"""The toy's CPU sampling three ways, side by side in one run: float32 with glibc's default malloc, float32 with
freed memory kept (``cilnb._util.KEEP_HEAP_ENV``, what the CLIs, the figure runner and ``make lab`` use), and
bfloat16 (``toy.load(dtype="bfloat16")``) with freed memory kept.

Each configuration samples the same videos (``toy:N`` images of the shipped base, DPM-Solver++(2M), guided, 1 thread)
in a fresh child process, because glibc reads its malloc settings at start-up; the configurations alternate over
``--repeats`` rounds, so a machine whose load changes slows them alike. Prints per configuration the median seconds,
the child's minor page faults and system time, and a digest of the videos; then the speed-ups against float32 with
the default malloc, whether the kept heap gives bit-identical videos, and how far bfloat16's videos are from float32's.
``python benchmarks/cpu_sampling.py [--images 64] [--steps 15] [--repeats 3]``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import hashlib, json, resource, sys, time, torch
import cilnb as C
from cilnb.experiments.inputs import toy_images
from cilnb.models import toy
images, steps, dtype, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
torch.set_num_threads(1)
model = toy.load("base", device="cpu", dtype=dtype) if toy.checkpoint_path("base").is_file() else toy.build()
y = toy_images(images, 0, model).images
before = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
v = C.sampling.sample(model, y, n_steps=steps, sampler="dpm++2m", seed=list(range(images)), show_progress=False)
sec = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_SELF)
torch.save(v, out)
print(json.dumps({"seconds": sec, "faults": after.ru_minflt - before.ru_minflt, "sys": after.ru_stime - before.ru_stime,
                  "digest": hashlib.sha256(v.numpy().tobytes()).hexdigest()[:16]}))
"""

CONFIGS = {  # name -> (toy dtype, keep freed memory)
    "float32, default malloc": ("float32", False),
    "float32, memory kept": ("float32", True),
    "bfloat16, memory kept": ("bfloat16", True),
}


def child_env(keep: bool) -> dict:
    """The child's environment: malloc as glibc sets it by default, or :data:`cilnb._util.KEEP_HEAP_ENV`."""
    from cilnb._util import KEEP_HEAP_ENV

    env = {k: v for k, v in os.environ.items() if not (k.startswith("MALLOC_") or k in ("GLIBC_TUNABLES", "CILNB_KEEP_HEAP"))}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    if keep:
        env.update(KEEP_HEAP_ENV)
    else:
        env["CILNB_KEEP_HEAP"] = "0"
    return env


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=64, help="videos sampled per run (one guided batch)")
    ap.add_argument("--steps", type=int, default=15, help="DPM-Solver++(2M) steps")
    ap.add_argument("--repeats", type=int, default=3, help="alternating rounds")
    args = ap.parse_args(argv)
    if min(args.images, args.steps, args.repeats) < 1:
        raise SystemExit("--images, --steps and --repeats must be positive")
    import torch

    runs: dict[str, list[dict]] = {k: [] for k in CONFIGS}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for name, (dtype, keep) in CONFIGS.items():
                out = Path(tmp) / f"{dtype}_{keep}.pt"
                proc = subprocess.run([sys.executable, "-c", CHILD, str(args.images), str(args.steps), dtype, str(out)],
                                      env=child_env(keep), capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    raise SystemExit(f"{name}: the child failed:\n{proc.stderr[-2000:]}")
                runs[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
                print(f"round {r + 1}: {name:<26} {runs[name][-1]['seconds']:7.2f} s", flush=True)
        videos = {name: torch.load(Path(tmp) / f"{dtype}_{keep}.pt", weights_only=True) for name, (dtype, keep) in CONFIGS.items()}
    print(f"\n{args.images} videos x {args.steps} DPM-Solver++(2M) steps, guided, 1 thread; medians of {args.repeats} rounds")
    print(f"{'configuration':<26} {'seconds':>8} {'minor faults':>13} {'sys s':>7}  digest")
    med = {}
    for name, rows in runs.items():
        med[name] = statistics.median(x["seconds"] for x in rows)
        print(f"{name:<26} {med[name]:8.2f} {int(statistics.median(x['faults'] for x in rows)):13d} "
              f"{statistics.median(x['sys'] for x in rows):7.2f}  {rows[-1]['digest']}")
    base = med["float32, default malloc"]
    kept, bf = med["float32, memory kept"], med["bfloat16, memory kept"]
    same = len({x["digest"] for name in ("float32, default malloc", "float32, memory kept") for x in runs[name]}) == 1
    print(f"speed-up of memory kept: {base / kept:.2f}x (videos bit-identical: {same})")
    print(f"speed-up of bfloat16 (memory kept) over float32 (memory kept): {kept / bf:.2f}x; over the default: {base / bf:.2f}x")
    diff = (videos["bfloat16, memory kept"] - videos["float32, memory kept"]).abs()
    print(f"bfloat16 videos vs float32: mean |diff| {float(diff.mean()):.4f}, max {float(diff.max()):.3f} (videos in [-1, 1])")


if __name__ == "__main__":
    main()

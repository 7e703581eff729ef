"""Could one network pass per step replace guidance's two? A feasibility study of guidance distillation on the toy.

The shipped toy samples with image guidance (frame-wise 1 -> 3, SVD's default): two network passes per sampler step,
which is half of every sampling notebook's time. Guidance distillation (Meng et al., CVPR 2023) trains a student of
the same architecture, started from the teacher's weights, to output the teacher's *guided* prediction in one pass:
``student(x_t, t, y, motion) ~ u + w (c - u)`` with ``u, c`` the teacher's unconditional and conditional outputs.

This script distils the shipped ``base`` toy for ``--steps`` Adam steps on fresh toy training clips (noised at
uniform DDPM times; motion labels given on half of the clips, the null motion on the other half, as the notebooks
sample both ways), then samples ``--images`` images of data seed 0 with the teacher (guided, 2 passes per step)
and the student (unguided, 1 pass per step) from the same noise, with the notebooks' sampler (DPM-Solver++(3M),
10 steps), at M = T (standard noise) and M = 0.7 T (Analytic-Init), and prints for each read-out the paired
difference student - teacher against the teacher cell's standard error (the step test's 1-s.e. rule,
benchmarks/README.md). Nothing is shipped from it: a distilled toy would be another model whose every verdict
must be re-derived. ``python benchmarks/guidance_distill.py [--steps 1500] [--batch 16] [--images 64] [--out build/distill] [--init CKPT --seed 1]``.
"""
from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import torch

import cilnb as C
from cilnb import data as D
from cilnb._util import progress
from cilnb.models import toy
from cilnb.toy_training import make_generator, sample_train_t


def teacher_target(teacher: toy.ToyModel, x_t, t, y, motion):
    """The teacher's guided network output (v), its default guidance; ``motion`` None rows use the null motion."""
    return teacher.raw_output(x_t, t, y=y, motion=motion)


def distil(teacher: toy.ToyModel, steps: int, batch: int, lr: float, seed: int, init=None) -> tuple[torch.nn.Module, list[float]]:
    """``steps`` Adam steps of the student (a copy of the teacher's network, or of ``init``'s: a student to continue)."""
    student = copy.deepcopy((init or teacher).net).train().requires_grad_(True)
    opt = torch.optim.Adam(student.parameters(), lr=lr)
    sched = teacher.schedule
    cfg = teacher.data_config
    g_data, g = make_generator(2 * seed), make_generator(2 * seed + 1)
    losses = []
    for _ in progress(range(steps), desc="distil", unit="step"):
        sv = D.generate(batch, g_data, config=cfg, flow=True)
        x0, y = sv.videos, sv.condition
        t = sample_train_t(batch, sched, g, "uniform")
        eps = torch.randn(x0.shape, generator=g)
        a, s = sched.broadcast(t, x0)
        x_t = a * x0 + s * eps
        half = batch // 2  # first half with the clip's motion label, second half with the null motion
        label = D.flow_score(sv.flow).float()
        with torch.no_grad():
            target = torch.cat([teacher_target(teacher, x_t[:half], t[:half], y[:half], label[:half]),
                                teacher_target(teacher, x_t[half:], t[half:], y[half:], None)])
        tt = t.float()
        pred = torch.cat([student(x_t[:half], tt[:half], y=y[:half], motion=label[:half]),
                          student(x_t[half:], tt[half:], y=y[half:], motion=None)])
        loss = torch.mean((pred - target) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    return student.eval().requires_grad_(False), losses


def readouts(videos: torch.Tensor, y: torch.Tensor) -> dict[str, np.ndarray]:
    """The step test's per-video read-outs: sprite speed (NaN where no sprite is found) and frame-0 PSNR to ``y``."""
    from cilnb.experiments import sprite_speed
    from cilnb.metrics import align_psnr

    return {"motion (px/frame)": sprite_speed(videos), "frame-0 PSNR (dB)": align_psnr(videos, y).numpy()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--out", default="build/distill")
    ap.add_argument("--init", default=None, help="continue from a student checkpoint of an earlier run (its data stream restarts: use another --seed)")
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    teacher = toy.load("base", device="cpu")
    t0 = time.perf_counter()
    init = toy.load_checkpoint(args.init) if args.init else None
    student_net, losses = distil(teacher, args.steps, args.batch, args.lr, args.seed, init)
    train_s = time.perf_counter() - t0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    toy.save_checkpoint(out / "student.safetensors", student_net, {**teacher.meta, "distilled_from": "base",
                          "distill_steps": args.steps + int((init.meta if init else {}).get("distill_steps", 0))})
    k = max(1, len(losses) // 10)
    print(f"distilled {args.steps} steps x {args.batch} clips in {train_s:.0f} s; loss (mean of tenths): "
          + ", ".join(f"{np.mean(losses[i:i + k]):.4f}" for i in range(0, len(losses), k)))
    student = toy.ToyModel(student_net, teacher.meta, guidance=None)
    stats, _ = C.experiments.load_stats("toy", "")
    images, _ = C.experiments.sweep_inputs("toy", n_images=args.images, seed=0, n_reference=0)
    y = images.images
    seeds = list(range(len(y)))
    torch.set_grad_enabled(False)
    for M, init in ((1.0, "standard"), (0.7, "analytic")):
        outs, secs = {}, {}
        for name, model in (("teacher", teacher), ("student", student)):
            t1 = time.perf_counter()
            outs[name] = C.sampling.sample(model, y, n_steps=10, sampler="dpm++3m", start=M, init=init, stats=stats,
                                           seed=seeds, batch_size=64, show_progress=False)
            secs[name] = time.perf_counter() - t1
        ra, rb = readouts(outs["teacher"], y), readouts(outs["student"], y)
        print(f"\nM = {M:g} T, {init} noise: teacher {secs['teacher']:.1f} s, student {secs['student']:.1f} s "
              f"({secs['teacher'] / secs['student']:.2f}x); max |video difference| {float((outs['teacher'] - outs['student']).abs().max()):.3f}")
        for key in ra:
            a, b = ra[key], rb[key]
            ok = np.isfinite(a) & np.isfinite(b)
            se = np.nanstd(a, ddof=1) / np.sqrt(np.isfinite(a).sum())
            d = b[ok] - a[ok]
            print(f"  {key:<18} teacher {np.nanmean(a):.3f} +- {se:.3f} (s.e.), student {np.nanmean(b):.3f}; "
                  f"paired diff {d.mean():+.3f} +- {d.std(ddof=1) / np.sqrt(len(d)):.3f}; |diff| / s.e. {abs(d.mean()) / se:.2f}")


if __name__ == "__main__":
    main()

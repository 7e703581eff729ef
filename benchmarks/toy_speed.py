"""The toy's achieved GFLOP/s against a plain matmul on the same machine, in one run (issue 14: "goal: at least half").

Counts the work of one network call with ``torch.utils.flop_counter`` (multiply-adds x 2) and times,
per thread count and batch size (videos per call), three things in alternating rounds in the same
process: the toy's old forward (the frozen reference in ``tests/_toy_reference.py``: contiguous
NCHW, frames reshaped for the temporal layers, unfused scale-shift), its current forward
(``ToyUNet.forward``: channels-last, fused), and a 2048x2048 float32 matmul, the machine's reference
rate; and the convolutions of the current forward alone, replayed on their recorded inputs
(``conv/mm``: the ceiling for this op mix, as 95 % of the work is convolution; ``conv time``: their
share of the forward's time). GFLOP/s count each side's own work: the current forward computes the same
function with 11 % fewer multiply-adds (the up blocks' upsampling folded into their convolutions). Medians over ``--repeats`` rounds, so a shared, loaded machine slows
them alike. Prints the work split by op, s/call of old and new, the speed-up, GFLOP/s and the ratio
to the matmul;
``--compile`` adds ``torch.compile`` of the current forward (inductor, C++ codegen; slow to compile).
``python benchmarks/toy_speed.py [--batch 1 8 32] [--threads 1 2] [--repeats 5] [--compile]``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from _common import add_common_args, elapsed, setup

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _toy_reference import reference_forward  # noqa: E402  (the frozen old forward)

MATMUL_N = 2048


def count_flops(fn) -> tuple[float, dict[str, float]]:
    """``(GFLOP, {op: share})`` of one call of ``fn`` (no grad)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn()
    total = counter.get_total_flops()
    shares = {str(op).replace("aten.", ""): n / total for op, n in counter.get_flop_counts()["Global"].items()}
    return total / 1e9, shares


def rounds(fns: dict, repeats: int, device) -> dict[str, float]:
    """Median seconds per call of each callable, timed in alternating rounds (after one warm-up call each)."""
    for f in fns.values():
        f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            times[k].append(elapsed(f, device))
    return {k: statistics.median(v) for k, v in times.items()}


class _ConvRecorder(torch.overrides.TorchFunctionMode):
    """Records every ``conv2d`` call (module or functional: the inference path calls ``Fn.conv2d`` on weight slices)
    with a copy of its arguments."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.nn.functional.conv2d, torch.conv2d):
            self.calls.append(((args[0].clone(memory_format=torch.preserve_format), *args[1:]), dict(kwargs)))
        return func(*args, **kwargs)


def conv_replay(net, call):
    """A callable that reruns only the convolutions of one ``call()`` on their recorded inputs, and their GFLOP.

    Its rate is what the forward could reach if everything but the convolutions were free: an
    upper bound for this op mix with these kernels.
    """
    rec = _ConvRecorder()
    with torch.no_grad(), rec:
        call()
    seen = rec.calls

    def replay():
        for args, kwargs in seen:
            torch.nn.functional.conv2d(*args, **kwargs)

    gflop, _ = count_flops(replay)
    return replay, gflop


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8, 32], help="videos per network call")
    ap.add_argument("--threads", type=int, nargs="+", default=[torch.get_num_threads()], help="CPU thread counts to try")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile of the current forward (minutes to compile on 2 cores)")
    ap.add_argument("--no-reference", action="store_true", help="skip the old forward")
    args = ap.parse_args(argv)
    device, model, what = setup(args)
    if args.model != "toy":
        raise SystemExit("toy_speed.py measures the built-in toy (--model toy)")
    net = model.net
    cfg = net.config
    print(f"model: {what}; device {device}; videos [{cfg.frames}, {cfg.channels}, {cfg.size}, {cfg.size}]")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, cfg.frames, cfg.channels, cfg.size, cfg.size, generator=gen).to(device)
    y = x[:, 0].clamp(-1, 1)
    t = torch.full((1,), 0.5, device=device)
    gflop, shares = count_flops(lambda: net(x, t, y=y))
    gflop_old, _ = count_flops(lambda: reference_forward(net, x, t, y=y))
    print(f"work: {gflop:.3f} GFLOP per video per denoiser call (old forward {gflop_old:.3f}: y's stem ran per frame, "
          "the up blocks convolved the upsampled images)")
    print("work by op: " + ", ".join(f"{op} {s:.1%}" for op, s in sorted(shares.items(), key=lambda kv: -kv[1])))
    with torch.no_grad():
        err = float((net(x, t, y=y) - reference_forward(net, x, t, y=y)).abs().max())
    print(f"max |new - old| on one video: {err:.2e}")
    a = torch.randn(MATMUL_N, MATMUL_N, device=device)
    b = torch.randn(MATMUL_N, MATMUL_N, device=device)
    compiled = None
    if args.compile:
        import torch._inductor.config as inductor_config

        inductor_config.freezing = True  # weights as constants: oneDNN weight prepacking and conv fusions
        compiled = torch.compile(net, dynamic=False)
    cols = ["threads", "batch", "old s", "new s", "speed-up", "old GF/s", "new GF/s", "mm GF/s", "old/mm", "new/mm", "conv/mm", "conv time"]
    if compiled is not None:
        cols += ["comp s", "comp/mm"]
    print(" ".join(f"{c:>9}" for c in cols))
    for th in args.threads:
        if device.type == "cpu":
            torch.set_num_threads(th)
        for bsz in args.batch:
            xb, yb, tb = x.expand(bsz, -1, -1, -1, -1).contiguous(), y.expand(bsz, -1, -1, -1).contiguous(), t.expand(bsz)
            convs, conv_gflop = conv_replay(net, lambda: net(xb, tb, y=yb))
            fns = {"new": lambda: net(xb, tb, y=yb), "mm": lambda: a @ b, "conv": convs}
            if not args.no_reference:
                fns["old"] = lambda: reference_forward(net, xb, tb, y=yb)
            if compiled is not None:
                t0 = time.perf_counter()
                with torch.no_grad():
                    compiled(xb, tb, y=yb)
                print(f"(torch.compile for batch {bsz}: {time.perf_counter() - t0:.1f} s)")
                fns["comp"] = lambda: compiled(xb, tb, y=yb)
            with torch.no_grad():
                sec = rounds(fns, args.repeats, device)
            mm = 2 * MATMUL_N**3 / sec["mm"] / 1e9
            new = gflop * bsz / sec["new"]
            old_s = sec.get("old", float("nan"))
            old = gflop_old * bsz / old_s
            row = [th, bsz, f"{old_s:.4f}", f"{sec['new']:.4f}", f"{old_s / sec['new']:.2f}", f"{old:.1f}", f"{new:.1f}", f"{mm:.1f}", f"{old / mm:.2f}", f"{new / mm:.2f}",
                   f"{conv_gflop / sec['conv'] / mm:.2f}", f"{sec['conv'] / sec['new']:.0%}"]
            if compiled is not None:
                row += [f"{sec['comp']:.4f}", f"{gflop * bsz / sec['comp'] / mm:.2f}"]
            print(" ".join(f"{c:>9}" for c in row), flush=True)


if __name__ == "__main__":
    main()

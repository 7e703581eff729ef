"""RAFT motion score: cilnb's batched scoring vs an official-style loop, same videos, same model, one run.

Official style (thu-ml/cond-image-leakage ``motion_score_flow``): one video at a time, one
``FlowModel(f[:-1], f[1:], iters=20)`` call per video (here torchvision's RAFT forward, which also
upsamples the flow after every update), spatial mean magnitude per pair. cilnb:
``cilnb.metrics.motion_score(..., method="raft")``: all pairs of all videos in batches of
``--batch-size`` pairs (default: motion_score's automatic choice), each frame through the feature
encoder once per batch, one upsampling at the end, the context's share of the recurrent unit computed
once. Both resize to ``--size`` and pad to
multiples of 8 the same way. Prints both times, the ratio and the largest score difference.

It also prints a roofline: the floating-point operations each side does per pair (counted by
``torch.utils.flop_counter`` on the first video), the rate each side achieved, and the rate of the
model's largest convolution alone on the same activations (what this machine sustains at best). The
speed-up any exact float32 implementation could reach is about (work ratio) x (ceiling / loop rate).

Without ``--weights`` (and no file in the torch hub cache) RAFT is randomly initialised: the timing is
the same and both sides still compute identical functions (a note is printed).

Usage: ``python benchmarks/motion_score.py [--device cuda] [--videos 4] [--frames 8] [--size 128 224]``.
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from cilnb import metrics as M
from cilnb._util import resolve_device
from cilnb.metrics import flow as flowmod

from _common import elapsed


def official_style(model, videos: torch.Tensor, size, iters: int, device: torch.device) -> torch.Tensor:
    """Per-pair spatial mean magnitudes ``[B, F-1]``: one forward call per video, as the official loop."""
    out = []
    with torch.inference_mode():
        for video in videos:  # [F, C, H, W] in [0, 1]
            f = F.interpolate(video.to(device).float(), size=size, mode="bilinear", align_corners=False, antialias=True)
            f, (pl, pr, pt, pb) = flowmod._pad8(f * 2 - 1)
            flows = model(f[:-1], f[1:], num_flow_updates=iters)[-1]
            flows = flows[:, :, pt:pt + size[0], pl:pl + size[1]]
            out.append(torch.linalg.vector_norm(flows, dim=1).double().mean((1, 2)).cpu())
    return torch.stack(out)


def count_flops(fn) -> int:
    """Floating-point operations (matmuls and convolutions) of one call, counted by torch's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def conv_ceiling(model, n_pairs: int, size, device: torch.device, repeats: int = 5) -> float:
    """FLOP/s of the update block's largest convolution alone, on one batch of activations at 1/8 size."""
    conv = max((m for m in model.update_block.modules() if isinstance(m, torch.nn.Conv2d)),
               key=lambda m: m.weight.numel())
    h, w = (-(-s // 8) for s in size)
    x = torch.randn(n_pairs, conv.in_channels, h, w, device=device)
    with torch.inference_mode():
        flops = count_flops(lambda: conv(x))
        conv(x)
        return flops / min(elapsed(lambda: conv(x), device) for _ in range(repeats))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--arch", default="large", choices=["large", "small"])
    ap.add_argument("--weights", default="", help="RAFT state dict (default: torch hub cache, else random init)")
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, nargs=2, default=[128, 224], metavar=("H", "W"),
                    help="frame size scored (the SVD protocol: 450 800)")
    ap.add_argument("--iters", type=int, default=20, help="RAFT flow updates (official: 20)")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="pairs per batch for cilnb (default: automatic, as motion_score's batch_size=None)")
    ap.add_argument("--distinct", type=int, default=4, help="distinct synthetic videos drawn (repeated up to --videos; ~9 s each at 450x800)")
    ap.add_argument("--repeats", type=int, default=1, help="timed runs per side (best is reported)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave torch's default)")
    args = ap.parse_args(argv)
    if args.distinct < 1 or args.videos < 1:
        ap.error("--videos and --distinct must be >= 1")

    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        model = M.load_raft(args.arch, args.weights or None, device)
        which = f"weights {M.raft_weights_path(args.arch, args.weights or None)}"
    except FileNotFoundError:
        from torchvision.models.optical_flow import raft_large, raft_small

        torch.manual_seed(0)
        model = (raft_large if args.arch == "large" else raft_small)(weights=None).eval().to(device)
        which = "RANDOM weights (no weight file found: timing and batched-vs-loop agreement are still valid)"
    size = tuple(args.size)
    # at most --distinct textured videos are drawn (each costs seconds on the CPU at 450x800) and repeated up to --videos:
    # RAFT's work does not depend on which frames it gets, and both sides see the same set
    speeds = torch.linspace(0.5, 3.0, min(args.distinct, args.videos)).tolist()
    drawn, _, _ = M.synthetic_motion_set(speeds, None, n_frames=args.frames, size=size, seed=0)
    videos = drawn[torch.arange(args.videos) % drawn.shape[0]]
    n_pairs = args.videos * (args.frames - 1)
    batch = flowmod.pairs_per_batch(args.batch_size, size, "raft", device)
    print(f"device {device} ({torch.get_num_threads()} CPU threads), raft_{args.arch}, {which}")
    print(f"{args.videos} videos x {args.frames} frames at {size[0]}x{size[1]} = {n_pairs} pairs, {args.iters} updates, "
          f"cilnb batches of {batch} pairs")

    def batched(v=videos):
        return M.motion_score(v, "raft", reduce="mean", resize=size, flow_model=model, num_flow_updates=args.iters,
                              batch_size=args.batch_size, device=device, show_progress=False).per_pair

    def loop(v=videos):
        return official_style(model, v, size, args.iters, device)

    # warm-up (kernels, allocator) on one video each
    M.motion_score(videos[:1, :2], "raft", resize=size, flow_model=model, num_flow_updates=1, device=device,
                   show_progress=False)
    official_style(model, videos[:1, :2], size, 1, device)

    res, t_loop, t_batch = {}, [], []
    for _ in range(args.repeats):
        t_loop.append(elapsed(lambda: res.update(ref=loop()), device))
        t_batch.append(elapsed(lambda: res.update(got=batched()), device))
    tl, tb, ref, got = min(t_loop), min(t_batch), res["ref"], res["got"]
    # work per pair, counted on the first video (both sides scale linearly in the number of videos)
    f_loop = count_flops(lambda: loop(videos[:1])) / (args.frames - 1)
    f_batch = count_flops(lambda: batched(videos[:1])) / (args.frames - 1)
    r_loop, r_batch = f_loop * n_pairs / tl, f_batch * n_pairs / tb
    ceiling = conv_ceiling(model, min(batch, n_pairs), size, device)
    diff = (got - ref).abs()
    rel = float((diff / ref.abs().clamp(min=1e-12)).max())
    score_diff = float((got.mean(1) - ref.mean(1)).abs().max())
    print(f"official-style loop : {tl:8.2f} s  ({1e3 * tl / n_pairs:7.1f} ms/pair)")
    print(f"cilnb batched       : {tb:8.2f} s  ({1e3 * tb / n_pairs:7.1f} ms/pair)")
    print(f"speed-up            : {tl / tb:8.2f}x")
    print(f"max |score diff|    : {score_diff:.3g} px (per-pair max abs {float(diff.max()):.3g}, max rel {rel:.3g})")
    print(f"work per pair       : loop {f_loop / 1e9:.1f} GFLOP, cilnb {f_batch / 1e9:.1f} GFLOP "
          f"(ratio {f_loop / f_batch:.2f})")
    print(f"achieved rate       : loop {r_loop / 1e9:.0f} GFLOP/s, cilnb {r_batch / 1e9:.0f} GFLOP/s; "
          f"largest conv alone {ceiling / 1e9:.0f} GFLOP/s")
    print(f"exact-math bound    : ~{f_loop / f_batch * ceiling / r_loop:.2f}x (work ratio x ceiling / loop rate)")


if __name__ == "__main__":
    main()

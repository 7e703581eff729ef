"""What the benchmarks share: the model they time, its inputs, and a wall clock that waits for the GPU.

Imported as ``from _common import ...``: the scripts run as ``python benchmarks/<name>.py``, which
puts this folder first on ``sys.path``. Models: the shipped toy (default), any ``cilnb.models.load``
name with ``--model-path``, or ``--model tiny-svd``: the random-weight SVD pipeline of the test
suite (``tests/_tiny.py``) at ``--size``, for timing the adapter path without weights.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
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


def add_common_args(ap: argparse.ArgumentParser) -> None:
    """The options every benchmark takes: device, repeats, and which model at which size."""
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default="toy", help="toy (default), tiny-svd, or a cilnb.models.load name (svd, pia, ...)")
    ap.add_argument("--model-path", default=None, help="weights folder or cached hub id for real models")
    ap.add_argument("--size", default="64x64", help="HxW of the videos for tiny-svd and real models")
    ap.add_argument("--frames", type=int, default=4, help="frames for tiny-svd (real models: their default)")


def setup(args) -> tuple[torch.device, torch.nn.Module, str]:
    """``(device, model, description)`` for the parsed :func:`add_common_args` options."""
    from cilnb._util import resolve_device

    device = resolve_device(args.device)
    return (device, *load_model(args, device))


def load_model(args, device: torch.device):
    """``(model, description)`` for ``--model``."""
    if args.model == "toy":
        return load_toy(device)
    from cilnb.io import parse_size

    h, w = parse_size(args.size)
    if args.model == "tiny-svd":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from _tiny import tiny_svd_pipeline

        from cilnb.models import svd

        if h != w:
            raise ValueError("tiny-svd is square: pass --size NxN")
        pipe = tiny_svd_pipeline(frames=args.frames, px=h)
        return svd.from_pipeline(pipe, n_frames=args.frames).to(device).eval(), f"tiny random-weight SVD ({h}x{w}, {args.frames} frames)"
    from cilnb import models

    return models.load(args.model, args.model_path, device=device), f"{args.model} from {args.model_path or 'its default hub id'}"


def make_inputs(model, n: int, size, device: torch.device, seed: int = 0):
    """``(x0, cond)``: ``n`` moving-sprite videos in the model's sample space (latents for latent models,
    encoded by its VAE; ``size`` and RGB there) and their conditioning (a :class:`cilnb.denoiser.Cond`:
    the conditional input ``y`` and the model's extras)."""
    from cilnb import data
    from cilnb.denoiser import Cond
    from cilnb.experiments import prepare_condition
    from cilnb.io import parse_size
    from cilnb.stats import encoder_for

    encode, channels, _, space = encoder_for(model)
    if space == "pixel":
        vids = data.generate(n, seed=seed).videos.to(device)
        return vids, Cond(vids[:, 0])
    h, w = parse_size(size)
    frames = getattr(model, "n_frames", None) or 4
    vids = data.generate(n, seed=seed, frames=frames, size=max(h, w), flow=False).videos[..., :h, :w].repeat(1, 1, 3, 1, 1)
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        x0 = encode(vids.to(device, dtype)).float()
    cond = prepare_condition(model, vids[:, 0].to(device, dtype), seed)
    return x0, Cond.of(cond)


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

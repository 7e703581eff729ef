"""``python -m cilnb finetune``: TimeNoise (or naive) fine-tuning of SVD (:func:`cilnb.svd_finetune.finetune`)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import finite_float, nonneg_float, nonneg_int, path_arg, positive_float, positive_int, size_hw, unit_interval


def run(args: argparse.Namespace) -> int:
    import torch
    from accelerate import Accelerator

    from ..svd_finetune import FinetuneConfig, check_clips, finetune
    from .._util import UserError, check_output_path
    from .common import check_videos_folder, load_model

    check_output_path(args.out, option="--out", folder=True)
    if args.model != "svd":
        raise UserError(f"finetune supports --model svd (the paper's diffusers model), got {args.model!r}")
    given = [opt for opt, v in (("--a", args.a), ("--beta-m", args.beta_m)) if v is not None]
    if args.naive and given:  # the naive baseline draws no TimeNoise: the values would be ignored
        raise UserError(f"{' and '.join(given)} {'set' if len(given) > 1 else 'sets'} TimeNoise, which --naive does not draw: "
                        f"drop {' and '.join(given)} or --naive")
    if args.device == "cuda" and not torch.cuda.is_available():  # accelerate fell back to the CPU without a word
        raise UserError("--device cuda, but CUDA is not available on this machine: pass --device cpu (or auto), or run where "
                        "torch sees a GPU")
    check_videos_folder(args.videos)  # before the model loads (minutes for SVD)
    d = FinetuneConfig.__dataclass_fields__
    cfg = FinetuneConfig(
        timenoise=not args.naive, a=d["a"].default if args.a is None else args.a,
        beta_m=d["beta_m"].default if args.beta_m is None else args.beta_m, P_mean=args.P_mean, P_std=args.P_std,
        motion_bucket_id=args.motion_bucket_id, fps_id=args.fps_id, cond_drop=args.cond_drop, lr=args.lr,
        weight_decay=args.weight_decay, max_grad_norm=args.max_grad_norm, batch_size=args.batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps, max_steps=args.max_steps,
        checkpoint_every=args.checkpoint_every, keep_checkpoints=args.keep_checkpoints, seed=args.seed, frames=args.frames, size=args.size, stride=args.stride,
        fps=args.fps, gradient_checkpointing=args.gradient_checkpointing, mixed_precision=args.mixed_precision, workers=args.workers,
    )
    check_clips(args.videos, cfg)  # a folder of videos all too short for --frames: refused now, not after the model loaded
    accelerator = Accelerator(gradient_accumulation_steps=cfg.gradient_accumulation_steps, mixed_precision=cfg.mixed_precision,
                              cpu=args.device == "cpu")
    adapter = load_model("svd", args.model_path, device=accelerator.device, dtype=torch.float32, quiet=args.quiet)
    res = finetune(adapter, args.videos, args.out, config=cfg, resume=not args.no_resume, show_progress=not args.quiet, accelerator=accelerator)
    if accelerator.is_main_process:
        print(f"finetune ({'TimeNoise' if cfg.timenoise else 'naive'}): step {res.step}/{cfg.max_steps} (resumed from {res.resumed_from}); "
              f"checkpoint {res.checkpoint}; UNet (diffusers folder) in {Path(args.out) / 'unet'}")
    return 0


def add_parser(sub) -> None:
    """Register ``python -m cilnb finetune``."""
    from ..svd_finetune import FinetuneConfig  # no torch at import

    d = FinetuneConfig.__dataclass_fields__
    p = sub.add_parser(
        "finetune",
        help="TimeNoise (or naive) fine-tuning of SVD through accelerate; resumable",
        description="Fine-tune SVD's UNet with TimeNoise on the conditional latent (Eq. 6, Alg. 2) or the naive "
        "baseline; `accelerate launch -m cilnb finetune ...` for many GPUs.",
    )
    p.add_argument("--model", default="svd", help="only svd")
    p.add_argument("--model-path", type=path_arg, required=True, help="local SVD pipeline folder (or a cached hub id)")
    p.add_argument("--videos", type=path_arg, required=True, help="folder of training videos")
    p.add_argument("--out", type=path_arg, required=True, help="output folder (checkpoints, log.jsonl, unet/)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--timenoise", action="store_true", help="TimeNoise on the conditional latent (default)")
    g.add_argument("--naive", action="store_true", help="the naive baseline: SVD's log-normal pixel noise augmentation")
    p.add_argument("--beta-m", type=positive_float, default=None,
                   help=f"TimeNoise beta_m (default {d['beta_m'].default:g}: official SVD config; the paper says 100)")
    p.add_argument("--a", type=positive_float, default=None, help=f"TimeNoise mu(t) = 2 t^a - 1 exponent (default {d['a'].default:g})")
    p.add_argument("--P-mean", type=finite_float, default=d["P_mean"].default, help="EDM log-normal mean of log sigma")
    p.add_argument("--P-std", type=positive_float, default=d["P_std"].default, help="EDM log-normal std of log sigma")
    p.add_argument("--motion-bucket-id", type=finite_float, default=d["motion_bucket_id"].default, help="fixed motion bucket (paper: 20)")
    p.add_argument("--fps-id", type=finite_float, default=d["fps_id"].default, help="fps micro-condition fed to the UNet (official: 3)")
    p.add_argument("--cond-drop", type=unit_interval, default=d["cond_drop"].default, help="classifier-free dropout probability")
    p.add_argument("--frames", type=positive_int, default=d["frames"].default, help="frames per clip")
    p.add_argument("--size", type=size_hw, default="320x512", help="HxW of the clips")
    g2 = p.add_mutually_exclusive_group()
    g2.add_argument("--stride", type=positive_int, default=None, help="take every s-th frame")
    g2.add_argument("--fps", type=positive_float, default=None, help="sample clips at this frame rate (official: 3)")
    p.add_argument("--lr", type=positive_float, default=d["lr"].default, help="AdamW learning rate (paper: 3e-5 for SVD)")
    p.add_argument("--weight-decay", type=nonneg_float, default=d["weight_decay"].default, help="AdamW weight decay")
    p.add_argument("--max-grad-norm", type=nonneg_float, default=d["max_grad_norm"].default, help="gradient clipping (0: off)")
    p.add_argument("--batch-size", type=positive_int, default=d["batch_size"].default, help="videos per process per micro-step")
    p.add_argument("--gradient-accumulation-steps", type=positive_int, default=1)
    p.add_argument("--max-steps", type=positive_int, default=d["max_steps"].default, help="optimiser steps in total (resumed runs continue to this)")
    p.add_argument("--checkpoint-every", type=positive_int, default=d["checkpoint_every"].default, help="steps between checkpoints")
    p.add_argument("--keep-checkpoints", type=nonneg_int, default=d["keep_checkpoints"].default, help="newest checkpoints kept (0: all)")
    p.add_argument("--seed", type=nonneg_int, default=d["seed"].default)
    p.add_argument("--gradient-checkpointing", action="store_true", help="trade compute for memory in the UNet")
    p.add_argument("--mixed-precision", default="no", choices=["no", "fp16", "bf16"])
    p.add_argument("--workers", type=nonneg_int, default=0, help="DataLoader workers decoding videos")
    p.add_argument("--no-resume", action="store_true", help="start over: remove this folder's earlier checkpoints and unet/ first")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="auto or cuda (accelerate's choice: the GPUs of `accelerate launch`) | cpu")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)

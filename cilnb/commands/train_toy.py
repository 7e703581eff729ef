"""``python -m cilnb train-toy``: train the toy I2V model or fine-tune it (:func:`cilnb.toy_training.train`)."""
from __future__ import annotations

import argparse
import dataclasses

from .common import file_path_arg, finite_float, int_list, nonneg_float, nonneg_int, path_arg, positive_float, positive_int, probability, unit_interval

# cilnb.toy_training.VARIANTS and cilnb.models.toy.TEMPORAL_KINDS, kept here so --help imports no torch
# (tests/test_commands.py checks they agree)
VARIANTS = ("base", "naive", "timenoise")
TEMPORAL_KINDS = ("none", "conv", "attn", "conv+attn")


def _recipe_options(args: argparse.Namespace) -> dict:
    """The issue-11 TrainConfig fields (recipe and data options) given on the command line.

    Options not given are left out: a base run then uses the defaults, a fine-tune its ``--init``
    checkpoint's recorded recipe and data (:class:`cilnb.toy_training.TrainConfig`)."""
    from ..data import SpriteConfig

    kw = {k: getattr(args, k) for k in ("image_dropout", "t_dist", "t_p_mean", "t_p_std", "cond_aug", "motion_label_noise", "motion_label") if getattr(args, k) is not None}
    over = {}
    if args.speed_power is not None:
        over["speed_power"] = args.speed_power
    if args.speed_max is not None:
        over["speed"] = (0.0, args.speed_max)
    if args.pan is not None:
        over["pan"] = (0.0, args.pan)
    if args.turn_prob is not None:
        over["turn_prob"] = args.turn_prob
    if over:  # the data options given replace the whole data config (defaults for the rest)
        kw["data"] = SpriteConfig(**over)  # a bad combination is a ValueError: one line, exit 2
    return kw


def run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    import torch

    from .._util import UserError, check_output_path
    from ..models import toy
    from ..toy_training import TrainConfig, train
    from .common import check_device

    check_device(args.device)
    if args.seed >= 2**63:  # TrainConfig's message named "seed", not the option
        raise UserError(f"--seed {args.seed} is too large: the run seeds its data and noise generators with 2 * seed and "
                        "2 * seed + 1, so pass a seed below 2**63")
    cpus = os.cpu_count() or 1
    if args.threads > cpus:  # torch starts that many threads: thousands crash the process (a segfault, a stale lock left)
        raise UserError(f"--threads {args.threads} is more than the {cpus} CPUs of this machine: pass at most {cpus} "
                        "(0: torch's default)")
    if args.threads:
        torch.set_num_threads(args.threads)
    ignored = [opt for opt, v in (("--temporal-levels", args.temporal_levels), ("--temporal-width", args.temporal_width)) if v is not None]
    if args.temporal == "none" and ignored:  # no temporal layers: the values would be ignored
        raise UserError(f"{' and '.join(ignored)} {'shape' if len(ignored) > 1 else 'shapes'} the temporal layers, which --temporal "
                        f"none leaves out: drop {' and '.join(ignored)} or pass --temporal conv, attn or conv+attn")
    mcfg = toy.ToyConfig()
    over = {}
    if args.widths:
        over["widths"] = args.widths
    if args.temporal_levels is not None:
        over["temporal_levels"] = args.temporal_levels
    for name in ("patch", "temporal", "temporal_width"):
        if getattr(args, name) is not None:
            over[name] = getattr(args, name)
    if args.no_motion_cond:
        over["motion_cond"] = False
    if over:
        try:
            mcfg = dataclasses.replace(mcfg, **over)
        except (TypeError, ValueError) as exc:
            raise UserError(f"the architecture options give no valid toy model: {exc}") from exc
    fine = args.variant != "base"
    if fine and args.init is None:
        raise UserError(f"--variant {args.variant} fine-tunes a base model: pass --init data/toy_base.safetensors")
    if fine and over:
        raise UserError("architecture options are for --variant base; a fine-tune keeps the --init model's architecture")
    if fine and Path(args.init).is_dir():
        raise UserError(f"--init {args.init} is a folder: pass the base checkpoint file, e.g. --init {toy.checkpoint_path('base')}")
    if fine and args.init in toy.CHECKPOINTS and not Path(args.init).exists():
        raise UserError(f"--init {args.init} is the name of a shipped checkpoint, not a file: --init takes a path, e.g. "
                        f"--init {toy.checkpoint_path(args.init)}")
    if fine and args.pretrain_steps is not None:  # a fine-tune has no image pre-training stage: it would be ignored
        raise UserError("--pretrain-steps is for --variant base (image pre-training); a fine-tune trains videos only: "
                        "drop --pretrain-steps (--steps sets its length)")
    tn = [opt for opt, v in (("--timenoise-a", args.timenoise_a), ("--timenoise-beta-m", args.timenoise_beta_m)) if v is not None]
    if tn and args.variant != "timenoise":  # only the TimeNoise fine-tune draws TimeNoise: the values would be ignored
        raise UserError(f"{' and '.join(tn)} {'set' if len(tn) > 1 else 'sets'} the TimeNoise of --variant timenoise, which "
                        f"--variant {args.variant} does not draw: drop {' and '.join(tn)} or pass --variant timenoise")
    kw = dict(
        variant=args.variant, seed=args.seed, init=args.init, model=None if fine else mcfg, steps=args.steps, lr=args.lr,
        batch_size=args.batch_size, ema=args.ema, motion_dropout=args.motion_dropout, checkpoint_every=args.checkpoint_every,
    )
    if not fine and args.pretrain_steps is not None:
        kw["pretrain_steps"] = args.pretrain_steps
    if args.timenoise_a is not None:
        kw["timenoise_a"] = args.timenoise_a
    if args.timenoise_beta_m is not None:
        kw["timenoise_beta_m"] = args.timenoise_beta_m
    kw.update(_recipe_options(args))
    cfg = TrainConfig(**kw)
    tp = [opt for opt, v in (("--t-p-mean", args.t_p_mean), ("--t-p-std", args.t_p_std)) if v is not None]
    if tp and cfg.t_dist != "lognormal":  # they shape the lognormal t distribution only: they would be ignored
        whose = " (the --init's)" if fine and args.t_dist is None else ""
        raise UserError(f"{' and '.join(tp)} {'shape' if len(tp) > 1 else 'shapes'} the lognormal timestep distribution, but "
                        f"this run's is {cfg.t_dist}{whose}: add --t-dist lognormal or drop {' and '.join(tp)}")
    out = args.out or str(toy.checkpoint_path(args.variant))
    check_output_path(out, option="--out")  # before any training
    if fine and Path(out).is_file() and Path(args.init).is_file() and Path(out).samefile(args.init):  # --force would replace it
        raise UserError(f"--out {out} is the --init checkpoint: the fine-tune would replace the model it starts from; "
                        "choose another --out")
    path = train(cfg, out, device=args.device, show_progress=not args.quiet, force=args.force)
    print(f"wrote {path}")
    return 0


def add_parser(sub) -> None:
    """Register ``python -m cilnb train-toy``."""
    p = sub.add_parser("train-toy", help="train the built-in toy I2V model (base) or fine-tune it (naive / timenoise)",
                       description="Train the toy I2V model. Resumable: rerun the same command to continue from the last checkpoint.")
    p.add_argument("--variant", choices=VARIANTS, default="base", help="base: from scratch; naive/timenoise: fine-tune --init")
    p.add_argument("--out", type=file_path_arg, default=None, help="output checkpoint (default: data/toy_<variant>.safetensors)")
    p.add_argument("--init", type=path_arg, default=None, help="base checkpoint to fine-tune (naive/timenoise)")
    p.add_argument("--steps", type=nonneg_int, default=None, help="video steps (base default 4000; fine-tune default 1000)")
    p.add_argument("--pretrain-steps", type=nonneg_int, default=None, help="image pre-training steps (base only; default 1000)")
    p.add_argument("--batch-size", type=positive_int, default=16, help="videos per step")
    p.add_argument("--lr", type=positive_float, default=None, help="Adam learning rate (base 5e-4, fine-tune 1e-4)")
    p.add_argument("--ema", type=unit_interval, default=0.998, help="EMA decay")
    p.add_argument("--motion-dropout", type=probability, default=0.2, help="probability of dropping the motion conditioning")
    p.add_argument("--timenoise-a", type=positive_float, default=None,
                   help="TimeNoise a (mu(t) = 2 t^a - 1; --variant timenoise, default 5)")
    p.add_argument("--timenoise-beta-m", type=positive_float, default=None,
                   help="TimeNoise beta_m (largest noise level; --variant timenoise, default 2)")
    p.add_argument("--seed", type=nonneg_int, default=0)
    p.add_argument("--checkpoint-every", type=positive_int, default=200, help="steps between resume states")
    p.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda, ...")
    p.add_argument("--threads", type=nonneg_int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--force", action="store_true", help="retrain even if --out holds a finished run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("architecture (base only)")
    g.add_argument("--widths", type=int_list, default=None, help="comma-separated channels per level, e.g. 48,64,64")
    g.add_argument("--patch", type=positive_int, default=None, help="space-to-depth factor of the stem")
    g.add_argument("--temporal", choices=TEMPORAL_KINDS, default=None, help="temporal layer kind")
    g.add_argument("--temporal-levels", type=int_list, default=None, help="comma-separated levels with temporal layers")
    g.add_argument("--temporal-width", type=positive_int, default=None, help="hidden width of the temporal layers")
    g.add_argument("--no-motion-cond", action="store_true", help="build without motion conditioning")
    r = p.add_argument_group("recipe and data options (issue 11): off by default for base; a fine-tune inherits its --init's")
    r.add_argument("--image-dropout", type=probability, default=None, help="probability of training a video with the null image y = 0 (for image guidance)")
    r.add_argument("--t-dist", choices=("uniform", "lognormal"), default=None, help="training timestep distribution")
    r.add_argument("--t-p-mean", type=finite_float, default=None, help="lognormal: EDM P_mean of log(sigma_t / alpha_t) (default and SVD: 0.7)")
    r.add_argument("--t-p-std", type=positive_float, default=None, help="lognormal: EDM P_std (default and SVD: 1.6)")
    r.add_argument("--cond-aug", type=nonneg_float, default=None, help="noise on y during training, std ~ U(0, COND_AUG) per video")
    r.add_argument("--motion-label-noise", type=nonneg_float, default=None,
                   help="log-std s of unbiased noise on the motion label: speed * exp(s z - s^2/2) (real labels are flow statistics)")
    r.add_argument("--motion-label", choices=("speed", "flow"), default=None,
                   help="what the motion conditioning means: speed (sprite speed, default) or flow (whole-frame mean flow magnitude, "
                        "camera pan included: SVD's motion-bucket kind)")
    r.add_argument("--speed-power", type=positive_float, default=None, help="data: speed = lo + (hi - lo) u^P (P > 1: mostly slow clips)")
    r.add_argument("--speed-max", type=positive_float, default=None, help="data: largest sprite speed px/frame (default 3)")
    r.add_argument("--pan", type=nonneg_float, default=None, help="data: largest background (camera) pan speed px/frame, uniform in [0, PAN]")
    r.add_argument("--turn-prob", type=probability, default=None, help="data: probability that a sprite turns once mid-clip")
    p.set_defaults(func=run)

"""TimeNoise fine-tuning of Stable Video Diffusion through ``accelerate`` (Sec. 3.2, Eq. 6, Alg. 2).

One training step, as the official SVD fine-tuning code (thu-ml/cond-image-leakage,
``examples/SVD/svd/training/loss.py`` and ``train.py``) does it:

1. ``X0``: the clip's VAE latents times the scaling factor (posterior *samples*, as the official
   ``pixel2latent``), ``[B, F, 4, h, w]``.
2. EDM noise: ``sigma = exp(P_mean + P_std n)``, ``n ~ N(0, 1)`` per video (``P_mean = -1.2``,
   ``P_std = 1.2``), clamped to the schedule's ``[sigma_min, sigma_max]``;
   ``X_t = X0 + sigma eps``.
3. Conditioning, **TimeNoise** (default, ``--timenoise``): the conditional frame (frame 0) is
   encoded by the VAE *first* (unscaled latent, as the UNet sees it) and TimeNoise is added to
   that latent, ``y_s = y_0 + beta_s eps'`` with ``logit(beta_s / beta_m) ~ N(2 t^a - 1, 1)``
   (:func:`cilnb.timenoise.add_timenoise`), ``t = sigma / sigma_max`` (the official
   ``sigma / 700``), ``a = 5``, ``beta_m = 15`` (the official SVD train config; **the paper
   states beta_m = 100 for SVD**: pass ``--beta-m 100`` to follow the paper). ``beta_s`` is also
   the ``noise_aug_strength`` micro-condition. **Naive baseline** (``--naive``, the official
   ``EDMLossBaseline``): ``beta ~ LogNormal(P_mean, P_std)`` noise on the *pixels* of frame 0,
   then the VAE, ``beta`` as ``noise_aug_strength``: SVD's own conditioning augmentation.
4. Fixed motion bucket 20 (the paper's SVD fine-tuning), ``fps`` micro-condition 3 (the official
   code feeds ``fps = 3`` directly; diffusers' pipeline feeds ``fps - 1``), CLIP embedding of the
   clean frame 0; with probability ``cond_drop = 0.1`` a video's conditional latent and CLIP
   embedding are zeroed (classifier-free guidance training, official ratio).
5. Loss (EDM, v-prediction with ``sigma_data = 1``, SVD's preconditioning in
   :class:`cilnb.models.svd.SVDAdapter`): ``mean(w(sigma) |D(X_t; sigma, y_s) - X0|^2)`` with
   ``w = (sigma^2 + 1) / sigma^2``, the official weight ``(sigma^2 + sigma_data^2) / (sigma
   sigma_data)^2`` at ``sigma_data = 1``.

Differences from the official script, on purpose: the TimeNoise ``eps'`` is i.i.d. per latent
element, as Eq. (6) and Alg. 2 write it (the official SVD loss draws one scalar per video,
``randn([B, 1, 1, 1, 1])``, i.e. a constant shift of the latent); classifier-free dropout is
per video from the step's generator (the official code drops the whole batch with Python's
global ``random``); no EMA of the weights (the official config keeps one at 0.9999).

Optimiser: AdamW, lr 3e-5, weight decay 1e-2, betas (0.9, 0.999), grad-norm clipping at 1.0
(paper and official script). Every random draw of micro-step ``m`` on rank ``r`` comes from a
generator seeded by ``(seed, m, r)`` and the data order is a function of ``(seed, epoch)``, so a
resumed run continues exactly where the checkpoint left off. Checkpoints
(``OUT/checkpoint-<step>/``: ``unet.safetensors`` and ``optimizer.safetensors``, written to a
temporary folder and renamed) are resumed automatically, only with the same training settings
(:data:`RESUMABLE_CHANGES` may differ); ``resume=False`` starts over, removing the folder's
earlier checkpoints. The final UNet is also saved as a diffusers folder ``OUT/unet``
(safetensors, written aside and renamed). ``OUT/finetune.lock`` keeps a second run out. ``python -m cilnb finetune`` (:mod:`cilnb.commands.finetune`)
runs :func:`finetune`; ``accelerate launch -m cilnb finetune ...`` runs it data-parallel on many GPUs. Shown in ``docs/at_scale.md``.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ._util import UserError

__all__ = ["FinetuneConfig", "StepOutput", "FinetuneResult", "training_step", "finetune", "ClipDataset", "latest_checkpoint", "RESUMABLE_CHANGES",
           "FinetuneDiverged", "check_clips"]

CKPT_FORMAT = "cilnb.finetune_checkpoint"


class FinetuneDiverged(UserError, FloatingPointError):
    """The loss became NaN/inf: nothing was written for that step (the last checkpoint is kept). A ``ValueError`` (the command
    line prints one line) and, as before, a ``FloatingPointError``."""


@dataclass
class FinetuneConfig:
    """Hyper-parameters of SVD fine-tuning (defaults: the paper / official SVD train config)."""

    timenoise: bool = True  # False: the naive baseline (official EDMLossBaseline)
    a: float = 5.0  # TimeNoise mu(t) = 2 t^a - 1
    beta_m: float = 15.0  # TimeNoise max level (official SVD config; the paper says 100)
    P_mean: float = -1.2  # EDM log-normal sigma distribution
    P_std: float = 1.2
    motion_bucket_id: float = 20.0  # fixed during fine-tuning (paper)
    fps_id: float = 3.0  # fps micro-condition as the official code feeds it
    cond_drop: float = 0.1  # classifier-free dropout of the conditional latent + CLIP embedding
    lr: float = 3e-5
    weight_decay: float = 1e-2
    adam_betas: tuple = (0.9, 0.999)
    adam_eps: float = 1e-8
    max_grad_norm: float = 1.0
    batch_size: int = 1  # videos per process per micro-step
    gradient_accumulation_steps: int = 1
    max_steps: int = 1000  # optimiser steps
    checkpoint_every: int = 500
    keep_checkpoints: int = 2  # newest checkpoints kept (0: keep all)
    seed: int = 23  # official global_seed
    frames: int = 14
    size: tuple = (320, 512)
    stride: int | None = None
    fps: float | None = None  # sample the clip at this frame rate (official: 3)
    gradient_checkpointing: bool = False
    mixed_precision: str = "no"  # accelerate: no | fp16 | bf16
    workers: int = 0  # DataLoader workers decoding videos

    def __post_init__(self):
        from . import checks

        for name in ("timenoise", "gradient_checkpointing"):
            checks.check_bool(name, getattr(self, name), numpy_bools=False)
        for name in ("a", "beta_m", "P_std", "lr"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        for name in ("P_mean", "motion_bucket_id", "fps_id"):
            checks.check_number(name, getattr(self, name))
        checks.check_number("cond_drop", self.cond_drop, lo=0, hi=1, hi_open=True, fix="(the probability of dropping the condition)")
        checks.check_number("weight_decay", self.weight_decay, lo=0, fix="(AdamW's decoupled weight decay)")
        checks.check_number("adam_eps", self.adam_eps, lo=0, lo_open=True, fix="(AdamW's epsilon, e.g. 1e-8)")
        checks.check_number("max_grad_norm", self.max_grad_norm, lo=0, fix="(gradient-norm clipping; 0 for none)")
        betas = self.adam_betas
        if isinstance(betas, (str, bytes)) or not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"adam_betas must be a pair (beta1, beta2) such as (0.9, 0.999), got {betas!r}")
        for i, b in enumerate(betas):
            checks.check_number(f"adam_betas[{i}]", b, lo=0, hi=1, hi_open=True, fix="(AdamW's moment decay rates, e.g. (0.9, 0.999))")
        checks.check_seed("seed", self.seed, fix="(the run's random seed)")
        checks.check_int("workers", self.workers, min=0, fix="(DataLoader worker processes; 0 decodes in the main process)")
        cap = 4 * (os.cpu_count() or 1)
        if self.workers > cap:  # each is a process holding a copy of the dataset: 10**20 of them hung the start
            raise ValueError(f"workers = {self.workers} decoding processes is far more than this machine's {os.cpu_count()} CPUs can run "
                             f"(at most {cap} here): pass a few, e.g. --workers {min(4, cap)}")
        if self.stride is not None:
            checks.check_int("stride", self.stride, min=1, fix="(take every stride-th frame; None for 1)")
        if self.fps is not None:
            checks.check_number("fps", self.fps, lo=0, lo_open=True, fix="(sample clips at this frame rate; None to use stride)")
        for name in ("batch_size", "gradient_accumulation_steps", "max_steps", "checkpoint_every", "frames"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if isinstance(self.keep_checkpoints, bool) or not isinstance(self.keep_checkpoints, int) or self.keep_checkpoints < 0:
            raise ValueError(f"keep_checkpoints must be an int >= 0, got {self.keep_checkpoints!r}")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise ValueError(f"mixed_precision must be no, fp16 or bf16, got {self.mixed_precision!r}")
        if self.stride is not None and self.fps is not None:
            raise ValueError("give either stride or fps, not both")
        from .io import parse_size

        self.size = parse_size(self.size)
        self.adam_betas = tuple(float(b) for b in self.adam_betas)
        if self.max_steps * self.gradient_accumulation_steps > _MAX_MICRO_STEPS:  # the loader's length overflowed (OverflowError)
            raise ValueError(f"max_steps x gradient_accumulation_steps = {self.max_steps * self.gradient_accumulation_steps:.3g} micro-steps is "
                             f"beyond what a run can count (at most 2**62): pass far fewer steps (the paper: a few thousand)")
        # one micro-batch of clips in float32 ([B, F, 3, H, W]): a batch beyond memory stacked clips for hours, then died
        checks.check_fits_in_memory(4.0 * self.batch_size * self.frames * 3 * self.size[0] * self.size[1],
                                    f"a batch of {self.batch_size} clips of {self.frames} x {self.size[0]}x{self.size[1]}",
                                    "pass a smaller --batch-size (batch_size), and --gradient-accumulation-steps for a larger effective batch")


_MAX_MICRO_STEPS = 2**62  # a DataLoader's length is a C ssize_t


@dataclass
class StepOutput:
    """One training step: the loss and what it was computed from (for logging and tests)."""

    loss: object  # scalar tensor (with grad)
    sigma: object  # [B] float64
    beta: object  # [B] float64: TimeNoise level (timenoise) or pixel noise level (naive)
    cond_latent: object  # [B, 4, h, w]: the (noised, possibly dropped) conditional latent fed to the UNet
    dropped: object  # [B] bool
    latents: object = None  # X0 [B, F, 4, h, w]


def _logged_step(line: str) -> int | None:
    try:
        return int(json.loads(line)["step"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None  # a line torn by a kill


def _seed_for(seed: int, micro_step: int, rank: int) -> int:
    h = hashlib.sha256(f"cilnb-finetune:{seed}:{micro_step}:{rank}".encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 63) - 1)


def training_step(adapter, frames, *, config: FinetuneConfig, generator, denoiser=None) -> StepOutput:
    """The EDM loss of one batch with TimeNoise (or the naive baseline) on the conditional latent (Eq. 6, Alg. 2).

    ``adapter``: a :class:`cilnb.models.svd.SVDAdapter` (its VAE and CLIP encoder are used without
    gradients); ``frames``: ``[B, F, 3, H, W]`` in ``[-1, 1]``, frame 0 is the conditional image;
    ``denoiser``: what to call for ``x0_hat`` (the accelerate-prepared adapter; default the
    adapter). All randomness from ``generator`` (CPU). See the module docstring.
    """
    import torch

    from .timenoise import add_timenoise

    if frames.ndim != 5 or frames.shape[2] != 3:
        raise ValueError(f"frames must be [B, F, 3, H, W] in [-1, 1], got shape {tuple(frames.shape)}")
    denoiser = adapter if denoiser is None else denoiser
    sched = adapter.schedule
    dev = adapter.device
    B = frames.shape[0]
    frames = frames.to(dev, torch.float32)
    with torch.no_grad():
        x0 = adapter.encode_video(frames, generator=generator).float()  # posterior samples x scaling factor
    # EDM noise level: log-normal, clamped into the schedule's range (normalised t in [0, 1])
    n = torch.randn(B, generator=generator, dtype=torch.float64)
    sigma = (config.P_mean + config.P_std * n).exp().clamp(sched.sigma_min, sched.sigma_max)
    eps = torch.randn(x0.shape, generator=generator, dtype=torch.float32).to(dev)
    x_t = x0 + sigma.to(dev, torch.float32).view(B, 1, 1, 1, 1) * eps
    t = sched.from_native(sigma)
    images = frames[:, 0]
    common = dict(motion_bucket_id=config.motion_bucket_id, fps=config.fps_id + 1, generator=generator)  # adapter subtracts 1
    if config.timenoise:
        cond = adapter.prepare_condition(images, noise_aug_strength=0.0, **common)
        t_tn = (sigma / sched.sigma_max).clamp(0, 1)  # the official sigma / 700
        y_s, beta = add_timenoise(cond["y"].float(), t_tn, config.a, config.beta_m, generator=generator, return_beta=True)
        cond["y"] = y_s.to(cond["y"].dtype)
        cond["noise_aug_strength"] = beta.float()
    else:
        beta = (config.P_mean + config.P_std * torch.randn(B, generator=generator, dtype=torch.float64)).exp()
        cond = adapter.prepare_condition(images, noise_aug_strength=beta, **common)
    dropped = torch.rand(B, generator=generator) < config.cond_drop
    if bool(dropped.any()):
        keep = (~dropped).to(dev)
        cond["y"] = cond["y"] * keep.view(B, 1, 1, 1).to(cond["y"].dtype)
        cond["image_embeds"] = cond["image_embeds"] * keep.view(B, 1, 1).to(cond["image_embeds"].dtype)
    x0_hat = denoiser(x_t, t, guidance=None, **cond).float()
    w = ((sigma**2 + 1) / sigma**2).to(dev, torch.float32).view(B, 1, 1, 1, 1)
    loss = (w * (x0_hat - x0) ** 2).mean()
    return StepOutput(loss=loss, sigma=sigma, beta=beta.detach().to("cpu", torch.float64), cond_latent=cond["y"].detach(), dropped=dropped, latents=x0)


# ----------------------------------------------------------------------------------------------
# data: a deterministic, resumable order
# ----------------------------------------------------------------------------------------------


class ClipDataset:
    """Clips ``[F, 3, H, W]`` in ``[-1, 1]`` from a folder of videos (decoding as ``cilnb stats``).

    Index ``i`` reads video ``i``; an unusable video is replaced by the next usable one (so every
    rank always gets full batches) and reported once.
    """

    def __init__(self, root, *, frames: int, size, stride=None, fps=None):
        from .io import ClipSet

        self.clips = ClipSet(root, frames=frames, size=size, stride=stride, fps=fps, channels=3)
        self.paths = self.clips.paths
        self.frames, self.size, self.stride, self.fps = frames, self.clips.size, stride, fps
        self.bad: dict = {}

    def __len__(self) -> int:
        return len(self.paths)

    def _skip(self, i: int, exc) -> None:
        self.bad[str(self.paths[i])] = str(exc)
        print(f"[cilnb finetune] skipping {self.paths[i]}: {exc}", flush=True)

    def __getitem__(self, i: int):
        n = len(self.paths)
        order = [(i + k) % n for k in range(n) if str(self.paths[(i + k) % n]) not in self.bad]
        for _, clip in self.clips.usable(order, on_skip=self._skip):
            return clip
        path, why = next(iter(self.bad.items()))
        how = f"every {self.stride}th frame" if self.stride else (f"at {self.fps:g} fps" if self.fps else "consecutive")
        raise UserError(f"none of the {n} videos under {self.clips.root} is usable for clips of {self.frames} frames ({how}); "
                            f"e.g. {path}: {why}: pass fewer --frames (frames=), a smaller --stride, a higher --fps, or longer videos")


def check_clips(videos, config: "FinetuneConfig") -> None:
    """Refuse, before a model loads, a ``videos`` folder in which no video gives a clip of ``config``'s frames (every
    one too short, or unreadable): the run failed only at its first step, after SVD had loaded (minutes)."""
    from . import checks

    if not isinstance(config, FinetuneConfig):
        raise checks.InputTypeError(f"config must be a FinetuneConfig, got {type(config).__name__}")
    ClipDataset(checks.check_path("videos", videos, "the folder of training videos"), frames=config.frames, size=config.size,
                stride=config.stride, fps=config.fps)[0]


class _StepBatches:
    """Map-style: item ``k`` is the batch ``[B, F, 3, H, W]`` of micro-step ``first + k`` for this rank."""

    def __init__(self, data: ClipDataset, first: int, count: int, batch: int, rank: int, world: int, seed: int):
        self.data, self.first, self.count = data, first, count
        self.batch, self.rank, self.world, self.seed = batch, rank, world, seed
        self._perm = (None, None)

    def _permutation(self, epoch: int):
        import torch

        from .checks import offset_seed

        if self._perm[0] != epoch:  # seeded (seed * 100003 + epoch) mod 2**64: every seed in range works, the same stream below it
            n = len(self.data)
            self._perm = (epoch, torch.randperm(n, generator=torch.Generator().manual_seed(offset_seed(self.seed * 100003, epoch))))
        return self._perm[1]

    def __len__(self) -> int:
        return self.count

    def indices(self, micro_step: int) -> list[int]:
        """Video indices of this rank's batch at ``micro_step``: position ``p`` of the global stream is ``perm_epoch[p mod n]``."""
        n = len(self.data)
        out = []
        for b in range(self.batch):
            epoch, j = divmod((micro_step * self.world + self.rank) * self.batch + b, n)
            out.append(int(self._permutation(epoch)[j]))
        return out

    def __getitem__(self, k: int):
        import torch

        return torch.stack([self.data[i] for i in self.indices(self.first + k)])


# ----------------------------------------------------------------------------------------------
# checkpoints (safetensors only)
# ----------------------------------------------------------------------------------------------


def latest_checkpoint(out) -> Path | None:
    """The newest complete ``checkpoint-<step>`` folder under ``out`` (``None`` if there is none)."""
    best = None
    for p in Path(out).glob("checkpoint-*"):
        if p.is_dir() and p.name.split("-", 1)[1].isdigit() and (p / "optimizer.safetensors").is_file() and (p / "unet.safetensors").is_file():
            if best is None or int(p.name.split("-", 1)[1]) > int(best.name.split("-", 1)[1]):
                best = p
    return best


def _save_checkpoint(out: Path, step: int, unet, optimizer, config: FinetuneConfig, losses: list) -> Path:
    final = out / f"checkpoint-{step:08d}"
    _write_folder(final, lambda tmp: _write_checkpoint(tmp, step, unet, optimizer, config, losses))
    if config.keep_checkpoints:
        older = sorted((p for p in out.glob("checkpoint-*") if p.is_dir() and p.name.split("-", 1)[1].isdigit()), key=lambda p: int(p.name.split("-", 1)[1]))
        for p in older[: -config.keep_checkpoints]:
            shutil.rmtree(p, ignore_errors=True)
    return final


def _write_checkpoint(tmp: Path, step: int, unet, optimizer, config: FinetuneConfig, losses: list) -> None:
    import torch

    from ._util import save_safetensors

    state = {k: v.detach().cpu().contiguous() for k, v in unet.state_dict().items()}
    save_safetensors(tmp / "unet.safetensors", state, {"format": CKPT_FORMAT, "step": str(step)}, atomic=False)
    osd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, st in osd["state"].items():
        for key, val in st.items():
            if torch.is_tensor(val):
                tensors[f"state.{idx}.{key}"] = val.detach().cpu().contiguous().reshape(val.shape)
            else:
                scalars[f"{idx}.{key}"] = val
    meta = {
        "format": CKPT_FORMAT,
        "step": str(step),
        "param_groups": json.dumps(osd["param_groups"]),
        "scalars": json.dumps(scalars),
        "config": json.dumps(asdict(config)),
        "losses": json.dumps(losses[-1000:]),
    }
    save_safetensors(tmp / "optimizer.safetensors", tensors, meta, atomic=False)


def _write_folder(final: Path, write) -> None:
    """``write(tmp)`` fills the temporary folder ``.<name>.tmp`` beside ``final``, which is then renamed onto it: a kill
    never leaves a partial checkpoint or ``unet/`` (a rerun removes the temporary folder and writes it again)."""
    tmp = final.with_name(f".{final.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


#: Settings a resumed run may change: how long it runs and how it saves, not what it computes.
RESUMABLE_CHANGES = ("max_steps", "checkpoint_every", "keep_checkpoints", "workers", "gradient_checkpointing")


def _check_resume_config(path: Path, saved: str | None, config: FinetuneConfig) -> None:
    """Refuse to continue a checkpoint written with other training settings (the run would mix two recipes)."""

    try:
        old = json.loads(saved) if saved else None
    except ValueError:
        old = None
    if not isinstance(old, dict):
        raise UserError(f"checkpoint {path} does not record its settings (config metadata missing or unreadable): "
                        "remove it to resume from an older one, or pass --no-resume")
    new = json.loads(json.dumps(asdict(config)))
    differ = [k for k in new if k not in RESUMABLE_CHANGES and old.get(k) != new[k]]
    if differ:
        shown = ", ".join(f"{k} {old.get(k)!r} -> {new[k]!r}" for k in differ)
        raise UserError(f"{path.parent} holds a fine-tune with other settings ({shown}): rerun with the checkpoint's settings "
                        "to continue it, pass --no-resume to start over in this folder, or choose another --out")


def _load_checkpoint(path: Path, unet, optimizer, config: FinetuneConfig) -> tuple[int, list]:
    """Load ``path`` into ``unet`` and ``optimizer`` after checking it was written with ``config``'s training settings."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from ._util import file_errors

    fix = "remove that checkpoint folder to resume from an older one, or pass --no-resume"
    with file_errors(path / "optimizer.safetensors", "checkpoint file", fix):
        with safe_open(str(path / "optimizer.safetensors"), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    if meta.get("format") != CKPT_FORMAT:
        raise UserError(f"{path} is not a cilnb finetune checkpoint; remove it or pass --no-resume")
    _check_resume_config(path, meta.get("config"), config)
    try:  # read every field before anything is loaded: a damaged file is named, not a KeyError deep inside
        step = int(meta["step"])
        if step < 0:
            raise ValueError(f"it records step {step}")
        groups, scalars, old_losses = json.loads(meta["param_groups"]), json.loads(meta["scalars"]), json.loads(meta.get("losses", "[]"))
        if not isinstance(scalars, dict) or not isinstance(old_losses, list):
            raise ValueError("its scalars or losses are not what a checkpoint records")
        state: dict = {}
        for k, v in tensors.items():
            _, idx, key = k.split(".", 2)
            state.setdefault(int(idx), {})[key] = v
        for k, v in scalars.items():
            idx, key = k.split(".", 1)
            state.setdefault(int(idx), {})[key] = v
    except KeyError as exc:
        raise UserError(f"checkpoint {path} is incomplete (no {exc.args[0]!r} in optimizer.safetensors): {fix}") from None
    except (TypeError, ValueError) as exc:
        raise UserError(f"checkpoint {path} is corrupt ({' '.join(str(exc).split())[:200]}): {fix}") from None
    with file_errors(path / "unet.safetensors", "checkpoint file", fix):
        weights = load_file(str(path / "unet.safetensors"))
    try:
        unet.load_state_dict(weights)
    except RuntimeError as exc:  # missing / unexpected keys, other shapes
        first = str(exc).strip().splitlines()[0]
        raise UserError(f"checkpoint {path} does not fit this model's UNet ({first}): it was trained from another model; "
                        "resume with that model, pass --no-resume to start over, or choose another --out") from None
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"checkpoint {path} holds an optimizer state that does not fit this UNet ({' '.join(str(exc).split())[:200]}): "
                        f"{fix}") from None
    return step, old_losses


# ----------------------------------------------------------------------------------------------
# the loop
# ----------------------------------------------------------------------------------------------


@dataclass
class FinetuneResult:
    """Where the run ended: optimiser step, checkpoint folder, per-step losses of this process."""

    step: int
    checkpoint: Path | None
    losses: list = field(default_factory=list)
    resumed_from: int = 0


def finetune(adapter, videos, out, *, config: FinetuneConfig | None = None, resume: bool = True, show_progress: bool = True, accelerator=None) -> FinetuneResult:
    """Fine-tune ``adapter.unet`` (in place) on the videos under ``videos`` with TimeNoise or the naive baseline (Alg. 2).

    Runs through ``accelerate.Accelerator`` (one process here; many under ``accelerate launch``);
    resumes from the newest ``out/checkpoint-*`` unless ``resume=False``. Returns a
    :class:`FinetuneResult`. See the module docstring. Shown in ``docs/at_scale.md``.
    """
    import torch
    from accelerate import Accelerator

    from . import checks
    from ._util import JobLock, check_output_path

    resume = checks.check_bool("resume", resume)
    show_progress = checks.check_bool("show_progress", show_progress)
    if config is not None and not isinstance(config, FinetuneConfig):
        raise checks.InputTypeError(f"config must be a FinetuneConfig (e.g. FinetuneConfig(max_steps=100)) or None for the "
                                    f"defaults, got {type(config).__name__}: build one with FinetuneConfig(**fields)")
    cfg = config or FinetuneConfig()
    checks.check_path("videos", videos, "the folder of training videos")
    out = check_output_path(checks.check_path("out", out, "the output folder (checkpoints, log.jsonl, unet/)"), option="out (--out)",
                            folder=True)
    if accelerator is None:
        accelerator = Accelerator(gradient_accumulation_steps=cfg.gradient_accumulation_steps, mixed_precision=cfg.mixed_precision,
                                  cpu=adapter.device.type == "cpu")
    rank, world = accelerator.process_index, accelerator.num_processes
    data = ClipDataset(videos, frames=cfg.frames, size=cfg.size, stride=cfg.stride, fps=cfg.fps)
    data[0]  # no usable clip at all (every video too short): refused now, before anything is written into out

    for mod in (adapter.vae, adapter.image_encoder):
        if mod is not None:
            mod.requires_grad_(False).eval()
    unet = adapter.unet
    unet.requires_grad_(True).train()
    if cfg.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    optimizer = torch.optim.AdamW(unet.parameters(), lr=cfg.lr, betas=cfg.adam_betas, eps=cfg.adam_eps, weight_decay=cfg.weight_decay)

    lock = JobLock(out / "finetune.lock", f"fine-tuning folder {out}").acquire() if rank == 0 else None
    try:
        return _finetune_locked(adapter, out, data, unet, optimizer, cfg, resume, show_progress, accelerator, rank, world)
    finally:
        if lock is not None:
            lock.release()


def _finetune_locked(adapter, out: Path, data, unet, optimizer, cfg: FinetuneConfig, resume: bool, show_progress: bool,
                     accelerator, rank: int, world: int) -> FinetuneResult:
    import torch

    from ._util import atomic_write, progress

    start, losses, ckpt = 0, [], None
    if resume:
        ckpt = latest_checkpoint(out)
        if ckpt is not None:
            start, losses = _load_checkpoint(ckpt, unet, optimizer, cfg)
            if start > cfg.max_steps:  # it was returned as this run's result: weights of more steps than asked, unet/ not rewritten
                raise UserError(f"{out} holds a fine-tune already at step {start} ({ckpt.name}), past --max-steps (max_steps) "
                                    f"{cfg.max_steps}: pass --max-steps {start} or more to continue it, --no-resume to start over "
                                    "in this folder, or choose another --out")
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        for tmp in (*out.glob(".checkpoint-*.tmp"), *out.glob(".unet.tmp")):  # unfinished folders of a killed run
            shutil.rmtree(tmp, ignore_errors=True)
        if not resume:  # start over: an earlier run's checkpoints would otherwise be resumed later, mixed with this one's
            for old in (*out.glob("checkpoint-*"), out / "unet"):
                if old.is_dir():
                    shutil.rmtree(old)
        atomic_write(out / "config.json", lambda p: p.write_text(json.dumps(asdict(cfg), indent=1)))
        log = out / "log.jsonl"
        if log.is_file():  # drop steps logged after the checkpoint we resume from (they are redone)
            keep = [ln for ln in log.read_text().splitlines() if _logged_step(ln) is not None and _logged_step(ln) <= start]
            atomic_write(log, lambda p: p.write_text("".join(ln + "\n" for ln in keep)))
    accelerator.wait_for_everyone()
    adapter.to(accelerator.device)
    model, optimizer = accelerator.prepare(adapter, optimizer)

    accum = cfg.gradient_accumulation_steps
    remaining = max(0, cfg.max_steps - start)
    batches = _StepBatches(data, start * accum, remaining * accum, cfg.batch_size, rank, world, cfg.seed)
    loader = torch.utils.data.DataLoader(batches, batch_size=None, shuffle=False, num_workers=cfg.workers)
    bar = progress(None, total=cfg.max_steps, initial=start, disable=not show_progress or not accelerator.is_main_process, desc="finetune", unit="step")
    step, run_losses, acc_loss = start, [], 0.0
    t0 = time.time()
    try:
        for k, frames in enumerate(loader):
            micro = start * accum + k
            gen = torch.Generator().manual_seed(_seed_for(cfg.seed, micro, rank))
            with accelerator.accumulate(model):
                res = training_step(adapter, frames, config=cfg, generator=gen, denoiser=model)
                if not torch.isfinite(res.loss):
                    kept = f"the last checkpoint ({ckpt.name}) is kept" if ckpt is not None else "no checkpoint had been written"
                    raise FinetuneDiverged(f"non-finite loss {float(res.loss.detach())} at step {step + 1}: nothing was written for it, "
                                           f"{kept}; lower the learning rate (--lr, now {cfg.lr:g}) or use --mixed-precision no")
                accelerator.backward(res.loss)
                if accelerator.sync_gradients and cfg.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(unet.parameters(), cfg.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            acc_loss += float(res.loss.detach()) / accum
            if (k + 1) % accum:
                continue
            step += 1
            run_losses.append(acc_loss)
            losses.append(acc_loss)
            bar.update(1)
            bar.set_postfix(loss=f"{acc_loss:.4g}")
            if accelerator.is_main_process:
                with open(out / "log.jsonl", "a") as f:
                    f.write(json.dumps({"step": step, "loss": acc_loss, "sigma": res.sigma.tolist(), "beta": res.beta.tolist(), "seconds": time.time() - t0}) + "\n")
            acc_loss = 0.0
            if step % cfg.checkpoint_every == 0 or step == cfg.max_steps:
                accelerator.wait_for_everyone()
                if accelerator.is_main_process:
                    ckpt = _save_checkpoint(out, step, accelerator.unwrap_model(model).unet, optimizer, cfg, losses)
                accelerator.wait_for_everyone()
    finally:
        bar.close()
    if accelerator.is_main_process and (remaining > 0 or not (out / "unet").is_dir()):
        _write_folder(out / "unet", lambda tmp: accelerator.unwrap_model(model).unet.save_pretrained(str(tmp), safe_serialization=True))
    accelerator.wait_for_everyone()
    unet.eval().requires_grad_(False)
    return FinetuneResult(step=step, checkpoint=latest_checkpoint(out), losses=run_losses, resumed_from=start)

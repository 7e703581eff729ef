"""Training the toy I2V model: image pre-training, video training, naive vs TimeNoise fine-tuning.

Recipe (mirrors how real I2V models are made, at toy scale):

1. ``base``: stage ``pretrain`` trains :class:`cilnb.models.toy.ToyUNet` as an *image* denoiser
   on single frames (temporal layers skipped, no conditional image), then stage ``video`` trains
   the whole network on videos with ``y_0`` = frame 0 concatenated to every frame, the ground-truth
   speed as motion conditioning (dropped to "null" with probability ``motion_dropout``).
2. ``naive`` / ``timenoise``: fine-tune a base checkpoint on videos for the same steps from the
   same seed; ``timenoise`` perturbs the conditional image with
   :func:`cilnb.timenoise.add_timenoise` (Eq. 6, Alg. 2, ``mode="additive"``), ``naive`` does not.

v-prediction MSE, timesteps uniform over the model's DDPM steps, Adam with linear warm-up,
gradient clipping, EMA weights (shipped). Data are drawn on the fly from
:func:`cilnb.data.generate` with a dedicated generator, so runs are deterministic given the
seed. A resume state (weights, EMA, optimizer, both RNG states, loss curve) is written
atomically every ``checkpoint_every`` steps next to the output; rerunning the same command
continues from it. ``python -m cilnb train-toy --help`` (:mod:`cilnb.commands.train_toy`) lists
the options; ``python -m cilnb toy-stats`` (:mod:`cilnb.commands.toy_stats`) runs :func:`toy_stats`.
Run from ``notebooks/timenoise_training.ipynb`` (``train=True``: naive vs TimeNoise checkpoints).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from . import checks
from . import data as D
from ._util import JobLock, UserError, check_output_path, clean_tmp_files, file_errors, make_generator, progress, resolve_device
from .denoiser import v_from_x0_eps
from .models import toy

__all__ = ["TrainConfig", "TrainingDiverged", "SHIPPED_RECIPE", "SHIPPED_DATA", "SHIPPED_TIMENOISE", "stats_data", "train", "resume_path", "toy_stats", "VARIANTS", "T_DISTS", "sample_train_t",
           "lognormal_t_cdf", "image_dropout_mask", "null_image", "finetune_toy_pair"]

VARIANTS = ("base", "naive", "timenoise")
STATE_FORMAT = "cilnb-toy-train-state/1"
T_DISTS = ("uniform", "lognormal")  # training timestep distributions (TrainConfig.t_dist)
#: TrainConfig fields added for issue 11, left out of :meth:`TrainConfig.to_dict` at their defaults
#: (so the shipped checkpoints' recorded configs, and rerun no-ops, are unchanged).
RECIPE_DEFAULTS = {"image_dropout": 0.0, "t_dist": "uniform", "t_p_mean": 0.7, "t_p_std": 1.6, "cond_aug": 0.0,
                   "motion_label_noise": 0.0, "motion_label": "speed"}
MOTION_LABELS = toy.MOTION_LABELS  # what the motion conditioning is trained on (TrainConfig.motion_label)
#: The recipe of the shipped base (issue 11, data/README.md): image dropout for SVD-style image guidance (the
#: shipped checkpoints sample with frame-wise guidance 1 -> 3), a training t weighted to high noise,
#: conditioning noise augmentation, and a motion conditioning trained on the clip's whole-frame mean flow
#: magnitude (SVD's kind of motion label). The naive and TimeNoise fine-tunes inherit it from the base.
SHIPPED_RECIPE = {"image_dropout": 0.15, "t_dist": "lognormal", "t_p_mean": 2.5, "cond_aug": 0.1, "motion_label": "flow"}
#: The data of the shipped checkpoints (issue 11's "realistic data", data/README.md): mostly slow clips
#: (speed 4 u^3 px/frame), a panning background (up to 1 px/frame) and sprites that turn once in half the
#: clips. Every toy read-out draws from it (:attr:`cilnb.models.toy.ToyModel.data_config`).
SHIPPED_DATA = D.SpriteConfig(speed=(0.0, 4.0), speed_power=3.0, pan=(0.0, 1.0), turn_prob=0.5)
#: TimeNoise of the shipped fine-tune: the paper's a = 5; beta_m = 6, about 17x the toy data's per-pixel std
#: (the paper's 25-100 are for latents of unit std).
SHIPPED_TIMENOISE = {"timenoise_a": 5.0, "timenoise_beta_m": 6.0}


_EXAMPLES = {"lr": 5e-4, "grad_clip": 1.0, "timenoise_a": 5.0, "timenoise_beta_m": 2.0, "t_p_mean": 0.7, "t_p_std": 1.6,
             "cond_aug": 0.1, "motion_label_noise": 0.5, "ema": 0.998, "motion_dropout": 0.2, "image_dropout": 0.15}  # named in errors


class TrainingDiverged(UserError):
    """The loss or the weights became NaN/inf: nothing was written over the last good resume state or the output."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (two runs with equal configs give equal weights)."""

    variant: str = "base"  # base | naive | timenoise
    steps: int | None = None  # video-stage steps (None: 4000 for base, 1000 for the fine-tunes)
    pretrain_steps: int = 1000  # image pre-training steps (base only)
    batch_size: int = 16  # videos per video-stage step
    pretrain_batch_size: int = 64  # frames per image pre-training step
    lr: float | None = None  # Adam learning rate (None: 5e-4 for base, 1e-4 for the fine-tunes)
    warmup: int = 100  # linear warm-up steps at the start of each stage
    grad_clip: float = 1.0  # max gradient norm
    ema: float = 0.998  # EMA decay of the shipped weights
    seed: int = 0
    motion_dropout: float = 0.2  # probability of training a video with the null motion embedding
    timenoise_a: float = 5.0  # a of mu(t) = 2 t^a - 1 (paper: 5)
    timenoise_beta_m: float = 2.0  # beta_m, the largest TimeNoise level (toy data lie in [-1, 1])
    init: str | None = None  # base checkpoint to fine-tune (naive/timenoise)
    checkpoint_every: int = 200  # resume-state period, steps
    log_every: int = 25  # loss-curve resolution, steps
    model: toy.ToyConfig | None = None  # None: ToyConfig() for base, the init checkpoint's for fine-tunes
    # --- the data and the issue-11 recipe options. None: a base run takes the defaults (RECIPE_DEFAULTS, SpriteConfig();
    # the original recipe, bit for bit); a fine-tune takes its init checkpoint's recorded values, so naive and
    # TimeNoise fine-tunes keep the base's data, image dropout (and with it guidance), t distribution and cond_aug.
    data: D.SpriteConfig | None = None
    image_dropout: float | None = None  # probability of training a video with the null image (null_image: y = 0), for image CFG
    t_dist: str | None = None  # uniform | lognormal (EDM: log(sigma_t / alpha_t) ~ N(t_p_mean, t_p_std^2), nearest DDPM step)
    t_p_mean: float | None = None  # EDM P_mean of the lognormal t distribution (SVD: 0.7)
    t_p_std: float | None = None  # EDM P_std (SVD: 1.6)
    cond_aug: float | None = None  # conditioning noise augmentation: y + s * eps with s ~ U(0, cond_aug) per video (SVD's cond_aug)
    # noise on the motion label (a flow statistic in SVD, not the renderer's exact speed): label = speed * exp(s z - s^2 / 2),
    # z ~ N(0, 1) per video, so the label is unbiased (E[label | speed] = speed) with log-std s
    motion_label_noise: float | None = None
    motion_label: str | None = None  # "speed" (sprite speed) | "flow" (whole-frame mean flow magnitude, SVD's motion-bucket kind)

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        fine = self.variant != "base"
        if self.init is not None and not isinstance(self.init, (str, os.PathLike)):
            raise checks.InputTypeError(f"init must be the path of a base checkpoint (a string), got {self.init!r} ({type(self.init).__name__})")
        if self.init is not None:  # a pathlib.Path is stored as text: the config is written as JSON
            object.__setattr__(self, "init", os.fspath(self.init))
        if fine and self.init is None:
            raise ValueError(f"variant {self.variant!r} fine-tunes a base checkpoint: pass init= (e.g. data/toy_base.safetensors)")
        if self.steps is None:
            object.__setattr__(self, "steps", 1000 if fine else 4000)
        if self.lr is None:
            object.__setattr__(self, "lr", 1e-4 if fine else 5e-4)
        inherited: dict = {}  # a fine-tune's init recipe (its recorded train_config)
        # motion_label (added later) alone does not make a missing init an error: a config that gives everything
        # else reads the init only if it exists (its label then), else keeps the default
        must_read = self.model is None or self.data is None or any(getattr(self, k) is None for k in RECIPE_DEFAULTS if k != "motion_label")
        if fine and (must_read or (self.motion_label is None and Path(self.init).is_file())):
            if not Path(self.init).is_file():
                raise ValueError(f"init checkpoint {self.init} does not exist; train the base first (python -m cilnb train-toy --variant base)")
            with file_errors(self.init, "init checkpoint", "pass a checkpoint written by `python -m cilnb train-toy --variant base`"):
                meta = toy.read_metadata(self.init)
            if "config" not in meta:
                raise UserError(f"init checkpoint {self.init} is not a cilnb toy checkpoint (no model config in its metadata)")
            _check_init_meta(self.init, meta)
            if self.model is None:
                with _init_errors(self.init):
                    object.__setattr__(self, "model", toy.ToyConfig.from_json(meta["config"]))
            tc = meta.get("train_config")
            inherited = tc if isinstance(tc, dict) else {}
        if self.model is None:
            object.__setattr__(self, "model", toy.ToyConfig())
        for name, default in RECIPE_DEFAULTS.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, inherited.get(name, default))
        data_unrecorded = fine and self.data is None and not inherited.get("data")  # an init saved by hand: default sprites
        if self.data is None:
            d = inherited.get("data")
            with _init_errors(self.init):
                object.__setattr__(self, "data", D.SpriteConfig.from_json(d) if d else D.SpriteConfig())
        if not isinstance(self.model, toy.ToyConfig):
            raise checks.InputTypeError(f"model must be a cilnb.models.toy.ToyConfig (or None), got {type(self.model).__name__}: "
                                        "build one with toy.ToyConfig(**fields)")
        if not isinstance(self.data, D.SpriteConfig):
            raise checks.InputTypeError(f"data must be a cilnb.data.SpriteConfig (or None), got {type(self.data).__name__}: "
                                        "build one with cilnb.data.SpriteConfig(**fields)")
        for name in ("lr", "grad_clip", "ema", "motion_dropout", "timenoise_a", "timenoise_beta_m", "image_dropout", "t_p_mean",
                     "t_p_std", "cond_aug", "motion_label_noise"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):  # Python numbers: the config is stored as JSON
                raise checks.InputTypeError(f"{name} must be a number (a Python int or float), got {v!r} ({type(v).__name__})")
            if isinstance(v, int) and abs(v) > 2**1000:  # float(v) overflows: math.isfinite and torch raised OverflowError
                raise ValueError(f"{name} must be a finite number, got an int of {len(str(abs(v)))} digits, beyond any float: pass "
                                 f"a finite number (e.g. {name}={_EXAMPLES.get(name, 1.0)!r})")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise checks.InputTypeError(f"seed must be a Python int (the run's seed), got {self.seed!r} ({type(self.seed).__name__})")
        if not -(2**62) <= self.seed < 2**63:  # the data and noise generators are seeded with 2 seed and 2 seed + 1
            raise ValueError(f"seed must lie in [-2**62, 2**63) (the run's generators are seeded with 2 * seed + 0/1), got {self.seed}")
        if not (self.grad_clip > 0 and math.isfinite(self.grad_clip)):
            raise ValueError(f"grad_clip must be a positive number (the largest gradient norm), got {self.grad_clip}")
        for name, lo in (("steps", 0), ("pretrain_steps", 0), ("warmup", 0), ("batch_size", 1), ("pretrain_batch_size", 1),
                         ("checkpoint_every", 1), ("log_every", 1)):
            v = getattr(self, name)
            want = "an int >= 0" if lo == 0 else "a positive int"
            if isinstance(v, bool) or not isinstance(v, int):  # Python ints: the config is stored as JSON
                how = f"pass {int(v)}" if checks.is_int(v) or (isinstance(v, float) and v.is_integer()) else "pass a whole number"
                raise checks.InputTypeError(f"{name} must be {want} (a Python int), got {v!r} ({type(v).__name__}): {how}")
            if v < lo:
                raise ValueError(f"{name} must be {want}, got {v!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema decay must lie in [0, 1), got {self.ema}")
        if not 0 <= self.motion_dropout <= 1:
            raise ValueError(f"motion_dropout must lie in [0, 1], got {self.motion_dropout}")
        if self.variant == "base":
            if self.init is not None:
                raise ValueError("variant 'base' trains from scratch; --init is for the naive/timenoise fine-tunes")
            if self.steps + self.pretrain_steps < 1:
                raise ValueError("nothing to train: steps and pretrain_steps are both 0")
        else:
            if self.steps < 1:
                raise ValueError(f"variant {self.variant!r} needs steps >= 1")
        if not 0 <= self.image_dropout < 1:
            raise ValueError(f"image_dropout must lie in [0, 1), got {self.image_dropout}")
        if self.t_dist not in T_DISTS:
            raise ValueError(f"t_dist must be one of {T_DISTS}, got {self.t_dist!r}")
        if not (math.isfinite(self.t_p_mean) and math.isfinite(self.t_p_std) and self.t_p_std > 0):
            raise ValueError(f"t_p_mean must be finite and t_p_std > 0, got {self.t_p_mean}, {self.t_p_std}")
        if not (math.isfinite(self.cond_aug) and self.cond_aug >= 0):
            raise ValueError(f"cond_aug must be a finite number >= 0 (largest std of the noise on y), got {self.cond_aug}")
        if not (math.isfinite(self.motion_label_noise) and self.motion_label_noise >= 0):
            raise ValueError(f"motion_label_noise must be a finite number >= 0 (log-std of the label noise), got {self.motion_label_noise}")
        if self.motion_label_noise > 0 and not self.model.motion_cond:
            raise ValueError("motion_label_noise (--motion-label-noise) needs a model with motion conditioning: "
                             "motion_cond=True (drop --no-motion-cond), or set it to 0")
        if self.motion_label not in MOTION_LABELS:
            raise ValueError(f"motion_label must be one of {MOTION_LABELS} (--motion-label), got {self.motion_label!r}")
        if self.motion_label != "speed" and not self.model.motion_cond:
            raise ValueError(f"motion_label={self.motion_label!r} (--motion-label) needs a model with motion conditioning: "
                             "motion_cond=True (drop --no-motion-cond), or leave the label at 'speed'")
        if not (0 < self.timenoise_a < math.inf and 0 < self.timenoise_beta_m < math.inf):  # every variant: none is ignored silently
            raise ValueError(f"TimeNoise needs finite a > 0 and beta_m > 0, got a={self.timenoise_a}, beta_m={self.timenoise_beta_m}")
        if (self.model.frames, self.model.size, self.model.channels) != (self.data.frames, self.data.size, 1):
            if self.model.channels != 1:
                raise ValueError(f"the toy's sprite data has 1 channel but the model has {self.model.channels}: build the model "
                                 "with channels=1")
            if data_unrecorded:
                raise ValueError(
                    f"init checkpoint {self.init} records no training data (it was not written by `python -m cilnb train-toy`), and "
                    f"the default sprites ({self.data.frames} frames, {self.data.size}px) do not fit its model ({self.model.frames} "
                    f"frames, {self.model.size}px): give TrainConfig data=cilnb.data.SpriteConfig(frames={self.model.frames}, "
                    f"size={self.model.size}), or fine-tune a base that train-toy wrote")
            raise ValueError(
                f"model ({self.model.frames} frames, {self.model.size}px, {self.model.channels} ch) and data "
                f"({self.data.frames} frames, {self.data.size}px, 1 ch) disagree: give data=cilnb.data.SpriteConfig(frames="
                f"{self.model.frames}, size={self.model.size}) or a model of the data's shape"
            )

    @property
    def stages(self) -> list[tuple[str, int]]:
        if self.variant == "base":
            return [(s, n) for s, n in (("pretrain", self.pretrain_steps), ("video", self.steps)) if n > 0]
        return [("video", self.steps)]

    @property
    def total_steps(self) -> int:
        return sum(n for _, n in self.stages)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if self.variant != "base":
            d.pop("pretrain_steps")
            d.pop("pretrain_batch_size")
        if self.variant != "timenoise":
            d.pop("timenoise_a")
            d.pop("timenoise_beta_m")
        d["data"] = self.data.to_dict()
        for name, default in RECIPE_DEFAULTS.items():
            if name.startswith("t_p_") and self.t_dist == "lognormal":
                continue  # the lognormal's parameters are always recorded with it
            if d[name] == default:
                d.pop(name)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def _check_init_meta(init, meta: dict) -> None:
    """An init checkpoint must be a toy checkpoint of a base run (or one saved by hand), not a fine-tune nor another file."""
    if meta.get("format") != toy.FORMAT:
        raise UserError(f"init checkpoint {init} is not a cilnb toy checkpoint (format {meta.get('format')!r}, expected "
                        f"{toy.FORMAT!r}): pass a base checkpoint written by `python -m cilnb train-toy --variant base`")
    if meta.get("variant") in ("naive", "timenoise"):  # naive vs TimeNoise compares two fine-tunes of one base
        raise ValueError(f"init checkpoint {init} is a {meta['variant']} fine-tune, not a base: --init (init=) takes the base checkpoint "
                         "both fine-tunes start from (variant 'base', e.g. data/toy_base.safetensors)")


@contextlib.contextmanager
def _init_errors(init):
    """Name the init checkpoint in a ValueError raised while its recorded configs are read (they came from its metadata)."""
    try:
        yield
    except UserError:
        raise
    except (ValueError, TypeError) as exc:
        raise UserError(f"init checkpoint {init} records a configuration this cilnb cannot read ({exc}): pass a base "
                        "checkpoint written by this cilnb's `python -m cilnb train-toy --variant base`") from None


def resume_path(out) -> Path:
    """The resume state of a run writing ``out``: ``<out stem>.resume.safetensors`` beside it."""
    out = Path(out)
    return out.with_name(out.name.removesuffix(".safetensors") + ".resume.safetensors")


# ----------------------------------------------------------------------------------------------
# state (de)serialisation: everything in safetensors, no pickles
# ----------------------------------------------------------------------------------------------


def _opt_tensors(opt: torch.optim.Optimizer) -> tuple[dict, str]:
    sd = opt.state_dict()
    tensors = {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            tensors[f"opt.{idx}.{k}"] = torch.as_tensor(v).detach().cpu().clone()
    return tensors, json.dumps(sd["param_groups"])


def _opt_load(opt: torch.optim.Optimizer, tensors: dict, groups_json: str, device) -> None:
    state: dict = {}
    for key, v in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = v if name == "step" else v.to(device)
    opt.load_state_dict({"state": state, "param_groups": json.loads(groups_json)})


class _Run:
    """Mutable training state; ``save``/``load`` round-trip it exactly."""

    def __init__(self, cfg: TrainConfig, device: torch.device):
        self.cfg, self.device = cfg, device
        self.meta_init: dict = {}
        self.init_sha256 = ""  # the init checkpoint's bytes, which a resume must still find there
        if cfg.variant == "base":
            self.net = toy.init_net(cfg.model, cfg.seed)
        else:
            with file_errors(cfg.init, "init checkpoint", "pass a checkpoint written by `python -m cilnb train-toy --variant base`"):
                base = toy.load_checkpoint(cfg.init)
            if base.config != cfg.model:
                raise ValueError(f"init checkpoint {cfg.init} has model config {base.config}, expected {cfg.model}")
            _check_init_meta(cfg.init, base.meta)
            self.net = base.net
            self.meta_init = {k: base.meta.get(k) for k in ("variant", "seed", "steps", "sha")}
            from .runs import file_digest

            self.init_sha256 = file_digest(cfg.init)
            self.meta_init["init_sha256"] = self.init_sha256  # a rerun returns the output only while the init is unchanged
        self.net.to(device).train()
        self.net.requires_grad_(True)
        self.ema = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        self.stage_idx = 0
        self.step = 0  # within the current stage
        self.opt = self._new_opt()
        self.g_data = make_generator(cfg.seed * 2 + 0)  # data draws (CPU)
        self.g_noise = make_generator(cfg.seed * 2 + 1)  # t, eps, dropout, TimeNoise (CPU)
        self.curve: list[list] = []  # [stage, step, mean loss]
        self.acc = [0.0, 0]  # running loss sum and count since the last curve point
        self.elapsed = 0.0

    def _new_opt(self):
        return torch.optim.Adam(self.net.parameters(), lr=self.cfg.lr)

    def save(self, path: Path) -> None:
        from ._util import save_safetensors

        tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        tensors.update({f"ema.{k}": v.detach().cpu().contiguous() for k, v in self.ema.items()})
        opt_t, groups = _opt_tensors(self.opt)
        tensors.update(opt_t)
        tensors["rng.data"] = self.g_data.get_state()
        tensors["rng.noise"] = self.g_noise.get_state()
        md = {
            "format": STATE_FORMAT, "train_config": self.cfg.to_json(), "stage_idx": str(self.stage_idx),
            "step": str(self.step), "curve": json.dumps(self.curve), "acc": json.dumps(self.acc), "elapsed": repr(self.elapsed), "param_groups": groups,
            "init_sha256": self.init_sha256,
        }
        save_safetensors(path, tensors, md)

    def load(self, path: Path) -> None:
        from safetensors import safe_open
        from safetensors.torch import load_file

        fix = "delete it to start the run over"
        with file_errors(path, "resume state", fix):
            with safe_open(str(path), framework="pt") as f:
                md = f.metadata() or {}
            t = load_file(str(path))
        if md.get("format") != STATE_FORMAT:
            raise UserError(f"resume state {path} is not a cilnb toy training state; {fix}")
        try:
            saved = json.loads(md["train_config"])
        except (KeyError, TypeError, ValueError):
            raise UserError(f"resume state {path} records no readable configuration (train_config metadata missing or corrupt); "
                            f"{fix}") from None
        if saved != json.loads(self.cfg.to_json()):
            raise ValueError(
                f"resume state {path} was written by a run with a different configuration; delete it to start over, "
                "or rerun with the original options"
            )
        if md.get("init_sha256", self.init_sha256) != self.init_sha256:  # states written before the digest resume as before
            raise ValueError(
                f"resume state {path} continues a fine-tune of another init checkpoint: {self.cfg.init} changed since the run "
                "started (its SHA-256 differs); restore the original file, or delete the resume state to start over from the new one"
            )
        try:  # every field checked before anything is set: a state this code did not write is named, not a KeyError deep inside
            stage_idx, step = int(md["stage_idx"]), int(md["step"])
            stages = self.cfg.stages
            if not (0 <= stage_idx < len(stages) and 0 <= step <= stages[stage_idx][1]):
                raise ValueError(f"it stands at stage {stage_idx} step {step}, outside this run's stages {stages}")
            curve, acc, elapsed = json.loads(md["curve"]), json.loads(md["acc"]), float(md["elapsed"])
            if not isinstance(curve, list) or not (isinstance(acc, list) and len(acc) == 2):
                raise ValueError("its loss curve is not a list")
            model = {k[6:]: v for k, v in t.items() if k.startswith("model.")}
            ema = {k[4:]: v for k, v in t.items() if k.startswith("ema.")}
            want = self.net.state_dict()
            for what, got in (("weights", model), ("EMA weights", ema)):
                if got.keys() != want.keys() or any(got[k].shape != want[k].shape for k in want):
                    raise ValueError(f"its {what} do not fit the model")
            rng = (t["rng.data"], t["rng.noise"])
            groups = md["param_groups"]
            json.loads(groups)
        except KeyError as exc:
            raise UserError(f"resume state {path} is incomplete (no {exc.args[0]!r}); {fix}") from None
        except (TypeError, ValueError) as exc:
            raise UserError(f"resume state {path} is corrupt ({' '.join(str(exc).split())}); {fix}") from None
        self.net.load_state_dict(model)
        self.ema = {k: v.to(self.device) for k, v in ema.items()}
        self.stage_idx, self.step = stage_idx, step
        self.opt = self._new_opt()
        try:
            _opt_load(self.opt, t, groups, self.device)
            self.g_data.set_state(rng[0])
            self.g_noise.set_state(rng[1])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise UserError(f"resume state {path} is corrupt (its optimizer or generator state does not load: "
                            f"{' '.join(str(exc).split())[:200]}); {fix}") from None
        self.curve = curve
        self.acc = acc
        self.elapsed = elapsed

    @torch.no_grad()
    def update_ema(self) -> None:
        d = self.cfg.ema
        for k, v in self.net.state_dict().items():
            if v.is_floating_point():
                self.ema[k].mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                self.ema[k].copy_(v)


def sample_train_t(n: int, schedule, generator: torch.Generator, dist: str = "uniform", p_mean: float = 0.7, p_std: float = 1.6) -> torch.Tensor:
    """Training timesteps ``[n]`` (float64, normalised ``k / T``, ``k`` in ``1..T``) of a discrete VP schedule.

    ``"uniform"``: ``k`` uniform (DDPM, Ho et al. 2020). ``"lognormal"``: EDM's training noise
    distribution (Karras et al. 2022, Sec. 5; SVD uses ``P_mean = 0.7, P_std = 1.6``) mapped to
    the VP schedule through its VE-equivalent noise level ``sigma_t / alpha_t``: draw
    ``log s ~ N(p_mean, p_std^2)`` and take the first step ``k`` with ``sigma_k / alpha_k >= s``
    (``T`` beyond the schedule's largest level, ``1`` below its smallest), so
    ``P(k <= j) = Phi((log(sigma_j / alpha_j) - p_mean) / p_std)`` for ``j < T``
    (:func:`lognormal_t_cdf`).
    """
    checks.check_int("n", n, min=0, fix="(training timesteps to draw)")
    _check_generator(generator)
    T = _check_discrete(schedule)
    if dist == "lognormal":
        _check_lognormal(p_mean, p_std)
    if dist == "uniform":
        return torch.randint(1, T + 1, (n,), generator=generator).to(torch.float64) / T
    if dist == "lognormal":
        ratio = _ve_levels(schedule)  # [T], increasing
        log_s = p_mean + p_std * torch.randn(n, generator=generator, dtype=torch.float64)
        k = torch.searchsorted(ratio.log(), log_s).clamp(max=T - 1) + 1
        return k.to(torch.float64) / T
    raise ValueError(f"dist must be one of {T_DISTS}, got {dist!r}")


def _check_discrete(schedule) -> int:
    """``schedule.T`` of a discrete VP schedule (the toy's), or an :class:`~cilnb.checks.InputTypeError` naming the fix."""
    from .schedules import VPSchedule

    if not isinstance(schedule, VPSchedule):
        raise checks.InputTypeError(f"schedule must be a discrete cilnb.schedules.VPSchedule (its training timesteps k / T are drawn; "
                                    f"e.g. ToyConfig().schedule()), got {type(schedule).__name__}")
    return schedule.T


def _check_generator(generator) -> None:
    if not isinstance(generator, torch.Generator):
        raise checks.InputTypeError(f"generator must be a torch.Generator (cilnb never draws from the global RNG: pass "
                                    f"cilnb._util.make_generator(seed)), got {type(generator).__name__}")


def _check_lognormal(p_mean, p_std) -> None:
    checks.check_number("p_mean", p_mean, fix="(EDM's P_mean; SVD: 0.7)")
    checks.check_number("p_std", p_std, lo=0, lo_open=True, fix="(EDM's P_std; SVD: 1.6)")


def _ve_levels(schedule) -> torch.Tensor:
    t = torch.arange(1, schedule.T + 1, dtype=torch.float64) / schedule.T
    return schedule.sigma(t) / schedule.alpha(t)


def lognormal_t_cdf(schedule, p_mean: float = 0.7, p_std: float = 1.6) -> torch.Tensor:
    """``P(k <= j)`` for ``j = 1..T`` under :func:`sample_train_t` ``"lognormal"`` (closed form; the last is 1)."""
    _check_discrete(schedule)
    _check_lognormal(p_mean, p_std)
    z = (_ve_levels(schedule).log() - p_mean) / p_std
    cdf = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
    cdf[-1] = 1.0
    return cdf


def image_dropout_mask(B: int, p: float, generator: torch.Generator) -> torch.Tensor:
    """``[B]`` bool: which videos train with the null image (probability ``p`` each; SVD/DynamiCrafter-style CFG dropout)."""
    checks.check_int("B", B, min=0, fix="(videos in the batch)")
    checks.check_number("p", p, lo=0, hi=1, fix="(the probability of the null image)")
    _check_generator(generator)
    return torch.rand(B, generator=generator) < p


def noisy_motion_label(speed: torch.Tensor, s: float, generator: torch.Generator) -> torch.Tensor:
    """``speed * exp(s z - s^2 / 2)``, ``z ~ N(0, 1)`` per video: an unbiased label with log-std ``s``
    (``TrainConfig.motion_label_noise``; real models' motion labels are flow statistics, not exact speeds)."""
    if not isinstance(speed, torch.Tensor):
        fix = ": pass torch.from_numpy(speed)" if type(speed).__module__ == "numpy" else ""
        raise checks.InputTypeError(f"speed must be a torch.Tensor of per-video speeds [B], got {type(speed).__name__}{fix}")
    checks.check_not_meta("speed", speed)
    if speed.is_complex() or speed.dtype == torch.bool:
        raise checks.InputTypeError(f"speed must hold real speeds in px/frame, got dtype {speed.dtype}")
    if speed.is_floating_point():
        checks.check_finite("speed", speed, "the labels are speeds in px/frame")
    if bool((speed < 0).any()):
        raise ValueError(f"speed must be >= 0 (a speed in px/frame), got a minimum of {float(speed.min()):g}")
    checks.check_number("s", s, lo=0, fix="(the label noise's log-std, TrainConfig.motion_label_noise)")
    _check_generator(generator)
    z = torch.randn(speed.shape, generator=generator)
    return speed * torch.exp(s * z - 0.5 * s * s)


def null_image(y: torch.Tensor) -> torch.Tensor:
    """The toy's null conditional image: zeros (SVD zeroes its image latents); the video path stays on."""
    if not isinstance(y, torch.Tensor):
        raise checks.InputTypeError(f"y must be the conditional images, a torch.Tensor [B, C, H, W], got {type(y).__name__}")
    return torch.zeros_like(y)


def _loss(run: _Run, stage: str) -> torch.Tensor:
    """One batch: draw data, noise it at a DDPM timestep (uniform or ``t_dist``), v-prediction MSE."""
    cfg, dev, g = run.cfg, run.device, run.g_noise
    sched = cfg.model.schedule()
    if stage == "pretrain":
        n_vid = -(-cfg.pretrain_batch_size // cfg.data.frames)
        sv = D.generate(n_vid, run.g_data, config=cfg.data, flow=False)
        x0 = sv.videos.reshape(-1, 1, 1, cfg.data.size, cfg.data.size)[: cfg.pretrain_batch_size]
        cond: dict = {"y": None, "image_mode": True}
    else:
        flow_label = cfg.motion_label == "flow"  # validated: only with motion conditioning
        sv = D.generate(cfg.batch_size, run.g_data, config=cfg.data, flow=flow_label)
        x0 = sv.videos
        cond = {"y": sv.condition}
    B = x0.shape[0]
    t = sample_train_t(B, sched, g, cfg.t_dist, cfg.t_p_mean, cfg.t_p_std)
    eps = torch.randn(x0.shape, generator=g)
    if stage == "video":
        if cfg.model.motion_cond:
            cond["motion"] = D.flow_score(sv.flow) if flow_label else sv.speed.float()
            cond["motion_drop"] = (torch.rand(B, generator=g) < cfg.motion_dropout).to(dev)
            if cfg.motion_label_noise > 0:
                cond["motion"] = noisy_motion_label(cond["motion"], cfg.motion_label_noise, g)
            cond["motion"] = cond["motion"].to(dev)
        if cfg.variant == "timenoise":
            from .timenoise import add_timenoise

            cond["y"] = add_timenoise(cond["y"], t, cfg.timenoise_a, cfg.timenoise_beta_m, generator=g, mode="additive")
        # issue-11 options: every draw happens only when its option is on (the default stream is unchanged)
        if cfg.cond_aug > 0:  # SVD-style conditioning augmentation, a level per video independent of t
            level = cfg.cond_aug * torch.rand(B, generator=g)
            cond["y"] = cond["y"] + level[:, None, None, None] * torch.randn(cond["y"].shape, generator=g)
        if cfg.image_dropout > 0:
            drop = image_dropout_mask(B, cfg.image_dropout, g)
            cond["y"] = torch.where(drop[:, None, None, None], null_image(cond["y"]), cond["y"])
        cond["y"] = cond["y"].to(dev)
    a, s = sched.broadcast(t, x0)
    x_t = (a * x0 + s * eps).to(dev)
    target = v_from_x0_eps(x0, eps, a, s).to(dev)
    pred = run.net(x_t, t.float().to(dev), **cond)
    return torch.mean((pred - target) ** 2)


def train(cfg: TrainConfig, out, *, device: str | torch.device = "auto", show_progress: bool = True, force: bool = False, stop_after: int | None = None) -> Path:
    """Train (or resume) the run ``cfg`` and write the EMA weights to ``out`` (safetensors + metadata).

    Resumes from :func:`resume_path` when present (same config required); the resume state is
    removed when the run completes. If ``out`` already holds a finished run of the same config it
    is returned as is (``force=True`` retrains). ``stop_after`` stops after that many optimizer
    steps in this call (for tests: simulates a kill) and returns the resume-state path.
    Resume is bit-exact (weights, EMA, optimizer and both RNG states round-trip exactly). A
    non-finite loss or weight raises :class:`TrainingDiverged` and writes nothing (the last
    resume state on disk, from before the divergence, is kept). ``<out>.lock`` refuses a second
    concurrent run on ``out``; temporary files a kill left are removed at start.
    """
    if not isinstance(cfg, TrainConfig):
        raise checks.InputTypeError(f"cfg must be a TrainConfig (e.g. TrainConfig(variant='base')), got {type(cfg).__name__}")
    show_progress = checks.check_bool("show_progress", show_progress)
    force = checks.check_bool("force", force)
    if stop_after is not None:
        checks.check_int("stop_after", stop_after, min=1, fix="(optimizer steps in this call before stopping; None: run to the end)")
    checks.check_path("out", out, "the output checkpoint path (e.g. data/toy_base.safetensors)")
    out = check_output_path(out, option="out (--out)")
    dev = resolve_device(device)
    _check_not_init(cfg, out)
    _check_batch_memory(cfg, dev)
    with JobLock(out.with_name(out.name + ".lock"), f"training output {out}"):
        clean_tmp_files(out.parent, [out.name, resume_path(out).name])
        return _train(cfg, out, dev, show_progress=show_progress, force=force, stop_after=stop_after)


def _check_not_init(cfg: TrainConfig, out: Path) -> None:
    """A fine-tune must not write its output (or its resume state) over the init checkpoint it starts from."""
    if cfg.variant == "base" or not Path(cfg.init).is_file():
        return
    for path, what in ((out, "out (--out)"), (resume_path(out), f"the resume state of out {out}")):
        if path.is_file() and path.samefile(cfg.init):
            raise UserError(f"{what} {path} is the init checkpoint {cfg.init} (--init): the fine-tune would replace the model it "
                            "starts from; choose another out (--out)")


def _check_batch_memory(cfg: TrainConfig, dev) -> None:
    """Refuse batches whose arrays alone exceed this machine's memory before any work (they failed inside the data generator,
    naming its n rather than the option, or in torch's allocator)."""
    F, S, m = cfg.data.frames, cfg.data.size, cfg.model
    per_frame = 4 * S * S * (4 + (m.widths[0] / m.patch**2 if dev.type == "cpu" else 0))  # data, noise, x_t, target (+ 1st activation)
    for stage, n in cfg.stages:
        name, items = ("pretrain_batch_size", cfg.pretrain_batch_size) if stage == "pretrain" else ("batch_size", cfg.batch_size)
        frames = -(-items // F) * F if stage == "pretrain" else items * F
        opt = "" if stage == "pretrain" else " (--batch-size)"
        checks.check_fits_in_memory(frames * per_frame, f"training with {name}={items}{opt} ({F} frames at {S}x{S} px)",
                                    f"pass a smaller {name}{opt}, e.g. {16 if stage == 'video' else 64}")


def _finite(tensors) -> bool:
    return all(bool(torch.isfinite(v).all()) for v in tensors if v.is_floating_point())


def _train(cfg: TrainConfig, out: Path, dev: torch.device, *, show_progress: bool, force: bool, stop_after: int | None) -> Path:
    """:func:`train` holding the lock."""
    state_path = resume_path(out)
    if out.is_file() and not force and not state_path.is_file():
        not_ckpt = f"{out} (--out) exists and is not a cilnb toy checkpoint"
        fix = "choose another --out, or pass --force to overwrite it"
        try:
            with file_errors(out, "existing output", "delete it or pass --force to retrain"):
                meta = toy.read_metadata(out)
        except UserError:  # not a readable safetensors file: a text file, a typo'd path
            raise UserError(f"{not_ckpt} (not a readable safetensors file): {fix}") from None
        if meta.get("format") != toy.FORMAT:  # statistics, another model's weights
            raise UserError(f"{not_ckpt} (format {meta.get('format')!r}): {fix}")
        if meta.get("train_config") == json.loads(cfg.to_json()):
            came = meta.get("init_from") if isinstance(meta.get("init_from"), dict) else {}
            if cfg.variant != "base" and came.get("init_sha256"):  # outputs written before the digest are returned as before
                from .runs import file_digest

                if came["init_sha256"] != file_digest(cfg.init):
                    raise UserError(f"{out} (--out) is a fine-tune of an earlier {cfg.init} (--init): that file changed since (its "
                                    "SHA-256 differs), so the output is not a fine-tune of it; pass --force (force=True) to "
                                    "fine-tune the new one, or choose another --out")
            return out
        raise ValueError(f"{out} exists and was trained with a different configuration: choose another --out or pass --force")
    run = _Run(cfg, dev)
    if state_path.is_file():
        run.load(state_path)
    stages = cfg.stages
    done_before = sum(n for _, n in stages[: run.stage_idx]) + run.step
    bar = progress(range(cfg.total_steps), disable=not show_progress, desc=f"train-toy {cfg.variant}", initial=done_before, total=cfg.total_steps)
    bar_iter = iter(bar)
    n_this_call = 0
    t_start = time.perf_counter() - run.elapsed
    try:
        while run.stage_idx < len(stages):
            stage, n_steps = stages[run.stage_idx]
            while run.step < n_steps:
                lr = cfg.lr * min(1.0, (run.step + 1) / max(cfg.warmup, 1))
                for grp in run.opt.param_groups:
                    grp["lr"] = lr
                loss = _loss(run, stage)
                if not math.isfinite(loss.item()):
                    _diverged(cfg, state_path, stage, run.step + 1, f"loss = {loss.item()}")
                run.opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(run.net.parameters(), cfg.grad_clip)
                run.opt.step()
                if not _finite(run.net.parameters()):
                    _diverged(cfg, state_path, stage, run.step + 1, "non-finite weights after the optimizer step")
                run.update_ema()
                run.step += 1
                n_this_call += 1
                run.acc = [run.acc[0] + loss.item(), run.acc[1] + 1]
                if run.step % cfg.log_every == 0 or run.step == n_steps:
                    run.curve.append([stage, run.step, run.acc[0] / run.acc[1]])
                    run.acc = [0.0, 0]
                next(bar_iter, None)
                if show_progress:
                    bar.set_postfix(stage=stage, loss=f"{loss.item():.4f}", refresh=False)
                run.elapsed = time.perf_counter() - t_start
                if run.step % cfg.checkpoint_every == 0 and run.step < n_steps:
                    run.save(state_path)
                if stop_after is not None and n_this_call >= stop_after:
                    run.save(state_path)
                    return state_path
            run.stage_idx += 1
            run.step = 0
            if run.stage_idx < len(stages):
                run.opt = run._new_opt()  # a new optimizer for the next stage, as when fine-tuning
                run.save(state_path)
    finally:
        bar.close()
    if not _finite(run.ema.values()):
        _diverged(cfg, state_path, stages[-1][0], stages[-1][1], "non-finite EMA weights")
    net = toy.init_net(cfg.model)
    net.load_state_dict({k: v.cpu() for k, v in run.ema.items()})
    meta = {
        "variant": cfg.variant, "seed": cfg.seed, "steps": cfg.total_steps, "train_config": cfg.to_dict(),
        "loss_curve": run.curve, "train_seconds": round(run.elapsed, 1), "device": str(dev),
        "threads": torch.get_num_threads(), "torch": torch.__version__, "init_from": run.meta_init or None,
    }
    toy.save_checkpoint(out, net, meta)
    state_path.unlink(missing_ok=True)
    return out


def _diverged(cfg: TrainConfig, state_path: Path, stage: str, step: int, what: str):
    """Raise :class:`TrainingDiverged`: where, why, what was kept, what to do."""
    kept = (f"the last good resume state {state_path} is kept (it resumes this configuration only)" if state_path.is_file()
            else "no resume state had been written yet")
    raise TrainingDiverged(
        f"training diverged at {stage} step {step} ({what}) with lr={cfg.lr:g}; nothing was written; {kept}. "
        f"Lower --lr and retrain (delete {state_path.name} first if it exists: a resume state only resumes its own configuration)"
    )


def finetune_toy_pair(out_dir: str | Path, *, steps: int, a: float, beta_m: float, seed: int = 0, base: str = "base",
                      device="auto", show_progress: bool = True) -> dict:
    """Alg. 2 on the toy: naive and TimeNoise fine-tuning from one base checkpoint with the same seed, data and steps
    (:func:`train`, resumable): ``{"naive": path, "timenoise": path}``."""
    show_progress = checks.check_bool("show_progress", show_progress)
    checks.check_path("out_dir", out_dir, "the folder for the two checkpoints")
    checks.check_path("base", base, "a base checkpoint path or a shipped name such as 'base'")
    checks.check_int("steps", steps, min=1, fix="(fine-tuning steps of each variant)")
    checks.check_int("seed", seed, fix="(the runs' seed)")
    checks.check_number("a", a, lo=0, lo_open=True, fix="(TimeNoise's a; the paper: 5)")
    checks.check_number("beta_m", beta_m, lo=0, lo_open=True, fix="(TimeNoise's largest noise level)")
    init = str(toy.checkpoint_path(base)) if base in toy.CHECKPOINTS else str(base)
    out = {}
    for variant in ("naive", "timenoise"):
        cfg = TrainConfig(variant=variant, steps=int(steps), init=init, seed=int(seed), timenoise_a=float(a),
                          timenoise_beta_m=float(beta_m), checkpoint_every=max(1, min(200, int(steps))))
        path = Path(out_dir) / f"toy_{variant}_{steps}steps_a{a:g}_bm{beta_m:g}_s{seed}.safetensors"
        out[variant] = train(cfg, path, device=device, show_progress=show_progress)
    return out


def toy_stats(out=None, n: int = 5000, seed: int = 12345, *, batch: int = 500, config: D.SpriteConfig | None = None, show_progress: bool = True):
    """Analytic-Init moments (Eq. 5) of ``n`` toy training videos via :class:`cilnb.analytic_init.MomentStats`.

    Videos come from :func:`cilnb.data.generate` with ``seed`` (a different stream from training's).
    Written to ``out`` when given (``data/toy_stats.safetensors``). Returns the stats object.
    """
    from .analytic_init import MomentStats

    checks.check_int("n", n, min=1, fix="(toy videos to average)")
    checks.check_int("batch", batch, min=1, fix="(videos per generated batch)")
    from .analytic_init import MAX_COUNT

    if n > MAX_COUNT:  # the loop ran for ages before MomentStats refused the count
        raise ValueError(f"n = {n} is more toy videos than statistics can count (at most 2**53 = {MAX_COUNT}; the shipped "
                         "statistics average 5000): pass a smaller n (--n)")
    if config is not None and not isinstance(config, D.SpriteConfig):
        raise checks.InputTypeError(f"config must be a cilnb.data.SpriteConfig (or None for the default sprites), got "
                                    f"{type(config).__name__}: build one with cilnb.data.SpriteConfig(**fields)")
    show_progress = checks.check_bool("show_progress", show_progress)
    if out is not None:  # before the moments are computed, not after
        out = check_output_path(checks.check_path("out", out, "the statistics file path (e.g. data/toy_stats.safetensors)"), option="out")
    g = make_generator(seed)
    # the returned object says what it describes, as its file does (stats_data reads it from either)
    st = MomentStats(source=f"cilnb.data.generate: {n} toy training videos, seed {seed}{_CONFIG_TAG}{(config or D.SpriteConfig()).to_json()}")
    for lo in progress(range(0, n, batch), disable=not show_progress, desc="toy stats"):
        st.update(D.generate(min(batch, n - lo), g, config=config, flow=False).videos)
    if out is not None:
        st.save(out)
    return st


_CONFIG_TAG = ", config "


def stats_data(stats) -> D.SpriteConfig | None:
    """The toy data config a :func:`toy_stats` file describes (from its ``source``), or ``None`` for other statistics."""
    source = getattr(stats, "source", "") or ""
    if not source.startswith("cilnb.data.generate:") or _CONFIG_TAG not in source:
        return None
    try:
        return D.SpriteConfig.from_json(source.split(_CONFIG_TAG, 1)[1])
    except (ValueError, TypeError):
        return None

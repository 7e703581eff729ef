"""Shared inputs of the notebooks' experiments: data, conditional images, models and statistics.

Ground-truth clips (:func:`cilnb.io.read_clips`, re-exported), conditional-image sets (:func:`toy_images`,
:func:`video_images`, :func:`with_targets`), the probe's :class:`Bench`, models through
:func:`cilnb.models.load` (:func:`load_models`, :func:`load_variants`) and Analytic-Init statistics
through :class:`cilnb.analytic_init.MomentStats` (:func:`load_stats`). What differs between the toy
and a real model is asked of the model's read-out (:func:`cilnb.experiments.readouts.readout_for`),
chosen once from the model's name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import pandas as pd
import torch

from .. import data as _data
from ..denoiser import Cond, Images
from ..io import ImageSet, load_images, parse_size, read_clips, safe_name
from ..runs import weights_digest

__all__ = ["TOY_VARIANTS", "Bench", "optional_stats", "prepare_condition", "read_clips", "toy_data", "toy_images", "toy_motion_label", "video_images", "with_targets",
           "reference_videos", "load_models", "load_variants", "load_toy_models", "load_toy_variants", "load_tuned_variants",
           "describe_models", "load_stats", "check_toy_stats", "toy_stats_path", "timenoise_settings"]

TOY_VARIANTS = ("base", "naive", "timenoise")


@dataclass
class Bench:
    """Ground truth for the probe: ``x0`` in the model's sample space, the conditioning, read-outs."""

    x0: torch.Tensor  # [B, F, C, H, W] sample space (pixels for the toy, scaled latents otherwise)
    cond: Cond  # Cond(y, **extras), batch-first
    videos: torch.Tensor  # [B, F, C, H, W] pixels in [-1, 1], for display
    decode: Callable[[torch.Tensor], torch.Tensor] = field(default=lambda v: v)
    motion_fns: dict = field(default_factory=dict)
    truth: object = None  # SpriteVideos for the toy
    # retention is only defined where the ground truth moves: below these values it is NaN
    min_motion: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.x0.shape[0]

    @property
    def retention_columns(self) -> list[str]:
        """The probe table's retention column of each motion read-out, the first one the verdict's."""
        return [f"{name}_retention" for name in self.motion_fns]


def prepare_condition(adapter, images: Images, seed: int = 0, **kwargs) -> Cond:
    """``adapter.prepare_condition(images, **kwargs)`` with its random draws (e.g. SVD's noise
    augmentation) from a generator seeded ``seed``, when the adapter takes one and no ``seed=`` is given."""
    import inspect

    from .. import checks

    seed = checks.check_seed("seed", seed, fix="(the conditioning's random draws)")
    if not callable(getattr(adapter, "prepare_condition", None)):  # None or a model name: a bare AttributeError
        raise checks.InputTypeError(f"adapter must be a loaded model with prepare_condition (cilnb.models.load(...)), "
                                    f"got {adapter!r:.60} ({type(adapter).__name__})")
    if "generator" in inspect.signature(adapter.prepare_condition).parameters and "seed" not in kwargs:
        kwargs.setdefault("generator", torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return Cond.of(adapter.prepare_condition(images, **kwargs))


def _toy_meta(source, accepted: str) -> dict | None:
    """The metadata of the toy checkpoint ``source`` names (a shipped name or a file), of the shipped base for
    ``None``/``""`` (``None`` when that file is missing); anything else is an error saying what is ``accepted``."""
    from ..models import toy

    if source is None or source == "":
        path = toy.checkpoint_path("base")
        return toy.read_metadata(path) if path.is_file() else None
    if isinstance(source, (str, Path)):
        return toy.read_metadata(toy.resolve(source))
    from .. import checks

    raise checks.InputTypeError(f"{accepted}; got {type(source).__name__}")


def toy_data(source=None):
    """The :class:`cilnb.data.SpriteConfig` of a toy: ``source`` a toy model (its
    :attr:`~cilnb.models.toy.ToyModel.data_config`), a shipped checkpoint name or checkpoint file (the
    data it was trained on), a config (returned as is), or ``None``/``""``: the shipped base's (the
    default sprites when it is missing). Every toy read-out draws its images, reference, probe and
    ground-truth videos from it, so a checkpoint is measured on the data it learned."""
    from .. import data as _d
    from ..models import toy

    if isinstance(source, _d.SpriteConfig):
        return source
    if hasattr(source, "data_config"):
        return source.data_config
    meta = _toy_meta(source, "toy data comes from a toy model, a checkpoint name or path, or a SpriteConfig")
    return (toy.train_data(meta) if meta else None) or _d.SpriteConfig()


def toy_motion_label(source=None) -> str:
    """What a toy's motion conditioning means, ``"speed"`` or ``"flow"`` (:func:`cilnb.models.toy.motion_label`):
    ``source`` a toy model, a shipped checkpoint name or file, or ``None``/``""`` for the shipped base."""
    from ..models import toy

    if hasattr(source, "motion_label"):
        return source.motion_label
    meta = _toy_meta(source, "a toy's motion label comes from a toy model or a checkpoint name or path")
    return toy.motion_label(meta) if meta else "speed"


def toy_images(n_images: int, data_seed: int = 0, model=None, *, data=None, flow: bool = False):
    """Frame 0 of ``n_images`` fresh toy videos (:func:`cilnb.io.load_images` ``"toy:N"``), with their true speeds
    (and with ``flow=True`` their whole-frame flow magnitudes, ``input_flow``), drawn from ``data`` (anything
    :func:`toy_data` takes; default: ``model``'s data, else the shipped toy's)."""
    from .. import checks

    n_images = checks.check_int("n_images", n_images, min=1, fix="(the number of conditional images)")
    flow = checks.check_bool("flow", flow)
    if data is None and model is None:
        data = ""  # the shipped toy's data
    return load_images(f"toy:{n_images}", model, data_seed=data_seed, data=None if data is None else toy_data(data), flow=flow)


def video_images(videos_dir: str | Path, n_videos: int, *, frames: int, size, stride: int = 1):
    """Frame 0 of the clips of :func:`cilnb.io.read_clips` as a :class:`cilnb.io.ImageSet`; the clips ride along as ``videos``."""
    clips, names = read_clips(videos_dir, n_videos, frames=frames, size=size, stride=stride)
    h, w = parse_size(size)
    spec = f"videos:{Path(videos_dir).resolve()}:{clips.shape[0]}x{frames}f@{h}x{w}/s{stride}"
    return ImageSet([f"{k:05d}_{safe_name(n)}" for k, n in enumerate(names)], clips[:, 0].clone(), spec, {}, clips)


def with_targets(images, name: str, targets: Sequence[float]):
    """Every image once per value of the per-image conditioning ``name`` (e.g. SVD's ``motion_bucket_id``),
    image-major (the source videos are dropped: the targets are the ground truth)."""
    from .. import checks

    if not isinstance(images, ImageSet):  # None or a tensor failed at len() / .names
        raise checks.InputTypeError(f"images must be a cilnb.io.ImageSet (video_images(...)), got {type(images).__name__}")
    if not isinstance(name, str) or not name:  # it becomes the conditioning key the model reads and part of every image's name
        raise checks.InputTypeError(f"name must be the name of a per-image conditioning such as 'motion_bucket_id', got {name!r}")
    # a string was split into its characters ("12": the targets 1 and 2), a bool read as 1/0, NaN passed on to the model
    targets = [checks.check_number(f"targets[{i}]", t, fix=f"(a {name} value)")
               for i, t in enumerate(checks.check_sequence("targets", targets, fix=f"pass a list of {name} values, e.g. [20, 60]"))]
    if not targets:
        raise ValueError(f"give at least one {name} target")
    twice = checks.repeated(targets)
    if twice:  # every image would be sampled twice under one name, and the run store keeps one video per name
        raise ValueError(f"targets lists {', '.join(f'{t:g}' for t in twice)} more than once: give each {name} value once")
    n, k = len(images), len(targets)
    idx = torch.arange(n).repeat_interleave(k)
    names = [f"{images.names[i]}_{name}{t:g}" for i in range(n) for t in targets]
    cols = {c: [v[i] for i in idx.tolist()] for c, v in images.columns.items()}
    return ImageSet(names, images.images[idx], f"{images.spec}|{name}={targets}", cols, None, {name: targets * n},
                    images.data)


def reference_videos(n: int, seed: int, data=None) -> torch.Tensor:
    """Real toy videos for the Fréchet distance, drawn with a seed disjoint from the conditioning images,
    from ``data`` (anything :func:`toy_data` takes; default: the shipped toy's data)."""
    return _data.generate(n, seed=seed, config=toy_data(data), flow=False).videos


# ----------------------------------------------------------------------------------------------
# models and statistics
# ----------------------------------------------------------------------------------------------


def _readout(model: str):
    from .readouts import readout_for

    return readout_for(model)


def load_models(model: str = "toy", model_path: str = "", variants: str | Sequence[str] = TOY_VARIANTS, device="auto", dtype=None) -> dict:
    """``{label: model}``: the toy checkpoints named in ``variants`` (comma-separated or a list,
    :func:`load_toy_models`), or the single real model ``model`` loaded from ``model_path`` via
    :func:`cilnb.models.load`. Shown in notebooks/leakage_probe.ipynb."""
    return _readout(model).load_models(model, model_path, variants, device=device, dtype=dtype)


def load_toy_models(model_path: str = "", variants: str | Sequence[str] = TOY_VARIANTS, device="auto", dtype=None) -> dict:
    """``{name: toy}`` for the checkpoints in ``variants``, or ``{stem: toy}`` of the one file ``model_path``, computing in
    ``dtype`` (:func:`cilnb.models.toy.precision`)."""
    from .. import checks, models

    if not isinstance(variants, (str, list, tuple)):
        raise checks.InputTypeError(f"variants must name toy checkpoints, as 'base,naive,timenoise' or a list, got {variants!r}")
    names = [v.strip() for v in variants.split(",")] if isinstance(variants, str) else list(variants)
    if not all(isinstance(n, str) for n in names):
        raise checks.InputTypeError(f"variants must be checkpoint names (strings), got {names!r}")
    names = [n for n in names if n]
    if not names:
        raise ValueError("variants is empty: name toy checkpoints such as 'base,naive,timenoise'")
    twice = checks.repeated(names)
    if twice:  # one model per name: the second would silently replace the first
        raise ValueError(f"variants lists {', '.join(map(repr, twice))} more than once; name each checkpoint once")
    _check_model_path(model_path)
    if model_path:
        return {Path(model_path).stem: models.load("toy", model_path, device=device, dtype=dtype)}
    return {n: models.load("toy", n, device=device, dtype=dtype) for n in names}


def _check_which(which) -> list:
    """``which`` as a list of names from :data:`TOY_VARIANTS` (a single string is refused, not split into letters)."""
    from .. import checks

    if isinstance(which, str):
        raise checks.InputTypeError(f"which must be a list of variants from {list(TOY_VARIANTS)}, got the string {which!r}: "
                                    f"pass [{which!r}]")
    if not isinstance(which, (list, tuple)):
        raise checks.InputTypeError(f"which must be a list of variants from {list(TOY_VARIANTS)}, got {type(which).__name__}")
    unknown = [w for w in which if w not in TOY_VARIANTS]
    if unknown:
        raise ValueError(f"which names unknown variant(s) {unknown}: choose from {list(TOY_VARIANTS)}")
    return list(which)


def _check_model_path(model_path) -> None:
    if model_path is not None and not isinstance(model_path, (str, Path)):
        from .. import checks

        raise checks.InputTypeError(f"model_path must be a checkpoint path (str or pathlib.Path) or '', got {model_path!r}")


def load_variants(model: str = "toy", model_path: str = "", *, naive: str = "", timenoise: str = "",
                  which: Sequence[str] = TOY_VARIANTS, device="auto", dtype=None) -> dict:
    """The models Table 1 and Fig. 1 compare, as ``{"base": ..., "naive": ..., "timenoise": ...}`` (those in ``which``).

    Toy (:func:`load_toy_variants`): the shipped checkpoints, or the files given as ``naive`` /
    ``timenoise`` (``model_path``: another base). Real models (:func:`load_tuned_variants`): ``model``
    from ``model_path`` is ``base``; ``naive`` and ``timenoise`` name fine-tuned UNet folders
    (``OUT/unet`` of ``python -m cilnb finetune [--naive]``), loaded into the same pipeline; the
    variants without a folder are left out. Shown in notebooks/timenoise_training.ipynb and
    notebooks/motion_control.ipynb.
    """
    return _readout(model).load_variants(model, model_path, naive=naive, timenoise=timenoise, which=which, device=device, dtype=dtype)


def load_toy_variants(model_path: str = "", *, naive: str = "", timenoise: str = "", which: Sequence[str] = TOY_VARIANTS,
                      device="auto", dtype=None) -> dict:
    """The toy's ``base``/``naive``/``timenoise`` checkpoints (shipped, or the files given), those in ``which``, computing
    in ``dtype`` (:func:`cilnb.models.toy.precision`)."""
    from .. import models

    which = _check_which(which)
    _check_model_path(model_path)
    files = {"base": model_path or "base", "naive": naive or "naive", "timenoise": timenoise or "timenoise"}
    return {k: models.load("toy", files[k], device=device, dtype=dtype) for k in which}


def load_tuned_variants(model: str, model_path: str = "", *, naive: str = "", timenoise: str = "", which: Sequence[str] = TOY_VARIANTS,
                        device="auto", dtype=None) -> dict:
    """A real model as ``base`` plus the fine-tuned UNet folders ``naive`` / ``timenoise`` loaded into the same pipeline."""
    from .. import models
    from ..models.base import from_pretrained

    which = _check_which(which)
    _check_model_path(model_path)
    out = {"base": models.load(model, model_path or None, device=device, dtype=dtype)}
    unet_cls = type(getattr(out["base"], "unet", None))
    unet_cls = unet_cls if callable(getattr(unet_cls, "from_pretrained", None)) else None
    for label, folder in (("naive", naive), ("timenoise", timenoise)):
        if label not in which or not folder:
            continue
        if unet_cls is None:
            raise ValueError(f"{model} has no UNet to replace: fine-tuned checkpoints come from python -m cilnb finetune (SVD)")
        if not (Path(folder) / "config.json").is_file():
            raise ValueError(f"fine-tuned UNet for {label!r} not found: {folder!r} must be a diffusers UNet folder "
                             "(config.json + safetensors), e.g. OUT/unet of `python -m cilnb finetune`")
        unet = from_pretrained(unet_cls, str(folder), next(out["base"].unet.parameters()).dtype)
        out[label] = models.load(model, model_path or None, device=device, dtype=dtype, unet=unet)
    return out


def describe_models(models: Mapping) -> pd.DataFrame:
    """One row per model: its training settings (toy checkpoints) and a short weights digest.
    Shown in notebooks/timenoise_training.ipynb."""
    if not isinstance(models, Mapping):
        from .. import checks

        raise checks.InputTypeError(f"models must be a dict {{label: model}} (e.g. load_variants(...)), got {type(models).__name__}")
    rows = []
    for k, m in models.items():
        cfg = getattr(m, "meta", {}).get("train_config", {})
        rows.append({"model": k, **{kk: cfg.get(kk) for kk in ("variant", "steps", "seed", "timenoise_a", "timenoise_beta_m")},
                     "weights": weights_digest(m)[:12]})
    return pd.DataFrame(rows)


def toy_stats_path() -> Path:
    """The toy's shipped Analytic-Init statistics, ``<data dir>/toy_stats.safetensors``."""
    from .._util import data_dir

    return data_dir() / "toy_stats.safetensors"


def optional_stats(model: str, stats_path: str = "", model_path: str = ""):
    """``(MomentStats, path)`` when the model has statistics (``stats_path``, or shipped ones: the toy's),
    else ``(None, None)``, so that comparisons drop what needs them instead of failing (remedies.ipynb)."""
    if stats_path or _readout(model).default_stats(model, ()) is not None:
        return load_stats(model, stats_path, ("analytic",), model_path)
    return None, None


def load_stats(model: str, stats_path: str = "", inits: Sequence[str] = ("analytic",), model_path: str = ""):
    """``(MomentStats or None, path)``: ``stats_path``, or the model's default (the toy's shipped
    statistics); a real model sampled with Analytic-Init needs its own (``python -m cilnb stats``; the
    official ``.pt`` files load too: :meth:`cilnb.analytic_init.MomentStats.load`). Toy statistics must
    describe the data the checkpoint ``model_path`` (empty: the shipped base) was trained on
    (:func:`check_toy_stats`). Shown in notebooks/m_sweep.ipynb, notebooks/timenoise_training.ipynb and
    notebooks/motion_control.ipynb."""
    from ..runs import check_inits

    inits = check_inits(inits, fix="the initial noises the statistics are for, e.g. ['standard', 'analytic']")
    if not stats_path:
        default = _readout(model).default_stats(model, inits)
        if default is None:
            return None, None
        stats_path = str(default)
    from ..analytic_init import MomentStats

    stats = MomentStats.load(stats_path)
    _readout(model).check_stats(stats, stats_path, model_path)
    return stats, Path(stats_path)


def check_toy_stats(stats, stats_path, source=None) -> None:
    """Refuse toy Analytic-Init statistics (:func:`cilnb.toy_training.toy_stats`) of other data than the toy's
    (``source``: anything :func:`toy_data` takes): Eq. (5) needs the moments of the data the model generates.
    Statistics without a recorded toy data config (other tools' files) are not checked."""
    from ..toy_training import stats_data

    have = stats_data(stats)
    want = toy_data(source)
    if have is None or have == want:
        return
    h, w = have.to_dict(), want.to_dict()
    differ = sorted(k for k in h.keys() | w.keys() if h.get(k) != w.get(k))
    who = f"the toy checkpoint {source}" if isinstance(source, (str, Path)) and str(source) else "the toy"
    raise ValueError(f"Analytic-Init statistics {stats_path} describe other toy data than {who} was trained on "
                     f"(fields {', '.join(differ)} differ): make its statistics with `python -m cilnb toy-stats "
                     f"--data-from CHECKPOINT --out FILE` and pass that file instead (stats_path=, --stats or Lab.toy(stats=))")


def timenoise_settings(model: str = "toy", a: float = 0.0, beta_m: float = 0.0, model_path: str = "") -> tuple[float, float, str]:
    """``(a, beta_m, where they come from)`` of TimeNoise (Eq. 6): the values given when > 0, else the model's own.

    ``"toy"``: the training config stored in the TimeNoise toy checkpoint (``model_path``, else
    the shipped ``timenoise`` one); SVD, DynamiCrafter, VideoCrafter1: the paper's settings
    (:data:`cilnb.timenoise.PAPER_SETTINGS`; the official SVD training config uses ``beta_m = 15``).
    Shown in notebooks/timenoise.ipynb.
    """
    from .. import checks

    if not isinstance(model, str):
        raise checks.InputTypeError(f"model must be a model name such as 'toy' or 'svd', got {model!r}")
    a = checks.check_number("a", a, fix="(TimeNoise's exponent; 0 = the model's own)")
    beta_m = checks.check_number("beta_m", beta_m, fix="(TimeNoise's maximum level; 0 = the model's own)")
    if a < 0 or beta_m < 0:
        raise ValueError(f"a and beta_m must be > 0 (or 0 for the model's own), got a={a}, beta_m={beta_m}")
    _check_model_path(model_path)  # a number failed in pathlib, naming neither the argument nor the fix
    if a > 0 and beta_m > 0:
        return a, beta_m, "given"
    own = _readout(model).timenoise_settings(model, model_path)
    return (a or own[0]), (beta_m or own[1]), own[2] if not (a or beta_m) else f"{own[2]}, partly overridden"

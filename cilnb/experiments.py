"""The paper's experiments as functions the notebooks call (no logic lives in the notebooks).

- :func:`toy_bench` / :func:`video_bench`: ground-truth videos in a model's sample space, their
  conditioning and the motion read-outs (sprite tracker and optical-flow score).
- :func:`load_models`: the models a notebook compares (toy checkpoints, or one real model).
- :func:`run_probe`, :func:`run_leakage_index` and their plots: Fig. 2 / Fig. 5(a).
- :func:`m_sweep`: Fig. 3(a) and Tables 8/9, resumable through :mod:`cilnb.sweep`.
- :func:`motion_control`: Fig. 1 on the motion-conditioned toy.

Shown in ``notebooks/leakage_probe.ipynb``, ``m_sweep.ipynb``, ``timenoise_training.ipynb`` and
``motion_control.ipynb``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from . import data as _data
from . import probe as _probe

__all__ = [
    "Bench", "SpriteMotion", "sprite_speed", "toy_bench", "video_bench", "load_models", "flow_motion", "probe_times", "run_probe",
    "run_leakage_index", "recommend_start", "plot_probe_strips", "plot_probe_curves", "plot_leakage_index", "probe_verdict",
    "read_clips", "toy_images", "video_images", "with_targets", "ToyReadout", "FlowReadout", "sweep_inputs", "motion_readout", "model_videos", "prepare_condition", "load_stats",
    "load_variants", "describe_models", "sample_grid", "compare_models", "motion_control_images", "motion_control", "timenoise_views",
]

TOY_VARIANTS = ("base", "naive", "timenoise")


def flow_motion(videos: torch.Tensor, *, value_range=(-1.0, 1.0), upsample: int = 1) -> np.ndarray:
    """Farneback SVD-protocol motion score at the videos' own size: per-pair spatial mean flow
    magnitude, mean over pairs (``reduce="mean"``, the official code's choice), in px/frame.

    It averages over the whole frame, so on the toy it is far below the sprite's speed (the sprite
    covers a few % of the pixels) but tracks it (correlation ~0.8 on ground-truth toy videos).
    Farneback under-estimates on upsampled frames, so ``upsample`` stays 1 unless frames are tiny.
    Model predictions can overshoot the data range; they are clamped to it first, as pipelines do
    before showing a video.
    """
    from .metrics import motion_score

    h, w = videos.shape[-2:]
    v = videos.detach().float().cpu().clamp(*value_range)
    res = motion_score(v, method="farneback", protocol="svd", reduce="mean",
                       resize=(h * upsample, w * upsample), value_range=value_range, show_progress=False)
    return res.score.numpy() / upsample


class SpriteMotion:
    """Sprite-tracker motion read-out of toy videos that stays valid on blurred predictions.

    Sprites are found in the *excess over each video's static background*, estimated from the
    ground truth: the mean over frames of every pixel while no sprite covers it (sprite pixels are
    those above :data:`cilnb.data.THRESHOLD`, dilated by one pixel for the soft edges); a pixel
    covered in every frame gets the brightest background value of the data. Pixels with excess above ``threshold`` (data units;
    sprites stand >= 0.5 above the background, blurred one-step predictions less) form the sprites,
    tracked by :func:`cilnb.data.track_sprites`; a sprite that has faded below the threshold is
    not followed into texture or noise. ``what`` is ``"speed"`` (px/frame) or ``"displacement"``
    (px, first to last frame). Calls with ``N = B * K`` videos (``probe_table``'s video-major
    predictions) use background ``n // K`` for video ``n``.
    """

    def __init__(self, ground_truth: torch.Tensor, what: str = "speed", threshold: float = 0.2):
        if what not in ("speed", "displacement"):
            raise ValueError(f"what must be 'speed' or 'displacement', got {what!r}")
        gt = ground_truth.detach().float().cpu()  # [B, F, C, H, W]
        B, Fr, C, H, W = gt.shape
        covered = torch.nn.functional.max_pool2d((gt > _data.THRESHOLD).float().view(B * Fr, C, H, W), 3, 1, 1).view_as(gt) > 0
        free = (~covered).float()
        n = free.sum(dim=1)
        bg_max = _data.SpriteConfig().background_range[1]
        self.background = torch.where(n > 0, (gt * free).sum(dim=1) / n.clamp(min=1), torch.full_like(n, bg_max))
        self.what, self.threshold = what, float(threshold)

    def __call__(self, videos: torch.Tensor) -> np.ndarray:
        v = videos.detach().float().cpu()
        B, N = self.background.shape[0], v.shape[0]
        if N % B:
            raise ValueError(f"SpriteMotion built for {B} videos cannot read {N} (needs a multiple: video-major predictions)")
        excess = v - self.background.repeat_interleave(N // B, dim=0)[:, None]
        tracks = _data.track_sprites(excess, threshold=self.threshold)
        return tracks.speed if self.what == "speed" else tracks.displacement


def sprite_speed(videos: torch.Tensor) -> np.ndarray:
    """Centroid speed (px/frame) of the sprites of generated toy videos (fixed-threshold tracker on
    the clamped videos); NaN where no sprite is found. For one-step predictions use :class:`SpriteMotion`."""
    return _data.track_sprites(videos.detach().float().cpu().clamp(-1, 1)).speed


@dataclass
class Bench:
    """Ground truth for the probe: ``x0`` in the model's sample space, the conditioning, read-outs."""

    x0: torch.Tensor  # [B, F, C, H, W] sample space (pixels for the toy, scaled latents otherwise)
    cond: dict  # {"y": ..., **extras}, batch-first
    videos: torch.Tensor  # [B, F, C, H, W] pixels in [-1, 1], for display
    decode: Callable[[torch.Tensor], torch.Tensor] = field(default=lambda v: v)
    motion_fns: dict = field(default_factory=dict)
    truth: object = None  # SpriteVideos for the toy
    # retention is only defined where the ground truth moves: below these values it is NaN
    min_motion: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.x0.shape[0]


def toy_bench(n_videos: int, seed: int, *, device="cpu", frames: int = 8, size: int = 32) -> Bench:
    """Moving-sprite ground truth (:func:`cilnb.data.generate`) for the toy; motion read by the
    tracker (``speed``, ``displacement``) and by Farneback flow (``flow``)."""
    sv = _data.generate(n_videos, seed=seed, frames=frames, size=size)
    x0 = sv.videos.to(device)
    fns = {"flow": flow_motion, "speed": SpriteMotion(sv.videos, "speed"), "displacement": SpriteMotion(sv.videos, "displacement")}
    # near-static videos have no motion to retain (a ratio to ~0 is noise): 0.5 px/frame, 2 px, 0.1
    return Bench(x0=x0, cond={"y": x0[:, 0]}, videos=sv.videos, motion_fns=fns, truth=sv,
                 min_motion={"speed": 0.5, "displacement": 2.0, "flow": 0.1})


def prepare_condition(adapter, images: torch.Tensor, seed: int = 0, **kwargs) -> dict:
    """``adapter.prepare_condition(images, **kwargs)`` with its random draws (e.g. SVD's noise
    augmentation) from a generator seeded ``seed``, when the adapter takes one and no ``seed=`` is given."""
    import inspect

    if "generator" in inspect.signature(adapter.prepare_condition).parameters and "seed" not in kwargs:
        kwargs.setdefault("generator", torch.Generator().manual_seed(int(seed)))
    with torch.no_grad():
        return dict(adapter.prepare_condition(images, **kwargs))


def video_bench(adapter, videos_dir: str, n_videos: int, *, frames: int, size, stride: int = 1, cond_kwargs: Mapping | None = None,
                seed: int = 0) -> Bench:
    """Ground truth from a folder of real videos for a latent model: read with
    :func:`read_clips`, encoded by ``adapter.encode_video``, conditioned by
    ``adapter.prepare_condition`` on frame 0 (its random draws, e.g. SVD's noise augmentation, from
    ``seed``); motion is the Farneback score of decoded predictions."""
    pix, _ = read_clips(videos_dir, n_videos, frames=frames, size=size, stride=stride)  # [B, F, 3, H, W] in [-1, 1]
    dev = next(adapter.parameters()).device
    dtype = next(adapter.parameters()).dtype
    with torch.no_grad():
        x0 = adapter.encode_video(pix.to(dev, dtype))
    cond = prepare_condition(adapter, pix[:, 0].to(dev, dtype), seed, **dict(cond_kwargs or {}))

    def decode(lat):
        with torch.no_grad():
            return adapter.decode_latents(lat.to(dev, dtype)).float().cpu()

    fns = {"flow": lambda lat: flow_motion(decode(lat), upsample=1)}
    return Bench(x0=x0, cond=cond, videos=pix, decode=decode, motion_fns=fns)


def load_models(model: str = "toy", model_path: str = "", variants: str | Sequence[str] = TOY_VARIANTS, device="auto", dtype=None) -> dict:
    """``{label: model}``: the toy checkpoints named in ``variants`` (comma-separated or a list),
    or the single real model ``model`` loaded from ``model_path`` via :func:`cilnb.models.load`."""
    from . import models

    if model == "toy":
        names = [v.strip() for v in variants.split(",")] if isinstance(variants, str) else list(variants)
        names = [n for n in names if n]
        if not names:
            raise ValueError("variants is empty: name toy checkpoints such as 'base,naive,timenoise'")
        if model_path:
            return {Path(model_path).stem: models.load("toy", model_path, device=device)}
        return {n: models.load("toy", n, device=device) for n in names}
    return {model: models.load(model, model_path or None, device=device, dtype=dtype)}


def load_variants(model: str = "toy", model_path: str = "", *, naive: str = "", timenoise: str = "",
                  which: Sequence[str] = TOY_VARIANTS, device="auto", dtype=None) -> dict:
    """The models Table 1 and Fig. 1 compare, as ``{"base": ..., "naive": ..., "timenoise": ...}`` (those in ``which``).

    Toy: the shipped checkpoints, or the files given as ``naive`` / ``timenoise`` (``model_path``:
    another base). Real models: ``model`` from ``model_path`` is ``base``; ``naive`` and
    ``timenoise`` name fine-tuned UNet folders (``OUT/unet`` of ``python -m cilnb finetune [--naive]``),
    loaded into the same pipeline; the variants without a folder are left out.
    """
    from . import models

    if model == "toy":
        files = {"base": model_path or "base", "naive": naive or "naive", "timenoise": timenoise or "timenoise"}
        return {k: models.load("toy", files[k], device=device) for k in which}
    from .models.base import _from_pretrained

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
        unet = _from_pretrained(unet_cls, str(folder), next(out["base"].unet.parameters()).dtype)
        out[label] = models.load(model, model_path or None, device=device, dtype=dtype, unet=unet)
    return out


def describe_models(models: Mapping) -> pd.DataFrame:
    """One row per model: its training settings (toy checkpoints) and a short weights digest."""
    rows = []
    for k, m in models.items():
        cfg = getattr(m, "meta", {}).get("train_config", {})
        rows.append({"model": k, **{kk: cfg.get(kk) for kk in ("variant", "steps", "seed", "timenoise_a", "timenoise_beta_m")},
                     "weights": weights_digest(m)[:12]})
    return pd.DataFrame(rows)


def probe_times(n: int, t_min: float = 0.05) -> torch.Tensor:
    """``n`` probe times evenly spaced on ``[t_min, 1]`` (normalised)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return torch.linspace(t_min, 1.0, n, dtype=torch.float64) if n > 1 else torch.ones(1, dtype=torch.float64)


def run_probe(models: Mapping, bench: Bench, ts, *, seed: int = 0, batch_size: int = 64, show_progress: bool = False):
    """Probe every model on the same videos, noise and times: ``(table, predictions)``.

    ``table`` is :func:`cilnb.probe.probe_table` with a ``model`` column; motion columns are
    measured on decoded predictions; ``predictions[label]`` is ``[B, K, F, C, H, W]`` (sample space).
    """
    cond = dict(bench.cond)
    y = cond.pop("y")
    tables, preds = [], {}
    for label, m in models.items():
        pred = _probe.one_step_predictions(m, bench.x0, ts, y=y, cond=cond, seed=seed, batch_size=batch_size, show_progress=show_progress)
        df = _probe.probe_table(m, bench.x0, ts, y=y, cond=cond, motion_fns=bench.motion_fns, predictions=pred)
        for name, lo in bench.min_motion.items():
            if f"{name}_gt" in df:
                df.loc[df[f"{name}_gt"] < lo, f"{name}_retention"] = np.nan
        df.insert(0, "model", label)
        tables.append(df)
        preds[label] = pred
    return pd.concat(tables, ignore_index=True), preds


def run_leakage_index(models: Mapping, bench: Bench, ts, *, seed: int = 0, batch_size: int = 64, show_progress: bool = False) -> pd.DataFrame:
    """:func:`cilnb.probe.leakage_index` for every model on the same inputs, with a ``model`` column."""
    cond = dict(bench.cond)
    y = cond.pop("y")
    out = []
    for label, m in models.items():
        df = _probe.leakage_index(m, bench.x0, ts, y=y, cond=cond, seed=seed, batch_size=batch_size, show_progress=show_progress)
        df.insert(0, "model", label)
        out.append(df)
    return pd.concat(out, ignore_index=True)


def plot_probe_strips(bench: Bench, predictions: torch.Tensor, ts, show_t: Sequence[float], video: int = 0):
    """Fig. 2: the ground-truth video above ``Xhat_{t->0}`` at the probed times nearest ``show_t``."""
    from .plotting import video_grid

    ts = torch.as_tensor(ts, dtype=torch.float64)
    rows, labels = [bench.videos[video]], ["ground truth"]
    for t in show_t:
        k = int(torch.argmin((ts - float(t)).abs()))
        rows.append(bench.decode(predictions[video, k][None])[0])
        labels.append(f"t = {ts[k]:.2f}")
    return video_grid(rows, labels, col_labels=[f"f{j}" for j in range(bench.videos.shape[1])])


def plot_probe_curves(table: pd.DataFrame, columns: Sequence[str], *, ylabel: str = "motion of Xhat / ground truth", recommend: float | None = None):
    """Fig. 5(a): mean (with 95% CI) of each ``column`` over videos vs t, one line per model."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, len(columns), figsize=(4.5 * len(columns), 3.5), squeeze=False)
    for ax, col in zip(axes[0], columns):
        sns.lineplot(data=table, x="t", y=col, hue="model", marker="o", ax=ax, errorbar=("ci", 95))
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        if recommend is not None:
            ax.axvline(recommend, color="tab:red", lw=1, ls=":", label=f"recommended M = {recommend:.2f}")
            ax.legend(fontsize=8)
        ax.set_title(col)
        ax.set_xlabel("t (normalised, 1 = T)")
        ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def plot_leakage_index(li: pd.DataFrame):
    """The leakage index over t: share of the prediction's sensitivity owed to the conditional image."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(5, 3.5))
    sns.lineplot(data=li, x="t", y="index", hue="model", marker="o", ax=ax, errorbar=("ci", 95))
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("t (normalised, 1 = T)")
    ax.set_ylabel("leakage index  d_y / (d_y + d_x)")
    ax.set_title("how much Xhat follows y rather than X_t")
    fig.tight_layout()
    return fig


def recommend_start(table: pd.DataFrame, model: str, column: str, threshold: float = 0.8) -> tuple[float | None, str]:
    """:func:`cilnb.probe.recommend_start` for one model of a :func:`run_probe` table, as ``(M or None, sentence)``:
    ``None`` (and the reason) when no contiguous run of small t keeps ``threshold`` of the motion."""
    try:
        M = _probe.recommend_start(table[table.model == model], column, threshold)
    except ValueError as exc:
        return None, f"No recommended start time for {model}: {exc}."
    return M, (f"Recommended start time M = {M:.2f} T for {model} (largest t keeping >= {threshold:.0%} of the motion "
               f"by {column}; a heuristic to start an M sweep from).")


def probe_verdict(table: pd.DataFrame, column: str, *, model: str, t_high: float = 0.9, marked: float = 0.75) -> tuple[bool, str]:
    """Claim 1 on the computed numbers: at ``t >= t_high`` the prediction keeps markedly less motion
    than the ground truth: mean ``column`` (a motion retention; per video, averaged over those t)
    below ``marked`` with the upper end of its 95% interval (normal approximation over videos) below 1."""
    sub = table[(table.model == model) & (table.t >= t_high)].groupby("video")[column].mean().dropna()
    if sub.empty:
        return False, (f"Claim 1 could NOT be measured on {model}: no finite {column} at t >= {t_high} "
                       "(no moving ground truth or no motion found in the predictions); see the strips.")
    val = float(sub.mean())
    half = 1.96 * float(sub.std(ddof=1)) / np.sqrt(len(sub)) if len(sub) > 1 else float("inf")
    ok = bool(val < marked and val + half < 1.0)
    word = "REPRODUCED" if ok else "NOT reproduced"
    msg = (f"Claim 1 (leakage probe) {word} on {model}: at t >= {t_high} the one-step prediction keeps "
           f"{100 * val:.0f}% (95% CI {100 * (val - half):.0f}-{100 * (val + half):.0f}%, {len(sub)} moving videos) "
           f"of the ground truth's motion ({column}; 'markedly less' = below {100 * marked:.0f}% with the CI below 100%).")
    return ok, msg


# ----------------------------------------------------------------------------------------------
# Sampling experiments on the toy: M sweep (Fig. 3a, Tables 8/9), model comparison (Table 1)
# ----------------------------------------------------------------------------------------------


def weights_digest(model) -> str:
    """SHA-256 of a model's parameters and buffers (names, shapes and values): which weights made a result."""
    import hashlib

    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().to("cpu").contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def default_run_dir(kind: str, label: str, model, **settings) -> Path:
    """``<run root>/<kind>_<label>_<hash>`` (:func:`cilnb._util.run_root`: ``$CILNB_RUN_DIR`` or
    ``<repo>/build/runs``): the hash covers the weights and the settings a sweep cannot change on
    resume, so a retrained model or other settings never reuse stale videos."""
    import hashlib
    import json

    from .sweep import NOISE_RULE

    # the sweep's noise rule is part of the key: folders of sweeps seeded another way are never resumed
    key = json.dumps({"weights": weights_digest(model), "noise": NOISE_RULE, **settings}, sort_keys=True, default=str)
    from ._util import run_root

    return run_root() / f"{kind}_{label}_{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def load_sweep_videos(out: str | Path, table: pd.DataFrame) -> torch.Tensor:
    """The stored videos of the rows of a :func:`cilnb.sweep.run_sweep` table, in row order."""
    from safetensors.torch import load_file

    return torch.stack([load_file(str(Path(out) / f))["video"].float() for f in table["file"]])


def reference_videos(n: int, seed: int) -> torch.Tensor:
    """Real toy videos for the Fréchet distance, drawn with a seed disjoint from the conditioning images."""
    return _data.generate(n, seed=seed, flow=False).videos


# --- conditional images, and how sampled videos are read -------------------------------------


def read_clips(videos_dir: str | Path, n_videos: int, *, frames: int, size, stride: int = 1, channels: int = 3) -> tuple[torch.Tensor, list[str]]:
    """The first ``n_videos`` readable clips under ``videos_dir`` (:func:`cilnb.stats_cli.find_videos`):
    ``([B, F, C, H, W]`` in ``[-1, 1]``, names``)``. Files that cannot be read or are too short are
    skipped with a warning naming them; a folder with none readable is a ``ValueError``."""
    import warnings

    from .stats_cli import VideoSkip, clip_to_tensor, find_videos, parse_size, read_clip

    if isinstance(n_videos, bool) or not isinstance(n_videos, int) or n_videos < 1:
        raise ValueError(f"n_videos must be a positive int, got {n_videos!r}")
    if not videos_dir:
        raise ValueError("videos_dir is empty: real models need a folder of ground-truth videos (files or frame folders)")
    paths = find_videos(videos_dir)
    hw = parse_size(size)
    clips, names, skipped = [], [], []
    for p in paths:
        if len(clips) == n_videos:
            break
        try:
            clips.append(clip_to_tensor(read_clip(p, frames, stride=stride), hw, channels))
            names.append(p.stem)
        except VideoSkip as exc:
            skipped.append(f"{p.name} ({exc})")
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable or short videos in {videos_dir}: {', '.join(skipped[:10])}", stacklevel=2)
    if not clips:
        raise ValueError(f"no readable videos with {frames} frames (stride {stride}) in {videos_dir}")
    return torch.stack(clips), names


def toy_images(n_images: int, data_seed: int = 0, model=None):
    """Frame 0 of ``n_images`` fresh toy videos (:func:`cilnb.sweep.load_images` ``"toy:N"``), with their true speeds."""
    from . import sweep

    return sweep.load_images(f"toy:{n_images}", model, data_seed=data_seed)


def video_images(videos_dir: str | Path, n_videos: int, *, frames: int, size, stride: int = 1):
    """Frame 0 of the clips of :func:`read_clips` as a :class:`cilnb.sweep.ImageSet`; the clips ride along as ``videos``."""
    from .stats_cli import parse_size
    from .sweep import ImageSet, _safe

    clips, names = read_clips(videos_dir, n_videos, frames=frames, size=size, stride=stride)
    h, w = parse_size(size)
    spec = f"videos:{Path(videos_dir).resolve()}:{clips.shape[0]}x{frames}f@{h}x{w}/s{stride}"
    return ImageSet([f"{k:05d}_{_safe(n)}" for k, n in enumerate(names)], clips[:, 0].clone(), spec, {}, clips)


def with_targets(images, name: str, targets: Sequence[float]):
    """Every image once per value of the per-image conditioning ``name`` (e.g. SVD's ``motion_bucket_id``),
    image-major (the source videos are dropped: the targets are the ground truth)."""
    from .sweep import ImageSet

    targets = [float(t) for t in targets]
    if not targets:
        raise ValueError(f"give at least one {name} target")
    n, k = len(images), len(targets)
    idx = torch.arange(n).repeat_interleave(k)
    names = [f"{images.names[i]}_{name}{t:g}" for i in range(n) for t in targets]
    cols = {c: [v[i] for i in idx.tolist()] for c, v in images.columns.items()}
    return ImageSet(names, images.images[idx], f"{images.spec}|{name}={targets}", cols, None, {name: targets * n})


class ToyReadout:
    """Toy videos: motion is the sprite speed (px/frame; ground truth: each source video's true
    speed), quality the standardised Fréchet distance (:mod:`cilnb.evaluation`) to ``n_reference``
    fresh real toy videos."""

    motion_name = "sprite speed (px/frame)"
    fd_name = "FD to real toy videos (toy features)"
    sweep_motion: tuple = ("none", None)

    def __init__(self, n_reference: int, data_seed: int = 0):
        from . import evaluation

        if n_reference < 0 or n_reference == 1:
            raise ValueError(f"n_reference must be 0 (no quality distance) or >= 2, got {n_reference}")
        self.fd_name = self.fd_name if n_reference else None
        ref = reference_videos(n_reference, seed=data_seed + 10_007) if n_reference else None
        self._ref = evaluation.video_features(ref) if n_reference else None
        # a quality read-out robust to outliers: how often a sample keeps frame 0's sprite count
        self.reference_columns = {"sprite_stability": float(_data.track_sprites(ref).count_stability.mean())} if n_reference else {}

    def read(self, table: pd.DataFrame, out: Path) -> dict:
        """Per-video columns from one pass of the tracker over the stored videos: ``motion`` (sprite
        speed, as :func:`sprite_speed`) and ``sprite_stability``, the fraction of frames whose sprite
        count equals frame 0's (real toy videos: about 0.9; sprites that fade, split or appear lower it)."""
        tracks = _data.track_sprites(load_sweep_videos(out, table).clamp(-1, 1))
        return {"motion": tracks.speed, "sprite_stability": tracks.count_stability}

    def gt_motion(self, images) -> np.ndarray:
        return np.asarray(images.columns["input_speed"], dtype=float)

    def fd(self, table: pd.DataFrame, out: Path) -> tuple[float, float, float]:
        """``(FD, lo, hi)``: the distance and its 95% bootstrap interval over the videos of ``table``."""
        from . import evaluation

        return evaluation.frechet_to_reference_ci(load_sweep_videos(out, table), self._ref)


class FlowReadout:
    """Videos of a real model: motion is :func:`cilnb.metrics.motion_score` (``method``, SVD protocol;
    ``motion_kwargs`` e.g. ``{"reduce": "mean", "resize": None}``), computed by the sweep as videos
    finish and, for the ground truth, on the source clips with the same settings; quality is FVD
    (I3D features of the ``reference`` clips vs the generated videos) when ``i3d_path`` names the
    detector (:func:`cilnb.metrics.fvd.i3d_path`), else left out (the plots say so)."""

    def __init__(self, method: str = "farneback", motion_kwargs: Mapping | None = None, *, i3d_path: str = "",
                 reference: torch.Tensor | None = None, device="auto", batch_size: int = 8):
        if method not in ("farneback", "raft"):
            raise ValueError(f"motion method must be 'farneback' or 'raft', got {method!r}")
        self.method, self.kwargs = method, dict(motion_kwargs or {})
        self.sweep_motion = (method, self.kwargs)
        reduce = self.kwargs.get("reduce", "sum")
        self.motion_name = f"{method} motion score (SVD protocol, {reduce} over frame pairs)"
        self._det, self._ref, self.batch_size, self.device = None, None, int(batch_size), device
        self._gt: dict = {}  # image-set spec -> ground-truth scores
        self.fd_name = None
        if i3d_path:
            from .metrics.fvd import load_i3d

            if reference is None:
                raise ValueError("FVD needs reference videos (the ground-truth clips)")
            self._det = load_i3d(i3d_path, device)
            self._ref = self._features(reference)
            self.fd_name = "FVD to the source clips (I3D)"

    def _features(self, videos: torch.Tensor) -> np.ndarray:
        from .metrics.fvd import i3d_features

        return i3d_features(videos.float(), self._det, value_range=(-1.0, 1.0), batch_size=self.batch_size,
                            device=self.device, show_progress=False)

    reference_columns: dict = {}

    def read(self, table: pd.DataFrame, out: Path) -> dict:
        """Per-video columns: ``motion``, the score the sweep computed as each video finished."""
        return {"motion": table["motion_score"].to_numpy(dtype=float)}

    def gt_motion(self, images) -> np.ndarray:
        if images.videos is None:
            return np.full(len(images), np.nan)
        if images.spec not in self._gt:
            from .metrics import motion_score

            res = motion_score(images.videos.float(), method=self.method, value_range=(-1.0, 1.0), show_progress=False, **self.kwargs)
            self._gt[images.spec] = res.score.numpy().astype(float)
        return self._gt[images.spec]

    def fd(self, table: pd.DataFrame, out: Path) -> tuple[float, float, float]:
        """``(FVD, lo, hi)``: the distance and its 95% bootstrap interval over the videos of ``table``."""
        from .metrics import frechet_distance, frechet_interval

        feats = np.concatenate([self._features(load_sweep_videos(out, table.iloc[lo:lo + self.batch_size]))
                                for lo in range(0, len(table), self.batch_size)])
        return (frechet_distance(feats, self._ref), *frechet_interval(feats, self._ref))


def sweep_inputs(model: str, *, n_images: int, seed: int = 0, n_reference: int = 512, videos_dir: str = "", frames: int = 14,
                 size="320x512", stride: int = 1, motion_method: str = "farneback", motion_kwargs: Mapping | None = None,
                 i3d_path: str = "", device="auto"):
    """``(images, readout)`` for the sampling notebooks: the toy's fresh sprite videos with
    :class:`ToyReadout`, or frame 0 of the clips in ``videos_dir`` with :class:`FlowReadout`."""
    if model == "toy":
        return toy_images(n_images, seed), ToyReadout(n_reference, seed)
    images = video_images(videos_dir, n_images, frames=frames, size=size, stride=stride)
    return images, FlowReadout(motion_method, motion_kwargs, i3d_path=i3d_path, reference=images.videos, device=device)


def motion_readout(model: str, motion_method: str = "farneback", motion_kwargs: Mapping | None = None):
    """Motion only (no quality distance), as Fig. 1 needs: :class:`ToyReadout` for the toy, else :class:`FlowReadout`."""
    return ToyReadout(0) if model == "toy" else FlowReadout(motion_method, motion_kwargs)


def model_videos(model: str, model_path: str = "", *, n_videos: int, seed: int = 0, videos_dir: str = "", frames: int = 14,
                 size="320x512", n_steps: int = 25, device="auto") -> tuple[torch.Tensor, torch.Tensor]:
    """``(generated, ground truth)`` videos ``[N, F, C, H, W]`` in ``[-1, 1]``: ``n_videos`` samples of
    ``model`` (M = T, standard noise, DDIM) conditioned on frame 0 of ground-truth clips (toy: fresh
    sprite videos from ``seed``; real models: the clips in ``videos_dir``, decoded by the VAE).
    Shown in notebooks/motion_metrics.ipynb."""
    from . import models as _models
    from .sampling import sample
    from .stats_cli import encoder_for

    net = _models.load(model, model_path or None, device=device)
    if model == "toy":
        truth = _data.generate(n_videos, seed=seed, flow=False).videos
    else:
        truth, _ = read_clips(videos_dir, n_videos, frames=frames, size=size)
    dev, dtype = next(net.parameters()).device, next(net.parameters()).dtype
    y, cond = truth[:, 0].to(dev, dtype), {}
    latent = encoder_for(net)[3] == "latent"
    if latent:
        cond = prepare_condition(net, y, seed)
        y = cond.pop("y")
    x = sample(net, y, n_steps=n_steps, seed=list(range(seed, seed + n_videos)), frames=truth.shape[1], cond=cond, show_progress=False)
    if latent:
        with torch.no_grad():
            x = net.decode_latents(x)
    return x.float().cpu().clamp(-1, 1), truth


def load_stats(model: str, stats_path: str = "", inits: Sequence[str] = ("analytic",)):
    """``(MomentStats or None, path)``: ``stats_path``, or the toy's shipped statistics; a real model
    sampled with Analytic-Init needs its own (``python -m cilnb stats``; the official ``.pt`` files
    load too, as in ``python -m cilnb sample``)."""
    from ._util import data_dir
    from .sweep import _load_stats

    if not stats_path:
        if model != "toy":
            if "analytic" in inits:
                raise ValueError(f"Analytic-Init on {model} needs its latent statistics: run `python -m cilnb stats --model {model} "
                                 "--videos DIR --out FILE` (docs/real_models.md) and pass stats_path=FILE")
            return None, None
        stats_path = str(data_dir() / "toy_stats.safetensors")
    return _load_stats(stats_path), Path(stats_path)


def sample_grid(model, out_dir: str | Path, images, readout, *, Ms: Sequence[float], inits: Sequence[str], seeds: Sequence[int],
                n_steps: int, stats=None, stats_path=None, cond_kwargs: Mapping | None = None, batch_size: int = 32,
                show_progress: bool = True, label: str = "", sampler: str = "ddim") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sample every (M, init, seed, image) with :func:`cilnb.sweep.run_sweep` (saved as they finish,
    resumed when rerun) and read them with ``readout`` (:class:`ToyReadout` / :class:`FlowReadout`):
    ``(per_video, summary)``. ``sampler``: ``"ddim"``, ``"euler"`` or ``"heun"`` (:mod:`cilnb.sampling`).

    ``per_video``: the sweep's rows plus ``motion``, ``gt_motion`` (of the image's source video) and
    ``first_frame_psnr`` (the sweep's ``align_psnr``: generated frame 0 vs the conditional image,
    dB). ``summary``: per ``(M, init)``, means and standard errors, ``motion_ratio`` = generated /
    ground-truth motion, ``fd`` with its 95% bootstrap interval ``fd_lo``-``fd_hi`` (when the
    readout has a quality distance), and the read-outs' names (``motion_name``, ``fd_name``).
    """
    from . import sweep

    method, kw = readout.sweep_motion
    res = sweep.run_sweep(model, images, out_dir, Ms=list(Ms), inits=list(inits), seeds=list(seeds), n_steps=n_steps,
                          stats=stats, stats_path=stats_path, batch_size=batch_size, motion_method=method, motion_kwargs=kw, sampler=sampler,
                          cond_kwargs=dict(cond_kwargs or {}) or None, model_name=label or "toy", show_progress=show_progress)
    table = res.table.sort_values(["M", "init", "seed", "image_index"]).reset_index(drop=True)
    extra = readout.read(table, Path(out_dir))
    table["motion"] = extra.pop("motion")
    table["first_frame_psnr"] = table["align_psnr"]
    table["gt_motion"] = readout.gt_motion(images)[table["image_index"].to_numpy()]
    table["model"] = label
    for k, v in extra.items():
        table[k] = v
    rows = []
    for (M, init), g in table.groupby(["M", "init"], sort=False):
        row = {"model": label, "M": M, "init": init, "n": len(g),
               "motion": g.motion.mean(), "motion_sem": g.motion.sem(), "gt_motion": g.gt_motion.mean(),
               "motion_ratio": g.motion.mean() / g.gt_motion.mean(),
               "first_frame_psnr": g.first_frame_psnr.mean(), "first_frame_psnr_sem": g.first_frame_psnr.sem()}
        for k in extra:
            row[k], row[f"{k}_sem"] = g[k].mean(), g[k].sem()
            if k in readout.reference_columns:
                row[f"{k}_data"] = readout.reference_columns[k]
        if readout.fd_name:
            row["fd"], row["fd_lo"], row["fd_hi"] = readout.fd(g, Path(out_dir))
        rows.append(row)
    summary = pd.DataFrame(rows).sort_values(["init", "M"], ascending=[True, False]).reset_index(drop=True)
    summary["motion_name"], summary["fd_name"] = readout.motion_name, readout.fd_name or ""
    return table, summary


def _has_fd(summary: pd.DataFrame) -> bool:
    return "fd" in summary and bool(summary.fd.notna().all())


def _no_fd(ax, summary: pd.DataFrame) -> bool:
    """Draw a note instead of a quality panel when the sweep has no quality distance."""
    if _has_fd(summary):
        return False
    ax.text(0.5, 0.5, "no quality distance:\npass i3d_path for FVD", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([]), ax.set_yticks([])
    return True


def plot_m_sweep(summary: pd.DataFrame):
    """Fig. 3(a) / Tables 8-9: motion, quality (FD) and alignment vs M, standard vs Analytic-Init."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    no_fd = _no_fd(axes[1], summary)
    for init, g in summary.groupby("init"):
        g = g.sort_values("M")
        axes[0].errorbar(g.M, g.motion, yerr=g.motion_sem, marker="o", label=init, capsize=3)
        if not no_fd:
            axes[1].errorbar(g.M, g.fd, yerr=[g.fd - g.fd_lo, g.fd_hi - g.fd], marker="o", label=init, capsize=3)
        axes[2].errorbar(g.M, g.first_frame_psnr, yerr=g.first_frame_psnr_sem, marker="o", label=init, capsize=3)
    gt = summary.gt_motion.iloc[0]
    if np.isfinite(gt):
        axes[0].axhline(gt, color="k", ls="--", lw=0.8, label="ground truth")
    axes[0].set_ylabel(summary.motion_name.iloc[0])
    axes[1].set_ylabel(f"{summary.fd_name.iloc[0]}\n(lower is better; bars: 95% bootstrap)")
    axes[2].set_ylabel("frame-0 PSNR to y (dB)")
    for ax in axes[[0, 2]] if no_fd else axes:
        ax.set_xlabel("start time M (normalised)")
        ax.invert_xaxis()
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_sweep_videos(per_video: pd.DataFrame, out_dir: str | Path, *, image_index: int = 0, seed: int | None = None):
    """Generated videos of one conditional image for every (M, init) of a sweep, one row each."""
    from .plotting import video_grid

    sub = per_video[per_video.image_index == image_index]
    if seed is not None:
        sub = sub[sub.seed == seed]
    sub = sub.drop_duplicates(["M", "init"]).sort_values(["init", "M"], ascending=[True, False])
    vids = load_sweep_videos(out_dir, sub)
    labels = [f"{r.init} M={r.M:g}" for r in sub.itertuples()]
    return video_grid(vids, labels)


def _fd_text(r) -> str:
    return f"{r.fd:.1f} [{r.fd_lo:.1f}-{r.fd_hi:.1f}]"


def _fd_order(a, b) -> str:
    """``"better"``, ``"worse"`` or ``"indistinguishable"``: ``a``'s FD against ``b``'s by their 95% bootstrap intervals."""
    if a.fd_hi < b.fd_lo:
        return "better"
    return "worse" if a.fd_lo > b.fd_hi else "indistinguishable"


def _versus(d: float, band: float, words=("better", "worse", "indistinguishable")) -> str:
    """``words[0]`` when the difference ``d`` is above ``band``, ``words[1]`` when below ``-band``, else ``words[2]``."""
    return words[0] if d > band else (words[1] if d < -band else words[2])


def _column_versus(a, b, col: str) -> str:
    """Row ``a`` against row ``b`` on ``col`` (a mean with its ``col_sem``): :func:`_versus` at 2 standard errors."""
    return _versus(a[col] - b[col], 2 * max(a[f"{col}_sem"], b[f"{col}_sem"]))


def sweep_verdict(summary: pd.DataFrame) -> list[str]:
    """Claim 2 read off the sweep: (a) motion rises as M falls; (b) at the smallest M, Analytic-Init has
    better quality (FD) and alignment than standard noise; (c) some M < 1 with Analytic-Init has
    lower FD than M = 1. Differences count when they exceed 2 standard errors (motion, PSNR) or
    when the 95% bootstrap intervals of FD do not overlap. Parts that need a quality distance say
    so when there is none."""
    out = []
    has_fd = _has_fd(summary)
    ana = summary[summary.init == "analytic"].sort_values("M")
    std = summary[summary.init == "standard"].sort_values("M")
    base = summary[(summary.M == summary.M.max())]
    unit = summary.motion_name.iloc[0] if "motion_name" in summary else "motion"
    if len(std) > 1:
        lo, hi = std.iloc[0], std.iloc[-1]
        rising = _column_versus(lo, hi, "motion") == "better"
        out.append(f"(a) motion {'rises' if rising else 'does NOT rise'} as M falls (standard noise): "
                   f"{hi.motion:.2f} +- {hi.motion_sem:.2f} at M={hi.M:g} -> {lo.motion:.2f} +- {lo.motion_sem:.2f} at M={lo.M:g} "
                   f"({unit}, +- 1 s.e.; ground truth {summary.gt_motion.iloc[0]:.2f}).")
    if len(ana) and len(std):  # both inits at the smallest M
        m = min(ana.M.min(), std.M.min())
        a, s = ana[ana.M == m].iloc[0], std[std.M == m].iloc[0]
        align = _column_versus(a, s, "first_frame_psnr")
        psnr = f"frame-0 PSNR {a.first_frame_psnr:.1f} vs {s.first_frame_psnr:.1f} dB (alignment {align})"
        if has_fd:
            quality = _fd_order(a, s)
            better = quality == "better" and align != "worse"
            out.append(f"(b) at M={m:g} Analytic-Init {'beats' if better else 'does NOT beat'} standard noise on quality and alignment: "
                       f"FD {_fd_text(a)} vs {_fd_text(s)} (quality {quality}), {psnr}.")
        else:
            better = align == "better"
            out.append(f"(b) at M={m:g} Analytic-Init {'beats' if better else 'does NOT beat'} standard noise on alignment: "
                       f"{psnr}; quality not measured (no i3d_path).")
    if len(ana) > 1 and len(base) and has_fd:
        early = ana[ana.M < summary.M.max()]
        best, ref = early.loc[early.fd.idxmin()], base.loc[base.fd.idxmin()]
        order = _fd_order(best, ref)
        out.append(f"(c) best Analytic-Init start M={best.M:g}: FD {_fd_text(best)} vs {_fd_text(ref)} at M={summary.M.max():g} "
                   f"({order}), motion ratio {best.motion_ratio:.2f}.")
    if "sprite_stability" in summary and len(ana) and len(std):
        word = _column_versus(a, s, "sprite_stability")
        top = summary[summary.M == summary.M.max()].sprite_stability.mean()
        out.append(f"(d) sprite stability (frames keeping frame 0's sprite count; an outlier-robust quality read-out) at M={m:g}: "
                   f"Analytic-Init {a.sprite_stability:.2f} vs standard {s.sprite_stability:.2f} ({word}); "
                   f"{top:.2f} at M={summary.M.max():g}, real videos {a.get('sprite_stability_data', float('nan')):.2f}.")
    return out


def compare_models(models: Mapping, configs: Sequence[tuple[str, float, str]], images, readout, *, out_root: str | Path | None = None,
                   seeds: Sequence[int], n_steps: int, stats=None, stats_path=None, cond_kwargs: Mapping | None = None,
                   batch_size: int = 64, show_progress: bool = True, sampler: str = "ddim") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 1: each ``(model label, M, init)`` of ``configs`` sampled on the same images and seeds
    with :func:`sample_grid` (resumable, one run folder per model), one summary row each."""
    per, rows = [], []
    for label in dict.fromkeys(c[0] for c in configs):
        if label not in models:
            raise ValueError(f"config names model {label!r}, not among {list(models)}")
        mine = [c for c in configs if c[0] == label]
        Ms = sorted({c[1] for c in mine}, reverse=True)
        inits = sorted({c[2] for c in mine})
        out = (Path(out_root) / label) if out_root else default_run_dir(
            "compare", label, models[label], images=images.spec, n_images=len(images), cond=images.cond, n_steps=n_steps,
            cond_kwargs=dict(cond_kwargs or {}), motion=readout.sweep_motion, sampler=sampler)
        pv, summ = sample_grid(models[label], out, images, readout, Ms=Ms, inits=inits, seeds=seeds, n_steps=n_steps,
                               stats=stats, stats_path=stats_path, cond_kwargs=cond_kwargs, batch_size=batch_size,
                               show_progress=show_progress, label=label, sampler=sampler)
        keep = {(c[1], c[2]) for c in mine}
        per.append(pv[[(m, i) in keep for m, i in zip(pv.M, pv.init)]])
        rows.append(summ[[(m, i) in keep for m, i in zip(summ.M, summ.init)]])
    summary = pd.concat(rows, ignore_index=True)
    order = {(c[0], c[1], c[2]): k for k, c in enumerate(configs)}
    summary["order"] = [order[(r.model, r.M, r.init)] for r in summary.itertuples()]
    return pd.concat(per, ignore_index=True), summary.sort_values("order").drop(columns="order").reset_index(drop=True)


def plot_compare(summary: pd.DataFrame):
    """Table 1 as bars: motion (ratio to the ground truth), quality (FD) and alignment per configuration."""
    import matplotlib.pyplot as plt

    names = [f"{r.model}\n{'M=' + format(r.M, 'g') + chr(10) + r.init if (r.M < 1 or r.init != 'standard') else 'M=T'}" for r in summary.itertuples()]
    fig, axes = plt.subplots(1, 3, figsize=(4 + 1.6 * len(names), 3.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    no_fd = _no_fd(axes[1], summary)
    for ax, col, lab in zip(axes, ["motion_ratio", "fd", "first_frame_psnr"],
                            ["motion / ground truth", f"quality: {summary.fd_name.iloc[0]} (lower is better)", "alignment: frame-0 PSNR (dB)"]):
        if col == "fd" and no_fd:
            continue
        err = [summary.fd - summary.fd_lo, summary.fd_hi - summary.fd] if col == "fd" else None
        ax.bar(range(len(names)), summary[col], yerr=err, capsize=3, color=[colors[k % len(colors)] for k in range(len(names))])
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, fontsize=8)
        ax.set_title(lab, fontsize=10)
    axes[0].axhline(1.0, color="k", ls="--", lw=0.8)
    axes[0].set_ylabel(f"ratio of {summary.motion_name.iloc[0]}", fontsize=8)
    fig.tight_layout()
    return fig


def timenoise_views(model, image: torch.Tensor, ts: Sequence[float], a: float, beta_m: float, *, seed: int = 0, n_draws: int = 3) -> list:
    """What TimeNoise does to a conditional image ``[C, H, W]`` in [-1, 1]: one ``[len(ts), C, H, W]``
    row per draw of ``y + beta_s eps`` at each t. For latent models (``model`` with a VAE) the noise
    is added to the image's unscaled VAE latent, as fine-tuning does (:mod:`cilnb.finetune`), and
    the result decoded; for pixel models (the toy, ``model=None``) to the pixels."""
    from .stats_cli import encoder_for
    from .timenoise import add_timenoise

    ts_t = torch.tensor([float(t) for t in ts], dtype=torch.float64)
    g = torch.Generator().manual_seed(int(seed))
    encode, _, scale, space = encoder_for(model) if model is not None else (None, None, None, "pixel")
    if space == "latent":
        with torch.no_grad():
            lat = encode(image[None, None].to(next(model.parameters()).device, next(model.parameters()).dtype)).float().cpu()[0, 0] / scale
    rows = []
    for _ in range(n_draws):
        base = lat if space == "latent" else image
        yb = add_timenoise(base[None].expand(len(ts), *base.shape).clone(), ts_t, a, beta_m, generator=g)
        if space == "latent":
            with torch.no_grad():
                yb = model.decode_latents((yb * scale)[:, None].to(next(model.parameters()).device)).float().cpu()[:, 0]
        rows.append(yb.clamp(-1, 1))
    return rows


def plot_timenoise_conditioning(y: torch.Tensor, ts: Sequence[float], a: float, beta_m: float, *, seed: int = 0, n_draws: int = 3, model=None):
    """What TimeNoise does to the conditional image (:func:`timenoise_views`), rows: draws, columns: t."""
    from .plotting import video_grid

    rows = timenoise_views(model, y, ts, a, beta_m, seed=seed, n_draws=n_draws)
    where = "on the VAE latent, decoded" if model is not None else "on the pixels"
    return video_grid(rows, [f"draw {k}" for k in range(n_draws)], col_labels=[f"t={float(t):g}" for t in ts],
                      title=f"TimeNoise on y ({where}): a={a:g}, beta_m={beta_m:g} (shown clipped to [-1, 1])")


def table1_verdict(summary: pd.DataFrame, *, naive: str = "naive", timenoise: str = "timenoise") -> list[str]:
    """Claim 3 read off the comparison at M = T: TimeNoise moves more than naive tuning; at what cost."""
    pick = lambda m: summary[(summary.model == m) & (summary.M == summary.M.max()) & (summary.init == "standard")]
    a, b = pick(naive), pick(timenoise)
    if a.empty or b.empty:
        return [f"need both {naive!r} and {timenoise!r} at M = T with standard noise to judge Claim 3"]
    a, b = a.iloc[0], b.iloc[0]
    more = _column_versus(b, a, "motion") == "better"
    quality = (f"quality {a.fd_name}: {_fd_text(b)} vs {_fd_text(a)} ({_fd_order(b, a)}); "
               if _has_fd(summary) else "quality not measured (no i3d_path); ")
    return [
        f"Claim 3 (TimeNoise adds motion) {'REPRODUCED' if more else 'NOT reproduced'}: {a.motion_name} {b.motion:.2f} "
        f"(timenoise) vs {a.motion:.2f} (naive), ground truth {a.gt_motion:.2f}; "
        f"difference {b.motion - a.motion:+.2f} +- {2 * max(a.motion_sem, b.motion_sem):.2f} (2 s.e.).",
        f"{quality}alignment {b.first_frame_psnr:.1f} vs {a.first_frame_psnr:.1f} dB "
        f"(the paper reports TimeNoise keeps quality and trades some alignment for motion at high beta_m)."
        + (f" Sprite stability {b.sprite_stability:.2f} vs {a.sprite_stability:.2f} (+- {2 * max(a.sprite_stability_sem, b.sprite_stability_sem):.2f}, 2 s.e.)."
           if "sprite_stability" in summary else ""),
    ]


# ----------------------------------------------------------------------------------------------
# Fig. 1: motion control (the toy's motion conditioning plays SVD's motion bucket)
# ----------------------------------------------------------------------------------------------

MOTION_COND = {"toy": "motion", "svd": "motion_bucket_id"}


def motion_control_images(model: str, *, n_images: int, data_seed: int = 0, targets: Sequence[float] = (), videos_dir: str = "",
                          frames: int = 14, size="320x512", stride: int = 1):
    """The conditional images with their target motion as per-image conditioning.

    Toy: frame 0 of fresh sprite videos, target = each video's true speed (``motion``, px/frame).
    SVD: frame 0 of the clips in ``videos_dir``, each with every ``targets`` value as
    ``motion_bucket_id`` (the paper's "input motion score")."""
    if model == "toy":
        images = toy_images(n_images, data_seed)
        images.cond = {"motion": list(images.columns["input_speed"])}
        return images
    if model not in MOTION_COND:
        raise ValueError(f"motion control needs a motion-conditioned model: {sorted(MOTION_COND)} (PIA's motion is "
                         f"conditioned differently and scored with pia_motion_score), got {model!r}")
    if not len(targets):
        raise ValueError("give the motion_bucket_id targets to condition on, e.g. targets=[20, 60, 100, 140, 180]")
    return with_targets(video_images(videos_dir, n_images, frames=frames, size=size, stride=stride), MOTION_COND[model], targets)


def motion_control(models: Mapping, configs: Sequence[tuple[str, float, str]], images, readout, *, n_steps: int, stats=None,
                   stats_path=None, seed: int = 0, out_root: str | Path | None = None, batch_size: int = 64,
                   show_progress: bool = True, sampler: str = "ddim") -> pd.DataFrame:
    """Condition every ``(model, M, init)`` on each image's target motion and measure the output.

    As in Fig. 1 (SVD's motion bucket set to an input motion score): rows ``model, M, init, image,
    input_motion`` (the target), ``output_motion`` (``readout``'s motion), ``error = |output - input|``.
    Sampled through :func:`compare_models`, so an interrupted run resumes."""
    if len(images.cond) != 1:
        raise ValueError(f"images need exactly one per-image motion conditioning (motion_control_images), got {sorted(images.cond)}")
    (name, targets), = images.cond.items()
    per, _ = compare_models(models, configs, images, readout, out_root=out_root, seeds=[seed], n_steps=n_steps, stats=stats,
                            stats_path=stats_path, batch_size=batch_size, show_progress=show_progress, sampler=sampler)
    inp = np.asarray(targets, dtype=float)[per.image_index.to_numpy()]
    df = pd.DataFrame({"model": per.model, "M": per.M, "init": per.init, "image": per.image_index,
                       "input_motion": inp, "output_motion": per.motion.to_numpy(), "error": np.abs(per.motion.to_numpy() - inp)})
    df.attrs.update(target=name, motion_name=readout.motion_name)
    order = {(c[0], c[1], c[2]): k for k, c in enumerate(configs)}
    df["order"] = [order[(m, M, i)] for m, M, i in zip(df.model, df.M, df.init)]
    return df.sort_values(["order", "image"], kind="stable").drop(columns="order").reset_index(drop=True)


def config_name(model: str, M: float, init: str) -> str:
    """``"base"``, ``"base + Analytic-Init M=0.8"``, ``"base M=0.8 (N(0,I))"``."""
    if M >= 1 and init == "standard":
        return model
    return f"{model} + Analytic-Init M={M:g}" if init == "analytic" else f"{model} M={M:g} (N(0,I))"


def plot_motion_control(df: pd.DataFrame, *, xlabel: str = "input (target) motion", ylabel: str = "output motion"):
    """Fig. 1: output vs input motion per configuration, the diagonal, and the mean error.
    (Toy: both in px/frame. SVD: motion bucket id vs the flow motion score; the diagonal is where
    the two scales agree, which is the claim under test.)"""
    import matplotlib.pyplot as plt

    groups = list(df.groupby(["model", "M", "init"], sort=False))
    fig, axes = plt.subplots(1, len(groups), figsize=(3.6 * len(groups), 3.6), squeeze=False, sharex=True, sharey=True)
    hi = float(np.nanmax(np.r_[df.input_motion, df.output_motion])) * 1.05
    for ax, ((model, M, init), g) in zip(axes[0], groups):
        ax.scatter(g.input_motion, g.output_motion, s=12, alpha=0.7)
        ax.plot([0, hi], [0, hi], "k--", lw=0.8)
        ax.set_title(f"{config_name(model, M, init)}\nerror {np.nanmean(g.error):.2f}", fontsize=9)
        ax.set_xlabel(xlabel)
    axes[0, 0].set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def motion_control_verdict(df: pd.DataFrame) -> list[str]:
    """Fig. 1's claims on the computed numbers: the base model's output motion is below its input
    (mean of output - input below -2 s.e. over images); each fix lowers the motion-score error
    (mean paired difference of per-image errors against the base, beyond 2 s.e.)."""
    groups = list(df.groupby(["model", "M", "init"], sort=False))
    (name0, M0, i0), g0 = groups[0]
    g0 = g0.set_index("image")
    gap = g0.output_motion - g0.input_motion
    se = gap.sem()
    ratio = g0.output_motion.sum() / g0.input_motion.sum()
    word = _versus(gap.mean(), 2 * se, ("ABOVE", "BELOW", "NOT distinguishable from"))
    out = [f"{config_name(name0, M0, i0)} output/input motion = {ratio:.2f} (output - input {gap.mean():+.3f} +- {2 * se:.3f}, 2 s.e.): "
           f"output motion is {word} the input; Fig. 1's 'always below' {'reproduced' if word == 'BELOW' else 'NOT reproduced'}."]
    for (model, M, init), g in groups[1:]:
        g = g.set_index("image")
        d = (g.error - g0.error).dropna()
        se = d.sem()
        word = _versus(d.mean(), 2 * se, ("higher", "lower", "not different"))
        out.append(f"{config_name(model, M, init)}: ratio {g.output_motion.sum() / g.input_motion.sum():.2f}, error {g.error.mean():.2f} "
                   f"vs {g0.error.mean():.2f} ({word}: paired difference {d.mean():+.3f} +- {2 * se:.3f}).")
    return out


def finetune_pair(out_dir: str | Path, *, steps: int, a: float, beta_m: float, seed: int = 0, base: str = "base",
                  device="auto", show_progress: bool = True, model: str = "toy") -> dict:
    """Alg. 2 for a workshop: fine-tune ``naive`` and ``timenoise`` from the same base checkpoint with
    the same seed, data and steps (:func:`cilnb.training.train`; resumable); returns their paths.
    The toy only: real models are fine-tuned with ``python -m cilnb finetune`` (docs/at_scale.md)."""
    if model != "toy":
        raise ValueError(f"fine-tuning {model} here is not supported: run `accelerate launch -m cilnb finetune` "
                         "(docs/at_scale.md) for naive and TimeNoise, then pass naive=OUT/unet and timenoise=OUT/unet")
    from .models import toy
    from .training import TrainConfig, train

    init = str(toy.checkpoint_path(base)) if base in toy.CHECKPOINTS else str(base)
    out = {}
    for variant in ("naive", "timenoise"):
        cfg = TrainConfig(variant=variant, steps=int(steps), init=init, seed=int(seed), timenoise_a=float(a),
                          timenoise_beta_m=float(beta_m), checkpoint_every=max(1, min(200, int(steps))))
        path = Path(out_dir) / f"toy_{variant}_{steps}steps_a{a:g}_bm{beta_m:g}_s{seed}.safetensors"
        out[variant] = train(cfg, path, device=device, show_progress=show_progress)
    return out

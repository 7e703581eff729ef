"""How a model's videos are read, chosen once per model: the toy's sprite read-out or the flow read-out.

:func:`readout_for` maps a model name to :class:`ToyReadout` (the built-in toy: sprite tracker,
Fréchet distance in the toy's feature space, shipped checkpoints and statistics) or
:class:`FlowReadout` (every real model: optical-flow motion score, FVD with an I3D file, clips from
a folder). Each class answers every question whose answer differs between the toy and a real model
(which models to load, which ground truth to probe, which images to condition on, ...), so the rest
of :mod:`cilnb.experiments` and the notebooks never test the model's name.

Instances read sampled videos (:func:`cilnb.experiments.sample_grid`): ``read(table, out)`` gives
per-video ``motion`` (and extra columns), ``gt_motion(images)`` the ground truth's, ``fd(table, out)``
the quality distance with its 95% interval. The probe's read-outs are :func:`flow_motion` and
:class:`SpriteMotion`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from .. import checks
from .. import data as _data
from . import inputs as _in
from .run_dirs import load_sweep_videos

__all__ = ["flow_motion", "SpriteMotion", "sprite_speed", "ToyReadout", "FlowReadout", "READOUTS", "readout_for",
           "MOTION_COND", "sweep_inputs", "motion_readout", "motion_ratio"]


def _tensor(name: str, x, layout: str) -> None:
    """``x`` must be a torch.Tensor (a numpy array is named with the fix)."""
    if not isinstance(x, torch.Tensor):
        fix = f": pass torch.from_numpy({name})" if isinstance(x, np.ndarray) else ""
        raise checks.InputTypeError(f"{name} must be a torch.Tensor {layout}, got {type(x).__name__}{fix}")
    checks.check_not_meta(name, x)
    if x.is_complex():
        raise checks.InputTypeError(f"{name} must be a real tensor {layout}, got {x.dtype}: pass its real part ({name}.real) if that is the video")


def _videos5(name: str, x) -> None:
    """``x`` must be a non-empty ``[B, F, C, H, W]`` tensor."""
    _tensor(name, x, "[B, F, C, H, W]")
    if x.ndim != 5:
        hint = f" For one video use {name}[None]." if x.ndim == 4 else ""
        raise ValueError(f"{name} must be [B, F, C, H, W], got shape {tuple(x.shape)} (rank {x.ndim}).{hint}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} holds no videos (shape {tuple(x.shape)}): pass at least one")


def _pixel_scale(name: str, x, lo: float = -1.0, hi: float = 1.0, *, clamped: bool = True) -> None:
    """Refuse a tensor that is clamped to ``[lo, hi]`` before it is read but looks like 0..255 pixels (nothing below the
    range's middle, values beyond half its width above it; a prediction overshoots both ways, never like this): clamped,
    its frames were all ``hi`` and their motion 0. Anything else is the read-out's to check."""
    if not isinstance(x, torch.Tensor) or x.is_meta or x.is_complex() or x.dtype == torch.bool or x.numel() == 0:
        return
    x = x.detach()
    if x.is_floating_point():
        x = x[torch.isfinite(x)]  # NaN/inf are named by the read-out
        if x.numel() == 0:
            return
    xmin, xmax = float(x.min()), float(x.max())
    if xmin >= (lo + hi) / 2 and xmax > hi + (hi - lo) / 2:
        fix = f"use {name}.float() / 127.5 - 1" if (lo, hi) == (-1.0, 1.0) else f"rescale it to [{lo:g}, {hi:g}]"
        raise ValueError(f"{name} values span [{xmin:.4g}, {xmax:.4g}] but are read in [{lo:g}, {hi:g}]"
                         f"{' (clamped to it first)' if clamped else ''}: it looks like 0..255 pixels, {fix}")


def flow_motion(videos: torch.Tensor, *, value_range=(-1.0, 1.0), upsample: int = 1) -> np.ndarray:
    """Farneback SVD-protocol motion score at the videos' own size: per-pair spatial mean flow
    magnitude, mean over pairs (``reduce="mean"``, the official code's choice), in px/frame.

    It averages over the whole frame, so on the toy it is far below the sprite's speed (the sprite
    covers a few % of the pixels) but tracks it (correlation ~0.8 on ground-truth toy videos).
    Farneback under-estimates on upsampled frames, so ``upsample`` stays 1 unless frames are tiny.
    Model predictions can overshoot the data range; they are clamped to it first, as pipelines do
    before showing a video.
    """
    from ..metrics import motion_score
    from ..metrics.videos import check_frames_fit, check_metric_range

    _tensor("videos", videos, "[B, F, C, H, W]")
    lo, hi = check_metric_range(value_range)  # before clamp() reads it
    upsample = checks.check_int("upsample", upsample, min=1, fix="(the flow is computed at upsample x the videos' size)")
    h, w = videos.shape[-2:]
    if videos.ndim == 5:
        check_frames_fit((h * upsample, w * upsample), videos.shape[2], 1, f"flow_motion(upsample={upsample}) of {h}x{w} frames",
                         "pass a smaller upsample (1, the default, unless frames are tiny)")
    _pixel_scale("videos", videos, lo, hi)
    checks.check_finite("videos", videos, "a diverged video has no motion score: drop it or sample it again")  # clamped, inf was a frame of hi
    v = videos.detach().float().cpu().clamp(lo, hi)
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
        _videos5("ground_truth", ground_truth)
        _pixel_scale("ground_truth", ground_truth, clamped=False)  # uint8 or 0..255 ground truth gave a background of another scale
        checks.check_finite("ground_truth", ground_truth, "the background is estimated from the ground-truth videos")
        checks.check_number("threshold", threshold, lo=0, lo_open=True,
                            fix="(excess over the background, in data units; 0.2 is the default)")  # <= 0: every pixel a sprite
        gt = ground_truth.detach().float().cpu()  # [B, F, C, H, W]
        B, Fr, C, H, W = gt.shape
        covered = torch.nn.functional.max_pool2d((gt > _data.THRESHOLD).float().view(B * Fr, C, H, W), 3, 1, 1).view_as(gt) > 0
        free = (~covered).float()
        n = free.sum(dim=1)
        bg_max = _data.SpriteConfig().background_range[1]
        self.background = torch.where(n > 0, (gt * free).sum(dim=1) / n.clamp(min=1), torch.full_like(n, bg_max))
        self.what, self.threshold = what, float(threshold)

    def __call__(self, videos: torch.Tensor) -> np.ndarray:
        _videos5("videos", videos)
        if not videos.is_floating_point():  # .float() read uint8 pixels as 0..255 against a [-1, 1] background
            raise checks.InputTypeError(f"videos have dtype {videos.dtype}; SpriteMotion reads float frames in [-1, 1] (the "
                                        "probe's predictions)" + (": use videos.float() / 127.5 - 1" if videos.dtype == torch.uint8 else ""))
        if tuple(videos.shape[2:]) != tuple(self.background.shape[1:]):
            raise ValueError(f"videos have frames {tuple(videos.shape[2:])} (C, H, W) but the ground truth's are "
                             f"{tuple(self.background.shape[1:])}: read videos of the same size")
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
    _tensor("videos", videos, "[B, F, 1, H, W]")
    _pixel_scale("videos", videos)  # clamped to [-1, 1], 0..255 frames were all 1: no sprite, speed 0
    checks.check_finite("videos", videos, "a diverged video has no sprite speed: drop it or sample it again")  # inf clamped to a sprite
    return _data.track_sprites(videos.detach().float().cpu().clamp(-1, 1)).speed


def motion_ratio(motion: float, gt_motion: float) -> float:
    """Generated motion over the ground truth's (the summaries' ``motion_ratio``); NaN, "not read", when the ground truth
    does not move (``gt_motion`` 0): there is no ratio, and ``inf`` would be printed and drawn."""
    return motion / gt_motion if gt_motion != 0 else float("nan")


def fd_with_interval(feats: np.ndarray, ref: np.ndarray) -> tuple[float, float, float]:
    """``(FD, lo, hi)`` of generated features against reference features, with the 95% bootstrap interval of
    :func:`cilnb.metrics.frechet_interval`."""
    from ..metrics import frechet_distance, frechet_interval
    from ..metrics.fvd import check_features

    f, r = check_features(feats, "feats"), check_features(ref, "ref")
    if f.shape[1] != r.shape[1]:
        raise ValueError(f"feats have {f.shape[1]} features per video but ref has {r.shape[1]}: compute both in the same feature space")
    return (float(frechet_distance(feats, ref)), *frechet_interval(feats, ref))


class ToyReadout:
    """Toy videos: motion is the sprite speed (px/frame; ground truth: each source video's true
    speed), quality the standardised Fréchet distance (:mod:`cilnb.metrics.toy_quality`) to ``n_reference``
    fresh real toy videos of ``data`` (anything :func:`cilnb.experiments.toy_data` takes; default: the
    shipped toy's data)."""

    motion_name = "sprite speed (px/frame)"
    fd_name = "FD to real toy videos (toy features)"
    sweep_motion: tuple = ("none", None)
    motion_cond = "motion"  # the toy's per-image motion conditioning (plays SVD's motion bucket in Fig. 1)

    def __init__(self, n_reference: int, data_seed: int = 0, *, data=None, show_progress: bool = False):
        from .._util import progress_steps
        from ..metrics import video_features

        show_progress = checks.check_bool("show_progress", show_progress)
        checks.check_int("n_reference", n_reference, fix="(0: no quality distance, else >= 2)")
        checks.check_int("data_seed", data_seed, fix="(seed of the reference videos)")
        if n_reference < 0 or n_reference == 1:
            raise ValueError(f"n_reference must be 0 (no quality distance) or >= 2, got {n_reference}")
        self.fd_name = self.fd_name if n_reference else None
        self.data = _in.toy_data(data)
        with progress_steps(["reference videos", "features", "sprite tracks", "motion scores"], disable=not (show_progress and n_reference),
                            desc=f"{n_reference} reference videos") as step:
            step("reference videos")
            ref = _in.reference_videos(n_reference, seed=data_seed + 10_007, data=self.data) if n_reference else None
            step("features")
            self._ref = video_features(ref) if n_reference else None
            step("sprite tracks")
            self.reference_columns, self.reference_sems = {}, {}
            if n_reference:
                tracks = _data.track_sprites(ref)
                travel = np.asarray(tracks.displacement, dtype=np.float64)
                travel = travel[np.isfinite(travel)]
                # a quality read-out robust to outliers: how often a sample keeps frame 0's sprite count;
                # and the data's net sprite travel, the motion a sample's net travel is compared with
                self.reference_columns = {"sprite_stability": float(tracks.count_stability.mean()),
                                          "net_travel": float(travel.mean())}
                self.reference_sems = {"net_travel": float(travel.std(ddof=1) / np.sqrt(len(travel)))}
            step("motion scores")
            if n_reference:  # the data's motion score, the paper's metric on the same videos
                score = flow_motion(ref)
                self.reference_columns["motion_score"] = float(score.mean())
                self.reference_sems["motion_score"] = float(score.std(ddof=1) / np.sqrt(len(score)))

    def read(self, table: pd.DataFrame, out: Path) -> dict:
        """Per-video columns from one pass of the tracker over the stored videos: ``motion`` (sprite
        speed, as :func:`sprite_speed`), ``net_travel`` (px the sprites travel from the first to the
        last frame: motion that jitter does not count, the measure of issue 11's table) and
        ``sprite_stability``, the fraction of frames whose sprite count equals frame 0's (real toy
        videos: about 0.9; sprites that fade, split or appear lower it), and ``motion_score``, the paper's
        motion score (:func:`flow_motion`: SVD protocol, Farneback, mean over the whole frame, px/frame), which
        counts every moving pixel, the panning background's too, where the tracker reads the sprites alone."""
        videos = load_sweep_videos(out, table).clamp(-1, 1)
        tracks = _data.track_sprites(videos)
        return {"motion": tracks.speed, "net_travel": tracks.displacement, "sprite_stability": tracks.count_stability,
                "motion_score": flow_motion(videos)}

    def gt_motion(self, images) -> np.ndarray:
        return np.asarray(images.columns["input_speed"], dtype=float)

    def features(self, table: pd.DataFrame, out: Path) -> tuple[np.ndarray, np.ndarray]:
        """``(features of the videos of table, of the reference)`` in the space :meth:`fd` measures
        (:func:`cilnb.metrics.standardised_features`); rows in ``table``'s order."""
        from ..metrics import standardised_features

        return standardised_features(load_sweep_videos(out, table), self._ref)

    def fd(self, table: pd.DataFrame, out: Path) -> tuple[float, float, float]:
        """``(FD, lo, hi)``: the distance and its 95% bootstrap interval over the videos of ``table``."""
        return fd_with_interval(*self.features(table, out))

    # --- what the toy answers where a real model answers otherwise ---------------------------

    @staticmethod
    def load_models(model: str, model_path: str, variants, *, device="auto", dtype=None) -> dict:
        return _in.load_toy_models(model_path, variants, device=device, dtype=dtype)

    @staticmethod
    def load_variants(model: str, model_path: str, *, naive: str, timenoise: str, which, device="auto", dtype=None) -> dict:
        return _in.load_toy_variants(model_path, naive=naive, timenoise=timenoise, which=which, device=device, dtype=dtype)

    @staticmethod
    def default_stats(model: str, inits: Sequence[str]) -> Path:
        return _in.toy_stats_path()

    @staticmethod
    def check_stats(stats, stats_path, model_path: str) -> None:
        """Toy statistics must describe the data the checkpoint ``model_path`` was trained on (:func:`cilnb.experiments.inputs.check_toy_stats`)."""
        _in.check_toy_stats(stats, stats_path, model_path)

    @staticmethod
    def timenoise_settings(model: str, model_path: str) -> tuple[float, float, str]:
        """The TimeNoise setting stored in a toy checkpoint's training config (``model_path``, else the shipped one)."""
        from ..models import toy

        path = Path(model_path) if model_path else toy.checkpoint_path("timenoise")
        if not path.is_file():
            raise ValueError(f"toy checkpoint {path} not found: pass a and beta_m, or a TimeNoise toy checkpoint as model_path")
        cfg = toy.read_metadata(path).get("train_config", {})
        if cfg.get("variant") != "timenoise":
            raise ValueError(f"{path} was not trained with TimeNoise (variant {cfg.get('variant')!r}): pass a and beta_m")
        return float(cfg["timenoise_a"]), float(cfg["timenoise_beta_m"]), f"the training config of {path.name}"

    @staticmethod
    def probe_bench(adapter, n_videos: int, seed: int, *, device="auto", **_real):
        """Fresh moving-sprite videos of the data ``adapter`` was trained on (:func:`cilnb.experiments.toy_bench`);
        the real models' clip settings are not used."""
        from .._util import resolve_device
        from .probe import toy_bench

        return toy_bench(n_videos, seed, device=resolve_device(device), data=_in.toy_data(adapter))

    @classmethod
    def sweep_inputs(cls, *, n_images: int, seed: int, n_reference: int, model_path: str = "", show_progress: bool = False, **_real):
        data = _in.toy_data(model_path)
        return _in.toy_images(n_images, seed, data=data), cls(n_reference, seed, data=data, show_progress=show_progress)

    @classmethod
    def motion_only(cls, motion_method: str = "farneback", motion_kwargs: Mapping | None = None):
        return cls(0)

    @classmethod
    def motion_control_images(cls, model: str, *, n_images: int, data_seed: int = 0, model_path: str = "", **_real):
        """Frame 0 of fresh clips with each clip's true motion as the target, in the unit the checkpoint's label
        was trained in (:func:`cilnb.models.toy.motion_label`): the sprites' speed, or the clip's whole-frame
        mean flow magnitude (``input_flow``, :func:`cilnb.data.flow_score` of the renderer's flow)."""
        label = _in.toy_motion_label(model_path)
        images = _in.toy_images(n_images, data_seed, data=_in.toy_data(model_path), flow=label == "flow")
        images.cond = {cls.motion_cond: list(images.columns["input_flow" if label == "flow" else "input_speed"])}
        return images

    @staticmethod
    def truth_videos(n_videos: int, seed: int, *, data=None, **_real) -> torch.Tensor:
        return _data.generate(n_videos, seed=seed, config=_in.toy_data(data), flow=False).videos

    @staticmethod
    def run_label(model: str, model_path: str) -> str:
        """The toy's run label is its checkpoint's name (``base``, ``naive``, a file's stem)."""
        return Path(model_path or "base").stem

    @staticmethod
    def shown_image(images, seed: int) -> torch.Tensor:
        """The conditional image the TimeNoise pictures show: frame 0 of one fresh toy video from ``seed``,
        of the data ``images`` were drawn from."""
        return _data.generate(1, seed=seed, config=_in.toy_data(images.data)).condition[0]

    @staticmethod
    def finetune_pair(out_dir, *, model: str = "toy", **kwargs) -> dict:
        from ..toy_training import finetune_toy_pair

        return finetune_toy_pair(out_dir, **kwargs)


#: motion_score arguments a FlowReadout (and the sweep it configures) sets itself
_SET_BY_READOUT = ("videos", "method", "value_range", "show_progress")


def _check_motion_kwargs(motion_kwargs) -> None:
    """``motion_kwargs`` must be ``None`` or a dict of :func:`cilnb.metrics.motion_score` keyword arguments
    other than the ones the read-out sets (:data:`_SET_BY_READOUT`)."""
    import inspect

    from ..metrics import motion_score

    if motion_kwargs is None:
        return
    if not isinstance(motion_kwargs, Mapping):
        raise checks.InputTypeError(f"motion_kwargs must be a dict of motion_score settings such as {{'reduce': 'mean'}}, "
                                    f"got {type(motion_kwargs).__name__}")
    allowed = [k for k in inspect.signature(motion_score).parameters if k not in _SET_BY_READOUT]
    own = [k for k in motion_kwargs if k in _SET_BY_READOUT]
    if own:
        raise ValueError(f"motion_kwargs may not set {own}: the read-out sets them (pass the flow method as method=/motion_method=)")
    unknown = [k for k in motion_kwargs if k not in allowed]
    if unknown:
        raise ValueError(f"motion_kwargs has unknown setting(s) {unknown}; motion_score takes {allowed}")


class FlowReadout:
    """Videos of a real model: motion is :func:`cilnb.metrics.motion_score` (``method``, SVD protocol;
    ``motion_kwargs`` e.g. ``{"reduce": "mean", "resize": None}``), computed by the sweep as videos
    finish and, for the ground truth, on the source clips with the same settings; quality is FVD
    (I3D features of the ``reference`` clips vs the generated videos) when ``i3d_path`` names the
    detector (:func:`cilnb.metrics.fvd.i3d_path`), else left out (the plots say so)."""

    motion_conds = {"svd": "motion_bucket_id"}  # real models whose motion is a per-image conditioning

    def __init__(self, method: str = "farneback", motion_kwargs: Mapping | None = None, *, i3d_path: str = "",
                 reference: torch.Tensor | None = None, device="auto", batch_size: int = 8):
        if method not in ("farneback", "raft"):
            raise ValueError(f"motion method must be 'farneback' or 'raft', got {method!r}")
        _check_motion_kwargs(motion_kwargs)
        batch_size = checks.check_int("batch_size", batch_size, min=1, fix="(videos per I3D batch)")
        self.method, self.kwargs = method, dict(motion_kwargs or {})
        self.sweep_motion = (method, self.kwargs)
        reduce = self.kwargs.get("reduce", "sum")
        self.motion_name = f"{method} motion score (SVD protocol, {reduce} over frame pairs)"
        self._det, self._ref, self.batch_size, self.device = None, None, int(batch_size), device
        self._gt: dict = {}  # image-set spec -> ground-truth scores
        self.fd_name = None
        if i3d_path:
            from ..metrics.fvd import load_i3d

            if reference is None:
                raise ValueError("FVD needs reference videos (the ground-truth clips)")
            self._det = load_i3d(i3d_path, device)
            self._ref = self._features(reference)
            self.fd_name = "FVD to the source clips (I3D)"

    def _features(self, videos: torch.Tensor) -> np.ndarray:
        from ..metrics.fvd import i3d_features

        return i3d_features(videos.float(), self._det, value_range=(-1.0, 1.0), batch_size=self.batch_size,
                            device=self.device, show_progress=False)

    reference_columns: dict = {}
    reference_sems: dict = {}

    def read(self, table: pd.DataFrame, out: Path) -> dict:
        """Per-video columns: ``motion``, the score the sweep computed as each video finished."""
        return {"motion": table["motion_score"].to_numpy(dtype=float)}

    def gt_motion(self, images) -> np.ndarray:
        if images.videos is None:
            return np.full(len(images), np.nan)
        if images.spec not in self._gt:
            from ..metrics import motion_score

            res = motion_score(images.videos.float(), method=self.method, value_range=(-1.0, 1.0), show_progress=False, **self.kwargs)
            self._gt[images.spec] = res.score.numpy().astype(float)
        return self._gt[images.spec]

    def features(self, table: pd.DataFrame, out: Path) -> tuple[np.ndarray, np.ndarray]:
        """``(I3D features of the videos of table, of the source clips)``; rows in ``table``'s order."""
        feats = np.concatenate([self._features(load_sweep_videos(out, table.iloc[lo:lo + self.batch_size]))
                                for lo in range(0, len(table), self.batch_size)])
        return feats, self._ref

    def fd(self, table: pd.DataFrame, out: Path) -> tuple[float, float, float]:
        """``(FVD, lo, hi)``: the distance and its 95% bootstrap interval over the videos of ``table``."""
        return fd_with_interval(*self.features(table, out))

    # --- what a real model answers where the toy answers otherwise ---------------------------

    @staticmethod
    def load_models(model: str, model_path: str, variants, *, device="auto", dtype=None) -> dict:
        from .. import models

        return {model: models.load(model, model_path or None, device=device, dtype=dtype)}

    @staticmethod
    def load_variants(model: str, model_path: str, *, naive: str, timenoise: str, which, device="auto", dtype=None) -> dict:
        return _in.load_tuned_variants(model, model_path, naive=naive, timenoise=timenoise, which=which, device=device, dtype=dtype)

    @staticmethod
    def default_stats(model: str, inits: Sequence[str]) -> None:
        if "analytic" in inits:
            raise ValueError(f"Analytic-Init on {model} needs its latent statistics: run `python -m cilnb stats --model {model} "
                             "--videos DIR --out FILE` (docs/real_models.md) and pass stats_path=FILE")
        return None

    @staticmethod
    def check_stats(stats, stats_path, model_path: str) -> None:
        """A real model's statistics carry no data config to check against (``python -m cilnb stats`` makes them from its clips)."""

    @staticmethod
    def timenoise_settings(model: str, model_path: str) -> tuple[float, float, str]:
        """The paper's TimeNoise setting for ``model`` (:data:`cilnb.timenoise.PAPER_SETTINGS`)."""
        from ..timenoise import PAPER_SETTINGS

        if model not in PAPER_SETTINGS:
            raise ValueError(f"no TimeNoise setting known for {model!r}: pass a and beta_m, or model in {['toy', *PAPER_SETTINGS]}")
        return (*PAPER_SETTINGS[model], f"the paper's setting for {model}")

    @staticmethod
    def probe_bench(adapter, n_videos: int, seed: int, *, videos_dir: str = "", frames: int = 14, size="320x512", stride: int = 1,
                    cond_kwargs: Mapping | None = None, device="auto"):
        """Clips from ``videos_dir`` encoded by the model (:func:`cilnb.experiments.video_bench`)."""
        from .probe import video_bench

        return video_bench(adapter, videos_dir, n_videos, frames=frames, size=size, stride=stride, cond_kwargs=cond_kwargs, seed=seed)

    @classmethod
    def sweep_inputs(cls, *, n_images: int, seed: int, n_reference: int, videos_dir: str = "", frames: int = 14, size="320x512",
                     stride: int = 1, motion_method: str = "farneback", motion_kwargs: Mapping | None = None, i3d_path: str = "",
                     device="auto", show_progress: bool = False, model_path: str = ""):
        from .._util import progress_steps

        with progress_steps(["reading clips", "reference features"], disable=not show_progress, desc="inputs") as step:
            step("reading clips")
            images = _in.video_images(videos_dir, n_images, frames=frames, size=size, stride=stride)
            step("reference features")
            readout = cls(motion_method, motion_kwargs, i3d_path=i3d_path, reference=images.videos, device=device)
        return images, readout

    @classmethod
    def motion_only(cls, motion_method: str = "farneback", motion_kwargs: Mapping | None = None):
        return cls(motion_method, motion_kwargs)

    @classmethod
    def motion_control_images(cls, model: str, *, n_images: int, data_seed: int = 0, targets: Sequence[float] = (),
                              videos_dir: str = "", frames: int = 14, size="320x512", stride: int = 1, model_path: str = ""):
        if model not in cls.motion_conds:
            raise ValueError(f"motion control needs a motion-conditioned model: {sorted(MOTION_COND)} (PIA's motion is "
                             f"conditioned differently and scored with pia_motion_score), got {model!r}")
        if not len(targets):
            raise ValueError("give the motion_bucket_id targets to condition on, e.g. targets=[20, 60, 100, 140, 180]")
        images = _in.video_images(videos_dir, n_images, frames=frames, size=size, stride=stride)
        return _in.with_targets(images, cls.motion_conds[model], targets)

    @staticmethod
    def truth_videos(n_videos: int, seed: int, *, videos_dir: str = "", frames: int = 14, size="320x512", data=None) -> torch.Tensor:
        return _in.read_clips(videos_dir, n_videos, frames=frames, size=size)[0]

    @staticmethod
    def run_label(model: str, model_path: str) -> str:
        return model

    @staticmethod
    def shown_image(images, seed: int) -> torch.Tensor:
        """The first conditional image of the set."""
        return images.images[0]

    @staticmethod
    def finetune_pair(out_dir, *, model: str = "", **kwargs) -> dict:
        raise ValueError(f"fine-tuning {model} here is not supported: run `accelerate launch -m cilnb finetune` "
                         "(docs/at_scale.md) for naive and TimeNoise, then pass naive=OUT/unet and timenoise=OUT/unet")


READOUTS = {"toy": ToyReadout}  # model name -> read-out class; every other model is read by optical flow
MOTION_COND = {"toy": ToyReadout.motion_cond, **FlowReadout.motion_conds}


def readout_for(model: str) -> type:
    """The read-out class of the model named ``model``: :class:`ToyReadout` for ``"toy"``, else :class:`FlowReadout`."""
    if not isinstance(model, str):
        raise checks.InputTypeError(f"model must be a model name such as 'toy' or 'svd', got {model!r} ({type(model).__name__})")
    if not model.strip():  # "" was read as a real model by optical flow, and failed later wherever it was loaded
        raise ValueError(f"model is an empty name ({model!r}): pass a model name such as 'toy' or 'svd'")
    from ..models import registry_key

    return READOUTS.get(registry_key(model), FlowReadout)  # spelled as cilnb.models.load takes it ("Toy")


def sweep_inputs(model: str, *, n_images: int, seed: int = 0, n_reference: int = 512, videos_dir: str = "", frames: int = 14,
                 size="320x512", stride: int = 1, motion_method: str = "farneback", motion_kwargs: Mapping | None = None,
                 i3d_path: str = "", device="auto", model_path: str = "", show_progress: bool = False):
    """``(images, readout)`` for the sampling notebooks: the toy's fresh sprite videos with
    :class:`ToyReadout` (of the data the checkpoint ``model_path`` was trained on; empty: the shipped base's), or frame 0 of the clips in ``videos_dir`` with :class:`FlowReadout`
    (``show_progress``: a bar over the set-up steps, the reference features being the slow one).
    Shown in notebooks/m_sweep.ipynb and notebooks/timenoise_training.ipynb."""
    show_progress = checks.check_bool("show_progress", show_progress)
    return readout_for(model).sweep_inputs(n_images=n_images, seed=seed, n_reference=n_reference, videos_dir=videos_dir, frames=frames,
                                           size=size, stride=stride, motion_method=motion_method, motion_kwargs=motion_kwargs,
                                           i3d_path=i3d_path, device=device, model_path=model_path, show_progress=show_progress)


def motion_readout(model: str, motion_method: str = "farneback", motion_kwargs: Mapping | None = None):
    """Motion only (no quality distance), as Fig. 1 needs: :class:`ToyReadout` for the toy, else :class:`FlowReadout`.
    Shown in notebooks/motion_control.ipynb."""
    return readout_for(model).motion_only(motion_method, motion_kwargs)

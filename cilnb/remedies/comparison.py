"""Every remedy side by side on one model, images and seeds: the paper's Table 2 and beyond.

:func:`compare` samples each remedy's videos from the same conditional images and seeds, times
each in the same run, and reads motion, quality and first-frame alignment with the read-outs the
other notebooks use (toy: sprite speed, sprite stability and the Fréchet distance of
:mod:`cilnb.evaluation` to real toy videos; real models: the Farneback SVD-protocol motion score of
:func:`cilnb.experiments.flow_motion`, no quality distance). :func:`default_grid` is every remedy at
its authors' defaults plus a small sweep of its main knob. :func:`verdict` states, from the
numbers, which remedies raise motion without losing quality. Shown in notebooks/remedies.ipynb.

Every remedy samples the same images with the same noise, so the verdicts are **paired**: a remedy's
effect is the mean of its per-video differences to plain sampling (:func:`paired`), and its FD against
plain sampling's is a paired bootstrap of the difference (:func:`cilnb.metrics.frechet_difference`).
What the two videos of a pair share (image, noise) cancels, so effects smaller than the spread between
images can be decided; remedies that change the videos a lot decorrelate from plain sampling and gain
little (benchmarks/README.md, "Paired remedies").
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from .. import checks
from ..denoiser import Cond
from ..io import safe_name
from . import build, compose, resolve
from .base import Compose, NoRemedy, Remedy
from .freeinit import FreeInit
from .noise import AnalyticInit

__all__ = ["assess", "Comparison", "compare", "default_grid", "effects", "grid", "paired", "verdict"]

#: the per-video read-outs whose paired differences :func:`paired` reports (those present)
PAIRED_COLUMNS = ("motion", "sprite_stability", "first_frame_psnr")


def _check_start(start) -> float:
    return checks.check_number("start", start, lo=0, lo_open=True, hi=1, fix="(Analytic-Init's normalised start time M in (0, 1], 1 = T; e.g. 0.9)")


def default_grid(start: float = 0.9) -> dict[str, Remedy]:
    """label -> remedy: plain sampling, every remedy at its authors' defaults (first of each group),
    and a small sweep of its main knob. ``start``: Analytic-Init's M (the paper: 0.96T/0.92T)."""
    start = _check_start(start)
    g: dict[str, Remedy] = {"none": build("none")}
    for M in (0.96, start, 0.8):
        g.setdefault(f"analytic_init M={M:g}", build("analytic_init", start=M))
    for n in (3, 2):
        g[f"freeinit N={n}"] = build("freeinit", iterations=n)
    g["frameinit"] = build("frameinit")
    g["frameinit level=0.85"] = build("frameinit", noise_level=0.85)
    for a in (1.0, 0.5, 2.0):
        g[f"progressive alpha={a:g}"] = build("progressive", alpha=a)
    g["mixed alpha=1"] = build("progressive", mode="mixed", alpha=1.0)
    for u in (0.04, 0.2, 0.5):
        g[f"alg until={u:g}"] = build("alg", until=u)
    for lv in (0.02, 0.1, 0.3):
        g[f"cond_noise {lv:g}"] = build("cond_noise", level=lv)
    g[f"alg + analytic_init M={start:g}"] = compose("alg", build("analytic_init", start=start))
    return g


def grid(names: Sequence[str] = (), start: float = 0.9) -> dict[str, Remedy]:
    """label -> remedy for :func:`compare`: :func:`default_grid` ``(start)`` when ``names`` is empty, else each name built
    (:func:`cilnb.remedies.build`: ``"freeinit"``, ``"alg+analytic_init"``), with plain sampling (``"none"``) put first
    when it is not among them, since every verdict is a paired comparison against it. ``start`` is Analytic-Init's M for
    every named ``analytic_init`` (alone or in a combination) as in the default grid: it was ignored for named ones, which
    then started at the caller's M (the notebook's ``start=1.0``, i.e. at T). Shown in notebooks/remedies.ipynb."""
    start = _check_start(start)  # even when no remedy reads it
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
        raise checks.InputTypeError(f"remedies must be a list of remedy names, e.g. ['none', 'freeinit'], got {names!r:.60} "
                                    f"({type(names).__name__})")
    if not names:
        return default_grid(start)
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise checks.InputTypeError(f"remedies must be a list of remedy names (str), got {bad[0]!r:.60} ({type(bad[0]).__name__}); "
                                    "for settings, build the grid yourself: {'label': cilnb.remedies.build(name, **settings)}")
    twice = checks.repeated(names)
    if twice:
        raise ValueError(f"remedies lists {', '.join(map(repr, twice))} more than once; give each remedy once")
    built = {name: _at_start(build(name), start) for name in names}  # every name checked before anything is sampled
    return built if "none" in built else {"none": build("none"), **built}


def _at_start(remedy: Remedy, start: float) -> Remedy:
    """``remedy`` with Analytic-Init (alone or a member of a combination) at ``start`` where it names no start of its own."""
    def fix(r):
        return dataclasses.replace(r, start=start) if isinstance(r, AnalyticInit) and r.start is None else r

    if isinstance(remedy, Compose):
        return Compose(tuple(fix(r) for r in remedy.members()))
    return fix(remedy)


@dataclass
class Comparison:
    """What :func:`compare` returns: per-video rows, the per-remedy summary, and the videos (pixels, ``[N, F, C, H, W]``)."""

    per_video: pd.DataFrame
    summary: pd.DataFrame
    videos: dict = field(default_factory=dict)  # label -> tensor in [-1, 1], rows in per_video order
    data: dict = field(default_factory=dict)  # reference values of the data (gt motion, sprite stability)
    features: dict = field(default_factory=dict)  # toy: label -> FD features standardised by the reference (rows as per_video)
    reference_features: np.ndarray | None = None  # toy: the reference videos' features in that space


def _toy_reference(n_reference: int, data_seed: int, data):
    from .. import data as _data
    from ..experiments import reference_videos
    from ..metrics import video_features

    ref = reference_videos(n_reference, seed=checks.offset_seed(data_seed, 10_007), data=data)  # mod 2**64: no overflow at the top
    return video_features(ref), float(_data.track_sprites(ref).count_stability.mean())


def compare(model, images, remedies: Mapping[str, object], *, seeds: Sequence[int] = (0,), n_steps: int = 25,
            start: float = 1.0, stats=None, sampler: str = "ddim", batch_size: int | None = None, n_reference: int = 256,
            data_seed: int = 0, cond_kwargs: Mapping | None = None, show_progress: bool = False,
            run_dir: str | Path | None = None) -> Comparison:
    """Sample every remedy on the same ``images`` (:class:`cilnb.sweep.ImageSet`, e.g.
    :func:`cilnb.experiments.toy_images`) and ``seeds``, timing each, and tabulate the read-outs.

    Video ``k`` of image ``i`` under seed ``s`` uses noise seed ``s * 100_003 + i`` for every remedy,
    so differences between rows come from the remedies alone. ``start`` is M for remedies that do
    not set their own (Analytic-Init does). Timing: wall-clock seconds of ``sample`` per video
    (decoding and read-outs excluded), after one untimed warm-up call; plain sampling (``"none"``)
    is timed first and again last (on its first ``batch_size`` videos) and its minimum kept. One timing per remedy: on a shared machine
    the ratios carry its load drift (``benchmarks/remedies.py`` times with interleaved repeats).

    ``per_video``: ``remedy, spec, image_index, seed, motion, gt_motion, first_frame_psnr`` (+
    ``sprite_stability`` on the toy). ``summary``: per remedy, means and standard errors,
    ``motion_ratio`` (to the data's), ``fd`` with its 95% bootstrap interval ``fd_lo``-``fd_hi``
    (toy), ``sec_per_video`` and ``time_ratio`` (to ``"none"`` when present).

    ``run_dir``: a folder (e.g. :func:`cilnb.run_root`) under which each remedy's videos are saved as soon as they
    are sampled (``remedies_<model>_<hash>/``, the hash over the weights, images, seeds and sampler settings; one
    safetensors file per row, written atomically, the folder locked while it runs). A rerun with the same settings
    reads the rows it finds instead of sampling them (with the seconds they took then), so a killed comparison
    resumes where it stopped with the same videos, bit for bit.
    """
    from .. import experiments, sweep
    from ..sampling import sample

    show_progress = checks.check_bool("show_progress", show_progress)
    checks.check_model(model)
    if not isinstance(remedies, Mapping):
        raise checks.InputTypeError(f"remedies must be a dict {{label: remedy}} (e.g. cilnb.remedies.default_grid(), or "
                                    f"{{'none': 'none', 'freeinit': 'freeinit'}}), got {type(remedies).__name__}")
    if not remedies:
        raise ValueError("give at least one remedy (e.g. cilnb.remedies.default_grid())")
    labels = [str(k) for k in remedies]
    if len(set(labels)) != len(labels):
        dup = sorted({k for k in labels if labels.count(k) > 1})
        raise ValueError(f"remedies has labels that are the same as text {dup} (e.g. 0 and '0'): give every remedy its own label")
    if not all(hasattr(images, a) for a in ("images", "spec", "names", "columns", "cond")):
        raise checks.InputTypeError(f"images must be a cilnb.io.ImageSet (e.g. cilnb.experiments.toy_images(8)), got {type(images).__name__}")
    seeds = checks.check_sequence("seeds", seeds, fix="e.g. seeds=[0, 1]")
    for i, sd in enumerate(seeds):
        checks.check_int(f"seeds[{i}]", sd, fix="(noise seeds; one list for every remedy)")
    dup = sorted(sd for sd, n in Counter(int(t) for t in seeds).items() if n > 1)
    if dup:
        raise ValueError(f"seeds {dup} are given more than once: a seed repeats the same videos, which the paired statistics would "
                         "count twice; give distinct seeds (e.g. seeds=[0, 1])")
    n_reference = checks.check_int("n_reference", n_reference, min=0, fix="(real videos for the toy's Fréchet distance; 0: none)")
    if n_reference == 1:
        raise ValueError("n_reference must be 0 (no quality distance) or >= 2 (the Fréchet distance needs a covariance), got 1")
    checks.check_seed("data_seed", data_seed, fix="(seed of the reference videos)")
    if run_dir is not None:
        from .._util import check_output_path

        if not isinstance(run_dir, (str, os.PathLike)) or str(run_dir) == "":  # "": the current folder, silently
            raise checks.InputTypeError(f"run_dir must be a folder path (str or pathlib.Path, e.g. cilnb.run_root()) or None, "
                                        f"got {run_dir!r} ({type(run_dir).__name__})")
        check_output_path(run_dir, option="run_dir", folder=True)  # before any sampling
    if cond_kwargs is not None and not isinstance(cond_kwargs, Mapping):
        raise checks.InputTypeError(f"cond_kwargs must be a dict of prepare_condition settings or None, got {type(cond_kwargs).__name__}")
    if cond_kwargs and getattr(model, "sample_space", "pixel") != "latent":
        raise ValueError(f"cond_kwargs {sorted(cond_kwargs)} are settings of a latent model's prepare_condition; this pixel model is "
                         "conditioned on the images as they are (give per-image conditioning in the ImageSet's cond), so pass "
                         "cond_kwargs=None")
    resolved = {str(k): resolve(v) for k, v in remedies.items()}
    if "none" in resolved and not (isinstance(resolved["none"], NoRemedy) or not resolved["none"].members()):  # it was timed, re-timed and paired against as plain sampling
        raise ValueError(f"remedies['none'] is {resolved['none'].label()}, but the label 'none' is plain sampling, the baseline every "
                         "paired effect and time ratio is read against: give this remedy another label, and 'none': 'none'")
    # what the sampler would refuse only at a remedy's row, after minutes of the rows before it: refused now
    checks.check_n_steps(n_steps)
    checks.check_stats(stats)
    for label, rem in resolved.items():
        try:
            rem.check(stats=stats)
        except ValueError as exc:
            raise ValueError(f"remedies[{label!r}]: {exc}") from None
    toy = getattr(model, "sample_space", "pixel") == "pixel" and getattr(model, "name", "") == "toy" or images.spec.startswith("toy:")
    pix = images.images.float()
    n_img = len(images)
    if n_img == 0:  # the sampler named y, not the images
        raise ValueError("images holds no images: pass at least one conditional image (e.g. cilnb.experiments.toy_images(8))")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("give at least one seed")
    if toy and n_reference and n_img * len(seeds) < 2:
        raise ValueError(f"{n_img} image(s) x {len(seeds)} seed(s) give one video per remedy; the Fréchet distance needs at least 2: "
                         "pass more images or seeds, or n_reference=0 (no quality distance)")
    video_seeds = [s * 100_003 + i for s in seeds for i in range(n_img)]
    lo_s, hi_s = -(-checks.SEED_RANGE[0] // 100_003), (checks.SEED_RANGE[1] - (n_img - 1)) // 100_003
    for j, s in enumerate(seeds):  # refused here, not by the sampler after the set-up (the noise seeds are stored as they are)
        if not lo_s <= s <= hi_s:
            raise ValueError(f"seeds[{j}] = {s}: its videos use the noise seeds {s} * 100003 + image index, outside the range a "
                             f"torch.Generator accepts, [-2**63, 2**64 - 1]: pass seeds in [{lo_s}, {hi_s}]")
    idx = torch.arange(n_img).repeat(len(seeds))
    dev = next(model.parameters()).device if any(True for _ in model.parameters()) else torch.device("cpu")
    latent = getattr(model, "sample_space", "pixel") == "latent"
    if latent:
        cond = experiments.prepare_condition(model, pix[idx].to(dev), data_seed, **dict(cond_kwargs or {}))
    else:
        cond = Cond(pix[idx].to(dev), **{k: torch.as_tensor(v, dtype=torch.float32)[idx].to(dev) for k, v in images.cond.items()})
    frames = getattr(model, "n_frames", None) or (images.videos.shape[1] if images.videos is not None else None)
    kw = dict(n_steps=n_steps, sampler=sampler, batch_size=batch_size, show_progress=show_progress, frames=frames,
              images=pix[idx].to(dev) if latent else None)
    sample(model, cond, seed=video_seeds, start=start, **{**kw, "n_steps": 1})  # warm-up (allocations, kernels), untimed
    if toy:
        # the reference is real videos of the data the images come from (else the model's training data)
        data = getattr(images, "data", None) or getattr(model, "data_config", None)
        ref_feats, stab_data = _toy_reference(n_reference, data_seed, data) if n_reference else (None, float("nan"))
        gt = np.asarray(images.columns["input_speed"], dtype=float)
    else:
        ref_feats, stab_data = None, float("nan")
        gt = experiments.flow_motion(images.videos.float()) if images.videos is not None else np.full(n_img, np.nan)
    rows, summary, videos, features, ref_std = {}, {}, {}, {}, None
    done: dict[str, tuple[torch.Tensor, float]] = {}  # label -> (sampler output, seconds), in sampling order
    store = None if run_dir is None else _RowStore(run_dir, model, images, video_seeds, dict(
        n_steps=n_steps, sampler=sampler, start=start, batch_size=batch_size, frames=frames, data_seed=data_seed,
        cond_kwargs=dict(cond_kwargs or {}), stats=_stats_digest(stats)))
    with store if store is not None else contextlib.nullcontext():
        for label in _sampling_order(resolved):
            done[label] = _sample_row(label, resolved, done, store, lambda r: sample(
                model, cond, seed=video_seeds, start=None if r.start is not None else start, remedy=r, stats=stats, **kw))
    for label, rem in resolved.items():
        out, sec = done[label]
        sec = sec / len(video_seeds)
        if latent:
            with torch.no_grad():
                out = model.decode_latents(out.to(dev))
        vids = out.detach().float().cpu().clamp(-1, 1)
        videos[label] = vids
        psnr = sweep.align_psnr(vids, pix[idx]).numpy()
        cols = {"first_frame_psnr": psnr, "gt_motion": gt[idx.numpy()]}
        if toy:
            from .. import data as _data

            tr = _data.track_sprites(vids)
            cols["motion"], cols["sprite_stability"] = tr.speed, tr.count_stability
        else:
            cols["motion"] = experiments.flow_motion(vids)
        per = pd.DataFrame({"remedy": label, "image_index": idx.numpy(), "seed": np.repeat(seeds, n_img), "video_seed": video_seeds, **cols})
        rows[label] = per
        s = {"remedy": label, "spec": rem.spec(), "n": len(per), "sec_per_video": sec}
        for c in ("motion", "first_frame_psnr", "sprite_stability"):
            if c in per:
                s[c], s[f"{c}_sem"] = per[c].mean(), per[c].sem()
        s["gt_motion"] = float(np.nanmean(gt))
        s["motion_ratio"] = experiments.readouts.motion_ratio(s["motion"], s["gt_motion"])
        if toy and ref_feats is not None:
            from ..metrics import frechet_distance, frechet_interval, standardised_features

            features[label], ref_std = standardised_features(vids, ref_feats)
            s["fd"] = float(frechet_distance(features[label], ref_std))
            s["fd_lo"], s["fd_hi"] = frechet_interval(features[label], ref_std)
        summary[label] = s
    summary = pd.DataFrame([summary[k] for k in resolved])
    rows = [rows[k] for k in resolved]
    if "none" in resolved and len(resolved) > 1:  # time plain sampling again at the end: the minimum of both, so drift
        n_again = min(len(video_seeds), batch_size or len(video_seeds))  # over the run does not favour the remedies timed
        t0 = time.perf_counter()                                          # later; one sampler call's worth of videos is enough
        sample(model, cond.select(slice(0, n_again)), seed=video_seeds[:n_again], start=start, remedy=resolved["none"], stats=stats,
               **{**kw, "images": None if kw["images"] is None else kw["images"][:n_again]})
        if cond.y.is_cuda:
            torch.cuda.synchronize()
        again = (time.perf_counter() - t0) / n_again
        row = summary.remedy == "none"
        summary.loc[row, "sec_per_video"] = min(float(summary.loc[row, "sec_per_video"].iloc[0]), again)
    if "none" in resolved:
        summary["time_ratio"] = summary.sec_per_video / float(summary.loc[summary.remedy == "none", "sec_per_video"].iloc[0])
    data = {"gt_motion": float(np.nanmean(gt)), "sprite_stability": stab_data}
    cmp = Comparison(pd.concat(rows, ignore_index=True), summary, videos, data, features, ref_std)
    if "none" in resolved and len(resolved) > 1:
        cmp.summary = summary.merge(paired(cmp, "none"), on="remedy", how="left")
    return cmp


def _sample_row(label: str, resolved: Mapping, done: Mapping, store, sample_fn) -> tuple[torch.Tensor, float]:
    """``(sampler output, seconds)`` of one row, read from ``store`` or sampled (and saved there); a FreeInit row
    continues the longest run in ``done`` that its first passes repeat (:meth:`FreeInit.passes_shared_with`)."""
    rem = resolved[label]
    stored = None if store is None else store.load(label, rem)
    if stored is not None:
        return stored
    shared = max(((rem.passes_shared_with(resolved[k]), *done[k]) for k in done), default=(0,), key=lambda s: s[0]) \
        if type(rem) is FreeInit else (0,)
    t0 = time.perf_counter()
    out = sample_fn(rem.continued(shared[1], shared[0]) if shared[0] else rem)
    if out.is_cuda:
        torch.cuda.synchronize()
    sec = time.perf_counter() - t0 + (shared[2] if shared[0] else 0.0)
    if store is not None:
        store.save(label, rem, out, sec)
    return out, sec


class _RowStore:
    """``<run_dir>/remedies_<model>_<hash>/``: one safetensors file per row (the sampler's output, the remedy's spec and the
    seconds it took), written atomically; the folder is locked while a comparison writes it."""

    def __init__(self, run_dir, model, images, video_seeds, settings: dict):
        import json

        from ..runs import default_run_dir

        key = {"images": images.spec, "names": list(images.names), "cond": {k: np.asarray(v, dtype=float).tolist() for k, v in images.cond.items()},
               "video_seeds": list(video_seeds), **settings}
        self.dir = default_run_dir("remedies", safe_name(str(getattr(model, "name", "") or type(model).__name__)), model, root=run_dir, **key)
        self.key_text = json.dumps(key, sort_keys=True, default=str)
        self.n_videos = len(video_seeds)

    def __enter__(self):
        from .._util import JobLock, atomic_write

        self.dir.mkdir(parents=True, exist_ok=True)
        self.lock = JobLock(self.dir / "compare.lock", f"the remedy comparison folder {self.dir}").acquire()
        settings = self.dir / "settings.json"
        if not settings.exists():
            atomic_write(settings, lambda p: p.write_text(self.key_text))
        return self

    def __exit__(self, *exc):
        self.lock.release()
        return False

    def _file(self, label: str, rem) -> Path:
        import hashlib
        import json

        spec = json.dumps(rem.spec(), sort_keys=True, default=str)
        return self.dir / f"{safe_name(label)}_{hashlib.sha256((label + spec).encode()).hexdigest()[:10]}.safetensors"

    def load(self, label: str, rem):
        from safetensors import safe_open

        from .._util import UserError, file_errors

        path = self._file(label, rem)
        if not path.is_file():
            return None
        fix = "delete it and rerun: its row is sampled again"
        with file_errors(path, "stored comparison row", fix):
            with safe_open(str(path), framework="pt") as f:
                keys, meta = list(f.keys()), f.metadata() or {}
                out = f.get_tensor("out") if "out" in keys else None
        try:
            seconds = float(meta["seconds"])
        except (KeyError, ValueError):
            seconds = None
        if out is None or seconds is None or out.ndim < 2 or out.shape[0] != self.n_videos:
            raise UserError(f"stored comparison row {path} is not a row of this comparison (tensors {keys}, metadata {sorted(meta)}"
                            + ("" if out is None else f", 'out' of shape {tuple(out.shape)} for {self.n_videos} videos")
                            + f"; it needs an 'out' tensor of one sample per video and its 'seconds'): {fix}")
        return out, seconds

    def save(self, label: str, rem, out: torch.Tensor, seconds: float) -> None:
        from .._util import save_safetensors

        save_safetensors(self._file(label, rem), {"out": out.detach().to("cpu").contiguous()},
                         {"label": label, "seconds": repr(float(seconds))})


def _stats_digest(stats) -> str | None:
    """SHA-256 of a :class:`cilnb.analytic_init.MomentStats`'s tensors and settings (None without statistics)."""
    from ..runs import tensors_digest

    return None if stats is None else tensors_digest(sorted(vars(stats).items()), shapes=False)


def _sampling_order(resolved: Mapping) -> list:
    """The labels in the caller's order, but plain sampling first and plain FreeInit rows (their slots kept) by
    ascending iterations, so that each FreeInit row can continue the longest run before it (:func:`_sample_row`)."""
    plain = [k for k, r in resolved.items() if isinstance(r, NoRemedy)]
    labels = plain + [k for k in resolved if k not in plain]
    slots = [i for i, k in enumerate(labels) if type(resolved[k]) is FreeInit]
    fi = sorted((labels[i] for i in slots), key=lambda k: resolved[k].iterations)  # stable: ties keep their order
    for i, k in zip(slots, fi):
        labels[i] = k
    return labels


def _paired_diff(per_video: pd.DataFrame, a: str, b: str, col: str) -> tuple[float, float, int]:
    """``(mean, s.e., n)`` of ``col``'s per-video differences remedy ``a`` minus remedy ``b``, over the
    (image, seed) pairs where both are finite."""
    from ..experiments.agreement import paired_difference

    key = ["image_index", "seed"]
    both = per_video[per_video.remedy == a][key + [col]].merge(per_video[per_video.remedy == b][key + [col]], on=key)
    return paired_difference(both[f"{col}_y"], both[f"{col}_x"])


def paired(cmp: Comparison, baseline: str = "none") -> pd.DataFrame:
    """Per remedy, its paired effect against ``baseline`` (same images and noise): for each read-out of
    :data:`PAIRED_COLUMNS` present, ``<col>_diff`` (mean of the per-video differences, remedy minus
    baseline) and ``<col>_diff_sem`` (their standard error), ``n_pairs``; on the toy, ``fd_diff`` (FD of
    the remedy minus FD of the baseline) with its 95% paired-bootstrap interval ``fd_diff_lo``-``fd_diff_hi``
    (:func:`cilnb.metrics.frechet_difference`). The baseline's own row is all zeros."""
    from ..metrics import frechet_difference

    _check_comparison(cmp)
    _check_baseline(baseline)
    labels = list(dict.fromkeys(cmp.per_video.remedy))
    if baseline not in labels:
        raise ValueError(f"the comparison has no {baseline!r} row to compare against")
    cols = [c for c in PAIRED_COLUMNS if c in cmp.per_video]
    out = []
    for label in labels:
        r: dict = {"remedy": label}
        for c in cols:
            r[f"{c}_diff"], r[f"{c}_diff_sem"], r["n_pairs"] = _paired_diff(cmp.per_video, label, baseline, c)
        if cmp.features and cmp.reference_features is not None:
            if len(cmp.features[label]) < 2:
                raise ValueError(f"remedy {label!r} has {len(cmp.features[label])} video(s); the paired FD difference needs at least 2: "
                                 "compare more images or seeds")
            r["fd_diff"], r["fd_diff_lo"], r["fd_diff_hi"] = frechet_difference(cmp.features[label], cmp.features[baseline], cmp.reference_features)
        out.append(r)
    return pd.DataFrame(out)


def _check_comparison(cmp) -> None:
    """``cmp`` must be what :func:`compare` returns: per-video rows (remedy, image_index, seed) and a summary (remedy)."""
    pv, summ = getattr(cmp, "per_video", None), getattr(cmp, "summary", None)
    if not (isinstance(pv, pd.DataFrame) and isinstance(summ, pd.DataFrame)):
        raise checks.InputTypeError(f"cmp must be a cilnb.remedies.Comparison (what cilnb.remedies.compare returns), got {type(cmp).__name__}")
    for name, df, cols in (("per_video", pv, ("remedy", "image_index", "seed")), ("summary", summ, ("remedy",))):
        missing = [c for c in cols if c not in df]
        if missing:
            raise ValueError(f"cmp.{name} lacks the columns {missing}: pass the Comparison that cilnb.remedies.compare returned")
        unnamed = df.remedy.isna().to_numpy()
        if unnamed.any():  # a row of no remedy was looked up as None (KeyError) or dropped by grouping
            raise ValueError(f"cmp.{name}['remedy'] is missing in {int(unnamed.sum())} of {len(df)} rows: each row names its remedy; "
                             "pass the Comparison that cilnb.remedies.compare returned")


def _check_baseline(baseline) -> None:
    """``baseline`` names a row of the comparison: a label, i.e. a string (:func:`compare` stores labels as text)."""
    if not isinstance(baseline, str):
        raise checks.InputTypeError(f"baseline must be the label of a remedy in the comparison (a string such as 'none'), "
                                    f"got {baseline!r} ({type(baseline).__name__})")


#: the summary columns :func:`assess` reads (all of them in what :func:`compare` returns)
_ASSESS_COLUMNS = ("motion", "motion_ratio", "first_frame_psnr", "sec_per_video")


def _sign(diff: float, sem: float) -> int:
    """+1 / -1 when a paired difference is above / below 0 by more than 2 standard errors, else 0."""
    if not (np.isfinite(diff) and np.isfinite(sem)):
        return 0
    return 1 if diff > 2 * sem else (-1 if diff < -2 * sem else 0)


def effects(cmp: Comparison, baseline: str = "none") -> pd.DataFrame:
    """The paired effects against ``baseline``: the summary's own columns for ``"none"`` (what :func:`compare`
    stores), else :func:`paired`. ``motion_diff_sem`` is NaN for a remedy with fewer than two video pairs:
    undecided, whatever the difference."""
    stored = baseline == "none" and all(c in cmp.summary for c in _paired_columns(cmp))
    return cmp.summary if stored else paired(cmp, baseline)


def _paired_columns(cmp: Comparison) -> list[str]:
    """The columns :func:`paired` makes for ``cmp`` (a summary lacking any of them is recomputed, not read half)."""
    cols = [f"{c}_diff{x}" for c in PAIRED_COLUMNS if c in cmp.per_video for x in ("", "_sem")]
    return ["n_pairs"] + cols + (["fd_diff", "fd_diff_lo", "fd_diff_hi"] if cmp.features and cmp.reference_features is not None else [])


def verdict(cmp: Comparison, baseline: str = "none") -> list[str]:
    """The lines of :func:`assess`: what each remedy does to motion, quality and time, and the Table 2 ordering."""
    return assess(cmp, baseline)[0]


def assess(cmp: Comparison, baseline: str = "none") -> tuple[list[str], list[str]]:
    """``(lines, helps)``. Per remedy, from its paired effects against ``baseline`` (:func:`paired`): does it
    raise motion (mean per-video difference beyond 2 s.e.), does it keep quality (not worse beyond 2 s.e.
    in sprite stability, FD difference's 95% interval not above 0; PSNR to ``y`` reported), at what time
    cost; then the paper's Table 2 ordering (Analytic-Init: highest motion at about FrameInit's cost;
    FreeInit: about 2x the time) checked on this model. ``helps``: the remedies that raise motion without
    losing quality."""
    from ..experiments.verdicts import multiple_text, number_text, ratio_text

    _check_comparison(cmp)
    _check_baseline(baseline)
    missing = [c for c in _ASSESS_COLUMNS if c not in cmp.summary]
    if missing:
        raise ValueError(f"cmp.summary lacks the columns {missing}: pass the Comparison that cilnb.remedies.compare returned")
    s = cmp.summary.set_index("remedy")
    if baseline not in s.index:
        raise ValueError(f"the comparison has no {baseline!r} row to compare against")
    eff = effects(cmp, baseline).set_index("remedy")
    b = s.loc[baseline]
    lines, helps = [], []
    for name, r in s.iterrows():
        if name == baseline:
            continue
        e = eff.loc[name]
        t = f"{number_text(r.time_ratio)}x the time" if "time_ratio" in s else f"{number_text(r.sec_per_video, '.3g')} s/video"
        if not np.isfinite(e.motion_diff_sem):  # one (image, seed) pair: no spread, so nothing to decide on
            n = int(e.n_pairs) if "n_pairs" in e and np.isfinite(e.n_pairs) else 0
            lines.append(f"{name}: undecided, {n} video pair{'s' * (n != 1)} with {baseline} give{'s' * (n == 1)} no standard error "
                         f"(motion {number_text(r.motion, '.3f')} vs {number_text(b.motion, '.3f')}, paired {number_text(e.motion_diff, '+.3f')}; "
                         "pass two or more images or "
                         f"seeds); {t}")
            continue
        dm = _sign(e.motion_diff, e.motion_diff_sem)
        worse = []
        if "fd_diff" in eff and e.fd_diff_lo > 0:
            worse.append(f"FD {number_text(r.get('fd'), '.1f')} vs {number_text(b.get('fd'), '.1f')}, paired difference {e.fd_diff:+.1f} "
                         f"[{e.fd_diff_lo:+.1f}, {e.fd_diff_hi:+.1f}]")
        if "sprite_stability_diff" in eff and _sign(e.sprite_stability_diff, e.sprite_stability_diff_sem) < 0:
            worse.append(f"sprite stability {number_text(r.get('sprite_stability'), '.3f')} vs {number_text(b.get('sprite_stability'), '.3f')} "
                         f"({e.sprite_stability_diff:+.3f} +- {2 * e.sprite_stability_diff_sem:.3f})")
        motion = {1: "raises", -1: "lowers", 0: "does not change"}[dm]
        q = "loses quality (" + "; ".join(worse) + ")" if worse else "keeps quality"
        lines.append(f"{name}: {motion} motion ({number_text(r.motion, '.3f')} vs {number_text(b.motion, '.3f')}, paired {e.motion_diff:+.3f} +- "
                     f"{2 * e.motion_diff_sem:.3f} (2 s.e.), ratio to data {number_text(r.motion_ratio)}), {q}, "
                     f"PSNR to y {number_text(r.first_frame_psnr, '.1f')} dB vs {number_text(b.first_frame_psnr, '.1f')}; {t}")
        if dm > 0 and not worse:
            helps.append(name)
    lines.append("raise motion without losing quality: " + (", ".join(helps) if helps else "none of the remedies on this model"))
    # the paper's Table 2 ordering, where the grid has the remedies' default rows
    fam = {n: n.split(" ")[0] for n in s.index}
    first = {}
    for n in s.index:
        first.setdefault(fam[n], n)
    if all(k in first for k in ("analytic_init", "frameinit", "freeinit", "progressive")):
        ai, fr, fi, pr = (s.loc[first[k]] for k in ("analytic_init", "frameinit", "freeinit", "progressive"))
        top = max((fr, fi, pr), key=lambda r: r.motion)
        d, se, _ = _paired_diff(cmp.per_video, first["analytic_init"], top.name, "motion")
        lines.append(f"Table 2 ordering: Analytic-Init ({first['analytic_init']}) motion {number_text(ai.motion, '.3f')} "
                     + (f"{'is' if _sign(d, se) >= 0 else 'is not'} at least the other noise initialisations' best "
                        f"({top.name}, {number_text(top.motion, '.3f')}; paired, within 2 s.e.); " if np.isfinite(se) else
                        f"against the other noise initialisations' best ({top.name}, {number_text(top.motion, '.3f')}): undecided, no "
                        "standard error from one video pair; ") +
                     f"its time is {multiple_text(ratio_text(ai.sec_per_video, fr.sec_per_video))} FrameInit's (paper: 0.93x); "
                     f"FreeInit ({first['freeinit']}) takes {multiple_text(ratio_text(fi.sec_per_video, b.sec_per_video))} plain sampling "
                     f"(paper, with its settings: about 2x).")
    return lines, helps

"""The leakage probe: one-step predictions ``Xhat_{t->0}`` of a ground-truth video over t (Eq. 4).

Sec. 3.1, Fig. 2 and Fig. 5(a) of the paper: corrupt a real video to ``X_t`` and ask the model for
its clean prediction. If the model leans on the conditional image ``y`` at large t, the prediction
moves less than the ground truth. Everything here works for any model behind the denoiser
contract (``cilnb.denoiser``) and is batched across t: all ``(video, t)`` pairs go through the
model in chunks of ``batch_size``, never one call per t. The same noise ``eps`` is used for every
t of a video (common random numbers), so curves over t are smooth and differences between models
are not sampling noise.

Shown in ``notebooks/leakage_probe.ipynb``.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from . import checks
from ._util import progress
from .denoiser import Cond, Images, Video
from .sampling import check_finite_cond, check_guidance, per_sample_noise

__all__ = ["one_step_predictions", "leakage_index", "probe_table", "recommend_start", "MotionFn"]

MotionFn = Callable[[torch.Tensor], "np.ndarray | torch.Tensor"]


def _validate(model, x0: Video, ts, y: Images | None, batch_size=None, cond=None) -> tuple[Video, torch.Tensor, int | None, Cond]:
    """Checked ``(x0, ts, batch_size, cond)``: videos and images float in the model's range (cilnb.checks); ``cond``
    the one :class:`~cilnb.denoiser.Cond` (``y``: given, or ``cond["y"]``, or frame 0 of ``x0``)."""
    checks.check_model(model)
    x0 = checks.check_model_input("x0", checks.check_not_meta("x0", x0), model, rank=5, layout="a batch of videos [B, F, C, H, W]")
    ts = checks.check_times("ts", ts, "normalised times in (0, 1] (a list or tensor)")
    if ts.numel() == 0:
        raise ValueError("ts is empty: give at least one normalised time in (0, 1]")
    if not bool(torch.isfinite(ts).all()) or bool((ts <= 0).any()) or bool((ts > 1).any()):
        raise ValueError(f"probe times must lie in (0, 1] (normalised; 1 = T), got {ts.tolist()}")
    if torch.unique(ts).numel() != ts.numel():  # the same predictions twice, and two rows per (video, t) in the tables
        raise ValueError(f"ts lists the time(s) {checks.repeated(ts.tolist())} more than once: probe each time once "
                         f"(e.g. ts=sorted(set(ts)))")
    if isinstance(cond, Mapping) and "y" in cond:
        if y is not None and y is not cond["y"]:
            raise ValueError("y is given twice (y= and another cond['y']): pass the conditioning once, as cond=Cond(y, **extras)")
        y, cond = cond["y"], Cond.of(cond).extras
    if y is None:
        y = x0[:, 0]
    else:
        y = checks.check_model_input("y", checks.check_not_meta("y", y), model, rank=4, layout="conditional images [B, C, H, W]")
    if y.shape != (x0.shape[0], *x0.shape[2:]):
        raise ValueError(f"y must be [B, C, H, W] = {(x0.shape[0], *x0.shape[2:])}, got {tuple(y.shape)}")
    batch_size = checks.check_batch_size("batch_size", batch_size)
    cond = checks.check_cond(cond, x0.shape[0])
    check_guidance(cond)
    check_finite_cond(cond)  # a NaN motion label made every prediction NaN, as in sample
    return x0, ts, batch_size, Cond(y, **cond)


@torch.no_grad()
def one_step_predictions(
    model,
    x0: Video,
    ts,
    *,
    y: Images | None = None,
    cond: Cond | Mapping | None = None,
    seed: int | Sequence[int] = 0,
    batch_size: int = 64,
    show_progress: bool = False,
    with_uncond: bool = False,
):
    """Eq. (4) for every video and t: ``[B, K, F, C, H, W]`` for ``K = len(ts)``.

    ``X_t = alpha_t x0 + sigma_t eps`` with one ``eps`` per video (drawn from ``seed + b``, the same
    for every t); ``y`` defaults to frame 0; ``cond`` holds extra per-video conditioning (e.g.
    ``motion``), or the whole conditioning with ``y`` (a :class:`~cilnb.denoiser.Cond`, then no ``y=``).
    ``with_uncond``: return ``(predictions, uncond)``, ``uncond`` the unconditional guidance branch's raw network
    outputs ``[B, K, ...]``, which :func:`leakage_index` reuses; ``None`` (nothing kept) for a model without guidance,
    without :meth:`~cilnb.models.base.Adapter.forward_parts`, or whose unconditional branch sees the image.
    """
    show_progress = checks.check_bool("show_progress", show_progress)
    with_uncond = checks.check_bool("with_uncond", with_uncond)
    x0, ts, batch_size, cond = _validate(model, x0, ts, y, batch_size, cond)
    seeds = checks.check_seeds(seed, x0.shape[0])
    eps = per_sample_noise(seeds, x0.shape[1:]).to(x0.device, x0.dtype)
    keep = with_uncond and _uncond_ignores_image(model, x0, cond, torch.roll(cond.y, 1, dims=0))
    pred, unc = _predict(model, x0, eps, ts, cond, batch_size, show_progress, keep_uncond=keep)
    return (pred, unc) if with_uncond else pred


def _predict(model, x0: Video, eps: Video, ts: torch.Tensor, cond: Cond, batch_size, show_progress, *,
             keep_uncond: bool = False, uncond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """All (video, t) pairs in chunks: index ``j = b * K + k``. Returns ``(predictions, unconditional raw outputs or
    None)``: kept with ``keep_uncond``; ``uncond`` (those of the same ``x0``, ``eps``, ``ts`` and ``batch_size``) is
    reused instead of computing that branch (:meth:`~cilnb.models.base.Adapter.forward_parts`)."""
    B, K = x0.shape[0], ts.numel()
    batch_size = batch_size or B * K
    sched = model.schedule
    t_all = ts.repeat(B)  # [B*K], video-major
    b_all = torch.arange(B).repeat_interleave(K)
    out = torch.empty((B * K, *x0.shape[1:]), dtype=x0.dtype, device=x0.device)
    parts = (keep_uncond or uncond is not None) and hasattr(model, "forward_parts")
    kept = None
    if uncond is not None:
        uncond = uncond.reshape(B * K, *uncond.shape[2:])
    starts = range(0, B * K, batch_size)
    for lo in progress(starts, disable=not show_progress, desc="probe", leave=False):
        idx = slice(lo, lo + batch_size)
        bi = b_all[idx].to(x0.device)
        xt = sched.add_noise(x0[bi], t_all[idx], eps[bi])
        if not parts:
            out[idx] = model(xt, t_all[idx], **cond.select(bi))
            continue
        out[idx], u = model.forward_parts(xt, t_all[idx], uncond_raw=None if uncond is None else uncond[idx], **cond.select(bi))
        if keep_uncond and u is not None:
            if kept is None:
                kept = torch.empty((B * K, *u.shape[1:]), dtype=u.dtype, device=u.device)
            kept[idx] = u
    return out.view(B, K, *x0.shape[1:]), None if kept is None else kept.view(B, K, *kept.shape[1:])


def _per_video(fn: MotionFn, videos: torch.Tensor, name: str = "") -> np.ndarray:
    out = fn(videos)
    out = out.detach().cpu().numpy() if torch.is_tensor(out) else np.asarray(out)
    if out.shape != (videos.shape[0],):
        raise ValueError(f"a motion function must return one value per video ({videos.shape[0]}), got shape {out.shape}")
    if out.dtype.kind not in "biuf":  # strings, objects, complex: numpy's bare "could not convert string to float"
        raise checks.InputTypeError(f"motion function {name!r} must return one real number per video, got a {out.dtype} array "
                                    f"({out[:3].tolist()!r:.60}): return a float array or tensor [N]")
    return out.astype(np.float64)


#: The columns every probe table has (a motion function's name may not produce one of them).
_BASE_COLUMNS = ("video", "t", "err_gt", "dist_y_pred", "dist_y_gt")


def _dist_to_cond(videos: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of frames 1.. to the conditional image: ``[N]``."""
    return (videos[:, 1:] - y[:, None]).abs().mean(dim=(1, 2, 3, 4))


@torch.no_grad()
def probe_table(
    model,
    x0: Video,
    ts,
    *,
    y: Images | None = None,
    cond: Cond | Mapping | None = None,
    motion_fns: Mapping[str, MotionFn] | None = None,
    seed: int | Sequence[int] = 0,
    batch_size: int = 64,
    show_progress: bool = False,
    predictions: torch.Tensor | None = None,
) -> pd.DataFrame:
    """Tidy probe result, one row per (video, t).

    Columns: ``video, t, err_gt`` (mean |Xhat - x0|), ``dist_y_pred`` / ``dist_y_gt`` (mean |frame
    - y| over frames 1.., for the prediction and the ground truth), and for each motion function
    ``name``: ``<name>_pred``, ``<name>_gt`` and ``<name>_retention = pred / gt`` (NaN where the
    ground truth is static). Pass ``predictions`` from :func:`one_step_predictions` to reuse them.
    """
    show_progress = checks.check_bool("show_progress", show_progress)
    x0, ts, batch_size, cond = _validate(model, x0, ts, y, batch_size, cond)
    y = cond.y
    if motion_fns is not None and (not isinstance(motion_fns, Mapping) or not all(callable(f) for f in motion_fns.values())):
        raise checks.InputTypeError("motion_fns must be a dict {name: function(videos [N, F, C, H, W]) -> [N] values}")
    for name in motion_fns or {}:  # a column of its own would overwrite the table's (name "err": err_gt)
        clash = sorted({f"{name}_pred", f"{name}_gt", f"{name}_retention"} & set(_BASE_COLUMNS))
        if clash:
            raise ValueError(f"motion_fns name {name!r} would overwrite the probe table's column {clash[0]!r}: "
                             f"rename it (e.g. {f'{name}_motion'!r})")
    if predictions is None:
        predictions = one_step_predictions(model, x0, ts, cond=cond, seed=seed, batch_size=batch_size, show_progress=show_progress)
    elif isinstance(predictions, torch.Tensor) and not predictions.is_floating_point():
        raise checks.InputTypeError(f"predictions have dtype {predictions.dtype}; one_step_predictions(...) returns the model's float "
                                    "predictions: pass those, or None to compute them")
    elif not isinstance(predictions, torch.Tensor) or tuple(predictions.shape) != (x0.shape[0], ts.numel(), *x0.shape[1:]):
        got = tuple(predictions.shape) if isinstance(predictions, torch.Tensor) else type(predictions).__name__
        raise ValueError(f"predictions must be one_step_predictions(...) for these videos and ts, [B, K, F, C, H, W] = "
                         f"{(x0.shape[0], ts.numel(), *x0.shape[1:])}, got {got}")
    else:
        checks.check_not_meta("predictions", predictions)
        checks.check_finite("predictions", predictions, "the model gave non-finite one-step predictions: check its weights")
    B, K = predictions.shape[:2]
    flat = predictions.reshape(B * K, *predictions.shape[2:])
    y_rep = y.repeat_interleave(K, dim=0)
    x_rep = x0.repeat_interleave(K, dim=0)
    df = pd.DataFrame({
        "video": np.repeat(np.arange(B), K),
        "t": np.tile(ts.numpy(), B),
        "err_gt": (flat - x_rep).abs().mean(dim=(1, 2, 3, 4)).cpu().numpy(),
        "dist_y_pred": _dist_to_cond(flat, y_rep).cpu().numpy(),
        "dist_y_gt": np.repeat(_dist_to_cond(x0, y).cpu().numpy(), K),
    })
    for name, fn in (motion_fns or {}).items():
        pred = _per_video(fn, flat, name)
        gt = np.repeat(_per_video(fn, x0, name), K)
        df[f"{name}_pred"] = pred
        df[f"{name}_gt"] = gt
        with np.errstate(divide="ignore", invalid="ignore"):
            df[f"{name}_retention"] = np.where(gt > 1e-8, pred / gt, np.nan)
    return df


@torch.no_grad()
def leakage_index(
    model,
    x0: Video,
    ts,
    *,
    y: Images | None = None,
    y_swap: Images | None = None,
    cond: Cond | Mapping | None = None,
    seed: int | Sequence[int] = 0,
    batch_size: int = 64,
    show_progress: bool = False,
    predictions: torch.Tensor | None = None,
    uncond: torch.Tensor | None = None,
) -> pd.DataFrame:
    """How much ``Xhat_{t->0}`` answers to the conditional image rather than to the noisy video.

    For each (video, t), three one-step predictions share everything but one input:
    ``P = Xhat(X_t, y)``, ``P_y = Xhat(X_t, y')`` with ``y'`` another video's first frame
    (``y_swap``, default: the batch rolled by one), and ``P_x = Xhat(X_t', y)`` with ``X_t'`` the
    same video re-noised with independent noise. With ``d_y = mean|P_y - P|`` and
    ``d_x = mean|P_x - P|``, the index is ``d_y / (d_y + d_x)`` in [0, 1]: 1 when the prediction
    follows only the image, 0 when it follows only the noisy video. Rows: ``video, t, d_y, d_x,
    index``. Needs at least two videos unless ``y_swap`` is given. ``predictions``: ``P`` already
    computed by :func:`one_step_predictions` with the same ``x0``, ``ts``, ``y``, ``cond``, ``seed`` and
    ``batch_size`` (the probe's), so it is not computed again (a third fewer model calls). ``uncond``: the
    unconditional guidance branch's raw outputs that ``one_step_predictions(..., with_uncond=True)`` returned with
    ``predictions``. Where that branch does not see the image (the shipped toys, SVD: the image dropped; checked by
    comparing the model's :meth:`~cilnb.models.base.Adapter.uncond` conditioning with either image, and not under a
    condition hook), ``P_y`` shares ``P``'s unconditional branch, so it is reused (from ``uncond``, or kept when
    ``P`` is computed here) and only the conditional branch runs: a quarter fewer network passes with guidance.
    ``X_t'``'s noise is drawn from seed ``(seed_b + 7919011) mod 2**64`` (:func:`cilnb.checks.offset_seed`), so every
    seed in ``[-2**63, 2**64 - 1]`` works, the top of the range too.
    """
    show_progress = checks.check_bool("show_progress", show_progress)
    x0, ts, batch_size, cond = _validate(model, x0, ts, y, batch_size, cond)
    y, B = cond.y, x0.shape[0]
    if y_swap is None:
        if B < 2:
            raise ValueError("leakage_index swaps y between videos: give at least 2 videos or y_swap=")
        y_swap = torch.roll(y, 1, dims=0)
    else:
        y_swap = checks.check_model_input("y_swap", y_swap, model, rank=4, layout="conditional images [B, C, H, W]")
    if y_swap.shape != y.shape:
        raise ValueError(f"y_swap must have the shape of y {tuple(y.shape)}, got {tuple(y_swap.shape)}")
    seeds = checks.check_seeds(seed, B)
    eps = per_sample_noise(seeds, x0.shape[1:]).to(x0.device, x0.dtype)
    eps2 = per_sample_noise([checks.offset_seed(s, 7_919_011) for s in seeds], x0.shape[1:]).to(x0.device, x0.dtype)
    reuse = _uncond_ignores_image(model, x0, cond, y_swap)
    want = (B, ts.numel(), *x0.shape[1:])
    if predictions is None:
        base, unc = _predict(model, x0, eps, ts, cond, batch_size, show_progress, keep_uncond=reuse)
    else:
        if not isinstance(predictions, torch.Tensor):
            raise checks.InputTypeError(f"predictions must be the torch.Tensor of one_step_predictions (shape {want}), "
                                        f"got {type(predictions).__name__}: pass the probe's predictions, or None to compute them")
        if tuple(predictions.shape) != want:
            raise ValueError(f"predictions must be one_step_predictions of these videos and times, shape {want}, "
                             f"got {tuple(predictions.shape)}: pass the probe's predictions, or None to compute them")
        _float_outputs("predictions", predictions)
        base = predictions.to(x0.device, x0.dtype)
        unc = None
        if uncond is not None:
            if not isinstance(uncond, torch.Tensor) or tuple(uncond.shape) != want:
                raise ValueError(f"uncond must be the unconditional outputs one_step_predictions(..., with_uncond=True) returned "
                                 f"with predictions, shape {want}, got {tuple(getattr(uncond, 'shape', ())) or type(uncond).__name__}")
            _float_outputs("uncond", uncond)
            unc = uncond if reuse else None
    swapped, _ = _predict(model, x0, eps, ts, cond.with_y(y_swap), batch_size, show_progress, uncond=unc)
    renoised, _ = _predict(model, x0, eps2, ts, cond, batch_size, show_progress)
    d_y = (swapped - base).abs().mean(dim=(2, 3, 4, 5)).cpu().numpy().ravel()
    d_x = (renoised - base).abs().mean(dim=(2, 3, 4, 5)).cpu().numpy().ravel()
    K = ts.numel()
    with np.errstate(divide="ignore", invalid="ignore"):
        index = np.where(d_y + d_x > 0, d_y / (d_y + d_x), np.nan)
    return pd.DataFrame({"video": np.repeat(np.arange(B), K), "t": np.tile(ts.numpy(), B), "d_y": d_y, "d_x": d_x, "index": index})


def _float_outputs(name: str, x: torch.Tensor) -> None:
    """``x`` (the probe's own outputs, given back) must be a real float tensor with values: not on the meta device, not
    integer or bool, finite."""
    checks.check_not_meta(name, x)
    if not x.is_floating_point():
        raise checks.InputTypeError(f"{name} have dtype {x.dtype}; one_step_predictions(...) returns the model's float outputs: "
                                    "pass those, or None to compute them")
    checks.check_finite(name, x, "the model gave non-finite one-step predictions: check its weights")


def _uncond_ignores_image(model, x0: Video, cond: Cond, y_swap: Images) -> bool:
    """Whether ``model``'s unconditional guidance branch gets the same conditioning with ``y_swap`` as with ``cond``'s
    image, so a prediction with the swapped image can reuse that branch. False for a model without
    :meth:`~cilnb.models.base.Adapter.forward_parts` or without an unconditional branch, and under a condition hook
    (it may put the image back)."""
    if not hasattr(model, "forward_parts") or model.hooked:
        return False
    try:
        a = model.uncond(model.check_condition(x0, cond))
        b = model.uncond(model.check_condition(x0, cond.with_y(y_swap)))
    except ValueError:  # no unconditional branch: guidance is off, nothing to reuse
        return False
    return Cond.of(a).equals(b)


class NoStartTime(ValueError):
    """:func:`recommend_start` found no start time: no contiguous run of small probed t keeps the threshold (the
    inputs were fine; the curve decides)."""


def recommend_start(table: pd.DataFrame, column: str, threshold: float = 0.8) -> float:
    """Heuristic start time M: the largest probed t up to which mean ``column`` (e.g. a motion retention) stays >= threshold.

    Reads the probe curve averaged over videos. The paper picks M by FVD sweeps; this is a
    cheaper rule of thumb to start such a sweep from, not a replacement for it. Raises if no t
    qualifies.
    """
    if not isinstance(table, pd.DataFrame):
        raise checks.InputTypeError(f"table must be a probe_table DataFrame, got {type(table).__name__}")
    if not isinstance(column, str):
        raise checks.InputTypeError(f"column must be the name of one probe column such as 'speed_retention', got {column!r}"
                                    + (f": pass {column[0]!r}" if isinstance(column, (list, tuple)) and len(column) == 1 else ""))
    if column not in table:
        raise ValueError(f"column {column!r} not in the probe table; have {list(table.columns)}")
    if "t" not in table:
        raise ValueError(f"table has no 't' column (columns {list(table.columns)}): pass a probe_table(...) result")
    if not pd.api.types.is_numeric_dtype(table[column]) or pd.api.types.is_bool_dtype(table[column]):
        raise ValueError(f"column {column!r} holds {table[column].dtype} values, not numbers: pick a numeric probe column such as 'err_gt'")
    if table.empty:
        raise ValueError("table is empty: pass a probe_table(...) result with at least one probed t")
    threshold = checks.check_number("threshold", threshold, lo=0, lo_open=True, fix="(e.g. 0.8 for a retention)")
    t = table["t"]
    if not pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t):
        raise ValueError(f"table's 't' column holds {t.dtype} values, not probe times: pass a probe_table(...) result")
    bad = t[~(np.isfinite(t.to_numpy(dtype=np.float64)) & (t > 0) & (t <= 1))]
    if len(bad):  # a time outside (0, 1] would come back as a start M that sample refuses (or, NaN, be dropped silently)
        raise ValueError(f"table's 't' column holds {len(bad)} value(s) outside (0, 1] (e.g. {float(bad.iloc[0]):g}): probe times are "
                         "normalised start times (1 = T); pass a probe_table(...) result")
    curve = table.groupby("t")[column].mean().dropna().sort_index()
    ok = curve[curve >= threshold]
    if ok.empty:
        raise NoStartTime(f"no probed t keeps mean {column} >= {threshold}; probe smaller t or lower the threshold")
    # largest t such that every probed t below it also qualifies (a contiguous low-noise run)
    run = np.cumprod(curve.values >= threshold).astype(bool)
    if not run[0]:
        raise NoStartTime(f"the smallest probed t already has mean {column} < {threshold}")
    return float(curve.index.values[run][-1])

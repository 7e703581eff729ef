"""Fréchet distance and FVD with a user-supplied I3D TorchScript file (Sec. 4.1, App. B.3).

Used by the sampling notebooks' quality read-outs (:mod:`cilnb.experiments.readouts`, :mod:`cilnb.metrics.toy_quality`).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from .. import checks
from .._util import data_dir, progress, resolve_device
from . import videos as _videos

__all__ = ["gaussian_stats", "frechet_distance", "frechet_distance_from_stats", "frechet_interval", "frechet_difference",
           "i3d_path", "load_i3d",
           "i3d_features", "fvd", "I3D_FILE", "I3D_KWARGS"]

#: The file the paper's FVD code uses (StyleGAN-V's TorchScript port of the TF-Hub Kinetics-400 I3D).
I3D_FILE = "i3d_torchscript.pt"
I3D_URL = "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1"
#: Keyword arguments of the detector call (StyleGAN-V's FVD): input in [0, 255], resized to 224x224
#: inside the model, the 400-d pre-softmax features returned.
I3D_KWARGS = dict(rescale=True, resize=True, return_features=True)


def _float_array(x, name: str, what: str) -> np.ndarray:
    """``x`` (a numpy array, tensor or nested list of numbers) as float64 numpy, or an InputTypeError saying ``name`` must be ``what``."""
    if checks.is_complex(x):
        raise checks.InputTypeError(f"{name} must hold real numbers ({what}), got complex values")
    if (isinstance(x, torch.Tensor) and x.dtype == torch.bool) or (isinstance(x, np.ndarray) and x.dtype == np.bool_):
        raise checks.InputTypeError(f"{name} must be {what}, got booleans (read as 0 and 1): pass the features as numbers")
    if isinstance(x, torch.Tensor):
        x = checks.check_not_meta(name, x).detach().cpu().double().numpy()
    if x is None or isinstance(x, (str, bytes)):
        raise checks.InputTypeError(f"{name} must be {what}, got {type(x).__name__}")
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise checks.InputTypeError(f"{name} must be {what}, got {type(x).__name__} ({exc})") from None


def check_features(x, name: str) -> np.ndarray:
    """``x`` as a finite float ``[N, D]`` array of features (N >= 2 for a covariance, D >= 1), else a clear error naming ``name``."""
    x = _float_array(x, name, "[N, D] features (a numpy array or tensor of numbers)")
    if x.ndim != 2:
        raise ValueError(f"{name} must be [N, D] features, got shape {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples for a covariance, got {x.shape[0]}")
    if x.shape[1] < 1:
        raise ValueError(f"{name} has 0 features per sample (shape {x.shape}): pass [N, D] features with D >= 1")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    return x


def _stat_array(x, name: str, ndim: int) -> np.ndarray:
    """``x`` as a finite float64 array of ``ndim`` dims (a mean ``[D]``, 1; a covariance ``[D, D]``, 2), or a clear error."""
    x = _float_array(x, name, "a numpy array or tensor of numbers")
    x = np.atleast_2d(x) if ndim == 2 else x
    if x.ndim != ndim:
        what = "a mean [D]" if ndim == 1 else "a covariance [D, D]"
        raise ValueError(f"{name} must be {what} (gaussian_stats), got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}): statistics of at least one feature are needed (gaussian_stats)")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains {int((~np.isfinite(x)).sum())} non-finite value(s) (NaN or inf): "
                         "compute the statistics from finite features (gaussian_stats)")
    if ndim == 2 and x.shape[0] == x.shape[1]:
        scale = max(1.0, float(np.abs(x).max()))
        diag = np.diagonal(x)
        if (diag < -1e-9 * scale).any():
            raise ValueError(f"{name} is not a covariance: its diagonal holds {int((diag < 0).sum())} negative variance(s) "
                             f"(smallest {diag.min():.3g}); pass the covariance from gaussian_stats")
        asym = float(np.abs(x - x.T).max())
        if asym > 1e-6 * scale:
            raise ValueError(f"{name} is not a covariance: it is not symmetric (largest |S - S^T| = {asym:.3g}); "
                             "pass the covariance from gaussian_stats")
    return x


def gaussian_stats(feats, ddof: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and covariance ``[D, D]`` (float64, ``ddof=1``: unbiased, as ``np.cov``) of ``[N, D]`` features."""
    x = check_features(feats, "feats")
    ddof = checks.check_int("ddof", ddof, min=0, fix="(delta degrees of freedom of the covariance: 1 unbiased, 0 maximum likelihood)")
    if ddof >= x.shape[0]:
        raise ValueError(f"ddof={ddof} needs more than {ddof} samples, got {x.shape[0]}: use ddof=1 (unbiased) or pass more samples")
    cov = np.atleast_2d(np.cov(x, rowvar=False, ddof=ddof))
    if not np.isfinite(cov).all():  # finite features whose squares overflow float64 (|x| beyond ~1e154)
        raise ValueError(f"feats are too large for a float64 covariance (largest |value| {np.abs(x).max():.3g}; their squares overflow): "
                         "rescale the features (e.g. divide them by their standard deviation)")
    return x.mean(0), cov


def frechet_distance_from_stats(mu_a, sigma_a, mu_b, sigma_b) -> float:
    """``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^{1/2})`` between two Gaussians, in float64.

    ``tr (S_a S_b)^{1/2}`` is computed as the sum of square roots of the eigenvalues of the symmetric
    PSD matrix ``S_a^{1/2} S_b S_a^{1/2}`` (same spectrum as ``S_a S_b``), which avoids the complex
    round-off of ``scipy.linalg.sqrtm``; negative round-off eigenvalues are clipped at 0, and so is a distance below 0 by
    round-off (at most 1e-6 of ``|mu_a - mu_b|^2 + tr S_a + tr S_b``: identical feature sets gave -1e-7 of it).
    """
    mu_a, mu_b = _stat_array(mu_a, "mu_a", 1), _stat_array(mu_b, "mu_b", 1)
    sa, sb = _stat_array(sigma_a, "sigma_a", 2), _stat_array(sigma_b, "sigma_b", 2)
    if mu_a.shape != mu_b.shape or sa.shape != sb.shape or sa.shape != (mu_a.size, mu_a.size):
        raise ValueError(f"shape mismatch: mu {mu_a.shape} / {mu_b.shape}, sigma {sa.shape} / {sb.shape}")
    w, V = np.linalg.eigh((sa + sa.T) / 2)
    for name, ev in (("sigma_a", w), ("sigma_b", np.linalg.eigvalsh((sb + sb.T) / 2))):
        tol = 1e-5 * max(1.0, float(np.abs(ev).max()))  # round-off of a singular covariance (N <= D, float32) stays far above
        if ev.min() < -tol:  # clipped at 0 below, it gave a distance for a matrix that is no covariance
            raise ValueError(f"{name} is not a covariance: it is not positive semi-definite (smallest eigenvalue {ev.min():.3g}, "
                             f"largest {ev.max():.3g}); pass the covariance from gaussian_stats")
    root_a = (V * np.sqrt(np.clip(w, 0, None))) @ V.T
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is named below, not warned about
        m = root_a @ ((sb + sb.T) / 2) @ root_a
        if not np.isfinite(m).all():  # eigvalsh failed with a bare LinAlgError ("Eigenvalues did not converge")
            raise _too_large(sa, sb, mu_a, mu_b)
        ev = np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)
        diff = mu_a - mu_b
        scale = float(diff @ diff + np.trace(sa) + np.trace(sb))
        fd = scale - 2.0 * float(np.sqrt(ev).sum())
    if -1e-6 * scale <= fd < 0:  # round-off of a distance that is 0 (identical sets; ~1e-7 of the traces when N <= D)
        fd = 0.0
    if not np.isfinite(fd):  # a distance of inf (or nan) from finite statistics: float64 overflow
        raise _too_large(sa, sb, mu_a, mu_b)
    return fd


def _too_large(*stats) -> ValueError:
    big = max(float(np.abs(x).max()) for x in stats)
    return ValueError(f"the statistics are too large for a float64 Fréchet distance (largest |value| {big:.3g}; the products "
                      "overflow): rescale the features (e.g. divide them by their standard deviation) before gaussian_stats")


def frechet_distance(feats_a, feats_b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``[N_a, D]`` and ``[N_b, D]`` (FID/FVD).

    Validated against ``scipy.linalg.sqrtm`` in the tests.
    """
    a, b = check_features(feats_a, "feats_a"), check_features(feats_b, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dims differ: {a.shape[1]} vs {b.shape[1]}")
    return frechet_distance_from_stats(*gaussian_stats(a), *gaussian_stats(b))


def _check_bootstrap(a: np.ndarray, b: np.ndarray, n_boot, level, seed) -> tuple[int, float, int]:
    """``(n_boot, level, seed)`` checked and as Python numbers (a 0-d tensor seed reached numpy's SeedSequence)."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dims differ: {a.shape[1]} vs {b.shape[1]}")
    n_boot = checks.check_int("n_boot", n_boot, min=10, fix="(bootstrap resamples; 200 is the default)")
    checks.check_fits_in_memory(8.0 * n_boot * a.shape[0], f"a bootstrap of n_boot={n_boot} resamples of {a.shape[0]} rows",
                                "its resampled row indices are drawn at once: pass fewer resamples, e.g. n_boot=200 (the default)")
    level = checks.check_number("level", level, fix="(in (0, 1), e.g. 0.95 for a 95% interval)")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1) (e.g. 0.95 for a 95% interval), got {level}")
    seed = checks.check_int("seed", seed, min=0, fix="(the bootstrap's numpy seed; None is refused so that intervals are reproducible)")
    return n_boot, level, seed


def _centred_bootstrap(stat, n: int, n_boot: int, level: float, seed: int) -> tuple[float, float, float]:
    """``(stat(all rows), lo, hi)``: the percentile interval of ``stat`` over ``n_boot`` resamples of the
    ``n`` rows (with replacement), shifted by the bootstrap's bias estimate ``median(replicates) - estimate``."""
    est = stat(slice(None))
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    reps = np.array([stat(i) for i in idx])
    lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2]) - (float(np.median(reps)) - est)
    return est, float(lo), float(hi)


def frechet_interval(feats_a, feats_b, *, n_boot: int = 200, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Bootstrap percentile interval of :func:`frechet_distance` over resamples of ``feats_a`` (the generated
    set; ``feats_b``, the reference, is held fixed): how much the distance depends on which videos were drawn.

    With a few dozen videos a handful of outliers (a failed sample) can dominate a Fréchet distance;
    this interval shows it. Resampling with replacement biases each replicate upward (repeated rows
    shrink the covariance's rank), so the percentile interval is shifted by the bootstrap's bias
    estimate ``median(replicates) - FD`` and clipped at 0: it is centred on the estimate.
    """
    a, b = check_features(feats_a, "feats_a"), check_features(feats_b, "feats_b")
    n_boot, level, seed = _check_bootstrap(a, b, n_boot, level, seed)
    mu_b, sig_b = gaussian_stats(b)
    _, lo, hi = _centred_bootstrap(lambda rows: frechet_distance_from_stats(*gaussian_stats(a[rows]), mu_b, sig_b),
                                   a.shape[0], n_boot, level, seed)
    return max(lo, 0.0), max(hi, 0.0)


def frechet_difference(feats_a, feats_c, feats_b, *, n_boot: int = 200, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float, float]:
    """``(d, lo, hi)``: ``d = FD(a, b) - FD(c, b)`` for two generated sets whose rows are **paired** (row ``i``
    of ``a`` and of ``c`` come from the same conditional image and noise, e.g. two remedies), and its
    bootstrap percentile interval from resampling the pairs jointly (``feats_b``, the reference, held fixed).

    What the pairs share (the image, the noise) moves both distances of a replicate alike and cancels in
    the difference, so this interval is narrower than comparing the two sets' own intervals
    (:func:`frechet_interval`) when the sets are correlated. Centred like :func:`frechet_interval` (the
    percentile interval shifted by ``median(replicates) - d``); unlike it, not clipped (a difference may be
    negative). ``lo > 0``: ``a`` is farther from the reference than ``c`` at the interval's level.
    """
    a, c, b = check_features(feats_a, "feats_a"), check_features(feats_c, "feats_c"), check_features(feats_b, "feats_b")
    if a.shape != c.shape:
        raise ValueError(f"paired sets need the same shape (row i of each from the same image and noise), got {a.shape} and {c.shape}")
    n_boot, level, seed = _check_bootstrap(a, b, n_boot, level, seed)
    mu_b, sig_b = gaussian_stats(b)

    def diff(rows) -> float:
        return (frechet_distance_from_stats(*gaussian_stats(a[rows]), mu_b, sig_b)
                - frechet_distance_from_stats(*gaussian_stats(c[rows]), mu_b, sig_b))

    return _centred_bootstrap(diff, a.shape[0], n_boot, level, seed)


def i3d_path(path: str | os.PathLike | None = None) -> Path:
    """The I3D TorchScript file: ``path``, else ``<cilnb data dir>/i3d_torchscript.pt``; never downloaded."""
    if path is None or (isinstance(path, str) and path == ""):
        p = data_dir() / I3D_FILE
    else:
        p = checks.check_path("path", path, "the I3D TorchScript file path (or None for the data folder's)").expanduser()
        if p.is_dir():
            raise ValueError(f"I3D detector {str(p)!r} is a folder: pass the TorchScript file itself, e.g. {str(p / I3D_FILE)!r}")
    if not p.is_file():
        raise FileNotFoundError(
            f"I3D TorchScript file not found at {str(p)!r}: download {I3D_FILE} (the paper's FVD detector, {I3D_URL}) "
            f"and pass its path, or put it at {data_dir() / I3D_FILE} ($CILNB_DATA_DIR overrides the folder)")
    return p


def load_i3d(path: str | os.PathLike | None = None, device="auto") -> torch.jit.ScriptModule:
    """Load the I3D TorchScript detector (see :func:`i3d_path`) in eval mode on ``device``."""
    import warnings

    dev = resolve_device(device)
    file = i3d_path(path)
    with warnings.catch_warnings():  # the detector only exists as TorchScript: silence the deprecation notice
        warnings.simplefilter("ignore", FutureWarning)
        try:
            model = torch.jit.load(str(file), map_location=dev)
        except (RuntimeError, ValueError) as exc:
            raise ValueError(f"{str(file)!r} is not a TorchScript module ({str(exc).splitlines()[0][:160]}): pass {I3D_FILE}, the paper's "
                             f"FVD detector ({I3D_URL})") from None
    return model.eval()


def _detector(detector, dev) -> torch.nn.Module:
    """``detector`` (a loaded module, a path or ``None``) as a module on its device."""
    if isinstance(detector, torch.nn.Module):
        return detector
    if detector is not None and not isinstance(detector, (str, os.PathLike)):
        raise checks.InputTypeError(f"detector must be a torch.nn.Module (e.g. load_i3d()), the path of {I3D_FILE}, or None, "
                                    f"got {type(detector).__name__}")
    return load_i3d(detector, dev)


def i3d_features(videos, detector=None, *, value_range=(0.0, 1.0), batch_size: int = 16, device="auto",
                 detector_kwargs: dict | None = None, show_progress: bool = True) -> np.ndarray:
    """I3D features ``[B, D]`` (float64) of ``videos [B, F, C, H, W]``, batched through the detector.

    Each batch is converted to ``[b, 3, F, H, W]`` float32 in [0, 255] (grayscale repeated) and passed as
    ``detector(x, **I3D_KWARGS)`` (StyleGAN-V's convention: the detector rescales to [-1, 1] and resizes
    to 224x224 itself). ``detector``: a loaded module, a path, or ``None`` (see :func:`i3d_path`).
    """
    show_progress = checks.check_bool("show_progress", show_progress)
    v = _videos.check_videos(videos, value_range, min_frames=1)
    batch_size = checks.check_int("batch_size", batch_size, min=1, fix="(videos per detector call)")
    dev = resolve_device(device)
    if detector_kwargs is not None and not isinstance(detector_kwargs, Mapping):
        raise checks.InputTypeError(f"detector_kwargs must be a dict of keyword arguments for the detector (or None for "
                                    f"{I3D_KWARGS}), got {type(detector_kwargs).__name__}")
    det = _detector(detector, dev)
    kw = dict(I3D_KWARGS if detector_kwargs is None else detector_kwargs)
    out = []
    with torch.inference_mode():
        for lo in progress(range(0, v.shape[0], batch_size), disable=not show_progress, desc="I3D features"):
            chunk = v[lo:lo + batch_size]
            b, f = chunk.shape[:2]
            x = _videos.to_rgb(_videos.to_unit(chunk.reshape(b * f, *chunk.shape[2:]), value_range, dev))
            x = (x * 255.0).reshape(b, f, 3, *x.shape[-2:]).permute(0, 2, 1, 3, 4).contiguous()
            got = det(x, **kw)
            if not isinstance(got, torch.Tensor) or got.ndim < 1 or got.shape[0] != b:
                shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
                raise ValueError(f"the detector returned {shape} for a batch of {b} videos; it must return features [b, D] "
                                 f"(one row per video, as {I3D_FILE} does with detector_kwargs {I3D_KWARGS})")
            out.append(got.detach().double().cpu().numpy())
    feats = np.concatenate(out).reshape(v.shape[0], -1)
    if not np.isfinite(feats).all():
        raise ValueError(f"the detector gave {int((~np.isfinite(feats)).sum())} non-finite feature value(s) (NaN or inf) for finite "
                         f"videos: check the detector (pass {I3D_FILE}, the paper's FVD detector) and its weights")
    return feats


def fvd(videos_a, videos_b, detector=None, *, value_range=(0.0, 1.0), batch_size: int = 16, device="auto",
        show_progress: bool = True) -> float:
    """FVD between two video sets ``[B, F, C, H, W]``: Fréchet distance of their I3D features.

    The paper: 2,048 videos of 16 frames at 3 fps on UCF101. ``detector``: path to ``i3d_torchscript.pt``
    or a loaded module (a clear ``FileNotFoundError`` when the file is missing).
    """
    show_progress = checks.check_bool("show_progress", show_progress)
    dev = resolve_device(device)
    det = _detector(detector, dev)
    fa = i3d_features(videos_a, det, value_range=value_range, batch_size=batch_size, device=dev,
                      show_progress=show_progress)
    fb = i3d_features(videos_b, det, value_range=value_range, batch_size=batch_size, device=dev,
                      show_progress=show_progress)
    return frechet_distance(fa, fb)

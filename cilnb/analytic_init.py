"""Analytic-Init: the KL-optimal Gaussian start at ``M < T`` (Eq. 5, Proposition 1, Alg. 1).

Among isotropic Gaussians ``p_M = N(mu_p, sigma_p^2 I)``, ``KL(q_M || p_M)`` is minimised by::

    mu_p* = alpha_M E[X_0],        sigma_p^2* = alpha_M^2 tr(Cov[X_0]) / d + sigma_M^2

because ``KL(q || p) = -H(q) - E_q log p`` and ``-E_q log p`` of a Gaussian ``p`` depends on ``q``
only through its mean and ``tr(Cov)``. The moments are estimated by the method of moments over
training videos (latent models: VAE latents times the scaling factor). This module holds

* :class:`MomentStats`: streaming, mergeable per-element mean and variance in float64
  (Chan et al.'s batched Welford update); saved as safetensors; imports the official
  ``initial_noise_*.pt`` files;
* :func:`init_params` / :func:`sample_init`: Eq. (5) and draws from it, plus
  :func:`pipeline_latents` for diffusers pipelines (they multiply user latents by ``init_noise_sigma``);
* :func:`gaussian_kl`, :class:`GaussianMixture` and :func:`kl_table`: Prop. 1 made visible on
  synthetic data.

Layout: one sample is one (latent) video ``[F, C, H, W]``; batches are ``[N, F, C, H, W]`` (the
diffusers layout). The variance is the **population** moment (``ddof = 0``), as in Eq. (5).
Shown in ``notebooks/analytic_init.ipynb``.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from . import checks
from ._util import check_finite, make_generator, resolve_device

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MomentStats",
    "init_params",
    "init_params_at",
    "sample_init",
    "pipeline_latents",
    "gaussian_kl",
    "gaussian_cross_entropy",
    "GaussianMixture",
    "synthetic_data",
    "kl_table",
    "check_prop1",
    "SCHEDULE_FAMILIES",
    "schedule_families",
    "start_grid",
]

FORMAT = "cilnb.moment_stats"
FORMAT_VERSION = 1
_F64 = torch.float64
_RECOMPUTE = "recompute with `python -m cilnb stats` for this resolution"
_OFFICIAL_KEYS = (("Expectation_x_0", "trCov_d"), ("Expectation_X0", "Tr_Cov_d"))
#: Largest ``|E[X0]|`` and ``sqrt(tr(Cov)/d)`` :func:`init_params` accepts: data moments of pixels in [-1, 1],
#: 0..255 pixels or VAE latents are far below it; beyond it the statistics are corrupt or in the wrong units,
#: and a start drawn from them overflows float16/float32 models into an all-NaN video.
MAX_DATA_SCALE = 1e4
#: Largest sample count a :class:`MomentStats` takes (``2**53``, the integers float64 holds exactly): far beyond any
#: data set; a larger one (a corrupt file's metadata) overflowed torch.
MAX_COUNT = 2**53


# ----------------------------------------------------------------------------------------------
# streaming moments
# ----------------------------------------------------------------------------------------------


class MomentStats:
    """Streaming per-element mean and (population) variance of samples, in float64 (Eq. 5 inputs).

    ``update(batch)`` takes ``[N, *sample_shape]`` (e.g. ``[N, F, C, H, W]`` latent videos) in
    any float dtype; shards combine with ``merge`` (Chan, Golub & LeVeque's pairwise update, exact
    up to rounding and stable for large offsets). Objects made by :meth:`from_official` or
    :meth:`from_moments` without a count know only what they were given: ``mean`` and
    ``avg_var`` always, ``var`` only if given, and they refuse ``update``/``merge``.
    Used by notebooks/analytic_init.ipynb through :func:`kl_table`.
    """

    def __init__(self, *, source: str = "", vae_scaling_factor: float | None = None):
        self._count: int | None = 0
        self._mean: torch.Tensor | None = None
        self._m2: torch.Tensor | None = None  # sum of squared deviations (streaming objects)
        self._var: torch.Tensor | None = None  # fixed per-element variance (count-less objects)
        self._avg_var: float | None = None  # fixed tr(Cov)/d (official imports)
        self.source = str(source)
        self.vae_scaling_factor = _check_scaling(vae_scaling_factor)

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def from_moments(cls, mean, var=None, *, avg_var: float | None = None, count: int | None = None, source: str = "", vae_scaling_factor: float | None = None) -> "MomentStats":
        """Stats from known moments: ``mean`` and per-element ``var`` (population), or only ``avg_var``.

        With ``count`` (and ``var``) the object keeps streaming (``update``/``merge``); without
        it, it is a fixed description (e.g. exact moments of a synthetic distribution).
        """
        st = cls(source=source, vae_scaling_factor=vae_scaling_factor)
        mean = _as64("mean", mean)
        if mean.ndim == 0:
            raise ValueError("mean must have the shape of one sample (e.g. [F, C, H, W]), got a scalar")
        if mean.numel() == 0:
            raise ValueError(f"mean is empty (shape {tuple(mean.shape)}): give the moments of at least one element")
        if (var is None) == (avg_var is None):
            raise ValueError("give exactly one of var (per-element variances) or avg_var (tr(Cov)/d)")
        if var is not None:
            var = _as64("var", var)
            if var.shape != mean.shape:
                raise ValueError(f"var shape {tuple(var.shape)} does not match mean shape {tuple(mean.shape)}")
            if bool((var < 0).any()):
                raise ValueError("var must be >= 0 everywhere")
        else:
            avg_var = checks.check_number("avg_var", avg_var, lo=0, fix="(tr(Cov)/d, the mean per-element variance)")
        if count is not None:
            if var is None:
                raise ValueError("count needs per-element var (a streaming object needs its sums of squares)")
            count = checks.check_int("count", count, min=1, fix="(the number of samples the moments are of)")
            if count > MAX_COUNT:  # var * count failed in torch ("int too big to convert")
                raise ValueError(f"count = {count} is more samples than any data set holds (at most 2**53 = {MAX_COUNT}, "
                                 "float64's exact integers): pass the number of samples the moments are of")
            m2 = var * count
            checks.check_finite("var * count (the sums of squared deviations)", m2,
                                fix=f"variances up to {float(var.max()):.3g} over {count} samples overflow float64; rescale the data")
            st._count, st._mean, st._m2 = count, mean.clone(), m2
        else:
            st._count, st._mean = None, mean.clone()
            st._var = None if var is None else var.clone()
            st._avg_var = avg_var
        return st

    @classmethod
    def from_official(cls, path: str | os.PathLike, *, layout: str | None = None) -> "MomentStats":
        """Import an official ``initial_noise_*.pt`` (keys ``Expectation_x_0``/``trCov_d`` or ``Expectation_X0``/``Tr_Cov_d``).

        Read with ``torch.load(..., weights_only=True)``. The file holds only ``E[X0]`` and
        ``tr(Cov)/d`` (no count, no per-element variance), so the result gives ``mean`` and
        ``avg_var`` and refuses ``var``/``update``/``merge``. ``layout`` of the stored mean: ``"fchw"``
        (the SVD example, diffusers layout) or ``"cfhw"`` (the DynamiCrafter/VideoCrafter LVDM code,
        permuted here to ``[F, C, H, W]``); ``None`` infers it from the key convention. A leading
        batch axis of size 1 is dropped.
        """
        path = checks.check_path("path", path)
        if layout is not None and layout not in ("fchw", "cfhw"):  # "" was read as None (the inferred layout) without a word
            raise ValueError(f"layout must be 'fchw', 'cfhw' or None (inferred from the file's keys), got {layout!r}")
        if path.is_dir():
            raise ValueError(f"{path} is a folder, not an official Analytic-Init file: give the initial_noise_*.pt file inside it")
        if not path.is_file():
            raise FileNotFoundError(f"no official Analytic-Init file at {path}")
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle errors of many kinds
            raise ValueError(f"{path} is not a readable torch file of Analytic-Init moments ({type(exc).__name__}: {exc})") from exc
        if not isinstance(data, Mapping):
            raise ValueError(f"{path} holds a {type(data).__name__}, expected a dict with keys Expectation_x_0/trCov_d or Expectation_X0/Tr_Cov_d")
        for (km, kv), default_layout in zip(_OFFICIAL_KEYS, ("fchw", "cfhw")):
            if km in data and kv in data:
                break
        else:
            raise ValueError(f"{path} lacks the official keys (Expectation_x_0 + trCov_d, or Expectation_X0 + Tr_Cov_d); found {sorted(map(str, data))}")
        layout = default_layout if layout is None else layout
        mean = _as64(f"{km} in {path}", data[km])
        if mean.ndim == 5 and mean.shape[0] == 1:
            mean = mean[0]
        if mean.ndim != 4:
            raise ValueError(f"{km} in {path} has shape {tuple(mean.shape)}; expected one video [F, C, H, W] (or [C, F, H, W])")
        if layout == "cfhw":
            mean = mean.permute(1, 0, 2, 3).contiguous()
        avg = _as64(f"{kv} in {path}", data[kv])
        if avg.numel() != 1:
            raise ValueError(f"{kv} in {path} should be one number (tr(Cov)/d), got shape {tuple(avg.shape)}")
        try:
            return cls.from_moments(mean, avg_var=float(avg.reshape(())), source=f"official Analytic-Init file {path.name} ({km}/{kv}, layout {layout})")
        except ValueError as exc:  # a negative tr(Cov)/d, an empty mean: name the file and its keys, not from_moments' arguments
            raise type(exc)(f"{path} ({km}/{kv}) is not usable: {exc}") from None

    # -- streaming --------------------------------------------------------------------------

    def _require_streaming(self, what: str) -> None:
        if self._count is None:
            raise ValueError(
                f"cannot {what}: these statistics hold fixed moments without a sample count "
                f"({self.source or 'from_moments/from_official'}); recompute them from data with MomentStats.update"
            )

    def update(self, batch: torch.Tensor) -> "MomentStats":
        """Add a batch ``[N, *sample_shape]`` (any float dtype, any device); returns ``self``."""
        self._require_streaming("update")
        if not isinstance(batch, torch.Tensor):
            if batch is None or isinstance(batch, (str, bytes)):
                raise checks.InputTypeError(f"batch must be a tensor [N, *sample_shape] of numbers, got {type(batch).__name__}")
            try:
                batch = torch.as_tensor(batch)
            except (TypeError, ValueError, RuntimeError) as exc:
                raise checks.InputTypeError(f"batch must be a tensor [N, *sample_shape] of numbers, got {type(batch).__name__} ({exc})") from None
        checks.check_not_meta("batch", batch)
        if batch.ndim < 2:
            raise ValueError(f"batch must be [N, *sample_shape] with a sample shape, got shape {tuple(batch.shape)}")
        if not (batch.is_floating_point() or batch.dtype in (torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64)):
            raise ValueError(f"batch must hold real numbers, got dtype {batch.dtype}")
        n = int(batch.shape[0])
        if n == 0:
            raise ValueError("batch holds no samples (N = 0)")
        if batch[0].numel() == 0:  # failed deep in torch ("max(): Expected reduction dim")
            raise ValueError(f"batch samples are empty (shape {tuple(batch.shape)}, {tuple(batch.shape[1:])} per sample): "
                             "pass samples of at least one element, e.g. [N, F, C, H, W] videos")
        if self._mean is not None and tuple(batch.shape[1:]) != self.shape:
            raise ValueError(f"batch samples have shape {tuple(batch.shape[1:])} but these statistics are for {self.shape}")
        x = batch.detach().to(_F64)
        check_finite("batch", x)
        mean_b = x.mean(0)
        m2_b = ((x - mean_b) ** 2).sum(0)
        checks.check_finite("the batch's sum of squared deviations", m2_b,
                            fix=f"values up to {float(x.abs().max()):.3g} overflow float64; rescale the data")
        self._combine(n, mean_b.cpu(), m2_b.cpu(), "this batch")
        return self

    def merge(self, other: "MomentStats") -> "MomentStats":
        """Fold another shard's statistics into this one (in place; returns ``self``). Both must describe the same
        sample shape and, where both know it, the same ``vae_scaling_factor``."""
        if not isinstance(other, MomentStats):
            raise checks.InputTypeError(f"other must be a MomentStats (another shard's statistics) to merge, got {type(other).__name__}")
        self._require_streaming("merge")
        other._require_streaming("merge")
        if other._count == 0:
            return self
        if other is self:  # every sample was counted twice without a word
            raise ValueError("cannot merge statistics into themselves: every sample would count twice; merge another shard's "
                             "statistics (copy.deepcopy(stats) if a double count is really meant)")
        if self._mean is not None and other.shape != self.shape:
            raise ValueError(f"cannot merge statistics of shape {other.shape} into statistics of shape {self.shape}")
        a, b = self.vae_scaling_factor, other.vae_scaling_factor
        if a is not None and b is not None and a != b:  # moments of latents in two scales were mixed without a word
            raise ValueError(f"cannot merge statistics of latents scaled by vae_scaling_factor {b:g} into statistics scaled by {a:g}: "
                             "they are moments of different spaces; compute both shards with the same model (VAE scaling)")
        self._combine(other._count, other._mean.clone(), other._m2.clone(), "the other statistics")
        return self

    def _combine(self, n_b: int, mean_b: torch.Tensor, m2_b: torch.Tensor, what: str) -> None:
        """Chan et al.'s pairwise update with ``n_b`` samples of mean ``mean_b`` and squared deviations ``m2_b`` (``what``
        names them); all or nothing: a count beyond :data:`MAX_COUNT` or sums that overflow float64 leave ``self`` as it was."""
        n_a = self._count
        n = n_a + n_b
        if n > MAX_COUNT:  # the weights n_b / n lost their exactness without a word
            raise ValueError(f"{what} would bring the sample count to {n}, beyond what statistics hold (at most 2**53 = {MAX_COUNT}, "
                             "float64's exact integers): these statistics are corrupt or counted twice; recompute them from the data")
        if n_a == 0:
            self._count, self._mean, self._m2 = n_b, mean_b, m2_b
            return
        delta = mean_b - self._mean
        mean = self._mean + delta * (n_b / n)
        m2 = self._m2 + m2_b + delta**2 * (n_a * n_b / n)
        checks.check_finite(f"the sums of squared deviations with {what}", m2,  # were kept as inf: var became inf without a word
                            fix=f"the means differ by up to {float(delta.abs().max()):.3g}, beyond float64; rescale the data")
        self._count, self._mean, self._m2 = n, mean, m2

    # -- results ----------------------------------------------------------------------------

    def _require_data(self) -> None:
        if self._mean is None:
            raise ValueError("no samples yet: call update(batch) with data first (zero samples have no moments)")

    @property
    def count(self) -> int | None:
        """Samples seen (``None`` for fixed moments without a count, e.g. official imports)."""
        return self._count

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one sample, e.g. ``(F, C, H, W)``."""
        self._require_data()
        return tuple(self._mean.shape)

    @property
    def d(self) -> int:
        """Number of elements of one sample."""
        return int(math.prod(self.shape))

    @property
    def mean(self) -> torch.Tensor:
        """Per-element mean ``E[X0]`` (float64, sample shape)."""
        self._require_data()
        return self._mean.clone()

    @property
    def var(self) -> torch.Tensor:
        """Per-element population variance ``Var(X0^(j))`` (``ddof = 0``, float64, sample shape)."""
        self._require_data()
        if self._m2 is not None:
            return (self._m2 / self._count).clamp(min=0)
        if self._var is not None:
            return self._var.clone()
        raise ValueError(
            "per-element variances are unavailable: these statistics hold only E[X0] and tr(Cov)/d "
            f"({self.source}); use avg_var, or recompute from data with MomentStats.update"
        )

    @property
    def avg_var(self) -> float:
        """``tr(Cov[X0]) / d``: the mean of the per-element variances (Eq. 5)."""
        self._require_data()
        if self._avg_var is not None:
            return self._avg_var
        return float(self.var.mean())

    def __repr__(self) -> str:
        if self._mean is None:
            return "MomentStats(empty)"
        return f"MomentStats(shape={self.shape}, count={self._count}, avg_var={self.avg_var:.6g}, source={self.source!r})"

    # -- files ------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike, source: str | None = None, vae_scaling_factor: float | None = None) -> Path:
        """Write a safetensors file (float64 ``mean`` + ``var``, or ``avg_var``) with string metadata, atomically.

        Metadata: ``format``/``format_version`` (so other safetensors files are recognised),
        ``shape``, ``count``, ``source``, ``vae_scaling_factor`` and the variance convention.
        ``source``/``vae_scaling_factor`` default to the object's own.
        """
        from ._util import save_safetensors

        self._require_data()
        path = checks.check_path("path", path)
        if path.is_dir():
            raise ValueError(f"path {path} is a folder: give a file path such as {path / 'stats.safetensors'}")
        above = next((q for q in path.parents if q.exists()), None)
        if above is not None and not above.is_dir():  # was NotADirectoryError from the folder creation
            raise ValueError(f"path {path}: {above} is a file, so no folder can be made under it: give a path in a folder")
        if source is not None and not isinstance(source, str):  # str() wrote 'nan' or "{'a': 1}" as the provenance
            raise checks.InputTypeError(f"source must be a str (where the statistics come from) or None, got {source!r:.60} "
                                        f"({type(source).__name__})")
        source = self.source if source is None else source
        # a path of undecodable bytes (os.fsdecode's lone surrogates) in the text failed in safetensors' UTF-8 metadata
        source = source.encode("utf-8", "backslashreplace").decode("utf-8")
        scaling = self.vae_scaling_factor if vae_scaling_factor is None else _check_scaling(vae_scaling_factor)
        tensors = {"mean": self._mean.contiguous()}
        if self._m2 is not None or self._var is not None:
            tensors["var"] = self.var.contiguous()
        else:
            tensors["avg_var"] = torch.tensor([self._avg_var], dtype=_F64)
        meta = {
            "format": FORMAT,
            "format_version": str(FORMAT_VERSION),
            "shape": json.dumps(list(self.shape)),
            "count": "" if self._count is None else str(self._count),
            "source": source,
            "vae_scaling_factor": "" if scaling is None else repr(float(scaling)),
            "var_convention": "population (ddof=0)",
            "layout": "one sample per row; videos [F, C, H, W]",
        }
        return save_safetensors(path, tensors, meta)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "MomentStats":
        """Read a file written by :meth:`save` (an official ``.pt``/``.pth``/``.ckpt`` file goes through
        :meth:`from_official`); refuses other safetensors files and corrupt ones."""
        from safetensors import safe_open

        path = checks.check_path("path", path)
        if path.suffix.lower() in (".pt", ".pth", ".ckpt"):  # .PT too: read as safetensors it was "not readable"
            return cls.from_official(path)
        if path.is_dir():
            raise ValueError(f"{path} is a folder, not a statistics file: give the .safetensors file inside it (MomentStats.save's path)")
        if not path.is_file():
            raise FileNotFoundError(f"no statistics file at {path}; create one with MomentStats.save or `python -m cilnb stats`")
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as exc:
            raise ValueError(f"{path} is not a readable safetensors file (corrupt, truncated or another format): {exc}") from exc
        if meta.get("format") != FORMAT:
            raise ValueError(
                f"{path} is a safetensors file but not a cilnb statistics file (metadata format={meta.get('format')!r}, "
                f"expected {FORMAT!r}); official .pt files load with MomentStats.from_official"
            )
        bad = f"corrupt statistics file {path}"
        try:
            version = int(meta.get("format_version", ""))
        except ValueError:
            raise ValueError(f"{bad}: format_version {meta.get('format_version')!r} is not an int") from None
        if version < 1:
            raise ValueError(f"{bad}: format_version {version} (versions start at 1): rewrite it with MomentStats.save or `python -m cilnb stats`")
        if version > FORMAT_VERSION:
            raise ValueError(f"{path} has statistics format version {version}; this cilnb reads up to {FORMAT_VERSION}: upgrade cilnb")
        try:
            shape = tuple(int(s) for s in json.loads(meta["shape"]))
            count = int(meta["count"]) if meta.get("count", "") != "" else None
            scaling = float(meta["vae_scaling_factor"]) if meta.get("vae_scaling_factor", "") != "" else None
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{bad}: unreadable metadata ({exc})") from exc
        if "mean" not in tensors or ("var" not in tensors and "avg_var" not in tensors):
            raise ValueError(f"{bad}: needs tensors 'mean' and 'var' (or 'avg_var'); found {sorted(tensors)}")
        mean = tensors["mean"].to(_F64)
        if tuple(mean.shape) != shape:
            raise ValueError(f"{bad}: mean has shape {tuple(mean.shape)} but the metadata says {shape}")
        for name in ("mean", "var", "avg_var"):  # bool or int moments were converted to float64 without a word
            if name in tensors and not tensors[name].is_floating_point():
                raise ValueError(f"{bad}: tensor {name!r} has dtype {tensors[name].dtype}, but statistics are float moments "
                                 "(float64): recompute them with `python -m cilnb stats` or MomentStats.update")
        for name, tensor in tensors.items():
            if not bool(torch.isfinite(tensor).all()):
                raise ValueError(f"{bad}: tensor {name!r} holds NaN or infinity")
        if "var" not in tensors and tensors["avg_var"].numel() != 1:  # [] failed with an IndexError, [a, b] read as a
            raise ValueError(f"{bad}: tensor 'avg_var' must hold one number (tr(Cov)/d), got shape {tuple(tensors['avg_var'].shape)}")
        try:
            if "var" in tensors:
                var = tensors["var"].to(_F64)
                if tuple(var.shape) != shape:
                    raise ValueError(f"var has shape {tuple(var.shape)} but the metadata says {shape}")
                return cls.from_moments(mean, var, count=count, source=meta.get("source", ""), vae_scaling_factor=scaling)
            return cls.from_moments(mean, avg_var=float(tensors["avg_var"].reshape(-1)[0]), source=meta.get("source", ""), vae_scaling_factor=scaling)
        except ValueError as exc:
            raise ValueError(f"{bad}: {exc}") from exc


def _as64(name: str, x) -> torch.Tensor:
    checks.check_not_meta(name, x)  # was "must be numbers (a tensor, array or list), got Tensor (Cannot copy out of meta tensor)"
    if checks.holds_bool(x):  # True/False were read as 1.0/0.0
        raise checks.InputTypeError(f"{name} must be real numbers, got booleans ({x!r:.60}): pass the moments as numbers")
    if checks.is_complex(x):
        raise checks.InputTypeError(f"{name} must be real numbers, got complex values (their imaginary part would be dropped): "
                                    "pass the real moments")
    try:
        t = x.detach().to("cpu", _F64) if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=_F64)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise checks.InputTypeError(f"{name} must be numbers (a tensor, array or list), got {type(x).__name__} ({exc})") from None
    check_finite(name, t)
    return t


def _check_scaling(s):
    if s is None:
        return None
    return checks.check_number("vae_scaling_factor", s, lo=0, lo_open=True, fix="(the VAE's latent scale, e.g. 0.18215)")


# ----------------------------------------------------------------------------------------------
# Eq. (5) and sampling
# ----------------------------------------------------------------------------------------------


def _coef(name: str, v) -> float:
    if isinstance(v, (bool, np.bool_, str, bytes)) or (isinstance(v, torch.Tensor) and v.dtype == torch.bool):
        # float("0.5") would take a string read from a file without a word, float(True) a flag
        raise ValueError(f"{name} must be a number, got {v!r} ({type(v).__name__}): convert it with float() first")
    try:
        f = float(v)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{name} must be one number, got {v!r}") from exc
    if not math.isfinite(f) or f < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {f}")
    return f


def init_params(stats: MomentStats, alpha, sigma) -> tuple[torch.Tensor, float]:
    """Eq. (5), Prop. 1: ``(alpha_M E[X0], alpha_M^2 tr(Cov)/d + sigma_M^2)`` (float64 mean, float variance).

    Used by notebooks/analytic_init.ipynb through :func:`kl_table`.
    """
    if not isinstance(stats, MomentStats):
        raise ValueError(f"stats must be a MomentStats, got {type(stats).__name__}")
    a, s = _coef("alpha", alpha), _coef("sigma", sigma)
    mean, avg_var = stats.mean, stats.avg_var
    big_mean, big_std = float(mean.abs().max()), math.sqrt(avg_var)
    if big_mean > MAX_DATA_SCALE or big_std > MAX_DATA_SCALE:
        raise ValueError(
            f"Analytic-Init statistics look corrupt: max |E[X0]| = {big_mean:.3g}, sqrt(tr(Cov)/d) = {big_std:.3g} "
            f"(source: {stats.source or 'unknown'}); data moments of pixels or VAE latents are far below "
            f"{MAX_DATA_SCALE:g} and a start drawn from these gives NaN videos: {_RECOMPUTE}, in the space the model samples in"
        )
    mean_p, var_p = a * mean, a * a * avg_var + s * s
    if not math.isfinite(var_p) or not bool(torch.isfinite(mean_p).all()):  # was returned as inf
        raise ValueError(f"alpha = {a:g}, sigma = {s:g} give an infinite Analytic-Init start (variance {var_p:g}): pass the "
                         "schedule's alpha_M and sigma_M at the start time (e.g. init_params_at(stats, model.schedule, M))")
    return mean_p, var_p


def init_params_at(stats: MomentStats, schedule, start: float) -> tuple[torch.Tensor, float]:
    """:func:`init_params` with ``alpha_M, sigma_M`` read from a :class:`cilnb.schedules.Schedule` at normalised ``M``."""
    if not (callable(getattr(schedule, "alpha", None)) and callable(getattr(schedule, "sigma", None))):
        raise checks.InputTypeError(f"schedule must be a cilnb.schedules.Schedule (e.g. model.schedule), got {type(schedule).__name__}")
    alpha, sigma = schedule.alpha(start), schedule.sigma(start)
    if torch.as_tensor(alpha).numel() != 1:  # float() of several would fail naming neither start nor the fix
        raise ValueError(f"start must be one normalised start time M in (0, 1] (Analytic-Init draws the start of one sampling run), "
                         f"got {torch.as_tensor(alpha).numel()} values: call init_params_at once per M")
    m = float(torch.as_tensor(start, dtype=_F64).reshape(()))
    if not 0.0 < m <= 1.0:  # M = 0 is the clean data, not a start: Eq. 5 there is the data's own moments
        raise ValueError(f"start M must lie in (0, 1] (normalised; 1 = T), got {m!r}: sampling starts from noise at M > 0")
    return init_params(stats, float(alpha), float(sigma))


def sample_init(
    stats: MomentStats,
    alpha,
    sigma,
    shape: int | Sequence[int],
    generator: torch.Generator | None = None,
    *,
    seed: int | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Draw ``X_M ~ N(alpha_M E[X0], sigma_p^2* I)`` of Eq. (5), Alg. 1 line 1: ``[B, *stats.shape]``.

    ``shape`` is the batch size ``B`` or the full latents shape ``(B, *stats.shape)`` (trailing dims
    checked). ``generator`` or ``seed`` (exactly one); noise is drawn on the generator's device
    in float64 and returned in ``dtype`` on ``device`` (default: the generator's device). For a
    diffusers pipeline pass the result through :func:`pipeline_latents`.
    For diffusers pipelines (with :func:`pipeline_latents`); :func:`cilnb.sampling.sample` draws its own.
    """
    mean, var = init_params(stats, alpha, sigma)
    if isinstance(shape, (bool, str, float)) or not (isinstance(shape, (int, Sequence)) or hasattr(shape, "__index__")):
        raise checks.InputTypeError(f"shape must be a batch size (int) or a tuple (B, *stats.shape), got {shape!r}")
    if not isinstance(shape, Sequence):
        full = (checks.check_int("shape (batch size)", shape, min=1), *stats.shape)
    else:
        full = tuple(checks.check_int("shape entry", s, min=0) for s in shape)
        if len(full) != 1 + len(stats.shape):  # not a resolution mismatch: the batch dim or the sample dims are missing
            raise ValueError(f"shape {full} must be the batch size B or the full latents shape (B, *stats.shape) = "
                             f"(B, {', '.join(map(str, stats.shape))}), got {len(full)} dim(s)")
        if full[1:] != stats.shape:
            raise ValueError(f"stats shape {stats.shape} does not match latents {full[1:]}: {_RECOMPUTE}")
    if full[0] < 1:
        raise ValueError(f"batch size must be >= 1, got {full[0]}")
    checks.check_fits_in_memory(16.0 * math.prod(full), f"sample_init(shape={full})",
                                "draw fewer videos per call (the float64 noise and its scaled copy are held at once)")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise checks.InputTypeError(f"dtype must be a floating torch.dtype such as torch.float32, got {dtype!r}")
    if generator is not None and seed is not None:
        raise ValueError("pass either generator= or seed=, not both")
    if generator is None and seed is None:
        raise ValueError("a generator= (torch.Generator) or seed= (int) is required: cilnb never draws from the global RNG")
    gen = make_generator(generator if generator is not None else seed)
    dev = gen.device if device is None else resolve_device(device)  # names an unknown device, or CUDA that is not there
    z = torch.randn(full, generator=gen, dtype=_F64, device=gen.device)
    x = (mean.to(z.device) + math.sqrt(var) * z).to(dev, dtype)
    checks.check_finite("the Analytic-Init draw", x, fix=f"N(alpha E[X0], {var:.3g} I) does not fit {dtype}: use a wider dtype or check the statistics")
    return x


def pipeline_latents(latents: torch.Tensor, init_noise_sigma) -> torch.Tensor:
    """``latents / init_noise_sigma``: diffusers pipelines multiply user ``latents`` by ``scheduler.init_noise_sigma``.

    Pass Analytic-Init draws through this before ``pipe(..., latents=...)`` so the model sees
    exactly Eq. (5). (The official SVD code instead draws ``randn * sqrt(init_noise_sigma^2 +
    trCov_d) + E[X0]`` and skips the multiplication; with diffusers' ``init_noise_sigma =
    sqrt(sigma_M^2 + 1)`` that is Eq. (5) plus 1 in the variance.)
    """
    if not isinstance(latents, torch.Tensor) or not latents.is_floating_point():
        raise checks.InputTypeError(f"latents must be a floating torch.Tensor (an Analytic-Init draw of sample_init), got "
                                    f"{type(latents).__name__} {getattr(latents, 'dtype', '')}".rstrip())
    s = _coef("init_noise_sigma", init_noise_sigma)
    if s == 0:
        raise ValueError("init_noise_sigma must be > 0")
    return latents / s


# ----------------------------------------------------------------------------------------------
# Gaussian KL and Prop. 1 on synthetic data
# ----------------------------------------------------------------------------------------------


def _q_moments(q_mean, q_var):
    """``(mean [d], trace, logdet)`` of ``N(q_mean, q_var)``, ``q_var`` a scalar, a diagonal or a ``[d, d]`` matrix."""
    m = _as64("q_mean", q_mean)
    v = _as64("q_var", q_var)
    d = m.numel()
    if d == 0:
        raise ValueError(f"q_mean is empty (shape {tuple(m.shape)}): a Gaussian needs at least one dimension")
    if m.ndim == 1 and v.shape == (d, d) and d > 1:
        if not torch.allclose(v, v.T, rtol=1e-10, atol=1e-12):
            raise ValueError("q_var as a matrix must be symmetric")
        sign, logdet = torch.linalg.slogdet(v)
        if sign <= 0 or int(torch.linalg.cholesky_ex(v).info) != 0:  # diag(-1, -2) has det > 0 and gave a wrong KL
            raise ValueError("q_var must be positive definite (a covariance matrix: symmetric with positive eigenvalues)")
        return m.reshape(-1), float(torch.diagonal(v).sum()), float(logdet)
    try:
        v = torch.broadcast_to(v, m.shape)
    except RuntimeError:
        raise ValueError(f"q_var of shape {tuple(v.shape)} is neither a scalar, a diagonal shaped like q_mean {tuple(m.shape)} nor a [d, d] covariance") from None
    if bool((v <= 0).any()):
        raise ValueError("q_var must be > 0 (a degenerate Gaussian has infinite KL to any p)")
    return m.reshape(-1), float(v.sum()), float(torch.log(v).sum())


def _p_params(p_mean, p_var):
    pm = _as64("p_mean", p_mean)
    pv = _coef("p_var", p_var)
    if pv <= 0:
        raise ValueError(f"p_var must be > 0, got {pv}")
    return pm, pv


def _p_mean_like(pm: torch.Tensor, q_mean) -> torch.Tensor:
    """``p_mean`` broadcast to ``q_mean``'s shape and flattened, or a ``ValueError`` naming both shapes."""
    shape = _as64("q_mean", q_mean).shape
    try:
        return torch.broadcast_to(pm, shape).reshape(-1)
    except RuntimeError:
        raise ValueError(f"p_mean of shape {tuple(pm.shape)} does not broadcast to q_mean's shape {tuple(shape)}: "
                         "give one number or a mean shaped like q_mean") from None


def gaussian_cross_entropy(q_mean, q_var, p_mean, p_var) -> float:
    """``-E_q log p`` for ``p = N(p_mean, p_var I)``: ``(d log(2 pi p_var) + (tr Cov_q + |mu_q - mu_p|^2) / p_var) / 2``.

    Depends on ``q`` only through its mean and ``tr(Cov)``: the reason Eq. (5) is moment matching.
    """
    m, tr, _ = _q_moments(q_mean, q_var)
    pm, pv = _p_params(p_mean, p_var)
    diff = m - _p_mean_like(pm, q_mean)
    d = m.numel()
    return 0.5 * (d * math.log(2 * math.pi * pv) + (tr + float(diff @ diff)) / pv)


def gaussian_kl(q_mean, q_var, p_mean, p_var) -> float:
    """Closed-form ``KL(N(q_mean, q_var) || N(p_mean, p_var I))`` (Prop. 1, App. A).

    ``q_var``: a scalar, per-element variances shaped like ``q_mean``, or a full ``[d, d]``
    covariance when ``q_mean`` is ``[d]``. ``p_mean`` broadcasts to ``q_mean``; ``p_var`` is one
    number. Used by notebooks/analytic_init.ipynb through :func:`kl_table`.
    """
    m, tr, logdet = _q_moments(q_mean, q_var)
    pm, pv = _p_params(p_mean, p_var)
    diff = m - _p_mean_like(pm, q_mean)
    d = m.numel()
    return 0.5 * ((tr + float(diff @ diff)) / pv - d + d * math.log(pv) - logdet)


@dataclass(frozen=True)
class GaussianMixture:
    """Diagonal-covariance Gaussian mixture in ``R^d``: synthetic ``X0`` whose ``q_M`` stays a mixture.

    ``weights [K]`` (summing to 1), ``means [K, d]``, ``variances [K, d]``; ``K = 1`` is an
    anisotropic Gaussian. Used by notebooks/analytic_init.ipynb through :func:`synthetic_data`.
    """

    weights: torch.Tensor
    means: torch.Tensor
    variances: torch.Tensor

    def __post_init__(self):
        w, m, v = (_as64(n, x) for n, x in (("weights", self.weights), ("means", self.means), ("variances", self.variances)))
        if w.ndim != 1 or m.ndim != 2 or m.shape != v.shape or m.shape[0] != w.shape[0]:
            raise ValueError(f"need weights [K], means [K, d], variances [K, d]; got {tuple(w.shape)}, {tuple(m.shape)}, {tuple(v.shape)}")
        if m.shape[1] == 0:
            raise ValueError(f"means {tuple(m.shape)} has d = 0 dimensions: give every component a mean and variance of d >= 1 values")
        if bool((w <= 0).any()) or abs(float(w.sum()) - 1) > 1e-9:
            raise ValueError("weights must be positive and sum to 1")
        if bool((v < 0).any()):
            raise ValueError("variances must be >= 0")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "means", m)
        object.__setattr__(self, "variances", v)

    @property
    def d(self) -> int:
        return int(self.means.shape[1])

    def mean(self) -> torch.Tensor:
        """``E[X]`` ``[d]``."""
        return self.weights @ self.means

    def var(self) -> torch.Tensor:
        """Per-element variances ``[d]`` (the diagonal of the covariance)."""
        second = self.weights @ (self.variances + self.means**2)
        return second - self.mean() ** 2

    def cov(self) -> torch.Tensor:
        """Full covariance ``[d, d]``: ``sum_k w_k (diag v_k + m_k m_k^T) - m m^T``."""
        m = self.mean()
        c = torch.einsum("k,ki,kj->ij", self.weights, self.means, self.means) + torch.diag(self.weights @ self.variances)
        return c - torch.outer(m, m)

    def stats(self) -> MomentStats:
        """The exact moments as a (count-less) :class:`MomentStats`."""
        return MomentStats.from_moments(self.mean(), self.var(), source="exact moments of a GaussianMixture")

    def diffuse(self, alpha, sigma) -> "GaussianMixture":
        """The law ``q_M`` of ``alpha X + sigma eps`` (Eq. 1): means ``alpha m_k``, variances ``alpha^2 v_k + sigma^2``."""
        a, s = _coef("alpha", alpha), _coef("sigma", sigma)
        return GaussianMixture(self.weights, a * self.means, a * a * self.variances + s * s)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log density at ``x [N, d]``."""
        x = _as64("x", x)
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"x must be [N, {self.d}], got shape {tuple(x.shape)}")
        if bool((self.variances <= 0).any()):
            raise ValueError("log_prob needs strictly positive variances")
        return self._log_prob(x)

    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        v = self.variances
        diff = x[:, None, :] - self.means[None]
        comp = -0.5 * ((diff**2 / v).sum(-1) + torch.log(2 * math.pi * v).sum(-1))
        return torch.logsumexp(comp + torch.log(self.weights), dim=1)

    def sample(self, n: int, generator: torch.Generator | None = None, *, seed: int | None = None) -> torch.Tensor:
        """``n`` draws ``[n, d]`` (float64)."""
        if generator is not None and seed is not None:
            raise ValueError("pass either generator= or seed=, not both")
        n = checks.check_int("n", n, min=1, fix="(number of draws)")
        checks.check_fits_in_memory(24.0 * n * self.d, f"GaussianMixture.sample(n={n})", f"draw fewer samples (each holds d = {self.d} float64 values)")
        gen = make_generator(generator if generator is not None else seed)
        k = torch.multinomial(self.weights, n, replacement=True, generator=gen)
        z = torch.randn((n, self.d), generator=gen, dtype=_F64)
        return self.means[k] + self.variances[k].sqrt() * z

    def moment_matched(self) -> "GaussianMixture":
        """``g = N(E[X], diag Var[X])``: the diagonal Gaussian with the same means and per-element variances."""
        return GaussianMixture(torch.ones(1, dtype=_F64), self.mean()[None], self.var()[None])

    def entropy(self, n_mc: int = 4096, generator: torch.Generator | None = None, *, seed: int | None = None) -> tuple[float, float]:
        """``(H, standard error)``: exact for ``K = 1``, else ``H(g) - KL(q || g)`` with :meth:`nongaussianity`."""
        g = self.moment_matched()
        h_g = 0.5 * float(torch.log(2 * math.pi * math.e * g.variances[0]).sum())
        ng, se = self.nongaussianity(n_mc, generator, seed=seed)
        return h_g - ng, se

    def nongaussianity(self, n_mc: int = 4096, generator: torch.Generator | None = None, *, seed: int | None = None) -> tuple[float, float]:
        """``(KL(q || g), standard error)`` for the moment-matched :meth:`moment_matched` ``g``; ``(0, 0)`` for ``K = 1``.

        Monte Carlo ``mean(log q(x_i) - log g(x_i))`` over ``n_mc`` draws with the exact densities
        (low variance when ``q`` is nearly Gaussian, e.g. at large ``M``).
        """
        n_mc = checks.check_int("n_mc", n_mc, min=2, fix="(Monte Carlo draws)")  # before K = 1's answer: a bad n_mc was taken there
        if self.weights.numel() == 1:
            return 0.0, 0.0
        x = self.sample(n_mc, generator, seed=seed)
        if bool((self.variances <= 0).any()):
            raise ValueError("nongaussianity needs strictly positive variances (sigma_M > 0 or non-degenerate data)")
        r = self._log_prob(x) - self.moment_matched()._log_prob(x)
        return float(r.mean()), float(r.std() / math.sqrt(n_mc))


def synthetic_data(kind: str = "mixture", d: int = 16, seed: int = 0) -> GaussianMixture:
    """Synthetic ``X0`` for Prop. 1: ``"mixture"`` (3 anisotropic components) or ``"gaussian"`` (one).

    Latent-like scale: non-zero mean, per-element variances between 0.05 and 1.5.
    """
    if kind not in ("mixture", "gaussian"):
        raise ValueError(f"kind must be 'mixture' or 'gaussian', got {kind!r}")
    d = checks.check_int("d", d, min=1, fix="(the dimension of the synthetic data)")  # numpy ints too
    checks.check_fits_in_memory(64.0 * d, f"synthetic_data(d={d})", "pass a smaller d (e.g. 16)")
    gen = make_generator(seed)
    K = 3 if kind == "mixture" else 1
    means = 0.5 + 1.2 * torch.randn((K, d), generator=gen, dtype=_F64)
    variances = 0.05 + 1.45 * torch.rand((K, d), generator=gen, dtype=_F64)
    weights = torch.tensor([0.5, 0.3, 0.2], dtype=_F64) if K == 3 else torch.ones(1, dtype=_F64)
    return GaussianMixture(weights, means, variances)


def _numeric_argmin(data: GaussianMixture, q: GaussianMixture, scale: float) -> tuple[float, float, float]:
    """Minimise ``-E_q log p`` over ``p = N(c E[X0], v I)`` with BFGS; returns ``(c, v, cross-entropy)``.

    Uses ``q``'s own moments (from the mixture, not Eq. 5) and a generic optimiser; ``c`` is
    optimised in units of ``scale / |E[X0]|`` (``scale`` = baseline std) so that it stays
    identifiable when the noise dominates.
    """
    import numpy as np
    from scipy.optimize import minimize

    m0 = data.mean()
    norm = float(m0.norm())
    unit = scale / norm if norm > 0 else 1.0
    mq, trq, d = q.mean(), float(q.var().sum()), data.d

    def ce(x):
        c, logv = x[0] * unit, x[1]
        diff = mq - c * m0
        r2, iv = float(diff @ diff), math.exp(-logv)
        f = 0.5 * (d * (math.log(2 * math.pi) + logv) + (trq + r2) * iv)
        grad = np.array([-iv * unit * float(diff @ m0), 0.5 * d - 0.5 * (trq + r2) * iv])
        return f, grad

    res = minimize(ce, [0.0, 2 * math.log(scale)], jac=True, method="BFGS", options={"gtol": 1e-12})
    return float(res.x[0] * unit), float(math.exp(res.x[1])), float(res.fun)


#: the noise-schedule families :func:`schedule_families` builds: VP (DDPM), EDM (SVD's, sigma_max 700), flow matching
SCHEDULE_FAMILIES = ("vp", "edm", "flow")


def schedule_families(names: Sequence[str] = SCHEDULE_FAMILIES) -> dict:
    """``{name: Schedule}`` of the families Proposition 1 is checked on (:data:`SCHEDULE_FAMILIES`), in the given order.
    Shown in notebooks/analytic_init.ipynb."""
    from .schedules import EDMSchedule, FlowSchedule, VPSchedule

    names = checks.check_sequence("families", names, fix=f"pass schedule family names, e.g. {list(SCHEDULE_FAMILIES)}")
    bad = [n for n in names if not isinstance(n, str) or n not in SCHEDULE_FAMILIES]
    if bad:  # a KeyError (or "unhashable type") from the notebook's dict before
        raise ValueError(f"families must name schedule families among {list(SCHEDULE_FAMILIES)}, got {bad[0]!r} in {names!r}")
    twice = checks.repeated(names)
    if twice:
        raise ValueError(f"families lists {', '.join(map(repr, twice))} more than once; give each family once")
    build = {"vp": VPSchedule, "edm": lambda: EDMSchedule(sigma_max=700.0), "flow": FlowSchedule}
    return {n: build[n]() for n in names}


def start_grid(M_min: float, n: int) -> np.ndarray:
    """``n`` start times evenly spaced on ``[M_min, 1]`` (float64; ``n = 1``: ``[1.0]``), the M axis of :func:`kl_table`.
    Shown in notebooks/analytic_init.ipynb."""
    M_min = checks.check_number("M_min", M_min, fix="(the smallest normalised start time, in (0, 1])")
    if not 0 < M_min <= 1:
        raise ValueError(f"M_min must lie in (0, 1] (the smallest normalised start time), got {M_min:g}")
    n = checks.check_int("n_M", n, min=1, fix="(grid points for M in [M_min, 1])")
    checks.check_fits_in_memory(8.0 * n, f"start_grid(n={n})", "pass a few dozen points, e.g. 40")
    return np.linspace(M_min, 1.0, n) if n > 1 else np.ones(1)


def kl_table(schedules, data: GaussianMixture, Ms: Sequence[float], *, n_mc: int = 4096, seed: int = 0, numeric: bool = True,
             show_progress: bool = False):
    """Prop. 1 over a grid of ``M``: ``KL(q_M || p)`` for Eq. (5) vs the standard start, as a tidy DataFrame.

    ``schedules``: one :class:`cilnb.schedules.Schedule` or ``{name: Schedule}``. The baseline is
    the plain start ``N(0, prior_std(M)^2 I)`` (VP/flow: ``p_T = N(0, I)``; EDM: diffusers'
    ``sigma_M^2 + 1``). With ``g_M = N(E q_M, diag Var q_M)`` (moment matched) and any isotropic
    Gaussian ``p``, ``KL(q_M || p) = KL(q_M || g_M) + KL(g_M || p)``, because ``log g`` and
    ``log p`` are quadratics whose ``q``-expectations only see the first two moments. The second
    term is closed form (:func:`gaussian_kl`); the first (``nongauss``, 0 for one Gaussian) is the
    same for every ``p`` and is estimated by Monte Carlo (``n_mc`` draws, exact mixture density),
    so the analytic-vs-baseline difference is exact. With ``numeric=True`` a generic optimiser
    also finds the best ``N(c E[X0], v I)``. Columns: ``family, M, alpha, sigma, mean_scale,
    var_opt, var_base, nongauss, nongauss_se, kl_gauss_analytic, kl_gauss_baseline`` (the exact
    ``KL(g_M || p)`` parts), ``kl_analytic, kl_baseline`` (+ ``num_mean_scale, num_var,
    num_shift_sd, kl_numeric``; ``num_shift_sd = |c - alpha_M| |E[X0]| / sigma_p*`` is the numeric
    mean's error in standard deviations: at large ``sigma_M`` the KL hardly sees the mean, so ``c``
    itself is only determined to ``~1e-7 sigma_M / |E[X0]|`` in float64). ``show_progress``: a
    progress bar over the ``(schedule, M)`` rows (each takes a while with ``numeric=True``). Shown in
    notebooks/analytic_init.ipynb.
    """
    import pandas as pd

    from ._util import progress

    numeric = checks.check_bool("numeric", numeric)
    show_progress = checks.check_bool("show_progress", show_progress)
    if not isinstance(schedules, Mapping):
        schedules = {getattr(schedules, "kind", "") or type(schedules).__name__: schedules}
    if not isinstance(data, GaussianMixture):
        raise ValueError(f"data must be a GaussianMixture (see synthetic_data), got {type(data).__name__}")
    Ms = checks.check_sequence("Ms", Ms, fix="pass a list of start times such as [0.6, 0.8, 1.0]")
    if not Ms:
        raise ValueError("Ms is empty: pass a list of start times such as [0.6, 0.8, 1.0]")
    Ms = [checks.check_number(f"Ms[{i}]", M, fix="(a normalised start time in (0, 1])") for i, M in enumerate(Ms)]
    if not schedules or not all(hasattr(s, "parse_start") for s in schedules.values()):
        raise checks.InputTypeError("schedules must be a cilnb.schedules.Schedule or a non-empty {name: Schedule} dict")
    stats = data.stats()
    gen = make_generator(seed)
    rows = []
    bar = progress(None, total=len(schedules) * len(Ms), disable=not show_progress, desc="KL table", unit="row")
    for name, sched in schedules.items():
        for M in Ms:
            M = sched.parse_start(float(M))
            alpha, sigma = float(sched.alpha(M)), float(sched.sigma(M))
            q = data.diffuse(alpha, sigma)
            mq, varq = q.mean(), q.var()
            mean_p, var_p = init_params(stats, alpha, sigma)
            base_std = float(sched.prior_std(M))
            ng, se = q.nongaussianity(n_mc, gen)
            kg_a, kg_b = gaussian_kl(mq, varq, mean_p, var_p), gaussian_kl(mq, varq, 0.0, base_std**2)
            row = dict(family=name, M=M, alpha=alpha, sigma=sigma, mean_scale=alpha, var_opt=var_p, var_base=base_std**2,
                       nongauss=ng, nongauss_se=se, kl_gauss_analytic=kg_a, kl_gauss_baseline=kg_b,
                       kl_analytic=kg_a + ng, kl_baseline=kg_b + ng)
            if numeric:
                c, v, ce_n = _numeric_argmin(data, q, base_std)
                h_g = 0.5 * float(torch.log(2 * math.pi * math.e * varq).sum())  # entropy of g_M
                shift_sd = abs(c - alpha) * float(stats.mean.norm()) / math.sqrt(var_p)  # |mean error| in std units
                row.update(num_mean_scale=c, num_var=v, num_shift_sd=shift_sd, kl_numeric=ce_n - h_g + ng)
            rows.append(row)
            bar.update(1)
    bar.close()
    return pd.DataFrame(rows)


def check_prop1(table, rtol: float = 1e-4) -> dict:
    """Did Prop. 1 reproduce in a :func:`kl_table`? Analytic KL <= baseline KL everywhere and the numeric argmin matches Eq. (5).

    Returns ``holds``, ``kl_ok``, ``argmin_ok``, ``n``, ``min_gap`` (smallest ``kl_baseline - kl_analytic``)
    and ``max_rel_err`` (largest mismatch of the numeric optimum with Eq. (5): relative error of the
    variance, and the mean error in standard deviations ``num_shift_sd``).
    """
    import pandas as pd

    from .tables import check_finite_columns, check_table

    if not isinstance(table, pd.DataFrame):
        raise checks.InputTypeError(f"table must be a kl_table DataFrame, got {type(table).__name__}")
    missing = [c for c in ("kl_baseline", "kl_analytic") if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the columns {missing}: pass the DataFrame that kl_table returns")
    if table.empty:
        raise ValueError("table is empty: kl_table(schedules, data, Ms) with at least one M")
    numeric_cols = ("num_mean_scale", "num_var", "num_shift_sd", "kl_numeric")  # the numeric argmin, written together
    given = [c for c in numeric_cols if c in table.columns]
    if given and len(given) < len(numeric_cols):  # a half argmin was read as none ("max relative error nan": True)
        raise ValueError(f"table has {given} but lacks {[c for c in numeric_cols if c not in given]} (kl_table writes the numeric "
                         "argmin's columns together): pass the DataFrame that kl_table returns")
    numeric = ["kl_baseline", "kl_analytic"] + ([*numeric_cols, "var_opt"] if given else [])
    check_table("table", table, [], "the DataFrame that kl_table returns", numeric=numeric)  # text would fail deep in numpy
    check_finite_columns("table", table, numeric, fix="a KL table is finite; pass the DataFrame that kl_table returns")  # "smallest gap -inf nats"
    rtol = checks.check_number("rtol", rtol, lo=0, fix="(relative tolerance of the numeric argmin, e.g. 1e-4)")
    tol = 1e-9 * (1 + table["kl_baseline"].abs())
    gap = table["kl_baseline"] - table["kl_analytic"]
    kl_ok = bool((gap >= -tol).all())
    out = dict(n=len(table), kl_ok=kl_ok, min_gap=float(gap.min()))
    if "num_mean_scale" in table:
        e_c = table["num_shift_sd"].max()
        e_v = ((table["num_var"] - table["var_opt"]).abs() / table["var_opt"]).max()
        out["max_rel_err"] = float(max(e_c, e_v))
        out["argmin_ok"] = bool(out["max_rel_err"] <= rtol and (table["kl_numeric"] >= table["kl_analytic"] - tol).all())
    else:
        out["max_rel_err"], out["argmin_ok"] = float("nan"), True
    out["holds"] = out["kl_ok"] and out["argmin_ok"]
    return out


# deprecated for one release: the figures live in cilnb.plotting
_MOVED = {"plot_params": "plot_init_params", "plot_kl": "plot_init_kl", "plot_marginals": "plot_init_marginals"}


def __getattr__(name: str):
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module("cilnb.plotting"), _MOVED[name])
    raise AttributeError(f"module 'cilnb.analytic_init' has no attribute {name!r}")

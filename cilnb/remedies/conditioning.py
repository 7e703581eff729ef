"""Remedies that act on the conditioning: adaptive low-pass guidance (ALG) and a fixed noise level on ``y``."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

from .. import checks
from .base import Context, Remedy, plain_settings
from .filters import check_cutoff, lowpass_image

__all__ = ["ALG", "CondNoise", "alg_switch_time", "IMAGE_KEYS"]

#: conditioning entries that carry the conditional image spatially: ``y`` for every adapter, and Wan's
#: ``condition`` (mask channels + image latent over frames; the mask is constant in space, so a low-pass keeps it)
IMAGE_KEYS = ("y", "condition")


def alg_switch_time(ts: torch.Tensor, until: float) -> float:
    """The last grid time ALG conditions on the low-passed image: steps ``i`` with
    ``i / (n - 1) <= until`` (ALG's ``interval`` schedule on the step fraction) are low-passed, so
    the model sees the low-passed ``y`` at every ``t >= ts[i_last]`` and the sharp one below."""
    _check_until(until)
    if isinstance(ts, (str, bytes)) or not hasattr(ts, "__len__") or getattr(ts, "ndim", 1) != 1:
        raise checks.InputTypeError(f"ts must be the sampler's 1-D time grid (e.g. model.schedule.grid(n_steps)), got {type(ts).__name__}"
                                    + (f" of shape {tuple(ts.shape)}" if hasattr(ts, "shape") else ""))
    if len(ts) == 0:
        raise ValueError("ts is empty: pass the sampler's time grid (at least one time)")
    # checked once per sampling run (not per step): strings gave float()'s bare ValueError, a NaN grid a NaN switch time
    # with which ALG silently never low-passed
    what = "the sampler's 1-D time grid of numbers (e.g. model.schedule.grid(n_steps))"
    grid = checks.check_not_meta("ts", ts) if isinstance(ts, torch.Tensor) else checks.check_times("ts", ts, what)
    checks.check_finite("ts", grid, f"pass {what}")
    n = len(ts)
    last = int(math.floor(until * max(n - 1, 1) + 1e-9))
    return float(ts[min(last, n - 1)])


def _check_until(u) -> None:
    msg = f"until (fraction of the steps conditioned on the low-passed image) must lie in [0, 1], got {u!r}"
    if isinstance(u, (bool, np.bool_)) or not isinstance(u, numbers.Real):
        raise checks.InputTypeError(msg)
    if not math.isfinite(float(u)) or not 0.0 <= float(u) <= 1.0:
        raise ValueError(msg)


@dataclass(frozen=True)
class ALG(Remedy):
    """Adaptive low-pass guidance (Choi et al. 2025, arXiv 2506.08456, code choi403/ALG): condition
    the early, high-noise steps on a low-passed conditional image, then switch to the sharp one.

    The low-pass is ALG's ``down_up`` filter (bilinear antialiased resize by ``resize_factor`` and
    back, :func:`cilnb.remedies.filters.lowpass_image`) applied to ``cond["y"]`` (and Wan's
    ``cond["condition"]``, :data:`IMAGE_KEYS`) in the model's
    conditioning space (ALG's released configs filter in latent space too, ``lp_filter_in_latent``);
    the schedule is ALG's ``interval`` one: low-passed while the step fraction ``i / (n - 1)`` is at
    most ``until`` (:func:`alg_switch_time`). Defaults: ALG's CogVideoX config (``resize_factor=0.25``,
    ``until=0.04``); its Wan config uses 0.4 and 0.20. Acts through ``model.condition_hook``, before
    classifier-free guidance builds the unconditional branch; under Heun, a step's second model call
    (at the next grid time) follows the time rule, so it may already see the sharp image.
    """

    resize_factor: float = 0.25
    until: float = 0.04
    name = "alg"

    def __post_init__(self):
        plain_settings(self)
        object.__setattr__(self, "resize_factor", check_cutoff("resize_factor", self.resize_factor))
        u = self.until
        _check_until(u)
        object.__setattr__(self, "until", float(u))

    def condition_fn(self, ctx: Context):
        t_switch = alg_switch_time(ctx.ts, self.until)
        cache: dict = {}

        def fn(t, cond):
            if "y" not in cond:
                raise ValueError("ALG low-passes cond['y'], the conditional image; this model's cond has no 'y'")
            low = torch.as_tensor(t, dtype=torch.float64).reshape(-1) >= t_switch - 1e-12
            out = dict(cond)
            if not bool(low.any()):
                return out
            for name in IMAGE_KEYS:
                y = cond.get(name)
                if not torch.is_tensor(y) or y.ndim < 4:
                    continue
                key = (y.data_ptr(), tuple(y.shape), y.dtype, y._version)
                if cache.get(name, (None,))[0] != key:  # one low-pass per distinct tensor (the same y every step)
                    cache[name] = (key, lowpass_image(y, self.resize_factor))
                lp = cache[name][1]
                out[name] = lp if bool(low.all()) else torch.where(low.to(y.device).view(-1, *([1] * (y.ndim - 1))), lp, y)
            return out

        return fn


@dataclass(frozen=True)
class CondNoise(Remedy):
    """A fixed noise level on the conditional image at inference, ``y + level * eps`` (one draw per
    sample, the same at every step), as SVD's ``noise_aug_strength`` (Blattmann et al. 2023; diffusers
    ``StableVideoDiffusionPipeline``, default 0.02). The inference-time analogue of TimeNoise and the
    paper's CDM-style fixed-level ablation (Sec. 4.3).

    cilnb adds the noise to ``cond["y"]`` in the model's conditioning space (pixels for the toy,
    the VAE latent for SVD, where the pipeline noises the pixels before encoding; SVD's own
    ``noise_aug_strength`` in ``prepare_condition`` does that). The noise is fixed over t, so it is
    applied once to the batch's conditioning, not through the per-step hook.
    """

    level: float = 0.02
    name = "cond_noise"

    def __post_init__(self):
        plain_settings(self)
        v = self.level
        msg = f"level (noise std on y) must be a finite number >= 0, got {v!r}"
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise checks.InputTypeError(msg)
        if not math.isfinite(float(v)) or float(v) < 0:
            raise ValueError(msg)
        object.__setattr__(self, "level", float(v))

    def prepare_condition(self, ctx: Context, cond: dict) -> dict:
        if "y" not in cond:
            raise ValueError("cond_noise perturbs cond['y'], the conditional image; this model's cond has no 'y'")
        y = cond["y"]
        eps = ctx.normal("cond_noise", tuple(y.shape[1:])).to(y.device)
        out = (y.to(torch.float64) + self.level * eps).to(y.dtype)
        if not bool(torch.isfinite(out).all()):
            raise ValueError(f"cond_noise level = {self.level:g} overflows the conditional image's {y.dtype}: y + level * noise is "
                             "not finite; give a level on the scale of y (SVD's default 0.02)")
        return {**cond, "y": out}

"""The exact denoiser for Gaussian data: a model whose every answer is known in closed form.

For ``X0 ~ N(m, diag(v))`` (per element) and ``X_t = alpha X0 + sigma eps`` the posterior mean is
linear, ``E[X0 | X_t] = m + alpha v / (alpha^2 v + sigma^2) (X_t - alpha m)``, and the
probability-flow ODE maps ``X_T`` to ``m + sqrt(v / (alpha_T^2 v + sigma_T^2)) (X_T - alpha_T m)``.
The optional image dependence ``w_y`` adds ``w_y(t) * (y - m_0)`` to every frame, a controllable
"leakage" for testing the probe. Used by the tests of the samplers and the probe.
"""
from __future__ import annotations

import numpy as np
import torch

from ..checks import InputTypeError, check_finite, check_not_meta
from ..denoiser import Cond, Times, Video
from ..schedules import Schedule
from .base import Adapter

__all__ = ["GaussianDenoiser"]


class GaussianDenoiser(Adapter):
    """Denoiser contract for ``X0 ~ N(mean, var)``, elementwise; ``mean``/``var`` shaped ``[F, C, H, W]``.

    On the adapter base (``prediction="x0"``, float64 math, pixel space): the "network" is the
    closed-form posterior mean, given the normalised time itself. ``y`` is optional.
    """

    prediction = "x0"
    compute_dtype = torch.float64
    name = "gaussian"

    def __init__(self, schedule: Schedule, mean: torch.Tensor, var: torch.Tensor, y_weight=None):
        super().__init__()
        if not isinstance(schedule, Schedule):
            raise InputTypeError(f"schedule must be a cilnb.schedules.Schedule (e.g. VPSchedule()), got {type(schedule).__name__}")
        for name, v in (("mean", mean), ("var", var)):  # numpy arrays failed in .double() (AttributeError)
            if not torch.is_tensor(v) or v.is_complex() or v.dtype == torch.bool:
                got = f"dtype {v.dtype}" if torch.is_tensor(v) else type(v).__name__
                raise InputTypeError(f"{name} must be a real tensor [F, C, H, W], got {got}"
                                     + (f": pass torch.from_numpy({name})" if isinstance(v, np.ndarray) else ""))
            check_not_meta(name, v)
        if mean.shape != var.shape or mean.ndim != 4:
            raise ValueError("mean and var must both be [F, C, H, W]")
        check_finite("mean", mean)  # a NaN var passed the 'var > 0' test below: every prediction was NaN
        check_finite("var", var)
        if bool((var <= 0).any()):
            raise ValueError("var must be > 0")
        if y_weight is not None and not callable(y_weight):
            raise InputTypeError(f"y_weight must be a callable t -> weight (or None), got {type(y_weight).__name__}")
        self.schedule = schedule
        self.register_buffer("mean", mean.double())
        self.register_buffer("var", var.double())
        self.y_weight = y_weight  # callable t -> weight, or None
        self.n_frames = mean.shape[0]

    def net_time(self, t: Times, like: torch.Tensor, c_noise=None) -> Times:
        return t  # the closed form works on normalised time (float64, CPU)

    def raw(self, x_in: Video, native_t: Times, cond: Cond) -> Video:
        """``E[X0 | X_t = x]`` (plus ``w_y(t) (y - m_0)`` on every frame when ``y_weight`` and ``y`` are given)."""
        a, s = self.schedule.broadcast(native_t, x_in)
        out = self.mean + a * self.var / (a**2 * self.var + s**2) * (x_in - a * self.mean)
        y = cond.get("y")
        if self.y_weight is not None and y is not None:
            w = torch.as_tensor(self.y_weight(native_t), dtype=torch.float64).view(-1, 1, 1, 1, 1)
            out = out + w * (y.double() - self.mean[0])[:, None]
        return out

    def ode_solution(self, x_start: torch.Tensor, start: float) -> torch.Tensor:
        """Exact probability-flow ODE map from ``x_start`` at ``t = start`` to clean data."""
        a, s = float(self.schedule.alpha(start)), float(self.schedule.sigma(start))
        scale = (self.var / (a**2 * self.var + s**2)).sqrt()
        return (self.mean + scale * (x_start.double() - a * self.mean)).to(x_start.dtype)

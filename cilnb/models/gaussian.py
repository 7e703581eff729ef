"""The exact denoiser for Gaussian data: a model whose every answer is known in closed form.

For ``X0 ~ N(m, diag(v))`` (per element) and ``X_t = alpha X0 + sigma eps`` the posterior mean is
linear, ``E[X0 | X_t] = m + alpha v / (alpha^2 v + sigma^2) (X_t - alpha m)``, and the
probability-flow ODE maps ``X_T`` to ``m + sqrt(v / (alpha_T^2 v + sigma_T^2)) (X_T - alpha_T m)``.
The optional image dependence ``w_y`` adds ``w_y(t) * (y - m_0)`` to every frame, a controllable
"leakage" for testing the probe. Used by the tests of the samplers and the probe.
"""
from __future__ import annotations

import torch
from torch import nn

from ..schedules import Schedule

__all__ = ["GaussianDenoiser"]


class GaussianDenoiser(nn.Module):
    """Denoiser contract for ``X0 ~ N(mean, var)``, elementwise; ``mean``/``var`` shaped ``[F, C, H, W]``."""

    def __init__(self, schedule: Schedule, mean: torch.Tensor, var: torch.Tensor, y_weight=None):
        super().__init__()
        if mean.shape != var.shape or mean.ndim != 4:
            raise ValueError("mean and var must both be [F, C, H, W]")
        if bool((var <= 0).any()):
            raise ValueError("var must be > 0")
        self.schedule = schedule
        self.register_buffer("mean", mean.double())
        self.register_buffer("var", var.double())
        self.y_weight = y_weight  # callable t -> weight, or None
        self.n_frames = mean.shape[0]

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None, **_) -> torch.Tensor:
        a, s = self.schedule.broadcast(t, x_t.double())
        x = x_t.double()
        out = self.mean + a * self.var / (a**2 * self.var + s**2) * (x - a * self.mean)
        if self.y_weight is not None and y is not None:
            w = torch.as_tensor(self.y_weight(torch.as_tensor(t, dtype=torch.float64)), dtype=torch.float64).view(-1, 1, 1, 1, 1)
            out = out + w * (y.double() - self.mean[0])[:, None]
        return out.to(x_t.dtype)

    def ode_solution(self, x_start: torch.Tensor, start: float) -> torch.Tensor:
        """Exact probability-flow ODE map from ``x_start`` at ``t = start`` to clean data."""
        a, s = float(self.schedule.alpha(start)), float(self.schedule.sigma(start))
        scale = (self.var / (a**2 * self.var + s**2)).sqrt()
        return (self.mean + scale * (x_start.double() - a * self.mean)).to(x_start.dtype)

"""The one denoiser contract every model reduces to, and the parameterisation conversions.

Contract (k-diffusion's ``D(x, sigma) -> x0`` on normalised time)::

    model(x_t: [B, F, C, H, W], t: [B] in [0, 1], **cond) -> x0_hat: [B, F, C, H, W]

``cond`` holds the conditioning (``y``: the conditional image ``[B, C, H, W]``; optional
``motion``: ``[B]``); the model carries its :class:`cilnb.schedules.Schedule` as ``.schedule``.
Samplers (``cilnb.sampling``) and the probe (``cilnb.probe``) only ever see this contract; each
parameterisation (eps, v, x0, flow velocity, EDM preconditioning) is a thin conversion here.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .schedules import EDMSchedule, FlowSchedule, Schedule

__all__ = [
    "PREDICTION_TYPES",
    "x0_from_eps",
    "x0_from_v",
    "x0_from_flow",
    "eps_from_x0",
    "v_from_x0_eps",
    "edm_scalings",
    "Denoiser",
]

PREDICTION_TYPES = ("eps", "v", "x0", "flow", "edm")


def x0_from_eps(x_t, eps, alpha, sigma):
    """Eq. (4): ``(x_t - sigma eps) / alpha``; undefined where ``alpha = 0`` (zero terminal SNR)."""
    if torch.is_tensor(alpha) and bool((alpha == 0).any()) or (not torch.is_tensor(alpha) and alpha == 0):
        raise ValueError("eps-prediction cannot give x0 at alpha_t = 0 (zero terminal SNR): use v- or x0-prediction")
    return (x_t - sigma * eps) / alpha


def x0_from_v(x_t, v, alpha, sigma):
    """``v = alpha eps - sigma x0`` (Salimans & Ho) -> ``x0 = (alpha x_t - sigma v) / (alpha^2 + sigma^2)``."""
    return (alpha * x_t - sigma * v) / (alpha**2 + sigma**2)


def x0_from_flow(x_t, u, t):
    """Flow matching velocity ``u = eps - x0`` with ``x_t = (1 - t) x0 + t eps`` -> ``x0 = x_t - t u``."""
    return x_t - t * u


def eps_from_x0(x_t, x0, alpha, sigma):
    """The noise implied by a clean prediction: ``(x_t - alpha x0) / sigma``."""
    return (x_t - alpha * x0) / sigma


def v_from_x0_eps(x0, eps, alpha, sigma):
    """Training target for v-prediction: ``alpha eps - sigma x0``."""
    return alpha * eps - sigma * x0


def edm_scalings(sigma, sigma_data: float = 0.5):
    """EDM preconditioning (Karras et al. 2022, Table 1): ``c_skip, c_out, c_in, c_noise``."""
    sigma = torch.as_tensor(sigma)
    s2, d2 = sigma**2, sigma_data**2
    c_skip = d2 / (s2 + d2)
    c_out = sigma * sigma_data / (s2 + d2).sqrt()
    c_in = 1 / (s2 + d2).sqrt()
    c_noise = 0.25 * sigma.log()
    return c_skip, c_out, c_in, c_noise


class Denoiser(nn.Module):
    """Wraps a raw network into the contract: ``net(x_in, native_t, **cond) -> raw output``.

    ``prediction`` says what the network predicts: ``eps``, ``v``, ``x0``, ``flow`` (velocity
    ``eps - x0`` on a :class:`FlowSchedule`) or ``edm`` (``F`` of Karras' preconditioning on an
    :class:`EDMSchedule`; the net then receives ``c_in x`` and ``c_noise``). ``time_input`` picks
    what the net is given as time: ``"native"`` (timestep index / sigma / flow timestep) or
    ``"t"`` (normalised).
    """

    def __init__(self, net: Callable, schedule: Schedule, prediction: str = "eps", *, time_input: str = "native", sigma_data: float = 0.5):
        super().__init__()
        if prediction not in PREDICTION_TYPES:
            raise ValueError(f"prediction must be one of {PREDICTION_TYPES}, got {prediction!r}")
        if prediction == "flow" and not isinstance(schedule, FlowSchedule):
            raise ValueError("prediction='flow' needs a FlowSchedule")
        if prediction == "edm" and not isinstance(schedule, EDMSchedule):
            raise ValueError("prediction='edm' needs an EDMSchedule")
        if time_input not in ("native", "t"):
            raise ValueError(f"time_input must be 'native' or 't', got {time_input!r}")
        self.net = net if isinstance(net, nn.Module) else _Wrapped(net)
        self.schedule = schedule
        self.prediction = prediction
        self.time_input = time_input
        self.sigma_data = sigma_data

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, **cond) -> torch.Tensor:
        if x_t.ndim != 5:
            raise ValueError(f"x_t must be [B, F, C, H, W], got shape {tuple(x_t.shape)}")
        t = torch.as_tensor(t, dtype=torch.float64)
        if t.ndim == 0:
            t = t.expand(x_t.shape[0])
        if t.shape != (x_t.shape[0],):
            raise ValueError(f"t must have one entry per batch element ({x_t.shape[0]}), got shape {tuple(t.shape)}")
        alpha, sigma = self.schedule._broadcast(t, x_t)
        native = self.schedule.to_native(t) if self.time_input == "native" else t
        native = native.to(x_t.device, torch.float32)
        if self.prediction == "edm":
            c_skip, c_out, c_in, c_noise = edm_scalings(sigma, self.sigma_data)
            net_time = c_noise.reshape(-1).float() if self.time_input == "native" else native
            return c_skip * x_t + c_out * self.net(c_in * x_t, net_time, **cond)
        out = self.net(x_t, native, **cond)
        if self.prediction == "eps":
            return x0_from_eps(x_t, out, alpha, sigma)
        if self.prediction == "v":
            return x0_from_v(x_t, out, alpha, sigma)
        if self.prediction == "flow":
            return x0_from_flow(x_t, out, sigma)
        return out


class _Wrapped(nn.Module):
    def __init__(self, fn: Callable):
        super().__init__()
        self.fn = fn

    def forward(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

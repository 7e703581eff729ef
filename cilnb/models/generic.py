"""Models outside diffusers (DynamiCrafter, VideoCrafter1, Animate-Anything) on the denoiser contract.

Their codebases (LVDM-style ``LatentDiffusion``) expose ``model.apply_model(x, t, cond, **kwargs)``
with ``x`` in ``[B, C, F, h, w]``, integer DDPM timesteps ``t`` and the raw network output (eps or
v). :class:`GenericAdapter` wraps such a callable plus its VP schedule: it converts layout and
time at the boundary, builds the codebase's ``cond`` object from cilnb's flat, batch-first
``cond`` dict with a user function (so the probe and the samplers can slice it per sample), runs
classifier-free guidance as two calls (as their DDIM samplers do), and returns ``x0_hat`` (Eq. 4).

LVDM's ``"linear"`` beta schedule is ``linspace(sqrt(start), sqrt(end))**2`` (diffusers'
``scaled_linear``): use :func:`ldm_schedule`. DynamiCrafter's 512/1024 models train on a
rescaled signal (``use_dynamic_rescale``): :class:`RescaledVPSchedule` with
:func:`dynamicrafter_scale_arr`. Recipe: ``docs/real_models.md``. Reached from
``notebooks/leakage_probe.ipynb`` with ``model="generic"``.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import torch

from .. import checks
from ..denoiser import Cond, Times, Video
from ..schedules import Schedule, VPSchedule, as_t
from .base import Adapter, as_cond, check_video

__all__ = ["GenericAdapter", "RescaledVPSchedule", "ldm_schedule", "dynamicrafter_scale_arr", "load"]

_F64 = torch.float64


def ldm_schedule(linear_start: float = 0.00085, linear_end: float = 0.012, timesteps: int = 1000, *, zero_snr: bool = False) -> VPSchedule:
    """LVDM/LDM ``beta_schedule="linear"`` (``betas = linspace(sqrt(start), sqrt(end), T)**2``; VideoCrafter1, DynamiCrafter).

    ``zero_snr=True`` is DynamiCrafter 512/1024's ``rescale_betas_zero_snr`` (``alpha_T = 0``).
    """
    zero_snr = checks.check_bool("zero_snr", zero_snr)
    return VPSchedule("scaled_linear", linear_start, linear_end, timesteps, rescale_zero_terminal_snr=zero_snr)


def dynamicrafter_scale_arr(base_scale: float = 0.7, turning_step: int = 400, timesteps: int = 1000) -> torch.Tensor:
    """DynamiCrafter's ``scale_arr`` (``use_dynamic_rescale``): linear from 1 to ``base_scale`` over ``turning_step`` steps, then flat."""
    if not 0 < base_scale <= 1 or turning_step < 1 or timesteps < 1:
        raise ValueError(f"need 0 < base_scale <= 1 and positive steps, got {base_scale}, {turning_step}, {timesteps}")
    head = torch.linspace(1.0, base_scale, turning_step, dtype=_F64)
    return torch.cat([head, torch.full((timesteps,), base_scale, dtype=_F64)])[:timesteps]


class RescaledVPSchedule(Schedule):
    """A VP schedule whose signal is scaled by ``s(t)``: ``alpha = sqrt(abar) s(t)``, ``sigma = sqrt(1 - abar)`` (Eq. 1).

    DynamiCrafter trains on ``x_t = sqrt(abar_t) s_t X0 + sqrt(1 - abar_t) eps`` (``scale_arr``) and
    its DDIM sampler rescales ``pred_x0`` by ``s_prev / s_t``; in cilnb's terms that is this
    schedule with the clean ``X0`` as the data, so the samplers, the probe and Analytic-Init
    (Eq. 5) need nothing special. Times, grids and native timesteps are those of ``vp``.
    """

    kind = "vp"

    def __init__(self, vp: VPSchedule, scale_arr):
        if not isinstance(vp, VPSchedule):
            raise ValueError(f"vp must be a VPSchedule, got {type(vp).__name__}")
        scale = torch.as_tensor(scale_arr, dtype=_F64).detach().cpu().flatten()
        if scale.numel() < vp.T:
            raise ValueError(f"scale_arr needs one value per training timestep ({vp.T}), got {scale.numel()}")
        scale = scale[: vp.T]
        if not bool(torch.isfinite(scale).all()) or bool((scale <= 0).any()):
            raise ValueError("scale_arr must be finite and > 0")
        self.vp, self.T = vp, vp.T
        self.alphas_cumprod = vp.alphas_cumprod
        self.scale_arr = scale
        self._knots = torch.cat([torch.ones(1, dtype=_F64), scale])  # knot n + 1 = scale_arr[n], clean = 1
        self.config = {**vp.config, "rescaled": True}

    def scale(self, t) -> torch.Tensor:
        """``s(t)``, piecewise linear between ``scale_arr`` at the DDPM knots (``s = 1`` for clean data)."""
        s = as_t(t) * self.T
        lo = torch.clamp(torch.floor(s).long(), 0, self.T - 1)
        w = s - lo.to(_F64)
        return (1 - w) * self._knots[lo] + w * self._knots[lo + 1]

    def alpha(self, t) -> torch.Tensor:
        return self.vp.alpha(t) * self.scale(t)

    def sigma(self, t) -> torch.Tensor:
        return self.vp.sigma(t)

    def to_native(self, t) -> torch.Tensor:
        return self.vp.to_native(t)

    def from_native(self, native) -> torch.Tensor:
        return self.vp.from_native(native)

    def grid(self, n_steps: int, start: float = 1.0, power: float = 1.0) -> torch.Tensor:
        return self.vp.grid(n_steps, start, power=power)


def _default_make_cond(cond: dict, frames: int, uncond: bool):
    if uncond:
        raise ValueError("guidance_scale != 1 needs make_cond= that builds the unconditional branch (see docs/real_models.md)")
    return cond, {}


_UNCOND = "__generic_uncond__"  # marks the unconditional branch inside the adapter (never a user key)


class GenericAdapter(Adapter):
    """An LVDM-style ``apply_model(x [B, C, F, h, w], t [B] long, cond, **kw) -> eps | v | x0`` on the contract (Eq. 4).

    ``make_cond(cond, frames, uncond) -> (cond_object, kwargs)`` turns cilnb's flat ``cond`` dict
    (batch-first tensors such as ``y``, ``context``, ``uc_context``, ``fs``) into what
    ``apply_model`` takes, for the conditional (``uncond=False``) and unconditional branch; the
    default passes the dict itself. ``guidance_scale`` (or ``cond["guidance_scale"]``) != 1 runs
    CFG on the raw output. ``encode_fn``/``decode_fn`` map frames ``[N, 3, H, W]`` <-> latents
    ``[N, C, h, w]`` times the scaling factor (e.g. ``model.encode_first_stage``). Shown in
    docs/real_models.md.
    """

    batch_cfg = False  # two calls, as the codebases' DDIM samplers do

    def __init__(self, apply_model: Callable, schedule: Schedule | None = None, prediction: str = "eps", *,
                 make_cond: Callable | None = None, guidance_scale: float = 1.0, n_frames: int | None = None,
                 encode_fn: Callable | None = None, decode_fn: Callable | None = None, scaling_factor: float | None = None,
                 layout: str = "BCFHW", integer_timesteps: bool = True, name: str = "generic"):
        super().__init__()
        if not callable(apply_model):
            raise ValueError(f"apply_model must be callable (e.g. model.apply_model), got {type(apply_model).__name__}")
        schedule = ldm_schedule() if schedule is None else schedule
        if not isinstance(schedule, (VPSchedule, RescaledVPSchedule)):
            raise ValueError(f"GenericAdapter needs a VPSchedule or RescaledVPSchedule, got {type(schedule).__name__}")
        if prediction not in ("eps", "v", "x0"):  # cilnb's spelling (the codebases' "eps", "v", "x0")
            raise ValueError(f"prediction must be 'eps', 'v' or 'x0' (LVDM's parameterization), got {prediction!r}")
        if layout not in ("BCFHW", "BFCHW"):
            raise ValueError(f"layout must be 'BCFHW' (LVDM) or 'BFCHW' (diffusers), got {layout!r}")
        for opt, fn in (("make_cond", make_cond), ("encode_fn", encode_fn), ("decode_fn", decode_fn)):
            if fn is not None and not callable(fn):
                raise checks.InputTypeError(f"{opt} must be a callable or None, got {type(fn).__name__} (see docs/real_models.md)")
        guidance_scale = checks.check_number("guidance_scale", guidance_scale, fix="(classifier-free guidance; 1 for none)")
        if n_frames is not None:
            n_frames = checks.check_int("n_frames", n_frames, min=1, fix="(frames per video; None if the model takes any)")
        if scaling_factor is not None:
            scaling_factor = checks.check_number("scaling_factor", scaling_factor, lo=0, lo_open=True,
                                                 fix="(the VAE's latent scale, e.g. 0.18215; None for a pixel model)")
        checks.check_bool("integer_timesteps", integer_timesteps)
        if not isinstance(name, str) or not name:
            raise checks.InputTypeError(f"name must be a non-empty string (the model's name in results), got {name!r}")
        owner = apply_model if isinstance(apply_model, torch.nn.Module) else getattr(apply_model, "__self__", None)
        if isinstance(owner, torch.nn.Module):
            self.model = owner  # registered, so .parameters() / .to() see the wrapped model's device and dtype
        self._apply = apply_model
        self.schedule = schedule
        self.prediction = prediction
        self.make_cond = make_cond or _default_make_cond
        self.guidance_scale = float(guidance_scale)
        self.n_frames = n_frames
        self.encode_fn, self.decode_fn = encode_fn, decode_fn
        self.scaling_factor = scaling_factor
        self.sample_space = "latent" if encode_fn is not None or scaling_factor is not None else "pixel"
        self.layout = layout
        self.integer_timesteps = bool(integer_timesteps)
        self.name = name

    @property
    def guidance(self):
        """The default guidance: ``guidance_scale`` (on unless it is 1); ``cond["guidance_scale"]`` overrides it."""
        return self.guidance_scale

    # -- the contract (forward is the base's) --------------------------------------------------------

    def net_time(self, t: Times, like: torch.Tensor, c_noise=None) -> torch.Tensor:
        """The DDPM timestep of ``t`` (rounded to an integer index unless ``integer_timesteps=False``)."""
        native = self._vp.to_native(t)
        native = native.round().long() if self.integer_timesteps else native.float()
        return native.to(like.device)

    def uncond(self, cond: Cond) -> Cond:
        """The same flat ``cond``, marked for ``make_cond(cond, frames, uncond=True)``."""
        return as_cond({**cond, _UNCOND: True})

    def raw(self, x_in: Video, native_t: torch.Tensor, cond: Cond) -> Video:
        """``apply_model`` on the codebase's layout and ``make_cond`` objects -> eps / v / x0 ``[B, F, C, h, w]``."""
        cond = dict(cond)
        unconditional = bool(cond.pop(_UNCOND, False))
        c, kw = self.make_cond(cond, x_in.shape[1], unconditional)
        x = x_in.permute(0, 2, 1, 3, 4) if self.layout == "BCFHW" else x_in
        out = self._apply(x, native_t, c, **kw)
        if self.layout == "BCFHW":
            out = out.permute(0, 2, 1, 3, 4)
        if out.shape != x_in.shape:
            raise ValueError(f"apply_model returned shape {tuple(out.shape)}, expected {tuple(x_in.shape)} in layout {self.layout}")
        return out

    def alpha_sigma(self, t: Times, like: torch.Tensor):
        return self._vp.broadcast(t, like)  # the network's own VP process; the rescale is applied after

    def finalize_x0(self, x0: Video, t: Times, cond: Cond) -> Video:
        if isinstance(self.schedule, RescaledVPSchedule):  # the network's x0 lives at scale s(t)
            x0 = x0 / self.schedule.scale(t).to(x0.device, x0.dtype).view(-1, 1, 1, 1, 1)
        return x0

    @property
    def _vp(self) -> VPSchedule:
        return self.schedule.vp if isinstance(self.schedule, RescaledVPSchedule) else self.schedule

    @torch.no_grad()
    def encode_video(self, frames: Video) -> Video:
        """Frames ``[B, F, 3, H, W]`` in [-1, 1] -> latents ``[B, F, C, h, w]`` through ``encode_fn`` (already scaled)."""
        if self.encode_fn is None:
            raise NotImplementedError("pass encode_fn= (e.g. model.encode_first_stage) to encode videos")
        check_video(frames)
        B, F = frames.shape[:2]
        lat = self.encode_fn(frames.reshape(B * F, *frames.shape[2:]))
        return lat.reshape(B, F, *lat.shape[1:])

    @torch.no_grad()
    def decode_latents(self, latents: Video) -> Video:
        """Latents ``[B, F, C, h, w]`` -> frames ``[B, F, 3, H, W]`` in [-1, 1] through ``decode_fn``."""
        if self.decode_fn is None:
            raise NotImplementedError("pass decode_fn= (e.g. model.decode_first_stage) to decode latents")
        B, F = latents.shape[:2]
        img = self.decode_fn(latents.reshape(B * F, *latents.shape[2:])).float()
        return img.reshape(B, F, *img.shape[1:]).clamp(-1, 1)


def load(path_or_id: Any = None, device: Any = "auto", dtype: Any = None, *, apply_model: Callable | None = None, **kwargs) -> GenericAdapter:
    """``cilnb.models.load("generic", model.apply_model, schedule=..., prediction=..., make_cond=...)``.

    ``path_or_id`` is the ``apply_model`` callable (or pass ``apply_model=``); the wrapped model
    stays where it is (``device``/``dtype`` are not applied to foreign modules). See
    docs/real_models.md for the DynamiCrafter recipe.
    """
    if apply_model is not None and path_or_id is not None and path_or_id is not apply_model:
        raise ValueError("the generic adapter got two models: pass the apply_model callable once, either as path_or_id "
                         "(cilnb.models.load('generic', model.apply_model, ...)) or as apply_model=, not both")
    fn = apply_model if apply_model is not None else path_or_id
    if fn is None or not callable(fn):
        raise ValueError(
            "the generic adapter wraps a callable: cilnb.models.load('generic', model.apply_model, schedule=..., "
            "prediction='eps' or 'v', make_cond=...) (see docs/real_models.md)"
        )
    options = [n for n in inspect.signature(GenericAdapter.__init__).parameters if n not in ("self", "apply_model")]
    unknown = sorted(set(kwargs) - set(options))
    if unknown:  # was GenericAdapter's bare "__init__() got an unexpected keyword argument"
        raise ValueError(f"the generic adapter takes no option(s) {unknown}: its options are {options} (see docs/real_models.md)")
    _check_placement(fn, device, dtype)
    return GenericAdapter(fn, **kwargs)


def _check_placement(fn: Callable, device, dtype) -> None:
    """The generic adapter leaves the wrapped model where it is, so a ``device``/``dtype`` other than the model's (or asked of
    a plain function, which has none) would be ignored without a word: refused, saying to move the model first."""
    from .._util import resolve_device
    from .base import torch_dtype

    owner = fn if isinstance(fn, torch.nn.Module) else getattr(fn, "__self__", None)
    param = next(owner.parameters(), None) if isinstance(owner, torch.nn.Module) else None
    how = "move or cast the wrapped model yourself (model.to(device, dtype)) before wrapping it, and leave device/dtype out"
    if device is not None and not (isinstance(device, str) and device == "auto"):
        want = resolve_device(device)
        if param is None or param.device.type != want.type or (want.index is not None and param.device.index != want.index):
            where = "a function without weights" if param is None else f"on {param.device}"
            raise ValueError(f"the generic adapter does not move models: device={device!r} was asked but the model is {where}: {how}")
    if dtype is not None and not (isinstance(dtype, str) and dtype == "auto"):
        want = torch_dtype(dtype, "cpu")
        have = checks.model_dtype(owner) if param is not None else None
        if have != want:
            what = "a function without weights" if param is None else f"in {have or 'mixed dtypes'}"
            raise ValueError(f"the generic adapter does not cast models: dtype={dtype!r} was asked but the model is {what}: {how}")

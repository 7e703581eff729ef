"""The one adapter base (the denoiser contract for every model), shared input checks, and offline loading.

:class:`Adapter` owns the contract of :mod:`cilnb.denoiser` (k-diffusion's ``D(x, sigma) -> x0``)::

    model(x_t: Video [B, F, C, H, W], t: Times [B] in [0, 1], y=Images [B, C, H, W], **cond) -> x0_hat: Video

``x_t`` lives in the model's sample space (:attr:`Adapter.sample_space`: ``"pixel"`` or
``"latent"``, latents times :attr:`Adapter.scaling_factor`). ``forward`` is written once, here;
a model supplies only its raw network call, its conditioning and, for latent models, its VAE.
See :class:`Adapter` for the steps and the hook, and ``docs/real_models.md`` ("Adding a model").
"""
from __future__ import annotations

import contextlib
import numbers
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn

from .. import checks
from ..denoiser import PREDICTION_TYPES, Cond, Images, Times, Video, edm_scalings, to_x0
from ..schedules import EDMSchedule, FlowSchedule, Schedule, batch_times

__all__ = [
    "Adapter", "Denoiser", "TransformerAdapter", "ConditionHook", "guidance_weights", "cfg_combine", "stack_conditions", "as_cond",
    "missing_components", "check_images", "check_video", "check_latents", "check_text_embeds", "check_latent_channels", "check_chunk_size", "per_sample", "batch_to", "make_generator_or_none", "clip_image_embeds", "to_pil",
    "CLIP_MEAN", "CLIP_STD",
    "resolve_pretrained", "pipeline_folder", "load_pipeline", "from_pretrained", "torch_dtype", "offline",
    "WeightsNotFoundError",
]

# ``dtype=`` strings every loader accepts (optionally prefixed ``torch.``)
_DTYPES = {
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
}
#: CLIP's image normalisation (what the diffusers feature extractors use when they carry none).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

#: ``fn(t, cond) -> cond``: ``t`` float64 ``[B]`` normalised times (CPU), ``cond`` the conditioning
#: (a :class:`~cilnb.denoiser.Cond` when it holds ``y``); returns a NEW mapping (see :meth:`Adapter.condition_hook`).
ConditionHook = Callable[[Times, Cond], Cond]


class WeightsNotFoundError(FileNotFoundError):
    """Raised when model weights are neither a local folder nor in the local Hugging Face cache."""


# ----------------------------------------------------------------------------------------------
# classifier-free guidance: weights and the combine, written once
# ----------------------------------------------------------------------------------------------


def guidance_weights(guidance, B: int, F: int) -> torch.Tensor | None:
    """Classifier-free guidance weights ``[B, F]`` (float32), or ``None`` when guidance is off.

    ``None`` -> off; a number -> constant; ``(first, last)`` -> linear over frames, from ``first``
    at frame 0 to ``last`` at the last frame (SVD's ``min/max_guidance_scale``; off when
    ``last <= 1``, the pipeline's rule); a tensor ``[B]`` (per video) or ``[B, F]`` (per frame).
    Weights that are all ``1`` mean guidance off (``u + 1 (c - u) = c``).
    """
    if guidance is None:
        return None
    if checks.holds_bool(guidance):  # True was read as 1 (off), False as 0 (the unconditional branch only)
        raise checks.InputTypeError(f"guidance must be a number, (first, last), [B] or [B, F] weights, got {guidance!r}: "
                                    "pass 1.0 for off or None for the model's default")
    if isinstance(guidance, (tuple, list)) and len(guidance) == 2 and not torch.is_tensor(guidance[0]):
        if not all(isinstance(v, numbers.Real) or (torch.is_tensor(v) and v.numel() == 1) for v in guidance):
            raise checks.InputTypeError(f"guidance (first, last) must be two real numbers, got {guidance!r}")
        first, last = float(guidance[0]), float(guidance[1])
        if not all(map(lambda v: v == v and abs(v) != float("inf"), (first, last))):
            raise ValueError(f"guidance (first, last) must be finite, got {guidance!r}")
        if first < 0 or last < 0:
            raise ValueError(f"guidance must be >= 0 (1 = off, > 1 strengthens the image condition), got {guidance!r}")
        if last <= 1.0:  # StableVideoDiffusionPipeline: guidance is on when max_guidance_scale > 1
            return None
        return torch.linspace(first, last, F).unsqueeze(0).expand(B, F)
    try:
        g = torch.as_tensor(guidance, dtype=torch.float32).detach().cpu()
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"guidance must be a number, (first, last), [B] or [B, F]; got {guidance!r}") from exc
    if g.ndim == 2 and g.shape != (B, F):
        raise ValueError(f"guidance must be a number, (first, last), [B] or [B, F] = [{B}, {F}]; got shape {tuple(g.shape)}")
    if g.ndim < 2:
        g = g.flatten()
        if g.numel() == 1:
            g = g.expand(B)
        if g.shape != (B,):
            raise ValueError(f"guidance must be a number, (first, last), [B] or [B, F]; got {g.numel()} values for B={B}")
        g = g[:, None].expand(B, F)
    if g.ndim != 2:
        raise ValueError(f"guidance must be a number, (first, last), [B] or [B, F]; got shape {tuple(g.shape)}")
    if not bool(torch.isfinite(g).all()):
        raise ValueError(f"guidance must be finite, got {guidance!r}")
    if bool((g < 0).any()):
        raise ValueError(f"guidance must be >= 0 (1 = off, > 1 strengthens the image condition), got {guidance!r}")
    return None if bool((g == 1.0).all()) else g


def cfg_combine(out_uncond: Video, out_cond: Video, weights: torch.Tensor) -> Video:
    """Classifier-free guidance (Ho & Salimans 2022): ``u + w (c - u)``, ``w`` ``[B, F]`` broadcast over ``[B, F, ...]``."""
    B, F = weights.shape
    w = weights.to(out_uncond.device, out_uncond.dtype).view(B, F, *(1,) * (out_uncond.ndim - 2))
    return out_uncond + w * (out_cond - out_uncond)


def stack_conditions(uncond: Cond, cond: Cond, B: int) -> Cond:
    """``[uncond; cond]`` along the batch: per-video tensors (dim 0 = ``B``) are concatenated, shared values kept.

    What one network call on ``torch.cat([x, x])`` needs for both guidance branches at once. A
    value that differs between the branches must be batched ``[B, ...]``.
    """
    out: dict[str, Any] = {}
    for key in (*cond, *(k for k in uncond if k not in cond)):
        u, c = uncond.get(key), cond.get(key)
        if torch.is_tensor(u) and torch.is_tensor(c) and u.ndim and c.ndim and u.shape[0] == c.shape[0] == B:
            out[key] = torch.cat([u, c])
        elif u is c:
            out[key] = c
        else:
            raise ValueError(
                f"conditioning {key!r} differs between the unconditional and conditional branch but is not batched "
                f"[B={B}, ...]; give one value per video"
            )
    return as_cond(out)


def as_cond(cond: Cond | dict) -> Cond | dict:
    """``cond`` as a :class:`~cilnb.denoiser.Cond` when it holds ``"y"``; a plain network's conditioning without ``y`` unchanged."""
    return Cond.of(cond) if "y" in cond else cond


def _check_cond_values(cond) -> None:
    """The conditioning a forward call is given: no tensor on the 'meta' device (it failed inside the network call with
    torch's "Cannot copy out of meta tensor"), and ``y`` finite where it is on the CPU (a NaN image made every prediction
    NaN without a word; free there, no sync: a GPU ``y`` is checked where the samplers and the probe take it). Only ``y``
    is range-checked: an extra may hold -inf on purpose (an additive attention mask of a generic model), but never NaN
    (a NaN image embedding made every prediction NaN), which is refused in the floating extras on the CPU."""
    for k, v in cond.items():
        if torch.is_tensor(v):
            checks.check_not_meta("y" if k == "y" else f"cond[{k!r}]", v)
            if k != "y" and v.device.type == "cpu" and v.is_floating_point() and bool(torch.isnan(v).any()):
                raise ValueError(f"cond[{k!r}] holds {int(torch.isnan(v).sum())} NaN value(s): every prediction would be NaN; "
                                 "pass the conditioning prepare_condition built (check what made it)")
    y = cond.get("y")
    if torch.is_tensor(y) and y.device.type == "cpu":
        checks.check_finite("y", y, fix="the conditional image (latent) must be finite")


# ----------------------------------------------------------------------------------------------
# the base
# ----------------------------------------------------------------------------------------------


class Adapter(nn.Module):
    """The denoiser contract, once: ``forward(x_t, t, y=None, **cond) -> x0_hat`` (Eq. 4; k-diffusion's ``D(x, sigma)``).

    ``forward`` (written here only) does, in order:

    1. validates ``x_t`` (:data:`~cilnb.denoiser.Video` ``[B, F, C, H, W]``) and ``t`` (``[B]`` or a
       scalar, finite, normalised in ``[0, 1]``) -> float64 ``[B]`` on the CPU (:meth:`check_input`);
    2. takes the guidance override out of ``cond`` (``guidance=`` or ``guidance_scale=``; absent:
       :attr:`guidance`; see :func:`guidance_weights`);
    3. applies the condition hooks (:meth:`condition_hook`), in the order they were entered;
    4. validates the conditioning and fills its defaults (:meth:`check_condition`);
    5. preconditions (``prediction="edm"``: ``c_in x``, net time ``c_noise``; otherwise the
       schedule's native time, :meth:`net_time`) and calls :meth:`raw`; with guidance on, the
       unconditional branch is :meth:`uncond` of the conditioning, batched with the conditional
       one in one call (``batch_cfg``) or run as a second call, and combined by
       :func:`cfg_combine` (``u + w (c - u)``, ``w`` constant, per video or per frame);
    6. converts the raw output to ``x0_hat`` with :func:`cilnb.denoiser.to_x0` (alpha, sigma from
       :meth:`cilnb.schedules.Schedule.broadcast`), then :meth:`finalize_x0`; returned on
       ``x_t``'s device and dtype. The math runs in :attr:`compute_dtype` (``None``: ``x_t``'s).

    A model supplies only (override): :meth:`raw` ``(x_in, native_t, cond) -> raw output
    [B, F, C, H, W]`` (its network call; ``x_in`` in ``compute_dtype`` on ``x_t``'s device, cast it
    to the network's device/dtype), :meth:`check_condition`, :meth:`uncond` (the unconditional
    branch, needed only for guidance), :meth:`prepare_condition` (images -> ``cond``) and, for
    latent models, :meth:`encode_video` / :meth:`decode_latents`. It declares ``schedule``,
    ``prediction`` (one of ``"eps", "v", "x0", "flow", "edm"``), ``sample_space``
    (``"pixel"``/``"latent"``), ``scaling_factor`` (latents = VAE latents times it; ``None`` for
    pixel models), ``n_frames``, ``name`` and the accepted ``cond_keys``.

    **Condition hook** (for remedies that change the conditioning per step)::

        with model.condition_hook(fn):   # removed in ``finally``; nestable
            x0 = model(x_t, t, y=y)

    ``fn(t, cond) -> dict``: ``t`` the float64 ``[B]`` normalised times (CPU), ``cond`` the
    conditioning dict (``{"y": [B, C, H, W], ...}``, without the guidance keys); ``fn`` returns a
    NEW dict and must not mutate its input (nor its tensors in place). Hooks run inside
    ``forward`` (also :meth:`raw_output`) in the order they were entered, before the conditioning
    is checked and before guidance builds the unconditional branch from the hooked ``cond``.
    """

    schedule: Schedule | None = None
    prediction: str = "x0"
    sample_space: str = "pixel"
    scaling_factor: float | None = None
    n_frames: int | None = None
    name: str = "adapter"
    label: str | None = None  # the model's name in error messages (default: name)
    cond_keys: tuple[str, ...] | None = None  # accepted conditioning keys (None: any)
    guidance: Any = None  # default guidance (see guidance_weights); forward(guidance=...) overrides it
    batch_cfg: bool = True  # run both guidance branches in one network call
    compute_dtype: torch.dtype | None = torch.float32  # None: x_t's dtype

    def __init__(self):
        super().__init__()
        self._condition_hooks: list[tuple[object, ConditionHook]] = []

    # -- the contract (written once) ------------------------------------------------------------

    def forward(self, x_t: Video, t: Times, y: Images | None = None, **cond) -> Video:
        """Eq. (4): ``x0_hat [B, F, C, H, W]`` of ``x_t`` at normalised time ``t`` (see the class docstring)."""
        return self._x0(x_t, self._evaluate(x_t, t, y, cond))

    def forward_parts(self, x_t: Video, t: Times, y: Images | None = None, *, uncond_raw: Video | None = None,
                      **cond) -> tuple[Video, Video | None]:
        """:meth:`forward`, and the unconditional guidance branch's raw network output (``[B, F, C, H, W]`` in
        ``compute_dtype``; ``None`` without guidance), for a caller that asks again with only the image changed.

        ``uncond_raw``: that output from an earlier call on the same ``x_t`` and ``t`` whose unconditional
        conditioning (:meth:`uncond`) equals this call's; the branch is then not computed again and only the
        conditional one runs. The caller vouches for the equality (:func:`cilnb.probe.leakage_index` checks it).
        """
        ev = self._evaluate(x_t, t, y, cond, uncond_raw=uncond_raw)
        return self._x0(x_t, ev), ev[-1]

    def raw_output(self, x_t: Video, t: Times, y: Images | None = None, **cond) -> Video:
        """The network output :meth:`forward` converts (``[B, F, C, H, W]`` in ``compute_dtype``, guidance applied)."""
        return self._evaluate(x_t, t, y, cond)[0].to(x_t.device)

    def _x0(self, x_t: Video, evaluated) -> Video:
        """``x0_hat`` from :meth:`_evaluate`'s network output, in ``x_t``'s device and dtype."""
        out, x, t, cond, (c_skip, c_out), _ = evaluated
        alpha, sigma = self.alpha_sigma(t, x)
        x0 = to_x0(self.prediction, x, out, alpha, sigma, c_skip=c_skip, c_out=c_out)
        return self.finalize_x0(x0, t, cond).to(x_t.device, x_t.dtype)

    def _evaluate(self, x_t, t, y, cond, uncond_raw: Video | None = None):
        t = self.check_input(x_t, t)
        cond = dict(cond)
        if y is not None:
            cond["y"] = y
        cond = as_cond(cond)
        _check_cond_values(cond)
        guidance = self._pop_guidance(cond)
        cond = self.check_condition(x_t, self.apply_condition_hooks(t, cond))
        x = x_t if self.compute_dtype is None else x_t.to(dtype=self.compute_dtype)
        B, F = x.shape[:2]
        weights = guidance_weights(guidance, B, F)
        view = (-1,) + (1,) * (x.ndim - 1)
        c_skip = c_out = None
        if self.prediction == "edm":
            c_skip, c_out, c_in, c_noise = (c.to(x.device, x.dtype) for c in self.edm_scalings(t))
            c_skip, c_out, x_in = c_skip.view(view), c_out.view(view), x * c_in.view(view)
            native = self.net_time(t, x, c_noise.reshape(-1))
        else:
            x_in, native = x, self.net_time(t, x)
        out_u = None
        if weights is None:
            out = self.raw(x_in, native, cond)
        elif uncond_raw is not None:  # the unconditional branch of an earlier call (forward_parts)
            if not torch.is_tensor(uncond_raw) or not uncond_raw.is_floating_point():  # was an AttributeError, or cast silently
                got = f"dtype {uncond_raw.dtype}" if torch.is_tensor(uncond_raw) else type(uncond_raw).__name__
                raise checks.InputTypeError(f"uncond_raw must be the float tensor forward_parts returned (its second value), got {got}")
            checks.check_not_meta("uncond_raw", uncond_raw)
            if tuple(uncond_raw.shape) != tuple(x.shape):
                raise ValueError(f"uncond_raw must be the unconditional output of the same x_t {tuple(x.shape)}, got {tuple(uncond_raw.shape)}")
            out_u = uncond_raw.to(x.device, x.dtype)
            out = cfg_combine(out_u, self.raw(x_in, native, cond), weights)
        else:
            unc = self.uncond(cond)
            if self.batch_cfg:
                both = stack_conditions(unc, cond, B)
                out_u, out_c = self.raw(torch.cat([x_in, x_in]), torch.cat([native, native]), both).chunk(2)
            else:
                out_u = self.raw(x_in, native, unc)  # unconditional first, as in the batched [uncond; cond]
                out_c = self.raw(x_in, native, cond)
            out = cfg_combine(out_u, out_c, weights)
        if out.shape != x.shape:
            raise ValueError(f"{self._label} network returned shape {tuple(out.shape)}, expected {tuple(x.shape)} [B, F, C, H, W]")
        return out.to(x.device, x.dtype), x, t, cond, (c_skip, c_out), out_u

    def check_input(self, x_t: Video, t: Times) -> Times:
        """Validate ``x_t [B, F, C, H, W]`` (a float tensor, not empty; finite, checked where it is on the CPU) and ``t`` (``[B]``
        or scalar, finite, in ``[0, 1]``); ``t`` as float64 ``[B]`` on the CPU."""
        if not torch.is_tensor(x_t):  # a numpy video was reported as "got shape (B, F, C, H, W)", the right shape
            fix = ": pass torch.from_numpy(x_t)" if isinstance(x_t, np.ndarray) else ""
            raise checks.InputTypeError(f"x_t must be a torch.Tensor video [B, F, C, H, W], got {type(x_t).__name__}{fix}")
        if x_t.ndim != 5:
            raise ValueError(f"x_t must be a video [B, F, C, H, W], got shape {tuple(x_t.shape)}")
        checks.check_not_meta("x_t", x_t)  # was torch's "Cannot copy out of meta tensor" inside the network call
        if not x_t.is_floating_point():  # x0_hat is returned in x_t's dtype: an integer x_t truncated it
            raise ValueError(f"x_t must be a floating-point video, got dtype {x_t.dtype}; convert it with x_t.float()")
        if x_t.numel() == 0:  # failed inside the network (a conv or reshape of 0 elements)
            raise ValueError(f"x_t is empty (shape {tuple(x_t.shape)}): pass at least one video of at least one frame")
        if x_t.device.type == "cpu":  # free on the CPU (no sync; a GPU x_t is checked where the samplers take it)
            checks.check_finite("x_t", x_t, fix="the noisy video must be finite (a sampler state that is not has diverged)")
        return batch_times(t, x_t.shape[0])

    def _pop_guidance(self, cond: Cond):
        given = [k for k in ("guidance", "guidance_scale") if k in cond]
        if len(given) == 2:
            raise ValueError("pass guidance= or guidance_scale=, not both")
        if not given:
            return self.guidance
        g = cond.pop(given[0])
        return self.guidance if isinstance(g, str) and g == "default" else g

    # -- what a model overrides -------------------------------------------------------------------

    def raw(self, x_in: Video, native_t: torch.Tensor, cond: Cond) -> Video:
        """The network call: ``x_in [B', F, C, H, W]`` and its time ``[B']`` -> the raw output ``[B', F, C, H, W]``."""
        raise NotImplementedError(f"{type(self).__name__} must implement raw(x_in, native_t, cond)")

    def check_condition(self, x_t: Video, cond: Cond) -> Cond:
        """Validate ``cond`` for ``x_t`` and fill defaults; returns the dict :meth:`raw` gets (override and call ``super()``)."""
        if self.cond_keys is not None:
            unknown = sorted(set(cond) - set(self.cond_keys))
            if unknown:
                raise ValueError(
                    f"unknown {self._label} conditioning {unknown}; {self._label} accepts {list(self.cond_keys)} "
                    "(build cond with model.prepare_condition(images); unknown conditioning is an error, never ignored)"
                )
        return cond

    def uncond(self, cond: Cond) -> Cond:
        """The conditioning of the unconditional guidance branch (a new :class:`~cilnb.denoiser.Cond`)."""
        raise ValueError(f"{self._label} has no unconditional branch: call it without guidance (guidance=None)")

    def net_time(self, t: Times, like: torch.Tensor, c_noise: torch.Tensor | None = None) -> torch.Tensor:
        """The time the network gets: ``c_noise`` for EDM, else the schedule's native time, float32 on ``like``'s device."""
        if c_noise is not None:
            return c_noise
        return self.schedule.to_native(t).to(like.device, torch.float32)

    def edm_scalings(self, t: Times):
        """Karras' ``c_skip, c_out, c_in, c_noise`` (float64 ``[B]``) at ``sigma(t)`` (``prediction="edm"``)."""
        return edm_scalings(self.schedule.sigma(t), getattr(self, "sigma_data", 0.5))

    def alpha_sigma(self, t: Times, like: torch.Tensor):
        """``alpha_t, sigma_t`` broadcast against ``like`` for the x0 conversion."""
        return self.schedule.broadcast(t, like)

    def finalize_x0(self, x0: Video, t: Times, cond: Cond) -> Video:
        """Last touch on ``x0_hat`` (identity; LTX writes the clean frame 0 back)."""
        return x0

    def prepare_condition(self, images: Images, *, generator: torch.Generator | None = None, **extras) -> Cond:
        """Conditional images ``[B, 3, H, W]`` in [-1, 1] -> the :class:`~cilnb.denoiser.Cond` for ``forward``: ``y`` plus
        ``extras`` as given (e.g. the toy's ``motion``; ones the model does not know are refused by
        :meth:`check_condition` at the first forward, never dropped); a plain number becomes one value per image
        (``[B]``), so conditionings made image by image join with :meth:`Cond.cat`. ``generator`` is unused here
        (pixel models draw nothing)."""
        # a list or numpy array became y as is (an AttributeError at the first forward), values outside the model's range
        # and NaN passed: checked as the samplers check y (the images themselves are kept, dtype included)
        checks.check_model_input("images", checks.check_not_meta("images", images), self, rank=4,
                                 layout="[B, C, H, W] (conditional images)")
        B = images.shape[0]
        per_image = {}
        for k, v in extras.items():
            if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)):  # numpy ints too (were kept as one scalar)
                per_image[k] = torch.full((B,), checks.check_number(k, v, fix="(one value for every image)"), device=images.device)
        return Cond(images, **{**extras, **per_image})

    def encode_video(self, frames: Video) -> Video:
        """``[B, F, 3, H, W]`` in [-1, 1] -> latents ``[B, F, C, h, w]`` times the VAE scaling factor."""
        raise NotImplementedError(f"{type(self).__name__} has no VAE (its sample space is the pixel space)")

    def decode_latents(self, latents: Video) -> Video:
        """Inverse of :meth:`encode_video`: latents ``[B, F, C, h, w]`` -> frames in [-1, 1]."""
        raise NotImplementedError(f"{type(self).__name__} has no VAE (its sample space is the pixel space)")

    # -- the condition hook -----------------------------------------------------------------------

    @contextlib.contextmanager
    def condition_hook(self, fn: ConditionHook) -> Iterator["Adapter"]:
        """``with model.condition_hook(fn): ...``: ``fn(t, cond) -> new cond`` inside every forward call.

        Removed in ``finally`` (also after an exception); nestable: hooks apply in the order they
        were entered (outer first). See the class docstring for the contract of ``fn``.
        """
        if not callable(fn):
            raise ValueError(f"condition_hook needs a callable fn(t, cond) -> dict, got {type(fn).__name__}")
        token = object()
        hooks = self._hooks()
        hooks.append((token, fn))
        try:
            yield self
        finally:
            hooks[:] = [h for h in hooks if h[0] is not token]

    def apply_condition_hooks(self, t: Times, cond: Cond) -> Cond:
        """``cond`` through every active hook, in the order entered (each must return a new dict); a
        :class:`~cilnb.denoiser.Cond` when it holds ``"y"`` (see :func:`as_cond`)."""
        for _, fn in list(self._hooks()):
            new = fn(t, cond)
            if not isinstance(new, dict):
                raise ValueError(f"condition hook {fn!r} must return a dict (the new cond), got {type(new).__name__}")
            if new is cond:
                raise ValueError(f"condition hook {fn!r} returned its input: return a NEW dict (e.g. {{**cond, 'y': ...}})")
            cond = new
        return as_cond(cond)

    @property
    def hooked(self) -> bool:
        """Whether a :meth:`condition_hook` is active: the conditioning a forward call sees may then differ from
        the one given (e.g. the probe does not reuse an unconditional branch computed without it)."""
        return bool(self._hooks())

    def _hooks(self) -> list:
        hooks = self.__dict__.get("_condition_hooks")
        if hooks is None:  # a subclass that skipped Adapter.__init__
            hooks = self.__dict__["_condition_hooks"] = []
        return hooks

    # -- shared helpers ---------------------------------------------------------------------------

    @property
    def _label(self) -> str:
        return self.label or self.name

    def require_y(self, cond: Cond, x_t: Video, what: str = "the conditional image latent") -> Images:
        """``cond["y"]``, checked to be ``[B, C, H, W]`` like a frame of ``x_t``."""
        y = cond.get("y")
        want = (x_t.shape[0], *x_t.shape[2:])
        if y is None:
            raise ValueError(f"{self._label} needs y= ({what} [B, C, H, W] = {want}); build cond with model.prepare_condition(images)")
        if not torch.is_tensor(y) or tuple(y.shape) != want:
            raise ValueError(f"y must be {what} [B, C, H, W] = {want}, got {tuple(y.shape) if torch.is_tensor(y) else type(y).__name__}; build cond with model.prepare_condition(images)")
        if not y.is_floating_point():  # was cast to the network's dtype without a word (uint8 pixels as latents)
            raise checks.InputTypeError(f"y must be {what} as floats, got dtype {y.dtype}; build cond with model.prepare_condition(images)")
        return y

    def _check_prediction(self) -> None:
        if self.prediction not in PREDICTION_TYPES:
            raise ValueError(f"prediction must be one of {PREDICTION_TYPES}, got {self.prediction!r}")
        if self.prediction == "flow" and not isinstance(self.schedule, FlowSchedule):
            raise ValueError("prediction='flow' needs a FlowSchedule")
        if self.prediction == "edm" and not isinstance(self.schedule, EDMSchedule):
            raise ValueError("prediction='edm' needs an EDMSchedule")


class Denoiser(Adapter):
    """An :class:`Adapter` around a plain network ``net(x_in, native_t, **cond) -> raw output`` (pixel space).

    ``prediction`` says what the network predicts: ``eps``, ``v``, ``x0``, ``flow`` (velocity
    ``eps - x0`` on a :class:`FlowSchedule`) or ``edm`` (``F`` of Karras' preconditioning on an
    :class:`EDMSchedule`; the net then receives ``c_in x`` and ``c_noise``). ``time_input`` picks
    what the net is given as time: ``"native"`` (timestep index / sigma / flow timestep) or
    ``"t"`` (normalised). Computes in ``x_t``'s dtype. Also exported as ``cilnb.denoiser.Denoiser``.
    """

    compute_dtype = None
    name = "denoiser"

    def __init__(self, net: Callable, schedule: Schedule, prediction: str = "eps", *, time_input: str = "native", sigma_data: float = 0.5):
        super().__init__()
        if time_input not in ("native", "t"):
            raise ValueError(f"time_input must be 'native' or 't', got {time_input!r}")
        self.net = net if isinstance(net, nn.Module) else _Wrapped(net)
        self.schedule = schedule
        self.prediction = prediction
        self._check_prediction()
        self.time_input = time_input
        self.sigma_data = sigma_data

    def net_time(self, t, like, c_noise=None):
        if self.time_input == "t":
            return t.to(like.device, torch.float32)
        return super().net_time(t, like, c_noise)

    def raw(self, x_in, native_t, cond):
        """The network's output; its inputs moved to the network's device first (the adapter contract: ``x_in`` comes
        on ``x_t``'s device) and its output moved back, so a toy on a GPU samples from conditional images on the CPU
        and gives CPU videos (the computation runs on the GPU)."""
        dev = next((p.device for p in self.net.parameters()), None)
        if dev is None or x_in.device == dev:
            return self.net(x_in, native_t, **cond)
        home = x_in.device
        cond = {k: v.to(dev) if torch.is_tensor(v) else v for k, v in cond.items()}
        return self.net(x_in.to(dev), native_t.to(dev), **cond).to(home)


class _Wrapped(nn.Module):
    def __init__(self, fn: Callable):
        super().__init__()
        self.fn = fn

    def forward(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


# ----------------------------------------------------------------------------------------------
# input checks shared by the adapters
# ----------------------------------------------------------------------------------------------


def check_images(images: Images, what: str = "images") -> None:
    """Raise unless ``images`` is a float tensor ``[B, 3, H, W]`` with values in ``[-1, 1]`` (at least one image, no NaN/inf)."""
    if not torch.is_tensor(images) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if torch.is_tensor(images) else type(images).__name__
        raise ValueError(f"{what} must be a float tensor [B, 3, H, W] in [-1, 1], got {shape}")
    checks.check_not_meta(what, images)  # was "Tensor.item() cannot be called on meta tensors" in the range check
    if not images.is_floating_point():
        raise ValueError(f"{what} must be floating point in [-1, 1] (convert uint8 with x / 127.5 - 1)")
    _check_pixels(images, what, "pass at least one image [B >= 1, 3, H, W]")


def check_video(frames: Video, what: str = "frames") -> None:
    """Raise unless ``frames`` is a float tensor ``[B, F, 3, H, W]`` (RGB videos, at least one frame, values in [-1, 1])."""
    if not torch.is_tensor(frames) or frames.ndim != 5 or frames.shape[2] != 3:
        shape = tuple(frames.shape) if torch.is_tensor(frames) else type(frames).__name__
        raise ValueError(f"{what} must be a float tensor [B, F, 3, H, W] in [-1, 1], got {shape}")
    checks.check_not_meta(what, frames)
    if not frames.is_floating_point():
        raise ValueError(f"{what} has dtype {frames.dtype}; pass float frames in [-1, 1] (convert uint8 0..255 pixels with x.float() / 127.5 - 1)")
    _check_pixels(frames, what, "pass at least one video of at least one frame")


def _check_pixels(x: torch.Tensor, what: str, empty_fix: str) -> None:
    """The float pixels of :func:`check_images` / :func:`check_video`: not empty, finite, in [-1, 1] (the hint for
    0..255 or [0, 1] data is :func:`cilnb.checks.check_range`'s)."""
    if x.numel() == 0:
        raise ValueError(f"{what} is empty (shape {tuple(x.shape)}): {empty_fix}")
    checks.check_finite(what, x, fix="they must be finite pixels in [-1, 1]")
    checks.warn_unit_range(what, x, checks.check_range(what, x, checks.PIXEL_RANGE))


def check_latents(latents, channels: int | None, what: str = "latents") -> torch.Tensor:
    """Raise unless ``latents`` is a finite float tensor ``[B, F, C, h, w]`` with ``C = channels`` (the VAE's latent
    channels; ``None``: not checked), before a VAE call would fail deep inside torch or decode NaN into a video."""
    if not torch.is_tensor(latents) or latents.ndim != 5:
        raise ValueError(f"{what} must be a tensor [B, F, C, h, w], got {tuple(latents.shape) if torch.is_tensor(latents) else type(latents).__name__}")
    checks.check_not_meta(what, latents)
    if not latents.is_floating_point():
        raise ValueError(f"{what} must be floating point (the model's latents), got dtype {latents.dtype}")
    if channels is not None and latents.shape[2] != int(channels):
        raise ValueError(f"{what} must have the VAE's {int(channels)} latent channels in dim 2 ([B, F, C, h, w]), got shape "
                         f"{tuple(latents.shape)}; pass latents as sampled (pixels go through encode_video first)")
    checks.check_finite(what, latents, fix="they must come from a finite sampling run")
    return latents


def check_text_embeds(v, name: str, width: int | None) -> None:
    """Raise unless ``v`` is ``None`` or a float tensor ``[B, L, D]`` of text states with ``D = width`` (when known)."""
    if v is None:
        return
    if not torch.is_tensor(v) or not v.is_floating_point() or v.ndim != 3:
        got = f"shape {tuple(v.shape)} ({v.dtype})" if torch.is_tensor(v) else type(v).__name__
        raise ValueError(f"{name} must be a float tensor [B, L, D] of text-encoder states, got {got}; "
                         "use the model's prepare_condition(images, prompt=...) or encode_prompt")
    if isinstance(width, int) and v.shape[-1] != width:
        raise ValueError(f"{name} must have the text encoder's width D = {width} ([B, L, D]), got shape {tuple(v.shape)}: "
                         "they were made by another text encoder")


def check_latent_channels(x_t: Video, channels: int | None, label: str) -> None:
    """Raise unless ``x_t [B, F, C, H, W]`` has ``C = channels`` (the VAE's latent channels; ``None``: not checked)."""
    if channels is not None and x_t.shape[2] != int(channels):
        raise ValueError(f"x_t must have {label}'s {int(channels)} latent channels in dim 2 ([B, F, C, H, W]), got shape "
                         f"{tuple(x_t.shape)}; sample in the model's latent space (model.encode_video(frames) for pixels)")


def check_chunk_size(chunk_size, name: str = "chunk_size") -> int:
    """``chunk_size`` (frames per VAE call) as a positive int; 0, negatives, floats and bools are refused, not clamped."""
    return checks.check_int(name, chunk_size, min=1, fix="(frames per VAE call, e.g. 8)")


def per_sample(value, B: int, name: str, *, dtype=torch.float64) -> torch.Tensor:
    """A scalar, a sequence or a tensor as a finite ``[B]`` CPU tensor (one value broadcast to all)."""
    if value is None or isinstance(value, (str, bytes)) or checks.holds_bool(value):  # np.True_ / a bool tensor were read as 1
        raise checks.InputTypeError(f"{name} must be one number or one per image, got {value!r} ({type(value).__name__})")
    try:
        t = torch.as_tensor(value, dtype=dtype).detach().cpu().flatten()
    except (TypeError, ValueError, RuntimeError):
        raise checks.InputTypeError(f"{name} must be one number or one per image (a number, list or tensor), "
                                    f"got {value!r} ({type(value).__name__})") from None
    if t.numel() == 1:
        t = t.expand(B).clone()
    if t.shape != (B,):
        raise ValueError(f"{name} must be one number or one per image ({B}), got {t.numel()} values")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return t


def batch_to(v: torch.Tensor | None, B: int, name: str) -> torch.Tensor | None:
    """Per-video conditioning at batch ``B``: batch ``B`` as is, batch 1 broadcast to ``B``."""
    if v is None:
        return None
    if v.shape[0] == B:
        return v
    if v.shape[0] == 1:
        return v.expand(B, *v.shape[1:])
    raise ValueError(f"{name} has batch size {v.shape[0]}, expected {B} (or 1 to share it)")


def make_generator_or_none(generator: torch.Generator | None, seed: int | None) -> torch.Generator | None:
    """``generator`` or a CPU generator seeded with ``seed`` (not both); ``None`` when neither (deterministic paths)."""
    if generator is not None and seed is not None:
        raise ValueError("pass generator= or seed=, not both")
    if seed is not None:
        return torch.Generator().manual_seed(checks.check_seed("seed", seed, fix="(or pass generator=)"))
    if generator is not None and not isinstance(generator, torch.Generator):
        raise checks.InputTypeError(f"generator must be a torch.Generator, got {type(generator).__name__}; pass an int as seed= instead")
    return generator


def clip_image_embeds(image_encoder, feature_extractor, images: Images, device) -> torch.Tensor:
    """CLIP image embedding ``[B, 1, D]`` of images ``[B, 3, size, size]`` in [-1, 1] (already at the encoder's size):
    to [0, 1], the feature extractor's mean/std (CLIP's when it has none), the encoder's dtype on ``device``."""
    x = (images + 1.0) / 2.0
    mean = torch.tensor(getattr(feature_extractor, "image_mean", None) or CLIP_MEAN, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(getattr(feature_extractor, "image_std", None) or CLIP_STD, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    x = ((x - mean) / std).to(device, next(image_encoder.parameters()).dtype)
    return image_encoder(x).image_embeds.unsqueeze(1)


def to_pil(images: Images) -> list:
    """``[B, 3, H, W]`` in [-1, 1] -> a list of uint8 PIL images (what users hand the pipelines)."""
    from PIL import Image

    arr = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return [Image.fromarray(a.permute(1, 2, 0).cpu().numpy()) for a in arr]


# ----------------------------------------------------------------------------------------------
# offline loading, shared by the diffusers loaders (svd.py, vp_video.py, cogvideox.py, flow_video.py)
# ----------------------------------------------------------------------------------------------


def resolve_pretrained(path_or_id: str | os.PathLike, *, what: str, hint: str) -> str:
    """A local folder as is; a hub id only if it is in the local cache or downloads are allowed.

    Never starts a download that could hang on a machine without internet: unless
    ``HF_HUB_OFFLINE=0`` is set explicitly, a hub id must already be in the cache, else
    :class:`WeightsNotFoundError` says where to put the weights.
    """
    p = Path(os.fspath(path_or_id)).expanduser()
    if p.exists():
        if not p.is_dir():
            raise WeightsNotFoundError(f"{what}: {p} is a file; pass the pipeline folder (the one holding model_index.json)")
        return str(p)
    repo_id = os.fspath(path_or_id)
    if offline():
        try:
            from huggingface_hub import snapshot_download

            return snapshot_download(repo_id, local_files_only=True)
        except Exception as exc:  # not cached (or not a valid id)
            raise WeightsNotFoundError(
                f"{what}: weights for {repo_id!r} are not available offline. Download them on a machine with "
                f"internet (`huggingface-cli download {repo_id} --local-dir <folder>`) and pass that folder as "
                f"model_path, or place them in the Hugging Face cache ({_hf_cache()}). {hint} "
                "(Set HF_HUB_OFFLINE=0 to allow a download attempt.)"
            ) from exc
    return repo_id


def _hf_cache() -> str:
    try:
        from huggingface_hub.constants import HF_HUB_CACHE

        return str(HF_HUB_CACHE)
    except Exception:  # pragma: no cover
        return "~/.cache/huggingface/hub"


def offline() -> bool:
    """cilnb's default: offline (no hub download) unless ``HF_HUB_OFFLINE=0`` is set explicitly."""
    return os.environ.get("HF_HUB_OFFLINE", "1") != "0"


def torch_dtype(dtype, device, *, cuda_default: torch.dtype = torch.float16) -> torch.dtype:
    """``None``/``"auto"`` -> ``cuda_default`` on CUDA, float32 elsewhere; strings (``"bf16"``, ``"torch.float16"``) and ``torch.dtype`` accepted."""
    if dtype is None or (isinstance(dtype, str) and dtype == "auto"):
        return cuda_default if torch.device(device).type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype):
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating dtype, got {dtype}")
        return dtype
    if isinstance(dtype, str) and dtype.lower().removeprefix("torch.") in _DTYPES:
        return _DTYPES[dtype.lower().removeprefix("torch.")]
    raise ValueError(f"dtype must be a torch.dtype or one of float32, float16, bfloat16 (or None for auto), got {dtype!r}")


def from_pretrained(cls, folder, dtype: torch.dtype, **kwargs):
    """``cls.from_pretrained(folder, **kwargs)`` in ``dtype``, offline unless allowed (:func:`offline`).

    The dtype goes under the keyword this diffusers reads: ``dtype`` where it has it (it deprecated
    ``torch_dtype`` in 2026 and warns on it), ``torch_dtype`` for older releases (which would pass an
    unknown ``dtype`` on unused and load float32)."""
    from diffusers.utils import deprecation_utils

    key = "dtype" if hasattr(deprecation_utils, "_TORCH_DTYPE_DEPRECATION_MESSAGE") else "torch_dtype"
    return cls.from_pretrained(folder, **{key: dtype}, local_files_only=offline(), **kwargs)


def _looks_like_path(s: str) -> bool:
    return s.startswith(("/", ".", "~")) or "\\" in s or s.count("/") > 1 or (os.sep != "/" and os.sep in s)


def pipeline_folder(path_or_id, *, what: str, default_id: str, hint: str, marker: str = "model_index.json") -> str:
    """A local diffusers folder for ``path_or_id``, never downloading unless ``HF_HUB_OFFLINE=0``.

    Raises :class:`WeightsNotFoundError` (fast: before diffusers is imported) saying where the
    weights go when the folder is missing, lacks ``marker`` (``model_index.json`` for a pipeline,
    ``config.json`` for one model), or the hub id is not cached.
    """
    if path_or_id is None:
        path_or_id = default_id
    if not isinstance(path_or_id, (str, os.PathLike)) or isinstance(os.fspath(path_or_id), bytes):
        raise checks.InputTypeError(f"{what}: path_or_id must be a folder or a hub id string, got {type(path_or_id).__name__}")
    text = os.fspath(path_or_id)
    if not text.strip():  # Path("") is ".": the current folder was loaded as the pipeline
        raise ValueError(f"{what}: path_or_id is empty ({text!r}): pass the pipeline folder or a hub id, or None for {default_id}")
    p = Path(text).expanduser()
    get = f"`huggingface-cli download {default_id} --local-dir {p if _looks_like_path(text) else '<folder>'}`"
    if not p.exists() and _looks_like_path(text):
        raise WeightsNotFoundError(
            f"{what}: no folder at {p}. Put the weights there (the folder holding {marker}), "
            f"e.g. {get} on a machine with internet, then pass that folder. {hint}"
        )
    folder = resolve_pretrained(path_or_id, what=what, hint=hint)
    if Path(folder).is_dir() and not (Path(folder) / marker).is_file():
        raise WeightsNotFoundError(
            f"{what}: {folder} has no {marker}, so it is not the expected diffusers folder. Pass the top folder, "
            f"e.g. the one made by {get}. {hint}"
        )
    if Path(folder).is_dir() and marker == "model_index.json":
        missing = missing_components(folder)
        if missing:
            raise WeightsNotFoundError(
                f"{what}: {folder} is incomplete: {'; '.join(missing)}. Download the whole pipeline again "
                f"(e.g. {get}) or copy the missing files into it. {hint}"
            )
    return folder


_WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.safetensors.index.json", "*.bin.index.json", "*.pt", "*.ckpt", "*.msgpack")


def missing_components(folder: str | os.PathLike) -> list[str]:
    """What a diffusers pipeline folder lacks, read from its ``model_index.json``: each listed component's
    sub-folder, and the weights of each component that has a model ``config.json`` (schedulers,
    tokenizers and feature extractors carry none). ``[]`` when complete; read before diffusers is imported."""
    import json

    folder = Path(folder)
    try:
        index = json.loads((folder / "model_index.json").read_text())
    except (OSError, ValueError) as exc:
        return [f"model_index.json cannot be read ({exc})"]
    missing = []
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or len(spec) != 2 or spec[0] is None:
            continue
        sub = folder / name
        if not sub.is_dir():
            missing.append(f"no {name}/ folder (model_index.json lists {spec[1]})")
            continue
        weightless = any(k in str(spec[1]) for k in ("Scheduler", "Tokenizer", "Processor", "FeatureExtractor"))
        if (sub / "config.json").is_file() and not weightless and not any(any(sub.glob(p)) for p in _WEIGHT_PATTERNS):
            missing.append(f"{name}/ has a config.json but no weights file (*.safetensors or *.bin)")
    return missing


_from_pretrained = from_pretrained  # deprecated alias for callers outside cilnb.models (use from_pretrained)


# ----------------------------------------------------------------------------------------------
# what the transformer I2V adapters share (CogVideoX, Wan, LTX)
# ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _ignored_keywords(what: str, cls_name: str):
    """Turn diffusers' "Keyword arguments {...} are not expected by <Pipeline> and will be ignored" (a log line, the
    keywords dropped) into a ``ValueError``: a misspelt or misplaced option (``guidance_scale=`` for SVD, whose option is
    ``guidance=``) must not be ignored."""
    import logging

    found: list[str] = []

    class _Catch(logging.Filter):
        def filter(self, record):
            msg = record.getMessage()
            if "are not expected by" in msg and "will be ignored" in msg:
                found.append(msg.split(" are not expected by")[0].removeprefix("Keyword arguments ").strip())
                return False
            return True

    logger = logging.getLogger("diffusers.pipelines.pipeline_utils")
    catch, level = _Catch(), logger.level
    logger.addFilter(catch)
    logger.setLevel(logging.WARNING)  # seen even when diffusers' verbosity hides warnings
    try:
        yield
    finally:
        logger.removeFilter(catch)
        logger.setLevel(level)
    if found:
        raise ValueError(f"{what}: keyword arguments {found[0]} are options of neither the loader nor {cls_name}, so they would be "
                         "ignored: remove them or fix their spelling (see the loader's docstring, e.g. help(cilnb.models.svd.load))")


def check_prompt(name: str, prompt):
    """A prompt of the transformer adapters: ``None``, a string, or a list of strings (one per video). Anything else was stored
    as given and failed at the first forward call, inside the pipeline's tokenizer."""
    if prompt is None or isinstance(prompt, str):
        return prompt
    if isinstance(prompt, (list, tuple)) and prompt and all(isinstance(p, str) for p in prompt):
        return prompt
    raise checks.InputTypeError(f"{name} must be a string (or a list of strings, one per video), got {prompt!r:.60} "
                                f"({type(prompt).__name__})")


def load_pipeline(pipeline_cls, path_or_id, *, what: str, default_id: str, hint: str, device, dtype,
                  cuda_default: torch.dtype = torch.bfloat16, upcast_vae: bool = False, **kwargs):
    """``pipeline_cls.from_pretrained(folder, **kwargs)`` on a local folder or a cached hub id (:func:`pipeline_folder`;
    never a hanging download), progress bar off, on ``device``: the one diffusers pipeline loader of the adapters.

    ``pipeline_cls`` may be the name of a diffusers class, imported only once the folder is found
    (missing weights fail fast, before diffusers is imported).
    ``dtype=None`` -> ``cuda_default`` on CUDA, float32 elsewhere (:func:`torch_dtype`).
    ``upcast_vae``: in float16 keep the VAE in float32 when its config asks (``force_upcast``), as
    the UNet pipelines do on every call.
    """
    from .._util import resolve_device

    upcast_vae = checks.check_bool("upcast_vae", upcast_vae)
    folder = pipeline_folder(path_or_id, what=what, default_id=default_id, hint=hint)
    dev = resolve_device(device)
    dt = torch_dtype(dtype, dev, cuda_default=cuda_default)
    if isinstance(pipeline_cls, str):
        import diffusers

        pipeline_cls = getattr(diffusers, pipeline_cls)
    with _ignored_keywords(f"{what} loader", pipeline_cls.__name__):
        pipe = from_pretrained(pipeline_cls, folder, dt, **kwargs)
    pipe.set_progress_bar_config(disable=True)
    if upcast_vae and dt == torch.float16 and getattr(pipe.vae.config, "force_upcast", False):
        pipe.vae.to(torch.float32)
    return pipe.to(dev)


class TransformerAdapter(Adapter):
    """Latent transformer I2V adapters (CogVideoX, Wan, LTX): device/dtype of ``self.transformer``, prompt plumbing, text CFG.

    Subclasses set ``self.transformer`` and call :meth:`_setup`; ``encode_prompt(prompt, negative)``
    returns what ``_default_embeds`` caches (the subclass's tuple of text embeddings). Guidance
    (``guidance_scale > 1``, the pipelines' rule) uses ``negative_prompt_embeds`` as the
    unconditional branch, batched with the conditional one.
    """

    sample_space = "latent"

    @classmethod
    def from_pipeline(cls, pipe, **kwargs):
        """Wrap an already loaded diffusers pipeline (components shared, not copied)."""
        return cls(pipe, **kwargs)

    @property
    def guidance(self):
        """The default guidance: ``guidance_scale`` when it is > 1 (the pipelines' rule), else off."""
        return self.guidance_scale if self.guidance_scale > 1 else None

    def uncond(self, cond: Cond) -> Cond:
        """Text CFG: the negative prompt embeddings in place of the prompt's (the image conditioning is kept)."""
        if cond.get("negative_prompt_embeds") is None:
            raise ValueError("guidance_scale > 1 needs negative_prompt_embeds (in cond or via set_prompt)")
        return Cond.of({**cond, "prompt_embeds": cond["negative_prompt_embeds"]})

    def _setup(self, pipe, guidance_scale: float, prompt, negative_prompt) -> None:
        self.pipe = pipe  # not an nn.Module: kept as a plain attribute
        self.vae = pipe.vae
        self.guidance_scale = checks.check_number("guidance_scale", guidance_scale, fix="(classifier-free guidance; 1 for none)")
        self._prompt = (check_prompt("prompt", prompt), check_prompt("negative_prompt", negative_prompt))
        self._embeds = None

    @property
    def device(self) -> torch.device:
        return next(self.transformer.parameters()).device

    _text_width_key: str | None = None  # the transformer config's text-state width (text_embed_dim, text_dim, ...)

    @property
    def text_width(self) -> int | None:
        """The width ``D`` of the text states ``[B, L, D]`` the transformer takes (``None``: unknown, not checked)."""
        w = getattr(self.transformer.config, self._text_width_key, None) if self._text_width_key else None
        return w if isinstance(w, int) else None

    @property
    def dtype(self) -> torch.dtype:
        return self.transformer.dtype

    def set_prompt_embeds(self, prompt_embeds: torch.Tensor, negative_prompt_embeds: torch.Tensor | None = None) -> None:
        """Use precomputed text states ``[1 or B, L, D]`` (T5/UMT5) as the default text conditioning."""
        check_text_embeds(prompt_embeds, "prompt_embeds", self.text_width)
        check_text_embeds(negative_prompt_embeds, "negative_prompt_embeds", self.text_width)
        self._embeds = (prompt_embeds, negative_prompt_embeds)

    def text_condition(self, cond: Cond, B: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(prompt_embeds, negative_prompt_embeds)`` from ``cond`` or the default prompt, broadcast to batch ``B``."""
        pe, ne = cond.get("prompt_embeds"), cond.get("negative_prompt_embeds")
        if pe is None:
            pe, default_neg = self._default_embeds()
            ne = default_neg if ne is None else ne
        check_text_embeds(pe, "prompt_embeds", self.text_width)
        check_text_embeds(ne, "negative_prompt_embeds", self.text_width)
        return batch_to(pe, B, "prompt_embeds"), batch_to(ne, B, "negative_prompt_embeds")

    def set_prompt(self, prompt: str = "", negative_prompt: str = "") -> None:
        """Default prompt (and negative prompt for CFG), encoded with the pipeline's T5 on first use."""
        self._prompt = (check_prompt("prompt", prompt), check_prompt("negative_prompt", negative_prompt))
        self._embeds = None

    def _default_embeds(self):
        if self._embeds is None:
            prompt, negative = self._prompt
            self._embeds = self.encode_prompt(prompt or "", negative or "")
        return self._embeds

    def _need_text_encoder(self) -> None:
        if self.pipe.text_encoder is None or self.pipe.tokenizer is None:
            raise ValueError(
                "this pipeline has no text encoder/tokenizer: pass prompt_embeds= in cond or call set_prompt_embeds()"
            )

"""The built-in toy image-to-video model: a small pseudo-3D UNet built the way real I2V models are.

Design (mirrors VideoCrafter/DynamiCrafter/SVD at toy scale):

- **Spatial layers shared across frames**: every 2D ResBlock runs on ``B * F`` images (frames
  folded into the batch), as in UNets inflated from an image model; they can be pre-trained as
  an image denoiser (:mod:`cilnb.training`, stage ``pretrain``) before the video stage.
- **The conditional image is concatenated to every frame** as extra input channels (SVD,
  DynamiCrafter); those input weights start at zero, as when an image UNet gains new channels.
- **Thin temporal layers only at low resolution**: residual 1D temporal attention (with learned
  frame positions) and/or 1D temporal convolutions over the ``F`` frames at each spatial site,
  with a narrow hidden width and a zero-initialised output, inserted after the spatial blocks of
  the levels listed in ``temporal_levels``.
- **Time embedding** of normalised ``t`` (sinusoidal of ``1000 t``), scale-shift in each block.
- **Optional motion conditioning** (SVD's motion bucket): a target motion in px/frame (the label it was
  trained on, :data:`MOTION_LABELS`: the shipped toy's is the clip's whole-frame mean flow magnitude), embedded
  and added to the time embedding; a learned null embedding stands for "no motion given"
  (``motion=None``) and is trained by conditioning dropout, so one model serves both uses.
- A space-to-depth stem (``patch``: a fixed, lossless stand-in for the VAE of latent models)
  keeps the CPU cost low; the network predicts ``v`` (Salimans & Ho).

:func:`build` returns the contract-conforming model (:class:`ToyModel`, a
:class:`cilnb.models.base.Denoiser` with ``prediction="v"`` and ``time_input="t"``):
``model(x_t [B,F,C,H,W], t [B], y=[B,C,H,W], motion=None|[B]) -> x0_hat``, with the same
classifier-free guidance options as SVD (off by default). :func:`load` reads the shipped checkpoints.
Every notebook's default (``model="toy"``); trained by ``python -m cilnb train-toy``.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as Fn
from torch import nn

from .. import checks
from ..denoiser import Cond, Video
from ..schedules import VPSchedule
from .base import Denoiser, guidance_weights

__all__ = ["ToyConfig", "ToyUNet", "ToyModel", "build", "precision", "PRECISIONS", "init_net", "load", "load_checkpoint", "save_checkpoint", "read_metadata", "train_data", "checkpoint_path", "resolve", "CHECKPOINTS", "FORMAT", "DEFAULT_GUIDANCE", "MAX_MOTION_SCALE"]

FORMAT = "cilnb-toy-i2v/1"
#: Shipped checkpoints under ``cilnb._util.data_dir()`` and the command that makes each.
# name -> (file in data/, the command that trains it; data/README.md). The base's recipe options are the shipped
# recipe and data (cilnb.toy_training.SHIPPED_RECIPE, SHIPPED_DATA); the fine-tunes inherit them from the base.
CHECKPOINTS = {
    "base": ("toy_base.safetensors", "python -m cilnb train-toy --variant base --image-dropout 0.15 --t-dist lognormal "
                                     "--t-p-mean 2.5 --cond-aug 0.1 --motion-label flow --speed-max 4 --speed-power 3 --pan 1 "
                                     "--turn-prob 0.5 --threads 2 --out data/toy_base.safetensors"),
    "naive": ("toy_naive.safetensors", "python -m cilnb train-toy --variant naive --init data/toy_base.safetensors --threads 1 "
                                       "--out data/toy_naive.safetensors"),
    "timenoise": ("toy_timenoise.safetensors", "python -m cilnb train-toy --variant timenoise --init data/toy_base.safetensors "
                                               "--timenoise-beta-m 6 --threads 1 --out data/toy_timenoise.safetensors"),
}
TEMPORAL_KINDS = ("none", "conv", "attn", "conv+attn")
#: The largest ``ToyConfig.motion_scale``: beyond it the float32 phase ``motion * motion_scale`` of a motion of a few
#: px/frame is rounding noise (and from ~1e38 on it is inf, the sinusoid NaN).
MAX_MOTION_SCALE = 1e6
#: What a toy's ``motion`` conditioning means (``train_config.motion_label``): ``"speed"``, the sprites' mean
#: speed (px/frame); ``"flow"``, the clip's whole-frame mean flow magnitude from the renderer's flow
#: (:func:`cilnb.data.flow_score`), the statistic SVD's motion bucket is made of: camera pan included.
MOTION_LABELS = ("speed", "flow")


@dataclass(frozen=True)
class ToyConfig:
    """Architecture of :class:`ToyUNet` and its VP schedule."""

    frames: int = 8  # F
    size: int = 32  # H = W
    channels: int = 1  # C
    patch: int = 2  # space-to-depth factor of the stem
    widths: tuple[int, ...] = (32, 64, 64)  # channels per UNet level (level 0 = highest resolution)
    temporal: str = "attn"  # none | conv | attn | conv+attn
    temporal_levels: tuple[int, ...] = (1, 2)  # levels that get temporal layers
    temporal_width: int = 32  # hidden width of the temporal layers ("thin")
    emb_dim: int = 128  # time (+ motion) embedding width
    motion_cond: bool = True  # accept motion=[B] targets in px/frame (speed or whole-frame flow: the checkpoint's motion_label)
    motion_scale: float = 100.0  # motion is embedded as sinusoidal(motion * motion_scale)
    beta_schedule: str = "linear"  # VP schedule of the model (cilnb.schedules.VPSchedule)
    beta_start: float = 1e-4
    beta_end: float = 0.02
    num_train_timesteps: int = 1000

    def __post_init__(self):
        def pos_int(name, v):
            # numpy ints (a loop over np.arange) were refused as "must be a positive int, got np.int64(8)": taken as ints,
            # stored as Python ints (the config is written to JSON); floats, strings and bools stay refused
            return checks.check_int(f"ToyConfig.{name}", v, min=1)

        for name in ("frames", "size", "channels", "patch", "temporal_width", "emb_dim", "num_train_timesteps"):
            object.__setattr__(self, name, pos_int(name, getattr(self, name)))
        for name in ("widths", "temporal_levels"):
            v = getattr(self, name)
            if not isinstance(v, (tuple, list)):
                raise checks.InputTypeError(f"ToyConfig.{name} must be a tuple of ints, e.g. {name}=(1,) for one, got {v!r} ({type(v).__name__})")
        for lv in self.temporal_levels:
            if isinstance(lv, (bool, np.bool_)) or not isinstance(lv, (int, np.integer)):
                raise checks.InputTypeError(f"ToyConfig.temporal_levels must be level indices (ints), got {self.temporal_levels!r}")
        for name in ("widths", "temporal_levels"):
            v = getattr(self, name)
            if any(isinstance(i, np.integer) for i in v):
                object.__setattr__(self, name, type(v)(int(i) for i in v))
        twice = checks.repeated(self.temporal_levels)
        if twice:  # accepted, the same network as listing each once (a typo for another level?)
            raise ValueError(f"ToyConfig.temporal_levels lists level(s) {twice} more than once, got {self.temporal_levels!r}: "
                             "list each level that gets temporal layers once")
        checks.check_bool("ToyConfig.motion_cond", self.motion_cond, numpy_bools=False)
        # a huge scale made motion * motion_scale inf in float32: sin(inf) is NaN, every prediction with motion= was NaN
        checks.check_number("ToyConfig.motion_scale", self.motion_scale, lo=0, lo_open=True, hi=MAX_MOTION_SCALE,
                            fix="(motion is embedded as sinusoidal(motion * motion_scale); default 100)")
        if not self.widths:
            raise ValueError("ToyConfig.widths must list at least one level width")
        for w in self.widths:
            pos_int("widths[i]", w)
            if w % 8:
                raise ValueError(f"ToyConfig.widths must be multiples of 8 (GroupNorm groups), got {self.widths}")
        down = self.patch * 2 ** (len(self.widths) - 1)
        if self.size % down:
            raise ValueError(f"size {self.size} must be divisible by patch * 2^(levels-1) = {down}; change size, patch or widths")
        if self.temporal not in TEMPORAL_KINDS:
            raise ValueError(f"ToyConfig.temporal must be one of {TEMPORAL_KINDS}, got {self.temporal!r}")
        bad = [lv for lv in self.temporal_levels if not 0 <= lv < len(self.widths)]
        if bad:
            raise ValueError(f"temporal_levels {self.temporal_levels} must index the {len(self.widths)} levels (0..{len(self.widths) - 1})")
        VPSchedule(self.beta_schedule, self.beta_start, self.beta_end, self.num_train_timesteps)  # validates

    def schedule(self) -> VPSchedule:
        return VPSchedule(self.beta_schedule, self.beta_start, self.beta_end, self.num_train_timesteps)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str | dict) -> "ToyConfig":
        if isinstance(text, (str, bytes, bytearray)):
            d = checks.parse_json(text, "ToyConfig JSON (a checkpoint's 'config' metadata)")
        elif isinstance(text, dict):
            d = dict(text)
        else:
            raise checks.InputTypeError(f"ToyConfig.from_json takes JSON text or a dict, got {type(text).__name__}")
        if not isinstance(d, dict):
            raise ValueError(f"ToyConfig JSON must be an object of ToyConfig fields, got {type(d).__name__}: the checkpoint's config is corrupt")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown ToyConfig fields {sorted(unknown)}: the checkpoint was written by another cilnb version")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


# ----------------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------------


def sinusoidal(x: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Transformer/DDPM sinusoidal embedding of ``x`` ``[B]`` -> ``[B, dim]``."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=x.device) / half)
    arg = x.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(arg), torch.sin(arg)], dim=1)


def _groups(ch: int) -> int:
    return 8 if ch % 8 == 0 else 1


#: Dtypes a :class:`ToyUNet` may compute in (:meth:`ToyUNet.set_precision`).
PRECISIONS = (torch.float32, torch.bfloat16)


def _channel_sums(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum and sum of squares over the pixels of each image's channels, float32 ``[N, C]`` each, for a channels-last
    ``x [N, C, h, w]`` (read as its ``[N, h w, C]`` memory, no copy)."""
    N, C, h, w = x.shape
    z = x.permute(0, 2, 3, 1).reshape(N, h * w, C)
    return z.sum(1, dtype=torch.float32), torch.square(z).sum(1, dtype=torch.float32)


def _norm_affine(s1: torch.Tensor, s2: torch.Tensor, pixels: int, groups: int, eps: float, mul: torch.Tensor,
                 add: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``group_norm(x) * mul + add`` as one multiply-add per image and channel, ``x a + b``: ``(a, b)``, float32
    ``[N, C]``, from :func:`_channel_sums` over ``pixels`` pixels per channel. ``mul``, ``add``: ``[C]``, or one row
    per video ``[B, C]`` (``N = B * frames``)."""
    N, C = s1.shape
    n = pixels * (C // groups)
    mean = s1.view(N, groups, -1).sum(-1) / n
    var = (s2.view(N, groups, -1).sum(-1) / n - mean.square()).clamp_min(0)
    rstd = torch.rsqrt(var + eps).repeat_interleave(C // groups, dim=1)  # [N, C]
    mean = mean.repeat_interleave(C // groups, dim=1)
    rows = mul.shape[0] if mul.ndim == 2 else 1
    a = (rstd.view(rows, -1, C) * mul.view(rows, 1, C)).view(N, C)
    b = (add.view(rows, 1, C) - mean.view(rows, -1, C) * a.view(rows, -1, C)).view(N, C)
    return a, b


def _scale_shift(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, *, silu: bool, inplace: bool) -> torch.Tensor:
    """``x a + b`` per image and channel (``a``, ``b`` float32 ``[N, C]``, views allowed), then SiLU if ``silu``, for
    a channels-last ``x [N, C, h, w]``; in ``x``'s memory when ``inplace``. Returns ``x.dtype``, channels-last."""
    N, C, h, w = x.shape
    z = x.permute(0, 2, 3, 1).reshape(N, h * w, C)
    a, b = a.to(x.dtype)[:, None], b.to(x.dtype)[:, None]
    out = z.mul_(a) if inplace else torch.mul(z, a)
    out.add_(b)
    if silu:
        Fn.silu(out, inplace=True)
    return out.view(N, h, w, C).permute(0, 3, 1, 2)


def _norm_scale_shift(x: torch.Tensor, groups: int, eps: float, mul: torch.Tensor, add: torch.Tensor, *,
                      silu: bool = False, inplace: bool = False) -> torch.Tensor:
    """``group_norm(x) * mul + add`` (then SiLU if ``silu``) for a channels-last ``x [N, C, h, w]``, without autograd:
    the inference path of every toy network (:meth:`ResBlock.infer`).

    Statistics in float32 from per-channel sums (:func:`_channel_sums`), the normalisation and the affine folded
    into one multiply-add (:func:`_norm_affine`). ``mul``, ``add``: float32 ``[C]``, or one row per video ``[B, C]``
    (``N = B * frames``). Against PyTorch's channels-last GroupNorm with a separate multiply-add and SiLU it makes the
    float32 forward 6 % faster; in bfloat16 that GroupNorm is 5-8x slower than this (benchmarks/README.md, "The
    inference path"). Returns ``x.dtype``, channels-last, in ``x``'s memory when ``inplace``.
    """
    s1, s2 = _channel_sums(x)
    a, b = _norm_affine(s1, s2, x.shape[2] * x.shape[3], groups, eps, mul, add)
    return _scale_shift(x, a, b, silu=silu, inplace=inplace)


#: Output phases of a 3x3 convolution over a 2x nearest-upsampled image, as 2-tap filters on the image before the
#: upsampling: ``_PHASE_TAPS[p] @ w_row`` gives the two taps (rows ``i - 1 + p``, ``i + p`` of the small image) that
#: output row ``2 i + p`` reads (rows ``2i-1, 2i, 2i+1`` upsampled are ``i-1, i, i`` for ``p = 0``; ``i, i, i+1``
#: for ``p = 1``). The same holds for columns.
_PHASE_TAPS = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])


def _phase_weights(w: torch.Tensor) -> torch.Tensor:
    """``[4 O, C, 2, 2]`` 2x2 filters of the four output phases (row phase major) of the 3x3 filters ``w [O, C, 3,
    3]`` applied to a 2x nearest-upsampled image (:func:`_add_upsampled_conv3x3`)."""
    A = _PHASE_TAPS.to(w.device)
    return torch.einsum("aik,ocks,bjs->abocij", A, w.float(), A).reshape(4 * w.shape[0], w.shape[1], 2, 2).to(w.dtype)


def _add_upsampled_conv3x3(out: torch.Tensor, small: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``out += conv3x3(upsample2x_nearest(small), w)`` (zero padding 1, no bias) without the upsampling, in place:
    the four output phases as 2x2 convolutions of ``small [N, C, s, t]`` (:func:`_phase_weights`; one call on ``[4 O]``
    filters over ``(s + 1) x (t + 1)`` positions: 0.56 of the multiply-adds at 8x8, 0.69 at 4x4). ``out [N, O, 2s,
    2t]`` and ``small`` channels-last."""
    N, O, H, W = out.shape
    s, t = small.shape[2], small.shape[3]
    y = Fn.conv2d(small, _phase_weights(w), padding=1).permute(0, 2, 3, 1)  # [N, s+1, t+1, 4 O]: position r reads rows r-1, r
    o = out.permute(0, 2, 3, 1).view(N, s, 2, t, 2, O)
    for p in range(2):
        for q in range(2):
            k = 2 * p + q
            o[:, :, p, :, q].add_(y[:, p:p + s, q:q + t, k * O:(k + 1) * O])
    return out


def _add_upsampled(out: torch.Tensor, small: torch.Tensor) -> torch.Tensor:
    """``out += upsample2x_nearest(small)`` in place (both channels-last; ``out`` twice ``small``'s size)."""
    N, C, H, W = out.shape
    out.permute(0, 2, 3, 1).view(N, H // 2, 2, W // 2, 2, C).add_(small.permute(0, 2, 3, 1)[:, :, None, :, None])
    return out


class ResBlock(nn.Module):
    """2D residual block with scale-shift conditioning on the embedding (applied per frame)."""

    def __init__(self, cin: int, cout: int, emb_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(cin), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * cout)
        self.norm2 = nn.GroupNorm(_groups(cout), cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """``x [B * F, cin, h, w]``, ``emb`` = ``silu(embedding)`` per video ``[B, emb_dim]`` (broadcast over the ``F``
        frames). Without autograd, :meth:`infer`. The GroupNorm affine and the scale-shift are one multiply-add
        (``n * g (1 + s) + (b (1 + s) + shift)``)."""
        if not torch.is_grad_enabled():
            return self.infer(x, emb)
        h = self.conv1(Fn.silu(self.norm1(x)))
        BF, C = h.shape[:2]
        B = emb.shape[0]
        scale, shift = self.emb(emb).chunk(2, dim=1)  # [B, C] each
        scale = 1 + scale
        mul = (self.norm2.weight * scale)[:, None, :, None, None]
        add = (self.norm2.bias * scale + shift)[:, None, :, None, None]
        n = Fn.group_norm(h, self.norm2.num_groups, eps=self.norm2.eps)
        h = self.conv2(Fn.silu(torch.addcmul(add, n.view(B, BF // B, C, *n.shape[2:]), mul)).view_as(n))
        return self.skip(x) + h

    def infer(self, x: torch.Tensor, emb: torch.Tensor, small: torch.Tensor | None = None) -> torch.Tensor:
        """The block without autograd, in the network's precision, channels-last: ``self(x, emb)``, or with ``small``
        (an up block), ``self(cat([upsample2x_nearest(small), x]), emb)`` without upsampling or concatenating.

        Both GroupNorms from float32 channel sums (:func:`_norm_scale_shift`), SiLU and the residual in place. With
        ``small``: the first GroupNorm's statistics of the upsampled channels are ``small``'s (each pixel counted four
        times); the first convolution and the skip split by input channels, the upsampled part computed on ``small``
        (:func:`_add_upsampled_conv3x3`: 0.56-0.69 of the multiply-adds; the 1x1 skip, a convolution here as ``cin >
        cout``, at a quarter of the pixels). Equal to :meth:`forward` under autograd to float32 rounding
        (``tests/test_toy.py``).
        """
        g1, eps1 = self.norm1.num_groups, self.norm1.eps
        w1, b1 = self.norm1.weight.float(), self.norm1.bias.float()
        if small is None:
            h = self.conv1(_norm_scale_shift(x, g1, eps1, w1, b1, silu=True))
        else:
            c = small.shape[1]
            (u1, u2), (k1, k2) = _channel_sums(small), _channel_sums(x)
            a, b = _norm_affine(torch.cat([4 * u1, k1], 1), torch.cat([4 * u2, k2], 1), x.shape[2] * x.shape[3], g1, eps1, w1, b1)
            h = Fn.conv2d(_scale_shift(x, a[:, c:], b[:, c:], silu=True, inplace=False), self.conv1.weight[:, c:],
                          self.conv1.bias, padding=1)
            _add_upsampled_conv3x3(h, _scale_shift(small, a[:, :c], b[:, :c], silu=True, inplace=False), self.conv1.weight[:, :c])
        scale, shift = self.emb(emb).float().chunk(2, dim=1)  # [B, C] each
        scale = 1 + scale
        mul, add = self.norm2.weight.float() * scale, self.norm2.bias.float() * scale + shift
        h = self.conv2(_norm_scale_shift(h, self.norm2.num_groups, self.norm2.eps, mul, add, silu=True, inplace=True))
        if small is None:
            return h.add_(self.skip(x))
        h.add_(Fn.conv2d(x, self.skip.weight[:, c:], self.skip.bias))
        return _add_upsampled(h, Fn.conv2d(small, self.skip.weight[:, :c]))


class TemporalBlock(nn.Module):
    """Thin residual temporal mixing over frames at every spatial site: 1D attention and/or 1D conv.

    Input ``[B * F, C, h, w]``; reshaped to ``[B * h * w, F, C]``; output projections start at
    zero, so a freshly added block leaves the (image) network unchanged.
    """

    def __init__(self, ch: int, width: int, frames: int, kind: str):
        super().__init__()
        self.kind, self.frames = kind, frames
        self.norm = nn.LayerNorm(ch)
        if "attn" in kind:
            self.pos = nn.Parameter(torch.zeros(frames, ch))
            nn.init.normal_(self.pos, std=0.02)
            self.qkv = nn.Linear(ch, 3 * width)
            self.attn_out = nn.Linear(width, ch)
            nn.init.zeros_(self.attn_out.weight)
            nn.init.zeros_(self.attn_out.bias)
        if "conv" in kind:
            self.conv_norm = nn.LayerNorm(ch)
            self.conv_in = nn.Linear(ch, width)
            self.tconv = nn.Conv1d(width, width, 3, padding=1)
            self.conv_out = nn.Linear(width, ch)
            nn.init.zeros_(self.conv_out.weight)
            nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B * F, C, h, w]``; channels-last input is read as ``[B, F, h * w, C]`` without a copy, and the output is channels-last."""
        BF, C, h, w = x.shape
        F = self.frames
        B = BF // F
        z = x.permute(0, 2, 3, 1).reshape(B, F, h * w, C)  # a view for channels-last x
        if "attn" in self.kind:
            qkv = self.qkv(self.norm(z) + self.pos[:F, None])  # [B, F, hw, 3 width]
            q, k, v = qkv.transpose(1, 2).chunk(3, dim=-1)  # [B, hw, F, width]: attention over F per site
            a = Fn.scaled_dot_product_attention(q, k, v)
            z = z + self.attn_out(a.transpose(1, 2))
        if "conv" in self.kind:
            u = self.conv_in(self.conv_norm(z))  # [B, F, hw, width]
            u = Fn.silu(u).permute(0, 3, 1, 2)  # [B, width, F, hw]: the 1D conv over F as a (3, 1) 2D conv
            u = Fn.conv2d(u, self.tconv.weight[..., None], self.tconv.bias, padding=(1, 0))
            z = z + self.conv_out(Fn.silu(u).permute(0, 2, 3, 1))
        return z.reshape(BF, h, w, C).permute(0, 3, 1, 2)


# ----------------------------------------------------------------------------------------------
# The network
# ----------------------------------------------------------------------------------------------


class ToyUNet(nn.Module):
    """Pseudo-3D UNet predicting ``v``: ``net(x_t [B,F,C,H,W], t [B] normalised, y=[B,C,H,W], motion=None|[B])``.

    ``image_mode=True`` (image pre-training) skips the temporal layers; there every "video" is a
    single frame and ``y`` is zeros, so the network is a plain image denoiser.
    """

    def __init__(self, config: ToyConfig = ToyConfig()):
        super().__init__()
        cfg = self.config = config
        C, p, E = cfg.channels, cfg.patch, cfg.emb_dim
        W = cfg.widths
        # a config whose weights alone exceed the memory (frames=10**9 with temporal attention: a frames x width position
        # table per block) failed in torch's allocator, or was killed: refused first, from a lower bound of the weights
        positions = sum(2 * cfg.frames * W[i] for i in set(cfg.temporal_levels)) if "attn" in cfg.temporal else 0
        weights = sum(2 * 9 * w * w for w in W) + 3 * 9 * C * p * p * W[0] + 64 * E + E * E + positions
        checks.check_fits_in_memory(4.0 * weights, "ToyUNet(config)", "lower frames, widths, channels or emb_dim (the shipped toy: "
                                    "ToyConfig(), a few MB)")
        self.time_mlp = nn.Sequential(nn.Linear(64, E), nn.SiLU(), nn.Linear(E, E))
        if cfg.motion_cond:
            self.motion_mlp = nn.Sequential(nn.Linear(64, E), nn.SiLU(), nn.Linear(E, E))
            self.null_motion = nn.Parameter(torch.zeros(E))
        # stem: x_t frame and y, space-to-depth, 3x3 conv; the y half of the weights starts at zero
        self.stem_x = nn.Conv2d(C * p * p, W[0], 3, padding=1)
        self.stem_y = nn.Conv2d(C * p * p, W[0], 3, padding=1, bias=False)
        nn.init.zeros_(self.stem_y.weight)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        for i, w in enumerate(W):
            self.down.append(ResBlock(W[i - 1] if i else W[0], w, E))
            if i < len(W) - 1:
                self.downsample.append(nn.Conv2d(w, w, 3, stride=2, padding=1))
        self.mid = ResBlock(W[-1], W[-1], E)
        self.up = nn.ModuleList()
        for i in reversed(range(len(W))):
            cin = (W[i + 1] if i < len(W) - 1 else W[-1]) + W[i]
            self.up.append(ResBlock(cin, W[i], E))
        temporal = cfg.temporal != "none"
        self.t_down = nn.ModuleList([TemporalBlock(W[i], cfg.temporal_width, cfg.frames, cfg.temporal) if temporal and i in cfg.temporal_levels else nn.Identity() for i in range(len(W))])
        self.t_mid = TemporalBlock(W[-1], cfg.temporal_width, cfg.frames, cfg.temporal) if temporal and len(W) - 1 in cfg.temporal_levels else nn.Identity()
        self.t_up = nn.ModuleList([TemporalBlock(W[i], cfg.temporal_width, cfg.frames, cfg.temporal) if temporal and i in cfg.temporal_levels else nn.Identity() for i in reversed(range(len(W)))])
        self.out_norm = nn.GroupNorm(_groups(W[0]), W[0])
        self.out = nn.Conv2d(W[0], C * p * p, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def temporal_parameters(self):
        """Parameters of the temporal layers (absent from an image-pretrained network)."""
        for mod in (*self.t_down, self.t_mid, *self.t_up):
            yield from mod.parameters()

    def embed(self, t: torch.Tensor, motion: torch.Tensor | None, B: int, drop: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.time_mlp(sinusoidal(t.reshape(-1) * 1000.0, 64))
        if emb.shape[0] == 1 and B > 1:
            emb = emb.expand(B, -1)
        if self.config.motion_cond:
            null = self.null_motion[None].expand(B, -1)
            if motion is None:
                emb = emb + null
            else:
                motion = torch.as_tensor(motion, dtype=torch.float32, device=emb.device).reshape(-1)
                if motion.shape[0] != B:
                    raise ValueError(f"motion must have one entry per video ({B}), got shape {tuple(motion.shape)}")
                m = self.motion_mlp(sinusoidal(motion * self.config.motion_scale, 64))
                if drop is not None:
                    m = torch.where(drop[:, None], null, m)
                emb = emb + m
        elif motion is not None:
            raise ValueError("this toy model was built with motion_cond=False: call it without motion=")
        return emb

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None, motion: torch.Tensor | None = None, *, image_mode: bool = False, motion_drop: torch.Tensor | None = None) -> torch.Tensor:
        cfg = self.config
        image_mode = checks.check_bool("image_mode", image_mode)
        if x.ndim != 5:
            raise ValueError(f"x_t must be [B, F, C, H, W], got shape {tuple(x.shape)}")
        B, F, C, H, W = x.shape
        if C != cfg.channels or H != cfg.size or W != cfg.size:
            raise ValueError(f"this toy model takes [B, F, {cfg.channels}, {cfg.size}, {cfg.size}] videos, got {tuple(x.shape)}")
        if not image_mode and F != cfg.frames:
            raise ValueError(f"this toy model was built for {cfg.frames} frames, got {F}")
        if y is None:
            if not image_mode:
                raise ValueError("the toy I2V model needs the conditional image y=[B, C, H, W]")
            y = torch.zeros_like(x[:, 0])
        if y.shape != (B, C, H, W):
            raise ValueError(f"y must be [B, C, H, W] = {(B, C, H, W)}, got {tuple(y.shape)}")
        t = torch.as_tensor(t, dtype=torch.float32, device=x.device).reshape(-1)
        if t.numel() == 1:
            t = t.expand(B)
        if t.shape != (B,):
            raise ValueError(f"t must be [B] normalised times, got shape {tuple(t.shape)}")
        emb = Fn.silu(self.embed(t, motion, B, motion_drop))  # [B, E]: every block's scale-shift input
        dtype = self.precision
        if dtype == x.dtype:
            return self._run(x, y, emb, image_mode)
        if torch.is_grad_enabled():
            raise ValueError(f"this toy network computes in {dtype} (set_precision), which is for sampling and probing: "
                             "train or differentiate a float32 one (load the checkpoint again without dtype=)")
        return self._run(x.to(dtype), y.to(dtype), emb.to(dtype), image_mode).to(x.dtype)

    @property
    def precision(self) -> torch.dtype:
        """The dtype the layers compute in (:meth:`set_precision`); the time and motion embeddings stay float32."""
        return self.stem_x.weight.dtype

    def set_precision(self, dtype: torch.dtype) -> "ToyUNet":
        """Compute in ``dtype`` (one of :data:`PRECISIONS`; in place, returns ``self``): every layer but the time and
        motion embeddings, which take float32 sinusoids. Inputs and outputs keep the caller's dtype. bfloat16 is
        for inference on CPUs with bf16 units (1.6x faster sampling there, benchmarks/README.md "bfloat16"); going back to
        float32 keeps the rounded weights (load the checkpoint again for the reference)."""
        if dtype not in PRECISIONS:
            raise ValueError(f"a toy network computes in one of {[str(d).replace('torch.', '') for d in PRECISIONS]}, got {dtype!r}")
        for name, mod in self.named_children():
            if name not in ("time_mlp", "motion_mlp"):
                mod.to(dtype)
        return self

    def _run(self, x: torch.Tensor, y: torch.Tensor, emb: torch.Tensor, image_mode: bool) -> torch.Tensor:
        """The layers on checked inputs, channels-last throughout (frames folded into the batch)."""
        B, F, C, H, W = x.shape
        p = self.config.patch
        cl = torch.channels_last
        xf = Fn.pixel_unshuffle(x.reshape(B * F, C, H, W), p).contiguous(memory_format=cl)
        yf = Fn.pixel_unshuffle(y, p).contiguous(memory_format=cl)
        h = self.stem_x(xf)
        hy = self.stem_y(yf)  # y0 is concatenated to every frame: its stem runs once per video
        h = (h.view(B, F, *h.shape[1:]) + hy[:, None]).view_as(h)
        skips = []
        for i, block in enumerate(self.down):
            h = block(h, emb)
            if not image_mode:
                h = self.t_down[i](h)
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = self.mid(h, emb)
        if not image_mode:
            h = self.t_mid(h)
        infer = not torch.is_grad_enabled()
        for j, block in enumerate(self.up):
            i = len(self.up) - 1 - j
            if h.shape[-1] == skips[i].shape[-1]:
                h = block(torch.cat([h, skips[i]], dim=1), emb)
            elif infer and isinstance(block.skip, nn.Conv2d) and skips[i].shape[-2:] == tuple(2 * n for n in h.shape[-2:]):
                # the upsampling and the concatenation folded into the block
                h = block.infer(skips[i], emb, small=h)
            else:
                h = block(torch.cat([Fn.interpolate(h, scale_factor=2, mode="nearest"), skips[i]], dim=1), emb)
            if not image_mode:
                h = self.t_up[j](h)
        if infer:
            n = self.out_norm
            h = _norm_scale_shift(h, n.num_groups, n.eps, n.weight.float(), n.bias.float(), silu=True, inplace=True)
        else:
            h = Fn.silu(self.out_norm(h))
        out = self.out(h)
        return Fn.pixel_shuffle(out, p).reshape(B, F, C, H, W).contiguous()


#: SVD's default image guidance, frame-wise linear from 1.0 (frame 0) to 3.0 (last frame)
#: (``StableVideoDiffusionPipeline``'s ``min/max_guidance_scale``): the default of a toy checkpoint
#: trained with image dropout.
DEFAULT_GUIDANCE = (1.0, 3.0)


class ToyModel(Denoiser):
    """The toy I2V model on the denoiser contract: ``model(x_t, t, y=, motion=None, guidance=None) -> x0_hat``.

    A :class:`cilnb.models.base.Denoiser` (v-prediction, normalised time input) around a
    :class:`ToyUNet`; ``.meta`` holds the checkpoint metadata (training recipe, loss curve).

    Guidance (:func:`cilnb.models.base.guidance_weights`, the SVD adapter's options: a number,
    ``(first, last)`` frame-wise, ``[B]`` or ``[B, F]``; ``guidance=None`` in the call turns it off).
    Its default (:attr:`guidance`) follows the checkpoint, as a real pipeline's does: a checkpoint
    trained with image dropout (``null_image == "zero"``, the shipped ones) is sampled with SVD's
    default, frame-wise ``(1.0, 3.0)`` (:data:`DEFAULT_GUIDANCE`); one trained without it has no
    unconditional model and defaults to no guidance. The **unconditional branch** (``null_image``)
    drops the image the way the checkpoint was trained without one:

    - ``"zero"`` for checkpoints trained with image dropout (``train_config.image_dropout > 0``):
      ``y = 0`` in video mode, temporal layers on, the same motion conditioning (SVD-style CFG);
    - ``"image_mode"`` otherwise (the shipped checkpoints, which had no image dropout): the
      network's image mode (``y = 0``, temporal layers skipped, null motion embedding), i.e. the
      per-frame image denoiser of the ``pretrain`` stage, so guidance means "away from the per-frame
      image prior, towards the image-conditioned video model".

    With ``"zero"`` both branches run as one network call on the doubled batch (:attr:`batch_cfg`,
    as the diffusers pipelines do); the image-mode branch skips the temporal layers and is a
    second call.
    """

    cond_keys = ("y", "motion")
    name = "toy"
    #: How the network's inference path computes (part of every run store's key, :func:`cilnb.runs.default_run_dir`):
    #: videos of another version differ in float rounding, so they are never resumed into one run.
    numerics = "infer/2: folded upsampling"
    sample_space = "pixel"
    value_range = (-1.0, 1.0)  # frames and y: cilnb.checks refuses 0..255 images
    batch_cfg = False
    NULL_IMAGES = ("image_mode", "zero")

    def __init__(self, net: ToyUNet, meta: dict | None = None, *, null_image: str | None = None, guidance="default"):
        if not isinstance(net, ToyUNet):
            raise checks.InputTypeError(f"net must be a ToyUNet (build one with cilnb.models.toy.init_net(config)), got {type(net).__name__}")
        if meta is not None and not isinstance(meta, dict):
            raise checks.InputTypeError(f"meta must be a dict of checkpoint metadata (or None), got {type(meta).__name__}")
        super().__init__(net, net.config.schedule(), prediction="v", time_input="t")
        self.config = net.config
        self.n_frames = net.config.frames
        self.meta = dict(meta or {})
        if null_image is None:  # a model trained with image dropout knows its null: y = 0 in video mode
            tc = self.meta.get("train_config") or {}
            null_image = "zero" if isinstance(tc, dict) and float(tc.get("image_dropout", 0) or 0) > 0 else "image_mode"
        if null_image not in self.NULL_IMAGES:
            raise ValueError(f"null_image must be one of {self.NULL_IMAGES}, got {null_image!r}")
        #: The unconditional branch of guidance: ``"image_mode"`` (per-frame image denoiser, the only
        #: image-free mode the original toy was trained in) or ``"zero"`` (``y = 0`` with the temporal
        #: layers on and the same motion, as SVD zeroes its image latents; what a model trained with
        #: ``TrainConfig.image_dropout > 0`` learned). Chosen from the checkpoint's training config.
        self.null_image = null_image
        self.batch_cfg = null_image == "zero"  # one call on [uncond; cond]; image mode is a different network path
        #: Default guidance (``forward(guidance=...)`` overrides it): ``"default"`` is :data:`DEFAULT_GUIDANCE`
        #: for a checkpoint trained with image dropout, none otherwise.
        if isinstance(guidance, str) and guidance == "default":
            guidance = DEFAULT_GUIDANCE if null_image == "zero" else None
        if guidance is not None:
            guidance_weights(guidance, 1, self.n_frames)  # a bad value fails here, not at the first sample
        self.guidance = guidance

    def check_condition(self, x_t: Video, cond: Cond) -> Cond:
        cond = super().check_condition(x_t, cond)
        y, motion = cond.get("y"), cond.get("motion")
        if y is None:
            raise ValueError("the toy I2V model needs the conditional image y=[B, C, H, W]")
        if not torch.is_tensor(y):  # a numpy array, a list or a bool failed in y.to() (AttributeError)
            fix = ": pass torch.from_numpy(y)" if isinstance(y, np.ndarray) else ""
            raise checks.InputTypeError(f"y must be a torch.Tensor [B, C, H, W] (the conditional images), got {type(y).__name__}{fix}")
        if not y.is_floating_point():  # uint8 0..255 pixels were cast to float as they were, far outside [-1, 1]
            how = ": convert 0..255 pixels with y.float() / 127.5 - 1" if y.dtype == torch.uint8 else ": convert it with y.float()"
            raise checks.InputTypeError(f"y has dtype {y.dtype}; the toy takes float conditional images in [-1, 1]{how}")
        cfg = self.config  # sizes checked here, before guidance doubles the batch inside the network call
        frame = (cfg.channels, cfg.size, cfg.size)
        if torch.is_tensor(y) and tuple(y.shape[1:]) != frame:
            raise ValueError(f"this toy model takes conditional images y [B, {', '.join(map(str, frame))}] (its frames: "
                             f"{cfg.channels} channel(s), {cfg.size}x{cfg.size}), got {tuple(y.shape)}: pass images of that size")
        if tuple(x_t.shape[1:]) != (cfg.frames, *frame):
            raise ValueError(f"this toy model was built for {cfg.frames} frames of {cfg.channels}x{cfg.size}x{cfg.size}: x_t must be "
                             f"[B, {cfg.frames}, {', '.join(map(str, frame))}], got {tuple(x_t.shape)}")
        if torch.is_tensor(y) and y.shape[0] != x_t.shape[0]:
            raise ValueError(f"y holds {y.shape[0]} image(s) for {x_t.shape[0]} video(s): give one conditional image per video")
        if motion is not None:
            try:
                if isinstance(motion, (str, bytes)) or checks.holds_bool(motion):  # True was read as the motion 1 px/frame
                    raise TypeError(type(motion).__name__)
                motion = torch.as_tensor(motion, dtype=torch.float32).reshape(-1)  # on its own device (numbers: the CPU)
            except (TypeError, ValueError, RuntimeError):
                raise checks.InputTypeError(f"cond['motion'] must be numbers (the toy's motion label: one, or one per video), "
                                            f"got {motion!r}") from None
            if motion.device.type == "cpu":  # a NaN label made every prediction NaN without a word (free there: no sync)
                checks.check_finite("cond['motion']", motion, fix="the motion labels must be finite (px/frame)")
            motion = motion.to(x_t.device)
            if motion.numel() not in (1, x_t.shape[0]):
                raise ValueError(f"cond['motion'] holds {motion.numel()} values for {x_t.shape[0]} video(s): give one motion label, "
                                 "or one per video")
            if motion.numel() == 1 and x_t.shape[0] > 1:
                motion = motion.expand(x_t.shape[0])
        return {"y": y.to(x_t.dtype), "motion": motion}

    def uncond(self, cond: Cond) -> Cond:
        """The image dropped: ``ToyUNet``'s image mode (``y = 0``, no temporal layers, null motion), or with
        :attr:`null_image` ``"zero"`` the video model with ``y = 0`` and the same motion (image-dropout training)."""
        if self.null_image == "zero":
            return Cond(torch.zeros_like(cond["y"]), motion=cond.get("motion"))
        return Cond(None, motion=None, image_mode=True)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def motion_label(self) -> str:
        """What this checkpoint's ``motion`` conditioning means: ``"speed"`` (sprite speed) or ``"flow"``
        (whole-frame mean flow magnitude, camera pan included), from its training config (:func:`motion_label`)."""
        return motion_label(self.meta)

    @property
    def data_config(self):
        """The :class:`cilnb.data.SpriteConfig` this checkpoint was trained on (``train_config.data``), the data
        its read-outs draw conditional images, reference and probe videos from; a model without a training
        config (built in code) gets the default sprites at its frames and size."""
        from .. import data

        return train_data(self.meta) or data.SpriteConfig(frames=int(self.config.frames), size=int(self.config.size))


def motion_label(meta: dict) -> str:
    """What a checkpoint's motion conditioning means (``train_config.motion_label``): ``"speed"`` (the sprites'
    mean speed, px/frame; also for checkpoints that predate the option) or ``"flow"`` (the clip's whole-frame
    mean flow magnitude, :func:`cilnb.data.flow_score`)."""
    if not isinstance(meta, dict):
        raise checks.InputTypeError(f"meta must be a checkpoint's metadata dict (read_metadata(path)), got {type(meta).__name__}")
    tc = meta.get("train_config") or {}
    label = tc.get("motion_label", "speed") if isinstance(tc, dict) else "speed"
    if label not in MOTION_LABELS:
        raise ValueError(f"checkpoint metadata names an unknown motion label {label!r} (known: {MOTION_LABELS}): "
                         "was it written by a newer cilnb? Retrain it with this one's train-toy")
    return label


def train_data(meta: dict):
    """The :class:`cilnb.data.SpriteConfig` in a checkpoint's metadata (``train_config.data``), or ``None``."""
    from .. import data

    tc = meta.get("train_config") or {}
    d = tc.get("data") if isinstance(tc, dict) else None
    return data.SpriteConfig.from_json(d) if d else None


def init_net(config: ToyConfig, seed: int = 0) -> ToyUNet:
    """A freshly initialised :class:`ToyUNet`, deterministic in ``seed`` (the global RNG is left untouched)."""
    if not isinstance(config, ToyConfig):
        raise checks.InputTypeError(f"config must be a ToyConfig (e.g. ToyConfig(frames=8, size=32); or pass fields as keywords "
                                    f"to build()), got {type(config).__name__}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(checks.check_seed("seed", seed, fix="(the weights' random seed)"))
        return ToyUNet(config)


def build(config: ToyConfig | None = None, *, seed: int = 0, **overrides) -> ToyModel:
    """A freshly initialised toy model on the denoiser contract (``ToyConfig`` fields as keywords)."""
    if config is not None and not isinstance(config, ToyConfig):  # with overrides, dataclasses.replace's bare TypeError
        raise checks.InputTypeError(f"config must be a ToyConfig (e.g. ToyConfig(frames=8, size=32); or pass fields as keywords "
                                    f"to build()), got {type(config).__name__}")
    cfg = config or ToyConfig()
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(ToyConfig)})
    if unknown:  # was "ToyConfig.__init__() got an unexpected keyword argument", without the fields there are
        raise ValueError(f"build() got {unknown}, which are not ToyConfig fields: the fields are "
                         f"{[f.name for f in dataclasses.fields(ToyConfig)]} (and seed=)")
    if overrides:
        cfg = dataclasses.replace(cfg, **overrides)
    return ToyModel(init_net(cfg, seed))


# ----------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------


def save_checkpoint(path, net: ToyUNet, meta: dict) -> Path:
    """Write ``net``'s weights (float32) and ``meta`` (values JSON-encoded) as safetensors, atomically."""
    from .._util import save_safetensors

    path = checks.check_path("path", path, "a checkpoint file path")
    if path.is_dir():
        raise ValueError(f"path {path} is a folder: give a checkpoint file path such as {path / 'toy.safetensors'}")
    if isinstance(net, ToyModel):
        raise checks.InputTypeError("net must be the network (a ToyUNet), got a ToyModel: pass model.net "
                                    "(its weights would be saved under 'net.' names that no checkpoint loader reads)")
    if not isinstance(net, ToyUNet):
        raise checks.InputTypeError(f"net must be a ToyUNet, got {type(net).__name__}")
    if not isinstance(meta, dict):
        raise checks.InputTypeError(f"meta must be a dict of metadata (e.g. {{'train_config': {{...}}}}; {{}} for none), got {type(meta).__name__}")
    if "format" in meta and meta["format"] != FORMAT:
        raise ValueError(f"meta['format'] is {meta['format']!r}, but save_checkpoint writes the toy format {FORMAT!r} itself: "
                         "remove 'format' from meta")
    if "config" in meta:  # e.g. a loaded model's meta passed on: it must describe this net
        try:
            same = ToyConfig.from_json(meta["config"]) == net.config
        except (TypeError, ValueError):
            same = False
        if not same:
            raise ValueError("meta['config'] does not describe net (save_checkpoint writes net.config itself): remove 'config' from meta")
    md = {}
    for k, v in meta.items():
        if not isinstance(k, str):
            raise checks.InputTypeError(f"meta keys must be strings, got {k!r} ({type(k).__name__})")
        try:
            md[k] = v if isinstance(v, str) else json.dumps(v)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"meta[{k!r}] cannot be stored: it must be JSON (numbers, strings, lists, dicts) ({exc})") from None
    md.update({"format": FORMAT, "config": net.config.to_json()})
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in net.state_dict().items()}
    return save_safetensors(path, tensors, md)


def _checkpoint_file(path) -> Path:
    """``path`` of an existing toy checkpoint file: not ``None``/a number (InputTypeError), not missing (FileNotFoundError), not a folder."""
    path = checks.check_path("path", path, "a toy checkpoint file path")
    if path.is_dir():
        raise ValueError(f"toy checkpoint {path} is a folder: give the checkpoint file inside it (a .safetensors file)")
    if not path.is_file():
        raise FileNotFoundError(f"toy checkpoint {path} does not exist: give an existing checkpoint file, or a shipped name "
                                f"({', '.join(CHECKPOINTS)}) to cilnb.models.toy.load")
    return path


def read_metadata(path) -> dict:
    """The metadata of a toy checkpoint, JSON values decoded; a corrupt or truncated file is an error naming it."""
    from safetensors import safe_open

    from .._util import file_errors

    path = _checkpoint_file(path)
    with file_errors(path, "toy checkpoint", "retrain it (python -m cilnb train-toy, data/README.md) or restore the file"):
        with safe_open(str(path), framework="pt") as f:
            md = f.metadata() or {}
    out = {}
    for k, v in md.items():
        try:
            out[k] = json.loads(v)
        except (json.JSONDecodeError, TypeError):
            out[k] = v
    return out


def load_checkpoint(path, device: str | torch.device = "cpu") -> ToyModel:
    """Load a toy checkpoint file (any path) as a :class:`ToyModel` in eval mode."""
    from safetensors.torch import load_file

    from .._util import check_device

    path = checks.check_path("path", path, "a toy checkpoint file path")
    if not path.is_file() and not path.is_dir():
        raise ValueError(f"toy checkpoint {path} does not exist")
    check_device(device)
    meta = read_metadata(path)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a cilnb toy checkpoint (format {meta.get('format')!r}, expected {FORMAT!r})")
    cfg = ToyConfig.from_json(meta["config"])
    net = init_net(cfg)
    from .._util import file_errors

    with file_errors(path, "toy checkpoint", "retrain it (python -m cilnb train-toy, data/README.md) or restore the file"):
        state = load_file(str(path))
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path} does not match ToyConfig {cfg}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model = ToyModel(net, meta)
    return model.to(device).eval()


def checkpoint_path(name: str) -> Path:
    """Where the shipped checkpoint ``name`` (base | naive | timenoise) lives."""
    from .._util import data_dir

    if name not in CHECKPOINTS:
        raise ValueError(f"unknown toy checkpoint {name!r}; choose one of {sorted(CHECKPOINTS)} or pass a file path")
    return data_dir() / CHECKPOINTS[name][0]


def resolve(name) -> Path:
    """The file of a shipped checkpoint name (``"base"``, ``"naive"``, ``"timenoise"``) or a checkpoint path;
    a missing one is an error naming how to make it."""
    if not isinstance(name, (str, os.PathLike)) or str(name) == "":
        raise checks.InputTypeError(f"the toy checkpoint must be a shipped name ({', '.join(CHECKPOINTS)}) or a file path, got {name!r} "
                                    f"({type(name).__name__})")
    if str(name) in CHECKPOINTS:
        path = checkpoint_path(str(name))
        if not path.is_file():
            raise ValueError(f"toy checkpoint {name!r} not found at {path}; train it with `{CHECKPOINTS[str(name)][1]}` (see data/README.md)")
        return path
    path = Path(name)
    if not path.is_file():
        raise ValueError(f"toy checkpoint {str(name)!r} not found: it is neither a shipped one ({', '.join(CHECKPOINTS)}) "
                         "nor an existing file")
    return path


def load(name: str = "base", device: str | torch.device = "auto", dtype=None) -> ToyModel:
    """Load a shipped toy checkpoint (``"base"``, ``"naive"``, ``"timenoise"``) or a checkpoint path.

    Returns a :class:`ToyModel` (eval mode, gradients off) on ``device`` (``"auto"``: GPU when
    present), computing in ``dtype`` (:func:`precision`: ``None``/``"auto"``/``"float32"``, the reference, or
    ``"bfloat16"``, 1.6x faster sampling on CPUs with bf16 units but with a rounding noise that widens close paired
    comparisons: benchmarks/README.md, "bfloat16"). Every notebook loads it through :func:`cilnb.models.load`
    (``model="toy"``).
    """
    from .._util import resolve_device

    dev = resolve_device(device)
    dt = precision(dtype)
    model = load_checkpoint(resolve(name), dev)
    model.requires_grad_(False)
    if dt != torch.float32:
        model.net.set_precision(dt)
    return model


def precision(dtype) -> torch.dtype:
    """The dtype a toy computes in for ``dtype``: ``None``, ``"auto"``, ``"float32"``/``"fp32"`` -> float32 (the
    reference, what RESULTS.md and the shipped figures use); ``"bfloat16"``/``"bf16"`` -> bfloat16; a
    ``torch.dtype`` of :data:`PRECISIONS` as is. Anything else (``"float16"``) is an error naming the choices."""
    names = {"auto": torch.float32, "float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype) and dtype in PRECISIONS:
        return dtype
    key = dtype.strip().lower().replace("torch.", "") if isinstance(dtype, str) else None
    if key in names:
        return names[key]
    raise ValueError(f"the toy computes in float32 or bfloat16 (dtype auto, float32 or bfloat16), got {dtype!r}")

"""The toy UNet's forward pass as it was before the speed work (issue 14, item 3), frozen as a reference.

:func:`reference_forward` recomputes ``ToyUNet.forward`` the old way (contiguous NCHW tensors, frames
reshaped to ``[B * h * w, F, C]`` for the temporal layers, the embedding repeated per frame, the
GroupNorm affine and the time scale-shift as separate ops) from the *layers* of a
:class:`cilnb.models.toy.ToyUNet`, so it keeps working while the fast path changes. Used by
tests/test_toy.py (the fast forward must agree to float32 rounding) and benchmarks/toy_speed.py
(old against new in one run). The embedding (:meth:`ToyUNet.embed`) is shared.
"""
from __future__ import annotations

import torch
import torch.nn.functional as Fn
from torch import nn


def _resblock(block, x, emb):
    h = block.conv1(Fn.silu(block.norm1(x)))
    scale, shift = block.emb(Fn.silu(emb))[..., None, None].chunk(2, dim=1)
    h = block.norm2(h) * (1 + scale) + shift
    h = block.conv2(Fn.silu(h))
    return block.skip(x) + h


def _temporal(block, x):
    if isinstance(block, nn.Identity):
        return x
    BF, C, h, w = x.shape
    F = block.frames
    B = BF // F
    z = x.view(B, F, C, h, w).permute(0, 3, 4, 1, 2).reshape(B * h * w, F, C)
    if "attn" in block.kind:
        q, k, v = block.qkv(block.norm(z) + block.pos[:F]).chunk(3, dim=-1)
        a = Fn.scaled_dot_product_attention(q, k, v)
        z = z + block.attn_out(a)
    if "conv" in block.kind:
        u = block.conv_in(block.conv_norm(z)).transpose(1, 2)  # [N, width, F]
        u = Fn.silu(block.tconv(Fn.silu(u))).transpose(1, 2)
        z = z + block.conv_out(u)
    return z.reshape(B, h, w, F, C).permute(0, 3, 4, 1, 2).reshape(BF, C, h, w)


def reference_forward(net, x, t, y=None, motion=None, *, image_mode: bool = False, motion_drop=None) -> torch.Tensor:
    """``ToyUNet.forward`` before the speed work (same inputs, same ``v`` output up to float32 rounding); no input checks."""
    cfg = net.config
    B, F, C, H, W = x.shape
    if y is None:
        y = torch.zeros_like(x[:, 0])
    t = torch.as_tensor(t, dtype=torch.float32, device=x.device).reshape(-1)
    if t.numel() == 1:
        t = t.expand(B)
    emb = net.embed(t, motion, B, motion_drop).repeat_interleave(F, dim=0)
    p = cfg.patch
    xf = Fn.pixel_unshuffle(x.reshape(B * F, C, H, W), p)
    yf = Fn.pixel_unshuffle(y, p).repeat_interleave(F, dim=0)
    h = net.stem_x(xf) + net.stem_y(yf)
    skips = []
    for i, block in enumerate(net.down):
        h = _resblock(block, h, emb)
        if not image_mode:
            h = _temporal(net.t_down[i], h)
        skips.append(h)
        if i < len(net.downsample):
            h = net.downsample[i](h)
    h = _resblock(net.mid, h, emb)
    if not image_mode:
        h = _temporal(net.t_mid, h)
    for j, block in enumerate(net.up):
        i = len(net.up) - 1 - j
        if h.shape[-1] != skips[i].shape[-1]:
            h = Fn.interpolate(h, scale_factor=2, mode="nearest")
        h = _resblock(block, torch.cat([h, skips[i]], dim=1), emb)
        if not image_mode:
            h = _temporal(net.t_up[j], h)
    out = net.out(Fn.silu(net.out_norm(h)))
    return Fn.pixel_shuffle(out, p).reshape(B, F, C, H, W)

"""Dense optical flow for the motion metrics: torchvision RAFT (batched) and OpenCV Farneback.

Shown in notebooks/motion_metrics.ipynb. Flow convention everywhere: ``[N, 2, H, W]`` float32,
channel 0 = horizontal displacement ``u`` (x, to the right), channel 1 = vertical ``v`` (y,
downwards), in pixels of the frames the flow was computed on, forward from ``image1`` to ``image2``.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from .. import checks
from .._util import check_device, progress, resolve_device
from . import videos as _videos

__all__ = [
    "RAFT_WEIGHT_FILES",
    "FARNEBACK_DEFAULTS",
    "raft_weights_path",
    "load_raft",
    "optical_flow",
    "raft_flow",
    "farneback_flow",
    "pairs_per_batch",
    "corr_pyramid_bytes",
]

#: torchvision state-dict files looked up in ``<torch hub dir>/checkpoints`` when ``weights=None``.
#: ``C_T_V1`` is torchvision's port of the original ``raft-things.pth`` (the checkpoint used by the
#: SVD-style motion score and by VBench).
RAFT_WEIGHT_FILES = {
    "large": ("raft_large_C_T_V1-22a6c225.pth", "https://download.pytorch.org/models/raft_large_C_T_V1-22a6c225.pth"),
    "small": ("raft_small_C_T_V1-ad48884c.pth", "https://download.pytorch.org/models/raft_small_C_T_V1-ad48884c.pth"),
}

#: ``cv2.calcOpticalFlowFarneback`` parameters (OpenCV's documented example values, 5 pyramid
#: levels so that displacements up to ~30 px are tracked).
FARNEBACK_DEFAULTS = dict(pyr_scale=0.5, levels=5, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)

_RAFT_CACHE: dict = {}


def _check_arch(arch: str) -> str:
    if not isinstance(arch, str) or arch not in RAFT_WEIGHT_FILES:
        raise ValueError(f"arch must be one of {sorted(RAFT_WEIGHT_FILES)}, got {arch!r}")
    return arch


def raft_weights_path(arch: str = "large", weights: str | os.PathLike | None = None) -> Path:
    """The RAFT weight file that :func:`load_raft` would read; ``FileNotFoundError`` saying where to put it.

    ``weights`` (a path) wins; otherwise ``<torch.hub.get_dir()>/checkpoints/<RAFT_WEIGHT_FILES[arch]>``.
    Nothing is ever downloaded.
    """
    _check_arch(arch)
    fname, url = RAFT_WEIGHT_FILES[arch]
    if weights is not None and not (isinstance(weights, str) and weights == ""):
        p = checks.check_path("weights", weights, "a RAFT weights file path (or a state dict, or None for the torch hub cache)").expanduser()
        if p.is_dir():
            raise ValueError(f"RAFT weights {str(p)!r} is a folder: pass the weights file itself, e.g. {str(p / fname)!r}")
        if not p.is_file():
            raise FileNotFoundError(f"RAFT weights file {str(p)!r} does not exist")
        return p
    p = Path(torch.hub.get_dir()) / "checkpoints" / fname
    if p.is_file():
        return p
    raise FileNotFoundError(
        f"no RAFT ({arch}) weights: put {fname} (torchvision's Raft_{arch.capitalize()}_Weights.C_T_V1, {url}) "
        f"into {p.parent}/ or pass weights='/path/to/{fname}'. method='farneback' needs no weights."
    )


def load_raft(arch: str = "large", weights: str | os.PathLike | dict | None = None, device="auto",
              cache: bool = True) -> torch.nn.Module:
    """torchvision RAFT (``raft_large`` or ``raft_small``) in eval mode with weights from a file or a state dict.

    ``weights``: a torchvision-format state dict, a path to one (``torch.save``), or ``None`` to read
    :data:`RAFT_WEIGHT_FILES` from the torch hub cache (see :func:`raft_weights_path`). Original
    princeton-vl checkpoints (``raft-things.pth``, keys ``module.fnet...``) are refused with a hint.
    Loaded models are cached per (arch, file, device) unless ``cache=False``.
    """
    from torchvision.models.optical_flow import raft_large, raft_small

    cache = checks.check_bool("cache", cache)
    _check_arch(arch)
    dev = resolve_device(device)
    key = None
    if isinstance(weights, dict):
        state = weights
    else:
        path = raft_weights_path(arch, weights)
        key = (arch, str(path.resolve()), path.stat().st_mtime_ns, str(dev))
        if cache and key in _RAFT_CACHE:
            return _RAFT_CACHE[key]
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # unpickling errors of many kinds (a text file, a safetensors file, a TorchScript archive)
            raise ValueError(f"RAFT weights {str(path)!r} are not a readable torch state dict ({type(exc).__name__}: {str(exc)[:200]}); "
                             f"pass torchvision's {RAFT_WEIGHT_FILES[arch][0]} (a torch.save'd state dict)") from None
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"RAFT weights must be a state dict, got {type(state).__name__}")
    odd = [k for k in state if not isinstance(k, str)]
    if odd:
        raise ValueError(f"RAFT weights must be a state dict of named tensors (str keys), got the key {odd[0]!r}; "
                         f"pass torchvision's {RAFT_WEIGHT_FILES[arch][0]}")
    if any(k.startswith(("module.fnet", "fnet.")) for k in state):
        raise ValueError("these are original princeton-vl RAFT weights (keys 'module.fnet...'); cilnb uses "
                         f"torchvision's port: {RAFT_WEIGHT_FILES[arch][0]}")
    model = (raft_large if arch == "large" else raft_small)(weights=None)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"weights do not fit torchvision raft_{arch} (wrong arch?): {str(exc)[:300]}") from None
    model = model.eval().to(dev)
    if cache and key is not None:
        _RAFT_CACHE[key] = model
    return model


@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module):
    """Eval mode for the duration (BatchNorm on running statistics: batch-independent), restored after."""
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


def _check_raft(model) -> None:
    need = ("feature_encoder", "context_encoder", "corr_block", "update_block", "mask_predictor")
    if not all(hasattr(model, a) for a in need):
        raise ValueError("flow_model must be a torchvision RAFT (torchvision.models.optical_flow.raft_large/raft_small)")


def _coords_grid(n: int, h: int, w: int, device) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    return torch.stack([xs, ys]).float()[None].repeat(n, 1, 1, 1)


def _upsample8(flow: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """RAFT's x8 upsampling: convex combination of the 3x3 coarse neighbours (``mask``), else bilinear."""
    n, c, h, w = flow.shape
    if mask is None:
        return 8 * F.interpolate(flow, size=(8 * h, 8 * w), mode="bilinear", align_corners=True)
    mask = torch.softmax(mask.view(n, 1, 9, 8, 8, h, w), dim=2)
    nb = F.unfold(8 * flow, kernel_size=3, padding=1).view(n, c, 9, 1, 1, h, w)
    up = torch.sum(mask * nb, dim=2)
    return up.permute(0, 1, 4, 2, 5, 3).reshape(n, c, 8 * h, 8 * w)


def _pad8(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Replicate-pad ``[N, C, H, W]`` so H and W are multiples of 8, split evenly (RAFT's InputPadder)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % 8, (-w) % 8
    pads = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    if ph or pw:
        x = F.pad(x, pads, mode="replicate")
    return x, pads


class _SplitGRU:
    """A torchvision ``ConvGRU`` whose convolutions take the context's share precomputed.

    Each gate convolves ``cat([h, context, motion])``; by linearity (zero padding) that is
    ``conv(cat([h, motion]), W_h|m) + conv(context, W_c) + b``, and the context is the same in all
    updates, so its term is computed once. The z and r gates share one convolution (stacked outputs).
    Same function as ``gru(h, cat([context, motion]))`` up to float summation order.
    """

    def __init__(self, gru, context: torch.Tensor, hs: int):
        cc = context.shape[1]
        convs = (gru.convz, gru.convr, gru.convq)
        self.padding = gru.convz.padding
        keep = [torch.cat([c.weight[:, :hs], c.weight[:, hs + cc:]], 1) for c in convs]
        self.w_zr, self.w_q = torch.cat(keep[:2]), keep[2]
        ctx = F.conv2d(context, torch.cat([c.weight[:, hs:hs + cc] for c in convs]),
                       torch.cat([c.bias for c in convs]), padding=self.padding)
        self.ctx_zr, self.ctx_q = ctx.split([2 * hs, hs], 1)

    @staticmethod
    def fits(gru) -> bool:
        convs = [getattr(gru, a, None) for a in ("convz", "convr", "convq")]
        return all(isinstance(c, torch.nn.Conv2d) and c.bias is not None and c.groups == 1 and c.padding_mode == "zeros"
                   and c.stride == (1, 1) and c.dilation == (1, 1) and c.padding == convs[0].padding
                   and c.kernel_size == convs[0].kernel_size for c in convs)

    def __call__(self, h: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        zr = F.conv2d(torch.cat([h, motion], 1), self.w_zr, padding=self.padding).add_(self.ctx_zr).sigmoid_()
        z, r = zr.chunk(2, 1)
        q = F.conv2d(torch.cat([r * h, motion], 1), self.w_q, padding=self.padding).add_(self.ctx_q).tanh_()
        return (1 - z) * h + z * q


class _Update:
    """``update_block(hidden, context, corr, flow)`` with the recurrent block's context terms computed once.

    Falls back to the module's own forward when its recurrent block is not torchvision's ``ConvGRU``
    pair (so a customised RAFT still gets its own update).
    """

    def __init__(self, block, context: torch.Tensor):
        self.block, self.context = block, context
        rb = block.recurrent_block
        grus = [g for g in (getattr(rb, "convgru1", None), getattr(rb, "convgru2", None)) if isinstance(g, torch.nn.Module)]
        self.grus = None
        if grus and all(_SplitGRU.fits(g) for g in grus):
            self.grus = [_SplitGRU(g, context, block.hidden_state_size) for g in grus]

    def __call__(self, hidden, corr, flow):
        if self.grus is None:
            return self.block(hidden, self.context, corr, flow)
        motion = self.block.motion_encoder(flow, corr)
        for gru in self.grus:
            hidden = gru(hidden, motion)
        return hidden, self.block.flow_head(hidden)


def raft_flow(model, frames: torch.Tensor, i1: torch.Tensor, i2: torch.Tensor,
              num_flow_updates: int = 20) -> torch.Tensor:
    """RAFT flow ``frames[i1] -> frames[i2]`` for many pairs in one batch; frames ``[N, C, H, W]`` in [0, 1].

    Equals ``model(2 x - 1, ...)[-1]`` of torchvision's forward pair by pair (float tolerance), but each
    frame goes through the feature encoder once however many pairs use it, the context features'
    share of the recurrent unit's convolutions is computed once instead of in every update (a third of
    its multiply-adds for raft_large), and the flow is upsampled only after the last update
    (torchvision upsamples after every one). H and W are replicate-padded to
    multiples of 8 (evenly on both sides) and the flow is cropped back; padded sizes below 128 px are
    refused (RAFT's 4-level correlation pyramid needs feature maps of at least 16 px).
    """
    _check_raft(model)
    x = _videos.to_rgb(frames) * 2.0 - 1.0
    h, w = x.shape[-2:]
    x, (pl, pr, pt, pb) = _pad8(x)
    H, W = x.shape[-2:]
    if min(H, W) < 128:
        raise ValueError(f"RAFT needs frames of at least 128x128 after padding, got {h}x{w}: pass a larger "
                         "resize=(H, W) (the SVD protocol uses (450, 800)) or use method='farneback'")
    fmaps = model.feature_encoder(x)
    f1, f2 = fmaps[i1], fmaps[i2]
    model.corr_block.build_pyramid(f1, f2)
    ctx = model.context_encoder(x[i1])
    hs = model.update_block.hidden_state_size
    hidden, context = torch.split(ctx, [hs, ctx.shape[1] - hs], dim=1)
    hidden, context = torch.tanh(hidden), F.relu(context)
    n, _, hh, ww = f1.shape
    coords0 = _coords_grid(n, hh, ww, x.device)
    coords1 = coords0.clone()
    update = _Update(model.update_block, context)
    # cuDNN's grid sampler refuses batches of many pairs (CUDNN_STATUS_NOT_SUPPORTED at 64 pairs of 450x800: one
    # row per pixel of the 1/8 grid, 358k rows, seen on an H200); PyTorch's own CUDA kernel takes any batch
    def no_cudnn():
        return torch.backends.cudnn.flags(enabled=False) if x.is_cuda else contextlib.nullcontext()

    for _ in range(int(num_flow_updates)):
        with no_cudnn():
            corr = model.corr_block.index_pyramid(centroids_coords=coords1)
        hidden, delta = update(hidden, corr, coords1 - coords0)
        coords1 = coords1 + delta
    mask = None if model.mask_predictor is None else model.mask_predictor(hidden)
    flow = _upsample8(coords1 - coords0, mask)
    model.corr_block.corr_pyramid = [torch.tensor(0)]  # free the correlation volume
    return flow[:, :, pt:pt + h, pl:pl + w]


def farneback_flow(frames: torch.Tensor, i1: torch.Tensor, i2: torch.Tensor, params: dict | None = None) -> torch.Tensor:
    """OpenCV Farneback flow ``frames[i1] -> frames[i2]``, pair by pair, on the luma in [0, 255] (float32)."""
    import cv2

    p = dict(FARNEBACK_DEFAULTS)
    if params:
        check_farneback_params(params)
        p.update(params)
    gray = (_videos.to_gray(frames.detach().float().cpu()) * 255.0).numpy().astype(np.float32)  # detach: videos that need grad
    out = np.empty((len(i1), 2, *gray.shape[-2:]), dtype=np.float32)
    for k, (a, b) in enumerate(zip(i1.tolist(), i2.tolist())):
        flow = cv2.calcOpticalFlowFarneback(gray[a], gray[b], None, p["pyr_scale"], p["levels"], p["winsize"],
                                            p["iterations"], p["poly_n"], p["poly_sigma"], p["flags"])
        out[k] = flow.transpose(2, 0, 1)
    return torch.from_numpy(out)


_FARNEBACK_INTS = ("levels", "winsize", "iterations", "poly_n", "flags")
_C_INT_MAX = 2**31 - 1  # OpenCV takes C ints
_FARNEBACK_FLAGS = (0, 256)  # none, cv2.OPTFLOW_FARNEBACK_GAUSSIAN
#: The largest Farneback window and iteration count taken: OpenCV's time per pair grows linearly with both (winsize
#: 10**9 or iterations 2**31 - 1 ran for hours on a 16x16 pair), far beyond any use (OpenCV's example: 15 and 3).
FARNEBACK_MAX = {"winsize": 4095, "iterations": 1000}


def check_farneback_params(params) -> None:
    """Raise a clear error unless ``params`` is ``None`` or a dict of :data:`FARNEBACK_DEFAULTS` keys with values
    of OpenCV's types (ints for ``levels, winsize, iterations, poly_n, flags``, real numbers for the rest)."""
    if params is None:
        return
    if not isinstance(params, Mapping):
        raise checks.InputTypeError(f"farneback_params must be a dict such as {{'levels': 3}} (keys {sorted(FARNEBACK_DEFAULTS)}), "
                                    f"got {type(params).__name__}")
    unknown = set(params) - set(FARNEBACK_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown farneback_params {sorted(unknown, key=str)}; known: {sorted(FARNEBACK_DEFAULTS)}")
    for k, v in params.items():
        if k in _FARNEBACK_INTS:
            # levels 0 is one pyramid level; a 0 window, neighbourhood or iteration count gives NaN or all-zero flow
            n = checks.check_int(f"farneback_params[{k!r}]", v, min=0 if k in ("levels", "flags") else 1,
                                 fix="(cv2.calcOpticalFlowFarneback takes an int)")
            if n > _C_INT_MAX:
                raise ValueError(f"farneback_params[{k!r}]={n} does not fit OpenCV's C int (at most {_C_INT_MAX}); "
                                 f"the default is {FARNEBACK_DEFAULTS[k]}")
            if n > FARNEBACK_MAX.get(k, _C_INT_MAX):
                raise ValueError(f"farneback_params[{k!r}]={n} is beyond any use (at most {FARNEBACK_MAX[k]}; OpenCV's time per "
                                 f"frame pair grows with it, hours at this value): the default is {FARNEBACK_DEFAULTS[k]}")
        else:
            checks.check_number(f"farneback_params[{k!r}]", v, lo=0, lo_open=True, fix="(cv2.calcOpticalFlowFarneback takes a number)")
    if "pyr_scale" in params and not float(params["pyr_scale"]) < 1:
        raise ValueError(f"farneback_params['pyr_scale'] must be < 1 (each pyramid level is this times smaller; 0.5 is the usual), "
                         f"got {params['pyr_scale']!r}")
    if "flags" in params and int(params["flags"]) not in _FARNEBACK_FLAGS:
        raise ValueError(f"farneback_params['flags'] must be 0 or 256 (cv2.OPTFLOW_FARNEBACK_GAUSSIAN); "
                         f"cv2.OPTFLOW_USE_INITIAL_FLOW (4) needs an initial flow, which the metrics never pass; got {params['flags']!r}")


class FlowEngine:
    """One configured flow method; ``engine(frames, i1, i2)`` returns ``[len(i1), 2, H, W]``."""

    def __init__(self, method: str = "raft", *, arch: str = "large", weights=None, flow_model=None,
                 num_flow_updates: int = 20, farneback_params: dict | None = None, device="auto", batch_size=None):
        if not isinstance(method, str) or method not in ("raft", "farneback"):
            raise ValueError(f"method must be 'raft' or 'farneback', got {method!r}")
        num_flow_updates = checks.check_int("num_flow_updates", num_flow_updates, min=1, fix="(RAFT's refinement iterations; 20 is the original)")
        _check_arch(arch)  # a RAFT option, but a typo is refused with any method
        check_device(device)  # unknown devices are refused with any method (Farneback runs on the CPU)
        batch_size = pairs_per_batch(batch_size) if batch_size is not None else None  # checked before any weights are read
        check_farneback_params(farneback_params)
        self.method, self.num_flow_updates, self.farneback_params = method, num_flow_updates, farneback_params
        self.batch_size = batch_size
        self.device = resolve_device(device) if method == "raft" else torch.device("cpu")
        self.model = None
        if method == "raft":
            if flow_model is not None:
                _check_raft(flow_model)
                self.model = flow_model.to(self.device)
            else:
                self.model = load_raft(arch, weights, self.device)
        elif flow_model is not None or weights not in (None, ""):
            raise ValueError("flow_model/weights are RAFT options; method='farneback' takes farneback_params")

    def context(self):
        """Eval mode + inference mode for RAFT (restores the model's training flag after)."""
        if self.model is None:
            return contextlib.nullcontext()
        stack = contextlib.ExitStack()
        stack.enter_context(_eval_mode(self.model))
        stack.enter_context(torch.inference_mode())
        return stack

    def pairs_per_batch(self, size) -> int:
        """Pairs per batch at frame ``size``: :func:`pairs_per_batch` of this engine's ``batch_size``, method and device."""
        return pairs_per_batch(self.batch_size, size, self.method, self.device)

    def __call__(self, frames: torch.Tensor, i1: torch.Tensor, i2: torch.Tensor) -> torch.Tensor:
        if self.method == "raft":
            return raft_flow(self.model, frames.to(self.device), i1.to(self.device), i2.to(self.device),
                             self.num_flow_updates)
        return farneback_flow(frames, i1, i2, self.farneback_params)


def optical_flow(image1, image2, method: str = "raft", *, value_range=(0.0, 1.0), resize=None, arch: str = "large",
                 weights=None, flow_model=None, num_flow_updates: int = 20, farneback_params: dict | None = None,
                 batch_size: int | None = None, device="auto", show_progress: bool = False) -> torch.Tensor:
    """Dense flow ``image1 -> image2`` for image batches ``[N, C, H, W]`` (C = 1 or 3); returns ``[N, 2, h, w]``.

    ``resize=(h, w)`` resizes both first (bilinear, antialiased); ``None`` keeps the size. Other
    arguments as in :func:`cilnb.metrics.motion_score`, which notebooks/motion_metrics.ipynb calls.
    """
    show_progress = checks.check_bool("show_progress", show_progress)
    a = _videos.check_images(image1, "image1", value_range)
    b = _videos.check_images(image2, "image2", value_range)
    if a.shape != b.shape:
        raise ValueError(f"image1 {tuple(a.shape)} and image2 {tuple(b.shape)} must have the same shape")
    size = _videos.check_size(resize)
    _videos.check_frames_fit(size, a.shape[1], a.shape[0], f"optical_flow(resize={size})")
    engine = FlowEngine(method, arch=arch, weights=weights, flow_model=flow_model, num_flow_updates=num_flow_updates,
                        farneback_params=farneback_params, device=device, batch_size=batch_size)
    bs = engine.pairs_per_batch(size or a.shape[-2:])
    out = []
    n = a.shape[0]
    with engine.context():
        for lo in progress(range(0, n, bs), disable=not show_progress, desc=f"flow ({method})"):
            hi = min(lo + bs, n)
            x = torch.cat([a[lo:hi], b[lo:hi]])
            x = _videos.resize_frames(_videos.to_unit(x, value_range, engine.device), size)
            k = torch.arange(hi - lo)
            out.append(engine(x, k, k + (hi - lo)).float().cpu())
    return torch.cat(out)


#: Pairs per flow batch when ``batch_size=None``: this many, fewer for RAFT where
#: :func:`pairs_per_batch` says so (CPU pixel budget, GPU free memory).
AUTO_BATCH_PAIRS = 16
#: On CPU, RAFT batches beyond a few pairs at 450x800 were measured slower (the correlation volume,
#: ~170 MB per pair there, and the update activations leave the caches): 7.7 s/pair in batches of 16
#: vs 5.6 s/pair in batches of 4; at 128x224 the batch size changes nothing (benchmarks/README.md).
CPU_BATCH_PIXELS = 2 ** 21


def corr_pyramid_bytes(size) -> int:
    """Bytes of RAFT's float32 correlation pyramid for one pair at frame ``size``: ``(h w)^2`` entries at
    1/8 resolution (``h, w`` = padded size / 8), then 3 levels pooled 2x2 over the second image."""
    h, w = (-(-int(s) // 8) for s in size)
    return int(4 * (h * w) ** 2 * (1 + 1 / 4 + 1 / 16 + 1 / 64))


def pairs_per_batch(batch_size, size=None, method: str = "raft", device="cpu") -> int:
    """Frame pairs per flow batch: ``batch_size`` checked, or with ``None`` :data:`AUTO_BATCH_PAIRS`,
    for RAFT on CPU capped at :data:`CPU_BATCH_PIXELS` padded pixels of frame ``size`` per batch and
    on a GPU so that the batch's correlation pyramids take at most half its free memory (a 1080p pair
    needs 5.6 GB)."""
    if batch_size is None:
        pairs = AUTO_BATCH_PAIRS
        dev = torch.device(device)
        if method == "raft" and size is not None:
            if dev.type == "cpu":
                h, w = (-(-int(s) // 8) * 8 for s in size)
                pairs = min(pairs, CPU_BATCH_PIXELS // (h * w))
            elif dev.type == "cuda":
                free, _ = torch.cuda.mem_get_info(dev)
                pairs = min(pairs, free // 2 // corr_pyramid_bytes(size))
        return max(1, pairs)
    return checks.check_int("batch_size", batch_size, min=1, fix="(pairs per flow batch) or None (automatic)")

"""What every model adapter shares: the denoiser contract plus latent-space helpers, and offline loading.

An adapter is an ``nn.Module`` whose ``forward(x_t, t, **cond)`` follows the contract of
``cilnb.denoiser`` (``x_t: [B, F, C, H, W]`` in the model's sample space, latents for latent
models; ``t: [B]`` normalised; returns ``x0_hat``) and which carries ``schedule``. Latent models
also give ``encode_video`` / ``decode_latents`` (latents *times the VAE scaling factor*, the space
the Analytic-Init statistics live in) and ``prepare_condition`` (images -> the ``cond`` dict, with
``y`` the conditional image in the model's own conditioning space).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

__all__ = ["Adapter", "resolve_pretrained", "WeightsNotFoundError"]

# ``dtype=`` strings every loader accepts (optionally prefixed ``torch.``)
_DTYPES = {
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
}


class WeightsNotFoundError(FileNotFoundError):
    """Raised when model weights are neither a local folder nor in the local Hugging Face cache."""


class Adapter(nn.Module):
    """Base class: subclasses set ``schedule`` and implement ``forward``; latent models add the helpers."""

    schedule = None
    n_frames: int | None = None
    name: str = "adapter"

    def encode_video(self, frames: torch.Tensor) -> torch.Tensor:
        """``[B, F, 3, H, W]`` in [-1, 1] -> latents ``[B, F, C, h, w]`` times the VAE scaling factor."""
        raise NotImplementedError(f"{type(self).__name__} has no VAE (its sample space is the pixel space)")

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`encode_video`: latents ``[B, F, C, h, w]`` -> frames in [-1, 1]."""
        raise NotImplementedError(f"{type(self).__name__} has no VAE (its sample space is the pixel space)")

    def prepare_condition(self, images: torch.Tensor, **kwargs) -> dict:
        """Conditional images ``[B, 3, H, W]`` in [-1, 1] -> the ``cond`` dict for ``forward`` (``y`` plus extras)."""
        return {"y": images}


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
    if _offline():
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


# ----------------------------------------------------------------------------------------------
# helpers shared by the diffusers loaders (svd.py, vp_video.py, cogvideox.py, flow_video.py)
# ----------------------------------------------------------------------------------------------


def _offline() -> bool:
    """cilnb's default: offline (no hub download) unless ``HF_HUB_OFFLINE=0`` is set explicitly."""
    return os.environ.get("HF_HUB_OFFLINE", "1") != "0"


def _torch_dtype(dtype, device, *, cuda_default: torch.dtype = torch.float16) -> torch.dtype:
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


def _from_pretrained(cls, folder, dtype: torch.dtype, **kwargs):
    """``cls.from_pretrained(folder, **kwargs)`` in ``dtype``, offline unless allowed (:func:`_offline`).

    The dtype goes under the keyword this diffusers reads: ``dtype`` where it has it (it deprecated
    ``torch_dtype`` in 2026 and warns on it), ``torch_dtype`` for older releases (which would pass an
    unknown ``dtype`` on unused and load float32)."""
    from diffusers.utils import deprecation_utils

    key = "dtype" if hasattr(deprecation_utils, "_TORCH_DTYPE_DEPRECATION_MESSAGE") else "torch_dtype"
    return cls.from_pretrained(folder, **{key: dtype}, local_files_only=_offline(), **kwargs)


def _looks_like_path(s: str) -> bool:
    return s.startswith(("/", ".", "~")) or "\\" in s or s.count("/") > 1 or (os.sep != "/" and os.sep in s)


def _pipeline_folder(path_or_id, *, what: str, default_id: str, hint: str, marker: str = "model_index.json") -> str:
    """A local diffusers folder for ``path_or_id``, never downloading unless ``HF_HUB_OFFLINE=0``.

    Raises :class:`WeightsNotFoundError` (fast: before diffusers is imported) saying where the
    weights go when the folder is missing, lacks ``marker`` (``model_index.json`` for a pipeline,
    ``config.json`` for one model), or the hub id is not cached.
    """
    if path_or_id is None:
        path_or_id = default_id
    if not isinstance(path_or_id, (str, os.PathLike)):
        raise ValueError(f"{what}: path_or_id must be a folder or a hub id string, got {type(path_or_id).__name__}")
    text = os.fspath(path_or_id)
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
    return folder


# ----------------------------------------------------------------------------------------------
# what the transformer I2V adapters share (CogVideoX, Wan, LTX)
# ----------------------------------------------------------------------------------------------


def _load_pipeline(pipeline_cls, path_or_id, *, what: str, default_id: str, hint: str, device, dtype):
    """``pipeline_cls.from_pretrained`` on a local folder or a cached hub id (:func:`_pipeline_folder`; never a
    hanging download), ``dtype=None`` -> bfloat16 on CUDA, float32 elsewhere; progress bar off, on ``device``."""
    from .._util import resolve_device

    folder = _pipeline_folder(path_or_id, what=what, default_id=default_id, hint=hint)
    dev = resolve_device(device)
    pipe = _from_pretrained(pipeline_cls, folder, _torch_dtype(dtype, dev, cuda_default=torch.bfloat16))
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(dev)


class _TransformerAdapter(Adapter):
    """Device/dtype of ``self.transformer`` and the default-prompt plumbing of the text-conditioned adapters.

    Subclasses set ``self.transformer`` and call :meth:`_setup`; ``encode_prompt(prompt, negative)``
    returns what ``_default_embeds`` caches (the subclass's tuple of text embeddings).
    """

    def _setup(self, pipe, guidance_scale: float, prompt, negative_prompt) -> None:
        self.pipe = pipe  # not an nn.Module: kept as a plain attribute
        self.vae = pipe.vae
        self.guidance_scale = float(guidance_scale)
        self._prompt = (prompt, negative_prompt)
        self._embeds = None

    @property
    def device(self) -> torch.device:
        return next(self.transformer.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return self.transformer.dtype

    def set_prompt(self, prompt: str = "", negative_prompt: str = "") -> None:
        """Default prompt (and negative prompt for CFG), encoded with the pipeline's T5 on first use."""
        self._prompt = (prompt, negative_prompt)
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

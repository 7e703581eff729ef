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
    if os.environ.get("HF_HUB_OFFLINE", "1") != "0":
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

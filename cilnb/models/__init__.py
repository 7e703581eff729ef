"""Every model behind one entry point: ``cilnb.models.load(name, path_or_id, device=..., dtype=...)``.

Each name maps to a loader that returns a model on the denoiser contract of ``cilnb.denoiser``
(``model(x_t [B, F, C, H, W], t [B], **cond) -> x0_hat``, carrying ``.schedule``). Loaders are
imported on first use, so ``import cilnb.models`` never imports diffusers. Weights are never
downloaded behind the user's back: a local folder is used as is, a hub id only when it is already
in the Hugging Face cache (unless ``HF_HUB_OFFLINE=0``); otherwise
:class:`~cilnb.models.base.WeightsNotFoundError` says where to put them. See
``docs/real_models.md``; shown in every notebook through its ``model`` parameter.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

__all__ = ["load", "available", "WeightsNotFoundError"]

# name -> "module:function"; each loader takes (path_or_id, device=..., dtype=..., **kwargs)
_REGISTRY: dict[str, str] = {
    "toy": "cilnb.models.toy:load",
    "svd": "cilnb.models.svd:load",
    "pia": "cilnb.models.vp_video:load_pia",
    "i2vgen-xl": "cilnb.models.vp_video:load_i2vgenxl",
    "cogvideox-i2v": "cilnb.models.cogvideox:load",
    "wan-i2v": "cilnb.models.flow_video:load_wan",
    "ltx-i2v": "cilnb.models.flow_video:load_ltx",
    "generic": "cilnb.models.generic:load",
}


def __getattr__(name: str):
    if name == "WeightsNotFoundError":
        from .base import WeightsNotFoundError

        return WeightsNotFoundError
    raise AttributeError(f"module 'cilnb.models' has no attribute {name!r}")


def available() -> list[str]:
    """The model names :func:`load` accepts (``toy``, ``svd``, ``pia``, ``i2vgen-xl``, ...)."""
    return list(_REGISTRY)


def _canonical(name: str) -> str:
    if not isinstance(name, str):
        raise ValueError(f"model name must be a string, one of {available()}; got {name!r}")
    key = name.strip().lower().replace("_", "-")
    if key not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of {available()} (see docs/real_models.md)")
    return key


def load(name: str, path_or_id: Any = None, device: Any = "auto", dtype: Any = None, **kwargs):
    """Load model ``name`` on the denoiser contract (Eq. 4's ``Xhat_{t->0}`` is one call of it).

    ``path_or_id``: for ``toy`` a checkpoint name (``base``, ``naive``, ``timenoise``) or file; for
    diffusers models a local pipeline folder or a hub id already in the cache (``None``: the
    model's default hub id); for ``generic`` the ``apply_model`` callable (or pass
    ``apply_model=``). ``device="auto"`` picks CUDA when present; ``dtype`` (a ``torch.dtype`` or
    ``"float16"``/``"bfloat16"``/``"float32"``; ``None``: the loader's default, float16 on CUDA for
    SVD/PIA/I2VGen-XL, float32 on CPU) is ignored by ``toy``. Extra ``kwargs`` go to the model's loader. Shown in every notebook.
    """
    key = _canonical(name)
    module_name, fn_name = _REGISTRY[key].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise ValueError(f"model {key!r} is not available in this checkout ({module_name} is missing)") from exc
        raise ValueError(
            f"model {key!r} needs the optional dependency {exc.name!r}: install the models extra "
            "(`pip install -e '.[models]'`, see docs/real_models.md)"
        ) from exc
    fn = getattr(module, fn_name)
    if key == "toy":
        return fn(path_or_id if path_or_id is not None else "base", device=device, **kwargs)
    return fn(path_or_id, device=device, dtype=dtype, **kwargs)


# ----------------------------------------------------------------------------------------------
# helpers shared by the diffusers adapters (private; imported by svd.py and vp_video.py)
# ----------------------------------------------------------------------------------------------

_DTYPES = {
    "float32": "float32", "fp32": "float32", "float": "float32",
    "float16": "float16", "fp16": "float16", "half": "float16",
    "bfloat16": "bfloat16", "bf16": "bfloat16",
}


def _torch_dtype(dtype, device):
    """``None``/``"auto"`` -> float16 on CUDA, float32 elsewhere; strings and ``torch.dtype`` accepted."""
    import torch

    if dtype is None or (isinstance(dtype, str) and dtype == "auto"):
        return torch.float16 if torch.device(device).type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype):
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating dtype, got {dtype}")
        return dtype
    if isinstance(dtype, str) and dtype.lower() in _DTYPES:
        return getattr(torch, _DTYPES[dtype.lower()])
    raise ValueError(f"dtype must be a torch.dtype or one of float32, float16, bfloat16 (or None for auto), got {dtype!r}")


def _looks_like_path(s: str) -> bool:
    return s.startswith(("/", ".", "~")) or "\\" in s or s.count("/") > 1 or (os.sep != "/" and os.sep in s)


def _pipeline_folder(path_or_id, *, what: str, default_id: str, hint: str, marker: str = "model_index.json") -> str:
    """A local diffusers folder for ``path_or_id``, never downloading unless ``HF_HUB_OFFLINE=0``.

    Raises :class:`WeightsNotFoundError` (fast: before diffusers is imported) saying where the
    weights go when the folder is missing, lacks ``marker`` (``model_index.json`` for a pipeline,
    ``config.json`` for one model), or the hub id is not cached.
    """
    from .base import WeightsNotFoundError, resolve_pretrained

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


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "1") != "0"

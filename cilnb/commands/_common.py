"""What several commands share: the model named by ``--model``/``--model-path``/``--device``/``--dtype``."""
from __future__ import annotations

__all__ = ["DTYPES", "load_model"]

# the --dtype values the commands accept ("auto": float16 on CUDA, float32 elsewhere)
DTYPES = ("auto", "float32", "fp32", "float16", "fp16", "bfloat16", "bf16")


def load_model(name: str, model_path: str | None = None, *, device="auto", dtype=None):
    """The model a command's options name, loaded by :func:`cilnb.models.load` (the one loader).

    ``toy`` without a path is the shipped ``base`` checkpoint (a path to a toy checkpoint file works
    too); other names need ``model_path`` (a local pipeline folder or a cached hub id). ``dtype``
    ``None``/``"auto"`` means float16 on CUDA and float32 elsewhere, for every model.
    """
    import torch

    from .. import models
    from .._util import resolve_device

    dev = resolve_device(device)
    if dtype is None or (isinstance(dtype, str) and dtype == "auto"):
        dtype = torch.float16 if dev.type == "cuda" else torch.float32
    elif not isinstance(dtype, torch.dtype) and dtype not in DTYPES:
        raise ValueError(f"dtype must be auto, float32, float16 or bfloat16, got {dtype!r}")
    if name != "toy" and model_path is None:
        raise ValueError(f"--model {name} needs --model-path (a local pipeline folder or a hub id already in the cache)")
    return models.load(name, model_path, device=dev, dtype=dtype)

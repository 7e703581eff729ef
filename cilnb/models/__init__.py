"""Every model behind one entry point: ``cilnb.models.load(name, path_or_id, device=..., dtype=...)``.

Each name maps to a loader that returns a model on the denoiser contract of ``cilnb.denoiser``
(``model(x_t [B, F, C, H, W], t [B], **cond) -> x0_hat``, carrying ``.schedule``): a
:class:`cilnb.models.base.Adapter`, whose one ``forward`` validates, guides and converts for every
model (add a model: subclass it and register its loader here). Loaders are
imported on first use, so ``import cilnb.models`` never imports diffusers. Weights are never
downloaded behind the user's back: a local folder is used as is, a hub id only when it is already
in the Hugging Face cache (unless ``HF_HUB_OFFLINE=0``); otherwise
:class:`~cilnb.models.base.WeightsNotFoundError` says where to put them. See
``docs/real_models.md``; every notebook reaches it through its ``model`` parameter.
"""
from __future__ import annotations

import importlib
import inspect
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


def registry_key(name: str) -> str:
    """A model name as the registry spells it (``" Toy "`` and ``"i2vgen_xl"`` are ``toy`` and ``i2vgen-xl``)."""
    return name.strip().lower().replace("_", "-")


def _canonical(name: str) -> str:
    if not isinstance(name, str):
        from ..checks import InputTypeError

        raise InputTypeError(f"model name must be a string, one of {available()}; got {name!r} ({type(name).__name__})")
    key = registry_key(name)
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
    SVD/PIA/I2VGen-XL, float32 on CPU); for ``toy`` float32 (``None``/``"auto"``) or ``"bfloat16"``
    (:func:`cilnb.models.toy.precision`). Extra ``kwargs`` go to the model's loader. Shown in notebooks/analytic_init.ipynb and notebooks/m_sweep.ipynb.
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
    params = inspect.signature(fn).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - set(params))
        if unknown:  # was the loader's bare "load() got an unexpected keyword argument", naming neither model nor options
            options = [n for n, p in params.items() if n not in ("path_or_id", "name", "device", "dtype")
                       and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
            raise ValueError(f"model {key!r} takes no option(s) {unknown}: its options are {['path_or_id', 'device', 'dtype', *options]} "
                             f"(see help({fn.__module__}.{fn.__name__}))")
    if key == "toy":
        return fn(path_or_id if path_or_id is not None else "base", device=device, dtype=dtype, **kwargs)
    return fn(path_or_id, device=device, dtype=dtype, **kwargs)


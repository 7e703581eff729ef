"""Small shared helpers: devices, seeded generators, validation, atomic writes, progress bars, aliases.

Imports torch only inside the functions that need it, so light modules (the command-line parser,
:mod:`cilnb.io`) can use these helpers without paying for torch.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

if TYPE_CHECKING:
    import torch

__all__ = [
    "resolve_device",
    "model_device_dtype",
    "make_generator",
    "check_finite",
    "atomic_write",
    "progress",
    "repo_root",
    "data_dir",
    "deprecated_module",
]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/``None`` -> CUDA when present, else CPU; anything else is passed to ``torch.device``."""
    import torch

    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} requested but CUDA is not available; use device='cpu' or 'auto'")
    return dev


def make_generator(seed: int | torch.Generator | None, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` from a seed (or the generator itself). ``None`` is refused: pass a seed."""
    import torch

    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:
        raise ValueError("a seed or torch.Generator is required (cilnb never draws from the global RNG)")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int or torch.Generator, got {type(seed).__name__}")
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(int(seed))
    return gen


def model_device_dtype(model) -> tuple[torch.device, torch.dtype]:
    """Device and dtype of a model's first parameter (CPU / float32 for a model without parameters)."""
    import torch

    for p in model.parameters() if hasattr(model, "parameters") else ():
        return p.device, p.dtype
    return torch.device("cpu"), torch.float32


def check_finite(name: str, x: torch.Tensor) -> None:
    """Raise ``ValueError`` naming ``name`` when ``x`` holds NaN or infinity."""
    import torch

    if x.is_floating_point() or x.is_complex():
        bad = ~torch.isfinite(x)
        if bool(bad.any()):
            raise ValueError(f"{name} contains {int(bad.sum())} non-finite value(s) (NaN or inf)")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path``, so readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp_path, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
    return path


def progress(iterable: Iterable, *, disable: bool | None = None, **kwargs):
    """``tqdm.auto`` progress bar; ``disable=None`` hides it when output is not a terminal/notebook."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=disable, **kwargs)


def repo_root() -> Path:
    """The checkout holding ``cilnb/`` (the package is installed editable by ``make``)."""
    return Path(__file__).resolve().parent.parent


def run_root() -> Path:
    """Where notebooks keep their resumable sweeps: ``$CILNB_RUN_DIR`` or ``<repo>/build/runs``."""
    env = os.environ.get("CILNB_RUN_DIR")
    return Path(env) if env else repo_root() / "build" / "runs"


def data_dir() -> Path:
    """Shipped data (checkpoints, statistics): ``$CILNB_DATA_DIR`` or ``<repo>/data``."""
    env = os.environ.get("CILNB_DATA_DIR")
    return Path(env) if env else repo_root() / "data"


def deprecated_module(old: str, renames: Mapping[str, str], default: str) -> Callable[[str], object]:
    """A module ``__getattr__`` that keeps an old module name working as a deprecated alias.

    ``renames`` maps old attribute names to ``"module:name"`` (``name`` may be dotted,
    ``"Class.method"``); any other name is looked up in the module ``default``. Callers outside the ``cilnb`` package (users, notebooks, scripts) get a
    ``DeprecationWarning`` naming the new place; cilnb's own modules that still use the old
    name are served silently.
    """

    def __getattr__(name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        module_name, _, attr = renames.get(name, f"{default}:{name}").partition(":")
        value = importlib.import_module(module_name)
        try:
            for part in attr.split("."):  # "Class.method" reaches into a class
                value = getattr(value, part)
        except AttributeError:
            raise AttributeError(f"module {old!r} has no attribute {name!r}") from None
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller != "cilnb" and not caller.startswith("cilnb."):
            warnings.warn(f"{old}.{name} is deprecated: use {module_name}.{attr}", DeprecationWarning, stacklevel=2)
        return value

    return __getattr__

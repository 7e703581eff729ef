"""Small shared helpers: devices, seeded generators, validation, atomic writes, progress bars."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import torch

__all__ = [
    "resolve_device",
    "make_generator",
    "check_finite",
    "atomic_write",
    "progress",
    "repo_root",
    "data_dir",
]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/``None`` -> CUDA when present, else CPU; anything else is passed to ``torch.device``."""
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} requested but CUDA is not available; use device='cpu' or 'auto'")
    return dev


def make_generator(seed: int | torch.Generator | None, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` from a seed (or the generator itself). ``None`` is refused: pass a seed."""
    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:
        raise ValueError("a seed or torch.Generator is required (cilnb never draws from the global RNG)")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int or torch.Generator, got {type(seed).__name__}")
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(int(seed))
    return gen


def check_finite(name: str, x: torch.Tensor) -> None:
    """Raise ``ValueError`` naming ``name`` when ``x`` holds NaN or infinity."""
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

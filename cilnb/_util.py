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
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

if TYPE_CHECKING:
    import torch

__all__ = [
    "resolve_device",
    "model_device_dtype",
    "make_generator",
    "check_finite",
    "atomic_write",
    "save_safetensors",
    "progress",
    "progress_steps",
    "repo_root",
    "data_dir",
    "deprecated_module",
    "UserError",
    "check_device",
    "check_output_path",
    "clean_tmp_files",
    "JobLock",
    "file_errors",
    "KEEP_HEAP_ENV",
    "keep_heap",
]


def check_device(device, option: str | None = None) -> None:
    """Refuse a device torch does not know with a message naming it (torch's own error names neither the
    argument nor the fix); ``option`` names a command-line option (``"--device"``) in that message."""
    import torch

    if device is None or isinstance(device, torch.device) or (isinstance(device, str) and device == "auto"):
        return
    try:
        torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        if option:
            raise UserError(f"{option} {device} is not a device: use auto, cpu, cuda or cuda:N") from None
        raise ValueError(f"device {device!r} is not a torch device: use 'auto', 'cpu', 'cuda' or 'cuda:N'") from None


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/``None`` -> CUDA when present, else CPU; anything else is passed to ``torch.device``
    (an unknown device is refused by :func:`check_device`)."""
    import torch

    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    check_device(device)
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} requested but CUDA is not available; use device='cpu' or 'auto'")
    return dev


def check_flag(name: str, value, *, allow_none: bool = False):
    """:func:`cilnb.checks.check_bool` without importing torch or numpy for a valid flag (the command line's
    set-up checks run before them): ``True``/``False``, and ``None`` when ``allow_none``; anything else (numpy bools
    too) goes to ``check_bool``."""
    if isinstance(value, bool) or (value is None and allow_none):
        return value
    from .checks import check_bool

    return check_bool(name, value, allow_none=allow_none)  # raises InputTypeError naming the flag


def make_generator(seed: int | torch.Generator | None, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` from a seed (or the generator itself). ``None`` is refused: pass a seed.

    Seeds lie in ``[-2**63, 2**64 - 1]`` (:data:`cilnb.checks.SEED_RANGE`, what torch takes; a negative seed is read
    modulo ``2**64``, so ``-1`` gives the generator of ``2**64 - 1``); others are a ``ValueError`` naming the range."""
    import torch

    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:
        raise ValueError("a seed or torch.Generator is required (cilnb never draws from the global RNG)")
    from .checks import check_seed

    seed = check_seed("seed", seed, fix="or a torch.Generator")  # numpy ints too; bools, floats and strings refused
    if not (isinstance(device, str) and device == "cpu"):
        device = resolve_device(device)  # names an unknown device ("foo" failed inside torch) or CUDA that is not there
    try:
        gen = torch.Generator(device=torch.device(device))
    except RuntimeError as exc:  # a device without random generators ("meta": "META device type not an accelerator")
        raise ValueError(f"device {str(device)!r} cannot hold a torch.Generator ({str(exc).splitlines()[0]}): use 'cpu' or 'cuda'") from None
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


class UserError(ValueError):
    """A user-caused error (bad option, missing or unusable file): the command line prints its message as one line and exits 2."""


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


def _sort_safetensors_metadata(path: Path) -> None:
    """Rewrite the header of the safetensors file at ``path`` with its ``__metadata__`` keys sorted.

    The safetensors library writes the metadata from a Rust hash map, whose order changes from one
    process to the next: the same tensors and metadata gave different bytes (and SHA-256) per run.
    Sorting the keys gives the same bytes. The rewritten header has the same length (the same
    members re-serialised compactly), so it goes back in place; padded with spaces if shorter, as
    the format pads its header; a longer one (never seen) rewrites the whole file.
    """
    import json
    import shutil

    with open(path, "r+b") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n).decode("utf-8"))
        meta = header.pop("__metadata__", None)
        if not meta:
            return
        header = {"__metadata__": dict(sorted(meta.items())), **header}
        new = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if len(new) <= n:
            f.seek(8)
            f.write(new + b" " * (n - len(new)))
            return
        new += b" " * (-len(new) % 8)
        with open(path.with_name(path.name + ".hdr"), "wb") as g:
            g.write(len(new).to_bytes(8, "little") + new)
            shutil.copyfileobj(f, g, 1 << 20)
    os.replace(path.with_name(path.name + ".hdr"), path)


def save_safetensors(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None,
                     *, atomic: bool = True) -> Path:
    """``safetensors.torch.save_file`` that gives the same bytes for the same tensors and metadata in every process
    (metadata keys sorted, :func:`_sort_safetensors_metadata`), written atomically (:func:`atomic_write`) unless
    ``atomic=False`` (a file inside a temporary folder that is renamed as a whole)."""
    from safetensors.torch import save_file

    atomic = check_flag("atomic", atomic)

    def write(p: Path) -> None:
        save_file(dict(tensors), str(p), metadata=None if metadata is None else dict(metadata))
        _sort_safetensors_metadata(Path(p))

    if atomic:
        return atomic_write(path, write)
    write(Path(path))
    return Path(path)


def progress(iterable: Iterable, *, disable: bool | None = None, **kwargs):
    """``tqdm.auto`` progress bar; ``disable=None`` hides it when output is not a terminal/notebook."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=check_flag("disable", disable, allow_none=True), **kwargs)


def _names(arg: str, names, what: str) -> list:
    """``names`` (an iterable of names) as a list; a string (read letter by letter) or a non-iterable is an
    :class:`~cilnb.checks.InputTypeError` naming ``arg`` and ``what`` it must be."""
    if not isinstance(names, (str, bytes)):
        try:
            return list(names)
        except TypeError:
            pass
    from .checks import InputTypeError

    if isinstance(names, (str, bytes)):
        raise InputTypeError(f"{arg} must be {what}, got the string {names!r} (each letter would be a name): pass [{names!r}] for one name")
    raise InputTypeError(f"{arg} must be {what}, got {names!r} ({type(names).__name__})")


@contextlib.contextmanager
def progress_steps(names: Sequence[str], *, disable: bool | None = None, desc: str | None = None):
    """A ``tqdm.auto`` bar over named set-up steps: ``with progress_steps(["model", "data"]) as step: step("model"); ...``.

    Each ``step(name)`` call marks the previous step done and shows ``name`` as the one running,
    so slow set-up (loading a model, reading statistics) shows what it is doing; the bar is
    completed when the block ends (left unfinished on an error). ``disable=True`` shows nothing.
    """
    names = _names("names", names, "a list of step names such as ['model', 'data']")
    bar = progress(None, total=len(names), disable=disable, desc=desc, unit="step")
    started = [0]

    def step(name: str) -> None:
        if started[0]:
            bar.update(1)
        started[0] += 1
        bar.set_postfix_str(str(name), refresh=True)

    try:
        yield step
        if started[0]:
            bar.update(1)
        bar.set_postfix_str("done", refresh=True)
    finally:
        bar.close()


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


# ----------------------------------------------------------------------------------------------
# long jobs: output checks, leftovers of killed runs, one writer per output, file errors
# ----------------------------------------------------------------------------------------------

TMP_SUFFIX = ".tmp"  # atomic_write's temporary files: ``.<name>.<random>.tmp`` beside the target


def check_output_path(path: str | os.PathLike, *, option: str = "--out", folder: bool = False) -> Path:
    """Check, before any work, that ``path`` can be written; raise :class:`UserError` naming ``option`` if not.

    ``folder=False``: ``path`` is a file (it must not be a folder; its folder must be creatable and
    writable). ``folder=True``: ``path`` is a folder (it must not be a file). Nothing is left behind: the
    nearest existing folder is tested by making and removing an empty folder in it.
    """
    folder = check_flag("folder", folder)
    path = Path(path)
    if folder:
        if path.exists() and not path.is_dir():
            raise UserError(f"{option} {path} is a file, not a folder: choose a folder path")
        target = path
    else:
        if path.is_dir():
            raise UserError(f"{option} {path} is a folder: give a file path (e.g. {path / 'out.safetensors'})")
        target = path.parent
    probe = target
    while not probe.exists():  # the nearest existing ancestor decides whether the folders can be made
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UserError(f"{option} {path}: {probe} is a file, so no folder can be made under it; choose another {option}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: {probe} is not writable; choose a writable location for {option}")
    try:  # os.access says yes to root everywhere (/proc, /sys): make and remove an empty folder to be sure
        os.rmdir(tempfile.mkdtemp(prefix=".cilnb-write-check-", dir=probe))
    except OSError as e:
        raise UserError(f"{option} {path}: nothing can be created in {probe} ({e.strerror or e}); "
                        f"choose a writable location for {option}") from None
    return path


def clean_tmp_files(folder: str | os.PathLike, names: Iterable[str] | None = None) -> list[Path]:
    """Remove the temporary files a killed :func:`atomic_write` left in ``folder`` (``.<name>.*.tmp``).

    ``names``: only the leftovers of these target file names (default: every ``.*.tmp``). Returns
    what was removed. Call it at the start of a job that holds the output (see :class:`JobLock`).
    """
    from .checks import check_path

    check_path("folder", folder, "the output folder")  # None failed in pathlib; "" cleaned the working folder
    if names is not None:  # a string was read letter by letter: "ab" removed the leftovers of files named "a" and "b"
        names = _names("names", names, "a list of target file names such as ['stats.safetensors'] (or None for all)")
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    patterns = [f".{n}.*{TMP_SUFFIX}" for n in names] if names is not None else [f".*{TMP_SUFFIX}"]
    for pat in patterns:
        for p in folder.glob(pat):
            if p.is_file():
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
                    removed.append(p)
    return removed


def hashed_seed(text: str) -> int:
    """A 63-bit seed from ``text`` (SHA-256, first 8 bytes little-endian, shifted right by one): independent random
    streams named by their purpose, e.g. a sweep unit's noise (``"<seed>:<image name>"``) or DDIM's fresh noise."""
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


#: glibc ``malloc`` settings, in the environment form that a new process reads at start-up (notebook kernels,
#: ``make lab``): serve every allocation from the heap (no ``mmap`` per large tensor) and give freed memory back to
#: the kernel only when 64 GiB of it lie free at the top. By default each large tensor (an activation of a batch of
#: videos) is ``mmap``-ed and unmapped again, so every network call faults in and zeroes its memory afresh: 20-25 %
#: of the toy's sampling time on the 2-core machine (benchmarks/README.md, "Freed memory kept"). The heap then keeps
#: the process's peak. Results are bit-identical; ``CILNB_KEEP_HEAP=0`` turns it off.
KEEP_HEAP_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 36)}


def _malloc_set(env: Mapping[str, str]) -> bool:
    return "glibc.malloc." in env.get("GLIBC_TUNABLES", "") or any(k.startswith("MALLOC_") and k.endswith("_") for k in env)


def keep_heap_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of :data:`KEEP_HEAP_ENV` to add to ``env`` (default ``os.environ``) for a child process: none
    when ``CILNB_KEEP_HEAP=0``, off Linux, or when ``env`` already tunes glibc's malloc (``MALLOC_*_``,
    ``GLIBC_TUNABLES=glibc.malloc.*``: the user's choice wins)."""
    env = os.environ if env is None else env
    if env.get("CILNB_KEEP_HEAP", "1") == "0" or not sys.platform.startswith("linux") or _malloc_set(env):
        return {}
    return dict(KEEP_HEAP_ENV)


_HEAP_KEPT: bool | None = None


def keep_heap() -> bool:
    """:data:`KEEP_HEAP_ENV` in this running process (``mallopt``; glibc's ``int`` caps the trim threshold at 2 GiB
    here), once per process. ``True`` when in effect (applied now, or read by glibc at start-up from this
    process's environment); ``False`` off glibc, with ``CILNB_KEEP_HEAP=0``, or when the environment tunes malloc
    otherwise (left as the user set it)."""
    global _HEAP_KEPT
    if _HEAP_KEPT is None:
        if not keep_heap_env():  # off, not Linux, or malloc set at start-up: in effect only if set as KEEP_HEAP_ENV
            _HEAP_KEPT = all(os.environ.get(k) == v for k, v in KEEP_HEAP_ENV.items())
        else:
            import ctypes

            try:
                libc = ctypes.CDLL("libc.so.6")
                m_trim_threshold, m_mmap_max = -1, -4  # <malloc.h>
                _HEAP_KEPT = bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))
            except (OSError, AttributeError):  # not glibc (musl)
                _HEAP_KEPT = False
    return _HEAP_KEPT


def _zombie(pid: int) -> bool:
    """Whether process ``pid`` has exited and only waits for its parent to reap it (state ``Z``/``X`` in Linux's
    ``/proc/<pid>/stat``; False where there is no ``/proc``). ``os.kill(pid, 0)`` still succeeds for such a process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return False
    return stat[stat.rfind(")") + 2:][:1] in ("Z", "X")


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs: it exists and has not exited (a killed run not yet reaped is not alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return not _zombie(pid)
    except OSError:
        return False
    return not _zombie(pid)


_HELD_LOCKS: set[str] = set()  # lock files this process holds now


class JobLock:
    """One writer per output: an exclusive lock file (``O_CREAT | O_EXCL``) holding pid, host and start time.

    Stale-lock rule: a lock whose process is gone (same host, pid not alive) or that is older than
    ``stale_hours`` (another host: its pid cannot be checked) is taken over with a warning. A live
    lock raises :class:`UserError` saying who holds it and how to proceed. Use as a context manager.
    """

    def __init__(self, path: str | os.PathLike, what: str, *, stale_hours: float = 24.0):
        from .checks import check_path

        check_path("path", path, "a lock file path")  # None failed in pathlib; "" took over the folder "."
        if isinstance(stale_hours, bool) or not isinstance(stale_hours, (int, float)) or not stale_hours > 0:
            # "1" failed at the first comparison, NaN never let a lock go stale, <= 0 took over live locks of other hosts
            from .checks import check_number

            stale_hours = check_number("stale_hours", stale_hours, lo=0, lo_open=True,
                                       fix="(hours after which a lock of another host counts as abandoned; default 24)")
        self.path, self.what, self.stale_hours = Path(path), what, stale_hours
        self.held = False

    def _info(self) -> dict:
        """The lock's owner ``{"pid", "host", ...}``, or ``{}`` when it is unreadable, empty or not such an object."""
        import json

        try:
            info = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        # a JSON list failed with an AttributeError; a pid of text was taken for a live owner's
        ok = isinstance(info, dict) and type(info.get("pid")) is int and isinstance(info.get("host"), str)
        return info if ok else {}

    def acquire(self) -> "JobLock":
        import json
        import socket
        import time

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # was the bare OSError of a file in the way
            above = next((q for q in self.path.parents if q.exists()), self.path.parent)
            raise UserError(f"cannot lock {self.what}: {above} is a file, so the folder of the lock {self.path} cannot be made; "
                            "choose an output location in a folder") from None
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if self.path.is_dir():  # was "in use by another run (pid None on None)", then a failed unlink of the folder
                    raise UserError(f"cannot lock {self.what}: the lock path {self.path} is a folder, not a lock file; remove it or "
                                    "choose another output") from None
                info = self._info()
                try:
                    age_h = (time.time() - self.path.stat().st_mtime) / 3600
                except FileNotFoundError:
                    continue  # released meanwhile: try again
                pid, host = info.get("pid"), info.get("host")
                same_host = host == me["host"]
                mine_unheld = same_host and pid == me["pid"] and str(self.path.resolve()) not in _HELD_LOCKS  # a copy, or left by this process
                dead = mine_unheld or (same_host and isinstance(pid, int) and not _pid_alive(pid))
                if dead or age_h > self.stale_hours or not info and age_h > 0.01:
                    why = ("left by this process (or a copy of its folder)" if mine_unheld else f"process {pid} is gone" if dead
                           else f"it is {age_h:.1f} h old" if info else "it is unreadable")
                    warnings.warn(f"taking over the stale lock {self.path} ({why})", stacklevel=2)
                    with contextlib.suppress(FileNotFoundError):
                        self.path.unlink()
                    continue
                if not info:  # was "in use by another run (pid None on None, ...)"
                    raise UserError(
                        f"the lock {self.path} of {self.what} names no owner (it is empty, unreadable or corrupt): a run that has just "
                        f"started may still be writing it; retry in a minute, or delete {self.path} if no other run is writing {self.what}"
                    )
                raise UserError(
                    f"{self.what} is in use by another run (pid {pid} on {host}, lock {self.path}): wait for it to finish, "
                    f"use another output, or delete {self.path} if that run is no longer alive"
                )
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(me))
            self.held = True
            _HELD_LOCKS.add(str(self.path.resolve()))
            return self
        raise UserError(f"could not take the lock {self.path}; delete it if no other run is writing {self.what}")

    def release(self) -> None:
        if self.held:
            _HELD_LOCKS.discard(str(self.path.resolve()))
            with contextlib.suppress(FileNotFoundError):
                if self._info().get("pid") == os.getpid():
                    self.path.unlink()
            self.held = False

    def __enter__(self) -> "JobLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


@contextlib.contextmanager
def file_errors(path: str | os.PathLike, what: str, fix: str = ""):
    """Turn a low-level read error of ``path`` (a corrupt or truncated safetensors/JSON file) into a
    :class:`UserError` that names the file, says what it should be, and the ``fix``."""
    import json

    try:
        yield
    except UserError:
        raise
    except (json.JSONDecodeError, UnicodeDecodeError, EOFError) as exc:
        raise UserError(f"{what} {path} is corrupt or truncated ({exc}){'; ' + fix if fix else ''}") from exc
    except Exception as exc:
        if type(exc).__name__ != "SafetensorError":
            raise
        raise UserError(f"{what} {path} is not a readable safetensors file (corrupt or truncated: {exc}){'; ' + fix if fix else ''}") from exc

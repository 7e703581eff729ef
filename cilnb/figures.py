"""Headless figure runner: every notebook in ``notebooks/`` through papermill, one profile.

Profiles: ``default`` runs each notebook with its own parameter defaults; any other profile
(``workshop``: minutes per notebook on a CPU laptop, numbers that still show each effect;
``smoke``: tiny, seconds, numbers meaningless) takes the overrides stored in the notebook's own
metadata under ``metadata.cilnb.profiles.<name>``, so a notebook and its profile parameters never
drift apart and no hand-kept list of notebooks exists. Every run also receives ``fig_dir``,
``interactive=False`` and, where the notebook declares it, ``show_progress=False`` (no progress
bars stored in the executed copies; the runner shows per-cell progress itself). Each notebook's last cell states its verdict on the paper's claim; the
runner collects those into ``<figures>/VERDICTS.md``. At the end it prints each notebook's wall time
and writes them, with the machine's load, to ``<figures>/TIMES.md`` (apart from ``VERDICTS.md``,
which stays deterministic).
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ._util import atomic_write, check_flag, check_output_path, repo_root

__all__ = ["PROFILES", "notebook_paths", "notebook_parameters", "declared_parameters", "run_notebook", "run_all", "NotebookResult",
           "write_times", "previous_seconds", "start_order", "auto_jobs"]

PROFILES = ("default", "workshop", "smoke")  # full evidence; minutes per notebook on a laptop; seconds (CI)


def _opt_path(name: str, path, what: str) -> Path | None:
    """``path`` as a Path, or None when not given; ``""`` (which would silently mean the default) and non-paths are refused."""
    from .checks import check_path

    return None if path is None else check_path(name, path, f"{what}, or None for the default")


def notebook_paths(notebook_dir: str | os.PathLike | None = None) -> list[Path]:
    """All ``*.ipynb`` in ``notebooks/`` (sorted), skipping checkpoints."""
    nb_dir = _opt_path("notebook_dir", notebook_dir, "the folder of the notebooks") or repo_root() / "notebooks"
    paths = sorted(p for p in nb_dir.glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not paths:
        raise FileNotFoundError(f"no notebooks found in {nb_dir}")
    return paths


def _read_notebook(path: str | os.PathLike) -> dict:
    """A notebook's JSON; a corrupt file or one that is no notebook is an error naming it (not a bare JSONDecodeError)."""
    from .checks import check_path

    path = check_path("path", path, "a notebook file (.ipynb)")
    if not path.is_file():
        what = "is a folder, not a notebook file" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"notebook {path} {what}: pass a .ipynb file (the figure notebooks are in {repo_root() / 'notebooks'})")
    try:
        nb = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"notebook {path} is not valid JSON ({exc}): restore it from git or re-save it in Jupyter") from None
    if not isinstance(nb, dict):
        raise ValueError(f"notebook {path} is not a Jupyter notebook (its JSON is a {type(nb).__name__}, not an object)")
    for key, kind in (("metadata", dict), ("cells", list)):
        if not isinstance(nb.get(key, kind()), kind):
            raise ValueError(f"notebook {path} is not a Jupyter notebook: its {key!r} is a {type(nb[key]).__name__}, not a "
                             f"{'JSON object' if kind is dict else 'list'}; restore it from git or re-save it in Jupyter")
    return nb


def _cilnb_meta(path, nb: dict, key: str) -> dict:
    """``metadata.cilnb.<key>`` of a notebook (``{}`` when absent); a malformed entry is an error naming the notebook."""
    meta = nb.get("metadata", {}).get("cilnb", {})
    if not isinstance(meta, dict):
        raise ValueError(f"notebook {path}: metadata.cilnb must be a JSON object, got a {type(meta).__name__}; "
                         "restore the notebook's metadata from git")
    value = meta.get(key, {})
    if not isinstance(value, dict):
        raise ValueError(f"notebook {path}: metadata.cilnb.{key} must be a JSON object {{name: ...}}, got a {type(value).__name__}; "
                         "restore the notebook's metadata from git")
    return value


def notebook_parameters(path: str | os.PathLike, profile: str) -> dict:
    """Parameter overrides for ``path`` under ``profile`` (``{}`` for ``default``)."""
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    if profile == "default":
        return {}
    profiles = _cilnb_meta(path, _read_notebook(path), "profiles")
    if profile not in profiles:
        raise ValueError(f"{Path(path).name} has no '{profile}' profile in metadata.cilnb.profiles")
    if not isinstance(profiles[profile], dict):
        raise ValueError(f"notebook {path}: metadata.cilnb.profiles.{profile} must be a JSON object {{parameter: value}}, got "
                         f"{profiles[profile]!r}; restore the notebook's metadata from git")
    return dict(profiles[profile])


def declared_parameters(path: str | os.PathLike) -> set[str]:
    """Names assigned in the notebook's cell tagged ``parameters`` (``name: type = value`` or ``name = value``)."""
    cells = _read_notebook(path).get("cells", [])
    if not all(isinstance(c, dict) and isinstance(c.get("metadata", {}), dict) for c in cells):
        raise ValueError(f"notebook {path} has a cell that is not a JSON object with a metadata object; restore it from git or "
                         "re-save it in Jupyter")
    src = next(("".join(c.get("source", "")) for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])), "")
    names = set()
    for line in src.splitlines():
        head = line.split("#", 1)[0].split("=", 1)[0].split(":", 1)[0].strip()
        if "=" in line and head.isidentifier():
            names.add(head)
    return names


def _parameter_types(path) -> dict[str, str]:
    """``{name: annotation}`` of the annotated assignments in the notebook's ``parameters`` cell (``n_steps: int = 10``
    gives ``"int"``); an unannotated one (``batch_size = None``) is left out. A cell that does not parse gives ``{}``."""
    import ast

    cells = _read_notebook(path).get("cells", [])
    src = next(("".join(c.get("source", "")) for c in cells
                if isinstance(c, dict) and isinstance(c.get("metadata", {}), dict) and "parameters" in c.get("metadata", {}).get("tags", [])), "")
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return {}
    return {node.target.id: node.annotation.id for node in tree.body
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(node.annotation, ast.Name)}


#: the values papermill writes into a notebook as what they are; anything else (a tuple, a Path, a numpy number) it
#: writes as the *string* of the value, so the notebook would silently get ``"(1.0, 0.5)"`` or ``"0.5"``
_PAPERMILL_TYPES = (type(None), str, bool, int, float, list, dict)
_ANNOTATION_TYPES = {"bool": (bool,), "int": (int,), "float": (int, float), "str": (str,), "list": (list,), "dict": (dict,)}


def _faithful(value) -> bool:
    """Whether papermill writes ``value`` into a notebook as what it is (nested lists and dicts too)."""
    if isinstance(value, (list, dict)):
        items = value.values() if isinstance(value, dict) else value
        return all(_faithful(v) for v in items) and (not isinstance(value, dict) or all(isinstance(k, str) for k in value))
    return isinstance(value, _PAPERMILL_TYPES)


def _check_params(path: Path, params: dict, declared: set[str]) -> None:
    """``run_notebook``'s ``params``: names the notebook declares, of the type its parameters cell annotates, in a form
    papermill passes on as is; ``fig_dir`` and ``interactive`` are the runner's own (its ``fig_dir`` argument)."""
    from .checks import InputTypeError

    for name, value in params.items():
        if not isinstance(name, str):
            raise InputTypeError(f"params keys must be parameter names (str), got {name!r} ({type(name).__name__})")
        if name in ("fig_dir", "interactive"):
            fix = "pass the folder as run_notebook's fig_dir" if name == "fig_dir" else "the runner always runs with interactive=False"
            raise ValueError(f"params[{name!r}] is set by the runner and would be ignored: {fix}, and leave {name!r} out of params")
        if name not in declared:
            raise ValueError(f"params[{name!r}]: {path.name} declares no parameter {name!r} (papermill would add it unused); "
                             f"its parameters are {', '.join(sorted(declared))}")
        kind = _parameter_types(path).get(name)
        ok = _ANNOTATION_TYPES.get(kind, _PAPERMILL_TYPES)
        if not isinstance(value, ok) or (isinstance(value, bool) and bool not in ok) or not _faithful(value):
            want = (f"{'an' if kind == 'int' else 'a'} {kind}" if kind in _ANNOTATION_TYPES else "None, a str, bool, int, float, list or dict")
            nested = isinstance(value, (list, dict)) and isinstance(value, ok)
            if nested:
                want += " of plain values"
            plain = value.item() if type(value).__module__ == "numpy" and callable(getattr(value, "item", None)) else None
            if nested:
                fix = "inside it papermill writes a tuple, a Path or a numpy number as its string: use lists, str and float/int"
            elif isinstance(value, tuple) and kind in ("list", None):
                fix = f"pass a list, {list(value)!r}"
            elif isinstance(plain, ok) and not (isinstance(plain, bool) and bool not in ok):
                fix = f"pass {plain!r} (a plain Python {type(plain).__name__}: .item() of the numpy value)"
            elif isinstance(value, os.PathLike) and kind in ("str", None):
                fix = f"pass str({str(value)!r})"
            else:
                fix = f"pass {want}"
            raise InputTypeError(f"params[{name!r}] must be {want} ({path.name} declares {name}: {kind or 'any'}), got {value!r} "
                                 f"({type(value).__name__}); {fix}")


@dataclass
class NotebookResult:
    name: str
    ok: bool
    seconds: float
    output: Path
    error: str = ""
    verdict: str = ""  # what the notebook's last code cell printed (its verdict on the paper's claim)


def last_cell_text(executed: Path) -> str:
    """The text the last code cell of an executed notebook printed (stdout and text results)."""
    try:
        nb = json.loads(Path(executed).read_text())
    except (OSError, json.JSONDecodeError):
        return ""
    code = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    if not code:
        return ""
    parts = []
    for out in code[-1].get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            parts.append("".join(out.get("text", "")))
        elif out.get("output_type") in ("execute_result", "display_data"):
            parts.append("".join(out.get("data", {}).get("text/plain", "")))
    return "".join(parts).strip()


#: Arguments of every kernel the runner starts: the kernel's own log lines (ipykernel's "running over TCP without
#: encryption" warning for each notebook, "KeyboardInterrupt caught in kernel" when papermill shuts one down)
#: are not the runner's output. A notebook's errors, and a kernel that dies, still reach the summary through papermill.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]


def run_notebook(path: Path, profile: str, fig_dir: Path, out_dir: Path, *, progress: bool = True,
                 params: dict | None = None, dtype: str | None = None) -> NotebookResult:
    """Execute one notebook with papermill; the executed copy goes to ``out_dir``. ``params``
    override the profile's parameters (e.g. ``model="svd"``, ``model_path=...``); ``dtype`` (the runner's
    ``--dtype``) goes to a notebook that declares that parameter."""
    progress = check_flag("progress", progress)
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"params must be a dict of notebook parameters (e.g. {{'model': 'svd'}}), got {type(params).__name__}")
    from .checks import check_path

    path = check_path("path", path, "a notebook file (.ipynb)")
    fig_dir = check_path("fig_dir", fig_dir, "the figure folder")
    out_dir = check_path("out_dir", out_dir, "the folder of the executed copies")
    import papermill as pm

    profile_params = notebook_parameters(path, profile)
    declared = declared_parameters(path)
    if params:
        _check_params(path, params, declared)
    params = {**profile_params, **dict(params or {})}
    params.update(fig_dir=str(fig_dir), interactive=False)
    if "show_progress" in declared:  # no tqdm bars stored in the executed copy
        params.setdefault("show_progress", False)
    if dtype is not None and "dtype" in declared:
        params["dtype"] = dtype
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / path.name
    start = time.perf_counter()
    try:
        pm.execute_notebook(
            str(path),
            str(output),
            parameters=params,
            kernel_name="python3",
            cwd=str(path.parent),
            progress_bar=progress,
            extra_arguments=KERNEL_ARGUMENTS,
        )
    except Exception as exc:  # keep going: report every failure at the end
        msg = str(exc) if exc.__class__.__name__ == "PapermillExecutionError" else traceback.format_exc()
        return NotebookResult(path.stem, False, time.perf_counter() - start, output, msg)
    return NotebookResult(path.stem, True, time.perf_counter() - start, output, verdict=last_cell_text(output))


#: ``--dtype`` values of the runner: the toy's precision in every notebook that declares ``dtype``
#: (:func:`cilnb.models.toy.precision`; ``auto`` is float32, the reference behind RESULTS.md).
DTYPES = ("auto", "float32", "bfloat16")


def _run_title(profile: str, dtype: str | None) -> str:
    """``"default profile"``, or ``"default profile, toy in bfloat16"`` for a run off the float32 reference."""
    return f"{profile} profile" + (f", toy in {dtype}" if dtype not in (None, "auto", "float32") else "")


def write_verdicts(path: Path, profile: str, results: list[NotebookResult], *, keep_others: bool = False,
                   dtype: str | None = None) -> None:
    """``VERDICTS.md``: one section per notebook with what its last cell printed. With ``keep_others``
    (a run of some notebooks only) the sections of notebooks not run this time are kept from the
    existing file of the same profile and precision (``dtype``, named in the title when not float32);
    sections are in notebook-name order."""
    keep_others = check_flag("keep_others", keep_others)
    header = f"# Verdicts ({_run_title(profile, dtype)})"
    sections = {}
    if keep_others and path.is_file():
        old = path.read_text()
        if old.startswith(header + "\n"):
            for block in old.split("\n## ")[1:]:
                name, _, body = block.partition("\n")
                sections[name.strip()] = body.strip("\n")
    for r in results:
        sections[r.name] = "\n".join(["```", r.verdict if r.ok else "FAILED (see the runner's output)", "```"])
    lines = [header, "", "What each notebook's last cell computed; regenerated by `python -m cilnb figures`.", ""]
    for name in sorted(sections):
        lines += [f"## {name}", "", sections[name], ""]
    atomic_write(path, lambda tmp: tmp.write_text("\n".join(lines)))


def machine_load() -> str:
    """``"load 1.23 0.98 0.75 on 2 CPUs"``: the 1/5/15-minute load averages (``uptime``) and the CPU count."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # not available on this platform
        return f"load unknown on {os.cpu_count()} CPUs"
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def write_times(path: Path, profile: str, results: list[NotebookResult], *, load_before: str, load_after: str,
                keep_others: bool = False, wall: float | None = None, jobs: int = 1, dtype: str | None = None) -> None:
    """``TIMES.md``: each notebook's wall time under ``profile`` and the machine's load before and after the
    run (times measured on a loaded machine are not idle times). With ``keep_others`` (a run of some
    notebooks only) the rows of notebooks not run this time are kept from the existing file of the same
    profile. Kept apart from ``VERDICTS.md`` so that file stays deterministic."""
    import datetime

    keep_others = check_flag("keep_others", keep_others)

    header = f"# Notebook times ({_run_title(profile, dtype)})"
    rows: dict[str, str] = {}
    if keep_others and path.is_file():
        old = path.read_text()
        if old.startswith(header + "\n"):
            for line in old.splitlines():
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if len(cells) == 4 and cells[0] not in ("notebook", "---", "total") and not cells[0].startswith("-"):
                    if _times_row(line) is None:  # edited by hand: its seconds are no number (the total below needs them)
                        import warnings

                        warnings.warn(f"{path}: the row of {cells[0]} has no time in seconds ({cells[1]!r}) and is dropped; "
                                      f"rerun that notebook (--only {cells[0]}) to record its time again", stacklevel=2)
                        continue
                    rows[cells[0]] = line
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    for r in results:
        rows[r.name] = f"| {r.name} | {r.seconds:.1f} | {'ok' if r.ok else 'FAILED'} | {stamp}, {load_before} -> {load_after} |"
    total = sum(float(line.split("|")[2]) for line in rows.values())
    lines = [header, "", "Wall time of each notebook in the last `python -m cilnb figures` run (papermill, kernel start included) and",
             "the machine's load averages (1/5/15 min) before and after it: a loaded machine gives longer times.", "",
             "| notebook | seconds | status | when, load |", "|---|---|---|---|"]
    lines += [rows[k] for k in sorted(rows)]
    lines += [f"| total | {total:.1f} | | |", ""]
    if wall is not None:
        lines += [f"Wall clock of this run: {wall:.1f} s, {jobs} notebook(s) at a time ({stamp}).", ""]
    atomic_write(path, lambda tmp: tmp.write_text("\n".join(lines)))


def previous_seconds(path: Path, profile: str) -> dict[str, float]:
    """Each notebook's seconds in an existing ``TIMES.md`` of ``profile`` (empty when there is none)."""
    out: dict[str, float] = {}
    if not path.is_file() or not path.read_text().startswith(f"# Notebook times ({profile} profile)\n"):
        return out
    for line in path.read_text().splitlines():
        row = _times_row(line)  # a time edited by hand into nan or -1 would put the notebook at a random place in the order
        if row is not None:
            out[row[0]] = row[1]
    return out


def _repeated(values) -> list:
    """:func:`cilnb.checks.repeated` (imported when needed: the command line's checks run before numpy and torch)."""
    from .checks import repeated

    return repeated(values)


def _check_outside_notebooks(nb_dir: Path, folder: Path, option: str, what: str) -> None:
    """``folder`` (where the runner writes) must not be the notebooks' own folder nor inside it: the executed copies
    would overwrite the notebooks themselves, and figures, ``VERDICTS.md`` and ``TIMES.md`` would be mixed into the
    sources."""
    nb_dir, target = Path(nb_dir).resolve(), Path(folder).expanduser().resolve()
    if target == nb_dir or nb_dir in target.parents:
        where = "is the notebooks' own folder" if target == nb_dir else f"is inside the notebooks' folder {nb_dir}"
        harm = ("the executed copies would overwrite the notebooks" if option == "executed_dir"
                else "its figures, VERDICTS.md and TIMES.md would be mixed into the notebooks")
        raise ValueError(f"{option} {folder} {where}: {harm}; choose {what} outside {nb_dir} "
                         f"(default: {repo_root() / ('build/executed' if option == 'executed_dir' else 'figures')})")


def _times_row(line: str) -> tuple[str, float] | None:
    """``(notebook, seconds)`` of a notebook row of ``TIMES.md`` (``| name | 12.3 | ok | when, load |``); None for the header,
    the total and any line that is not such a row (a row edited by hand whose seconds are not a finite number >= 0)."""
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) != 4 or cells[0] in ("notebook", "total", "") or cells[0].startswith("-"):
        return None
    try:
        seconds = float(cells[1])
    except ValueError:
        return None
    return (cells[0], seconds) if math.isfinite(seconds) and seconds >= 0 else None


def _gpu_present() -> bool:
    """Whether the notebooks' ``device="auto"`` will pick a CUDA GPU."""
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # no usable torch build: the notebooks will say so themselves
        return False


def auto_jobs() -> int:
    """Notebooks to run at once when the user does not say (``--jobs auto``, ``make figures``'s default).

    CPU only: 2 on a machine with 2 or more CPUs, else 1. Measured on the idle 2-core machine, same state, fresh
    run stores (2026-11-30): the workshop profile took 479 s wall one at a time and 347 s two at a time (1.38x):
    the toy's forward gains less from a second thread than a second notebook does, and kernel starts, plots and
    read-outs overlap. More than 2 was not measured on a CPU, so it is not guessed.
    With a CUDA GPU: ``min(6, cpus // 2)`` (at least 1). The forward passes go to the GPU, and what is left per
    notebook is kernel start, imports and CPU read-outs, which overlap. Measured on one H200 with 16 CPUs
    (2026-11-30): 6 at a time ran the default profile in 58.9 s wall (292 s of notebook time); other counts
    were not measured there."""
    cpus = os.cpu_count() or 1
    if _gpu_present():
        return max(1, min(6, cpus // 2))
    return 2 if cpus >= 2 else 1


def start_order(paths: list[Path], profile: str, times_md: Path) -> list[Path]:
    """``paths`` longest first, for running several at once: each notebook's seconds in ``times_md`` (the
    previous run's ``TIMES.md`` of ``profile``) or its ``metadata.cilnb.seconds[profile]`` (a measured
    time shipped with the notebook, so a fresh clone does not start the longest one last), the larger of
    the two: a notebook re-run alone from its stored samples (seconds) must not be started last in the next
    run from empty stores (minutes). Notebooks with neither start first."""
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    before = previous_seconds(times_md, profile)

    def seconds(p: Path) -> float:
        shipped = _cilnb_meta(p, _read_notebook(p), "seconds").get(profile)
        known = [before[p.stem]] if p.stem in before else []
        if isinstance(shipped, (int, float)) and not isinstance(shipped, bool) and math.isfinite(shipped) and shipped >= 0:
            known.append(float(shipped))
        return max(known) if known else float("inf")

    return sorted(paths, key=lambda p: -seconds(p))


def _kernel_env(threads: int | None = None):
    """Environment of the kernels started while it is active: glibc's malloc keeps freed memory
    (:data:`cilnb._util.KEEP_HEAP_ENV`: 1.3x faster toy sampling, bit-identical) and, when given, ``threads`` math
    threads each."""
    import contextlib

    from ._util import keep_heap_env

    @contextlib.contextmanager
    def cm():
        new = keep_heap_env()
        if threads is not None:
            new.update({k: str(threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")})
        saved = {k: os.environ.get(k) for k in new}
        os.environ.update(new)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return cm()


def _run_reporting(p: Path, profile: str, fig_dir: Path, executed: Path, progress: bool, dtype: str | None = None) -> NotebookResult:
    """:func:`run_notebook` between a start and an end line (module level: it runs in worker processes too); ``dtype``
    goes to the notebooks that declare that parameter."""
    print(f"[cilnb figures] {p.name} ({profile}) ...", flush=True)
    res = run_notebook(p, profile, fig_dir, executed, progress=progress, dtype=dtype)
    print(f"[cilnb figures] {p.name}: {'ok' if res.ok else 'FAILED'} in {res.seconds:.1f}s", flush=True)
    return res


def run_all(
    profile: str = "default",
    only: list[str] | None = None,
    out: str | os.PathLike | None = None,
    notebook_dir: str | os.PathLike | None = None,
    executed_dir: str | os.PathLike | None = None,
    progress: bool = True,
    jobs: int | str = 1,
    dtype: str | None = None,
) -> list[NotebookResult]:
    """Run every notebook (or those named in ``only``), print a summary, return the results.

    ``jobs`` > 1 (or ``"auto"``: :func:`auto_jobs`) runs that many notebooks at once, each kernel with ``cpu_count // jobs`` math
    threads (``OMP_NUM_THREADS``), longest first (:func:`start_order`); on a
    CPU the toy's forward gains less from a second thread than a second notebook does. Notebooks
    that share a run store are safe together (its lock). Results are reported in notebook order.
    ``dtype`` (one of :data:`DTYPES`; ``None``: each notebook's own, ``auto``) is the toy's precision in every notebook
    with a ``dtype`` parameter; a run in bfloat16 says so in the titles of ``VERDICTS.md`` and ``TIMES.md``."""
    progress = check_flag("progress", progress)
    if dtype is not None and dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES} (the toy's precision), got {dtype!r}")
    if jobs == "auto":
        jobs = auto_jobs()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be 'auto' or a positive int (notebooks run at once), got {jobs!r}")
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    if isinstance(only, (str, os.PathLike)):
        raise TypeError(f"only must be a list of notebook names, got the single name {str(only)!r}: pass [{str(only)!r}]")
    if only is not None:
        from .checks import InputTypeError

        if isinstance(only, Mapping) or not isinstance(only, Iterable):  # list(3.0) was "'float' object is not iterable"
            raise InputTypeError(f"only (--only) must be a list of notebook names such as ['explore'], got {only!r} ({type(only).__name__})")
        only = list(only)
        if not only:
            raise ValueError("only=[] names no notebook: pass the notebooks to run, or only=None for all of them")
        bad = [n for n in only if not isinstance(n, (str, os.PathLike)) or not str(n).strip()]
        if bad:
            raise InputTypeError(f"only (--only) must list notebook names such as 'explore', got {bad[0]!r} ({type(bad[0]).__name__})")
    out = _opt_path("out", out, "the figure folder (--out)")  # "" would silently be <repo>/figures
    executed_dir = _opt_path("executed_dir", executed_dir, "the folder of the executed notebooks")
    fig_dir = Path(out).expanduser().resolve() if out else repo_root() / "figures"  # --out=~/figs: bash leaves the ~ to us
    executed = Path(executed_dir).resolve() if executed_dir else repo_root() / "build" / "executed" / profile
    check_output_path(fig_dir, option="--out", folder=True)  # before minutes of notebooks, not after
    check_output_path(executed, option="executed_dir", folder=True)
    paths = notebook_paths(notebook_dir)
    _check_outside_notebooks(paths[0].parent, fig_dir, "out (--out)", "the figure folder")
    _check_outside_notebooks(paths[0].parent, executed, "executed_dir", "the folder of the executed copies")
    if only:
        # "explore", "explore.ipynb" or "notebooks/explore.ipynb"; another suffix ("explore.py") is no notebook name
        named = [Path(n).stem if Path(n).suffix == ".ipynb" else Path(n).name for n in only]
        twice = _repeated(named)
        if twice:  # the notebook would run once, the repetition silently dropped
            raise ValueError(f"only (--only) names the notebook(s) {', '.join(twice)} more than once ({' '.join(map(str, only))}): "
                             "name each notebook once")
        wanted = set(named)
        unknown = wanted - {p.stem for p in paths}
        if unknown:
            raise ValueError(f"unknown notebook(s) {sorted(unknown)} in only (--only); available: {[p.stem for p in paths]}")
        paths = [p for p in paths if p.stem in wanted]
    lacking = []
    for p in paths:  # fail fast on a bad profile before spending minutes
        try:
            notebook_parameters(p, profile)
        except ValueError as exc:
            if not str(exc).startswith(f"{p.name} has no '{profile}' profile"):
                raise
            lacking.append(p.stem)
    if lacking:  # a profile only some notebooks have: name them all, and what runs instead
        having = [p.stem for p in paths if p.stem not in lacking]
        run_others = f"run the others alone (--only {' '.join(having)}), " if having else ""
        raise ValueError(f"--profile {profile}: {', '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} no '{profile}' profile in "
                         f"metadata.cilnb.profiles: add one to {'that notebook' if len(lacking) == 1 else 'those notebooks'}, "
                         f"{run_others}or use --profile default (each notebook's own defaults)")
    fig_dir.mkdir(parents=True, exist_ok=True)
    load_before = machine_load()
    jobs = min(jobs, len(paths)) or 1
    wall0 = time.perf_counter()

    if jobs == 1:
        with _kernel_env():
            results = [_run_reporting(p, profile, fig_dir, executed, progress, dtype) for p in paths]
    else:  # processes, not threads: papermill changes the working directory of the process that runs it
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        order = start_order(paths, profile, fig_dir / "TIMES.md")
        with _kernel_env(max(1, (os.cpu_count() or 1) // jobs)), \
                ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {p: pool.submit(_run_reporting, p, profile, fig_dir, executed, False, dtype) for p in order}
            results = [futures[p].result() for p in paths]
    load_after = machine_load()
    wall = time.perf_counter() - wall0
    print(f"\nSummary ({_run_title(profile, dtype)}, {jobs} at a time; {load_before} before, {load_after} after)")
    for r in results:
        print(f"  {'ok    ' if r.ok else 'FAILED'} {r.name:<28} {r.seconds:7.1f}s  -> {r.output}")
    print(f"  {'':6} {'total':<28} {sum(r.seconds for r in results):7.1f}s (wall clock {wall:.1f}s)")
    failed = [r for r in results if not r.ok]
    write_verdicts(fig_dir / "VERDICTS.md", profile, results, keep_others=bool(only), dtype=dtype)
    write_times(fig_dir / "TIMES.md", profile, results, load_before=load_before, load_after=load_after, keep_others=bool(only),
                wall=wall, jobs=jobs, dtype=dtype)
    for r in failed:
        print(f"\n--- {r.name} failed ---\n{r.error}", file=sys.stderr)
    print(f"\nfigures, VERDICTS.md and TIMES.md in {fig_dir}; {len(results) - len(failed)} ok, {len(failed)} failed")
    return results

"""The resumable sample-run store: M values x init modes x seeds x images, data-parallel (Alg. 1).

:func:`run_sweep` (``python -m cilnb sample --model toy --images toy:16 --M 1.0 0.96 0.92 --init
standard analytic --seeds 0 1 2 --n-steps 50 --stats FILE --out DIR``, :mod:`cilnb.commands.sample`;
the conditional images are a :class:`cilnb.io.ImageSet`) runs every *unit* ``(M, init, seed, image)``
of the grid through :func:`cilnb.sampling.sample`; units sharing ``(M, init)`` are batched into
one call (per-sample seeds make every video independent of the other units in its batch). The
batches are fixed by the grid and ``batch_size`` (:func:`canonical_batches`): a resumed or
data-parallel run computes every unit in the batch an uninterrupted single run would, so its
video is bit-identical (CPU kernels can round differently at another batch size, ~1e-6). A unit
with seed ``s`` and image ``n`` draws its initial noise from a seed hashed from ``(s, n)``
(:attr:`Unit.noise_seed`): images get independent noise, and the cells of one image and seed are
paired (``standard`` and ``analytic``, every ``M``, start from the same ``N(0, I)`` draw).

Outputs under ``DIR``:

- ``sweep.json``: the settings that change results (model, the SHA-256 of its weights, steps, sampler,
  statistics file hash, frames, conditioning, images); a rerun with other settings is refused (a model
  retrained under the same name or path too; stores written before the weights' digest still resume).
- ``videos/<unit>.safetensors``: one file per finished unit, written atomically: ``video``
  ``[F, C, H, W]`` in ``[-1, 1]`` (float32; float16 for latent models, decoded by the VAE) and,
  for latent models, ``latents`` (float32, the sampler's output); metadata says the unit.
  ``--mp4`` adds ``videos/<unit>.mp4`` previews.
- ``results/rank<r>.jsonl``: one JSON row per finished unit, appended after its video file (one
  ``write`` + ``fsync`` per batch; a torn last line from a killed run is ignored).
- ``results.csv``: all rows merged and sorted, rewritten atomically at the end of every run.

Columns: ``unit, M, init, seed, image, image_index, start`` (normalised M), ``start_native``
(sigma_M / timestep), ``n_steps, sampler, frame_diff`` (mean over frame pairs of the mean
absolute difference of consecutive frames, in ``[-1, 1]`` units: a cheap, model-free motion
proxy), ``align_psnr`` (PSNR in dB of generated frame 0 to the conditional image, data range 2:
image alignment), ``motion_score`` and ``motion_method`` (:func:`cilnb.metrics.motion_score` with
``method="farneback"`` by default, SVD protocol: frames resized to 450x800, spatial mean flow
magnitude summed over pairs; ``--motion-method none`` leaves them out), ``sprite_speed`` and
``input_speed`` (``--images toy:N`` only: tracked sprite speed of the sample and the ground-truth
speed of the source video, px/frame), ``seconds`` (the batch's time per unit), ``rank``, ``file``.

Resume: a unit is done when its row is in a ``results/*.jsonl`` file *and* its video exists; a
batch with an unfinished unit is recomputed whole, and only its missing videos are written; a
batch whose videos all exist but some rows do not (killed between the two writes) gets its rows
from the stored videos without resampling. ``sweep.json`` of a folder without finished units
(a start that failed before its first unit) is replaced by the new settings; with finished
units it must match. Sampled videos holding NaN/inf are refused before anything is written.
One run per folder: ``sample.lock`` (pid, host; ``sample.rank<r>.lock`` for other ranks) refuses
a second concurrent run and is taken over when its process is gone; temporary files of a killed
run are removed at start. Data parallel: under ``torchrun``/``accelerate launch`` (``WORLD_SIZE > 1``) every
rank scans the same finished units, then takes ``batches[rank::world]`` of the canonical batches
with unfinished units, writes only its own
``rank<r>.jsonl``, and rank 0 merges ``results.csv`` after a barrier (gloo process group: only
barriers, no tensors, so it works for CPU and GPU runs alike). Shown in ``docs/at_scale.md``.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ._util import hashed_seed
from .io import ImageSet, write_mp4

__all__ = ["Unit", "SweepResult", "grid_units", "canonical_batches", "run_sweep", "read_rows", "frame_diff", "align_psnr", "INITS", "check_inits", "NOISE_RULE",
           "weights_digest", "default_run_dir", "file_digest"]

INITS = ("standard", "analytic")


def check_inits(inits, *, fix: str = "the initial noises, e.g. ['standard', 'analytic']") -> list[str]:
    """``inits`` as a list of init modes, each one of :data:`INITS`; ``fix`` says how to pass them (a string was searched
    by substring, anything else read as "no Analytic-Init")."""
    from . import checks

    inits = checks.check_sequence("inits", inits, fix=fix)
    bad = [i for i in inits if not isinstance(i, str) or i not in INITS]
    if bad:
        raise ValueError(f"inits must list init modes among {list(INITS)}, got {bad[0]!r} in {inits!r}")
    return inits
SWEEP_FORMAT = "cilnb.sweep"
NOISE_RULE = "sha256(seed:image name)"  # how a unit's noise is seeded (Unit.noise_seed); sweeps before it used the bare seed


# ----------------------------------------------------------------------------------------------
# run folders: which weights and settings made them
# ----------------------------------------------------------------------------------------------


def tensors_digest(named, *, shapes: bool = True) -> str:
    """SHA-256 over ``(name, value)`` pairs in the order given: each name, the tensor's shape (``shapes``) and its
    bytes, or ``repr`` of a value that is not a tensor."""
    import torch

    from .checks import check_bool

    shapes = check_bool("shapes", shapes)

    h = hashlib.sha256()
    for name, v in named:
        h.update(name.encode())
        if torch.is_tensor(v):
            if shapes:
                h.update(str(tuple(v.shape)).encode())
            h.update(v.detach().to("cpu").contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        else:
            h.update(repr(v).encode())
    return h.hexdigest()


def weights_digest(model) -> str:
    """SHA-256 of a model's parameters and buffers (names, shapes and values): which weights made a result."""
    if not callable(getattr(model, "state_dict", None)):
        from .checks import InputTypeError

        raise InputTypeError(f"model must be a torch model with weights (e.g. cilnb.models.load('toy')), got {type(model).__name__}")
    return tensors_digest(sorted(model.state_dict().items()))


def _guidance_key(model) -> str:
    g = getattr(model, "guidance", None)
    if hasattr(g, "tolist"):
        g = g.tolist()
    return repr(g)


def default_run_dir(kind: str, label: str, model, *, root=None, **settings) -> Path:
    """``<root>/<kind>_<label>_<hash>`` (``root`` default :func:`cilnb._util.run_root`: ``$CILNB_RUN_DIR`` or
    ``<repo>/build/runs``): the hash covers the weights and the settings a sweep cannot change on
    resume, so a retrained model or other settings never reuse stale videos."""
    from ._util import run_root

    for name, value in (("kind", kind), ("label", label)):  # the folder's name: no path separators, no '' or '..'
        if not isinstance(value, str) or not value.strip() or "/" in value or "\\" in value or value in (".", ".."):
            raise ValueError(f"{name} must be a plain name for the run folder such as 'samples' or 'base' (no path separators), "
                             f"got {value!r}")
    if root is not None:
        from .checks import check_path

        root = check_path("root", root, "the folder of the run folders, or None for $CILNB_RUN_DIR / build/runs")
    # the sweep's noise rule is part of the key: folders of sweeps seeded another way are never resumed
    # so is the model's default guidance: an attribute, not a weight (toy.load(...).guidance = None samples unguided)
    # and, where a model declares one, how its code computes (``numerics``: the toy's inference path rounds otherwise than
    # before it folded the upsampling into the convolutions, so folders of the old code are not resumed with the new)
    numerics = getattr(model, "numerics", None)
    key = json.dumps({"weights": weights_digest(model), "noise": NOISE_RULE, "guidance": _guidance_key(model),
                      **({"numerics": numerics} if numerics else {}), **settings}, sort_keys=True, default=str)
    return (run_root() if root is None else Path(root)) / f"{kind}_{label}_{hashlib.sha256(key.encode()).hexdigest()[:10]}"


# ----------------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One cell of the grid: start ``M`` (as given), init mode, seed, image (index and name)."""

    M: float
    init: str
    seed: int
    image: int
    name: str

    @property
    def uid(self) -> str:
        return f"M{self.M:g}_{self.init}_seed{self.seed}_{self.name}"

    @property
    def noise_seed(self) -> int:
        """The seed of this unit's random draws: a hash of ``(seed, image name)``, so every image gets
        its own noise (independent samples) while all ``(M, init)`` cells of one image and seed share it."""
        return hashed_seed(f"{self.seed}:{self.name}")


def grid_units(Ms: Sequence[float], inits: Sequence[str], seeds: Sequence[int], names: Sequence[str]) -> list[Unit]:
    """All units in canonical order: M, then init, then seed, then image."""
    return [Unit(float(M), str(i), int(s), k, n) for M in Ms for i in inits for s in seeds for k, n in enumerate(names)]


# ----------------------------------------------------------------------------------------------
# distributed helpers (gloo barriers only)
# ----------------------------------------------------------------------------------------------


def _dist_setup():
    """``(rank, world, created)``: joins the torchrun/accelerate process group when ``WORLD_SIZE > 1``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, False
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), False
    dist.init_process_group(backend="gloo")
    return dist.get_rank(), dist.get_world_size(), True


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


# ----------------------------------------------------------------------------------------------
# rows
# ----------------------------------------------------------------------------------------------


def _append_rows(path: Path, rows: list[dict]) -> None:
    """Append JSON lines with one ``write`` and an ``fsync``; starts on a fresh line after a torn one."""
    if not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, allow_nan=False) + "\n" for r in rows).encode()
    if path.exists() and path.stat().st_size > 0:
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                data = b"\n" + data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)


def read_rows(out: str | os.PathLike) -> dict:
    """All result rows under ``out/results/*.jsonl`` keyed by unit id (later rows win; torn lines skipped)."""
    from .checks import check_path

    out = check_path("out", out, "the sweep's folder")
    if not out.is_dir():
        if out.exists():
            raise ValueError(f"out {out} is a file, not a sweep folder: pass the folder given to run_sweep (--out)")
        raise FileNotFoundError(f"no sweep folder at {out}: pass the folder given to run_sweep (--out), or run the sweep first")
    rows: dict = {}
    for p in sorted(Path(out, "results").glob("*.jsonl")):
        if not p.is_file():
            continue
        for number, line in enumerate(p.read_bytes().decode("utf-8", errors="replace").splitlines(), 1):  # bytes a kill tore are a torn line too
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill: its unit is redone or recovered from its video
            if isinstance(r, dict) and isinstance(r.get("unit"), str):
                _check_row(r, p, number)
                rows[r["unit"]] = r
    return rows


#: what every row a sweep writes holds (and its table is sorted by): a row without them is not one of a cilnb sweep
_ROW_KEYS = {"M": (int, float), "init": (str,), "seed": (int,), "image_index": (int,)}


def _check_row(row: dict, path: Path, line: int) -> None:
    """A whole JSON row with a unit id must be a sweep's row: a foreign or hand-edited one is refused, naming its file and
    line (it would count its unit as done and break the table's sort, or pass into results.csv as a row of this sweep)."""
    bad = [k for k, kinds in _ROW_KEYS.items() if not isinstance(row.get(k), kinds) or isinstance(row.get(k), bool)]
    if bad:
        what = ", ".join(f"{k} = {row[k]!r}" if k in row else f"no {k!r}" for k in bad)
        raise ValueError(f"{path} line {line} is not a row of a cilnb sweep ({what}): it was edited by hand or comes from another "
                         "tool; delete that line (or move the file out of results/) and rerun: its unit is recovered from its "
                         "video or sampled again")


def _num(x):
    x = float(x)
    return x if math.isfinite(x) else None


# ----------------------------------------------------------------------------------------------
# metrics
# ----------------------------------------------------------------------------------------------


def frame_diff(videos):
    """Model-free motion proxy ``[B]``: mean over frame pairs of mean ``|x_{f+1} - x_f|`` (``[-1, 1]`` units)."""
    import torch

    from .checks import InputTypeError

    if not torch.is_tensor(videos):
        raise InputTypeError(f"videos must be a torch.Tensor [B, F, C, H, W] in [-1, 1], got {type(videos).__name__}"
                             + (": pass torch.from_numpy(videos)" if type(videos).__module__ == "numpy" else ""))
    if videos.ndim != 5:
        raise ValueError(f"videos must be [B, F, C, H, W] (for one video use videos[None]), got shape {tuple(videos.shape)}")
    v = videos.float().clamp(-1, 1)
    return (v[:, 1:] - v[:, :-1]).abs().mean(dim=(2, 3, 4)).mean(1)


def align_psnr(videos, images):
    """Image alignment ``[B]``: :func:`cilnb.metrics.align_psnr` (the metric lives in :mod:`cilnb.metrics`)."""
    from .metrics.quality import align_psnr as metric

    return metric(videos, images)


def _motion_score_fn():
    """``cilnb.metrics.motion_score`` (package export, or its module while the package is being assembled)."""
    try:
        from .metrics import motion_score

        return motion_score
    except ImportError:
        from .metrics.motion import motion_score

        return motion_score


def _check_motion_kwargs(motion_kwargs) -> None:
    """``motion_kwargs`` must be a dict of :func:`cilnb.metrics.motion_score` keywords the sweep does not set itself."""
    import inspect

    from . import checks

    if not isinstance(motion_kwargs, dict):
        raise checks.InputTypeError(f"motion_kwargs must be a dict of motion_score keywords (e.g. {{'resize': None}}), got {type(motion_kwargs).__name__}")
    params = inspect.signature(_motion_score_fn()).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    own = {"videos", "method", "value_range", "show_progress"}
    allowed = sorted(set(params) - own)
    bad = sorted(k for k in motion_kwargs if k not in allowed)
    if bad:
        raise ValueError(f"motion_kwargs {bad} are not motion_score keywords the sweep passes on; allowed: {allowed} "
                         "(the method is motion_method=)")


def _motion_columns(videos, toy: bool, images=None, motion: dict | None = None) -> dict:
    """Per-video columns for a batch ``[B, F, C, H, W]`` in ``[-1, 1]``: motion (and alignment to ``images``)."""
    cols = {"frame_diff": [_num(v) for v in frame_diff(videos)]}
    if images is not None:
        cols["align_psnr"] = [_num(v) for v in align_psnr(videos, images)]
    B = videos.shape[0]
    if motion is not None and videos.shape[1] > 1:
        kw = dict(motion)
        method = kw.pop("method")
        res = _motion_score_fn()(videos.float().clamp(-1, 1).cpu(), method=method, value_range=(-1.0, 1.0), show_progress=False, **kw)
        cols["motion_score"] = [_num(s) for s in res.score.tolist()]
        cols["motion_method"] = [f"{res.method}/{res.protocol}/{res.reduce}/{res.size[0]}x{res.size[1]}"] * B
    if toy:
        from . import data

        df = data.motion(videos.float().clamp(-1, 1).cpu())
        cols["sprite_speed"] = [_num(s) for s in df["speed"].to_numpy()]
    return cols


# ----------------------------------------------------------------------------------------------
# the sweep
# ----------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    """What :func:`run_sweep` did; ``table`` holds every row stored under ``out`` (all runs, all ranks)."""

    table: object  # pandas.DataFrame
    out: Path
    computed: int  # units sampled by this rank in this run
    recovered: int  # rows rebuilt from stored videos
    pending: int  # units left before this run (all ranks)
    rank: int = 0
    world: int = 1


def load_unit_video(path: Path, fix: str = "delete it and rerun: its unit is sampled again"):
    """The ``video`` tensor (float) of a sweep unit's stored file, or a one-line error naming the file and ``fix`` (the file
    is unreadable, or holds no ``video``: not a unit of a cilnb sweep)."""
    from safetensors.torch import load_file

    from ._util import file_errors
    from .checks import check_path

    path = check_path("path", path, "a stored unit's .safetensors file")
    with file_errors(path, "stored video", fix):
        stored = load_file(str(path))
    if "video" not in stored:
        raise ValueError(f"stored video {path} holds no 'video' tensor (keys {sorted(stored)}): it is not a unit of a cilnb sweep; {fix}")
    return stored["video"].float()


def file_digest(path) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB chunks): which statistics file a run used, by content."""
    from .checks import check_path

    path = check_path("path", path, "the file to digest")  # open(1) is stdout's descriptor: read, then closed
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _save_unit(path: Path, video, latents, meta: dict, mp4: bool, fps: int) -> None:
    from ._util import atomic_write, save_safetensors

    tensors = {"video": video.contiguous()}
    if latents is not None:
        tensors["latents"] = latents.contiguous()
    md = {k: str(v) for k, v in meta.items()}
    if mp4:
        v = ((video.float().clamp(-1, 1) + 1) * 127.5).round().to("cpu").byte()  # [F, C, H, W]
        if v.shape[1] == 1:
            v = v.expand(-1, 3, -1, -1)
        arr = v.permute(0, 2, 3, 1).contiguous().numpy()
        atomic_write(path.with_suffix(".mp4"), lambda tmp: write_mp4(tmp, arr, fps))
    save_safetensors(path, tensors, md)


def run_sweep(
    model,
    images: ImageSet,
    out: str | os.PathLike,
    *,
    Ms: Sequence[float],
    inits: Sequence[str] = ("standard",),
    seeds: Sequence[int] = (0,),
    n_steps: int = 50,
    stats=None,
    stats_path: str | os.PathLike | None = None,
    sampler: str = "ddim",
    native: bool = False,
    frames: int | None = None,
    batch_size: int = 8,
    cond_kwargs: dict | None = None,
    model_name: str | None = None,
    model_path: str | None = None,
    max_units: int | None = None,
    mp4: bool = False,
    mp4_fps: int = 8,
    motion_method: str | None = "farneback",
    motion_kwargs: dict | None = None,
    show_progress: bool = True,
    on_batch: Callable[[dict], None] | None = None,
    remedy=None,
) -> SweepResult:
    """Run (or resume) the grid ``Ms x inits x seeds x images`` with :func:`cilnb.sampling.sample` (Alg. 1).

    ``Ms`` are normalised starts in (0, 1] (``native=True``: native times, e.g. ``sigma_M = 100``
    for SVD); ``init="analytic"`` needs ``stats`` (a MomentStats in the model's sample space).
    ``max_units`` stops this rank after that many sampled units (a partial run; rerun to finish).
    ``motion_method``: ``"farneback"`` (OpenCV, no weights) or ``"raft"`` (needs RAFT weights) for
    :func:`cilnb.metrics.motion_score` (SVD protocol; ``motion_kwargs`` e.g. ``{"resize": None}``
    are passed on), or ``None`` for no flow-based score.
    ``on_batch`` is called after each stored batch with ``{"units": [...ids], "computed": n}``.
    ``remedy``: an inference-time remedy (:mod:`cilnb.remedies`: object, name or spec) applied to every
    unit; its spec is stored in ``sweep.json`` (so a rerun with another remedy is refused) and M comes
    from ``Ms`` (a remedy that sets its own start is refused here).
    Under ``torchrun`` each rank takes its shard of the pending canonical batches (module docstring).
    Shown in ``docs/at_scale.md``.
    """
    from ._util import JobLock, check_output_path, clean_tmp_files, model_device_dtype
    from .stats import encoder_for

    from . import checks
    from .sampling import SAMPLERS

    checks.check_model(model)
    if not isinstance(images, ImageSet):
        raise checks.InputTypeError(f"images must be a cilnb.io.ImageSet (cilnb.io.load_images('toy:8', model) or a folder of images), "
                                    f"got {type(images).__name__}")
    out = checks.check_path("out", out, "the sweep's folder path (--out)")  # "" would be the current folder, silently
    for flag, v in (("native", native), ("mp4", mp4), ("show_progress", show_progress)):  # a string such as "no" would be true
        checks.check_bool(flag, v)
    from collections.abc import Mapping

    if cond_kwargs is not None and not isinstance(cond_kwargs, Mapping):
        raise checks.InputTypeError(f"cond_kwargs must be a dict of extra conditioning {{key: value}} (--cond KEY=VALUE) or None, "
                                    f"got {cond_kwargs!r} ({type(cond_kwargs).__name__})")
    checks.check_stats(stats)
    papermill = "with papermill give lists as YAML: -y 'Ms: [1.0, 0.6]' (or -p with a list value)"
    Ms = [checks.check_number("M", m) for m in checks.check_sequence("Ms", Ms, fix=papermill)]
    inits = check_inits(inits, fix=papermill)
    seeds = [checks.check_int("seed", s, integral_float=True) for s in checks.check_sequence("seeds", seeds, fix=papermill)]
    if not Ms:
        raise ValueError("give at least one M (Ms=[1.0, 0.7]; --M 1.0 0.96 ...)")
    if not inits:
        raise ValueError(f"give at least one init mode among {list(INITS)} (inits=['standard']; --init standard)")
    if not seeds:
        raise ValueError("give at least one seed")
    for name, opt, vals in (("Ms", "--M", Ms), ("inits", "--init", inits), ("seeds", "--seeds", seeds)):
        twice = checks.repeated(vals)
        if twice:
            raise ValueError(f"M values, init modes and seeds must each be distinct: {name} / {opt} lists {', '.join(map(str, twice))} "
                             "more than once; give each value once")
    if "analytic" in inits and stats is None:
        raise ValueError("init 'analytic' needs statistics: pass stats= / --stats FILE (from `python -m cilnb stats`)")
    n_steps = checks.check_n_steps(n_steps, fix="(sampler steps over [0, M])")
    batch_size = checks.check_int("batch_size", batch_size, min=1, fix="(units per sampler call)")
    if max_units is not None:
        max_units = checks.check_int("max_units", max_units, min=0, fix="(units this run samples; None: all)")
    if frames is not None:
        frames = checks.check_int("frames", frames, min=1, fix="(frames per video; None: the model's)")
    if not isinstance(sampler, str) or sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {sorted(SAMPLERS)}, got {sampler!r}")
    if mp4:
        mp4_fps = checks.check_int("mp4_fps", mp4_fps, min=1, integral_float=True, fix="(frames per second of the mp4 previews)")
    if on_batch is not None and not callable(on_batch):
        raise checks.InputTypeError(f"on_batch must be a function of one dict (or None), got {type(on_batch).__name__}")
    if stats_path is not None and not Path(stats_path).is_file():
        raise ValueError(f"stats_path {stats_path} is not a file: pass the statistics file that stats was loaded from (or None)")
    if len(images) == 0:
        raise ValueError("no images to condition on")
    sched = model.schedule
    starts = {}
    for M in Ms:  # validate every start before any work
        if native:
            try:
                starts[M] = sched.parse_start(native=M)
            except ValueError as exc:
                raise ValueError(f"native start M = {M:g} is not a start time of this schedule (native times run up to "
                                 f"{float(sched.to_native(1.0)):g} at M = 1): {exc}") from None
            _check_native_start(sched, M, starts[M])
        else:
            try:
                starts[M] = sched.parse_start(M)
            except ValueError as exc:
                raise ValueError(f"{exc} (--M {M:g}): give normalised starts in (0, 1], or native=True / --native for native start times "
                                 f"(up to {float(sched.to_native(1.0)):g} at M = 1)") from None
    out = check_output_path(out, option="out (--out)", folder=True)
    for name in ("videos", "results"):  # the store's layout: found in the way, not after the first batch
        if (out / name).exists() and not (out / name).is_dir():
            raise ValueError(f"{out / name} is a file, but a sweep keeps its {name} in a folder of that name: "
                             "move the file away or choose another --out")
    for name in ("sweep.json", "results.csv"):
        if (out / name).is_dir():
            raise ValueError(f"{out / name} is a folder, but a sweep writes its {name} file there: move the folder away or choose another --out")
    model_label = f"{model_name or type(model).__name__}" + (f" from {model_path}" if model_path is not None else "")
    space = encoder_for(model)[3]  # latent models are decoded for storage and metrics
    device, dtype = model_device_dtype(model)
    toy = images.spec.startswith("toy:")
    cond_kwargs = dict(cond_kwargs or {})
    for k, v in images.cond.items():
        if len(v) != len(images):
            raise ValueError(f"per-image conditioning {k!r} has {len(v)} values for {len(images)} images")
        if k in cond_kwargs:
            raise ValueError(f"{k!r} is given both per image and in cond_kwargs")
    if cond_kwargs and not callable(getattr(model, "prepare_condition", None)):
        raise ValueError(f"{model_name or type(model).__name__} has no prepare_condition: it takes no extra conditioning (got {sorted(cond_kwargs)})")
    if motion_method not in (None, "none", "farneback", "raft"):
        raise ValueError(f"motion_method must be 'farneback', 'raft' or None, got {motion_method!r}")
    if motion_kwargs is not None:
        _check_motion_kwargs(motion_kwargs)
    motion = None if motion_method in (None, "none") else {"method": motion_method, **dict(motion_kwargs or {})}

    rem = None
    if remedy is not None:
        from .remedies import resolve

        rem = resolve(remedy)
        if rem.spec()["name"] == "none":
            rem = None
    if rem is not None:
        if rem.start is not None:
            raise ValueError(f"remedy {rem.label()} sets its own start M = {rem.start}; in a sweep M comes from Ms / --M: "
                             "give the remedy without start (e.g. --remedy analytic_init) and list the starts in Ms / --M")
        if rem.needs_stats and stats is None:
            raise ValueError(f"remedy {rem.label()} needs Analytic-Init statistics: pass stats= / --stats FILE (from `python -m cilnb stats`)")
    settings = {
        "format": SWEEP_FORMAT,
        "model": model_name or type(model).__name__,
        "model_path": None if model_path is None else str(model_path),
        "n_steps": n_steps,
        "sampler": sampler,
        "native": bool(native),
        "frames": frames,
        "images": images.spec,
        "image_names": list(images.names),
        "cond_kwargs": cond_kwargs,
        "stats_sha256": file_digest(stats_path) if stats_path is not None else None,
        "motion": motion,
        "noise": NOISE_RULE,
    }
    if callable(getattr(model, "state_dict", None)):  # which weights: a model retrained under the same name or path never
        settings["weights"] = weights_digest(model)  # resumes the old one's videos (checked only against stores that have it)
    if rem is not None:  # only when used, so sweeps stored before this key existed still resume
        settings["remedy"] = rem.spec()
    if images.cond:  # only when used, so sweeps stored before this key existed still resume
        settings["image_cond"] = {k: [float(x) for x in v] for k, v in images.cond.items()}
    try:
        settings = json.loads(json.dumps(settings))  # the form it is stored in (tuples -> lists)
    except TypeError as exc:
        raise ValueError(f"cond_kwargs and motion_kwargs must be JSON-serialisable (numbers, strings, lists): {exc}") from exc
    if (cond_kwargs or images.cond) and callable(getattr(model, "prepare_condition", None)):
        _try_condition(model, images, cond_kwargs, frames, device, dtype)
    units = grid_units(Ms, inits, seeds, images.names)
    if len({u.uid for u in units}) != len(units):
        raise ValueError("two grid cells share a unit id: M values that differ beyond 6 significant digits, or duplicate image names")
    rank, world, created = _dist_setup()
    try:
        lock = JobLock(out / ("sample.lock" if rank == 0 else f"sample.rank{rank}.lock"), f"sweep folder {out}")
        with lock:
            if rank == 0:  # leftovers of a killed run's atomic writes (before any rank writes again); in --out only those of
                clean_tmp_files(out, _STORE_FILES)  # the store's own files: a folder given as --out may hold other .tmp files
                clean_tmp_files(out / "videos")
            return _run_units(
                model, images, out, settings=settings, units=units, Ms=Ms, inits=inits, starts=starts, stats=stats, sampler=sampler,
                n_steps=n_steps, frames=frames, batch_size=batch_size, cond_kwargs=cond_kwargs, max_units=max_units, mp4=mp4,
                mp4_fps=mp4_fps, motion=motion, toy=toy, space=space, device=device, dtype=dtype, show_progress=show_progress,
                on_batch=on_batch, rank=rank, world=world, model_label=model_label, remedy=rem,
            )
    finally:
        if created:
            import torch.distributed as dist

            dist.destroy_process_group()


#: the files the store writes atomically in its folder (beside its videos/ and results/)
_STORE_FILES = ("sweep.json", "results.csv")

#: settings keys added after stores existed: a store written before them (without the key) still resumes
_LATER_KEYS = ("weights",)


def _commit_settings(out: Path, settings: dict, rank: int) -> None:
    """Write ``sweep.json`` (rank 0), or check a stored one. A folder without finished units is re-initialised
    (a failed first start must not lock it); one with finished units must keep its settings."""
    from ._util import atomic_write

    cfg_path = out / "sweep.json"
    if cfg_path.is_file():
        finished = bool(read_rows(out)) or any((out / "videos").glob("*.safetensors"))
        try:
            stored = json.loads(cfg_path.read_text())
            if not isinstance(stored, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
            if finished:
                raise ValueError(
                    f"{cfg_path} is corrupt ({exc}) and {out} holds finished units: restore the file, or delete {cfg_path} and rerun "
                    "the exact command that made those units (its settings are then stored again), or choose another --out"
                ) from None
            stored = None
        if stored is not None:
            # every key of either side: a key stored but not set now (a sweep made with --remedy, rerun without it) differs too
            diff = {k: (stored.get(k), settings.get(k)) for k in [*settings, *(k for k in stored if k not in settings)]
                    if stored.get(k) != settings.get(k) and not (k in _LATER_KEYS and k not in stored)}
            if "weights" in diff:  # a digest pair says little: say what differs
                diff["weights"] = "another model's weights (retrained, or another checkpoint under the same name)"
            if not diff:
                return
            if finished:
                raise ValueError(
                    f"{out} holds a sweep with other settings {diff} (stored, now): use the same settings to resume/extend it, "
                    "or choose another --out"
                )
        if rank == 0:
            import warnings

            warnings.warn(f"{cfg_path} is replaced: {out} holds no finished unit (an earlier start failed before its first unit)", stacklevel=3)
    if rank == 0:
        atomic_write(cfg_path, lambda tmp: tmp.write_text(json.dumps(settings, indent=1)))


def canonical_batches(units: Sequence[Unit], Ms: Sequence[float], inits: Sequence[str], batch_size: int) -> list[list[Unit]]:
    """The sampler calls of a grid: units sharing ``(M, init)`` in canonical order, ``batch_size`` at a time.

    Fixed by the grid and ``batch_size`` alone (not by what is already done, nor by the rank), so a
    resumed or sharded run recomputes a unit in exactly the batch an uninterrupted run used: its
    video is bit-identical (CPU kernels may round differently for another batch size).
    """
    from .checks import check_int

    batch_size = check_int("batch_size", batch_size, min=1, fix="(units per sampler call)")
    batches: list[list[Unit]] = []
    for M in Ms:
        for init in inits:
            group = [u for u in units if u.M == M and u.init == init]
            batches += [group[i : i + batch_size] for i in range(0, len(group), batch_size)]
    return batches


def _try_condition(model, images, cond_kwargs: dict, frames, device, dtype) -> None:
    """The extra conditioning prepared once for the first image, before ``sweep.json`` is written: a setting the model
    refuses (an unknown key, ``y`` given again, text where numbers belong) fails here, naming ``cond_kwargs`` (``--cond``),
    not after the folder is made."""
    import torch

    from .checks import InputTypeError

    with torch.no_grad():
        try:
            cond = model.prepare_condition(images.images[:1].to(device=device, dtype=dtype), generator=torch.Generator().manual_seed(0),
                                           **cond_kwargs, **images.cond_of(0))
            y, n_frames = cond.get("y"), frames or getattr(model, "n_frames", None)
            if torch.is_tensor(y) and n_frames and callable(getattr(model, "check_condition", None)):  # as the sampler checks it
                model.check_condition(torch.zeros((1, int(n_frames), *y.shape[1:]), dtype=y.dtype, device=y.device), cond)
        except (TypeError, ValueError) as exc:
            kind = InputTypeError if isinstance(exc, TypeError) else ValueError
            raise kind(f"the extra conditioning {cond_kwargs or dict(images.cond_of(0))} (cond_kwargs, --cond KEY=VALUE) is refused "
                       f"by the model: {exc}") from None


def _run_units(model, images, out: Path, *, settings, units, Ms, inits, starts, stats, sampler, n_steps, frames, batch_size, cond_kwargs,
               max_units, mp4, mp4_fps, motion, toy, space, device, dtype, show_progress, on_batch, rank, world, model_label,
               remedy=None) -> SweepResult:
    """:func:`run_sweep` after its checks, holding the lock: settings, the canonical batches of this rank, the table."""
    import torch

    from ._util import atomic_write, progress
    from .denoiser import Cond
    from .sampling import sample

    sched = model.schedule
    _barrier(world)  # rank 0 has cleaned up before any rank reads
    _commit_settings(out, settings, rank)
    rows = read_rows(out)
    vid_dir = out / "videos"
    has_vid = {u.uid for u in units if (vid_dir / f"{u.uid}.safetensors").is_file()}
    done = {u.uid for u in units if u.uid in rows and u.uid in has_vid}
    pending = [u for u in units if u.uid not in done]
    _barrier(world)  # every rank has scanned before anyone writes
    # whole canonical batches, sharded by batch: a unit is always computed in the same batch
    mine = [b for b in canonical_batches(units, Ms, inits, batch_size) if any(u.uid not in done for u in b)][rank::world]
    row_file = out / "results" / f"rank{rank}.jsonl"

    def base_row(u: Unit) -> dict:
        return {
            "unit": u.uid, "M": u.M, "init": u.init, "seed": u.seed, "image": u.name, "image_index": u.image,
            "start": float(starts[u.M]), "start_native": _num(sched.to_native(starts[u.M])),
            "n_steps": n_steps, "sampler": sampler, "model": settings["model"], "rank": rank,
            "file": f"videos/{u.uid}.safetensors",
            **{k: v[u.image] for k, v in images.columns.items()},
            **images.cond_of(u.image),
        }

    def rows_for(chunk, cols, seconds, which) -> list[dict]:
        return [{**base_row(u), **{k: v[b] for k, v in cols.items()}, "seconds": seconds} for b, u in enumerate(chunk) if u.uid in which]

    recovered = computed = 0

    def recover(batches) -> None:
        """Rows of stored videos whose row was lost, from the videos (no resampling); metrics over the stored
        videos of the same canonical batch, so (pixel models) they equal those of the run that made them."""
        nonlocal recovered

        for b in batches:
            chunk = [u for u in b if u.uid in has_vid]
            lost = {u.uid for u in chunk if u.uid not in done}
            if not lost:
                continue
            vids = []
            for u in chunk:
                path = vid_dir / f"{u.uid}.safetensors"
                v = load_unit_video(path)
                if v.ndim != 4 or (frames is not None and v.shape[0] != frames) or (vids and v.shape != vids[0].shape):
                    like = f", unlike {tuple(vids[0].shape)} of the other stored videos of its batch" if vids else ""
                    raise ValueError(f"stored video {path} has shape {tuple(v.shape)}, not [F, C, H, W] of this sweep{like}: "
                                     "it comes from another run; delete it and rerun: its unit is sampled again")
                if not bool(torch.isfinite(v).all()):
                    raise ValueError(f"stored video {path} holds NaN or inf (written from a non-finite model by an older cilnb): "
                                     "delete it and rerun with a finite checkpoint; its unit is sampled again")
                vids.append(v)
            vids = torch.stack(vids)
            cols = _motion_columns(vids, toy, images.images[torch.tensor([u.image for u in chunk])], motion)
            _append_rows(row_file, rows_for(chunk, cols, None, lost))
            done.update(lost)
            recovered += len(lost)

    # batches whose videos all exist (killed between "videos written" and "rows appended")
    recover([b for b in mine if all(u.uid in has_vid for u in b)])
    to_sample = [b for b in mine if not all(u.uid in has_vid for u in b)]
    n_todo = sum(u.uid not in has_vid for b in to_sample for u in b)
    if max_units is not None:
        n_todo = min(n_todo, max_units)
    bar = progress(None, total=n_todo, disable=not show_progress, desc=f"sample[rank {rank}]" if world > 1 else "sample", unit="video")
    has_prep = callable(getattr(model, "prepare_condition", None))
    try:
        for chunk in to_sample:
            if max_units is not None and computed >= max_units:
                break
            t0 = time.time()
            idx = torch.tensor([u.image for u in chunk])
            imgs = images.images[idx].to(device=device, dtype=dtype)
            if has_prep:
                with torch.no_grad():
                    conds = [
                        model.prepare_condition(imgs[b : b + 1], generator=torch.Generator().manual_seed(u.noise_seed), **cond_kwargs,
                                                **images.cond_of(u.image))
                        for b, u in enumerate(chunk)
                    ]
                cond = Cond.cat(conds)
            else:
                per_image = [images.cond_of(u.image) for u in chunk]
                cond = Cond(imgs, **{k: torch.tensor([c[k] for c in per_image], device=device) for k in images.cond})
            M, init = chunk[0].M, chunk[0].init
            uses_stats = init == "analytic" or (remedy is not None and remedy.needs_stats)
            x = sample(
                model, cond, n_steps=n_steps, start=starts[M], init=init, stats=stats if uses_stats else None,
                sampler=sampler, seed=[u.noise_seed for u in chunk], frames=frames, show_progress=False,
                remedy=remedy, images=imgs if remedy is not None else None,
            )
            _check_finite_output(x, chunk, model_label, "sampled")
            if space == "latent":
                with torch.no_grad():
                    vids = model.decode_latents(x)
                _check_finite_output(vids, chunk, model_label, "decoded")
                store, lat = vids.to(torch.float16), x.float()
            else:
                vids = x
                store, lat = x.float(), None
            cols = _motion_columns(vids, toy, imgs.float(), motion)
            dt = (time.time() - t0) / len(chunk)
            new_vid = [u for u in chunk if u.uid not in has_vid]
            if max_units is not None:
                new_vid = new_vid[: max_units - computed]
            write = {u.uid for u in new_vid}
            for b, u in enumerate(chunk):
                if u.uid in write:
                    meta = {"unit": u.uid, "M": u.M, "init": u.init, "seed": u.seed, "image": u.name, "model": settings["model"], "n_steps": n_steps, "sampler": sampler}
                    _save_unit(vid_dir / f"{u.uid}.safetensors", store[b].cpu(), None if lat is None else lat[b].cpu(), meta, mp4, mp4_fps)
            # rows: new videos, and videos stored before a kill whose row was lost (metrics of this same batch)
            lost = {u.uid for u in chunk if u.uid in has_vid and u.uid not in done}
            _append_rows(row_file, rows_for(chunk, cols, dt, write | lost))
            recovered += len(lost)
            done |= write | lost
            has_vid |= write
            computed += len(write)
            bar.update(len(write))
            if on_batch is not None:
                on_batch({"units": [u.uid for u in new_vid], "computed": computed})
    finally:
        bar.close()
    recover(to_sample)  # lost rows of batches this run did not sample (max_units)

    _barrier(world)
    table = _table(out)
    if rank == 0:
        atomic_write(out / "results.csv", lambda tmp: table.to_csv(tmp, index=False))
    _barrier(world)
    return SweepResult(table=table, out=out, computed=computed, recovered=recovered, pending=len(pending), rank=rank, world=world)


NATIVE_MIN_START = 0.02  # a native --M that maps below this normalised start, while <= 1, is taken for a normalised M given by mistake


def _check_native_start(sched, M: float, start: float) -> None:
    """Refuse a native start that looks like a normalised M given with ``native=True`` (e.g. ``--native --M 1.0`` on a
    1000-step schedule is timestep 1: a start at the clean end, nearly no sampling)."""
    top = float(sched.to_native(1.0))
    if 0 < M <= 1.0 and top > 1.0 + 1e-6 and start < NATIVE_MIN_START:
        raise ValueError(
            f"native start {M:g} is normalised t = {start:.4g}, almost the clean end of the schedule (native times run up to {top:g}): "
            f"did you mean the normalised --M {M:g} (drop --native)? For a native start give a larger value, e.g. {0.9 * top:g}"
        )


def _check_finite_output(x, chunk, model_label: str, what: str) -> None:
    """Refuse non-finite samples before anything is written (a NaN checkpoint or absurd statistics)."""
    import torch

    bad = ~torch.isfinite(x.reshape(x.shape[0], -1)).all(dim=1)
    if bool(bad.any()):
        units = [u.uid for u, b in zip(chunk, bad.tolist()) if b]
        raise ValueError(
            f"the {what} videos of {len(units)} unit(s) ({', '.join(units[:3])}{', ...' if len(units) > 3 else ''}) hold NaN or inf; "
            f"nothing was written for them. The model ({model_label}) or the statistics give non-finite outputs: check its weights "
            "(e.g. a diverged training run) and --stats, then rerun"
        )


def _table(out: Path):
    import pandas as pd

    rows = list(read_rows(out).values())
    df = pd.DataFrame(rows)
    if len(df):
        df = df.sort_values(["M", "init", "seed", "image_index"], ascending=[False, True, True, True], kind="stable").reset_index(drop=True)
    return df

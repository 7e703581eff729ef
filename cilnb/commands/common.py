"""What several commands share: the model named by ``--model``/``--model-path``/``--device``/``--dtype``
(its options, :func:`add_model_options`; its set-up after the ``--out`` check, :func:`model_for_output`),
and argparse ``type=`` functions whose errors name the option and the expected form (no torch)."""
from __future__ import annotations

import argparse
import math
import os

__all__ = ["DTYPES", "load_model", "check_device", "check_videos_folder", "check_toy_shape", "model_for_output", "add_model_options", "rank_device", "positive_int", "nonneg_int", "int_list", "finite_float", "positive_float",
           "nonneg_float", "probability", "unit_interval", "size_hw", "path_arg", "file_path_arg", "model_name", "OnceList"]

# the --dtype values the commands accept ("auto": float16 on CUDA, float32 elsewhere; the toy: float32)
DTYPES = ("auto", "float32", "fp32", "float16", "fp16", "bfloat16", "bf16")


def load_model(name: str, model_path: str | None = None, *, device="auto", dtype=None, quiet: bool = False, ready=None):
    """The model a command's options name, loaded by :func:`cilnb.models.load` (the one loader).

    ``toy`` without a path is the shipped ``base`` checkpoint (a path to a toy checkpoint file works
    too); other names need ``model_path`` (a local pipeline folder or a cached hub id). ``dtype``
    ``None``/``"auto"`` means float16 on CUDA and float32 elsewhere, and float32 for the toy (which computes in
    float32 or bfloat16, :func:`cilnb.models.toy.precision`). ``quiet``
    (``--quiet``): diffusers' and transformers' loading bars are off too. ``ready()``, when given, runs after these options
    are checked and before the weights load (a command's own checks: a bad input fails before minutes of loading).
    """
    from ..checks import check_bool

    if check_bool("quiet", quiet):  # "no" would be true
        _hf_progress_off()
    import torch

    from .. import models
    from .._util import resolve_device

    check_device(device)
    dev = resolve_device(device)
    key = name.strip().lower().replace("_", "-") if isinstance(name, str) else name
    if key not in models.available():
        raise ValueError(f"unknown model {name!r}: --model takes one of {', '.join(models.available())}")
    if dtype is None or (isinstance(dtype, str) and dtype == "auto"):
        dtype = None if key == "toy" else torch.float16 if dev.type == "cuda" else torch.float32  # the toy: float32
    elif not isinstance(dtype, torch.dtype) and dtype not in DTYPES:
        raise ValueError(f"dtype must be auto, float32, float16 or bfloat16, got {dtype!r}")
    if key == "toy":
        from ..models.toy import precision

        try:
            precision(dtype)
        except ValueError:
            raise ValueError(f"--dtype {dtype}: the toy computes in float32 or bfloat16; pass --dtype auto, float32 or bfloat16") from None
    if key != "toy" and model_path is None:
        raise ValueError(f"--model {name} needs --model-path (a local pipeline folder or a hub id already in the cache)")
    if ready is not None:
        ready()
    if key == "toy" and model_path is not None:
        from .._util import file_errors

        with file_errors(model_path, "toy checkpoint", "pass a checkpoint written by `python -m cilnb train-toy`"):
            return models.load(name, model_path, device=dev, dtype=dtype)
    return models.load(name, model_path, device=dev, dtype=dtype)


def _hf_progress_off() -> None:
    """Turn off the progress bars diffusers and transformers print while loading weights (``--quiet``)."""
    import importlib

    for mod in ("diffusers.utils.logging", "transformers.utils.logging"):
        try:
            importlib.import_module(mod).disable_progress_bar()
        except (ImportError, AttributeError):
            pass  # the library is not installed (a toy-only environment) or has no such switch


def check_device(device, option: str = "--device") -> None:
    """Refuse a device torch does not know (``--device gpu``) as a one-line user error naming ``option``
    (:func:`cilnb._util.check_device`)."""
    from .._util import UserError, check_device as _check

    _check(device, option)
    if isinstance(device, str) and device != "auto":  # a device torch knows, but this machine or build may not have
        import torch

        kind = torch.device(device).type
        if kind == "meta":
            raise UserError(f"{option} {device}: the meta device holds shapes without values, nothing can be computed on it; "
                            "use auto, cpu, cuda or cuda:N")
        if kind not in ("cpu", "cuda"):  # cuda: resolve_device names a missing GPU
            try:
                torch.empty(1, device=device)
            except Exception:  # noqa: BLE001 (RuntimeError, AssertionError, ImportError: torch says it many ways)
                raise UserError(f"{option} {device}: this PyTorch build or machine has no {kind} device; use auto, cpu, cuda "
                                "or cuda:N") from None


def model_for_output(args: argparse.Namespace, *, folder: bool, device=None, ready=None):
    """A model command's set-up: ``--out`` checked first (:func:`cilnb._util.check_output_path`, so a bad
    path fails before anything loads), then the model of ``--model``/``--model-path``/``--dtype``
    (:func:`load_model`) on ``device`` (default: ``--device``); ``ready()``: the command's checks before the weights load."""
    from .._util import check_output_path

    check_output_path(args.out, option="--out", folder=folder)
    return load_model(args.model, args.model_path, device=args.device if device is None else device, dtype=args.dtype,
                      quiet=getattr(args, "quiet", False), ready=ready)


def check_videos_folder(videos, option: str = "--videos") -> None:
    """``videos`` must be a folder holding videos (:func:`cilnb.io.find_videos`): checked before a model loads, not after."""
    import warnings
    from pathlib import Path

    from .._util import UserError
    from ..io import IMAGE_EXTS, VIDEO_EXTS, find_videos

    if not Path(videos).is_dir():
        raise UserError(f"{option} {videos} is not a folder; pass the folder that holds the videos")
    with warnings.catch_warnings():  # what find_videos skips is reported again when the videos are read
        warnings.simplefilter("ignore")
        found = find_videos(videos)
    if not found:
        raise UserError(f"no videos found in {videos} (looked for {', '.join(VIDEO_EXTS)} files and folders of {', '.join(IMAGE_EXTS)} "
                        f"frames): pass the folder that holds the videos as {option}")


def rank_device(device: str) -> str:
    """``--device``, with ``auto`` under torchrun/accelerate (``WORLD_SIZE > 1``) as ``cuda:LOCAL_RANK`` when CUDA is there."""
    import os

    if device == "auto" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return device


def model_name(text: str) -> str:
    """argparse type: a model name as cilnb.models spells it (``TOY`` and ``cogvideox_i2v`` are ``toy`` and ``cogvideox-i2v``),
    so the name a run records does not depend on how it was typed (a rerun with ``--model toy`` resumes a ``--model TOY`` run)."""
    return text.strip().lower().replace("_", "-")


def add_model_options(p: argparse.ArgumentParser, *, model_help: str, device_help: str = "auto | cpu | cuda | cuda:N") -> None:
    """``--model``, ``--model-path``, ``--device``, ``--dtype`` and ``--quiet``, as every model command spells them."""
    p.add_argument("--model", required=True, type=model_name, help=model_help)
    p.add_argument("--model-path", type=path_arg, default=None,
                   help="local pipeline folder or cached hub id (toy: checkpoint file, default: shipped base)")
    p.add_argument("--device", default="auto", help=device_help)
    p.add_argument("--dtype", default="auto", choices=DTYPES, metavar="DTYPE", help="auto (fp16 on CUDA, fp32 on CPU; the toy: fp32) | float32 | float16 | bfloat16 (the toy: float32 or bfloat16)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


# ----------------------------------------------------------------------------------------------
# argparse types: a bad value is reported as "argument --x: <what was expected>, got 'abc'"
# ----------------------------------------------------------------------------------------------


def _number(text: str, kind, what: str, ok=lambda v: True):
    try:
        v = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if (isinstance(v, float) and not math.isfinite(v)) or not ok(v):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return v


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    return _number(text, int, "a positive integer", lambda v: v >= 1)


def nonneg_int(text: str) -> int:
    """argparse type: an int >= 0."""
    return _number(text, int, "an integer >= 0", lambda v: v >= 0)


def finite_float(text: str) -> float:
    """argparse type: a finite number."""
    return _number(text, float, "a finite number")


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    return _number(text, float, "a finite number > 0", lambda v: v > 0)


def nonneg_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    return _number(text, float, "a finite number >= 0", lambda v: v >= 0)


def probability(text: str) -> float:
    """argparse type: a number in [0, 1]."""
    return _number(text, float, "a number in [0, 1]", lambda v: 0 <= v <= 1)


def unit_interval(text: str) -> float:
    """argparse type: a number in [0, 1) (e.g. an EMA decay)."""
    return _number(text, float, "a number in [0, 1)", lambda v: 0 <= v < 1)


def int_list(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated integers >= 0, e.g. ``48,64,64``."""
    parts = [x.strip() for x in text.split(",") if x.strip()]
    try:
        vals = tuple(int(x) for x in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers (e.g. 48,64,64), got {text!r}") from None
    if not vals or any(v < 0 for v in vals):
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 0 (e.g. 48,64,64), got {text!r}")
    return vals


def size_hw(text: str) -> str:
    """argparse type: ``HxW`` (e.g. ``320x512``) or one number for a square; returned as given."""
    from ..io import parse_size

    try:
        parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW (e.g. 320x512) or one positive integer, got {text!r}") from None
    return text


def path_arg(text: str) -> str:
    """argparse type: a file or folder path, returned as given; an empty one is refused (``Path("")`` is the current
    folder, and ``--out ""`` would otherwise write there, or fall back to a default path, silently)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a path, got {text!r}, which would silently mean the current folder (or the "
                                         "default): give the path (an unset shell variable?)")
    return text


def file_path_arg(text: str) -> str:
    """argparse type: an output *file* path (:func:`path_arg`); one ending in ``/`` names a folder, and ``Path`` would drop
    the slash and write a file of that name instead of a file in that folder."""
    text = path_arg(text)
    if text.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(f"expected a file path, got {text!r}, which ends in {text[-1]!r} (a folder): give the file "
                                         f"name too, e.g. {text}x.safetensors")
    return text


class OnceList(argparse.Action):
    """argparse action of a list option (``nargs="+"``) that may be given only once: ``--seeds 0 --seeds 1`` would
    otherwise keep the last list alone (seed 1) and drop the first silently; the error says to list every value after one
    option."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest, None)
        if current is not self.default:  # set already by an earlier occurrence of this option
            first = " ".join(map(str, current))
            again = " ".join(map(str, values))
            raise argparse.ArgumentError(self, f"given more than once ({option_string} {first}, then {option_string} {again}), and "
                                               f"only the last list would be used: list every value after one {option_string}, "
                                               f"e.g. {option_string} {first} {again}")
        setattr(namespace, self.dest, list(values))


def check_toy_shape(model, args: argparse.Namespace) -> None:
    """A toy network is built for one frame count and one image size: refuse a ``--frames`` / ``--size`` it cannot take
    before anything is written, naming the option (instead of a shape error at the first sampler call, or statistics of
    another shape that the model cannot use)."""
    from .._util import UserError
    from ..io import parse_size

    cfg = getattr(model, "config", None)
    size, frames = getattr(cfg, "size", None), getattr(model, "n_frames", None)
    if getattr(model, "name", None) != "toy" or not isinstance(size, int):
        return
    h, w = parse_size(args.size) if args.size is not None else (size, size)
    if (h, w) != (size, size):
        what = "is not square" if h != w else "does not fit this toy model"
        raise UserError(f"--size {h}x{w} {what}: this toy model takes {size}x{size} images; "
                        f"pass --size {size}x{size} or leave --size out (folder images are resized to it)")
    if args.frames is not None and frames is not None and args.frames != frames:
        raise UserError(f"--frames {args.frames} does not fit this toy model, built for {frames} frames: "
                        f"pass --frames {frames} or leave --frames out")

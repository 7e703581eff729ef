"""Video and image I/O: find, decode, resize and crop videos and images; clip sets and image sets.

Every command and experiment reads media through this module (``cilnb stats``, ``cilnb sample``,
``cilnb finetune`` and the notebooks' real-video inputs), so they decode, sample frames and resize
identically:

- :func:`find_videos`: video files (``VIDEO_EXTS``: mp4, webm, gif, avi, mov, mkv, m4v) and frame
  folders (folders directly holding ``IMAGE_EXTS`` files) under a folder, sorted.
- :func:`read_clip`: ``F`` frames from the start of a video at a fixed stride, uint8
  ``[F, H, W, 3]``, through PyAV (the engine of imageio's ``pyav`` plugin, called directly: the
  plugin runs ``gc.collect()`` on every close) or imageio for frame folders. Frame indices are
  ``0, s, 2s, ..., (F-1)s`` of the decoded stream, with ``s`` the ``stride`` (default 1) or, with
  ``fps=f``, ``s = max(1, round(native_fps / f))`` from the container's average frame rate. A
  video with fewer than ``(F-1)s + 1`` frames is too short. Unusable videos raise
  :class:`VideoSkip`, which callers report and skip.
- :func:`clip_to_tensor`: uint8 frames -> float ``[F, C, h, w]`` in ``[-1, 1]`` (scale to cover,
  centre-crop, optional luma).
- :class:`ClipSet`: the one loop over a video folder (find, read, convert, skip the unusable).
- :class:`ImageSet` / :func:`load_images`: conditional images (``"toy:N"`` or a folder).
- :func:`to_rgb`, :func:`safe_name`, :func:`parse_size`, :func:`write_mp4`.

Shown in ``docs/at_scale.md``.
"""
from __future__ import annotations

import math
import numbers
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

__all__ = [
    "VIDEO_EXTS",
    "IMAGE_EXTS",
    "VideoSkip",
    "parse_size",
    "find_videos",
    "image_files",
    "to_rgb",
    "read_clip",
    "clip_to_tensor",
    "ClipSet",
    "read_clips",
    "ImageSet",
    "load_images",
    "safe_name",
    "write_mp4",
]

VIDEO_EXTS = (".mp4", ".webm", ".gif", ".avi", ".mov", ".mkv", ".m4v")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


class VideoSkip(Exception):
    """A video that cannot be used (unreadable, too short); the message says why."""


# ----------------------------------------------------------------------------------------------
# names and sizes
# ----------------------------------------------------------------------------------------------


def _whole(v) -> bool:
    """An int (numpy ints too), never a bool or a float."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and type(v).__name__ != "bool_"


def parse_size(size, name: str = "size") -> tuple[int, int]:
    """``"320x512"`` / ``(320, 512)`` / ``32`` -> ``(H, W)``; positive ints only. ``name`` is the argument's name in errors."""
    if type(size).__module__ in ("torch", "numpy") and hasattr(size, "tolist"):  # a 0-d tensor was iterated over
        size = size.tolist()
    if isinstance(size, str):
        parts = size.lower().replace("*", "x").split("x")
        try:
            hw = tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError(f"{name} must look like HxW (e.g. 320x512), got {size!r}") from None
    elif _whole(size):
        hw = (int(size), int(size))
    elif hasattr(size, "__iter__") and all(_whole(s) for s in size):
        hw = tuple(int(s) for s in size)
    else:
        raise ValueError(f"{name} must be HxW text (e.g. '320x512'), one int, or a pair of ints (H, W), got {size!r}")
    if len(hw) == 1:
        hw = (hw[0], hw[0])
    if len(hw) != 2 or min(hw) < 1:
        raise ValueError(f"{name} must be two positive ints HxW (e.g. 320x512), got {size!r}")
    return hw  # type: ignore[return-value]


def safe_name(name: str) -> str:
    """``name`` as a file-name-safe stem: runs of characters outside ``[A-Za-z0-9._-]`` become ``_``."""
    if not isinstance(name, str):
        from .checks import InputTypeError

        raise InputTypeError(f"name must be a str (a label or file stem), got {name!r:.60} ({type(name).__name__})")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "image"


# ----------------------------------------------------------------------------------------------
# finding and decoding
# ----------------------------------------------------------------------------------------------


def find_videos(root: str | os.PathLike) -> list[Path]:
    """Video files (``VIDEO_EXTS``) and frame folders (folders holding ``IMAGE_EXTS`` files) under ``root``, sorted.

    A folder counts as one video when it directly holds image files; its own sub-folders are not
    searched further. Hidden files and folders (``.name``) are ignored. Only regular files are
    read: a FIFO, socket, device or broken link with a video name is skipped with a warning
    (opening a FIFO would block forever).
    """
    from .checks import check_path

    root = check_path("root", root, "the folder that holds the videos")  # None or "" (the current folder) named, not scanned
    if not root.is_dir():
        raise ValueError(f"--videos {root} is not a folder; pass the folder that holds the videos")
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        names = [f for f in filenames if not f.startswith(".")]
        here = Path(dirpath)
        if here != root and any(f.lower().endswith(IMAGE_EXTS) for f in names):
            out.append(here)
            dirnames[:] = []
            continue
        for f in names:
            if f.lower().endswith(VIDEO_EXTS):
                p = here / f
                if p.is_file():
                    out.append(p)
                else:
                    warnings.warn(f"skipping {p}: not a regular file (a FIFO, socket, device or broken link); only regular files are read", stacklevel=2)
    return sorted(out)


def image_files(folder: str | os.PathLike) -> list[Path]:
    """The image files (``IMAGE_EXTS``, not hidden) directly in ``folder``, sorted."""
    from .checks import check_path

    folder = check_path("folder", folder, "the folder that holds the images")
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; pass the folder that holds the images")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and not p.name.startswith(".") and p.is_file())


def _check_clip_args(frames, stride, fps) -> None:
    """``frames`` a positive int, ``stride`` ``None`` or a positive int, ``fps`` ``None`` or a finite number > 0
    (a ``ValueError`` naming the argument: a bad setting is not a bad video, so it is never a :class:`VideoSkip`)."""
    if not _whole(frames) or frames < 1:
        raise ValueError(f"frames must be a positive int (frames per clip), got {frames!r}")
    if stride is not None and (not _whole(stride) or stride < 1):
        raise ValueError(f"stride must be a positive int (take every stride-th frame) or None, got {stride!r}")
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, numbers.Real) or not math.isfinite(fps) or fps <= 0):
        raise ValueError(f"fps must be a finite number > 0 (the frame rate to sample clips at) or None, got {fps!r}")


def _stride(stride: int | None, fps: float | None, native_fps: float | None) -> int:
    if fps is None:
        return int(stride or 1)
    if not native_fps or not math.isfinite(native_fps) or native_fps <= 0:
        raise VideoSkip("frame rate unknown (needed for --fps); use --stride instead")
    ratio = native_fps / fps
    if not ratio < 2**62:  # int(round(inf)) failed, and the video was reported "unreadable (OverflowError ...)"
        raise VideoSkip(f"too short: fps={fps:g} at its {native_fps:g} fps is a stride of {ratio:.3g} frames; pass a larger fps")
    return max(1, int(round(ratio)))


def to_rgb(frame):
    """An image array (gray, gray+alpha channel, RGB or RGBA; any int or float dtype) as uint8 ``[H, W, 3]``.

    Integers are rescaled from their dtype's range, floats are clipped to ``[0, 1]``; raises
    :class:`VideoSkip` for arrays that are not images.
    """
    import numpy as np

    a = np.asarray(frame)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise VideoSkip(f"unexpected frame shape {a.shape} (an image is [H, W], or [H, W, C] with C = 1, 2 (gray + alpha), 3 or 4)")
    if a.size == 0:
        raise VideoSkip(f"empty image (shape {a.shape})")
    if not (a.dtype == np.bool_ or np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise VideoSkip(f"image values of dtype {a.dtype} are not real pixel values (an image holds ints, or floats in [0, 1])")
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
        raise VideoSkip("image holds NaN or infinite values")
    if a.shape[2] in (1, 2):  # gray (+ alpha): the gray channel as RGB
        a = np.repeat(a[..., :1], 3, axis=2)
    elif a.shape[2] == 4:
        a = a[..., :3]
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.signedinteger):  # a signed int image holds no negative pixels: 0..max
            if (a < 0).any():
                raise VideoSkip(f"image of dtype {a.dtype} holds negative values (min {a.min()}): pixels are >= 0")
            a = (a.astype(np.float64) / np.iinfo(a.dtype).max * 255).round().astype(np.uint8)
        elif np.issubdtype(a.dtype, np.integer):
            a = (a.astype(np.float64) / np.iinfo(a.dtype).max * 255).round().astype(np.uint8)
        else:
            a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    return a


def _imread(path):
    """One image file as an array, as ``imageio.v3.imread`` reads it, turned upright as its EXIF orientation says (a phone
    photo stored sideways was read sideways); a CMYK JPEG is converted to RGB by Pillow (its four ink channels were taken
    as RGBA: cyan, magenta and yellow read as red, green and blue)."""
    import imageio.v3 as iio

    a = iio.imread(path)
    if getattr(a, "ndim", 0) == 3 and a.shape[2] == 4 and iio.immeta(path).get("mode") == "CMYK":
        a = iio.imread(path, mode="RGB")
    return _upright(a, _exif_orientation(path))


_EXIF_ORIENTATION = 0x0112


def _exif_orientation(path) -> int:
    """The EXIF orientation tag (1-8) of an image file; 1 (stored upright) when it has none or Pillow cannot open it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            value = im.getexif().get(_EXIF_ORIENTATION, 1)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):  # a format only imageio's other plugins read: no EXIF
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _upright(a, orientation: int):
    """``a`` ([H, W] or [H, W, C]) as displayed for EXIF ``orientation``, as ``PIL.ImageOps.exif_transpose`` turns it:
    2 mirrored, 3 turned 180 degrees, 4 flipped, 5 transposed, 6 turned 90 degrees clockwise, 7 transversed,
    8 turned 90 degrees counter-clockwise."""
    import numpy as np

    if orientation in (5, 6, 7, 8):
        a = np.swapaxes(a, 0, 1)  # transpose; then 6 = mirror, 7 = turn 180, 8 = flip
    flip_rows, flip_cols = {2: (False, True), 3: (True, True), 4: (True, False), 6: (False, True), 7: (True, True),
                            8: (True, False)}.get(orientation, (False, False))
    if flip_rows:
        a = a[::-1]
    if flip_cols:
        a = a[:, ::-1]
    return np.ascontiguousarray(a)


def _decode_pyav(path: Path, frames: int, stride, fps):
    """Decode the needed frames with PyAV (the engine of imageio's ``pyav`` plugin).

    PyAV is called directly because imageio's plugin runs ``gc.collect()`` on every close, which
    costs 0.1-0.5 s per video in a process that holds a large model.
    """
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoSkip("no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            native = float(stream.average_rate) if stream.average_rate else None
            s = _stride(stride, fps, native)
            need = (frames - 1) * s + 1
            clip, n = [], 0
            for i, frame in enumerate(container.decode(stream)):
                n = i + 1
                if i % s == 0:
                    clip.append(frame.to_ndarray(format="rgb24"))
                if n >= need:
                    break
    except VideoSkip:
        raise
    except Exception as exc:
        raise VideoSkip(f"unreadable ({type(exc).__name__}: {exc})") from exc
    return clip, n, s, need


def read_clip(path: str | os.PathLike, frames: int, *, stride: int | None = None, fps: float | None = None):
    """``frames`` RGB frames ``[F, H, W, 3]`` uint8 from the start of a video file or frame folder.

    Frame indices ``0, s, ..., (F-1)s`` (see the module docstring for ``s``); decoding stops after
    the last needed frame. Raises :class:`VideoSkip` for unreadable or too-short videos, FileNotFoundError
    for a path where nothing is.
    """
    import numpy as np

    _check_clip_args(frames, stride, fps)
    from .checks import check_path

    path = check_path("path", path, "a file or folder path")
    if not path.exists():  # a wrong path is the caller's error, not a video to skip
        raise FileNotFoundError(f"no video file or frame folder at {path}: check the path")
    if path.is_dir():
        files = image_files(path)
        s = int(stride or 1) if fps is None else _stride(None, fps, None)
        need = (frames - 1) * s + 1
        if len(files) < need:
            raise VideoSkip(f"too short: {len(files)} frames, needs {need} ({frames} frames at stride {s})")
        try:
            clip = [to_rgb(_imread(files[i * s])) for i in range(frames)]
        except VideoSkip:
            raise
        except Exception as exc:
            raise VideoSkip(f"unreadable frame ({type(exc).__name__}: {exc})") from exc
    else:
        clip, n, s, need = _decode_pyav(path, frames, stride, fps)
        if n < need:
            raise VideoSkip(f"too short: {n} frames, needs {need} ({frames} frames at stride {s})")
    shapes = {c.shape for c in clip}
    if len(shapes) != 1:
        raise VideoSkip(f"frames of different sizes {sorted(shapes)}")
    return np.stack(clip)


def clip_to_tensor(clip, size: tuple[int, int], channels: int = 3):
    """uint8 ``[F, H, W, 3]`` -> float ``[F, C, h, w]`` in ``[-1, 1]``: scale to cover ``size``, centre-crop.

    Antialiased bilinear resizing (``torch.nn.functional.interpolate(antialias=True)``) by the one
    factor ``max(h/H, w/W)`` that makes the frame cover the target, then a centre crop (no
    distortion). ``channels=1`` converts to luma (ITU-R BT.601 weights), for the grayscale toy.
    """
    import numpy as np
    import torch
    import torch.nn.functional as Fn

    h, w = parse_size(size)
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels not in (1, 3):  # True == 1
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    if not isinstance(clip, np.ndarray) or clip.dtype != np.uint8 or clip.ndim != 4 or clip.shape[-1] != 3 or 0 in clip.shape:
        what = f"{clip.dtype} array of shape {clip.shape}" if isinstance(clip, np.ndarray) else type(clip).__name__
        raise ValueError(f"clip must be uint8 frames [F, H, W, 3] (read_clip's output; to_rgb converts an image), got a {what}")
    from .checks import check_fits_in_memory

    H, W = clip.shape[1:3]
    scale = max(h / H, w / W)
    nh, nw = max(h, int(math.ceil(H * scale - 1e-6))), max(w, int(math.ceil(W * scale - 1e-6)))
    # the float32 frames at the cover size (and the input): a size beyond memory failed in torch's allocator
    check_fits_in_memory(4.0 * clip.shape[0] * 3 * (nh * nw + H * W), f"clip_to_tensor(size={h}x{w})",
                         f"pass a smaller size (frames of {H}x{W} px are resized to cover it)")
    x = torch.from_numpy(clip).permute(0, 3, 1, 2).to(torch.float32) / 255.0
    if (nh, nw) != (H, W):
        x = Fn.interpolate(x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
    top, left = (nh - h) // 2, (nw - w) // 2
    x = x[..., top : top + h, left : left + w].clamp(0, 1)
    if channels == 1:
        x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    elif channels != 3:
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    return x * 2 - 1


# ----------------------------------------------------------------------------------------------
# clip sets: the one loop over a folder of videos
# ----------------------------------------------------------------------------------------------


class ClipSet:
    """The videos under ``root`` as clips of one shape: ``[F, C, h, w]`` in ``[-1, 1]``.

    ``paths`` are :func:`find_videos` (sorted), ``names`` their paths relative to ``root`` (POSIX).
    :meth:`clip` reads one (:func:`read_clip` then :func:`clip_to_tensor`); :meth:`usable` is the
    loop every consumer shares: clips in the order asked, the unusable ones reported and skipped.
    A folder without videos is a ``ValueError`` unless ``allow_empty``.
    """

    def __init__(self, root: str | os.PathLike, *, frames: int, size, stride: int | None = None, fps: float | None = None,
                 channels: int = 3, allow_empty: bool = False):
        from .checks import check_bool

        allow_empty = check_bool("allow_empty", allow_empty)
        _check_clip_args(frames, stride, fps)
        if not _whole(channels) or channels not in (1, 3):  # 1.0 was taken here and refused only when a clip was read
            raise ValueError(f"channels must be 1 (luma) or 3 (RGB), got {channels!r}")
        self.root = Path(root)
        self.paths = find_videos(self.root)
        if not self.paths and not allow_empty:
            hint = (f"; {root} itself holds image frames: a frame folder is one video, so pass the folder above it"
                    if image_files(self.root) else "")
            raise ValueError(f"no videos found in {root} (looked for {', '.join(VIDEO_EXTS)} files and folders of {', '.join(IMAGE_EXTS)} frames){hint}")
        self.names = [p.relative_to(self.root).as_posix() for p in self.paths]
        self.frames, self.size, self.stride, self.fps, self.channels = frames, parse_size(size), stride, fps, channels

    def __len__(self) -> int:
        return len(self.paths)

    def clip(self, i: int):
        """Video ``i`` as ``[F, C, h, w]`` in ``[-1, 1]``; raises :class:`VideoSkip` when it cannot be used."""
        if not _whole(i) or not -len(self) <= i < len(self):
            raise ValueError(f"video index {i!r} is out of range: this set holds {len(self)} video(s) (0..{len(self) - 1}) under {self.root}")
        raw = read_clip(self.paths[i], self.frames, stride=self.stride, fps=self.fps)
        return clip_to_tensor(raw, self.size, self.channels)

    def usable(self, indices: Iterable[int] | None = None, *, on_skip: Callable[[int, VideoSkip], None] | None = None) -> Iterator[tuple]:
        """``(i, clip)`` for every usable video among ``indices`` (default: all), in that order, read lazily.

        An unusable video is passed to ``on_skip(i, exc)`` (the caller reports it) and skipped.
        """
        for i in range(len(self)) if indices is None else indices:
            try:
                clip = self.clip(i)
            except VideoSkip as exc:
                if on_skip is not None:
                    on_skip(i, exc)
                continue
            yield i, clip


def read_clips(videos_dir: str | os.PathLike, n_videos: int, *, frames: int, size, stride: int = 1, channels: int = 3):
    """The first ``n_videos`` readable clips under ``videos_dir``: ``([B, F, C, H, W]`` in ``[-1, 1]``, names``)``.

    Names are the videos' file stems. Files that cannot be read or are too short are skipped with
    a warning naming them; a folder with none readable is a ``ValueError``.
    """
    import warnings

    import torch

    if not _whole(n_videos) or n_videos < 1:  # numpy ints too (they were refused as "not a positive int")
        raise ValueError(f"n_videos must be a positive int, got {n_videos!r}")
    n_videos = int(n_videos)
    if isinstance(videos_dir, str) and not videos_dir:
        raise ValueError("videos_dir is empty: real models need a folder of ground-truth videos (files or frame folders)")
    from .checks import check_path

    check_path("videos_dir", videos_dir, "a folder path")  # a number or bytes failed inside pathlib
    videos = ClipSet(videos_dir, frames=frames, size=size, stride=stride, channels=channels, allow_empty=True)
    skipped: list[str] = []
    clips, names = [], []
    for i, clip in videos.usable(on_skip=lambda i, exc: skipped.append(f"{videos.paths[i].name} ({exc})")):
        clips.append(clip)
        names.append(videos.paths[i].stem)
        if len(clips) == n_videos:
            break
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable or short videos in {videos_dir}: {', '.join(skipped[:10])}", stacklevel=2)
    if not clips:
        raise ValueError(f"no readable videos with {frames} frames (stride {stride}) in {videos_dir}")
    return torch.stack(clips), names


# ----------------------------------------------------------------------------------------------
# image sets: the conditional images of a sampling run
# ----------------------------------------------------------------------------------------------


@dataclass
class ImageSet:
    """Conditional images ``[N, C, H, W]`` in ``[-1, 1]`` with stable names and optional per-image columns."""

    names: list
    images: object  # torch.Tensor [N, C, H, W]
    spec: str
    columns: dict = field(default_factory=dict)  # name -> list of N values (e.g. input_speed)
    videos: object = None  # the source videos [N, F, C, H, W] in [-1, 1] when the images are their frame 0
    # per-image conditioning: name -> list of N numbers, passed to ``prepare_condition`` (e.g. SVD's
    # ``motion_bucket_id``) or, for models without one (the toy's ``motion``), as a ``[B]`` tensor
    cond: dict = field(default_factory=dict)
    data: object = None  # toy images: the cilnb.data.SpriteConfig they were drawn from

    def __len__(self) -> int:
        return len(self.names)

    def cond_of(self, i: int) -> dict:
        """Image ``i``'s per-image conditioning, ``{name: float}``."""
        return {k: float(v[i]) for k, v in self.cond.items()}


def load_images(spec: str, model=None, *, size=None, data_seed: int = 0, data=None, flow: bool = False) -> ImageSet:
    """``"toy:N"`` (frame 0 of N moving-sprite videos, :func:`cilnb.data.generate` with ``data_seed``) or a folder of images.

    Toy images are drawn from ``data`` (a :class:`cilnb.data.SpriteConfig`), else from the data a toy
    ``model`` was trained on (:attr:`cilnb.models.toy.ToyModel.data_config`), else from the default
    sprites at the model's frames; ``size`` replaces the config's size. A config other than the default
    is part of the set's ``spec`` (so run folders of different data never mix). ``flow=True`` (toy only) also
    gives each clip's whole-frame mean flow magnitude (:func:`cilnb.data.flow_score`) as the ``input_flow`` column.
    Folder images are resized to cover ``size`` (``HxW``; default: the toy's size) and
    centre-cropped, in the model's channel count (luma for the grayscale toy).
    """
    import dataclasses

    import numpy as np
    import torch

    if not isinstance(flow, (bool, np.bool_)):
        from .checks import InputTypeError

        raise InputTypeError(f"flow must be True or False (add each toy clip's mean flow magnitude), got {flow!r}")
    if model is not None:
        from .checks import check_model

        check_model(model, "model (the model the images are for, or None)")
    cfg = getattr(model, "config", None)
    spec = str(spec)
    if spec.startswith("toy:"):
        try:
            n = int(spec[4:])
        except ValueError:
            raise ValueError(f"--images toy:N needs an int N, got {spec!r}") from None
        if n < 1:
            raise ValueError(f"--images toy:N needs N >= 1, got {spec!r}")
        from . import data as _data

        if data is None:
            data = getattr(model, "data_config", None)
        if data is None:
            frames = getattr(cfg, "frames", None) or getattr(model, "n_frames", None) or 8
            data = _data.SpriteConfig(frames=int(frames), size=int(getattr(cfg, "size", 32)))
        if not isinstance(data, _data.SpriteConfig):
            raise TypeError(f"data must be a cilnb.data.SpriteConfig, got {type(data).__name__}")
        if isinstance(data_seed, bool) or not isinstance(data_seed, numbers.Integral):
            raise TypeError(f"data_seed must be an int (the seed of the toy:N videos), got {data_seed!r} ({type(data_seed).__name__})")
        if size is not None:
            h, w = parse_size(size)
            if h != w:
                raise ValueError(f"--size {size} is not square, but toy:N images are square sprite frames: give one number (e.g. --size {h})")
            data = dataclasses.replace(data, size=int(h))
        vids = _data.generate(n, seed=int(data_seed), config=data, flow=bool(flow))
        if data != _data.SpriteConfig(frames=data.frames, size=data.size):
            spec = f"{spec}|data={data.to_json()}"
        names = [f"toy{data_seed}_{i:05d}" for i in range(n)]
        columns = {"input_speed": [float(s) for s in vids.speed]}
        if flow:
            columns["input_flow"] = [float(v) for v in _data.flow_score(vids.flow)]
        return ImageSet(names, vids.condition.clone(), spec, columns, vids.videos, data=data)
    if flow:
        raise ValueError(f"flow=True gives the renderer's flow of toy:N clips; {spec!r} is not toy:N (folder images have no flow ground truth)")
    root = Path(spec)
    if not root.is_dir():
        raise ValueError(f"--images must be 'toy:N' or a folder of images, got {spec!r} (not a folder)")
    files = image_files(root)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTS)}) in {root}")
    if size is None:
        if getattr(cfg, "size", None) is None:
            raise ValueError("pass --size HxW (the resolution to sample at) for a folder of images")
        size = cfg.size
    hw = parse_size(size)
    if model is not None:
        from .stats import encoder_for

        channels = encoder_for(model)[1]
    else:
        channels = 3
    imgs = []
    for p in files:
        try:
            arr = to_rgb(_imread(p))
        except Exception as exc:
            raise ValueError(f"cannot read image {p} ({type(exc).__name__}: {exc}): replace it with a readable image "
                             f"or remove it from {root}") from exc
        imgs.append(clip_to_tensor(arr[None], hw, channels)[0])
    names = [safe_name(p.stem) for p in files]
    if len(set(names)) != len(names):
        names = [safe_name(p.name) for p in files]
    if len(set(names)) != len(names):  # "a b.png" and "a_b.png" are both a_b.png: number the repeats (files are sorted)
        seen: dict = {}
        for i, n in enumerate(names):
            seen[n] = seen.get(n, 0) + 1
            names[i] = n if seen[n] == 1 else f"{n}_{seen[n]}"
    return ImageSet(names, torch.stack(imgs), str(root), {})


# ----------------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------------


MP4_MAX_FPS = 1000  # measured: from 10000 fps on, PyAV writes mp4s it then decodes as empty
MP4_MAX_SIDE = 16384  # measured: libx264 opens frames up to 16384 px a side and refuses 16386 (PyAV 2026, x264)


def write_mp4(path: str | os.PathLike, frames, fps: int) -> None:
    """uint8 ``[F, H, W, 3]`` -> H.264 mp4 (yuv420p; odd sizes padded by one edge pixel), through PyAV.

    ``fps`` is a whole number of frames per second (the stream's integer rate), at most :data:`MP4_MAX_FPS`."""
    import av
    import numpy as np

    if isinstance(fps, float) and math.isfinite(fps) and fps == int(fps):
        fps = int(fps)
    if isinstance(fps, bool) or not isinstance(fps, numbers.Integral) or not 1 <= fps <= MP4_MAX_FPS:
        raise ValueError(f"fps must be a whole number from 1 to {MP4_MAX_FPS} (frames per second of the mp4), got {fps!r}")
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or 0 in frames.shape:
        what = f"{frames.dtype} array of shape {frames.shape}" if isinstance(frames, np.ndarray) else type(frames).__name__
        raise ValueError(f"frames must be uint8 RGB frames [F, H, W, 3] with F >= 1 (gray: np.repeat(frames, 3, axis=-1)), got a {what}")
    from .checks import check_path

    path = check_path("path", path)
    if path.is_dir() or not path.parent.is_dir():
        raise ValueError(f"mp4 path {path} is a folder or its folder does not exist: give a file path in an existing folder")
    H, W = frames.shape[1:3]
    if max(H + H % 2, W + W % 2) > MP4_MAX_SIDE:  # libx264 refused it with "Generic error in an external library"
        raise ValueError(f"frames of {H}x{W} px are larger than H.264 (libx264) encodes, at most {MP4_MAX_SIDE} px a side: "
                         "save fewer tiles per row or smaller frames, or a GIF")
    if H % 2 or W % 2:
        frames = np.pad(frames, ((0, 0), (0, H % 2), (0, W % 2), (0, 0)), mode="edge")
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=int(fps))
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for fr in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(fr), format="rgb24")))
        container.mux(stream.encode())

"""Deprecated alias of :mod:`cilnb.stats` (statistics), :mod:`cilnb.io` (video I/O) and
:mod:`cilnb.commands.stats` (the ``stats`` command), kept for one release; use those modules."""
from ._util import deprecated_module

_IO = ("VIDEO_EXTS", "IMAGE_EXTS", "VideoSkip", "parse_size", "find_videos", "read_clip", "clip_to_tensor")
RENAMES = {
    **{name: f"cilnb.io:{name}" for name in _IO},
    "_rgb": "cilnb.io:to_rgb",
    "_model_device_dtype": "cilnb._util:model_device_dtype",
    "load_model": "cilnb.commands.common:load_model",
    "add_cli": "cilnb.commands.stats:add_parser",
    "_run": "cilnb.commands.stats:run",
}
__all__ = [*_IO, "StatsResult", "load_model", "encoder_for", "compute_stats", "add_cli"]
__getattr__ = deprecated_module(__name__, RENAMES, "cilnb.stats")

"""Deprecated alias of :mod:`cilnb.runs` (the sample-run store), :mod:`cilnb.io` (image sets) and
:mod:`cilnb.commands.sample` (the ``sample`` command), kept for one release; use those modules."""
from ._util import deprecated_module

RENAMES = {
    "ImageSet": "cilnb.io:ImageSet",
    "load_images": "cilnb.io:load_images",
    "_safe": "cilnb.io:safe_name",
    "_write_mp4": "cilnb.io:write_mp4",
    "_load_stats": "cilnb.analytic_init:MomentStats.load",
    "add_cli": "cilnb.commands.sample:add_parser",
    "_run": "cilnb.commands.sample:run",
}
__all__ = ["ImageSet", "Unit", "SweepResult", "load_images", "grid_units", "run_sweep", "read_rows", "frame_diff", "align_psnr",
           "add_cli", "INITS"]
__getattr__ = deprecated_module(__name__, RENAMES, "cilnb.runs")

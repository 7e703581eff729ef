"""Bad input to the video helpers, the live lab, the figure runner, the sweep store, media I/O and the
command lines fails at once with a clear error naming the input and the fix (the project standard:
never a silent fallback, a NaN result or a traceback from deep inside torch/numpy/PIL/PyAV).

Every case here was mishandled before this file: no error at all (a silent clamp, truncation or
fallback, an empty or garbage result), an error from deep inside a library that names neither the
argument nor the fix (``ZeroDivisionError``, ``IndexError``, ``TraitError``, ``OverflowError``,
``unhashable type``, errno text), or a command-line traceback. Sibling of ``test_bad_inputs.py``
(the core API) and ``test_cli_errors.py`` (the command lines).
"""
from __future__ import annotations

import functools
import shutil

import numpy as np
import pytest
import torch

from _media import tiny_toy
from cilnb import data as D
from cilnb import figures as FG
from cilnb import io as IO
from cilnb import probe as P
from cilnb import runs as R
from cilnb import sampling as S
from cilnb.analytic_init import MomentStats
from cilnb.live import Lab
from cilnb.models import toy
from cilnb.plotting import animation as A
from cilnb.plotting import widgets as PW
from cilnb.plotting.video import video_grid

NAN, INF = float("nan"), float("inf")
T, V = TypeError, ValueError


# ---------------------------------------------------------------------------------------------
# tiny inputs, built on first use
# ---------------------------------------------------------------------------------------------


_toy = functools.partial(tiny_toy, 8)  # a tiny random-weight toy: 2 frames of 8 x 8, pixels in [-1, 1]
_toy16 = functools.partial(tiny_toy, 16)  # the same at 16 x 16 (the default sprites of toy:N images fit it): sweeps


@functools.lru_cache(maxsize=None)
def _sprites():
    return D.generate(2, seed=0, frames=2, size=8, radius=(1.0, 2.0), flow=False)


def _x0():
    return _sprites().videos.clone()  # [2, 2, 1, 8, 8]


def _y():
    return _sprites().condition.clone()  # [2, 1, 8, 8]


@functools.lru_cache(maxsize=None)
def _lab():
    return Lab(_toy(), _y(), _x0(), n_steps=1, n_seeds=1)


def _sample(**kw):
    args = dict(n_steps=1, show_progress=False)
    args.update(kw)
    return S.sample(_toy(), args.pop("y", _y()), **args)


def _probe(**kw):
    return P.one_step_predictions(_toy(), _x0(), [0.5], **kw)


def _table():
    return P.probe_table(_toy(), _x0(), [0.5])


def _v(*shape, fill=0.0):
    return torch.full(shape or (3, 3, 8, 8), fill)


def _ddim(x=None, ts=(0.5, 0.2)):
    x = torch.zeros((1, 2, 1, 8, 8)) if x is None else x
    return S.sample_dpmpp_2m(_toy(), x, ts if isinstance(ts, str) else torch.tensor(ts), {"y": _y()[:1]}, disable=True)


CASES = [
    # --- the video helpers: play / tile_frames / gif_bytes / save_gif / save_mp4 -----------------------------
    pytest.param(lambda: A.tile_frames(_v(0, 3, 8, 8)), V, r"video 0 is empty", id="tile-zero-frames"),
    pytest.param(lambda: A.tile_frames(_v(3, 3, 0, 8)), V, r"video 0 is empty", id="tile-zero-height"),
    pytest.param(lambda: A.tile_frames(_v(0, 3, 3, 8, 8)), V, r"videos holds no video", id="tile-zero-videos"),
    pytest.param(lambda: A.tile_frames([_v(), _v(0, 3, 8, 8)]), V, r"video 1 is empty", id="tile-list-with-empty-video"),
    pytest.param(lambda: A.play(_v(0, 3, 8, 8)), V, r"video 0 is empty", id="play-zero-frames"),
    pytest.param(lambda: A.tile_frames(_v(fill=200.0)), V, r"0\.\.255 pixels: pass vmin=0, vmax=255", id="tile-0-255-floats"),
    pytest.param(lambda: A.tile_frames(_v(fill=200.0).to(torch.uint8)), V, r"0\.\.255 pixels", id="tile-uint8-on-default-range"),
    pytest.param(lambda: A.tile_frames(_v(), vmax=INF), V, r"vmax must be finite", id="tile-inf-vmax"),
    pytest.param(lambda: A.tile_frames(_v(2, 3, 3, 8, 8), "ab"), T, r"labels must be a list.*string 'ab'", id="tile-string-labels"),
    pytest.param(lambda: A.tile_frames(_v(), ncols=1.5), T, r"ncols must be a positive int", id="tile-fractional-ncols"),
    pytest.param(lambda: A.tile_frames(_v(), scale=2.5), T, r"scale must be a positive int", id="tile-fractional-scale"),
    pytest.param(lambda: A.tile_frames(_v(), pad=-1), V, r"pad must be an int >= 0", id="tile-negative-pad"),
    pytest.param(lambda: A.tile_frames(_v(), scale=10**6), V, r"GiB.*lower scale", id="tile-absurd-scale"),
    pytest.param(lambda: A.tile_frames(_v().to(torch.complex64)), T, r"complex dtype", id="tile-complex"),
    pytest.param(lambda: A.tile_frames([_v(), "abc"]), T, r"video 1 must be a tensor or array.*string", id="tile-string-video"),
    pytest.param(lambda: A.gif_bytes(_v(), fps="6"), T, r"fps must be a real number", id="gif-string-fps"),
    pytest.param(lambda: A.gif_bytes(_v(), fps=None), T, r"fps must be a real number", id="gif-none-fps"),
    pytest.param(lambda: A.gif_bytes(_v(), fps=1e-9), V, r"too slow for a GIF.*fps >= 0\.0016", id="gif-fps-too-slow"),
    pytest.param(lambda: A.play(_v(), title=3), T, r"title must be a string", id="play-int-title"),
    pytest.param(lambda: A.save_mp4(_v(), None), T, r"path must be a file path.*\.mp4", id="mp4-none-path"),
    # --- video_grid ------------------------------------------------------------------------------------------
    pytest.param(lambda: video_grid([_v(0, 3, 8, 8)]), V, r"video 0 is empty", id="grid-zero-frames"),
    pytest.param(lambda: video_grid([_v(fill=NAN)]), V, r"video 0 holds NaN", id="grid-nan"),
    pytest.param(lambda: video_grid(_v(2, 3, 3, 8, 8), labels=["a"]), V, r"got 1 labels for 2 rows", id="grid-labels-short"),
    pytest.param(lambda: video_grid(_v(2, 3, 3, 8, 8), labels=["a", "b", "c"]), V, r"got 3 labels for 2 rows", id="grid-labels-long"),
    pytest.param(lambda: video_grid(_v(2, 3, 3, 8, 8), col_labels=list("abcde")), V, r"got 5 col_labels for 3 frame columns",
                 id="grid-col-labels-long"),
    pytest.param(lambda: video_grid(_v(2, 3, 3, 8, 8), vmin=1, vmax=-1), V, r"vmax must be greater than vmin", id="grid-inverted-range"),
    pytest.param(lambda: video_grid(_v(2, 3, 3, 8, 8), vmin=NAN), V, r"vmin must be finite", id="grid-nan-vmin"),
    pytest.param(lambda: video_grid(_v(2, 3, 3, 8, 8), cell=0), V, r"cell must be > 0", id="grid-zero-cell"),
    pytest.param(lambda: video_grid(_v(2, 3, 3, 8, 8), cell=-1), V, r"cell must be > 0", id="grid-negative-cell"),
    pytest.param(lambda: video_grid("abc"), T, r"rows must be a list of videos", id="grid-string-rows"),
    pytest.param(lambda: video_grid(None), T, r"rows must be a list of videos", id="grid-none-rows"),
    # --- the live lab, headless -------------------------------------------------------------------------------
    pytest.param(lambda: _lab().sample(0, M="0.5"), T, r"M must be a real number", id="lab-string-M"),
    pytest.param(lambda: _lab().sample(0, M=None), T, r"M must be a real number", id="lab-none-M"),
    pytest.param(lambda: _lab().sample(0, seed=1.5), T, r"seed must be an int", id="lab-fractional-seed"),
    pytest.param(lambda: _lab().sample(0, seed="3"), T, r"seed must be an int", id="lab-string-seed"),
    pytest.param(lambda: _lab().sample(0, n_steps=0), V, r"n_steps must be a positive int", id="lab-zero-steps-not-the-default"),
    pytest.param(lambda: _lab().sample(0, guidance=-1.0), V, r"guidance must be >= 0", id="lab-negative-guidance"),
    pytest.param(lambda: _lab().sample(0, guidance=(-3.0, -1.0)), V, r"guidance must be >= 0", id="lab-negative-framewise-guidance"),
    pytest.param(lambda: _lab().probe(0, t="0.5"), T, r"t must be a real number", id="lab-probe-string-t"),
    pytest.param(lambda: _lab().probe(0, seed=1.5), T, r"seed must be an int", id="lab-probe-fractional-seed"),
    pytest.param(lambda: Lab(None, _y(), _x0()), T, r"model must be a cilnb model", id="lab-none-model"),
    pytest.param(lambda: Lab("toy", _y(), _x0()), T, r"model must be a cilnb model", id="lab-string-model"),
    pytest.param(lambda: Lab(_toy(), _y().numpy(), _x0()), T, r"images must be a torch.Tensor.*from_numpy", id="lab-numpy-images"),
    pytest.param(lambda: Lab(_toy(), [1, 2], _x0()), T, r"images must be a torch.Tensor", id="lab-list-images"),
    pytest.param(lambda: Lab(_toy(), _y(), (_x0() + 1) * 127.5), V, r"truth values span .*0\.\.255", id="lab-truth-0-255"),
    pytest.param(lambda: Lab(_toy(), _y().fill_(NAN), _x0()), V, r"images contains .* non-finite", id="lab-nan-images"),
    pytest.param(lambda: Lab(_toy(), _y(), _x0(), cond=[1]), T, r"cond must be a dict", id="lab-list-cond"),
    pytest.param(lambda: Lab(_toy(), _y(), _x0(), decode=3), T, r"decode must be a function", id="lab-int-decode"),
    pytest.param(lambda: Lab(_toy(), _y(), _x0(), motion_fn=lambda v: [1.0]), V, r"motion_fn must return one value per video",
                 id="lab-motion-fn-wrong-length"),
    pytest.param(lambda: Lab(_toy(), _y(), _x0(), stats=3), T, r"stats must be a cilnb.analytic_init.MomentStats", id="lab-int-stats"),
    pytest.param(lambda: Lab(_toy(), _y(), _x0(), sampler=["ddim"]), V, r"sampler must be one of", id="lab-list-sampler"),
    pytest.param(lambda: Lab.toy(device="bogus"), V, r"device 'bogus' is not a torch device", id="lab-toy-bogus-device"),
    # --- sliders (the figure notebooks' widgets) --------------------------------------------------------------
    pytest.param(lambda: PW.sliders(lambda **k: None, True, a=(0, 1, 0.1, 5)), V, r"the value 5 lies outside \[0, 1\]",
                 id="sliders-value-outside"),
    pytest.param(lambda: PW.sliders(lambda **k: None, True, a=(1, 0, 0.1, 0.5)), V, r"min 1 is above max 0", id="sliders-min-above-max"),
    pytest.param(lambda: PW.sliders(lambda **k: None, True, a=(0, 1, 0, 0.5)), V, r"step must be > 0", id="sliders-zero-step"),
    pytest.param(lambda: PW.sliders(lambda **k: None, True, a=(0, NAN, 0.1, 0.5)), V, r"'a' max must be finite", id="sliders-nan-max"),
    pytest.param(lambda: PW.sliders(lambda **k: None, True, a="abcd"), T, r"slider 'a' needs \(min, max, step, value\)", id="sliders-string-spec"),
    pytest.param(lambda: PW.sliders(lambda **k: None, True, a=3), T, r"slider 'a' needs", id="sliders-int-spec"),
    pytest.param(lambda: PW.sliders(3, True, a=(0, 1, 0.1, 0.5)), T, r"fn must be a function", id="sliders-fn-not-callable"),
    pytest.param(lambda: PW.sliders(lambda **k: None, "False", a=(0, 1, 0.1, 0.5)), T, r"interactive must be True or False",
                 id="sliders-string-interactive"),
    # --- samplers ---------------------------------------------------------------------------------------------
    pytest.param(lambda: _sample(sampler=["ddim"]), V, r"sampler must be one of", id="sample-list-sampler"),
    pytest.param(lambda: _sample(start="0.5"), T, r"start M must be a real number", id="sample-string-start"),
    pytest.param(lambda: _sample(start=True), T, r"start M must be a real number", id="sample-bool-start"),
    pytest.param(lambda: _sample(start=0.5, start_native=500), V, r"give start or start_native, not both", id="sample-start-and-native"),
    pytest.param(lambda: _sample(start=None, start_native=-5), V, r"start_native = -5 is not a start time.*up to 999", id="sample-negative-native"),
    pytest.param(lambda: _sample(init="analytic", stats={"mean": 0}), T, r"stats must be a cilnb.analytic_init.MomentStats", id="sample-dict-stats"),
    pytest.param(lambda: _sample(cond={"guidance": -1.0}), V, r"guidance must be >= 0", id="sample-negative-guidance"),
    pytest.param(lambda: _sample(cond={"guidance": (2.0, -1.0)}), V, r"guidance must be >= 0", id="sample-negative-framewise-guidance"),
    pytest.param(lambda: _sample(cond={"guidance": torch.tensor([-1.0, 2.0])}), V, r"guidance must be >= 0", id="sample-negative-guidance-tensor"),
    pytest.param(lambda: _sample(cond={"guidance_scale": -2.0}), V, r"guidance_scale must be >= 0", id="sample-negative-guidance-scale"),
    pytest.param(lambda: _sample(cond={"guidance": True}), T, r"guidance must be a number", id="sample-bool-guidance"),
    pytest.param(lambda: _sample(sampler="heun", eta_convention="x"), V, r"eta_convention must be one of", id="sample-bad-eta-convention-heun"),
    pytest.param(lambda: _sample(callback=3), T, r"callback must be a function", id="sample-int-callback"),
    pytest.param(lambda: S.sample(None, _y(), n_steps=1, show_progress=False), T, r"model must be a cilnb model", id="sample-none-model"),
    pytest.param(lambda: _ddim(ts=(NAN, 0.5)), V, r"time grid ts holds NaN", id="dpmpp-nan-ts"),
    pytest.param(lambda: _ddim(ts="0.5"), T, r"ts must be the descending normalised times", id="dpmpp-string-ts"),
    pytest.param(lambda: _ddim(x=torch.full((1, 2, 1, 8, 8), NAN)), V, r"x contains .* non-finite", id="dpmpp-nan-x"),
    pytest.param(lambda: S.initial_noise(_toy(), [0], (2, 1, 8, 8), 2.0), V, r"start M must lie in \(0, 1\]", id="initial-noise-start-2"),
    pytest.param(lambda: S.initial_noise(_toy(), [0], (2, 1, 8, 8), NAN), V, r"start M must be finite", id="initial-noise-nan-start"),
    pytest.param(lambda: S.initial_noise(_toy(), [0.5], (2, 1, 8, 8), 0.5), T, r"seeds must be an int or a list of ints", id="initial-noise-float-seed"),
    pytest.param(lambda: S.per_sample_noise(3, (2,)), T, r"seeds must be a list of ints, one per sample", id="noise-int-seeds"),
    pytest.param(lambda: S.per_sample_noise("ab", (2,)), T, r"seeds must be a list of ints", id="noise-string-seeds"),
    pytest.param(lambda: S.per_sample_noise([2**70], (2,)), V, r"outside the range a torch.Generator accepts", id="noise-huge-seed"),
    pytest.param(lambda: S.per_sample_noise([0], (2, -1)), V, r"shape\[1\] must be a positive int", id="noise-negative-shape"),
    # --- probe ------------------------------------------------------------------------------------------------
    pytest.param(lambda: P.one_step_predictions(None, _x0(), [0.5]), T, r"model must be a cilnb model", id="probe-none-model"),
    pytest.param(lambda: _probe(cond={"guidance": -1.0}), V, r"guidance must be >= 0", id="probe-negative-guidance"),
    pytest.param(lambda: P.leakage_index(_toy(), _x0(), [0.5], predictions=torch.full((2, 1, 2, 1, 8, 8), NAN)), V,
                 r"predictions contains .* non-finite", id="leakage-nan-predictions"),
    pytest.param(lambda: P.leakage_index(_toy(), _x0(), [0.5], predictions=np.zeros((2, 1, 2, 1, 8, 8))), T,
                 r"predictions must be the torch.Tensor", id="leakage-numpy-predictions"),
    pytest.param(lambda: P.probe_table(_toy(), _x0(), [0.5], predictions=torch.full((2, 1, 2, 1, 8, 8), NAN)), V,
                 r"predictions contains .* non-finite", id="probe-table-nan-predictions"),
    pytest.param(lambda: P.recommend_start(_table().drop(columns=["t"]), "err_gt"), V, r"table has no 't' column", id="recommend-no-t"),
    pytest.param(lambda: P.recommend_start(_table().assign(s="a"), "s"), V, r"column 's' holds .* not numbers", id="recommend-string-column"),
    pytest.param(lambda: P.recommend_start(_table().iloc[:0], "err_gt"), V, r"table is empty", id="recommend-empty-table"),
    # --- media I/O --------------------------------------------------------------------------------------------
    pytest.param(lambda: IO.parse_size(3.7), V, r"size must be HxW text.*got 3\.7", id="size-float"),
    pytest.param(lambda: IO.parse_size([3.7, 4.2]), V, r"pair of ints", id="size-float-pair-truncated"),
    pytest.param(lambda: IO.parse_size(None), V, r"size must be HxW", id="size-none"),
    pytest.param(lambda: IO.parse_size(True), V, r"size must be HxW", id="size-bool"),
    pytest.param(lambda: IO.clip_to_tensor(np.zeros((2, 8, 8, 3), np.float32), (4, 4)), V, r"clip must be uint8 frames", id="clip-float"),
    pytest.param(lambda: IO.clip_to_tensor(np.zeros((8, 8, 3), np.uint8), (4, 4)), V, r"clip must be uint8 frames \[F, H, W, 3\]", id="clip-3d"),
    pytest.param(lambda: IO.clip_to_tensor(np.zeros((2, 8, 8, 3), np.uint8), (0, 4)), V, r"size must be two positive ints", id="clip-zero-size"),
    pytest.param(lambda: IO.to_rgb(np.zeros((4, 4, 5), np.uint8)), IO.VideoSkip, r"unexpected frame shape", id="to-rgb-five-channels"),
    pytest.param(lambda: IO.load_images("toy:2", _toy16(), size="16x24"), V, r"not square", id="toy-images-non-square-size"),
    pytest.param(lambda: IO.load_images("toy:2", _toy16(), data_seed=1.5), T, r"data_seed must be an int", id="toy-images-float-seed"),
    # --- the figure runner -------------------------------------------------------------------------------------
    pytest.param(lambda: FG.run_all(profile="smoke", only="explore"), T, r"only must be a list.*\['explore'\]", id="figures-string-only"),
    # list(3.0) inside run_all: "'float' object is not iterable"; a dict ran its keys
    pytest.param(lambda: FG.run_all(profile="smoke", only=3.0), T, r"only \(--only\) must be a list of notebook names .* got 3\.0 \(float\)",
                 id="figures-number-only"),
    pytest.param(lambda: FG.run_all(profile="smoke", only={"explore": 1}), T, r"only \(--only\) must be a list .* \(dict\)", id="figures-dict-only"),
    pytest.param(lambda: FG.run_all(profile="smoke", only=[]), V, r"only=\[\] names no notebook", id="figures-empty-only"),
]


@pytest.mark.parametrize("call,exc,pattern", CASES)
def test_bad_input_raises_a_clear_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_errors_of_wrong_types_are_also_value_errors():
    with pytest.raises(ValueError):
        A.gif_bytes(_v(), fps="6")
    with pytest.raises(ValueError):
        _lab().sample(0, seed=1.5)


def test_overshoot_is_still_clipped_and_far_values_are_not():
    """Model outputs a little outside [-1, 1] (and unclamped noise) are shown clipped as before; only another scale is refused."""
    v = torch.linspace(-4, 4, 3 * 3 * 8 * 8).reshape(3, 3, 8, 8)
    assert np.array_equal(A.tile_frames(v, scale=1), A.tile_frames(v.clamp(-1, 1), scale=1))
    assert A.tile_frames(v * 255, vmin=-1020, vmax=1020).shape[0] == 3  # the range the values use is fine


# ---------------------------------------------------------------------------------------------
# output paths of the exporters
# ---------------------------------------------------------------------------------------------


def test_exporter_paths_are_checked_before_any_work(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    (tmp_path / "a.gif").mkdir()
    (tmp_path / "a.mp4").mkdir()
    with pytest.raises(ValueError, match=r"afile is a file, so no folder can be made under it"):
        A.save_gif(_v(), afile / "x.gif")
    with pytest.raises(ValueError, match=r"afile is a file"):
        A.save_mp4(_v(), afile / "x.mp4")
    with pytest.raises(ValueError, match=r"a\.gif is a folder: give a file path ending in \.gif"):
        A.save_gif(_v(), tmp_path / "a.gif")
    with pytest.raises(ValueError, match=r"a\.mp4 is a folder"):
        A.save_mp4(_v(), tmp_path / "a.mp4")
    with pytest.raises(ValueError, match=r"too slow for an MP4"):  # was written at the encoder's default 24 fps
        A.save_mp4(_v(), tmp_path / "slow.mp4", fps=1e-9)
    assert not (tmp_path / "slow.mp4").exists()
    for fps in (1e4, 1e12):  # an mp4 that decodes as empty; an OverflowError inside PyAV
        with pytest.raises(ValueError, match=r"too fast for an MP4 written here.*fps <= 1000"):
            A.save_mp4(_v(), tmp_path / "fast.mp4", fps=fps)
    assert not (tmp_path / "fast.mp4").exists()
    assert A.save_gif(_v(), tmp_path / "new" / "deeper" / "ok.gif").is_file()  # missing folders are still made


def test_write_mp4_checks_its_inputs(tmp_path):
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    for fps in (0, 2.5, NAN, True, 1001, 10**12):  # 0 was written at the encoder's default, 2.5 silently at 2,
        with pytest.raises(ValueError, match="fps must be a whole number from 1 to 1000"):  # 10**4 as an empty mp4, 10**12 crashed
            IO.write_mp4(tmp_path / "a.mp4", frames, fps)
    with pytest.raises(ValueError, match=r"frames must be uint8 RGB frames"):
        IO.write_mp4(tmp_path / "a.mp4", frames.astype(np.float32), 8)
    with pytest.raises(ValueError, match=r"frames must be uint8 RGB frames"):
        IO.write_mp4(tmp_path / "a.mp4", frames[..., :1], 8)
    with pytest.raises(ValueError, match=r"its folder does not exist"):
        IO.write_mp4(tmp_path / "nope" / "a.mp4", frames, 8)
    IO.write_mp4(tmp_path / "ok.mp4", frames, 8.0)  # a whole float is a whole number
    assert (tmp_path / "ok.mp4").stat().st_size > 0
    IO.write_mp4(tmp_path / "fast.mp4", frames, IO.MP4_MAX_FPS)  # the fastest allowed rate still reads back
    assert IO.read_clip(tmp_path / "fast.mp4", 2).shape == (2, 8, 8, 3)


def test_clip_reading_settings_are_errors_not_skipped_videos(tmp_path):
    """A bad setting is a ValueError naming it; a VideoSkip would be caught and every video silently skipped."""
    (tmp_path / "clip").mkdir()
    for kw, pattern in (({"frames": 0}, "frames must be a positive int"), ({"frames": 2, "stride": 0}, "stride must be"),
                        ({"frames": 2, "stride": -1}, "stride must be"), ({"frames": 2, "fps": NAN}, "fps must be")):
        with pytest.raises(ValueError, match=pattern):
            IO.read_clip(tmp_path / "clip", **kw)
        with pytest.raises(ValueError, match=pattern):
            IO.ClipSet(tmp_path, size=8, allow_empty=True, **kw)
    with pytest.raises(FileNotFoundError, match=r"no video file or frame folder at .*nope\.mp4: check the path"):
        IO.read_clip(tmp_path / "nope.mp4", 2)  # was a VideoSkip: a typo read as an unreadable video


def test_an_unreadable_folder_image_names_the_fix(tmp_path):
    (tmp_path / "a.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot read image .*a\.png .*replace it with a readable image or remove it"):
        IO.load_images(str(tmp_path), _toy(), size=8)


# ---------------------------------------------------------------------------------------------
# widgets: ipywidgets would clamp a value outside a control silently, or fail with a TraitError
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kw, exc, pattern", [
    ({"M": 0.0}, V, r"M must lie in \[0\.05, 1\]"),
    ({"M": 2.0}, V, r"M must lie in \[0\.05, 1\]"),
    ({"init": "fancy"}, V, r"init must be one of \['standard'\] \(build the lab with stats="),
    ({"remedy": "fancy"}, V, r"remedy must be one of \['none', 'freeinit'"),
    ({"guidance": 7.0}, V, r"guidance must be one of \['default', 1\.0"),
    ({"seed": -1}, V, r"seed must be an int >= 0"),
    ({"seed": 2**40}, V, r"seed must be at most 2147483647"),
    ({"seed": 1.5}, T, r"seed must be an int"),
    ({"fps": 0}, V, r"fps must be > 0"),
])
def test_sampling_widget_start_values_are_checked(kw, exc, pattern):
    pytest.importorskip("ipywidgets")
    from cilnb.plotting.live import sampling_widget

    n = len(_lab().calls)
    with pytest.raises(exc, match=pattern):
        sampling_widget(_lab(), **kw)
    assert len(_lab().calls) == n  # refused before the first sample


def test_probe_widget_start_values_are_checked():
    pytest.importorskip("ipywidgets")
    from cilnb.plotting.live import probe_widget, sampling_widget

    for kw, pattern in (({"t": 0.0}, r"t must lie in \[0\.01, 1\]"), ({"t": 2}, r"t must lie in"), ({"seed": -1}, "seed must be")):
        with pytest.raises(ValueError, match=pattern):
            probe_widget(_lab(), **kw)
    for widget in (probe_widget, sampling_widget):
        with pytest.raises(TypeError, match=r"lab must be a cilnb.live.Lab"):
            widget(_toy())


# ---------------------------------------------------------------------------------------------
# the sweep store (cilnb.runs)
# ---------------------------------------------------------------------------------------------


def _images():
    return IO.load_images("toy:2", _toy16())


def _sweep(out, **kw):
    args = dict(Ms=[1.0], n_steps=1, show_progress=False, motion_method=None)
    args.update(kw)
    return R.run_sweep(_toy16(), args.pop("images", _images()), out, **args)


@pytest.mark.parametrize("kw, exc, pattern", [
    ({"batch_size": 1.5}, T, r"batch_size must be a positive int"),
    ({"batch_size": None}, T, r"batch_size must be a positive int"),
    ({"batch_size": True}, T, r"batch_size must be a positive int"),
    ({"max_units": 1.5}, T, r"max_units must be an int >= 0"),
    ({"max_units": "a"}, T, r"max_units must be an int >= 0"),
    ({"mp4": True, "mp4_fps": 0}, V, r"mp4_fps must be a positive int"),
    ({"mp4": True, "mp4_fps": 2.5}, T, r"mp4_fps must be a positive int"),
    ({"on_batch": 3}, T, r"on_batch must be a function"),
    ({"motion_method": "farneback", "motion_kwargs": {"nope": 1}}, V, r"motion_kwargs \['nope'\] are not motion_score keywords"),
    ({"images": torch.zeros(2, 1, 8, 8)}, T, r"images must be a cilnb.io.ImageSet"),
    ({"native": True, "Ms": [-5.0]}, V, r"native start M = -5 is not a start time"),
])
def test_sweep_settings_are_checked_before_anything_is_written(tmp_path, kw, exc, pattern):
    with pytest.raises(exc, match=pattern):
        _sweep(tmp_path / "out", **kw)
    assert not (tmp_path / "out").exists()


def test_sweep_refuses_a_bad_sampler_before_writing_its_settings(tmp_path):
    with pytest.raises(ValueError, match="sampler must be one of"):
        _sweep(tmp_path / "out", sampler="dpm")
    assert not (tmp_path / "out").exists()  # was: sweep.json written with the bad sampler, then the error
    with pytest.raises(ValueError, match=r"stats_path .*nope is not a file"):
        _sweep(tmp_path / "out", stats_path=tmp_path / "nope")
    with pytest.raises(TypeError, match="model must be a cilnb model"):
        R.run_sweep(None, _images(), tmp_path / "out", Ms=[1.0], n_steps=1, show_progress=False)


def test_sweep_layout_in_the_way_is_named(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "videos").write_text("x")
    with pytest.raises(ValueError, match=r"videos is a file, but a sweep keeps its videos in a folder"):
        _sweep(tmp_path / "a")
    (tmp_path / "b" / "sweep.json").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"sweep.json is a folder"):
        _sweep(tmp_path / "b")


def test_stored_videos_of_another_kind_are_named_on_recovery(tmp_path):
    from safetensors.torch import save_file

    base = tmp_path / "base"
    _sweep(base)
    for name, tensors, pattern in (("key", {"foo": torch.zeros(2)}, r"holds no 'video' tensor \(keys \['foo'\]\)"),
                                   ("shape", {"video": torch.zeros(3, 1, 4, 4)}, r"has shape \(3, 1, 4, 4\).*another run")):
        out = tmp_path / name
        shutil.copytree(base, out)
        vid = sorted((out / "videos").glob("*.safetensors"))[-1]
        save_file(tensors, str(vid))
        for p in (out / "results").glob("*.jsonl"):  # rows lost: the units are recovered from their videos
            p.unlink()
        with pytest.raises(ValueError, match=pattern):
            _sweep(out)


def test_result_rows_with_garbage_bytes_are_torn_lines(tmp_path):
    out = tmp_path / "out"
    ref = _sweep(out).table
    for p in (out / "results").glob("*.jsonl"):
        p.write_bytes(b"\xff\xfe garbage\n" + b'{"unit": ["not", "a", "name"]}\n')
    res = _sweep(out)  # was a UnicodeDecodeError / "unhashable type: 'list'"
    assert res.recovered == len(ref) and sorted(res.table.unit) == sorted(ref.unit)


# ---------------------------------------------------------------------------------------------
# the figure runner
# ---------------------------------------------------------------------------------------------


def test_figure_runner_checks_its_folders_and_notebooks_first(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ValueError, match=r"--out .*afile is a file, not a folder"):
        FG.run_all(profile="smoke", only=["explore"], out=afile)
    with pytest.raises(ValueError, match=r"--out .*afile is a file, so no folder can be made under it"):
        FG.run_all(profile="smoke", only=["explore"], out=afile / "sub")
    with pytest.raises(ValueError, match=r"executed_dir .*afile is a file"):  # was: every notebook FAILED with a traceback
        FG.run_all(profile="smoke", only=["explore"], out=tmp_path / "figs", executed_dir=afile)
    bad = tmp_path / "nbs" / "broken.ipynb"
    bad.parent.mkdir()
    bad.write_text('{"cells": [')
    with pytest.raises(ValueError, match=r"notebook .*broken\.ipynb is not valid JSON"):
        FG.notebook_parameters(bad, "smoke")
    with pytest.raises(ValueError, match=r"broken\.ipynb is not valid JSON"):
        FG.declared_parameters(bad)
    with pytest.raises(TypeError, match=r"params must be a dict"):
        FG.run_notebook(bad, "smoke", tmp_path / "f", tmp_path / "x", params=[("model", "svd")])
    assert not (tmp_path / "figs").exists()


# ---------------------------------------------------------------------------------------------
# command lines: one line, exit status 2
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_more")
    net = toy.build(frames=2, size=16, widths=(8, 16), temporal_levels=(1,), temporal_width=8, emb_dim=32, seed=0).net
    ckpt = toy.save_checkpoint(d / "toy.safetensors", net, {})
    MomentStats.from_moments(torch.zeros(2, 1, 16, 16, dtype=torch.float64), torch.ones(2, 1, 16, 16, dtype=torch.float64)).save(
        d / "stats.safetensors")
    (d / "afile").write_text("a file, not a folder")
    return {"ckpt": ckpt, "stats": d / "stats.safetensors", "afile": d / "afile"}


def _cli(capsys, *argv) -> tuple[int, str]:
    from cilnb.commands import main

    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:
        rc = exc.code
    return rc, capsys.readouterr().err


def _one_error(rc, err, *needles):
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n.lower() in lines[0].lower(), (n, lines[0])


def _sample_args(files, out, *extra):
    return ["sample", "--model", "toy", "--model-path", files["ckpt"], "--images", "toy:1", "--M", "1.0", "--n-steps", "1",
            "--motion-method", "none", "--device", "cpu", "--quiet", "--out", out, *extra]


def test_cli_bogus_device_is_one_line(capsys, files, tmp_path):
    """Was a RuntimeError traceback from torch.device (exit status 1)."""
    argv = _sample_args(files, tmp_path / "o")
    argv[argv.index("--device") + 1] = "bogus"
    _one_error(*_cli(capsys, *argv), "--device bogus is not a device", "cuda:N")
    _one_error(*_cli(capsys, "stats", "--model", "toy", "--videos", tmp_path, "--frames", "2", "--size", "16", "--out",
                     tmp_path / "s.safetensors", "--device", "gpu0"), "--device gpu0")
    _one_error(*_cli(capsys, "train-toy", "--steps", "1", "--pretrain-steps", "0", "--out", tmp_path / "m.safetensors", "--device", "bogus",
                     "--quiet"), "--device bogus")
    _one_error(*_cli(capsys, "finetune", "--model-path", tmp_path, "--videos", tmp_path, "--out", tmp_path / "ft", "--device", "cuda:1"),
               "--device")  # was silently accelerate's own choice


def test_cli_toy_stats_data_from_another_file_is_refused(capsys, files, tmp_path):
    """Was silently the default sprites' statistics (the file has no training data in its metadata)."""
    out = tmp_path / "ts.safetensors"
    _one_error(*_cli(capsys, "toy-stats", "--n", "2", "--quiet", "--data-from", files["stats"], "--out", out),
               "--data-from", "not a cilnb toy checkpoint", "train-toy")
    _one_error(*_cli(capsys, "toy-stats", "--n", "2", "--quiet", "--data-from", files["ckpt"], "--out", out),
               "--data-from", "records no training data", "leave --data-from out")  # a toy saved by hand: same silent default
    assert not out.exists()


def test_cli_sample_toy_size_and_native_start(capsys, files, tmp_path):
    _one_error(*_cli(capsys, *_sample_args(files, tmp_path / "o", "--size", "16x24")), "--size 16x24 is not square")
    argv = _sample_args(files, tmp_path / "o2", "--native")
    argv[argv.index("--M") + 1] = "-5"
    _one_error(*_cli(capsys, *argv), "native start M = -5")
    assert not (tmp_path / "o").exists() and not (tmp_path / "o2").exists()


def test_cli_figures_out_that_is_a_file(capsys, files):
    """Was 'FileExistsError: [Errno 17] File exists' (after the notebooks' profiles were read)."""
    _one_error(*_cli(capsys, "figures", "--profile", "smoke", "--only", "explore", "--out", files["afile"]), "--out", "is a file")
    _one_error(*_cli(capsys, "figures", "--profile", "smoke", "--only", "explore", "--out", files["afile"] / "x"), "--out", "is a file")

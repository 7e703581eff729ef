"""Odd input to the live lab (:class:`cilnb.live.Lab`), its widgets, the figure sliders, the video helpers and the TimeNoise /
Analytic-Init figures: each case here was mishandled before this file (a traceback from deep inside torch, PIL, matplotlib or
Python's call machinery, a silently wrong read-out or picture, a widget that sampled before failing, or an error that did not
name the input and the fix). Next to each edge, the valid input beside it is checked to keep working as before."""
from __future__ import annotations

import functools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from cilnb import analytic_init as AI  # noqa: E402
from cilnb import data as D  # noqa: E402
from cilnb import plotting as P  # noqa: E402
from cilnb.live import Lab  # noqa: E402
from cilnb.models import toy  # noqa: E402
from cilnb.plotting import animation as A  # noqa: E402
from cilnb.plotting import widgets as PW  # noqa: E402
from cilnb.schedules import VPSchedule  # noqa: E402

T, V = TypeError, ValueError


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _net():
    return toy.build(frames=2, size=8, widths=(8,), temporal="none", temporal_levels=(), temporal_width=8, emb_dim=16, seed=0).eval()


@functools.lru_cache(maxsize=None)
def _sprites():
    return D.generate(2, seed=0, frames=2, size=8, radius=(1.0, 2.0), flow=False)


def _y():
    return _sprites().condition.clone()  # [2, 1, 8, 8] in [-1, 1]


def _x0():
    return _sprites().videos.clone()  # [2, 2, 1, 8, 8] in [-1, 1]


def _lab(**kw):
    return Lab(_net(), _y(), _x0(), **{"n_steps": 1, "n_seeds": 1, **kw})


def _v(*shape, fill=0.0):
    return torch.full(shape or (3, 3, 8, 8), fill)


# ---------------------------------------------------------------------------------------------
# the live lab
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make, name", [
    pytest.param(lambda: Lab(_net(), _y().to("meta"), _x0()), "images", id="images"),
    pytest.param(lambda: Lab(_net(), _y(), _x0().to("meta")), "truth", id="truth"),
    pytest.param(lambda: Lab(_net(), _y(), _x0(), x0=_x0().to("meta")), "x0", id="x0"),
    pytest.param(lambda: _lab().add_images(_y().to("meta"), _x0()), "images", id="add-images"),
    pytest.param(lambda: Lab(_net(), _y(), _x0(), cond={"motion": torch.ones(2)}).add_images(
        _y(), _x0(), cond={"motion": torch.ones(2, device="meta")}), r"cond\['motion'\]", id="add-images-cond"),
])
def test_lab_refuses_meta_tensors(make, name):
    """A tensor on the 'meta' device failed in torch: "Tensor.item() cannot be called on meta tensors" (images, truth, x0),
    or "Cannot copy out of meta tensor; no data!" (add_images' cond)."""
    with pytest.raises(T, match=rf"{name} is a tensor on the 'meta' device.*pass the real tensor"):
        make()


def test_lab_refuses_a_cond_key_that_is_not_a_name():
    """cond={3: ...} was accepted and failed at the first sample with Python's bare "keywords must be strings"."""
    with pytest.raises(T, match=r"cond's keys must be the names .*\(strings, e.g. 'motion'\), got 3 \(int\)"):
        Lab(_net(), _y(), _x0(), cond={3: torch.ones(2)})
    assert sorted(Lab(_net(), _y(), _x0(), cond={"motion": torch.ones(2)}).cond) == ["motion"]


def test_lab_refuses_another_cond_y():
    """cond={'y': other} was dropped without a word: the lab sampled from images, not from the cond['y'] given."""
    with pytest.raises(V, match=r"cond\['y'\] differs from images: .*pass the conditional images as images= and leave 'y' out"):
        Lab(_net(), _y(), _x0(), cond={"y": -_y()})
    y = _y()
    assert Lab(_net(), y, _x0(), cond={"y": y}).cond == {}  # the same images, as before: dropped
    assert Lab(_net(), y, _x0(), cond={"y": y.clone()}).cond == {}


@pytest.mark.parametrize("key", ["model", "y"])
def test_lab_sample_refuses_the_model_and_y_keywords(key):
    """Lab.sample(0, model=...) / (y=...) failed in Python's call: "sample() got multiple values for argument 'model'"."""
    with pytest.raises(V, match=rf"Lab\.sample sets {key} itself: "):
        _lab().sample(0, **{key: _net() if key == "model" else _y()})


def test_lab_checks_motion_fn_in_sample_and_probe():
    """A motion_fn that returns a fixed number of values (right for the ground truth) gave sample() a read-out of another
    length than its videos without a word, and probe() silently took the first value (a string failed in numpy)."""
    lab = _lab(motion_fn=lambda v: torch.zeros(2))  # 2 ground-truth videos: fine when built
    with pytest.raises(V, match=r"motion_fn must return one value per video \(1 for the generated videos\), got shape \(2,\)"):
        lab.sample(0)
    with pytest.raises(V, match=r"motion_fn must return one value per video \(1 for the prediction X̂\), got shape \(2,\)"):
        lab.probe(0)
    with pytest.raises(T, match=r"motion_fn must return one number per video .* for the prediction X̂\), got \['a'\]"):
        _lab(motion_fn=lambda v: torch.zeros(2) if len(v) == 2 else ["a"]).probe(0)
    ok = _lab(motion_fn=lambda v: torch.arange(len(v), dtype=torch.float32))
    assert ok.sample(0).motion.tolist() == [0.0] and ok.probe(0).motion == 0.0


def test_lab_checks_what_decode_returns():
    """A decode that dropped the frame axis failed in the sprite tracker ("videos must be [B, F, 1, H, W] grayscale"), one that
    returned a number in numpy ("invalid index of a 0-dim tensor"): neither named decode."""
    with pytest.raises(V, match=r"decode must return one pixel video \[F, C, H, W\] per video .*B = 1, got shape \(1, 1, 8, 8\)"):
        _lab(decode=lambda v: v[:, 0]).sample(0)
    with pytest.raises(V, match=r"decode must return one pixel video .*got shape \(\)"):
        _lab(decode=lambda v: v.sum()).probe(0)
    assert _lab(decode=lambda v: v * 1.0).probe(0).x0_hat.shape == (2, 1, 8, 8)


# ---------------------------------------------------------------------------------------------
# the lab's widgets and the figure sliders
# ---------------------------------------------------------------------------------------------


def test_guidance_options_name_a_model_default_of_weights():
    """A model whose default guidance is [B, F] weights (valid for guidance_weights) broke guidance_options and with it the
    sampling widget: "only one element tensors can be converted to Python scalars"."""
    from cilnb.plotting.live import guidance_options

    net = _net()
    net.guidance = torch.tensor([[1.0, 2.0]])
    assert guidance_options(net)[0] == ("model default (weights of shape [1, 2])", "default")
    net.guidance = 2.0
    assert guidance_options(net)[0] == ("model default (2)", "default")


@pytest.mark.parametrize("which", ["sampling", "probe"])
def test_widgets_refuse_a_gif_fps_before_running_the_model(which):
    """fps=1e-5 (too slow for a GIF frame) was refused only by play(), after the widget had run the model once."""
    pytest.importorskip("ipywidgets")
    lab = _lab()
    with pytest.raises(V, match=r"fps = 1e-05 is too slow for a GIF.*fps >= 0\.0016"):
        lab.sampling_widget(fps=1e-5) if which == "sampling" else lab.probe_widget(fps=1e-5)
    assert lab.calls == []


def test_sliders_take_numpy_ints_as_ints():
    """(np.int64(0), np.int64(10), np.int64(1), np.int64(5)) made a FloatSlider: fn got 5.0, not 5, without a word."""
    pytest.importorskip("ipywidgets")
    import ipywidgets as W

    seen = []

    def fn(k):
        seen.append(k)
        return plt.figure()

    w = PW.sliders(fn, True, k=tuple(np.int64(v) for v in (0, 3, 1, 2)))
    assert isinstance(w.children[0], W.IntSlider) and w.children[0].value == 2 and type(seen[-1]) is int
    assert isinstance(PW.sliders(fn, True, k=(0, 3, 1, 2)).children[0], W.IntSlider)
    assert isinstance(PW.sliders(fn, True, k=(0, 3, 0.5, 2)).children[0], W.FloatSlider)


def test_sliders_refuse_repeated_options():
    """([0.5, 0.5, 1.0], 0.5) made a selection slider that stopped twice at 0.5, showing one figure twice."""
    pytest.importorskip("ipywidgets")
    with pytest.raises(V, match=r"slider 't': its options list \[0\.5\] more than once.*sorted\(set\(options\)\)"):
        PW.sliders(lambda t: plt.figure(), True, t=([0.5, 0.5, 1.0], 0.5))
    assert PW.sliders(lambda t: plt.figure(), True, t=([0.5, 1.0], 0.5)).children[0].options == (0.5, 1.0)


# ---------------------------------------------------------------------------------------------
# the video helpers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("draw", [lambda **kw: A.tile_frames(_v(), **kw), lambda **kw: P.video_grid([_v()], **kw)], ids=["tile", "grid"])
def test_a_range_beyond_float32_is_refused(draw):
    """vmin=-1e308, vmax=1e308 overflowed in (v - vmin) / (vmax - vmin): every frame came out white (tile_frames) without a word."""
    with pytest.raises(V, match=r"\[vmin, vmax\] = \[-1e\+308, 1e\+308\] is beyond what float32 frames can be scaled by"):
        draw(vmin=-1e308, vmax=1e308)
    with pytest.raises(V, match=r"beyond what float32 frames"):
        draw(vmin=1e39, vmax=1.5e39)
    assert draw(vmin=-1e30, vmax=1e30) is not None


def test_tile_frames_keeps_its_pixels_for_a_wide_valid_range():
    """The same picture as before for a valid range; and the overflowing one, which was all white, is refused."""
    assert int(A.tile_frames(_v(), vmin=-1e30, vmax=1e30, scale=1)[0, 4, 4, 0]) == 128  # 0 is mid-gray on a symmetric range
    with pytest.raises(V, match=r"float32"):
        A.tile_frames(_v(), vmin=-3e38, vmax=3e38)


@pytest.mark.parametrize("draw", [A.tile_frames, lambda v: P.video_grid([v])], ids=["tile", "grid"])
def test_a_channels_last_video_gets_the_fix(draw):
    """A [F, H, W, C] video (imageio's layout) was refused as "must be [F, C, H, W] with C in (1, 3)" without saying how to
    get there."""
    with pytest.raises(V, match=r"looks like \[F, H, W, C\] \(channels last\): pass v\.permute\(0, 3, 1, 2\)"):
        draw(torch.zeros(3, 8, 8, 3))
    assert draw(torch.zeros(3, 3, 8, 8)) is not None


@pytest.mark.parametrize("draw", [A.tile_frames, lambda v: P.video_grid([v])], ids=["tile", "grid"])
def test_finite_values_beyond_float32_are_not_called_nan(draw):
    """A float64 video of 1e300 became inf in float32 and was refused as "holds NaN or inf values ... check the model's
    output" (with numpy's "overflow encountered in cast" warning)."""
    with pytest.raises(V, match=r"holds values up to 1e\+300, beyond what float32 pixels hold .*rescale"):
        draw(np.full((3, 1, 8, 8), 1e300))
    with pytest.raises(V, match=r"NaN or inf"):  # a real inf is still called so
        draw(np.full((3, 1, 8, 8), np.inf))


def test_video_grid_says_how_to_show_one_video():
    """video_grid(video) with one [F, C, H, W] video read its frames as rows: "each video must be [F, C, H, W] ..., got
    (3, 8, 8)", without the fix."""
    with pytest.raises(V, match=r"rows is one video \[F, C, H, W\] \(shape \(3, 3, 8, 8\)\).*pass \[video\] \(or video\[None\]\)"):
        P.video_grid(_v())
    with pytest.raises(V, match=r"rows is one video"):
        P.video_grid(_v().numpy())
    assert len(P.video_grid(_v()[None]).axes) == 3 and len(P.video_grid([_v()]).axes) == 3


def test_video_grid_refuses_frames_under_a_pixel():
    """cell=1e-6 built a figure that matplotlib could not save: "cannot write empty image"."""
    with pytest.raises(V, match=r"cell = 1e-06 inches per frame is under one pixel at .* dpi: pass e\.g\. cell=1"):
        P.video_grid([_v()], cell=1e-6)
    assert P.video_grid([_v()], cell=0.5).get_size_inches()[0] == 1.5


def test_video_grid_refuses_a_title_that_is_not_text():
    """title=["a"] was drawn as the text "['a']" (play() refuses a non-string title)."""
    with pytest.raises(T, match=r"title must be a string \(or None\), got list: pass str\(title\)"):
        P.video_grid([_v()], title=["a"])
    assert P.video_grid([_v()], title="a")._suptitle.get_text() == "a"


# ---------------------------------------------------------------------------------------------
# the TimeNoise and Analytic-Init figures
# ---------------------------------------------------------------------------------------------


def test_timenoise_figures_take_a_one_element_tensor():
    """a=torch.tensor([5.0]) passed the math (density_grid, check_samples) but failed in the figure's labels:
    "unsupported format string passed to Tensor.__format__"."""
    fig = P.plot_timenoise_density(torch.tensor([5.0]), 2.0, [0.5], n_t=11, n_beta=12)
    assert "a = 5" in fig.axes[0].get_title()
    fig = P.plot_timenoise_samples(5.0, torch.tensor([2.0]), [0.5], n=50)
    assert "= 2" in fig._suptitle.get_text()


@pytest.mark.parametrize("call, name", [
    pytest.param(lambda: P.plot_timenoise_density(5.0, 2.0, [0.5, 0.9, 0.5], n_t=11, n_beta=12), "t_slices", id="density"),
    pytest.param(lambda: P.plot_timenoise_mu([1.0, 2.0, 1.0]), "a_values", id="mu"),
])
def test_timenoise_figures_refuse_repeated_values(call, name):
    """A repeated t (or a) drew the same curve twice, with two legend entries (check_samples refuses a repeated t)."""
    with pytest.raises(V, match=rf"{name} lists \[[0-9.]+\] more than once.*pass each value once"):
        call()
    assert len(P.plot_timenoise_mu([1.0, 2.0]).axes[0].lines) == 2


def test_init_marginals_name_the_bad_start_time():
    """Ms=[0.5, 1.5] was refused by the schedule as "start M must lie in (0, 1]", not naming Ms[1]; Ms=[0.5, 0.5] drew the
    same panel twice."""
    data = AI.synthetic_data(d=4)
    with pytest.raises(V, match=r"Ms\[1\] must be <= 1 \(a normalised start time in \(0, 1\]"):
        P.plot_init_marginals(VPSchedule(), data, [0.5, 1.5])
    with pytest.raises(V, match=r"Ms\[0\] must be > 0"):
        P.plot_init_marginals(VPSchedule(), data, [0.0])
    with pytest.raises(V, match=r"Ms lists \[0\.5\] more than once"):
        P.plot_init_marginals(VPSchedule(), data, [0.5, 0.5])
    assert len(P.plot_init_marginals(VPSchedule(), data, [0.5, 1.0]).axes) == 2

"""Bad inputs found by a mutation fuzzer over the public API (each argument of a valid call replaced in turn by None,
NaN, a string, a huge int, a 0-d tensor, a nested list, ...): each either failed deep inside torch/numpy/re, hung, or
was silently accepted. Every case here failed (or hung) on the code before the fix."""
from __future__ import annotations

import importlib
import time

import numpy as np
import pandas as pd
import pytest
import torch

import cilnb as C
from cilnb import checks
from cilnb.experiments.agreement import paired_agreement
from cilnb.experiments.readouts import flow_motion, sprite_speed
from cilnb.metrics.motion import vbench_params
from cilnb.metrics.toy_quality import frechet_to_reference_ci
from cilnb.plotting.live import guidance_options
from cilnb.plotting.widgets import sliders
from cilnb.toy_training import noisy_motion_label

F = importlib.import_module("cilnb.metrics.fvd")  # the module: cilnb.metrics.fvd is also the name of the fvd() function
T, V = TypeError, ValueError


@pytest.fixture(scope="module")
def toy():
    return C.models.load("toy", device="cpu")


@pytest.fixture(scope="module")
def videos():
    return C.data.generate(3, seed=0).videos.float()


def _feats(seed, n=12, d=3):
    return np.random.default_rng(seed).normal(size=(n, d))


# --- models where a name, None or a number was taken for one ------------------------------------------------------------

@pytest.mark.parametrize("model", [None, "toy", 3, {"schedule": 1}], ids=["none", "name", "int", "dict"])
def test_initial_noise_refuses_what_is_not_a_model(model):
    with pytest.raises(T, match=r"model must be a cilnb model"):
        C.sampling.initial_noise(model, [0], (8, 1, 32, 32), 1.0)


def test_a_model_name_is_told_to_be_loaded():
    with pytest.raises(T, match=r"load it first, cilnb.models.load\('toy'\)"):
        C.sampling.initial_noise("toy", [0], (8, 1, 32, 32), 1.0)


@pytest.mark.parametrize("model", ["toy", 3, float("nan"), {"a": 1}], ids=["name", "int", "nan", "dict"])
def test_load_images_refuses_what_is_not_a_model(model):
    with pytest.raises(T, match=r"model \(the model the images are for, or None\) must be a cilnb model"):
        C.io.load_images("toy:2", model)


@pytest.mark.parametrize("model", [3, float("nan"), [], {"a": 1}], ids=["int", "nan", "list", "dict"])
def test_timenoise_views_refuses_what_is_not_a_model_or_none(model):
    """A number or a dict was read as a pixel model (no encoder) and the pixels noised."""
    image = C.data.generate(1, seed=0).videos[0, 0].float()
    with pytest.raises(T, match=r"must be a cilnb model"):
        C.experiments.timenoise_views(model, image, [0.5], 5.0, 2.0)
    assert len(C.experiments.timenoise_views(None, image, [0.5], 5.0, 2.0, n_draws=1)) == 1  # None: pixels, as documented


def test_guidance_options_show_a_guidance_setting_that_is_not_a_number():
    class M:
        guidance = "auto"

    assert guidance_options(M())[0] == ("model default (auto)", "default")


# --- values that reached numpy, torch or re unchecked ------------------------------------------------------------------

@pytest.mark.parametrize("name", [None, 3, b"abc", ["a"]], ids=["none", "int", "bytes", "list"])
def test_safe_name_refuses_what_is_not_a_string(name):
    with pytest.raises(T, match=r"name must be a str"):
        C.io.safe_name(name)


def test_bootstrap_seeds_and_ddof_as_0d_tensors_are_their_ints():
    a, b, c = _feats(0), _feats(1), _feats(2)
    assert F.frechet_interval(a, b, n_boot=20, seed=torch.tensor(3)) == F.frechet_interval(a, b, n_boot=20, seed=3)
    assert F.frechet_difference(a, c, b, n_boot=20, seed=np.int64(3)) == F.frechet_difference(a, c, b, n_boot=20, seed=3)
    m1, s1 = F.gaussian_stats(a, ddof=torch.tensor(0))
    m0, s0 = F.gaussian_stats(a, ddof=0)
    assert np.array_equal(s1, s0) and np.array_equal(m1, m0)


def test_toy_fd_interval_takes_a_0d_tensor_seed(videos):
    ref = C.data.generate(6, seed=1).videos.float()
    assert frechet_to_reference_ci(videos, ref, n_boot=10, seed=torch.tensor(1)) == frechet_to_reference_ci(videos, ref, n_boot=10, seed=1)


def test_vbench_params_of_a_huge_clip_are_computed_not_listed():
    """The frame count was the length of a list of every kept frame: 10**12 frames raised MemoryError."""
    t0 = time.perf_counter()
    p = vbench_params(10**12, 24.0, (256, 256))
    assert p["stride"] == 3 and p["count"] == -(-10**12 // 3) and time.perf_counter() - t0 < 1
    for n in (1, 2, 7, 8, 9, 25):  # the same numbers as listing the frames
        assert vbench_params(n, 24.0, (64, 64))["count"] == len(range(0, n, 3)) == len(list(range(0, n, 3)))


def test_seeds_for_a_huge_count_are_refused_before_they_are_listed():
    with pytest.raises(V, match=r"1000000000000 seeds \(one per item\) needs more than .* GiB"):
        checks.check_seeds(0, 10**12)
    with pytest.raises(V, match=r"needs more than .* GiB"):
        C.experiments.model_videos("toy", n_videos=10**12)


def test_paired_agreement_refuses_nested_column_lists():
    df = pd.DataFrame({"M": [1.0, 1.0], "init": ["standard"] * 2, "seed": [0, 0], "image_index": [0, 1], "motion": [1.0, 2.0]})
    with pytest.raises(T, match=r"columns must be a flat list of column names, got \['motion'\]"):
        paired_agreement(df, df, [["motion"]])
    with pytest.raises(T, match=r"keys must be a flat list"):
        paired_agreement(df, df, ["motion"], keys=[["M"], "init"])


@pytest.mark.parametrize("speed", [torch.ones(2, dtype=torch.complex64), torch.ones(2, dtype=torch.bool)], ids=["complex", "bool"])
def test_motion_label_speeds_must_be_real_numbers(speed):
    with pytest.raises(T, match=r"speed must hold real speeds in px/frame"):
        noisy_motion_label(speed, 0.1, torch.Generator().manual_seed(0))


# --- read-outs that clamped inf into a frame ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [sprite_speed, flow_motion], ids=["sprite_speed", "flow_motion"])
@pytest.mark.parametrize("bad", [float("inf"), float("nan")], ids=["inf", "nan"])
def test_readouts_refuse_non_finite_videos(fn, bad, videos):
    v = videos.clone()
    v[0, 2, 0, 5, 5] = bad
    with pytest.raises(V, match=r"videos contains 1 non-finite value"):
        fn(v)


@pytest.mark.parametrize("fn", [sprite_speed, flow_motion], ids=["sprite_speed", "flow_motion"])
def test_readouts_refuse_complex_videos(fn, videos):
    with pytest.raises(T, match=r"videos must be a real tensor"):
        fn(videos.to(torch.complex64))


# --- the remedies' start time ------------------------------------------------------------------------------------------

def test_grid_gives_named_analytic_init_the_start_time():
    """The notebook's ``start`` reached only the default grid: a named analytic_init started at compare()'s M (T)."""
    g = C.remedies.grid(["analytic_init", "alg+analytic_init", "freeinit"], start=0.7)
    assert g["analytic_init"].start == 0.7
    members = g["alg+analytic_init"].members()
    assert [type(m).__name__ for m in members] == ["ALG", "AnalyticInit"] and members[1].start == 0.7
    assert g["freeinit"] == C.remedies.build("freeinit")


@pytest.mark.parametrize("start", ["abc", None, float("nan"), 0.0, 1.5, True], ids=["str", "none", "nan", "zero", "above", "bool"])
def test_grid_checks_start_even_when_no_remedy_reads_it(start):
    with pytest.raises((T, V), match=r"^start must"):
        C.remedies.grid(["frameinit"], start=start)
    assert C.remedies.grid(["analytic_init"], start=np.float32(0.5))["analytic_init"].start == 0.5


# --- the live lab and the sliders --------------------------------------------------------------------------------------

def test_lab_decode_image_checks_the_index():
    lab = C.live.Lab.toy(n_images=2, n_steps=2, n_seeds=1)
    assert lab.decode_image(1).shape[0] == 1
    for i in (2, 10**12, -1, True, 0.5):  # an index past the end gave an empty [0, C, H, W] tensor
        with pytest.raises(V, match=r"image index must be an int in \[0, 1\]"):
            lab.decode_image(i)


def test_headless_sliders_still_check_their_function_and_specs():
    """``interactive=False`` returned None before looking: a broken slider passed every headless (CI) run."""
    fig = lambda a: None  # noqa: E731
    assert sliders(fig, False, a=(0.0, 1.0, 0.1, 0.5)) is None
    with pytest.raises(T, match=r"fn must be a function"):
        sliders(None, False, a=(0.0, 1.0, 0.1, 0.5))
    with pytest.raises(V, match=r"step must be > 0"):
        sliders(fig, False, a=(0.0, 1.0, 0.0, 0.5))
    with pytest.raises(V, match=r"lies outside"):
        sliders(fig, False, a=(0.0, 1.0, 0.1, 2.0))
    with pytest.raises(V, match=r"more than once"):
        sliders(fig, False, a=([1, 1, 2], 1))
    with pytest.raises(T, match=r"needs \(min, max, step, value\)"):
        sliders(fig, False, a=None)


# --- statistics for the init modes asked --------------------------------------------------------------------------------

@pytest.mark.parametrize("inits, err, msg", [
    ("analytic", T, r"inits must be a list, got the string 'analytic'"),
    (None, T, r"inits must be a list, got NoneType"),
    (["anal"], V, r"inits must list init modes among \['standard', 'analytic'\], got 'anal'"),
    ([1], V, r"got 1 in \[1\]"),
], ids=["string", "none", "typo", "int"])
def test_load_stats_checks_the_init_modes(inits, err, msg):
    with pytest.raises(err, match=msg):
        C.experiments.load_stats("toy", "", inits)
    stats, path = C.experiments.load_stats("toy", "", ["standard", "analytic"])
    assert path is not None and stats is not None


# --- notebook parameters that reached numpy or a dict lookup unchecked (found by running each notebook with one bad
# --- parameter); the notebooks now call these helpers ------------------------------------------------------------------

@pytest.mark.parametrize("families, err, msg", [
    ("vp", T, r"families must be a list, got the string 'vp'"),
    (["vp", None], V, r"families must name schedule families among \['vp', 'edm', 'flow'\], got None"),
    ([["vp"]], V, r"got \['vp'\]"),
    (["vp", "vp"], V, r"'vp' more than once"),
    (["ddpm"], V, r"got 'ddpm'"),
], ids=["string", "none-item", "nested", "twice", "unknown"])
def test_schedule_families_checks_the_names(families, err, msg):
    with pytest.raises(err, match=msg):
        C.analytic_init.schedule_families(families)


def test_schedule_families_build_the_notebooks_schedules():
    s = C.analytic_init.schedule_families(["flow", "vp", "edm"])
    assert list(s) == ["flow", "vp", "edm"] and s["edm"].sigma_max == 700.0
    assert isinstance(s["vp"], C.schedules.VPSchedule) and isinstance(s["flow"], C.schedules.FlowSchedule)
    assert C.analytic_init.schedule_families([]) == {}


@pytest.mark.parametrize("M_min, n, err, msg", [
    ("abc", 4, T, r"M_min must be"), (None, 4, T, r"M_min must be"), (0.0, 4, V, r"M_min must lie in \(0, 1\]"),
    (1.5, 4, V, r"M_min must lie in"), (0.1, -1, V, r"n_M must be a positive int"), (0.1, 2.5, T, r"n_M must be a positive int"),
    (0.1, None, T, r"n_M must be a positive int"), (0.1, 10**15, V, r"start_grid\(n=1000000000000000\) needs more than"),
], ids=["str", "none", "zero", "above-one", "neg-n", "float-n", "none-n", "huge-n"])
def test_start_grid_checks_its_inputs(M_min, n, err, msg):
    with pytest.raises(err, match=msg):
        C.analytic_init.start_grid(M_min, n)


def test_start_grid_is_the_notebooks_linspace():
    assert np.array_equal(C.analytic_init.start_grid(0.02, 40), np.linspace(0.02, 1.0, 40))
    assert C.analytic_init.start_grid(0.3, 1).tolist() == [1.0]


@pytest.mark.parametrize("size", ["abc", [], [None], [[225, 400]], None, [1, 2, 3]], ids=["str", "empty", "none-item", "nested", "none", "three"])
def test_parse_size_names_the_parameter(size):
    with pytest.raises(V, match=r"^frame_size must"):
        C.io.parse_size(size, "frame_size")


def _motion_set(frames=4):
    return C.metrics.synthetic_motion_set([0.0, 1.0], None, n_frames=frames, size=(24, 40))


def test_agreement_set_is_the_notebooks_slice_and_truth():
    videos, flows, _ = _motion_set()
    sub, truth, size = C.experiments.agreement_set(videos, flows, 3)
    assert size == (128, 128) and torch.equal(sub, videos[:, :3])
    assert torch.equal(truth, C.metrics.true_per_pair(flows[:, :2], resize=(128, 128)).mean(1))


@pytest.mark.parametrize("frames, err, msg", [
    (-1, V, r"agreement_frames must be an int >= 2"), (1, V, r"agreement_frames must be an int >= 2"),
    (5, V, r"agreement_frames=5 is more than the videos' 4 frames"), (2.5, T, r"agreement_frames must be an int"),
    ("abc", T, r"agreement_frames must be an int"), (None, T, r"agreement_frames must be an int"),
], ids=["neg", "one", "too-many", "float", "str", "none"])
def test_agreement_set_checks_the_frame_count(frames, err, msg):
    """-1 sliced all but the last frame, 2.5 and None failed in slicing or arithmetic."""
    videos, flows, _ = _motion_set()
    with pytest.raises(err, match=msg):
        C.experiments.agreement_set(videos, flows, frames)


# --- shapes a metric broadcast, and meta tensors (a shape without values) that reached torch's own checks ---------------

def test_align_psnr_refuses_images_of_other_channels():
    """A one-channel image 'matched' two-channel frames by broadcasting; one image for all videos still does."""
    from cilnb.metrics.quality import align_psnr

    v = torch.zeros(2, 3, 2, 8, 8)
    for images in (torch.zeros(2, 1, 8, 8), torch.tensor(0.5), torch.zeros(2, 8)):
        with pytest.raises(V, match=r"do not match the videos' frame 0 \(2, 2, 8, 8\)"):
            align_psnr(v, images)
    assert torch.equal(align_psnr(v, torch.zeros(2, 8, 8)), align_psnr(v, torch.zeros(2, 2, 8, 8)))


def _meta(shape):
    return torch.zeros(shape, device="meta")


@pytest.mark.parametrize("call", [
    lambda: C.probe.one_step_predictions(C.models.load("toy"), C.data.generate(2, seed=0).videos.float(), _meta(2)),
    lambda: C.probe.leakage_index(C.models.load("toy"), C.data.generate(2, seed=0).videos.float(), [0.5], y_swap=_meta((2, 1, 32, 32))),
    lambda: C.metrics.rgb_to_hsv(_meta((1, 3, 4, 4))),
    lambda: C.metrics.motion_score_error(_meta(2), torch.ones(2)),
    lambda: C.metrics.true_per_pair(_meta((1, 2, 4, 4))),
    lambda: C.data.track_sprites(_meta((1, 2, 1, 8, 8))),
    lambda: C.data.flow_score(_meta((1, 1, 2, 8, 8))),
    lambda: sprite_speed(_meta((1, 2, 1, 8, 8))),
    lambda: flow_motion(_meta((1, 2, 1, 8, 8))),
    lambda: C.experiments.SpriteMotion(_meta((1, 2, 1, 8, 8))),
    lambda: C.plotting.flow_to_rgb(_meta((2, 4, 4))),
    lambda: noisy_motion_label(_meta(2), 0.1, torch.Generator()),
    lambda: importlib.import_module("cilnb.remedies.filters").lowpass_image(_meta((1, 1, 8, 8)), 0.5),
    lambda: importlib.import_module("cilnb.remedies.filters").freq_mix(_meta((1, 2, 1, 4, 4)), torch.zeros(1, 2, 1, 4, 4),
                                                                         torch.ones(2, 1, 4, 4)),
], ids=["probe-ts", "y_swap", "rgb_to_hsv", "score-error", "true_per_pair", "track_sprites", "flow_score", "sprite_speed",
        "flow_motion", "SpriteMotion", "flow_to_rgb", "motion-label", "lowpass", "freq_mix"])
def test_meta_tensors_are_named(call):
    with pytest.raises(T, match=r"is a tensor on the 'meta' device"):
        call()


def test_span_holds_the_parameter_value():
    """The TimeNoise sliders were fixed at beta_m in [0.1, 10]: SVD's 15 (or the paper's 100) failed as a slider spec."""
    assert C.plotting.span(15.0, 0.1, 10.0, 0.1) == (0.1, 15.0, 0.1, 15.0)
    assert C.plotting.span(0.05, 1.0, 200.0, 1.0) == (0.05, 200.0, 1.0, 0.05)
    assert C.plotting.span(5.0, 0.1, 10.0, 0.1) == (0.1, 10.0, 0.1, 5.0)
    assert sliders(lambda beta_m: None, False, beta_m=C.plotting.span(100.0, 0.1, 10.0, 0.1)) is None
    with pytest.raises(T, match=r"value must be"):
        C.plotting.span("abc", 0.1, 10.0, 0.1)


@pytest.mark.parametrize("videos_dir", [3.5, -1, b"clips", True, {"a": 1}], ids=["float", "int", "bytes", "bool", "dict"])
def test_read_clips_refuses_a_folder_that_is_not_a_path(videos_dir):
    with pytest.raises(T, match=r"videos_dir must be a folder path"):
        C.io.read_clips(videos_dir, 1, frames=2, size=8)


@pytest.mark.parametrize("folder", [None, 3, "", b"imgs", ["a"]], ids=["none", "int", "empty", "bytes", "list"])
def test_image_files_names_a_folder_that_is_not_a_path(folder):
    """image_files(None) was pathlib's TypeError; image_files("") listed the current folder."""
    with pytest.raises(T, match=r"folder must be the folder that holds the images"):
        C.io.image_files(folder)


def test_image_files_names_a_missing_folder(tmp_path):
    """A missing folder was pathlib's FileNotFoundError from iterdir, a file its NotADirectoryError."""
    (tmp_path / "a.png").write_bytes(b"")
    for path in (tmp_path / "missing", tmp_path / "a.png"):
        with pytest.raises(V, match=r"is not a folder; pass the folder that holds the images"):
            C.io.image_files(path)
    assert C.io.image_files(tmp_path) == [tmp_path / "a.png"]


def test_parse_size_reads_tensor_and_array_sizes():
    """A 0-d tensor size (compute_stats(size=torch.tensor(32))) was iterated over inside torch."""
    assert C.io.parse_size(torch.tensor(32)) == (32, 32) and C.io.parse_size(np.array([16, 24])) == (16, 24)
    with pytest.raises(V, match=r"size must be two positive ints"):
        C.io.parse_size(torch.tensor([0, 8]))


@pytest.mark.parametrize("source", [float("nan"), 3, {"a": 1}, ["x"], b"x"], ids=["nan", "int", "dict", "list", "bytes"])
def test_moment_stats_source_must_be_text(source, tmp_path):
    """str() stored 'nan' or "{'a': 1}" as the statistics' provenance."""
    stats = C.analytic_init.MomentStats().update(C.data.generate(2, seed=0).videos.float())
    with pytest.raises(T, match=r"source must be a str"):
        stats.save(tmp_path / "s.safetensors", source=source)
    assert not (tmp_path / "s.safetensors").exists()
    stats.save(tmp_path / "s.safetensors", source="toy:2")
    assert C.analytic_init.MomentStats.load(tmp_path / "s.safetensors").source == "toy:2"


def test_file_digest_refuses_a_number_for_a_path(tmp_path):
    """open(1) is stdout's descriptor: file_digest(1) read it and closed it, and the next print failed (EBADF)."""
    with pytest.raises(T, match=r"path must be the file to digest"):
        C.runs.file_digest(1)
    (tmp_path / "a").write_bytes(b"abc")
    assert C.runs.file_digest(tmp_path / "a") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_load_unit_video_names_a_path_that_is_not_one():
    """load_unit_video(None) was safetensors' FileNotFoundError "No such file or directory: None"."""
    with pytest.raises(T, match=r"path must be a stored unit's \.safetensors file"):
        C.runs.load_unit_video(None)


@pytest.mark.parametrize("model", [None, "svd", 3, {"a": 1}], ids=["none", "name", "number", "dict"])
def test_encoder_for_refuses_what_is_not_a_model(model, tmp_path):
    """A model's name (or None) was read as a 3-channel pixel model: compute_stats("svd", ...) wrote pixel statistics."""
    with pytest.raises(T, match=r"model must be a loaded model"):
        C.stats.encoder_for(model)
    with pytest.raises(T, match=r"model must be a loaded model"):
        C.stats.compute_stats(model, tmp_path, tmp_path / "s.safetensors", frames=2, size=8, show_progress=False)

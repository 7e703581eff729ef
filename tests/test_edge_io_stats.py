"""Edge inputs of media I/O (``cilnb.io``), the statistics computation (``cilnb.stats``) and Analytic-Init
(``cilnb.analytic_init``) that were mishandled: a wrong answer without a word (CMYK JPEGs read as RGBA, a covariance
with two negative eigenvalues, a corrupt progress file that counted videos twice), a silent fallback or a value taken
that should have been refused, an error from deep inside torch (allocator, reductions, int conversion), or an output
written over its own input. Each test failed before its fix."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import torch

iio = pytest.importorskip("imageio.v3")
pytest.importorskip("av")

from safetensors import safe_open
from safetensors.torch import save_file

from cilnb import analytic_init as A
from cilnb import io as IO
from cilnb import stats as S
from cilnb.checks import InputTypeError

from _media import smooth_frames

F = 3
HUGE = 10**6  # a side length whose frames need terabytes


class Pixels(torch.nn.Module):
    """A pixel-space stand-in (like the toy): no VAE, 3 channels."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x


@pytest.fixture
def two_videos(tmp_path):
    d = tmp_path / "videos"
    d.mkdir()
    for k in (1, 2):
        iio.imwrite(d / f"v{k}.mp4", smooth_frames(6, seed=k), plugin="pyav", codec="libx264", fps=8)
    return d


def _stats_file(tmp_path, name="g.safetensors"):
    """Good statistics, saved, and the metadata of their file (:func:`_write` writes variants of it)."""
    good = A.MomentStats().update(torch.randn(4, 2, 3, dtype=torch.float64))
    p = good.save(tmp_path / name)
    with safe_open(str(p), framework="pt") as f:
        meta = f.metadata()
    return good, meta


def _write(path, tensors, meta, **changes):
    m = {**meta, **changes}
    save_file(tensors, str(path), metadata={k: v for k, v in m.items() if v is not None})
    return path


# ---------------------------------------------------------------------------------------------
# images and videos
# ---------------------------------------------------------------------------------------------


def test_a_cmyk_jpeg_is_read_as_rgb(tmp_path):
    """A CMYK JPEG's four ink channels were taken as RGBA: no ink (white paper) was read as black, cyan as red."""
    from PIL import Image

    ink = np.zeros((8, 8, 4), np.uint8)
    ink[:, 4:, 0] = 255  # right half cyan
    Image.fromarray(ink, "CMYK").save(tmp_path / "cmyk.jpg", quality=100)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "rgb.jpg", quality=100)  # an RGB one beside it
    s = IO.load_images(str(tmp_path), size=8)
    img = s.images[s.names.index("cmyk")]  # [-1, 1]
    assert img[:, :, :3].min() > 0.9  # white paper
    red, green, blue = img[:, :, 5:].mean(dim=(1, 2)).tolist()
    assert red < -0.9 and green > 0.9 and blue > 0.9  # cyan
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        shutil.copy(tmp_path / "cmyk.jpg", frames / f"{i}.jpg")
    clip = IO.read_clip(frames, 2)
    assert clip.shape == (2, 8, 8, 3) and clip[:, :, :3].min() > 230


def test_rgba_and_gray_images_read_as_before(tmp_path):
    """(Unchanged behaviour next to the CMYK fix: RGBA drops alpha, 16-bit gray is rescaled.)"""
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 7
    iio.imwrite(tmp_path / "a.png", rgba)
    iio.imwrite(tmp_path / "g.png", np.full((4, 4), 65535, np.uint16))
    assert (IO._imread(tmp_path / "a.png") == rgba).all()
    assert IO.to_rgb(IO._imread(tmp_path / "a.png"))[0, 0].tolist() == [200, 0, 0]
    assert IO.to_rgb(IO._imread(tmp_path / "g.png")).min() == 255


def test_clip_to_tensor_refuses_a_size_beyond_memory():
    """A size of 10**6 x 10**6 failed in torch's allocator ("DefaultCPUAllocator: can't allocate memory")."""
    with pytest.raises(ValueError, match=r"clip_to_tensor\(size=1000000x1000000\) needs more than .* GiB.*pass a smaller size"):
        IO.clip_to_tensor(smooth_frames(2), (HUGE, HUGE))
    assert IO.clip_to_tensor(smooth_frames(2), (16, 16)).shape == (2, 3, 16, 16)


def test_a_tiny_fps_is_a_too_short_video_not_an_unreadable_one(two_videos):
    """fps=1e-310 made the stride infinite: the video was skipped as "unreadable (OverflowError: cannot convert float
    infinity to integer)", blaming the file for a setting."""
    with pytest.raises(IO.VideoSkip, match=r"too short: fps=1e-310 .* stride of inf frames; pass a larger fps"):
        IO.read_clip(two_videos / "v1.mp4", F, fps=1e-310)
    assert IO.read_clip(two_videos / "v1.mp4", F, fps=4).shape[0] == F  # stride 2


def test_clip_set_refuses_a_float_channel_count_up_front(two_videos):
    """ClipSet(channels=1.0) was accepted and failed only when the first clip was read."""
    with pytest.raises(ValueError, match=r"channels must be 1 \(luma\) or 3 \(RGB\), got 1\.0"):
        IO.ClipSet(two_videos, frames=F, size=8, channels=1.0)
    assert IO.ClipSet(two_videos, frames=F, size=8, channels=np.int64(1)).clip(0).shape == (F, 1, 8, 8)


def test_read_clips_takes_a_numpy_int(two_videos):
    """n_videos=np.int64(1) was refused as "n_videos must be a positive int, got np.int64(1)"."""
    clips, names = IO.read_clips(two_videos, np.int64(1), frames=F, size=8)
    assert clips.shape == (1, F, 3, 8, 8) and names == ["v1"]


# ---------------------------------------------------------------------------------------------
# compute_stats
# ---------------------------------------------------------------------------------------------


def test_compute_stats_refuses_an_out_that_is_one_of_its_videos(two_videos, tmp_path):
    """out=<a video in the folder> read that video, then overwrote it with the statistics (safetensors bytes)."""
    before = (two_videos / "v1.mp4").read_bytes()
    with pytest.raises(ValueError, match=r"out \(--out\) .*v1\.mp4 is a video or frame name inside --videos"):
        S.compute_stats(Pixels(), two_videos, two_videos / "v1.mp4", frames=F, size=8, show_progress=False)
    with pytest.raises(ValueError, match=r"is a video or frame name inside --videos"):  # a new name there too (read by the next run)
        S.compute_stats(Pixels(), two_videos, two_videos / "sub" / "new.PNG", frames=F, size=8, show_progress=False)
    assert (two_videos / "v1.mp4").read_bytes() == before
    res = S.compute_stats(Pixels(), two_videos, two_videos / "stats.safetensors", frames=F, size=8, show_progress=False)
    assert res.used == 2  # a statistics file inside the folder is fine


def test_cli_refuses_an_out_among_the_videos_before_the_model_loads(two_videos, tmp_path, capsys):
    """`cilnb stats --out <videos>/new.mp4` loaded the model, then wrote the statistics as a video of the folder (read
    by the next run as an unreadable video); now one line naming --out, before the model loads (its path is missing here)."""
    from cilnb.__main__ import main

    rc = main(["stats", "--model", "toy", "--model-path", str(tmp_path / "missing.safetensors"), "--videos", str(two_videos),
               "--frames", str(F), "--size", "8x8", "--out", str(two_videos / "new.mp4"), "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and len(err.splitlines()) == 1
    assert "--out" in err and "new.mp4 is a video or frame name inside --videos" in err
    assert not (two_videos / "new.mp4").exists()


def test_compute_stats_refuses_to_write_over_the_model_weights(two_videos, tmp_path):
    """out == model_path overwrote the model's weights file with the statistics."""
    weights = tmp_path / "model.safetensors"
    save_file({"w": torch.zeros(1)}, str(weights))
    with pytest.raises(ValueError, match=r"is the model's weights file \(model_path\)"):
        S.compute_stats(Pixels(), two_videos, weights, frames=F, size=8, model_path=str(weights), show_progress=False)
    with safe_open(str(weights), framework="pt") as f:
        assert list(f.keys()) == ["w"]


def test_compute_stats_refuses_a_size_beyond_memory_before_any_work(two_videos, tmp_path):
    """size=10**6 x 10**6 failed in torch's allocator on the first clip, after the lock and progress were set up."""
    out = tmp_path / "o" / "st.safetensors"
    with pytest.raises(ValueError, match=r"compute_stats\(frames=3, size=1000000x1000000\) needs more than .* GiB.*smaller --size"):
        S.compute_stats(Pixels(), two_videos, out, frames=F, size=HUGE, show_progress=False)
    assert not out.parent.exists() or not any(out.parent.iterdir())


def _resumable(two_videos, tmp_path):
    out = tmp_path / "run" / "st.safetensors"
    S.compute_stats(Pixels(), two_videos, out, frames=F, size=8, show_progress=False)
    prog = out.with_name(out.name + ".progress.json")
    return out, prog, json.loads(prog.read_text())


def test_a_progress_file_whose_settings_are_not_an_object_is_named(two_videos, tmp_path):
    """settings: [1] failed with "AttributeError: 'list' object has no attribute 'get'"."""
    out, prog, state = _resumable(two_videos, tmp_path)
    prog.write_text(json.dumps({**state, "settings": [1]}))
    with pytest.raises(ValueError, match=r"progress file .* is corrupt \(its settings are list, not an object\).*--no-resume"):
        S.compute_stats(Pixels(), two_videos, out, frames=F, size=8, show_progress=False)


def test_a_progress_file_with_a_string_for_done_does_not_count_twice(two_videos, tmp_path):
    """done: "ab" was read as the two videos "a" and "b"; the count matched, so both real videos were counted again
    (statistics of 4 videos from a folder of 2)."""
    out, prog, state = _resumable(two_videos, tmp_path)
    prog.write_text(json.dumps({**state, "done": "ab"}))
    with pytest.raises(ValueError, match=r"is corrupt \('done' must list video names"):
        S.compute_stats(Pixels(), two_videos, out, frames=F, size=8, show_progress=False)
    assert A.MomentStats.load(out).count == 2


def test_a_progress_file_cannot_point_at_another_folders_file(two_videos, tmp_path):
    """stats_file: "../precious.safetensors" was loaded as the checkpoint and deleted at the end of the run."""
    out, prog, state = _resumable(two_videos, tmp_path)
    precious = tmp_path / "precious.safetensors"
    shutil.copy(out, precious)
    prog.write_text(json.dumps({**state, "stats_file": "../precious.safetensors"}))
    with pytest.raises(ValueError, match=r"its statistics file '\.\./precious\.safetensors' is neither st\.safetensors nor one of its checkpoints"):
        S.compute_stats(Pixels(), two_videos, out, frames=F, size=8, show_progress=False)
    assert precious.is_file()
    prog.write_text(json.dumps(state))  # the real progress file resumes as before
    assert S.compute_stats(Pixels(), two_videos, out, frames=F, size=8, show_progress=False).new == 0


@pytest.mark.skipif(os.name != "posix", reason="undecodable file names are a POSIX thing")
def test_a_videos_folder_with_an_undecodable_name(two_videos, tmp_path):
    """A folder or video name of bytes that are not UTF-8 failed at the end of the run, in safetensors' metadata
    ("UnicodeEncodeError: surrogates not allowed"), and the summary could not be printed."""
    odd = tmp_path / os.fsdecode(b"odd\xff")
    odd.mkdir()
    shutil.copy(two_videos / "v1.mp4", odd / os.fsdecode(b"v\xfe.mp4"))
    (odd / os.fsdecode(b"bad\xfe.mp4")).write_bytes(b"not a video")
    res = S.compute_stats(Pixels(), odd, tmp_path / "st.safetensors", frames=F, size=8, show_progress=False)
    assert res.used == 1 and len(res.skipped) == 1
    res.summary().encode("utf-8")  # printable
    assert "odd\\udcff" in A.MomentStats.load(tmp_path / "st.safetensors").source
    assert S.compute_stats(Pixels(), odd, tmp_path / "st.safetensors", frames=F, size=8, show_progress=False).new == 0  # resumes


# ---------------------------------------------------------------------------------------------
# MomentStats files
# ---------------------------------------------------------------------------------------------


def test_update_refuses_empty_samples():
    """A batch [3, 0] failed inside torch ("max(): Expected reduction dim to be specified for input.numel() == 0")."""
    for shape in [(3, 0), (3, 2, 0)]:
        with pytest.raises(ValueError, match=r"batch samples are empty .*pass samples of at least one element"):
            A.MomentStats().update(torch.zeros(shape))


@pytest.mark.parametrize("avg", [torch.zeros(0, dtype=torch.float64), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)],
                         ids=["empty", "three"])
def test_load_refuses_an_avg_var_that_is_not_one_number(tmp_path, avg):
    """avg_var [] failed with "IndexError: index 0 is out of bounds"; [1, 2, 3] was read as 1 without a word."""
    good, meta = _stats_file(tmp_path)
    p = _write(tmp_path / "a.safetensors", {"mean": good.mean, "avg_var": avg}, meta, count="")
    with pytest.raises(ValueError, match=r"corrupt statistics file .*tensor 'avg_var' must hold one number"):
        A.MomentStats.load(p)


@pytest.mark.parametrize("which,dtype", [("mean", torch.bool), ("var", torch.int64)])
def test_load_refuses_moments_that_are_not_floats(tmp_path, which, dtype):
    """A bool mean or an int64 var was converted to float64 without a word (True read as the moment 1.0)."""
    good, meta = _stats_file(tmp_path)
    tensors = {"mean": good.mean, "var": good.var}
    tensors[which] = torch.ones(2, 3, dtype=dtype)
    with pytest.raises(ValueError, match=rf"tensor '{which}' has dtype {dtype}, but statistics are float moments"):
        A.MomentStats.load(_write(tmp_path / "b.safetensors", tensors, meta))
    tensors[which] = tensors[which].to(torch.float32)  # float32 still loads
    assert A.MomentStats.load(_write(tmp_path / "c.safetensors", tensors, meta)).shape == (2, 3)


def test_load_refuses_a_huge_count(tmp_path):
    """count metadata of 10**30 failed with "OverflowError: int too big to convert" (from_moments with such a count too)."""
    good, meta = _stats_file(tmp_path)
    p = _write(tmp_path / "c.safetensors", {"mean": good.mean, "var": good.var}, meta, count="1" + "0" * 30)
    with pytest.raises(ValueError, match=r"corrupt statistics file .*count = 10+ is more samples than any data set holds"):
        A.MomentStats.load(p)
    with pytest.raises(ValueError, match=r"count = 10+ is more samples"):
        A.MomentStats.from_moments(torch.zeros(2), torch.ones(2), count=10**30)
    assert A.MomentStats.from_moments(torch.zeros(2), torch.ones(2), count=2**53).count == 2**53


@pytest.mark.parametrize("version", ["0", "-3"])
def test_load_refuses_a_format_version_below_one(tmp_path, version):
    """format_version 0 or -3 (no such version) was accepted."""
    good, meta = _stats_file(tmp_path)
    p = _write(tmp_path / "v.safetensors", {"mean": good.mean, "var": good.var}, meta, format_version=version)
    with pytest.raises(ValueError, match=rf"format_version {version} \(versions start at 1\)"):
        A.MomentStats.load(p)


def test_load_reads_an_uppercase_pt_as_an_official_file(tmp_path):
    """initial_noise.PT was read as safetensors: "not a readable safetensors file (... header too small)"."""
    torch.save({"Expectation_x_0": torch.randn(2, 3, 4, 4), "trCov_d": torch.tensor(0.5)}, tmp_path / "initial_noise.PT")
    st = A.MomentStats.load(tmp_path / "initial_noise.PT")
    assert st.shape == (2, 3, 4, 4) and st.avg_var == 0.5


def test_save_under_a_file_is_named(tmp_path):
    """save("a_file/sub/st.safetensors") failed with "NotADirectoryError: [Errno 20] Not a directory"."""
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ValueError, match=r"a_file is a file, so no folder can be made under it"):
        A.MomentStats().update(torch.randn(3, 2)).save(tmp_path / "a_file" / "sub" / "st.safetensors")


# ---------------------------------------------------------------------------------------------
# official .pt files
# ---------------------------------------------------------------------------------------------


def _official(tmp_path, mean=None, tr=torch.tensor(0.5), name="o.pt"):
    mean = torch.randn(1, 2, 3, 4, 4) if mean is None else mean
    torch.save({"Expectation_x_0": mean, "trCov_d": tr}, tmp_path / name)
    return tmp_path / name


def test_from_official_refuses_an_empty_layout(tmp_path):
    """layout="" was taken as None (the layout inferred from the keys) without a word."""
    p = _official(tmp_path)
    with pytest.raises(ValueError, match=r"layout must be 'fchw', 'cfhw' or None .*got ''"):
        A.MomentStats.from_official(p, layout="")
    assert A.MomentStats.from_official(p, layout="cfhw").shape == (3, 2, 4, 4)


def test_from_official_names_a_folder(tmp_path):
    """A folder named like the file was reported as missing ("no official Analytic-Init file at ...")."""
    (tmp_path / "initial_noise.pt").mkdir()
    with pytest.raises(ValueError, match=r"initial_noise\.pt is a folder, not an official Analytic-Init file"):
        A.MomentStats.from_official(tmp_path / "initial_noise.pt")


def test_from_official_refuses_a_boolean_trace(tmp_path):
    """trCov_d = tensor(True) was read as tr(Cov)/d = 1.0."""
    with pytest.raises(InputTypeError, match=r"trCov_d in .* must be real numbers, got booleans"):
        A.MomentStats.from_official(_official(tmp_path, tr=torch.tensor(True)))


@pytest.mark.parametrize("mean,tr,what", [(None, torch.tensor(-0.3), r"avg_var must be >= 0"),
                                          (torch.randn(2, 3, 0, 4), torch.tensor(0.3), r"mean is empty")], ids=["negative", "empty"])
def test_from_official_names_the_file_of_unusable_moments(tmp_path, mean, tr, what):
    """A negative trCov_d or an empty mean was reported as "avg_var must be >= 0 ..." / "mean is empty", naming
    neither the file nor its keys."""
    with pytest.raises(ValueError, match=rf"o\.pt \(Expectation_x_0/trCov_d\) is not usable: {what}"):
        A.MomentStats.from_official(_official(tmp_path, mean=mean, tr=tr))


def test_from_moments_refuses_booleans():
    """from_moments(mean=[True, False], avg_var=...) was read as the mean [1.0, 0.0]."""
    with pytest.raises(InputTypeError, match=r"mean must be real numbers, got booleans"):
        A.MomentStats.from_moments(torch.tensor([True, False]), avg_var=1.0)


# ---------------------------------------------------------------------------------------------
# Eq. (5), sampling and the synthetic Prop. 1 tools
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha,sigma", [(1e200, 0.5), (0.5, 1e200)])
def test_init_params_refuses_an_infinite_start(alpha, sigma):
    """alpha or sigma of 1e200 returned the variance inf (a start of infinite noise) without a word."""
    st = A.MomentStats().update(torch.randn(3, 4))
    with pytest.raises(ValueError, match=r"give an infinite Analytic-Init start \(variance inf\)"):
        A.init_params(st, alpha, sigma)


def test_sample_init_refuses_a_batch_beyond_memory():
    """shape=10**15 failed in torch's allocator ("DefaultCPUAllocator: can't allocate memory")."""
    st = A.MomentStats().update(torch.randn(3, 2, 3))
    with pytest.raises(ValueError, match=r"sample_init\(shape=\(1000000000000000, 2, 3\)\) needs more than .* GiB.*fewer videos"):
        A.sample_init(st, 0.5, 0.5, 10**15, seed=0)
    assert A.sample_init(st, 0.5, 0.5, 2, seed=0).shape == (2, 2, 3)


@pytest.mark.parametrize("cov", [[[-1.0, 0.0], [0.0, -2.0]], [[1.0, 2.0], [2.0, 1.0]]], ids=["negative-definite", "indefinite"])
def test_gaussian_kl_refuses_a_covariance_that_is_not_positive_definite(cov):
    """diag(-1, -2) has a positive determinant and gave the KL -2.85 (a KL is never negative)."""
    cov = torch.tensor(cov, dtype=torch.float64)
    for fn in (A.gaussian_kl, A.gaussian_cross_entropy):
        with pytest.raises(ValueError, match=r"q_var must be positive definite"):
            fn(torch.zeros(2), cov, 0.0, 1.0)
    good = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    assert A.gaussian_kl(torch.zeros(2), good, 0.0, 1.0) > 0


def test_synthetic_data_takes_numpy_ints_and_refuses_a_d_beyond_memory():
    """d=np.int64(4) was refused ("d must be a positive int, got np.int64(4)"); d=10**13 failed in torch's allocator."""
    assert A.synthetic_data(d=np.int64(4)).d == 4
    assert torch.equal(A.synthetic_data(d=np.int64(4)).means, A.synthetic_data(d=4).means)
    with pytest.raises(ValueError, match=r"synthetic_data\(d=10000000000000\) needs more than .* GiB"):
        A.synthetic_data(d=10**13)


def test_nongaussianity_checks_n_mc_for_one_gaussian_too():
    """n_mc="x" (or -5) was accepted when the mixture is one Gaussian (it answered (0, 0)); np.int64(64) was refused
    for a mixture."""
    g = A.synthetic_data(d=4)
    for bad in ("x", -5, 1):
        with pytest.raises(ValueError, match=r"n_mc must be an int >= 2"):
            g.moment_matched().nongaussianity(bad)
    assert g.moment_matched().nongaussianity(64) == (0.0, 0.0)
    assert g.nongaussianity(np.int64(64), seed=0) == g.nongaussianity(64, seed=0)


def test_mixture_sample_refuses_a_count_beyond_memory():
    """sample(10**15) failed in torch's allocator."""
    with pytest.raises(ValueError, match=r"GaussianMixture\.sample\(n=1000000000000000\) needs more than .* GiB"):
        A.synthetic_data(d=4).sample(10**15, seed=0)

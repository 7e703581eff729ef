"""Edge inputs of the sprite data, media I/O, toy training, Analytic-Init and the statistics command that were
mishandled: accepted nonsense (M = 0), a wrong or garbage result without a word (wrapped negative pixels, NaN pixels
read as black, two images under one name), an error from deep inside numpy/torch/json (or the OS killing the
process), or a clear error only after the long work. Each test failed before its fix."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cilnb import analytic_init as A
from cilnb import data as D
from cilnb import io as IO
from cilnb import toy_training as TR
from cilnb.checks import InputTypeError
from cilnb.models import toy
from cilnb.schedules import EDMSchedule, FlowSchedule, VPSchedule


def _stats():
    return A.MomentStats.from_moments(torch.full((2, 1, 4, 4), 0.3, dtype=torch.float64), torch.ones(2, 1, 4, 4, dtype=torch.float64))


# ---------------------------------------------------------------------------------------------
# Analytic-Init
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("schedule", [VPSchedule(), EDMSchedule(), FlowSchedule()], ids=["vp", "edm", "flow"])
def test_init_params_at_refuses_a_start_at_the_clean_data(schedule):
    """M = 0 returned the data's own moments as a 'start' (alpha = 1, sigma = 0) without a word."""
    with pytest.raises(ValueError, match=r"start M must lie in \(0, 1\].*got 0\.0"):
        A.init_params_at(_stats(), schedule, 0.0)
    mean, var = A.init_params_at(_stats(), schedule, 1e-6)  # any M > 0 still works, as do 1-element forms
    assert torch.isfinite(mean).all() and var > 0
    assert A.init_params_at(_stats(), schedule, [0.5])[1] == A.init_params_at(_stats(), schedule, 0.5)[1]


# ---------------------------------------------------------------------------------------------
# sprite data
# ---------------------------------------------------------------------------------------------


def test_generate_refuses_more_videos_than_memory_before_allocating():
    """Was torch's 'DefaultCPUAllocator: can't allocate memory' (or, for a batch that just fits the address space,
    the OS killing the process)."""
    with pytest.raises(ValueError, match=r"generate\(n=1000000000000\) needs more than .* GiB .*generate fewer videos per call"):
        D.generate(10**12, frames=2, size=8, radius=(1.0, 2.0))
    assert D.generate(2, frames=2, size=8, radius=(1.0, 2.0)).videos.shape == (2, 2, 1, 8, 8)


def test_sprite_config_lists_are_tuples():
    """Lists (from YAML or argparse) made an equal config compare unequal, count as 'realistic', serialise the default
    pan and fail to hash; from_json(to_json()) did not give the config back."""
    c = D.SpriteConfig(radius=[2.5, 5.0], pan=[0.0, 0.0], shapes=["disk", "square"])
    assert c == D.SpriteConfig() and hash(c) == hash(D.SpriteConfig())
    assert not c.realistic and "pan" not in c.to_dict()
    assert D.SpriteConfig.from_json(c.to_json()) == c
    torch.testing.assert_close(D.generate(2, config=D.SpriteConfig(frames=2, size=16, radius=[1.0, 2.0]), flow=False).videos,
                               D.generate(2, frames=2, size=16, radius=(1.0, 2.0), flow=False).videos, rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# media I/O
# ---------------------------------------------------------------------------------------------


def test_to_rgb_reads_gray_with_alpha():
    """The docstring promised gray + alpha; a [H, W, 2] array (a PNG in mode LA) was refused as 'unexpected frame shape'."""
    a = np.zeros((4, 5, 2), np.uint8)
    a[..., 0], a[..., 1] = 77, 255
    out = IO.to_rgb(a)
    assert out.shape == (4, 5, 3) and (out == 77).all()


@pytest.mark.parametrize("bad, pattern", [
    (np.full((2, 2), -100, np.int16), r"int16 holds negative values"),  # was 255: the negative value wrapped round
    (np.full((2, 2), np.nan), r"NaN or infinite"),  # was 0 (black) with a RuntimeWarning
    (np.zeros((0, 0, 3), np.uint8), r"empty image"),  # was numpy's 'zero-size array to reduction operation'
    (np.array([["a", "b"]]), r"dtype <U1 are not real pixel values"),  # was numpy's UFuncTypeError
    (np.zeros((2, 2), complex), r"dtype complex128 are not real pixel values"),  # was black, imaginary part dropped
], ids=["int16-negative", "nan", "empty", "strings", "complex"])
def test_to_rgb_refuses_arrays_that_are_not_pixels(bad, pattern):
    with pytest.raises(IO.VideoSkip, match=pattern):
        IO.to_rgb(bad)


def test_to_rgb_still_converts_valid_images():
    assert (IO.to_rgb(np.full((2, 2), 65535, np.uint16)) == 255).all()
    assert (IO.to_rgb(np.full((2, 2), 32767, np.int16)) == 255).all()
    assert (IO.to_rgb(np.ones((2, 2), bool)) == 255).all()
    assert (IO.to_rgb(np.full((2, 2, 4), 0.5, np.float32)) == 128).all()


def test_load_images_reads_a_gray_alpha_png(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((8, 8, 2), 255, np.uint8), mode="LA").save(tmp_path / "x.png")
    imgs = IO.load_images(str(tmp_path), size=8)  # was "cannot read image ... unexpected frame shape (8, 8, 2)"
    assert imgs.images.shape == (1, 3, 8, 8) and torch.allclose(imgs.images, torch.ones(1))


def test_load_images_gives_every_image_its_own_name(tmp_path):
    """'a b.png' and 'a_b.png' were both named 'a_b.png': their outputs would share one name in a run folder."""
    import imageio.v3 as iio

    for name in ("a b.png", "a_b.png", "c.png"):
        iio.imwrite(tmp_path / name, np.zeros((8, 8, 3), np.uint8))
    names = IO.load_images(str(tmp_path), size=8).names
    assert len(set(names)) == 3 and names[2] == "c.png"


@pytest.mark.parametrize("root", [None, ""], ids=["none", "empty-string"])
def test_find_videos_names_a_missing_folder(root):
    """None was pathlib's bare TypeError; '' silently searched the current folder."""
    with pytest.raises(InputTypeError, match=r"root must be the folder that holds the videos"):
        IO.find_videos(root)


def test_clip_set_on_a_frame_folder_says_to_pass_its_parent(tmp_path):
    import imageio.v3 as iio

    for i in range(3):
        iio.imwrite(tmp_path / f"{i:03d}.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match=r"itself holds image frames: a frame folder is one video, so pass the folder above it"):
        IO.ClipSet(tmp_path, frames=2, size=8)
    assert len(IO.ClipSet(tmp_path.parent, frames=2, size=8, allow_empty=True)) >= 1


# ---------------------------------------------------------------------------------------------
# the statistics command
# ---------------------------------------------------------------------------------------------


def test_compute_stats_takes_numpy_ints(tmp_path):
    """frames=np.int64(2) (a loop over np.arange) was refused with 'frames must be a positive int, got np.int64(2)'."""
    from cilnb.stats import compute_stats

    (tmp_path / "v").mkdir()
    IO.write_mp4(tmp_path / "v" / "a.mp4", np.random.default_rng(0).integers(0, 255, (3, 8, 8, 3), dtype=np.uint8), 8)
    net = toy.build(toy.ToyConfig(frames=2, size=8, widths=(8,), temporal_levels=(0,), temporal_width=8, emb_dim=16))
    a = compute_stats(net, tmp_path / "v", tmp_path / "a.safetensors", frames=np.int64(2), size=8, stride=np.int64(1), show_progress=False)
    b = compute_stats(net, tmp_path / "v", tmp_path / "b.safetensors", frames=2, size=8, stride=1, show_progress=False)
    assert a.stats.shape == (2, 1, 8, 8) and torch.equal(a.stats.mean, b.stats.mean)


# ---------------------------------------------------------------------------------------------
# toy training
# ---------------------------------------------------------------------------------------------


def test_train_config_stores_a_path_init_as_text(tmp_path):
    """init=pathlib.Path was accepted, then the run failed writing its first resume state or its output
    ('Object of type PosixPath is not JSON serializable'): after the training work."""
    kw = dict(variant="naive", steps=1, model=toy.ToyConfig(), data=D.SpriteConfig(), image_dropout=0.0, t_dist="uniform",
              t_p_mean=0.7, t_p_std=1.6, cond_aug=0.0, motion_label_noise=0.0, motion_label="speed")
    p = tmp_path / "base.safetensors"
    cfg = TR.TrainConfig(init=p, **kw)
    assert cfg.init == str(p) and cfg.to_json() == TR.TrainConfig(init=str(p), **kw).to_json()


def test_toy_stats_checks_its_output_before_computing(tmp_path, monkeypatch):
    """An output that is a folder (or not a path) was refused by MomentStats.save after all n videos were averaged."""
    def no_work(*a, **k):
        raise AssertionError("generated videos before checking the output path")

    monkeypatch.setattr(TR.D, "generate", no_work)
    with pytest.raises(ValueError, match=r"out .* is a folder: give a file path"):
        TR.toy_stats(tmp_path, n=2, show_progress=False)
    with pytest.raises(InputTypeError, match=r"out must be the statistics file path"):
        TR.toy_stats(5, n=2, show_progress=False)


def test_numpy_ints_in_a_sprite_config_and_bool_channels():
    """SpriteConfig(frames=np.int64(4)) was refused as "must be an int >= 2, got np.int64(4)"; clip_to_tensor(channels=True)
    converted to luma (True == 1)."""
    from cilnb import data as D
    from cilnb import io as IO

    cfg = D.SpriteConfig(frames=np.int64(4), size=np.int32(16), n_sprites=(np.int64(1), np.int64(2)))
    assert cfg == D.SpriteConfig(frames=4, size=16, n_sprites=(1, 2)) and type(cfg.frames) is int
    assert D.SpriteConfig.from_json(cfg.to_json()) == cfg
    clip = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match=r"channels must be 1 or 3, got True"):
        IO.clip_to_tensor(clip, (4, 4), channels=True)
    assert IO.clip_to_tensor(clip, (4, 4), channels=np.int64(1)).shape == (2, 1, 4, 4)


def test_toy_stats_returns_what_its_file_says_it_describes(tmp_path):
    from cilnb.analytic_init import MomentStats
    from cilnb.data import SpriteConfig
    from cilnb.toy_training import stats_data, toy_stats

    cfg = SpriteConfig(frames=4, size=16)
    st = toy_stats(tmp_path / "s.safetensors", n=4, batch=2, config=cfg, show_progress=False)
    saved = MomentStats.load(tmp_path / "s.safetensors")
    assert st.source == saved.source and stats_data(st) == stats_data(saved) == cfg  # the returned object had source ''
    assert stats_data(toy_stats(None, n=2, config=cfg, show_progress=False)) == cfg

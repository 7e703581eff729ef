"""Edge inputs that earlier rounds' reviews found but left alone: a phone photo read sideways (its EXIF orientation
ignored), a toy spelled "Toy" read by optical flow, 0..255 pixel images given to ``sample(images=)``, and the Fréchet
distance of identical feature sets below 0. Each test says what happened before its fix."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from cilnb import io
from cilnb import sampling as S
from cilnb.experiments.readouts import FlowReadout, ToyReadout, readout_for

fvd = importlib.import_module("cilnb.metrics.fvd")


def _oriented(path, a, orientation):
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(path, exif=exif)
    return path


@pytest.mark.parametrize("orientation", range(1, 9))
def test_an_image_is_read_upright_as_its_exif_orientation_says(tmp_path, orientation):
    """Every orientation but 1 was read as stored (a portrait phone photo came out lying on its side), where Pillow's
    ImageOps.exif_transpose and every image viewer turn it upright."""
    a = (np.random.default_rng(orientation).random((5, 7, 3)) * 255).astype(np.uint8)
    path = _oriented(tmp_path / "x.png", a, orientation)
    want = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    assert want.shape == ((7, 5, 3) if orientation >= 5 else (5, 7, 3))
    np.testing.assert_array_equal(io._imread(path), want)


def test_a_sideways_jpeg_loads_upright(tmp_path):
    """The path a conditional image takes: load_images on a JPEG stored with orientation 6 (turned 90 degrees)."""
    a = np.zeros((16, 32, 3), np.uint8)
    a[:, :8] = 255  # a white band on the left of the stored pixels: on top once turned clockwise
    path = _oriented(tmp_path / "photo.jpg", a, 6)
    got = io._imread(path)
    assert got.shape == (32, 16, 3)
    assert got[:8].mean() > 200 and got[-8:].mean() < 50
    imgs = io.load_images(str(tmp_path), size=(32, 16))
    assert tuple(imgs.images.shape[-2:]) == (32, 16)
    assert float(imgs.images[0, :, :8].mean()) > 0.6 and float(imgs.images[0, :, -8:].mean()) < -0.6


def test_a_file_pillow_cannot_open_reads_as_before(tmp_path, monkeypatch):
    """No EXIF to read (Pillow does not open it): the array as imageio read it, not an error."""
    from PIL import UnidentifiedImageError

    path = _oriented(tmp_path / "x.png", np.zeros((4, 6, 3), np.uint8), 6)

    def cannot(*a, **k):
        raise UnidentifiedImageError("no")

    monkeypatch.setattr(Image, "open", cannot)
    assert io._imread(path).shape == (4, 6, 3)


@pytest.mark.parametrize("name, cls", [("Toy", ToyReadout), (" toy ", ToyReadout), ("toy", ToyReadout), ("SVD", FlowReadout)])
def test_readout_for_takes_a_model_as_models_load_spells_it(name, cls):
    """cilnb.models.load("Toy") loads the toy, but readout_for("Toy") gave FlowReadout: a notebook with model="Toy"
    asked for a videos_dir of ground-truth videos."""
    assert readout_for(name) is cls


def _toy():
    from cilnb.models import toy

    return toy.build(frames=2, size=8, widths=(8,), temporal="none", temporal_levels=(), temporal_width=8, emb_dim=16, seed=0).eval()


@pytest.mark.parametrize("scale, hint", [(255.0, "0..255 pixels"), (-3.0, "rescale")])
def test_sample_refuses_images_outside_the_pixel_range(scale, hint):
    """images= (the pixel conditional images the conditioning-side remedies read) was checked for NaN but not range:
    0..255 images gave those remedies wrong pixels without a word. ([0, 1] images lie inside [-1, 1]: not told apart.)"""
    y = torch.rand((2, 1, 8, 8), generator=torch.Generator().manual_seed(1)) * 2 - 1
    images = torch.rand((2, 1, 8, 8), generator=torch.Generator().manual_seed(2)) * scale
    with pytest.raises(ValueError, match=rf"images values span .* but must lie in \[-1, 1\]: .*{hint}"):
        S.sample(_toy(), y, images=images, n_steps=2, show_progress=False)
    assert S.sample(_toy(), y, images=y, n_steps=2, show_progress=False).shape == (2, 2, 1, 8, 8)


@pytest.mark.parametrize("n, d", [(30, 512), (10, 64), (512, 16)])
def test_the_frechet_distance_of_identical_sets_is_not_negative(n, d):
    """With fewer rows than dimensions (a singular covariance) identical sets gave about -1e-7 of the traces, e.g.
    -0.02 for 30 x 2048 features: a "distance" below 0."""
    x = np.random.default_rng(n).standard_normal((n, d)) * 10
    mu, sigma = fvd.gaussian_stats(x)
    assert 0.0 <= fvd.frechet_distance(x, x) < 1e-12 * float(np.trace(sigma))
    from scipy import linalg

    y = x + 0.5
    mu_a, sa = fvd.gaussian_stats(x)
    mu_b, sb = fvd.gaussian_stats(y)
    ref = float(((mu_a - mu_b) ** 2).sum() + np.trace(sa + sb - 2 * linalg.sqrtm(sa @ sb).real))
    assert fvd.frechet_distance(x, y) == pytest.approx(ref, rel=1e-6, abs=1e-6 * float(np.trace(sa + sb)))


def test_a_grid_of_times_is_refused_not_flattened():
    """ts of shape [2, 3] was read as 6 times in row order without a word (the probe's table then had 6 rows)."""
    from cilnb import probe

    net = _toy()
    x0 = torch.rand((1, 2, 1, 8, 8), generator=torch.Generator().manual_seed(0)) * 2 - 1
    with pytest.raises(ValueError, match=r"ts must be a flat list of times .*got shape \(2, 3\)"):
        probe.one_step_predictions(net, x0, [[0.2, 0.4, 0.6], [0.7, 0.8, 1.0]], seed=0)
    with pytest.raises(ValueError, match=r"ts must be a flat list of times .*got shape \(2, 1\)"):
        S.sample_ddim(net, torch.zeros(1, 2, 1, 8, 8), torch.ones(2, 1), {"y": x0[:, 0]})
    assert probe.one_step_predictions(net, x0, [0.5, 1.0], seed=0) is not None  # flat lists and scalars still work
    assert probe.one_step_predictions(net, x0, 0.5, seed=0) is not None

"""[0, 1] images lie inside [-1, 1], so the range check passes them; a PixelRangeWarning names the likely mistake."""
from __future__ import annotations

import warnings

import pytest
import torch

import cilnb as C
from cilnb.checks import PixelRangeWarning, warn_unit_range
from cilnb.models.base import check_images, check_video


@pytest.fixture(scope="module")
def toy():
    return C.models.load("toy")


@pytest.fixture(scope="module")
def images(toy):
    return C.io.load_images("toy:2", toy).images


def _caught(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [w for w in caught if issubclass(w.category, PixelRangeWarning)]


def test_unit_images_warn_at_the_callers_line(toy, images):
    caught = _caught(lambda: C.sampling.sample(toy, (images + 1) / 2, n_steps=1, show_progress=False))
    assert len(caught) == 1
    w = caught[0]
    assert w.filename == __file__, "the warning points at the user's call, not inside cilnb"
    assert "y has no value below 0" in str(w.message) and "x * 2 - 1" in str(w.message)


def test_pixels_in_minus_one_one_do_not_warn(toy, images):
    assert images.min() < 0
    assert _caught(lambda: C.sampling.sample(toy, images, n_steps=1, show_progress=False)) == []
    x0 = images[:, None].expand(-1, 8, -1, -1, -1)  # a still video of each image
    assert _caught(lambda: C.probe.probe_table(toy, x0, [0.5], cond=toy.prepare_condition(images))) == []


@pytest.mark.parametrize("x, warns", [
    (torch.rand(2, 3, 8, 8), True),                # [0, 1] images
    (torch.rand(2, 3, 8, 8) * 2 - 1, False),       # [-1, 1]
    (torch.zeros(2, 3, 8, 8), False),              # mid-grey: nothing above 0 either
    (torch.full((2, 3, 8, 8), -0.5), False),
    (torch.empty(0, 3, 8, 8), False),
])
def test_warn_unit_range(x, warns):
    assert bool(_caught(lambda: warn_unit_range("images", x))) is warns


def test_adapters_pixel_checks_warn(images):
    rgb = torch.rand(2, 3, 8, 8)
    assert len(_caught(lambda: check_images(rgb))) == 1
    assert _caught(lambda: check_images(rgb * 2 - 1)) == []
    assert len(_caught(lambda: check_video(rgb[:, None].expand(-1, 2, -1, -1, -1)))) == 1


def test_probe_and_prepare_condition_warn(toy, images):
    assert len(_caught(lambda: toy.prepare_condition((images + 1) / 2))) == 1
    x0 = images[:, None].expand(-1, 8, -1, -1, -1)
    caught = _caught(lambda: C.probe.probe_table(toy, (x0 + 1) / 2, [0.5], cond=toy.prepare_condition(images)))
    assert caught and all(w.filename == __file__ and "x0 has no value below 0" in str(w.message) for w in caught)


def test_the_warning_can_be_filtered(toy, images):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=C.checks.PixelRangeWarning)
        C.sampling.sample(toy, (images + 1) / 2, n_steps=1, show_progress=False)
    assert not [w for w in caught if issubclass(w.category, PixelRangeWarning)]

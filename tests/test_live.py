"""The live lab: sampling and probing run the model with the settings asked for, and widgets drive them."""
import numpy as np
import pytest
import torch

from cilnb import sampling
from cilnb.live import Lab


@pytest.fixture(scope="module")
def lab():
    return Lab.toy(n_images=3, n_steps=3, n_seeds=2)


def test_sample_matches_the_library_sampler(lab):
    res = lab.sample(1, M=0.7, init="analytic", seed=5)
    y = lab.images[1:2].expand(2, -1, -1, -1)
    ref = sampling.sample(lab.model, y, n_steps=3, start=0.7, init="analytic", stats=lab.stats, seed=[5, 6], show_progress=False)
    assert torch.equal(res.videos, ref.clamp(-1, 1))
    assert res.motion.shape == (2,) and res.alignment.shape == (2,)
    assert res.truth_motion == pytest.approx(float(lab.truth_motion[1]))
    assert "ratio" in res.summary()


def test_probe_is_eq4_at_any_t(lab):
    res = lab.probe(2, t=0.37, seed=3)  # not on any stored grid: computed live
    x0 = lab.truth[2:3]
    eps = sampling.per_sample_noise([3], x0.shape[1:])
    s = lab.model.schedule
    x_t = float(s.alpha(torch.tensor(0.37))) * x0 + float(s.sigma(torch.tensor(0.37))) * eps
    assert torch.allclose(res.x_t, x_t[0], atol=1e-6)
    expect = lab.model(x_t, torch.tensor([0.37], dtype=torch.float64), y=lab.images[2:3])
    assert torch.allclose(res.x0_hat, expect[0].clamp(-1, 1), atol=1e-5)


def test_sampling_widget_reruns_the_model_on_every_change(lab):
    pytest.importorskip("ipywidgets")
    box = lab.sampling_widget(M=1.0)
    view, line = box.children[-2], box.children[-1]
    before, n_calls = view.value, len(lab.calls)
    slider = box.children[1]
    slider.value = 0.6  # as a user would drag it
    assert len(lab.calls) == n_calls + 1 and lab.calls[-1]["M"] == pytest.approx(0.6)
    assert view.value != before and "data:image/gif;base64," in view.value and "motion" in line.value
    box.children[2].value = "analytic"
    assert lab.calls[-1]["init"] == "analytic" and lab.calls[-1]["M"] == pytest.approx(0.6)
    guidance, remedy = box.children[3].children
    before = view.value
    guidance.value = 2.5
    assert lab.calls[-1]["guidance"] == 2.5 and view.value != before
    remedy.value = "alg"
    assert lab.calls[-1]["remedy"] == "alg" and lab.calls[-1]["guidance"] == 2.5
    # "off" turns guidance off explicitly (1.0), "model default" leaves it to the model
    assert guidance.options[0][0].startswith("model default") and guidance.options[1] == ("off", 1.0)
    guidance.value = 1.0
    assert lab.calls[-1]["guidance"] == 1.0
    guidance.value = "default"
    assert lab.calls[-1]["guidance"] is None


def test_guidance_options_name_the_model_default():
    from cilnb.plotting.live import guidance_options

    class M:
        guidance = (1.0, 3.0)

    assert guidance_options(M())[0] == ("model default (1 → 3 frame-wise)", "default")
    M.guidance = None
    assert guidance_options(M())[0] == ("model default (off)", "default")
    M.guidance = 7.5
    assert guidance_options(M())[0] == ("model default (7.5)", "default")


def test_sample_guidance_and_remedy_reach_the_sampler(lab):
    y = lab.images[0:1].expand(2, -1, -1, -1)
    res = lab.sample(0, seed=1, guidance=2.0, remedy="alg")
    ref = sampling.sample(lab.model, y, n_steps=3, seed=[1, 2], cond={"guidance": 2.0}, remedy="alg", show_progress=False)
    assert torch.equal(res.videos, ref.clamp(-1, 1))
    assert not torch.equal(res.videos, lab.sample(0, seed=1).videos)


def test_probe_widget_t_is_continuous(lab):
    pytest.importorskip("ipywidgets")
    box = lab.probe_widget(t=0.9)
    box.children[1].value = 0.43
    assert lab.calls[-1] == {"kind": "probe", "i": 0, "t": pytest.approx(0.43), "seed": 0}
    assert "t = 0.43" in box.children[-2].value


@pytest.mark.parametrize("call, match", [
    (lambda lab: lab.sample(7), r"image index .* \[0, 2\]"),
    (lambda lab: lab.sample(True), "image index"),
    (lambda lab: lab.probe(0, t=0.0), r"\(0, 1\]"),
    (lambda lab: lab.probe(0, t=1.5), r"\(0, 1\]"),
    (lambda lab: Lab(lab.model, lab.images, lab.truth[:2]), "same N"),
    (lambda lab: Lab(lab.model, lab.images, lab.truth, n_steps=0), "n_steps"),
    (lambda lab: Lab(lab.model, lab.images, lab.truth, sampler="dpm"), r"sampler must be one of \['ddim', 'dpm\+\+2m'"),
    (lambda lab: Lab(lab.model, lab.images, lab.truth).sample(0, init="analytic"), "stats="),
])
def test_bad_input_is_named(lab, call, match):
    with pytest.raises(ValueError, match=match):
        call(lab)


def test_new_image_button_draws_samples_and_lists_it_everywhere():
    pytest.importorskip("ipywidgets")
    lab = Lab.toy(n_images=2, n_steps=2, n_seeds=1)
    box, pbox = lab.sampling_widget(M=1.0), lab.probe_widget(t=0.5)
    image, _, new = box.children[0].children
    video = pbox.children[0].children[0]
    view, before, n_calls = box.children[-2], box.children[-2].value, len(lab.calls)
    assert new.description == "new image" and pbox.children[0].children[2].description == "new video"
    new.click()
    assert lab.n_images == 3 and image.value == 2 and list(image.options) == [0, 1, 2]
    assert len(lab.calls) == n_calls + 1 and lab.calls[-1]["kind"] == "sample" and lab.calls[-1]["i"] == 2  # one run, on it
    assert view.value != before
    assert list(video.options) == [0, 1, 2] and video.value == 0  # the probe widget lists it, keeps its choice, runs nothing
    ref = lab.sample(2, M=1.0, seed=0)
    assert torch.equal(ref.truth, lab.truth[2]) and torch.equal(lab.images[2], lab.truth[2, 0])
    pbox.children[0].children[2].click()
    assert lab.calls[-1] == {"kind": "probe", "i": 3, "t": pytest.approx(0.5), "seed": 0} and image.value == 2


def test_drawn_images_are_new_and_the_same_for_the_same_clicks():
    a, b = Lab.toy(n_images=2, n_steps=2, n_seeds=1), Lab.toy(n_images=2, n_steps=2, n_seeds=1)
    assert [a.draw_image(), a.draw_image()] == [2, 3] and b.draw_image() == 2 and b.draw_image() == 3
    assert torch.equal(a.images, b.images) and torch.equal(a.truth, b.truth) and np.array_equal(a.truth_motion, b.truth_motion)
    flat = a.truth.flatten(1)
    assert torch.cdist(flat, flat).fill_diagonal_(1.0).min() > 0.5  # four different videos
    assert a.draw_image(seed=0) == 4 and torch.equal(a.truth[4], a.truth[2])  # a draw is named by its seed
    b.draw_image(seed=4)
    assert b.draw_image() == 5 and b.draw_image() == 6  # seeds 3, then 5: the next draws skip the seed 4 taken
    assert not torch.equal(b.truth[6], b.truth[4]) and not torch.equal(b.truth[5], b.truth[4])
    other = Lab.toy(n_images=2, seed=7, n_steps=2, n_seeds=1)
    other.draw_image()
    assert not torch.equal(other.truth[2], a.truth[2])  # another data seed, other draws


def test_add_images_checks_them_against_the_lab():
    lab = Lab.toy(n_images=2, n_steps=2, n_seeds=1)
    plain = Lab(lab.model, lab.images, lab.truth, n_steps=2, n_seeds=1)
    assert plain.draw is None
    with pytest.raises(ValueError, match=r"cannot draw new images: build it with draw="):
        plain.draw_image()
    assert plain.add_images(lab.images[:1] * 0.5, lab.truth[:1] * 0.5) == [2]
    assert plain.n_images == 3 and plain.x0 is plain.truth and plain.truth_motion.shape == (3,)
    with pytest.raises(ValueError, match=r"new truth must have the lab's shape \[N, 8, 1, 32, 32\]"):
        plain.add_images(lab.images[:1], lab.truth[:1, :4])
    with pytest.raises(ValueError, match="without x0="):
        plain.add_images(lab.images[:1], lab.truth[:1], x0=lab.truth[:1])
    with pytest.raises(ValueError, match=r"truth .* \[-1, 1\]|outside"):
        plain.add_images(lab.images[:1], lab.truth[:1] * 3)
    latent = Lab(lab.model, lab.images, lab.truth, x0=lab.truth.clone(), n_steps=2, n_seeds=1)
    with pytest.raises(ValueError, match=r"built with x0= .*pass the new videos' x0 too"):
        latent.add_images(lab.images[:1], lab.truth[:1])
    assert latent.add_images(lab.images[:1], lab.truth[:1], x0=lab.truth[:1]) == [2] and latent.x0.shape[0] == 3
    assert plain.n_images == 3  # a refused addition changes nothing


@pytest.mark.parametrize("draw, exc, match", [
    (lambda k: "an image", TypeError, r"draw must return \(images \[n, C, H, W\], truth"),
    (lambda k: {"images": None}, TypeError, r"got keys \['images'\]"),
    (lambda k: (torch.zeros(1, 1, 32, 32), torch.zeros(1, 8, 1, 16, 16)), ValueError, "new truth must have the lab's shape"),
])
def test_a_bad_draw_is_named(draw, exc, match):
    lab = Lab.toy(n_images=1, n_steps=2, n_seeds=1, draw=draw)
    with pytest.raises(exc, match=match):
        lab.draw_image()
    assert lab.n_images == 1 and lab.n_draws == 0
    with pytest.raises(TypeError, match="draw must be a function"):
        Lab(lab.model, lab.images, lab.truth, draw=3)


def test_a_truth_of_another_length_is_refused_and_unread_motion_is_said():
    lab = Lab.toy(n_images=2, n_steps=2, n_seeds=2)
    with pytest.raises(ValueError, match=r"samples videos of 8 frames but truth has 4"):  # was compared with 8-frame samples
        Lab(lab.model, lab.images, lab.truth[:, :4])
    blind = Lab(lab.model, lab.images, lab.truth, n_steps=2, n_seeds=2, motion_fn=lambda v: torch.full((len(v),), float("nan")))
    text = blind.sample(0).summary()
    assert "motion not read" in text and "nan" not in text.lower()  # a read-out that found nothing is said, not "nan"
    assert "nan" not in blind.probe(0, t=0.5).summary().lower()

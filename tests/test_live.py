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

"""Counts too large for this machine are refused up front with the limit named, not failed deep in an allocator
(each case reached numpy's, torch's or matplotlib's allocator before, or was killed by the OS)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cilnb import checks, metrics, timenoise
from cilnb.plotting.timenoise import MAX_BINS, plot_timenoise_samples

HUGE = 10**15


def test_physical_memory_is_this_machines():
    ram = checks.physical_memory()
    assert ram is None or ram > 2**26
    checks.check_fits_in_memory(1024, "a small request", "nothing")  # passes
    with pytest.raises(ValueError, match=r"big\(\) needs more than .* GiB but this machine has .* GiB of memory: pass less"):
        checks.check_fits_in_memory(float(HUGE) * 10**6, "big()", "pass less")


@pytest.mark.parametrize("fn", [metrics.frechet_interval, lambda a, b, **k: metrics.frechet_difference(a, a, b, **k)],
                         ids=["interval", "difference"])
def test_a_bootstrap_too_large_for_memory_is_refused(fn):
    a, b = np.random.default_rng(0).normal(size=(2, 20, 3))
    with pytest.raises(ValueError, match=r"n_boot=1000000000000000 resamples of 20 rows needs more than .* GiB.*n_boot=200"):
        fn(a, b, n_boot=HUGE)
    assert len(fn(a, b, n_boot=20)) in (2, 3)  # a usual count still runs


def test_timenoise_check_samples_too_large_for_memory_is_refused():
    with pytest.raises(ValueError, match=r"check_samples\(n=1000000000000000\) needs more than .* GiB.*n=20000"):
        timenoise.check_samples([0.5], 5.0, 100.0, n=HUGE)


def test_a_histogram_with_more_bins_than_a_panel_shows_is_refused():
    with pytest.raises(ValueError, match=rf"bins = 1000000000 is more than a histogram panel can show \(at most {MAX_BINS}"):
        plot_timenoise_samples(bins=10**9, n=100)


def test_a_lab_with_more_seeds_than_memory_holds_is_refused():
    from cilnb.live import Lab
    from cilnb.models import toy

    net = toy.build(frames=2, size=8, widths=(8,), temporal="none", temporal_levels=(), temporal_width=8, emb_dim=16, seed=0).eval()
    images, truth = torch.zeros(1, 1, 8, 8), torch.zeros(1, 2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"Lab\(n_seeds=1000000000000000\) needs more than .* GiB.*n_seeds=3"):
        Lab(net, images, truth, n_seeds=HUGE)
    assert Lab(net, images, truth, n_seeds=2).n_seeds == 2


def test_a_fine_tune_does_not_resume_over_a_replaced_init_checkpoint(tmp_path):
    """A naive/TimeNoise fine-tune resumed its state even after its init checkpoint was replaced by another model's,
    giving weights that are neither a fine-tune of the old init nor of the new one."""
    import dataclasses

    from cilnb import data as D
    from cilnb import toy_training as TT
    from cilnb.models import toy

    def base(seed):
        net = toy.build(frames=4, size=16, widths=(8, 16), temporal_levels=(1,), temporal_width=8, emb_dim=32, seed=seed).net
        return toy.save_checkpoint(tmp_path / "init.safetensors", net, {})

    init = base(0)
    cfg = TT.TrainConfig(variant="naive", init=str(init), steps=3, batch_size=2, checkpoint_every=1, data=D.SpriteConfig(frames=4, size=16))
    out = tmp_path / "naive.safetensors"
    state = TT.train(cfg, out, device="cpu", show_progress=False, stop_after=1)
    assert state == TT.resume_path(out) and state.is_file()
    base(1)  # another model at the same path
    with pytest.raises(ValueError, match=r"continues a fine-tune of another init checkpoint: .*init\.safetensors changed since the run "
                                         r"started .*delete the resume state"):
        TT.train(cfg, out, device="cpu", show_progress=False)
    base(0)  # the original bytes again: it resumes and finishes
    assert TT.train(cfg, out, device="cpu", show_progress=False) == out and not state.exists()
    assert dataclasses.asdict(cfg)["init"] == str(init)


@pytest.mark.parametrize("which", ["sampling", "probe"])
def test_a_nan_set_on_a_lab_slider_from_code_is_put_back(which):
    """A NaN set on the M (or t) slider by code reached the lab (a ValueError in the widget's log) and stayed on the
    slider, so every later change of another control failed too, until the slider was moved back."""
    pytest.importorskip("ipywidgets")
    from cilnb.live import Lab

    lab = Lab.toy(n_images=2, n_steps=2, n_seeds=1)
    box = lab.sampling_widget(M=0.8) if which == "sampling" else lab.probe_widget(t=0.8)
    slider, seed = box.children[1], box.children[0].children[1]
    n = len(lab.calls)
    slider.value = float("nan")
    assert slider.value == pytest.approx(0.8) and len(lab.calls) == n  # put back, nothing re-run with NaN
    seed.value = 3  # a later change runs as usual, at the slider's value
    key = "M" if which == "sampling" else "t"
    assert len(lab.calls) == n + 1 and lab.calls[-1][key] == pytest.approx(0.8) and lab.calls[-1]["seed"] == 3
    slider.value = 0.5
    assert lab.calls[-1][key] == pytest.approx(0.5)


def test_an_mp4_wider_than_h264_encodes_is_refused_by_name(tmp_path):
    """Frames 16386 px wide failed inside PyAV with "Generic error in an external library: avcodec_open2"."""
    pytest.importorskip("av")
    from cilnb.io import MP4_MAX_SIDE, write_mp4
    from cilnb.plotting import save_mp4

    with pytest.raises(ValueError, match=rf"frames of 16x16385 px are larger than H\.264 \(libx264\) encodes, at most {MP4_MAX_SIDE} px"):
        write_mp4(tmp_path / "w.mp4", np.zeros((1, 16, MP4_MAX_SIDE + 1, 3), np.uint8), 6)  # padded to 16386
    write_mp4(tmp_path / "ok.mp4", np.zeros((1, 16, MP4_MAX_SIDE, 3), np.uint8), 6)  # the largest side still encodes
    assert (tmp_path / "ok.mp4").stat().st_size > 0
    with pytest.raises(ValueError, match=r"the grid is .* px, larger than H\.264 encodes .*ncols="):
        save_mp4(torch.zeros(1, 1, 1, 8, 8200), tmp_path / "grid.mp4", scale=2)
    assert not (tmp_path / "grid.mp4").exists()

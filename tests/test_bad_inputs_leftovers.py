"""Bad inputs found after the thirteenth round: each was accepted silently or failed deep inside a library.

Siblings: ``test_bad_inputs_more.py`` (media I/O, the mp4 writers' frame rates), ``test_bad_inputs_data.py``.
"""
from __future__ import annotations

import dataclasses

import pytest
import torch

from cilnb import data as D
from cilnb import toy_training as TR
from cilnb.analytic_init import MomentStats, init_params
from cilnb.checks import InputTypeError
from cilnb.models import toy


def _videos(n=3):
    return D.generate(n, seed=0, frames=4, size=16, flow=False).videos


@pytest.mark.parametrize("alpha", ["0.5", b"0.5"])
def test_init_params_refuses_a_string_coefficient(alpha):
    """float("0.5") made a string read from a file a coefficient without a word."""
    st = MomentStats().update(_videos())
    with pytest.raises(ValueError, match=r"alpha must be a number, got .*convert it with float\(\) first"):
        init_params(st, alpha, 0.5)
    with pytest.raises(ValueError, match=r"sigma must be a number"):
        init_params(st, 0.5, alpha)
    assert init_params(st, 0.5, 0.5)[1] == pytest.approx(init_params(st, torch.tensor(0.5), 0.5)[1])


@pytest.mark.parametrize("bad", [None, "1", [1.0, 2.0], True, 1j])
def test_bounce_names_a_bad_argument(bad):
    """Was an AttributeError ('float' object has no attribute 'clamp') or a torch error naming nothing."""
    for i, name in enumerate(("p0", "v", "frames", "lo", "hi")):
        args = [0.0, 1.0, torch.arange(4.0), 0.0, 2.0]
        args[i] = bad
        with pytest.raises(InputTypeError, match=rf"bounce: {name} must be a real tensor or number"):
            D.bounce(*args)


def test_bounce_takes_numbers_as_the_closed_form():
    got = D.bounce(0.0, 1.0, torch.arange(6.0), 0.0, 2.0)  # up to the wall at 2, back to 0
    assert torch.equal(got, torch.tensor([0.0, 1.0, 2.0, 1.0, 0.0, 1.0]))
    t = D.bounce(torch.tensor(0.0), torch.tensor(1.0), torch.arange(6.0), torch.tensor(0.0), torch.tensor(2.0))
    assert torch.equal(got, t)


@pytest.mark.parametrize("label, what", [({"a": 1}, "dict"), ({1, 2, 3}, "set"), ([[1, 2], [3, 4], [5, 6]], "2-D values"),
                                         ([[1], [1, 2], [3]], "ragged values")])
def test_motion_labels_are_one_constant_or_one_value_per_video(label, what):
    """A dict became a column of NaN; a 2-D list a column of lists."""
    with pytest.raises(ValueError, match=rf"label m= must be one constant or one value per video .*got {what}"):
        D.motion(_videos(), m=label)
    df = D.motion(_videos(), m=[1, 2, 3], method="base", w=torch.tensor([0.1, 0.2, 0.3]))
    assert list(df["m"]) == [1, 2, 3] and set(df["method"]) == {"base"}


def test_a_fine_tune_of_a_hand_made_toy_names_the_data_it_needs(tmp_path):
    """Was 'model (4 frames, 16px, 1 ch) and data (8 frames, 32px, 1 ch) disagree' with no fix."""
    net = toy.build(frames=4, size=16, widths=(8, 16), temporal_levels=(1,), temporal_width=8, emb_dim=32, seed=0).net
    ckpt = toy.save_checkpoint(tmp_path / "toy.safetensors", net, {})  # no train_config: no recorded data
    with pytest.raises(ValueError, match=r"records no training data .*data=cilnb\.data\.SpriteConfig\(frames=4, size=16\)"):
        TR.TrainConfig(variant="naive", init=str(ckpt), steps=1)
    cfg = TR.TrainConfig(variant="naive", init=str(ckpt), steps=1, data=D.SpriteConfig(frames=4, size=16))  # the fix works
    assert (cfg.model.frames, cfg.data.frames) == (4, 4)
    with pytest.raises(ValueError, match=r"disagree: give data=cilnb\.data\.SpriteConfig\(frames=4, size=32\)"):
        TR.TrainConfig(model=dataclasses.replace(toy.ToyConfig(), frames=4))
    with pytest.raises(ValueError, match=r"sprite data has 1 channel but the model has 3"):
        TR.TrainConfig(model=dataclasses.replace(toy.ToyConfig(), channels=3))


def test_a_plot_of_a_column_that_holds_only_nan_is_refused():
    """Each was drawn as an empty panel (or a line of NaN) and saved as a figure."""
    import numpy as np
    import pandas as pd

    from cilnb.plotting import experiments as PE
    from cilnb.plotting import remedies as PR

    nan = float("nan")
    probe = pd.DataFrame({"model": ["base"] * 3, "t": [0.2, 0.6, 1.0], "speed_retention": [nan] * 3, "area": [1.0, 0.9, 0.8]})
    with pytest.raises(ValueError, match=r"table\['speed_retention'\] holds only NaN: there is nothing to draw"):
        PE.plot_probe_curves(probe, ["area", "speed_retention"])
    PE.plot_probe_curves(probe.fillna(0.5), ["area", "speed_retention"])  # one NaN-free column is enough
    li = pd.DataFrame({"model": ["base"] * 2, "t": [0.5, 1.0], "index": [nan, nan]})
    with pytest.raises(ValueError, match=r"li\['index'\] holds only NaN"):
        PE.plot_leakage_index(li)
    sweep = pd.DataFrame({"M": [1.0, 0.7], "motion": [nan, nan], "motion_sem": [0.1, 0.1], "gt_motion": [1.0, 1.0],
                          "first_frame_psnr": [30.0, 29.0], "first_frame_psnr_sem": [0.1, 0.1], "init": ["standard"] * 2,
                          "motion_name": ["speed"] * 2, "fd_name": ["FD"] * 2})
    with pytest.raises(ValueError, match=r"summary\['motion'\] holds only NaN"):
        PE.plot_m_sweep(sweep)
    table1 = pd.DataFrame({"model": ["base"], "M": [1.0], "init": ["standard"], "motion_ratio": [nan], "first_frame_psnr": [30.0],
                           "motion_name": ["speed"], "fd_name": ["FD"]})
    with pytest.raises(ValueError, match=r"summary\['motion_ratio'\] holds only NaN"):
        PE.plot_compare(table1)
    tradeoff = pd.DataFrame({"remedy": ["plain"], "motion": [nan], "motion_sem": [0.1], "gt_motion": [1.0], "first_frame_psnr": [30.0],
                             "first_frame_psnr_sem": [0.1], "sec_per_video": [np.float64(0.2)]})
    with pytest.raises(ValueError, match=r"summary\['motion'\] holds only NaN"):
        PR.plot_tradeoff(tradeoff)


@pytest.mark.parametrize("values", [[1 + 1j, 2.0], "np", "torch"])
def test_paired_difference_refuses_complex_values(values):
    """A complex array lost its imaginary part without a word (numpy's ComplexWarning at most)."""
    import numpy as np

    from cilnb.experiments.agreement import paired_difference

    a = {"np": np.array([1 + 1j, 2.0]), "torch": torch.tensor([1 + 1j, 2.0])}.get(values, values) if isinstance(values, str) else values
    with pytest.raises(InputTypeError, match=r"a must be real numbers, got complex values: pass their \.real or abs\(\)"):
        paired_difference(a, [1.0, 2.0])
    assert paired_difference([1.0, 2.0, 4.0], [2.0, 3.0, 5.0])[:1] == (1.0,)


def test_cond_to_takes_cilnbs_device_words():
    """'auto' (cilnb's word for 'CUDA when present') was a RuntimeError listing every torch device type."""
    from cilnb.denoiser import Cond

    c = Cond.of({"y": torch.zeros(2, 3), "motion": torch.ones(2)})
    moved = c.to("auto", torch.float64)
    assert moved["y"].dtype == torch.float64 and moved["y"].device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match=r"'gpu0' is not a torch device: use 'auto', 'cpu'"):
        c.to("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"'cuda' requested but CUDA is not available"):
            c.to("cuda")

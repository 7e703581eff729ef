"""The probe against the exact Gaussian denoiser, whose one-step predictions are known in closed form."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cilnb.models.gaussian import GaussianDenoiser
from cilnb.probe import leakage_index, one_step_predictions, probe_table, recommend_start
from cilnb.sampling import per_sample_noise
from cilnb.schedules import VPSchedule

SHAPE = (4, 1, 6, 6)


@pytest.fixture
def setup():
    sched = VPSchedule()
    g = torch.Generator().manual_seed(0)
    mean, var = torch.randn(SHAPE, generator=g), 0.1 + torch.rand(SHAPE, generator=g)
    x0 = torch.randn((3, *SHAPE), generator=g, dtype=torch.float64)
    return sched, mean, var, x0


def test_one_step_predictions_equal_the_closed_form(setup):
    sched, mean, var, x0 = setup
    model = GaussianDenoiser(sched, mean, var)
    ts = torch.tensor([0.05, 0.3, 0.6, 0.9, 1.0], dtype=torch.float64)
    pred = one_step_predictions(model, x0, ts, seed=11, batch_size=4)  # chunks cut across videos
    assert pred.shape == (3, 5, *SHAPE)
    eps = per_sample_noise([11, 12, 13], SHAPE).double()
    for k, t in enumerate(ts):
        a, s = float(sched.alpha(t)), float(sched.sigma(t))
        xt = a * x0 + s * eps
        want = mean.double() + a * var.double() / (a**2 * var.double() + s**2) * (xt - a * mean.double())
        torch.testing.assert_close(pred[:, k], want, rtol=1e-9, atol=1e-9)


def test_probe_table_measures_and_retention(setup):
    sched, mean, var, x0 = setup
    model = GaussianDenoiser(sched, mean, var)
    ts = [0.1, 0.5, 1.0]
    frame_motion = lambda v: (v[:, 1:] - v[:, :-1]).abs().mean(dim=(1, 2, 3, 4))
    df = probe_table(model, x0, ts, motion_fns={"fd": frame_motion}, seed=0)
    assert len(df) == 9 and set(df.video) == {0, 1, 2}
    pred = one_step_predictions(model, x0, ts, seed=0)
    row = df[(df.video == 1) & (df.t == 0.5)].iloc[0]
    assert row.err_gt == pytest.approx((pred[1, 1] - x0[1]).abs().mean().item())
    assert row.fd_gt == pytest.approx(frame_motion(x0[1:2]).item())
    assert row.fd_retention == pytest.approx(row.fd_pred / row.fd_gt)
    # near T the prediction collapses to the mean: error to the ground truth grows with t
    err = df.groupby("t").err_gt.mean()
    assert err.is_monotonic_increasing


def test_leakage_index_tracks_the_image_weight(setup):
    """A model that adds w(t) * (y - m0) leaks more at larger t: the index follows w(t)."""
    sched, mean, var, x0 = setup
    ts = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    none = leakage_index(GaussianDenoiser(sched, mean, var), x0, ts).groupby("t")["index"].mean()
    assert np.allclose(none.values, 0.0)
    leaky = GaussianDenoiser(sched, mean, var, y_weight=lambda t: t)
    idx = leakage_index(leaky, x0, ts).groupby("t")["index"].mean()
    assert idx.is_monotonic_increasing and idx.iloc[-1] > 0.5


def test_recommend_start_picks_the_last_t_above_threshold():
    import pandas as pd

    df = pd.DataFrame({"t": [0.2, 0.4, 0.6, 0.8, 1.0] * 2, "m_retention": [1.0, 0.95, 0.85, 0.5, 0.3, 1.0, 0.9, 0.8, 0.6, 0.2]})
    assert recommend_start(df, "m_retention", 0.8) == 0.6
    with pytest.raises(ValueError, match="no probed t"):
        recommend_start(df, "m_retention", 2.0)
    with pytest.raises(ValueError, match="not in the probe table"):
        recommend_start(df, "nope")


def test_probe_bad_input(setup):
    sched, mean, var, x0 = setup
    model = GaussianDenoiser(sched, mean, var)
    with pytest.raises(ValueError, match=r"\[B, F, C, H, W\]"):
        one_step_predictions(model, x0[0], [0.5])
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        one_step_predictions(model, x0, [0.0, 0.5])
    bad = x0.clone()
    bad[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        one_step_predictions(model, bad, [0.5])
    with pytest.raises(ValueError, match="at least 2 videos"):
        leakage_index(model, x0[:1], [0.5])

"""Edge inputs of cilnb.timenoise that were mishandled: an OverflowError or allocator failure from deep inside, a
subnormal beta_m accepted (its density overflowed to inf), and check tables whose NaN, zero counts or repeated times
gave a verdict without a word. Each test says what happened before its fix."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from cilnb import checks
from cilnb import timenoise as TN
from cilnb.checks import InputTypeError


def test_an_int_beyond_float64_is_named():
    """t = 10**400 raised numpy's bare OverflowError ('int too large to convert to float'), not a ValueError."""
    with pytest.raises(ValueError, match=r"t holds a number too large for float64 .*pass t in its range"):
        TN.mu(10**400, 2.0)


def test_a_meta_tensor_is_refused():
    """A meta tensor failed in torch with 'Cannot copy out of meta tensor'."""
    with pytest.raises(InputTypeError, match=r"t is a tensor on the 'meta' device"):
        TN.mu(torch.empty(3, device="meta"), 2.0)


def test_values_beyond_memory_are_refused_before_any_work(monkeypatch):
    """An expanded tensor (no memory of its own) or shapes whose broadcast is huge failed in torch's allocator."""
    monkeypatch.setattr(checks, "physical_memory", lambda: 2**20)  # a 1 MiB machine
    with pytest.raises(ValueError, match=r"t of shape \(1000000,\) needs more than .* GiB .*pass fewer values"):
        TN.mu(torch.zeros(1).expand(10**6), 2.0)
    with pytest.raises(ValueError, match=r"TimeNoise over the broadcast of t \(1000, 1\), a \(1, 1000\) \(1,000,000 values\)"):
        TN.mu(torch.zeros(1000, 1), torch.full((1, 1000), 2.0))
    with pytest.raises(ValueError, match=r"density_grid\(n_t=1000, n_beta=1000\) needs more than"):
        TN.density_grid(2.0, 10.0, n_t=1000, n_beta=1000)
    assert TN.mu(torch.zeros(10), 2.0).shape == (10,)  # small inputs still work


def test_shapes_that_do_not_broadcast_are_named():
    with pytest.raises(ValueError, match=r"the shapes of t \(3,\), a \(2,\) do not broadcast together"):
        TN.mu(torch.zeros(3), torch.full((2,), 2.0))


def test_a_subnormal_beta_m_is_refused():
    """beta_m = 1e-310 was accepted: its levels hold a few bits and the density overflowed to inf."""
    with pytest.raises(ValueError, match=r"beta_m = 1e-310 is below float64's smallest normal number"):
        TN.density(0.0, 0.5, 2.0, 1e-310)
    assert math.isfinite(float(TN.density(1e-300, 0.5, 2.0, 1e-300 * 4)))  # tiny but normal: still taken


def test_density_grid_near_float64s_largest_beta_m_is_finite():
    """beta_m * (k + 0.5) overflowed to inf for beta_m near 1.7e308, so the grid's last levels were inf."""
    _, beta, _ = TN.density_grid(2.0, 1.7e308, n_t=3, n_beta=4)
    assert bool(torch.isfinite(beta).all()) and float(beta[-1]) < 1.7e308


def test_check_samples_refuses_a_repeated_time():
    """t_values = [0.5, 0.5] gave two rows of one t, which check_verdict's 'median grows with t' compared."""
    with pytest.raises(ValueError, match=r"t_values lists \[0\.5\] more than once"):
        TN.check_samples([0.5, 0.8, 0.5], 2.0, 10.0, n=100)


@pytest.fixture(scope="module")
def table():
    return TN.check_samples([0.3, 0.8], 2.0, 10.0, n=200)


@pytest.mark.parametrize("column", ["n", "ks_p"])
def test_check_verdict_refuses_nan(table, column):
    """A NaN made a check False (or, in n, every mean 'match' mu(t)) without a word."""
    if column not in table:
        pytest.skip(f"check_samples gives no {column} column")
    bad = table.copy()
    bad.loc[bad.index[0], column] = np.nan
    with pytest.raises(ValueError, match=rf"table\['{column}'\] holds 1 NaN or infinite value"):
        TN.check_verdict(bad)


@pytest.mark.parametrize("n", [0, 1, 2.5])
def test_check_verdict_refuses_counts_that_are_not_draws(table, n):
    """n = 0 gave an infinite standard error: every mean 'matched' mu(t)."""
    bad = table.copy()
    bad["n"] = n
    with pytest.raises(ValueError, match=r"table\['n'\] must be the whole number of draws per t \(>= 2\)"):
        TN.check_verdict(bad)


def test_check_verdict_refuses_a_repeated_time(table):
    bad = pd.concat([table, table.iloc[:1]], ignore_index=True)
    with pytest.raises(ValueError, match=r"table lists t = \[0\.3\] in more than one row"):
        TN.check_verdict(bad)
    assert isinstance(TN.check_verdict(table), dict)  # the table check_samples returns is still judged

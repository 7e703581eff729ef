"""TimeNoise (Eq. 6, Alg. 2): density, CDF, sampler, the official sampler, modes and validation."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from cilnb import timenoise as T

GRID = [(t, a, bm) for t in (0.0, 0.3, 0.7, 1.0) for a in (0.1, 1.0, 5.0) for bm in (1e-3, 1.0, 15.0, 100.0, 700.0)]


def _logit_cdf(x, t, a, beta_m):
    """The CDF derived by hand: logit(beta / beta_m) ~ N(2 t^a - 1, 1)."""
    x = np.clip(np.asarray(x, dtype=np.float64) / beta_m, 1e-300, 1 - 1e-16)
    return stats.norm.cdf(np.log(x) - np.log1p(-x) - (2 * t**a - 1))


def test_mu_endpoints_types_and_shape():
    assert T.mu(0.0, 5) == -1.0 and T.mu(1.0, 0.1) == 1.0 and T.mu(0.5, 1.0) == 0.0
    assert isinstance(T.mu(0.3, 2.0), float)
    t = torch.linspace(0, 1, 11)
    m = T.mu(t, 2.0)
    assert isinstance(m, torch.Tensor) and m.shape == t.shape
    torch.testing.assert_close(m, 2 * t.double() ** 2 - 1)
    assert bool((m[1:] >= m[:-1]).all())  # monotone in t


def test_density_integrates_to_one_on_a_grid_of_t_a_beta_m():
    """Gauss-Legendre quadrature, vectorised over all (t, a, beta_m) cases, in beta and in logit space."""
    t, a, bm = (torch.tensor(col, dtype=torch.float64) for col in zip(*GRID))
    x, w = (torch.tensor(v) for v in np.polynomial.legendre.leggauss(300))
    # beta space: beta = beta_m (x + 1) / 2 (the density is smooth and vanishes at both ends)
    beta = bm[None, :] * (x[:, None] + 1) / 2
    direct = (w[:, None] * T.density(beta, t[None, :], a[None, :], bm[None, :])).sum(0) * bm / 2
    torch.testing.assert_close(direct, torch.ones_like(direct), atol=1e-8, rtol=0)
    # logit space: beta = beta_m sigmoid(z), z in [-40, 40]
    z = 40 * x[:, None]
    s = torch.sigmoid(z)
    jac = bm[None, :] * s * (1 - s) * 40
    logit = (w[:, None] * T.density(bm[None, :] * s, t[None, :], a[None, :], bm[None, :]) * jac).sum(0)
    torch.testing.assert_close(logit, torch.ones_like(logit), atol=1e-10, rtol=0)


@pytest.mark.parametrize("t,a,beta_m", [(0.0, 5.0, 100.0), (0.7, 0.1, 1e-3), (1.0, 1.0, 700.0)])
def test_density_integrates_to_one_adaptive_quadrature(t, a, beta_m):
    f = lambda b: T.density(b, t, a, beta_m)  # noqa: E731
    mode_guess = beta_m / (1 + math.exp(-(2 * t**a - 1)))
    direct, _ = integrate.quad(f, 0, beta_m, points=[mode_guess], limit=200, epsabs=1e-12)
    assert direct == pytest.approx(1.0, abs=1e-6)


def test_density_matches_scipy_logitnorm_form_and_is_zero_outside():
    beta_m = 100.0
    b = np.linspace(0.5, 99.5, 199)
    for t, a in [(0.0, 5.0), (0.8, 5.0), (1.0, 0.5)]:
        u = b / beta_m
        ref = stats.norm.pdf(np.log(u / (1 - u)), loc=2 * t**a - 1) / (beta_m * u * (1 - u))
        np.testing.assert_allclose(T.density(torch.tensor(b), t, a, beta_m).numpy(), ref, rtol=1e-12)
    out = T.density(torch.tensor([-1.0, 0.0, 100.0, 150.0]), 0.5, 5.0, 100.0)
    assert out.tolist() == [0.0, 0.0, 0.0, 0.0]
    # extreme interior points stay finite (log-space evaluation), no NaN
    ext = T.density(torch.tensor([1e-300, 1e-12, 100 * (1 - 1e-15), 100 * (1 - 1e-9)]), 0.5, 5.0, 100.0)
    assert bool(torch.isfinite(ext).all()) and bool((ext >= 0).all())
    assert T.log_density(0.0, 0.5, 5.0, 100.0) == -math.inf


def test_density_broadcasts():
    beta = torch.linspace(1, 99, 7)[:, None]
    t = torch.linspace(0, 1, 5)[None, :]
    p = T.density(beta, t, 5.0, 100.0)
    assert p.shape == (7, 5)
    for i in range(7):
        for j in range(5):
            assert p[i, j].item() == pytest.approx(T.density(float(beta[i, 0]), float(t[0, j]), 5.0, 100.0), rel=1e-12)


@pytest.mark.parametrize("t,a,beta_m", [(0.2, 5.0, 100.0), (1.0, 0.1, 1.0)])
def test_cdf_is_the_integral_of_the_density_and_quantile_inverts_it(t, a, beta_m):
    for x in np.linspace(0.05, 0.95, 4) * beta_m:
        num, _ = integrate.quad(lambda b: T.density(b, t, a, beta_m), 0, x, limit=200, epsabs=1e-12)
        assert T.cdf(x, t, a, beta_m) == pytest.approx(num, abs=1e-8)
        assert T.cdf(x, t, a, beta_m) == pytest.approx(float(_logit_cdf(x, t, a, beta_m)), abs=1e-12)
    q = torch.linspace(0.01, 0.99, 9)
    torch.testing.assert_close(T.cdf(T.quantile(q, t, a, beta_m), t, a, beta_m), q.double())
    assert T.cdf(-1.0, t, a, beta_m) == 0.0 and T.cdf(beta_m, t, a, beta_m) == 1.0


@pytest.mark.parametrize("t,a,beta_m", [(0.1, 5.0, 100.0), (0.95, 5.0, 100.0), (0.5, 0.5, 15.0)])
def test_sampler_matches_density_ks_and_logit_moments(t, a, beta_m):
    n = 20000
    b = T.sample_beta(torch.full((n,), t), a, beta_m, seed=11)
    assert b.shape == (n,) and b.dtype == torch.float64
    assert bool((b > 0).all()) and bool((b < beta_m).all())
    ks = stats.kstest(b.numpy(), lambda x: _logit_cdf(x, t, a, beta_m))
    assert ks.pvalue > 1e-3, ks
    z = torch.log(b) - torch.log(beta_m - b)
    assert abs(z.mean().item() - (2 * t**a - 1)) < 5 / math.sqrt(n)
    assert abs(z.std().item() - 1) < 0.03


def _official_beta(t_int: torch.Tensor, a: float, beta_m: float, gen: torch.Generator) -> torch.Tensor:
    """thu-ml/cond-image-leakage: logit_normal_sampler(mu_t(t / 1000.0)), re-implemented."""
    t = t_int / 1000.0
    mu = 2 * 1 * t**a - 1  # mu_t(t, a, mu_max=1)
    y = torch.randn(t.shape[0], generator=gen) * 1 + mu
    return beta_m * (torch.exp(y) / (1 + torch.exp(y)))


@pytest.mark.parametrize("a,beta_m", [(5.0, 100.0), (1.0, 15.0)])
def test_official_sampler_and_ours_agree_in_distribution(a, beta_m):
    n = 20000
    t_int = torch.randint(0, 1000, (n,), generator=torch.Generator().manual_seed(3))
    official = _official_beta(t_int.float(), a, beta_m, torch.Generator().manual_seed(4))
    ours = T.sample_beta(t_int.double() / 1000, a, beta_m, generator=torch.Generator().manual_seed(5))
    res = stats.ks_2samp(official.numpy(), ours.numpy())
    assert res.pvalue > 1e-3, res
    # the same holds at one fixed timestep
    t_fixed = torch.full((n,), 900)
    res = stats.ks_2samp(_official_beta(t_fixed.float(), a, beta_m, torch.Generator().manual_seed(6)).numpy(),
                         T.sample_beta(t_fixed.double() / 1000, a, beta_m, seed=7).numpy())
    assert res.pvalue > 1e-3, res


def test_randomness_is_explicit_and_deterministic():
    t = torch.rand(16, generator=torch.Generator().manual_seed(0))
    state = torch.get_rng_state()
    a1 = T.sample_beta(t, 5, 100, seed=3)
    a2 = T.sample_beta(t, 5, 100, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a1, a2)
    assert torch.equal(torch.get_rng_state(), state), "the global RNG was used"
    with pytest.raises(ValueError, match="generator"):
        T.sample_beta(t, 5, 100)
    with pytest.raises(ValueError, match="not both"):
        T.sample_beta(t, 5, 100, torch.Generator(), seed=1)
    assert T.sample_beta(0.5, 5, 100, seed=0).shape == ()


def test_add_timenoise_additive_uses_one_level_per_sample():
    B = 6
    y0 = torch.zeros((B, 3, 32, 32))
    t = torch.linspace(0, 1, B)
    ys, beta = T.add_timenoise(y0, t, 5.0, 100.0, seed=0, return_beta=True)
    assert ys.shape == y0.shape and ys.dtype == y0.dtype and beta.shape == (B,)
    std = ys.reshape(B, -1).std(1).double()
    torch.testing.assert_close(std / beta, torch.ones(B, dtype=torch.float64), atol=0.05, rtol=0)
    # beta first, then eps, from the same stream: the levels equal sample_beta with that seed
    assert torch.equal(beta, T.sample_beta(t, 5.0, 100.0, seed=0))
    assert torch.equal(T.add_timenoise(y0, t, 5.0, 100.0, seed=0), ys)
    # a scalar t is broadcast; other leading layouts work ([B, L, D] tokens)
    assert T.add_timenoise(torch.ones((2, 4, 8)), 0.3, 5.0, 25.0, seed=1).shape == (2, 4, 8)


def test_add_timenoise_modes():
    B = 4
    y0 = torch.ones((B, 2, 64, 64), dtype=torch.float64)
    t = torch.tensor([0.0, 0.5, 0.9, 1.0])
    # Eq. (20): (1 - beta) y0 + beta eps
    ys, beta = T.add_timenoise(y0, t, 5.0, 1.0, seed=0, mode="interp", return_beta=True)
    eps = (ys - (1 - beta.view(-1, 1, 1, 1)) * y0) / beta.view(-1, 1, 1, 1)
    assert abs(eps.mean().item()) < 0.02 and abs(eps.std().item() - 1) < 0.02
    with pytest.raises(ValueError, match="beta_m <= 1"):
        T.add_timenoise(y0, t, 5.0, 100.0, seed=0, mode="interp")
    # 'constant': the deterministic beta_m (mu(t) + 1) / 2 = beta_m t^a
    _, beta = T.add_timenoise(y0, t, 5.0, 100.0, seed=0, mode="constant", return_beta=True)
    torch.testing.assert_close(beta, 100.0 * t.double() ** 5)
    # 'fixed': one level for every t
    _, beta = T.add_timenoise(y0, t, 5.0, 100.0, seed=0, mode="fixed", level=0.02, return_beta=True)
    assert beta.tolist() == [0.02] * B
    with pytest.raises(ValueError, match="level"):
        T.add_timenoise(y0, t, 5.0, 100.0, seed=0, mode="fixed")
    with pytest.raises(ValueError, match="level"):
        T.add_timenoise(y0, t, 5.0, 100.0, seed=0, level=0.1)
    # 'cdm': uniform on (0, beta_m) whatever t
    _, beta = T.add_timenoise(torch.zeros((4000, 1)), 0.1, 5.0, 10.0, seed=2, mode="cdm", return_beta=True)
    assert stats.kstest(beta.numpy(), stats.uniform(0, 10).cdf).pvalue > 1e-3
    with pytest.raises(ValueError, match="mode"):
        T.add_timenoise(y0, t, 5.0, 1.0, seed=0, mode="bogus")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(a=0.0), "a must be > 0"),
        (dict(a=-1.0), "a must be > 0"),
        (dict(beta_m=0.0), "beta_m"),
        (dict(beta_m=float("nan")), "beta_m must be finite"),
        (dict(t=torch.tensor([0.1, 1.5, 0.2])), r"\[0, 1\]"),
        (dict(t=torch.tensor([0.1, -0.1, 0.2])), r"\[0, 1\]"),
        (dict(t=torch.tensor([0.1, float("nan"), 0.2])), "t must be finite"),
        (dict(t=torch.tensor([0.1, 0.2])), "one entry per batch element"),
        (dict(y0=torch.tensor([[float("inf"), 0.0]] * 3)), "y0 contains"),
        (dict(y0=torch.zeros((3, 2), dtype=torch.long)), "floating"),
    ],
)
def test_validation_errors(kwargs, match):
    args = dict(y0=torch.zeros((3, 2)), t=torch.tensor([0.1, 0.5, 0.9]), a=5.0, beta_m=100.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        T.add_timenoise(args["y0"], args["t"], args["a"], args["beta_m"], seed=0)


def test_density_and_sampler_validation():
    with pytest.raises(ValueError, match="a must be > 0"):
        T.density(1.0, 0.5, 0.0, 10.0)
    with pytest.raises(ValueError, match="beta_m"):
        T.density(1.0, 0.5, 1.0, -1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        T.sample_beta(torch.tensor([500.0]), 5.0, 100.0, seed=0)  # an unnormalised DDPM timestep
    with pytest.raises(ValueError, match="beta_s must be finite"):
        T.density(float("nan"), 0.5, 1.0, 10.0)


def test_check_samples_and_verdict():
    table = T.check_samples([0.2, 0.9, 1.0], 5.0, 100.0, n=3000, seed=0)
    assert list(table["t"]) == [0.2, 0.9, 1.0]
    v = T.check_verdict(table)
    assert v["holds"], (v, table)


def test_settings_for_reads_the_toy_checkpoint_and_the_paper(tmp_path):
    from cilnb.models import toy

    a, bm, src = T.settings_for("toy")
    cfg = toy.read_metadata(toy.checkpoint_path("timenoise"))["train_config"]
    assert (a, bm) == (cfg["timenoise_a"], cfg["timenoise_beta_m"]) and "toy_timenoise" in src
    assert T.settings_for("videocrafter1")[:2] == (5.0, 25.0)
    assert T.settings_for("svd", beta_m=15.0)[:2] == (5.0, 15.0)
    assert T.settings_for("anything", 2.0, 3.0) == (2.0, 3.0, "given")
    with pytest.raises(ValueError, match="not trained with TimeNoise"):
        T.settings_for("toy", model_path=str(toy.checkpoint_path("naive")))
    with pytest.raises(ValueError, match="no TimeNoise setting"):
        T.settings_for("wan-i2v")
    with pytest.raises(ValueError, match="must be > 0"):
        T.settings_for("toy", beta_m=-1.0)

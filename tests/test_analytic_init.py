"""Analytic-Init (Eq. 5, Prop. 1): streaming moments, files, official import, the KL argmin, sampling."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from cilnb import analytic_init as A
from cilnb.schedules import EDMSchedule, FlowSchedule, VPSchedule

SHAPE = (3, 2, 4, 5)  # one "video" [F, C, H, W]


def _data(n=257, seed=0, dtype=torch.float32, offset=0.0):
    g = torch.Generator().manual_seed(seed)
    scale = torch.rand(SHAPE, generator=g) * 2 + 0.1
    return (offset + torch.randn((n, *SHAPE), generator=g) * scale + torch.randn(SHAPE, generator=g)).to(dtype)


def _np_moments(x):
    arr = x.double().numpy()
    return arr.mean(0), arr.var(0)  # population (ddof = 0)


# ----------------------------------------------------------------------------------------------
# MomentStats
# ----------------------------------------------------------------------------------------------


def test_one_batch_equals_numpy():
    x = _data()
    st = A.MomentStats().update(x)
    m, v = _np_moments(x)
    assert st.count == 257 and st.shape == SHAPE and st.d == math.prod(SHAPE)
    np.testing.assert_allclose(st.mean.numpy(), m, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(st.var.numpy(), v, rtol=1e-10)
    assert st.avg_var == pytest.approx(v.mean(), rel=1e-12)
    assert st.mean.dtype == torch.float64


def test_many_small_batches_and_merged_shards_equal_one_big_batch():
    x = _data(n=300, seed=1)
    m, v = _np_moments(x)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(np.arange(1, 300), size=40, replace=False))
    small = A.MomentStats()
    for chunk in np.split(np.arange(300), cuts):
        small.update(x[chunk])  # includes batches of size 1
    shards = [A.MomentStats().update(x[i::3]) for i in range(3)]
    merged = A.MomentStats()
    for sh in shards:
        merged.merge(sh)
    merged.merge(A.MomentStats())  # an empty shard is a no-op
    for st in (small, merged):
        assert st.count == 300
        np.testing.assert_allclose(st.mean.numpy(), m, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(st.var.numpy(), v, rtol=1e-10)


def test_float16_input_and_large_offset_stability():
    x16 = _data(n=64, dtype=torch.float16)
    st = A.MomentStats().update(x16)
    m, v = _np_moments(x16)  # numpy on the very same float16 values, cast to float64
    np.testing.assert_allclose(st.mean.numpy(), m, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(st.var.numpy(), v, rtol=1e-10)
    # large offset: the naive E[x^2] - E[x]^2 loses everything, batched Welford does not
    x = _data(n=400, dtype=torch.float64, offset=1e9)
    st = A.MomentStats()
    for chunk in x.split(7):
        st.update(chunk)
    _, v = _np_moments(x)
    np.testing.assert_allclose(st.var.numpy(), v, rtol=1e-6)


def test_streaming_errors():
    st = A.MomentStats()
    with pytest.raises(ValueError, match="no samples"):
        _ = st.mean
    with pytest.raises(ValueError, match="no samples"):
        A.init_params(st, 1.0, 0.0)
    with pytest.raises(ValueError, match="N = 0"):
        st.update(torch.zeros((0, *SHAPE)))
    bad = _data(n=4)
    bad[2, 0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        st.update(bad)
    st.update(_data(n=4))
    with pytest.raises(ValueError, match="shape"):
        st.update(torch.zeros((2, 3, 2, 4, 6)))
    with pytest.raises(ValueError, match="cannot merge"):
        st.merge(A.MomentStats().update(torch.zeros((2, 1, 2))))
    with pytest.raises(ValueError, match="sample_shape"):
        A.MomentStats().update(torch.zeros(5))


# ----------------------------------------------------------------------------------------------
# files
# ----------------------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    st = A.MomentStats(source="unit test").update(_data())
    path = st.save(tmp_path / "stats.safetensors", vae_scaling_factor=0.18215)
    back = A.MomentStats.load(path)
    assert back.count == st.count and back.shape == st.shape
    assert torch.equal(back.mean, st.mean)
    torch.testing.assert_close(back.var, st.var, rtol=1e-15, atol=0)
    assert back.source == "unit test" and back.vae_scaling_factor == 0.18215
    # a loaded object keeps streaming: merging equals having seen everything
    extra = _data(n=50, seed=9)
    back.update(extra)
    full = A.MomentStats().update(torch.cat([_data(), extra]))
    torch.testing.assert_close(back.var, full.var, rtol=1e-12, atol=1e-12)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["format"] == A.FORMAT and meta["format_version"] == str(A.FORMAT_VERSION)
    assert meta["shape"] == "[3, 2, 4, 5]" and meta["count"] == "257"
    assert not list(tmp_path.glob(".*.tmp")), "atomic write left a temporary file"


def test_load_refuses_other_files(tmp_path):
    from safetensors.torch import save_file

    other = tmp_path / "weights.safetensors"
    save_file({"weight": torch.zeros(3)}, str(other), metadata={"format": "pt"})
    with pytest.raises(ValueError, match="not a cilnb statistics file"):
        A.MomentStats.load(other)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01 this is not a safetensors file at all" * 10)
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        A.MomentStats.load(garbage)
    good = A.MomentStats().update(_data(n=5)).save(tmp_path / "s.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        A.MomentStats.load(truncated)
    # right tag, wrong content
    meta = {"format": A.FORMAT, "format_version": "1", "shape": "[3, 2]", "count": "4", "source": "", "vae_scaling_factor": ""}
    save_file({"mean": torch.zeros(3, 2, dtype=torch.float64), "var": torch.full((3, 2), float("nan"), dtype=torch.float64)}, str(tmp_path / "nan.safetensors"), metadata=meta)
    with pytest.raises(ValueError, match="corrupt statistics file.*NaN"):
        A.MomentStats.load(tmp_path / "nan.safetensors")
    save_file({"mean": torch.zeros(3, 3, dtype=torch.float64), "var": torch.ones(3, 3, dtype=torch.float64)}, str(tmp_path / "shape.safetensors"), metadata=meta)
    with pytest.raises(ValueError, match="corrupt statistics file.*metadata says"):
        A.MomentStats.load(tmp_path / "shape.safetensors")
    with pytest.raises(FileNotFoundError):
        A.MomentStats.load(tmp_path / "missing.safetensors")


@pytest.mark.parametrize("keys,layout,stored_shape", [
    (("Expectation_x_0", "trCov_d"), "fchw", (3, 2, 4, 5)),  # SVD example, diffusers layout
    (("Expectation_X0", "Tr_Cov_d"), "cfhw", (1, 2, 3, 4, 5)),  # DynamiCrafter LVDM layout [1, C, F, H, W]
])
def test_official_import_both_key_conventions(tmp_path, keys, layout, stored_shape):
    mean = torch.randn(stored_shape, generator=torch.Generator().manual_seed(0))
    path = tmp_path / "initial_noise_512.pt"
    torch.save({keys[0]: mean.half(), keys[1]: torch.tensor(0.75)}, path)
    st = A.MomentStats.from_official(path)
    expected = mean.double()[0].permute(1, 0, 2, 3) if layout == "cfhw" else mean.double()
    assert st.shape == SHAPE and st.count is None
    torch.testing.assert_close(st.mean, expected.half().double())
    assert st.avg_var == 0.75
    with pytest.raises(ValueError, match="per-element variances are unavailable"):
        _ = st.var
    with pytest.raises(ValueError, match="cannot update"):
        st.update(_data(n=2))
    with pytest.raises(ValueError, match="cannot merge"):
        st.merge(A.MomentStats().update(_data(n=2)))
    with pytest.raises(ValueError, match="cannot merge"):
        A.MomentStats().update(_data(n=2)).merge(st)
    mu, var = A.init_params(st, 0.5, 0.8)
    torch.testing.assert_close(mu, 0.5 * st.mean)
    assert var == pytest.approx(0.25 * 0.75 + 0.64)
    # imported stats survive a save/load round trip as mean + avg_var
    back = A.MomentStats.load(st.save(tmp_path / "imported.safetensors"))
    assert back.avg_var == 0.75 and torch.equal(back.mean, st.mean) and back.count is None


def test_official_import_errors(tmp_path):
    p = tmp_path / "x.pt"
    torch.save({"mean": torch.zeros(3)}, p)
    with pytest.raises(ValueError, match="lacks the official keys"):
        A.MomentStats.from_official(p)
    torch.save(torch.zeros(3), p)
    with pytest.raises(ValueError, match="expected a dict"):
        A.MomentStats.from_official(p)
    p.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="not a readable torch file"):
        A.MomentStats.from_official(p)


# ----------------------------------------------------------------------------------------------
# Eq. (5) is the argmin of the KL (Prop. 1)
# ----------------------------------------------------------------------------------------------


def test_gaussian_kl_matches_torch_distributions():
    from torch.distributions import MultivariateNormal, kl_divergence

    g = torch.Generator().manual_seed(0)
    d = 5
    L = torch.randn((d, d), generator=g, dtype=torch.float64)
    cov = L @ L.T + 0.5 * torch.eye(d, dtype=torch.float64)
    mq, mp = torch.randn(d, generator=g, dtype=torch.float64), torch.randn(d, generator=g, dtype=torch.float64)
    ref = kl_divergence(MultivariateNormal(mq, cov), MultivariateNormal(mp, 2.5 * torch.eye(d, dtype=torch.float64)))
    assert A.gaussian_kl(mq, cov, mp, 2.5) == pytest.approx(float(ref), rel=1e-10)
    diag = torch.rand(d, generator=g, dtype=torch.float64) + 0.1
    ref = kl_divergence(MultivariateNormal(mq, torch.diag(diag)), MultivariateNormal(mp, 0.7 * torch.eye(d, dtype=torch.float64)))
    assert A.gaussian_kl(mq, diag, mp, 0.7) == pytest.approx(float(ref), rel=1e-10)
    assert A.gaussian_kl(mq, 1.3, mq, 1.3) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="q_var"):
        A.gaussian_kl(mq, torch.zeros(d), mp, 1.0)


@pytest.mark.parametrize("alpha,sigma", [(0.9, 0.3), (0.2, 0.98), (1.0, 100.0), (0.0, 1.0)])
def test_init_params_is_the_kl_argmin(alpha, sigma):
    """Numerical minimiser over (mean vector, log variance) of KL(q_M || N(mu, v I)) lands on Eq. (5)."""
    x = _data(n=200, dtype=torch.float64)[:, 0, 0, :2, :]  # d = 10 elements per sample
    st = A.MomentStats().update(x)
    q_mean, q_var = alpha * st.mean, alpha**2 * st.var + sigma**2  # q_M's moments (diagonal)
    mu, var = A.init_params(st, alpha, sigma)
    d = st.d

    def kl(theta):
        return A.gaussian_kl(q_mean, q_var, torch.as_tensor(theta[:d]).reshape(st.shape), math.exp(theta[d]))

    start = np.zeros(d + 1)
    start[d] = 2 * math.log(sigma + 1)
    res = minimize(kl, start, method="BFGS", options={"gtol": 1e-9})
    scale = math.sqrt(var)
    np.testing.assert_allclose(res.x[:d] / scale, (mu.reshape(-1) / scale).numpy(), atol=1e-4)
    assert math.exp(res.x[d]) == pytest.approx(var, rel=1e-4)
    best = kl(np.concatenate([mu.reshape(-1).numpy(), [math.log(var)]]))
    assert best <= res.fun + 1e-9
    g = np.random.default_rng(0)
    for _ in range(20):  # any perturbation is worse
        dm = g.normal(size=d) * 0.05 * scale
        dv = math.exp(g.normal() * 0.05)
        assert kl(np.concatenate([mu.reshape(-1).numpy() + dm, [math.log(var * dv)]])) > best


def test_kl_table_prop1_and_monte_carlo_cross_check():
    data = A.synthetic_data("mixture", d=6, seed=1)
    Ms = [0.1, 0.4, 0.7, 1.0]
    table = A.kl_table({"vp": VPSchedule(), "edm": EDMSchedule(), "flow": FlowSchedule()}, data, Ms, n_mc=4000, seed=0)
    v = A.check_prop1(table)
    assert v["holds"], v
    assert (table["kl_baseline"] - table["kl_analytic"] >= -1e-9).all()
    # direct Monte Carlo of KL(q_M || p) = E_q[log q - log p] agrees with the table (VP, M = 0.4)
    row = table[(table["family"] == "vp") & (table["M"] == 0.4)].iloc[0]
    q = data.diffuse(row["alpha"], row["sigma"])
    x = q.sample(60000, seed=3)
    mean_p, var_p = A.init_params(data.stats(), row["alpha"], row["sigma"])
    log_p = -0.5 * (((x - mean_p) ** 2).sum(1) / var_p + data.d * math.log(2 * math.pi * var_p))
    r = q.log_prob(x) - log_p
    assert abs(float(r.mean()) - row["kl_analytic"]) < 4 * float(r.std()) / math.sqrt(len(r)) + 4 * row["nongauss_se"]
    # for one Gaussian the decomposition is exact and the non-Gaussian part vanishes
    gauss = A.synthetic_data("gaussian", d=6, seed=1)
    t1 = A.kl_table(VPSchedule(), gauss, [0.5], numeric=False)
    assert t1["nongauss"].iloc[0] == 0.0
    q1 = gauss.diffuse(t1["alpha"].iloc[0], t1["sigma"].iloc[0])
    assert t1["kl_analytic"].iloc[0] == pytest.approx(A.gaussian_kl(q1.means[0], q1.variances[0], *A.init_params(gauss.stats(), t1["alpha"].iloc[0], t1["sigma"].iloc[0])))


def test_mixture_moments_match_samples():
    data = A.synthetic_data("mixture", d=4, seed=2)
    x = data.sample(200000, seed=0)
    torch.testing.assert_close(x.mean(0), data.mean(), atol=0.02, rtol=0)
    torch.testing.assert_close(torch.cov(x.T), data.cov(), atol=0.03, rtol=0.02)
    torch.testing.assert_close(torch.diagonal(data.cov()), data.var())


# ----------------------------------------------------------------------------------------------
# sampling
# ----------------------------------------------------------------------------------------------


def test_sample_init_moments_shape_and_determinism():
    st = A.MomentStats().update(_data(n=100))
    alpha, sigma = 0.6, 0.8
    x = A.sample_init(st, alpha, sigma, 4000, seed=0, dtype=torch.float64)
    assert x.shape == (4000, *SHAPE) and x.dtype == torch.float64
    mu, var = A.init_params(st, alpha, sigma)
    torch.testing.assert_close(x.mean(0), mu, atol=5 * math.sqrt(var / 4000), rtol=0)
    assert x.var(0).mean().item() == pytest.approx(var, rel=0.02)
    a = A.sample_init(st, alpha, sigma, (3, *SHAPE), generator=torch.Generator().manual_seed(5))
    b = A.sample_init(st, alpha, sigma, 3, seed=5)
    assert a.dtype == torch.float32 and torch.equal(a, b)
    with pytest.raises(ValueError, match=r"stats shape \(3, 2, 4, 5\) does not match latents \(14, 2, 4, 5\).*python -m cilnb stats"):
        A.sample_init(st, alpha, sigma, (2, 14, 2, 4, 5), seed=0)
    with pytest.raises(ValueError, match="generator"):
        A.sample_init(st, alpha, sigma, 2)


def test_init_params_validation_and_pipeline_latents():
    st = A.MomentStats().update(_data(n=10))
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="alpha"):
            A.init_params(st, bad, 1.0)
        with pytest.raises(ValueError, match="sigma"):
            A.init_params(st, 1.0, bad)
    with pytest.raises(ValueError, match="MomentStats"):
        A.init_params({"mean": 0}, 1.0, 1.0)
    # schedule convenience: VP at M = 1 is (almost) N(0, I)
    mu, var = A.init_params_at(st, VPSchedule(), 1.0)
    assert var == pytest.approx(1.0, abs=1e-3) and float(mu.abs().max()) < 0.05
    x = torch.full((2, 3), 10.0)
    torch.testing.assert_close(A.pipeline_latents(x, 10.0), torch.ones(2, 3))
    with pytest.raises(ValueError, match="init_noise_sigma"):
        A.pipeline_latents(x, 0.0)

"""Samplers against the exact Gaussian denoiser: known ODE solutions, known output moments."""
from __future__ import annotations

import math
import re

import pytest
import torch

from cilnb.analytic_init import MomentStats
from cilnb.models.gaussian import GaussianDenoiser
from cilnb.sampling import initial_noise, per_sample_noise, sample, sample_ddim, sample_euler, sample_heun
from cilnb.schedules import EDMSchedule, FlowSchedule, VPSchedule

SHAPE = (3, 1, 4, 4)


def _model(schedule, iso=False):
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(SHAPE, generator=g) * 0.5
    var = torch.full(SHAPE, 0.3) if iso else 0.05 + torch.rand(SHAPE, generator=g)
    return GaussianDenoiser(schedule, mean, var)


@pytest.mark.parametrize("schedule", [VPSchedule(), EDMSchedule(sigma_max=80.0), FlowSchedule(shift=3.0)], ids=["vp", "edm", "flow"])
@pytest.mark.parametrize("start", [1.0, 0.7])
def test_samplers_follow_the_exact_probability_flow(schedule, start):
    model = _model(schedule)
    x = torch.randn((8, *SHAPE), dtype=torch.float64)
    exact = model.ode_solution(x, start)
    ts = schedule.grid(400, start)
    for fn, tol in [(sample_ddim, 0.03), (sample_euler, 0.03), (sample_heun, 2e-3)]:
        if fn is not sample_ddim and float(schedule.alpha(start)) == 0:
            continue
        out = fn(model, x.clone(), ts, {}, disable=True)
        err = (out - exact).abs().max().item()
        assert err < tol, f"{fn.__name__}: max error {err:.2e} vs exact ODE map"


def test_ddim_equals_euler_in_normalised_variables():
    model = _model(VPSchedule())
    x = torch.randn((4, *SHAPE), dtype=torch.float64)
    ts = model.schedule.grid(25, 0.9)
    torch.testing.assert_close(sample_ddim(model, x, ts, disable=True), sample_euler(model, x, ts, disable=True), rtol=1e-9, atol=1e-9)


def test_heun_refuses_zero_terminal_snr_at_T():
    model = _model(VPSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, rescale_zero_terminal_snr=True))
    ts = model.schedule.grid(10, 1.0)
    with pytest.raises(ValueError, match="alpha_t > 0"):
        sample_heun(model, torch.zeros((1, *SHAPE)), ts, disable=True)
    out = sample_ddim(model, torch.randn((2, *SHAPE), dtype=torch.float64), ts, disable=True)  # DDIM copes
    assert torch.isfinite(out).all()


def _stats(mean, var, n=10):
    st = MomentStats()
    z = torch.randn((4000, *mean.shape), dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    st.update(mean + var.sqrt() * z)
    return st


def test_analytic_init_recovers_the_data_distribution_where_standard_does_not():
    """Isotropic Gaussian data: Analytic-Init *is* the marginal q_M, so sampling from M gives the data."""
    sched = VPSchedule()
    model = _model(sched, iso=True)
    stats = _stats(model.mean, model.var)
    y = torch.zeros((2000, *SHAPE[1:]), dtype=torch.float64)
    start = 0.5
    res = {}
    for init in ("analytic", "standard"):
        out = sample(model, y, n_steps=60, start=start, init=init, stats=stats, seed=0, show_progress=False)
        res[init] = ((out.mean(0) - model.mean).abs().mean().item(), (out.var(0) / model.var).mean().item())
    assert res["analytic"][0] < 0.05 and abs(res["analytic"][1] - 1) < 0.12
    # N(0, I) at M = 0.5T skips the data term: means shrink toward 0, variance is off
    assert res["standard"][0] > 3 * res["analytic"][0]


def test_initial_noise_moments_and_shape_checks():
    sched = VPSchedule()
    model = _model(sched, iso=True)
    stats = _stats(model.mean, model.var)
    x = initial_noise(model, list(range(3000)), SHAPE, 0.6, "analytic", stats).double()
    a, s = float(sched.alpha(0.6)), float(sched.sigma(0.6))
    torch.testing.assert_close(x.mean(0), a * stats.mean, atol=0.06, rtol=0)
    assert abs(x.var(0).mean().item() / (a**2 * stats.avg_var + s**2) - 1) < 0.03
    with pytest.raises(ValueError, match="does not match"):
        initial_noise(model, [0], (4, 1, 4, 4), 0.6, "analytic", stats)
    with pytest.raises(ValueError, match="needs stats"):
        initial_noise(model, [0], SHAPE, 0.6, "analytic", None)
    edm = EDMSchedule(sigma_max=700.0)
    assert math.isclose(edm.prior_std(edm.parse_start(native=100.0)), math.sqrt(1 + 100.0**2), rel_tol=1e-9)


def test_sample_is_deterministic_and_batch_independent():
    model = _model(VPSchedule())
    y = torch.zeros((4, *SHAPE[1:]))
    a = sample(model, y, n_steps=10, seed=3, show_progress=False)
    b = sample(model, y, n_steps=10, seed=3, show_progress=False)
    assert torch.equal(a, b)
    # video b of a batch == the same image drawn alone with its seed
    c = sample(model, y[2:3], n_steps=10, seed=[5], show_progress=False)
    torch.testing.assert_close(a[2:3], c)
    d = sample(model, y, n_steps=10, seed=3, show_progress=False, batch_size=3)
    assert torch.equal(a, d)


def test_start_grid_and_bad_input():
    model = _model(VPSchedule())
    seen = []
    sample(model, torch.zeros((1, *SHAPE[1:])), n_steps=5, start=0.8, seed=0, show_progress=False, callback=lambda d: seen.append(d["t"]))
    assert seen[0] == pytest.approx(0.8) and len(seen) == 5 and seen == sorted(seen, reverse=True)
    for bad in (0.0, 1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match="start M"):
            sample(model, torch.zeros((1, *SHAPE[1:])), start=bad, show_progress=False)
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        sample(model, torch.zeros(SHAPE[1:]), show_progress=False)
    with pytest.raises(ValueError, match="sampler"):
        sample(model, torch.zeros((1, *SHAPE[1:])), sampler="dpm", show_progress=False)


def test_ddim_eta_one_matches_the_exact_moment_recursion():
    """eta = 1 on the Gaussian denoiser is an affine map plus fresh noise per step: the output's
    mean and variance follow a closed-form recursion, computed here independently of the sampler."""
    sched = VPSchedule()
    model = _model(sched)
    n_steps = 40
    ts = sched.grid(n_steps)
    m, v = model.mean, model.var
    a = torch.cat([sched.alpha(ts), torch.ones(1, dtype=torch.float64)])
    s = torch.cat([sched.sigma(ts), torch.zeros(1, dtype=torch.float64)])
    mean, var = torch.zeros_like(m), torch.ones_like(v)
    for i in range(n_steps):
        k = a[i] * v / (a[i] ** 2 * v + s[i] ** 2)  # x0 = m + k (x - a m)
        if s[i + 1] == 0:
            mean, var = m + k * (mean - a[i] * m), k**2 * var
            break
        post = s[i + 1] ** 2 * (1 - a[i] ** 2 * s[i + 1] ** 2 / (a[i + 1] ** 2 * s[i] ** 2))
        d = (s[i + 1] ** 2 - post).sqrt()
        # x' = a' x0 + d (x - a x0) / s + sqrt(post) z, with x0 affine in x
        slope = (a[i + 1] - d * a[i] / s[i]) * k + d / s[i]
        offset = (a[i + 1] - d * a[i] / s[i]) * (m - k * a[i] * m)
        mean, var = slope * mean + offset, slope**2 * var + post
    x = per_sample_noise(list(range(4000)), SHAPE).double()
    out = sample_ddim(model, x, ts, disable=True, eta=1.0, generator=torch.Generator().manual_seed(1))
    assert (out.mean(0) - mean).abs().max() < 4 * (var.max() / 4000) ** 0.5 + 1e-3
    assert ((out.var(0) / var) - 1).abs().mean() < 0.03
    # and the ancestral sampler is close to the data distribution itself
    assert abs((var / v).mean().item() - 1) < 0.25


def _diffusers_dpm(model, x, ts, **config):
    """diffusers' ``DPMSolverMultistepScheduler`` (x0 prediction, ``dpmsolver++``) run on ``model`` over the same
    integer timesteps as the normalised grid ``ts`` of the default VP schedule."""
    from diffusers import DPMSolverMultistepScheduler

    sched = DPMSolverMultistepScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear",
                                       prediction_type="sample", algorithm_type="dpmsolver++", **config)
    sched.set_timesteps(timesteps=[int(v) for v in model.schedule.to_native(ts).round().tolist()])
    ref = x.clone()
    for t in sched.timesteps:
        x0 = model(ref, torch.full((ref.shape[0],), (int(t) + 1) / 1000, dtype=torch.float64))
        ref = sched.step(x0, t, ref).prev_sample
    return ref


@pytest.mark.parametrize("start", [1.0, 0.7])
def test_dpmpp_2m_matches_diffusers_and_converges_at_second_order(start):
    """DPM-Solver++(2M) against diffusers' ``DPMSolverMultistepScheduler`` on the same integer timesteps
    (x0 prediction, 20 steps: diffusers' few-step heuristics start below 15), and against the exact ODE map
    of Gaussian data: the error falls about 4x per doubling of steps (DDIM's: 2x)."""
    from cilnb.sampling import SAMPLERS, sample_dpmpp_2m

    assert SAMPLERS["dpm++2m"] is sample_dpmpp_2m
    schedule = VPSchedule()
    model = _model(schedule)
    x = torch.randn((4, *SHAPE), dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    ts = schedule.grid(20, start)
    ref = _diffusers_dpm(model, x, ts, solver_order=2)
    torch.testing.assert_close(sample_dpmpp_2m(model, x.clone(), ts, disable=True), ref, rtol=1e-6, atol=1e-6)
    exact = model.ode_solution(x, start)
    err = {n: (fn(model, x.clone(), schedule.grid(n, start), disable=True) - exact).abs().max().item()
           for fn in (sample_dpmpp_2m,) for n in (20, 80)}
    ddim = {n: (sample_ddim(model, x.clone(), schedule.grid(n, start), disable=True) - exact).abs().max().item() for n in (20, 80)}
    assert err[80] < ddim[80] / 3 and err[20] / err[80] > 8 and ddim[20] / ddim[80] < 5


def test_dpmpp_2m_starts_at_zero_terminal_snr_and_equals_ddim_on_its_first_step():
    from cilnb.sampling import sample_dpmpp_2m

    model = _model(VPSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, rescale_zero_terminal_snr=True))
    x = torch.randn((2, *SHAPE), dtype=torch.float64)
    ts = model.schedule.grid(10, 1.0)
    out = sample_dpmpp_2m(model, x.clone(), ts, disable=True)
    assert torch.isfinite(out).all()
    for grid in (ts[:1], model.schedule.grid(10, 0.5)[:1]):  # one step to clean: both return the model's x0
        torch.testing.assert_close(sample_dpmpp_2m(model, x.clone(), grid, disable=True), sample_ddim(model, x.clone(), grid, disable=True))


@pytest.mark.parametrize("power", [1.0, 1.2])
@pytest.mark.parametrize("start", [1.0, 0.7])
def test_dpmpp_3m_matches_diffusers_and_beats_ddim(start, power):
    """DPM-Solver++(3M) against diffusers' ``DPMSolverMultistepScheduler(solver_order=3, solver_type="heun")`` on the
    same integer timesteps, trailing and power-1.2 grids (``lower_order_final=False``: cilnb keeps third order up to
    the last step, which both make first order to the clean state), and against the exact ODE map of Gaussian data."""
    from cilnb.sampling import SAMPLERS, sample_dpmpp_3m

    assert SAMPLERS["dpm++3m"] is sample_dpmpp_3m
    schedule = VPSchedule()
    model = _model(schedule)
    x = torch.randn((4, *SHAPE), dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    ts = schedule.grid(12, start, power=power)
    ref = _diffusers_dpm(model, x, ts, solver_order=3, solver_type="heun", lower_order_final=False)
    torch.testing.assert_close(sample_dpmpp_3m(model, x.clone(), ts, disable=True), ref, rtol=1e-5, atol=1e-5)
    exact = model.ode_solution(x, start)
    err = {n: (sample_dpmpp_3m(model, x.clone(), schedule.grid(n, start, power=power), disable=True) - exact).abs().max().item() for n in (10, 20, 80)}
    ddim = {n: (sample_ddim(model, x.clone(), schedule.grid(n, start, power=power), disable=True) - exact).abs().max().item() for n in (10, 20)}
    assert err[10] < ddim[10] / 2 and err[20] < ddim[20] / 2.5 and err[80] < err[20] / 4


def test_dpmpp_3m_starts_at_zero_terminal_snr_and_equals_ddim_on_one_step():
    from cilnb.sampling import sample_dpmpp_3m

    model = _model(VPSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, rescale_zero_terminal_snr=True))
    x = torch.randn((2, *SHAPE), dtype=torch.float64)
    ts = model.schedule.grid(10, 1.0)
    assert torch.isfinite(sample_dpmpp_3m(model, x.clone(), ts, disable=True)).all()
    for grid in (ts[:2], model.schedule.grid(10, 0.5)[:2]):  # two steps: a DDIM step, then the last x0
        torch.testing.assert_close(sample_dpmpp_3m(model, x.clone(), grid, disable=True), sample_ddim(model, x.clone(), grid, disable=True))


def test_grid_power_packs_vp_steps_near_zero_and_is_the_dpmpp_3m_default():
    from cilnb.sampling import GRID_POWER

    vp = VPSchedule()
    torch.testing.assert_close(vp.grid(10, 0.7, power=1.0), vp.grid(10, 0.7))
    g = vp.grid(10, 1.0, power=1.2)
    want = torch.unique_consecutive(torch.clamp(torch.round(1000 * (torch.arange(10, 0, -1, dtype=torch.float64) / 10) ** 1.2), min=1)) / 1000
    torch.testing.assert_close(g, want)
    assert g[0] == 1.0 and (g[1:] < g[:-1]).all() and (g[:-1] - g[1:])[-1] < (g[:-1] - g[1:])[0]  # finer near 0
    assert GRID_POWER == {"dpm++3m": 1.2}
    model = _model(vp)
    y = torch.zeros((1, 1, 4, 4))
    seen = {}

    def times(power, sampler="dpm++3m"):
        seen.clear()
        sample(model, y, n_steps=10, start=0.8, sampler=sampler, grid_power=power, show_progress=False, frames=3,
               callback=lambda d: seen.setdefault(d["i"], d["t"]))
        return torch.tensor([seen[i] for i in sorted(seen)], dtype=torch.float64)

    torch.testing.assert_close(times(None), vp.grid(10, 0.8, power=1.2))
    torch.testing.assert_close(times(1.0), vp.grid(10, 0.8))
    torch.testing.assert_close(times(None, "dpm++2m"), vp.grid(10, 0.8))
    torch.testing.assert_close(times(1.5, "ddim"), vp.grid(10, 0.8, power=1.5))
    for bad in (0, -1.0, float("nan"), "1.2"):
        with pytest.raises((ValueError, TypeError), match="grid_power"):
            times(bad)


@pytest.mark.parametrize("schedule", [EDMSchedule(sigma_max=80.0), FlowSchedule(shift=3.0)], ids=["edm", "flow"])
def test_grid_power_is_refused_where_the_schedule_has_its_own_grid(schedule):
    model = _model(schedule)
    y = torch.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"grid_power = 1.2 re-spaces DDPM \(VP\) grids; this (edm|flow) schedule"):
        sample(model, y, n_steps=4, sampler="dpm++3m", grid_power=1.2, show_progress=False, frames=3)
    out = sample(model, y, n_steps=4, sampler="dpm++3m", show_progress=False, frames=3)  # its own grid
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("sampler", ["euler", "heun", "dpm++2m", "dpm++3m"])
def test_eta_with_a_deterministic_sampler_is_refused_not_ignored(sampler):
    model = _model(VPSchedule())
    y = torch.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError, match=re.escape(f"only in DDIM; sampler '{sampler}'")):
        sample(model, y, n_steps=3, start=0.7, sampler=sampler, eta=0.5, show_progress=False, frames=3)
    assert torch.isfinite(sample(model, y, n_steps=3, start=0.7, sampler=sampler, eta=0.0, show_progress=False, frames=3)).all()


def test_ddim_eta_noise_is_per_sample_not_per_batch():
    """eta > 0: a sample's fresh noise comes from its own seed, so its video does not depend on batch_size or on the
    other images of the call, and it is not the stream of its initial noise."""
    model = _model(VPSchedule())
    y = torch.randn((3, 1, 4, 4), generator=torch.Generator().manual_seed(2))
    kw = dict(n_steps=6, eta=1.0, show_progress=False, frames=3, sampler="ddim")
    whole = sample(model, y, seed=[3, 4, 5], **kw)
    torch.testing.assert_close(sample(model, y, seed=[3, 4, 5], batch_size=1, **kw), whole, rtol=0, atol=0)
    torch.testing.assert_close(sample(model, y[1:2], seed=[4], **kw), whole[1:2], rtol=0, atol=0)
    torch.testing.assert_close(sample(model, y[[2, 0]], seed=[5, 3], batch_size=2, **kw), whole[[2, 0]], rtol=0, atol=0)
    assert not torch.equal(whole, sample(model, y, seed=[3, 4, 5], **{**kw, "eta": 0.0}))  # the noise is there
    assert not torch.equal(sample(model, y[:1], seed=[6], **kw), whole[:1])  # and it follows the seed


def test_sample_ddim_takes_one_generator_per_sample():
    model = _model(VPSchedule())
    ts = VPSchedule().grid(4)
    x = per_sample_noise([0, 1], SHAPE)
    gens = lambda: [torch.Generator().manual_seed(s) for s in (7, 8)]  # noqa: E731
    both = sample_ddim(model, x, ts, disable=True, eta=1.0, generator=gens())
    one = sample_ddim(model, x[1:], ts, disable=True, eta=1.0, generator=gens()[1:])
    torch.testing.assert_close(both[1:], one, rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"one per sample \(2\), got 1"):
        sample_ddim(model, x, ts, disable=True, eta=1.0, generator=gens()[:1])

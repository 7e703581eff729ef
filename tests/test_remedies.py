"""Inference-time remedies (cilnb.remedies) against independent checks: diffusers' FreeInit filter,
PYoCo's closed-form correlations, the exact Gaussian denoiser, and a recording model for ALG."""
from __future__ import annotations

import contextlib
import json
import math

import numpy as np
import pytest
import torch

import cilnb.remedies as R
from cilnb.analytic_init import MomentStats
from cilnb.models.gaussian import GaussianDenoiser
from cilnb.sampling import sample
from cilnb.schedules import EDMSchedule, VPSchedule

SHAPE = (6, 1, 8, 8)  # F, C, H, W


def _gauss(schedule=None, shape=SHAPE, y_weight=None):
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(shape, generator=g) * 0.5
    var = 0.05 + torch.rand(shape, generator=g)
    return GaussianDenoiser(schedule or VPSchedule(), mean, var, y_weight=y_weight)


class Hooked(torch.nn.Module):
    """A model honouring the adapter base's hook contract (fn(t float64 [B], cond) -> new cond, applied
    in the order entered, removed in finally), recording the conditioning every call sees."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.schedule, self.n_frames = inner, inner.schedule, inner.n_frames
        self.hooks, self.seen = [], []

    @contextlib.contextmanager
    def condition_hook(self, fn):
        self.hooks.append(fn)
        try:
            yield
        finally:
            self.hooks.remove(fn)

    def forward(self, x, t, **cond):
        t = torch.as_tensor(t, dtype=torch.float64).reshape(-1).expand(x.shape[0])
        for fn in self.hooks:
            cond = fn(t, cond)
        self.seen.append((float(t[0]), cond["y"].clone()))
        return self.inner(x, t, **cond)


def _initial(model, y, **kw):
    """The initial sample(s) the sampler starts from (the callback's x at step 0, once per pass)."""
    got = []
    sample(model, y, callback=lambda d: got.append(d["x"].double().clone()) if d["i"] == 0 else None, show_progress=False, **kw)
    return got


# --- FreeInit's filter is diffusers' ----------------------------------------------------------------


@pytest.mark.parametrize("method", ["butterworth", "gaussian", "ideal"])
@pytest.mark.parametrize("fhw,d_s,d_t,order", [((6, 8, 8), 0.25, 0.25, 4), ((5, 7, 10), 0.4, 0.1, 2), ((4, 6, 6), 1.0, 0.5, 1)])
def test_freeinit_filter_and_mix_agree_with_diffusers(method, fhw, d_s, d_t, order):
    from diffusers.pipelines.free_init_utils import FreeInitMixin

    F, H, W = fhw
    C = 3
    ref = FreeInitMixin._get_free_init_freq_filter(None, shape=(1, C, F, H, W), device="cpu", filter_type=method, order=order,
                                                   spatial_stop_frequency=d_s, temporal_stop_frequency=d_t)
    ours = R.freq_filter(F, H, W, method=method, order=order, d_s=d_s, d_t=d_t)  # [F, 1, H, W]
    torch.testing.assert_close(ours.expand(F, C, H, W).permute(1, 0, 2, 3)[None].float(), ref, rtol=1e-5, atol=1e-6)
    g = torch.Generator().manual_seed(1)
    x, noise = torch.randn(2, C, F, H, W, generator=g), torch.randn(2, C, F, H, W, generator=g)
    mixed_ref = FreeInitMixin._apply_freq_filter(None, x, noise, ref)  # [B, C, F, H, W]
    mixed = R.freq_mix(x.permute(0, 2, 1, 3, 4), noise.permute(0, 2, 1, 3, 4), ours)
    torch.testing.assert_close(mixed.permute(0, 2, 1, 3, 4), mixed_ref, rtol=1e-4, atol=1e-5)


def test_freq_mix_keeps_low_and_high_bands_exactly():
    """Ideal mask (0/1): the result's spectrum is the low band of one input and the high band of the other (numpy FFT)."""
    m = R.freq_filter(*SHAPE[:1], *SHAPE[2:], method="ideal", d_s=0.3)
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(2, *SHAPE, generator=g, dtype=torch.float64), torch.randn(2, *SHAPE, generator=g, dtype=torch.float64)
    out = R.freq_mix(a, b, m).numpy()
    spec = lambda v: np.fft.fftshift(np.fft.fftn(v, axes=(1, 3, 4)), axes=(1, 3, 4))  # noqa: E731
    mk = np.broadcast_to(m.numpy()[None], out.shape).astype(bool)
    np.testing.assert_allclose(spec(out)[mk], spec(a.numpy())[mk], atol=1e-9)
    np.testing.assert_allclose(spec(out)[~mk], spec(b.numpy())[~mk], atol=1e-9)
    assert 0 < mk.mean() < 1


# --- PYoCo's correlated noise ------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.5, 1.0, 3.0])
def test_progressive_matrix_gives_the_closed_form_correlation(alpha):
    L = R.pyoco_matrix(7, alpha)
    torch.testing.assert_close(L @ L.T, R.pyoco_correlation(7, alpha, "progressive"))


@pytest.mark.parametrize("mode", ["progressive", "mixed"])
def test_progressive_noise_correlation_across_frames_equals_closed_form(mode):
    """Initial samples of the exact Gaussian denoiser under PYoCo noise: the empirical frame-by-frame
    correlation of 3000 per-seed draws (x 64 pixels) matches Eq. 3/4 within sampling error."""
    model = _gauss(shape=(5, 1, 8, 8))
    alpha = 1.5
    y = torch.zeros(3000, 1, 8, 8)
    x = _initial(model, y, n_steps=1, remedy=R.build("progressive", mode=mode, alpha=alpha), seed=0)[0]
    v = x[:, :, 0].permute(1, 0, 2, 3).reshape(5, -1)  # frames x (samples * pixels)
    emp = torch.corrcoef(v)
    n = v.shape[1]
    assert (emp - R.pyoco_correlation(5, alpha, mode)).abs().max() < 5 / math.sqrt(n)
    assert abs(v.std(dim=1) - 1).max() < 0.02  # each frame stays N(0, 1) (VP prior at T)


# --- each remedy's effect on the initial distribution (exact Gaussian denoiser) ----------------------


def test_analytic_init_remedy_is_sample_init_analytic():
    model = _gauss()
    g = torch.Generator().manual_seed(3)
    stats = MomentStats.from_moments(torch.randn(SHAPE, generator=g, dtype=torch.float64), torch.rand(SHAPE, generator=g, dtype=torch.float64) + 0.1)
    y = torch.randn(4, 1, 8, 8)
    a = sample(model, y, n_steps=4, start=0.8, init="analytic", stats=stats, seed=[4, 9, 1, 7], show_progress=False)
    b = sample(model, y, n_steps=4, remedy=R.build("analytic_init", start=0.8), stats=stats, seed=[4, 9, 1, 7], show_progress=False)
    c = sample(model, y, n_steps=4, start=0.8, remedy="analytic_init", stats=stats, seed=[4, 9, 1, 7], show_progress=False)
    assert torch.equal(a, b) and torch.equal(a, c)
    # its initial distribution: mean alpha_M E[X0], variance alpha_M^2 tr(Cov)/d + sigma_M^2 (Eq. 5)
    x = _initial(model, torch.zeros(2000, 1, 8, 8), n_steps=1, remedy=R.build("analytic_init", start=0.8), stats=stats, seed=0)[0]
    sched = model.schedule
    aM, sM = float(sched.alpha(0.8)), float(sched.sigma(0.8))
    se = math.sqrt(aM**2 * stats.avg_var + sM**2) / math.sqrt(2000)
    assert (x.mean(0) - aM * stats.mean).abs().max() < 5 * se
    assert abs(x.var(0).mean() - (aM**2 * stats.avg_var + sM**2)) < 0.03


@pytest.mark.parametrize("schedule", [VPSchedule(), EDMSchedule(sigma_max=80.0)], ids=["vp", "edm"])
def test_frameinit_initial_low_frequencies_are_the_noised_static_frame(schedule):
    """ConsistI2V Sec. 3.3: LP(x_init) = LP(alpha_n [y]*F + sigma_n z) with the same z, HP(x_init) = HP of the
    plain initial noise; so E[x_init] = alpha_n LP([y]*F) (the frame's layout) while plain noise has mean 0."""
    model = _gauss(schedule)
    y = torch.randn(1, 1, 8, 8).expand(400, -1, -1, -1).contiguous()
    r = R.build("frameinit", method="ideal", d_s=0.3, noise_level=0.4)
    x = _initial(model, y, n_steps=1, start=0.9, remedy=r, seed=0)[0]
    plain = _initial(model, y, n_steps=1, start=0.9, seed=0)[0]
    a, s = float(schedule.alpha(0.4)), float(schedule.sigma(0.4))
    z = plain / schedule.prior_std(0.9)
    static = y.double()[:, None].expand(-1, SHAPE[0], -1, -1, -1)
    mk = np.broadcast_to(R.freq_filter(SHAPE[0], 8, 8, method="ideal", d_s=0.3).numpy()[None], x.shape).astype(bool)
    spec = lambda v: np.fft.fftshift(np.fft.fftn(v.numpy(), axes=(1, 3, 4)), axes=(1, 3, 4))  # noqa: E731
    np.testing.assert_allclose(spec(x)[mk], spec(a * static + s * z)[mk], atol=1e-4)
    np.testing.assert_allclose(spec(x)[~mk], spec(plain)[~mk], atol=1e-3)
    lp_frame = R.freq_mix(static[:1], torch.zeros_like(static[:1]), R.freq_filter(SHAPE[0], 8, 8, method="ideal", d_s=0.3))[0]
    err = (x.mean(0) - a * lp_frame).abs().max()
    assert err < 6 * max(s, schedule.prior_std(0.9)) / math.sqrt(400), err
    assert plain.mean(0).abs().max() < 6 * schedule.prior_std(0.9) / math.sqrt(400)


def test_freeinit_reinitialises_from_the_exact_first_pass():
    """FreeInit Eq. 6-8 against the closed-form ODE map of the Gaussian denoiser: pass 2 starts at
    LP(alpha_M x0_1 + sigma_M z_1) + HP(fresh), x0_1 = ode_solution(z_1); 2 passes = 2x the model calls."""
    model = _gauss()
    y = torch.zeros(3, 1, 8, 8)
    r = R.build("freeinit", iterations=2, method="gaussian", d_s=0.3, d_t=0.3)
    starts = _initial(model, y, n_steps=200, start=0.9, remedy=r, seed=[3, 4, 5])
    assert len(starts) == 2
    sched = model.schedule
    x1 = starts[0]
    x0_1 = model.ode_solution(x1, 0.9)
    a, s = float(sched.alpha(0.9)), float(sched.sigma(0.9))
    fresh = R.per_sample_normal([3, 4, 5], SHAPE, "freeinit1/")
    mask = R.freq_filter(SHAPE[0], 8, 8, method="gaussian", d_s=0.3, d_t=0.3)
    expect = R.freq_mix(a * x0_1 + s * x1, fresh, mask)
    # the sampler's 200 DDIM steps approximate the ODE map: error well below the signal
    assert (starts[1] - expect).abs().max() < 0.02
    model_calls = []
    sample(model, y, n_steps=5, remedy=R.build("freeinit", iterations=3), seed=0, show_progress=False,
           callback=lambda d: model_calls.append(d["i"]))
    assert len(model_calls) == 3 * 5


def test_cond_noise_perturbs_y_by_a_fixed_per_sample_draw():
    model = Hooked(_gauss())
    y = torch.randn(3, 1, 8, 8)
    sample(model, y, n_steps=4, remedy=R.build("cond_noise", level=0.3), seed=[7, 8, 9], show_progress=False)
    seen = torch.stack([c for _, c in model.seen])
    assert (seen - seen[0]).abs().max() == 0  # the same noisy y at every step
    eps = R.per_sample_normal([7, 8, 9], (1, 8, 8), "cond_noise")
    torch.testing.assert_close(seen[0].double(), y.double() + 0.3 * eps, atol=1e-6, rtol=0)


def test_alg_conditions_on_the_lowpassed_image_before_the_switch_and_the_sharp_one_after():
    import torchvision.transforms.functional as TF

    model = Hooked(_gauss())
    y = torch.randn(2, 1, 8, 8)
    r = R.build("alg", resize_factor=0.5, until=0.3)
    sample(model, y, n_steps=11, remedy=r, seed=0, show_progress=False)
    # independent low-pass: torchvision's antialiased bilinear resize down and back up
    lp = TF.resize(TF.resize(y, [4, 4], antialias=True), [8, 8], antialias=True)
    assert len(model.seen) == 11
    for i, (t, c) in enumerate(model.seen):
        want = lp if i / 10 <= 0.3 else y  # ALG's interval schedule on the step fraction
        torch.testing.assert_close(c, want, atol=1e-5, rtol=0, msg=f"step {i} (t={t:.3f})")
    assert model.hooks == []  # the hook is removed afterwards
    assert (lp - y).abs().max() > 0.1


def test_alg_plus_analytic_init_composes():
    model = Hooked(_gauss(y_weight=lambda t: 0.5 * t))  # a model that leans on y at high noise
    g = torch.Generator().manual_seed(3)
    stats = MomentStats.from_moments(torch.randn(SHAPE, generator=g, dtype=torch.float64), torch.rand(SHAPE, generator=g, dtype=torch.float64) + 0.1)
    y = torch.randn(2, 1, 8, 8)
    both = R.compose("alg", R.build("analytic_init", start=0.9))
    out = sample(model, y, n_steps=5, remedy=both, stats=stats, seed=1, show_progress=False)
    model.seen.clear()
    only = sample(model, y, n_steps=5, remedy=R.build("analytic_init", start=0.9), stats=stats, seed=1, show_progress=False)
    assert not torch.equal(out, only)  # ALG changed the conditioning
    # the same initial sample as Analytic-Init alone
    a = _initial(model, y, n_steps=5, remedy=both, stats=stats, seed=1)[0]
    b = _initial(model, y, n_steps=5, remedy="analytic_init", start=0.9, stats=stats, seed=1)[0]
    assert torch.equal(a, b)
    assert R.build(json.loads(json.dumps(both.spec()))) == both


# --- determinism and batch independence on the toy ---------------------------------------------------


@pytest.fixture(scope="module")
def toy():
    """The shipped toy (its image input weights are trained, so conditioning remedies change its output)."""
    from cilnb import models

    return models.load("toy", device="cpu")


def _all_noise_and_loop_remedies(stats):
    return {
        "none": R.build("none"), "analytic_init": R.build("analytic_init", start=0.9), "freeinit": R.build("freeinit", iterations=2),
        "frameinit": R.build("frameinit"), "progressive": R.build("progressive", mode="mixed"), "cond_noise": R.build("cond_noise", level=0.1),
        "progressive+freeinit": R.compose("progressive", R.build("freeinit", iterations=2)),
    }


def test_every_remedy_is_deterministic_and_batch_independent(toy):
    from cilnb._util import data_dir

    stats = MomentStats.load(data_dir() / "toy_stats.safetensors")
    y = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    for name, r in _all_noise_and_loop_remedies(stats).items():
        kw = dict(n_steps=3, remedy=r, stats=stats, show_progress=False)
        full = sample(toy, y, seed=[11, 12, 13], **kw)
        again = sample(toy, y, seed=[11, 12, 13], **kw)
        alone = sample(toy, y[1:2], seed=[12], **kw)
        chunked = sample(toy, y, seed=[11, 12, 13], batch_size=2, **kw)
        assert torch.equal(full, again), name
        torch.testing.assert_close(alone[0], full[1], atol=1e-5, rtol=0, msg=name)
        torch.testing.assert_close(chunked, full, atol=1e-5, rtol=0, msg=name)
        if name != "none":
            assert not torch.allclose(full, sample(toy, y, seed=[11, 12, 13], n_steps=3, show_progress=False, stats=stats,
                                                   start=0.9 if name == "analytic_init" else 1.0)), f"{name} changed nothing"


# --- registry, specs and errors ----------------------------------------------------------------------


def test_spec_round_trips_through_json_and_from_cli_parses_types():
    for name in R.REMEDIES:
        r = R.build(name)
        assert R.build(json.loads(json.dumps(r.spec()))) == r
    r = R.from_cli("freeinit", ["iterations=2", "method=gaussian", "d_s=0.5"])
    assert r == R.FreeInit(iterations=2, method="gaussian", d_s=0.5) and isinstance(r.iterations, int)
    assert R.from_cli("frameinit", ["noise_level=none"]).noise_level is None
    assert R.from_cli("frameinit", ["noise_level=0.85"]).noise_level == 0.85
    combo = R.from_cli("alg+analytic_init", ["until=0.2", "analytic_init.start=0.9"])
    assert combo.spec() == {"name": "compose", "settings": {"remedies": [
        {"name": "alg", "settings": {"resize_factor": 0.25, "until": 0.2}}, {"name": "analytic_init", "settings": {"start": 0.9}}]}}
    assert R.resolve("none") == R.NoRemedy() and R.resolve(None) == R.NoRemedy()
    assert set(R.known()) == set(R.REMEDIES)


@pytest.mark.parametrize("call,match", [
    (lambda: R.build("freeinit", d_s=0.0), r"d_s .*\(0, 1\]"),
    (lambda: R.build("freeinit", d_t=1.5), r"d_t .*\(0, 1\]"),
    (lambda: R.build("frameinit", d_s=-0.1), r"\(0, 1\]"),
    (lambda: R.build("alg", resize_factor=0), r"resize_factor must lie in \(0, 1\]"),
    (lambda: R.build("alg", until=2), r"until"),
    (lambda: R.build("freeinit", iterations=0), r"iterations must be an int >= 1"),
    (lambda: R.build("freeinit", method="box"), r"method must be one of"),
    (lambda: R.build("progressive", alpha=-1), r"alpha"),
    (lambda: R.build("progressive", mode="x"), r"mode"),
    (lambda: R.build("cond_noise", level=-0.1), r"level"),
    (lambda: R.build("analytic_init", start=1.5), r"start must lie in \(0, 1\]"),
    (lambda: R.build("freenit"), r"unknown remedy 'freenit'; known remedies: none, analytic_init, freeinit"),
    (lambda: R.build("freeinit", iters=2), r"unknown setting\(s\) \['iters'\] for remedy 'freeinit'; its settings are"),
    (lambda: R.from_cli("freeinit", ["iterations=two"]), r"cannot read 'two' as int"),
    (lambda: R.from_cli("freeinit", ["iterations"]), r"key=value"),
    (lambda: R.from_cli("alg+freeinit", ["nope=1"]), r"unknown setting 'nope'"),
    (lambda: R.build("freeinit+frameinit", d_s=0.3), r"write it as 'freeinit.d_s'"),
    (lambda: R.compose(R.build("analytic_init", start=0.9), R.build("analytic_init", start=0.8)), r"initial distribution|start"),
    (lambda: R.resolve(3), r"remedy must be"),
])
def test_bad_settings_give_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_errors_at_sampling_time():
    model = _gauss()
    y = torch.zeros(1, 1, 8, 8)
    with pytest.raises(ValueError, match="remedy 'analytic_init' needs Analytic-Init statistics: pass stats="):
        sample(model, y, n_steps=2, remedy="analytic_init", show_progress=False)
    with pytest.raises(ValueError, match="sets the start time"):
        sample(model, y, n_steps=2, start=0.5, remedy=R.build("analytic_init", start=0.9), stats=MomentStats.from_moments(
            torch.zeros(SHAPE, dtype=torch.float64), torch.ones(SHAPE, dtype=torch.float64)), show_progress=False)

    class NoHook(torch.nn.Module):  # a bare denoiser-contract model without the adapter base's hook
        def __init__(self, inner):
            super().__init__()
            self.inner, self.schedule, self.n_frames = inner, inner.schedule, inner.n_frames

        def forward(self, x, t, **cond):
            return self.inner(x, t, **cond)

    with pytest.raises(ValueError, match="needs the model's condition_hook"):
        sample(NoHook(model), y, n_steps=2, remedy="alg", show_progress=False)
    # the Gaussian denoiser is an Adapter: ALG runs on it
    sample(model, y, n_steps=2, remedy="alg", show_progress=False)


def test_conditioning_remedies_run_through_the_toys_condition_hook(toy):
    """ALG and cond_noise on the shipped toy (an Adapter with condition_hook): deterministic, batch-independent,
    and they change the videos; ALG with until=0 low-passes only the first step."""
    y = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    kw = dict(n_steps=4, show_progress=False)
    plain = sample(toy, y, seed=[1, 2, 3], **kw)
    for r in (R.build("alg", until=0.5), R.build("alg", until=0.0), R.compose("alg", "cond_noise")):
        full = sample(toy, y, seed=[1, 2, 3], remedy=r, **kw)
        alone = sample(toy, y[2:], seed=[3], remedy=r, **kw)
        torch.testing.assert_close(alone[0], full[2], atol=1e-5, rtol=0)
        assert not torch.allclose(full, plain, atol=1e-4), r.label()
    assert torch.equal(sample(toy, y, seed=[1, 2, 3], **kw), plain)  # no hook left behind


def test_none_remedy_is_plain_sampling_and_lowpass_folds_leading_dims(toy):
    y = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(5)) * 2 - 1
    assert torch.equal(sample(toy, y, n_steps=2, seed=3, show_progress=False), sample(toy, y, n_steps=2, seed=3, remedy="none", show_progress=False))
    v = torch.randn(2, 3, 4, 8, 8)
    torch.testing.assert_close(R.lowpass_image(v, 0.5), R.lowpass_image(v.reshape(6, 4, 8, 8), 0.5).reshape(v.shape))
    const = torch.full((1, 2, 8, 8), 0.7)
    torch.testing.assert_close(R.lowpass_image(const, 0.25), const)  # a constant (e.g. Wan's mask) is kept


@pytest.mark.slow
def test_compare_runs_every_kind_of_remedy_on_a_tiny_svd():
    """The latent path: conditioning from prepare_condition, FrameInit encoding the pixel frame with the
    VAE, hooks on the SVD adapter, decoding; per-sample independence holds there too."""
    from _tiny import tiny_svd_pipeline

    from cilnb.models import svd
    from cilnb.sweep import ImageSet

    m = svd.from_pipeline(tiny_svd_pipeline(frames=2), n_frames=2).eval()
    vids = torch.rand(2, 2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        stats = MomentStats().update(m.encode_video(vids).double())
    grid = {"none": R.build("none"), "frameinit": R.build("frameinit", noise_level=0.5), "freeinit": R.build("freeinit", iterations=2),
            "alg+analytic_init": R.compose("alg", R.build("analytic_init", start=0.9)), "cond_noise": R.build("cond_noise")}
    cmp = R.compare(m, ImageSet(["a", "b"], vids[:, 0], "test", {}, vids), grid, n_steps=2, stats=stats, n_reference=0)
    assert list(cmp.summary.remedy) == list(grid) and cmp.summary.motion.notna().all()
    assert not torch.equal(cmp.videos["frameinit"], cmp.videos["none"])
    assert cmp.videos["none"].shape == (2, 2, 3, 32, 32)
    with pytest.raises(ValueError, match="pass images="):
        sample(m, torch.zeros(1, 4, 4, 4), n_steps=1, remedy="frameinit", cond={}, show_progress=False)


def test_compare_continues_freeinit_from_shorter_runs_bit_for_bit(monkeypatch):
    """FreeInit's pass 1 is plain sampling and N = 3's first two passes are N = 2: compare samples each pass once
    (1 + 1 + 1 sampler runs instead of 1 + 3 + 2), gives each row the videos of a run of its own, bit for bit, and
    keeps the caller's row order. A FreeInit with another filter shares nothing but plain sampling's pass."""
    from cilnb.models import toy
    from cilnb.experiments import toy_images

    net = toy.build(seed=0)
    images = toy_images(3, data_seed=4, model=net)
    grid = {"freeinit N=3": R.build("freeinit", iterations=3), "none": R.build("none"), "freeinit N=2": R.build("freeinit", iterations=2),
            "gauss N=2": R.build("freeinit", iterations=2, method="gaussian"), "cond_noise": R.build("cond_noise")}
    runs = []
    fwd = type(net).forward
    monkeypatch.setattr(type(net), "forward", lambda self, *a, **k: runs.append(a[0].shape[0]) or fwd(self, *a, **k))
    cmp = R.compare(net, images, grid, n_steps=2, n_reference=0, batch_size=3)
    # 2 steps per sampler run; warm-up (1 step) and the final re-timing of plain sampling (2 steps) on top
    assert len(runs) == 2 * (1 + 1 + 1 + 1 + 1) + 1 + 2  # none, N=2 (+1 pass), N=3 (+1), gauss (+1), cond_noise
    assert list(cmp.summary.remedy) == list(grid) and list(cmp.videos) == list(grid)
    assert list(cmp.per_video.remedy.unique()) == list(grid)
    monkeypatch.setattr(type(net), "forward", fwd)
    from cilnb.denoiser import Cond

    cond = Cond(images.images.float(), **{k: torch.as_tensor(v, dtype=torch.float32) for k, v in images.cond.items()})
    for label in ("freeinit N=3", "freeinit N=2", "gauss N=2"):
        alone = sample(net, cond, seed=[0, 1, 2], n_steps=2, remedy=grid[label], show_progress=False, frames=net.n_frames, batch_size=3)
        assert torch.equal(cmp.videos[label], alone.float().clamp(-1, 1)), label
    t = cmp.summary.set_index("remedy").sec_per_video
    assert t["freeinit N=3"] > t["freeinit N=2"] > t["none"] * 0.5  # each row's time counts the passes it shares
    with pytest.raises(ValueError, match="continue a run of the same images and seeds"):
        sample(net, cond, seed=[0, 1, 2], n_steps=2, remedy=grid["freeinit N=3"].continued(torch.zeros(2, 8, 1, 32, 32), 1), show_progress=False)
    with pytest.raises(ValueError, match=r"done must be the passes already run, 1..3"):
        grid["freeinit N=3"].continued(cmp.videos["none"], 4)


def test_compare_with_a_run_dir_resumes_an_interrupted_comparison_bit_for_bit(monkeypatch, tmp_path):
    """Each row is saved as it is sampled; a comparison interrupted after two rows resumes with the rows it
    finds (sampling only the rest, FreeInit continuing a stored plain run) and gives the uninterrupted run's videos
    and read-outs; other sampler settings get another folder."""
    from cilnb.experiments import toy_images
    from cilnb.models import toy

    net = toy.build(seed=0)
    images = toy_images(3, data_seed=4, model=net)
    grid = {"none": R.build("none"), "cond_noise": R.build("cond_noise"), "freeinit N=2": R.build("freeinit", iterations=2),
            "frameinit": R.build("frameinit")}
    kw = dict(n_steps=2, n_reference=0, batch_size=3)
    full = R.compare(net, images, grid, **kw)
    calls = []
    fwd = type(net).forward

    def dying(self, *a, **k):
        calls.append(1)
        if len(calls) > 1 + 2 * 2:  # the warm-up call, then two rows of two steps
            raise KeyboardInterrupt
        return fwd(self, *a, **k)

    monkeypatch.setattr(type(net), "forward", dying)
    with pytest.raises(KeyboardInterrupt):
        R.compare(net, images, grid, run_dir=tmp_path, **kw)
    (folder,) = tmp_path.glob("remedies_*")
    assert len(list(folder.glob("*.safetensors"))) == 2 and (folder / "settings.json").is_file()
    assert not (folder / "compare.lock").exists()
    calls.clear()
    monkeypatch.setattr(type(net), "forward", lambda self, *a, **k: calls.append(1) or fwd(self, *a, **k))
    again = R.compare(net, images, grid, run_dir=tmp_path, **kw)
    assert len(calls) == 1 + 2 * 2 + 2  # warm-up, FreeInit's second pass and FrameInit; the re-timing of plain sampling
    for label in grid:
        assert torch.equal(again.videos[label], full.videos[label]), label
    cols = ["remedy", "motion", "first_frame_psnr", "sprite_stability"]
    __import__("pandas").testing.assert_frame_equal(again.summary[cols], full.summary[cols])
    R.compare(net, images, {"none": grid["none"]}, run_dir=tmp_path, n_steps=3, n_reference=0, batch_size=3)
    assert len(list(tmp_path.glob("remedies_*"))) == 2
    (tmp_path / "f").write_text("x")
    from cilnb._util import UserError

    with pytest.raises(UserError, match="run_dir .*f is a file, not a folder"):
        R.compare(net, images, {"none": grid["none"]}, run_dir=tmp_path / "f", **kw)


# --- the trade-off figure stays legible at the default grid's 19 settings -----------------------------


def _summary(labels, motion, quality, seed=0):
    rng = np.random.RandomState(seed)
    n = len(labels)
    fd = np.asarray(quality, float)
    return __import__("pandas").DataFrame({
        "remedy": labels, "motion": motion, "motion_sem": 0.02 + 0.01 * rng.rand(n), "fd": fd, "fd_lo": fd - 0.5,
        "fd_hi": fd + 0.7, "sprite_stability": 0.9 + 0.01 * rng.rand(n), "sprite_stability_sem": 0.005 * np.ones(n),
        "first_frame_psnr": 30 + 0.1 * rng.rand(n), "first_frame_psnr_sem": 0.2 * np.ones(n),
        "sec_per_video": 0.05 + 0.001 * rng.rand(n), "gt_motion": 1.2})


@pytest.mark.parametrize("case", ["clustered", "coincident"])
def test_tradeoff_labels_never_overlap_and_families_share_colour_and_marker(case):
    """19 settings (the default grid with statistics), crowded as on a real run (most remedies barely move the numbers)
    or all on one point: no two setting labels overlap, each lies inside its panel, every point of a family has the
    family's colour and marker, and the legend names each family once."""
    import matplotlib
    import matplotlib.pyplot as plt

    from matplotlib.text import Text

    from cilnb.plotting import plot_tradeoff
    from cilnb.plotting.remedies import remedy_family

    labels = list(R.default_grid(0.9))
    assert len(labels) == 19
    rng = np.random.RandomState(1)
    if case == "clustered":
        motion, fd = 0.8 + 0.03 * rng.rand(19), 12 + 0.4 * rng.rand(19)
        motion[1:4] += 0.3  # the Analytic-Init rows move
    else:
        motion, fd = np.full(19, 0.8), np.full(19, 12.0)
    with matplotlib.rc_context({"figure.dpi": 100}):
        fig = plot_tradeoff(_summary(labels, motion, fd))
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        fams = [remedy_family(l)[0] for l in labels]
        multi = {f for f in fams if fams.count(f) > 1}
        for ax in fig.axes:
            texts = [t for t in ax.texts if t.get_text()]
            assert sorted(t.get_text() for t in texts) == sorted(
                (remedy_family(l)[1] or "default") for l, f in zip(labels, fams) if f in multi)
            boxes = [Text.get_window_extent(t, renderer) for t in texts]  # the text's own box (an Annotation's adds its leader line)
            frame = ax.get_window_extent(renderer)
            for i, a in enumerate(boxes):
                assert frame.x0 <= a.x0 and a.x1 <= frame.x1 and frame.y0 <= a.y0 and a.y1 <= frame.y1, texts[i].get_text()
                for j in range(i):
                    assert not a.overlaps(boxes[j]), (texts[i].get_text(), texts[j].get_text())
            style = {}
            for line, fam in zip([c.lines[0] for c in ax.containers], fams, strict=True):  # each point's errorbar
                style.setdefault(fam, set()).add((matplotlib.colors.to_hex(line.get_color()), line.get_marker()))
            assert all(len(s) == 1 for s in style.values()) and len({next(iter(s)) for s in style.values()}) == len(style)
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert legend == list(dict.fromkeys(fams)) + ["data's motion"]
    plt.close(fig)


def test_remedy_family_splits_the_grid_labels():
    from cilnb.plotting.remedies import remedy_family

    assert remedy_family("freeinit N=3") == ("freeinit", "N=3")
    assert remedy_family("alg + analytic_init M=0.9") == ("alg + analytic_init", "M=0.9")
    assert remedy_family("cond_noise 0.02") == ("cond_noise", "0.02")
    assert remedy_family("none") == ("none", "") and remedy_family("alg+analytic_init") == ("alg+analytic_init", "")


def _comparison(effects: dict, n: int = 64, seed: int = 0):
    """A Comparison of remedies on the same n videos: every remedy shares each video's image effect (sd 1 on
    motion, 0.05 on stability) and adds ``effects[name] = (motion shift, stability shift, feature shift)``
    plus small noise of its own (sd 0.02 / 0.005 / 0.1)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    img_m, img_s = rng.normal(size=n), 0.05 * rng.normal(size=n)
    img_f = rng.normal(size=(n, 6))
    rows, summary, feats = [], [], {}
    for name, (dm, ds, df) in effects.items():
        m = 1.0 + img_m + dm + 0.02 * rng.normal(size=n)
        st = 0.9 + img_s + ds + 0.005 * rng.normal(size=n)
        rows.append(pd.DataFrame({"remedy": name, "image_index": np.arange(n), "seed": 0, "motion": m, "sprite_stability": st,
                                  "first_frame_psnr": 20.0 + rng.normal(size=n)}))
        feats[name] = img_f + df + 0.1 * rng.normal(size=(n, 6))
        summary.append({"remedy": name, "motion": m.mean(), "motion_sem": m.std(ddof=1) / np.sqrt(n), "motion_ratio": m.mean(),
                        "sprite_stability": st.mean(), "sprite_stability_sem": st.std(ddof=1) / np.sqrt(n),
                        "first_frame_psnr": 20.0, "fd": 1.0, "sec_per_video": 1.0, "time_ratio": 1.0})
    return R.Comparison(pd.concat(rows, ignore_index=True), pd.DataFrame(summary), {}, {}, feats, rng.normal(size=(400, 6)))


def test_one_video_pair_decides_nothing():
    # one image x one seed (allowed without the FD: n_reference=0): no standard error, so no remedy raises or keeps
    # anything, the ordering is undecided, the Table 2 verdict is None, and no line prints a NaN
    from cilnb.experiments import verdicts as V

    names = ["none", "analytic_init M=0.7", "frameinit", "freeinit N=2", "progressive alpha=1"]
    cmp = _comparison({k: (0.5 * i, 0, 0) for i, k in enumerate(names)}, n=1)
    cmp.features, cmp.reference_features = {}, None
    lines, helps = R.assess(cmp)
    assert helps == [] and all("undecided, 1 video pair with none gives no standard error" in ln for ln in lines[:4])
    assert "Table 2 ordering" in lines[-1] and "undecided" in lines[-1]
    v = V.remedy_table2(cmp)
    assert v.holds is None and "nan" not in str(v).lower()
    two = _comparison({k: (0.5 * i, 0, 0) for i, k in enumerate(names)}, n=2)  # two pairs decide again
    two.features, two.reference_features = {}, None
    assert V.remedy_table2(two).holds is not None and "undecided" not in str(V.remedy_table2(two))


def test_a_comparison_of_plain_sampling_alone_says_there_is_nothing_to_compare():
    from cilnb.experiments import verdicts as V

    cmp = _comparison({"none": (0, 0, 0)}, n=4)
    v = V.remedy_table2(cmp)
    assert v.holds is None and len(v.reasons) == 1 and "Nothing to compare" in v.reasons[0] and "remedies=" in v.reasons[0]


def test_assess_decides_on_paired_differences():
    """Remedies share each video's image and noise, so a small shift that an unpaired comparison cannot see
    (image spread 1 vs shift 0.1, unpaired s.e. ~0.18) is decided by the per-video differences; the paired
    mean and s.e. are those of scipy's paired t-test."""
    from scipy import stats as st

    cmp = _comparison({"none": (0, 0, 0), "up": (0.1, 0, 0), "same": (0.0, 0, 0), "blurry": (0.1, -0.02, 0), "far": (0.1, 0, 1.5)})
    eff = R.paired(cmp).set_index("remedy")
    pv = cmp.per_video
    d = pv[pv.remedy == "up"].motion.to_numpy() - pv[pv.remedy == "none"].motion.to_numpy()
    t = st.ttest_rel(pv[pv.remedy == "up"].motion, pv[pv.remedy == "none"].motion)
    assert eff.loc["up", "motion_diff"] == pytest.approx(d.mean()) and eff.loc["up", "n_pairs"] == 64
    assert eff.loc["up", "motion_diff"] / eff.loc["up", "motion_diff_sem"] == pytest.approx(t.statistic)
    assert (eff.loc["none", ["motion_diff", "fd_diff", "fd_diff_lo", "fd_diff_hi"]] == 0).all()
    lines, helps = R.assess(cmp)
    assert helps == ["up"]
    line = {ln.split(":")[0]: ln for ln in lines}
    assert "raises motion" in line["up"] and "keeps quality" in line["up"]
    assert "does not change motion" in line["same"]
    assert "loses quality (sprite stability" in line["blurry"]
    assert "loses quality (FD" in line["far"]
    # another baseline: computed on the fly, the same rule
    lines, helps = R.assess(cmp, "same")
    assert "up" in helps and "none" not in helps
    with pytest.raises(ValueError, match="no 'nope' row"):
        R.paired(cmp, "nope")


def test_grid_adds_plain_sampling_and_refuses_bad_lists():
    """The notebook's ``remedies`` list: plain sampling ("none") is added first when absent (every verdict compares
    against it; ``["freeinit"]`` sampled everything and then failed at the verdict), names are checked before sampling."""
    g = R.grid(["freeinit", "alg+analytic_init"])
    assert list(g) == ["none", "freeinit", "alg+analytic_init"] and isinstance(g["none"], R.NoRemedy)
    assert isinstance(g["alg+analytic_init"], R.Compose)
    assert list(R.grid(["freeinit", "none"])) == ["freeinit", "none"]  # kept where given
    assert list(R.grid([], start=0.7)) == list(R.default_grid(0.7))
    with pytest.raises(ValueError, match=r"'freeinit' more than once"):
        R.grid(["freeinit", "freeinit"])
    with pytest.raises(TypeError, match=r"a list of remedy names, e.g."):
        R.grid("freeinit")
    with pytest.raises(TypeError, match=r"remedy names \(str\), got \{'name': 'alg'\}"):
        R.grid([{"name": "alg"}])
    with pytest.raises(ValueError, match="unknown remedy"):
        R.grid(["freinit"])

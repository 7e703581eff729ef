"""Parity with the official code where users compare numbers (issue 13; docs/parity.md).

- DynamiCrafter's DDIM at ``ddim_eta = 1`` with dynamic rescale: ``sample_ddim(..., eta_convention="official")``
  visits the states of an independent re-implementation of DynamiCrafter's update (written here from its
  formulas: ``make_ddim_sampling_parameters`` and ``p_sample_ddim``), while the default convention differs.
- VBench's dynamic degree: the current rule (``6 * min(H, W) / 256``) by default, the July 2024 rule
  (``max(1, 8 / fps)`` factor) on request.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cilnb import metrics as M
from cilnb.models.generic import GenericAdapter, RescaledVPSchedule, dynamicrafter_scale_arr, ldm_schedule
from cilnb.sampling import ETA_CONVENTIONS, per_sample_noise, sample, sample_ddim

B, C, F, H = 2, 4, 3, 5  # batch, latent channels, frames, latent size


def _apply_model(x, t, cond):
    """A fixed smooth stand-in for LVDM's apply_model: ``[B, C, F, h, w]``, integer t -> a v-prediction."""
    assert t.dtype == torch.long
    tt = t.double().view(-1, 1, 1, 1, 1) / 1000.0
    y = cond["y"][:, :, None]
    return (0.4 * torch.tanh(x.double()) + 0.3 * y.double() * (1 - tt) + 0.2 * torch.cos(3 * tt) * x.double()).to(x.dtype)


def _official_ddim(x_T, y, steps_desc, abar, scale, eta, gen):
    """DynamiCrafter's DDIM (``lvdm/models/samplers/ddim.py`` + ``utils_diffusion.make_ddim_sampling_parameters``) over
    ``steps_desc`` with ``use_dynamic_rescale``, v-prediction; noise from ``gen`` in cilnb's layout. States after each step."""
    tau = np.asarray(steps_desc[::-1])  # ascending, as make_ddim_timesteps returns them
    a_all = abar.numpy()
    alphas = a_all[tau]
    alphas_prev = np.asarray([a_all[0]] + a_all[tau[:-1]].tolist())
    sigmas = eta * np.sqrt((1 - alphas_prev) / (1 - alphas) * (1 - alphas / alphas_prev))
    s_arr = scale.numpy()[tau]
    s_prev = np.concatenate([s_arr[:1], s_arr[:-1]])
    x, states = x_T.permute(0, 2, 1, 3, 4).double(), []  # [B, C, F, h, w]
    n = len(tau)
    for i, step in enumerate(steps_desc):
        index = n - i - 1
        a, a_p, sig = float(alphas[index]), float(alphas_prev[index]), float(sigmas[index])
        v = _apply_model(x, torch.full((x.shape[0],), int(step), dtype=torch.long), {"y": y}).double()
        e_t = a**0.5 * v + (1 - a) ** 0.5 * x  # predict_eps_from_z_and_v
        pred_x0 = a**0.5 * x - (1 - a) ** 0.5 * v  # predict_start_from_z_and_v
        pred_x0 = pred_x0 * (s_prev[index] / s_arr[index])  # dynamic rescale
        dir_xt = (1 - a_p - sig**2) ** 0.5 * e_t
        z = torch.randn((x.shape[0], x.shape[2], x.shape[1], *x.shape[3:]), generator=gen, dtype=torch.float64)
        x = a_p**0.5 * pred_x0 + dir_xt + sig * z.permute(0, 2, 1, 3, 4)
        states.append(x.permute(0, 2, 1, 3, 4))
    return states


def _run(schedule, convention, n=5, eta=1.0, seed=11):
    ad = GenericAdapter(_apply_model, schedule, "v", n_frames=F)
    y = torch.randn((B, C, H, H), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x_T = per_sample_noise([3, 4], (F, C, H, H), dtype=torch.float64)
    xs = []
    ts = schedule.grid(n, 1.0)
    out = sample_ddim(ad, x_T.clone(), ts, {"y": y}, disable=True, eta=eta, eta_convention=convention,
                      generator=torch.Generator().manual_seed(seed), callback=lambda d: xs.append(d["x"]))
    return x_T, y, ts, xs, out


def test_official_eta_convention_visits_dynamicrafters_states():
    scale = dynamicrafter_scale_arr()
    vp = ldm_schedule(zero_snr=True)
    sched = RescaledVPSchedule(vp, scale)
    n = 5
    x_T, y, ts, xs, _ = _run(sched, "official", n)
    steps = [int(round(float(t) * 1000)) - 1 for t in ts]
    assert steps == [999, 799, 599, 399, 199]  # DynamiCrafter's uniform_trailing for 5 steps
    ref = _official_ddim(x_T, y, steps, vp.alphas_cumprod, scale, 1.0, torch.Generator().manual_seed(11))
    for i in range(1, n):  # cilnb's state before step i = the official state after step i - 1
        torch.testing.assert_close(xs[i], ref[i - 1], rtol=1e-5, atol=1e-6)  # the adapter's x0 is float32
    # the default convention takes the variance from the rescaled alpha: visibly different states
    _, _, _, xs_c, _ = _run(sched, "cilnb", n)
    rel = float((xs_c[-1] - ref[n - 2]).norm() / ref[n - 2].norm())
    assert rel > 0.01, rel


def test_conventions_agree_without_rescale_and_at_eta_zero():
    vp = ldm_schedule(zero_snr=True)
    for conv in ETA_CONVENTIONS:
        assert conv in ("cilnb", "official")
    a = _run(vp, "cilnb")[-1]
    b = _run(vp, "official")[-1]
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    sched = RescaledVPSchedule(vp, dynamicrafter_scale_arr())
    torch.testing.assert_close(_run(sched, "cilnb", eta=0.0)[-1], _run(sched, "official", eta=0.0)[-1], rtol=0, atol=0)


def test_eta_convention_reaches_sample_and_is_validated():
    sched = RescaledVPSchedule(ldm_schedule(zero_snr=True), dynamicrafter_scale_arr())
    ad = GenericAdapter(_apply_model, sched, "v", n_frames=F)
    y = torch.randn((B, C, H, H), generator=torch.Generator().manual_seed(1))
    kw = dict(n_steps=4, eta=1.0, seed=[3, 4], show_progress=False)
    off = sample(ad, y, cond={}, eta_convention="official", **kw)
    ours = sample(ad, y, cond={}, **kw)
    assert torch.isfinite(off).all() and not torch.equal(off, ours)
    with pytest.raises(ValueError, match="eta_convention must be one of"):
        sample(ad, y, eta_convention="dynamicrafter", **kw)


# ---------------------------------------------------------------------------------------------
# VBench dynamic degree
# ---------------------------------------------------------------------------------------------


def _vbench_current(n_frames, fps, hw):
    """VBench's dynamic_degree.py today: interval max(1, round(fps / 8)); set_params(frame, count)."""
    interval = max(1, round(fps / 8))
    count = len(range(0, n_frames, interval))
    return {"stride": interval, "count": count, "threshold": 6.0 * (min(hw) / 256.0), "count_num": round(4 * (count / 16.0))}


@pytest.mark.parametrize("n_frames,fps,hw", [(16, 8.0, (256, 512)), (16, 4.0, (256, 256)), (25, 2.0, (320, 512)),
                                             (16, 24.0, (128, 128)), (10, 30.0, (64, 96))])
def test_vbench_params_follow_current_vbench(n_frames, fps, hw):
    assert M.vbench_params(n_frames, fps, hw) == pytest.approx(_vbench_current(n_frames, fps, hw))
    old = M.vbench_params(n_frames, fps, hw, rule="2024-07")
    assert old["threshold"] == pytest.approx(max(1.0, 8.0 / fps) * _vbench_current(n_frames, fps, hw)["threshold"])


def test_vbench_rule_changes_the_decision_only_below_8_fps():
    # 2 px/frame at 64x64: above the current threshold (1.5 px), below the old one at 4 fps (3 px)
    vid = M.synthetic_translation_video(8, (64, 64), (2.0, 0.0), channels=3, seed=0)[0][None]
    kw = dict(method="farneback", protocol="vbench", resize=None, show_progress=False)
    cur = M.motion_score(vid, fps=4.0, **kw)
    old = M.motion_score(vid, fps=4.0, vbench_rule="2024-07", **kw)
    assert cur.threshold == pytest.approx(1.5) and old.threshold == pytest.approx(3.0)
    assert cur.dynamic.tolist() == [True] and old.dynamic.tolist() == [False]
    torch.testing.assert_close(cur.score, old.score)  # the score itself does not depend on the rule
    at8 = [M.motion_score(vid, fps=8.0, vbench_rule=r, **kw) for r in M.VBENCH_RULES]
    assert at8[0].threshold == at8[1].threshold and at8[0].dynamic.tolist() == at8[1].dynamic.tolist()
    with pytest.raises(ValueError, match="vbench_rule must be one of"):
        M.motion_score(vid, fps=4.0, vbench_rule="2023", **kw)

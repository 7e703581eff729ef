"""Issue 11 options: each does what it says (data realism, training noise distribution, image dropout,
conditioning augmentation, the toy's unconditional branch), and all are off by default."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as Fn
from scipy import stats

import cilnb.experiments as E
from cilnb import data as D
from cilnb import toy_training as TT
from cilnb._util import data_dir
from cilnb.models import toy

# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


def test_defaults_leave_configs_unchanged_and_shipped_checkpoints_match_their_commands():
    assert set(json.loads(D.SpriteConfig().to_json())) .isdisjoint(D.REALISM_FIELDS)
    assert not D.SpriteConfig().realistic and D.SpriteConfig(pan=(0.0, 1.0)).realistic
    for v in ("base", "naive", "timenoise"):
        path = data_dir() / f"toy_{v}.safetensors"
        if not path.is_file():
            pytest.skip("shipped checkpoints absent")
        extra = TT.SHIPPED_RECIPE if v == "base" else TT.SHIPPED_TIMENOISE if v == "timenoise" else {}
        data = {"data": TT.SHIPPED_DATA} if v == "base" else {}
        cfg = TT.TrainConfig(variant=v, init=None if v == "base" else "data/toy_base.safetensors", **extra, **data)
        assert toy.read_metadata(path)["train_config"] == json.loads(cfg.to_json())  # the documented command is a no-op
        assert f"--variant {v}" in toy.CHECKPOINTS[v][1]
        for key, value in extra.items():  # the documented command holds the recipe
            flag = "--" + key.replace("_", "-")
            if key != "timenoise_a":
                assert f"{flag} {value:g}" in toy.CHECKPOINTS[v][1] if not isinstance(value, str) else f"{flag} {value}" in toy.CHECKPOINTS[v][1]
    base_cmd = toy.CHECKPOINTS["base"][1]  # the documented command draws the shipped data
    sd = TT.SHIPPED_DATA
    for flag, value in (("--speed-max", sd.speed[1]), ("--speed-power", sd.speed_power), ("--pan", sd.pan[1]), ("--turn-prob", sd.turn_prob)):
        assert f"{flag} {value:g}" in base_cmd
    assert sd.speed[0] == sd.pan[0] == 0.0
    c = D.SpriteConfig(speed_power=3.0, pan=(0.0, 1.0), turn_prob=0.5)
    assert D.SpriteConfig.from_json(c.to_json()) == c


def test_speed_power_matches_its_cdf_ks():
    p, lo, hi = 3.0, 0.0, 4.0
    sv = D.generate(3000, seed=11, n_sprites=(1, 1), speed=(lo, hi), speed_power=p, flow=False)
    s = sv.velocity[:, 0].norm(dim=-1).numpy()
    ks = stats.kstest(s, lambda x: np.clip((x - lo) / (hi - lo), 0, 1) ** (1 / p))
    assert ks.pvalue > 0.01
    assert np.median(s) == pytest.approx(hi * 0.5 ** p, abs=0.05)  # mostly slow clips: median 0.5 vs 2 uniform
    uni = stats.kstest(s, lambda x: np.clip((x - lo) / (hi - lo), 0, 1))
    assert uni.pvalue < 1e-6  # and clearly not uniform


def test_pan_shifts_the_background_by_the_set_amount_per_frame():
    sv = D.generate(6, seed=4, n_sprites=(1, 1), radius=(2.5, 2.5), pan=(0.7, 1.3))
    v, pan, pos = sv.videos[:, :, 0].double(), sv.pan, sv.positions[:, :, 0]
    speed = pan.norm(dim=-1)
    assert bool(((speed >= 0.7) & (speed <= 1.3)).all())
    H = v.shape[-1]
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float64), torch.arange(H, dtype=torch.float64), indexing="ij")

    def err(b, f, d):
        # frame f should equal frame 0 sampled at x - d (bilinear), away from the sprite and the borders
        sx, sy = xx - d[0], yy - d[1]
        grid = torch.stack([sx / (H - 1) * 2 - 1, sy / (H - 1) * 2 - 1], -1)[None]
        warped = Fn.grid_sample(v[b, 0][None, None], grid, mode="bilinear", align_corners=True)[0, 0]
        inside = (sx >= 1) & (sx <= H - 2) & (sy >= 1) & (sy <= H - 2)
        away = lambda p: ((xx - p[0]) ** 2 + (yy - p[1]) ** 2).sqrt() > 5  # noqa: E731
        ok = inside & away(pos[b, f]) & away(pos[b, 0]) & away(pos[b, 0] + d)
        return float((warped - v[b, f])[ok].abs().mean())

    for b in range(len(sv)):
        for f in (2, 5):
            d = pan[b] * f
            e_true = err(b, f, d)
            assert e_true < 0.01
            for wrong in (d * 0, d * 0.8, d * 1.2, d + torch.tensor([0.5, -0.5], dtype=torch.float64)):
                assert err(b, f, wrong) > 2 * e_true
    # ground-truth flow on the background is the pan velocity
    fl = sv.flow[0, 0]
    far = ((xx - pos[0, 0, 0]) ** 2 + (yy - pos[0, 0, 1]) ** 2).sqrt() > 6
    assert torch.allclose(fl[0][far].double(), pan[0, 0].expand(int(far.sum())), atol=1e-5)
    assert float(v.amax(dim=(1, 2, 3)).min()) > D.THRESHOLD  # sprites still above the threshold
    bg_px = ((xx - pos[..., 0, None, None]) ** 2 + (yy - pos[..., 1, None, None]) ** 2).sqrt() > 5  # [B, F, H, W]
    assert float(v[bg_px].max()) <= 0.0  # the panned background stays inside background_range


def test_turns_keep_the_path_until_the_turn_and_change_direction_after_it():
    kw = dict(n_sprites=(1, 1), speed=(1.0, 2.0), radius=(2.5, 2.5), flow=False)
    plain = D.generate(400, seed=9, **kw)
    turned = D.generate(400, seed=9, turn_prob=1.0, turn_angle=(90.0, 180.0), **kw)
    assert torch.equal(plain.videos[:, 0], turned.videos[:, 0])  # same first frame: the turn is not in y
    k = turned.turn_frame[:, 0]
    assert bool(((k >= 1) & (k <= 6)).all())
    p0, p1 = plain.positions[:, :, 0], turned.positions[:, :, 0]
    fr = torch.arange(8)[None, :]
    before = fr <= k[:, None]
    assert torch.equal(p0[before], p1[before])
    # direction change at the turn, for sprites whose step before and after hits no wall
    idx = torch.arange(400)
    a = p1[idx, k] - p1[idx, k - 1]
    b = p1[idx, k + 1] - p1[idx, k]
    sp = turned.velocity[:, 0].norm(dim=-1)
    clean = ((a.norm(dim=-1) - sp).abs() < 1e-6) & ((b.norm(dim=-1) - sp).abs() < 1e-6)
    assert int(clean.sum()) > 200
    cos = (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))
    ang = torch.rad2deg(torch.acos(cos.clamp(-1, 1)))[clean]
    assert float(ang.min()) >= 90 - 1e-6 and float(ang.max()) <= 180 + 1e-6
    none = D.generate(50, seed=9, turn_prob=0.0, **kw)
    assert bool((none.turn_frame == -1).all())


def test_bad_data_options_raise():
    for bad in (dict(speed_power=0.0), dict(pan=(1.0, 0.5)), dict(turn_prob=1.5), dict(turn_angle=(10.0, 200.0))):
        with pytest.raises(ValueError, match="SpriteConfig"):
            D.SpriteConfig(**bad)


# --------------------------------------------------------------------------------------------
# training recipe
# --------------------------------------------------------------------------------------------


def test_lognormal_t_matches_its_density_ks():
    sched = toy.ToyConfig().schedule()
    g = torch.Generator().manual_seed(0)
    n = 40000
    t = TT.sample_train_t(n, sched, g, "lognormal", 2.5, 1.6)
    k = (t * sched.T).round().long()
    assert bool(((k >= 1) & (k <= sched.T)).all())
    emp = torch.bincount(k, minlength=sched.T + 1)[1:].cumsum(0).double() / n
    # closed form written independently from the DDPM alphas_cumprod and scipy's normal CDF
    abar = sched.alphas_cumprod.numpy()
    cdf = stats.norm.cdf((np.log(np.sqrt((1 - abar) / abar)) - 2.5) / 1.6)
    cdf[-1] = 1.0
    assert np.allclose(TT.lognormal_t_cdf(sched, 2.5, 1.6).numpy(), cdf, atol=1e-12)
    assert float(np.abs(emp.numpy() - cdf).max()) < 1.63 / math.sqrt(n)  # KS at the 1% level
    # weighted toward high noise vs uniform: more mass at t >= 0.9
    assert float((t >= 0.9).double().mean()) > 0.13
    u = TT.sample_train_t(n, sched, torch.Generator().manual_seed(0), "uniform")
    assert torch.equal(u, torch.randint(1, sched.T + 1, (n,), generator=torch.Generator().manual_seed(0)).double() / sched.T)


def _capture_training_batch(monkeypatch, tmp_path, **kw):
    """Run one training step of a tiny toy and return what the network was called with."""
    calls = []
    orig = toy.ToyUNet.forward

    def spy(self, x, t, y=None, motion=None, **k):
        calls.append({"x": x.detach().clone(), "t": t.detach().clone(), "y": None if y is None else y.detach().clone(),
                      "motion": None if motion is None else motion.detach().clone()})
        return orig(self, x, t, y, motion, **k)

    monkeypatch.setattr(toy.ToyUNet, "forward", spy)
    mcfg = toy.ToyConfig(widths=(8, 8), temporal_levels=(1,), temporal_width=8, emb_dim=16)
    cfg = TT.TrainConfig(variant="base", pretrain_steps=0, steps=1, batch_size=kw.pop("batch_size", 256), model=mcfg, seed=3, **kw)
    TT.train(cfg, tmp_path / "m.safetensors", device="cpu", show_progress=False, stop_after=1)
    assert len(calls) == 1
    clean = D.generate(cfg.batch_size, torch.Generator().manual_seed(6), config=cfg.data, flow=False)  # data stream 2 * seed
    return calls[0], clean


def test_image_dropout_zeroes_y_at_the_set_rate(monkeypatch, tmp_path):
    call, clean = _capture_training_batch(monkeypatch, tmp_path, image_dropout=0.3, batch_size=400)
    y = call["y"]
    zero = (y == 0).flatten(1).all(1)
    same = (y == clean.condition).flatten(1).all(1)
    assert bool((zero ^ same).all())  # each video has either its own frame 0 or the null image
    p = float(zero.double().mean())
    assert abs(p - 0.3) < 3 * math.sqrt(0.3 * 0.7 / 400)
    m = TT.image_dropout_mask(20000, 0.1, torch.Generator().manual_seed(1))
    assert abs(float(m.double().mean()) - 0.1) < 3 * math.sqrt(0.09 / 20000)


def test_cond_aug_noise_level_is_uniform_up_to_the_max(monkeypatch, tmp_path):
    call, clean = _capture_training_batch(monkeypatch, tmp_path, cond_aug=0.5, batch_size=400)
    noise = call["y"] - clean.condition
    std = noise.flatten(1).std(1).numpy()
    assert std.max() < 0.5 * 1.1 and std.min() >= 0
    ks = stats.kstest(std, "uniform", args=(0, 0.5))  # std of 1024 pixels ~ the drawn level (1-2 % error)
    assert ks.pvalue > 1e-3
    # frames are not noised: x_t's clean part is the data itself (only y is augmented)
    call0, _ = _capture_training_batch(monkeypatch, tmp_path / "b", batch_size=8)
    assert torch.equal(call0["y"], D.generate(8, torch.Generator().manual_seed(6), flow=False).condition)


def test_motion_label_noise_is_unbiased_lognormal_and_off_by_default(monkeypatch, tmp_path):
    s = 0.5
    call, clean = _capture_training_batch(monkeypatch, tmp_path, motion_label_noise=s, batch_size=2000)
    speed = clean.speed.double()
    ok = speed > 0.05
    log_ratio = (call["motion"].double()[ok] / speed[ok]).log().numpy()
    assert stats.kstest(log_ratio, "norm", args=(-s * s / 2, s)).pvalue > 1e-3  # log-normal with log-std s
    ratio = np.exp(log_ratio)
    assert abs(ratio.mean() - 1) < 3 * ratio.std() / math.sqrt(len(ratio))  # unbiased: E[label | speed] = speed
    call0, clean0 = _capture_training_batch(monkeypatch, tmp_path / "b", batch_size=64)
    assert torch.equal(call0["motion"], clean0.speed.float())  # off by default: the exact speed
    d = TT.TrainConfig(variant="base", pretrain_steps=0, steps=1, motion_label_noise=s).to_dict()
    assert d["motion_label_noise"] == s and "motion_label_noise" not in TT.TrainConfig(variant="base", pretrain_steps=0, steps=1).to_dict()
    for bad in (-0.1, float("nan")):
        with pytest.raises(ValueError, match="motion_label_noise"):
            TT.TrainConfig(variant="base", pretrain_steps=0, steps=1, motion_label_noise=bad)
    with pytest.raises(ValueError, match="motion conditioning"):
        TT.TrainConfig(variant="base", pretrain_steps=0, steps=1, motion_label_noise=s, model=toy.ToyConfig(motion_cond=False))


def test_recipe_options_are_recorded_only_when_on_and_validated():
    base = dict(variant="base", pretrain_steps=0, steps=1)
    d = TT.TrainConfig(**base, image_dropout=0.1, t_dist="lognormal", cond_aug=0.2, data=D.SpriteConfig(pan=(0.0, 1.0))).to_dict()
    assert d["image_dropout"] == 0.1 and d["t_dist"] == "lognormal" and d["t_p_mean"] == 0.7 and d["cond_aug"] == 0.2
    assert d["data"]["pan"] == (0.0, 1.0)
    d0 = TT.TrainConfig(**base).to_dict()
    assert not set(d0) & set(TT.RECIPE_DEFAULTS) and "pan" not in d0["data"]
    for bad, msg in ((dict(image_dropout=1.0), "image_dropout"), (dict(t_dist="beta"), "t_dist"), (dict(t_p_std=0.0), "t_p_std"), (dict(cond_aug=-1.0), "cond_aug")):
        with pytest.raises(ValueError, match=msg):
            TT.TrainConfig(**base, **bad)


def test_fine_tunes_inherit_the_init_recipe_and_data_unless_given(tmp_path):
    cfg = toy.ToyConfig(widths=(8, 8), temporal_levels=(1,), temporal_width=8, emb_dim=16)
    recipe = dict(image_dropout=0.15, t_dist="lognormal", t_p_mean=2.5, cond_aug=0.1, data=D.SpriteConfig(pan=(0.0, 1.0)))
    base_cfg = TT.TrainConfig(variant="base", pretrain_steps=0, steps=1, model=cfg, **recipe)
    path = toy.save_checkpoint(tmp_path / "b.safetensors", toy.init_net(cfg), {"train_config": base_cfg.to_dict()})
    plain = toy.save_checkpoint(tmp_path / "p.safetensors", toy.init_net(cfg), {})
    for variant in ("naive", "timenoise"):
        ft = TT.TrainConfig(variant=variant, init=str(path), steps=1)
        assert (ft.image_dropout, ft.t_dist, ft.t_p_mean, ft.t_p_std, ft.cond_aug) == (0.15, "lognormal", 2.5, 1.6, 0.1)
        assert ft.data == recipe["data"] and ft.model == cfg
        d = ft.to_dict()
        assert d["image_dropout"] == 0.15 and d["data"]["pan"] == (0.0, 1.0)
    # given values win; a checkpoint without a recorded recipe gives the defaults
    ft = TT.TrainConfig(variant="naive", init=str(path), steps=1, image_dropout=0.0, data=D.SpriteConfig())
    assert ft.image_dropout == 0.0 and ft.data == D.SpriteConfig() and ft.cond_aug == 0.1
    ft = TT.TrainConfig(variant="naive", init=str(plain), steps=1)
    assert (ft.image_dropout, ft.t_dist, ft.cond_aug, ft.data) == (0.0, "uniform", 0.0, D.SpriteConfig())
    base = TT.TrainConfig(variant="base", pretrain_steps=0, steps=1)
    assert (base.image_dropout, base.t_dist, base.cond_aug, base.data) == (0.0, "uniform", 0.0, D.SpriteConfig())


# --------------------------------------------------------------------------------------------
# the unconditional branch of a model trained with image dropout
# --------------------------------------------------------------------------------------------


def test_dropout_trained_toy_guides_against_y_zero_with_temporal_layers_on():
    net = toy.init_net(toy.ToyConfig(widths=(8, 8), temporal_levels=(1,), temporal_width=8, emb_dim=16), seed=1)
    with torch.no_grad():  # make the zero-initialised y path and temporal outputs non-trivial
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    old = toy.ToyModel(net, {}).eval()
    new = toy.ToyModel(net, {"train_config": {"image_dropout": 0.1}}).eval()
    assert old.null_image == "image_mode" and new.null_image == "zero"
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 8, 1, 32, 32, generator=g)
    y = torch.rand(2, 1, 32, 32, generator=g)
    t = torch.tensor([0.7, 0.4])
    with torch.no_grad():
        c = new(x, t, y=y, motion=torch.tensor([1.0, 2.0]), guidance=None)
        u = new(x, t, y=torch.zeros_like(y), motion=torch.tensor([1.0, 2.0]), guidance=None)
        w = new(x, t, y=y, motion=torch.tensor([1.0, 2.0]), guidance=2.5)
        fw = new(x, t, y=y, motion=torch.tensor([1.0, 2.0]), guidance=(1.0, 3.0))
        default = new(x, t, y=y, motion=torch.tensor([1.0, 2.0]))
        w_old = old(x, t, y=y, motion=torch.tensor([1.0, 2.0]), guidance=2.5)
        c_old = old(x, t, y=y, motion=torch.tensor([1.0, 2.0]))
        c_old_off = old(x, t, y=y, motion=torch.tensor([1.0, 2.0]), guidance=None)
    assert torch.allclose(w, u + 2.5 * (c - u), atol=1e-5)
    lin = torch.linspace(1.0, 3.0, 8).view(1, 8, 1, 1, 1)
    assert torch.allclose(fw, u + lin * (c - u), atol=1e-5)
    # the default follows the checkpoint: SVD's frame-wise 1 -> 3 with an unconditional model, none without
    assert new.guidance == toy.DEFAULT_GUIDANCE == (1.0, 3.0) and old.guidance is None
    assert torch.equal(default, fw)
    assert new.batch_cfg and not old.batch_cfg  # y = 0 stacks with y: one call on the doubled batch
    new.batch_cfg = False
    with torch.no_grad():
        fw_two_calls = new(x, t, y=y, motion=torch.tensor([1.0, 2.0]), guidance=(1.0, 3.0))
    assert torch.allclose(fw_two_calls, fw, atol=1e-5)
    assert torch.equal(c_old, c_old_off)
    assert toy.ToyModel(net, {"train_config": {"image_dropout": 0.1}}, guidance=None).guidance is None
    with pytest.raises(ValueError, match="guidance"):
        toy.ToyModel(net, {"train_config": {"image_dropout": 0.1}}, guidance=(1.0, float("nan")))
    assert not torch.allclose(w, w_old, atol=1e-4)  # a different null than image mode
    with pytest.raises(ValueError, match="null_image"):
        toy.ToyModel(net, {}, null_image="none")


# --------------------------------------------------------------------------------------------
# the ablation script (tiny settings: it runs and its numbers are consistent)
# --------------------------------------------------------------------------------------------


def _run_benchmark(script: str, *args: str):
    """Run ``benchmarks/<script>`` on the shipped base in a subprocess (one thread); skip without the checkpoint."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if not (data_dir() / "toy_base.safetensors").is_file():
        pytest.skip("shipped base checkpoint absent")
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(root / "benchmarks" / script), *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)


def test_toy_ablation_script_runs_and_reports_consistent_ratios(tmp_path):
    out = tmp_path / "r.jsonl"
    proc = _run_benchmark("toy_ablation.py", "base", "--images", "8", "--ref", "32", "--probe-videos", "6", "--steps", "3",
                          "--boot", "10", "--guidance", "none,1:3", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["guidance"] for r in rows] == [None, [1.0, 3.0]]
    for r in rows:
        assert r["disp_ratio"][0] == pytest.approx(r["disp"][0] / r["data_disp"][0])
        assert r["fd"][1] <= r["fd"][2] and r["psnr0"][0] > 10
        assert r["under_moves"] == (r["disp_ratio"][0] + 2 * r["disp_ratio"][1] <= 0.85)
    assert rows[0]["disp"] != rows[1]["disp"]  # guidance changes the samples
    assert "| base | off |" in proc.stdout and "| base | 1->3 |" in proc.stdout


def test_toy_paired_script_pairs_every_row_with_the_first(tmp_path):
    out = tmp_path / "r.jsonl"
    proc = _run_benchmark("toy_paired.py", "sweep", "base", "--starts", "1,0.5", "--images", "6", "--steps", "3",
                          "--guidance", "none", "--sampler", "dpm++2m", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["M"], r["init"]) for r in rows] == [(1.0, "standard"), (0.5, "analytic"), (0.5, "standard")]
    assert {r["sampler"] for r in rows} == {"dpm++2m"}
    assert rows[0]["paired_gain_px"] == [0.0, 0.0] and rows[0]["guidance"] is None
    assert rows[1]["paired_gain_px"] != rows[2]["paired_gain_px"]  # the two initial noises give other videos
    assert "| base | 0.5 | analytic |" in proc.stdout


def test_toy_fig1_script_pairs_every_configuration_with_the_base(tmp_path):
    """benchmarks/toy_fig1.py: the held-out Fig. 1 read-out; its summary is the rows' paired arithmetic."""
    out, runs = tmp_path / "r.jsonl", tmp_path / "runs"
    args = ("--images", "5", "--steps", "2", "--sampler", "dpm++2m", "--data-seed", "11", "--run-dir", str(runs), "--out", str(out))
    proc = _run_benchmark("toy_fig1.py", *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["model"], r["M"], r["init"]) for r in rows] == [("base", 1.0, "standard"), ("base", 0.7, "analytic"),
                                                             ("timenoise", 1.0, "standard"), ("timenoise", 0.7, "analytic")]
    assert rows[0]["error_change"] == [0.0, 0.0] and {r["images"] for r in rows} == {5}
    assert {r["label"] for r in rows} == {E.toy_motion_label()}
    # the paired change is the difference of the two configurations' mean errors (same images)
    for r in rows[1:]:
        assert r["error_change"][0] == pytest.approx(r["error"] - rows[0]["error"], abs=1e-9)
    assert "| base, M = T |" in proc.stdout and "| timenoise, Analytic-Init 0.7 T |" in proc.stdout
    again = _run_benchmark("toy_fig1.py", *args)  # stored samples: the rerun reads them back, same numbers
    assert again.returncode == 0 and [json.loads(line) for line in out.read_text().splitlines()] == rows


def test_verdict_samplers_script_prints_each_samplers_verdict():
    """benchmarks/verdict_samplers.py: the verdict lines of Table 1 and of remedy rows, one block per sampler; a bad
    sampler spec or row is named."""
    proc = _run_benchmark("verdict_samplers.py", "table1", "--samplers", "ddim:2", "dpm++3m:2", "--images", "4", "--n-reference", "16")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("Claim 3 (TimeNoise adds motion)") == 2 and "== ddim 2" in proc.stdout and "== dpm++3m 2" in proc.stdout
    proc = _run_benchmark("verdict_samplers.py", "remedies", "--samplers", "dpm++2m:2", "--images", "3", "--rows", "freeinit N=2",
                          "--n-reference", "16")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "== dpm++2m 2" in proc.stdout and "freeinit N=2:" in proc.stdout
    bad = _run_benchmark("verdict_samplers.py", "table1", "--samplers", "ddim50")
    assert bad.returncode != 0 and "give NAME:STEPS" in bad.stderr
    bad = _run_benchmark("verdict_samplers.py", "remedies", "--rows", "nope", "--images", "3")
    assert bad.returncode != 0 and "are not rows of the default grid" in bad.stderr


def test_guidance_distill_script_trains_a_student_and_compares_it_with_the_guided_teacher(tmp_path):
    """benchmarks/guidance_distill.py at tiny size: a few steps move the student's weights away from the teacher's, its
    checkpoint loads as a toy, and both start times print each read-out with its paired difference and 1-s.e. ratio."""
    import re

    out = tmp_path / "d"
    proc = _run_benchmark("guidance_distill.py", "--steps", "2", "--batch", "4", "--images", "4", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "distilled 2 steps x 4 clips" in proc.stdout
    assert "M = 1 T, standard noise" in proc.stdout and "M = 0.7 T, analytic noise" in proc.stdout
    assert len(re.findall(r"\|diff\| / s\.e\. [0-9.]+", proc.stdout)) == 4
    student, teacher = toy.load_checkpoint(out / "student.safetensors"), toy.load("base", device="cpu")
    assert student.meta["distilled_from"] == "base"
    sd, td = student.net.state_dict(), teacher.net.state_dict()
    assert sd.keys() == td.keys() and any(not torch.equal(sd[k], td[k]) for k in sd)


def test_label_noise_run_resumes_bit_exactly_after_an_interruption(tmp_path):
    """The label noise draws from the training noise stream, which the resume state carries: stopped twice and
    resumed, the run ends with the uninterrupted run's weights and loss curve."""
    mcfg = toy.ToyConfig(widths=(8, 8), temporal_levels=(1,), temporal_width=8, emb_dim=16)
    cfg = TT.TrainConfig(variant="base", pretrain_steps=0, steps=5, batch_size=4, model=mcfg, seed=2, motion_label_noise=0.5,
                         checkpoint_every=1, log_every=1)
    full = TT.train(cfg, tmp_path / "full.safetensors", device="cpu", show_progress=False)
    part = tmp_path / "part.safetensors"
    for n in (2, 1):
        TT.train(cfg, part, device="cpu", show_progress=False, stop_after=n)
    TT.train(cfg, part, device="cpu", show_progress=False)
    a, b = toy.load_checkpoint(full), toy.load_checkpoint(part)
    for (k, va), (_, vb) in zip(a.net.state_dict().items(), b.net.state_dict().items()):
        assert torch.equal(va, vb), k
    assert a.meta["loss_curve"] == b.meta["loss_curve"] and a.meta["train_config"]["motion_label_noise"] == 0.5


def test_flow_motion_label_is_the_clips_whole_frame_flow_score(monkeypatch, tmp_path):
    """--motion-label flow trains the motion conditioning on the renderer's whole-frame mean flow magnitude
    (pan included, SVD's motion-bucket kind), from the same data stream; "speed" stays the default, unrecorded."""
    data = D.SpriteConfig(pan=(0.0, 1.0))
    call, _ = _capture_training_batch(monkeypatch, tmp_path, motion_label="flow", data=data, batch_size=32)
    clean = D.generate(32, torch.Generator().manual_seed(6), config=data, flow=True)
    brute = torch.stack([torch.stack([clean.flow[b, f].pow(2).sum(0).sqrt().mean() for f in range(clean.flow.shape[1])]).mean()
                         for b in range(32)])
    assert torch.allclose(call["motion"], brute, atol=1e-6)
    assert not torch.allclose(call["motion"], clean.speed.float())  # not the sprite speed
    assert torch.equal(call["y"], clean.condition)  # the same clips as with the speed label
    base = dict(variant="base", pretrain_steps=0, steps=1)
    assert TT.TrainConfig(**base, motion_label="flow").to_dict()["motion_label"] == "flow"
    assert "motion_label" not in TT.TrainConfig(**base).to_dict()
    with pytest.raises(ValueError, match="motion_label must be one of"):
        TT.TrainConfig(**base, motion_label="pan")
    with pytest.raises(ValueError, match="motion conditioning"):
        TT.TrainConfig(**base, motion_label="flow", model=toy.ToyConfig(motion_cond=False))
    with pytest.raises(ValueError, match="F-1, 2, H, W"):
        D.flow_score(D.generate(2, 0, flow=False).flow)
    bad = clean.flow.clone()
    bad[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="flow contains 1 non-finite"):
        D.flow_score(bad)
    with pytest.raises(TypeError, match="torch.Tensor"):
        D.flow_score(clean.flow.numpy())
    with pytest.raises(TypeError, match="metadata dict"):
        toy.motion_label("data/toy_base.safetensors")
    with pytest.raises(ValueError, match="unknown motion label"):
        toy.motion_label({"train_config": {"motion_label": "optical"}})
    assert toy.motion_label({}) == "speed"  # checkpoints from before the option
    # fine-tunes inherit the label from their base (as they inherit its data and recipe)
    mcfg = toy.ToyConfig(widths=(8, 8), temporal_levels=(1,), temporal_width=8, emb_dim=16)
    tc = TT.TrainConfig(**base, model=mcfg, motion_label="flow")
    init = toy.save_checkpoint(tmp_path / "flow_base.safetensors", toy.init_net(mcfg), {"train_config": tc.to_dict()})
    assert TT.TrainConfig(variant="timenoise", init=str(init)).motion_label == "flow"
    assert TT.TrainConfig(variant="naive", init=str(init), motion_label="speed").motion_label == "speed"  # unless told


def test_flow_label_run_resumes_bit_exactly_after_an_interruption(tmp_path):
    """A --motion-label flow run stopped mid-way and resumed ends with the uninterrupted run's weights and curve:
    the flow is drawn from the same data stream, which the resume state carries."""
    mcfg = toy.ToyConfig(widths=(8, 8), temporal_levels=(1,), temporal_width=8, emb_dim=16)
    cfg = TT.TrainConfig(variant="base", pretrain_steps=1, steps=4, batch_size=4, model=mcfg, seed=5, motion_label="flow",
                         data=D.SpriteConfig(pan=(0.0, 1.0)), checkpoint_every=1, log_every=1)
    full = TT.train(cfg, tmp_path / "full.safetensors", device="cpu", show_progress=False)
    part = tmp_path / "part.safetensors"
    TT.train(cfg, part, device="cpu", show_progress=False, stop_after=3)
    TT.train(cfg, part, device="cpu", show_progress=False)
    a, b = toy.load_checkpoint(full), toy.load_checkpoint(part)
    for (k, va), (_, vb) in zip(a.net.state_dict().items(), b.net.state_dict().items()):
        assert torch.equal(va, vb), k
    assert a.meta["loss_curve"] == b.meta["loss_curve"] and b.meta["train_config"]["motion_label"] == "flow"
    assert not TT.resume_path(part).exists()

"""Edge inputs of the sprite data, the schedules, Analytic-Init's moments and the small utilities (JobLock, generators).

Each test's docstring says what happened before the fix; valid inputs next to each edge keep working.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

from cilnb import analytic_init as A
from cilnb import data as D
from cilnb import schedules as S
from cilnb._util import JobLock, UserError, clean_tmp_files, make_generator, progress_steps
from cilnb.checks import InputTypeError

# --- sprite data -----------------------------------------------------------------------------------------------------


def test_numpy_and_tensor_numbers_in_a_sprite_config_are_plain_numbers():
    """SpriteConfig(radius=(np.float32(2.7), ...)) (a sweep over np.linspace) and one-number tensors were kept as given:
    to_json failed with "Object of type float32 is not JSON serializable", and the config generated other videos than
    the equal config of Python floats (float32 arithmetic on the ranges)."""
    cfg = D.SpriteConfig(radius=(np.float32(2.7), np.float32(4.1)), edge=np.float32(0.8), speed_power=torch.tensor(1.5),
                         speed=(np.float64(0.5), torch.tensor(2.5)))
    twin = D.SpriteConfig(radius=(float(np.float32(2.7)), float(np.float32(4.1))), edge=float(np.float32(0.8)), speed_power=1.5,
                          speed=(0.5, 2.5))
    assert cfg == twin and hash(cfg) == hash(twin)
    assert all(type(v) is float for v in (*cfg.radius, cfg.edge, cfg.speed_power, *cfg.speed))
    assert D.SpriteConfig.from_json(cfg.to_json()) == cfg
    a, b = D.generate(3, 5, config=cfg), D.generate(3, 5, config=twin)
    assert torch.equal(a.videos, b.videos) and torch.equal(a.flow, b.flow)


def test_sprites_without_room_to_move_are_refused():
    """SpriteConfig(size=8, radius=(3.4, 3.4), edge=0.5) passed the fit check (2 (r + edge) < size) although the sprite
    centres had no room between the walls: every sprite was pinned to one wall (ground-truth speed ~1e-7) while its
    velocity said 2.4 px/frame."""
    with pytest.raises(ValueError, match=r"radius 3.4 \(soft edge 0.5 px\) do not fit in a 8 px frame with room to move"):
        D.SpriteConfig(size=8, radius=(3.4, 3.4), edge=0.5)
    ok = D.generate(2, 0, size=8, radius=(3.0, 3.0), edge=0.5, speed=(1.0, 1.0), n_sprites=(1, 1), texture_waves=0)
    assert bool((ok.speed > 0.1).all())  # the sprites move


def test_bounce_refuses_inverted_walls():
    """bounce(p0, v, frames, lo=10, hi=0) clamped the walls' distance to 1e-6 and returned lo for every frame."""
    with pytest.raises(ValueError, match=r"bounce: the walls are inverted \(hi < lo: lo = 10, hi = 0\)"):
        D.bounce(torch.tensor(5.0), 1.0, torch.arange(4.0)[:, None], torch.tensor([0.0, 10.0]), torch.tensor([20.0, 0.0]))
    assert D.bounce(5.0, 1.0, torch.arange(4.0), 0.0, 6.0).tolist() == [5.0, 6.0, 5.0, 4.0]


@pytest.mark.parametrize("field, value, pattern", [
    ("speed", (0.0, 1e308), r"SpriteConfig\.speed = \(0\.0, 1e\+308\) reaches beyond any motion"),
    ("speed", (0.0, 1e300), r"SpriteConfig\.speed = .* reaches beyond any motion"),
    ("pan", (0.0, 1e308), r"SpriteConfig\.pan = .* reaches beyond any motion"),
    ("max_frequency", 1e308, r"SpriteConfig\.max_frequency must be <= 1e\+06"),
], ids=["speed-overflow", "speed-round-off", "pan-overflow", "frequency-overflow"])
def test_speeds_pans_and_frequencies_beyond_float64_are_refused(field, value, pattern):
    """Were accepted: generate() then drew all-NaN videos (speed, pan or texture frequency of 1e308 overflowed the float64
    positions or phases) or, at 1e300, positions lost to round-off while the velocity said 1e300 px/frame."""
    with pytest.raises(ValueError, match=pattern):
        D.SpriteConfig(**{field: value})
    D.SpriteConfig(speed=(0.0, 40.0), pan=(0.0, 40.0), max_frequency=20.0)  # fast, aliased, but finite: still taken


# --- schedules -------------------------------------------------------------------------------------------------------


def test_vp_grid_refuses_a_start_below_the_first_timestep():
    """VPSchedule().grid(10, start=1e-4) returned [0.001]: M T = 0.1 rounds to no timestep, and the grid silently started
    at 1/T, ten times above M (while the initial noise, standard or Analytic-Init, was drawn at M)."""
    vp = S.VPSchedule()
    for start in (1e-4, 5e-4):
        with pytest.raises(ValueError, match=r"start M = .* lies below this VP schedule's first timestep.*pass M >= 1/T = 0\.001"):
            vp.grid(10, start)
    assert vp.grid(10, 0.001).tolist() == [0.001] and vp.grid(10, 0.0006).tolist() == [0.001]


@pytest.mark.parametrize("T", [100.0, np.int64(100), torch.tensor(100)], ids=["float", "numpy", "tensor"])
def test_vp_schedule_keeps_its_timestep_count_as_an_int(T):
    """VPSchedule(num_train_timesteps=100.0) kept T = 100.0 (a float; numpy and tensor counts as given): the toy's
    training timestep draw failed inside torch ("randint() received an invalid combination of arguments")."""
    from cilnb.toy_training import sample_train_t

    vp = S.VPSchedule(num_train_timesteps=T)
    assert type(vp.T) is int and vp.T == 100 and type(vp.config["num_train_timesteps"]) is int
    t = sample_train_t(4, vp, make_generator(0))
    assert t.shape == (4,) and torch.equal(vp.alphas_cumprod, S.VPSchedule(num_train_timesteps=100).alphas_cumprod)


@pytest.mark.parametrize("rescale", [False, True])
def test_a_snr_shift_that_removes_the_noise_is_refused(rescale):
    """VPSchedule(snr_shift_scale=1e-17) gave sigma_t = 0 at timestep 0 (1e-300: everywhere), which the samplers divide by;
    with rescale_zero_terminal_snr=True the schedule was all NaN."""
    with pytest.raises(ValueError, match=r"snr_shift_scale = 1e-17 shifts alpha_t\^2 of timestep 0 to 1 in float64"):
        S.VPSchedule(snr_shift_scale=1e-17, rescale_zero_terminal_snr=rescale)
    for ok in (1e-8, 3.0):
        assert bool((S.VPSchedule(snr_shift_scale=ok, rescale_zero_terminal_snr=rescale).sigma(torch.tensor([0.001, 1.0])) > 0).all())


def test_flow_schedule_refuses_a_timestep_scale_beyond_float64():
    """FlowSchedule(num_train_timesteps=10**400) was taken; its grid() failed with "int too large to convert to float"."""
    with pytest.raises(ValueError, match=r"num_train_timesteps is beyond any model's timestep scale \(more than 2\*\*53"):
        S.FlowSchedule(num_train_timesteps=10**400).grid(5)
    assert S.FlowSchedule(num_train_timesteps=2**53).grid(3)[0] == 1.0


# --- Analytic-Init moments -------------------------------------------------------------------------------------------


def _shard(n=6, seed=0, **kw):
    return A.MomentStats(**kw).update(torch.randn(n, 2, 1, 3, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))


def test_merge_refuses_the_statistics_themselves():
    """stats.merge(stats) doubled the count without a word (every sample counted twice)."""
    st = _shard()
    with pytest.raises(ValueError, match=r"cannot merge statistics into themselves: every sample would count twice"):
        st.merge(st)
    assert st.count == 6 and _shard().merge(_shard(seed=1)).count == 12


def test_merge_refuses_statistics_of_another_vae_scaling():
    """Shards of latents scaled by 0.18215 and by 0.13025 were merged into one mean and variance without a word."""
    with pytest.raises(ValueError, match=r"vae_scaling_factor 0\.13025 into statistics scaled by 0\.18215"):
        _shard(vae_scaling_factor=0.18215).merge(_shard(seed=1, vae_scaling_factor=0.13025))
    assert _shard(vae_scaling_factor=0.18215).merge(_shard(seed=1)).count == 12  # an unknown scale still merges


def test_merge_names_an_argument_that_is_not_statistics():
    """merge(None) raised a plain ValueError ("can only merge MomentStats"), not the InputTypeError of a wrong type."""
    with pytest.raises(InputTypeError, match=r"other must be a MomentStats \(another shard's statistics\) to merge, got NoneType"):
        _shard().merge(None)


@pytest.mark.parametrize("how", ["merge", "update"])
def test_sums_that_overflow_float64_leave_the_statistics_unchanged(how):
    """Means 2e300 apart overflowed the combined sums of squared deviations: var became inf without a word."""
    big = torch.full((2,), 1e300, dtype=torch.float64)
    st = A.MomentStats.from_moments(big, torch.ones(2, dtype=torch.float64), count=5)
    with pytest.raises(ValueError, match=r"sums of squared deviations with (the other statistics|this batch) contains .*rescale the data"):
        if how == "merge":
            st.merge(A.MomentStats.from_moments(-big, torch.ones(2, dtype=torch.float64), count=5))
        else:
            st.update(-big.expand(3, 2))
    assert st.count == 5 and torch.equal(st.mean, big) and torch.equal(st.var, torch.ones(2, dtype=torch.float64))


def test_from_moments_refuses_variances_whose_sums_overflow():
    """from_moments(mean, var=1e308, count=10) kept var * count = inf: var came back inf."""
    with pytest.raises(ValueError, match=r"var \* count \(the sums of squared deviations\) contains 2 non-finite"):
        A.MomentStats.from_moments(torch.zeros(2), torch.full((2,), 1e308, dtype=torch.float64), count=10)


def test_counts_beyond_max_count_are_refused():
    """update/merge took the count past MAX_COUNT (2**53), where the merge weights n_b / n are no longer exact."""
    full = A.MomentStats.from_moments(torch.zeros(2, 1, 3, 3), torch.ones(2, 1, 3, 3), count=A.MAX_COUNT)
    with pytest.raises(ValueError, match=r"this batch would bring the sample count to 9007199254740998, beyond"):
        full.update(torch.zeros(6, 2, 1, 3, 3))
    with pytest.raises(ValueError, match=r"the other statistics would bring the sample count to"):
        full.merge(_shard())
    assert full.count == A.MAX_COUNT


@pytest.mark.parametrize("call, name", [
    (lambda m: A.MomentStats.from_moments(m, torch.ones(2)), "mean"),
    (lambda m: A.gaussian_kl(torch.zeros(2), m, 0.0, 1.0), "q_var"),
    (lambda m: A.GaussianMixture(torch.ones(1), m[None], torch.ones(1, 2)), "means"),
], ids=["from_moments", "gaussian_kl", "mixture"])
def test_meta_tensors_in_moments_are_named(call, name):
    """Said "must be numbers (a tensor, array or list), got Tensor (Cannot copy out of meta tensor; no data!)"."""
    with pytest.raises(InputTypeError, match=rf"^{name} is a tensor on the 'meta' device"):
        call(torch.zeros(2, device="meta"))


# --- utilities -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", ["", "garbage", "[1, 2]", '{"pid": "12", "host": 5}'], ids=["empty", "text", "list", "types"])
def test_a_fresh_lock_without_an_owner_is_named(tmp_path, content):
    """A fresh lock file that names no owner said "in use by another run (pid None on None, ...)"; one holding a JSON list
    failed with AttributeError: 'list' object has no attribute 'get'."""
    lock = tmp_path / "out.lock"
    lock.write_text(content)
    with pytest.raises(UserError, match=r"the lock .*out\.lock of the output names no owner .*retry in a minute, or delete"):
        JobLock(lock, "the output").acquire()
    assert lock.read_text() == content


def test_a_lock_path_that_is_a_folder_is_named(tmp_path):
    """A folder in place of the lock file said "in use by another run (pid None on None, ...)" (and, once older than a
    minute, failed to unlink the folder)."""
    (tmp_path / "out.lock").mkdir()
    with pytest.raises(UserError, match=r"the lock path .*out\.lock is a folder, not a lock file"):
        JobLock(tmp_path / "out.lock", "the output").acquire()


def test_a_lock_under_a_file_is_named(tmp_path):
    """A file in place of the lock's folder failed with the bare "FileExistsError: [Errno 17] File exists"."""
    (tmp_path / "taken").write_text("")
    with pytest.raises(UserError, match=r"taken is a file, so the folder of the lock .* cannot be made"):
        JobLock(tmp_path / "taken" / "out.lock", "the output").acquire()


@pytest.mark.parametrize("path", [None, ""], ids=["none", "empty"])
def test_a_lock_needs_a_path(tmp_path, monkeypatch, path):
    """JobLock(None, ...) failed inside pathlib; JobLock("", ...) took the working folder "." for a stale lock and tried to
    delete it (IsADirectoryError)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputTypeError, match=r"path must be a lock file path \(str or pathlib.Path\)"):
        JobLock(path, "the output").acquire()


@pytest.mark.parametrize("hours, exc, pattern", [
    ("1", InputTypeError, r"stale_hours must be a real number"),
    (math.nan, ValueError, r"stale_hours must be finite"),
    (0, ValueError, r"stale_hours must be > 0"),
    (-1.0, ValueError, r"stale_hours must be > 0"),
], ids=["text", "nan", "zero", "negative"])
def test_job_lock_checks_stale_hours(tmp_path, hours, exc, pattern):
    """stale_hours="1" failed at the first comparison with a TypeError, NaN never let a lock go stale, and 0 or a negative
    value took over the live locks of other runs."""
    with pytest.raises(exc, match=pattern):
        JobLock(tmp_path / "out.lock", "the output", stale_hours=hours)
    with JobLock(tmp_path / "out.lock", "the output", stale_hours=math.inf):
        assert json.loads((tmp_path / "out.lock").read_text())["pid"] == os.getpid()


def test_step_and_file_names_given_as_one_string_are_refused(tmp_path):
    """progress_steps("model") made the steps "m", "o", "d", ...; clean_tmp_files(folder, "ab") removed the leftovers of
    files named "a" and "b"."""
    with pytest.raises(InputTypeError, match=r"names must be a list of step names .*got the string 'model'.*pass \['model'\]"):
        with progress_steps("model", disable=True):
            pass
    (tmp_path / ".a.x1.tmp").write_bytes(b"")
    with pytest.raises(InputTypeError, match=r"names must be a list of target file names .*got the string 'ab'"):
        clean_tmp_files(tmp_path, "ab")
    assert (tmp_path / ".a.x1.tmp").exists()
    assert clean_tmp_files(tmp_path, ["a"]) == [tmp_path / ".a.x1.tmp"]


@pytest.mark.parametrize("device, pattern", [
    ("foo", r"device 'foo' is not a torch device"),
    ("meta", r"device 'meta' cannot hold a torch.Generator"),
], ids=["unknown", "meta"])
def test_make_generator_names_a_device_without_generators(device, pattern):
    """make_generator(0, device="foo") failed in torch ("Expected one of cpu, cuda, ..."), device="meta" with "META device
    type not an accelerator"."""
    with pytest.raises(ValueError, match=pattern):
        make_generator(0, device=device)
    assert torch.equal(torch.rand(3, generator=make_generator(7, device=torch.device("cpu"))),
                       torch.rand(3, generator=torch.Generator().manual_seed(7)))

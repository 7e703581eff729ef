"""Boolean flags and seeds: a string such as ``"no"``, a number or ``None`` given for a flag (``show_progress``,
``resume``, ``force``, ``return_beta``, ``with_uncond``, ``flow``, ``cache``...) was read as true or false
(``not "no"`` is False), and a seed outside ``[-2**63, 2**64 - 1]`` failed inside torch ("Overflow when unpacking long
long"), or a seed near the top failed once an offset was added to it. Each flag is now refused at the public entry,
before any work (:func:`cilnb.checks.check_bool`), and each seed names the range and the fix.

Siblings: ``test_bad_inputs_core.py``, ``test_bad_inputs_sampling.py``, ``test_bad_inputs_lab.py``.
"""
from __future__ import annotations

import functools
import importlib
from pathlib import Path

import numpy as np
import pytest
import torch

from _media import tiny_sprites as _sprites, tiny_toy, tiny_x0 as _x0, tiny_y as _y
from cilnb import _util as U
from cilnb import analytic_init as AI
from cilnb import checks
from cilnb import data as D
from cilnb import figures as FG
from cilnb import experiments as E
from cilnb import io as IO
from cilnb import probe as P
from cilnb import remedies as R
from cilnb import runs
from cilnb import sampling as S
from cilnb import stats as ST
from cilnb import svd_finetune as SF
from cilnb import timenoise as TN
from cilnb import toy_training as TR
from cilnb.checks import InputTypeError
from cilnb.commands import common as CC
from cilnb.experiments import inputs as EI
from cilnb.experiments import motion_metrics as EMM
from cilnb.experiments import timenoise_training as ETT
from cilnb.io import ImageSet
from cilnb.live import Lab
from cilnb.models import base as MB
from cilnb.models import generic as MG
from cilnb.models import toy

MF, MV, MM, MQ = (importlib.import_module(f"cilnb.metrics.{m}") for m in ("flow", "fvd", "motion", "quality"))  # fvd: also a function

_toy = functools.partial(tiny_toy, 8)  # a tiny random-weight toy: 2 frames of 8 x 8, pixels in [-1, 1]
_TS = [0.5]
_CFG = D.SpriteConfig(frames=2, size=8, radius=(1.0, 2.0))


def _images():
    sv = _sprites()
    speed = sv.speed.tolist()
    return ImageSet(["a", "b"], sv.condition, "toy:2", {"input_speed": speed}, sv.videos, {"motion": speed}, sv.config)


@functools.lru_cache(maxsize=None)
def _bench():
    return E.toy_bench(2, 0, data=_CFG)


def _noisy():
    """The tiny toy's start video and a one-step grid for the low-level samplers."""
    return torch.zeros(2, 2, 1, 8, 8), _toy().schedule.grid(1, 0.5)


def _videos01():
    return (_x0() + 1) / 2  # [2, 2, 1, 8, 8] in [0, 1]


# ---------------------------------------------------------------------------------------------
# every checked flag: (name, call(value)); a bad value is refused naming the flag
# ---------------------------------------------------------------------------------------------

FLAGS = [
    # sampling and the probe (checked before any model call)
    ("show_progress", lambda v: S.sample(_toy(), _y(), n_steps=1, show_progress=v), "sample"),
    ("disable", lambda v: S.sample_ddim(_toy(), *_noisy(), {"y": _y()}, disable=v), "sample_ddim"),
    ("disable", lambda v: S.sample_euler(_toy(), *_noisy(), {"y": _y()}, disable=v), "sample_euler"),
    ("disable", lambda v: S.sample_heun(_toy(), *_noisy(), {"y": _y()}, disable=v), "sample_heun"),
    ("disable", lambda v: S.sample_dpmpp_2m(_toy(), *_noisy(), {"y": _y()}, disable=v), "sample_dpmpp_2m"),
    ("disable", lambda v: S.sample_dpmpp_3m(_toy(), *_noisy(), {"y": _y()}, disable=v), "sample_dpmpp_3m"),
    ("show_progress", lambda v: P.one_step_predictions(_toy(), _x0(), _TS, show_progress=v), "one_step_predictions"),
    ("with_uncond", lambda v: P.one_step_predictions(_toy(), _x0(), _TS, with_uncond=v), "one_step_predictions-uncond"),
    ("show_progress", lambda v: P.probe_table(_toy(), _x0(), _TS, show_progress=v), "probe_table"),
    ("show_progress", lambda v: P.leakage_index(_toy(), _x0(), _TS, show_progress=v), "leakage_index"),
    ("show_progress", lambda v: E.run_probe({"a": _toy()}, _bench(), _TS, show_progress=v), "run_probe"),
    ("keep_uncond", lambda v: E.run_probe({"a": _toy()}, _bench(), _TS, keep_uncond=v), "run_probe-keep_uncond"),
    ("show_progress", lambda v: E.run_leakage_index({"a": _toy()}, _bench(), _TS, show_progress=v), "run_leakage_index"),
    # experiments, sweeps, the lab, the remedies' comparison (checked first: the other arguments are never looked at)
    ("flow", lambda v: E.toy_images(2, flow=v), "toy_images"),
    ("show_progress", lambda v: E.sample_grid(None, "x", None, None, Ms=[1.0], inits=["standard"], seeds=[0], n_steps=1,
                                              show_progress=v), "sample_grid"),
    ("show_progress", lambda v: E.motion_control(None, None, None, None, n_steps=1, show_progress=v), "motion_control"),
    ("show_progress", lambda v: ETT.compare_models(None, None, None, None, seeds=[0], n_steps=1, show_progress=v), "compare_models"),
    ("show_progress", lambda v: ETT.finetune_pair("x", steps=1, a=1.0, beta_m=1.0, show_progress=v), "finetune_pair"),
    ("show_progress", lambda v: TR.finetune_toy_pair("x", steps=1, a=1.0, beta_m=1.0, show_progress=v), "finetune_toy_pair"),
    ("show_progress", lambda v: TR.train(TR.TrainConfig(), "x.safetensors", show_progress=v), "train"),
    ("force", lambda v: TR.train(TR.TrainConfig(), "x.safetensors", force=v), "train-force"),
    ("show_progress", lambda v: TR.toy_stats(n=1, show_progress=v), "toy_stats"),
    ("show_progress", lambda v: runs.run_sweep(_toy(), _images(), "x", Ms=[1.0], show_progress=v), "run_sweep"),
    ("shapes", lambda v: runs.tensors_digest([("a", torch.zeros(2))], shapes=v), "tensors_digest"),
    ("show_progress", lambda v: Lab.toy(show_progress=v), "Lab.toy"),
    ("show_progress", lambda v: R.compare(None, None, None, show_progress=v), "compare"),
    # core math and data
    ("flow", lambda v: D.generate(1, config=_CFG, flow=v), "generate"),
    ("numeric", lambda v: AI.kl_table(None, None, [1.0], numeric=v), "kl_table-numeric"),
    ("show_progress", lambda v: AI.kl_table(None, None, [1.0], show_progress=v), "kl_table"),
    ("return_beta", lambda v: TN.add_timenoise(_y(), 0.5, 1.0, 1.0, seed=0, return_beta=v), "add_timenoise"),
    ("show_progress", lambda v: ST.compute_stats(_toy(), "x", "x.safetensors", frames=2, size=8, show_progress=v), "compute_stats"),
    ("resume", lambda v: SF.finetune(None, None, None, resume=v), "finetune-resume"),
    ("show_progress", lambda v: SF.finetune(None, None, None, show_progress=v), "finetune"),
    # metrics
    ("show_progress", lambda v: MF.optical_flow(_videos01()[:, 0], _videos01()[:, 1], "farneback", show_progress=v), "optical_flow"),
    ("cache", lambda v: MF.load_raft(cache=v), "load_raft"),
    ("show_progress", lambda v: MM.video_flows(_videos01(), "farneback", show_progress=v), "video_flows"),
    ("show_progress", lambda v: MM.motion_score(_videos01(), "farneback", show_progress=v), "motion_score"),
    ("show_progress", lambda v: next(MM.iter_flows(None, None, None, None, None, v, "x")), "iter_flows"),
    ("show_progress", lambda v: MQ.warping_error(_videos01(), show_progress=v), "warping_error"),
    ("show_progress", lambda v: MV.i3d_features(None, show_progress=v), "i3d_features"),
    ("show_progress", lambda v: MV.fvd(None, None, show_progress=v), "fvd"),
    # models, files, helpers
    ("upcast_vae", lambda v: MB.load_pipeline(None, None, what="x", default_id="x", hint="", device="cpu", dtype=None,
                                              upcast_vae=v), "load_pipeline"),
    ("zero_snr", lambda v: MG.ldm_schedule(zero_snr=v), "ldm_schedule"),
    ("image_mode", lambda v: _toy().net(_x0(), torch.full((2,), 0.5), _y(), image_mode=v), "ToyUNet.forward"),
    ("allow_empty", lambda v: IO.ClipSet("x", frames=2, size=8, allow_empty=v), "ClipSet"),
    ("quiet", lambda v: CC.load_model("toy", quiet=v), "load_model"),
    ("folder", lambda v: U.check_output_path("x", folder=v), "check_output_path"),
    ("atomic", lambda v: U.save_safetensors("x.safetensors", {}, atomic=v), "save_safetensors"),
]

# flags whose None is a documented value (tqdm's disable=None: hidden when not on a terminal)
NONE_OK = {"sample_ddim", "sample_euler", "sample_heun", "sample_dpmpp_2m", "sample_dpmpp_3m"}


@pytest.mark.parametrize("name, call, bad", [
    pytest.param(n, c, bad, id=f"{i}-{kind}")
    for n, c, i in FLAGS
    for bad, kind in (("no", "str"), (1, "int"), (None, "none"))
    if not (bad is None and i in NONE_OK)
])
def test_a_flag_that_is_not_a_bool_is_refused_naming_it(name, call, bad, tmp_path, monkeypatch):
    """Was: "no" read as True (``bool("no")``) or as False (``not "no"`` hid the bar), 1 and None as either."""
    monkeypatch.chdir(tmp_path)  # nothing may be written, but if it were, not into the checkout
    with pytest.raises(InputTypeError, match=rf"\b{name} must be True(, False)? or (False|None).*got {bad!r}.*pass True"):
        call(bad)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("call", [
    pytest.param(lambda: S.sample(_toy(), _y(), n_steps=1, show_progress="no"), id="sample"),
    pytest.param(lambda: P.one_step_predictions(_toy(), _x0(), _TS, with_uncond="no"), id="probe"),
    pytest.param(lambda: P.leakage_index(_toy(), _x0(), _TS, show_progress=0), id="leakage-index"),
    pytest.param(lambda: S.sample_ddim(_toy(), *_noisy(), {"y": _y()}, disable="yes"), id="ddim"),
])
def test_a_bad_flag_is_refused_before_any_model_call(call):
    calls = []
    hook = _toy().register_forward_pre_hook(lambda *a: calls.append(1))
    try:
        with pytest.raises(InputTypeError):
            call()
    finally:
        hook.remove()
    assert calls == []


def test_the_progress_helpers_keep_none_and_refuse_the_rest():
    assert list(U.progress(range(2), disable=None)) == [0, 1]
    assert list(U.progress(range(2), disable=np.True_)) == [0, 1]
    with U.progress_steps(["a"], disable=True) as step:
        step("a")
    for bad in ("no", 1):
        with pytest.raises(InputTypeError, match=r"disable must be True, False or None, got"):
            U.progress(range(2), disable=bad)
        with pytest.raises(InputTypeError, match=r"disable must be True, False or None"):
            with U.progress_steps(["a"], disable=bad):
                pass


# ---------------------------------------------------------------------------------------------
# valid flags behave as before
# ---------------------------------------------------------------------------------------------


def test_valid_flags_still_work(tmp_path):
    a = S.sample(_toy(), _y(), n_steps=1, show_progress=False)
    b = S.sample(_toy(), _y(), n_steps=1, show_progress=np.True_)
    assert torch.equal(a, b) and a.shape == (2, 2, 1, 8, 8)
    x, ts = _noisy()
    assert torch.equal(S.sample_ddim(_toy(), x, ts, {"y": _y()}, disable=True), S.sample_ddim(_toy(), x, ts, {"y": _y()}))
    pred, unc = P.one_step_predictions(_toy(), _x0(), _TS, with_uncond=True, show_progress=False)
    assert torch.equal(pred, P.one_step_predictions(_toy(), _x0(), _TS, with_uncond=False))
    ys, beta = TN.add_timenoise(_y(), 0.5, 1.0, 1.0, seed=0, return_beta=True)
    assert torch.equal(ys, TN.add_timenoise(_y(), 0.5, 1.0, 1.0, seed=0, return_beta=False)) and beta.shape == (2,)
    assert D.generate(1, config=_CFG, flow=False).flow.numel() == 0 and D.generate(1, config=_CFG, flow=np.True_).flow.numel() > 0
    named = [("a", torch.zeros(2))]
    assert runs.tensors_digest(named, shapes=False) != runs.tensors_digest(named, shapes=True) == runs.tensors_digest(named)
    assert U.check_output_path(tmp_path / "d", folder=True) == tmp_path / "d"
    assert float(MG.ldm_schedule(zero_snr=True).alpha(1.0)) == 0.0 and float(MG.ldm_schedule(zero_snr=False).alpha(1.0)) > 0
    assert IO.ClipSet(tmp_path, frames=2, size=8, allow_empty=True).paths == []


# ---------------------------------------------------------------------------------------------
# seeds: [-2**63, 2**64 - 1], what torch takes; a clear error outside it
# ---------------------------------------------------------------------------------------------

TOP, BOTTOM = 2**64 - 1, -(2**63)
RANGE = r"outside the range a torch\.Generator accepts, \[-2\*\*63, 2\*\*64 - 1\].*pass"


@pytest.mark.parametrize("seed", [TOP, BOTTOM, -1, 0])
def test_make_generator_takes_every_seed_torch_takes(seed):
    g = U.make_generator(seed)
    assert g.initial_seed() == seed % 2**64  # torch reads a negative seed modulo 2**64: -1 is 2**64 - 1, as before
    assert checks.check_seed("seed", np.uint64(TOP)) == TOP


@pytest.mark.parametrize("seed", [TOP + 1, BOTTOM - 1, 2**70, -(2**70)])
def test_make_generator_refuses_seeds_outside_the_range(seed):
    """Was: 'Overflow when unpacking long long' from torch."""
    with pytest.raises(ValueError, match=rf"seed = {seed} is {RANGE}"):
        U.make_generator(seed)
    with pytest.raises(ValueError, match=RANGE):
        D.generate(1, seed, config=_CFG)  # every make_generator user: the sprites, TimeNoise, Analytic-Init
    with pytest.raises(ValueError, match=RANGE):
        TN.add_timenoise(_y(), 0.5, 1.0, 1.0, seed=seed)


def test_seed_lists_are_bounded():
    assert checks.check_seeds([TOP, BOTTOM], 2) == [TOP, BOTTOM]
    assert checks.check_seeds(TOP - 1, 2) == [TOP - 1, TOP]
    with pytest.raises(ValueError, match=rf"seed\[1\] = {TOP + 1} is {RANGE}"):
        checks.check_seeds([0, TOP + 1], 2)
    with pytest.raises(ValueError, match=rf"seed\[0\] = {BOTTOM - 1} is {RANGE}"):
        checks.check_seeds(np.array([BOTTOM - 1, 0], dtype=object), 2)
    with pytest.raises(ValueError, match=rf"seed = {TOP} gives item 1 the seed seed \+ 1 = {TOP + 1}.*at most {TOP - 1} for 2 items"):
        checks.check_seeds(TOP, 2)
    with pytest.raises(ValueError, match=rf"seeds\[0\] = {TOP + 1} is {RANGE}"):
        S.per_sample_noise([TOP + 1], (2,))
    assert S.per_sample_noise([TOP], (2,)).shape == (1, 2)
    with pytest.raises(ValueError, match=rf"seed = {TOP} gives item 1"):
        S.sample(_toy(), _y(), n_steps=1, seed=TOP, show_progress=False)
    with pytest.raises(ValueError, match=rf"seeds\[0\] = {TOP + 1} is {RANGE}"):
        R.base.per_sample_normal([TOP + 1], (2,), tag="x")


@pytest.mark.parametrize("call", [
    pytest.param(lambda s: MB.make_generator_or_none(None, s), id="adapter-seed"),
    pytest.param(lambda s: toy.init_net(toy.ToyConfig(frames=2, size=8, widths=(8,), temporal="none", temporal_levels=(),
                                                      temporal_width=8, emb_dim=16), s), id="toy-init"),
    pytest.param(lambda s: EI.prepare_condition(_toy(), _y(), s), id="prepare-condition"),
    pytest.param(lambda s: E.video_bench(None, "x", 1, frames=2, size=8, seed=s), id="video-bench"),
    pytest.param(lambda s: ETT.timenoise_views(None, _y()[0], [0.5], 1.0, 1.0, seed=s), id="timenoise-views"),
    pytest.param(lambda s: SF.FinetuneConfig(seed=s), id="finetune-config"),
    pytest.param(lambda s: Lab.toy(seed=s), id="lab-toy"),
    pytest.param(lambda s: Lab(_toy(), _y(), _x0(), n_seeds=1).probe(0, seed=s), id="lab-probe"),
    pytest.param(lambda s: EMM.model_videos("toy", n_videos=1, seed=s), id="model-videos"),
])
def test_other_seed_users_refuse_out_of_range_seeds(call):
    """Was: torch's overflow error (after loading a model or reading videos, for some)."""
    with pytest.raises(ValueError, match=RANGE):
        call(TOP + 1)


def test_seeds_near_the_top_with_an_offset_do_not_overflow():
    """leakage_index's re-noised copy uses seed + 7919011, reduced modulo 2**64: the same stream wherever the sum is in range."""
    assert checks.offset_seed(5, 7_919_011) == 7_919_016 and checks.offset_seed(TOP, 1) == 0
    for s in (-1, -10**12, BOTTOM):  # torch reads a negative sum modulo 2**64 as well: the same generator as before
        a = torch.randn(3, generator=torch.Generator().manual_seed(s + 7_919_011))
        assert torch.equal(a, torch.randn(3, generator=torch.Generator().manual_seed(checks.offset_seed(s, 7_919_011))))
    df = P.leakage_index(_toy(), _x0(), _TS, seed=[TOP, 0])  # was: Overflow when unpacking long long
    assert len(df) == 2 and np.isfinite(df["index"]).all()
    with pytest.raises(ValueError, match=r"seeds\[0\] = .*noise seeds .* \* 100003 \+ image index.*pass seeds in \[-\d+, \d+\]"):
        R.compare(_toy(), _images(), {"none": "none"}, seeds=[2**60], n_steps=1, n_reference=0)
    with pytest.raises(ValueError, match=rf"data_seed = {TOP + 1} is {RANGE}"):
        R.compare(_toy(), _images(), {"none": "none"}, data_seed=TOP + 1, n_steps=1, n_reference=0)


@pytest.mark.parametrize("call", [
    pytest.param(lambda v: E.sweep_inputs("toy", n_images=2, n_reference=0, show_progress=v), id="sweep_inputs"),
    pytest.param(lambda v: E.ToyReadout(0, show_progress=v), id="ToyReadout"),
    pytest.param(lambda v: FG.run_all(only=["explore"], progress=v), id="run_all"),
    pytest.param(lambda v: FG.run_notebook(Path("x.ipynb"), "smoke", Path("f"), Path("o"), progress=v), id="run_notebook"),
    pytest.param(lambda v: FG.write_verdicts(Path("V.md"), "smoke", [], keep_others=v), id="write_verdicts"),
    pytest.param(lambda v: FG.write_times(Path("T.md"), "smoke", [], load_before="", load_after="", keep_others=v),
                 id="write_times"),
])
@pytest.mark.parametrize("bad", ["no", 1, None], ids=["str", "int", "none"])
def test_the_read_outs_and_the_figure_runner_refuse_a_flag_that_is_not_a_bool(call, bad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputTypeError, match=r"(show_progress|progress|keep_others) must be True or False.*pass True or False"):
        call(bad)
    assert not any(tmp_path.iterdir())

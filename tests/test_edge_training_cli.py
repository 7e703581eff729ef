"""Edge inputs of toy training, SVD fine-tuning and their commands (train-toy, toy-stats, finetune) that were mishandled:
an OverflowError or KeyError from deep inside (a traceback on the command line), a run that silently did something else
(a fine-tune written over its own init, a finished output returned for a replaced init, a resume state beyond its run
finished at once, a checkpoint past --max-steps returned as the result), or an error that named neither the option nor
the fix (a batch beyond memory named the data generator's n). Each test says what happened before its fix."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from cilnb import data as D
from cilnb import toy_training as TR
from cilnb._util import UserError, save_safetensors
from cilnb.checks import InputTypeError
from cilnb.models import toy
from test_cli_errors import cli, one_error

DATA = D.SpriteConfig(frames=4, size=16)


def _net(seed=0):
    return toy.build(frames=4, size=16, widths=(8, 16), temporal_levels=(1,), temporal_width=8, emb_dim=32, seed=seed).net


def _base(path, seed=0, meta=None):
    """A tiny hand-saved base (no recorded data: fine-tunes pass data=DATA)."""
    return toy.save_checkpoint(path, _net(seed), meta or {})


def _naive(init, **kw):
    return TR.TrainConfig(variant="naive", init=str(init), data=DATA, **{"steps": 2, "batch_size": 2, "checkpoint_every": 1, **kw})


# ----------------------------------------------------------------------------------------------
# TrainConfig
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["lr", "grad_clip", "t_p_std", "cond_aug", "timenoise_a"])
def test_a_number_beyond_any_float_is_named(field):
    """An int such as 10**400 failed in math.isfinite with a bare OverflowError (not a ValueError: a traceback on the
    command line); timenoise_a = 10**400 was even accepted."""
    with pytest.raises(ValueError, match=rf"{field} must be a finite number, got an int of 401 digits.*pass a finite number"):
        TR.TrainConfig(steps=1, pretrain_steps=0, **{field: 10**400})
    assert TR.TrainConfig(steps=1, pretrain_steps=0, **{field: 2}).to_dict()  # small ints still work (stored as given)


@pytest.mark.parametrize("field, value, fix", [("steps", 2.0, "pass 2"), ("batch_size", np.int64(3), "pass 3"),
                                               ("checkpoint_every", "10", "pass a whole number")])
def test_a_count_of_another_type_is_an_input_type_error(field, value, fix):
    """A float, numpy int or string count was a plain ValueError ('steps must be an int >= 0, got 2.0') where the
    project's rule is InputTypeError for wrong types, and did not say what to pass."""
    with pytest.raises(InputTypeError, match=rf"{field} must be .* \(a Python int\), got .*: {fix}"):
        TR.TrainConfig(pretrain_steps=0, **{"steps": 1, field: value})
    with pytest.raises(ValueError, match=r"batch_size must be a positive int, got 0"):  # values stay ValueErrors
        TR.TrainConfig(steps=1, batch_size=0)


def test_a_fine_tune_is_refused_as_init(tmp_path):
    """A naive or TimeNoise checkpoint was fine-tuned again without a word (TimeNoise over a naive fine-tune is not the
    paper's naive-vs-TimeNoise comparison, which starts both from one base)."""
    naive = _base(tmp_path / "naive.safetensors", meta={"variant": "naive"})
    with pytest.raises(ValueError, match=r"init checkpoint .*naive\.safetensors is a naive fine-tune, not a base: --init"):
        TR.TrainConfig(variant="timenoise", init=str(naive), steps=1, data=DATA)
    kw = dict(model=toy.ToyConfig(frames=4, size=16, widths=(8, 16), temporal_levels=(1,), temporal_width=8, emb_dim=32), image_dropout=0.0,
              t_dist="uniform", t_p_mean=0.7, t_p_std=1.6, cond_aug=0.0, motion_label_noise=0.0, motion_label="speed")
    cfg = TR.TrainConfig(variant="timenoise", init=str(naive), steps=1, batch_size=2, data=DATA, **kw)  # reads no metadata
    with pytest.raises(ValueError, match=r"is a naive fine-tune, not a base"):
        TR.train(cfg, tmp_path / "tn.safetensors", device="cpu", show_progress=False)
    assert not (tmp_path / "tn.safetensors").exists()
    base = _base(tmp_path / "base.safetensors", meta={"variant": "base"})  # bases (and hand-saved ones) still fine-tune
    assert TR.TrainConfig(variant="timenoise", init=str(base), steps=1, data=DATA).init == str(base)


def test_an_init_that_is_not_a_base_checkpoint_is_named(tmp_path):
    """A safetensors file with a foreign 'config' was read as a ToyConfig ('unknown ToyConfig fields ['lr']: ...'), and a
    base whose recorded data did not parse failed in SpriteConfig: neither named the init file nor the fix."""
    foreign = tmp_path / "other.safetensors"
    save_safetensors(foreign, {"x": torch.zeros(1)}, {"config": json.dumps({"lr": 1e-4, "max_steps": 10})})
    with pytest.raises(UserError, match=r"init checkpoint .*other\.safetensors is not a cilnb toy checkpoint \(format None.*"
                                        r"train-toy --variant base"):
        TR.TrainConfig(variant="naive", init=str(foreign), steps=1)
    bad = _base(tmp_path / "bad.safetensors", meta={"train_config": {"data": {"frames": "x"}}})
    with pytest.raises(UserError, match=r"init checkpoint .*bad\.safetensors records a configuration this cilnb cannot read "
                                        r"\(SpriteConfig\.frames"):
        TR.TrainConfig(variant="naive", init=str(bad), steps=1)


# ----------------------------------------------------------------------------------------------
# train(): outputs and memory
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("force", [False, True])
def test_train_refuses_to_write_a_fine_tune_over_its_init(tmp_path, force):
    """train(cfg, out=cfg.init) (the API; the command checked it) refused with 'trained with a different configuration'
    and, with force=True, overwrote the base checkpoint with its own fine-tune."""
    init = _base(tmp_path / "base.safetensors")
    before = init.read_bytes()
    with pytest.raises(UserError, match=r"out \(--out\) .*base\.safetensors is the init checkpoint .*choose another out"):
        TR.train(_naive(init), init, device="cpu", show_progress=False, force=force)
    assert init.read_bytes() == before and not TR.resume_path(init).exists()


@pytest.mark.parametrize("field, opt", [("batch_size", r" \(--batch-size\)"), ("pretrain_batch_size", "")])
def test_a_batch_beyond_memory_names_the_option_before_any_work(tmp_path, field, opt):
    """Was 'generate(n=1000000000) needs more than ... generate fewer videos per call': the data generator's n, not the
    option to change (and only after the model was built and the lock taken)."""
    cfg = TR.TrainConfig(variant="base", steps=1, pretrain_steps=1, model=_net().config, data=DATA, **{field: 10**12})
    with pytest.raises(ValueError, match=rf"training with {field}=1000000000000{opt} .*needs more than .* GiB.*pass a smaller {field}"):
        TR.train(cfg, tmp_path / "m.safetensors", device="cpu", show_progress=False)
    assert not any(tmp_path.iterdir())


def test_a_finished_fine_tune_is_not_returned_for_a_replaced_init(tmp_path):
    """Rerunning a finished fine-tune after its init was replaced (a retrained base at the same path, same recipe)
    returned the old output as if it were a fine-tune of the new base."""
    init, out = _base(tmp_path / "base.safetensors"), tmp_path / "naive.safetensors"
    cfg = _naive(init, steps=1)
    assert TR.train(cfg, out, device="cpu", show_progress=False) == out
    first = out.read_bytes()
    assert TR.train(cfg, out, device="cpu", show_progress=False) == out and out.read_bytes() == first  # unchanged init: a no-op
    _base(init, seed=1)
    with pytest.raises(UserError, match=r"naive\.safetensors \(--out\) is a fine-tune of an earlier .*base\.safetensors \(--init\).*"
                                        r"pass --force"):
        TR.train(cfg, out, device="cpu", show_progress=False)
    assert out.read_bytes() == first
    assert TR.train(cfg, out, device="cpu", show_progress=False, force=True) == out and out.read_bytes() != first


# ----------------------------------------------------------------------------------------------
# resume states this code did not write
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """A naive fine-tune stopped after 1 of 3 steps: (its config, the resume state's metadata and tensors)."""
    d = tmp_path_factory.mktemp("killed_run")
    cfg = _naive(_base(d / "base.safetensors"), steps=3)
    state = TR.train(cfg, d / "n.safetensors", device="cpu", show_progress=False, stop_after=1)
    with safe_open(str(state), framework="pt") as f:
        md = f.metadata()
    return cfg, md, load_file(str(state))


def _drop(prefix):
    return lambda md, t: t.pop(next(k for k in sorted(t) if k.startswith(prefix)))


@pytest.mark.parametrize("damage, needle", [
    pytest.param(lambda md, t: md.pop("train_config"), r"records no readable configuration", id="no-config"),  # was KeyError
    pytest.param(lambda md, t: md.update(train_config="{"), r"records no readable configuration", id="config-not-json"),  # JSONDecodeError
    pytest.param(lambda md, t: md.pop("step"), r"is incomplete \(no 'step'\)", id="no-step"),  # was KeyError
    pytest.param(lambda md, t: md.update(step="99"), r"stands at stage 0 step 99, outside this run's stages", id="step-past-end"),  # finished at once
    pytest.param(lambda md, t: md.update(stage_idx="-1"), r"stands at stage -1", id="negative-stage"),  # trained a stage again
    pytest.param(lambda md, t: md.update(curve="nope"), r"is corrupt \(Expecting value", id="curve-not-json"),  # JSONDecodeError
    pytest.param(_drop("rng."), r"is incomplete \(no 'rng\.data'\)", id="no-generator"),  # was KeyError
    pytest.param(_drop("model."), r"its weights do not fit the model", id="missing-weight"),  # was torch's RuntimeError
    pytest.param(_drop("ema."), r"its EMA weights do not fit the model", id="missing-ema"),  # was KeyError
])
def test_a_damaged_resume_state_is_named(killed_run, tmp_path, damage, needle):
    """A resume state with the right format but missing or impossible fields failed with a KeyError/RuntimeError traceback
    from deep inside the loader, or (a step past the stage's end, a negative stage) silently finished a wrong run."""
    cfg, md, tensors = killed_run
    md, tensors = dict(md), dict(tensors)
    damage(md, tensors)
    out = tmp_path / "n.safetensors"
    save_safetensors(TR.resume_path(out), tensors, md)
    with pytest.raises(UserError, match=rf"resume state .*n\.resume\.safetensors .*{needle}.*delete it to start the run over"):
        TR.train(cfg, out, device="cpu", show_progress=False)
    assert not out.exists() and TR.resume_path(out).is_file()


def test_an_intact_resume_state_still_resumes_bit_exactly(killed_run, tmp_path):
    cfg, md, tensors = killed_run
    out = tmp_path / "n.safetensors"
    save_safetensors(TR.resume_path(out), tensors, md)
    resumed = load_file(str(TR.train(cfg, out, device="cpu", show_progress=False)))
    straight = load_file(str(TR.train(cfg, tmp_path / "s.safetensors", device="cpu", show_progress=False)))
    assert resumed.keys() == straight.keys() and all(torch.equal(resumed[k], straight[k]) for k in resumed)


# ----------------------------------------------------------------------------------------------
# toy_stats and toy-stats
# ----------------------------------------------------------------------------------------------


def test_toy_stats_refuses_a_config_that_is_not_a_sprite_config():
    """config={'frames': 4} failed with AttributeError: 'dict' object has no attribute 'to_json'."""
    with pytest.raises(InputTypeError, match=r"config must be a cilnb\.data\.SpriteConfig .*got dict"):
        TR.toy_stats(None, n=2, config={"frames": 4}, show_progress=False)


def test_toy_stats_n_beyond_what_statistics_count_is_refused_at_once(capsys, tmp_path, monkeypatch):
    """n > 2**53 started generating videos for ages (MomentStats refuses such a count only when it is reached)."""
    def no_work(*a, **k):
        raise AssertionError("generated videos before checking n")

    monkeypatch.setattr(TR.D, "generate", no_work)
    with pytest.raises(ValueError, match=r"n = 9007199254740993 is more toy videos than statistics can count .*pass a smaller n \(--n\)"):
        TR.toy_stats(None, n=2**53 + 1, show_progress=False)
    out = tmp_path / "s.safetensors"
    one_error(*cli(capsys, "toy-stats", "--n", str(2**53 + 1), "--quiet", "--out", out), "--n", "2**53")
    assert not out.exists()


# ----------------------------------------------------------------------------------------------
# SVD fine-tuning
# ----------------------------------------------------------------------------------------------

F, PX = 2, 16


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    iio = pytest.importorskip("imageio.v3")
    d = tmp_path_factory.mktemp("ft_videos")
    xx = np.mgrid[0:20, 0:24][1]
    (d / "ok").mkdir()
    (d / "short").mkdir()
    for k in range(2):
        fr = [np.clip(127 + 100 * np.sin(2 * np.pi * (xx + 2 * i + k) / 24)[..., None] * np.ones(3), 0, 255).astype(np.uint8) for i in range(3)]
        iio.imwrite(d / "ok" / f"v{k}.mp4", np.stack(fr), plugin="pyav", codec="libx264", fps=8)
    iio.imwrite(d / "short" / "s.mp4", np.zeros((1, 20, 24, 3), np.uint8), plugin="pyav", codec="libx264", fps=8)
    return d


@pytest.fixture(scope="module")
def adapter():
    pytest.importorskip("diffusers")
    pytest.importorskip("accelerate")
    from _tiny import tiny_svd_pipeline

    from cilnb.models.svd import from_pipeline

    return from_pipeline(tiny_svd_pipeline(F, PX)).eval()


def _ft_config(**kw):
    from cilnb.svd_finetune import FinetuneConfig

    return FinetuneConfig(frames=F, size=PX, batch_size=1, checkpoint_every=1, **{"max_steps": 2, **kw})


def test_finetune_names_a_config_and_paths_of_the_wrong_kind(videos, tmp_path):
    """config={...} failed with AttributeError ('dict' object has no attribute 'gradient_accumulation_steps'), out=None
    and videos=None with pathlib's bare TypeError, and an out that is a file with FileExistsError from the lock."""
    from cilnb import svd_finetune as SF

    with pytest.raises(InputTypeError, match=r"config must be a FinetuneConfig .*got dict"):
        SF.finetune(None, videos / "ok", tmp_path / "o", config={"lr": 1e-4}, show_progress=False)
    with pytest.raises(InputTypeError, match=r"out must be the output folder"):
        SF.finetune(None, videos / "ok", None, config=_ft_config(), show_progress=False)
    with pytest.raises(InputTypeError, match=r"videos must be the folder of training videos"):
        SF.finetune(None, None, tmp_path / "o", config=_ft_config(), show_progress=False)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UserError, match=r"out \(--out\) .*afile is a file, not a folder"):
        SF.finetune(None, videos / "ok", tmp_path / "afile", config=_ft_config(), show_progress=False)


def test_a_non_finite_loss_is_a_user_error(adapter, videos, tmp_path, monkeypatch):
    """A NaN loss raised a bare FloatingPointError, which the command line does not report as a user error: a traceback
    and exit status 1. It is now also a ValueError (one line, exit 2), still a FloatingPointError."""
    from cilnb import svd_finetune as SF

    def nan_step(adapter, frames, *, config, generator, denoiser=None):
        loss = next(adapter.unet.parameters()).sum() * float("nan")
        return SF.StepOutput(loss=loss, sigma=torch.ones(1, dtype=torch.float64), beta=torch.ones(1, dtype=torch.float64),
                             cond_latent=None, dropped=torch.zeros(1, dtype=torch.bool))

    monkeypatch.setattr(SF, "training_step", nan_step)
    with pytest.raises(ValueError, match=r"non-finite loss nan at step 1: nothing was written for it, no checkpoint had been "
                                         r"written; lower the learning rate \(--lr") as info:
        SF.finetune(adapter, videos / "ok", tmp_path / "o", config=_ft_config(), show_progress=False)
    assert isinstance(info.value, FloatingPointError) and SF.latest_checkpoint(tmp_path / "o") is None


def _fake_checkpoint(adapter, out, step, cfg):
    """A checkpoint as the loop writes it (the UNet's weights, a fresh AdamW), without training."""
    from cilnb import svd_finetune as SF

    opt = torch.optim.AdamW(adapter.unet.parameters(), lr=cfg.lr, betas=cfg.adam_betas, eps=cfg.adam_eps, weight_decay=cfg.weight_decay)
    out.mkdir(parents=True, exist_ok=True)
    return SF._save_checkpoint(out, step, adapter.unet, opt, cfg, [1.0] * step)


def test_a_checkpoint_past_max_steps_is_not_returned_as_the_result(adapter, videos, tmp_path):
    """A folder whose newest checkpoint was at step 2, rerun with --max-steps 1, returned step 2 as the run's result
    (weights of more steps than asked) without a word."""
    from cilnb import svd_finetune as SF

    out = tmp_path / "o"
    _fake_checkpoint(adapter, out, 2, _ft_config(max_steps=2))
    with pytest.raises(UserError, match=r"already at step 2 \(checkpoint-00000002\), past --max-steps \(max_steps\) 1: pass "
                                        r"--max-steps 2 or more .*--no-resume"):
        SF.finetune(adapter, videos / "ok", out, config=_ft_config(max_steps=1), show_progress=False)
    assert not (out / "unet").exists()


@pytest.mark.parametrize("damage, needle", [
    pytest.param(lambda md: md.pop("step"), r"is incomplete \(no 'step' in optimizer\.safetensors\)", id="no-step"),
    pytest.param(lambda md: md.pop("scalars"), r"is incomplete \(no 'scalars'", id="no-scalars"),
    pytest.param(lambda md: md.update(param_groups="{"), r"is corrupt \(Expecting property name", id="groups-not-json"),
])
def test_a_damaged_finetune_checkpoint_is_named(adapter, videos, tmp_path, damage, needle):
    """A checkpoint with the right format but a missing or unreadable field failed with a KeyError (a traceback on the
    command line) or a bare JSONDecodeError naming no file."""
    from cilnb import svd_finetune as SF

    out = tmp_path / "o"
    ckpt = _fake_checkpoint(adapter, out, 1, _ft_config())
    path = ckpt / "optimizer.safetensors"
    with safe_open(str(path), framework="pt") as f:
        md = f.metadata()
    damage(md)
    save_safetensors(path, load_file(str(path)), md)
    with pytest.raises(UserError, match=rf"checkpoint .*checkpoint-00000001 {needle}.*--no-resume"):
        SF.finetune(adapter, videos / "ok", out, config=_ft_config(), show_progress=False)


# ----------------------------------------------------------------------------------------------
# the finetune command
# ----------------------------------------------------------------------------------------------


def _ft_args(videos, out, *extra):
    return ["finetune", "--model-path", out.parent / "no-such-svd", "--videos", videos, "--out", out, "--frames", str(F),
            "--size", f"{PX}x{PX}", "--quiet", *extra]


def test_finetune_refuses_videos_too_short_before_the_model_loads(capsys, videos, tmp_path):
    """A folder whose videos are all shorter than --frames passed the folder check; the run failed only at its first
    step, after SVD had loaded (minutes), with a message listing every video as a dict."""
    line = one_error(*cli(capsys, *_ft_args(videos / "short", tmp_path / "o", "--device", "cpu")),
                     "none of the 1 videos", "clips of 2 frames", "too short", "--frames")
    assert "no-such-svd" not in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_finetune_device_cuda_without_cuda_is_refused(capsys, videos, tmp_path):
    """--device cuda on a machine without CUDA ran on the CPU without a word (accelerate's own fallback)."""
    one_error(*cli(capsys, *_ft_args(videos / "ok", tmp_path / "o", "--device", "cuda")), "--device cuda", "CUDA is not available",
              "--device cpu")


# ----------------------------------------------------------------------------------------------
# --seed of train-toy and toy-stats
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, needle", [
    (["train-toy", "--steps", "1", "--pretrain-steps", "0", "--quiet", "--device", "cpu", "--seed", str(2**63)], "below 2**63"),
    (["toy-stats", "--n", "2", "--quiet", "--seed", str(2**64)], "[0, 2**64 - 1]"),
])
def test_a_seed_too_large_names_the_option(capsys, tmp_path, argv, needle):
    """Was the library's 'seed must lie in [-2**62, 2**63)' / torch's 'seed = ... is outside the range a torch.Generator
    accepts': one line, but naming neither --seed nor the command's own range."""
    out = tmp_path / "x.safetensors"
    one_error(*cli(capsys, *argv, "--out", out), f"--seed {argv[-1]}", needle)
    assert not out.exists()

"""``cilnb.commands``: one thin module per command, a parser that imports no torch, the shared model
loader, and the deprecated old module names (``stats_cli``, ``sweep``, ``training``, ``finetune``)."""
from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import warnings

import pytest
import torch

from cilnb import commands
from cilnb.commands import common


def test_every_command_is_a_module_named_after_it():
    parser = commands.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == list(commands.COMMANDS)
    for name in commands.COMMANDS:
        module = importlib.import_module(f"cilnb.commands.{name.replace('-', '_')}")
        assert callable(module.add_parser) and sub.choices[name].get_default("func") is module.run


def test_parser_and_help_import_no_torch():
    """``python -m cilnb --help`` and every command's ``--help`` build the parser without torch, numpy or diffusers."""
    code = (
        "import io, sys, json, contextlib\n"
        "from cilnb.commands import COMMANDS, build_parser\n"
        "for argv in [['--help']] + [[c, '--help'] for c in COMMANDS]:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            build_parser().parse_args(argv)\n"
        "        except SystemExit:\n"
        "            pass\n"
        "print(json.dumps(sorted(m for m in ('torch', 'numpy', 'diffusers', 'accelerate') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_constants_kept_for_help_agree_with_the_library():
    from cilnb import runs, toy_training
    from cilnb.commands import train_toy
    from cilnb.models import toy

    assert train_toy.VARIANTS == toy_training.VARIANTS and train_toy.TEMPORAL_KINDS == toy.TEMPORAL_KINDS
    args = commands.build_parser().parse_args(["sample", "--model", "toy", "--images", "toy:1", "--M", "1", "--out", "x"])
    assert tuple(args.init) == ("standard",) and set(runs.INITS) == {"standard", "analytic"}
    from cilnb.sampling import SAMPLERS

    sampler = next(a for a in commands.build_parser()._subparsers._group_actions[0].choices["sample"]._actions if a.dest == "sampler")
    assert sorted(sampler.choices) == sorted(SAMPLERS)  # the CLI's list (kept free of torch imports) is the library's


def test_load_model_goes_through_models_load(monkeypatch):
    from cilnb import models

    calls = []
    monkeypatch.setattr(models, "load", lambda *a, **kw: calls.append((a, kw)) or "model")
    assert common.load_model("toy", None, device="cpu") == "model"
    assert calls[-1] == (("toy", None), {"device": torch.device("cpu"), "dtype": None})  # auto: the toy's own, float32
    common.load_model("toy", None, device="cpu", dtype="bfloat16")
    assert calls[-1] == (("toy", None), {"device": torch.device("cpu"), "dtype": "bfloat16"})
    common.load_model("svd", "/models/svd", device="cpu")
    assert calls[-1] == (("svd", "/models/svd"), {"device": torch.device("cpu"), "dtype": torch.float32})  # auto: float32 on CPU
    common.load_model("svd", "/models/svd", device="cpu", dtype="bf16")
    assert calls[-1] == (("svd", "/models/svd"), {"device": torch.device("cpu"), "dtype": "bf16"})
    with pytest.raises(ValueError, match="needs --model-path"):
        common.load_model("svd", None, device="cpu")
    with pytest.raises(ValueError, match="dtype must be auto, float32, float16 or bfloat16"):
        common.load_model("toy", None, device="cpu", dtype="int8")
    assert len(calls) == 4


def test_load_model_toy_default_is_the_shipped_base():
    from cilnb import models

    a, b = common.load_model("toy", device="cpu"), models.load("toy", "base", device="cpu")
    assert a.config == b.config
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


# old name -> new object: every name the old modules exported keeps working
OLD_NAMES = {
    "cilnb.stats_cli": {
        "VIDEO_EXTS": "cilnb.io:VIDEO_EXTS", "IMAGE_EXTS": "cilnb.io:IMAGE_EXTS", "VideoSkip": "cilnb.io:VideoSkip",
        "parse_size": "cilnb.io:parse_size", "find_videos": "cilnb.io:find_videos", "read_clip": "cilnb.io:read_clip",
        "clip_to_tensor": "cilnb.io:clip_to_tensor", "_rgb": "cilnb.io:to_rgb", "StatsResult": "cilnb.stats:StatsResult",
        "encoder_for": "cilnb.stats:encoder_for", "compute_stats": "cilnb.stats:compute_stats",
        "load_model": "cilnb.commands.common:load_model", "_model_device_dtype": "cilnb._util:model_device_dtype",
        "add_cli": "cilnb.commands.stats:add_parser",
    },
    "cilnb.sweep": {
        "ImageSet": "cilnb.io:ImageSet", "load_images": "cilnb.io:load_images", "_safe": "cilnb.io:safe_name",
        "_load_stats": "cilnb.analytic_init:MomentStats.load", "Unit": "cilnb.runs:Unit", "SweepResult": "cilnb.runs:SweepResult",
        "grid_units": "cilnb.runs:grid_units", "run_sweep": "cilnb.runs:run_sweep", "read_rows": "cilnb.runs:read_rows",
        "frame_diff": "cilnb.runs:frame_diff", "align_psnr": "cilnb.runs:align_psnr", "INITS": "cilnb.runs:INITS",
        "NOISE_RULE": "cilnb.runs:NOISE_RULE", "add_cli": "cilnb.commands.sample:add_parser",
    },
    "cilnb.training": {
        "TrainConfig": "cilnb.toy_training:TrainConfig", "train": "cilnb.toy_training:train",
        "resume_path": "cilnb.toy_training:resume_path", "toy_stats": "cilnb.toy_training:toy_stats",
        "VARIANTS": "cilnb.toy_training:VARIANTS", "_cmd_train": "cilnb.commands.train_toy:run",
    },
    "cilnb.finetune": {
        "FinetuneConfig": "cilnb.svd_finetune:FinetuneConfig", "training_step": "cilnb.svd_finetune:training_step",
        "finetune": "cilnb.svd_finetune:finetune", "ClipDataset": "cilnb.svd_finetune:ClipDataset",
        "latest_checkpoint": "cilnb.svd_finetune:latest_checkpoint", "StepOutput": "cilnb.svd_finetune:StepOutput",
        "add_cli": "cilnb.commands.finetune:add_parser",
    },
}


def _resolve(target: str):
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("old", sorted(OLD_NAMES))
def test_old_module_names_still_work_with_a_deprecation_warning(old):
    module = importlib.import_module(old)
    for name, target in OLD_NAMES[old].items():
        with pytest.warns(DeprecationWarning, match=re.escape(f"{old}.{name} is deprecated: use {target.replace(':', '.')}")):
            value = getattr(module, name)
        assert value is _resolve(target) or value == _resolve(target), name
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        module.nope


def test_cilnb_modules_use_old_names_silently():
    """cilnb's own modules that still import an old name (experiments) get no warning; the old import lines work."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scope = {"__name__": "cilnb.some_module"}
        exec("from cilnb.sweep import ImageSet, _safe, _load_stats, NOISE_RULE\n"
             "from cilnb.stats_cli import VideoSkip, clip_to_tensor, find_videos, parse_size, read_clip, encoder_for\n"
             "from cilnb.training import TrainConfig, train\n", scope)
    from cilnb import io

    assert scope["ImageSet"] is io.ImageSet and scope["_safe"] is io.safe_name and scope["train"].__module__ == "cilnb.toy_training"


def test_old_add_cli_registers_the_same_commands():
    import argparse

    from cilnb import cli_commands, training

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    with pytest.warns(DeprecationWarning):
        cli_commands.register(sub)
    assert list(sub.choices) == [c for c in commands.COMMANDS if c != "figures"]
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    with pytest.warns(DeprecationWarning):
        training.add_cli(sub)
    assert list(sub.choices) == ["train-toy", "toy-stats"]


def test_sample_stats_option_reads_cilnb_and_official_files_through_momentstats_load(tmp_path):
    """``--stats`` takes a ``cilnb stats`` file or an official ``.pt``: both through ``MomentStats.load``, the one stats loader."""
    from cilnb.analytic_init import MomentStats

    mean = torch.randn(1, 2, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    torch.save({"Expectation_x_0": mean, "trCov_d": torch.tensor(0.25)}, tmp_path / "initial_noise_svd.pt")
    st = MomentStats.load(tmp_path / "initial_noise_svd.pt")
    torch.testing.assert_close(st.mean, mean[0].double())
    assert st.avg_var == pytest.approx(0.25) and st.count is None
    MomentStats().update(torch.randn(3, 2, 4, 3, 3, dtype=torch.float64)).save(tmp_path / "ours.safetensors")
    assert MomentStats.load(tmp_path / "ours.safetensors").count == 3


def test_figures_jobs_default_is_auto_two_on_two_cpus(monkeypatch, capsys):
    """`make figures` / `python -m cilnb figures` run two notebooks at once on 2+ CPUs (measured 1.38x faster on 2
    cores), one on one CPU; `--jobs N` still chooses; a bad value is one line and exit 2."""
    from cilnb import figures
    from cilnb.commands import figures as fig_cmd

    seen = []
    monkeypatch.setattr(figures, "run_all", lambda **kw: seen.append(kw["jobs"]) or [])
    monkeypatch.setattr(figures, "_gpu_present", lambda: False)  # CPU only
    parser = commands.build_parser()
    for cpus, argv, want in [(2, [], 2), (16, [], 2), (1, [], 1), (2, ["--jobs", "auto"], 2), (2, ["--jobs", "1"], 1), (1, ["--jobs", "3"], 3)]:
        monkeypatch.setattr(figures.os, "cpu_count", lambda c=cpus: c)
        args = parser.parse_args(["figures", *argv])
        assert fig_cmd.run(args) == 0
        assert seen[-1] == want, (cpus, argv)
    # with a GPU the passes leave the CPUs: min(6, cpus // 2) at once (6 measured on a 16-CPU H200 machine)
    monkeypatch.setattr(figures, "_gpu_present", lambda: True)
    for cpus, want in [(16, 6), (64, 6), (4, 2), (1, 1)]:
        monkeypatch.setattr(figures.os, "cpu_count", lambda c=cpus: c)
        assert fig_cmd.run(parser.parse_args(["figures"])) == 0 and seen[-1] == want, cpus
    for bad in ("0", "two", "-1"):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(["figures", "--jobs", bad])
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert "expected 'auto' or a positive integer" in err[-1]


def test_figures_dtype_option():
    parse = commands.build_parser().parse_args
    assert parse(["figures"]).dtype is None  # the notebooks' own (auto: float32)
    assert parse(["figures", "--dtype", "bfloat16"]).dtype == "bfloat16"
    with pytest.raises(SystemExit):
        parse(["figures", "--dtype", "float16"])

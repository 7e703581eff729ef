"""Command-line edge cases (a careless user's inputs, after tests/test_cli_errors*.py): devices this machine lacks,
non-finite or repeated conditioning, file outputs given as folders, an output that is the run's own input, options a run
would ignore, out-of-memory sizes, and folders a refused run made. Same rules and helpers as tests/test_cli_errors.py:
one line on stderr, exit status 2, no traceback, nothing written."""
from __future__ import annotations

import os

import pytest

from test_cli_errors import TINY_TRAIN, cli, one_error
from test_cli_errors_more import base_ckpt, sample_args  # noqa: F401 (base_ckpt: a fixture)

F, SIZE = 4, 16


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import imageio.v3 as iio
    from _media import smooth_frames, tiny_toy_files

    d = tmp_path_factory.mktemp("cli_edge_inputs")
    ckpt, stats = tiny_toy_files(d, F, SIZE)
    (d / "short" / "clip").mkdir(parents=True)
    iio.imwrite(d / "short" / "clip" / "0.png", smooth_frames(1)[0])  # one frame: too short for any --frames > 1
    return {"ckpt": ckpt, "stats": stats, "short": d / "short"}


# ----------------------------------------------------------------------------------------------
# devices torch knows but this machine (or build) does not have
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("device, needle", [("meta", "meta device"), ("mps", "no mps device")])
def test_a_device_this_machine_lacks_is_one_line(capsys, files, tmp_path, device, needle):
    """Was: a RuntimeError traceback from deep inside torch ('PyTorch is not linked with support for mps devices',
    'Tensor.item() cannot be called on meta tensors')."""
    import torch

    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has an mps device")
    out = tmp_path / "o"
    one_error(*cli(capsys, *sample_args(files, out, "--device", device)), f"--device {device}", needle, "cpu")
    one_error(*cli(capsys, "train-toy", *TINY_TRAIN, "--device", device, "--out", tmp_path / "m.safetensors"), f"--device {device}")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------
# option values
# ----------------------------------------------------------------------------------------------


def test_threads_beyond_the_cpus_are_refused(capsys, tmp_path):
    """Was: torch.set_num_threads(--threads) as given: --threads 100000 crashed the process (segfault, a stale lock left)."""
    n = (os.cpu_count() or 1) + 1
    out = tmp_path / "m.safetensors"
    one_error(*cli(capsys, "train-toy", *TINY_TRAIN, "--threads", n, "--out", out), f"--threads {n}", "CPUs", "at most")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("item", ["motion=NaN", "motion=Infinity", "motion=[1, -Infinity]"])
def test_non_finite_cond_is_refused_before_the_sweep_folder_is_made(capsys, files, tmp_path, item):
    """Was: refused at the first sampler call, after the folder and its sweep.json were written (JSON reads NaN)."""
    out = tmp_path / "new" / "o"
    one_error(*cli(capsys, *sample_args(files, out, "--cond", item)), f"--cond {item}", "not finite")
    assert list(tmp_path.iterdir()) == []


def test_cond_given_twice_is_refused(capsys, files, tmp_path):
    """Was: the last value silently won (--cond motion=1 --cond motion=2 sampled motion 2)."""
    out = tmp_path / "o"
    one_error(*cli(capsys, *sample_args(files, out, "--cond", "motion=1", "--cond", "motion=2")), "--cond motion=2",
              "already given", "once")
    assert not out.exists()


# ----------------------------------------------------------------------------------------------
# outputs: a file path given as a folder, an output that is the input
# ----------------------------------------------------------------------------------------------


def test_a_file_out_ending_in_a_slash_is_refused(capsys, files, tmp_path):
    """Was: ``--out new/`` (a folder that does not exist yet) wrote a *file* named ``new``."""
    d = f"{tmp_path / 'new'}/"
    one_error(*cli(capsys, "toy-stats", "--n", "2", "--quiet", "--out", d), "argument --out", "expected a file path", "ends in '/'")
    one_error(*cli(capsys, "train-toy", *TINY_TRAIN, "--out", d), "argument --out", "expected a file path")
    one_error(*cli(capsys, "stats", "--model", "toy", "--model-path", files["ckpt"], "--videos", files["short"], "--frames", F,
                   "--size", SIZE, "--device", "cpu", "--out", d), "argument --out", "expected a file path")
    assert list(tmp_path.iterdir()) == []


def test_an_out_that_is_the_input_checkpoint_is_refused_even_with_force(capsys, base_ckpt, tmp_path):
    """Was: ``--force`` replaced the --init base by its own fine-tune, and the --data-from checkpoint by statistics."""
    ckpt = tmp_path / "base.safetensors"
    ckpt.write_bytes(base_ckpt.read_bytes())
    one_error(*cli(capsys, "train-toy", "--variant", "naive", "--init", ckpt, "--steps", "1", "--batch-size", "2", "--quiet",
                   "--device", "cpu", "--force", "--out", ckpt), f"--out {ckpt} is the --init checkpoint", "another --out")
    one_error(*cli(capsys, "toy-stats", "--n", "2", "--quiet", "--data-from", ckpt, "--force", "--out", ckpt),
              f"--out {ckpt} is the --data-from checkpoint", "another --out")
    assert ckpt.read_bytes() == base_ckpt.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.safetensors"]


def test_init_that_is_a_folder_is_named_as_a_folder(capsys, tmp_path):
    """Was: 'init checkpoint X does not exist; train the base first' (the folder exists)."""
    one_error(*cli(capsys, "train-toy", "--variant", "naive", "--init", tmp_path, "--steps", "1", "--out", tmp_path / "n.safetensors"),
              f"--init {tmp_path} is a folder", "checkpoint file")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------
# options the run would ignore
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra, needle", [
    (["--temporal-levels", "1"], "--temporal-levels shapes"),
    (["--temporal-width", "8"], "--temporal-width shapes"),
    (["--temporal-levels", "1", "--temporal-width", "8"], "--temporal-levels and --temporal-width shape"),
])
def test_temporal_none_refuses_temporal_layer_options(capsys, tmp_path, extra, needle):
    """Was: trained without temporal layers, the given levels and width silently unused."""
    out = tmp_path / "m.safetensors"
    one_error(*cli(capsys, "train-toy", "--widths", "8,16", "--patch", "4", "--steps", "1", "--pretrain-steps", "0", "--batch-size",
                   "2", "--quiet", "--device", "cpu", "--temporal", "none", *extra, "--out", out), needle, "--temporal none")
    assert not out.exists()


# ----------------------------------------------------------------------------------------------
# sizes the machine cannot hold; folders a refused run made
# ----------------------------------------------------------------------------------------------


def test_out_of_memory_is_one_line_naming_what_to_make_smaller(capsys, tmp_path, monkeypatch):
    """Was: torch's allocator traceback ('DefaultCPUAllocator: can't allocate memory') for e.g. --batch-size 100000000000."""
    import torch

    from cilnb import toy_training

    def huge(*a, **k):
        return torch.empty(2**60, dtype=torch.uint8)  # what a huge --batch-size asks of the allocator

    monkeypatch.setattr(toy_training, "train", huge)
    one_error(*cli(capsys, "train-toy", *TINY_TRAIN, "--out", tmp_path / "new" / "m.safetensors"), "out of memory", "--batch-size")
    assert list(tmp_path.iterdir()) == []


def test_a_refused_run_leaves_no_folder_it_made(capsys, files, tmp_path):
    """Was: ``stats --out new/deep/s.safetensors`` over unusable videos left the empty folders new/deep."""
    out = tmp_path / "new" / "deep" / "s.safetensors"
    one_error(*cli(capsys, "stats", "--model", "toy", "--model-path", files["ckpt"], "--videos", files["short"], "--frames", F,
                   "--size", SIZE, "--device", "cpu", "--quiet", "--out", out), "none of the 1 video(s)", "too short")
    assert list(tmp_path.iterdir()) == []
    # a folder that was there before the run stays, and so does what it holds
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "note.txt").write_text("mine")
    out = tmp_path / "keep" / "sub" / "s.safetensors"
    one_error(*cli(capsys, "stats", "--model", "toy", "--model-path", files["ckpt"], "--videos", files["short"], "--frames", F,
                   "--size", SIZE, "--device", "cpu", "--quiet", "--out", out), "none of the 1 video(s)")
    assert sorted(p.name for p in (tmp_path / "keep").iterdir()) == ["note.txt"]


def test_a_name_too_long_is_one_line(capsys, files, tmp_path):
    """Was: an OSError traceback ('[Errno 36] File name too long') from the --out check."""
    out = tmp_path / ("x" * 300)
    one_error(*cli(capsys, *sample_args(files, out)), "File name too long", "shorter name")
    one_error(*cli(capsys, "stats", "--model", "toy", "--model-path", files["ckpt"], "--videos", files["short"], "--frames", F,
                   "--size", SIZE, "--device", "cpu", "--quiet", "--out", out / "s.safetensors"), "File name too long")
    assert list(tmp_path.iterdir()) == []


def test_the_model_name_is_recorded_as_cilnb_spells_it(capsys, files, tmp_path):
    """--model TOY ran, but recorded "TOY", so a rerun typed --model toy was refused as a run of other settings."""
    import json

    from cilnb.commands import main

    out = tmp_path / "o"
    argv = sample_args(files, out)
    argv[argv.index("--model") + 1] = "TOY"
    assert main([str(a) for a in argv]) == 0
    assert json.loads((out / "sweep.json").read_text())["model"] == "toy"
    assert main([str(a) for a in sample_args(files, out)]) == 0  # resumes (nothing left to do), not refused
    capsys.readouterr()

"""More command-line errors (the audit after issue 13): empty paths, files that are not what an output or input should be,
options a run would silently ignore, checks that ran only after a model loaded, and messages that did not name the
option. Same rules as tests/test_cli_errors.py (its helpers): one line on stderr, exit status 2, no traceback."""
from __future__ import annotations

import json
import warnings

import pytest
from safetensors.torch import load_file

from cilnb.analytic_init import MomentStats
from cilnb.models import toy
from test_cli_errors import TINY_TRAIN, cli, one_error

F, SIZE = 4, 16


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import imageio.v3 as iio
    from _media import smooth_frames, tiny_toy_files

    d = tmp_path_factory.mktemp("cli_more_inputs")
    ckpt, stats = tiny_toy_files(d, F, SIZE)
    (d / "vids" / "clip").mkdir(parents=True)
    for i, fr in enumerate(smooth_frames(F)):
        iio.imwrite(d / "vids" / "clip" / f"{i}.png", fr)
    (d / "novids").mkdir()
    (d / "novids" / "notes.txt").write_text("not a video")
    (d / "text.txt").write_text("a text file\n")
    return {"ckpt": ckpt, "stats": stats, "vids": d / "vids", "novids": d / "novids", "text": d / "text.txt"}


@pytest.fixture(scope="module")
def base_ckpt(tmp_path_factory):
    """A tiny base written by train-toy itself (its metadata records the recipe and data a fine-tune inherits)."""
    from cilnb.commands import main

    out = tmp_path_factory.mktemp("cli_more_base") / "base.safetensors"
    assert main(["train-toy", *TINY_TRAIN, "--out", str(out)]) == 0
    return out


def sample_args(files, out, *extra):
    return ["sample", "--model", "toy", "--model-path", files["ckpt"], "--images", "toy:1", "--M", "1.0", "--n-steps", "1",
            "--motion-method", "none", "--device", "cpu", "--quiet", "--out", out, *extra]


# ----------------------------------------------------------------------------------------------
# an empty path was the current folder (or the default path) without a word
# ----------------------------------------------------------------------------------------------

EMPTY_PATHS = [
    (lambda f, t: sample_args(f, ""), "--out"),  # was: a sweep written into the current folder
    (lambda f, t: [*sample_args(f, t / "o")[:6], "", *sample_args(f, t / "o")[7:]], "--images"),  # was: images of the current folder
    (lambda f, t: sample_args(f, t / "o", "--init", "analytic", "--stats", ""), "--stats"),
    (lambda f, t: [*sample_args(f, t / "o")[:4], "", *sample_args(f, t / "o")[5:]], "--model-path"),
    (lambda f, t: ["stats", "--model", "toy", "--videos", "", "--frames", "4", "--size", "16", "--out", t / "s.safetensors"], "--videos"),
    (lambda f, t: ["stats", "--model", "toy", "--videos", f["vids"], "--frames", "4", "--size", "16", "--out", ""], "--out"),
    (lambda f, t: ["train-toy", *TINY_TRAIN, "--out", ""], "--out"),  # was: the shipped data/toy_base.safetensors
    (lambda f, t: ["train-toy", "--variant", "naive", "--init", "", "--steps", "1", "--out", t / "n.safetensors"], "--init"),
    (lambda f, t: ["toy-stats", "--n", "2", "--quiet", "--out", ""], "--out"),  # was: the shipped data/toy_stats.safetensors
    (lambda f, t: ["finetune", "--model-path", "", "--videos", f["vids"], "--out", t / "ft"], "--model-path"),
    (lambda f, t: ["finetune", "--model-path", t, "--videos", "", "--out", t / "ft"], "--videos"),
    (lambda f, t: ["figures", "--profile", "smoke", "--only", "no_such_notebook", "--out", ""], "--out"),  # was: <repo>/figures
]


@pytest.mark.parametrize("argv, option", EMPTY_PATHS, ids=[f"{i}-{opt}" for i, (_, opt) in enumerate(EMPTY_PATHS)])
def test_an_empty_path_is_refused(capsys, files, tmp_path, monkeypatch, argv, option):
    monkeypatch.chdir(tmp_path)  # what an empty path meant
    monkeypatch.setenv("CILNB_DATA_DIR", str(tmp_path / "data"))  # and the defaults an empty --out fell back to
    one_error(*cli(capsys, *argv(files, tmp_path)), f"argument {option}", "expected a path", "''")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------
# outputs that exist and are something else
# ----------------------------------------------------------------------------------------------


def test_stats_does_not_overwrite_a_file_that_is_not_statistics(capsys, files, tmp_path):
    """Was: a checkpoint (or any file) at --out silently replaced by the statistics."""
    args = ["stats", "--model", "toy", "--model-path", files["ckpt"], "--videos", files["vids"], "--frames", F, "--size", SIZE,
            "--device", "cpu", "--quiet", "--out"]
    for src in (files["ckpt"], files["text"]):
        out = tmp_path / f"copy_{src.name}"
        out.write_bytes(src.read_bytes())
        one_error(*cli(capsys, *args, out), f"--out {out}", "not a cilnb statistics file", "choose another --out")
        assert out.read_bytes() == src.read_bytes()
    # statistics there (no progress file: copied, or its progress deleted) are still recomputed, as before
    out = tmp_path / "stats.safetensors"
    out.write_bytes(files["stats"].read_bytes())
    assert cli(capsys, *args, out)[0] == 0
    assert MomentStats.load(out).count == 1


def test_train_toy_out_that_is_not_a_checkpoint_names_out_and_force(capsys, files, tmp_path):
    """Was: 'toy checkpoint X is not a readable safetensors file ...; retrain it or restore the file' for a text file, and
    'exists and was trained with a different configuration' for a statistics file."""
    for src, needle in ((files["text"], "not a readable safetensors file"), (files["stats"], "cilnb.moment_stats")):
        out = tmp_path / f"copy_{src.name}"
        out.write_bytes(src.read_bytes())
        one_error(*cli(capsys, "train-toy", *TINY_TRAIN, "--out", out), f"{out} (--out)", "not a cilnb toy checkpoint", needle,
                  "--force")
        assert out.read_bytes() == src.read_bytes()


# ----------------------------------------------------------------------------------------------
# options the run would ignore
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra, needles", [
    (["--timenoise-a", "2"], ["--timenoise-a sets", "--variant base", "--variant timenoise"]),
    (["--t-p-mean", "1"], ["--t-p-mean shapes", "uniform", "--t-dist lognormal"]),
    (["--t-dist", "uniform", "--t-p-std", "2", "--t-p-mean", "1"], ["--t-p-mean and --t-p-std shape", "uniform"]),
], ids=["timenoise-a-on-base", "t-p-mean-on-uniform", "t-p-both-on-uniform"])
def test_train_toy_base_refuses_options_it_would_ignore(capsys, tmp_path, extra, needles):
    out = tmp_path / "m.safetensors"
    one_error(*cli(capsys, "train-toy", *TINY_TRAIN, *extra, "--out", out), *needles)
    assert not out.exists()


@pytest.mark.parametrize("extra, needles", [
    (["--variant", "naive", "--timenoise-beta-m", "3"], ["--timenoise-beta-m sets", "--variant naive"]),
    (["--variant", "naive", "--timenoise-a", "3", "--timenoise-beta-m", "3"], ["--timenoise-a and --timenoise-beta-m set"]),
    (["--variant", "timenoise", "--pretrain-steps", "5"], ["--pretrain-steps", "--variant base"]),
    (["--variant", "naive", "--t-p-std", "2"], ["--t-p-std", "uniform (the --init's)", "--t-dist lognormal"]),
], ids=["beta-m-on-naive", "both-on-naive", "pretrain-on-fine-tune", "t-p-std-on-inherited-uniform"])
def test_train_toy_fine_tune_refuses_options_it_would_ignore(capsys, base_ckpt, tmp_path, extra, needles):
    out = tmp_path / "ft.safetensors"
    one_error(*cli(capsys, "train-toy", *extra, "--init", base_ckpt, "--steps", "1", "--batch-size", "2", "--quiet", "--device", "cpu",
                   "--out", out), *needles)
    assert not out.exists()


def test_train_toy_timenoise_settings_still_apply_to_timenoise(capsys, base_ckpt, tmp_path):
    out = tmp_path / "tn.safetensors"
    assert cli(capsys, "train-toy", "--variant", "timenoise", "--init", base_ckpt, "--timenoise-beta-m", "3", "--steps", "1",
               "--batch-size", "2", "--quiet", "--device", "cpu", "--out", out)[0] == 0
    tc = toy.read_metadata(out)["train_config"]
    assert (tc["timenoise_a"], tc["timenoise_beta_m"]) == (5.0, 3.0)  # the default a, the given beta_m


def test_train_toy_init_given_as_a_shipped_name_says_which_path(capsys, tmp_path, monkeypatch):
    """Was: 'init checkpoint base does not exist; train the base first' (the shipped base exists: --init takes a path)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CILNB_DATA_DIR", str(tmp_path / "data"))
    one_error(*cli(capsys, "train-toy", "--variant", "naive", "--init", "base", "--steps", "1", "--out", tmp_path / "n.safetensors"),
              "--init base", "shipped checkpoint", str(tmp_path / "data" / "toy_base.safetensors"))


def test_finetune_naive_refuses_timenoise_settings_and_cond_drop_names_the_option(capsys, files, tmp_path):
    """Was: --a / --beta-m silently unused by --naive; --cond-drop 1 'cond_drop must lie in [0, 1)' (not the option)."""
    base = ["finetune", "--model-path", tmp_path, "--videos", files["vids"], "--out", tmp_path / "ft", "--device", "cpu"]
    one_error(*cli(capsys, *base, "--naive", "--beta-m", "100"), "--beta-m sets timenoise", "--naive")
    one_error(*cli(capsys, *base, "--naive", "--a", "3", "--beta-m", "100"), "--a and --beta-m set")
    one_error(*cli(capsys, *base, "--cond-drop", "1"), "argument --cond-drop", "[0, 1)")


# ----------------------------------------------------------------------------------------------
# checks that ran only after the model loaded (minutes for SVD)
# ----------------------------------------------------------------------------------------------


def _boom(*a, **k):
    raise AssertionError("the model was loaded before the videos were checked")


def test_videos_are_checked_before_the_model_loads(capsys, files, tmp_path, monkeypatch):
    from cilnb import models
    from cilnb.commands import common

    (tmp_path / "svd").mkdir()
    monkeypatch.setattr(models, "load", _boom)  # stats: after load_model's own option checks, before the weights
    stats = ["stats", "--model", "svd", "--model-path", tmp_path / "svd", "--frames", "4", "--size", "16", "--device", "cpu",
             "--out", tmp_path / "s.safetensors", "--videos"]
    one_error(*cli(capsys, *stats, files["novids"]), "no videos found", str(files["novids"]), "--videos")
    monkeypatch.setattr(common, "load_model", _boom)  # finetune: before load_model
    ft = ["finetune", "--model-path", tmp_path / "svd", "--out", tmp_path / "ft", "--device", "cpu", "--videos"]
    one_error(*cli(capsys, *ft, tmp_path / "nope"), "--videos", "not a folder")
    one_error(*cli(capsys, *ft, files["text"]), "--videos", "not a folder")
    one_error(*cli(capsys, *ft, files["novids"]), "no videos found", "--videos")


# ----------------------------------------------------------------------------------------------
# sample: messages that name the option, conditioning refused before anything is written
# ----------------------------------------------------------------------------------------------


def test_dtype_is_refused_naming_the_option(capsys, files, tmp_path):
    """Was: 'dtype must be auto, float32, float16 or bfloat16, got ...' (not the option)."""
    one_error(*cli(capsys, *sample_args(files, tmp_path / "o", "--dtype", "float64")), "argument --dtype", "float64", "bfloat16")
    one_error(*cli(capsys, "stats", "--model", "toy", "--videos", files["vids"], "--frames", "4", "--size", "16", "--out",
                   tmp_path / "s.safetensors", "--dtype", "Float32"), "argument --dtype", "Float32")
    assert not (tmp_path / "o").exists()


def test_a_normalised_start_out_of_range_names_m_and_native(capsys, files, tmp_path):
    """Was: 'start M must lie in (0, 1] (normalised; 1 = T), got 1.5' (neither --M nor --native)."""
    argv = sample_args(files, tmp_path / "o")
    argv[argv.index("--M") + 1] = "700"
    one_error(*cli(capsys, *argv), "--M 700", "(0, 1]", "--native")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("option, values, needle", [
    ("--M", ["1.0", "0.5", "1.0"], "--M lists 1.0"),
    ("--seeds", ["0", "3", "3"], "--seeds lists 3"),
    ("--init", ["standard", "standard"], "--init lists standard"),
])
def test_repeated_grid_values_name_the_option(capsys, files, tmp_path, option, values, needle):
    """Was: 'M values, init modes and seeds must each be distinct' (which option, which value?)."""
    argv = sample_args(files, tmp_path / "o")
    if option == "--M":
        i = argv.index("--M")
        argv[i + 1 : i + 2] = values
    else:
        argv += [option, *values]
    one_error(*cli(capsys, *argv), needle, "more than once")


@pytest.mark.parametrize("extra, option", [
    (["--motion-bucket-id", "127"], "--motion-bucket-id"),
    (["--cond-fps", "7"], "--cond-fps"),
    (["--noise-aug-strength", "0.02"], "--noise-aug-strength"),
    (["--cond", "foo=1"], "--cond foo=..."),
])
def test_conditioning_the_toy_does_not_take_is_refused_before_anything_is_written(capsys, files, tmp_path, extra, option):
    """Was: 'unknown toy conditioning [...]' at the first sampler call, after sweep.json was written (not the option)."""
    out = tmp_path / "o"
    one_error(*cli(capsys, *sample_args(files, out, *extra)), f"{option}: the toy model has no", "motion", f"drop {option}")
    assert not (out / "sweep.json").exists()


def test_motion_conditioning_of_the_toy_still_runs(capsys, files, tmp_path):
    out = tmp_path / "o"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cli(capsys, *sample_args(files, out, "--cond", "motion=2.0"))[0] == 0
    assert json.loads((out / "sweep.json").read_text())["cond_kwargs"] == {"motion": 2.0}
    assert len(load_file(str(next((out / "videos").glob("*.safetensors"))))) >= 1


def test_a_stats_folder_is_named_as_a_folder(capsys, files, tmp_path):
    """Was: 'FileNotFoundError: no statistics file at <folder>' (the folder exists)."""
    one_error(*cli(capsys, *sample_args(files, tmp_path / "o", "--init", "analytic", "--stats", files["vids"])),
              f"--stats {files['vids']} is a folder", "statistics file")
    assert not (tmp_path / "o").exists()


def test_figures_unknown_notebook_names_only(capsys, tmp_path):
    one_error(*cli(capsys, "figures", "--profile", "smoke", "--only", "no_such_notebook", "--out", tmp_path / "figs"),
              "unknown notebook", "no_such_notebook", "--only", "timenoise")


# ----------------------------------------------------------------------------------------------
# extra conditioning the model refuses: named before the sweep folder is made
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("item, needle", [
    ("y=1", "got y twice"),  # was: Cond's own message, after sweep.json was written
    ("motion=abc", "must be numbers"),  # was: refused at the first sampler call, sweep.json already written
    ("motion=[1,2]", "2 values for 1 video"),  # was: a per-batch-position list, applied to whichever units shared a batch
])
def test_sample_cond_the_model_refuses(capsys, files, tmp_path, item, needle):
    out = tmp_path / "o"
    one_error(*cli(capsys, *sample_args(files, out, "--cond", item)), "--cond", needle)
    assert not out.exists()


def test_sample_cond_one_motion_label_samples(capsys, files, tmp_path):
    assert cli(capsys, *sample_args(files, tmp_path / "o", "--cond", "motion=[3]"))[0] == 0
    assert (tmp_path / "o" / "results.csv").is_file()


def test_toy_stats_of_another_shape_are_refused(capsys, files, tmp_path):
    """Was: statistics at --frames / --size the toy cannot use, written after encoding every video."""
    base = ["stats", "--model", "toy", "--model-path", files["ckpt"], "--videos", files["vids"], "--device", "cpu", "--quiet",
            "--out", tmp_path / "s.safetensors"]
    one_error(*cli(capsys, *base, "--frames", F, "--size", 2 * SIZE), f"--size {2 * SIZE}x{2 * SIZE}", f"pass --size {SIZE}x{SIZE}")
    one_error(*cli(capsys, *base, "--frames", F + 1, "--size", SIZE), f"--frames {F + 1}", f"pass --frames {F}")
    assert not (tmp_path / "s.safetensors").exists()

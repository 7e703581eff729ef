"""Command-line errors (issue 13): a user error is one line on stderr naming the problem and the fix, exit status 2;
``--debug`` shows the traceback; unexpected errors keep theirs. Most cases run ``cilnb.commands.main`` in-process (the
same entry point as ``python -m cilnb``); a few run the real command in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import pytest
import torch
from safetensors.torch import load_file, save_file

from cilnb import data
from cilnb._util import JobLock, UserError, check_output_path, clean_tmp_files
from cilnb.analytic_init import MomentStats
from cilnb.commands import main
from cilnb.models import toy

F, SIZE = 4, 16
TINY_TRAIN = ["--widths", "8,16", "--patch", "4", "--temporal-levels", "1", "--temporal-width", "8", "--steps", "4",
              "--pretrain-steps", "2", "--batch-size", "2", "--quiet", "--device", "cpu"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_inputs")
    torch.manual_seed(0)
    net = toy.build(frames=F, size=SIZE, widths=(8, 16), temporal_levels=(1,), temporal_width=8, emb_dim=32).net
    ckpt = toy.save_checkpoint(d / "toy.safetensors", net, {})
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(float("nan"))
    nan_ckpt = toy.save_checkpoint(d / "nan_toy.safetensors", net, {})
    st = MomentStats().update(data.generate(8, seed=7, frames=F, size=SIZE, flow=False).videos)
    st.save(d / "stats.safetensors")
    MomentStats().update(torch.randn(4, 2, 1, 8, 8, dtype=torch.float64)).save(d / "wrong_shape.safetensors")
    raw = (d / "toy.safetensors").read_bytes()
    (d / "truncated.safetensors").write_bytes(raw[: len(raw) // 2])
    (d / "garbage.safetensors").write_bytes(b"not a safetensors file at all" * 4)
    (d / "afile").write_text("a file, not a folder")
    return {"ckpt": ckpt, "nan": nan_ckpt, "stats": d / "stats.safetensors", "wrong": d / "wrong_shape.safetensors",
            "truncated": d / "truncated.safetensors", "garbage": d / "garbage.safetensors", "afile": d / "afile"}


def cli(capsys, *argv) -> tuple[int, str]:
    """Run ``cilnb argv`` in-process: (exit status, stderr)."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        rc = exc.code
    return rc, capsys.readouterr().err


def one_error(rc: int, err: str, *needles: str) -> str:
    """Exit 2, exactly one line on stderr, no traceback, and every needle in it."""
    lines = err.strip().splitlines()
    assert rc == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n.lower() in lines[0].lower(), (n, lines[0])
    return lines[0]


def sample_args(files, out, *extra):
    return ["sample", "--model", "toy", "--model-path", files["ckpt"], "--images", "toy:1", "--M", "1.0", "--n-steps", "1",
            "--motion-method", "none", "--device", "cpu", "--quiet", "--out", out, *extra]


# ----------------------------------------------------------------------------------------------
# option values: argparse types name the option (one line, exit 2)
# ----------------------------------------------------------------------------------------------

BAD_OPTIONS = [
    (["train-toy", "--widths", "abc"], "--widths"),
    (["train-toy", "--widths", "8,x"], "--widths"),
    (["train-toy", "--temporal-levels", "one"], "--temporal-levels"),
    (["train-toy", "--steps", "-1"], "--steps"),
    (["train-toy", "--steps", "1.5"], "--steps"),
    (["train-toy", "--lr", "abc"], "--lr"),
    (["train-toy", "--lr", "-1"], "--lr"),
    (["train-toy", "--lr", "nan"], "--lr"),
    (["train-toy", "--batch-size", "0"], "--batch-size"),
    (["train-toy", "--ema", "1.5"], "--ema"),
    (["train-toy", "--motion-dropout", "2"], "--motion-dropout"),
    (["train-toy", "--checkpoint-every", "0"], "--checkpoint-every"),
    (["train-toy", "--patch", "0"], "--patch"),
    (["train-toy", "--variant", "fancy"], "--variant"),
    (["train-toy", "--image-dropout", "2"], "--image-dropout"),
    (["train-toy", "--pan", "-1"], "--pan"),
    (["train-toy", "--t-dist", "fancy"], "--t-dist"),
    (["train-toy", "--speed-power", "0"], "--speed-power"),
    (["train-toy", "--motion-label-noise", "-0.5"], "--motion-label-noise"),
    (["train-toy", "--motion-label-noise", "inf"], "--motion-label-noise"),
    (["train-toy", "--no-motion-cond", "--motion-label-noise", "0.5", "--steps", "1", "--pretrain-steps", "0", "--out", "x.safetensors"],
     "--motion-label-noise"),
    (["train-toy", "--motion-label", "pan"], "--motion-label"),
    (["train-toy", "--no-motion-cond", "--motion-label", "flow", "--steps", "1", "--pretrain-steps", "0", "--out", "x.safetensors"],
     "--motion-label"),
    (["toy-stats", "--n", "0"], "--n"),
    (["toy-stats", "--n", "many"], "--n"),
    (["stats", "--model", "toy", "--videos", ".", "--frames", "0", "--size", "8", "--out", "x"], "--frames"),
    (["stats", "--model", "toy", "--videos", ".", "--frames", "2", "--size", "big", "--out", "x"], "--size"),
    (["stats", "--model", "toy", "--videos", ".", "--frames", "2", "--size", "8", "--out", "x", "--fps", "0"], "--fps"),
    (["stats", "--model", "toy", "--videos", ".", "--frames", "2", "--size", "8", "--out", "x", "--batch-size", "-2"], "--batch-size"),
    (["sample", "--model", "toy", "--images", "toy:1", "--M", "abc", "--out", "x"], "--M"),
    (["sample", "--model", "toy", "--images", "toy:1", "--M", "inf", "--out", "x"], "--M"),
    (["sample", "--model", "toy", "--images", "toy:1", "--M", "1", "--seeds", "x", "--out", "x"], "--seeds"),
    (["sample", "--model", "toy", "--images", "toy:1", "--M", "1", "--n-steps", "0", "--out", "x"], "--n-steps"),
    (["sample", "--model", "toy", "--images", "toy:1", "--M", "1", "--batch-size", "0", "--out", "x"], "--batch-size"),
    (["sample", "--model", "toy", "--images", "toy:1", "--M", "1", "--max-units", "-1", "--out", "x"], "--max-units"),
    (["sample", "--model", "toy", "--images", "toy:1", "--M", "1", "--init", "fancy", "--out", "x"], "--init"),
    (["sample", "--model", "toy", "--images", "toy:1", "--M", "1"], "--out"),
    (["finetune", "--model-path", "p", "--videos", "v", "--out", "o", "--lr", "fast"], "--lr"),
    (["finetune", "--model-path", "p", "--videos", "v", "--out", "o", "--cond-drop", "1.5"], "--cond-drop"),
    (["nosuchcommand"], "invalid choice"),
]


@pytest.mark.parametrize("argv, needle", BAD_OPTIONS, ids=[" ".join(a[:1] + a[-2:]) for a, _ in BAD_OPTIONS])
def test_bad_option_values_name_the_option(capsys, argv, needle):
    one_error(*cli(capsys, *argv), needle)


# ----------------------------------------------------------------------------------------------
# misleading messages, outputs checked before work, data not overwritten
# ----------------------------------------------------------------------------------------------


def test_toy_dtype_float16_is_refused_in_one_line(capsys, tmp_path):
    line = one_error(*cli(capsys, "sample", "--model", "toy", "--images", "toy:1", "--M", "1", "--dtype", "float16",
                          "--out", tmp_path / "s"), "--dtype float16", "float32 or bfloat16")
    assert "Traceback" not in line and not (tmp_path / "s").exists()


def test_unknown_model_says_unknown_model_and_lists_the_models(capsys, tmp_path):
    line = one_error(*cli(capsys, "stats", "--model", "nosuch", "--videos", tmp_path, "--frames", "2", "--size", "8", "--out", tmp_path / "s.st"),
                     "unknown model", "nosuch", "svd", "toy")
    assert "model-path" not in line
    one_error(*cli(capsys, "sample", "--model", "nosuch", "--images", "toy:1", "--M", "1", "--out", tmp_path / "o"), "unknown model")
    one_error(*cli(capsys, "stats", "--model", "svd", "--videos", tmp_path, "--frames", "2", "--size", "8", "--out", tmp_path / "s.st"), "--model-path")


def test_native_start_that_looks_normalised_is_refused(capsys, files, tmp_path):
    one_error(*cli(capsys, *sample_args(files, tmp_path / "o", "--native")), "native start 1", "drop --native")
    assert not (tmp_path / "o" / "videos").exists()
    # a plausible native start (timestep 500 of 1000) runs
    argv = sample_args(files, tmp_path / "o3", "--native")
    argv[argv.index("--M") + 1] = "500"
    assert cli(capsys, *argv)[0] == 0


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a command gets as far as loading a model or training."""
    from cilnb import toy_training
    from cilnb.commands import common

    def boom(*a, **k):
        raise AssertionError("work started before the output location was checked")

    monkeypatch.setattr(common, "load_model", boom)
    monkeypatch.setattr(toy_training, "train", boom)


def test_unusable_out_fails_before_any_work(capsys, files, tmp_path, no_work):
    afile = files["afile"]
    (tmp_path / "vids").mkdir()
    one_error(*cli(capsys, "stats", "--model", "toy", "--videos", tmp_path / "vids", "--frames", "2", "--size", "8", "--out", afile / "s.safetensors"),
              "--out", "is a file")
    one_error(*cli(capsys, "stats", "--model", "toy", "--videos", tmp_path / "vids", "--frames", "2", "--size", "8", "--out", tmp_path),
              "--out", "is a folder")
    one_error(*cli(capsys, "train-toy", *TINY_TRAIN, "--out", afile / "sub" / "m.safetensors"), "--out", "is a file")
    one_error(*cli(capsys, *sample_args(files, afile)), "--out", "not a folder")
    one_error(*cli(capsys, "stats", "--model", "toy", "--videos", tmp_path / "nope", "--frames", "2", "--size", "8", "--out", tmp_path / "s.st"),
              "--videos", "not a folder")


def test_check_output_path_refuses_unwritable_folders(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(UserError, match="not writable"):
            check_output_path(ro / "deeper" / "x.safetensors")
    finally:
        ro.chmod(0o700)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs a Linux /proc")
def test_check_output_path_refuses_a_folder_nothing_can_be_made_in(tmp_path, capsys):
    # os.access says yes to root under /proc; the check makes and removes a folder instead, before any work
    with pytest.raises(UserError, match=r"--out /proc/cilnb-x/y: (nothing can be created in /proc|/proc is not writable)"):
        check_output_path("/proc/cilnb-x/y", folder=True)
    one_error(*cli(capsys, "sample", "--model", "toy", "--images", "toy:2", "--M", "1.0", "--n-steps", "1", "--out", "/proc/cilnb-x"), "--out", "/proc")
    check_output_path(tmp_path / "a" / "b.safetensors")
    assert list(tmp_path.iterdir()) == []  # the check leaves nothing behind


def test_toy_stats_refuses_to_overwrite_the_shipped_file(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CILNB_DATA_DIR", str(tmp_path))
    shipped = tmp_path / "toy_stats.safetensors"
    shipped.write_bytes(b"the shipped statistics")
    one_error(*cli(capsys, "toy-stats", "--n", "2", "--quiet"), str(shipped), "--out", "--force")
    assert shipped.read_bytes() == b"the shipped statistics"
    assert cli(capsys, "toy-stats", "--n", "2", "--quiet", "--force")[0] == 0
    assert MomentStats.load(shipped).count == 2
    other = tmp_path / "mine.safetensors"
    assert cli(capsys, "toy-stats", "--n", "2", "--quiet", "--out", other)[0] == 0 and other.is_file()


def test_finetune_variant_without_init_and_architecture_on_fine_tune(capsys, files):
    one_error(*cli(capsys, "train-toy", "--variant", "naive"), "--init")
    one_error(*cli(capsys, "train-toy", "--variant", "naive", "--init", files["ckpt"], "--widths", "8,16"), "architecture")


# ----------------------------------------------------------------------------------------------
# non-finite values: diverged training, NaN checkpoints
# ----------------------------------------------------------------------------------------------


def test_diverged_training_fails_loudly_and_writes_nothing(capsys, tmp_path):
    out = tmp_path / "m.safetensors"
    line = one_error(*cli(capsys, "train-toy", *TINY_TRAIN, "--lr", "1e6", "--checkpoint-every", "1", "--out", out), "diverged", "--lr")
    assert not out.exists()  # never an all-NaN checkpoint
    state = tmp_path / "m.resume.safetensors"
    assert state.is_file() and str(state.name) in line  # the last good resume state is kept ...
    assert all(torch.isfinite(v).all() for k, v in load_file(str(state)).items() if v.is_floating_point())  # ... and is finite
    assert not list(tmp_path.glob("*.lock")) and not list(tmp_path.glob(".*.tmp"))


def test_sampling_a_nan_checkpoint_writes_nothing_and_the_folder_stays_usable(capsys, files, tmp_path):
    out = tmp_path / "o"
    argv = sample_args(files, out)
    argv[argv.index("--model-path") + 1] = str(files["nan"])
    one_error(*cli(capsys, *argv), "NaN", str(files["nan"]))
    assert not list((out / "videos").glob("*")) if (out / "videos").exists() else True
    # the rerun with a good checkpoint is not refused (no finished unit: the settings are replaced)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cli(capsys, *sample_args(files, out))[0] == 0
    assert len(list((out / "videos").glob("*.safetensors"))) == 1
    assert cli(capsys, *sample_args(files, out))[0] == 0  # and reruns cleanly


def test_wrong_shape_stats_do_not_lock_the_folder(capsys, files, tmp_path):
    out = tmp_path / "o"
    rc, err = cli(capsys, *sample_args(files, out, "--init", "analytic", "--stats", files["wrong"]))
    assert rc == 2 and len(err.strip().splitlines()) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cli(capsys, *sample_args(files, out, "--init", "analytic", "--stats", files["stats"]))[0] == 0
    assert json.loads((out / "sweep.json").read_text())["stats_sha256"]


# ----------------------------------------------------------------------------------------------
# files: corrupt, truncated, FIFOs
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["truncated", "garbage"])
def test_corrupt_safetensors_name_the_file(capsys, files, tmp_path, bad):
    path = files[bad]
    # a toy checkpoint passed as --init
    one_error(*cli(capsys, "train-toy", "--variant", "naive", "--init", path, "--steps", "1", "--out", tmp_path / "n.safetensors"), str(path))
    # a toy checkpoint passed as --model-path
    one_error(*cli(capsys, *sample_args(files, tmp_path / "o")[:4], path, *sample_args(files, tmp_path / "o")[5:]), str(path))
    # statistics
    one_error(*cli(capsys, *sample_args(files, tmp_path / "o2", "--init", "analytic", "--stats", path)), str(path))


def test_corrupt_resume_state_names_the_file(capsys, files, tmp_path):
    out = tmp_path / "m.safetensors"
    state = tmp_path / "m.resume.safetensors"
    state.write_bytes(files["truncated"].read_bytes())
    one_error(*cli(capsys, "train-toy", *TINY_TRAIN, "--out", out), str(state), "delete it")
    save_file({"x": torch.zeros(1)}, str(state), metadata={"format": "something else"})
    one_error(*cli(capsys, "train-toy", *TINY_TRAIN, "--out", out), str(state), "not a cilnb toy training state")


def test_corrupt_sweep_json_names_the_file_and_the_fix(capsys, files, tmp_path):
    out = tmp_path / "o"
    assert cli(capsys, *sample_args(files, out))[0] == 0
    (out / "sweep.json").write_text('{"format": "cilnb.sweep", "model": ')
    one_error(*cli(capsys, *sample_args(files, out)), str(out / "sweep.json"), "corrupt", "delete")
    # without finished units a corrupt file is simply replaced
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "sweep.json").write_text("{oops")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cli(capsys, *sample_args(files, fresh))[0] == 0


def test_corrupt_stats_progress_names_the_file(tmp_path):
    import imageio.v3 as iio
    from _media import smooth_frames

    from cilnb import stats as S

    (tmp_path / "v" / "clip").mkdir(parents=True)
    for i, fr in enumerate(smooth_frames(2)):
        iio.imwrite(tmp_path / "v" / "clip" / f"{i}.png", fr)
    prog = tmp_path / "s.safetensors.progress.json"
    prog.write_text("{half")
    with pytest.raises(ValueError, match="progress.json is unreadable.*--no-resume"):
        S.compute_stats(toy.load(str(_fixture_ckpt(tmp_path)), device="cpu"), tmp_path / "v", tmp_path / "s.safetensors", frames=2, size=8,
                        show_progress=False)


def _fixture_ckpt(tmp_path):
    net = toy.build(frames=F, size=SIZE, widths=(8, 16), temporal_levels=(1,), temporal_width=8, emb_dim=32).net
    return toy.save_checkpoint(tmp_path / "t.safetensors", net, {})


def test_fifo_named_like_a_video_is_skipped_not_read(tmp_path):
    from cilnb import io

    (tmp_path / "v").mkdir()
    os.mkfifo(tmp_path / "v" / "x.mp4")
    (tmp_path / "v" / "frames").mkdir()
    os.mkfifo(tmp_path / "v" / "frames" / "000.png")
    with pytest.warns(UserWarning, match="x.mp4: not a regular file"):
        found = io.find_videos(tmp_path / "v")
    assert found == [tmp_path / "v" / "frames"] and io.image_files(tmp_path / "v" / "frames") == []


def test_stats_over_a_folder_with_a_fifo_finishes(tmp_path):
    """The real command in a subprocess with a timeout: it must not block on the FIFO."""
    pytest.importorskip("av")
    import imageio.v3 as iio
    from _media import smooth_frames

    (tmp_path / "v").mkdir()
    iio.imwrite(tmp_path / "v" / "a.mp4", smooth_frames(4, seed=1), plugin="pyav", codec="libx264", fps=8)
    os.mkfifo(tmp_path / "v" / "x.mp4")
    proc = _run_cli("stats", "--model", "toy", "--model-path", _fixture_ckpt(tmp_path), "--videos", tmp_path / "v", "--frames", "4",
                    "--size", "16", "--out", tmp_path / "s.safetensors", "--device", "cpu", "--quiet", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "x.mp4: not a regular file" in proc.stderr and MomentStats.load(tmp_path / "s.safetensors").count == 1


# ----------------------------------------------------------------------------------------------
# concurrent runs, leftovers
# ----------------------------------------------------------------------------------------------


def test_live_lock_refuses_a_second_run_and_a_dead_one_is_taken_over(capsys, files, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    import socket

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / "sample.lock").write_text(json.dumps({"pid": live.pid, "host": socket.gethostname(), "started": 0}))
        one_error(*cli(capsys, *sample_args(files, out)), "in use by another run", str(live.pid), "sample.lock")
    finally:
        live.kill()
        live.wait()
    with pytest.warns(UserWarning, match="stale lock"):  # the process is gone now
        assert cli(capsys, *sample_args(files, out))[0] == 0
    assert not (out / "sample.lock").exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc to see a process's state")
def test_a_lock_of_a_killed_run_not_yet_reaped_is_taken_over(tmp_path):
    """Rerunning right after ``kill -9``: the killed run may still be a zombie (exited, not reaped), which
    ``os.kill(pid, 0)`` reports as alive. Its lock is stale all the same."""
    import socket
    import time

    from cilnb._util import _pid_alive

    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert _pid_alive(killed.pid)
        killed.kill()
        for _ in range(200):  # until the kernel marks it exited; it stays a zombie: nobody has waited for it yet
            if not _pid_alive(killed.pid):
                break
            time.sleep(0.01)
        os.kill(killed.pid, 0)  # still there for the OS
        assert not _pid_alive(killed.pid)
        lock = tmp_path / "x.lock"
        lock.write_text(json.dumps({"pid": killed.pid, "host": socket.gethostname(), "started": 0}))
        with pytest.warns(UserWarning, match=f"process {killed.pid} is gone"):
            with JobLock(lock, "x"):
                assert json.loads(lock.read_text())["pid"] == os.getpid()
    finally:
        killed.kill()
        killed.wait()


def test_job_lock_and_tmp_cleanup_helpers(tmp_path):
    lock = tmp_path / "x.lock"
    with JobLock(lock, "x"):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
        with pytest.raises(UserError, match="in use"):
            JobLock(lock, "x").acquire()
    assert not lock.exists()
    (tmp_path / ".a.safetensors.abc123.tmp").write_bytes(b"")
    (tmp_path / ".b.json.zz.tmp").write_bytes(b"")
    (tmp_path / "keep.tmp").write_bytes(b"")
    assert [p.name for p in clean_tmp_files(tmp_path, ["a.safetensors"])] == [".a.safetensors.abc123.tmp"]
    assert [p.name for p in clean_tmp_files(tmp_path)] == [".b.json.zz.tmp"]
    assert (tmp_path / "keep.tmp").exists()


# ----------------------------------------------------------------------------------------------
# --debug and unexpected errors
# ----------------------------------------------------------------------------------------------


def _run_cli(*argv, timeout=120):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "default"}
    return subprocess.run([sys.executable, "-m", "cilnb", *map(str, argv)], capture_output=True, text=True, timeout=timeout, env=env)


def test_debug_shows_the_traceback_before_or_after_the_command(tmp_path):
    base = ["--model", "nosuch", "--videos", str(tmp_path), "--frames", "2", "--size", "8", "--out", str(tmp_path / "s.st")]
    for argv in (["--debug", "stats", *base], ["stats", *base, "--debug"]):  # in-process: main re-raises with --debug
        with pytest.raises(ValueError, match="unknown model"):
            main(argv)
    p = _run_cli("--debug", "stats", *base)  # the real command: Python's traceback and exit status 1
    assert p.returncode == 1 and "Traceback (most recent call last)" in p.stderr and "unknown model" in p.stderr


def test_unexpected_errors_keep_their_traceback(capsys, monkeypatch, tmp_path):
    from cilnb.commands import stats as stats_cmd

    def bug(args):
        raise RuntimeError("a bug, not a user error")

    monkeypatch.setattr(stats_cmd, "run", bug)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["stats", "--model", "toy", "--videos", str(tmp_path), "--frames", "2", "--size", "8", "--out", str(tmp_path / "s")])


def test_a_nan_video_left_by_an_older_version_is_named_not_a_json_error(capsys, files, tmp_path):
    out = tmp_path / "o"
    assert cli(capsys, *sample_args(files, out))[0] == 0
    (vid,) = (out / "videos").glob("*.safetensors")
    t = load_file(str(vid))
    save_file({k: torch.full_like(v, float("nan")) for k, v in t.items()}, str(vid))
    for p in (out / "results").glob("*.jsonl"):  # the old version failed before writing the row
        p.unlink()
    line = one_error(*cli(capsys, *sample_args(files, out)), str(vid), "NaN", "delete it")
    assert "JSON" not in line
    vid.unlink()
    assert cli(capsys, *sample_args(files, out))[0] == 0
    assert torch.isfinite(load_file(str(vid))["video"]).all()


@pytest.mark.parametrize("extra, needles", [
    (["--remedy", "nosuch"], ["unknown remedy", "freeinit"]),
    (["--remedy", "freeinit", "--remedy-arg", "iterations=0"], ["iterations"]),
    (["--remedy", "freeinit", "--remedy-arg", "iterations"], ["key=value"]),
    (["--remedy", "freeinit", "--remedy-arg", "nosuch=1"], ["nosuch"]),
    (["--remedy-arg", "iterations=2"], ["--remedy NAME"]),
    (["--remedy", "analytic_init"], ["--stats"]),
])
def test_bad_remedies_are_one_line_errors(capsys, files, tmp_path, extra, needles):
    one_error(*cli(capsys, *sample_args(files, tmp_path / "out", *extra)), *needles)
    assert not (tmp_path / "out" / "sweep.json").exists()


def test_sample_with_a_remedy_runs(capsys, files, tmp_path):
    rc, err = cli(capsys, *sample_args(files, tmp_path / "out", "--remedy", "freeinit", "--remedy-arg", "iterations=2"))
    assert rc == 0, err
    assert json.loads((tmp_path / "out" / "sweep.json").read_text())["remedy"]["settings"]["iterations"] == 2


@pytest.mark.parametrize("extra, needles", [
    (["--size", "7x9"], ["--size 7x9 is not square", f"takes {SIZE}x{SIZE}"]),
    (["--size", "7"], ["--size 7x7", "leave --size out"]),
    (["--frames", "3"], ["--frames 3", f"built for {F} frames"]),
], ids=["size", "size-square", "frames"])
def test_a_toy_shape_the_network_cannot_take_is_refused_before_anything_is_written(capsys, files, tmp_path, extra, needles):
    out = tmp_path / "o"
    one_error(*cli(capsys, *sample_args(files, out, *extra)), *needles)
    assert not out.exists()
    assert cli(capsys, *sample_args(files, out, "--size", f"{SIZE}x{SIZE}", "--frames", str(F)))[0] == 0


def test_statistics_that_no_init_uses_are_named_in_a_note(capsys, files, tmp_path):
    """``--stats`` with only standard noise is not an error, but the statistics would go unused silently: one note."""
    rc, err = cli(capsys, *sample_args(files, tmp_path / "a", "--stats", files["stats"]))
    assert rc == 0 and err.count("note: --stats is used only by --init analytic") == 1
    rc, err = cli(capsys, *sample_args(files, tmp_path / "b", "--stats", files["stats"], "--init", "standard", "analytic"))
    assert rc == 0 and "note:" not in err

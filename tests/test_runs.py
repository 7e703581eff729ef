"""``cilnb.runs`` and ``python -m cilnb sample``: the grid, batch independence, incremental storage, resume and torchrun sharding."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cilnb import data, io, runs
from cilnb.analytic_init import MomentStats
from cilnb.models import toy
from cilnb.sampling import sample

F, SIZE = 4, 16
GRID = dict(Ms=[1.0, 0.5], inits=["standard", "analytic"], seeds=[0, 1], n_steps=2, batch_size=3, show_progress=False,
            motion_kwargs={"resize": None})  # farneback at the toy's own 16 x 16
N_UNITS = 2 * 2 * 2 * 2  # M x init x seed x image (toy:2)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from _media import tiny_toy_files

    ckpt, stats = tiny_toy_files(tmp_path_factory.mktemp("sweep_inputs"), F, SIZE, n_stats=32)
    return {"ckpt": ckpt, "stats": stats}


@pytest.fixture(scope="module")
def model(files):
    return toy.load(str(files["ckpt"]), device="cpu")


def _run(model, files, out, **kw):
    images = io.load_images("toy:2", model)
    st = MomentStats.load(files["stats"])
    return runs.run_sweep(model, images, out, stats=st, stats_path=files["stats"], model_name="toy", **{**GRID, **kw})


def _videos(out):
    return {p.stem: load_file(str(p))["video"] for p in sorted((out / "videos").glob("*.safetensors"))}


def _metric_table(res):
    return res.table.set_index("unit").sort_index()[["M", "init", "seed", "image", "start", "frame_diff", "align_psnr", "sprite_speed", "input_speed"]]


@pytest.fixture(scope="module")
def full(model, files, tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    return _run(model, files, out)


def test_grid_outputs_and_batch_independence(full, model, files):
    res, out = full, full.out
    assert res.computed == N_UNITS == len(res.table) and res.pending == N_UNITS
    assert (out / "results.csv").is_file() and (out / "sweep.json").is_file()
    assert sorted(res.table["unit"]) == sorted(u.uid for u in runs.grid_units(GRID["Ms"], GRID["inits"], GRID["seeds"], ["toy0_00000", "toy0_00001"]))
    vids = _videos(out)
    assert len(vids) == N_UNITS and all(v.shape == (F, 1, SIZE, SIZE) for v in vids.values())
    # one unit redone alone (batch of one) equals its stored video: per-sample seeds, no batch effect
    images = io.load_images("toy:2", model)
    st = MomentStats.load(files["stats"])
    for uid, M, init, seed, k in [("M0.5_analytic_seed1_toy0_00001", 0.5, "analytic", 1, 1), ("M1_standard_seed0_toy0_00000", 1.0, "standard", 0, 0)]:
        noise_seed = runs.Unit(M, init, seed, k, images.names[k]).noise_seed
        x = sample(model, images.images[k : k + 1], n_steps=2, start=M, init=init, stats=st, seed=[noise_seed], show_progress=False)
        torch.testing.assert_close(vids[uid], x[0], atol=1e-5, rtol=0)
    # images get independent noise; the (M, init) cells of one image and seed share it
    units = runs.grid_units(GRID["Ms"], GRID["inits"], GRID["seeds"], images.names)
    seeds = {(u.seed, u.name): {w.noise_seed for w in units if (w.seed, w.name) == (u.seed, u.name)} for u in units}
    assert all(len(v) == 1 for v in seeds.values()) and len({next(iter(v)) for v in seeds.values()}) == len(seeds)
    # metrics recomputed independently from the stored videos
    row = res.table.set_index("unit").loc["M0.5_analytic_seed1_toy0_00001"]
    v = vids["M0.5_analytic_seed1_toy0_00001"].double().clamp(-1, 1)
    assert row["frame_diff"] == pytest.approx(float(np.mean([(v[f + 1] - v[f]).abs().mean() for f in range(F - 1)])), rel=1e-5)
    mse = float(((v[0] - images.images[1].double()) ** 2).mean())
    assert row["align_psnr"] == pytest.approx(10 * np.log10(4 / mse), rel=1e-5)
    assert row["input_speed"] == pytest.approx(float(data.generate(2, seed=0, frames=F, size=SIZE, flow=False).speed[1]))
    assert row["start_native"] == pytest.approx(float(model.schedule.to_native(0.5)))
    assert res.table["motion_score"].notna().all() and (res.table["motion_score"] >= 0).all()
    assert row["motion_method"] == "farneback/svd/sum/16x16"
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["n_steps"] == 2 and meta["stats_sha256"]


class _Stop(Exception):
    pass


def test_interrupted_sweep_resumes_without_recomputing(full, model, files, tmp_path):
    out = tmp_path / "partial"
    seen: list[str] = []

    def record(info):
        seen.extend(info["units"])

    first = _run(model, files, out, max_units=4, on_batch=record)
    assert first.computed == 4 and len(first.table) == 4
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "videos").glob("*.safetensors")}

    def stop_after_one_batch(info):
        record(info)
        raise _Stop

    with pytest.raises(_Stop):
        _run(model, files, out, on_batch=stop_after_one_batch)
    last = _run(model, files, out, on_batch=record)
    assert last.pending == N_UNITS - 4 - GRID["batch_size"] and last.computed == last.pending
    assert len(seen) == len(set(seen)) == N_UNITS  # every unit sampled exactly once over the three runs
    for name, ns in stamps.items():  # finished units were not rewritten
        assert (out / "videos" / name).stat().st_mtime_ns == ns
    a, b = _videos(full.out), _videos(out)
    assert a.keys() == b.keys()
    for k in a:  # the same canonical batches: bit-identical
        assert torch.equal(a[k], b[k]), k
    ta, tb = _metric_table(full), _metric_table(last)
    assert list(ta.index) == list(tb.index)
    np.testing.assert_allclose(ta[["frame_diff", "align_psnr", "sprite_speed"]].to_numpy(float), tb[["frame_diff", "align_psnr", "sprite_speed"]].to_numpy(float), atol=1e-4)
    # nothing left: a rerun samples nothing
    assert _run(model, files, out).computed == 0


def test_row_lost_after_video_is_rebuilt_from_the_video(model, files, tmp_path):
    out = tmp_path / "lost"
    _run(model, files, out, max_units=2)
    rows = (out / "results" / "rank0.jsonl").read_text().splitlines()
    lost = json.loads(rows[-1])["unit"]
    stamp = (out / "videos" / f"{lost}.safetensors").stat().st_mtime_ns
    # a kill between "video written" and "row appended", plus a torn half line
    (out / "results" / "rank0.jsonl").write_text("\n".join(rows[:-1]) + "\n" + rows[-1][: len(rows[-1]) // 2])
    res = _run(model, files, out, max_units=0)
    assert res.recovered == 1 and res.computed == 0 and len(res.table) == 2
    assert (out / "videos" / f"{lost}.safetensors").stat().st_mtime_ns == stamp
    assert res.table.set_index("unit").loc[lost, "frame_diff"] > 0


def test_bad_input_and_changed_settings_are_refused(model, files, tmp_path):
    images = io.load_images("toy:1", model)
    with pytest.raises(ValueError, match="needs statistics"):
        runs.run_sweep(model, images, tmp_path / "a", Ms=[1.0], inits=["analytic"], show_progress=False)
    with pytest.raises(ValueError, match="init modes"):
        runs.run_sweep(model, images, tmp_path / "a", Ms=[1.0], inits=["fancy"], show_progress=False)
    with pytest.raises(ValueError, match=r"give at least one init mode among \['standard', 'analytic'\]"):
        runs.run_sweep(model, images, tmp_path / "a", Ms=[1.0], inits=[], show_progress=False)
    with pytest.raises(ValueError, match=r"got 1 in \[1\]"):  # was str()'d to '1' and reported as the list ['1']
        runs.run_sweep(model, images, tmp_path / "a", Ms=[1.0], inits=[1], show_progress=False)
    with pytest.raises(ValueError, match=r"start M.*native=True / --native"):
        runs.run_sweep(model, images, tmp_path / "a", Ms=[1.5], show_progress=False)
    with pytest.raises(ValueError, match=r"Ms / --M lists 0.6 more than once"):  # a notebook's Ms named too, not only the CLI's --M
        runs.run_sweep(model, images, tmp_path / "a", Ms=[0.6, 1.0, 0.6], show_progress=False)
    with pytest.raises(ValueError, match="toy:N"):
        io.load_images("toy:x", model)
    runs.run_sweep(model, images, tmp_path / "b", Ms=[1.0], n_steps=2, show_progress=False)
    with pytest.raises(ValueError, match="other settings"):
        runs.run_sweep(model, images, tmp_path / "b", Ms=[1.0], n_steps=3, show_progress=False)


def test_torchrun_two_gloo_processes_match_one_process(full, files, tmp_path):
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "cilnb", "sample",
        "--model", "toy", "--model-path", str(files["ckpt"]), "--images", "toy:2", "--M", "1.0", "0.5",
        "--init", "standard", "analytic", "--seeds", "0", "1", "--n-steps", "2", "--stats", str(files["stats"]),
        "--batch-size", "3", "--out", str(out), "--device", "cpu", "--quiet",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(p.name for p in (out / "results").glob("*.jsonl")) == ["rank0.jsonl", "rank1.jsonl"]
    import pandas as pd

    table = pd.read_csv(out / "results.csv").set_index("unit").sort_index()
    assert len(table) == N_UNITS and set(table["rank"]) == {0, 1}
    assert table["motion_score"].notna().all() and set(table["motion_method"]) == {"farneback/svd/sum/450x800"}
    ref = _metric_table(full)
    assert list(table.index) == list(ref.index)
    np.testing.assert_allclose(table[["frame_diff", "align_psnr"]].to_numpy(float), ref[["frame_diff", "align_psnr"]].to_numpy(float), atol=1e-4)
    a, b = _videos(full.out), _videos(out)
    assert a.keys() == b.keys()
    for k in a:  # ranks take whole canonical batches: bit-identical to one process
        assert torch.equal(a[k], b[k]), k


def test_canonical_batches_depend_on_the_grid_and_batch_size_only():
    units = runs.grid_units([1.0, 0.5], ["standard", "analytic"], [0, 1], ["a", "b", "c"])
    batches = runs.canonical_batches(units, [1.0, 0.5], ["standard", "analytic"], 4)
    assert [len(b) for b in batches] == [4, 2] * 4
    assert all(len({(u.M, u.init) for u in b}) == 1 for b in batches)
    assert [u for b in batches for u in b] == units  # canonical order, every unit once


def test_svd_latent_sweep_decodes_stores_and_matches_direct_sampling(tmp_path):
    """A latent model: per-unit prepare_condition (seeded noise augmentation), VAE decode, float16 video + latents, mp4."""
    pytest.importorskip("diffusers")
    iio = pytest.importorskip("imageio.v3")
    from _tiny import tiny_svd_pipeline

    from cilnb.models.svd import from_pipeline

    ad = from_pipeline(tiny_svd_pipeline()).eval()
    (tmp_path / "imgs").mkdir()
    for i in range(2):
        iio.imwrite(tmp_path / "imgs" / f"im{i}.png", (np.random.RandomState(i).rand(20, 24, 3) * 255).astype(np.uint8))
    images = io.load_images(str(tmp_path / "imgs"), ad, size="16x16")
    st = MomentStats().update(torch.randn(8, 2, 4, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.5)
    res = runs.run_sweep(ad, images, tmp_path / "out", Ms=[100.0], native=True, inits=["standard", "analytic"], seeds=[3], n_steps=2,
                          sampler="heun", stats=st, cond_kwargs={"motion_bucket_id": 20}, mp4=True, batch_size=2, show_progress=False)
    assert len(res.table) == 4 and res.table["start_native"].to_numpy() == pytest.approx(100.0)
    stored = load_file(str(tmp_path / "out" / "videos" / "M100_analytic_seed3_im1.safetensors"))
    assert stored["video"].dtype == torch.float16 and stored["video"].shape == (2, 3, 16, 16) and stored["latents"].shape == (2, 4, 8, 8)
    assert iio.imread(tmp_path / "out" / "videos" / "M100_analytic_seed3_im1.mp4", plugin="pyav").shape == (2, 16, 16, 3)
    ns = runs.Unit(100.0, "analytic", 3, 1, images.names[1]).noise_seed
    cond = ad.prepare_condition(images.images[1:2], motion_bucket_id=20, generator=torch.Generator().manual_seed(ns))
    x = sample(ad, cond, n_steps=2, start_native=100.0, init="analytic", stats=st, sampler="heun", seed=[ns], show_progress=False)
    # batch of 2 vs 1 changes float32 rounding only; a random UNet from sigma 100 in 2 Heun steps amplifies it (outputs ~1e2)
    assert float((stored["latents"] - x[0]).abs().max()) <= 1e-4 * float(x.abs().max())


def test_remedy_is_applied_stored_and_checked_on_resume(model, files, tmp_path):
    """--remedy: every unit is sampled through cilnb.sampling.sample(remedy=...); sweep.json records its spec,
    a rerun resumes, and a rerun with another remedy is refused."""
    from cilnb import remedies

    out = tmp_path / "rem"
    kw = dict(Ms=[1.0], inits=["standard"], seeds=[0], remedy=remedies.from_cli("freeinit", ["iterations=2"]))
    res = _run(model, files, out, **kw)
    assert len(res.table) == 2 and res.computed == 2
    stored = json.loads((out / "sweep.json").read_text())
    assert stored["remedy"] == {"name": "freeinit", "settings": {**remedies.known()["freeinit"], "iterations": 2}}
    images = io.load_images("toy:2", model)
    ref = sample(model, images.images, n_steps=2, start=1.0, seed=[u.noise_seed for u in runs.grid_units([1.0], ["standard"], [0], images.names)],
                 remedy=kw["remedy"], show_progress=False)
    vids = _videos(out)
    for k, name in enumerate(images.names):
        stem = next(s for s in vids if name in s)
        assert torch.equal(vids[stem], ref[k])
    assert _run(model, files, out, **kw).computed == 0  # same remedy: resumes, nothing to do
    with pytest.raises(ValueError, match="other settings"):
        _run(model, files, out, **{**kw, "remedy": "alg"})
    # no remedy stores no key, so sweeps made before remedies existed keep resuming
    plain = _run(model, files, tmp_path / "plain", Ms=[1.0], inits=["standard"], seeds=[0])
    assert "remedy" not in json.loads((plain.out / "sweep.json").read_text())


@pytest.mark.parametrize("remedy, match", [
    ("analytic_init", None),  # uses --M and the stats: allowed
    (dict(name="analytic_init", settings={"start": 0.8}), "sets its own start"),
    ("nosuch", "unknown remedy"),
])
def test_remedy_settings_are_checked_before_work(model, files, tmp_path, remedy, match):
    if match is None:
        assert _run(model, files, tmp_path / "ok", Ms=[0.8], inits=["standard"], seeds=[0], remedy=remedy).computed == 2
        return
    with pytest.raises(ValueError, match=match):
        _run(model, files, tmp_path / "bad", Ms=[1.0], inits=["standard"], seeds=[0], remedy=remedy)
    assert not (tmp_path / "bad" / "sweep.json").exists()


def test_weights_digest_changes_with_the_weights():
    a, b = toy.build(seed=0), toy.build(seed=0)
    assert runs.weights_digest(a) == runs.weights_digest(b)
    with torch.no_grad():
        next(b.parameters()).add_(1e-3)
    assert runs.weights_digest(a) != runs.weights_digest(b)


def test_default_run_dir_follows_cilnb_run_dir(monkeypatch, tmp_path):
    net = toy.build(seed=0)
    monkeypatch.setenv("CILNB_RUN_DIR", str(tmp_path))
    a = runs.default_run_dir("m_sweep", "base", net, n_steps=8)
    assert a.parent == tmp_path and a.name.startswith("m_sweep_base_")
    assert runs.default_run_dir("m_sweep", "base", net, n_steps=9) != a  # other settings, other folder
    net.guidance = (1.0, 3.0)  # the same weights sampled with another default guidance: other videos
    assert runs.default_run_dir("m_sweep", "base", net, n_steps=8) != a
    net.guidance = None
    assert runs.default_run_dir("m_sweep", "base", net, n_steps=8) == a
    net.numerics = "another inference path"  # the same weights computed by other code: other rounding, other folder
    assert runs.default_run_dir("m_sweep", "base", net, n_steps=8) != a
    net.numerics = toy.ToyModel.numerics
    assert runs.default_run_dir("m_sweep", "base", net, n_steps=8) == a
    monkeypatch.delenv("CILNB_RUN_DIR")
    assert runs.default_run_dir("m_sweep", "base", net, n_steps=8).parent.parts[-2:] == ("build", "runs")


_SAVE_TWICE = """
import sys, torch
from cilnb._util import save_safetensors
meta = {k: str(i) for i, k in enumerate(["seconds", "model", "M", "init", "seed", "format", "unit", "z\\u00e9\\\\n"])}
save_safetensors(sys.argv[1], {"video": torch.arange(24.).view(2, 3, 4), "latents": torch.ones(3, dtype=torch.float64)}, meta)
"""


def test_safetensors_bytes_are_the_same_in_every_process(tmp_path):
    # the safetensors library writes metadata from a Rust hash map, in an order that changes per process: the same
    # unit written by a killed run and by its rerun had different bytes; save_safetensors sorts the keys
    from safetensors import safe_open

    paths = [tmp_path / f"u{i}.safetensors" for i in range(4)]
    for p in paths:
        subprocess.run([sys.executable, "-c", _SAVE_TWICE, str(p)], check=True)
    blobs = {p.read_bytes() for p in paths}
    assert len(blobs) == 1
    (blob,) = blobs
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    assert list(header["__metadata__"]) == sorted(header["__metadata__"]) and n % 8 == 0
    with safe_open(str(paths[0]), framework="pt") as f:
        assert f.metadata()["z\u00e9\\n"] == "7" and torch.equal(f.get_tensor("video"), torch.arange(24.).view(2, 3, 4))
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith((".tmp", ".hdr"))]


def test_safetensors_header_that_grows_is_rewritten_whole(tmp_path):
    # a header whose compact re-serialisation is longer than the original (numbers written as 1e2; never produced by
    # the safetensors library) cannot go back in place: the file is rewritten with a padded header, data unchanged
    from cilnb._util import _sort_safetensors_metadata

    data = bytes(range(100))
    raw = b'{"__metadata__":{"b":"1","a":"2"},"t":{"dtype":"U8","shape":[1e2],"data_offsets":[0,1e2]}}'
    p = tmp_path / "x.safetensors"
    p.write_bytes(len(raw).to_bytes(8, "little") + raw + data)
    _sort_safetensors_metadata(p)
    blob = p.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    assert n > len(raw) and n % 8 == 0 and blob[8 + n:] == data
    assert list(json.loads(blob[8:8 + n])["__metadata__"]) == ["a", "b"]
    assert [q.name for q in tmp_path.iterdir()] == ["x.safetensors"]


def test_every_safetensors_file_is_written_through_save_safetensors():
    # a direct safetensors.torch.save_file / save would bring back the per-process metadata order
    import ast
    from pathlib import Path

    import cilnb

    package = Path(cilnb.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("safetensors") and \
                    {a.name for a in node.names} & {"save_file", "save"} and path.name != "_util.py":
                offenders.append(f"{path.relative_to(package)}:{node.lineno}")
    assert not offenders


def test_a_store_of_other_weights_is_refused_and_an_old_store_still_resumes(model, files, tmp_path):
    """A model retrained under the same name (and path) resumed the old model's videos: the weights' digest is part of
    the settings now. A store written before the digest existed (no "weights" key) still resumes."""
    import copy
    import json

    import torch

    out = tmp_path / "s"
    _run(model, files, out)
    assert json.loads((out / "sweep.json").read_text())["weights"] == runs.weights_digest(model)
    other = copy.deepcopy(model)
    with torch.no_grad():
        next(other.parameters()).add_(0.01)
    with pytest.raises(ValueError, match=r"other settings .*another model's weights"):
        _run(other, files, out)
    stored = json.loads((out / "sweep.json").read_text())
    del stored["weights"]
    (out / "sweep.json").write_text(json.dumps(stored))
    assert _run(model, files, out).computed == 0  # an old store resumes

"""cilnb.models.load: the registry, offline weight resolution (never a download), loading saved tiny pipelines."""
from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
import time

import pytest
import torch

import cilnb.models as M
from cilnb.models.base import WeightsNotFoundError

NAMES = ["toy", "svd", "pia", "i2vgen-xl", "cogvideox-i2v", "wan-i2v", "ltx-i2v", "generic"]


@pytest.fixture
def offline_default(monkeypatch, tmp_path):
    """HF_HUB_OFFLINE unset (cilnb's default: offline) and an empty Hugging Face cache."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    try:
        import huggingface_hub.constants as c

        monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    except ImportError:
        pass


def test_registry_names_and_unknown_name():
    assert M.available() == NAMES
    with pytest.raises(ValueError) as err:
        M.load("sora")
    for name in NAMES:
        assert name in str(err.value)
    with pytest.raises(ValueError, match="model name"):
        M.load(None)


def test_registry_targets_exist_where_written():
    """Every 'module:function' whose module exists in this checkout names a real loader."""
    for name in NAMES:
        mod, fn = M._REGISTRY[name].split(":")
        if importlib.util.find_spec(mod) is None:
            continue
        assert callable(getattr(importlib.import_module(mod), fn)), M._REGISTRY[name]


def test_import_is_cheap():
    code = "import sys, cilnb.models; print('diffusers' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


@pytest.mark.parametrize("name", ["svd", "pia", "i2vgen-xl"])
def test_missing_local_folder_says_where_to_put_weights(name, tmp_path, offline_default):
    missing = tmp_path / "nowhere" / name
    t0 = time.perf_counter()
    with pytest.raises(WeightsNotFoundError) as err:
        M.load(name, str(missing), device="cpu")
    assert time.perf_counter() - t0 < 5
    msg = str(err.value)
    assert str(missing) in msg and "huggingface-cli download" in msg


@pytest.mark.parametrize("name", ["svd", "pia", "i2vgen-xl"])
@pytest.mark.parametrize("env", [None, "1"])
def test_uncached_hub_id_fails_fast_offline(name, env, monkeypatch, offline_default):
    if env is not None:
        monkeypatch.setenv("HF_HUB_OFFLINE", env)
    t0 = time.perf_counter()
    with pytest.raises(WeightsNotFoundError) as err:
        M.load(name, "cilnb-tests/definitely-not-cached", device="cpu")
    assert time.perf_counter() - t0 < 5
    msg = str(err.value)
    assert "not available offline" in msg and "cilnb-tests/definitely-not-cached" in msg and "model_path" in msg


def test_folder_without_model_index_is_refused(tmp_path, offline_default):
    (tmp_path / "unet").mkdir()
    with pytest.raises(WeightsNotFoundError, match="model_index.json"):
        M.load("svd", str(tmp_path), device="cpu")


def test_pia_base_without_motion_adapter_says_so(tmp_path, offline_default):
    """An SD 1.5 folder (UNet2DConditionModel) needs the PIA motion adapter: a clear error, no download."""
    (tmp_path / "unet").mkdir()
    (tmp_path / "model_index.json").write_text("{}")
    (tmp_path / "unet" / "config.json").write_text(json.dumps({"_class_name": "UNet2DConditionModel"}))
    with pytest.raises(WeightsNotFoundError, match="PIA motion adapter"):
        M.load("pia", str(tmp_path), device="cpu")


def test_bad_dtype_is_refused(tmp_path):
    pytest.importorskip("diffusers")
    from _tiny import tiny_svd_pipeline

    tiny_svd_pipeline().save_pretrained(tmp_path / "svd")
    with pytest.raises(ValueError, match="dtype"):
        M.load("svd", str(tmp_path / "svd"), device="cpu", dtype="int8")


def _same_forward(a, b, x, t, cond):
    with torch.no_grad():
        torch.testing.assert_close(a(x, t, **cond), b(x, t, **cond))


def test_svd_loads_from_a_local_folder(tmp_path):
    pytest.importorskip("diffusers")
    from _tiny import PX, tiny_svd_pipeline

    from cilnb.models.svd import SVDAdapter, from_pipeline

    F, LAT = 2, PX // 2
    pipe = tiny_svd_pipeline(F, PX)
    pipe.save_pretrained(tmp_path / "svd")
    ad = M.load("svd", str(tmp_path / "svd"), device="cpu", dtype="float32")
    assert isinstance(ad, SVDAdapter) and ad.unet.dtype == torch.float32 and not ad.training
    ref = from_pipeline(pipe)
    cond = ref.prepare_condition(torch.zeros((1, 3, PX, PX)), seed=0)
    _same_forward(ad, ref, torch.randn((1, F, 4, LAT, LAT)) * 10, torch.tensor([0.7], dtype=torch.float64), cond)
    # the dtype reaches diffusers under the keyword this diffusers reads (no 'torch_dtype is deprecated')
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        half = M.load("svd", str(tmp_path / "svd"), device="cpu", dtype="bfloat16")
    assert half.unet.dtype == torch.bfloat16
    assert not [w for w in caught if "torch_dtype" in str(w.message)], [str(w.message) for w in caught]


def test_pia_and_i2vgenxl_load_from_local_folders(tmp_path):
    pytest.importorskip("diffusers")
    from _tiny import PX, tiny_i2vgenxl_pipeline, tiny_pia_pipeline

    from cilnb.models.vp_video import I2VGenXLAdapter, PIAAdapter, i2vgenxl_from_pipeline, pia_from_pipeline

    F, LAT = 3, PX // 2
    x, t = torch.randn((1, F, 4, LAT, LAT)), torch.tensor([0.6], dtype=torch.float64)
    img = torch.zeros((1, 3, PX, PX))

    pia = tiny_pia_pipeline(tmp_path / "a")
    pia.save_pretrained(tmp_path / "pia")
    ad = M.load("pia", str(tmp_path / "pia"), device="cpu")
    assert isinstance(ad, PIAAdapter) and ad.guidance_scale == 7.5
    _same_forward(ad, pia_from_pipeline(pia), x, t, ad.prepare_condition(img, prompt="a cat"))

    i2v = tiny_i2vgenxl_pipeline(tmp_path / "b")
    i2v.save_pretrained(tmp_path / "i2v")
    ad = M.load("i2vgen-xl", str(tmp_path / "i2v"), device="cpu", clip_skip=None)
    assert isinstance(ad, I2VGenXLAdapter) and float(ad.schedule.alpha(1.0)) == 0.0
    _same_forward(ad, i2vgenxl_from_pipeline(i2v, clip_skip=None), x, t, ad.prepare_condition(img, prompt="a cat"))


def test_toy_goes_through_the_same_entry_point():
    toy = importlib.import_module("cilnb.models.toy")
    try:
        path = toy.checkpoint_path("base")
    except Exception:  # pragma: no cover - depends on the toy module's API
        pytest.skip("toy checkpoints not available")
    if not path.is_file():
        pytest.skip(f"toy checkpoint not trained in this checkout ({path})")
    model = M.load("toy", device="cpu")
    assert model.schedule is not None and model.n_frames


@pytest.mark.parametrize("damage, needle", [
    (lambda d: [f.unlink() for f in (d / "unet").glob("*.safetensors")], "unet/ has a config.json but no weights"),
    (lambda d: __import__("shutil").rmtree(d / "vae"), "no vae/ folder"),
    (lambda d: (d / "model_index.json").write_text("{not json"), "model_index.json cannot be read"),
])
def test_incomplete_pipeline_folder_names_what_is_missing(tmp_path, offline_default, damage, needle):
    """models.load on an incomplete download says which component is missing (before diffusers reads it)."""
    pytest.importorskip("diffusers")
    from _tiny import tiny_svd_pipeline

    folder = tmp_path / "svd"
    tiny_svd_pipeline().save_pretrained(folder)
    from cilnb.models.base import missing_components

    assert missing_components(folder) == []  # a complete save passes
    damage(folder)
    with pytest.raises(WeightsNotFoundError, match=needle) as err:
        M.load("svd", str(folder), device="cpu")
    assert str(folder) in str(err.value)

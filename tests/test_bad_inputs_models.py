"""Bad inputs of the model adapters, the statistics and fine-tuning settings, and the metric detectors: each was accepted
silently (a truncated seed, a NaN setting, an option diffusers dropped, pixel statistics of a model given by name) or
failed deep inside pathlib, torch, safetensors or diffusers naming neither the argument nor the fix.

Siblings: ``test_bad_inputs_leftovers.py`` (data, training, plotting), ``test_bad_inputs_data.py`` (statistics, metrics).
"""
from __future__ import annotations

import importlib
import types

import numpy as np
import pytest
import torch

from cilnb import analytic_init as A
from cilnb import stats as S
from cilnb import svd_finetune as SF
from cilnb.checks import InputTypeError
from cilnb.metrics import flow as FL
from cilnb.models import base, toy

FV = importlib.import_module("cilnb.metrics.fvd")  # cilnb.metrics.fvd is also the name of a function
T, V = InputTypeError, ValueError
NAN = float("nan")
TINY = dict(frames=2, size=8, widths=(8,), temporal="none", temporal_levels=(), temporal_width=8, emb_dim=16)


def _net(seed=0):
    return toy.build(seed=seed, **TINY).net


@pytest.fixture
def ckpt(tmp_path):
    return toy.save_checkpoint(tmp_path / "toy.safetensors", _net(), {})


# ----------------------------------------------------------------------------------------------
# toy checkpoints and configs
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, exc, pattern", [
    pytest.param(lambda p: toy.read_metadata(None), T, r"path must be a toy checkpoint file path .*got None", id="read-none"),
    pytest.param(lambda p: toy.read_metadata(123), T, r"path must be a toy checkpoint file path .*got 123", id="read-int"),
    pytest.param(lambda p: toy.read_metadata(p), V, r"is a folder: give the checkpoint file inside it", id="read-folder"),  # was OSError 'No such device'
    pytest.param(lambda p: toy.read_metadata(p / "nope.safetensors"), FileNotFoundError, r"does not exist: give an existing checkpoint file",
                 id="read-missing"),
    pytest.param(lambda p: toy.load_checkpoint(None), T, r"path must be a toy checkpoint file path", id="load-checkpoint-none"),
    pytest.param(lambda p: toy.load(None, device="cpu"), T, r"must be a shipped name \(base, naive, timenoise\) or a file path, got None",
                 id="load-none"),
    pytest.param(lambda p: toy.load(3, device="cpu"), T, r"must be a shipped name .* or a file path, got 3", id="load-int"),
])
def test_toy_checkpoint_paths_are_named(tmp_path, call, exc, pattern):
    """Were pathlib's 'expected str, bytes or os.PathLike object' and, for a folder, OSError 'No such device (os error 19)'."""
    with pytest.raises(exc, match=pattern):
        call(tmp_path)


def test_toy_load_checkpoint_names_an_unknown_device(ckpt):
    """Was torch's 'Expected one of cpu, cuda, ipu, ...' after the file was read."""
    with pytest.raises(V, match=r"device 'nope' is not a torch device: use 'auto', 'cpu'"):
        toy.load_checkpoint(ckpt, device="nope")
    assert toy.load_checkpoint(ckpt, device="cpu").n_frames == 2


@pytest.mark.parametrize("args, exc, pattern", [
    pytest.param(lambda p, net: (p, net, {}), V, r"is a folder: give a checkpoint file path such as", id="folder"),
    pytest.param(lambda p, net: (p / "t.safetensors", toy.ToyModel(net), {}), T, r"got a ToyModel: pass model\.net", id="model-not-net"),
    pytest.param(lambda p, net: (p / "t.safetensors", None, {}), T, r"net must be a ToyUNet, got NoneType", id="net-none"),
    pytest.param(lambda p, net: (p / "t.safetensors", net, None), T, r"meta must be a dict of metadata .*got NoneType", id="meta-none"),
    pytest.param(lambda p, net: (p / "t.safetensors", net, [1]), T, r"meta must be a dict .*got list", id="meta-list"),
    pytest.param(lambda p, net: (p / "t.safetensors", net, {"when": object()}), V, r"meta\['when'\] cannot be stored: it must be JSON",
                 id="meta-not-json"),
    pytest.param(lambda p, net: (p / "t.safetensors", net, {1: "a"}), T, r"meta keys must be strings, got 1", id="meta-int-key"),
    pytest.param(lambda p, net: (p / "t.safetensors", net, {"format": "other"}), V, r"meta\['format'\] is 'other'.*remove 'format'",
                 id="meta-format"),
    pytest.param(lambda p, net: (p / "t.safetensors", net, {"config": toy.ToyConfig().to_json()}), V,
                 r"meta\['config'\] does not describe net .*remove 'config'", id="meta-other-config"),
])
def test_save_checkpoint_refuses_what_would_not_load(tmp_path, args, exc, pattern):
    """A ToyModel or a meta 'format'/'config' of another net wrote a checkpoint no loader reads (silently); the others were
    AttributeError / TypeError from json or safetensors, or IsADirectoryError on a temporary name."""
    with pytest.raises(exc, match=pattern):
        toy.save_checkpoint(*args(tmp_path, _net()))
    assert not (tmp_path / "t.safetensors").exists()


def test_save_checkpoint_still_takes_a_loaded_models_metadata(ckpt, tmp_path):
    """A loaded model's meta carries its own 'format' and 'config': passing it on (e.g. a distilled student) still works."""
    model = toy.load_checkpoint(ckpt)
    again = toy.save_checkpoint(tmp_path / "again.safetensors", model.net, {**model.meta, "note": "copy"})
    assert again.read_bytes() != b"" and toy.read_metadata(again)["note"] == "copy"
    assert toy.load_checkpoint(again).config == model.config


@pytest.mark.parametrize("call, exc, pattern", [
    pytest.param(lambda: toy.build(seed=1.5, **TINY), T, r"seed must be an int .*got 1\.5", id="build-float-seed"),  # was truncated to 1
    pytest.param(lambda: toy.build(seed="a", **TINY), T, r"seed must be an int .*got 'a'", id="build-string-seed"),
    pytest.param(lambda: toy.build({"frames": 2}), T, r"config must be a ToyConfig .*got dict", id="build-dict-config"),
    pytest.param(lambda: toy.ToyConfig(motion_scale=NAN), V, r"ToyConfig\.motion_scale must be finite", id="config-nan-motion-scale"),
    pytest.param(lambda: toy.ToyConfig(motion_scale="100"), T, r"ToyConfig\.motion_scale must be a real number", id="config-string-motion-scale"),
    pytest.param(lambda: toy.ToyConfig(motion_cond="no"), T, r"ToyConfig\.motion_cond must be True or False, got 'no'", id="config-string-bool"),
    pytest.param(lambda: toy.ToyConfig(widths=8), T, r"ToyConfig\.widths must be a tuple of ints, e\.g\. widths=\(1,\)", id="config-int-widths"),
    pytest.param(lambda: toy.ToyConfig(temporal_levels=1), T, r"ToyConfig\.temporal_levels must be a tuple of ints", id="config-int-levels"),
    pytest.param(lambda: toy.ToyConfig(temporal_levels=(1.0,)), T, r"temporal_levels must be level indices \(ints\)", id="config-float-level"),
    pytest.param(lambda: toy.ToyConfig.from_json("{bad"), V, r"ToyConfig JSON .* is not valid JSON", id="from-json-corrupt"),
    pytest.param(lambda: toy.ToyConfig.from_json(3), T, r"from_json takes JSON text or a dict, got int", id="from-json-int"),
    pytest.param(lambda: toy.ToyConfig.from_json("[1]"), V, r"must be an object of ToyConfig fields, got list", id="from-json-list"),
    pytest.param(lambda: toy.ToyModel(None), T, r"net must be a ToyUNet .*init_net", id="model-none-net"),
    pytest.param(lambda: toy.ToyModel(_net(), [("a", 1)]), T, r"meta must be a dict of checkpoint metadata", id="model-list-meta"),
])
def test_toy_settings_are_checked(call, exc, pattern):
    """Were accepted (NaN motion scale, 'no' as True, a float seed truncated) or AttributeError/TypeError/JSONDecodeError."""
    with pytest.raises(exc, match=pattern):
        call()


def test_valid_toy_settings_still_work():
    a, b = toy.build(seed=np.int64(3), **TINY), toy.build(seed=3, **TINY)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    cfg = toy.ToyConfig(widths=[8, 16], temporal_levels=[1], size=16)  # lists, as JSON gives them
    assert toy.ToyConfig.from_json(cfg.to_json()).widths == (8, 16)


# ----------------------------------------------------------------------------------------------
# the generic adapter and the shared adapter checks
# ----------------------------------------------------------------------------------------------


def _apply(x, t, c):
    return torch.zeros_like(x)


@pytest.mark.parametrize("kw, exc, pattern", [
    pytest.param(dict(apply_model=lambda x, t, c: x), V, r"got two models: pass the apply_model callable once", id="two-models"),
    pytest.param(dict(guidance_scale="7"), T, r"guidance_scale must be a real number", id="string-guidance"),
    pytest.param(dict(guidance_scale=NAN), V, r"guidance_scale must be finite", id="nan-guidance"),
    pytest.param(dict(make_cond=3), T, r"make_cond must be a callable or None, got int", id="make-cond-int"),
    pytest.param(dict(encode_fn="vae"), T, r"encode_fn must be a callable or None, got str", id="encode-fn-string"),
    pytest.param(dict(n_frames=-2), V, r"n_frames must be a positive int", id="negative-frames"),
    pytest.param(dict(scaling_factor="0.18"), T, r"scaling_factor must be a real number .*None for a pixel model", id="string-scaling"),
    pytest.param(dict(integer_timesteps="no"), T, r"integer_timesteps must be True or False, got 'no'", id="string-bool"),
])
def test_generic_adapter_options_are_checked(kw, exc, pattern):
    """Each was kept as given: a second callable silently won, '7' became 7.0, NaN guidance and a non-callable make_cond
    failed at the first sample, 'no' counted as True."""
    from cilnb import models as M

    with pytest.raises(exc, match=pattern):
        M.load("generic", _apply, **kw)
    ad = M.load("generic", apply_model=_apply, guidance_scale=1, n_frames=np.int64(4), scaling_factor=0.18215)
    assert ad.n_frames == 4 and ad.sample_space == "latent" and ad.guidance == 1.0


def test_transformer_adapters_refuse_a_nan_guidance_scale():
    """NaN turned guidance off silently (``nan > 1`` is False); a string was float()'s 'could not convert string to float'."""
    ad = base.TransformerAdapter()
    pipe = types.SimpleNamespace(vae=None)
    with pytest.raises(V, match=r"guidance_scale must be finite"):
        ad._setup(pipe, NAN, None, "")
    with pytest.raises(T, match=r"guidance_scale must be a real number"):
        ad._setup(pipe, "6", None, "")
    ad._setup(pipe, 6, None, "")
    assert ad.guidance == 6.0


@pytest.mark.parametrize("call, pattern", [
    pytest.param(lambda: base.check_images(torch.full((1, 3, 4, 4), NAN)), r"images contains 48 non-finite", id="images-nan"),
    pytest.param(lambda: base.check_images(torch.zeros(0, 3, 4, 4)), r"images is empty .*pass at least one image", id="images-empty"),
    pytest.param(lambda: base.check_video(torch.zeros(1, 2, 3, 4, 4, dtype=torch.uint8)), r"frames has dtype torch\.uint8.*127\.5 - 1",
                 id="video-uint8"),
    pytest.param(lambda: base.check_video(torch.full((1, 2, 3, 4, 4), 200.0)), r"must lie in \[-1, 1\].*0\.\.255 pixels: use x / 127\.5 - 1",
                 id="video-0-255"),
    pytest.param(lambda: base.check_video(torch.full((1, 2, 3, 4, 4), NAN)), r"frames contains 96 non-finite", id="video-nan"),
    pytest.param(lambda: base.per_sample("a", 2, "motion_bucket_id"), r"motion_bucket_id must be one number or one per image, got 'a'",
                 id="per-sample-string"),
    pytest.param(lambda: base.make_generator_or_none(None, 1.5), r"seed must be an int .*got 1\.5", id="seed-float"),
    pytest.param(lambda: base.check_chunk_size(0), r"chunk_size must be a positive int .*got 0", id="chunk-zero"),
])
def test_shared_adapter_checks(call, pattern):
    """NaN and 0..255 frames were encoded by the VAE into statistics without a word (uint8 too), an empty batch was
    torch's 'min(): Expected reduction dim', a string motion bucket 'new(): invalid data type', a float seed truncated."""
    with pytest.raises(V, match=pattern):
        call()
    base.check_video(torch.rand(1, 2, 3, 4, 4) * 2 - 1)
    assert base.per_sample([1, 2], 2, "fps").tolist() == [1.0, 2.0]


# ----------------------------------------------------------------------------------------------
# SVD and PIA (tiny random-weight pipelines)
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def svd_pipe():
    pytest.importorskip("diffusers")
    from _tiny import tiny_svd_pipeline

    return tiny_svd_pipeline(2)


@pytest.mark.parametrize("kw, exc, pattern", [
    pytest.param(dict(n_frames=0), V, r"n_frames must be a positive int .*None: the UNet's num_frames\), got 0", id="frames-zero"),
    pytest.param(dict(n_frames=-3), V, r"n_frames must be a positive int", id="frames-negative"),
    pytest.param(dict(n_frames=2.7), T, r"n_frames must be a positive int .*got 2\.7", id="frames-float"),
    pytest.param(dict(decode_chunk_size=0), V, r"decode_chunk_size must be a positive int", id="decode-chunk-zero"),
    pytest.param(dict(guidance="x"), V, r"guidance must be a number, \(first, last\)", id="guidance-string"),
    pytest.param(dict(guidance=NAN), V, r"guidance must be finite", id="guidance-nan"),
])
def test_svd_adapter_options_are_checked(svd_pipe, kw, exc, pattern):
    """n_frames=0 fell back to the UNet's frames, -3 and 2.7 (as 2) were kept, a bad guidance failed at the first sample."""
    from cilnb.models.svd import from_pipeline

    with pytest.raises(exc, match=pattern):
        from_pipeline(svd_pipe, **kw)
    assert from_pipeline(svd_pipe, n_frames=np.int64(2), guidance=2.0).n_frames == 2


def _with(cond, **fill):
    """``cond`` as a dict, the named tensors filled with a value (same shape)."""
    out = dict(cond)
    for k, v in fill.items():
        out[k] = torch.full_like(out[k], v)
    return out


@pytest.mark.parametrize("call, exc, pattern", [
    pytest.param(lambda ad, fr: ad.encode_video(fr, chunk_size=0), V, r"chunk_size must be a positive int", id="encode-chunk-zero"),
    pytest.param(lambda ad, fr: ad.encode_video(fr, chunk_size=-1), V, r"chunk_size must be a positive int", id="encode-chunk-negative"),
    pytest.param(lambda ad, fr: ad.encode_video(fr, chunk_size=1.5), T, r"chunk_size must be a positive int", id="encode-chunk-float"),
    pytest.param(lambda ad, fr: ad.decode_latents(torch.zeros(1, 2, 4, 8, 8), chunk_size=0), V, r"chunk_size must be a positive int",
                 id="decode-chunk-zero"),  # was silently the default
    pytest.param(lambda ad, fr: ad.decode_latents(torch.zeros(1, 2, 4, 8, 8).numpy()), V, r"latents must be a tensor .*got ndarray",
                 id="decode-numpy"),
    pytest.param(lambda ad, fr: ad.encode_video(fr * 127.5 + 127.5), V, r"0\.\.255 pixels: use x / 127\.5 - 1", id="encode-0-255"),
    pytest.param(lambda ad, fr: ad.prepare_condition(fr[:, 0], seed=0, generator=torch.Generator()), V,
                 r"pass generator= or seed=, not both", id="seed-and-generator"),  # the seed was ignored
    pytest.param(lambda ad, fr: ad.prepare_condition(fr[:, 0], seed=1.5), T, r"seed must be an int", id="float-seed"),
    pytest.param(lambda ad, fr: ad.prepare_condition(fr[:, 0], seed=0, motion_bucket_id="a"), T,
                 r"motion_bucket_id must be one number or one per image", id="string-motion"),
    pytest.param(lambda ad, fr: ad.prepare_condition(fr[:, 0] * NAN, seed=0), V, r"images contains .* non-finite", id="nan-image"),
    # a NaN image embedding made every prediction NaN without a word
    pytest.param(lambda ad, fr: ad(torch.randn(1, 2, 4, 8, 8), 0.5, **_with(ad.prepare_condition(fr[:, 0], seed=0), image_embeds=NAN)), V,
                 r"cond\['image_embeds'\] holds 32 NaN value\(s\)", id="nan-embeds"),
])
def test_svd_adapter_calls_are_checked(svd_pipe, call, exc, pattern):
    from _tiny import PX

    from cilnb.models.svd import from_pipeline

    ad = from_pipeline(svd_pipe)
    frames = torch.rand(1, 2, 3, PX, PX, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with pytest.raises(exc, match=pattern):
        call(ad, frames)
    assert ad.encode_video(frames, chunk_size=1).shape == (1, 2, 4, PX // 2, PX // 2)


def test_loader_options_diffusers_would_drop_are_refused(svd_pipe, tmp_path, offline_default):
    """``guidance_scale=`` (SVD's option is ``guidance=``) went to diffusers, which logged 'will be ignored' and dropped it."""
    from cilnb import models as M

    svd_pipe.save_pretrained(tmp_path / "svd")
    with pytest.raises(V, match=r"SVD loader: keyword arguments \{'guidance_scale': 3\} are options of neither the loader nor "
                                r"StableVideoDiffusionPipeline"):
        M.load("svd", str(tmp_path / "svd"), device="cpu", guidance_scale=3)
    with pytest.raises(T, match=r"n_frames must be a positive int"):  # before the weights load
        M.load("svd", str(tmp_path / "svd"), device="cpu", n_frames="14")
    assert M.load("svd", str(tmp_path / "svd"), device="cpu", guidance=(1.0, 2.0)).guidance == (1.0, 2.0)


@pytest.fixture
def offline_default(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def test_pia_options_and_a_corrupt_unet_config(tmp_path, offline_default):
    """A corrupt unet/config.json was a bare JSONDecodeError; guidance_scale='7.5' was float()-ed, n_frames=2.5 truncated."""
    pytest.importorskip("diffusers")
    from _tiny import PX, tiny_pia_pipeline

    from cilnb import models as M
    from cilnb.models.vp_video import pia_from_pipeline

    pipe = tiny_pia_pipeline(tmp_path / "a")
    with pytest.raises(T, match=r"guidance_scale must be a real number"):
        pia_from_pipeline(pipe, guidance_scale="7.5")
    with pytest.raises(T, match=r"n_frames must be a positive int .*got 2\.5"):
        pia_from_pipeline(pipe, n_frames=2.5)
    ad = pia_from_pipeline(pipe, n_frames=3)
    with pytest.raises(V, match=r"chunk_size must be a positive int"):
        ad.encode_video(torch.zeros(1, 3, 3, PX, PX), chunk_size=0)
    with pytest.raises(V, match=r"chunk_size must be a positive int"):
        ad.decode_latents(torch.zeros(1, 3, 4, PX // 2, PX // 2), chunk_size=-1)
    pipe.save_pretrained(tmp_path / "pia")
    with pytest.raises(T, match=r"n_frames must be a positive int"):  # before the weights load
        M.load("pia", str(tmp_path / "pia"), device="cpu", n_frames=0.5)
    (tmp_path / "pia" / "unet" / "config.json").write_text("{not json")
    with pytest.raises(V, match=r"PIA: .*unet/config\.json .*is not valid JSON"):
        M.load("pia", str(tmp_path / "pia"), device="cpu")


# ----------------------------------------------------------------------------------------------
# Analytic-Init statistics: compute_stats and MomentStats
# ----------------------------------------------------------------------------------------------


class _Pixels(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))


@pytest.mark.parametrize("model, kw, exc, pattern", [
    pytest.param(None, {}, T, r"model must be a loaded model .*got None", id="model-none"),
    pytest.param("svd", {}, T, r"model must be a loaded model \(e\.g\. cilnb\.models\.load\('svd', path\).*got 'svd'", id="model-name"),
    pytest.param(_Pixels(), dict(batch_size="4"), T, r"batch_size must be a positive int .*got '4'", id="string-batch"),
    pytest.param(_Pixels(), dict(batch_size=2.5), T, r"batch_size must be a positive int", id="float-batch"),
    pytest.param(_Pixels(), dict(checkpoint_every=True), T, r"checkpoint_every must be a positive int .*got True", id="bool-checkpoint-every"),
    pytest.param(_Pixels(), dict(max_videos=2.5), T, r"max_videos must be a positive int .*None for all videos", id="float-max-videos"),
    pytest.param(_Pixels(), dict(fps="8"), T, r"fps must be a real number", id="string-fps"),
    pytest.param(_Pixels(), dict(videos=None), T, r"videos must be a folder of videos .*got None", id="videos-none"),
    pytest.param(_Pixels(), dict(out=None), T, r"out must be a statistics file path .*got None", id="out-none"),
    pytest.param(_Pixels(), dict(on_batch=3), T, r"on_batch must be a callable", id="on-batch-int"),
    pytest.param(_Pixels(), dict(resume="no"), T, r"resume must be True or False, got 'no'", id="resume-string"),
])
def test_compute_stats_checks_its_arguments_before_any_work(tmp_path, model, kw, exc, pattern):
    """A model given by name (or None) had its statistics taken as pixels; a float batch size, a bool, 'no' as True passed;
    strings were '<' not supported between 'str' and 'int', None pathlib's TypeError."""
    (tmp_path / "videos").mkdir()
    args = dict(videos=tmp_path / "videos", out=tmp_path / "s.safetensors")
    args.update({k: kw.pop(k) for k in ("videos", "out") if k in kw})
    with pytest.raises(exc, match=pattern):
        S.compute_stats(model, args["videos"], args["out"], frames=2, size=8, show_progress=False, **kw)
    assert not (tmp_path / "s.safetensors").exists() and not list(tmp_path.glob("s.safetensors.*"))


@pytest.mark.parametrize("call, exc, pattern", [
    pytest.param(lambda p: A.MomentStats.from_moments(torch.zeros(3, dtype=torch.complex64), avg_var=1.0), T,
                 r"mean must be real numbers, got complex values", id="complex-mean"),  # the imaginary part was dropped
    pytest.param(lambda p: A.MomentStats.from_moments(torch.zeros(3), np.ones(3, dtype=np.complex128)), T, r"var must be real numbers",
                 id="complex-var"),
    pytest.param(lambda p: A.MomentStats.load(p), V, r"is a folder, not a statistics file", id="load-folder"),
    pytest.param(lambda p: A.MomentStats.from_moments(torch.zeros(3), torch.ones(3), count=2.0), T, r"count must be a positive int",
                 id="float-count"),
])
def test_moment_stats_inputs(tmp_path, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call(tmp_path)


def test_official_stats_with_complex_moments_are_refused(tmp_path):
    path = tmp_path / "initial_noise.pt"
    torch.save({"Expectation_x_0": torch.zeros(2, 3, 4, 4, dtype=torch.complex64), "trCov_d": torch.tensor(1.0)}, path)
    with pytest.raises(T, match=r"Expectation_x_0 in .* must be real numbers, got complex values"):
        A.MomentStats.from_official(path)


def test_moment_stats_count_may_be_a_numpy_int():
    """``count=np.int64(2)`` was refused as 'count must be a positive int, got np.int64(2)'."""
    st = A.MomentStats.from_moments(torch.zeros(3), torch.ones(3), count=np.int64(2))
    assert st.count == 2 and isinstance(st.count, int)


# ----------------------------------------------------------------------------------------------
# SVD fine-tuning settings
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kw, exc, pattern", [
    pytest.param(dict(timenoise="no"), T, r"timenoise must be True or False, got 'no'", id="timenoise-string"),  # ran TimeNoise
    pytest.param(dict(gradient_checkpointing="no"), T, r"gradient_checkpointing must be True or False", id="checkpointing-string"),
    pytest.param(dict(P_mean=NAN), V, r"P_mean must be finite", id="nan-p-mean"),
    pytest.param(dict(P_mean="-1.2"), T, r"P_mean must be a real number", id="string-p-mean"),
    pytest.param(dict(motion_bucket_id=NAN), V, r"motion_bucket_id must be finite", id="nan-motion-bucket"),
    pytest.param(dict(fps_id="3"), T, r"fps_id must be a real number", id="string-fps-id"),
    pytest.param(dict(cond_drop="0.1"), T, r"cond_drop must be a real number", id="string-cond-drop"),
    pytest.param(dict(weight_decay=-1), V, r"weight_decay must be >= 0", id="negative-weight-decay"),
    pytest.param(dict(adam_eps=0), V, r"adam_eps must be > 0", id="zero-adam-eps"),
    pytest.param(dict(max_grad_norm=-1.0), V, r"max_grad_norm must be >= 0 \(gradient-norm clipping; 0 for none\)", id="negative-clip"),
    pytest.param(dict(max_grad_norm=NAN), V, r"max_grad_norm must be finite", id="nan-clip"),  # clipping was silently off
    pytest.param(dict(adam_betas=(0.9,)), V, r"adam_betas must be a pair \(beta1, beta2\)", id="one-beta"),
    pytest.param(dict(adam_betas=(1.5, 0.9)), V, r"adam_betas\[0\] must be < 1", id="beta-above-one"),
    pytest.param(dict(adam_betas=("a", "b")), T, r"adam_betas\[0\] must be a real number", id="string-betas"),
    pytest.param(dict(seed=1.5), T, r"seed must be an int", id="float-seed"),
    pytest.param(dict(seed=None), T, r"seed must be an int", id="none-seed"),
    pytest.param(dict(workers=-1), V, r"workers must be an int >= 0", id="negative-workers"),
    pytest.param(dict(stride=0), V, r"stride must be a positive int", id="zero-stride"),
    pytest.param(dict(fps=-3), V, r"fps must be > 0", id="negative-fps"),
    pytest.param(dict(lr=True), V, r"lr must be a positive number, got True", id="bool-lr"),
    # the loader's length overflowed (a bare OverflowError traceback from the CLI); a batch beyond memory hung stacking clips
    pytest.param(dict(max_steps=10**20), V, r"max_steps x gradient_accumulation_steps = 1e\+20 micro-steps", id="huge-max-steps"),
    pytest.param(dict(max_steps=4, gradient_accumulation_steps=2**61), V, r"micro-steps is beyond what a run can count", id="huge-accumulation"),
    pytest.param(dict(workers=10**20), V, r"workers = 100000000000000000000 decoding processes is far more than this machine's", id="huge-workers"),
    pytest.param(dict(batch_size=10**20), V, r"a batch of 100000000000000000000 clips .* needs more than .* pass a smaller --batch-size",
                 id="huge-batch"),
])
def test_finetune_config_checks_every_setting(kw, exc, pattern):
    """Each was accepted and failed (or silently did something else) only after the SVD weights had loaded."""
    with pytest.raises(exc, match=pattern):
        SF.FinetuneConfig(**kw)
    cfg = SF.FinetuneConfig(seed=np.int64(3), adam_betas=[0.9, 0.99], max_grad_norm=0, fps=3, workers=0)
    assert cfg.adam_betas == (0.9, 0.99) and cfg.seed == 3


# ----------------------------------------------------------------------------------------------
# metric detectors: RAFT and I3D weights
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weights, exc, pattern", [
    pytest.param(lambda p: (p / "w.pth").write_text("hello") and p / "w.pth", V,
                 r"RAFT weights .*w\.pth' are not a readable torch state dict .*pass torchvision's raft_small", id="text-file"),
    pytest.param(lambda p: p, V, r"RAFT weights .* is a folder: pass the weights file itself", id="folder"),
    pytest.param(lambda p: 123, T, r"weights must be a RAFT weights file path .*got 123", id="int"),
    pytest.param(lambda p: {1: torch.zeros(1)}, V, r"state dict of named tensors \(str keys\), got the key 1", id="int-keys"),
])
def test_raft_weights_are_named(tmp_path, weights, exc, pattern):
    """Were the unpickler's bare KeyError '101', 'does not exist' for a folder, pathlib's TypeError and
    "'int' object has no attribute 'startswith'"."""
    with pytest.raises(exc, match=pattern):
        FL.load_raft("small", weights=weights(tmp_path), device="cpu", cache=False)
    with pytest.raises(V, match=r"arch must be one of \['large', 'small'\], got \['small'\]"):  # was "unhashable type: 'list'"
        FL.load_raft(["small"], device="cpu")


@pytest.mark.parametrize("call, exc, pattern", [
    pytest.param(lambda p: FV.load_i3d((p / "i3d.pt").write_text("hello") and p / "i3d.pt", device="cpu"), V,
                 r"i3d\.pt' is not a TorchScript module .*pass i3d_torchscript\.pt", id="text-file"),
    pytest.param(lambda p: FV.load_i3d(p, device="cpu"), V, r"I3D detector .* is a folder: pass the TorchScript file itself", id="folder"),
    pytest.param(lambda p: FV.load_i3d(7, device="cpu"), T, r"path must be the I3D TorchScript file path .*got 7", id="int"),
    pytest.param(lambda p: FV.i3d_features(torch.rand(2, 2, 3, 8, 8), detector=lambda x, **kw: x, device="cpu", show_progress=False), T,
                 r"detector must be a torch\.nn\.Module \(e\.g\. load_i3d\(\)\), the path of i3d_torchscript\.pt, or None, got function",
                 id="plain-function"),
    pytest.param(lambda p: FV.fvd(torch.rand(2, 2, 3, 8, 8), torch.rand(2, 2, 3, 8, 8), detector=3, device="cpu"), T,
                 r"detector must be a torch\.nn\.Module", id="fvd-int-detector"),
    pytest.param(lambda p: FV.i3d_features(torch.rand(2, 2, 3, 8, 8), detector=torch.nn.Flatten(), detector_kwargs=3, device="cpu"), T,
                 r"detector_kwargs must be a dict of keyword arguments", id="int-detector-kwargs"),
])
def test_i3d_detector_inputs_are_named(tmp_path, call, exc, pattern):
    """Were torch.jit's 'PytorchStreamReader failed reading zip archive', pathlib's TypeError for a function or a number,
    "'int' object is not iterable" for the keywords, and 'not found' for a folder that exists."""
    with pytest.raises(exc, match=pattern):
        call(tmp_path)

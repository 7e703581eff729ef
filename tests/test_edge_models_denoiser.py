"""Bad inputs of the denoiser contract (``Cond``, the adapters' one ``forward``), the toy's config and builder,
``cilnb.models.load`` and the model helpers that were accepted silently (a NaN video or image giving NaN predictions, a
duplicated temporal level, a motion scale that made every prediction NaN, ``True`` read as a motion label, an explicit
``dtype`` the generic adapter ignored, ``""`` loading the current folder as a pipeline) or failed deep inside torch,
numpy or the network naming neither the argument nor the fix.

Siblings: ``test_edge_adapters.py`` (the diffusers adapters' own options), ``test_bad_inputs_models.py`` (checkpoints,
statistics), ``test_cond.py``.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import cilnb.models as M
from cilnb.checks import InputTypeError
from cilnb.denoiser import Cond
from cilnb.models import base, toy
from cilnb.models.gaussian import GaussianDenoiser
from cilnb.schedules import VPSchedule

T, V = InputTypeError, ValueError
NAN = float("nan")
TINY = dict(frames=2, size=8, widths=(8,), temporal="none", temporal_levels=(), temporal_width=8, emb_dim=16)


@pytest.fixture(scope="module")
def model():
    return toy.build(seed=0, **TINY).eval()


def _xy(B=1):
    g = torch.Generator().manual_seed(0)
    return torch.randn(B, 2, 1, 8, 8, generator=g), torch.rand(B, 1, 8, 8, generator=g) * 2 - 1, torch.full((B,), 0.5)


def _meta(*shape, dtype=torch.float32):
    return torch.empty(*shape, device="meta", dtype=dtype)


# ----------------------------------------------------------------------------------------------
# Cond
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [10**20, 2**62])
def test_cond_expand_beyond_what_a_tensor_can_index(n):
    """expand(10**20) was torch's 'Overflow when unpacking long long', expand(2**62) 'numel: integer multiplication overflow'."""
    with pytest.raises(V, match=r"Cond\.expand\(n=\d+\): 'y' would hold \d+ rows of 64 elements, more than a tensor can index"):
        Cond(torch.zeros(1, 1, 8, 8), motion=torch.ones(1)).expand(n)
    assert Cond(torch.zeros(1, 1, 8, 8), motion=torch.ones(1)).expand(np.int64(3)).y.shape == (3, 1, 8, 8)


def test_cond_select_with_a_meta_index_and_cat_across_devices():
    """A meta index tensor failed in tolist() ('Cannot copy out of meta tensor'); rows on two devices failed in torch.cat
    ('Tensor on device meta is not on the expected device cpu!'), naming no entry."""
    two = Cond(torch.zeros(2, 1, 8, 8))
    with pytest.raises(T, match=r"^index is a tensor on the 'meta' device"):
        two.select(_meta(1, dtype=torch.long))
    with pytest.raises(V, match=r"Cond\.cat: the rows of 'y' are on different devices \(\['cpu', 'meta'\]\): move every"):
        Cond.cat([Cond(torch.zeros(1, 1, 8, 8)), Cond(_meta(1, 1, 8, 8))])
    assert two.select(torch.tensor([1])).y.shape == (1, 1, 8, 8) and Cond.cat([two, two]).y.shape == (4, 1, 8, 8)


# ----------------------------------------------------------------------------------------------
# the adapters' forward (Adapter.check_input and the conditioning, every model)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make, exc, pattern", [
    pytest.param(lambda x, t, y: (x.numpy(), t, y), T, r"x_t must be a torch\.Tensor video .*got ndarray: pass torch\.from_numpy\(x_t\)",
                 id="numpy"),  # was "x_t must be a video [B, F, C, H, W], got shape (1, 2, 1, 8, 8)": the right shape
    pytest.param(lambda x, t, y: (_meta(*x.shape), t, y), T, r"^x_t is a tensor on the 'meta' device", id="meta"),  # 'Cannot copy out'
    pytest.param(lambda x, t, y: (x[:0], t[:0], y[:0]), V, r"x_t is empty \(shape \(0, 2, 1, 8, 8\)\)", id="empty"),  # conv2d error
    pytest.param(lambda x, t, y: (torch.full_like(x, NAN), t, y), V, r"x_t contains 128 non-finite value\(s\)", id="nan"),  # NaN x0_hat
    pytest.param(lambda x, t, y: (x.index_fill(4, torch.tensor([3]), float("inf")), t, y), V, r"x_t contains 16 non-finite", id="inf"),
])
def test_forward_checks_x_t(model, make, exc, pattern):
    """Each came back as a NaN prediction without a word, or failed inside the network (see the cases)."""
    x, y, t = _xy()
    bad_x, bad_t, bad_y = make(x, t, y)
    with pytest.raises(exc, match=pattern):
        model(bad_x, bad_t, y=bad_y)
    assert bool(torch.isfinite(model(x, t, y=y)).all())


@pytest.mark.parametrize("cond, exc, pattern", [
    pytest.param(lambda y: {"y": torch.full_like(y, NAN)}, V, r"y contains 64 non-finite value\(s\)", id="nan-y"),  # NaN x0_hat
    pytest.param(lambda y: {"y": _meta(*y.shape)}, T, r"^y is a tensor on the 'meta' device", id="meta-y"),  # device RuntimeError
    pytest.param(lambda y: {"y": y.numpy()}, T, r"y must be a torch\.Tensor \[B, C, H, W\].*got ndarray: pass torch\.from_numpy\(y\)",
                 id="numpy-y"),  # AttributeError: 'numpy.ndarray' object has no attribute 'to'
    pytest.param(lambda y: {"y": True}, T, r"y must be a torch\.Tensor .*got bool", id="bool-y"),  # AttributeError
    pytest.param(lambda y: {"y": ((y + 1) * 127.5).to(torch.uint8)}, T, r"y has dtype torch\.uint8.*y\.float\(\) / 127\.5 - 1",
                 id="uint8-y"),  # 0..255 pixels cast to float as they were
    pytest.param(lambda y: {"y": y, "motion": True}, T, r"cond\['motion'\] must be numbers .*got True", id="bool-motion"),  # read as 1
    pytest.param(lambda y: {"y": y, "motion": NAN}, V, r"cond\['motion'\] contains 1 non-finite", id="nan-motion"),  # NaN x0_hat
    pytest.param(lambda y: {"y": y, "motion": _meta(1)}, T, r"^cond\['motion'\] is a tensor on the 'meta' device", id="meta-motion"),
])
def test_forward_checks_the_conditioning(model, cond, exc, pattern):
    """Each came back as a NaN prediction without a word, was read as something else, or failed inside the call (see the cases)."""
    x, y, t = _xy()
    with pytest.raises(exc, match=pattern):
        model(x, t, **cond(y))
    assert torch.equal(model(x, t, y=y, motion=np.float64(1.5)), model(x, t, y=y, motion=torch.tensor([1.5])))


@pytest.mark.parametrize("raw, pattern", [
    pytest.param(lambda x: x.detach().numpy(), r"uncond_raw must be the float tensor forward_parts returned .*got ndarray", id="numpy"),
    pytest.param(lambda x: x.long(), r"uncond_raw must be the float tensor .*got dtype torch\.int64", id="int"),  # cast silently
    pytest.param(lambda x: _meta(*x.shape), r"^uncond_raw is a tensor on the 'meta' device", id="meta"),
])
def test_forward_parts_checks_uncond_raw(model, raw, pattern):
    """A numpy array failed in .to() (AttributeError), a meta tensor in the copy, an integer one was cast and used."""
    x, y, t = _xy()
    x0, unc = model.forward_parts(x, t, y=y, guidance=2.0)
    with pytest.raises(T, match=pattern):
        model.forward_parts(x, t, y=y, guidance=2.0, uncond_raw=raw(unc))
    assert torch.equal(model.forward_parts(x, t, y=y, guidance=2.0, uncond_raw=unc)[0], x0)


def test_base_prepare_condition_checks_images_and_numbers(model):
    """numpy images became y as they were (AttributeError at the first forward), a list failed in .shape, 0..255 images and a
    NaN extra were accepted, and np.int64(2) stayed one scalar while 2 became one value per image."""
    _, y, _ = _xy(2)
    with pytest.raises(T, match=r"images must be a torch\.Tensor \[B, C, H, W\].*got ndarray: pass torch\.from_numpy\(images\)"):
        model.prepare_condition(y.numpy())
    with pytest.raises(T, match=r"images must be a torch\.Tensor .*got list"):
        model.prepare_condition([0.0, 1.0])
    with pytest.raises(V, match=r"images values span .* must lie in \[-1, 1\]: it looks like 0\.\.255 pixels"):
        model.prepare_condition((y + 1) * 127.5)
    with pytest.raises(V, match=r"motion must be finite \(one value for every image\), got nan"):
        model.prepare_condition(y, motion=NAN)
    c = model.prepare_condition(y, motion=np.int64(2))
    assert torch.equal(c["motion"], torch.full((2,), 2.0)) and c.equals(model.prepare_condition(y, motion=2))


# ----------------------------------------------------------------------------------------------
# the toy's config and builder
# ----------------------------------------------------------------------------------------------


def test_toy_config_takes_numpy_ints_as_ints():
    """frames=np.int64(2) (a loop over np.arange) was refused as 'ToyConfig.frames must be a positive int, got np.int64(2)'."""
    cfg = toy.ToyConfig(**{**TINY, "frames": np.int64(2), "widths": (np.int64(8),), "temporal": "attn", "temporal_levels": (np.int64(0),)})
    assert cfg == toy.ToyConfig(**{**TINY, "temporal": "attn", "temporal_levels": (0,)})
    assert json.loads(cfg.to_json())["frames"] == 2 and type(cfg.frames) is int
    with pytest.raises(T, match=r"ToyConfig\.frames must be a positive int, got 2\.0 \(float\); pass 2"):
        toy.ToyConfig(frames=2.0)


@pytest.mark.parametrize("call, exc, pattern", [
    pytest.param(lambda: toy.ToyConfig(temporal_levels=(1, 1)), V, r"ToyConfig\.temporal_levels lists level\(s\) \[1\] more than once",
                 id="duplicate-level"),  # accepted: (1, 1) built the network of (1,)
    pytest.param(lambda: toy.ToyConfig(motion_scale=1e300), V, r"ToyConfig\.motion_scale must be <= 1e\+06", id="huge-motion-scale"),
    pytest.param(lambda: toy.build(seed=0, **{**TINY, "frames": 10**15, "temporal": "attn", "temporal_levels": (0,)}), V,
                 r"ToyUNet\(config\) needs more than .* GiB but this machine has .* lower frames", id="huge-frames"),  # allocator
    pytest.param(lambda: toy.build(fames=2), V, r"build\(\) got \['fames'\], which are not ToyConfig fields: the fields are \['frames'",
                 id="unknown-field"),  # ToyConfig.__init__() got an unexpected keyword argument
    pytest.param(lambda: toy.build({"frames": 2}, size=8), T, r"config must be a ToyConfig .*got dict", id="dict-config"),  # replace()
])
def test_toy_build_and_config_odd_values(call, exc, pattern):
    """Accepted silently, or failed in torch's allocator or dataclasses with a bare TypeError (see the cases)."""
    with pytest.raises(exc, match=pattern):
        call()


def test_toy_motion_scale_1e300_made_every_motion_prediction_nan():
    """Before, ToyConfig(motion_scale=1e300) was accepted: motion * motion_scale is inf in float32, its sinusoid NaN."""
    with pytest.raises(V, match=r"motion_scale must be <= 1e\+06 \(motion is embedded as sinusoidal"):
        toy.build(seed=0, **TINY, motion_scale=1e300)
    x, y, t = _xy()
    assert bool(torch.isfinite(toy.build(seed=0, **TINY, motion_scale=1e6).eval()(x, t, y=y, motion=4.0)).all())


# ----------------------------------------------------------------------------------------------
# cilnb.models.load, the generic adapter, the Gaussian denoiser, the shared helpers
# ----------------------------------------------------------------------------------------------


def test_models_load_names_options_and_paths(monkeypatch, tmp_path):
    """A non-string name was a plain ValueError, an unknown toy option load()'s bare TypeError, and '' loaded the current
    folder (Path('') is '.') as the SVD pipeline; bytes were refused as a ValueError."""
    with pytest.raises(T, match=r"model name must be a string, one of \['toy', .*got 3 \(int\)"):
        M.load(3)
    with pytest.raises(V, match=r"model 'toy' takes no option\(s\) \['foo'\]: its options are \['path_or_id', 'device', 'dtype'\]"):
        M.load("toy", device="cpu", foo=1)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model_index.json").write_text("{}")  # the current folder looks like a pipeline: it was loaded
    with pytest.raises(V, match=r"SVD: path_or_id is empty \(''\): pass the pipeline folder or a hub id, or None for stabilityai"):
        M.load("svd", "", device="cpu")
    with pytest.raises(T, match=r"SVD: path_or_id must be a folder or a hub id string, got bytes"):
        M.load("svd", b"/tmp", device="cpu")


def _apply(x, t, c):
    return torch.zeros_like(x)


def test_generic_load_refuses_what_it_would_ignore():
    """dtype=/device= were ignored without a word (the wrapped model stays where it is) and an unknown option was
    GenericAdapter's bare '__init__() got an unexpected keyword argument'."""
    net = torch.nn.Linear(2, 2)
    with pytest.raises(V, match=r"does not cast models: dtype=torch\.float16 was asked but the model is in torch\.float32"):
        M.load("generic", net, dtype=torch.float16)
    with pytest.raises(V, match=r"does not cast models: dtype='float16' was asked but the model is a function without weights"):
        M.load("generic", _apply, dtype="float16")
    with pytest.raises(V, match=r"does not move models: device='cpu' was asked but the model is a function without weights"):
        M.load("generic", _apply, device="cpu")
    with pytest.raises(V, match=r"the generic adapter takes no option\(s\) \['guidance'\]: its options are \['schedule'"):
        M.load("generic", _apply, guidance=2.0)
    assert M.load("generic", net, device="cpu", dtype="float32").model is net and M.load("generic", _apply).name == "generic"


def test_gaussian_denoiser_checks_its_moments():
    """numpy moments failed in .double() (AttributeError); a NaN variance passed the 'var > 0' test and every prediction was NaN."""
    mean, var = torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)
    with pytest.raises(T, match=r"mean must be a real tensor \[F, C, H, W\], got ndarray: pass torch\.from_numpy\(mean\)"):
        GaussianDenoiser(VPSchedule(), mean.numpy(), var)
    with pytest.raises(V, match=r"var contains 1 non-finite value"):
        GaussianDenoiser(VPSchedule(), mean, var.index_put((torch.tensor([0]),) * 4, torch.tensor(NAN)))
    with pytest.raises(T, match=r"schedule must be a cilnb\.schedules\.Schedule"):
        GaussianDenoiser("vp", mean, var)
    assert GaussianDenoiser(VPSchedule(), mean, var)(torch.zeros(1, 2, 1, 4, 4), 0.5).shape == (1, 2, 1, 4, 4)


@pytest.mark.parametrize("call, exc, pattern", [
    pytest.param(lambda: base.per_sample(np.True_, 1, "motion"), T, r"motion must be one number or one per image, got np\.True_",
                 id="per-sample-numpy-bool"),  # read as 1.0
    pytest.param(lambda: base.per_sample(torch.tensor([True, False]), 2, "fps"), T, r"fps must be one number", id="per-sample-bool-tensor"),
    pytest.param(lambda: base.check_images(_meta(1, 3, 8, 8)), T, r"^images is a tensor on the 'meta' device", id="images-meta"),
    pytest.param(lambda: base.check_video(_meta(1, 2, 3, 8, 8)), T, r"^frames is a tensor on the 'meta' device", id="video-meta"),
    pytest.param(lambda: base.check_latents(_meta(1, 2, 4, 8, 8), 4), T, r"^latents is a tensor on the 'meta' device", id="latents-meta"),
])
def test_shared_adapter_helpers(call, exc, pattern):
    """The bools were read as 1 and 0; the meta tensors failed with 'Tensor.item() cannot be called on meta tensors'."""
    with pytest.raises(exc, match=pattern):
        call()


# ----------------------------------------------------------------------------------------------
# SVD and the transformer adapters
# ----------------------------------------------------------------------------------------------


def test_svd_scalings_refuses_what_gave_nan():
    """svd_scalings(-1.0) returned c_noise = NaN, svd_scalings(0) -inf, a string was torch's 'new(): invalid data type'."""
    from cilnb.models.svd import svd_scalings

    for bad in (-1.0, 0.0, torch.tensor([1.0, NAN], dtype=torch.float64)):
        with pytest.raises(V, match=r"sigma must be finite and > 0 \(c_noise = log\(sigma\) / 4 was NaN or -inf\)"):
            svd_scalings(bad)
    with pytest.raises(T, match=r"sigma must be a number or a tensor of noise levels > 0, got 'a' \(str\)"):
        svd_scalings("a")
    assert bool(torch.isfinite(torch.stack(svd_scalings(torch.tensor([0.002, 700.0], dtype=torch.float64)))).all())


def test_svd_forward_refuses_integer_latents_and_bool_micro_conditions():
    """Integer y latents and image embeddings were cast into the UNet, np.True_ / a bool tensor were the motion bucket 1."""
    pytest.importorskip("diffusers")
    from _tiny import PX, random_image, tiny_svd_pipeline

    from cilnb.models.svd import from_pipeline

    ad = from_pipeline(tiny_svd_pipeline())
    cond = ad.prepare_condition(random_image(PX)[1], seed=0)
    x, t = torch.randn(1, 2, 4, PX // 2, PX // 2, generator=torch.Generator().manual_seed(0)), torch.tensor([0.5])
    with pytest.raises(T, match=r"y must be the conditional latent as floats, got dtype torch\.int64"):
        ad(x, t, **{**cond, "y": cond["y"].long()})
    with pytest.raises(V, match=r"image_embeds must be the CLIP image embedding \[B, 1, D\] = \[1, 1, 32\], got \(1, 1, 32\) torch\.int64"):
        ad(x, t, **{**cond, "image_embeds": cond["image_embeds"].long()})
    for motion in (np.True_, torch.tensor([True])):
        with pytest.raises(T, match=r"motion must be one number or one per image"):
            ad(x, t, **{**cond, "motion": motion})
    with pytest.raises(T, match=r"motion_bucket_id must be one number or one per image, got np\.True_"):
        ad.prepare_condition(random_image(PX)[1], seed=0, motion_bucket_id=np.True_)
    assert bool(torch.isfinite(ad(x, t, **cond)).all())


def test_transformer_adapter_prompts_must_be_strings(embeds):
    """prompt=3 was stored and failed at the first forward inside the pipeline's tokenizer (or its 'no text encoder' error)."""
    pytest.importorskip("diffusers")
    from test_models_cogvideox import _pipe

    from cilnb.models.cogvideox import CogVideoXI2VAdapter

    with pytest.raises(T, match=r"prompt must be a string \(or a list of strings, one per video\), got 3 \(int\)"):
        CogVideoXI2VAdapter(_pipe(), prompt=3)
    cog = CogVideoXI2VAdapter(_pipe(), prompt="a cat")
    with pytest.raises(T, match=r"negative_prompt must be a string .*got 0\.5 \(float\)"):
        cog.set_prompt("a dog", 0.5)
    with pytest.raises(T, match=r"prompt must be a string .*got \[1, 2\]"):
        cog.encode_prompt([1, 2])
    cog.set_prompt("a dog", None)  # None: no negative prompt, as before
    cog.set_prompt_embeds(*embeds)
    assert cog(torch.zeros(1, 3, 4, 4, 4), torch.tensor([0.5]), y=torch.zeros(1, 4, 4, 4)).shape == (1, 3, 4, 4, 4)

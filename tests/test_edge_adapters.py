"""Bad inputs of the diffusers adapters (SVD, PIA, I2VGen-XL, CogVideoX, Wan, LTX) that were accepted silently (a
truncated frame count or motion preset, guidance=False as the unconditional branch only, an integer x_t, NaN latents
decoded into a NaN video, fps <= 0) or failed deep inside torch/diffusers (text or image embeddings of the wrong width,
latents with the wrong channel count). Each case names the problem and the fix before any network call.
"""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("diffusers")

from _tiny import PX, TXT, random_image, tiny_pia_pipeline, tiny_svd_pipeline  # noqa: E402

from cilnb.checks import InputTypeError  # noqa: E402
from cilnb.models.base import guidance_weights  # noqa: E402

T, V = InputTypeError, ValueError
NAN = float("nan")


@pytest.fixture(scope="module")
def svd():
    from cilnb.models.svd import from_pipeline

    pipe = tiny_svd_pipeline()
    ad = from_pipeline(pipe)
    ad.pipe = pipe
    cond = ad.prepare_condition(random_image(PX)[1], seed=0)
    return ad, cond


@pytest.fixture(scope="module")
def pia(tmp_path_factory):
    from cilnb.models.vp_video import pia_from_pipeline

    pipe = tiny_pia_pipeline(tmp_path_factory.mktemp("pia"))
    ad = pia_from_pipeline(pipe, n_frames=2)
    ad.pipe = pipe
    cond = ad.prepare_condition(random_image(PX)[1], seed=0)
    return ad, cond


@pytest.fixture(scope="module")
def cog(embeds):
    from test_models_cogvideox import _pipe

    from cilnb.models.cogvideox import CogVideoXI2VAdapter

    ad = CogVideoXI2VAdapter(_pipe())
    ad.set_prompt_embeds(*embeds)
    return ad


@pytest.fixture(scope="module")
def ltx_pipe():
    from test_models_flow import _ltx

    return _ltx()


def _x(*shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


# ----------------------------------------------------------------------------------------------
# guidance and x_t (the base's forward, every adapter)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("guidance, exc, pattern", [
    pytest.param(False, T, r"guidance must be a number, .*got False: pass 1\.0 for off", id="false"),  # was 0: the uncond branch only
    pytest.param(True, T, r"got True", id="true"),  # was 1: guidance silently off
    pytest.param((True, 3.0), T, r"got \(True, 3\.0\)", id="bool-first"),
    pytest.param(("1", "3"), T, r"guidance \(first, last\) must be two real numbers", id="string-pair"),  # was float()-ed
    pytest.param(-2.0, V, r"guidance must be >= 0", id="negative"),  # ran guidance -2
    pytest.param((-3.0, 2.0), V, r"guidance must be >= 0", id="negative-first"),
    pytest.param(torch.tensor([True, False]), T, r"guidance must be a number", id="bool-tensor"),
])
def test_guidance_weights_refuse_bools_strings_and_negatives(guidance, exc, pattern):
    with pytest.raises(exc, match=pattern):
        guidance_weights(guidance, 2, 3)
    assert guidance_weights(0.0, 2, 3).eq(0).all() and guidance_weights((1.0, torch.tensor(3.0)), 2, 3).shape == (2, 3)


def test_svd_guidance_option_and_integer_x_t_are_refused(svd):
    """guidance=False returned the unconditional prediction, (True, 3) was built at construction; an int64 x_t came
    back as int64 x0_hat (truncated)."""
    from cilnb.models.svd import from_pipeline

    ad, cond = svd
    x, t = _x(1, 2, 4, PX // 2, PX // 2), torch.tensor([0.5])
    with pytest.raises(T, match=r"got False"):
        ad(x, t, **cond, guidance=False)
    with pytest.raises(T, match=r"guidance must be a number"):
        from_pipeline(ad.pipe, guidance=(True, 3.0))
    with pytest.raises(V, match=r"x_t must be a floating-point video, got dtype torch\.int64; convert it with x_t\.float\(\)"):
        ad(x.long(), t, **cond)
    assert ad(x, t, **cond).dtype == torch.float32


# ----------------------------------------------------------------------------------------------
# SVD: micro-conditions, image embeddings, channels, latents
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kw, pattern", [
    pytest.param(dict(fps=0), r"fps must be > 0 \(the frame rate", id="fps-zero"),  # fps_id -1
    pytest.param(dict(fps=[7, -3]), r"fps must be > 0", id="fps-negative"),
    pytest.param(dict(motion_bucket_id=-1), r"motion_bucket_id must be >= 0", id="motion-negative"),
])
def test_svd_micro_conditions_out_of_range(svd, kw, pattern):
    ad, _ = svd
    img = random_image(PX)[1].expand(2 if "fps" in kw and isinstance(kw["fps"], list) else 1, -1, -1, -1)
    with pytest.raises(V, match=pattern):
        ad.prepare_condition(img, seed=0, **kw)


@pytest.mark.parametrize("change, pattern", [
    pytest.param(lambda c: {"image_embeds": torch.zeros(1, 1, 16)}, r"image_embeds must be the CLIP image embedding \[B, 1, D\] = "
                 r"\[1, 1, 32\], got \(1, 1, 16\)", id="embeds-width"),  # was 'mat1 and mat2 shapes cannot be multiplied'
    pytest.param(lambda c: {"image_embeds": c["image_embeds"][:, 0]}, r"image_embeds must be .*got \(1, 32\)", id="embeds-2d"),
    pytest.param(lambda c: {"y": c["y"].numpy()}, r"y must be the conditional latent .*got ndarray", id="y-numpy"),  # zeros_like TypeError
])
def test_svd_malformed_conditioning_is_named(svd, change, pattern):
    ad, cond = svd
    with pytest.raises(V, match=pattern):
        ad(_x(1, 2, 4, PX // 2, PX // 2), torch.tensor([0.5]), **{**cond, **change(cond)})


def test_svd_x_t_and_latents_with_wrong_channels_or_nan(svd):
    """x_t with 3 channels and y to match, and 3-channel latents, failed inside conv2d; NaN latents decoded to a NaN video."""
    ad, cond = svd
    with pytest.raises(V, match=r"x_t must have SVD's 4 latent channels"):
        ad(_x(1, 2, 3, 8, 8), torch.tensor([0.5]), **{**cond, "y": torch.zeros(1, 3, 8, 8)})
    with pytest.raises(V, match=r"latents must have the VAE's 4 latent channels"):
        ad.decode_latents(_x(1, 2, 3, 8, 8))
    with pytest.raises(V, match=r"latents contains 512 non-finite"):
        ad.decode_latents(torch.full((1, 2, 4, 8, 8), NAN))
    with pytest.raises(V, match=r"latents must be floating point"):
        ad.decode_latents(torch.zeros(1, 2, 4, 8, 8, dtype=torch.long))


# ----------------------------------------------------------------------------------------------
# PIA and I2VGen-XL: text embeddings, motion presets, target fps
# ----------------------------------------------------------------------------------------------


def test_pia_motion_scale_is_not_truncated(pia):
    """motion_scale=1.5 became preset 1 (``.long()`` before the range check)."""
    ad, cond = pia
    with pytest.raises(V, match=r"motion_scale\) must be integers in 0\.\.8, got \[1\.5\]"):
        ad.prepare_condition(random_image(PX)[1], motion_scale=1.5)
    with pytest.raises(V, match=r"motion must be one number or one per image \(1\), got 2 values"):  # was an expand RuntimeError
        ad(_x(1, 2, 4, 8, 8), torch.tensor([0.5]), **{**cond, "motion": torch.tensor([1, 2])}, guidance_scale=1)


@pytest.mark.parametrize("call, pattern", [
    pytest.param(lambda ad, c: ad.prepare_condition(random_image(PX)[1], prompt_embeds=torch.zeros(1, 8, 5)),
                 r"prompt_embeds must have the text encoder's width D = 16", id="prepare-width"),  # accepted, failed in the UNet
    pytest.param(lambda ad, c: ad.prepare_condition(random_image(PX)[1], prompt_embeds=c["prompt_embeds"].numpy()),
                 r"prompt_embeds must be a float tensor \[B, L, D\] .*got ndarray", id="prepare-numpy"),  # AttributeError
    pytest.param(lambda ad, c: ad(_x(1, 2, 4, 8, 8), torch.tensor([0.5]), **{**c, "negative_prompt_embeds": torch.zeros(1, 8, 5)}),
                 r"negative_prompt_embeds must have the text encoder's width", id="forward-neg-width"),  # torch.cat RuntimeError
    pytest.param(lambda ad, c: ad(_x(1, 2, 3, 8, 8), torch.tensor([0.5]), **{**c, "y": torch.zeros(1, 3, 8, 8)}),
                 r"x_t must have pia's 4 latent channels", id="x-channels"),  # conv RuntimeError
    pytest.param(lambda ad, c: ad.decode_latents(_x(1, 2, 3, 8, 8)), r"latents must have the VAE's 4 latent channels", id="decode-channels"),
])
def test_pia_text_embeddings_and_channels_are_checked(pia, call, pattern):
    ad, cond = pia
    with pytest.raises(V, match=pattern):
        call(ad, cond)


def test_pia_shared_prompt_embeds_broadcast_to_the_batch(pia):
    """Prompt embeddings of batch 1 for two videos were 'not batched' under guidance; they are shared like the transformers'."""
    ad, cond = pia
    two = {**cond, "y": cond["y"].expand(2, -1, -1, -1), "motion": cond["motion"].expand(2)}
    out = ad(_x(2, 2, 4, 8, 8), torch.tensor([0.5, 0.5]), **two)
    assert out.shape == (2, 2, 4, 8, 8) and bool(torch.isfinite(out).all())


def test_i2vgenxl_target_fps_and_image_embeds(tmp_path):
    from _tiny import tiny_i2vgenxl_pipeline

    from cilnb.models.vp_video import i2vgenxl_from_pipeline

    ad = i2vgenxl_from_pipeline(tiny_i2vgenxl_pipeline(tmp_path), n_frames=2)
    img = random_image(PX)[1]
    with pytest.raises(V, match=r"target_fps must be > 0"):
        ad.prepare_condition(img, target_fps=0)
    cond = ad.prepare_condition(img)
    with pytest.raises(V, match=r"image_embeds must be the CLIP image embedding \[B, 1, D\] = \[1, 1, 8\], got \(1, 1, 5\)"):
        ad(_x(1, 2, 4, 8, 8), torch.tensor([0.5]), **{**cond, "image_embeds": torch.zeros(1, 1, 5)})


def test_vp_negative_guidance_scale_is_refused(pia):
    from cilnb.models.vp_video import PIAAdapter

    ad, _ = pia
    with pytest.raises(V, match=r"guidance_scale must be >= 0"):
        PIAAdapter(ad.pipe, guidance_scale=-3.0)
    assert PIAAdapter(ad.pipe, guidance_scale=0.0).guidance == 0.0


# ----------------------------------------------------------------------------------------------
# CogVideoX, Wan, LTX: text widths, latents, frame counts
# ----------------------------------------------------------------------------------------------


def test_cogvideox_text_width_latents_and_channels(cog):
    """A T5 state of the wrong width failed in a Linear ('mat1 and mat2'), numpy ones were stored by set_prompt_embeds."""
    x, t = _x(1, 3, 4, 4, 4), torch.tensor([0.5])
    y = torch.zeros(1, 4, 4, 4)
    with pytest.raises(V, match=r"prompt_embeds must have the text encoder's width D = 32 \(\[B, L, D\]\), got shape \(1, 16, 5\)"):
        cog(x, t, y=y, prompt_embeds=torch.zeros(1, 16, 5))
    with pytest.raises(V, match=r"prompt_embeds must be a float tensor \[B, L, D\] .*got ndarray"):
        cog.set_prompt_embeds(torch.zeros(1, *TXT).numpy())
    with pytest.raises(V, match=r"x_t must have CogVideoX-I2V's 4 latent channels"):
        cog(_x(1, 3, 3, 4, 4), t, y=torch.zeros(1, 3, 4, 4))
    with pytest.raises(V, match=r"latents must have the VAE's 4 latent channels"):
        cog.decode_latents(_x(1, 3, 3, 4, 4))
    with pytest.raises(V, match=r"latents contains .* non-finite"):
        cog.decode_latents(torch.full((1, 3, 4, 4, 4), NAN))
    assert cog(x, t, y=y).shape == x.shape  # the default prompt embeddings still work


def test_wan_num_frames_is_not_truncated(embeds):
    """num_frames=9.5 became 9, '9' was int()-ed and True became 1 frame."""
    from test_models_flow import _wan

    from cilnb.models.flow_video import WanI2VAdapter

    wan = WanI2VAdapter(_wan())
    img = torch.zeros(1, 3, 32, 32)
    for bad, exc in ((9.5, T), ("9", T), (True, T), (0, V)):
        with pytest.raises(exc, match=r"num_frames must be a positive int \(pixel frames, 4k \+ 1\)"):
            wan.prepare_condition(img, num_frames=bad)
    with pytest.raises(V, match=r"latents must have the VAE's 16 latent channels"):
        wan.decode_latents(_x(1, 3, 3, 4, 4))


def test_ltx_resolution_and_options_are_checked(ltx_pipe, embeds):
    """height=0 and frame_rate=NaN were accepted (a NaN RoPE scale), num_frames='9' was a '<' TypeError, a string
    decode_timestep was float()-ed; 9.0 frames still work."""
    from cilnb.models.flow_video import LTXI2VAdapter

    kw = dict(num_frames=9, height=32, width=32)
    with pytest.raises(V, match=r"height must be a positive int"):
        LTXI2VAdapter(ltx_pipe, **{**kw, "height": 0})
    with pytest.raises(T, match=r"num_frames must be a positive int"):
        LTXI2VAdapter(ltx_pipe, **{**kw, "num_frames": "9"})
    with pytest.raises(V, match=r"frame_rate must be finite"):
        LTXI2VAdapter(ltx_pipe, **kw, frame_rate=NAN)
    with pytest.raises(T, match=r"decode_timestep must be a real number"):
        LTXI2VAdapter(ltx_pipe, **kw, decode_timestep="0.05")
    ltx = LTXI2VAdapter(ltx_pipe, **{**kw, "num_frames": 9.0})
    assert ltx.resolution == (9, 32, 32)
    with pytest.raises(T, match=r"num_frames must be a positive int"):
        ltx.prepare_condition(torch.zeros(1, 3, 32, 32), num_frames=9.5)
    ltx.set_prompt_embeds(embeds[0], None, embeds[1], None)
    x, t, y = _x(1, 3, 8, 8, 8), torch.tensor([0.5]), torch.zeros(1, 8, 8, 8)
    with pytest.raises(V, match=r"prompt_embeds must have the text encoder's width D = 32"):
        ltx(x, t, y=y, prompt_embeds=torch.zeros(1, 16, 5))
    with pytest.raises(V, match=r"x_t must have LTX-Video I2V's 8 latent channels"):
        ltx(_x(1, 3, 3, 8, 8), t, y=torch.zeros(1, 3, 8, 8))
    assert ltx(x, t, y=y).shape == x.shape

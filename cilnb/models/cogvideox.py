"""CogVideoX image-to-video (diffusers ``CogVideoXImageToVideoPipeline``) on the denoiser contract.

CogVideoX-I2V is a VP model with v-prediction, zero terminal SNR (``alpha_T = 0``) and an SNR
shift (``snr_shift_scale``); :func:`cilnb.schedules.from_diffusers` reads all three from the
``CogVideoXDDIMScheduler`` config. The image conditioning is the VAE latent of the conditional
image placed at latent frame 0, zero-padded along frames and concatenated on channels::

    transformer([x_t | [y, 0, ..., 0]] on channels, timestep n = t T - 1, T5 text, RoPE, ofs) -> v

(layout ``[B, F, C, H, W]`` on both sides; the transformer takes that layout natively). The RoPE
and ``ofs`` embeddings are computed exactly as the pipeline computes them.

Sampling with :func:`cilnb.sampling.sample` (``sampler="ddim"``, ``start=1``) reproduces the
pipeline with a ``trailing`` scheduler (the released checkpoints' setting) when ``n_steps``
divides ``num_train_timesteps``. Shown in ``docs/modern_i2v.md``; used by every notebook through
``cilnb.models.load("cogvideox-i2v", model_path)``.
"""
from __future__ import annotations

import os

import torch

from ..denoiser import Cond, Images, Video, prediction_from_diffusers
from ..schedules import VPSchedule, from_diffusers
from .base import (TransformerAdapter, batch_to, check_images, check_latent_channels, check_latents, check_prompt, check_video,
                   load_pipeline)

__all__ = ["CogVideoXI2VAdapter", "load", "from_pipeline"]

HUB_ID = "THUDM/CogVideoX-5b-I2V"


# ----------------------------------------------------------------------------------------------
# the adapter
# ----------------------------------------------------------------------------------------------


class CogVideoXI2VAdapter(TransformerAdapter):
    """CogVideoX-I2V on the contract: ``model(x_t [B,F,C,H,W], t [B], y=[B,C,H,W], prompt_embeds=...) -> x0_hat``.

    ``y`` is the image latent (VAE mean or sample, times the scaling factor) at latent frame 0;
    the conditioning channels are ``[y, 0, ..., 0]``. ``prompt_embeds`` (``[B, L, D]`` T5
    states) default to the adapter's prompt (:meth:`set_prompt`, ``""`` if never set).
    ``guidance_scale > 1`` runs classifier-free guidance with ``negative_prompt_embeds`` (the
    pipeline's ``use_dynamic_cfg`` is not supported). Eq. (4) conversions: v/eps/x0 -> ``x0_hat``.
    """

    name = "cogvideox-i2v"
    cond_keys = ("y", "prompt_embeds", "negative_prompt_embeds")
    _text_width_key = "text_embed_dim"

    def __init__(self, pipe, *, guidance_scale: float = 1.0, prompt: str | None = None, negative_prompt: str = ""):
        super().__init__()
        from diffusers import CogVideoXImageToVideoPipeline

        if not isinstance(pipe, CogVideoXImageToVideoPipeline):
            raise ValueError(f"expected a diffusers CogVideoXImageToVideoPipeline, got {type(pipe).__name__}")
        cfg = dict(pipe.scheduler.config)
        self.prediction = prediction_from_diffusers(cfg.get("prediction_type", "epsilon"))
        if self.prediction not in ("v", "eps", "x0"):
            raise ValueError(f"unsupported prediction_type {cfg.get('prediction_type')!r} in the scheduler config")
        schedule = from_diffusers(pipe.scheduler)
        if not isinstance(schedule, VPSchedule):
            raise ValueError(f"CogVideoX-I2V needs a VP (DDPM-beta) scheduler, got {type(pipe.scheduler).__name__}")
        self.schedule = schedule
        self.pipeline_spacing = cfg.get("timestep_spacing", "leading")
        self.transformer = pipe.transformer
        self._setup(pipe, guidance_scale, prompt, negative_prompt)
        tc = self.transformer.config
        self.patch_size_t = tc.patch_size_t
        self.n_frames = self._latent_frames(tc.sample_frames)
        self._rope_cache: dict = {}
        self.requires_grad_(False)
        self.eval()

    # -- construction ---------------------------------------------------------------------------

    def _latent_frames(self, pixel_frames: int) -> int:
        """Pixel frames -> latent frames as the pipeline computes them (CogVideoX 1.5 pads to ``patch_size_t``)."""
        n = (int(pixel_frames) - 1) // self.pipe.vae_scale_factor_temporal + 1
        p_t = self.patch_size_t
        if p_t is not None and n % p_t:
            n += p_t - n % p_t
        return n

    @property
    def scaling_factor(self) -> float:
        """What latents are multiplied by after the VAE (``1/scaling_factor`` when ``invert_scale_latents``)."""
        s = float(self.vae.config.scaling_factor)
        return 1.0 / s if getattr(self.vae.config, "invert_scale_latents", False) else s

    # -- prompts --------------------------------------------------------------------------------

    def encode_prompt(self, prompt: str | list[str], negative_prompt: str | list[str] = ""):
        """T5 states of ``prompt`` and ``negative_prompt`` through the pipeline's own ``encode_prompt``."""
        check_prompt("prompt", prompt)  # a number failed inside the pipeline's tokenizer (len() of an int)
        check_prompt("negative_prompt", negative_prompt)
        self._need_text_encoder()
        max_len = int(self.transformer.config.max_text_seq_length)
        pe, ne = self.pipe.encode_prompt(
            prompt, negative_prompt, do_classifier_free_guidance=True, num_videos_per_prompt=1,
            max_sequence_length=max_len, device=self.device, dtype=self.dtype,
        )
        return pe, ne

    # -- latent helpers -------------------------------------------------------------------------

    @torch.no_grad()
    def encode_video(self, frames: Video, generator: torch.Generator | None = None) -> Video:
        """``[B, F, 3, H, W]`` in [-1, 1] -> latents ``[B, f, C, h, w]`` times the scaling factor (posterior
        mean; a sample when ``generator`` is given, as the pipeline's image encoding does)."""
        check_video(frames)
        x = frames.to(self.device, self.vae.dtype).permute(0, 2, 1, 3, 4)
        dist = self.vae.encode(x).latent_dist
        z = dist.mode() if generator is None else dist.sample(generator)
        return (z.float() * self.scaling_factor).permute(0, 2, 1, 3, 4)

    @torch.no_grad()
    def decode_latents(self, latents: Video) -> Video:
        """Latents ``[B, f, C, h, w]`` (times the scaling factor) -> frames ``[B, F, 3, H, W]`` in [-1, 1]."""
        check_latents(latents, getattr(self.vae.config, "latent_channels", None))
        z = (latents / self.scaling_factor).permute(0, 2, 1, 3, 4).to(self.device, self.vae.dtype)
        return self.vae.decode(z).sample.float().permute(0, 2, 1, 3, 4)

    @torch.no_grad()
    def prepare_condition(self, images: Images, *, prompt: str | list[str] | None = None,
                          negative_prompt: str | list[str] = "", generator: torch.Generator | None = None) -> Cond:
        """Images ``[B, 3, H, W]`` in [-1, 1] -> ``Cond(y=image latent [B, C, h, w], (prompt_embeds, ...))``.

        ``y`` is the posterior mean (a sample with ``generator``, exactly as the pipeline draws it).
        """
        check_images(images)
        y = self.encode_video(images[:, None], generator=generator)[:, 0]
        cond = Cond(y)
        if prompt is not None:
            pe, ne = self.encode_prompt(prompt, negative_prompt)
            cond["prompt_embeds"] = batch_to(pe, y.shape[0], "prompt_embeds")
            if self.guidance_scale > 1:
                cond["negative_prompt_embeds"] = batch_to(ne, y.shape[0], "negative_prompt_embeds")
        return cond

    def _rope(self, F: int, h: int, w: int):
        if not self.transformer.config.use_rotary_positional_embeddings:
            return None
        key = (F, h, w, str(self.device))
        if key not in self._rope_cache:
            s = self.pipe.vae_scale_factor_spatial
            self._rope_cache[key] = self.pipe._prepare_rotary_positional_embeddings(h * s, w * s, F, self.device)
        return self._rope_cache[key]

    # -- the contract (forward is the base's) --------------------------------------------------------

    def check_condition(self, x_t: Video, cond: Cond) -> Cond:
        """``y`` checked; the default prompt when none is given; text embeddings broadcast to the batch."""
        cond = super().check_condition(x_t, cond)
        check_latent_channels(x_t, getattr(self.vae.config, "latent_channels", None), "CogVideoX-I2V")
        y = self.require_y(cond, x_t)
        B, F = x_t.shape[:2]
        if self.patch_size_t is not None and F % self.patch_size_t:
            raise ValueError(
                f"CogVideoX 1.5 needs a latent frame count divisible by patch_size_t={self.patch_size_t}, got {F}"
            )
        pe, ne = self.text_condition(cond, B)
        return {"y": y, "prompt_embeds": pe, "negative_prompt_embeds": ne}

    def raw(self, x_in: Video, native_t: torch.Tensor, cond: Cond) -> Video:
        """The transformer on ``[x_t | y, 0, ..., 0]`` (channels), T5 text, RoPE and ``ofs`` -> v / eps / x0 in float32."""
        y = cond["y"]
        B, F = x_in.shape[:2]
        dev, dt = self.device, self.dtype
        cond_lat = torch.cat([y[:, None], y.new_zeros(B, F - 1, *y.shape[1:])], dim=1)
        hidden = torch.cat([x_in, cond_lat], dim=2).to(dev, dt)
        ofs = None if self.transformer.config.ofs_embed_dim is None else hidden.new_full((1,), 2.0)
        return self.transformer(
            hidden_states=hidden, encoder_hidden_states=cond["prompt_embeds"].to(dev, dt), timestep=native_t.to(dev), ofs=ofs,
            image_rotary_emb=self._rope(F, x_in.shape[-2], x_in.shape[-1]), return_dict=False,
        )[0].float()


# ----------------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------------


def from_pipeline(pipe, **kwargs) -> CogVideoXI2VAdapter:
    """Adapter around a loaded ``CogVideoXImageToVideoPipeline`` (``guidance_scale``, ``prompt`` keywords)."""
    return CogVideoXI2VAdapter.from_pipeline(pipe, **kwargs)


def load(path_or_id: str | os.PathLike | None = HUB_ID, device="auto", dtype=None, **kwargs) -> CogVideoXI2VAdapter:
    """Load CogVideoX-I2V from a local pipeline folder or a cached hub id (``None``: ``THUDM/CogVideoX-5b-I2V``;
    never downloads unless ``HF_HUB_OFFLINE=0``); ``dtype`` defaults to bfloat16 on CUDA, float32 on CPU."""
    pipe = load_pipeline(
        "CogVideoXImageToVideoPipeline", path_or_id, what="CogVideoX-I2V", default_id=HUB_ID, device=device, dtype=dtype,
        hint=f"The released weights are {HUB_ID} (about 20 GB).",
    )
    return from_pipeline(pipe, **kwargs)

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
from typing import Any

import torch

from ..denoiser import x0_from_eps, x0_from_v
from ..schedules import VPSchedule, from_diffusers
from .base import load_pipeline, TransformerAdapter

__all__ = ["CogVideoXI2VAdapter", "load", "from_pipeline"]

HUB_ID = "THUDM/CogVideoX-5b-I2V"


# ----------------------------------------------------------------------------------------------
# helpers shared with cilnb.models.flow_video
# ----------------------------------------------------------------------------------------------


def _check_xt(x_t: torch.Tensor, t) -> torch.Tensor:
    """Validate ``x_t [B, F, C, H, W]`` and return ``t`` as a float64 ``[B]`` tensor on the CPU."""
    if not torch.is_tensor(x_t) or x_t.ndim != 5:
        raise ValueError(f"x_t must be a latent video [B, F, C, H, W], got shape {tuple(getattr(x_t, 'shape', ()))}")
    t = torch.as_tensor(t, dtype=torch.float64).detach().cpu()
    if t.ndim == 0:
        t = t.expand(x_t.shape[0])
    if t.shape != (x_t.shape[0],):
        raise ValueError(f"t must have one entry per batch element ({x_t.shape[0]}), got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()) or bool((t < 0).any()) or bool((t > 1).any()):
        raise ValueError(f"t must lie in [0, 1] (normalised time, 1 = T), got {t.tolist()}")
    return t


def _check_y(y, x_t: torch.Tensor, model: str) -> torch.Tensor:
    if y is None:
        raise ValueError(f"{model} needs y= (the conditional image latent [B, C, H, W]; see prepare_condition)")
    want = (x_t.shape[0], *x_t.shape[2:])
    if tuple(y.shape) != want:
        raise ValueError(f"y must be the image latent [B, C, H, W] = {want}, got {tuple(y.shape)}")
    return y


def _batch(v: torch.Tensor | None, B: int, name: str) -> torch.Tensor | None:
    """Per-video conditioning: batch ``B`` as is, batch 1 broadcast to ``B``."""
    if v is None:
        return None
    if v.shape[0] == B:
        return v
    if v.shape[0] == 1:
        return v.expand(B, *v.shape[1:])
    raise ValueError(f"{name} has batch size {v.shape[0]}, expected {B} (or 1 to share it)")


def _unknown(extra: dict, model: str, allowed: str) -> None:
    if extra:
        raise ValueError(f"{model} got unknown conditioning {sorted(extra)}; it accepts {allowed}")


def _to_pil(images: torch.Tensor) -> list:
    """``[B, 3, H, W]`` in [-1, 1] -> a list of uint8 PIL images (what users hand the pipelines)."""
    from PIL import Image

    arr = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return [Image.fromarray(a.permute(1, 2, 0).cpu().numpy()) for a in arr]


def _check_images(images: torch.Tensor) -> None:
    if not torch.is_tensor(images) or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be [B, 3, H, W] in [-1, 1], got shape {tuple(getattr(images, 'shape', ()))}")


def _check_frames(frames: torch.Tensor) -> None:
    if not torch.is_tensor(frames) or frames.ndim != 5 or frames.shape[2] != 3:
        shape = tuple(getattr(frames, "shape", ()))
        raise ValueError(f"frames must be videos [B, F, 3, H, W] in [-1, 1], got shape {shape}")


def _cfg_combine(out: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """Classifier-free guidance on a ``[uncond; cond]`` batch: ``u + w (c - u)`` (as the pipelines do)."""
    u, c = out.chunk(2)
    return u + guidance_scale * (c - u)


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

    def __init__(self, pipe, *, guidance_scale: float = 1.0, prompt: str | None = None, negative_prompt: str = ""):
        super().__init__()
        from diffusers import CogVideoXImageToVideoPipeline

        if not isinstance(pipe, CogVideoXImageToVideoPipeline):
            raise ValueError(f"expected a diffusers CogVideoXImageToVideoPipeline, got {type(pipe).__name__}")
        cfg = dict(pipe.scheduler.config)
        self.prediction = cfg.get("prediction_type", "epsilon")
        if self.prediction not in ("v_prediction", "epsilon", "sample"):
            raise ValueError(f"unsupported prediction_type {self.prediction!r} in the scheduler config")
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

    @classmethod
    def from_pipeline(cls, pipe, **kwargs) -> "CogVideoXI2VAdapter":
        """Wrap an already loaded ``CogVideoXImageToVideoPipeline`` (components shared, not copied)."""
        return cls(pipe, **kwargs)

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

    def set_prompt_embeds(self, prompt_embeds: torch.Tensor, negative_prompt_embeds: torch.Tensor | None = None) -> None:
        """Use precomputed T5 states ``[1 or B, L, D]`` as the default text conditioning."""
        if prompt_embeds.ndim != 3:
            raise ValueError(f"prompt_embeds must be [B, L, D], got shape {tuple(prompt_embeds.shape)}")
        self._embeds = (prompt_embeds, negative_prompt_embeds)

    def encode_prompt(self, prompt: str | list[str], negative_prompt: str | list[str] = ""):
        """T5 states of ``prompt`` and ``negative_prompt`` through the pipeline's own ``encode_prompt``."""
        self._need_text_encoder()
        max_len = int(self.transformer.config.max_text_seq_length)
        pe, ne = self.pipe.encode_prompt(
            prompt, negative_prompt, do_classifier_free_guidance=True, num_videos_per_prompt=1,
            max_sequence_length=max_len, device=self.device, dtype=self.dtype,
        )
        return pe, ne

    # -- latent helpers -------------------------------------------------------------------------

    @torch.no_grad()
    def encode_video(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``[B, F, 3, H, W]`` in [-1, 1] -> latents ``[B, f, C, h, w]`` times the scaling factor (posterior
        mean; a sample when ``generator`` is given, as the pipeline's image encoding does)."""
        _check_frames(frames)
        x = frames.to(self.device, self.vae.dtype).permute(0, 2, 1, 3, 4)
        dist = self.vae.encode(x).latent_dist
        z = dist.mode() if generator is None else dist.sample(generator)
        return (z.float() * self.scaling_factor).permute(0, 2, 1, 3, 4)

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents ``[B, f, C, h, w]`` (times the scaling factor) -> frames ``[B, F, 3, H, W]`` in [-1, 1]."""
        if latents.ndim != 5:
            raise ValueError(f"latents must be [B, F, C, H, W], got shape {tuple(latents.shape)}")
        z = (latents / self.scaling_factor).permute(0, 2, 1, 3, 4).to(self.device, self.vae.dtype)
        return self.vae.decode(z).sample.float().permute(0, 2, 1, 3, 4)

    @torch.no_grad()
    def prepare_condition(self, images: torch.Tensor, *, prompt: str | list[str] | None = None,
                          negative_prompt: str | list[str] = "", generator: torch.Generator | None = None) -> dict:
        """Images ``[B, 3, H, W]`` in [-1, 1] -> ``{"y": image latent [B, C, h, w], ("prompt_embeds", ...)}``.

        ``y`` is the posterior mean (a sample with ``generator``, exactly as the pipeline draws it).
        """
        _check_images(images)
        y = self.encode_video(images[:, None], generator=generator)[:, 0]
        cond: dict[str, Any] = {"y": y}
        if prompt is not None:
            pe, ne = self.encode_prompt(prompt, negative_prompt)
            cond["prompt_embeds"] = _batch(pe, y.shape[0], "prompt_embeds")
            if self.guidance_scale > 1:
                cond["negative_prompt_embeds"] = _batch(ne, y.shape[0], "negative_prompt_embeds")
        return cond

    def _rope(self, F: int, h: int, w: int):
        if not self.transformer.config.use_rotary_positional_embeddings:
            return None
        key = (F, h, w, str(self.device))
        if key not in self._rope_cache:
            s = self.pipe.vae_scale_factor_spatial
            self._rope_cache[key] = self.pipe._prepare_rotary_positional_embeddings(h * s, w * s, F, self.device)
        return self._rope_cache[key]

    # -- the contract ---------------------------------------------------------------------------

    def raw_output(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor, prompt_embeds=None,
                   negative_prompt_embeds=None) -> torch.Tensor:
        """The network output (v, eps or x0 per the scheduler) in float32, ``[B, F, C, H, W]``, CFG applied."""
        t = _check_xt(x_t, t)
        y = _check_y(y, x_t, self.name)
        B, F = x_t.shape[:2]
        if self.patch_size_t is not None and F % self.patch_size_t:
            raise ValueError(
                f"CogVideoX 1.5 needs a latent frame count divisible by patch_size_t={self.patch_size_t}, got {F}"
            )
        if prompt_embeds is None:
            prompt_embeds, default_neg = self._default_embeds()
            if negative_prompt_embeds is None:
                negative_prompt_embeds = default_neg
        dev, dt = self.device, self.dtype
        prompt_embeds = _batch(prompt_embeds, B, "prompt_embeds").to(dev, dt)
        cond_lat = torch.cat([y[:, None], y.new_zeros(B, F - 1, *y.shape[1:])], dim=1)
        hidden = torch.cat([x_t, cond_lat], dim=2).to(dev, dt)
        native = self.schedule.to_native(t).to(dev, torch.float32)
        guided = self.guidance_scale > 1
        if guided:
            if negative_prompt_embeds is None:
                raise ValueError("guidance_scale > 1 needs negative_prompt_embeds (in cond or via set_prompt)")
            neg = _batch(negative_prompt_embeds, B, "negative_prompt_embeds").to(dev, dt)
            hidden, native, prompt_embeds = torch.cat([hidden] * 2), torch.cat([native] * 2), torch.cat([neg, prompt_embeds])
        ofs = None if self.transformer.config.ofs_embed_dim is None else hidden.new_full((1,), 2.0)
        out = self.transformer(
            hidden_states=hidden, encoder_hidden_states=prompt_embeds, timestep=native, ofs=ofs,
            image_rotary_emb=self._rope(F, x_t.shape[-2], x_t.shape[-1]), return_dict=False,
        )[0].float()
        if guided:
            out = _cfg_combine(out, self.guidance_scale)
        return out.to(x_t.device)

    def forward(self, x_t: torch.Tensor, t, y: torch.Tensor | None = None, prompt_embeds=None,
                negative_prompt_embeds=None, **extra) -> torch.Tensor:
        """Contract call: ``x0_hat [B, F, C, H, W]`` from the v/eps/x0 output (Eq. (4) for eps)."""
        _unknown(extra, self.name, "y, prompt_embeds, negative_prompt_embeds")
        t = _check_xt(x_t, t)
        out = self.raw_output(x_t, t, y, prompt_embeds, negative_prompt_embeds)
        alpha, sigma = self.schedule._broadcast(t, out)
        x = x_t.float()
        if self.prediction == "v_prediction":
            x0 = x0_from_v(x, out, alpha, sigma)
        elif self.prediction == "epsilon":
            x0 = x0_from_eps(x, out, alpha, sigma)
        else:
            x0 = out
        return x0.to(x_t.dtype)


# ----------------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------------


def from_pipeline(pipe, **kwargs) -> CogVideoXI2VAdapter:
    """Adapter around a loaded ``CogVideoXImageToVideoPipeline`` (``guidance_scale``, ``prompt`` keywords)."""
    return CogVideoXI2VAdapter.from_pipeline(pipe, **kwargs)


def load(path_or_id: str | os.PathLike | None = HUB_ID, device="auto", dtype=None, **kwargs) -> CogVideoXI2VAdapter:
    """Load CogVideoX-I2V from a local pipeline folder or a cached hub id (``None``: ``THUDM/CogVideoX-5b-I2V``;
    never downloads unless ``HF_HUB_OFFLINE=0``); ``dtype`` defaults to bfloat16 on CUDA, float32 on CPU."""
    from diffusers import CogVideoXImageToVideoPipeline

    pipe = load_pipeline(
        CogVideoXImageToVideoPipeline, path_or_id, what="CogVideoX-I2V", default_id=HUB_ID, device=device, dtype=dtype,
        hint=f"The released weights are {HUB_ID} (about 20 GB).",
    )
    return from_pipeline(pipe, **kwargs)

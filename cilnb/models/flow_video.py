"""Flow-matching image-to-video models (Wan 2.1 I2V, LTX-Video I2V) on the denoiser contract.

Both are rectified flows, ``X_t = (1 - t) X_0 + t eps`` (``alpha = 1 - t``, ``sigma = t``, Eq. (1)
with the flow algebra of :class:`cilnb.schedules.FlowSchedule`), whose networks predict the
velocity ``u = eps - X_0``; the adapters return ``x0_hat = x_t - t u``. Layout at the boundary is
``[B, F, C, H, W]`` (latent frames); the Wan transformer wants ``[B, C, F, H, W]`` and LTX packs
latents into tokens ``[B, F*H*W, C]``, converted inside.

Conditioning (what the leakage probe sees, see ``docs/modern_i2v.md``):

- **Wan 2.1 I2V**: ``condition = [mask | VAE latent of (image, 0, ..., 0)]`` concatenated on
  channels to *every* frame, at every ``t`` (like SVD's concatenated latent), plus CLIP image
  tokens (``image_embeds``) in cross-attention and T5 text.
- **LTX-Video I2V**: the first latent frame *is replaced* by the clean image latent ``y`` and its
  tokens get timestep 0 (``conditioning_mask``), the other tokens timestep ``t``; the image enters
  only through frame 0 and self-attention. ``x0_hat[:, 0] = y``.

Schedules: Wan's ``FlowMatchEulerDiscreteScheduler`` (or the hub's ``UniPCMultistepScheduler``
with ``use_flow_sigmas``) gives ``FlowSchedule(shift)``. LTX uses dynamic (resolution-dependent)
shifting: :class:`LTXFlowSchedule` has ``shift = exp(mu)`` for the latent size set with
``set_resolution`` (``mu`` from ``calculate_shift`` as the pipeline computes it) and reproduces the
pipeline's grid, including the ``shift_terminal`` stretch. Shown in ``docs/modern_i2v.md``.
"""
from __future__ import annotations

import math
import os

import torch

from ..denoiser import Cond, Images, Times, Video
from ..schedules import FlowSchedule, from_diffusers
from .. import checks
from .base import (TransformerAdapter, batch_to, check_images, check_latent_channels, check_latents, check_prompt, check_text_embeds,
                   check_video, load_pipeline, to_pil)

__all__ = [
    "FlowAdapter", "WanI2VAdapter", "LTXI2VAdapter", "LTXFlowSchedule", "flow_schedule", "ltx_mu", "load_wan", "load_ltx", "from_pipeline",
]

WAN_HUB_ID = "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers"
LTX_HUB_ID = "Lightricks/LTX-Video"
_F64 = torch.float64


# ----------------------------------------------------------------------------------------------
# schedules
# ----------------------------------------------------------------------------------------------


def flow_schedule(scheduler) -> FlowSchedule:
    """``FlowSchedule(shift)`` of a flow scheduler: FlowMatchEuler, or the Wan hub's UniPC/DPM-Solver with
    ``use_flow_sigmas`` (``flow_shift``), both read by ``from_diffusers``; any other schedule is refused."""
    sched = from_diffusers(scheduler)
    if not isinstance(sched, FlowSchedule):
        name = getattr(scheduler, "config", scheduler).get("_class_name") or type(scheduler).__name__
        raise ValueError(f"expected a flow-matching scheduler, got {name} ({type(sched).__name__})")
    return sched


def ltx_mu(video_seq_len: int, scheduler_config) -> float:
    """The pipeline's resolution-dependent shift exponent: linear in the latent token count between
    (``base_image_seq_len``, ``base_shift``) and (``max_image_seq_len``, ``max_shift``)."""
    cfg = dict(scheduler_config)
    lo_n, hi_n = float(cfg.get("base_image_seq_len", 256)), float(cfg.get("max_image_seq_len", 4096))
    lo_m, hi_m = float(cfg.get("base_shift", 0.5)), float(cfg.get("max_shift", 1.15))
    return lo_m + (hi_m - lo_m) / (hi_n - lo_n) * (float(video_seq_len) - lo_n)


class LTXFlowSchedule(FlowSchedule):
    """Flow schedule with LTX's inference grid: ``u_i = u_M (n - i) / n``, shifted, then stretched.

    At ``M = 1`` this is the pipeline's grid: ``sigmas = linspace(1, 1/n, n)`` shifted by
    ``shift = exp(mu)`` and, with ``shift_terminal``, stretched affinely (fixing 1) so that the last
    point is ``shift_terminal``. For ``M < 1`` the ``n`` points are re-spaced over ``(0, M]``
    (``u_M = unshift(M)``) and the stretch fixes ``M`` and ends at ``shift_terminal * M``.
    """

    def __init__(self, shift: float = 1.0, num_train_timesteps: int = 1000, shift_terminal: float | None = None):
        super().__init__(shift=shift, num_train_timesteps=num_train_timesteps)
        if shift_terminal is not None and not 0.0 < float(shift_terminal) < 1.0:
            raise ValueError(f"shift_terminal must lie in (0, 1), got {shift_terminal}")
        self.shift_terminal = None if shift_terminal is None else float(shift_terminal)
        self.config = dict(self.config, shift_terminal=self.shift_terminal)

    def grid(self, n_steps: int, start: float = 1.0) -> torch.Tensor:
        self._check_steps(n_steps, start)
        if n_steps == 1:
            return torch.tensor([float(start)], dtype=_F64)
        u_m = float(self.unshifted(start))
        u = u_m * torch.arange(n_steps, 0, -1, dtype=_F64) / n_steps
        s = self.shifted(u)
        if self.shift_terminal is None:
            return s
        m, last = float(start), float(s[-1])
        return m - (m - s) * (m * (1 - self.shift_terminal)) / (m - last)


# ----------------------------------------------------------------------------------------------
# shared pieces
# ----------------------------------------------------------------------------------------------


class FlowAdapter(TransformerAdapter):
    """Velocity networks (``prediction="flow"``: ``x0_hat = x_t - t u``, ``u = eps - x0``); latents through the subclass's
    VAE normalisation (``_encode``/``_decode``)."""

    name = "flow"
    prediction = "flow"
    _latent_channels: int | None = None  # the VAE's latent channels (checked by decode_latents)

    @torch.no_grad()
    def encode_video(self, frames: Video) -> Video:
        """``[B, F, 3, H, W]`` in [-1, 1] -> the model's normalised latents ``[B, f, C, h, w]`` (posterior mean)."""
        check_video(frames)
        return self._encode(frames.permute(0, 2, 1, 3, 4)).permute(0, 2, 1, 3, 4)

    @torch.no_grad()
    def decode_latents(self, latents: Video) -> Video:
        """Normalised latents ``[B, f, C, h, w]`` -> frames ``[B, F, 3, H, W]`` in [-1, 1]."""
        check_latents(latents, self._latent_channels)
        return self._decode(latents.permute(0, 2, 1, 3, 4).float()).float().permute(0, 2, 1, 3, 4)


# ----------------------------------------------------------------------------------------------
# Wan 2.1 image-to-video
# ----------------------------------------------------------------------------------------------


class WanI2VAdapter(FlowAdapter):
    """Wan I2V on the contract: ``model(x_t, t, y=, condition=, image_embeds=, prompt_embeds=) -> x0_hat``.

    ``condition`` is ``[B, F, 4 + C, H, W]``: the 4 mask channels (1 on latent frame 0) and the
    normalised VAE latent of ``[image, 0, ..., 0]`` (from :meth:`prepare_condition`); its latent
    frame 0 is overwritten by ``y`` (the image latent), so the probe's ``y`` is what the network
    sees. ``image_embeds``: CLIP tokens (Wan 2.1; not needed when ``image_dim`` is None, Wan 2.2).
    Two-expert pipelines (``boundary_ratio``) route ``t T >= boundary`` to ``transformer``.
    """

    name = "wan-i2v"
    cond_keys = ("y", "condition", "image_embeds", "prompt_embeds", "negative_prompt_embeds")
    _text_width_key = "text_dim"

    @property
    def _latent_channels(self) -> int | None:
        return getattr(self.vae.config, "z_dim", None)

    def __init__(self, pipe, *, guidance_scale: float = 1.0, prompt: str | None = None, negative_prompt: str = ""):
        super().__init__()
        from diffusers import WanImageToVideoPipeline

        if not isinstance(pipe, WanImageToVideoPipeline):
            raise ValueError(f"expected a diffusers WanImageToVideoPipeline, got {type(pipe).__name__}")
        if pipe.config.get("expand_timesteps", False):
            raise ValueError(
                "Wan 2.2 TI2V (expand_timesteps: first-frame replacement) is not supported; use a Wan 2.1/2.2 I2V checkpoint"
            )
        if pipe.transformer is None:
            raise ValueError("the Wan pipeline has no transformer (a low-noise-only pipeline is not supported)")
        self._setup(pipe, guidance_scale, prompt, negative_prompt)
        self.schedule = flow_schedule(pipe.scheduler)
        self.transformer = pipe.transformer
        self.transformer_2 = getattr(pipe, "transformer_2", None)
        ratio = pipe.config.get("boundary_ratio", None)
        self.boundary = None if ratio is None else float(ratio) * self.schedule.T
        if self.boundary is not None and self.transformer_2 is None:
            raise ValueError("the pipeline sets boundary_ratio but has no transformer_2")
        self.n_mask = int(pipe.vae_scale_factor_temporal)
        self.n_frames = (81 - 1) // self.n_mask + 1  # the pipeline's default 81 frames
        self.requires_grad_(False)
        self.eval()

    # -- prompts and latents --------------------------------------------------------------------

    def encode_prompt(self, prompt, negative_prompt="") -> tuple[torch.Tensor, torch.Tensor]:
        """UMT5 states through the pipeline's own ``encode_prompt`` (which cleans prompts with ``ftfy``)."""
        check_prompt("prompt", prompt)  # a number failed inside diffusers' prompt cleaning (ftfy)
        check_prompt("negative_prompt", negative_prompt)
        self._need_text_encoder()
        from diffusers.utils import is_ftfy_available

        if not is_ftfy_available():  # diffusers' Wan prompt_clean calls ftfy.fix_text unguarded: a NameError otherwise
            raise ValueError("Wan's prompt encoding needs the ftfy package (diffusers cleans prompts with it): "
                             "`pip install ftfy` (in cilnb's models extra), or pass prompt_embeds= / call set_prompt_embeds()")
        pe, ne = self.pipe.encode_prompt(prompt, negative_prompt, do_classifier_free_guidance=True,
                                         num_videos_per_prompt=1, device=self.device)
        return pe.to(self.dtype), ne.to(self.dtype)

    def _latent_stats(self, like: torch.Tensor):
        c = self.vae.config
        mean = torch.tensor(c.latents_mean, dtype=torch.float32, device=like.device).view(1, -1, 1, 1, 1)
        std = torch.tensor(c.latents_std, dtype=torch.float32, device=like.device).view(1, -1, 1, 1, 1)
        return mean, std

    def _encode(self, video_bcfhw: torch.Tensor) -> torch.Tensor:
        """Video ``[B, 3, F, H, W]`` -> normalised latents ``(z - mean) / std`` ``[B, C, f, h, w]`` (posterior mean)."""
        z = self.vae.encode(video_bcfhw.to(self.vae.device, self.vae.dtype)).latent_dist.mode().float()
        mean, std = self._latent_stats(z)
        return (z - mean) / std

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`_encode`: float32 normalised latents ``[B, C, f, h, w]`` -> video ``[B, 3, F, H, W]``."""
        mean, std = self._latent_stats(z)
        z = (z * std + mean).to(self.vae.device, self.vae.dtype)
        return self.vae.decode(z, return_dict=False)[0]

    @torch.no_grad()
    def prepare_condition(self, images: Images, *, num_frames: int | None = None, prompt=None, negative_prompt="",
                          generator: torch.Generator | None = None) -> Cond:
        """Images ``[B, 3, H, W]`` in [-1, 1] -> ``Cond(y, condition, image_embeds[, prompt_embeds, ...])``.

        ``num_frames`` (pixel frames, ``4k + 1``) also sets ``n_frames`` (latent frames, what
        :func:`cilnb.sampling.sample` draws by default); unset, the current ``n_frames`` is kept.
        The VAE encodes ``[image, 0, ..., 0]`` deterministically (posterior mean, the pipeline's
        argmax), so ``generator`` is accepted for a uniform interface and unused.
        """
        check_images(images)
        nf = (self.n_frames - 1) * self.n_mask + 1 if num_frames is None else checks.check_int(
            "num_frames", num_frames, min=1, integral_float=True, fix=f"(pixel frames, {self.n_mask}k + 1)")
        if nf < 1 or (nf - 1) % self.n_mask:
            raise ValueError(f"num_frames must be {self.n_mask}k + 1 pixel frames, got {nf}")
        self.n_frames = (nf - 1) // self.n_mask + 1
        B, _, H, W = images.shape
        x = images.float()
        video = torch.cat([x[:, :, None], x.new_zeros(B, 3, nf - 1, H, W)], dim=2)
        lat = self._encode(video)  # [B, C, F, h, w]
        mask = lat.new_zeros(B, self.n_mask, *lat.shape[2:])
        mask[:, :, 0] = 1.0
        cond = torch.cat([mask, lat], dim=1).permute(0, 2, 1, 3, 4)
        out = Cond(lat[:, :, 0], condition=cond)
        if self.transformer.config.image_dim is not None:
            out["image_embeds"] = self.pipe.encode_image(to_pil(images), self.device).to(self.dtype)
        if prompt is not None:
            pe, ne = self.encode_prompt(prompt, negative_prompt)
            out["prompt_embeds"] = batch_to(pe, B, "prompt_embeds")
            if self.guidance_scale > 1:
                out["negative_prompt_embeds"] = batch_to(ne, B, "negative_prompt_embeds")
        return out

    # -- the contract (forward is the base's) --------------------------------------------------------

    def check_condition(self, x_t: Video, cond: Cond) -> Cond:
        """``condition`` checked (its latent frame 0 overwritten by ``y`` when given); image tokens and text to the batch."""
        cond = super().check_condition(x_t, cond)
        B, F, C = x_t.shape[:3]
        condition = cond.get("condition")
        if condition is None:
            raise ValueError(
                "Wan I2V needs condition= (mask + VAE latent of [image, 0, ...]): "
                "use cond from model.prepare_condition(images)"
            )
        want = (B, F, self.n_mask + C, *x_t.shape[3:])
        if tuple(condition.shape) != want:
            raise ValueError(f"condition must be [B, F, mask + C, H, W] = {want}, got {tuple(condition.shape)}")
        y = cond.get("y")
        if y is not None:
            y = self.require_y(cond, x_t)
            condition = condition.clone()
            condition[:, 0, self.n_mask:] = y
        image = cond.get("image_embeds")
        if self.transformer.config.image_dim is None:
            image = None
        elif image is None:
            raise ValueError("Wan 2.1 I2V needs image_embeds= (CLIP tokens): use cond from model.prepare_condition(images)")
        pe, ne = self.text_condition(cond, B)
        return {"y": y, "condition": condition, "image_embeds": batch_to(image, B, "image_embeds"),
                "prompt_embeds": pe, "negative_prompt_embeds": ne}

    def _net(self, model, hidden, native, text, image):
        return model(hidden_states=hidden, timestep=native, encoder_hidden_states=text,
                     encoder_hidden_states_image=image, return_dict=False)[0]

    def raw(self, x_in: Video, native_t: torch.Tensor, cond: Cond) -> Video:
        """The velocity ``u = eps - x0`` (float32, ``[B, F, C, H, W]``); two experts split at ``boundary``."""
        C = x_in.shape[2]
        dev, dt = self.device, self.dtype
        hidden = torch.cat([x_in, cond["condition"].to(x_in.dtype)], dim=2).permute(0, 2, 1, 3, 4).to(dev, dt)
        native = native_t.to(dev)
        text = cond["prompt_embeds"].to(dev, dt)
        image = None if cond["image_embeds"] is None else cond["image_embeds"].to(dev, dt)
        if self.boundary is None:
            out = self._net(self.transformer, hidden, native, text, image)
        else:  # two experts: high noise (t T >= boundary) -> transformer, low noise -> transformer_2
            hi = native >= self.boundary
            out = torch.empty((hidden.shape[0], C, *hidden.shape[2:]), device=dev, dtype=dt)
            for sel, model in ((hi, self.transformer), (~hi, self.transformer_2)):
                if bool(sel.any()):
                    img = None if image is None else image[sel]
                    out[sel] = self._net(model, hidden[sel], native[sel], text[sel], img).to(dt)
        return out.float().permute(0, 2, 1, 3, 4)


# ----------------------------------------------------------------------------------------------
# LTX-Video image-to-video
# ----------------------------------------------------------------------------------------------


class LTXI2VAdapter(FlowAdapter):
    """LTX-Video I2V on the contract: ``model(x_t, t, y=, prompt_embeds=, prompt_attention_mask=) -> x0_hat``.

    Frame 0 of ``x_t`` is replaced by the clean image latent ``y`` and its tokens get timestep 0
    (the pipeline's ``conditioning_mask``); the others get ``t T``. Latents are packed into tokens
    for the transformer and unpacked back to ``[B, F, C, H, W]``; ``x0_hat[:, 0] = y``. The
    schedule depends on the latent size (dynamic shifting): see :meth:`set_resolution`.
    """

    name = "ltx-i2v"
    cond_keys = ("y", "prompt_embeds", "prompt_attention_mask", "negative_prompt_embeds", "negative_prompt_attention_mask")
    _text_width_key = "caption_channels"

    @property
    def _latent_channels(self) -> int | None:
        return getattr(self.vae.config, "latent_channels", None)

    def __init__(self, pipe, *, num_frames: int = 161, height: int = 512, width: int = 704, frame_rate: float = 25,
                 guidance_scale: float = 1.0, prompt: str | None = None, negative_prompt: str = "",
                 decode_timestep: float = 0.0):
        super().__init__()
        from diffusers import LTXImageToVideoPipeline

        if not isinstance(pipe, LTXImageToVideoPipeline):
            raise ValueError(f"expected a diffusers LTXImageToVideoPipeline, got {type(pipe).__name__}")
        name = type(pipe.scheduler).__name__
        if not name.startswith("FlowMatch"):
            raise ValueError(f"LTX needs a FlowMatch scheduler, got {name}")
        frame_rate = checks.check_number("frame_rate", frame_rate, lo=0, lo_open=True, fix="(frames per second, e.g. 25)")
        decode_timestep = checks.check_number("decode_timestep", decode_timestep, lo=0, fix="(the VAE's decode timestep, e.g. 0.05)")
        self._setup(pipe, guidance_scale, prompt, negative_prompt)
        self.transformer = pipe.transformer
        self.p, self.p_t = int(pipe.transformer_spatial_patch_size), int(pipe.transformer_temporal_patch_size)
        self.s_ratio, self.t_ratio = int(pipe.vae_spatial_compression_ratio), int(pipe.vae_temporal_compression_ratio)
        self.frame_rate = float(frame_rate)
        self.decode_timestep = float(decode_timestep)
        self.set_resolution(num_frames, height, width)
        self.requires_grad_(False)
        self.eval()

    def set_resolution(self, num_frames: int, height: int, width: int) -> None:
        """Pixel frames/size to sample at: sets ``n_frames`` and the schedule (``shift = exp(mu)`` of the token count)."""
        num_frames = checks.check_int("num_frames", num_frames, min=1, integral_float=True, fix=f"(pixel frames, {self.t_ratio}k + 1)")
        height = checks.check_int("height", height, min=1, integral_float=True, fix=f"(pixels, a multiple of {self.s_ratio})")
        width = checks.check_int("width", width, min=1, integral_float=True, fix=f"(pixels, a multiple of {self.s_ratio})")
        if num_frames < 1 or (num_frames - 1) % self.t_ratio:
            raise ValueError(f"num_frames must be {self.t_ratio}k + 1 pixel frames, got {num_frames}")
        if height % self.s_ratio or width % self.s_ratio:
            raise ValueError(f"height and width must be multiples of {self.s_ratio}, got {height}x{width}")
        F, h, w = (num_frames - 1) // self.t_ratio + 1, height // self.s_ratio, width // self.s_ratio
        cfg = dict(self.pipe.scheduler.config)
        T = int(cfg.get("num_train_timesteps", 1000))
        self.mu = None
        if cfg.get("use_dynamic_shifting"):
            self.mu = ltx_mu(F * h * w, cfg)
            shift = self.mu if cfg.get("time_shift_type", "exponential") == "linear" else math.exp(self.mu)
        else:
            shift = float(cfg.get("shift", 1.0))
        self.schedule = LTXFlowSchedule(shift=shift, num_train_timesteps=T, shift_terminal=cfg.get("shift_terminal"))
        self.latent_size = (F, h, w)
        self.resolution = (int(num_frames), int(height), int(width))
        self.n_frames = F

    # -- prompts and latents --------------------------------------------------------------------

    def set_prompt_embeds(self, prompt_embeds, prompt_attention_mask=None, negative_prompt_embeds=None,
                          negative_prompt_attention_mask=None) -> None:
        """Precomputed T5 states ``[1 or B, L, D]`` (masks default to all ones) as the default text conditioning."""
        check_text_embeds(prompt_embeds, "prompt_embeds", self.text_width)
        check_text_embeds(negative_prompt_embeds, "negative_prompt_embeds", self.text_width)
        self._embeds = (prompt_embeds, prompt_attention_mask, negative_prompt_embeds, negative_prompt_attention_mask)

    def encode_prompt(self, prompt, negative_prompt=""):
        """``(embeds, mask, negative embeds, negative mask)`` through the pipeline's own ``encode_prompt``."""
        check_prompt("prompt", prompt)  # a number failed inside the pipeline's tokenizer
        check_prompt("negative_prompt", negative_prompt)
        self._need_text_encoder()
        pe, pm, ne, nm = self.pipe.encode_prompt(prompt, negative_prompt, do_classifier_free_guidance=True,
                                                 num_videos_per_prompt=1, device=self.device)
        return pe.to(self.dtype), pm, ne.to(self.dtype), nm

    @property
    def scaling_factor(self) -> float:
        return float(self.vae.config.scaling_factor)

    def _norm(self, z, inverse=False):
        m = self.vae.latents_mean.view(1, -1, 1, 1, 1).to(z.device, torch.float32)
        s = self.vae.latents_std.view(1, -1, 1, 1, 1).to(z.device, torch.float32)
        return z * s / self.scaling_factor + m if inverse else (z - m) * self.scaling_factor / s

    def _encode(self, video_bcfhw, generator=None):
        """Video ``[B, 3, F, H, W]`` -> normalised latents ``(z - mean) * scaling / std`` ``[B, C, f, h, w]``
        (posterior mean; a sample with ``generator``)."""
        dist = self.vae.encode(video_bcfhw.to(self.vae.device, self.vae.dtype)).latent_dist
        z = dist.mode() if generator is None else dist.sample(generator)
        return self._norm(z.float())

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`_encode`: float32 normalised latents ``[B, C, f, h, w]`` -> video ``[B, 3, F, H, W]`` (no decode noise)."""
        z = self._norm(z, inverse=True).to(self.vae.device, self.vae.dtype)
        temb = None
        if self.vae.config.timestep_conditioning:
            temb = torch.full((z.shape[0],), self.decode_timestep, device=z.device, dtype=z.dtype)
        return self.vae.decode(z, temb, return_dict=False)[0]

    @torch.no_grad()
    def prepare_condition(self, images: Images, *, num_frames: int | None = None, prompt=None, negative_prompt="",
                          generator: torch.Generator | None = None) -> Cond:
        """Images ``[B, 3, H, W]`` in [-1, 1] -> ``Cond(y=normalised image latent [B, C, h, w], ...)``
        (posterior mean; a sample with ``generator``, as the pipeline draws it).

        Sets the resolution (:meth:`set_resolution`) to the images' size and ``num_frames`` pixel
        frames (unset: the current frame count), so the schedule matches what is sampled next.
        """
        check_images(images)
        nf = (self.n_frames - 1) * self.t_ratio + 1 if num_frames is None else checks.check_int(
            "num_frames", num_frames, min=1, integral_float=True, fix=f"(pixel frames, {self.t_ratio}k + 1)")
        if (nf, *images.shape[-2:]) != self.resolution:
            self.set_resolution(nf, *images.shape[-2:])
        y = self._encode(images.float()[:, :, None], generator)[:, :, 0]
        out = Cond(y)
        if prompt is not None:
            pe, pm, ne, nm = self.encode_prompt(prompt, negative_prompt)
            B = y.shape[0]
            out.update(prompt_embeds=batch_to(pe, B, "prompt_embeds"),
                       prompt_attention_mask=batch_to(pm, B, "prompt_attention_mask"))
            if self.guidance_scale > 1:
                out.update(negative_prompt_embeds=batch_to(ne, B, "negative_prompt_embeds"),
                           negative_prompt_attention_mask=batch_to(nm, B, "negative_prompt_attention_mask"))
        return out

    # -- the contract ---------------------------------------------------------------------------

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, F, C, H, W]`` -> the pipeline's tokens ``[B, F*H*W / patches, C * patches]``."""
        return self.pipe._pack_latents(x.permute(0, 2, 1, 3, 4), self.p, self.p_t)

    def unpack(self, tokens: torch.Tensor, F: int, h: int, w: int) -> torch.Tensor:
        """Inverse of :meth:`pack`: tokens -> ``[B, F, C, H, W]``."""
        x = self.pipe._unpack_latents(tokens, F // self.p_t, h // self.p, w // self.p, self.p, self.p_t)
        return x.permute(0, 2, 1, 3, 4)

    def check_condition(self, x_t: Video, cond: Cond) -> Cond:
        """``y`` checked, the latent size matched to the schedule's; text embeddings and masks (default all ones) to the batch."""
        cond = super().check_condition(x_t, cond)
        check_latent_channels(x_t, self._latent_channels, "LTX-Video I2V")
        y = self.require_y(cond, x_t)
        B, F, C, h, w = x_t.shape
        if (F, h, w) != self.latent_size and self.mu is not None:
            raise ValueError(
                f"latents {(F, h, w)} (frames, h, w) differ from the size the schedule was built for {self.latent_size}: "
                "LTX's shift depends on the token count; call model.set_resolution(num_frames, height, width) first"
            )
        pe, pm = cond.get("prompt_embeds"), cond.get("prompt_attention_mask")
        ne, nm = cond.get("negative_prompt_embeds"), cond.get("negative_prompt_attention_mask")
        if pe is None:
            pe, pm, d_ne, d_nm = self._default_embeds()
            if ne is None:
                ne, nm = d_ne, d_nm
        check_text_embeds(pe, "prompt_embeds", self.text_width)
        check_text_embeds(ne, "negative_prompt_embeds", self.text_width)
        pe = batch_to(pe, B, "prompt_embeds")
        pm = batch_to(pm, B, "prompt_attention_mask") if pm is not None else torch.ones(pe.shape[:2])
        if ne is not None:
            ne = batch_to(ne, B, "negative_prompt_embeds")
            nm = batch_to(nm, B, "negative_prompt_attention_mask") if nm is not None else torch.ones(ne.shape[:2])
        return {"y": y, "prompt_embeds": pe, "prompt_attention_mask": pm, "negative_prompt_embeds": ne,
                "negative_prompt_attention_mask": None if ne is None else nm}

    def uncond(self, cond: Cond) -> Cond:
        """Text CFG: the negative prompt embeddings and mask in place of the prompt's."""
        return super().uncond(cond).replace(prompt_attention_mask=cond["negative_prompt_attention_mask"])

    def raw(self, x_in: Video, native_t: torch.Tensor, cond: Cond) -> Video:
        """The velocity ``u`` (float32 ``[B, F, C, H, W]``; frame 0's entry is the model's, ignored): frame 0 replaced
        by ``y`` with timestep 0 on its tokens (the pipeline's ``conditioning_mask``), latents packed into tokens."""
        y = cond["y"]
        B, F, C, h, w = x_in.shape
        dev, dt = self.device, self.dtype
        x = torch.cat([y[:, None].to(x_in.dtype), x_in[:, 1:]], dim=1)
        tokens = self.pack(x).to(dev, dt)
        frame0 = torch.zeros(B, F, 1, h, w, device=dev)
        frame0[:, 0] = 1.0
        mask = self.pack(frame0).amax(-1)  # [B, S]: 1 on the tokens of the conditioning frame
        timestep = native_t.to(dev)[:, None] * (1 - mask)
        rope_scale = (self.t_ratio / self.frame_rate, self.s_ratio, self.s_ratio)
        out = self.transformer(
            hidden_states=tokens, encoder_hidden_states=cond["prompt_embeds"].to(dev, dt), timestep=timestep,
            encoder_attention_mask=cond["prompt_attention_mask"].to(dev), num_frames=F // self.p_t, height=h // self.p,
            width=w // self.p, rope_interpolation_scale=rope_scale, return_dict=False,
        )[0].float()
        return self.unpack(out, F, h, w)

    def finalize_x0(self, x0: Video, t: Times, cond: Cond) -> Video:
        """``x0_hat[:, 0] = y``: the conditioning frame is clean."""
        x0 = x0.clone()
        x0[:, 0] = cond["y"].to(x0.device, x0.dtype)
        return x0


# ----------------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------------


def from_pipeline(pipe, **kwargs):
    """The adapter for a loaded ``WanImageToVideoPipeline`` or ``LTXImageToVideoPipeline``."""
    from diffusers import LTXImageToVideoPipeline, WanImageToVideoPipeline

    if isinstance(pipe, WanImageToVideoPipeline):
        return WanI2VAdapter(pipe, **kwargs)
    if isinstance(pipe, LTXImageToVideoPipeline):
        return LTXI2VAdapter(pipe, **kwargs)
    raise ValueError(f"from_pipeline takes a WanImageToVideoPipeline or LTXImageToVideoPipeline, got {type(pipe).__name__}")


def load_wan(path_or_id: str | os.PathLike | None = WAN_HUB_ID, device="auto", dtype=None, **kwargs) -> WanI2VAdapter:
    """Load Wan I2V from a local pipeline folder or a cached hub id (``None``: the 480p 14B release;
    never downloads unless ``HF_HUB_OFFLINE=0``); ``dtype`` defaults to bfloat16 on CUDA, float32 on CPU.

    The VAE and CLIP image encoder are kept in float32 (the diffusers recommendation for Wan).
    """
    pipe = load_pipeline("WanImageToVideoPipeline", path_or_id, what="Wan I2V", default_id=WAN_HUB_ID, device=device,
                          dtype=dtype, hint=f"The released 480p weights are {WAN_HUB_ID}.")
    pipe.vae.to(torch.float32)
    if getattr(pipe, "image_encoder", None) is not None:
        pipe.image_encoder.to(torch.float32)
    return WanI2VAdapter(pipe, **kwargs)


def load_ltx(path_or_id: str | os.PathLike | None = LTX_HUB_ID, device="auto", dtype=None, **kwargs) -> LTXI2VAdapter:
    """Load LTX-Video I2V from a local pipeline folder or a cached hub id (``None``: ``Lightricks/LTX-Video``);
    ``num_frames``, ``height``, ``width``, ``frame_rate`` fix the resolution-dependent schedule."""
    pipe = load_pipeline("LTXImageToVideoPipeline", path_or_id, what="LTX-Video I2V", default_id=LTX_HUB_ID, device=device,
                          dtype=dtype, hint=f"The released weights are {LTX_HUB_ID}.")
    return LTXI2VAdapter(pipe, **kwargs)

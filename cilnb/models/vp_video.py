"""PIA and I2VGen-XL (diffusers) on the denoiser contract: VP models, Eq. (1) with ``alpha^2 + sigma^2 = 1``.

Both UNets take latents in ``[B, C, F, h, w]``; the adapters convert from cilnb's ``[B, F, C, h, w]``
at the boundary and turn the raw output into ``x0_hat`` with :mod:`cilnb.denoiser`:

* **PIA** (``PIAPipeline``, ``UNetMotionModel``): eps-prediction. The UNet input is the noisy
  latents, a per-frame *mask* whose value decays with the distance to the condition frame
  (PIA's ``motion_scale`` presets, the model's motion knob) and the conditional image latent
  (times the VAE scaling factor) repeated over frames, concatenated on channels (9 channels).
  Guidance: text CFG with ``guidance_scale`` (the image concat is kept in both branches).
* **I2VGen-XL** (``I2VGenXLPipeline``, ``I2VGenXLUNet``): v-prediction with zero terminal SNR,
  so ``alpha_T = 0`` and ``x0_hat(t = 1) = -v``. Conditioning: the image latent (times the scaling
  factor) in frame 0 plus per-frame position planes ``(j + 1)/(F - 1)``, a CLIP image embedding,
  the text embedding and ``fps``. Guidance: CFG with zero image embedding and the negative prompt.

Sampling starts at ``M`` with DDIM steps re-spaced over ``[0, M]`` (``VPSchedule.grid``,
``trailing`` spacing, as the official DynamiCrafter Analytic-Init code). Configure a pipeline's
``DDIMScheduler`` with ``timestep_spacing="trailing"`` and ``set_alpha_to_one=True`` to get the
same steps from diffusers (tests/test_models_vp.py). Reached from ``notebooks/leakage_probe.ipynb``.
"""
from __future__ import annotations

import sys

import torch

from .. import checks
from ..denoiser import Cond, Images, Video, prediction_from_diffusers
from ..schedules import VPSchedule, from_diffusers
from .base import (Adapter, batch_to, check_chunk_size, check_images, check_latent_channels, check_latents, check_text_embeds, check_video,
                   clip_image_embeds, from_pretrained, load_pipeline, make_generator_or_none, per_sample, pipeline_folder, torch_dtype)

__all__ = ["VPVideoAdapter", "PIAAdapter", "I2VGenXLAdapter", "pia_from_pipeline", "i2vgenxl_from_pipeline", "load_pia", "load_i2vgenxl",
           "PIA_DEFAULT_ID", "PIA_ADAPTER_ID", "I2VGENXL_DEFAULT_ID"]

PIA_DEFAULT_ID = "SG161222/Realistic_Vision_V6.0_B1_noVAE"
PIA_ADAPTER_ID = "openmmlab/PIA-condition-adapter"
I2VGENXL_DEFAULT_ID = "ali-vilab/i2vgen-xl"


def _prompts(prompt, B: int, name: str) -> list[str]:
    if isinstance(prompt, str):
        return [prompt] * B
    if isinstance(prompt, (list, tuple)) and len(prompt) == B and all(isinstance(p, str) for p in prompt):
        return list(prompt)
    raise ValueError(f"{name} must be a string or a list of {B} strings, got {prompt!r}")


class VPVideoAdapter(Adapter):
    """What PIA and I2VGen-XL share: VP schedule and prediction from the scheduler, ``[B, C, F, h, w]`` UNet layout, text CFG, VAE helpers."""

    sample_space = "latent"

    def __init__(self, pipe, *, guidance_scale: float, n_frames: int, clip_skip: int | None = None):
        super().__init__()
        for part in ("unet", "vae", "scheduler"):
            if getattr(pipe, part, None) is None:
                raise ValueError(f"the pipeline has no {part}; pass a full {type(self).__name__[:-7]} pipeline")
        cfg = dict(pipe.scheduler.config)
        sched = from_diffusers(pipe.scheduler)
        if not isinstance(sched, VPSchedule):
            raise ValueError(f"{self.name} expects a DDPM-family (VP) scheduler, got {cfg.get('_class_name')} -> {type(sched).__name__}")
        prediction = prediction_from_diffusers(cfg.get("prediction_type", "epsilon"))
        if prediction not in ("eps", "v", "x0"):
            raise ValueError(f"{self.name} needs an eps-, v- or sample-prediction scheduler, got {cfg.get('prediction_type')!r}")
        self.unet, self.vae = pipe.unet, pipe.vae
        self.text_encoder = getattr(pipe, "text_encoder", None)
        self.image_encoder = getattr(pipe, "image_encoder", None)
        self.tokenizer = getattr(pipe, "tokenizer", None)
        self.feature_extractor = getattr(pipe, "feature_extractor", None)
        self.schedule = sched
        self.prediction = prediction
        self.scheduler_config = cfg
        self.guidance_scale = checks.check_number("guidance_scale", guidance_scale, lo=0, fix="(classifier-free guidance; 1 for none)")
        self.n_frames = checks.check_int("n_frames", n_frames, min=1, fix="(frames per video, e.g. 16)")
        self.clip_skip = None if clip_skip is None else checks.check_int("clip_skip", clip_skip, min=0, fix="(CLIP text layers skipped; None for none)")
        self.scaling_factor = float(pipe.vae.config.scaling_factor)

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @property
    def guidance(self):
        """The default guidance: ``guidance_scale`` (on unless it is 1)."""
        return self.guidance_scale

    # -- the contract (forward is the base's) --------------------------------------------------------

    def check_condition(self, x_t: Video, cond: Cond) -> Cond:
        cond = super().check_condition(x_t, cond)
        check_latent_channels(x_t, self.vae.config.latent_channels, self._label)
        self.require_y(cond, x_t, "the conditional latent")
        text = {}
        for key in ("prompt_embeds", "negative_prompt_embeds"):
            self._check_text(cond.get(key), key)
            if cond.get(key) is not None:
                text[key] = batch_to(cond[key], x_t.shape[0], key)
        return Cond.of({**cond, **text}) if text else cond

    def _check_text(self, v, name: str) -> None:
        check_text_embeds(v, name, self.unet.config.cross_attention_dim)

    def uncond(self, cond: Cond) -> Cond:
        """Text CFG: the negative prompt embeddings in place of the prompt's (I2VGen-XL also zeroes the image embedding)."""
        neg = cond.get("negative_prompt_embeds")
        if neg is None:
            raise ValueError("guidance_scale != 1 needs negative_prompt_embeds (prepare_condition computes them)")
        return Cond.of(cond).replace(prompt_embeds=neg)

    def raw(self, x_in: Video, native_t: torch.Tensor, cond: Cond) -> Video:
        """The UNet (``[B, C, F, h, w]`` layout inside) -> eps / v ``[B, F, C, h, w]`` in float32."""
        x = x_in.to(self.device, self.unet.dtype).permute(0, 2, 1, 3, 4)
        return self._net(x, native_t.to(self.device), cond).float().permute(0, 2, 1, 3, 4)

    def _net(self, x, timestep, cond):  # pragma: no cover - abstract
        raise NotImplementedError

    def _text(self, cond, n_frames=1):
        pos = cond.get("prompt_embeds")
        if pos is None:
            raise ValueError(f"{self.name} needs prompt_embeds (and negative_prompt_embeds for guidance): use adapter.prepare_condition")
        pos = pos.to(self.device, self.unet.dtype)
        return pos.repeat_interleave(n_frames, dim=0) if n_frames > 1 else pos

    # -- conditioning helpers --------------------------------------------------------------------

    @torch.no_grad()
    def encode_prompt(self, prompt, negative_prompt=None, *, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(prompt_embeds, negative_prompt_embeds)`` ``[B, L, D]``: the pipeline's CLIP text path (negative default ``""``)."""
        if self.tokenizer is None or self.text_encoder is None:
            raise ValueError("this pipeline has no tokenizer/text_encoder: pass prompt_embeds= and negative_prompt_embeds=")
        pos = _prompts(prompt, batch_size, "prompt")
        neg = _prompts("" if negative_prompt is None else negative_prompt, batch_size, "negative_prompt")
        tok = self.tokenizer(pos + neg, padding="max_length", max_length=self.tokenizer.model_max_length, truncation=True, return_tensors="pt")
        mask = tok.attention_mask.to(self.device) if getattr(self.text_encoder.config, "use_attention_mask", False) else None
        ids = tok.input_ids.to(self.device)
        if self.clip_skip is None:
            emb = self.text_encoder(ids, attention_mask=mask)[0]
        else:
            hidden = self.text_encoder(ids, attention_mask=mask, output_hidden_states=True).hidden_states
            # transformers < 5 nests the layers under .text_model; 5.x flattened CLIPTextModel
            final_norm = getattr(self.text_encoder, "text_model", self.text_encoder).final_layer_norm
            emb = final_norm(hidden[-(self.clip_skip + 1)])
        emb = emb.to(self.text_encoder.dtype)
        return emb[:batch_size], emb[batch_size:]

    def _on_device(self, cond: dict) -> Cond:
        """Tensors on the model's device, floats in float32 (samplers then run in float32; the UNet casts inside)."""
        out = {}
        for k, v in cond.items():
            if v is None:
                continue
            out[k] = v.to(self.device, torch.float32) if v.is_floating_point() else v.to(self.device)
        return Cond.of(out)

    def _image_latent(self, images, generator):
        x = images.to(self.device, self.vae.dtype)
        dist = self.vae.encode(x).latent_dist
        lat = dist.mode() if generator is None else dist.sample(generator)
        return lat.float() * self.scaling_factor

    @torch.no_grad()
    def encode_video(self, frames: Video, *, generator: torch.Generator | None = None, chunk_size: int = 16) -> Video:
        """Frames ``[B, F, 3, H, W]`` in [-1, 1] -> latents ``[B, F, 4, h, w]`` times the VAE scaling factor (mode; ``generator=`` samples)."""
        check_video(frames)
        B, F = frames.shape[:2]
        flat = frames.reshape(B * F, *frames.shape[2:])
        step = check_chunk_size(chunk_size)
        lat = torch.cat([self._image_latent(flat[lo:lo + step], generator) for lo in range(0, B * F, step)])
        return lat.reshape(B, F, *lat.shape[1:])

    @torch.no_grad()
    def decode_latents(self, latents: Video, *, chunk_size: int = 16) -> Video:
        """Latents ``[B, F, 4, h, w]`` (times the scaling factor) -> frames ``[B, F, 3, H, W]`` in [-1, 1] (float32)."""
        check_latents(latents, self.vae.config.latent_channels)
        step = check_chunk_size(chunk_size)
        B, F = latents.shape[:2]
        flat = (latents / self.scaling_factor).reshape(B * F, *latents.shape[2:])
        imgs = torch.cat([self.vae.decode(flat[lo:lo + step].to(self.device, self.vae.dtype)).sample.float()
                          for lo in range(0, B * F, step)])
        return imgs.reshape(B, F, *imgs.shape[1:]).clamp(-1, 1)


class PIAAdapter(VPVideoAdapter):
    """PIA on the contract (eps-prediction): ``forward(x_t, t, y, prompt_embeds, negative_prompt_embeds, motion, guidance_scale)``.

    ``y`` ``[B, 4, h, w]``: the condition-image latent times the scaling factor (the same space
    as ``x_t``, so the probe's default ``y = x0[:, 0]`` is meaningful); ``motion`` ``[B]``: PIA's
    ``motion_scale`` preset (0-8; the per-frame mask). Reached from notebooks/leakage_probe.ipynb.
    """

    name = "pia"
    cond_keys = ("y", "prompt_embeds", "negative_prompt_embeds", "motion")

    def __init__(self, pipe, *, guidance_scale: float = 7.5, n_frames: int = 16, clip_skip: int | None = None):
        super().__init__(pipe, guidance_scale=guidance_scale, n_frames=n_frames, clip_skip=clip_skip)
        mod = sys.modules[type(pipe).__module__]
        self._coef_fn = getattr(mod, "prepare_mask_coef_by_statistics", None)
        self._n_scales = len(getattr(mod, "RANGE_LIST", getattr(mod, "RANGE_list", [])) or [])
        if self._coef_fn is None or self._n_scales == 0:
            raise ValueError(f"{type(pipe).__name__} does not look like diffusers' PIAPipeline (no motion-scale presets)")
        self._coef_cache: dict[int, torch.Tensor] = {}

    def mask_coefficients(self, motion: torch.Tensor, n_frames: int) -> torch.Tensor:
        """``[B, F]`` per-frame mask values of PIA's ``motion_scale`` presets (condition frame 0), as the pipeline builds them."""
        m = torch.as_tensor(motion).detach().cpu().flatten()
        if bool((m != m.round()).any()) or bool((m < 0).any()) or bool((m >= self._n_scales).any()):
            raise ValueError(f"PIA motion (motion_scale) must be integers in 0..{self._n_scales - 1}, got {m.tolist()}")
        if n_frames not in self._coef_cache:
            self._coef_cache[n_frames] = torch.tensor(
                [self._coef_fn(n_frames, 0, s) for s in range(self._n_scales)], dtype=torch.float32)
        return self._coef_cache[n_frames][m.long()]

    def check_condition(self, x_t: Video, cond: Cond) -> Cond:
        cond = super().check_condition(x_t, cond)
        if cond.get("motion") is not None:
            self.mask_coefficients(per_sample(cond["motion"], x_t.shape[0], "motion"), 2)  # one preset per video, in range
        return cond

    def _net(self, x, timestep, cond):
        B, C, F, h, w = x.shape
        motion = cond.get("motion")
        mask = self.mask_coefficients(torch.zeros(B) if motion is None else motion, F).to(self.device, x.dtype)
        mask = mask[:, None, :, None, None].expand(B, 1, F, h, w)
        img = cond["y"].to(self.device, x.dtype)[:, :, None].expand(B, -1, F, h, w)
        extra = torch.cat([mask, img], dim=1)
        ehs = self._text(cond, n_frames=F)
        return self.unet(torch.cat([x, extra], dim=1), timestep, encoder_hidden_states=ehs).sample

    @torch.no_grad()
    def prepare_condition(self, images: Images, *, prompt="", negative_prompt=None, motion_scale=0,
                          generator: torch.Generator | None = None, seed: int | None = None,
                          prompt_embeds: torch.Tensor | None = None, negative_prompt_embeds: torch.Tensor | None = None) -> Cond:
        """Images ``[B, 3, H, W]`` in [-1, 1] -> ``cond`` as ``PIAPipeline`` builds it.

        ``y = vae.encode(images).latent_dist.sample(generator) * scaling_factor`` (the pipeline
        samples; without ``generator``/``seed`` the deterministic mode is used); prompt embeddings
        from the pipeline's tokenizer/text encoder (or given); ``motion_scale`` one value or one per image.
        """
        check_images(images)
        B = images.shape[0]
        gen = make_generator_or_none(generator, seed)
        self._check_text(prompt_embeds, "prompt_embeds")
        self._check_text(negative_prompt_embeds, "negative_prompt_embeds")
        motion = per_sample(motion_scale, B, "motion_scale", dtype=torch.float64)
        self.mask_coefficients(motion, 2)  # validates the range (before .long() would truncate 1.5 to 1)
        motion = motion.long()
        y = self._image_latent(images.float(), gen)
        if prompt_embeds is None:
            prompt_embeds, neg = self.encode_prompt(prompt, negative_prompt, batch_size=B)
            negative_prompt_embeds = neg if negative_prompt_embeds is None else negative_prompt_embeds
        return self._on_device({"y": y, "prompt_embeds": prompt_embeds, "motion": motion,
                                "negative_prompt_embeds": negative_prompt_embeds})


class I2VGenXLAdapter(VPVideoAdapter):
    """I2VGen-XL on the contract (v-prediction, zero terminal SNR): ``forward(x_t, t, y, image_embeds, prompt_embeds, ...)``.

    ``y`` ``[B, 4, h, w]``: the image latent times the scaling factor (x_t's space); ``fps``
    ``[B]`` the target fps micro-condition; ``image_embeds`` ``[B, 1, D]``. Reached from
    notebooks/leakage_probe.ipynb.
    """

    name = "i2vgen-xl"
    cond_keys = ("y", "image_embeds", "prompt_embeds", "negative_prompt_embeds", "fps")

    def __init__(self, pipe, *, guidance_scale: float = 9.0, n_frames: int = 16, clip_skip: int | None = 1):
        super().__init__(pipe, guidance_scale=guidance_scale, n_frames=n_frames, clip_skip=clip_skip)

    def check_condition(self, x_t: Video, cond: Cond) -> Cond:
        cond = super().check_condition(x_t, cond)
        emb, D = cond.get("image_embeds"), self.unet.config.cross_attention_dim
        if emb is not None and (not torch.is_tensor(emb) or emb.ndim not in (2, 3) or emb.shape[0] != x_t.shape[0]
                                or (isinstance(D, int) and emb.shape[-1] != D)):
            got = tuple(emb.shape) if torch.is_tensor(emb) else type(emb).__name__
            raise ValueError(f"image_embeds must be the CLIP image embedding [B, 1, D] = [{x_t.shape[0]}, 1, {D}], got {got}; "
                             "build cond with adapter.prepare_condition(images)")
        return cond

    def uncond(self, cond: Cond) -> Cond:
        """The pipeline's unconditional branch: negative prompt and a zero CLIP image embedding (image latent kept)."""
        emb = cond.get("image_embeds")
        return super().uncond(cond).replace(image_embeds=None if emb is None else torch.zeros_like(emb))

    def _net(self, x, timestep, cond):
        B, C, F, h, w = x.shape
        y = cond["y"].to(self.device, x.dtype)[:, :, None]
        if F > 1:
            pos = (torch.arange(1, F, dtype=x.dtype, device=self.device) / (F - 1)).view(1, 1, F - 1, 1, 1)
            y = torch.cat([y, pos.expand(B, y.shape[1], F - 1, h, w)], dim=2)
        emb = cond.get("image_embeds")
        if emb is None:
            raise ValueError("I2VGen-XL needs image_embeds (the CLIP image embedding): use adapter.prepare_condition")
        emb = emb.to(self.device, x.dtype)
        fps = per_sample(16 if cond.get("fps") is None else cond["fps"], B, "fps").to(self.device, torch.float32)
        ehs = self._text(cond)
        return self.unet(x, timestep, fps=fps, image_latents=y, image_embeddings=emb, encoder_hidden_states=ehs,
                         return_dict=False)[0]

    @torch.no_grad()
    def encode_image_embeds(self, images: Images) -> torch.Tensor:
        """CLIP embedding ``[B, 1, D]``: centre square crop, resize to the encoder's size, CLIP normalisation (the pipeline's path, in torch)."""
        if self.image_encoder is None:
            raise ValueError("this pipeline has no image_encoder")
        check_images(images)
        H, W = images.shape[-2:]
        s = min(H, W)
        x = images.float()[..., (H - s) // 2:(H - s) // 2 + s, (W - s) // 2:(W - s) // 2 + s]
        size = int(getattr(self.image_encoder.config, "image_size", 224))
        if s != size:
            x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return clip_image_embeds(self.image_encoder, self.feature_extractor, x, self.device)

    @torch.no_grad()
    def prepare_condition(self, images: Images, *, prompt="", negative_prompt=None, target_fps=16,
                          generator: torch.Generator | None = None, seed: int | None = None,
                          prompt_embeds: torch.Tensor | None = None, negative_prompt_embeds: torch.Tensor | None = None) -> Cond:
        """Images ``[B, 3, H, W]`` in [-1, 1] (already at the sampling resolution) -> ``cond`` as ``I2VGenXLPipeline`` builds it.

        ``y = vae.encode(images).latent_dist.sample(generator) * scaling_factor`` (mode without a
        generator/seed); CLIP embedding of the centre crop; text embeddings with ``clip_skip``
        (the pipeline's default 1); ``target_fps`` one value or one per image.
        """
        check_images(images)
        B = images.shape[0]
        gen = make_generator_or_none(generator, seed)
        self._check_text(prompt_embeds, "prompt_embeds")
        self._check_text(negative_prompt_embeds, "negative_prompt_embeds")
        fps = per_sample(target_fps, B, "target_fps")
        if bool((fps <= 0).any()):
            raise ValueError(f"target_fps must be > 0 (frames per second, 16 by default), got {target_fps!r}")
        emb = self.encode_image_embeds(images)
        y = self._image_latent(images.float(), gen)
        if prompt_embeds is None:
            prompt_embeds, neg = self.encode_prompt(prompt, negative_prompt, batch_size=B)
            negative_prompt_embeds = neg if negative_prompt_embeds is None else negative_prompt_embeds
        return self._on_device({"y": y, "image_embeds": emb, "prompt_embeds": prompt_embeds,
                                "fps": fps, "negative_prompt_embeds": negative_prompt_embeds})


def pia_from_pipeline(pipe, **kwargs) -> PIAAdapter:
    """Wrap an existing ``PIAPipeline`` (modules shared, not copied; the pipeline is not modified)."""
    return PIAAdapter(pipe, **kwargs)


def i2vgenxl_from_pipeline(pipe, **kwargs) -> I2VGenXLAdapter:
    """Wrap an existing ``I2VGenXLPipeline`` (modules shared, not copied; the pipeline is not modified)."""
    return I2VGenXLAdapter(pipe, **kwargs)


def load_pia(path_or_id=None, device="auto", dtype=None, *, motion_adapter=None, guidance_scale: float = 7.5,
             n_frames: int = 16, variant: str | None = None, **pipeline_kwargs) -> PIAAdapter:
    """Load PIA: a saved ``PIAPipeline`` folder, or a Stable Diffusion 1.5 folder plus the PIA motion adapter.

    ``path_or_id`` defaults to ``SG161222/Realistic_Vision_V6.0_B1_noVAE`` (the diffusers example);
    ``motion_adapter`` (folder or cached id, default ``openmmlab/PIA-condition-adapter``) is
    only needed when the pipeline's UNet is not already a ``UNetMotionModel``. No downloads unless
    ``HF_HUB_OFFLINE=0``. See docs/real_models.md.
    """
    from pathlib import Path

    from .._util import resolve_device

    checks.check_number("guidance_scale", guidance_scale, fix="(classifier-free guidance; 1 for none)")
    checks.check_int("n_frames", n_frames, min=1, fix="(frames per video, e.g. 16)")
    hint = "PIA in diffusers: an SD 1.5 pipeline folder plus https://huggingface.co/openmmlab/PIA-condition-adapter."
    folder = pipeline_folder(path_or_id, what="PIA", default_id=PIA_DEFAULT_ID, hint=hint)
    unet_cfg = Path(folder) / "unet" / "config.json"
    is_motion = False
    if unet_cfg.is_file():
        unet_info = checks.parse_json(unet_cfg.read_text(errors="replace"), f"PIA: {unet_cfg} (the UNet's config; download the pipeline again)")
        is_motion = isinstance(unet_info, dict) and unet_info.get("_class_name") == "UNetMotionModel"
    adapter_folder = None
    if not is_motion:
        adapter_folder = pipeline_folder(motion_adapter, what="PIA motion adapter", default_id=PIA_ADAPTER_ID,
                                          hint=hint, marker="config.json")
    dev = resolve_device(device)
    dt = torch_dtype(dtype, dev)
    from diffusers import MotionAdapter, PIAPipeline

    if adapter_folder is not None:
        pipeline_kwargs["motion_adapter"] = from_pretrained(MotionAdapter, adapter_folder, dt)
    pipe = load_pipeline(PIAPipeline, folder, what="PIA", default_id=PIA_DEFAULT_ID, hint=hint, device=dev, dtype=dt,
                         upcast_vae=True, variant=variant, **pipeline_kwargs)
    return PIAAdapter(pipe, guidance_scale=guidance_scale, n_frames=n_frames).eval().requires_grad_(False)


def load_i2vgenxl(path_or_id=None, device="auto", dtype=None, *, guidance_scale: float = 9.0, n_frames: int = 16,
                  clip_skip: int | None = 1, variant: str | None = None, **pipeline_kwargs) -> I2VGenXLAdapter:
    """Load I2VGen-XL from a local pipeline folder or a cached hub id (default ``ali-vilab/i2vgen-xl``).

    No downloads unless ``HF_HUB_OFFLINE=0``; ``dtype=None`` -> float16 on CUDA (``variant="fp16"``
    picks the fp16 files). See docs/real_models.md.
    """
    checks.check_number("guidance_scale", guidance_scale, fix="(classifier-free guidance; 1 for none)")
    checks.check_int("n_frames", n_frames, min=1, fix="(frames per video, e.g. 16)")
    pipe = load_pipeline("I2VGenXLPipeline", path_or_id, what="I2VGen-XL", default_id=I2VGENXL_DEFAULT_ID, device=device,
                         dtype=dtype, hint="I2VGen-XL weights: https://huggingface.co/ali-vilab/i2vgen-xl.",
                         cuda_default=torch.float16, upcast_vae=True, variant=variant, **pipeline_kwargs)
    return I2VGenXLAdapter(pipe, guidance_scale=guidance_scale, n_frames=n_frames, clip_skip=clip_skip).eval().requires_grad_(False)

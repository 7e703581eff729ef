"""Stable Video Diffusion (diffusers) on the denoiser contract: EDM v-prediction, Sec. 3 of the paper.

SVD is the paper's VE/EDM model (Eq. 1 with ``alpha = 1``, ``sigma_T = 700``). Its denoiser, as
diffusers' ``EulerDiscreteScheduler`` (``prediction_type="v_prediction"``,
``timestep_type="continuous"``) and ``StableVideoDiffusionPipeline`` compute it, is Karras'
preconditioning with ``sigma_data = 1`` and a negated output scale::

    x0_hat = c_skip x + c_out F(c_in x, c_noise),   c_skip = 1 / (sigma^2 + 1),
    c_out = -sigma / sqrt(sigma^2 + 1),  c_in = 1 / sqrt(sigma^2 + 1),  c_noise = log(sigma) / 4

(``scale_model_input`` divides by ``sqrt(sigma^2 + 1)``; ``step`` forms
``model_output * (-sigma / sqrt(sigma^2 + 1)) + sample / (sigma^2 + 1)``). The UNet sees the
noisy latents concatenated on channels with the *unscaled* VAE latent of the noise-augmented
conditional image (``y``), a CLIP image embedding, and ``added_time_ids = (fps - 1,
motion_bucket_id, noise_aug_strength)``. Classifier-free guidance is frame-wise, linear from
``min_guidance_scale`` (frame 0) to ``max_guidance_scale`` (last frame), with zero image latents
and zero embeddings as the unconditional branch. Guidance is affine in ``F`` and ``x0_hat`` is
affine in ``F``, so guiding ``x0_hat`` is the same as the pipeline guiding the UNet output.

Starting at ``sigma_M`` (Alg. 1): ``EDMSchedule.grid`` at ``start = M`` is the Karras grid rebuilt
with ``sigma_max = sigma_M``, as the official SVD code does. Reached from
``notebooks/leakage_probe.ipynb`` and ``notebooks/m_sweep.ipynb`` with ``model="svd"``.
"""
from __future__ import annotations


import torch

from ..schedules import EDMSchedule, from_diffusers
from .base import Adapter, _from_pretrained, _pipeline_folder, _torch_dtype

__all__ = ["SVDAdapter", "from_pipeline", "load", "svd_scalings", "DEFAULT_ID"]

DEFAULT_ID = "stabilityai/stable-video-diffusion-img2vid-xt"
_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_COND_KEYS = ("y", "image_embeds", "motion", "fps_id", "noise_aug_strength", "guidance")


def svd_scalings(sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """SVD's EDM preconditioning (Karras et al. 2022, Table 1, ``sigma_data = 1``, v-sign): ``c_skip, c_out, c_in, c_noise``."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    s2 = sigma**2 + 1
    return 1 / s2, -sigma / s2.sqrt(), 1 / s2.sqrt(), 0.25 * sigma.log()


def _per_sample(value, B: int, name: str, *, dtype=torch.float64) -> torch.Tensor:
    """A scalar, a sequence or a tensor as a ``[B]`` tensor."""
    t = torch.as_tensor(value, dtype=dtype).detach().cpu().flatten()
    if t.numel() == 1:
        t = t.expand(B).clone()
    if t.shape != (B,):
        raise ValueError(f"{name} must be one number or one per image ({B}), got {t.numel()} values")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return t


def _check_images(images: torch.Tensor, what: str = "images") -> None:
    if not torch.is_tensor(images) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if torch.is_tensor(images) else type(images).__name__
        raise ValueError(f"{what} must be a float tensor [B, 3, H, W] in [-1, 1], got {shape}")
    if not images.is_floating_point():
        raise ValueError(f"{what} must be floating point in [-1, 1] (convert uint8 with x / 127.5 - 1)")
    lo, hi = float(images.min()), float(images.max())
    if lo < -1.0 - 1e-3 or hi > 1.0 + 1e-3:
        raise ValueError(f"{what} must lie in [-1, 1], got values in [{lo:.3g}, {hi:.3g}] (convert [0, 1] with 2 x - 1)")


def _check_video(frames: torch.Tensor, what: str = "frames") -> None:
    if not torch.is_tensor(frames) or frames.ndim != 5 or frames.shape[2] != 3:
        shape = tuple(frames.shape) if torch.is_tensor(frames) else type(frames).__name__
        raise ValueError(f"{what} must be a float tensor [B, F, 3, H, W] in [-1, 1], got {shape}")


def _guidance_per_frame(guidance, B: int, F: int) -> torch.Tensor | None:
    """``None``/``1`` -> no guidance; a number -> constant; ``(min, max)`` -> linear over frames; tensor ``[B]``/``[B, F]``."""
    if guidance is None:
        return None
    if isinstance(guidance, (tuple, list)) and len(guidance) == 2 and not torch.is_tensor(guidance[0]):
        lo, hi = float(guidance[0]), float(guidance[1])
        if hi <= 1.0:  # the pipeline's rule: guidance is on when max_guidance_scale > 1
            return None
        return torch.linspace(lo, hi, F).unsqueeze(0).expand(B, F)
    g = torch.as_tensor(guidance, dtype=torch.float32).detach().cpu()
    if g.ndim == 0:
        g = g.expand(B)
    if g.ndim == 1:
        if g.shape[0] != B:
            raise ValueError(f"guidance must be a number, (min, max), [B] or [B, F]; got shape {tuple(g.shape)} for B={B}")
        g = g[:, None].expand(B, F)
    if g.shape != (B, F):
        raise ValueError(f"guidance must be a number, (min, max), [B] or [B, F] = [{B}, {F}]; got shape {tuple(g.shape)}")
    if bool((g <= 1.0).all()):
        return None if bool((g == 1.0).all()) else g
    return g


class SVDAdapter(Adapter):
    """SVD on the contract: ``forward(x_t [B, F, C, h, w], t [B], y, image_embeds, ...) -> x0_hat`` (Eq. 4).

    ``y`` is the unscaled VAE latent (``latent_dist.mode()``) of the noise-augmented conditional
    image, exactly what the UNet concatenates; ``image_embeds`` ``[B, 1, D]`` the CLIP embedding;
    ``motion`` ``[B]`` the motion bucket id; ``fps_id`` ``[B]`` the fps micro-condition (the
    pipeline's ``fps - 1``); ``noise_aug_strength`` ``[B]``; ``guidance`` overrides
    :attr:`guidance` (``(min, max)`` frame-wise, a number, or ``1``/``None`` for none). Build the
    dict with :meth:`prepare_condition`. Reached from ``notebooks/leakage_probe.ipynb`` with ``model="svd"``.
    """

    name = "svd"

    def __init__(self, unet, vae=None, image_encoder=None, feature_extractor=None, scheduler=None, *,
                 guidance=(1.0, 3.0), n_frames: int | None = None, decode_chunk_size: int = 8):
        super().__init__()
        if scheduler is None:
            raise ValueError("SVDAdapter needs the pipeline's scheduler (or its config) to build the EDM schedule")
        cfg = dict(getattr(scheduler, "config", scheduler))
        sched = from_diffusers(scheduler)
        if not isinstance(sched, EDMSchedule):
            raise ValueError(
                f"SVD expects an EDM scheduler (EulerDiscreteScheduler with use_karras_sigmas and continuous timesteps); "
                f"got {cfg.get('_class_name', type(scheduler).__name__)} -> {type(sched).__name__}"
            )
        if cfg.get("prediction_type", "v_prediction") != "v_prediction":
            raise ValueError(f"SVD's preconditioning is for v_prediction; the scheduler says {cfg.get('prediction_type')!r}")
        self.unet, self.vae, self.image_encoder = unet, vae, image_encoder
        self.feature_extractor = feature_extractor
        self.schedule = sched
        self.scheduler_config = cfg
        self.guidance = guidance
        self.n_frames = int(n_frames or getattr(unet.config, "num_frames", 14))
        self.decode_chunk_size = int(decode_chunk_size)
        self.scaling_factor = float(vae.config.scaling_factor) if vae is not None else 0.18215

    # -- the contract ---------------------------------------------------------------------------

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None, image_embeds: torch.Tensor | None = None,
                motion=None, fps_id=None, noise_aug_strength=None, guidance="default", **extra) -> torch.Tensor:
        """Eq. (4) through SVD's EDM preconditioning; unconditional branch batched with the conditional one."""
        if extra:
            raise ValueError(f"unknown SVD conditioning {sorted(extra)}; expected {list(_COND_KEYS)} (from prepare_condition)")
        if x_t.ndim != 5:
            raise ValueError(f"x_t must be [B, F, C, h, w], got shape {tuple(x_t.shape)}")
        B, F = x_t.shape[:2]
        if y is None or image_embeds is None:
            raise ValueError("SVD needs y (the conditional latent) and image_embeds: build them with adapter.prepare_condition(images)")
        if y.shape != (B, x_t.shape[2], *x_t.shape[3:]):
            raise ValueError(f"y must be [B, C, h, w] = {(B, x_t.shape[2], *x_t.shape[3:])}, got {tuple(y.shape)}")
        t = torch.as_tensor(t, dtype=torch.float64)
        t = t.expand(B) if t.ndim == 0 else t
        if t.shape != (B,):
            raise ValueError(f"t must have one entry per batch element ({B}), got shape {tuple(t.shape)}")
        dev, wdt = self.device, self.unet.dtype  # computed on the model's device, returned on x_t's
        sigma = self.schedule.sigma(t.detach().cpu())
        c_skip, c_out, c_in, c_noise = (c.to(dev, torch.float32) for c in svd_scalings(sigma))
        view = (-1, 1, 1, 1, 1)
        x32 = x_t.to(dev, torch.float32)
        x_in = (x32 * c_in.view(view)).to(wdt)
        cond_lat = y.to(dev, wdt)[:, None].expand(B, F, *y.shape[1:])
        emb = image_embeds.to(dev, wdt)
        ids = torch.stack([
            _per_sample(6 if fps_id is None else fps_id, B, "fps_id"),
            _per_sample(127 if motion is None else motion, B, "motion"),
            _per_sample(0.02 if noise_aug_strength is None else noise_aug_strength, B, "noise_aug_strength"),
        ], dim=1).to(dev, wdt)
        g = _guidance_per_frame(self.guidance if isinstance(guidance, str) and guidance == "default" else guidance, B, F)
        if g is not None:
            x_in = torch.cat([x_in, x_in])
            cond_lat = torch.cat([torch.zeros_like(cond_lat), cond_lat])
            emb = torch.cat([torch.zeros_like(emb), emb])
            ids = torch.cat([ids, ids])
            c_noise = torch.cat([c_noise, c_noise])
        out = self.unet(torch.cat([x_in, cond_lat], dim=2), c_noise, encoder_hidden_states=emb,
                        added_time_ids=ids, return_dict=False)[0].float()
        if g is not None:
            u, c = out.chunk(2)
            out = u + g.to(dev, torch.float32).view(B, F, 1, 1, 1) * (c - u)
        return (c_skip.view(view) * x32 + c_out.view(view) * out).to(x_t.device, x_t.dtype)

    # -- conditioning and latents --------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @torch.no_grad()
    def encode_image_embeds(self, images: torch.Tensor) -> torch.Tensor:
        """CLIP image embedding ``[B, 1, D]`` of images ``[B, 3, H, W]`` in [-1, 1], as the pipeline computes it."""
        if self.image_encoder is None:
            raise ValueError("this SVDAdapter has no image_encoder; build it from a full pipeline (from_pipeline / load)")
        _check_images(images)
        size = int(getattr(self.image_encoder.config, "image_size", 224))
        x = images.float()
        if tuple(x.shape[-2:]) != (size, size):
            from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import _resize_with_antialiasing

            x = _resize_with_antialiasing(x, (size, size))  # as the pipeline: resized in [-1, 1]
        x = (x + 1.0) / 2.0
        fe = self.feature_extractor
        mean = torch.tensor(getattr(fe, "image_mean", None) or _CLIP_MEAN, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(getattr(fe, "image_std", None) or _CLIP_STD, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
        x = (x - mean) / std
        enc_dtype = next(self.image_encoder.parameters()).dtype
        emb = self.image_encoder(x.to(self.device, enc_dtype)).image_embeds
        return emb.unsqueeze(1)

    @torch.no_grad()
    def prepare_condition(self, images: torch.Tensor, *, motion_bucket_id=127, fps=7, noise_aug_strength=0.02,
                          generator: torch.Generator | None = None, seed: int | None = None) -> dict:
        """Images ``[B, 3, H, W]`` in [-1, 1] -> ``cond`` for :meth:`forward`, as ``StableVideoDiffusionPipeline`` builds it.

        ``y = vae.encode(image + noise_aug_strength * eps).mode()`` (unscaled latent; ``eps`` from
        ``generator``/``seed``, required when the strength is > 0); ``fps`` is the pipeline's
        frame rate (the UNet is conditioned on ``fps - 1``); ``motion_bucket_id``, ``fps`` and
        ``noise_aug_strength`` may be one value or one per image. Reached from notebooks/leakage_probe.ipynb.
        """
        if self.vae is None:
            raise ValueError("this SVDAdapter has no VAE; build it from a full pipeline (from_pipeline / load)")
        _check_images(images)
        B = images.shape[0]
        aug = _per_sample(noise_aug_strength, B, "noise_aug_strength")
        if bool((aug < 0).any()):
            raise ValueError(f"noise_aug_strength must be >= 0, got {noise_aug_strength!r}")
        motion = _per_sample(motion_bucket_id, B, "motion_bucket_id")
        fps_id = _per_sample(fps, B, "fps") - 1
        x = images.float()
        if bool((aug > 0).any()):
            if generator is None and seed is None:
                raise ValueError("noise_aug_strength > 0 draws noise: pass generator= or seed= (cilnb never uses the global RNG)")
            if generator is None:
                generator = torch.Generator().manual_seed(int(seed))
            noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype).to(x.device)
            x = x + aug.to(x.device, x.dtype).view(B, 1, 1, 1) * noise
        y = self.vae.encode(x.to(self.device, self.vae.dtype)).latent_dist.mode()
        emb = self.encode_image_embeds(images)
        # float32 on the model's device: samplers then run in float32 (the UNet casts to its dtype inside)
        dev, f32 = self.device, torch.float32
        return {"y": y.to(dev, f32), "image_embeds": emb.to(dev, f32), "motion": motion.to(dev, f32),
                "fps_id": fps_id.to(dev, f32), "noise_aug_strength": aug.to(dev, f32)}

    @torch.no_grad()
    def encode_video(self, frames: torch.Tensor, *, generator: torch.Generator | None = None, chunk_size: int = 16) -> torch.Tensor:
        """Frames ``[B, F, 3, H, W]`` in [-1, 1] -> float32 latents ``[B, F, 4, h, w]`` times the VAE scaling factor.

        ``latent_dist.mode()`` by default; ``generator=`` samples the posterior instead (the
        official training code samples). Used by ``python -m cilnb stats`` (Analytic-Init, Eq. 5).
        """
        if self.vae is None:
            raise ValueError("this SVDAdapter has no VAE")
        _check_video(frames)
        B, F = frames.shape[:2]
        flat = frames.reshape(B * F, *frames.shape[2:])
        outs = []
        for lo in range(0, B * F, max(1, int(chunk_size))):
            dist = self.vae.encode(flat[lo:lo + chunk_size].to(self.device, self.vae.dtype)).latent_dist
            outs.append(dist.mode() if generator is None else dist.sample(generator))
        lat = torch.cat(outs).float() * self.scaling_factor
        return lat.reshape(B, F, *lat.shape[1:])

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor, *, chunk_size: int | None = None) -> torch.Tensor:
        """Latents ``[B, F, 4, h, w]`` (times the scaling factor) -> frames ``[B, F, 3, H, W]`` in [-1, 1] (float32).

        The temporal decoder sees ``chunk_size`` consecutive frames of every video at once.
        """
        if self.vae is None:
            raise ValueError("this SVDAdapter has no VAE")
        if latents.ndim != 5:
            raise ValueError(f"latents must be [B, F, C, h, w], got shape {tuple(latents.shape)}")
        B, F = latents.shape[:2]
        step = max(1, int(chunk_size or self.decode_chunk_size))
        z = latents / self.scaling_factor
        outs = []
        for lo in range(0, F, step):
            part = z[:, lo:lo + step]
            n = part.shape[1]
            flat = part.reshape(B * n, *part.shape[2:]).to(self.device, self.vae.dtype)
            img = self.vae.decode(flat, num_frames=n).sample.float()
            outs.append(img.reshape(B, n, *img.shape[1:]))
        return torch.cat(outs, dim=1).clamp(-1, 1)


def from_pipeline(pipe, **kwargs) -> SVDAdapter:
    """Wrap an existing ``StableVideoDiffusionPipeline`` (its modules are shared, not copied; nothing is modified)."""
    for part in ("unet", "scheduler"):
        if getattr(pipe, part, None) is None:
            raise ValueError(f"the pipeline has no {part}; pass a StableVideoDiffusionPipeline")
    return SVDAdapter(pipe.unet, getattr(pipe, "vae", None), getattr(pipe, "image_encoder", None),
                      getattr(pipe, "feature_extractor", None), pipe.scheduler, **kwargs)


def load(path_or_id=None, device="auto", dtype=None, *, variant: str | None = None, guidance=(1.0, 3.0),
         n_frames: int | None = None, **pipeline_kwargs) -> SVDAdapter:
    """Load SVD from a local pipeline folder or a cached hub id (default ``stabilityai/stable-video-diffusion-img2vid-xt``).

    ``dtype``: ``None`` -> float16 on CUDA, float32 on CPU; ``variant="fp16"`` picks the fp16
    weight files. Missing weights raise :class:`~cilnb.models.base.WeightsNotFoundError` saying
    where to put them (no download unless ``HF_HUB_OFFLINE=0``). See docs/real_models.md.
    """
    from .._util import resolve_device

    folder = _pipeline_folder(path_or_id, what="SVD", default_id=DEFAULT_ID,
                              hint="SVD weights: https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt (or img2vid for 14 frames).")
    dev = resolve_device(device)
    dt = _torch_dtype(dtype, dev)
    from diffusers import StableVideoDiffusionPipeline

    pipe = _from_pretrained(StableVideoDiffusionPipeline, folder, dt, variant=variant, **pipeline_kwargs)
    pipe.set_progress_bar_config(disable=True)
    if dt == torch.float16 and getattr(pipe.vae.config, "force_upcast", False):
        pipe.vae.to(torch.float32)  # the pipeline upcasts its VAE for every call; keep it in float32 once
    adapter = from_pipeline(pipe, guidance=guidance, n_frames=n_frames).to(dev)
    return adapter.eval().requires_grad_(False)

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

from ..denoiser import Cond, Images, Times, Video, prediction_from_diffusers
from ..schedules import EDMSchedule, from_diffusers
from ..checks import InputTypeError, check_int, holds_bool, is_complex
from .base import (Adapter, check_chunk_size, check_images, check_latent_channels, check_latents, check_video, clip_image_embeds,
                   guidance_weights, load_pipeline, make_generator_or_none, per_sample)

__all__ = ["SVDAdapter", "from_pipeline", "load", "svd_scalings", "DEFAULT_ID"]

DEFAULT_ID = "stabilityai/stable-video-diffusion-img2vid-xt"


def svd_scalings(sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """SVD's EDM preconditioning (Karras et al. 2022, Table 1, ``sigma_data = 1``, v-sign): ``c_skip, c_out, c_in, c_noise``.

    ``sigma`` > 0 (a number or tensor of noise levels; ``c_noise = log(sigma) / 4``)."""
    if sigma is None or isinstance(sigma, (str, bytes)) or holds_bool(sigma) or is_complex(sigma):  # torch's "new(): invalid data type"
        raise InputTypeError(f"sigma must be a number or a tensor of noise levels > 0, got {sigma!r:.60} ({type(sigma).__name__})")
    try:
        sigma = torch.as_tensor(sigma, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputTypeError(f"sigma must be a number or a tensor of noise levels > 0, got {type(sigma).__name__} ({exc})") from None
    if sigma.device.type == "cpu" and sigma.numel() and not bool(((sigma > 0) & torch.isfinite(sigma)).all()):  # free on the CPU (no sync)
        raise ValueError(f"sigma must be finite and > 0 (c_noise = log(sigma) / 4 was NaN or -inf), got min {float(sigma.min()):g}: "
                         "SVD's noise levels run from sigma_min = 0.002 to sigma_max = 700")
    s2 = sigma**2 + 1
    return 1 / s2, -sigma / s2.sqrt(), 1 / s2.sqrt(), 0.25 * sigma.log()


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
    label = "SVD"
    prediction = "edm"  # Karras' preconditioning of a v-network: svd_scalings (sigma_data = 1, negated c_out)
    sample_space = "latent"
    cond_keys = ("y", "image_embeds", "motion", "fps_id", "noise_aug_strength")

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
        if prediction_from_diffusers(cfg.get("prediction_type", "v_prediction")) != "v":
            raise ValueError(f"SVD's preconditioning is for v-prediction; the scheduler says {cfg.get('prediction_type')!r}")
        self.unet, self.vae, self.image_encoder = unet, vae, image_encoder
        self.feature_extractor = feature_extractor
        self.schedule = sched
        self.scheduler_config = cfg
        self.n_frames = (int(getattr(unet.config, "num_frames", 14)) if n_frames is None
                         else check_int("n_frames", n_frames, min=1, fix="(frames per video; None: the UNet's num_frames)"))
        self.decode_chunk_size = check_chunk_size(decode_chunk_size, "decode_chunk_size")
        if guidance is not None and not torch.is_tensor(guidance) and not (isinstance(guidance, (list, tuple)) and len(guidance) != 2):
            guidance_weights(guidance, 1, self.n_frames)  # a bad value fails here, not at the first sample
        self.guidance = guidance
        self.scaling_factor = float(vae.config.scaling_factor) if vae is not None else 0.18215

    # -- the contract (forward is the base's) --------------------------------------------------------

    def edm_scalings(self, t: Times):
        return svd_scalings(self.schedule.sigma(t))

    def check_condition(self, x_t: Video, cond: Cond) -> Cond:
        cond = super().check_condition(x_t, cond)
        if cond.get("y") is None or cond.get("image_embeds") is None:
            raise ValueError("SVD needs y (the conditional latent) and image_embeds: build them with adapter.prepare_condition(images)")
        check_latent_channels(x_t, self.unet.config.out_channels, "SVD")
        self.require_y(cond, x_t, "the conditional latent")
        emb, D = cond["image_embeds"], self.unet.config.cross_attention_dim
        if (not torch.is_tensor(emb) or not emb.is_floating_point() or emb.ndim != 3 or emb.shape[0] != x_t.shape[0]
                or (isinstance(D, int) and emb.shape[-1] != D)):  # integer embeddings were cast into the UNet without a word
            got = (f"{tuple(emb.shape)} {emb.dtype}" if torch.is_tensor(emb) else type(emb).__name__)
            raise ValueError(f"image_embeds must be the CLIP image embedding [B, 1, D] = [{x_t.shape[0]}, 1, {D}], got {got}; "
                             "build cond with adapter.prepare_condition(images)")
        return cond

    def uncond(self, cond: Cond) -> Cond:
        """The pipeline's unconditional branch: zero image latents and zero CLIP embeddings (micro-conditions kept)."""
        return Cond.of(cond).replace(y=torch.zeros_like(cond["y"]), image_embeds=torch.zeros_like(cond["image_embeds"]))

    def raw(self, x_in: Video, native_t: torch.Tensor, cond: Cond) -> Video:
        """``F(c_in x, c_noise)``: the UNet on ``[c_in x | y]`` (channels), CLIP embedding and ``added_time_ids``."""
        B, F = x_in.shape[:2]
        dev, wdt = self.device, self.unet.dtype
        y = cond["y"]
        cond_lat = y.to(dev, wdt)[:, None].expand(B, F, *y.shape[1:])
        ids = torch.stack([
            per_sample(6 if cond.get("fps_id") is None else cond["fps_id"], B, "fps_id"),
            per_sample(127 if cond.get("motion") is None else cond["motion"], B, "motion"),
            per_sample(0.02 if cond.get("noise_aug_strength") is None else cond["noise_aug_strength"], B, "noise_aug_strength"),
        ], dim=1).to(dev, wdt)
        return self.unet(torch.cat([x_in.to(dev, wdt), cond_lat], dim=2), native_t.to(dev), encoder_hidden_states=cond["image_embeds"].to(dev, wdt),
                         added_time_ids=ids, return_dict=False)[0].float()

    # -- conditioning and latents --------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @torch.no_grad()
    def encode_image_embeds(self, images: Images) -> torch.Tensor:
        """CLIP image embedding ``[B, 1, D]`` of images ``[B, 3, H, W]`` in [-1, 1], as the pipeline computes it."""
        if self.image_encoder is None:
            raise ValueError("this SVDAdapter has no image_encoder; build it from a full pipeline (from_pipeline / load)")
        check_images(images)
        size = int(getattr(self.image_encoder.config, "image_size", 224))
        x = images.float()
        if tuple(x.shape[-2:]) != (size, size):
            from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import _resize_with_antialiasing

            x = _resize_with_antialiasing(x, (size, size))  # as the pipeline: resized in [-1, 1]
        return clip_image_embeds(self.image_encoder, self.feature_extractor, x, self.device)

    @torch.no_grad()
    def prepare_condition(self, images: Images, *, motion_bucket_id=127, fps=7, noise_aug_strength=0.02,
                          generator: torch.Generator | None = None, seed: int | None = None) -> Cond:
        """Images ``[B, 3, H, W]`` in [-1, 1] -> ``cond`` for :meth:`forward`, as ``StableVideoDiffusionPipeline`` builds it.

        ``y = vae.encode(image + noise_aug_strength * eps).mode()`` (unscaled latent; ``eps`` from
        ``generator``/``seed``, required when the strength is > 0); ``fps`` is the pipeline's
        frame rate (the UNet is conditioned on ``fps - 1``); ``motion_bucket_id``, ``fps`` and
        ``noise_aug_strength`` may be one value or one per image. Reached from notebooks/leakage_probe.ipynb.
        """
        if self.vae is None:
            raise ValueError("this SVDAdapter has no VAE; build it from a full pipeline (from_pipeline / load)")
        check_images(images)
        B = images.shape[0]
        aug = per_sample(noise_aug_strength, B, "noise_aug_strength")
        if bool((aug < 0).any()):
            raise ValueError(f"noise_aug_strength must be >= 0, got {noise_aug_strength!r}")
        motion = per_sample(motion_bucket_id, B, "motion_bucket_id")
        if bool((motion < 0).any()):
            raise ValueError(f"motion_bucket_id must be >= 0 (SVD's buckets, 127 by default), got {motion_bucket_id!r}")
        fps_id = per_sample(fps, B, "fps")
        if bool((fps_id <= 0).any()):
            raise ValueError(f"fps must be > 0 (the frame rate, 7 by default; the UNet sees fps - 1), got {fps!r}")
        fps_id = fps_id - 1
        x = images.float()
        generator = make_generator_or_none(generator, seed)
        if bool((aug > 0).any()):
            if generator is None:
                raise ValueError("noise_aug_strength > 0 draws noise: pass generator= or seed= (cilnb never uses the global RNG)")
            noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype).to(x.device)
            x = x + aug.to(x.device, x.dtype).view(B, 1, 1, 1) * noise
        y = self.vae.encode(x.to(self.device, self.vae.dtype)).latent_dist.mode()
        emb = self.encode_image_embeds(images)
        # float32 on the model's device: samplers then run in float32 (the UNet casts to its dtype inside)
        dev, f32 = self.device, torch.float32
        return Cond(y.to(dev, f32), image_embeds=emb.to(dev, f32), motion=motion.to(dev, f32),
                    fps_id=fps_id.to(dev, f32), noise_aug_strength=aug.to(dev, f32))

    @torch.no_grad()
    def encode_video(self, frames: Video, *, generator: torch.Generator | None = None, chunk_size: int = 16) -> Video:
        """Frames ``[B, F, 3, H, W]`` in [-1, 1] -> float32 latents ``[B, F, 4, h, w]`` times the VAE scaling factor.

        ``latent_dist.mode()`` by default; ``generator=`` samples the posterior instead (the
        official training code samples). Used by ``python -m cilnb stats`` (Analytic-Init, Eq. 5).
        """
        if self.vae is None:
            raise ValueError("this SVDAdapter has no VAE")
        check_video(frames)
        chunk_size = check_chunk_size(chunk_size)
        B, F = frames.shape[:2]
        flat = frames.reshape(B * F, *frames.shape[2:])
        outs = []
        for lo in range(0, B * F, chunk_size):
            dist = self.vae.encode(flat[lo:lo + chunk_size].to(self.device, self.vae.dtype)).latent_dist
            outs.append(dist.mode() if generator is None else dist.sample(generator))
        lat = torch.cat(outs).float() * self.scaling_factor
        return lat.reshape(B, F, *lat.shape[1:])

    @torch.no_grad()
    def decode_latents(self, latents: Video, *, chunk_size: int | None = None) -> Video:
        """Latents ``[B, F, 4, h, w]`` (times the scaling factor) -> frames ``[B, F, 3, H, W]`` in [-1, 1] (float32).

        The temporal decoder sees ``chunk_size`` consecutive frames of every video at once.
        """
        if self.vae is None:
            raise ValueError("this SVDAdapter has no VAE")
        check_latents(latents, self.vae.config.latent_channels)
        B, F = latents.shape[:2]
        step = self.decode_chunk_size if chunk_size is None else check_chunk_size(chunk_size)
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
    if n_frames is not None:
        check_int("n_frames", n_frames, min=1, fix="(frames per video; None: the UNet's num_frames)")
    pipe = load_pipeline(
        "StableVideoDiffusionPipeline", path_or_id, what="SVD", default_id=DEFAULT_ID, device=device, dtype=dtype,
        hint="SVD weights: https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt (or img2vid for 14 frames).",
        cuda_default=torch.float16, upcast_vae=True, variant=variant, **pipeline_kwargs,
    )
    return from_pipeline(pipe, guidance=guidance, n_frames=n_frames).eval().requires_grad_(False)

"""Tiny random-weight diffusers pipelines and inputs shared by the test files (CPU, no downloads).

Configs after diffusers' own fast tests, smaller. Each builder seeds the global RNG itself, so a
pipeline's weights depend only on its arguments. diffusers/transformers are imported inside the
builders: test files ``pytest.importorskip`` them first.
"""
from __future__ import annotations

import json

import numpy as np
import torch

PX = 16  # pixel size of the tiny pipelines' images; their VAEs downsample by 2
TXT = (16, 32)  # text tokens, T5 width of the tiny transformer pipelines


def tiny_svd_pipeline(frames: int = 2, px: int = PX, *, sigma_max: float = 700.0):
    """A random-weight ``StableVideoDiffusionPipeline`` for ``frames`` frames of ``px`` x ``px`` (latents ``px / 2``)."""
    from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, StableVideoDiffusionPipeline, UNetSpatioTemporalConditionModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=px // 2, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32, num_attention_heads=8, projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32, num_frames=frames,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", interpolation_type="linear",
        num_train_timesteps=1000, prediction_type="v_prediction", sigma_max=sigma_max, sigma_min=0.002,
        steps_offset=1, timestep_spacing="leading", timestep_type="continuous", use_karras_sigmas=True,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLTemporalDecoder(block_out_channels=[32, 64], in_channels=3, out_channels=3,
                                       down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
                                       latent_channels=4, layers_per_block=1)
    torch.manual_seed(0)
    enc = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=32, projection_dim=32, num_hidden_layers=2,
                                                         num_attention_heads=4, image_size=px, intermediate_size=37, patch_size=4))
    fe = CLIPImageProcessor(crop_size=px, size=px)
    pipe = StableVideoDiffusionPipeline(vae=vae, image_encoder=enc, unet=unet, scheduler=scheduler, feature_extractor=fe)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_tokenizer(folder):
    """A character-level CLIP tokenizer written to ``folder`` (no hub access)."""
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "!": 1, "<|endoftext|>": 2}
    for ch in "abcdefghijklmnopqrstuvwxyz0123456789.,'?":
        for tok in (ch, ch + "</w>"):
            vocab.setdefault(tok, len(vocab))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=8)


def _ddim(**kw):
    from diffusers import DDIMScheduler

    # trailing spacing and a final alpha of 1: the steps cilnb's DDIM takes (VPSchedule.grid)
    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, clip_sample=False, set_alpha_to_one=True,
                         timestep_spacing="trailing", **kw)


def _text_encoder(hidden):
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    return CLIPTextModel(CLIPTextConfig(bos_token_id=0, eos_token_id=2, pad_token_id=1, hidden_size=hidden, intermediate_size=16,
                                        num_attention_heads=2, num_hidden_layers=2, vocab_size=100, max_position_embeddings=8,
                                        projection_dim=hidden))


def tiny_pia_pipeline(tmp, px: int = PX):
    """A random-weight ``PIAPipeline`` (its tokenizer written under ``tmp``)."""
    from diffusers import AutoencoderKL, MotionAdapter, PIAPipeline, UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(32, 64), layers_per_block=1, sample_size=px // 2, in_channels=4, out_channels=4,
                                down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                                cross_attention_dim=16, norm_num_groups=2)
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=[16, 32], in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 2,
                        up_block_types=["UpDecoderBlock2D"] * 2, latent_channels=4, norm_num_groups=2, layers_per_block=1)
    torch.manual_seed(0)
    motion = MotionAdapter(block_out_channels=(32, 64), motion_layers_per_block=1, motion_norm_num_groups=2,
                           motion_num_attention_heads=4, conv_in_channels=9)
    pipe = PIAPipeline(vae=vae, text_encoder=_text_encoder(16), tokenizer=tiny_tokenizer(tmp / "tok"), unet=unet,
                       scheduler=_ddim(beta_schedule="linear"), motion_adapter=motion)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_i2vgenxl_pipeline(tmp, px: int = PX):
    """A random-weight ``I2VGenXLPipeline`` (v-prediction, zero terminal SNR; its tokenizer written under ``tmp``)."""
    from diffusers import AutoencoderKL, I2VGenXLPipeline
    from diffusers.models.unets import I2VGenXLUNet
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    unet = I2VGenXLUNet(block_out_channels=(8, 16), layers_per_block=1, sample_size=px // 2, in_channels=4, out_channels=4,
                        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"), up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
                        cross_attention_dim=8, attention_head_dim=4, num_attention_heads=None, norm_num_groups=2)
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=[8, 16], in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 2,
                        up_block_types=["UpDecoderBlock2D"] * 2, latent_channels=4, norm_num_groups=2, layers_per_block=1)
    torch.manual_seed(0)
    enc = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=8, projection_dim=8, num_hidden_layers=2, num_attention_heads=2,
                                                         image_size=px, intermediate_size=16, patch_size=4))
    pipe = I2VGenXLPipeline(vae=vae, text_encoder=_text_encoder(8), tokenizer=tiny_tokenizer(tmp / "tok"), unet=unet,
                            image_encoder=enc, feature_extractor=CLIPImageProcessor(crop_size=px, size=px),
                            scheduler=_ddim(beta_schedule="scaled_linear", prediction_type="v_prediction", rescale_betas_zero_snr=True))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def prompt_embeds(shape=TXT, seed: int = 7):
    """Random ``(prompt_embeds, negative_prompt_embeds)``, each ``[1, *shape]``: stand-ins for T5 states."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, *shape, generator=g), torch.randn(1, *shape, generator=g)


def random_image(px: int, seed: int = 0):
    """A random ``px`` x ``px`` RGB image as ``(PIL image, tensor [1, 3, px, px] in [-1, 1])`` with the same pixels."""
    from PIL import Image

    arr = (np.random.RandomState(seed).rand(px, px, 3) * 255).astype("uint8")
    return Image.fromarray(arr), torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 127.5 - 1


def tiny_t5_tokenizer(max_length: int = 512):
    """A word-level T5-style tokenizer built in code (no hub access, saves and loads headless): lower-case
    words of a small vocabulary, ``<unk>`` for the rest, ``</s>`` appended, padded with ``<pad>`` (id 0)."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    words = "a an the of in on to and with is camera moves slowly fast cat dog car person walks runs river sky".split()
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{w: 3 + k for k, w in enumerate(words)}}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=max_length)


def tiny_umt5_encoder(d_model: int = TXT[1], vocab_size: int = 32):
    """A random-weight ``UMT5EncoderModel`` of width ``d_model`` (Wan's text encoder)."""
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    return UMT5EncoderModel(UMT5Config(vocab_size=vocab_size, d_model=d_model, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                                       relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0))


def tiny_wan_pipeline(px: int = PX):
    """A random-weight Wan 2.1 ``WanImageToVideoPipeline`` with every component, text included (a word-level
    tokenizer and a tiny UMT5 built in code, a tiny CLIP image encoder), so it saves, loads through
    ``from_pretrained`` and encodes a prompt with no hub access. The VAE downsamples by 8 in space and 4
    in time: ``px`` x ``px`` images give ``px / 8`` latents, the pipeline's 81 frames 21 latent frames."""
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline, WanTransformer3DModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    if px % 16:
        raise ValueError(f"px must be a multiple of 16 (VAE x8, patch x2), got {px}")
    torch.manual_seed(0)
    tr = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=36, out_channels=16,
                               text_dim=TXT[1], freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
                               qk_norm="rms_norm_across_heads", rope_max_seq_len=32, image_dim=4)
    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True])
    torch.manual_seed(0)
    enc = CLIPVisionModel(CLIPVisionConfig(hidden_size=4, projection_dim=4, num_hidden_layers=2, num_attention_heads=2, image_size=8,
                                           intermediate_size=16, patch_size=2))
    pipe = WanImageToVideoPipeline(tokenizer=tiny_t5_tokenizer(), text_encoder=tiny_umt5_encoder(), vae=vae,
                                   scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), image_processor=CLIPImageProcessor(crop_size=8, size=8),
                                   image_encoder=enc, transformer=tr)
    pipe.set_progress_bar_config(disable=True)
    return pipe

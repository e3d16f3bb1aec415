"""Configs of the training methods; `method.name` picks one (a pydantic discriminated union)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Default strength of a CLIP guide. Measured on shapes (runs/ddpm-shapes-v steered by
# runs/clip-shapes, DDIM 50, 36 short prompts, read by the shapes reader): scale 100 -> colour
# 0.58 / shape 0.42 correct, 300 -> 0.67 / 0.61, 1000 -> 0.47 / 0.50 (unguided: 0.25 / 0.42).
CLIP_GUIDE_SCALE = 300.0
# `genlab edit`'s mask: relevance >= threshold, grown by dilate pixels. On 20 two-object shapes
# scenes (benchmarks/edit_shapes.py) 0.3 / 2 covered the whole selected object in 19 and
# never touched the other; 0.5 / 1 covered it whole in 1 (its rim stayed, so did the object).
EDIT_THRESHOLD, EDIT_DILATE = 0.3, 2


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class GANConfig(Section):
    name: Literal["gan"] = Field("gan", description="training method")
    arch: Literal["mlp", "dcgan"] = Field("dcgan", description="network family: fully connected "
                                          "(mlp) or convolutional (dcgan)")
    z_dim: int = Field(100, ge=1, description="size of the noise vector z")
    g_width: int = Field(64, ge=4, description="generator width (channels of its last layer)")
    d_width: int = Field(64, ge=4, description="discriminator width (channels of its first layer)")
    d_norm: Literal["batch", "layer", "instance", "none"] = Field(
        "batch", description="normalisation in the discriminator (WGAN-GP needs no batch norm)")
    d_dropout: float = Field(0.0, ge=0, lt=1, description="dropout in the mlp discriminator")
    conditional: bool = Field(False, description="condition both nets on the class label")
    cond: Literal["concat", "projection"] = Field(
        "concat", description="how the discriminator sees the label: class maps appended as "
        "channels, or a projection head")
    loss: Literal["bce", "bce-saturating", "hinge", "lsgan", "wasserstein"] = Field(
        "bce", description="adversarial loss; bce uses the non-saturating generator loss")
    real_label: float = Field(1.0, gt=0, le=1, description="target for real images in bce "
                              "(0.9 = one-sided label smoothing)")
    n_critic: int = Field(1, ge=1, description="discriminator updates per generator update")
    clip: float | None = Field(None, gt=0, description="clip critic weights to [-c, c] after "
                               "each update (WGAN)")
    gp_weight: float = Field(0.0, ge=0, description="gradient penalty weight lambda (WGAN-GP: 10)")
    optimizer: Literal["adam", "rmsprop"] = Field("adam", description="optimiser of both nets")
    lr_g: float = Field(2e-4, gt=0, description="generator learning rate")
    lr_d: float = Field(2e-4, gt=0, description="discriminator learning rate")
    betas: tuple[float, float] = Field((0.5, 0.999), description="Adam betas")


class VAEConfig(Section):
    name: Literal["vae"] = Field("vae", description="training method")
    latent: Literal["vector", "spatial"] = Field(
        "vector", description="a z vector (sampling, interpolation) or a C x h x w latent map "
        "(the autoencoder of latent diffusion)")
    z_dim: int = Field(32, ge=1, description="size of z (latent=vector)")
    z_channels: int = Field(4, ge=1, description="channels of the latent map (latent=spatial)")
    width: int = Field(32, ge=4, description="channels of the first encoder layer (doubling "
                       "at each downsampling)")
    downsamples: int = Field(2, ge=1, le=5, description="stride-2 stages: the latent map is "
                             "image_size / 2^downsamples on a side")
    beta: float = Field(1.0, ge=0, description="weight of the KL term (beta-VAE)")
    recon: Literal["mse", "l1"] = Field("mse", description="reconstruction loss, summed over "
                                        "pixels")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")


class DDPMConfig(Section):
    name: Literal["ddpm"] = Field("ddpm", description="training method")
    channels: tuple[int, ...] = Field((32, 64, 64), min_length=1, description="UNet block "
                                      "widths; every block but the last halves the resolution")
    attention: tuple[bool, ...] = Field((False, True, True), min_length=1, description="self-"
                                        "attention in each block (same length as channels)")
    layers_per_block: int = Field(2, ge=1, description="ResNet layers per UNet block")
    norm_groups: int = Field(8, ge=1, description="GroupNorm groups (divides every width)")
    unet: dict[str, Any] | None = Field(None, description="raw diffusers UNet2DModel config "
                                        "(overrides the fields above; set by --unet folders)")
    conditional: bool = Field(False, description="condition on the class label (with label "
                              "dropout, so classifier-free guidance works)")
    p_uncond: float = Field(0.1, ge=0, lt=1, description="probability of dropping the label "
                            "in training (conditional only)")
    timesteps: int = Field(1000, ge=2, description="diffusion steps T in training")
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2"] = Field(
        "linear", description="noise schedule (diffusers names)")
    beta_start: float = Field(1e-4, gt=0, description="first beta (linear schedules)")
    beta_end: float = Field(0.02, gt=0, description="last beta (linear schedules)")
    prediction_type: Literal["epsilon", "v_prediction"] = Field(
        "epsilon", description="what the UNet predicts: the noise (Ho et al.) or v = sqrt(a) "
        "eps - sqrt(1 - a) x0 (Salimans & Ho 2022), which learns the clean image at high noise "
        "far sooner; samplers always see the noise it implies")
    clip_sample: bool = Field(True, description="clip predicted clean images to [-1, 1] when "
                              "sampling")
    lr: float = Field(1e-3, gt=0, description="AdamW learning rate")
    warmup: int = Field(200, ge=0, description="steps of linear learning-rate warm-up")
    sampler: Literal["ddpm", "ddim", "dpm"] = Field("ddim", description="default sampler")
    sample_steps: int = Field(50, ge=1, description="default sampling steps")
    eta: float = Field(0.0, ge=0, description="DDIM eta (0: deterministic)")
    cfg: float = Field(3.0, ge=0, description="default classifier-free guidance scale "
                       "(conditional only; 1 = plain conditional)")


class LDMConfig(DDPMConfig):
    name: Literal["ldm"] = Field("ldm", description="training method")  # type: ignore[assignment]
    vae_run: str | None = Field(None, description="run folder of the frozen genlab VAE "
                                "(latent=spatial) whose latents the UNet learns")
    vae: VAEConfig | None = Field(None, description="that VAE's config (filled from vae_run; "
                                  "kept so the run samples without the VAE folder)")
    clip_sample: bool = Field(False, description="latents are not bounded: no clipping")
    channels: tuple[int, ...] = Field((64, 128), min_length=1, description="UNet block widths")
    attention: tuple[bool, ...] = Field((False, True), min_length=1, description="self-"
                                        "attention in each block")


class VQGANConfig(Section):
    name: Literal["vqgan"] = Field("vqgan", description="training method")
    ch: int = Field(64, ge=1, description="channels of the first level (times ch_mult per level)")
    ch_mult: tuple[int, ...] = Field((1, 2, 2), min_length=1, description="width multiplier "
                                     "per level; each level but the last halves the side")
    num_res_blocks: int = Field(1, ge=1, description="ResNet blocks per encoder level (the "
                                "decoder has one more)")
    attn_resolutions: tuple[int, ...] = Field((), description="feature-map sides with "
                                              "self-attention (besides the middle block)")
    z_channels: int = Field(64, ge=1, description="channels of the encoder output")
    embed_dim: int = Field(32, ge=1, description="size of each codebook vector")
    n_embed: int = Field(512, ge=2, description="codebook size")
    norm_groups: int = Field(8, ge=1, description="GroupNorm groups (divides every width)")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout in the ResNet blocks")
    beta: float = Field(0.25, ge=0, description="commitment loss weight")
    codebook_weight: float = Field(1.0, ge=0, description="weight of codebook + commitment loss")
    l2_weight: float = Field(0.0, ge=0, description="weight of a squared-error term beside the "
                             "L1 loss (L1 alone stalls on flat colours: see configs/vqgan-shapes)")
    perceptual_weight: float = Field(0.0, ge=0, description="weight of the perceptual loss in "
                                     "the feature space of the data's judge (0: off; >0 trains "
                                     "or reuses the judge before training)")
    disc_start: int = Field(2000, ge=0, description="step at which the adversarial loss starts")
    disc_weight: float = Field(0.8, ge=0, description="adversarial loss weight (times the "
                               "adaptive weight when adaptive_weight)")
    adaptive_weight: bool = Field(True, description="scale the adversarial loss by "
                                  "|grad rec| / |grad gan| at the decoder's last layer (taming)")
    disc_layers: int = Field(2, ge=1, description="stride-2 layers of the PatchGAN")
    disc_width: int = Field(64, ge=4, description="channels of the PatchGAN's first layer")
    disc_norm: Literal["batch", "none"] = Field("batch", description="PatchGAN normalisation")
    dead_code_steps: int = Field(200, ge=0, description="re-initialise codes unused for this "
                                 "many steps to encoder outputs (0: never)")
    lr: float = Field(5e-4, gt=0, description="Adam learning rate of the autoencoder")
    lr_disc: float = Field(5e-4, gt=0, description="Adam learning rate of the discriminator")
    betas: tuple[float, float] = Field((0.5, 0.9), description="Adam betas (taming's)")


class CLIPConfig(Section):
    name: Literal["clip"] = Field("clip", description="training method")
    model: str | None = Field(None, description="a standard open_clip architecture, e.g. "
                              "ViT-B-32-quickgelu (None: the small ViT described below)")
    pretrained: str | None = Field(None, description="local weights file for `model` (open_clip "
                                   "or OpenAI; never downloaded) to start from")
    freeze: bool = Field(False, description="train nothing: wrap the weights as they are (e.g. "
                         "pretrained ones, for evaluation and guidance)")
    embed_dim: int = Field(128, ge=1, description="size of the shared image-text embedding")
    vision_layers: int = Field(4, ge=1, description="ViT transformer layers")
    vision_width: int = Field(128, ge=8, description="ViT width")
    patch_size: int = Field(8, ge=1, description="ViT patch side in pixels (divides the image "
                            "side)")
    text_layers: int = Field(2, ge=1, description="text transformer layers")
    text_width: int = Field(128, ge=8, description="text transformer width")
    heads: int = Field(4, ge=1, description="attention heads in both towers")
    context_length: int = Field(16, ge=4, description="tokens per caption, start and end "
                                "included (longer captions are cut)")
    lr: float = Field(2e-3, gt=0, description="AdamW peak learning rate")
    weight_decay: float = Field(0.1, ge=0, description="AdamW weight decay (not on gains, "
                                "biases or the logit scale)")
    betas: tuple[float, float] = Field((0.9, 0.98), description="AdamW betas (CLIP's)")
    warmup: int = Field(100, ge=0, description="steps of linear learning-rate warm-up")
    cosine_steps: int = Field(0, ge=0, description="steps after which a cosine decay reaches "
                              "5% of lr, held after (0: constant lr; set it to train.steps)")


class TextLDMConfig(LDMConfig):
    name: Literal["text-ldm"] = Field("text-ldm", description="training method")  # type: ignore[assignment]
    clip_run: str | None = Field(None, description="run folder of the frozen genlab CLIP whose "
                                 "text tower conditions the UNet")
    clip: CLIPConfig | None = Field(None, description="that CLIP's config (filled from clip_run; "
                                    "kept so the run samples without the CLIP folder)")
    text_dropout: float = Field(0.1, ge=0, lt=1, description="probability of replacing a "
                                "caption with the empty text in training (for classifier-free "
                                "guidance)")
    heads: int = Field(4, ge=1, description="attention heads of the UNet's self- and "
                       "cross-attention (divides every width)")
    prompts: list[str] = Field(default_factory=list, description="captions the sample grids "
                               "show, one per column (empty: the first 8 distinct training "
                               "captions, filled in when training starts)")


MethodConfig = Annotated[GANConfig | VAEConfig | DDPMConfig | LDMConfig | VQGANConfig
                         | CLIPConfig | TextLDMConfig, Field(discriminator="name")]

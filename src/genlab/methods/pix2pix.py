"""Pix2Pix (Isola et al. 2017): a U-Net maps each input image to its paired target, trained by
a conditional PatchGAN that judges (input, output) pairs plus lambda * L1 to the target.

The ablation of the paper's Table 1 is two config values: `gan_weight=0` is L1 alone (no
discriminator update at all), `l1_weight=0` the conditional GAN alone.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor

from genlab.config import Section
from genlab.errors import ConfigError
from genlab.losses import translation_d_loss, translation_g_loss
from genlab.methods.base import DataInfo, StepContext, Translator, frozen
from genlab.nets.patchgan import PatchDiscriminator
from genlab.nets.translators import UNetGenerator


class Pix2PixConfig(Section):
    name: Literal["pix2pix"] = Field("pix2pix", description="training method")
    depth: int = Field(8, ge=1, description="U-Net down-sampling steps; the image side must be "
                       "divisible by 2^depth (paper: 8 at 256 px, a 1x1 bottleneck)")
    width: int = Field(64, ge=4, description="channels of the U-Net's first layer (ngf)")
    norm: Literal["batch", "instance"] = Field("batch", description="U-Net normalisation")
    dropout: float = Field(0.5, ge=0, lt=1, description="dropout in the decoder blocks nearest "
                           "the bottleneck: the generator's only noise (active in training)")
    dropout_blocks: int = Field(3, ge=0, description="how many decoder blocks, from the "
                                "bottleneck up, have dropout (paper: 3)")
    d_width: int = Field(64, ge=4, description="channels of the PatchGAN's first layer (ndf)")
    d_layers: int = Field(3, ge=1, description="stride-2 layers of the PatchGAN (3: 70x70 "
                          "patches, the paper's)")
    d_norm: Literal["batch", "instance", "none"] = Field("batch", description="PatchGAN "
                                                         "normalisation")
    loss: Literal["bce", "lsgan"] = Field("bce", description="adversarial loss: bce (the "
                                          "paper's vanilla GAN) or lsgan (least squares)")
    gan_weight: float = Field(1.0, ge=0, description="weight of the conditional GAN loss "
                              "(0: L1 alone, the discriminator is never updated)")
    l1_weight: float = Field(100.0, ge=0, description="lambda, weight of the L1 loss to the "
                             "target (0: the GAN alone)")
    lr: float = Field(2e-4, gt=0, description="Adam learning rate of both nets")
    betas: tuple[float, float] = Field((0.5, 0.999), description="Adam betas")


class Pix2Pix(Translator):
    name = "pix2pix"
    Config = Pix2PixConfig
    tiny = {"depth": 2, "width": 8, "d_width": 8, "d_layers": 2}
    tiny_data = {"pairs": "labels"}
    ema_nets = ()  # the paper keeps none

    def __init__(self, cfg: Pix2PixConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        self.check_same_side(info)
        side = info.image_size
        if side % 2**cfg.depth:
            fits = (side & -side).bit_length() - 1  # the largest depth dividing the side
            raise ConfigError(f"method.depth={cfg.depth}: the image side {side} is not "
                              f"divisible by 2^{cfg.depth}; set method.depth to at most {fits}")
        if PatchDiscriminator.output_side(side, cfg.d_layers) < 1:
            raise ConfigError(f"method.d_layers={cfg.d_layers} is too deep for {side} px "
                              "images: lower it")
        c_in = info.input_channels or info.channels
        self.nets["G"] = UNetGenerator(c_in, info.channels, cfg.depth, cfg.width, cfg.norm,
                                       cfg.dropout, cfg.dropout_blocks)
        # the conditional discriminator sees the input beside the real or generated image
        self.nets["D"] = PatchDiscriminator(c_in + info.channels, cfg.d_width, cfg.d_layers,
                                            cfg.d_norm)
        self.optimizers = {k: torch.optim.Adam(self.nets[k].parameters(), lr=cfg.lr,
                                               betas=cfg.betas) for k in ("G", "D")}

    def train_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        cfg, G, D = self.cfg, self.nets["G"], self.nets["D"]
        x, real = batch["input"], batch["image"]
        fake = G(x)
        logs: dict[str, Tensor] = {}
        if cfg.gan_weight > 0:
            real_logits = D(torch.cat([x, real], 1))
            fake_logits = D(torch.cat([x, fake.detach()], 1))
            d_loss = translation_d_loss(cfg.loss, real_logits, fake_logits)
            ctx.update("D", d_loss)
            logs.update(loss_d=d_loss.detach(), d_real=real_logits.detach().float().mean(),
                        d_fake=fake_logits.detach().float().mean())
        l1 = (fake.float() - real.float()).abs().mean()
        loss = cfg.l1_weight * l1 if cfg.l1_weight > 0 else torch.zeros((), device=l1.device)
        if cfg.gan_weight > 0:
            with frozen(D):
                gan = translation_g_loss(cfg.loss, D(torch.cat([x, fake], 1)))
            loss = loss + cfg.gan_weight * gan
            logs["gan"] = gan.detach()
        ctx.update("G", loss)
        logs.update(loss_g=loss.detach(), l1=l1.detach())
        return logs

    def translate(self, inputs: Tensor, direction: str = "AtoB") -> Tensor:
        """G(inputs); in eval mode (as the engine and `load_run` call it) dropout is off, so
        the same input gives the same output."""
        if direction != "AtoB":
            raise ConfigError(f"a pix2pix run translates AtoB only, not {direction}")
        return self.nets["G"](inputs).clamp(-1, 1)


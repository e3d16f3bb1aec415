"""The GAN family in one method: fully connected GAN, DCGAN, WGAN and WGAN-GP, conditional or
not. A variant is a config (nets, loss, n_critic, clipping, penalty), not a new file."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor

from genlab.config import Section
from genlab.errors import ConfigError
from genlab.losses import discriminator_loss, generator_loss, gradient_penalty
from genlab.methods.base import (
    DataInfo,
    Method,
    StepContext,
    conditional_classes,
    frozen,
    split_batch,
)
from genlab.nets import build_discriminator, build_generator


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


class GAN(Method):
    name = "gan"
    Config = GANConfig
    tiny = {"z_dim": 16, "g_width": 8, "d_width": 8}
    ema_nets = ("G",)

    def __init__(self, cfg: GANConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        if cfg.arch == "mlp" and cfg.d_norm == "instance":
            raise ConfigError("method.d_norm=instance needs arch=dcgan: use none, layer or batch")
        if cfg.arch == "dcgan" and cfg.d_dropout > 0:
            raise ConfigError("method.d_dropout is for arch=mlp only: set it to 0")
        if cfg.real_label < 1 and not cfg.loss.startswith("bce"):
            raise ConfigError("method.real_label (label smoothing) is for the bce losses only")
        if cfg.gp_weight > 0 and cfg.d_norm == "batch":
            raise ConfigError("a gradient penalty needs a critic without batch norm: set "
                              "method.d_norm=layer, instance or none")
        self.num_classes = conditional_classes(cfg.conditional, info)
        shape = (info.channels, info.image_size, info.image_size)
        self.nets["G"] = build_generator(cfg.arch, z_dim=cfg.z_dim, out_shape=shape,
                                         num_classes=self.num_classes, width=cfg.g_width)
        self.nets["D"] = build_discriminator(cfg.arch, in_shape=shape, num_classes=self.num_classes,
                                             width=cfg.d_width, norm=cfg.d_norm, cond=cfg.cond,
                                             dropout=cfg.d_dropout)
        self.optimizers = {name: self._optimizer(name) for name in ("G", "D")}
        self.batches_per_step = cfg.n_critic

    def _optimizer(self, name: str) -> torch.optim.Optimizer:
        params = self.nets[name].parameters()
        lr = self.cfg.lr_g if name == "G" else self.cfg.lr_d
        if self.cfg.optimizer == "rmsprop":
            return torch.optim.RMSprop(params, lr=lr)
        return torch.optim.Adam(params, lr=lr, betas=self.cfg.betas, fused=True)

    def _labels(self, batch: dict[str, Tensor]) -> Tensor | None:
        return batch["label"] if self.num_classes else None

    def train_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        cfg, G, D = self.cfg, self.nets["G"], self.nets["D"]
        parts = split_batch(batch, cfg.n_critic)
        for i, part in enumerate(parts):
            real, labels = part["image"], self._labels(part)
            # The last critic batch's fakes also train G (as in Radford et al.'s code): one G
            # forward fewer per step; G is not updated in between, so they are G's output.
            with torch.set_grad_enabled(i == len(parts) - 1):
                fake_g = G(self.sample_latents(len(real)), labels)
            fake = fake_g.detach()
            real_logits, fake_logits = D(real, labels), D(fake, labels)
            d_loss = discriminator_loss(cfg.loss, real_logits, fake_logits, cfg.real_label)
            logs = {"loss_d": d_loss.detach()}
            if cfg.gp_weight > 0:
                gp = gradient_penalty(lambda x, y=labels: D(x, y), real, fake)
                d_loss = d_loss + cfg.gp_weight * gp
                logs["gp"] = gp.detach()
            ctx.update("D", d_loss)
            if cfg.clip is not None:
                with torch.no_grad():
                    for p in D.parameters():
                        p.clamp_(-cfg.clip, cfg.clip)
        with frozen(D):
            g_loss = generator_loss(cfg.loss, D(fake_g, labels))
        ctx.update("G", g_loss)
        logs["loss_g"] = g_loss.detach()
        logs["d_real"] = real_logits.detach().float().mean()
        logs["d_fake"] = fake_logits.detach().float().mean()
        return logs

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, self.cfg.z_dim, generator=generator, device=self.device)

    def decode(self, z: Tensor, labels: Tensor | None = None, options: None = None) -> Tensor:
        return self.nets["G"](z, self.decode_labels(labels))

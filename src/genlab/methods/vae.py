"""Variational autoencoder (Kingma & Welling 2014), with beta-VAE's KL weight."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor

from genlab.config import Section
from genlab.errors import ConfigError
from genlab.losses import gaussian_kl, reconstruction_loss
from genlab.methods.base import DataInfo, Method, StepContext
from genlab.nets.vae import VAEDecoder, VAEEncoder


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


class VAE(Method):
    name = "vae"
    Config = VAEConfig
    tiny = {"width": 8, "z_dim": 8, "downsamples": 2}
    ema_nets = ("decoder",)

    def __init__(self, cfg: VAEConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        if info.image_size % 2**cfg.downsamples:
            raise ConfigError(f"image size {info.image_size} is not divisible by "
                              f"2^{cfg.downsamples}: change method.downsamples or "
                              "data.image_size")
        shape = (info.channels, info.image_size, info.image_size)
        arch = dict(width=cfg.width, downsamples=cfg.downsamples, latent=cfg.latent,
                    z_dim=cfg.z_dim, z_channels=cfg.z_channels)
        self.nets["encoder"] = VAEEncoder(shape, **arch)
        self.nets["decoder"] = VAEDecoder(shape, **arch)
        params = list(self.nets.parameters())
        self.optimizers = {"vae": torch.optim.Adam(params, lr=cfg.lr)}

    @property
    def latent_shape(self) -> tuple[int, ...]:
        if self.cfg.latent == "vector":
            return (self.cfg.z_dim,)
        side = self.info.image_size // 2**self.cfg.downsamples
        return (self.cfg.z_channels, side, side)

    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean and log-variance of images in [-1, 1]."""
        return self.nets["encoder"](images)

    def train_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        x = batch["image"]
        mean, logvar = self.encode(x)
        z = mean + (0.5 * logvar).exp() * torch.randn_like(mean)  # reparameterisation
        recon = reconstruction_loss(self.cfg.recon, self.nets["decoder"](z), x).mean()
        kl = gaussian_kl(mean, logvar).mean()
        loss = recon + self.cfg.beta * kl
        ctx.update("vae", loss)
        return {"loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach()}

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, *self.latent_shape, generator=generator, device=self.device)

    def decode(self, z: Tensor, labels: Tensor | None = None, options: None = None) -> Tensor:
        if labels is not None:
            raise ConfigError("a VAE is not conditional: drop --label")
        return self.nets["decoder"](z)

    def reconstruct(self, images: Tensor) -> Tensor:
        """Decode the posterior mean: the VAE's best guess of the input."""
        return self.decode(self.encode(images)[0])

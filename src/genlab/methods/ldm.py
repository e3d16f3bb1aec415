"""Latent diffusion (Rombach et al. 2022): the DDPM recipe on the latents of a frozen genlab
VAE (latent=spatial), decoded to images at the end."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from genlab.errors import ConfigError
from genlab.methods.base import DataInfo
from genlab.methods.diffusion import DDPM, DDPMConfig
from genlab.methods.vae import VAEConfig
from genlab.nets.vae import VAEDecoder, VAEEncoder


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


class LatentScale(nn.Module):
    """1 / std of the latents, measured on the first training batch (as Stable Diffusion's
    0.18215 was), so the UNet sees unit-variance inputs. Saved with the weights."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("scale", torch.zeros(()))


class LDM(DDPM):
    name = "ldm"
    Config = LDMConfig
    pretrained_runs = {"vae_run": "vae"}  # config field -> net filled from that run
    tiny_pretrained = {"vae_run": {"name": "vae", "latent": "spatial", "downsamples": 1,
                                   "z_channels": 4}}

    def __init__(self, cfg: LDMConfig, info: DataInfo) -> None:
        if cfg.vae is None:
            raise ConfigError("method.vae_run is required: train a VAE with "
                              "method.latent=spatial first (configs/vae-latent.yaml)")
        if cfg.vae.latent != "spatial":
            raise ConfigError("latent diffusion needs a VAE with method.latent=spatial")
        self._vae_cfg = cfg.vae
        super().__init__(cfg, info)
        shape = (info.channels, info.image_size, info.image_size)
        arch = dict(width=cfg.vae.width, downsamples=cfg.vae.downsamples, latent="spatial",
                    z_dim=cfg.vae.z_dim, z_channels=cfg.vae.z_channels)
        self.nets["vae"] = nn.ModuleDict({"encoder": VAEEncoder(shape, **arch),
                                          "decoder": VAEDecoder(shape, **arch)})
        self.nets["vae"].requires_grad_(False)
        self.nets["latent"] = LatentScale()

    def space(self) -> tuple[int, int]:
        vae = self._vae_cfg
        if self.info.image_size % 2**vae.downsamples:
            raise ConfigError(f"image size {self.info.image_size} does not fit the VAE's "
                              f"{vae.downsamples} downsamplings")
        return vae.z_channels, self.info.image_size // 2**vae.downsamples

    @property
    def _scale(self) -> Tensor:
        return self.nets["latent"].scale

    @torch.no_grad()
    def to_space(self, images: Tensor) -> Tensor:
        mean, logvar = self.nets["vae"]["encoder"](images)
        z = (mean + (0.5 * logvar).exp() * torch.randn_like(mean)).float()
        if self._scale == 0:  # first batch of a new run
            self._scale.fill_(1.0 / z.std().clamp_min(1e-6).item())
        return z * self._scale

    def from_space(self, x: Tensor) -> Tensor:
        if self._scale == 0:
            raise ConfigError("this latent diffusion model was never trained (no latent scale)")
        return self.nets["vae"]["decoder"](x / self._scale)

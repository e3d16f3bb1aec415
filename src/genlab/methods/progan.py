"""ProGAN (Karras et al. 2018): progressive growing from 4x4 to the data's side, each new level
faded in over a set number of images, with minibatch standard deviation, pixel norm, the
equalised learning rate and WGAN-GP plus a small drift term.

The schedule position (training images seen, hence level and alpha) is a buffer of the
generator: checkpoints, the EMA copy and loaded runs carry it with the weights, so a run
resumed in the middle of a fade-in continues exactly where it stopped.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from genlab.config import Section
from genlab.losses import gradient_penalty
from genlab.methods.base import (
    DataInfo,
    Method,
    StepContext,
    conditional_classes,
    frozen,
    growth_levels,
    world_size,
)
from genlab.nets.equalized import GrowthSchedule
from genlab.nets.progan import ProGANDiscriminator, ProGANGenerator


class ProGANConfig(Section):
    name: Literal["progan"] = Field("progan", description="training method")
    progressive: bool = Field(True, description="grow from 4x4 (false: train the same final "
                              "nets at full size from the start, the paper's baseline)")
    fade_images: int = Field(800_000, ge=1, description="training images over which a new "
                             "level fades in (alpha 0 -> 1)")
    stable_images: int = Field(800_000, ge=0, description="training images at each level "
                               "after its fade-in (and at 4x4 first)")
    z_dim: int = Field(512, ge=1, description="size of the noise vector z")
    g_width: int = Field(16, ge=1, description="generator channels at the full side (doubling "
                         "toward 4x4 up to max_width)")
    d_width: int = Field(16, ge=1, description="discriminator channels at the full side")
    max_width: int = Field(512, ge=1, description="most channels of any level")
    conditional: bool = Field(False, description="condition both nets on the class label")
    mbstd_group: int = Field(4, ge=1, description="minibatch standard deviation group size")
    gp_weight: float = Field(10.0, ge=0, description="WGAN-GP penalty weight lambda")
    drift: float = Field(0.001, ge=0, description="drift penalty weight on D(real)^2")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate of both nets")
    betas: tuple[float, float] = Field((0.0, 0.99), description="Adam betas")


class ProGAN(Method):
    name = "progan"
    Config = ProGANConfig
    tiny = {"z_dim": 16, "g_width": 4, "d_width": 4, "max_width": 8, "fade_images": 12,
            "stable_images": 8}
    tiny_data = {"image_size": 16}
    ema_nets = ("G",)

    def __init__(self, cfg: ProGANConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        levels = growth_levels(info, self.name)
        self.num_classes = conditional_classes(cfg.conditional, info)
        shape = (info.channels, info.image_size, info.image_size)
        schedule = GrowthSchedule(levels, cfg.fade_images, cfg.stable_images, cfg.progressive)
        self.nets["G"] = ProGANGenerator(cfg.z_dim, shape, schedule, num_classes=self.num_classes,
                                         width=cfg.g_width, max_width=cfg.max_width)
        self.nets["D"] = ProGANDiscriminator(shape, num_classes=self.num_classes,
                                             width=cfg.d_width, max_width=cfg.max_width,
                                             group=cfg.mbstd_group)
        self.optimizers = {k: torch.optim.Adam(self.nets[k].parameters(), lr=cfg.lr,
                                               betas=cfg.betas, eps=1e-8) for k in ("G", "D")}

    @property
    def images_seen(self) -> int:
        return int(self.nets["G"].images_seen)

    @property
    def level_alpha(self) -> tuple[int, float]:
        return self.nets["G"].level_alpha()

    @property
    def resolution(self) -> int:
        return 4 * 2 ** self.level_alpha[0]

    def real_at_level(self, images: Tensor, level: int, alpha: float) -> Tensor:
        """Real images at the level's side, blended with the level below during a fade-in
        (as the paper does), so D compares like with like."""
        x = F.adaptive_avg_pool2d(images, 4 * 2**level) if level < self.nets["G"].levels \
            else images
        if alpha < 1 and level > 0:
            x = torch.lerp(F.interpolate(F.avg_pool2d(x, 2), scale_factor=2.0), x, alpha)
        return x

    def train_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        cfg, G, D = self.cfg, self.nets["G"], self.nets["D"]
        level, alpha = G.level_alpha()
        labels = batch["label"] if self.num_classes else None
        real = self.real_at_level(batch["image"], level, alpha)
        critic = lambda x: D(x, labels, level, alpha)  # noqa: E731
        with torch.no_grad():
            fake = G(self.sample_latents(len(real)), labels)
        real_scores, fake_scores = critic(real), critic(fake)
        wasserstein = fake_scores.mean() - real_scores.mean()
        d_loss = wasserstein + cfg.drift * real_scores.float().pow(2).mean()
        logs = {"loss_d": wasserstein.detach()}
        if cfg.gp_weight > 0:
            gp = gradient_penalty(critic, real, fake)
            d_loss = d_loss + cfg.gp_weight * gp
            logs["gp"] = gp.detach()
        ctx.update("D", d_loss)
        with frozen(D):
            g_loss = -critic(G(self.sample_latents(len(real)), labels)).mean()
        ctx.update("G", g_loss)
        G.images_seen += len(real) * world_size()
        return logs | {"loss_g": g_loss.detach(), "level": torch.tensor(float(level)),
                       "alpha": torch.tensor(alpha)}

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, self.cfg.z_dim, generator=generator, device=self.device)

    def decode(self, z: Tensor, labels: Tensor | None = None, options: None = None) -> Tensor:
        """Images at the data's side: a run still at a lower level is upsampled (nearest)."""
        images = self.nets["G"](z, self.decode_labels(labels))
        scale = self.info.image_size // images.shape[-1]
        if scale > 1:
            images = F.interpolate(images, scale_factor=float(scale))
        return images.clamp(-1, 1)

"""StyleGAN (Karras et al. 2019; StyleGAN2's modulation/demodulation, Karras et al. 2020): a
mapping network z -> w, per-layer styles and noise, style-mixing regularisation, truncation in
W toward w_avg, the non-saturating loss with lazy R1. The discriminator is ProGAN's at its
full side (no growing: StyleGAN2 trains at full size).

Latents are z [N, z_dim]; `decode` also takes per-layer styles ws [N, num_ws, w_dim], which is
what `truncate` (in W), `walk_latents` (interpolation in W) and style mixing hand it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from genlab.config import Section
from genlab.errors import ConfigError
from genlab.methods.base import (
    DataInfo,
    Method,
    StepContext,
    conditional_classes,
    frozen,
    growth_levels,
)
from genlab.nets.progan import ProGANDiscriminator
from genlab.nets.stylegan import StyleGenerator
from genlab.sampling import check_truncation


@dataclass(frozen=True)
class StyleOptions:
    """How `decode` draws the per-layer noise: the net's fixed noise images ("const", the
    default: an image depends on its latent only) or fresh noise from `noise_seed` ("random":
    the same w with new stochastic detail)."""

    noise: Literal["const", "random"] = "const"
    noise_seed: int = 0


class StyleGANConfig(Section):
    name: Literal["stylegan"] = Field("stylegan", description="training method")
    z_dim: int = Field(512, ge=1, description="size of the noise vector z")
    w_dim: int = Field(512, ge=1, description="size of the intermediate latent w")
    mapping_layers: int = Field(8, ge=1, description="dense layers of the mapping network")
    g_width: int = Field(16, ge=1, description="synthesis channels at the full side (doubling "
                         "toward 4x4 up to max_width)")
    d_width: int = Field(16, ge=1, description="discriminator channels at the full side")
    max_width: int = Field(512, ge=1, description="most channels of any level")
    conditional: bool = Field(False, description="condition both nets on the class label")
    mixing_prob: float = Field(0.9, ge=0, le=1, description="share of batches whose styles "
                               "switch to a second latent at a random layer (0: no mixing)")
    r1_gamma: float = Field(10.0, ge=0, description="R1 penalty weight gamma on real images")
    r1_every: int = Field(16, ge=1, description="lazy regularisation: R1 every this many steps")
    w_avg_decay: float = Field(0.995, ge=0, lt=1, description="decay of w_avg, the running mean "
                               "of w that truncation pulls toward")
    mbstd_group: int = Field(4, ge=1, description="minibatch standard deviation group size")
    lr: float = Field(2e-3, gt=0, description="Adam learning rate of both nets")
    betas: tuple[float, float] = Field((0.0, 0.99), description="Adam betas")


class StyleGAN(Method):
    name = "stylegan"
    Config = StyleGANConfig
    tiny = {"z_dim": 8, "w_dim": 8, "mapping_layers": 2, "g_width": 4, "d_width": 4,
            "max_width": 8, "r1_every": 2}
    tiny_data = {"image_size": 16}
    ema_nets = ("G",)

    def __init__(self, cfg: StyleGANConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        growth_levels(info, self.name)
        self.num_classes = conditional_classes(cfg.conditional, info)
        shape = (info.channels, info.image_size, info.image_size)
        self.nets["G"] = StyleGenerator(cfg.z_dim, cfg.w_dim, shape, num_classes=self.num_classes,
                                        mapping_layers=cfg.mapping_layers, width=cfg.g_width,
                                        max_width=cfg.max_width, w_avg_decay=cfg.w_avg_decay)
        self.nets["D"] = ProGANDiscriminator(shape, num_classes=self.num_classes,
                                             width=cfg.d_width, max_width=cfg.max_width,
                                             group=cfg.mbstd_group)
        # Lazy R1 every k steps: scale lr and betas so Adam's effective step is unchanged.
        c = cfg.r1_every / (cfg.r1_every + 1) if cfg.r1_gamma > 0 else 1.0
        self.optimizers = {
            "G": torch.optim.Adam(self.nets["G"].parameters(), lr=cfg.lr, betas=cfg.betas),
            "D": torch.optim.Adam(self.nets["D"].parameters(), lr=cfg.lr * c,
                                  betas=(cfg.betas[0] ** c, cfg.betas[1] ** c))}
        self.steps = 0  # for the lazy R1 (in extra_state, so resume keeps its phase)

    @property
    def num_ws(self) -> int:
        return self.nets["G"].num_ws

    def style_groups(self) -> dict[str, tuple[int, int]]:
        """Ranges of ws indices: coarse (4x4 and 8x8), middle, fine (the full side's level)."""
        n = self.num_ws
        coarse = min(4, n - 2)
        fine = max(coarse, n - 2)
        return {"coarse": (0, coarse), "middle": (coarse, fine), "fine": (fine, n)}

    def to_ws(self, z: Tensor, labels: Tensor | None = None, psi: float = 1.0) -> Tensor:
        """Per-layer styles [N, num_ws, w_dim] of latents z, truncated toward w_avg by psi."""
        return self.nets["G"].to_ws(z, self.decode_labels(labels), psi)

    def truncate(self, z: Tensor, psi: float, labels: Tensor | None = None) -> Tensor:
        """Truncation in W (where the paper made it): styles pulled toward w_avg."""
        check_truncation(psi, self.truncatable, self.name)
        return z if psi == 1 else self.to_ws(z, labels, psi)

    def walk_latents(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.to_ws(z, labels)

    def _mixed_styles(self, n: int, labels: Tensor | None) -> Tensor:
        """Styles of fresh latents; with mixing_prob, the layers from a random cutoff on take
        a second latent's styles (style-mixing regularisation)."""
        G = self.nets["G"]
        ws = G.to_ws(self.sample_latents(n), labels)
        if self.cfg.mixing_prob > 0 and float(torch.rand(())) < self.cfg.mixing_prob:
            cutoff = int(torch.randint(1, self.num_ws, ()))
            second = G.to_ws(self.sample_latents(n), labels)
            ws = torch.cat([ws[:, :cutoff], second[:, cutoff:]], dim=1)
        return ws

    def train_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        cfg, G, D = self.cfg, self.nets["G"], self.nets["D"]
        labels = batch["label"] if self.num_classes else None
        real = batch["image"]
        with torch.no_grad():
            fake = G.synthesis(self._mixed_styles(len(real), labels))
        r1_step = cfg.r1_gamma > 0 and self.steps % cfg.r1_every == 0
        if r1_step:
            real = real.detach().requires_grad_(True)
        real_logits, fake_logits = D(real, labels), D(fake, labels)
        d_loss = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
        logs = {"loss_d": d_loss.detach()}
        if r1_step:  # R1: the squared gradient norm of D on real images, every r1_every steps
            (grad,) = torch.autograd.grad(real_logits.float().sum(), real, create_graph=True)
            r1 = grad.float().pow(2).flatten(1).sum(1).mean()
            d_loss = d_loss + cfg.r1_gamma / 2 * r1 * cfg.r1_every
            logs["r1"] = r1.detach()
        ctx.update("D", d_loss)
        with frozen(D):
            fake_logits = D(G.synthesis(self._mixed_styles(len(real), labels)), labels)
            g_loss = F.softplus(-fake_logits).mean()
        ctx.update("G", g_loss)
        self.steps += 1
        return logs | {"loss_g": g_loss.detach(), "d_real": real_logits.detach().float().mean(),
                       "d_fake": fake_logits.detach().float().mean()}

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, self.cfg.z_dim, generator=generator, device=self.device)

    def decode(self, z: Tensor, labels: Tensor | None = None,
               options: StyleOptions | None = None) -> Tensor:
        """Images from latents z [N, z_dim] or styles ws [N, num_ws, w_dim] (labels unused:
        they are in the styles)."""
        options = options or StyleOptions()
        if not isinstance(options, StyleOptions):
            raise ConfigError("StyleGAN runs take no sampler options (sampler, steps, cfg, "
                              "guide): drop them")
        ws = z if z.dim() == 3 else self.to_ws(z, labels)
        noise: str | torch.Generator = "const"
        if options.noise == "random":
            noise = torch.Generator(device=ws.device).manual_seed(options.noise_seed)
        return self.nets["G"].synthesis(ws, noise).clamp(-1, 1)

    def extra_state(self) -> dict[str, Any]:
        return {"steps": self.steps}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.steps = int(state.get("steps", 0))

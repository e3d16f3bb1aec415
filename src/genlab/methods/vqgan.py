"""VQGAN (Esser et al. 2021): a vector-quantised autoencoder trained with L1 + codebook losses,
an optional perceptual loss and, after `disc_start` steps, a PatchGAN hinge loss.

Design choices:
- Perceptual loss: LPIPS needs downloaded VGG weights; genlab instead compares the conv-stage
  activations of the judge it trains on the run's own data (`losses.perceptual_distance`). The
  engine fills the frozen `perceptual` net with the judge's weights before a new run
  (`judge_net`), so this method touches no files and the run stays self-contained: resume and
  `load_run` read the judge from the run's checkpoint.
- Adversarial weight: taming's adaptive weight |grad rec| / |grad gan| at the decoder's last
  layer (times disc_weight) keeps the GAN term on the scale of the reconstruction whatever
  the data; `adaptive_weight=false` uses disc_weight alone.
- Dead codes: a code no batch has used for `dead_code_steps` steps moves onto a random encoder
  output of the current batch. Ages and the step count are `extra_state`, so resume is exact.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.distributed as dist
from pydantic import Field
from torch import Tensor

from genlab.config import Section
from genlab.errors import ConfigError
from genlab.losses import discriminator_loss, generator_loss, perceptual_distance
from genlab.methods.base import DataInfo, Method, StepContext, frozen
from genlab.nets.judge import JudgeNet
from genlab.nets.patchgan import PatchDiscriminator
from genlab.nets.vqgan import VQGAN as VQGANNet


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


def _check(cfg: VQGANConfig, info: DataInfo) -> None:
    factor = 2 ** (len(cfg.ch_mult) - 1)
    if info.image_size % factor:
        raise ConfigError(f"image size {info.image_size} is not divisible by {factor} "
                          f"(2^(levels-1)): change method.ch_mult or data.image_size")
    widths = {cfg.ch * m for m in cfg.ch_mult} | {cfg.z_channels}
    if any(w % cfg.norm_groups for w in widths):
        raise ConfigError(f"method.norm_groups={cfg.norm_groups} does not divide every width "
                          f"{sorted(widths)}: pick a divisor")
    if PatchDiscriminator.output_side(info.image_size, cfg.disc_layers) < 1:
        raise ConfigError(f"method.disc_layers={cfg.disc_layers} is too deep for "
                          f"{info.image_size}px images: lower it")
    if cfg.perceptual_weight > 0 and info.num_classes < 2:
        raise ConfigError("method.perceptual_weight > 0 needs a labelled dataset (its judge "
                          "gives the features): set method.perceptual_weight=0")



class VQGAN(Method):
    name = "vqgan"
    Config = VQGANConfig
    tiny = {"ch": 8, "ch_mult": [1, 2], "z_channels": 8, "embed_dim": 4, "n_embed": 32,
            "norm_groups": 4, "disc_width": 8, "disc_layers": 2}
    ema_nets = ()  # no EMA: the codebook and dead-code revival act on the live weights
    soft_labels = False
    truncatable = False

    def __init__(self, cfg: VQGANConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        _check(cfg, info)
        self.nets["ae"] = VQGANNet(
            ch=cfg.ch, ch_mult=cfg.ch_mult, num_res_blocks=cfg.num_res_blocks,
            attn_resolutions=cfg.attn_resolutions, resolution=info.image_size,
            z_channels=cfg.z_channels, embed_dim=cfg.embed_dim, n_embed=cfg.n_embed,
            in_channels=info.channels, out_channels=info.channels,
            norm_groups=cfg.norm_groups, dropout=cfg.dropout, beta=cfg.beta)
        self.nets["disc"] = PatchDiscriminator(info.channels, cfg.disc_width, cfg.disc_layers,
                                               cfg.disc_norm)
        if cfg.perceptual_weight > 0:  # weights: the judge's (engine) or the checkpoint's
            judge = JudgeNet(info.channels, info.image_size, info.num_classes)
            self.nets["perceptual"] = judge.eval().requires_grad_(False)
        self.optimizers = {
            "ae": torch.optim.Adam(self.nets["ae"].parameters(), lr=cfg.lr, betas=cfg.betas),
            "disc": torch.optim.Adam(self.nets["disc"].parameters(), lr=cfg.lr_disc,
                                     betas=cfg.betas)}
        self.steps_done = 0
        self.code_age = torch.zeros(cfg.n_embed, dtype=torch.long)  # steps since last use

    @classmethod
    def judge_net(cls, cfg: VQGANConfig) -> str | None:
        return "perceptual" if cfg.perceptual_weight > 0 else None

    @property
    def ae(self) -> VQGANNet:
        return self.nets["ae"]  # type: ignore[return-value]

    @property
    def latent_side(self) -> int:
        return self.info.image_size // self.ae.factor

    # ----- training --------------------------------------------------------------------
    def train_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        cfg, ae, disc = self.cfg, self.ae, self.nets["disc"]
        x = batch["image"]
        z = ae.encode_continuous(x)
        z_q, q_loss, indices = ae.quantize(z)
        recon = ae.decode(z_q)
        error = recon.float() - x.float()
        rec = error.abs().mean()
        nll = rec
        logs = {"rec": rec.detach(), "codebook": q_loss.detach()}
        if cfg.l2_weight > 0:
            l2 = error.pow(2).mean()
            nll = nll + cfg.l2_weight * l2
            logs["l2"] = l2.detach()
        if cfg.perceptual_weight > 0:
            judge = self.nets["perceptual"].eval()  # the engine sets train mode: keep BN frozen
            with torch.no_grad():
                target = judge.stage_features(x)
            p_loss = perceptual_distance(judge.stage_features(recon), target).mean()
            nll = nll + cfg.perceptual_weight * p_loss
            logs["perceptual"] = p_loss.detach()
        loss = nll + cfg.codebook_weight * q_loss
        gan_on = self.steps_done >= cfg.disc_start
        if gan_on:
            with frozen(disc):
                g_loss = generator_loss("hinge", disc(recon))
            weight = cfg.disc_weight * (self._adaptive_weight(nll, g_loss)
                                        if cfg.adaptive_weight else 1.0)
            loss = loss + weight * g_loss
            logs.update(g_loss=g_loss.detach(), disc_weight=torch.as_tensor(weight).detach())
        ctx.update("ae", loss)
        if gan_on:
            real, fake = disc(x), disc(recon.detach())
            d_loss = discriminator_loss("hinge", real, fake)
            ctx.update("disc", d_loss)
            logs.update(d_loss=d_loss.detach(), d_real=real.detach().float().mean(),
                        d_fake=fake.detach().float().mean())
        logs.update(self._track_codes(z.detach(), indices))
        self.steps_done += 1
        logs["loss"] = loss.detach()
        return logs

    def _adaptive_weight(self, nll: Tensor, g_loss: Tensor) -> Tensor:
        """taming: |d nll / d w| / |d g_loss / d w| at the decoder's last weight w, clamped."""
        last = self.ae.last_layer
        (nll_grad,) = torch.autograd.grad(nll, last, retain_graph=True)
        (g_grad,) = torch.autograd.grad(g_loss, last, retain_graph=True)
        return (nll_grad.norm() / (g_grad.norm() + 1e-4)).clamp(0.0, 1e4).detach()

    @torch.no_grad()
    def _track_codes(self, z: Tensor, indices: Tensor) -> dict[str, Tensor]:
        """Batch code usage and perplexity; revive codes unused for dead_code_steps steps."""
        n = self.cfg.n_embed
        counts = torch.bincount(indices.flatten(), minlength=n).float()
        distributed = dist.is_available() and dist.is_initialized()
        if distributed:  # every rank must age (and revive) the same codes
            dist.all_reduce(counts)
        p = counts / counts.sum()
        perplexity = torch.exp(-(p * p.clamp_min(1e-10).log()).sum())
        self.code_age = self.code_age.to(counts.device)
        self.code_age = torch.where(counts > 0, 0, self.code_age + 1)
        logs = {"code_usage": (counts > 0).float().mean(), "perplexity": perplexity}
        if self.cfg.dead_code_steps > 0:
            dead = self.code_age >= self.cfg.dead_code_steps
            if dead.any():
                flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
                self.ae.quantize.revive(dead, flat)
                if distributed:  # rank 0's batch picks the new codes
                    dist.broadcast(self.ae.quantize.embedding.weight.data, src=0)
                self.code_age[dead] = 0
            logs["revived"] = dead.sum().float()
        return logs

    def extra_state(self) -> dict[str, Any]:
        return {"steps_done": self.steps_done, "code_age": self.code_age.cpu().clone()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.steps_done = int(state.get("steps_done", 0))
        if "code_age" in state:
            self.code_age = state["code_age"].to(self.device)

    # ----- sampling ----------------------------------------------------------------------
    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Quantised latents of a grid of uniformly random codes (an unconditional VQGAN has no
        prior over codes: these decode to texture soup; reconstructions show the quality)."""
        side = self.latent_side
        codes = torch.randint(self.cfg.n_embed, (n, side, side), generator=generator,
                              device=self.device)
        return self.ae.quantize.embed(codes)

    def decode(self, z: Tensor, labels: Tensor | None = None, options: None = None) -> Tensor:
        """Quantised latents [N, embed_dim, h, w] (or integer codes [N, h, w]) -> images."""
        if labels is not None:
            raise ConfigError("a VQGAN is not conditional: drop --label")
        if not z.is_floating_point():
            return self.ae.decode_indices(z).clamp(-1, 1)
        return self.ae.decode(z).clamp(-1, 1)

    def reconstruct(self, images: Tensor) -> Tensor:
        """Encode, snap to the codebook and decode: what the VQGAN keeps of the images."""
        return self.ae(images)[0].clamp(-1, 1)

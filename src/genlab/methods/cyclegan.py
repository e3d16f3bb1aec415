"""CycleGAN (Zhu et al. 2017): two generators G_AB: A -> B and G_BA: B -> A learnt from unpaired
images of two domains, each judged by a PatchGAN of its target domain (D_B judges G_AB's
outputs, D_A G_BA's; the reference code calls them D_A and D_B the other way round), with
least-squares GAN losses, cycle consistency (A -> B -> A and B -> A -> B in L1, weight 10) and
the identity loss (G_AB(b) ~ b, weight 0.5 x cycle weight). The discriminators see fakes drawn
from a history pool of 50 earlier outputs (Shrivastava et al. 2017); the learning rate stays
at lr, then decays linearly to 0.

Batches: `input` holds domain-A images, `image` domain-B images; paired data works too (the
pairing is ignored).
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

import torch
import torch.distributed as dist
from pydantic import Field
from torch import Tensor

from genlab.config import Section
from genlab.errors import ConfigError
from genlab.losses import translation_d_loss, translation_g_loss
from genlab.methods.base import DataInfo, StepContext, Translator, frozen
from genlab.nets.patchgan import PatchDiscriminator
from genlab.nets.translators import ResnetGenerator


class CycleGANConfig(Section):
    name: Literal["cyclegan"] = Field("cyclegan", description="training method")
    blocks: int = Field(6, ge=0, description="ResNet blocks per generator (paper: 6 at 128 px, "
                        "9 at 256)")
    width: int = Field(64, ge=4, description="channels of the generators' first layer (ngf)")
    downsample: int = Field(2, ge=0, description="stride-2 convs before the ResNet blocks; "
                            "the image side must be divisible by 2^downsample")
    norm: Literal["instance", "batch"] = Field("instance", description="generator "
                                               "normalisation")
    d_width: int = Field(64, ge=4, description="channels of the PatchGANs' first layer (ndf)")
    d_layers: int = Field(3, ge=1, description="stride-2 layers of the PatchGANs (3: 70x70 "
                          "patches, the paper's)")
    d_norm: Literal["instance", "batch", "none"] = Field("instance", description="PatchGAN "
                                                         "normalisation")
    loss: Literal["lsgan", "bce"] = Field("lsgan", description="adversarial loss (paper: least "
                                          "squares)")
    cycle_weight: float = Field(10.0, ge=0, description="lambda, weight of each cycle loss "
                                "(0: the GAN alone)")
    identity_weight: float = Field(0.5, ge=0, description="identity loss weight as a fraction "
                                   "of cycle_weight (so 0 when either is 0); needs equal "
                                   "channels in both domains")
    pool_size: int = Field(50, ge=0, description="generated images kept per discriminator in "
                           "the history pool (0: the discriminators see only the newest)")
    lr: float = Field(2e-4, gt=0, description="Adam learning rate of all four nets")
    betas: tuple[float, float] = Field((0.5, 0.999), description="Adam betas")
    decay_start: int = Field(100_000, ge=0, description="training steps at lr before the "
                             "linear decay (paper: 100 epochs, ~100k steps of batch 1)")
    decay_steps: int = Field(100_000, ge=0, description="steps over which lr decays linearly "
                             "to 0 (paper: 100 epochs; 0: no decay)")


def lr_factor(step: int, decay_start: int, decay_steps: int) -> float:
    """The learning-rate multiplier of update number `step` (0-based): 1 until `decay_start`,
    then down by 1/decay_steps per step, 0 from decay_start + decay_steps on."""
    if decay_steps <= 0 or step <= decay_start:
        return 1.0
    return max(0.0, 1.0 - (step - decay_start) / decay_steps)


class HistoryPool:
    """A buffer of earlier generated images (the reference's ImagePool). `query` returns one
    image per given image: while the pool fills, the image itself (and it is stored); once
    full, with probability 1/2 a stored image chosen at random, which the new one replaces, else
    the new image. Random choices come from its own generator, saved with its contents, so
    resume is exact and every process of a DDP run makes the same ones."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.images: Tensor | None = None  # [count, C, H, W]
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return 0 if self.images is None else len(self.images)

    @torch.no_grad()
    def query(self, images: Tensor) -> Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach().float():
            if len(self) < self.size:
                image = image.clone()
                self.images = image[None] if self.images is None else torch.cat(
                    [self.images, image[None].to(self.images.device)])
                out.append(image)
                continue
            assert self.images is not None
            swap = torch.rand((), generator=self.generator).item() > 0.5
            slot = int(torch.randint(self.size, (), generator=self.generator))
            if swap:
                old = self.images[slot].clone()
                self.images[slot] = image.to(self.images.device)
                out.append(old.to(image.device))
            else:
                out.append(image)
        return torch.stack(out).to(images.dtype)

    def state(self) -> dict[str, Any]:
        images = self.images.cpu().clone() if self.images is not None else torch.zeros(0)
        return {"images": images, "generator": self.generator.get_state()}

    def load_state(self, state: dict[str, Any], device: torch.device) -> None:
        images = state["images"]
        self.images = images.to(device) if len(images) else None
        self.generator.set_state(state["generator"])


def _gather(x: Tensor) -> tuple[Tensor, slice]:
    """Every process's batch, concatenated in rank order, and where this one's lies: the pools
    then see what a one-process run with the whole batch would see, and stay identical."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x, slice(None)
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    rank = dist.get_rank()
    return torch.cat(parts), slice(rank * len(x), (rank + 1) * len(x))


class CycleGAN(Translator):
    name = "cyclegan"
    Config = CycleGANConfig
    tiny = {"blocks": 1, "width": 8, "d_width": 8, "d_layers": 2, "pool_size": 20}
    tiny_data = {"pairs": "unaligned", "domains": ["circle", "square"]}
    ema_nets = ()  # the paper keeps none
    directions = ("AtoB", "BtoA")
    needs_inputs = "any"

    def __init__(self, cfg: CycleGANConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        side = info.image_size
        self.check_same_side(info)
        if side % 2**cfg.downsample:
            raise ConfigError(f"method.downsample={cfg.downsample}: the image side {side} is "
                              f"not divisible by 2^{cfg.downsample}; lower it")
        if PatchDiscriminator.output_side(side, cfg.d_layers) < 1:
            raise ConfigError(f"method.d_layers={cfg.d_layers} is too deep for {side} px "
                              "images: lower it")
        c_a, c_b = info.input_channels or info.channels, info.channels
        self.identity_weight = cfg.cycle_weight * cfg.identity_weight  # as the reference
        if self.identity_weight > 0 and c_a != c_b:
            raise ConfigError(f"the identity loss feeds each generator its target domain, but "
                              f"domain A has {c_a} channels and B {c_b}: set "
                              "method.identity_weight=0")
        gen = dict(blocks=cfg.blocks, width=cfg.width, downsample=cfg.downsample, norm=cfg.norm)
        self.nets["G_AB"] = ResnetGenerator(c_a, c_b, **gen)
        self.nets["G_BA"] = ResnetGenerator(c_b, c_a, **gen)
        self.nets["D_A"] = PatchDiscriminator(c_a, cfg.d_width, cfg.d_layers, cfg.d_norm)
        self.nets["D_B"] = PatchDiscriminator(c_b, cfg.d_width, cfg.d_layers, cfg.d_norm)
        # one optimiser for both generators, one for both discriminators (as the reference)
        self.optimizers = {
            k: torch.optim.Adam(itertools.chain(self.nets[f"{k}_{a}"].parameters(),
                                                self.nets[f"{k}_{b}"].parameters()),
                                lr=cfg.lr, betas=cfg.betas)
            for k, a, b in (("G", "AB", "BA"), ("D", "A", "B"))}
        # seeds from the global RNG, which runs.train seeds alike on every process
        seeds = torch.randint(2**62, (2,)).tolist()
        self.pools = {"A": HistoryPool(cfg.pool_size, seeds[0]),
                      "B": HistoryPool(cfg.pool_size, seeds[1])}
        self.steps_done = 0

    # ----- training --------------------------------------------------------------------
    def _set_lr(self) -> float:
        """The scheduled lr of this step, written into the param groups (saved with them)."""
        cfg = self.cfg
        lr = cfg.lr * lr_factor(self.steps_done, cfg.decay_start, cfg.decay_steps)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = lr
        return lr

    def train_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        cfg, n = self.cfg, self.nets
        lr = self._set_lr()
        real_a, real_b = batch["input"], batch["image"]
        D_A, D_B = n["D_A"], n["D_B"]
        fake_b, fake_a = n["G_AB"](real_a), n["G_BA"](real_b)
        logs: dict[str, Tensor] = {}
        with frozen(D_A), frozen(D_B):
            gan = (translation_g_loss(cfg.loss, D_B(fake_b))
                   + translation_g_loss(cfg.loss, D_A(fake_a)))
        loss = gan
        if cfg.cycle_weight > 0:
            cycle = _l1(n["G_BA"](fake_b), real_a) + _l1(n["G_AB"](fake_a), real_b)
            loss = loss + cfg.cycle_weight * cycle
            logs["cycle"] = cycle.detach()
        if self.identity_weight > 0:
            identity = _l1(n["G_AB"](real_b), real_b) + _l1(n["G_BA"](real_a), real_a)
            loss = loss + self.identity_weight * identity
            logs["identity"] = identity.detach()
        ctx.update("G", loss)
        pooled_b, mine = _gather(fake_b.detach().float())
        pooled_a, _ = _gather(fake_a.detach().float())
        pooled_b, pooled_a = self.pools["B"].query(pooled_b)[mine], self.pools["A"].query(
            pooled_a)[mine]
        loss_d_b = translation_d_loss(cfg.loss, D_B(real_b), D_B(pooled_b))
        loss_d_a = translation_d_loss(cfg.loss, D_A(real_a), D_A(pooled_a))
        ctx.update("D", loss_d_a + loss_d_b)
        self.steps_done += 1
        logs.update(loss_g=loss.detach(), gan=gan.detach(), loss_d=(loss_d_a + loss_d_b).detach(),
                    loss_d_a=loss_d_a.detach(), loss_d_b=loss_d_b.detach(),
                    lr=torch.tensor(lr))
        return logs

    def extra_state(self) -> dict[str, Any]:
        return {"steps_done": self.steps_done,
                "pools": {k: pool.state() for k, pool in self.pools.items()}}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.steps_done = int(state.get("steps_done", 0))
        for k, pool_state in state.get("pools", {}).items():
            self.pools[k].load_state(pool_state, self.device)

    # ----- inference ---------------------------------------------------------------------
    def translate(self, inputs: Tensor, direction: str = "AtoB") -> Tensor:
        """AtoB: G_AB(inputs), domain A to B; BtoA: G_BA(inputs), domain B to A."""
        if direction not in self.directions:
            raise ConfigError(f"direction must be AtoB or BtoA, got {direction!r}")
        return self.nets["G_AB" if direction == "AtoB" else "G_BA"](inputs).clamp(-1, 1)

    def translation_grid(self, inputs: Tensor, targets: Tensor) -> list[Tensor]:
        """Paired data: input | output | target. Unpaired data has no target: input A |
        G_AB(A) | G_BA(G_AB(A)), the reconstruction the cycle loss asks for."""
        out = self.translate(inputs)
        if self.info.paired:
            return [inputs, out, targets]
        return [inputs, out, self.translate(out, "BtoA")]


def _l1(a: Tensor, b: Tensor) -> Tensor:
    return (a.float() - b.float()).abs().mean()


"""DDPM (Ho et al. 2020): a diffusers UNet2DModel trained to predict the noise, optionally
class-conditional with label dropout (Ho & Salimans 2022) so classifier-free guidance works.
Sampling (DDPM, DDIM, DPM-Solver; guidance) is `genlab.sampling`'s functions, with the
options of each call in a `SamplingOptions`."""

from __future__ import annotations

from typing import Any, Literal

import torch
from diffusers import DDPMScheduler
from pydantic import Field
from torch import Tensor

from genlab.config import Section
from genlab.errors import ConfigError
from genlab.losses import epsilon_loss
from genlab.methods.base import DataInfo, Method, StepContext, conditional_classes
from genlab.nets.unet import build_unet, unet_config
from genlab.sampling import (
    SAMPLERS,
    SamplingOptions,
    as_eps,
    cfg_eps,
    guided,
    in_precision,
    make_scheduler,
    sample_loop,
    sampler_config,
)


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
    sampler: Literal[SAMPLERS] = Field("ddim", description="default sampler")  # type: ignore[valid-type]
    sample_steps: int = Field(50, ge=1, description="default sampling steps")
    eta: float = Field(0.0, ge=0, description="DDIM eta (0: deterministic)")
    cfg: float = Field(3.0, ge=0, description="default classifier-free guidance scale "
                       "(conditional only; 1 = plain conditional)")


class DDPM(Method):
    """The diffusion sub-contract, which LDM and TextLDM keep and generate's img2img,
    inpainting and guidance use: `space`/`to_space`/`from_space` (what the UNet denoises),
    `default_sampling()` (the options a call starts from), `eps_fn(labels, options)` and
    `sampling_eps` (the noise predictor with CFG and the guide folded in), `sampler_config`
    (the schedule samplers are built from) and `denoise` (noise or img2img to images)."""

    name = "ddpm"
    sample_precision = "fp32"  # the UNet's arithmetic when sampling (load_run picks per device)
    Config = DDPMConfig
    tiny = {"channels": [8, 16], "attention": [False, True], "layers_per_block": 1,
            "norm_groups": 4, "sample_steps": 2, "warmup": 2}
    ema_nets = ("unet",)
    soft_labels = False
    truncatable = False  # z is the starting noise: shrinking it is not the truncation trick

    def __init__(self, cfg: DDPMConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        self.num_classes = conditional_classes(cfg.conditional, info)
        channels, size = self.space()
        config = dict(cfg.unet) if cfg.unet else self._unet_config(channels, size)
        if config.get("in_channels") != channels or config.get("sample_size") not in (size, None):
            raise ConfigError(f"the UNet takes {config.get('in_channels')} x "
                              f"{config.get('sample_size')} px inputs but the data is "
                              f"{channels} x {size}: set data.image_size or pick another UNet")
        self.nets["unet"] = self.build_unet(config)
        self.unet_config = dict(self.nets["unet"].config)
        self.noise = DDPMScheduler(num_train_timesteps=cfg.timesteps,
                                   beta_schedule=cfg.beta_schedule, beta_start=cfg.beta_start,
                                   beta_end=cfg.beta_end, clip_sample=cfg.clip_sample,
                                   prediction_type=cfg.prediction_type)
        self.optimizers = {"unet": torch.optim.AdamW(self.nets["unet"].parameters(), lr=cfg.lr,
                                                     weight_decay=0.0)}

    def space(self) -> tuple[int, int]:
        """Channels and side of what the UNet denoises (images here, latents in LDM)."""
        return self.info.channels, self.info.image_size

    def build_unet(self, config: dict[str, Any]) -> Any:
        """The diffusers UNet for this config (text-ldm: a UNet2DConditionModel)."""
        return build_unet(config)

    def _unet_config(self, channels: int, size: int) -> dict[str, Any]:
        cfg = self.cfg
        try:
            return self.unet_layout(channels=channels, image_size=size, widths=cfg.channels,
                                    attention=cfg.attention,
                                    layers_per_block=cfg.layers_per_block,
                                    norm_groups=cfg.norm_groups)
        except ValueError as err:
            raise ConfigError(f"method: {err}") from None

    def unet_layout(self, **common: Any) -> dict[str, Any]:
        """The UNet's config from the fields every diffusion UNet shares; here a class
        embedding with one extra "no class" row for conditional models."""
        return unet_config(**common, num_class_embeds=self.num_classes + 1 if self.num_classes
                           else None)

    def default_sampling(self) -> SamplingOptions:
        """The run's own sampling options (its config's sampler, steps, eta and CFG scale,
        and `sample_precision`: fp32 unless `load_run` chose bf16 for fast hardware)."""
        cfg = self.cfg
        return SamplingOptions(cfg.sampler, cfg.sample_steps, cfg.eta, cfg.cfg,
                               precision=self.sample_precision)

    # ----- training ------------------------------------------------------------------------
    def _warmup(self) -> None:
        """Linear learning-rate warm-up, counted by the optimiser's own step (exact on resume)."""
        opt = self.optimizers["unet"]
        first = opt.param_groups[0]["params"][0]
        done = int(opt.state[first]["step"]) if "step" in opt.state.get(first, {}) else 0
        for group in opt.param_groups:
            group["lr"] = self.cfg.lr * min(1.0, (done + 1) / max(self.cfg.warmup, 1))

    def to_space(self, images: Tensor) -> Tensor:
        """What the UNet denoises for these images (identity here; VAE latents in LDM)."""
        return images

    def from_space(self, x: Tensor) -> Tensor:
        return x

    def train_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        x0 = self.to_space(batch["image"])
        noise = torch.randn_like(x0)
        t = torch.randint(0, self.cfg.timesteps, (len(x0),), device=x0.device)
        xt = self.noise.add_noise(x0, noise, t)
        target = noise if self.cfg.prediction_type == "epsilon" else \
            self.noise.get_velocity(x0, noise, t)
        loss = epsilon_loss(self.nets["unet"](xt, t, **self.condition(batch)).sample, target)
        self._warmup()
        ctx.update("unet", loss)
        return {"loss": loss.detach()}

    def condition(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """The UNet's conditioning inputs for a training batch: class labels, replaced by "no
        class" with probability p_uncond so one model also predicts unconditionally (CFG)."""
        if not self.num_classes:
            return {}
        labels = batch["label"]
        drop = torch.rand(len(labels), device=labels.device) < self.cfg.p_uncond
        return {"class_labels": torch.where(drop, self.num_classes, labels)}

    # ----- sampling ------------------------------------------------------------------------
    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        channels, size = self.space()
        return torch.randn(n, channels, size, size, generator=generator, device=self.device)

    def eps_fn(self, labels: Tensor | None, opts: SamplingOptions) -> Any:
        """Noise predictor for these labels with classifier-free guidance folded in:
        eps = eps_uncond + s * (eps_cond - eps_uncond) (s = 1: conditional, 0: unconditional)."""
        unet = self.eps_unet(opts.precision)
        if not self.num_classes:
            if labels is not None:
                raise ConfigError("this model is not conditional: drop --label")
            return lambda x, t: unet(x, t).sample
        if labels is None:
            raise ConfigError("this model is conditional: pass class labels (--label)")
        if labels.dim() != 1:
            raise ConfigError("diffusion models take class indices, not soft labels")
        cond = {"class_labels": labels}
        null = {"class_labels": torch.full_like(labels, self.num_classes)}
        return lambda x, t: cfg_eps(unet, x, t, cond, null, opts.cfg)

    def eps_unet(self, precision: str = "fp32") -> Any:
        """The UNet as a noise predictor, whatever it was trained to predict, computing in
        `precision` (fp32 or bf16) and answering in fp32."""
        return as_eps(in_precision(self.nets["unet"], precision), self.cfg.prediction_type,
                      self.noise.alphas_cumprod)

    @property
    def sampler_config(self) -> dict[str, Any]:
        """The noise schedule samplers are built from (they receive `eps_unet`'s noise)."""
        return sampler_config(dict(self.noise.config))

    def denoise(self, z: Tensor, labels: Tensor | None = None,
                options: SamplingOptions | None = None, *,
                generator: torch.Generator | None = None, init: Tensor | None = None,
                strength: float = 1.0, on_step: Any = None) -> Tensor:
        """Run the sampler from noise z (or img2img from `init` images); options default to
        the run's own."""
        opts = options or self.default_sampling()
        scheduler = make_scheduler(opts.sampler, self.sampler_config)
        eps = self.sampling_eps(labels, opts)
        start = self.to_space(init) if init is not None else None
        x = sample_loop(eps, z, scheduler, steps=opts.steps, eta=opts.eta, generator=generator,
                        start=strength, init=start, on_step=on_step)
        return self.from_space(x).clamp(-1, 1)

    def sampling_eps(self, labels: Tensor | None, options: SamplingOptions | None = None) -> Any:
        """The noise predictor every sampler (and inpainting) uses: CFG and the options' guide
        folded in."""
        opts = options or self.default_sampling()
        return guided(self.eps_fn(labels, opts), self._space_guide(opts.guide),
                      opts.guide_scale, self.noise.alphas_cumprod)

    def _space_guide(self, guide: Any) -> Any:
        """A guide on images, applied to what the UNet denoises."""
        if guide is None:
            return None
        return lambda x0: guide(self.from_space(x0))

    def decode(self, z: Tensor, labels: Tensor | None = None,
               options: SamplingOptions | None = None, on_step: Any = None) -> Tensor:
        """`denoise` with the sampler's fresh noise drawn from z (same z, same images);
        `on_step(i, steps)` after each sampler step (progress bars)."""
        return self.denoise(z, labels, options, generator=noise_generator(z), on_step=on_step)


def noise_generator(z: Tensor) -> torch.Generator:
    """A generator for the sampler's fresh noise, seeded from the starting noise itself: the
    same z (same --seed) gives the same images, whatever else used the global RNG."""
    seed = int(z.detach().flatten()[:64].double().abs().sum().item() * 1e6) % (2**63 - 1)
    return torch.Generator(device=z.device).manual_seed(seed)

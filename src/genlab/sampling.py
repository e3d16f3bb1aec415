"""Sampling as pure functions: a leaf that methods and generate both import.

Diffusion samplers are plain functions around diffusers schedulers (k-diffusion's shape);
their options travel per call in `SamplingOptions`, never stored on a model.

`eps_fn(x, t)` is any noise predictor (a UNet with classifier-free guidance folded in);
`guide(x0) -> [N]` is any differentiable loss on the predicted clean images, whose gradient
steers sampling (loss guidance).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    RePaintScheduler,
)
from torch import Tensor

from genlab.errors import ConfigError

EpsFn = Callable[[Tensor, Tensor], Tensor]
Guide = Callable[[Tensor], Tensor]
SAMPLERS = ("ddpm", "ddim", "dpm")
PRECISIONS = ("fp32", "bf16")  # the UNet's arithmetic when sampling ("auto" is resolved above)


@dataclass(frozen=True)
class SamplingOptions:
    """How a diffusion model turns noise into images, chosen per call (CLI, bench, API)."""

    sampler: str = "ddim"
    steps: int = 50
    eta: float = 0.0
    cfg: float = 3.0
    guide: Guide | None = None  # predicted clean images [N, C, H, W] -> loss [N]
    guide_scale: float = 1.0
    precision: str = "fp32"  # the UNet's arithmetic; the sampler's own stays fp32


def check_truncation(psi: float, truncatable: bool = True, name: str = "this") -> None:
    """A one-line ConfigError for a psi outside (0, 1] or any psi < 1 where it does not apply."""
    if not 0 < psi <= 1:
        raise ConfigError(f"truncation psi must be in (0, 1], got {psi}")
    if psi != 1 and not truncatable:
        raise ConfigError(f"truncation does not apply to {name} models: drop --truncation")


def truncate(z: Tensor, psi: float, truncatable: bool = True, name: str = "this") -> Tensor:
    """Truncation trick in z space: pull latents toward their mean (0) by psi in (0, 1]."""
    check_truncation(psi, truncatable, name)
    return z * psi


def make_scheduler(kind: str, train_config: dict[str, Any]) -> Any:
    """A fresh sampler scheduler sharing the training noise schedule.

    Every sampler uses trailing timestep spacing: with fewer steps than training, the default
    "leading"/"linspace" spacings never start at the last training step, and DDIM's "linspace"
    has an off-by-one in its previous timestep.
    """
    if kind == "ddpm":
        return DDPMScheduler.from_config(train_config, timestep_spacing="trailing")
    if kind == "ddim":
        return DDIMScheduler.from_config(train_config, timestep_spacing="trailing")
    if kind == "dpm":
        return DPMSolverMultistepScheduler.from_config(train_config, timestep_spacing="trailing")
    raise ConfigError(f"unknown sampler {kind!r}: use one of {', '.join(SAMPLERS)}")


def as_eps(unet: Any, prediction_type: str, alphas_cumprod: Tensor) -> Any:
    """The UNet as a noise predictor, so every sampler, guide and RePaint works on eps: a
    v-prediction output becomes eps = sqrt(a) v + sqrt(1 - a) x_t (exact for any x_t)."""
    if prediction_type == "epsilon":
        return unet

    def eps_unet(x: Tensor, t: Tensor, **kwargs: Any) -> SimpleNamespace:
        v = unet(x, t, **kwargs).sample
        a = alphas_cumprod.to(x.device)[t].to(v.dtype).view(-1, *([1] * (x.dim() - 1)))
        return SimpleNamespace(sample=a.sqrt() * v + (1 - a).sqrt() * x)

    return eps_unet


def in_precision(unet: Any, precision: str) -> Any:
    """The UNet run under bf16 autocast where `precision` is "bf16", its output back in fp32:
    only the network's convolutions and matmuls drop to bf16, while guidance, the v-to-eps
    conversion and the scheduler's updates of x_t keep fp32."""
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown sampling precision {precision!r}: use auto, "
                          f"{', '.join(PRECISIONS)}")
    if precision == "fp32":
        return unet

    def unet_bf16(x: Tensor, t: Tensor, **kwargs: Any) -> SimpleNamespace:
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            out = unet(x, t, **kwargs).sample
        return SimpleNamespace(sample=out.float())

    return unet_bf16


def sampler_config(train_config: dict[str, Any]) -> dict[str, Any]:
    """The training schedule for samplers fed by `as_eps`: they always receive the noise."""
    return {**train_config, "prediction_type": "epsilon"}


def cfg_eps(unet: Any, x: Tensor, t: Tensor, cond: dict[str, Tensor],
            uncond: dict[str, Tensor], scale: float) -> Tensor:
    """Classifier-free guidance: eps = eps_uncond + s (eps_cond - eps_uncond), both predicted
    in one batch. `cond`/`uncond` are the UNet's conditioning keyword arguments (class labels,
    text states) for the rows of x; s = 1 is plain conditional, 0 unconditional."""
    if scale == 1:
        return unet(x, t, **cond).sample
    if scale == 0:
        return unet(x, t, **uncond).sample
    both = unet(torch.cat([x, x]), torch.cat([t, t]),
                **{k: torch.cat([cond[k], uncond[k]]) for k in cond}).sample
    eps_cond, eps_uncond = both.chunk(2)
    return eps_uncond + scale * (eps_cond - eps_uncond)


def predicted_x0(x: Tensor, eps: Tensor, alpha_bar: Tensor) -> Tensor:
    """x0 implied by x_t and the predicted noise: (x_t - sqrt(1 - a) eps) / sqrt(a)."""
    return (x - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()


def clipped_eps(x: Tensor, eps: Tensor, alpha_bar: Tensor, limit: float) -> Tensor:
    """The noise that x_t implies with x0 clipped to [-limit, limit]. diffusers' RePaint clips
    x0 but steps with the raw noise; with CFG 3 on shapes that drifted the colours (a "red
    square" label drew 6 of 8 squares in other colours, 0 of 8 with this), as DDIM does without
    `use_clipped_model_output` (GLIDE re-derives the noise the same way)."""
    x0 = predicted_x0(x, eps, alpha_bar).clamp(-limit, limit)
    return (x - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()


def guided(eps_fn: EpsFn, guide: Guide | None, scale: float, alphas_cumprod: Tensor) -> EpsFn:
    """Fold loss guidance into the noise prediction (classifier guidance with log p = -loss):
    eps' = eps + scale * sqrt(1 - a) * d loss(x0_hat) / d x_t, the noise held fixed."""
    if guide is None or scale == 0:
        return eps_fn

    def eps_guided(x: Tensor, t: Tensor) -> Tensor:
        eps = eps_fn(x, t)
        a = alphas_cumprod.to(x.device)[t].float().view(-1, *([1] * (x.dim() - 1)))
        with torch.enable_grad():
            xg = x.detach().float().requires_grad_(True)
            loss = guide(predicted_x0(xg, eps.detach().float(), a)).sum()
            (grad,) = torch.autograd.grad(loss, xg)
        return eps + scale * (1 - a).sqrt() * grad.to(eps.dtype)

    return eps_guided


def _step_kwargs(scheduler: Any, eta: float, generator: torch.Generator | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"generator": generator}
    if isinstance(scheduler, DDIMScheduler):
        # with clip_sample, re-derive the noise from the clipped x0 (as GLIDE does): clipping
        # x0 but keeping the raw noise drifts off the data, more so the more steps are taken
        kwargs.update(eta=eta, use_clipped_model_output=True)
    return kwargs


@torch.no_grad()
def sample_loop(eps_fn: EpsFn, x: Tensor, scheduler: Any, *, steps: int, eta: float = 0.0,
                generator: torch.Generator | None = None, start: float = 1.0,
                init: Tensor | None = None,
                on_step: Callable[[int, int], None] | None = None) -> Tensor:
    """Denoise x (noise at the first timestep) over `steps` sampler steps.

    img2img: with `init` images and `start` = strength in (0, 1], `init` is noised to the
    level of the first of the last round(strength * steps) timesteps and only those run.
    """
    scheduler.set_timesteps(steps, device=x.device)
    timesteps = scheduler.timesteps
    if init is not None:
        keep = round(start * len(timesteps))
        if keep == 0:
            return init.clone()
        timesteps = timesteps[len(timesteps) - keep:]
        if hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(len(scheduler.timesteps) - keep)
        x = scheduler.add_noise(init, x, timesteps[:1].repeat(len(x)))
    else:
        x = x * scheduler.init_noise_sigma
    kwargs = _step_kwargs(scheduler, eta, generator)
    for i, t in enumerate(timesteps):
        tt = t.expand(len(x))
        eps = eps_fn(scheduler.scale_model_input(x, t), tt)
        x = scheduler.step(eps, t, x, **kwargs).prev_sample
        if on_step is not None:
            on_step(i + 1, len(timesteps))
    return x


@torch.no_grad()
def repaint(eps_fn: EpsFn, image: Tensor, keep: Tensor, train_config: dict[str, Any], *,
            steps: int, jumps: int = 10, jump_length: int = 10,
            generator: torch.Generator | None = None, eta: float = 1.0,
            on_step: Callable[[int, int], None] | None = None) -> Tensor:
    """RePaint inpainting (Lugmayr et al. 2022): at every step the known pixels (keep = 1) come
    from the noised input, the rest from the model; `jumps` resamplings of each span of
    `jump_length` steps let the two agree."""
    # RePaint always reads the noise (as_eps gives it), so it has no prediction_type to set
    config = {k: v for k, v in train_config.items() if k != "prediction_type"}
    scheduler = RePaintScheduler.from_config(config, eta=eta)
    clip = 1.0 if scheduler.config.clip_sample else None  # RePaint clips x0 to [-1, 1]
    scheduler.set_timesteps(steps, jump_length=jump_length, jump_n_sample=jumps,
                           device=image.device)
    x = torch.randn(image.shape, generator=generator, device=image.device, dtype=image.dtype)
    t_last = scheduler.timesteps[0] + 1
    total = len(scheduler.timesteps)
    for i, t in enumerate(scheduler.timesteps):
        if t < t_last:
            eps = eps_fn(x, t.expand(len(x)))
            if clip is not None:
                eps = clipped_eps(x, eps, scheduler.alphas_cumprod.to(x.device)[t], clip)
            x = scheduler.step(eps, t, x, image, keep, generator=generator).prev_sample
        else:  # jump back up: re-noise by one step
            x = scheduler.undo_step(x, t_last, generator=generator)
        t_last = t
        if on_step is not None:
            on_step(i + 1, total)
    return x

"""Image-to-image with a diffusion run: img2img (SDEdit) and RePaint inpainting.

Both take and return uint8 images; inpainting composites in uint8, so every pixel outside
the mask is exactly the input's.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.engine.progress import progress_bar
from genlab.errors import ConfigError
from genlab.generate.guidance import as_float_image, check_steps
from genlab.images import to_uint8
from genlab.methods.diffusion import DDPM
from genlab.runs.load import LoadedRun
from genlab.sampling import repaint


def _diffusion(run: LoadedRun) -> DDPM:
    if not isinstance(run.method, DDPM):
        raise ConfigError(f"{run.path} is a {run.cfg.method.name} run: img2img and inpainting "
                          "need a diffusion run (ddpm or ldm)")
    return run.method


def _labels(run: LoadedRun, label: str | int | None, n: int) -> Tensor | None:
    if label is None:
        if run.conditional:
            raise ConfigError("this model is conditional: pass --label")
        return None
    return torch.full((n,), run.label_index(label), dtype=torch.long, device=run.device)


@torch.no_grad()
def img2img(run: LoadedRun, image: Tensor, *, strength: float, n: int = 1, seed: int = 0,
            label: str | int | None = None, options: Any = None,
            progress: bool = False) -> Tensor:
    """Noise `image` (uint8 [C, H, W]) to `strength` of the way and denoise it back, n times.
    Strength 0 returns the input unchanged; 1 ignores it. `progress`: a bar counting the
    sampler steps on stderr."""
    if not 0 <= strength <= 1:
        raise ConfigError(f"--strength must be in [0, 1], got {strength}")
    method = _diffusion(run)
    if strength == 0:
        return image.unsqueeze(0).repeat(n, 1, 1, 1)
    init = as_float_image(image, run).repeat(n, 1, 1, 1)
    gen = torch.Generator(device=run.device).manual_seed(seed)
    z = run.method.sample_latents(n, gen)
    labels = _labels(run, label, n)
    with progress_bar(None, label="img2img", unit="steps", enabled=progress) as report:
        out = method.denoise(z, labels, options, generator=gen, init=init, strength=strength,
                             on_step=report)
    return to_uint8(out)


def check_repaint(run: LoadedRun, *, steps: int, jumps: int, jump_length: int) -> None:
    """RePaint's counts. diffusers accepts any jumps and jump length (a jump length of at least
    --steps only means no resampling) but quietly caps steps at the training timesteps."""
    if jumps < 1 or jump_length < 1:
        raise ConfigError("--jumps and --jump-length must be at least 1")
    check_steps(run, steps)


def _mask_to_space(regen: Tensor, side: int) -> Tensor:
    """The regenerate-mask at the denoised space's resolution: a cell is regenerated if any of
    its pixels is."""
    m = regen.float()[None, None]
    if m.shape[-1] != side:
        m = F.adaptive_max_pool2d(m, side)
    return m


@torch.no_grad()
def inpaint(run: LoadedRun, image: Tensor, mask: Tensor, *, steps: int = 100, jumps: int = 5,
            jump_length: int = 10, n: int = 1, seed: int = 0,
            label: str | int | None = None, options: Any = None,
            progress: bool = False) -> Tensor:
    """Regenerate the pixels where `mask` ([H, W] bool) is True; keep the others exactly.
    Of the sampling `options`, the CFG scale and guide apply (None: the run's own).
    `progress`: a bar counting RePaint's steps (its jumps back included) on stderr."""
    method = _diffusion(run)
    if mask.shape != image.shape[1:]:
        raise ConfigError(f"the mask is {tuple(mask.shape)} but the image is "
                          f"{tuple(image.shape[1:])}: they must be the same size")
    check_repaint(run, steps=steps, jumps=jumps, jump_length=jump_length)
    x = as_float_image(image, run).repeat(n, 1, 1, 1)
    gen = torch.Generator(device=run.device).manual_seed(seed)
    known = method.to_space(x)
    keep = 1.0 - _mask_to_space(mask.to(run.device), known.shape[-1])
    eps = method.sampling_eps(_labels(run, label, n), options)
    with progress_bar(None, label="inpaint", unit="steps", enabled=progress) as report:
        out = repaint(eps, known, keep.expand_as(known), method.sampler_config, steps=steps,
                      jumps=jumps, jump_length=jump_length, generator=gen, on_step=report)
    made = to_uint8(method.from_space(out))
    original = image.unsqueeze(0).expand_as(made)
    return torch.where(mask.cpu()[None, None], made, original)

"""Sampling options of diffusion runs, and guides: differentiable losses on predicted images."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.generate.load import LoadedRun

Guide = Callable[[Tensor], Tensor]


def class_guide(classifier: Callable[[Tensor], Tensor], target: int) -> Guide:
    """Loss = -log p(target | x): lower when the classifier sees the target class."""

    def loss(x0: Tensor) -> Tensor:
        return -classifier(x0).float().log_softmax(dim=1)[:, target]

    return loss


def parse_guide(spec: str, run: LoadedRun) -> Guide:
    """`judge:CLASS`: the judge of the run's data pulls samples toward CLASS."""
    kind, _, arg = spec.partition(":")
    if kind == "judge" and arg:
        from genlab.metrics.judge import load_judge

        judge = load_judge(run.cfg.data, device=str(run.device))
        return class_guide(judge.classifier(run.device), judge.class_index(arg, "--guide class"))
    raise ConfigError(f"unknown guide {spec!r}: use judge:CLASS (the Python API takes any "
                      "callable images -> per-image loss)")


def configure_sampling(run: LoadedRun, *, sampler: str | None = None, steps: int | None = None,
                       eta: float | None = None, cfg: float | None = None,
                       guide: str | Guide | None = None, guide_scale: float | None = None) -> None:
    """Set a diffusion run's sampler options; any of them on another kind of run is an error."""
    given: dict[str, Any] = {k: v for k, v in dict(sampler=sampler, steps=steps, eta=eta, cfg=cfg,
                                                   guide=guide, guide_scale=guide_scale).items()
                             if v is not None}
    if not given:
        return
    if not hasattr(run.method, "configure_sampling"):
        flags = ", ".join(f"--{k.replace('_', '-')}" for k in given)
        raise ConfigError(f"{flags} apply to diffusion runs; {run.path} is a "
                          f"{run.cfg.method.name} run")
    if given.get("steps", 1) < 1 or given.get("eta", 0) < 0 or given.get("cfg", 0) < 0:
        raise ConfigError("--steps must be >= 1, --eta and --cfg >= 0")
    if "sampler" in given and given["sampler"] not in ("ddpm", "ddim", "dpm"):
        raise ConfigError(f"unknown sampler {given['sampler']!r}: use ddpm, ddim or dpm")
    if isinstance(given.get("guide"), str):
        given["guide"] = parse_guide(given["guide"], run)
    run.method.configure_sampling(**given)  # type: ignore[attr-defined]


def as_float_image(images: Tensor, run: LoadedRun) -> Tensor:
    """uint8 [N, C, H, W] (or [C, H, W]) to the run's float [-1, 1] input on its device."""
    from genlab.images import to_float

    if images.dim() == 3:
        images = images.unsqueeze(0)
    c, s = run.info.channels, run.info.image_size
    if images.shape[1:] != (c, s, s):
        raise ConfigError(f"the image is {tuple(images.shape[1:])} (C, H, W) but the model "
                          f"makes {c} x {s} x {s}: resize it first")
    return to_float(images).to(run.device, torch.float32)

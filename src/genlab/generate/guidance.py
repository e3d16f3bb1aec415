"""Sampling options of diffusion runs for one call, and guides: differentiable losses on
predicted images."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from genlab.engine.hardware import sampling_precision
from genlab.errors import ConfigError
from genlab.generate.defaults import CLIP_GUIDE_SCALE
from genlab.runs.load import LoadedRun
from genlab.sampling import SAMPLERS

if TYPE_CHECKING:
    from genlab.methods.clip import CLIP

Guide = Callable[[Tensor], Tensor]


def class_guide(classifier: Callable[[Tensor], Tensor], target: int) -> Guide:
    """Loss = -log p(target | x): lower when the classifier sees the target class."""

    def loss(x0: Tensor) -> Tensor:
        return -classifier(x0).float().log_softmax(dim=1)[:, target]

    return loss


def clip_guide(clip: CLIP, prompt: str) -> Guide:
    """Loss = spherical distance between CLIP's embeddings of the image and of `prompt`:
    lower when CLIP sees the prompt in the image."""
    from genlab.generate.clip_models import image_embeddings, text_embeddings
    from genlab.losses import spherical_distance

    target = text_embeddings(clip, [prompt])  # [1, D], fixed

    def loss(x0: Tensor) -> Tensor:
        return spherical_distance(image_embeddings(clip, x0), target)

    return loss


def parse_guide(spec: str, run: LoadedRun, clip: CLIP | None = None) -> Guide:
    """`judge:CLASS`: the judge of the run's data pulls samples toward CLASS;
    `clip:PROMPT`: `clip` (a loaded CLIP, see `load_clip`) pulls them toward the text."""
    kind, _, arg = spec.partition(":")
    arg = arg.strip().strip("\"'")  # clip:"a red circle" reaches us with or without quotes
    if kind == "judge" and arg:
        from genlab.metrics.judge import load_judge

        judge = load_judge(run.cfg.data, device=str(run.device))
        return class_guide(judge.classifier(run.device), judge.class_index(arg, "--guide class"))
    if kind == "clip" and arg:
        if clip is None:
            raise ConfigError(f"--guide {spec} needs a CLIP: pass --clip with a clip run "
                              "folder or a local open_clip weights file")
        return clip_guide(clip, arg)
    raise ConfigError(f"unknown guide {spec!r}: use judge:CLASS or clip:PROMPT (the Python API "
                      "takes any callable images -> per-image loss)")


def sampling_options(run: LoadedRun, *, sampler: str | None = None, steps: int | None = None,
                     eta: float | None = None, cfg: float | None = None,
                     guide: str | Guide | None = None, guide_scale: float | None = None,
                     clip: CLIP | None = None,
                     prompt: str | Sequence[str] | None = None,
                     precision: str | None = None) -> Any:
    """A diffusion run's sampling options for one call: the run's own, with the given ones
    changed (None: nothing given, the run's own apply). Any of them on a run that takes none
    is an error. `clip` is the CLIP a `clip:PROMPT` guide uses; `prompt` is the caption of a
    text-ldm run's images (several: given to the images in turn). `precision` is the UNet's
    arithmetic (None: the run's own, `sampling_precision`'s auto)."""
    if clip is not None and not (isinstance(guide, str) and guide.startswith("clip:")):
        raise ConfigError("--clip is only used by --guide clip:PROMPT: add one or drop --clip")
    given: dict[str, Any] = {k: v for k, v in dict(sampler=sampler, steps=steps, eta=eta, cfg=cfg,
                                                   guide=guide, guide_scale=guide_scale).items()
                             if v is not None}
    defaults = run.method.default_sampling()
    if precision is not None:
        chosen = sampling_precision(precision, run.device)
        if defaults is not None:
            given["precision"] = chosen
        elif precision == "bf16":  # other runs sample in fp32: auto and fp32 ask for nothing
            given["precision"] = precision  # refused below
    if prompt is not None:
        if not hasattr(defaults, "prompts"):
            raise ConfigError(f"--prompt applies to text-conditioned runs (method text-ldm); "
                              f"{run.path} is a {run.cfg.method.name} run")
        given["prompts"] = (prompt,) if isinstance(prompt, str) else tuple(prompt)
    if not given:
        return None
    if defaults is None:
        flags = ", ".join(f"--{k.replace('_', '-')}" for k in given)
        raise ConfigError(f"{flags} apply to diffusion runs; {run.path} is a "
                          f"{run.cfg.method.name} run")
    if given.get("eta", 0) < 0 or given.get("cfg", 0) < 0:
        raise ConfigError("--eta and --cfg must be >= 0")
    if "steps" in given:
        check_steps(run, given["steps"])
    if "sampler" in given and given["sampler"] not in SAMPLERS:
        raise ConfigError(f"unknown sampler {given['sampler']!r}: use {', '.join(SAMPLERS)}")
    if isinstance(given.get("guide"), str):
        if given["guide"].startswith("clip:"):
            given.setdefault("guide_scale", CLIP_GUIDE_SCALE)
        given["guide"] = parse_guide(given["guide"], run, clip)
    return replace(defaults, **given)


def check_steps(run: LoadedRun, steps: int) -> None:
    """Sampling steps: 1 up to the timesteps the model was trained with. Past them DDPM and
    DDIM schedulers raise, DPM-Solver repeats timesteps and runs past t = 0, and RePaint
    quietly caps the count."""
    limit = run.cfg.method.timesteps
    if steps > limit:
        raise ConfigError(f"--steps {steps} is more than the {limit} timesteps this model was "
                          f"trained with: use 1..{limit}")
    if steps < 1:
        raise ConfigError(f"--steps must be at least 1 (and at most {limit}), got {steps}")


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

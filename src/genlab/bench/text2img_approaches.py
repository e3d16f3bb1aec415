"""What each row of `genlab bench text2img` is asked and how it answers: the held-out shapes
prompts with the attributes they name, and the approaches, each a function (prompt, seed) ->
image, so a new one is one more function here and one more entry in the benchmark's list.

The results page reads the attribute names and chance rates from here, never from the
benchmark module, so the benchmark imports its page and nothing imports back.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.data.shapes import (
    COLOURS,
    POSITIONS,
    SHAPES,
    SIZES,
    describe_object,
    render_shapes,
    sample_offsets,
)
from genlab.errors import ConfigError

FORMS = ("full", "short")  # "a large red circle at the top left" or "a red circle"
ATTRS = ("colour", "shape", "size", "position")
NAMES: dict[str, tuple[str, ...]] = {"shape": SHAPES, "colour": tuple(COLOURS), "size": SIZES,
                                     "position": POSITIONS}
CHANCE = {key: 1 / len(names) for key, names in NAMES.items()}


# ----- prompts ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prompt:
    """A prompt and the attribute indices it names (-1: not named)."""

    text: str
    shape: int
    colour: int
    size: int = -1
    position: int = -1


def held_out_prompts(n: int, seed: int = 0, form: str = "full") -> list[Prompt]:
    """n prompts over a seeded shuffle of every attribute combination of the form (324 full,
    18 short), repeated in the same order when n is larger. Shapes captions cover every
    combination in training, so "held out" means unseen scenes and seeds, not unseen text."""
    if form not in FORMS:
        raise ConfigError(f"unknown prompt form {form!r}: use {' or '.join(FORMS)}")
    ranges = [range(len(SHAPES)), range(len(COLOURS))]
    if form == "full":
        ranges += [range(len(SIZES)), range(len(POSITIONS))]
    combos = list(itertools.product(*ranges))
    order = torch.randperm(len(combos), generator=torch.Generator().manual_seed(seed)).tolist()
    prompts = []
    for i in range(n):
        attrs = (*combos[order[i % len(combos)]], -1, -1)[:4]
        prompts.append(Prompt(describe_object(*attrs), *attrs))
    return prompts


def image_seed(seed: int, index: int) -> int:
    return seed * 100_003 + index  # distinct per (seed, prompt)


@dataclass
class Approach:
    """How one row makes an image: `generate(prompt, seed)` -> float [3, H, W] in [-1, 1].
    `models` (run paths, steps, options) goes into the raw row and must match to resume."""

    name: str
    label: str
    note: str
    generate: Callable[[Prompt, int], Tensor] | None = None
    models: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None  # why the row was not measured


def model_source(path: Path) -> dict[str, Any]:
    """Which weights a model came from: a run folder and its last checkpoint, or a file."""
    from genlab.engine.checkpoint import find_checkpoint

    if path.is_dir():
        return {"path": str(path), "checkpoint": find_checkpoint(path, "last").name}
    return {"path": str(path)}


# ----- approaches ---------------------------------------------------------------------------

def real_reference(size: int) -> Approach:
    """`render_shapes` of each prompt's attributes (unnamed ones drawn from the seed): the
    reader's ceiling and the CLIP score of a true picture."""

    def generate(prompt: Prompt, seed: int) -> Tensor:
        gen = torch.Generator().manual_seed(seed)
        size_i, pos = (int(torch.randint(len(NAMES[k]), (), generator=gen)) if v < 0 else v
                       for k, v in (("size", prompt.size), ("position", prompt.position)))
        offset = sample_offsets(1, 1, gen)  # the training data's centre jitter
        image, _ = render_shapes(torch.tensor([prompt.shape]), torch.tensor([prompt.colour]),
                                 torch.tensor([size_i]), torch.tensor([pos]), image_size=size,
                                 offset=offset)
        return image[0].float() / 127.5 - 1

    return Approach("real", "real (rendered, reader ceiling)",
                    "render_shapes of the prompt's attributes", generate, {"size": size})


def random_baseline(size: int) -> Approach:
    """A rendered scene of random attributes: its CLIP score is the mismatch floor; the page
    shows the analytic chance rates for the attributes."""
    real = real_reference(size)

    def generate(prompt: Prompt, seed: int) -> Tensor:
        gen = torch.Generator().manual_seed(seed + 7)
        attrs = [int(torch.randint(len(NAMES[k]), (), generator=gen)) for k in NAMES]
        return real.generate(Prompt("", *attrs), seed)  # type: ignore[misc]

    return Approach("random", "random (chance)", "a random scene; accuracies are chance rates",
                    generate, {"size": size})


def clip_vqgan(clip: Any, vqgan_path: Path, steps: int, cutouts: int, device: str,
               init: str = "random", init_weight: float = 0.0) -> Approach:
    from genlab.generate.text2img import blank_canvas, load_vqgan, text_to_image

    vqgan = load_vqgan(vqgan_path, device)
    start = None if init == "random" else blank_canvas(vqgan, init)

    def generate(prompt: Prompt, seed: int) -> Tensor:
        image, _ = text_to_image(clip, vqgan, [(prompt.text, 1.0)], steps=steps, cutouts=cutouts,
                                 init_image=start, init_weight=init_weight, seed=seed)
        return image

    start_note = "random codes" if init == "random" else f"a {init} canvas"
    return Approach("clip-vqgan", "CLIP + VQGAN", f"{steps} Adam steps on a VQGAN latent, "
                    f"{cutouts} cutouts, from {start_note}, init weight {init_weight:g}",
                    generate, {"vqgan": model_source(vqgan_path), "steps": steps,
                               "cutouts": cutouts, "init": init, "init_weight": init_weight})


def clip_diffusion(clip: Any, run_path: Path, steps: int, guide_scale: float,
                   device: str) -> Approach:
    """Text only: a class-conditional run samples unconditionally (cfg 0, the null label), so
    CLIP's gradient is the only thing that knows the prompt."""
    from genlab.generate.guidance import clip_guide, sampling_options
    from genlab.runs.load import load_run

    run = load_run(run_path, device=device)
    if run.method.default_sampling() is None:
        raise ConfigError(f"--diffusion {run_path} is a {run.cfg.method.name} run, not a "
                          "diffusion run: pass a ddpm or ldm run trained on shapes")
    labels = torch.zeros(1, dtype=torch.long, device=run.device) if run.conditional else None

    def generate(prompt: Prompt, seed: int) -> Tensor:
        options = sampling_options(run, sampler="ddim", steps=steps, eta=0.0, cfg=0.0,
                                   guide=clip_guide(clip, prompt.text), guide_scale=guide_scale)
        z = run.method.sample_latents(1, torch.Generator(run.device).manual_seed(seed))
        return run.method.decode(z, labels, options)[0]

    mode = "class-conditional run at cfg 0" if run.conditional else "unconditional run"
    return Approach("clip-diffusion", "CLIP-guided diffusion",
                    f"DDIM {steps} steps, {mode}, CLIP guidance scale {guide_scale:g}", generate,
                    {"diffusion": model_source(run_path), "steps": steps,
                     "guide_scale": guide_scale})


def text_ldm(run_path: Path | None, steps: int, cfg: float, device: str) -> Approach:
    """The text-conditioned latent diffusion model, through its prompt API."""
    if run_path is None:
        return Approach("text-ldm", "text-conditioned LDM", "", skipped="no --ldm RUN given")
    from genlab.generate.guidance import sampling_options
    from genlab.runs.load import load_run

    run = load_run(run_path, device=device)

    def options(text: str) -> Any:
        return sampling_options(run, sampler="ddim", steps=steps, eta=0.0, cfg=cfg, prompt=text)

    options("a red circle")  # a run that takes no prompt fails now, before any generation

    def generate(prompt: Prompt, seed: int) -> Tensor:
        z = run.method.sample_latents(1, torch.Generator(run.device).manual_seed(seed))
        return run.method.decode(z, None, options(prompt.text))[0]

    return Approach("text-ldm", "text-conditioned LDM",
                    f"DDIM {steps} steps, classifier-free guidance {cfg:g}", generate,
                    {"ldm": model_source(run_path), "steps": steps, "cfg": cfg})

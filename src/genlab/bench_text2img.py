"""`genlab bench text2img`: text-to-image approaches on held-out shapes prompts, judged by the
analytic shapes reader (colour, shape, size, position read from pixels) and a CLIP score.

Every approach makes one seeded image per prompt; its numbers land in
`<out>/text2img-shapes/raw/<approach>.json` as soon as it is done, so an interrupted benchmark
resumes where it stopped, and the page is written from what is there. An approach is a
function (prompt, seed) -> image, so a new one is one more entry in `APPROACHES`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.bench import done_with
from genlab.data.shapes import (
    COLOURS,
    POSITIONS,
    SHAPES,
    SIZES,
    describe_object,
    render_shapes,
    sample_offsets,
)
from genlab.engine.progress import console
from genlab.errors import ConfigError
from genlab.files import write_json
from genlab.generate.clip_models import image_embeddings, load_clip, text_embeddings
from genlab.generate.defaults import CLIP_GUIDE_SCALE
from genlab.metrics.shapes_reader import read_shapes

FORMS = ("full", "short")  # "a large red circle at the top left" or "a red circle"
ATTRS = ("colour", "shape", "size", "position")
NAMES: dict[str, tuple[str, ...]] = {"shape": SHAPES, "colour": tuple(COLOURS), "size": SIZES,
                                     "position": POSITIONS}
CHANCE = {key: 1 / len(names) for key, names in NAMES.items()}
DEFAULT_STEPS = {"clip-vqgan": 300, "clip-diffusion": 50, "text-ldm": 50}
EXAMPLES = 4  # prompts shown in the example grid
TILE = 48  # pixels per image in the example grid, whatever size each model makes


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


def _source(path: Path) -> dict[str, Any]:
    """Which weights a model came from: a run folder and its last checkpoint, or a file."""
    from genlab.engine.checkpoint import find_checkpoint

    if path.is_dir():
        return {"path": str(path), "checkpoint": find_checkpoint(path, "last").name}
    return {"path": str(path)}


def clip_digest(path: Path) -> str:
    """sha256 (16 hex) of the benchmark CLIP's weights: rows scored by another CLIP are redone."""
    from genlab.engine.checkpoint import WEIGHTS, find_checkpoint

    file = find_checkpoint(path, "last") / WEIGHTS if path.is_dir() else path
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


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
                    generate, {"vqgan": _source(vqgan_path), "steps": steps, "cutouts": cutouts,
                               "init": init, "init_weight": init_weight})


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
                    {"diffusion": _source(run_path), "steps": steps, "guide_scale": guide_scale})


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
                    {"ldm": _source(run_path), "steps": steps, "cfg": cfg})


# ----- scoring ------------------------------------------------------------------------------

def score(images: Tensor, prompts: list[Prompt], clip: Any) -> list[dict[str, Any]]:
    """Per image: what the reader sees, whether each named attribute is right, CLIP score
    (cosine between the image's and the prompt's CLIP embeddings)."""
    read = read_shapes(images)
    with torch.no_grad():
        texts = text_embeddings(clip, [p.text for p in prompts])
        embeds = image_embeddings(clip, images.to(texts.device))
    sims = (embeds * texts).sum(1).tolist()
    items = []
    for i, prompt in enumerate(prompts):
        item: dict[str, Any] = {"prompt": prompt.text, "found": bool(read["found"][i]),
                                "clip_score": sims[i]}
        item["read"] = {k: NAMES[k][int(read[k][i])] if read["found"][i] else None for k in ATTRS}
        for key in ATTRS:
            if getattr(prompt, key) >= 0:  # only what the prompt names is scored
                item[key] = int(read[key][i]) == getattr(prompt, key)
        items.append(item)
    return items


def summarise(items: list[dict[str, Any]]) -> dict[str, Any]:
    def mean(key: str) -> float | None:
        values = [float(item[key]) for item in items if key in item]
        return sum(values) / len(values) if values else None

    return {"found": mean("found"), **{f"{k}_acc": mean(k) for k in ATTRS},
            "clip_score": mean("clip_score"), "seconds_per_image": mean("seconds")}


def _tiles(images: Tensor) -> Tensor:
    """Images resized to TILE px, so every approach's strip has the same width."""
    mode = "nearest" if images.shape[-1] <= TILE else "area"
    return F.interpolate(images.float(), size=(TILE, TILE), mode=mode).clamp(-1, 1)


def run_approach(approach: Approach, prompts: list[Prompt], clip: Any, *, seed: int, raw: Path,
                 assets: Path, judge: str, protocol: dict[str, Any]) -> dict[str, Any]:
    """One row: generate, read, score, write the raw JSON and the example strip."""
    from genlab.images import save_grid

    path = raw / f"{approach.name}.json"
    if done_with(path, judge, models=approach.models, **protocol):
        console.print(f"{approach.name}: done earlier", highlight=False)
        return json.loads(path.read_text())
    console.print(f"{approach.name}: {len(prompts)} images ({approach.note})", highlight=False)
    assert approach.generate is not None
    images, seconds = [], []
    # CPU seconds on the CPU (fair when other work shares the machine); wall time on a GPU
    clock = time.process_time if protocol["clock"] == "cpu" else time.perf_counter
    for i, prompt in enumerate(prompts):
        start = clock()
        image = approach.generate(prompt, image_seed(seed, i)).detach().float().cpu()
        seconds.append(clock() - start)
        if image.shape[0] != 3:
            raise ConfigError(f"{approach.name} makes {image.shape[0]}-channel images: the "
                              "shapes reader needs RGB models trained on shapes")
        images.append(image)
    batch = torch.stack(images)
    items = score(batch, prompts, clip)
    for item, secs in zip(items, seconds, strict=True):
        item["seconds"] = secs
    row = {"approach": approach.name, "label": approach.label, "note": approach.note,
           **summarise(items), "judge": judge, "models": approach.models, **protocol,
           "threads": torch.get_num_threads(), "items": items}
    row["grid"] = save_grid(_tiles(batch[:EXAMPLES]), assets / f"examples-{approach.name}.png",
                            nrow=EXAMPLES).name
    write_json(path, row)
    return row


# ----- the benchmark ------------------------------------------------------------------------

def bench_text2img(*, clip: Path, vqgan: Path, diffusion: Path | None = None,
                   ldm: Path | None = None, prompts: int = 50, seed: int = 0,
                   form: str = "full", steps: int | None = None,
                   vqgan_steps: int | None = None, cutouts: int = 32,
                   vqgan_init: str = "black", init_weight: float = 1.0,
                   guide_scale: float = CLIP_GUIDE_SCALE, cfg: float = 3.0,
                   clip_model: str | None = None,
                   device: str = "cpu", out: Path = Path("docs/results")) -> Path:
    """Load every model first (a wrong run fails at once), then measure each row that is not
    done yet and write the page. `steps` (None: each approach's default) applies to all,
    `vqgan_steps` (None: as the others) to CLIP + VQGAN alone."""
    if (prompts < 1 or cutouts < 1 or min(steps or 1, vqgan_steps or 1) < 1 or cfg < 0
            or init_weight < 0):
        raise ConfigError("--prompts, --cutouts, --steps and --vqgan-steps must be >= 1, --cfg "
                          "and --init-weight >= 0")
    chosen = held_out_prompts(prompts, seed, form)
    clip_net = load_clip(clip, model=clip_model, device=device)
    judge = clip_digest(clip)
    side = max(16, min(int(getattr(clip_net.nets["clip"], "image_size", 32)), 64))
    steps_of = {k: steps or v for k, v in DEFAULT_STEPS.items()}
    steps_of["clip-vqgan"] = vqgan_steps or steps_of["clip-vqgan"]
    approaches = [real_reference(side),
                  clip_vqgan(clip_net, vqgan, steps_of["clip-vqgan"], cutouts, device,
                             vqgan_init, init_weight)]
    approaches.append(clip_diffusion(clip_net, diffusion, steps_of["clip-diffusion"],
                                     guide_scale, device) if diffusion is not None else
                      Approach("clip-diffusion", "CLIP-guided diffusion", "",
                               skipped="no --diffusion RUN given"))
    approaches += [text_ldm(ldm, steps_of["text-ldm"], cfg, device), random_baseline(side)]

    assets = out / "text2img-shapes"
    raw = assets / "raw"
    # a row measured otherwise is redone, never mixed in
    protocol = {"prompts": [p.text for p in chosen], "seed": seed, "form": form,
                "device": device, "clock": "cpu" if device == "cpu" else "wall"}
    rows = {}
    for approach in approaches:
        if approach.skipped:
            console.print(f"{approach.name}: skipped ({approach.skipped})", highlight=False)
            rows[approach.name] = {"label": approach.label, "skipped": approach.skipped}
            continue
        rows[approach.name] = run_approach(approach, chosen, clip_net, seed=seed, raw=raw,
                                           assets=assets, judge=judge, protocol=protocol)
    info = {"n": prompts, "seed": seed, "form": form, "clip": _source(clip), "judge": judge,
            "device": device, "clock": protocol["clock"], "threads": torch.get_num_threads(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"}
    write_json(raw / "protocol.json", {**info, "prompts": protocol["prompts"]})
    from genlab.bench_page_text2img import write_text2img_page

    return write_text2img_page(out, rows=rows, info=info, prompts=chosen[:EXAMPLES])

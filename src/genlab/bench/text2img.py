"""`genlab bench text2img`: text-to-image approaches on held-out shapes prompts, judged by the
analytic shapes reader (colour, shape, size, position read from pixels) and a CLIP score.

Every approach makes one seeded image per prompt; its numbers land in
`<out>/text2img-shapes/raw/<approach>.json` as soon as it is done, so an interrupted benchmark
resumes where it stopped, and the page is written from what is there. An approach is a
function (prompt, seed) -> image (see `genlab.bench.text2img_approaches`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.bench.common import done_with
from genlab.bench.text2img_approaches import (
    ATTRS,
    NAMES,
    Approach,
    Prompt,
    clip_diffusion,
    clip_vqgan,
    held_out_prompts,
    image_seed,
    model_source,
    random_baseline,
    real_reference,
    text_ldm,
)
from genlab.bench.text2img_page import EXAMPLES, write_text2img_page
from genlab.engine.progress import console
from genlab.errors import ConfigError
from genlab.files import write_json
from genlab.generate.clip_models import image_embeddings, load_clip, text_embeddings
from genlab.generate.defaults import CLIP_GUIDE_SCALE
from genlab.metrics.shapes_reader import read_shapes

DEFAULT_STEPS = {"clip-vqgan": 300, "clip-diffusion": 50, "text-ldm": 50}
TILE = 48  # pixels per image in the example grid, whatever size each model makes


def clip_digest(path: Path) -> str:
    """sha256 (16 hex) of the benchmark CLIP's weights: rows scored by another CLIP are redone."""
    from genlab.engine.checkpoint import WEIGHTS, find_checkpoint

    file = find_checkpoint(path, "last") / WEIGHTS if path.is_dir() else path
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


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
    info = {"n": prompts, "seed": seed, "form": form, "clip": model_source(clip), "judge": judge,
            "device": device, "clock": protocol["clock"], "threads": torch.get_num_threads(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"}
    write_json(raw / "protocol.json", {**info, "prompts": protocol["prompts"]})
    return write_text2img_page(out, rows=rows, info=info,
                               examples=[p.text for p in chosen[:EXAMPLES]])

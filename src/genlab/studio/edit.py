"""The Edit tab's work, with no web code: img2img, inpainting with a mask painted in the
browser, and editing by text, each by the function its command calls (`genlab img2img`,
`genlab inpaint`, `genlab edit`), so the shown command writes the same pixels.

The browser's picture and painted mask are not files the user has: the studio saves the
exact pixels it used as PNGs in its scratch folder and names those in the command."""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from genlab.studio.catalog import runs_of
from genlab.studio.engine import command_line
from genlab.studio.guard import (
    CFG_MAX,
    N_MAX,
    SEED_MAX,
    STEPS_MAX,
    StudioError,
    check_float,
    check_int,
    check_text,
    check_upload,
)

if TYPE_CHECKING:
    from torch import Tensor

    from genlab.runs.load import LoadedRun
    from genlab.studio.engine import Studio

NO_CLASS = "none"  # the class pickers' entry for "no class" (an unconditional run)
JUMPS_MAX = 20  # RePaint resamplings per span: each one repeats jump_length steps
# RePaint on a CPU: a few jumps back over a 50-step schedule take seconds on a small model
REPAINT_DEFAULTS = {"steps": 50, "jumps": 2, "jump_length": 10}


@dataclass
class Edited:
    """An edit's result as its command writes it, the images beside it, and the command."""

    picture: Image.Image
    command: str
    notes: list[str]
    extra: tuple[Image.Image, ...] = ()  # inpaint: the mask; by text: relevance and mask


def diffusion_run(studio: Studio, name: object) -> LoadedRun:
    """The picked run, if it denoises (its method gives sampling options: ddpm, ldm...)."""
    run = studio.loaded(name)
    if run.method.default_sampling() is None:
        raise StudioError(f"img2img, inpainting and editing need a diffusion run (ddpm or "
                          f"ldm): {run.path.name} is a {run.cfg.method.name} run")
    return run


def _read(run: LoadedRun, upload: object, what: str) -> tuple[Path, Tensor, list[str]]:
    """An upload checked by guard, read as the CLI reads it (uint8 [C, H, W] at the model's
    size), with the conversions it needed as notes."""
    from genlab.images import read_image

    path = check_upload(upload, what)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pixels = read_image(path, run.info.channels, size=run.info.image_size)
    return path, pixels, [str(w.message) for w in caught]


def _pil(image: Tensor) -> Image.Image:
    """One uint8 [C, H, W] image as PIL (grey stays one channel, as save_image writes it)."""
    array = image.cpu().permute(1, 2, 0).numpy()
    return Image.fromarray(array[..., 0] if array.shape[2] == 1 else array)


def _picture(out: Tensor) -> Image.Image:
    """What the CLI writes for n images: the image itself, or a grid of up to 8 a row."""
    from genlab.images import grid_image

    return _pil(out[0]) if len(out) == 1 else grid_image(out, nrow=min(8, len(out)))


def _scratch_copy(studio: Studio, pixels: Tensor, name: str) -> Path:
    """The exact pixels a request used, as a PNG in a new folder of the studio's scratch."""
    from genlab.images import save_image

    return save_image(pixels, Path(tempfile.mkdtemp(dir=studio.scratch)) / name)


def _common(seed: object, n: object, label: object, cfg: object
            ) -> tuple[int, int, str | None, float | None]:
    label = None if label == NO_CLASS else check_text(label, "class")
    return (check_int(seed, "seed", 0, SEED_MAX), check_int(n, "number of images", 1, N_MAX),
            label,
            None if cfg is None else check_float(cfg, "CFG scale", 0, CFG_MAX))


def _repaint_counts(steps: object, jumps: object, jump_length: object) -> tuple[int, int, int]:
    return (check_int(steps, "steps", 1, STEPS_MAX), check_int(jumps, "jumps", 1, JUMPS_MAX),
            check_int(jump_length, "jump length", 1, STEPS_MAX))


def img2img(studio: Studio, name: object, image: object, *, strength: object = 0.6,
            seed: object = 0, n: object = 1, label: str | None = None,
            sampler: str | None = None, steps: object = None,
            cfg: object = None) -> tuple[Image.Image, str, list[str]]:
    """`genlab img2img` on an uploaded image: the PNG the command writes (one image, or a
    grid of n), the command, and notes on how the file was converted."""
    from genlab.generate.edit import img2img as run_img2img
    from genlab.generate.guidance import sampling_options

    strength = check_float(strength, "strength", 0.0, 1.0)
    seed, n, label, cfg = _common(seed, n, label, cfg)
    steps = None if steps is None else check_int(steps, "steps", 1, STEPS_MAX)
    sampler = check_text(sampler, "sampler")
    run = diffusion_run(studio, name)
    path, pixels, notes = _read(run, image, "the starting image")
    options = sampling_options(run, sampler=sampler, steps=steps, cfg=cfg)
    with studio.locks.hold(run.path):
        out = run_img2img(run, pixels, strength=strength, n=n, seed=seed, label=label,
                          options=options)
    command = command_line(
        ["genlab", "img2img", str(run.path), "--init", str(path)],
        [("--strength", strength), ("--n", n), ("--seed", seed), ("--label", label),
         ("--sampler", sampler), ("--steps", steps), ("--cfg", cfg)])
    return _picture(out), command, notes


def painted_mask(layers: list[Any], side: int) -> tuple[Tensor, list[str]]:
    """The regenerate-mask ([side, side] bool) from the editor's brush layers: every pixel
    that is not transparent in some layer. A layer at another size (the canvas drawn larger
    than the image) is resized nearest-neighbour, and the note says so."""
    import torch

    mask = np.zeros((side, side), bool)
    notes = []
    for layer in layers or []:
        path = check_upload(layer, "the painted mask")
        with Image.open(path) as image:
            image.load()
        alpha = (np.asarray(image.getchannel("A")) if "A" in image.getbands()
                 else np.asarray(image.convert("L")))
        if alpha.shape != (side, side):
            notes.append(f"the painted mask was {alpha.shape[1]} x {alpha.shape[0]}: resized "
                         f"nearest-neighbour to the image's {side} x {side}")
            alpha = np.asarray(Image.fromarray(alpha).resize((side, side), Image.NEAREST))
        mask |= alpha > 0
    if not mask.any():
        raise StudioError("the mask is empty: paint the part to redraw")
    return torch.from_numpy(mask), notes


def inpaint(studio: Studio, name: object, image: object, layers: list[Any], *,
            steps: object = REPAINT_DEFAULTS["steps"], jumps: object = REPAINT_DEFAULTS["jumps"],
            jump_length: object = REPAINT_DEFAULTS["jump_length"], seed: object = 0,
            n: object = 1, label: str | None = None, cfg: object = None) -> Edited:
    """`genlab inpaint` (RePaint) of an uploaded image where the brush layers are painted;
    the studio's copies of the image and the mask are the command's --image and --mask.
    `extra`: the mask used (white: regenerated)."""
    import torch

    from genlab.generate.edit import check_repaint
    from genlab.generate.edit import inpaint as run_inpaint
    from genlab.generate.guidance import sampling_options

    seed, n, label, cfg = _common(seed, n, label, cfg)
    steps, jumps, jump_length = _repaint_counts(steps, jumps, jump_length)
    run = diffusion_run(studio, name)
    _, pixels, notes = _read(run, image, "the image")
    mask, mask_notes = painted_mask(layers, run.info.image_size)
    check_repaint(run, steps=steps, jumps=jumps, jump_length=jump_length)
    options = sampling_options(run, cfg=cfg)
    image_png = _scratch_copy(studio, pixels, "image.png")
    mask_png = _scratch_copy(studio, mask[None].to(torch.uint8) * 255, "mask.png")
    with studio.locks.hold(run.path):
        out = run_inpaint(run, pixels, mask, steps=steps, jumps=jumps, jump_length=jump_length,
                          n=n, seed=seed, label=label, options=options)
    command = command_line(
        ["genlab", "inpaint", str(run.path), "--image", str(image_png), "--mask", str(mask_png)],
        [("--jumps", jumps), ("--jump-length", jump_length), ("--steps", steps), ("--n", n),
         ("--seed", seed), ("--label", label), ("--cfg", cfg)])
    return Edited(_picture(out), command, notes + mask_notes, (Image.open(mask_png),))


def clip_runs(runs_dir: Path) -> list[str]:
    """The CLIP runs under `runs_dir` (edit by text needs one)."""
    from genlab.methods.clip import CLIP

    return runs_of(runs_dir, CLIP)


@dataclass(frozen=True)
class TextEditRequest:
    """What the by-text form asks for; None leaves a value to `genlab edit`'s default."""

    select: object
    prompt: object
    clip: object
    label: object = None
    seed: object = 0
    steps: object = REPAINT_DEFAULTS["steps"]
    jumps: object = REPAINT_DEFAULTS["jumps"]
    jump_length: object = REPAINT_DEFAULTS["jump_length"]
    guide_scale: object = None
    threshold: object = None


def text_edit(studio: Studio, name: object, image: object, req: TextEditRequest) -> Edited:
    """`genlab edit` of an uploaded image with the picked run as --diffusion and a CLIP run
    under RUNS_DIR as --clip. `extra`: the relevance map and the mask, as the command writes
    them beside its output."""
    import torch

    from genlab.generate.clip_models import load_clip
    from genlab.generate.defaults import CLIP_GUIDE_SCALE, EDIT_THRESHOLD
    from genlab.generate.text_edit import text_edit as run_text_edit

    select = check_text(req.select, "select", required=True)
    prompt = check_text(req.prompt, "prompt", required=True)
    seed, _, label, _ = _common(req.seed, 1, req.label, None)
    steps, jumps, jump_length = _repaint_counts(req.steps, req.jumps, req.jump_length)
    scale = CLIP_GUIDE_SCALE if req.guide_scale is None else check_float(
        req.guide_scale, "guide scale", 0, 10 * CLIP_GUIDE_SCALE)
    threshold = EDIT_THRESHOLD if req.threshold is None else check_float(
        req.threshold, "threshold", 0.01, 1.0)
    clip_dir = studio.run_dir(req.clip)
    run = diffusion_run(studio, name)
    _, pixels, notes = _read(run, image, "the image")
    image_png = _scratch_copy(studio, pixels, "image.png")
    with studio.locks.hold(run.path):
        clip = load_clip(clip_dir, device=run.device)
        found = run_text_edit(run, clip, pixels, select=select, prompt=prompt, label=label,
                              threshold=threshold, guide_scale=scale, steps=steps,
                              jumps=jumps, jump_length=jump_length, seed=seed)
    relevance = (found.relevance * 255).round().to(torch.uint8)[None]
    if found.label is not None and label is None:
        notes.append(f"drew class {found.label!r} (the class the prompt names)")
    command = command_line(
        ["genlab", "edit", str(image_png), "--select", select, "--prompt", prompt,
         "--diffusion", str(run.path), "--clip", str(clip_dir)],
        [("--label", label), ("--guide-scale", scale), ("--threshold", threshold),
         ("--jumps", jumps), ("--jump-length", jump_length), ("--steps", steps),
         ("--seed", seed)])
    return Edited(_pil(found.image), command, notes,
                  (_pil(relevance), _pil(found.mask.to(torch.uint8)[None] * 255)))

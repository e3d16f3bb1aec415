"""`genlab text2img`: CLIP + VQGAN text-to-image (VQGAN-CLIP). The method lives in
`genlab.generate.text2img`; this file only wires options to it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.common import SeedOpt, say


def register(app: typer.Typer) -> None:
    app.command()(text2img)


def _default_out(prompt: str, seed: int) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:60] or "text2img"
    return Path(f"{slug}-seed{seed}.png")


def text2img(
    prompt: Annotated[str, typer.Argument(help="prompts 'TEXT[:WEIGHT]|...', e.g. "
                                          "'a red circle:1|a square:-0.5'")],
    clip: Annotated[Path, typer.Option(help="clip run folder or open_clip weights file")],
    vqgan: Annotated[Path, typer.Option(help="vqgan run folder or taming .ckpt/.safetensors")],
    clip_model: Annotated[str | None, typer.Option(help="open_clip architecture of a weights "
                                                   "file (default ViT-B-32-quickgelu)")] = None,
    steps: Annotated[int, typer.Option(help="optimisation steps")] = 500,
    lr: Annotated[float, typer.Option(help="Adam learning rate on the latent")] = 0.1,
    cutouts: Annotated[int, typer.Option(help="augmented crops CLIP sees per step")] = 32,
    cut_pow: Annotated[float, typer.Option(help="crop size exponent (>1: smaller crops)")]
    = 1.0,
    size: Annotated[int | None, typer.Option(help="image side (default: the VQGAN's training "
                                             "size, or the init image's)")] = None,
    init: Annotated[str | None, typer.Option(help="start from this image (PNG/JPEG) or a "
                                             "plain canvas: black, grey or white (default: "
                                             "random codes)")] = None,
    init_weight: Annotated[float, typer.Option(help="pull back toward the start (keeps a "
                                               "plain background plain)")] = 0.0,
    seed: SeedOpt = 0,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto")] = "auto",
    out_path: Annotated[Path | None, typer.Option("--out", help="PNG to write (a GIF of the "
                                                  "progress goes beside it)")] = None,
) -> None:
    """Optimise a VQGAN latent until CLIP sees the prompt in the image (VQGAN-CLIP)."""
    import torch

    from genlab.engine.progress import StepProgress
    from genlab.errors import ConfigError
    from genlab.generate.clip_models import load_clip
    from genlab.generate.paths import check_image_file, check_png_out
    from genlab.generate.text2img import (
        CANVASES,
        blank_canvas,
        load_vqgan,
        parse_prompts,
        prompt_similarities,
        text_to_image,
    )
    from genlab.images import grid_image, read_image, save_gif, save_image, to_float

    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device {device!r}: use cpu, cuda or auto")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    prompts = parse_prompts(prompt)  # before loading models: a typo fails at once
    if init_weight < 0:
        raise ConfigError(f"--init-weight must be >= 0, got {init_weight}")
    if init is not None and init not in CANVASES:
        check_image_file(init, "--init", alternatives=f" or one of {', '.join(CANVASES)}")
    path = check_png_out(out_path or _default_out(prompt, seed))
    net = load_vqgan(vqgan, device)
    model = load_clip(clip, model=clip_model, device=device)
    init_image = None
    if init in CANVASES:
        init_image = blank_canvas(net, init, size)
    elif init is not None:
        init_image = to_float(read_image(init, net.encoder.conv_in.in_channels))

    bar = StepProgress(steps, 0, label="text2img")
    every = max(1, steps // 20)  # off a terminal the bar prints a line per logged update
    try:
        image, frames = text_to_image(
            model, net, prompts, steps=steps, lr=lr, cutouts=cutouts, cut_pow=cut_pow,
            size=size, init_image=init_image, init_weight=init_weight, seed=seed,
            callback=lambda step, logs: bar.update(
                step, logs if step % every == 0 or step == steps else None))
    finally:
        bar.close()
    save_image(image, path)
    gif = save_gif([grid_image(f[None], nrow=1, padding=0) for f in frames],
                   path.with_suffix(".gif"))
    say(f"wrote {path} and {gif}")
    for (text, weight), sim in zip(prompts, prompt_similarities(model, image, prompts),
                                   strict=True):
        say(f"CLIP similarity {sim:.3f}  weight {weight:g}  {text}")

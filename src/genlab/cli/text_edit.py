"""`genlab edit`: change what a text names in an image into what another text says.
The logic is `genlab.generate.text_edit`'s; this file only wires options to it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.common import CfgOpt, ClipModelOpt, SeedOpt, say
from genlab.generate.defaults import CLIP_GUIDE_SCALE, EDIT_DILATE, EDIT_THRESHOLD


def register(app: typer.Typer) -> None:
    app.command()(edit)


def edit(
    image: Annotated[Path, typer.Argument(help="image to edit (PNG/JPEG at the diffusion "
                                        "model's size)")],
    select: Annotated[str, typer.Option(help="what to change, e.g. 'the red circle'")],
    prompt: Annotated[str, typer.Option(help="what to draw there, e.g. 'a blue square'")],
    diffusion: Annotated[Path, typer.Option(help="diffusion run folder (ddpm or ldm)")],
    clip: Annotated[Path, typer.Option(help="clip run folder or local open_clip weights file")],
    clip_model: ClipModelOpt = None,
    label: Annotated[str | None, typer.Option(help="class to draw, for a conditional model "
                                          "(default: the class --prompt names)")] = None,
    cfg: CfgOpt = None,
    guide_scale: Annotated[float, typer.Option(help="strength of the pull toward --prompt")]
    = CLIP_GUIDE_SCALE,
    threshold: Annotated[float, typer.Option(help="relevance (0..1] a pixel needs to be "
                                             "redrawn")] = EDIT_THRESHOLD,
    dilate: Annotated[int, typer.Option(help="pixels the mask grows by (anti-aliased "
                                        "edges)")] = EDIT_DILATE,
    patch: Annotated[int | None, typer.Option(help="occlusion window side (default: side / "
                                              "4)")] = None,
    stride: Annotated[int | None, typer.Option(help="occlusion window step (default: patch / "
                                               "4)")] = None,
    jumps: Annotated[int, typer.Option(help="RePaint resamplings per span (1: none)")] = 5,
    jump_length: Annotated[int, typer.Option(help="steps per resampled span")] = 10,
    steps: Annotated[int, typer.Option(help="denoising steps (of the training T)")] = 100,
    seed: SeedOpt = 0,
    out_path: Annotated[Path | None, typer.Option("--out", help="PNG to write (beside it: "
                                                  "-relevance.png and -mask.png)")] = None,
) -> None:
    """Find --select in an image with CLIP and redraw it as --prompt; other pixels are kept."""
    import torch

    from genlab.generate.clip_models import load_clip
    from genlab.generate.guidance import sampling_options
    from genlab.generate.paths import check_image_file, check_png_out, unused_path
    from genlab.generate.text_edit import text_edit
    from genlab.images import read_image, save_image
    from genlab.runs.load import load_run

    # PNG only: a lossy format would change the kept pixels
    path = check_png_out(out_path or unused_path(image.with_name(f"{image.stem}-edited.png")))
    check_image_file(image, "IMAGE")
    run = load_run(diffusion)
    options = sampling_options(run, cfg=cfg)
    picture = read_image(image, run.info.channels, size=run.info.image_size)
    result = text_edit(run, load_clip(clip, model=clip_model, device=run.device), picture,
                       select=select, prompt=prompt, label=label, threshold=threshold,
                       dilate=dilate, patch=patch, stride=stride, guide_scale=guide_scale,
                       steps=steps, jumps=jumps, jump_length=jump_length, seed=seed,
                       options=options, progress=True)
    save_image(result.image, path)
    # the mask is in `genlab inpaint --mask` form (white = redrawn), so it can be reused
    relevance = (result.relevance * 255).round().to(torch.uint8)[None]
    save_image(relevance, path.with_name(f"{path.stem}-relevance.png"))
    save_image(result.mask.to(torch.uint8)[None] * 255, path.with_name(f"{path.stem}-mask.png"))
    drawn = f"; drew class {result.label!r}" if result.label is not None and label is None else ""
    say(f"wrote {path} ({int(result.mask.sum())} of {result.mask.numel()} pixels "
        f"redrawn{drawn}; relevance map and mask beside it)")

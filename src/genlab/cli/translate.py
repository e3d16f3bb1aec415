"""`genlab translate` and `genlab upscale`: image-to-image runs (Pix2Pix, CycleGAN, SRGAN) on a
user's files. The logic is `genlab.generate.translate`'s; this file only wires options to it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.common import SeedOpt, say
from genlab.errors import ConfigError

InputsArg = Annotated[list[Path], typer.Argument(
    help="image files and/or folders (their image files, sorted; sub-folders are not searched)",
    show_default=False)]
OutOpt = Annotated[Path, typer.Option(
    "--out", help="folder to write one PNG per input into, named as the input (created; "
    "NAME-2.png rather than replace a file)", show_default=False)]
GridOpt = Annotated[Path | None, typer.Option(
    help="also write input | output grids to this PNG (32 rows a page: NAME-page2.png...)")]
CheckpointOpt = Annotated[str, typer.Option(help="last or a step number")]
DeviceOpt = Annotated[str, typer.Option(help="cpu, cuda or auto")]


def register(app: typer.Typer) -> None:
    for command in (translate, upscale):
        app.command()(command)


def translate(
    run: Annotated[Path, typer.Argument(help="run folder of an image-to-image method "
                                        "(pix2pix, cyclegan, srgan)")],
    inputs: InputsArg,
    out_dir: OutOpt,
    direction: Annotated[str, typer.Option(help="AtoB or BtoA (CycleGAN runs learn both)")]
    = "AtoB",
    grid: GridOpt = None, checkpoint: CheckpointOpt = "last", device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
) -> None:
    """Translate images with a trained image-to-image run: one PNG per input in --out.
    Inputs are centre-cropped and resized to the run's side; a super-resolution run upscales
    each image at its own size instead."""
    _run(run, inputs, out_dir, direction=direction, grid=grid, checkpoint=checkpoint,
         device=device, seed=seed, upscale_only=False)


def upscale(
    run: Annotated[Path, typer.Argument(help="run folder of a super-resolution run (srgan)")],
    images: InputsArg,
    out_dir: OutOpt,
    grid: GridOpt = None, checkpoint: CheckpointOpt = "last", device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
) -> None:
    """Upscale images by a super-resolution run's factor (x2, x4), each at its own size:
    genlab translate for srgan runs."""
    _run(run, images, out_dir, direction="AtoB", grid=grid, checkpoint=checkpoint,
         device=device, seed=seed, upscale_only=True)


def _run(run: Path, inputs: list[Path], out_dir: Path, *, direction: str, grid: Path | None,
         checkpoint: str, device: str, seed: int, upscale_only: bool) -> None:
    import torch

    from genlab.generate.translate import translate_images

    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device {device!r}: use cpu, cuda or auto")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda but no CUDA GPU is visible: use --device cpu")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    done = translate_images(run, inputs, out_dir, direction=direction, seed=seed, grid=grid,
                            checkpoint=checkpoint, device=device, upscale_only=upscale_only,
                            progress=True)
    count = len(done.outputs)
    notes = []
    if done.resized:
        notes.append(f"{done.resized} resized to the run's {done.side}x{done.side} first")
    if done.renamed:
        notes.append("an earlier file of its name is kept" if count == 1 else
                     f"{done.renamed} named NAME-2.png...: earlier files of their names are "
                     "kept")
    extra = f" ({'; '.join(notes)})" if notes else ""
    what = str(done.outputs[0]) if count == 1 else f"{count} images to {out_dir}"
    say(f"wrote {what}{extra}")
    if done.grids:
        say(f"wrote {' and '.join(map(str, done.grids[:2]))}"
            + (f" and {len(done.grids) - 2} more grid pages" if len(done.grids) > 2 else ""))

"""Commands on trained VAE and diffusion runs: img2img, inpaint, reconstruct, export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from genlab.cli.common import CfgOpt, EtaOpt, LabelOpt, SamplerOpt, SeedOpt, StepsOpt, say
from genlab.errors import ConfigError
from genlab.generate.paths import (
    GRID_MAX,
    check_folder_out,
    check_grid_count,
    check_image_file,
    check_png_out,
    unused_path,
)

if TYPE_CHECKING:
    from torch import Tensor

    from genlab.runs.load import LoadedRun

NOpt = Annotated[int, typer.Option(help="versions to make (a grid when more than one, up to "
                                    f"{GRID_MAX})")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="PNG to write")]


def register(app: typer.Typer) -> None:
    for command in (img2img, inpaint, reconstruct, export):
        app.command()(command)


def _save(images: Tensor, path: Path) -> Path:
    from genlab.images import save_grid, save_image

    if len(images) == 1:
        return save_image(images[0], path)
    return save_grid(images, path, nrow=min(8, len(images)))


def _check_versions(n: int, out_path: Path | None) -> None:
    """--n and --out of img2img and inpaint, before any work: n versions make one grid PNG."""
    if n < 1:
        raise ConfigError("--n must be at least 1")
    check_grid_count(n, f"--n {n}")
    if out_path is not None:
        check_png_out(out_path)


def _load(run: Path) -> LoadedRun:
    from genlab.runs.load import load_run

    return load_run(run)


def img2img(
    run: Annotated[Path, typer.Argument(help="diffusion run folder")],
    init: Annotated[Path, typer.Option(help="starting image (PNG/JPEG at the model's size)")],
    strength: Annotated[float, typer.Option(help="0: the input unchanged ... 1: ignore it")]
    = 0.6,
    n: NOpt = 1, seed: SeedOpt = 0, label: LabelOpt = None,
    sampler: SamplerOpt = None, steps: StepsOpt = None, eta: EtaOpt = None, cfg: CfgOpt = None,
    out_path: OutOpt = None,
) -> None:
    """Noise an image part of the way and denoise it back (SDEdit)."""
    from genlab.generate.edit import img2img as run_img2img
    from genlab.generate.guidance import sampling_options
    from genlab.images import read_image

    _check_versions(n, out_path)
    check_image_file(init, "--init")
    loaded = _load(run)
    options = sampling_options(loaded, sampler=sampler, steps=steps, eta=eta, cfg=cfg)
    image = read_image(init, loaded.info.channels, size=loaded.info.image_size)
    result = run_img2img(loaded, image, strength=strength, n=n, seed=seed, label=label,
                         options=options, progress=True)
    path = _save(result, out_path or unused_path(init.with_name(f"{init.stem}-img2img.png")))
    say(f"wrote {path}")


def inpaint(
    run: Annotated[Path, typer.Argument(help="diffusion run folder")],
    image: Annotated[Path, typer.Option(help="image to complete")],
    mask: Annotated[Path, typer.Option(help="same-size mask: white = regenerate, black = "
                                       "keep")],
    jumps: Annotated[int, typer.Option(help="RePaint resamplings per span (1: none)")] = 5,
    jump_length: Annotated[int, typer.Option(help="steps per resampled span")] = 10,
    steps: Annotated[int, typer.Option(help="denoising steps (of the training T)")] = 100,
    n: NOpt = 1, seed: SeedOpt = 0, label: LabelOpt = None, cfg: CfgOpt = None,
    out_path: OutOpt = None,
) -> None:
    """Regenerate the masked part of an image (RePaint); every other pixel is kept exactly."""
    from genlab.generate.edit import inpaint as run_inpaint
    from genlab.generate.guidance import sampling_options
    from genlab.images import read_image

    _check_versions(n, out_path)
    check_image_file(image, "--image")
    check_image_file(mask, "--mask")
    loaded = _load(run)
    options = sampling_options(loaded, cfg=cfg)
    picture = read_image(image, loaded.info.channels, size=loaded.info.image_size)
    regen = read_image(mask, 1, size=loaded.info.image_size)[0] > 127
    result = run_inpaint(loaded, picture, regen, steps=steps, jumps=jumps,
                         jump_length=jump_length, n=n, seed=seed, label=label,
                         options=options, progress=True)
    path = _save(result, out_path or unused_path(image.with_name(f"{image.stem}-inpainted.png")))
    say(f"wrote {path} ({int(regen.sum())} of {regen.numel()} pixels regenerated)")


def reconstruct(
    run: Annotated[Path, typer.Argument(help="VAE run folder")],
    n: Annotated[int, typer.Option(help="test images to reconstruct")] = 32,
    seed: SeedOpt = 0,
    out_path: OutOpt = None,
) -> None:
    """Write test images (odd rows) above their VAE reconstructions (even rows)."""
    from genlab.evaluation.reconstruct import reconstruction_grid

    if n < 1:
        raise ConfigError("--n must be at least 1")
    path = reconstruction_grid(run, n=n, seed=seed, out=out_path)
    say(f"wrote {path}")


def export(
    run: Annotated[Path, typer.Argument(help="ddpm run folder")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder to write")],
) -> None:
    """Save a DDPM run as a diffusers pipeline folder that samples like genlab sample."""
    from genlab.runs.load import export_diffusers

    check_folder_out(out_dir, writes="the pipeline's unet/ and scheduler/")
    path = export_diffusers(_load(run), out_dir)
    say(f"wrote {path} (load with DiffusionPipeline.from_pretrained({str(path)!r}, "
        f"trust_remote_code=True), or back into genlab with --unet {path})")

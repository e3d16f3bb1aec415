"""`genlab style`: StyleGAN's style-mixing and noise-resampling figures of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.common import SeedOpt, say


def register(app: typer.Typer) -> None:
    app.command()(style)


def style(
    run: Annotated[Path, typer.Argument(help="run folder of a StyleGAN")],
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="folder to write style-mixing.png and noise.png to (default RUN/samples; "
        "-2, -3... rather than replace earlier ones)")] = None,
    seed: SeedOpt = 0,
    rows: Annotated[int, typer.Option(help="source-A latents: the rows of each block")] = 4,
    cols: Annotated[int, typer.Option(help="source-B latents: the columns")] = 4,
    truncation: Annotated[float, typer.Option(help="truncation psi in (0, 1], in W toward "
                                              "w_avg")] = 1.0,
    noise_samples: Annotated[int, typer.Option(help="random noise draws per latent in "
                                               "noise.png (at least 2)")] = 6,
    checkpoint: Annotated[str, typer.Option(help="last or a step number")] = "last",
    no_ema: Annotated[bool, typer.Option("--no-ema", help="use the live, not averaged, "
                                         "weights")] = False,
) -> None:
    """Write a style-mixing grid (coarse, middle and fine styles of the left column's latents
    taken from the top row's) and a noise-resampling grid (the same styles with fresh noise,
    and the per-pixel standard deviation) of a StyleGAN run."""
    from genlab.generate.style import check_style, refuse_unstyled, style_figures
    from genlab.runs.load import load_run

    folder = check_style(out_dir or run / "samples", rows=rows, cols=cols,
                         noise_samples=noise_samples, truncation=truncation)
    refuse_unstyled(run)  # before the model loads
    figures = style_figures(load_run(run, checkpoint, ema=not no_ema), folder, rows=rows,
                            cols=cols, seed=seed, truncation=truncation,
                            noise_samples=noise_samples)
    say(f"wrote {figures.mixing} (blocks top to bottom: {', '.join(figures.groups)} styles "
        f"from the top row, the rest from the left column) and {figures.noise} (per row: "
        f"constant noise, {noise_samples} random noise draws, their standard deviation)")

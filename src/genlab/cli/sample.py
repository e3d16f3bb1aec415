"""Commands that draw from a trained run: sample, interpolate, control."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.common import (
    CfgOpt,
    ClipModelOpt,
    ClipOpt,
    EtaOpt,
    GuideOpt,
    GuideScaleOpt,
    PrecisionOpt,
    SamplerOpt,
    SeedOpt,
    StepsOpt,
    TruncationOpt,
    say,
)
from genlab.errors import ConfigError
from genlab.generate.paths import GRID_MAX, N_MAX


def register(app: typer.Typer) -> None:
    for command in (sample, interpolate, control):
        app.command()(command)


def sample(
    run: Annotated[Path | None, typer.Argument(help="run folder")] = None,
    n: Annotated[int, typer.Option(help=f"number of images, 1..{N_MAX:,} (a grid PNG holds up "
                                   f"to {GRID_MAX}; more go to a folder or an .npz)")] = 64,
    seed: SeedOpt = 0,
    truncation: TruncationOpt = 1.0,
    label: Annotated[str | None, typer.Option(help="class index or name (conditional "
                                              "models)")] = None,
    checkpoint: Annotated[str, typer.Option(help="last or a step number")] = "last",
    out_path: Annotated[str | None, typer.Option(
        "--out", help=f"NAME.png: a grid of up to {GRID_MAX} images; NAME.npz: uint8 NCHW "
        "'images' (and 'labels' of conditional models); FOLDER/ or an empty folder: one PNG per "
        "image, named by index. Default: a new file in RUN/samples named by the options, "
        "e.g. sample-seed0-label-square-n8.png (-2, -3... rather than replace one)")] = None,
    no_ema: Annotated[bool, typer.Option("--no-ema", help="use the live, not averaged, "
                                         "weights")] = False,
    unet: Annotated[Path | None, typer.Option(help="a diffusers UNet2DModel folder to sample "
                                              "instead of a run")] = None,
    sampler: SamplerOpt = None, steps: StepsOpt = None, eta: EtaOpt = None, cfg: CfgOpt = None,
    precision: PrecisionOpt = None, guide: GuideOpt = None, guide_scale: GuideScaleOpt = None,
    clip: ClipOpt = None, clip_model: ClipModelOpt = None,
    prompt: Annotated[str | None, typer.Option(help="caption of every image (text-ldm runs; "
                                               "default: the run's grid prompts)")] = None,
) -> None:
    """Write samples of a trained run (or a diffusers UNet folder): a grid, a folder of PNGs
    or an .npz."""
    from genlab.generate.clip_models import load_clip
    from genlab.generate.guidance import sampling_options
    from genlab.generate.paths import check_sample_out, unused_path
    from genlab.generate.sample import save_samples
    from genlab.generate.translate import refuse_sampling
    from genlab.runs.load import load_run, load_unet_folder

    if (run is None) == (unet is None):
        raise ConfigError("pass a run folder or --unet FOLDER (one of them)")
    if run is not None:
        refuse_sampling(run)  # an image-to-image run: before any work
    target = out_path or unused_path((run / "samples" if run else Path(".")) / _default_name(
        seed=seed, label=label, n=n, truncation=truncation, sampler=sampler, steps=steps,
        cfg=cfg))
    replaced = Path(target).is_file()
    kind = check_sample_out(target, n)[1]  # before the slow part
    loaded = load_run(run, checkpoint, ema=not no_ema) if run else load_unet_folder(unet)
    clip_net = load_clip(clip, model=clip_model, device=loaded.device) if clip else None
    options = sampling_options(loaded, sampler=sampler, steps=steps, eta=eta, cfg=cfg,
                               guide=guide, guide_scale=guide_scale, clip=clip_net, prompt=prompt,
                               precision=precision)
    path = save_samples(loaded, target, n=n, seed=seed, label=label, truncation=truncation,
                        options=options, progress=True)
    note = ", replacing the file that was there" if replaced else ""
    say(f"wrote {path} ({n} images{note})" if kind == "grid"
        else f"wrote {n} images to {path}{note}")


def _default_name(*, seed: int, label: str | None, n: int, truncation: float,
                  sampler: str | None, steps: int | None, cfg: float | None) -> str:
    """sample-seedSEED plus the options that change what is drawn, so a second command with
    another --label (or --n, sampler...) does not land on the first one's file."""
    parts = [f"sample-seed{seed}"]
    if label is not None:
        parts.append("label-" + (re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-") or "x"))
    parts += [f"n{n}"] if n != 64 else []
    parts += [f"psi{truncation:g}"] if truncation != 1 else []
    parts += [sampler] if sampler else []
    parts += [f"steps{steps}"] if steps is not None else []
    parts += [f"cfg{cfg:g}"] if cfg is not None else []
    return "-".join(parts) + ".png"


def interpolate(
    run: Annotated[Path, typer.Argument(help="run folder")],
    steps: Annotated[int, typer.Option(help="frames per row, both ends included")] = 16,
    rows: Annotated[int, typer.Option(help="pairs of endpoints")] = 8,
    slerp: Annotated[bool, typer.Option("--slerp", help="spherical instead of linear")] = False,
    seed: SeedOpt = 0,
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder to write to")] = None,
) -> None:
    """Write a grid and a GIF that walk between random latents (and classes)."""
    from genlab.generate.interpolate import check_interpolation
    from genlab.generate.interpolate import interpolate as run_interpolation
    from genlab.generate.translate import refuse_sampling
    from genlab.runs.load import load_run

    refuse_sampling(run)  # an image-to-image run: before any work
    folder = check_interpolation(out_dir or run / "samples", steps=steps, rows=rows)
    png, gif = run_interpolation(load_run(run), folder, steps=steps, rows=rows, seed=seed,
                                 spherical=slerp, progress=True)
    say(f"wrote {png} and {gif}")


def control(
    run: Annotated[Path, typer.Argument(help="run folder of an unconditional generator")],
    target: Annotated[str, typer.Option(help="class index or name to steer toward")],
    steps: Annotated[int, typer.Option(help="optimisation steps on the noise vectors")] = 300,
    n: Annotated[int, typer.Option(help="noise vectors to steer")] = 64,
    lr: Annotated[float, typer.Option(help="Adam learning rate on z")] = 0.05,
    restarts: Annotated[int, typer.Option(help="times latents still below probability 0.5 "
                                          "are redrawn and optimised again")] = 2,
    seed: SeedOpt = 0,
    out_path: Annotated[Path | None, typer.Option("--out", help="PNG to write")] = None,
) -> None:
    """Steer a generator's noise toward a class with the judge's gradient (before/after grid)."""
    from genlab.evaluation.control import control_run
    from genlab.generate.translate import refuse_sampling

    refuse_sampling(run)  # an image-to-image run: before the judge loads
    if steps < 1 or n < 1 or restarts < 0 or lr <= 0:
        raise ConfigError("--steps and --n must be >= 1, --restarts >= 0 and --lr > 0")
    result, path = control_run(run, target, steps=steps, n=n, lr=lr, restarts=restarts,
                               seed=seed, out=out_path, progress=True)
    say(f"judge's mean probability of the target: {result.prob_before:.3f} before, "
        f"{result.prob_after:.3f} after; wrote {path}")

"""`genlab bench ...`: the benchmarks that write results pages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.common import ClipModelOpt, SeedOpt, SetOpt, say
from genlab.errors import ConfigError
from genlab.generate.defaults import CLIP_GUIDE_SCALE


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")


bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks that write results pages.")


@bench_app.command("gan")
def bench_gan_cmd(
    data: Annotated[str, typer.Option(help="labelled dataset")] = "fashion-mnist",
    minutes: Annotated[float, typer.Option(help="training minutes per method and seed")] = 10.0,
    seeds: Annotated[int, typer.Option(help="seeds per method")] = 3,
    n: Annotated[int, typer.Option(help="generated images per final evaluation")] = 10_000,
    methods: Annotated[str, typer.Option(help="comma-separated subset of gan, dcgan, wgan, "
                                         "wgan-gp, cdcgan, vae, ddpm")] =
    "gan,dcgan,wgan,wgan-gp,cdcgan",
    runs: Annotated[Path, typer.Option(help="where runs and raw results go")] = Path("runs"),
    out_dir: Annotated[Path, typer.Option("--out", help="folder of the results page")] =
    Path("docs/results"),
    set_: SetOpt = None,
    workers: Annotated[int, typer.Option(help="runs trained side by side (each gets an equal "
                                         "share of the CPU threads)")] = 1,
    clock: Annotated[str, typer.Option(help="budget clock: cpu (CPU seconds of each run's "
                                       "process; fair on a shared machine) or wall")] = "cpu",
    page_only: Annotated[bool, typer.Option(help="train nothing: write the page from the runs "
                                            "finished so far")] = False,
) -> None:
    """Train the GAN family for the same time budget each and write a results page."""
    from genlab.bench.gan import ALL_METHODS, bench_gan

    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    unknown = [m for m in chosen if m not in ALL_METHODS]
    if unknown or not chosen:
        raise ConfigError(f"unknown methods {unknown}: choose from {', '.join(ALL_METHODS)}")
    if minutes <= 0 or seeds < 1 or n < 10 or workers < 1 or clock not in ("cpu", "wall"):
        raise ConfigError("--minutes must be > 0, --seeds >= 1, --n >= 10, --workers >= 1 and "
                          "--clock cpu or wall")
    page = bench_gan(data=data, minutes=minutes, seeds=seeds, n=n, methods=chosen, runs=runs,
                     out=out_dir, overrides=list(set_ or []), workers=workers, clock=clock,
                     page_only=page_only)
    say(f"wrote {page}")


@bench_app.command("diffusion")
def bench_diffusion_cmd(
    data: Annotated[str, typer.Option(help="labelled dataset")] = "fashion-mnist",
    minutes: Annotated[float, typer.Option(help="training CPU-minutes of the DDPM")] = 10.0,
    n: Annotated[int, typer.Option(help="generated images per row")] = 200,
    config: Annotated[str, typer.Option(help="config under configs/ (class-conditional)")]
    = "ddpm-fashion",
    steps: Annotated[str, typer.Option(help="DDIM / DPM-Solver step counts")] = "10,20,50,100",
    dpm_steps: Annotated[str | None, typer.Option(help="DPM-Solver's step counts, if not "
                                                  "--steps")] = None,
    ddpm_steps: Annotated[int, typer.Option(help="steps of the full DDPM sampler")] = 1000,
    cfgs: Annotated[str, typer.Option(help="guidance scales of the CFG sweep")] = "0,1,3,5",
    runs: Annotated[Path, typer.Option(help="where the run goes")] = Path("runs"),
    out_dir: Annotated[Path, typer.Option("--out", help="folder of the results page")] =
    Path("docs/results"),
    set_: SetOpt = None,
) -> None:
    """Train a class-conditional DDPM, then compare samplers x steps and guidance scales."""
    from genlab.bench.diffusion import bench_diffusion

    try:
        fast = tuple(int(x) for x in steps.split(",") if x.strip())
        dpm = tuple(int(x) for x in (dpm_steps or steps).split(",") if x.strip())
        scales = tuple(float(x) for x in cfgs.split(",") if x.strip())
    except ValueError:
        raise ConfigError("--steps, --dpm-steps and --cfgs take comma-separated numbers, e.g. "
                          "10,20,50") from None
    if minutes <= 0 or n < 10 or ddpm_steps < 1 or not fast or not dpm or min(*fast, *dpm) < 1:
        raise ConfigError("--minutes must be > 0, --n >= 10 and every step count >= 1")
    page = bench_diffusion(data=data, minutes=minutes, n=n, config=config, full_steps=ddpm_steps,
                           fast_steps=fast, dpm_steps=dpm, cfg_scales=scales, runs=runs,
                           out=out_dir, overrides=list(set_ or []))
    say(f"wrote {page}")


@bench_app.command("image2image")
def bench_image2image_cmd(
    seeds: Annotated[int, typer.Option(help="seeds per run")] = 3,
    quick: Annotated[bool, typer.Option("--quick", help="a smoke test: tiny nets, steps and "
                                        "data, one seed (seconds, not results)")] = False,
    workers: Annotated[int | None, typer.Option(help="runs trained side by side (each gets "
                                                "an equal share of the CPU threads; default "
                                                "2, --quick 1)")] = None,
    runs: Annotated[Path, typer.Option(help="scratch folder for the run folders")] =
    Path("runs/bench-image2image"),
    out: Annotated[Path, typer.Option("--out", help="the results page (its grids and raw "
                                      "numbers go to a folder of the same name beside it)")] =
    Path("docs/results/image2image.md"),
) -> None:
    """Pix2Pix, CycleGAN and SRGAN on paired, unpaired and x4 tasks; the papers' claims."""
    from genlab.bench.image2image import bench_image2image

    workers = workers if workers is not None else 1 if quick else 2
    if seeds < 1 or workers < 1 or out.suffix != ".md":
        raise ConfigError("--seeds and --workers must be >= 1 and --out a .md file")
    page = bench_image2image(seeds=seeds, quick=quick, workers=workers, page=out, runs=runs)
    say(f"wrote {page}")


@bench_app.command("stylegan")
def bench_stylegan_cmd(
    minutes: Annotated[float, typer.Option(help="training CPU-minutes per run (every row "
                                           "and seed)")] = 10.0,
    seeds: Annotated[int, typer.Option(help="seeds per row")] = 3,
    n: Annotated[int, typer.Option(help="generated images per final evaluation")] = 5000,
    quick: Annotated[bool, typer.Option("--quick", help="a smoke test: tiny nets, budget, n "
                                        "and data, one seed (seconds, not results)")] = False,
    workers: Annotated[int | None, typer.Option(help="runs trained side by side (each gets "
                                                "an equal share of the CPU threads; default "
                                                "2, --quick 1)")] = None,
    runs: Annotated[Path, typer.Option(help="scratch folder for the run folders")] =
    Path("runs/bench-stylegan"),
    out: Annotated[Path, typer.Option("--out", help="the results page (its grids, plots and "
                                      "raw numbers go to a folder of the same name beside "
                                      "it)")] = Path("docs/results/stylegan.md"),
) -> None:
    """ProGAN (progressive vs fixed), StyleGAN (mixing, truncation in W) and DCGAN under one
    CPU budget per run; the papers' claims."""
    from genlab.bench.stylegan import bench_stylegan

    workers = workers if workers is not None else 1 if quick else 2
    if minutes <= 0 or seeds < 1 or n < 10 or workers < 1 or out.suffix != ".md":
        raise ConfigError("--minutes must be > 0, --seeds and --workers >= 1, --n >= 10 and "
                          "--out a .md file")
    page = bench_stylegan(minutes=minutes, seeds=seeds, n=n, workers=workers, quick=quick,
                          page=out, runs=runs)
    say(f"wrote {page}")


@bench_app.command("text2img")
def bench_text2img_cmd(
    clip: Annotated[Path, typer.Option(help="the benchmark's CLIP (steers and scores): a clip "
                                       "run folder or open_clip weights file")],
    vqgan: Annotated[Path, typer.Option(help="vqgan run folder or taming checkpoint")],
    diffusion: Annotated[Path | None, typer.Option(help="diffusion run for CLIP guidance "
                                                   "(row skipped without it)")] = None,
    ldm: Annotated[Path | None, typer.Option(help="text-conditioned LDM run (row skipped "
                                             "without it)")] = None,
    prompts: Annotated[int, typer.Option(help="held-out prompts, one image each")] = 50,
    seed: SeedOpt = 0,
    form: Annotated[str, typer.Option(help="prompt form: full ('a large red circle at the "
                                      "top left') or short ('a red circle')")] = "full",
    steps: Annotated[int | None, typer.Option(help="steps of every approach (default: "
                                              "VQGAN 300, diffusion 50, LDM 50)")] = None,
    vqgan_steps: Annotated[int | None, typer.Option(help="CLIP + VQGAN steps (default: "
                                                    "--steps)")] = None,
    cutouts: Annotated[int, typer.Option(help="CLIP + VQGAN crops per step")] = 32,
    vqgan_init: Annotated[str, typer.Option(help="CLIP + VQGAN start: random codes, or a "
                                            "black, grey or white canvas")] = "black",
    init_weight: Annotated[float, typer.Option(help="CLIP + VQGAN pull back toward the "
                                               "start")] = 1.0,
    guide_scale: Annotated[float, typer.Option(help="CLIP guidance strength")] = CLIP_GUIDE_SCALE,
    cfg: Annotated[float, typer.Option("--cfg", help="text LDM guidance scale")] = 3.0,
    clip_model: ClipModelOpt = None,
    device: Annotated[str, typer.Option(help="cpu, cuda or auto")] = "cpu",
    out_dir: Annotated[Path, typer.Option("--out", help="folder of the results page")] =
    Path("docs/results"),
) -> None:
    """Text-to-image approaches on held-out shapes prompts, read back by the shapes reader."""
    from genlab.bench.text2img import bench_text2img

    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device {device!r}: use cpu, cuda or auto")
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    page = bench_text2img(clip=clip, vqgan=vqgan, diffusion=diffusion, ldm=ldm, prompts=prompts,
                          seed=seed, form=form, steps=steps, vqgan_steps=vqgan_steps,
                          cutouts=cutouts,
                          vqgan_init=vqgan_init, init_weight=init_weight,
                          guide_scale=guide_scale, cfg=cfg, clip_model=clip_model,
                          device=device, out=out_dir)
    say(f"wrote {page}")

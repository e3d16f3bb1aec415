"""The `genlab` command line. It wires the layers together and holds no logic of its own."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from genlab.errors import ConfigError, GenlabError
from genlab.generate.defaults import CLIP_GUIDE_SCALE

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train, evaluate and sample generative image models.")
out = Console()
err = Console(stderr=True)

SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", "-s", help="override a config key: --set train.steps=500 (repeatable)")]
SeedOpt = Annotated[int, typer.Option(help="random seed: same seed, same result")]
# diffusion sampling (None: the run's own defaults)
SamplerOpt = Annotated[str | None, typer.Option(help="diffusion sampler: ddpm, ddim or dpm")]
StepsOpt = Annotated[int | None, typer.Option("--steps", help="diffusion sampling steps")]
EtaOpt = Annotated[float | None, typer.Option(help="DDIM eta (0: deterministic)")]
CfgOpt = Annotated[float | None, typer.Option("--cfg", help="classifier-free guidance scale")]
GuideOpt = Annotated[str | None, typer.Option(help="loss guidance, e.g. judge:CLASS")]
GuideScaleOpt = Annotated[float | None, typer.Option(help="strength of --guide")]
ClipOpt = Annotated[Path | None, typer.Option(help="CLIP of --guide clip:PROMPT: a clip run "
                                              "folder or a local open_clip weights file")]
ClipModelOpt = Annotated[str | None, typer.Option(help="open_clip architecture of a --clip "
                                                  "weights file (default ViT-B-32-quickgelu)")]


def _resume_config(run: Path, config: Path | None, overrides: list[str]) -> object:
    from genlab.config import apply_overrides, read_yaml
    from genlab.runs.config import load_config, validate_config
    from genlab.runs.folder import read_run

    run_dir, saved, _, _ = read_run(run)
    cfg = validate_config(apply_overrides(read_yaml(run_dir / "config.yaml"), overrides))
    if config is not None:
        given = load_config(config, overrides)
        for section in ("data", "method"):
            if getattr(given, section) != getattr(saved, section):
                raise ConfigError(f"{config} differs from {run_dir}'s config in '{section}': "
                                  "resume with the run's own config (omit CONFIG)")
    for section in ("data", "method", "seed"):
        if getattr(cfg, section) != getattr(saved, section):
            raise ConfigError(f"cannot change '{section}' when resuming: only train.* may "
                              "change (e.g. --set train.steps=4000)")
    return cfg


@app.command()
def train(
    config: Annotated[Path | None, typer.Argument(help="YAML config, e.g. configs/dcgan.yaml")]
    = None,
    set_: SetOpt = None,
    resume: Annotated[Path | None, typer.Option(help="continue this run folder exactly")] = None,
    init_from: Annotated[Path | None, typer.Option(help="start from this run's weights "
                                                   "(fine-tuning)")] = None,
    name: Annotated[str | None, typer.Option(help="run folder name (default: config name)")]
    = None,
    seed: Annotated[int | None, typer.Option(help="random seed (default: the config's)")] = None,
    steps: Annotated[int | None, typer.Option(help="shortcut for --set train.steps=N")] = None,
    precision: Annotated[str | None, typer.Option(help="fp32, bf16, fp16 or auto")] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda or auto")] = None,
    download: Annotated[bool, typer.Option("--download", help="let torchvision download "
                                           "the dataset (needs internet)")] = False,
    wandb: Annotated[bool, typer.Option("--wandb", help="also log to Weights & Biases")]
    = False,
) -> None:
    """Train a model; writes runs/<name>/ (config, checkpoints, logs, samples)."""
    from genlab.runs.config import load_config
    from genlab.runs.train import build_trainer

    overrides = list(set_ or [])
    for key, value in (("train.steps", steps), ("train.precision", precision),
                       ("train.device", device), ("seed", seed)):
        if value is not None:
            overrides.append(f"{key}={value}")
    if download:
        overrides.append("data.download=true")
    if wandb:
        overrides.append("train.wandb=true")
    if name is not None:
        overrides.append(f"name={name}")
    if resume is None and config is None:
        raise ConfigError("pass a config (e.g. genlab train configs/dcgan.yaml) or --resume RUN")
    cfg = (_resume_config(resume, config, overrides) if resume is not None
           else load_config(config, overrides))
    if init_from is not None and resume is not None:
        raise ConfigError("--init-from starts a new run; --resume continues one: pick one")
    trainer = build_trainer(cfg, resume=resume, init_from=init_from)  # type: ignore[arg-type]
    if cfg.train.eval_every and trainer.hw.is_main:  # type: ignore[attr-defined]
        from genlab.evaluation import training_evaluator

        trainer.evaluator = training_evaluator(cfg)  # type: ignore[arg-type]
    result = trainer.run()
    if result.run_dir is None:
        return
    if result.interrupted:
        err.print(f"interrupted at step {result.step}: checkpoint saved in {result.run_dir}; "
                  f"continue with: genlab train --resume {result.run_dir}", highlight=False)
        raise typer.Exit(130)
    out.print(f"done: {result.step} steps; samples in {result.run_dir / 'samples'}; "
              f"run folder: {result.run_dir}", highlight=False)


@app.command()
def sample(
    run: Annotated[Path | None, typer.Argument(help="run folder")] = None,
    n: Annotated[int, typer.Option(help="number of images")] = 64,
    seed: SeedOpt = 0,
    truncation: Annotated[float, typer.Option(help="truncation psi in (0, 1]")] = 1.0,
    label: Annotated[str | None, typer.Option(help="class index or name (conditional "
                                              "models)")] = None,
    checkpoint: Annotated[str, typer.Option(help="last or a step number")] = "last",
    out_path: Annotated[Path | None, typer.Option("--out", help="PNG to write")] = None,
    no_ema: Annotated[bool, typer.Option("--no-ema", help="use the live, not averaged, "
                                         "weights")] = False,
    unet: Annotated[Path | None, typer.Option(help="a diffusers UNet2DModel folder to sample "
                                              "instead of a run")] = None,
    sampler: SamplerOpt = None, steps: StepsOpt = None, eta: EtaOpt = None, cfg: CfgOpt = None,
    guide: GuideOpt = None, guide_scale: GuideScaleOpt = None,
    clip: ClipOpt = None, clip_model: ClipModelOpt = None,
    prompt: Annotated[str | None, typer.Option(help="caption of every image (text-ldm runs; "
                                               "default: the run's grid prompts)")] = None,
) -> None:
    """Write a grid of samples from a trained run (or a diffusers UNet folder)."""
    from genlab.generate.clip_models import load_clip
    from genlab.generate.guidance import sampling_options
    from genlab.generate.sample import sample_grid
    from genlab.runs.load import load_run, load_unet_folder

    if n < 1:
        raise ConfigError("--n must be at least 1")
    if (run is None) == (unet is None):
        raise ConfigError("pass a run folder or --unet FOLDER (one of them)")
    loaded = load_run(run, checkpoint, ema=not no_ema) if run else load_unet_folder(unet)
    clip_net = load_clip(clip, model=clip_model, device=loaded.device) if clip else None
    options = sampling_options(loaded, sampler=sampler, steps=steps, eta=eta, cfg=cfg,
                               guide=guide, guide_scale=guide_scale, clip=clip_net, prompt=prompt)
    path = out_path or (loaded.path / "samples" if run else Path(".")) / f"sample-seed{seed}.png"
    sample_grid(loaded, path, n=n, seed=seed, label=label, truncation=truncation,
                options=options)
    out.print(f"wrote {path}", highlight=False)


@app.command()
def interpolate(
    run: Annotated[Path, typer.Argument(help="run folder")],
    steps: Annotated[int, typer.Option(help="frames between the two ends")] = 16,
    rows: Annotated[int, typer.Option(help="pairs of endpoints")] = 8,
    slerp: Annotated[bool, typer.Option("--slerp", help="spherical instead of linear")] = False,
    seed: SeedOpt = 0,
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder to write to")] = None,
) -> None:
    """Write a grid and a GIF that walk between random latents (and classes)."""
    from genlab.generate.interpolate import interpolate as run_interpolation
    from genlab.runs.load import load_run

    if steps < 2 or rows < 1:
        raise ConfigError("--steps must be at least 2 and --rows at least 1")
    loaded = load_run(run)
    png, gif = run_interpolation(loaded, out_dir or loaded.path / "samples", steps=steps,
                                 rows=rows, seed=seed, spherical=slerp)
    out.print(f"wrote {png} and {gif}", highlight=False)


@app.command("eval")
def evaluate(
    run: Annotated[Path, typer.Argument(help="run folder")],
    n: Annotated[int, typer.Option(help="generated images (and real ones, where there are "
                                   "enough)")] = 10_000,
    checkpoint: Annotated[str, typer.Option(help="last, best or a step number")] = "last",
    features: Annotated[str, typer.Option(help="feature space: judge (trained by genlab on "
                                          "the run's data) or inception")] = "judge",
    inception_weights: Annotated[Path | None, typer.Option(
        help="torch-fidelity's weights-inception-2015-12-05-6726825d.pth")] = None,
    seed: SeedOpt = 0,
    no_ema: Annotated[bool, typer.Option("--no-ema", help="use the live, not averaged, "
                                         "weights")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder for eval.json and "
                                                 "report.md")] = None,
    sampler: SamplerOpt = None, steps: StepsOpt = None, eta: EtaOpt = None, cfg: CfgOpt = None,
    guide: GuideOpt = None, guide_scale: GuideScaleOpt = None,
) -> None:
    """Evaluate a run: FID, KID, IS, precision/recall, coverage, classes; with the floor."""
    from genlab.evaluation import evaluate_run

    if n < 10:
        raise ConfigError("--n must be at least 10")
    results, report = evaluate_run(run, n=n, checkpoint=checkpoint, features=features,
                                   inception_weights=inception_weights, seed=seed,
                                   ema=not no_ema, out_dir=out_dir,
                                   sampling=dict(sampler=sampler, steps=steps, eta=eta, cfg=cfg,
                                                 guide=guide, guide_scale=guide_scale))
    shown = {k: results[k] for k in ("fid", "kid", "is", "precision", "recall", "coverage",
                                     "classes_covered", "cond_acc") if k in results}
    out.print(" ".join(f"{k}={v:.4g}" for k, v in shown.items()), highlight=False)
    out.print(f"wrote {report} ({results['seconds']:.1f} s)", highlight=False)


@app.command("clip-eval")
def clip_eval(
    run: Annotated[Path, typer.Argument(help="run folder of a clip run")],
    n: Annotated[int, typer.Option(help="held-out test images")] = 2000,
    prompts: Annotated[str | None, typer.Option(help="shapes runs: zero-shot classes "
                                                "shape_colour (default), shape or colour")]
    = None,
    checkpoint: Annotated[str, typer.Option(help="last or a step number")] = "last",
) -> None:
    """Zero-shot accuracy and image-text retrieval recall of a CLIP run on held-out data."""
    from genlab.evaluation_clip import clip_eval_run

    if n < 10:
        raise ConfigError("--n must be at least 10")
    results, path = clip_eval_run(run, n=n, prompts=prompts, checkpoint=checkpoint)
    table = Table("metric", "value")
    for key in ("zero_shot_acc", "chance", "i2t_r1", "i2t_r5", "t2i_r1", "t2i_r5"):
        if key in results:
            table.add_row(key, f"{results[key]:.4f}")
    for key in ("prompts", "classes", "captions", "n", "step"):
        if key in results:
            table.add_row(key, str(results[key]))
    out.print(table)
    out.print(f"wrote {path} ({results['seconds']:.1f} s)", highlight=False)


@app.command()
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
    from genlab.evaluation import control_run

    if steps < 1 or n < 1 or restarts < 0 or lr <= 0:
        raise ConfigError("--steps and --n must be >= 1, --restarts >= 0 and --lr > 0")
    result, path = control_run(run, target, steps=steps, n=n, lr=lr, restarts=restarts,
                               seed=seed, out=out_path)
    out.print(f"judge's mean probability of the target: {result.prob_before:.3f} before, "
              f"{result.prob_after:.3f} after; wrote {path}", highlight=False)


judge_app = typer.Typer(no_args_is_help=True, help="Judges: classifiers genlab trains on real "
                        "data to measure generated images in their feature space.")
app.add_typer(judge_app, name="judge")


@judge_app.command("train")
def judge_train(
    data: Annotated[str, typer.Option(help="dataset name (see genlab datasets)")] = "shapes",
    set_: SetOpt = None,
    epochs: Annotated[int | None, typer.Option(help="epochs (default: per dataset)")] = None,
    seed: SeedOpt = 0,
) -> None:
    """Train (or retrain) the judge of a dataset and report its test accuracy."""
    from genlab.metrics.judge import train_judge
    from genlab.runs.config import load_config

    cfg = load_config(None, [f"data.name={data}", *(set_ or [])])
    judge = train_judge(cfg.data, seed=seed, epochs=epochs)
    out.print(f"judge for {data} at {judge.image_size}px: test accuracy "
              f"{judge.test_accuracy:.4f}; saved in {judge.path}", highlight=False)


bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks that write results pages.")
app.add_typer(bench_app, name="bench")


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
    from genlab.bench import ALL_METHODS, bench_gan

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
    out.print(f"wrote {page}", highlight=False)


@bench_app.command("diffusion")
def bench_diffusion_cmd(
    data: Annotated[str, typer.Option(help="labelled dataset")] = "fashion-mnist",
    minutes: Annotated[float, typer.Option(help="training CPU-minutes of the DDPM")] = 10.0,
    n: Annotated[int, typer.Option(help="generated images per row")] = 200,
    config: Annotated[str, typer.Option(help="config under configs/ (class-conditional)")]
    = "ddpm-fashion",
    steps: Annotated[str, typer.Option(help="DDIM / DPM-Solver step counts")] = "10,20,50,100",
    ddpm_steps: Annotated[int, typer.Option(help="steps of the full DDPM sampler")] = 1000,
    cfgs: Annotated[str, typer.Option(help="guidance scales of the CFG sweep")] = "0,1,3,5",
    runs: Annotated[Path, typer.Option(help="where the run goes")] = Path("runs"),
    out_dir: Annotated[Path, typer.Option("--out", help="folder of the results page")] =
    Path("docs/results"),
    set_: SetOpt = None,
) -> None:
    """Train a class-conditional DDPM, then compare samplers x steps and guidance scales."""
    from genlab.bench_diffusion import bench_diffusion

    try:
        fast = tuple(int(x) for x in steps.split(",") if x.strip())
        scales = tuple(float(x) for x in cfgs.split(",") if x.strip())
    except ValueError:
        raise ConfigError("--steps and --cfgs take comma-separated numbers, e.g. 10,20,50") \
            from None
    if minutes <= 0 or n < 10 or ddpm_steps < 1 or not fast or min(fast) < 1:
        raise ConfigError("--minutes must be > 0, --n >= 10 and every step count >= 1")
    page = bench_diffusion(data=data, minutes=minutes, n=n, config=config, full_steps=ddpm_steps,
                           fast_steps=fast, cfg_scales=scales, runs=runs, out=out_dir,
                           overrides=list(set_ or []))
    out.print(f"wrote {page}", highlight=False)


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
    from genlab.bench_text2img import bench_text2img

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
    out.print(f"wrote {page}", highlight=False)


@app.command()
def datasets(
    root: Annotated[str | None, typer.Option(help="folder to look in for dataset files")]
    = None,
) -> None:
    """List every dataset and whether it is available on this machine."""
    from genlab.data import dataset_status

    table = Table("dataset", "available", "where / how to get it")
    for row in dataset_status(root):
        table.add_row(row.name, "yes" if row.available else "no", row.detail)
    out.print(table)


@app.command()
def info(run: Annotated[Path, typer.Argument(help="run folder")]) -> None:
    """Show a run's config, data, checkpoints and latest logged numbers."""
    from genlab.engine.checkpoint import checkpoint_step, list_checkpoints
    from genlab.engine.tracking import METRICS, read_metrics
    from genlab.runs.folder import read_run

    run_dir, cfg, data, meta = read_run(run)
    ckpts = list_checkpoints(run_dir / "checkpoints")
    records = read_metrics(run_dir / METRICS)
    out.print(f"[bold]{run_dir}[/]  genlab {meta.get('genlab_version')}  method "
              f"{cfg.method.name} ({getattr(cfg.method, 'arch', '')}, "
              f"{getattr(cfg.method, 'loss', '')})", highlight=False)
    out.print(f"data: {cfg.data.name} {data.channels}x{data.image_size}x{data.image_size}, "
              f"{data.num_classes} classes", highlight=False)
    steps = ", ".join(str(checkpoint_step(p)) for p in ckpts) or "none"
    out.print(f"checkpoints at steps: {steps} (of {cfg.train.steps})", highlight=False)
    if records:
        last = {k: v for k, v in records[-1].items() if k != "time"}
        out.print("last log: " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                          for k, v in last.items()), highlight=False)


@app.command("config")
def show_config(
    config: Annotated[Path | None, typer.Argument(help="YAML config (default: defaults)")]
    = None,
    set_: SetOpt = None,
    keys: Annotated[bool, typer.Option("--keys", help="list every key with its meaning")]
    = False,
) -> None:
    """Print a resolved config, or every key with its description."""
    from genlab.runs.config import dump_config, load_config

    if keys:  # the keys of the config's method (--set method.name=ddpm shows another's)
        for key, desc in _describe_fields(load_config(config, list(set_ or []))):
            out.print(f"[bold]{key}[/]: {desc}", highlight=False)
        return
    out.print(dump_config(load_config(config, list(set_ or []))), highlight=False)


def _describe_fields(model: BaseModel, prefix: str = "") -> list[tuple[str, str]]:
    rows = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            rows.extend(_describe_fields(value, f"{prefix}{name}."))
        else:
            rows.append((f"{prefix}{name}", f"{field.description or ''} (default "
                                             f"{field.get_default(call_default_factory=True)!r})"))
    return rows


def _show_warning(message: Warning | str, category: type[Warning], *args: object,
                  **kwargs: object) -> None:
    err.print(f"warning: {message}", highlight=False, markup=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors print one line and exit 2, never a traceback."""
    import warnings

    warnings.showwarning = _show_warning  # one line per warning, no source echo
    try:
        code = app(args=argv, standalone_mode=False)
    except GenlabError as error:
        err.print(f"error: {error}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        err.print("interrupted", highlight=False)
        sys.exit(130)
    except Exception as exc:
        # usage errors: click's own, or the copy of click that typer >= 0.20 vendors
        if callable(getattr(exc, "show", None)) and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(2)
        raise
    if isinstance(code, int) and code:
        sys.exit(code)


import genlab.cli_text  # noqa: E402,F401  (registers text2img)
import genlab.cli_text_edit  # noqa: E402,F401  (registers edit)
from genlab import cli_edit  # noqa: E402,F401  (registers img2img, inpaint, reconstruct, export)

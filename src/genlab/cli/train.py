"""`genlab train`: a new run from a config or preset, or `--resume` of a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.common import SetOpt, err, out
from genlab.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command()(train)


def train(
    config: Annotated[str | None, typer.Argument(help="YAML config or preset name, e.g. "
                                                 "configs/dcgan.yaml or dcgan "
                                                 "(genlab config --list)")] = None,
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
    from genlab.runs.train import build_trainer, resume_config

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
        raise ConfigError("pass a config (e.g. genlab train dcgan) or --resume RUN")
    cfg = (resume_config(resume, config, overrides) if resume is not None
           else load_config(config, overrides))
    trainer = build_trainer(cfg, resume=resume, init_from=init_from)
    if cfg.train.eval_every and trainer.hw.is_main:
        from genlab.evaluation.run import training_evaluator

        trainer.evaluator = training_evaluator(cfg)
    result = trainer.run()
    if result.run_dir is None:
        return
    if result.interrupted:
        err.print(f"interrupted at step {result.step}: checkpoint saved in {result.run_dir}; "
                  f"continue with: genlab train --resume {result.run_dir}", highlight=False,
                  markup=False, soft_wrap=True)
        raise typer.Exit(130)
    samples = result.run_dir / "samples"  # methods that make no images (CLIP) have none
    where = f"samples in {samples}; " if samples.is_dir() else ""
    out.print(f"done: {result.step} steps; {where}run folder: {result.run_dir}",
              highlight=False, markup=False, soft_wrap=True)

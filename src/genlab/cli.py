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

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train, evaluate and sample generative image models.")
out = Console()
err = Console(stderr=True)

SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", "-s", help="override a config key: --set train.steps=500 (repeatable)")]
SeedOpt = Annotated[int, typer.Option(help="random seed: same seed, same result")]


def _resume_config(run: Path, config: Path | None, overrides: list[str]) -> object:
    from genlab.config import apply_overrides, load_config, read_yaml, validate_config
    from genlab.engine.run_dir import read_run

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
    from genlab.config import load_config
    from genlab.engine.trainer import Trainer

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
    result = Trainer(cfg, resume=resume).run()  # type: ignore[arg-type]
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
    run: Annotated[Path, typer.Argument(help="run folder")],
    n: Annotated[int, typer.Option(help="number of images")] = 64,
    seed: SeedOpt = 0,
    truncation: Annotated[float, typer.Option(help="truncation psi in (0, 1]")] = 1.0,
    label: Annotated[str | None, typer.Option(help="class index or name (conditional "
                                              "models)")] = None,
    checkpoint: Annotated[str, typer.Option(help="last or a step number")] = "last",
    out_path: Annotated[Path | None, typer.Option("--out", help="PNG to write")] = None,
    no_ema: Annotated[bool, typer.Option("--no-ema", help="use the live, not averaged, "
                                         "weights")] = False,
) -> None:
    """Write a grid of samples from a trained run."""
    from genlab.generate import load_run, sample_grid

    if n < 1:
        raise ConfigError("--n must be at least 1")
    loaded = load_run(run, checkpoint, ema=not no_ema)
    path = out_path or loaded.path / "samples" / f"sample-seed{seed}.png"
    sample_grid(loaded, path, n=n, seed=seed, label=label, truncation=truncation)
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
    from genlab.generate import interpolate as run_interpolation
    from genlab.generate import load_run

    if steps < 2 or rows < 1:
        raise ConfigError("--steps must be at least 2 and --rows at least 1")
    loaded = load_run(run)
    png, gif = run_interpolation(loaded, out_dir or loaded.path / "samples", steps=steps,
                                 rows=rows, seed=seed, spherical=slerp)
    out.print(f"wrote {png} and {gif}", highlight=False)


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
    from genlab.engine.run_dir import read_run
    from genlab.engine.tracking import METRICS, read_metrics

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
    from genlab.config import RunConfig, dump_config, load_config

    if keys:
        for key, desc in _describe_fields(RunConfig):
            out.print(f"[bold]{key}[/]: {desc}", highlight=False)
        return
    out.print(dump_config(load_config(config, list(set_ or []))), highlight=False)


def _describe_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    rows = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows.extend(_describe_fields(ann, f"{prefix}{name}."))
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
    except KeyboardInterrupt:
        err.print("interrupted", highlight=False)
        sys.exit(130)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(2)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        raise
    if isinstance(code, int) and code:
        sys.exit(code)

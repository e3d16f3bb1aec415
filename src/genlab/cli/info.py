"""Looking around: datasets, info on a run, configs and presets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.table import Table
from rich.text import Text

from genlab.cli.common import SetOpt, out, say


def register(app: typer.Typer) -> None:
    app.command()(datasets)
    app.command()(info)
    app.command("config")(show_config)


def datasets(
    root: Annotated[str | None, typer.Option(help="folder to look in for dataset files")]
    = None,
) -> None:
    """List every dataset and whether it is available on this machine."""
    from genlab.data import dataset_status

    table = Table("dataset", "available", "where / how to get it")
    for row in dataset_status(root):
        table.add_row(row.name, "yes" if row.available else "no", Text(row.detail))  # paths
    out.print(table)


def info(run: Annotated[Path, typer.Argument(help="run folder")]) -> None:
    """Show a run's config, data, checkpoints and latest logged numbers."""
    from genlab.engine.checkpoint import checkpoint_step, list_checkpoints
    from genlab.engine.tracking import METRICS, read_metrics
    from genlab.runs.folder import read_run

    run_dir, cfg, data, meta = read_run(run)
    ckpts = list_checkpoints(run_dir / "checkpoints")
    records = read_metrics(run_dir / METRICS)
    # Text, not markup: a folder named "x[red]" is shown as it is
    out.print(Text.assemble((str(run_dir), "bold"), f"  genlab {meta.get('genlab_version')}  "
                            f"method {cfg.method.name}"), highlight=False, soft_wrap=True)
    say(f"data: {cfg.data.name} {data.channels}x{data.image_size}x{data.image_size}, "
        f"{data.num_classes} classes")
    for section in ("method", "data", "train"):  # the config: what differs from the defaults
        say(f"config {section}: {_changed(getattr(cfg, section)) or 'defaults'}")
    say(f"full config: {run_dir / 'config.yaml'}")
    steps = ", ".join(str(checkpoint_step(p)) for p in ckpts) or "none"
    say(f"checkpoints at steps: {steps} (of {cfg.train.steps})")
    if records:
        last = {k: v for k, v in records[-1].items() if k != "time"}
        say("last log: " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                    for k, v in last.items()))


def _changed(section: BaseModel) -> str:
    """`key=value` for each field of a config section that differs from its default."""
    items = []
    for name, field in type(section).model_fields.items():
        value = getattr(section, name)
        if isinstance(value, BaseModel):
            inner = _changed(value)
            items += [f"{name}.{item}" for item in inner.split(", ") if inner]
        elif value != field.get_default(call_default_factory=True):
            items.append(f"{name}={value}")
    return ", ".join(items)


def show_config(
    config: Annotated[str | None, typer.Argument(help="YAML config or preset name (default: "
                                                 "the defaults)")] = None,
    set_: SetOpt = None,
    keys: Annotated[bool, typer.Option("--keys", help="list every key with its meaning")]
    = False,
    list_: Annotated[bool, typer.Option("--list", help="list the shipped presets")] = False,
) -> None:
    """Print a resolved config, every key with its description, or the presets."""
    from genlab.runs.config import dump_config, load_config

    if list_:
        _list_presets()
        return
    if keys:  # the keys of the config's method (--set method.name=ddpm shows another's)
        for key, desc in _describe_fields(load_config(config, list(set_ or []))):
            # Text, not markup: a description may say "pip install genlab[wandb]"
            out.print(Text.assemble((key, "bold"), f": {desc}"), highlight=False)
        return
    say(dump_config(load_config(config, list(set_ or []))))


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


def _list_presets() -> None:
    """Each preset with its method and data: `genlab train NAME` trains it."""
    from genlab.config import PRESETS, preset_names
    from genlab.runs.config import load_config

    table = Table("preset", "method", "data", "steps", title=Text(f"presets (in {PRESETS})"))
    for name in preset_names():
        cfg = load_config(name)
        table.add_row(name, cfg.method.name, cfg.data.name, str(cfg.train.steps))
    out.print(table)

"""From a config to a trainer: load the data, build the method, fill its pretrained parts
(other runs, the data's judge, `--init-from`), and hand the built objects to the engine."""

from __future__ import annotations

from pathlib import Path

import torch

from genlab.config import apply_overrides, read_yaml
from genlab.data import ImageData
from genlab.engine.checkpoint import list_checkpoints
from genlab.engine.hardware import Hardware, resolve_device, resolve_precision
from genlab.engine.progress import console
from genlab.engine.trainer import Evaluator, Trainer, TrainResult
from genlab.errors import ConfigError
from genlab.methods.base import DataInfo
from genlab.methods.registry import build_method, method_class
from genlab.runs.config import RunConfig, load_config, validate_config
from genlab.runs.folder import CONFIG, read_run, run_files
from genlab.runs.pretrained import init_from as init_from_run
from genlab.runs.pretrained import load_pretrained, resolve_pretrained


def data_info(data: ImageData) -> DataInfo:
    """The data facts a method is built from (saved in run.json: sampling needs no data)."""
    return DataInfo(channels=data.channels, image_size=data.image_size,
                    num_classes=data.num_classes if data.labels is not None else 0,
                    class_names=list(data.class_names), input_channels=data.input_channels,
                    input_size=data.input_size, paired=data.paired, domains=list(data.domains))


def build_trainer(cfg: RunConfig, *, resume: Path | None = None,
                  init_from: Path | None = None, evaluator: Evaluator | None = None,
                  show_progress: bool = True) -> Trainer:
    """A trainer for a new run (or for `resume`, a run folder to continue exactly)."""
    if init_from is not None and resume is not None:
        raise ConfigError("--init-from starts a new run; --resume continues one: pick one")
    device = resolve_device(cfg.train.device)
    precision = resolve_precision(cfg.train.precision, device)
    hw = Hardware(device)
    data = cfg.data.load("train", seed=cfg.seed)
    info = data_info(data)
    method_class(cfg.method.name).check_data(info)  # before a judge or pretrained run loads
    # a run stopped before its first checkpoint resumes from step 0, built like a new one
    fresh = resume is None or not list_checkpoints(Path(resume) / "checkpoints")
    if resume is not None and fresh and show_progress and hw.is_main:
        console.print(f"{resume} has no checkpoint yet: training it from step 0",
                      highlight=False, markup=False, soft_wrap=True)
    pretrained = resolve_pretrained(cfg, show_progress and hw.is_main) if fresh else {}
    torch.manual_seed(cfg.seed)  # same initial weights on every rank
    method = build_method(cfg.method, info).to(hw.device)
    load_pretrained(method, pretrained)
    if fresh:
        method.load_initial_weights()
    report = init_from_run(method, init_from) if init_from else None
    trainer = Trainer(method, data, cfg.train, seed=cfg.seed, name=cfg.name or "run", hw=hw,
                      precision=precision, run_files=lambda: run_files(cfg, info),
                      hparams=cfg.model_dump(mode="json"),
                      resume=resume, evaluator=evaluator, show_progress=show_progress)
    if report is not None and trainer.run_dir is not None:
        report.write(trainer.run_dir / "init_from.json")
        if show_progress:
            console.print(report.summary(), highlight=False, markup=False, soft_wrap=True)
    return trainer


def train(cfg: RunConfig, *, resume: Path | None = None, init_from: Path | None = None,
          evaluator: Evaluator | None = None, show_progress: bool = True) -> TrainResult:
    """Train a run to the end of its config's `train.steps` (or budget); see `build_trainer`."""
    trainer = build_trainer(cfg, resume=resume, init_from=init_from, evaluator=evaluator,
                            show_progress=show_progress)
    return trainer.run()


def resume_config(run: Path, config: Path | str | None, overrides: list[str]) -> RunConfig:
    """The config to continue `run` with: its own, with `train.*` overrides only."""
    run_dir, saved, _, _ = read_run(run)
    cfg = validate_config(apply_overrides(read_yaml(run_dir / CONFIG), overrides))
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

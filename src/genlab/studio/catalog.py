"""What the Runs tab shows of a run folder, read and never written: its method, data and
steps, the latest losses, the loss series from metrics.jsonl, the sample grids the trainer
wrote over time, and its evaluations (eval.json, report.md). A run that is training is read
the same way: each refresh reads the files again."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab.engine.checkpoint import checkpoint_step, list_checkpoints
from genlab.engine.plots import SKIP
from genlab.engine.run_dir import LOCK
from genlab.engine.tracking import METRICS, read_metrics
from genlab.methods.registry import METHODS
from genlab.runs.folder import read_run
from genlab.studio.guard import list_runs, resolve_run

_STEP_GRID = re.compile(r"step-(\d+)\.png$")


@dataclass
class RunView:
    """One run as the page shows it."""

    name: str
    method: str
    data: str
    shape: str  # C x H x W
    classes: list[str]
    steps_done: int  # the last checkpoint's step (0: none yet)
    steps_planned: int
    last_log: dict[str, float] = field(default_factory=dict)
    conditional: bool = False
    generative: bool = True  # samples from noise (the Sample tab)
    translates: bool = False  # maps images to images (the Translate tab)

    def markdown(self) -> str:
        kind = ("image-to-image" if self.translates else
                "generates images" if self.generative else "makes no images")
        classes = ", ".join(self.classes) or "none"
        classes += " (conditional)" if self.conditional else ""
        losses = " · ".join(f"{k} {v:.4g}" for k, v in self.last_log.items()) or "none yet"
        return (f"**{self.name}**: {self.method} on {self.data} ({self.shape}), {kind}  \n"
                f"classes: {classes}  \n"
                f"steps: {self.steps_done:,} of {self.steps_planned:,} (last checkpoint)  \n"
                f"last losses: {losses}")


def run_view(run_dir: Path, name: str) -> RunView:
    """The facts of a run from its config, run.json, checkpoints and metrics.jsonl (no
    weights are loaded)."""
    _, cfg, info, _ = read_run(run_dir)
    cls = METHODS[cfg.method.name]
    ckpts = list_checkpoints(run_dir / "checkpoints")
    records = read_metrics(run_dir / METRICS)
    last = {k: v for k, v in (records[-1] if records else {}).items()
            if k not in SKIP and isinstance(v, (int, float))}
    return RunView(
        name=name, method=cfg.method.name, data=cfg.data.name,
        shape=f"{info.channels} x {info.image_size} x {info.image_size}",
        classes=list(info.class_names),
        steps_done=checkpoint_step(ckpts[-1]) if ckpts else 0,
        steps_planned=cfg.train.steps, last_log=last,
        conditional=bool(getattr(cfg.method, "conditional", False)),
        generative=cls.generative, translates=cls.translates)


def method_of(runs_dir: Path, name: str) -> type:
    """The method class of a run, read from its config (no weights loaded); for a run that
    is damaged or gone since it was listed, NoneType: no method is a subclass of it."""
    from genlab.errors import GenlabError

    try:
        _, cfg, _, _ = read_run(resolve_run(runs_dir, name))
        return METHODS[cfg.method.name]
    except (GenlabError, OSError, ValueError, KeyError):
        return type(None)


def runs_of(runs_dir: Path, kind: type) -> list[str]:
    """The runs under `runs_dir` whose method is `kind` or builds on it (the check load_clip
    and load_vqgan make), so a new method that subclasses it is listed too."""
    return [name for name in list_runs(runs_dir) if issubclass(method_of(runs_dir, name), kind)]


def training_now(run_dir: Path) -> bool:
    """Whether a process holds the run's lock file (it trains now). Read only: the lock is
    tried on a descriptor opened for reading, so no file is made or changed."""
    import fcntl

    path = run_dir / LOCK
    try:
        with open(path, "rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(f, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def loss_rows(run_dir: Path, limit: int = 2000) -> list[dict[str, Any]]:
    """metrics.jsonl as long rows (step, value, series) for a line plot: every loss-like
    number, thinned to about `limit` points per series so a long run stays quick to draw."""
    records = [r for r in read_metrics(run_dir / METRICS) if isinstance(r.get("step"), int)]
    every = max(1, len(records) // limit)
    rows = []
    for i, record in enumerate(records):
        if i % every and i != len(records) - 1:
            continue
        for key, value in record.items():
            if key not in SKIP and isinstance(value, (int, float)) and value == value:
                rows.append({"step": record["step"], "value": float(value), "series": key})
    return rows


def sample_grids(run_dir: Path) -> list[tuple[Path, str]]:
    """The grids the trainer wrote (samples/step-NNNNNNN.png, then final.png), oldest first,
    each with its caption. Grids written by `genlab sample` are not training progress."""
    folder = run_dir / "samples"
    if not folder.is_dir():
        return []
    grids = sorted((int(m.group(1)), p) for p in folder.iterdir()
                   if (m := _STEP_GRID.match(p.name)) and p.is_file())
    found = [(p, f"step {step:,}") for step, p in grids]
    if (folder / "final.png").is_file():
        found.append((folder / "final.png", "final"))
    return [(p, caption) for p, caption in found if _inside(p, run_dir)]


def evaluations(run_dir: Path) -> list[tuple[str, dict[str, Any], str, Path | None]]:
    """Each eval/<name>/ with eval.json: (name, its numbers, report.md's text, samples.png),
    newest step first."""
    folder = run_dir / "eval"
    if not folder.is_dir():
        return []
    found = []
    for sub in sorted(folder.iterdir(), reverse=True):
        numbers_file = sub / "eval.json"
        if not (sub.is_dir() and numbers_file.is_file() and _inside(sub, run_dir)):
            continue
        try:
            numbers = json.loads(numbers_file.read_text())
        except (OSError, ValueError):
            continue  # being written, or damaged: the next refresh reads it again
        report = sub / "report.md"
        text = report.read_text() if report.is_file() and _inside(report, run_dir) else ""
        samples = sub / "samples.png"
        found.append((sub.name, numbers, text,
                      samples if samples.is_file() and _inside(samples, run_dir) else None))
    return found


def _inside(path: Path, run_dir: Path) -> bool:
    """A file a run holds, not a link to somewhere else."""
    return path.resolve().is_relative_to(run_dir.resolve())

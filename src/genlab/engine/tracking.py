"""Where numbers go: metrics.jsonl always, TensorBoard by default, W&B on request."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from PIL import Image

from genlab.errors import ConfigError

METRICS = "metrics.jsonl"


def truncate_metrics(path: Path, after_step: int) -> None:
    """Drop lines logged after `after_step` (a resumed run replays those steps)."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= after_step]
    path.write_text("".join(line + "\n" for line in keep))


def finite_or_none(value: Any) -> Any:
    """JSON has no NaN: a non-finite number is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The logged records. A last line without its newline is being written by a run that
    trains right now (`genlab info`, the studio): it is left for the next read."""
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.splitlines()
    if lines and not text.endswith("\n"):
        lines.pop()
    return [json.loads(line) for line in lines if line.strip()]


def require_wandb() -> Any:
    """The wandb module, or a one-line error saying how to get it (checked before a run
    folder is made, so a retry does not land in NAME-2)."""
    try:
        import wandb as wandb_lib
    except ImportError:
        raise ConfigError("train.wandb=true needs W&B: pip install 'genlab[wandb]' (or drop "
                          "--wandb)") from None
    return wandb_lib


class Tracker:
    def __init__(self, run_dir: Path, *, tensorboard: bool, wandb: bool, project: str,
                 config: dict[str, Any], resume_step: int = 0) -> None:
        self.run_dir = run_dir
        truncate_metrics(run_dir / METRICS, resume_step)
        self._jsonl = (run_dir / METRICS).open("a")
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(run_dir / "tb"), purge_step=resume_step or None)
        self._wandb = None
        if wandb:
            wandb_lib = require_wandb()
            self._wandb = wandb_lib.init(project=project, name=run_dir.name, config=config,
                                         dir=str(run_dir), resume="allow", id=run_dir.name)

    def log(self, step: int, scalars: dict[str, float]) -> None:
        """One line of metrics.jsonl (NaN and infinities become null: the file stays JSON)."""
        record = {"step": step, "time": round(time.time(), 3),
                  **{k: finite_or_none(v) for k, v in scalars.items()}}
        self._jsonl.write(json.dumps(record, allow_nan=False) + "\n")
        self._jsonl.flush()
        if self._tb is not None:
            for key, value in scalars.items():
                if isinstance(value, (int, float)):
                    self._tb.add_scalar(key, value, step)
        if self._wandb is not None:
            self._wandb.log(scalars, step=step)

    def rewind(self, step: int) -> None:
        """Forget lines logged after `step` (a rollback replays those steps)."""
        self._jsonl.close()
        truncate_metrics(self.run_dir / METRICS, step)
        self._jsonl = (self.run_dir / METRICS).open("a")

    def log_image(self, step: int, tag: str, image: Image.Image) -> None:
        if self._tb is not None:
            import numpy as np

            self._tb.add_image(tag, np.asarray(image.convert("RGB")), step, dataformats="HWC")
        if self._wandb is not None:
            import wandb as wandb_lib

            self._wandb.log({tag: wandb_lib.Image(image)}, step=step)

    def close(self) -> None:
        """Idempotent: the trainer closes on every way out of a run."""
        if self._jsonl.closed:
            return
        self._jsonl.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()

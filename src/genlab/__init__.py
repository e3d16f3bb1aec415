"""genlab: train, evaluate and sample generative image models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from genlab.generate.load import LoadedRun


def load_run(path: Any, checkpoint: str = "last", *, ema: bool = True,
             device: str = "cpu") -> LoadedRun:
    """Load a run folder for sampling (see genlab.generate.load_run)."""
    from genlab.generate.load import load_run as _load_run

    return _load_run(path, checkpoint, ema=ema, device=device)


def train(config: Any, overrides: list[str] | None = None, **kwargs: Any) -> Any:
    """Train from a YAML path (or a RunConfig) and return the TrainResult."""
    from genlab.config import RunConfig, load_config
    from genlab.engine.trainer import Trainer

    cfg = config if isinstance(config, RunConfig) else load_config(config, overrides)
    return Trainer(cfg, **kwargs).run()

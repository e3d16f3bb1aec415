"""genlab: train, evaluate and sample generative image models.

The Python API: `genlab.train(config)` and `genlab.load_run(path)` (both from `genlab.runs`);
`genlab.translate_images(run, inputs, out_dir)` for image-to-image runs (`genlab.generate`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genlab.version import __version__

if TYPE_CHECKING:
    from genlab.engine.trainer import TrainResult
    from genlab.generate.translate import Translation
    from genlab.runs.load import LoadedRun

__all__ = ["__version__", "load_run", "train", "translate_images"]


def load_run(path: Any, checkpoint: str = "last", *, ema: bool = True,
             device: str = "cpu") -> LoadedRun:
    """Load a run folder for sampling, with no training code (see genlab.runs.load)."""
    from genlab.runs.load import load_run as _load_run

    return _load_run(path, checkpoint, ema=ema, device=device)


def train(config: Any, overrides: list[str] | None = None, **kwargs: Any) -> TrainResult:
    """Train from a YAML path or preset name (or a RunConfig) and return the TrainResult;
    keyword arguments as `genlab.runs.train.train` (resume, init_from, evaluator...)."""
    from genlab.runs.config import RunConfig, load_config
    from genlab.runs.train import train as _train

    cfg = config if isinstance(config, RunConfig) else load_config(config, overrides)
    return _train(cfg, **kwargs)


def translate_images(run: Any, inputs: Any, out_dir: Any, *, direction: str = "AtoB",
                     **kwargs: Any) -> Translation:
    """Translate image files and folders with an image-to-image run (a run folder or a
    LoadedRun) into one PNG per input in out_dir; keyword arguments as
    `genlab.generate.translate.translate_images` (seed, grid, checkpoint, device...)."""
    from genlab.generate.translate import translate_images as _translate_images

    return _translate_images(run, inputs, out_dir, direction=direction, **kwargs)

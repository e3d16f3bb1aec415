"""`genlab control`: steer an unconditional run's latent noise toward a class the judge recognises,
and save the samples before (top rows) and after (bottom rows)."""

from __future__ import annotations

from pathlib import Path

from genlab.errors import ConfigError
from genlab.generate.control import Steered, steer
from genlab.generate.paths import check_png_out, unused_path
from genlab.images import save_grid
from genlab.methods.diffusion import DDPM
from genlab.runs.load import load_run


def control_run(run: str | Path, target: str, *, steps: int = 100, n: int = 64,
                lr: float = 0.05, restarts: int = 0, seed: int = 0,
                out: Path | None = None, progress: bool = False) -> tuple[Steered, Path]:
    """`progress`: bars on stderr (the judge's training, if it has none yet, and the steps)."""
    from genlab.metrics.judge import load_judge

    out = check_png_out(out) if out is not None else None  # before the slow part
    loaded = load_run(run)
    if loaded.conditional:
        raise ConfigError(f"{loaded.path} is a conditional model: ask for a class with "
                          "`genlab sample --label` instead of steering its noise")
    if isinstance(loaded.method, DDPM):
        raise ConfigError("diffusion runs are steered while sampling: use `genlab sample "
                          f"{loaded.path} --guide judge:{target}`")
    judge = load_judge(loaded.cfg.data, progress=progress)
    index = judge.class_index(target, "target")
    result = steer(loaded.method, judge.classifier(loaded.device), index, n=n, steps=steps,
                   lr=lr, restarts=restarts, seed=seed, progress=progress)
    import torch

    path = out or unused_path(loaded.path / "samples" / f"control-{index}.png")
    rows = 8
    grid = torch.cat([result.before[:rows * 4], result.after[:rows * 4]])
    save_grid(grid, path, nrow=rows)
    return result, path

"""Evaluation workflows that join generation and metrics: `genlab eval`, `genlab control` and
the evaluator the trainer calls every `train.eval_every` steps."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from genlab.errors import ConfigError
from genlab.generate.control import Steered, steer
from genlab.generate.sample import generate_images
from genlab.images import save_grid
from genlab.methods.base import Method
from genlab.methods.diffusion import DDPM
from genlab.metrics.evaluate import Evaluator, headline
from genlab.metrics.report import write_report
from genlab.runs.config import RunConfig
from genlab.runs.load import load_run


def evaluate_run(run: str | Path, *, n: int = 10_000, checkpoint: str = "last",
                 features: str = "judge", inception_weights: str | Path | None = None,
                 seed: int = 0, ema: bool = True, truncation: float = 1.0,
                 out_dir: Path | None = None, evaluator: Evaluator | None = None,
                 sampling: dict[str, Any] | None = None) -> tuple[dict[str, Any], Path]:
    """Generate n images from a run's checkpoint, measure them, write eval.json + report.md.
    `sampling`: options of diffusion runs (sampler, steps, eta, cfg, guide, guide_scale)."""
    from genlab.generate.guidance import sampling_options

    t0 = time.perf_counter()
    loaded = load_run(run, checkpoint, ema=ema)
    options = sampling_options(loaded, **(sampling or {}))
    ev = evaluator or Evaluator(loaded.cfg.data, n=n, seed=seed, features=features,
                                inception_weights=inception_weights)
    images, labels = generate_images(loaded.method, n, seed=seed, truncation=truncation,
                                     options=options)
    results = ev.evaluate(images, labels)
    floor = ev.floor()
    results["seconds"] = time.perf_counter() - t0
    suffix = "" if features == "judge" else f"-{features}"
    out = out_dir or loaded.path / "eval" / f"step-{loaded.step:07d}{suffix}"
    save_grid(images[:64], out / "samples.png", nrow=8)
    protocol = {"n_generated": n, **ev.protocol(), "checkpoint": checkpoint,
                "step": loaded.step, "weights": "EMA" if ema else "live",
                "truncation": truncation, "seed": seed,
                **{k: v for k, v in (sampling or {}).items() if v is not None}}
    _, report = write_report(out, title=f"Evaluation of {loaded.path.name}", results=results,
                             floor=floor, protocol=protocol, class_names=ev.class_names,
                             samples_png="samples.png")
    return results, report


def training_evaluator(cfg: RunConfig, seed: int = 0) -> Any:
    """The callable the trainer runs every train.eval_every steps: judge FID & co."""
    ev = Evaluator(cfg.data, n=cfg.train.eval_n, seed=seed, progress=False)
    n = cfg.train.eval_n

    def run(method: Method, step: int) -> dict[str, float]:
        images, labels = generate_images(method, n, seed=seed)
        return headline(ev.evaluate(images, labels))

    return run


def control_run(run: str | Path, target: str, *, steps: int = 100, n: int = 64,
                lr: float = 0.05, restarts: int = 0, seed: int = 0,
                out: Path | None = None) -> tuple[Steered, Path]:
    from genlab.metrics.judge import load_judge

    loaded = load_run(run)
    if loaded.conditional:
        raise ConfigError(f"{loaded.path} is a conditional model: ask for a class with "
                          "`genlab sample --label` instead of steering its noise")
    if isinstance(loaded.method, DDPM):
        raise ConfigError("diffusion runs are steered while sampling: use `genlab sample "
                          f"{loaded.path} --guide judge:{target}`")
    judge = load_judge(loaded.cfg.data)
    index = judge.class_index(target, "target")
    result = steer(loaded.method, judge.classifier(loaded.device), index, n=n, steps=steps,
                   lr=lr, restarts=restarts, seed=seed)
    import torch

    path = out or loaded.path / "samples" / f"control-{index}.png"
    rows = 8
    grid = torch.cat([result.before[:rows * 4], result.after[:rows * 4]])
    save_grid(grid, path, nrow=rows)
    return result, path


def reconstruction_grid(run: str | Path, *, n: int = 32, seed: int = 0,
                        out: Path | None = None) -> Path:
    """Test images in odd rows, their VAE reconstructions in the rows below."""
    import torch

    from genlab.images import to_float

    loaded = load_run(run)
    if not hasattr(loaded.method, "reconstruct"):
        raise ConfigError(f"{loaded.path} is a {loaded.cfg.method.name} run: reconstructions "
                          "need a vae run")
    data = loaded.cfg.data.load("test", seed=loaded.cfg.seed)
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(data.images), generator=gen)[:n]
    real = to_float(data.images[pick]).to(loaded.device)
    with torch.no_grad():
        recon = loaded.method.reconstruct(real)
    rows = 8
    pairs = [torch.cat([real[i:i + rows], recon[i:i + rows]]) for i in range(0, len(real), rows)]
    path = out or loaded.path / "samples" / "reconstructions.png"
    return save_grid(torch.cat(pairs), path, nrow=min(rows, len(real)))

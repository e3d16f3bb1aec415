"""`genlab eval` and the evaluator the trainer calls every `train.eval_every` steps: generate
from a run, measure the samples against the real test split with the data's judge."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genlab.errors import ConfigError
from genlab.generate.sample import generate_images
from genlab.images import save_grid
from genlab.methods.base import Method
from genlab.metrics.evaluate import Evaluator, headline
from genlab.metrics.report import write_report
from genlab.runs.config import RunConfig
from genlab.runs.load import load_run


def evaluate_run(run: str | Path, *, n: int = 10_000, checkpoint: str = "last",
                 features: str = "judge", inception_weights: str | Path | None = None,
                 seed: int = 0, ema: bool = True, truncation: float = 1.0,
                 out_dir: Path | None = None, evaluator: Evaluator | None = None,
                 sampling: dict[str, Any] | None = None,
                 progress: bool = False,
                 on_progress: Callable[[str], None] | None = None,
                 ) -> tuple[dict[str, Any], Path]:
    """Generate n images from a run's checkpoint, measure them, write eval.json + report.md.
    `sampling`: options of diffusion runs (sampler, steps, eta, cfg, guide, guide_scale,
    precision).
    `progress`: bars on stderr for each long part: the judge's training (when the data has
    none yet), featurising the real images, generating, featurising the samples and the
    floor's real images. `on_progress(part)`: called as each part starts, with a line that
    names it (the studio's progress on its page; the command line passes none)."""
    from genlab.generate.guidance import sampling_options
    from genlab.sampling import check_truncation

    tell = on_progress or (lambda part: None)
    t0 = time.perf_counter()
    tell("loading the run's checkpoint")
    loaded = load_run(run, checkpoint, ema=ema)
    if loaded.method.translates:  # input images to images: measured against their targets
        from genlab.evaluation.image2image import check_translation_options, evaluate_translation

        check_translation_options(features)
        tell(f"translating up to {n:,} test images and measuring them against their targets")
        return evaluate_translation(loaded, n=n, seed=seed, checkpoint=checkpoint, ema=ema,
                                    out_dir=out_dir, progress=progress)
    if not loaded.method.generative:  # before a judge is trained or any image is read
        raise ConfigError(f"{loaded.path} is a {loaded.cfg.method.name} run, which makes no "
                          "images: measure it with genlab clip-eval")
    options = sampling_options(loaded, **(sampling or {}))
    check_truncation(truncation, loaded.method.truncatable, loaded.cfg.method.name)
    tell("the judge and the real images' features")
    ev = evaluator or Evaluator(loaded.cfg.data, n=n, seed=seed, features=features,
                                inception_weights=inception_weights, progress=progress)
    tell(f"generating {n:,} images")
    images, labels = generate_images(loaded.method, n, seed=seed, truncation=truncation,
                                     options=options, progress=progress)
    tell("measuring the generated images")
    results = ev.evaluate(images, labels, progress=progress)
    tell("the floor: real train images against real test images")
    floor = ev.floor(progress=progress)
    results["seconds"] = time.perf_counter() - t0
    suffix = "" if features == "judge" else f"-{features}"
    out = out_dir or loaded.path / "eval" / f"step-{loaded.step:07d}{suffix}"
    tell("writing eval.json, report.md and samples.png")
    save_grid(images[:64], out / "samples.png", nrow=8)
    protocol = {"n_generated": n, **ev.protocol(), "checkpoint": checkpoint,
                "step": loaded.step, "weights": "EMA" if ema else "live",
                "truncation": truncation, "seed": seed,
                **{k: v for k, v in (sampling or {}).items()
                   if v is not None and k != "precision"},  # recorded as unet_precision
                **_unet_precision(options or loaded.method.default_sampling())}
    _, report = write_report(out, title=f"Evaluation of {loaded.path.name}", results=results,
                             floor=floor, protocol=protocol, class_names=ev.class_names,
                             samples_png="samples.png")
    return results, report


def training_evaluator(cfg: RunConfig, seed: int = 0) -> Any:
    """The callable the trainer runs every train.eval_every steps: judge FID & co. (for
    image-to-image runs: their metrics against the test targets)."""
    from genlab.methods.registry import method_class

    if method_class(cfg.method.name).translates:
        from genlab.evaluation.image2image import TranslationEvaluator

        return TranslationEvaluator(cfg.data, n=cfg.train.eval_n, seed=seed, data_seed=cfg.seed)
    ev = Evaluator(cfg.data, n=cfg.train.eval_n, seed=seed, progress=False)
    n = cfg.train.eval_n

    def run(method: Method, step: int) -> dict[str, float]:
        images, labels = generate_images(method, n, seed=seed)
        return headline(ev.evaluate(images, labels))

    return run


def _unet_precision(options: Any) -> dict[str, str]:
    """The arithmetic a diffusion run's UNet sampled in (nothing for other runs)."""
    precision = getattr(options, "precision", None)
    return {"unet_precision": precision} if precision else {}

"""Measuring runs: eval (FID & co. with the floor), clip-eval, and the judges they use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from genlab.cli.common import (
    CfgOpt,
    EtaOpt,
    GuideOpt,
    GuideScaleOpt,
    PrecisionOpt,
    SamplerOpt,
    SeedOpt,
    SetOpt,
    StepsOpt,
    TruncationOpt,
    out,
    say,
)
from genlab.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
    app.command("clip-eval")(clip_eval)
    app.add_typer(judge_app, name="judge")


def evaluate(
    run: Annotated[Path, typer.Argument(help="run folder")],
    n: Annotated[int, typer.Option(help="generated images (and real ones, where there are "
                                   "enough)")] = 10_000,
    checkpoint: Annotated[str, typer.Option(help="last, best or a step number")] = "last",
    features: Annotated[str, typer.Option(help="feature space: judge (trained by genlab on "
                                          "the run's data) or inception")] = "judge",
    inception_weights: Annotated[Path | None, typer.Option(
        help="torch-fidelity's weights-inception-2015-12-05-6726825d.pth")] = None,
    seed: SeedOpt = 0,
    truncation: TruncationOpt = 1.0,
    no_ema: Annotated[bool, typer.Option("--no-ema", help="use the live, not averaged, "
                                         "weights")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder for eval.json and "
                                                 "report.md")] = None,
    sampler: SamplerOpt = None, steps: StepsOpt = None, eta: EtaOpt = None, cfg: CfgOpt = None,
    precision: PrecisionOpt = None,
    guide: GuideOpt = None, guide_scale: GuideScaleOpt = None,
) -> None:
    """Evaluate a run: FID, KID, IS, precision/recall, coverage, classes; with the floor."""
    from genlab.evaluation.run import evaluate_run
    from genlab.generate.paths import check_folder_out

    if n < 10:
        raise ConfigError("--n must be at least 10")
    if out_dir is not None:
        check_folder_out(out_dir, writes="eval.json, report.md and samples.png")
    results, report = evaluate_run(run, n=n, checkpoint=checkpoint, features=features,
                                   inception_weights=inception_weights, seed=seed,
                                   ema=not no_ema, truncation=truncation, out_dir=out_dir,
                                   sampling=dict(sampler=sampler, steps=steps, eta=eta, cfg=cfg,
                                                 guide=guide, guide_scale=guide_scale,
                                                 precision=precision),
                                   progress=True)
    shown = {k: results[k] for k in ("fid", "kid", "is", "precision", "recall", "coverage",
                                     "classes_covered", "cond_acc",  # image-to-image runs:
                                     "l1", "psnr", "ssim", "sharpness", "target_acc",
                                     "cycle_l1", "colour_kept", "position_kept", "shape_acc",
                                     "colour_acc")
             if isinstance(results.get(k), int | float)}
    say(" ".join(f"{k}={v:.4g}" for k, v in shown.items()))
    say(f"wrote {report} ({results['seconds']:.1f} s)")


def clip_eval(
    run: Annotated[Path, typer.Argument(help="run folder of a clip run")],
    n: Annotated[int, typer.Option(help="held-out test images")] = 2000,
    prompts: Annotated[str | None, typer.Option(help="shapes runs: zero-shot classes "
                                                "shape_colour (default), shape or colour")]
    = None,
    checkpoint: Annotated[str, typer.Option(help="last or a step number")] = "last",
) -> None:
    """Zero-shot accuracy and image-text retrieval recall of a CLIP run on held-out data."""
    from genlab.evaluation.clip import clip_eval_run

    if n < 10:
        raise ConfigError("--n must be at least 10")
    results, path = clip_eval_run(run, n=n, prompts=prompts, checkpoint=checkpoint)
    table = Table("metric", "value")
    for key in ("zero_shot_acc", "chance", "i2t_r1", "i2t_r5", "t2i_r1", "t2i_r5"):
        if key in results:
            table.add_row(key, f"{results[key]:.4f}")
    for key in ("prompts", "classes", "captions", "n", "step"):
        if key in results:
            table.add_row(key, Text(str(results[key])))  # prompts are text, not markup
    out.print(table)
    say(f"wrote {path} ({results['seconds']:.1f} s)")


judge_app = typer.Typer(no_args_is_help=True, help="Judges: classifiers genlab trains on real "
                        "data to measure generated images in their feature space.")


@judge_app.command("train")
def judge_train(
    data: Annotated[str, typer.Option(help="dataset name (see genlab datasets)")] = "shapes",
    set_: SetOpt = None,
    epochs: Annotated[int | None, typer.Option(help="epochs (default: per dataset)")] = None,
    seed: SeedOpt = 0,
) -> None:
    """Train (or retrain) the judge of a dataset and report its test accuracy."""
    from genlab.metrics.judge import train_judge
    from genlab.runs.config import load_config

    cfg = load_config(None, [f"data.name={data}", *(set_ or [])])
    judge = train_judge(cfg.data, seed=seed, epochs=epochs)
    say(f"judge for {data} at {judge.image_size}px: test accuracy "
        f"{judge.test_accuracy:.4f}; saved in {judge.path}")

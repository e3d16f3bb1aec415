"""`genlab bench gan`: the GAN family under one time budget, judged by one protocol.

Each (method, seed) trains for the same number of minutes of training-step time, is evaluated
on n samples of its EMA generator against the real test split, and its numbers and sample grid
are kept beside the page in `<out>/gan-<data>/raw/<method>-s<seed>.json` and
`<out>/gan-<data>/samples-<method>-s<seed>.png`: small files that are committed with the page,
so an interrupted benchmark resumes where it stopped (on a machine of the same kind) and the page is
always written from every finished run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab.bench.common import (
    GAN_METHODS,
    FidCurve,
    done_with,
    machine_id,
    pinned_judge,
    preset_path,
)
from genlab.bench.gan_page import rewrite_gan_page
from genlab.engine.progress import console
from genlab.engine.trainer import sampling
from genlab.files import write_json
from genlab.generate.sample import generate_images
from genlab.images import class_rows, save_grid
from genlab.metrics.evaluate import Evaluator, headline
from genlab.runs.config import load_config
from genlab.runs.train import build_trainer

# Other families measured by the same protocol: bench name -> (config, overrides). The DDPM
# samples with DDIM-20 and no guidance, and gets no FID-vs-time curve: sampling 2k images at
# each point would cost more than its training.
OTHER_METHODS = {"vae": ("vae", []),
                 "ddpm": ("ddpm-fashion", ["method.sample_steps=20", "method.cfg=1.0"])}
ALL_METHODS = (*GAN_METHODS, *OTHER_METHODS)
PSIS = (0.25, 0.5, 0.75, 1.0)


def run_one(method: str, seed: int, *, data: str, minutes: float, final: Evaluator,
            curve: Evaluator, runs: Path, assets: Path, progress: bool,
            overrides: list[str] | None = None, clock: str = "cpu") -> dict[str, Any]:
    config, extra = OTHER_METHODS.get(method, (method, []))
    cfg = load_config(preset_path(config), [*extra,
        f"data.name={data}", f"seed={seed}", "train.steps=100000000",
        f"train.max_minutes={minutes}", f"train.budget_clock={clock}", "train.eval_every=20",
        f"train.eval_n={curve.n}",
        "train.sample_every=0", "train.ckpt_every=0", "train.keep_last=1",
        f"train.out_dir={runs}", f"name={method}-s{seed}", *(overrides or [])])
    trainer = build_trainer(cfg, show_progress=progress)
    hook = FidCurve(curve, every_s=minutes * 60 / 8 if method != "ddpm" else float("inf"))
    hook.trainer = trainer
    trainer.evaluator = hook
    if trainer.run().interrupted:  # stopped early (Ctrl-C, SIGTERM): never a result row
        raise KeyboardInterrupt(f"{method} seed {seed} was stopped before its budget")
    with sampling(trainer.method, trainer.ema) as m:
        images, labels = generate_images(m, final.n, seed=0)
    results = final.evaluate(images, labels)
    per_step = cfg.train.batch_size * trainer.method.batches_per_step
    results["images_per_s"] = trainer.step * per_step / max(trainer.train_seconds, 1e-9)
    results["steps"] = trainer.step
    results["train_seconds"] = trainer.train_seconds
    results["curve"] = hook.points
    grid_labels, nrow = class_rows(64, trainer.method.num_classes)
    with sampling(trainer.method, trainer.ema) as m:
        grid = generate_images(m, len(grid_labels) if grid_labels is not None else 64, seed=2,
                               labels=grid_labels)[0]
    results["grid"] = save_grid(grid, assets / f"samples-{method}-s{seed}.png", nrow=nrow).name
    if method == "dcgan":
        results["truncation"] = {}
        for psi in PSIS:
            with sampling(trainer.method, trainer.ema) as m:
                imgs, labs = generate_images(m, final.n, seed=0, truncation=psi)
            r = final.evaluate(imgs, labs)
            results["truncation"][str(psi)] = {k: r[k] for k in ("fid", "precision", "recall")}
    return results


_EVALUATORS: dict[tuple[Any, int], tuple[Evaluator, Evaluator]] = {}


def _evaluators(data_cfg: Any, n: int, progress: bool) -> tuple[Evaluator, Evaluator]:
    """The final and curve evaluators, built once per process (they hold the real features)."""
    key = (data_cfg.model_dump_json(), n)
    if key not in _EVALUATORS:
        _EVALUATORS[key] = (Evaluator(data_cfg, n=n, progress=progress),
                            Evaluator(data_cfg, n=min(n, 2000), progress=progress))
    return _EVALUATORS[key]


def _job(method: str, seed: int, *, data_cfg: Any, n: int, threads: int | None,
         progress: bool, raw: Path, judge: str, **kwargs: Any) -> Path:
    """One (method, seed): train, evaluate, write its raw JSON. Runs in a worker or in-process."""
    if threads:
        torch.set_num_threads(threads)
    final, curve = _evaluators(data_cfg, n, progress)
    result = run_one(method, seed, final=final, curve=curve, progress=progress, **kwargs)
    result["threads"] = torch.get_num_threads()
    result["judge"] = judge
    result["clock"] = kwargs["clock"]
    result["machine"] = machine_id()
    path = raw / f"{method}-s{seed}.json"
    write_json(path, result)
    return path


def bench_gan(*, data: str = "fashion-mnist", minutes: float = 10.0, seeds: int = 3,
              n: int = 10_000, methods: tuple[str, ...] = GAN_METHODS,
              runs: Path = Path("runs"), out: Path = Path("docs/results"),
              progress: bool = True, overrides: list[str] | None = None,
              workers: int = 1, clock: str = "cpu", page_only: bool = False) -> Path:
    """Run what is not done yet (nothing with `page_only`) and write the page. `overrides`
    (`--set` items) apply to every run's config; the evaluators use the resulting data
    section. With `workers` > 1, that many runs train side by side in separate processes,
    sharing the CPU threads equally. `clock`
    counts the budget in CPU seconds of each run's process (fair when other work shares the
    machine) or in wall seconds."""
    overrides = list(overrides or [])
    data_cfg = load_config(None, [f"data.name={data}", *overrides]).data
    assets = out / f"gan-{data}"
    raw = assets / "raw"
    judge = pinned_judge(out, data_cfg, progress)
    pending = []
    for seed in range(seeds):  # seeds outermost: an interrupted bench has whole seeds done
        for method in methods:
            if done_with(raw / f"{method}-s{seed}.json", judge, clock=clock,
                         machine=machine_id()):
                console.print(f"{method} seed {seed}: done earlier", highlight=False)
            else:
                pending.append((method, seed))
    missing = [f"{m}-s{s}" for m, s in pending] if page_only else []
    pending = [] if page_only else pending
    threads = max(1, torch.get_num_threads() // workers) if workers > 1 else None
    common = dict(data_cfg=data_cfg, n=n, threads=threads, raw=raw, judge=judge, data=data,
                  minutes=minutes, clock=clock,
                  runs=runs / f"bench-gan-{data}", assets=assets, overrides=overrides)
    if workers > 1 and pending:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        console.print(f"{len(pending)} runs of {minutes} min, {workers} at a time "
                      f"({threads} thread(s) each)", highlight=False)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_job, m, s, progress=False, **common): (m, s)
                       for m, s in pending}
            for future in as_completed(futures):
                m, s = futures[future]
                console.print(f"{m} seed {s}: done ({future.result()})", highlight=False)
    for method, seed in pending if workers <= 1 else ():
        console.print(f"[bold]{method}[/] seed {seed}: {minutes} min", highlight=False)
        _job(method, seed, progress=progress, **common)
    final = _evaluators(data_cfg, n, progress)[0]
    protocol = {"data": data, **({"overrides": " ".join(overrides)} if overrides else {}),
                "seeds": seeds, "n": n, "n_real": final.n_real, "minutes": minutes,
                "clock": clock,
                **final.protocol(), "judge": judge, "floor": headline(final.floor()),
                "machine": machine_id(),
                "workers": workers, "threads_per_run": threads or torch.get_num_threads(),
                **({"missing": missing} if missing else {})}
    write_json(raw / "protocol.json", protocol)
    return rewrite_gan_page(out, data)  # the page from the files alone, as anyone can redo it

"""`genlab bench image2image`: Pix2Pix, CycleGAN and SRGAN trained from their presets for a
fixed number of steps per task, 3 seeds each, measured on the test split and judged claim by
claim (`image2image_page`).

Runs train `--workers` at a time (processes sharing the CPU threads equally; an SRGAN starts
once its seed's SRResNet is done). Each finished run leaves
`<page folder>/<page name>/raw/<task>-<variant>-s<seed>.json`: its numbers and a hash of what
made them (config, evaluation, judge); a rerun on the same machine skips the runs whose hash
matches, so an interrupted benchmark resumes. Run folders go to a scratch folder (`--runs`).
"""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import Future, as_completed
from pathlib import Path
from typing import Any

import torch

from genlab.bench.common import (
    config_hash,
    done_row,
    judge_folder,
    machine_id,
    preset_path,
    quick_threads,
    threads_per_worker,
    worker_pool,
    write_quick_fashion,
)
from genlab.bench.image2image_page import write_image2image_page
from genlab.bench.image2image_tasks import (
    BUDGET_MINUTES,
    EVAL_N,
    QUICK_FASHION,
    QUICK_N,
    QUICK_SHAPES,
    QUICK_STEPS,
    TASKS,
    Job,
    Task,
    slug,
    starts_from_srresnet,
)
from genlab.data.config import DataConfig
from genlab.engine.progress import console
from genlab.engine.trainer import sampling
from genlab.evaluation.image2image import TranslationEvaluator
from genlab.files import write_json
from genlab.images import save_grid
from genlab.methods.registry import method_class
from genlab.metrics.judge import Judge, judge_digest, pin_judge
from genlab.runs.config import RunConfig, load_config
from genlab.runs.train import build_trainer

_TASK = {t.key: t for t in TASKS}


class _Bench:
    """What one benchmark process shares across its runs: evaluators, judge, folders."""

    def __init__(self, page: Path, runs: Path, quick: bool, fashion_root: Path | None,
                 progress: bool) -> None:
        self.page, self.runs, self.quick, self.progress = page, runs, quick, progress
        self.assets = page.parent / page.stem
        self.raw = self.assets / "raw"
        self.n = QUICK_N if quick else EVAL_N
        self.fashion_root = fashion_root
        self.judge: Judge | None = None
        self.judge_id = "none"
        self._evaluators: dict[tuple[str, int], TranslationEvaluator] = {}

    def fashion_judge(self) -> Judge:
        """The pinned Fashion-MNIST judge (the one the GAN page used), loaded once."""
        if self.judge is None:
            plain = DataConfig(name="fashion-mnist")
            self.judge = pin_judge(plain, judge_folder(self.page.parent, plain),
                                   progress=self.progress)
            self.judge_id = judge_digest(self.judge)
        return self.judge

    def config(self, task: Task, variant: str, seed: int) -> RunConfig:
        overrides = [*task.overrides, *task.variants[variant]]
        steps = QUICK_STEPS if self.quick else task.steps
        name = load_config(preset_path(task.preset), overrides).method.name
        if name == "cyclegan":  # the paper's schedule within this run: constant, then decay
            overrides += [f"method.decay_start={steps // 2}",
                          f"method.decay_steps={steps - steps // 2}"]
        if self.quick:
            set_by_variant = {o.split("=", 1)[0] for o in overrides}
            tiny = method_class(name).tiny
            overrides += [f"method.{k}={json.dumps(v)}" for k, v in tiny.items()
                          if f"method.{k}" not in set_by_variant]
            overrides += list(task.quick)
        cfg = load_config(preset_path(task.preset), overrides)
        extra = [f"seed={seed}", f"train.steps={steps}", "train.sample_every=0",
                 "train.ckpt_every=0", "train.keep_last=1", "train.eval_every=0",
                 "train.tensorboard=false", "train.budget_clock=cpu",
                 f"train.out_dir={self.runs}", f"name={task.key}-{slug(variant)}-s{seed}"]
        if self.quick:
            extra += (QUICK_SHAPES if cfg.data.name == "shapes" else
                      [f"data.root={self.fashion_root}"] if cfg.data.name == "fashion-mnist"
                      else [])
        return load_config(preset_path(task.preset), overrides + extra)

    def evaluator(self, data_cfg: DataConfig, seed: int) -> TranslationEvaluator:
        key = (data_cfg.model_dump_json(), seed)
        if key not in self._evaluators:
            judge = self.fashion_judge() if data_cfg.name == "fashion-mnist" else False
            self._evaluators[key] = TranslationEvaluator(data_cfg, n=self.n, seed=seed,
                                                         judge=judge, progress=self.progress)
        return self._evaluators[key]

    def lookup(self, job: Job, init_hash: str) -> tuple[str, dict[str, Any] | None]:
        """The run's hash and its finished row, if one with that hash exists."""
        task, variant, seed = _TASK[job[0]], job[1], job[2]
        cfg = self.config(task, variant, seed)
        judge = judge_digest(self.fashion_judge()) if cfg.data.name == "fashion-mnist" \
            else "reader"
        digest = config_hash(cfg, n=self.n, judge=judge, init_from=init_hash)
        row = done_row(self.raw / f"{task.key}-{slug(variant)}-s{seed}.json", digest)
        # an SRResNet is redone when its SRGAN, not done yet, needs its deleted run folder
        if row is not None and variant == "srresnet" and \
                not Path(row.get("run_dir", "")).joinpath("checkpoints").is_dir() and \
                any(self.lookup(("sr", v, seed), digest)[1] is None for v in task.variants
                    if starts_from_srresnet(("sr", v, seed))):
            return digest, None
        return digest, row

    def run(self, job: Job, digest: str, init_from: Path | None) -> dict[str, Any]:
        """Train and measure one run; write and return its row."""
        task, variant, seed = _TASK[job[0]], job[1], job[2]
        cfg = self.config(task, variant, seed)
        stale = self.runs / str(cfg.name)  # an unfinished earlier attempt: start it again
        if stale.exists():
            shutil.rmtree(stale)
        trainer = build_trainer(cfg, init_from=init_from, show_progress=self.progress)
        if trainer.run().interrupted:  # stopped early (Ctrl-C): never a result row
            raise KeyboardInterrupt(f"{task.key} {variant} seed {seed} was stopped")
        start = time.process_time()
        ev = self.evaluator(cfg.data, seed)
        with sampling(trainer.method, trainer.ema) as method:
            metrics = ev.measure(method)
            grid = None
            if seed == 0:
                images, columns = ev.grid(method)
                name = f"{task.key}-{slug(variant)}.png"
                grid = save_grid(images, self.assets / name, nrow=columns, upscale=2).name
        row = {"task": task.key, "variant": variant, "seed": seed, "hash": digest,
               "machine": machine_id(), "metrics": metrics, "steps": trainer.step,
               "train_seconds": trainer.train_seconds,
               "eval_seconds": time.process_time() - start, "grid": grid,
               "run_dir": str(trainer.run_dir), "threads": torch.get_num_threads()}
        write_json(self.raw / f"{task.key}-{slug(variant)}-s{seed}.json", row)
        return row


_BENCHES: dict[tuple[Any, ...], _Bench] = {}  # one per process and benchmark


def _work(spec: tuple[Any, ...], threads: int | None, job: Job, digest: str,
          init_from: Path | None) -> dict[str, Any]:
    """One run, in a worker process or in-process."""
    if threads:
        torch.set_num_threads(threads)
    if spec not in _BENCHES:
        _BENCHES[spec] = _Bench(*spec, progress=False)
    return _BENCHES[spec].run(job, digest, init_from)


def _run_all(bench: _Bench, spec: tuple[Any, ...], seeds: int,
             workers: int) -> dict[Job, dict[str, Any]]:
    """Every job's row: finished ones read back, the others trained (SRGAN after its seed's
    SRResNet, which it starts from)."""
    rows: dict[Job, dict[str, Any]] = {}
    threads = threads_per_worker(workers)
    jobs = [(t.key, v, s) for s in range(seeds) for t in TASKS for v in t.variants]
    with worker_pool(workers) as pool:
        futures: dict[Future[Any], Job] = {}

        def launch(job: Job) -> None:
            init = rows.get(("sr", "srresnet", job[2])) if starts_from_srresnet(job) else None
            digest, row = bench.lookup(job, init["hash"] if init else "")
            if row is not None:
                console.print(f"{job[0]} {job[1]} seed {job[2]}: done earlier", highlight=False)
                finished(job, row)
                return
            console.print(f"[bold]{job[0]}[/] {job[1]} seed {job[2]}: "
                          f"{bench.config(_TASK[job[0]], job[1], job[2]).train.steps} steps",
                          highlight=False)
            run_dir = Path(init["run_dir"]) if init else None
            futures[pool.submit(_work, spec, threads, job, digest, run_dir)] = job

        def finished(job: Job, row: dict[str, Any]) -> None:
            rows[job] = row
            if job[1] == "srresnet":
                for variant in _TASK["sr"].variants:
                    if starts_from_srresnet(("sr", variant, job[2])):
                        launch(("sr", variant, job[2]))

        for job in jobs:
            if not starts_from_srresnet(job):
                launch(job)
        while futures:
            future = next(as_completed(futures))
            job = futures.pop(future)
            row = future.result()
            if workers > 1:
                console.print(f"{job[0]} {job[1]} seed {job[2]}: done", highlight=False)
            finished(job, row)
    return rows


def bench_image2image(*, seeds: int = 3, quick: bool = False, workers: int = 2,
                      page: Path = Path("docs/results/image2image.md"),
                      runs: Path = Path("runs/bench-image2image"),
                      progress: bool = True) -> Path:
    """Train and measure what is not done yet, then write the page from every row.
    --quick: one seed."""
    seeds = 1 if quick else seeds
    runs = runs / ("quick" if quick else "full")
    fashion = write_quick_fashion(runs / "quick-fashion-mnist", *QUICK_FASHION) if quick else None
    spec = (page, runs, quick, fashion)
    bench = _BENCHES.setdefault(spec, _Bench(*spec, progress=progress))
    with quick_threads(quick):
        rows = _run_all(bench, spec, seeds, workers)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for seed in range(seeds):
        sr_cfg = bench.config(_TASK["sr"], "srresnet", seed)
        results.setdefault("sr", {}).setdefault("bicubic", []).append(
            {"seed": seed, "metrics": bench.evaluator(sr_cfg.data, seed).bicubic()})
    for (task, variant, _), row in sorted(rows.items(), key=lambda kv: kv[0][2]):
        results.setdefault(task, {}).setdefault(variant, []).append(row)
    protocol = {"seeds": seeds, "quick": quick, "out": str(page), "machine": machine_id(),
                "budget_minutes": BUDGET_MINUTES, "n": bench.n, "judge": bench.judge_id,
                "workers": workers, "threads_per_run": 1 if quick else
                threads_per_worker(workers) or torch.get_num_threads(),
                "tasks": {t.key: {"preset": t.preset, "steps": QUICK_STEPS if quick else t.steps,
                                  "batch": bench.config(t, next(iter(t.variants)),
                                                        0).train.batch_size} for t in TASKS}}
    if quick:
        protocol["data"] = (f"quick: Fashion-MNIST's first {QUICK_FASHION[0]} train / "
                            f"{QUICK_FASHION[1]} test images, shapes {' '.join(QUICK_SHAPES)}, "
                            "tiny nets")
    write_json(bench.raw / "protocol.json", protocol)
    return write_image2image_page(page, results=results, protocol=protocol)

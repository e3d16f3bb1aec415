"""`genlab bench stylegan`: ProGAN, StyleGAN and their controls against the DCGANs of the GAN
page, every run trained for the same CPU-minute budget, 3 seeds, and the papers' claims judged
on the page (`stylegan_claims`, `stylegan_page`).

Rows (`stylegan_tasks.ROWS`) train `--workers` at a time in spawned processes sharing the CPU
threads equally. Each finished run leaves `<page folder>/<page name>/raw/<row>-s<seed>.json`:
its numbers and a hash of what made them (config, budget, evaluation, judge); a rerun on the
same machine skips the runs whose hash matches, so an interrupted benchmark resumes. Run
folders go to a scratch folder (`--runs`).
"""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any

import torch

from genlab.bench.common import (
    FidCurve,
    config_hash,
    done_row,
    machine_id,
    pinned_judge,
    preset_path,
    quick_threads,
    threads_per_worker,
    worker_pool,
    write_quick_fashion,
)
from genlab.bench.stylegan_claims import mix_fraction
from genlab.bench.stylegan_page import write_stylegan_page
from genlab.bench.stylegan_tasks import (
    CURVE_N_MAX,
    CURVE_POINTS,
    DATA,
    EVAL_EVERY,
    MEASURES,
    MIX_PAIRS,
    PSIS,
    QUICK_DATA,
    QUICK_EVAL_EVERY,
    QUICK_FASHION,
    QUICK_MINUTES,
    QUICK_N,
    QUICK_PAIRS,
    QUICK_TRAIN,
    ROW,
    ROWS,
    Row,
)
from genlab.data.config import DataConfig
from genlab.engine.progress import console
from genlab.engine.trainer import sampling
from genlab.errors import ConfigError
from genlab.files import write_json
from genlab.generate.sample import generate_images
from genlab.images import class_rows, save_grid, to_uint8
from genlab.methods.registry import method_class
from genlab.metrics.evaluate import Evaluator, headline
from genlab.metrics.shapes_reader import read_shapes
from genlab.runs.config import RunConfig, load_config
from genlab.runs.train import build_trainer

MIX_BATCH = 250  # images decoded at once by the style-mixing measure (64 px: memory)


class _Bench:
    """What one benchmark process shares across its runs: settings, evaluators, judges."""

    def __init__(self, page: Path, runs: Path, quick: bool, fashion_root: Path | None,
                 minutes: float, n: int, progress: bool) -> None:
        self.page, self.runs, self.quick, self.fashion_root = page, runs, quick, fashion_root
        self.minutes, self.n, self.progress = minutes, n, progress
        self.assets = page.parent / page.stem
        self.raw = self.assets / "raw"
        self.curve_n = min(n, CURVE_N_MAX)
        self.pairs = QUICK_PAIRS if quick else MIX_PAIRS
        self._evaluators: dict[str, tuple[Evaluator, Evaluator]] = {}
        self._judges: dict[str, str] = {}

    def config(self, row: Row, seed: int) -> RunConfig:
        overrides = [*row.overrides, *DATA[row.data][1]]
        if self.quick:
            name = load_config(preset_path(row.preset), overrides).method.name
            chosen = {o.split("=", 1)[0] for o in overrides}
            overrides += [f"method.{k}={json.dumps(v)}" for k, v in
                          method_class(name).tiny.items() if f"method.{k}" not in chosen]
            overrides += [*QUICK_DATA[row.data], *QUICK_TRAIN]
            if row.data == "fashion":
                overrides.append(f"data.root={self.fashion_root}")
        every = (QUICK_EVAL_EVERY if self.quick else EVAL_EVERY) if row.curve else 0
        extra = [f"seed={seed}", "train.steps=100000000", f"train.max_minutes={self.minutes}",
                 "train.budget_clock=cpu", f"train.eval_every={every}",
                 f"train.eval_n={self.curve_n}", "train.sample_every=0", "train.ckpt_every=0",
                 "train.keep_last=1", "train.tensorboard=false", f"train.out_dir={self.runs}",
                 f"name={row.id}-s{seed}"]
        return load_config(preset_path(row.preset), overrides + extra)

    def data_config(self, data: str) -> DataConfig:
        """The one data config of every row on `data` (ConfigError if presets disagree: their
        FIDs would come from different judges)."""
        configs = {r.id: self.config(r, 0).data for r in ROWS if r.data == data}
        first = next(iter(configs.values()))
        if differ := [key for key, cfg in configs.items() if cfg != first]:
            raise ConfigError(f"rows {', '.join(differ)} train on other {data} data than "
                              f"{next(iter(configs))}: give their presets the same data section")
        return first

    def judge(self, data: str) -> str:
        """The digest of `data`'s judge, pinned beside the page (installed in the cache)."""
        if data not in self._judges:
            self._judges[data] = pinned_judge(self.page.parent, self.data_config(data),
                                              self.progress)
        return self._judges[data]

    def evaluators(self, data: str) -> tuple[Evaluator, Evaluator]:
        """The final and the curve evaluator of `data` (they hold the real features)."""
        if data not in self._evaluators:
            cfg = self.data_config(data)
            self._evaluators[data] = (Evaluator(cfg, n=self.n, progress=self.progress),
                                      Evaluator(cfg, n=self.curve_n, progress=self.progress))
        return self._evaluators[data]

    def lookup(self, row: Row, seed: int) -> tuple[str, dict[str, Any] | None]:
        """The run's hash and its finished raw row, if one with that hash exists."""
        digest = config_hash(self.config(row, seed), n=self.n, curve_n=self.curve_n,
                             judge=self.judge(row.data), measures=MEASURES,
                             psis=PSIS if row.truncation else None,
                             pairs=self.pairs if row.mixing else None)
        return digest, done_row(self.raw / f"{row.id}-s{seed}.json", digest)

    def run(self, row: Row, seed: int, digest: str) -> dict[str, Any]:
        """Train and measure one run; write and return its raw row."""
        cfg = self.config(row, seed)
        stale = self.runs / str(cfg.name)  # an unfinished earlier attempt: start it again
        if stale.exists():
            shutil.rmtree(stale)
        final, curve_ev = self.evaluators(row.data)
        trainer = build_trainer(cfg, show_progress=self.progress)
        curve = FidCurve(curve_ev, every_s=self.minutes * 60 / CURVE_POINTS)
        curve.trainer = trainer
        if row.curve:
            trainer.evaluator = curve
        if trainer.run().interrupted:  # stopped early (Ctrl-C): never a result row
            raise KeyboardInterrupt(f"{row.id} seed {seed} was stopped before its budget")
        start = time.process_time()
        out: dict[str, Any] = {"row": row.id, "seed": seed, "hash": digest,
                               "machine": machine_id(),
                               "steps": trainer.step, "train_seconds": trainer.train_seconds,
                               "budget_s": self.minutes * 60,
                               "images_per_s": trainer.step * cfg.train.batch_size *
                               trainer.method.batches_per_step / max(trainer.train_seconds, 1e-9),
                               "threads": torch.get_num_threads()}
        with sampling(trainer.method, trainer.ema) as m:
            images, labels = generate_images(m, final.n, seed=0)
            out["metrics"] = headline(final.evaluate(images, labels))
            if row.curve:  # the curve ends where the budget does
                curve.measure(m)
                out["curve"] = curve.points
            out["growth"] = {k: getattr(m, k) for k in ("images_seen", "resolution")
                             if isinstance(getattr(m, k, None), int)}
            if row.truncation:
                out["truncation"] = self.truncation_sweep(m, final, out["metrics"])
            if row.mixing:
                out["mixing"] = style_mix_measure(m, self.pairs, seed=seed,
                                                  background=cfg.data.shapes.background)
            if seed == 0:
                out.update(self.figures(m, row))
        out["eval_seconds"] = time.process_time() - start
        write_json(self.raw / f"{row.id}-s{seed}.json", out)
        return out

    @staticmethod
    def truncation_sweep(m: Any, final: Evaluator,
                         untruncated: dict[str, float]) -> dict[str, dict[str, float]]:
        """FID, precision and recall at each psi, the method's own truncation (StyleGAN: in W,
        toward w_avg; others: z * psi); psi 1 is the final evaluation itself."""
        sweep = {}
        for psi in PSIS:
            if psi == 1.0:
                results: dict[str, Any] = untruncated
            else:
                images, labels = generate_images(m, final.n, seed=0, truncation=psi)
                results = final.evaluate(images, labels)
            sweep[str(psi)] = {k: float(results[k]) for k in ("fid", "precision", "recall")}
        return sweep

    def figures(self, m: Any, row: Row) -> dict[str, str]:
        """Seed 0's sample grid, and a style-based model's style-mixing and noise grids."""
        grid_labels, nrow = class_rows(64, m.num_classes)
        images = generate_images(m, 64 if grid_labels is None else len(grid_labels), seed=2,
                                 labels=grid_labels)[0]
        out = {"grid": save_grid(images, self.assets / f"{row.id}.png", nrow=nrow).name}
        from genlab.generate.style import (
            is_style_based,
            noise_grid,
            save_mixing,
            save_noise,
            style_mixing_grid,
        )

        if is_style_based(m) and row.key == "stylegan":
            out["mixing_grid"] = save_mixing(style_mixing_grid(m, seed=0),
                                             self.assets / f"{row.id}-style-mixing.png").name
            out["noise_grid"] = save_noise(noise_grid(m, seed=0),
                                           self.assets / f"{row.id}-noise.png").name
        return out


@torch.no_grad()
def style_mix_measure(m: Any, pairs: int, *, seed: int,
                      background: tuple[int, int, int] = (0, 0, 0)) -> dict[str, Any]:
    """For each split k in 1..num_ws-1, styles 0..k-1 from latent A and k.. from latent B:
    `mix_fraction` of the shapes reader's attributes of the mixes, A and B. Baselines: an
    independent third latent C in place of the mix (chance), and the splits 0 (B itself) and
    num_ws (A itself), which read 0 by construction."""
    from genlab.generate.style import mix_styles, source_styles, style_method

    style = style_method(m)
    gen = torch.Generator(device=style.device).manual_seed(1000 + seed)
    ws_a, ws_b, ws_c = (source_styles(style, pairs, gen, 1.0) for _ in range(3))

    def read(ws: torch.Tensor) -> dict[str, torch.Tensor]:
        images = torch.cat([to_uint8(style.decode(chunk, None)) for chunk in ws.split(MIX_BATCH)])
        return read_shapes(images, background=background)

    a, b = read(ws_a), read(ws_b)
    num_ws = style.num_ws
    splits = {str(k): mix_fraction(read(mix_styles(m, ws_a, ws_b, k, num_ws)), a, b)
              for k in range(1, num_ws)}
    return {"num_ws": num_ws, "pairs": pairs, "splits": splits,
            "groups": {name: list(span) for name, span in style.style_groups().items()},
            "baselines": {"independent": mix_fraction(read(ws_c), a, b)["all"],
                          "k0": mix_fraction(b, a, b)["all"],
                          f"k{num_ws}": mix_fraction(a, a, b)["all"]}}


_BENCHES: dict[tuple[Any, ...], _Bench] = {}  # one per process and benchmark


def _work(spec: tuple[Any, ...], threads: int | None, job: tuple[str, int],
          digest: str) -> dict[str, Any]:
    """One run, in a worker process or in-process."""
    if threads:
        torch.set_num_threads(threads)
    if spec not in _BENCHES:
        _BENCHES[spec] = _Bench(*spec, progress=False)
    return _BENCHES[spec].run(ROW[job[0]], job[1], digest)


def _run_all(bench: _Bench, spec: tuple[Any, ...], seeds: int,
             workers: int) -> dict[tuple[str, int], dict[str, Any]]:
    """Every run's raw row: finished ones read back, the others trained. Seeds outermost, so
    an interrupted benchmark has whole seeds done."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    threads = threads_per_worker(workers)
    with worker_pool(workers) as pool:
        futures = {}
        for seed in range(seeds):
            for row in ROWS:
                digest, done = bench.lookup(row, seed)
                if done is not None:
                    console.print(f"{row.id} seed {seed}: done earlier", highlight=False)
                    rows[(row.id, seed)] = done
                    continue
                console.print(f"[bold]{row.id}[/] seed {seed}: {bench.minutes:g} CPU-min",
                              highlight=False)
                futures[pool.submit(_work, spec, threads, (row.id, seed), digest)] = \
                    (row.id, seed)
        for future in as_completed(futures):
            job = futures[future]
            rows[job] = future.result()
            if workers > 1:
                console.print(f"{job[0]} seed {job[1]}: done", highlight=False)
    return rows


def bench_stylegan(*, minutes: float = 10.0, seeds: int = 3, n: int = 5000, workers: int = 2,
                   quick: bool = False, page: Path = Path("docs/results/stylegan.md"),
                   runs: Path = Path("runs/bench-stylegan"), progress: bool = True) -> Path:
    """Train and measure what is not done yet, then write the page from every row.
    --quick: tiny nets, budget, n and data, one seed (a smoke test, not results)."""
    if quick:
        seeds, minutes, n = 1, QUICK_MINUTES, QUICK_N
    runs = runs / ("quick" if quick else "full")
    fashion = write_quick_fashion(runs / "quick-fashion-mnist", *QUICK_FASHION) if quick else None
    spec = (page, runs, quick, fashion, minutes, n)
    bench = _BENCHES.setdefault(spec, _Bench(*spec, progress=progress))
    with quick_threads(quick):
        rows = _run_all(bench, spec, seeds, workers)
        floors = {data: headline(bench.evaluators(data)[0].floor()) for data in DATA}
    results: dict[str, list[dict[str, Any]]] = {}
    for (row_id, _), row in sorted(rows.items(), key=lambda kv: kv[0][1]):
        results.setdefault(row_id, []).append(row)
    protocol = {"minutes": minutes, "seeds": seeds, "n": n, "curve_n": bench.curve_n,
                "curve_points": CURVE_POINTS, "mix_pairs": bench.pairs, "psis": list(PSIS),
                "clock": "cpu", "quick": quick, "workers": workers,
                "threads_per_run": 1 if quick else
                threads_per_worker(workers) or torch.get_num_threads(),
                "machine": machine_id(), "out": str(page),
                "judges": {data: bench.judge(data) for data in DATA}, "floors": floors,
                "rows": {r.id: {"preset": r.preset, "overrides": list(r.overrides)}
                         for r in ROWS}}
    if quick:
        protocol["data"] = (f"quick: Fashion-MNIST's first {QUICK_FASHION[0]} train / "
                            f"{QUICK_FASHION[1]} test images at 12 px + pad 2, shapes "
                            f"{' '.join(QUICK_DATA['shapes'])}, tiny nets")
    write_json(bench.raw / "protocol.json", protocol)
    return write_stylegan_page(page, results=results, protocol=protocol)

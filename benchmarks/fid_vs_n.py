"""FID against the number of images n, for one DCGAN and the real-vs-real floor.

    OMP_NUM_THREADS=1 python benchmarks/fid_vs_n.py [--minutes 4 | --run RUN]
        [--out docs/results/fid-vs-n] [--seed 0]

Trains the `dcgan` preset on Fashion-MNIST for --minutes CPU-minutes on one thread (or takes a
run folder), samples 10,000 images and measures FID in the judge's feature space (the pinned
judge of the results pages, the same features as `genlab eval`) at each n, against n real test
images: the protocol of `genlab eval --n N`. Each n < 10,000 is measured on every disjoint
subset pair (10,000 // n of them, at most MAX_SUBSETS): the table gives mean ± std over them,
the spread of one evaluation at that n. The floor pairs the same test subsets with disjoint
train subsets. Two spreads of the generated side alone (the real images fixed, as for the rows
of one results page): the std over disjoint generated subsets and the pages' bootstrap SE. The
last line, FID at n = inf, is the intercept of mean FID fitted linearly in 1/n (FID's bias falls
as 1/n). Writes fid-vs-n.png and fid-vs-n.json under --out; prints the table (docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

import numpy as np
import torch
from torch import Tensor

ROOT = Path(__file__).resolve().parents[1]
NS = (500, 1000, 2000, 5000, 10_000)
MAX_SUBSETS = 20
Rows = dict[str, dict[int, list[float]]]  # series -> n -> FID of each subset pair
Columns = dict[str, dict[str, dict[int, float]]]  # column header -> series -> n -> value


def fail(message: str) -> NoReturn:
    """Bad input: one line on stderr, exit code 2."""
    print(f"fid_vs_n.py: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.error = fail  # type: ignore[method-assign]  # one line, not argparse's usage block
    parser.add_argument("--minutes", type=float, default=None,
                        help="CPU-minutes of DCGAN training (default 4)")
    parser.add_argument("--run", type=Path, default=None, help="a trained run folder instead")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "fid-vs-n")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.run is not None and args.minutes is not None:
        parser.error("give --run or --minutes, not both (--run trains nothing)")
    if args.minutes is not None and not 0 < args.minutes <= 60:
        parser.error(f"--minutes must be in (0, 60], got {args.minutes:g}")
    if args.run is not None and not (args.run / "run.json").is_file():
        parser.error(f"--run {args.run}: not a run folder (no run.json)")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is a file, not a folder")
    args.minutes = 4.0 if args.run is None and args.minutes is None else args.minutes
    return args


def subset_fids(a: Tensor, b: Tensor, n: int, max_subsets: int = MAX_SUBSETS, *,
                fixed_a: bool = False) -> list[float]:
    """FID of a[i*n:(i+1)*n] against b[i*n:(i+1)*n] for every disjoint pair both sets hold;
    with `fixed_a`, of a[:n] against each of b's disjoint subsets (only b's side varies)."""
    from genlab.metrics.stats import fid

    if min(len(a), len(b)) < n:
        raise ValueError(f"n = {n} needs {n} features on each side, got {len(a)} and {len(b)}")
    k = min(max_subsets, len(b) // n, max_subsets if fixed_a else len(a) // n)
    return [fid(a[0 if fixed_a else i * n:][:n], b[i * n:][:n]) for i in range(k)]


def spread(fids: list[float]) -> tuple[float, float]:
    """Mean and std (ddof 1; nan for one subset) of FIDs over subsets."""
    return float(np.mean(fids)), float(np.std(fids, ddof=1)) if len(fids) > 1 else float("nan")


def fid_infinity(ns: list[int], means: list[float]) -> float:
    """FID extrapolated to n -> infinity: the intercept of mean FID fitted linearly in 1/n."""
    slope, intercept = np.polyfit(1.0 / np.asarray(ns, float), np.asarray(means), 1)
    return float(intercept)


def table(rows: Rows, extra: Columns | None = None) -> str:
    """Markdown: one line per n, mean ± std over subsets per series, each followed by its
    `extra` columns (header -> series -> n -> value), then FID_inf."""
    names, extra = list(rows), extra or {}
    cols = {s: [h for h in extra if s in extra[h]] for s in names}
    heads = [h for s in names for h in (f"{s} FID", *cols[s])]
    lines = ["| n | subsets | " + " | ".join(heads) + " |", "|---:|---:|" + "---:|" * len(heads)]
    for n in rows[names[0]]:
        cells = []
        for s in names:
            mean, sd = spread(rows[s][n])
            cells.append(f"{mean:.3f}" + (f" ± {sd:.3f}" if sd == sd else ""))
            cells += [f"{extra[h][s][n]:.3f}" if extra[h][s][n] == extra[h][s][n] else "-"
                      for h in cols[s]]
        lines.append(f"| {n:,} | {len(rows[names[0]][n])} | " + " | ".join(cells) + " |")
    infs = [f"{fid_infinity(list(rows[s]), [spread(v)[0] for v in rows[s].values()]):.3f}"
            + " |" * len(cols[s]) for s in names]
    lines.append("| inf (fit in 1/n) | | " + " | ".join(infs) + " |")
    return "\n".join(lines)


def plot(rows: Rows, path: Path, title: str) -> Path:
    """One panel per series (their scales differ a hundredfold), mean ± std against log n."""
    from genlab.engine.plots import plt

    fig, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 3.8), squeeze=False)
    for ax, (name, by_n) in zip(axes[0], rows.items(), strict=True):
        stats = [spread(v) for v in by_n.values()]
        ax.errorbar(list(by_n), [m for m, _ in stats], yerr=[0 if s != s else s for _, s in stats],
                    marker="o", capsize=3, lw=1)
        ax.axhline(fid_infinity(list(by_n), [m for m, _ in stats]), ls="--", lw=0.8, c="grey",
                   label="fit in 1/n, at n = inf")
        ax.set(xscale="log", xlabel="n (generated = real test images)", ylabel="FID (judge)",
               title=name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def train_dcgan(minutes: float, seed: int, out_dir: Path) -> Path:
    """The `dcgan` preset on Fashion-MNIST for `minutes` of CPU time (its stated budget)."""
    from genlab.bench.common import preset_path
    from genlab.runs.config import load_config
    from genlab.runs.train import build_trainer

    cfg = load_config(preset_path("dcgan"), [
        f"seed={seed}", "train.steps=100000000", f"train.max_minutes={minutes}",
        "train.budget_clock=cpu", "train.sample_every=0", "train.ckpt_every=0",
        "train.keep_last=1", "train.tensorboard=false", f"train.out_dir={out_dir}",
        "name=dcgan-fid-vs-n"])
    result = build_trainer(cfg, show_progress=False).run()
    if result.interrupted:  # stopped before its budget (Ctrl-C, SIGTERM): never a result
        raise KeyboardInterrupt("training was stopped before its budget")
    assert result.run_dir is not None
    return result.run_dir


def measure(run: Path, seed: int) -> tuple[Rows, Columns, dict[str, object]]:
    """FIDs per n of the run's samples and of the floor (train vs test), each over disjoint
    subset pairs; the std with the real side fixed and the bootstrap SE, at every n."""
    from genlab.bench.common import judge_folder, pinned_judge
    from genlab.bench.diffusion import FID_DRAWS  # the diffusion page's bootstrap, as it is
    from genlab.errors import ConfigError
    from genlab.generate.sample import generate_images
    from genlab.metrics.evaluate import Evaluator
    from genlab.metrics.stats import fid_bootstrap_se
    from genlab.runs.load import load_run

    loaded = load_run(run)
    data_cfg = loaded.cfg.data
    pinned = ROOT / "docs" / "results"
    if not (judge_folder(pinned, data_cfg) / "judge.json").is_file():  # never pin a new one
        raise ConfigError(f"{run} trains on data without a pinned judge in "
                          f"{judge_folder(pinned, data_cfg)}: use a Fashion-MNIST run")
    judge = pinned_judge(pinned, data_cfg, progress=False)
    ev = Evaluator(data_cfg, n=max(NS), seed=seed, progress=False)  # test features, permuted
    ns = [n for n in NS if n <= ev.n_real]
    fake = ev.featurise(generate_images(loaded.method, ns[-1], seed=seed)[0]).features
    train = data_cfg.load("train", seed=seed).images
    pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed + 1))
    floor = ev.featurise(train[pick[:ns[-1]]]).features
    real, rows = ev.real.features, {}
    extra: Columns = {"std, real fixed": {}, "bootstrap SE": {}}
    for name, side in ((f"DCGAN ({loaded.step:,} steps)", fake), ("real floor", floor)):
        rows[name] = {n: subset_fids(real, side, n) for n in ns}
        # rows of one page share their real images: only the generated side varies; the
        # page's interval estimates that from one set, by resampling (bootstrap)
        extra["std, real fixed"][name] = {n: spread(subset_fids(real, side, n, fixed_a=True))[1]
                                          for n in ns}
        extra["bootstrap SE"][name] = {n: fid_bootstrap_se(real[:n], side[:n], draws=FID_DRAWS,
                                                           seed=seed) for n in ns}
    return rows, extra, {"judge": judge, "data": data_cfg.name, "run_steps": loaded.step}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from genlab.bench.common import machine_id, quick_threads
    from genlab.errors import GenlabError
    from genlab.files import write_json

    t0 = time.process_time()
    try:  # one thread: the stated protocol (and torch's own count again afterwards)
        with quick_threads(True), tempfile.TemporaryDirectory() as tmp:
            run = args.run or train_dcgan(args.minutes, args.seed, Path(tmp))
            t1 = time.process_time()
            rows, extra, facts = measure(run, args.seed)
    except GenlabError as err:
        fail(str(err))
    cpu = {"training_and_setup": round(t1 - t0, 1), "measuring": round(time.process_time() - t1, 1)}
    machine = f"{machine_id()}, 1 thread"
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "fid-vs-n.json", {
        "machine": machine, "seed": args.seed, "minutes": args.minutes, "cpu_seconds": cpu,
        **facts, "fids": {s: {str(n): v for n, v in r.items()} for s, r in rows.items()},
        **{h: {s: {str(n): v for n, v in r.items()} for s, r in e.items()}
           for h, e in extra.items()}})
    plot(rows, args.out / "fid-vs-n.png", f"FID vs n, {facts['data']}, judge features\n{machine}")
    print(table(rows, extra))
    print(f"{machine}; CPU seconds: {cpu}; wrote {args.out}")


if __name__ == "__main__":
    main()

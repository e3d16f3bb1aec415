"""How long `genlab eval` takes on 10,000 samples of a 28x28 model.

    python benchmarks/eval_speed.py [--n 10000] [--run RUN]

Without --run it first trains a small DCGAN on Fashion-MNIST for 200 steps (quality does not
matter here). The judge is trained first if it is not cached yet; that one-off cost is printed
separately and not counted. The timed part is exactly what `genlab eval RUN --n N` does:
loading the run, featurising the real test and train images (floor), generating N images,
featurising them, and computing FID, KID, IS, precision/recall/density/coverage and the class
statistics for both generated-vs-real and the floor, then writing the report.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from genlab.data.config import DataConfig
from genlab.evaluation.run import evaluate_run
from genlab.metrics.judge import load_judge
from genlab.runs.config import load_config
from genlab.runs.train import build_trainer

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--run", type=Path, default=None)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}")
    t0 = time.perf_counter()
    judge = load_judge(DataConfig(name="fashion-mnist"))
    print(f"judge ready ({judge.test_accuracy:.4f} test accuracy) in "
          f"{time.perf_counter() - t0:.1f} s (one-off, not counted)")
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run
        if run is None:
            cfg = load_config(ROOT / "configs" / "dcgan.yaml", [
                "train.steps=200", "train.sample_every=0", f"train.out_dir={tmp}",
                "train.tensorboard=false"])
            run = build_trainer(cfg, show_progress=False).run().run_dir
        t0 = time.perf_counter()
        results, report = evaluate_run(run, n=args.n, out_dir=Path(tmp) / "eval")
        seconds = time.perf_counter() - t0
    print(f"genlab eval --n {args.n}: {seconds:.1f} s in all "
          f"(fid {results['fid']:.3f}, precision {results['precision']:.3f}, "
          f"recall {results['recall']:.3f})")


if __name__ == "__main__":
    main()

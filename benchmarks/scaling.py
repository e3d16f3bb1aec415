"""Scaling over processes on one machine: images/s of `genlab train` in 1 and 2 processes
(torchrun, gloo) for DCGAN and the DDPM, and the scaling efficiency.

    python benchmarks/scaling.py [--steps 40] [--presets dcgan ddpm-fashion]

Three runs per preset, each a real `genlab train` process tree, in one script run:
  1 process x 1 thread   - the one-core baseline;
  1 process x N threads  - what a plain `genlab train` gets (N = the cores, OMP_NUM_THREADS);
  N processes x 1 thread - `torchrun --nproc_per_node N`: each rank trains its own batch
                           (train.batch_size is per rank), gradients all-reduced over gloo.
Images/s is read from metrics.jsonl (all ranks' images), the first log interval (warm-up)
left out. Efficiency = N-process images/s / (N x the one-core baseline's)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WARMUP = 5  # steps in the first log interval, left out


def train(preset: str, steps: int, procs: int, threads: int, port: int) -> float:
    """Mean logged images/s of a `genlab train` of `preset` after the warm-up interval."""
    with tempfile.TemporaryDirectory() as tmp:
        launch = ([sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={procs}",
                   "--master_port", str(port)] if procs > 1 else [sys.executable])
        cmd = [*launch, "-m", "genlab", "train", str(ROOT / "configs" / f"{preset}.yaml"),
               "--name", "scaling"]
        for item in (f"train.steps={WARMUP + steps}", f"train.log_every={WARMUP}",
                     "train.sample_every=0", "train.ckpt_every=0", "train.tensorboard=false",
                     "train.max_minutes=null", f"train.out_dir={tmp}"):
            cmd += ["--set", item]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"{preset} on {procs} process(es) failed:\n{proc.stderr[-2000:]}")
        lines = (Path(tmp) / "scaling" / "metrics.jsonl").read_text().splitlines()
        rates = [r["images_per_s"] for r in map(json.loads, lines) if r["step"] > WARMUP]
        return sum(rates) / len(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per run")
    parser.add_argument("--presets", nargs="+", default=["dcgan", "ddpm-fashion"])
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 2,
                        help="processes (and threads of the one-process run)")
    args = parser.parse_args()
    if args.steps < WARMUP or args.procs < 2:
        parser.error(f"--steps must be at least {WARMUP} and --procs at least 2")
    n = args.procs
    from mfu import cpu_name  # benchmarks/ is the script's folder: on sys.path

    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; {args.steps} timed steps per run")
    print(f"| preset | 1 proc x 1 thread img/s | 1 proc x {n} threads img/s | {n} procs x 1 "
          f"thread img/s | efficiency | {n} procs / 1 proc x {n} threads |")
    print("|---|---|---|---|---|---|")
    port = 29400 + os.getpid() % 500
    for preset in args.presets:
        one = train(preset, args.steps, 1, 1, port)
        threads = train(preset, args.steps, 1, n, port)
        procs = train(preset, args.steps, n, 1, port + 1)
        print(f"| {preset} | {one:.0f} | {threads:.0f} | {procs:.0f} | "
              f"{procs / (n * one):.0%} | {procs / threads:.2f}x |", flush=True)


if __name__ == "__main__":
    main()

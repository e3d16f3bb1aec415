"""Model FLOP utilisation: how much of the machine's own matmul peak each method's training
step reaches, in the precision genlab trains it in.

    python benchmarks/mfu.py [--steps 20] [--methods dcgan wgan-gp ...]

The machine's peak is measured here, in the same run: a large square matmul in fp32 and in
bf16 (best of a few repeats), FLOPs 2 n^3. For each preset, one training step's FLOPs are
counted by torch.utils.flop_counter (matmuls and convolutions, forward and backward: what
the nets' arithmetic costs; elementwise work is not counted, so it shows up as lost time),
then `--steps` steps of genlab's trainer are timed after warm-up. MFU = FLOPs per step x
steps per second / the peak of the precision the step ran in (bf16 autocast runs its
matmuls in bf16). Prints a table with the machine's name. ProGAN is measured where it starts,
at 4 x 4: its FLOPs per step grow with each level."""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from genlab.runs.config import load_config
from genlab.runs.train import build_trainer

ROOT = Path(__file__).resolve().parents[1]
WARMUP = 3
# every preset that trains on its own (ldm and text-ldm need a trained VAE / CLIP run first)
METHODS = ["gan", "dcgan", "cdcgan", "wgan", "wgan-gp", "progan-fashion", "stylegan-fashion",
           "ddpm-fashion", "vae", "vqgan-shapes", "clip-shapes", "pix2pix-shapes",
           "cyclegan-shapes", "srgan-fashion"]


def cpu_name() -> str:
    """The CPU's model name (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class FlopCount(TorchDispatchMode):
    """torch's FLOP formulas (`flop_registry`: mm, addmm, bmm, convolutions and their
    backward, attention) summed over every op that runs inside. FlopCounterMode itself tracks
    modules with autograd hooks that break a double backward (WGAN-GP's gradient penalty):
    this counts the same formulas without them."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of an n x n matmul in `dtype`, the best of `repeats` (after one warm-up)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def measure(preset: str, steps: int) -> tuple[str, float, float]:
    """(precision, FLOPs of one training step, steps per second) of a preset's trainer."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(ROOT / "configs" / f"{preset}.yaml", [
            "train.sample_every=0", "train.ckpt_every=0", "train.tensorboard=false",
            f"train.out_dir={tmp}", "train.eval_every=0"])
        trainer = build_trainer(cfg, show_progress=False)
        for _ in range(WARMUP):
            trainer.train_step()
        with FlopCount() as counter:
            trainer.train_step()
        flops = counter.total
        t0 = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        rate = steps / (time.perf_counter() - t0)
        return trainer.precision, float(flops), rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--methods", nargs="+", default=METHODS, help="preset names")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    print(f"machine: {cpu_name()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"matmul peak: fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, "
          f"bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s (2048 x 2048, best of 5)")
    print("| preset | precision | GFLOP/step | steps/s | GFLOP/s | peak GFLOP/s | MFU |")
    print("|---|---|---|---|---|---|---|")
    for preset in args.methods:
        precision, flops, rate = measure(preset, args.steps)
        peak = peaks["bf16" if precision == "bf16" else "fp32"]
        achieved = flops * rate
        print(f"| {preset} | {precision} | {flops / 1e9:.2f} | {rate:.2f} | "
              f"{achieved / 1e9:.1f} | {peak / 1e9:.0f} | {achieved / peak:.1%} |", flush=True)


if __name__ == "__main__":
    main()

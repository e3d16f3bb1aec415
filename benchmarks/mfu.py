"""Model FLOP utilisation: how much of the machine's own matmul peak each method's training
step reaches, in the precision genlab trains it in.

    python benchmarks/mfu.py [--steps 20] [--methods dcgan wgan-gp ...]

The machine's peak is measured here, in the same run: a large square matmul in fp32 and in
bf16 (best of a few repeats), FLOPs 2 n^3. For each row (a preset), one training step's FLOPs
are counted by torch.utils.flop_counter (matmuls and convolutions, forward and backward: what
the nets' arithmetic costs; elementwise work is not counted, so it shows up as lost time),
then `--steps` steps of genlab's trainer are timed after warm-up. MFU = FLOPs per step x
steps per second / the peak of the precision the step ran in (bf16 autocast runs its
matmuls in bf16). Prints a table with the machine's name. One step is counted: StyleGAN's lazy
R1 (every 16th step) falls in the timed steps but not in the counted one, so its MFU reads
a little low.

Every trainable method has a row. ProGAN has two: where it starts, at 4 x 4, and at its full
size with alpha 1 (phase lengths of 1 and 0 images step it through the levels during warm-up;
the "at" column says where each step measured ran). Latent diffusion needs a trained VAE run
(and the text-conditioned one a CLIP run): each is trained for a few steps of its own preset
into a temporary folder first, outside the measured time; the step's cost does not depend on
how well they were trained."""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from genlab.runs.config import RunConfig, load_config
from genlab.runs.train import build_trainer, train

ROOT = Path(__file__).resolve().parents[1]
WARMUP = 3
NEED_STEPS = 2  # training steps of a prerequisite run (only its architecture matters here)
MEASURE = ["train.sample_every=0", "train.ckpt_every=0", "train.tensorboard=false",
           "train.eval_every=0"]


class Need(NamedTuple):
    """A run the row's method is built on: `method.<field>` names it (e.g. vae_run)."""

    field: str
    preset: str
    overrides: tuple[str, ...] = ()


class Row(NamedTuple):
    preset: str
    overrides: tuple[str, ...] = ()
    needs: tuple[Need, ...] = ()


# a text-to-image LDM's VAE: configs/ldm-text-shapes.yaml's first command
SHAPES_VAE = Need("vae_run", "vae-latent", ("data.name=shapes", "data.shapes.objects=1"))
ROWS = {
    **{name: Row(name) for name in ("gan", "dcgan", "cdcgan", "wgan", "wgan-gp",
                                    "progan-fashion")},
    "progan-fashion-full": Row("progan-fashion", ("method.fade_images=1",
                                                  "method.stable_images=0")),
    **{name: Row(name) for name in ("stylegan-fashion", "ddpm-fashion")},
    "ldm": Row("ldm", needs=(Need("vae_run", "vae-latent"),)),
    "ldm-text-shapes": Row("ldm-text-shapes", needs=(SHAPES_VAE, Need("clip_run", "clip-shapes"))),
    **{name: Row(name) for name in ("vae", "vqgan-shapes", "clip-shapes", "pix2pix-shapes",
                                    "cyclegan-shapes", "srgan-fashion")},
}


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


def row_config(row: Row, out: Path, needs: dict[str, Path]) -> RunConfig:
    """The row's preset with its overrides, writing under `out`, its prerequisite runs named."""
    return load_config(ROOT / "configs" / f"{row.preset}.yaml", [
        *MEASURE, f"train.out_dir={out}", *row.overrides,
        *(f"method.{field}={path}" for field, path in needs.items())])


def train_needs(row: Row, out: Path) -> dict[str, Path]:
    """Train the row's prerequisite runs for NEED_STEPS steps each; {method field: run}."""
    runs = {}
    for need in row.needs:
        cfg = load_config(ROOT / "configs" / f"{need.preset}.yaml", [
            *MEASURE, *need.overrides, f"train.steps={NEED_STEPS}", f"train.out_dir={out}",
            f"name={need.field}"])
        runs[need.field] = train(cfg, show_progress=False).run_dir
    return runs


def growth(method: Any) -> str:
    """Where a growing net's step runs ("16x16, alpha 0.50"); "-" for the others."""
    if not hasattr(method, "level_alpha"):
        return "-"
    side, (_, alpha) = method.resolution, method.level_alpha
    return f"{side}x{side}, alpha {alpha:.2g}"


def measure(row: Row, steps: int) -> tuple[str, float, float, str]:
    """(precision, FLOPs of one training step, steps per second, where a growing net's
    steps ran) of a row's trainer; its prerequisite runs are trained first, untimed."""
    with tempfile.TemporaryDirectory() as tmp:
        needs = train_needs(row, Path(tmp) / "needs")
        trainer = build_trainer(row_config(row, Path(tmp), needs), show_progress=False)
        for _ in range(WARMUP):
            trainer.train_step()
        at = growth(trainer.method)
        with FlopCount() as counter:
            trainer.train_step()
        flops = counter.total
        t0 = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        rate = steps / (time.perf_counter() - t0)
        if growth(trainer.method) != at:
            raise SystemExit(f"{row.preset}: the timed steps left {at} (now "
                             f"{growth(trainer.method)}): measure fewer --steps")
        return trainer.precision, float(flops), rate, at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--methods", nargs="+", default=list(ROWS), choices=list(ROWS),
                        metavar="ROW", help=f"rows to measure (default: all): {', '.join(ROWS)}")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    print(f"machine: {cpu_name()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"matmul peak: fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, "
          f"bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s (2048 x 2048, best of 5)")
    print("| row | at | precision | GFLOP/step | steps/s | GFLOP/s | peak GFLOP/s | MFU |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.methods:
        precision, flops, rate, at = measure(ROWS[name], args.steps)
        peak = peaks["bf16" if precision == "bf16" else "fp32"]
        achieved = flops * rate
        print(f"| {name} | {at} | {precision} | {flops / 1e9:.2f} | {rate:.2f} | "
              f"{achieved / 1e9:.1f} | {peak / 1e9:.0f} | {achieved / peak:.1%} |", flush=True)


if __name__ == "__main__":
    main()

"""Diffusion sampling speed: images per CPU-second of DDIM on a UNet, by precision and batch.

    python benchmarks/sampling_speed.py --run RUN [--steps 20] [--n 250] [--repeats 3]
        [--batches 50 125 250 500] [--precisions fp32 bf16] [--compile]

RUN is a trained diffusion run (e.g. `genlab bench diffusion`'s
runs/bench-diffusion-fashion-mnist/ddpm, configs/ddpm-fashion.yaml): a freshly initialised
UNet is no stand-in, its bf16 speed differed from the trained one's by 2x here. Every cell
generates --n images (classes in turn, classifier-free guidance scale 1, as the diffusion
results page samples) and counts the CPU seconds of this process (all its threads); the cells
alternate --repeats times and the median is reported, so drifting load moves every cell alike.
"before" is fp32 in batches of 250 (what the results page used until 2026-11-30); the best
cell's ratio to it is printed last. --compile adds cells with the UNet compiled by
torch.compile (inductor, frozen weights), its compile time reported apart.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from genlab.bench.common import machine_id
from genlab.generate.sample import generate_images
from genlab.runs.load import load_run
from genlab.sampling import PRECISIONS, SamplingOptions

BEFORE = ("fp32", 250)


def cpu_seconds_per_image(method: object, n: int, batch: int, options: SamplingOptions) -> float:
    generate_images(method, min(batch, n), batch_size=batch, options=options)  # warm-up
    start = time.process_time()
    generate_images(method, n, batch_size=batch, options=options)
    return (time.process_time() - start) / n


def compile_unet(method: object) -> None:
    """Replace the method's UNet by its torch.compile'd self (weights frozen as constants:
    inference only); compiling happens at its first call with each input shape."""
    import torch._inductor.config as inductor

    inductor.freezing = True
    method.nets["unet"] = torch.compile(method.nets["unet"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a trained diffusion run")
    parser.add_argument("--steps", type=int, default=20, help="DDIM steps")
    parser.add_argument("--n", type=int, default=250, help="images per cell")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds")
    parser.add_argument("--batches", type=int, nargs="+", default=[50, 125, 250, 500])
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS),
                        choices=PRECISIONS)
    parser.add_argument("--compile", action="store_true", help="also time compiled cells")
    args = parser.parse_args()
    if min(args.steps, args.n, args.repeats, *args.batches) < 1:
        parser.error("--steps, --n, --repeats and every --batches value must be at least 1")
    if not (args.run / "config.yaml").is_file():
        parser.error(f"--run {args.run}: not a run folder (no config.yaml)")
    method = load_run(args.run).method
    print(f"machine: {machine_id()}, {torch.get_num_threads()} threads; DDIM-{args.steps}, "
          f"n = {args.n} per cell, median of {args.repeats} alternating rounds, {args.run}")
    cells = [(p, b) for p in args.precisions for b in args.batches]
    times = _rounds(method, cells, args)
    if args.compile:
        compile_unet(method)
        for precision in args.precisions:  # the first call of each precision compiles
            start = time.process_time()
            generate_images(method, args.batches[0], batch_size=args.batches[0],
                            options=_options(args.steps, precision))
            print(f"compile ({precision}): {time.process_time() - start:.0f} CPU-s")
        compiled = [(f"{p} compiled", b) for p, b in cells]
        times |= _rounds(method, compiled, args)
    print("| UNet | batch | CPU s / image | images / CPU-s | vs fp32 batch 250 |")
    print("|---|---|---|---|---|")
    base = times.get(BEFORE)
    for (precision, batch), seconds in times.items():
        ratio = f"{base / seconds:.2f}x" if base else "-"
        print(f"| {precision} | {batch} | {seconds:.4f} | {1 / seconds:.1f} | {ratio} |")
    if base:
        best = min(times, key=times.get)
        print(f"best: {best[0]} batch {best[1]}, {base / times[best]:.2f}x the images per "
              f"CPU-second of {BEFORE[0]} batch {BEFORE[1]}")


def _options(steps: int, precision: str) -> SamplingOptions:
    return SamplingOptions("ddim", steps, 0.0, 1.0, precision=precision.split()[0])


def _rounds(method: object, cells: list[tuple[str, int]],
            args: argparse.Namespace) -> dict[tuple[str, int], float]:
    """Median CPU seconds per image of each cell over alternating rounds."""
    seen: dict[tuple[str, int], list[float]] = {cell: [] for cell in cells}
    for _ in range(args.repeats):
        for precision, batch in cells:
            seen[precision, batch].append(cpu_seconds_per_image(
                method, args.n, batch, _options(args.steps, precision)))
    return {cell: statistics.median(values) for cell, values in seen.items()}


if __name__ == "__main__":
    main()

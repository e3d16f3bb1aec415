"""Training throughput: genlab's engine against a plain PyTorch loop, same nets, same data.

    python benchmarks/train_throughput.py [--steps 40] [--batch 128] [--methods dcgan wgan-gp]
        [--repeats 3] [--set train.compile=true ...]

For each method it trains the same architecture on Fashion-MNIST (batch 128) twice in one run:
  plain  - a torch DataLoader over a Dataset with per-item ToTensor/Normalize, fp32, the loop
           written out below (the way most tutorials do it);
  genlab - `genlab train configs/<method>.yaml` with its defaults (in-memory batches sliced on
           the device, precision=auto: bf16 autocast on CPUs with AMX/AVX512-BF16).
Images/s counts real images consumed (WGAN-GP: 5 critic batches per generator step). The
first steps are warm-up and not timed. The two loops alternate `--repeats` times and the
medians are reported, so a burst of other load on the machine moves both. Prints a table:
medians with the lowest and highest run in brackets, and the ratio of the medians with the
range of the per-repeat ratios (each genlab run against the plain run just before it).
`--set` passes config overrides to the genlab loop only (e.g. train.compile=true).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from genlab.data import load_dataset
from genlab.nets import DCGANDiscriminator, DCGANGenerator
from genlab.runs.config import load_config
from genlab.runs.train import build_trainer

ROOT = Path(__file__).resolve().parents[1]
WARMUP = 5


class PlainFashion(Dataset):
    """What a tutorial does: one PIL-free item at a time, converted and normalised per item."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images.numpy(), labels.numpy()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x = torch.from_numpy(self.images[i]).float().div(255)  # ToTensor
        return (x - 0.5) / 0.5, int(self.labels[i])  # Normalize(0.5, 0.5)


def plain_loop(method: str, steps: int, batch: int) -> float:
    cfg = load_config(ROOT / "configs" / f"{method}.yaml")
    m = cfg.method
    data = load_dataset("fashion-mnist")
    loader = DataLoader(PlainFashion(data.images, data.labels), batch_size=batch, shuffle=True,
                        drop_last=True, num_workers=0)
    shape = (data.channels, data.image_size, data.image_size)
    torch.manual_seed(0)
    G = DCGANGenerator(m.z_dim, shape, width=m.g_width)
    D = DCGANDiscriminator(shape, width=m.d_width, norm=m.d_norm)
    opt_g = torch.optim.Adam(G.parameters(), lr=m.lr_g, betas=m.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=m.lr_d, betas=m.betas)
    batches = iter(loader)

    def next_batch() -> torch.Tensor:
        nonlocal batches
        try:
            return next(batches)[0]
        except StopIteration:
            batches = iter(loader)
            return next(batches)[0]

    def step() -> None:
        for i in range(m.n_critic):
            real = next_batch()
            # the last critic batch's fakes also train the generator (the DCGAN reference
            # code's and PyTorch's DCGAN tutorial's way; genlab does the same)
            with torch.set_grad_enabled(i == m.n_critic - 1):
                fake_g = G(torch.randn(batch, m.z_dim))
            fake = fake_g.detach()
            r, f = D(real), D(fake)
            if m.loss == "wasserstein":
                alpha = torch.rand(batch, 1, 1, 1)
                x = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
                (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
                gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
                loss_d = f.mean() - r.mean() + m.gp_weight * gp
            else:
                loss_d = (F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
                          + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        out = D(fake_g)
        loss_g = -out.mean() if m.loss == "wasserstein" else \
            F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    for _ in range(WARMUP):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch * m.n_critic / (time.perf_counter() - t0)


def genlab_loop(method: str, steps: int, batch: int, overrides: list[str]) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(ROOT / "configs" / f"{method}.yaml", [
            f"train.steps={WARMUP + steps}", f"train.batch_size={batch}",
            f"train.log_every={WARMUP}",
            "train.sample_every=0", "train.ckpt_every=0", "train.tensorboard=false",
            f"train.out_dir={tmp}", *overrides])
        trainer = build_trainer(cfg, show_progress=False)
        trainer.run()
        records = [json.loads(x) for x in (trainer.run_dir / "metrics.jsonl").read_text()
                   .splitlines()]
        timed = [r["images_per_s"] for r in records if r["step"] > WARMUP]
        # the logged rate covers each interval between logs; weight them equally (same length)
        return sum(timed) / len(timed), trainer.precision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed generator steps")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--methods", nargs="+", default=["dcgan", "wgan-gp"])
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each loop")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="config overrides for the genlab loop")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"medians of {args.repeats} alternating runs of {args.steps} timed steps "
          "[lowest-highest run]" + (f"; genlab with {' '.join(args.set)}" if args.set else ""))
    print("| method | plain loop (fp32) img/s | genlab img/s | genlab precision | ratio |")
    print("|---|---|---|---|---|")
    for method in args.methods:
        plain, fast = [], []
        for _ in range(args.repeats):
            plain.append(plain_loop(method, args.steps, args.batch))
            rate, precision = genlab_loop(method, args.steps, args.batch, args.set)
            fast.append(rate)
        ratios = [f / p for f, p in zip(fast, plain, strict=True)]
        ratio = statistics.median(fast) / statistics.median(plain)
        print(f"| {method} | {spread(plain)} | {spread(fast)} | {precision} | {ratio:.2f}x "
              f"[{min(ratios):.2f}-{max(ratios):.2f}] |", flush=True)


def spread(values: list[float]) -> str:
    """The median and, in brackets, the lowest and highest value."""
    return f"{statistics.median(values):.0f} [{min(values):.0f}-{max(values):.0f}]"


if __name__ == "__main__":
    main()

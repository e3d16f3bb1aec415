"""Sampling loaded runs: class-ordered grids and batches of images for evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.images import class_rows, save_grid, to_uint8
from genlab.methods.base import Method
from genlab.runs.load import LoadedRun
from genlab.sampling import truncate


def sample_grid(run: LoadedRun, path: str | Path, *, n: int = 64, seed: int = 0,
                label: str | int | None = None, truncation: float = 1.0,
                nrow: int | None = None, options: Any = None) -> Path:
    """Write n samples as a grid PNG; a conditional model without a label gets a row per class.
    `options`: a diffusion run's sampling options (`guidance.sampling_options`)."""
    labels = None
    if label is not None:
        labels = torch.full((n,), run.label_index(label), dtype=torch.long)
    elif run.conditional:
        labels, per = class_rows(n, run.info.num_classes)
        nrow = nrow or per
    images = run.sample(len(labels) if labels is not None else n, seed=seed, labels=labels,
                        truncation=truncation, options=options)
    return save_grid(images, path, nrow=nrow or 8)


@torch.no_grad()
def generate_images(method: Method, n: int, *, seed: int = 0, labels: Tensor | None = None,
                    truncation: float = 1.0, batch_size: int = 500,
                    options: Any = None) -> tuple[Tensor, Tensor | None]:
    """n uint8 images from a method (already in sampling mode), in batches.

    A conditional model without explicit labels gets every class equally often; the labels
    used are returned so metrics can check them.
    """
    if method.num_classes and labels is None:
        labels = torch.arange(n) % method.num_classes
    gen = torch.Generator(device=method.device).manual_seed(seed)
    out = []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        z = truncate(method.sample_latents(m, gen), truncation, method.truncatable, method.name)
        y = labels[start:start + m].to(method.device) if labels is not None else None
        out.append(to_uint8(method.decode(z, y, options)))
    return torch.cat(out), labels

"""Sampling: truncation and class-ordered grids."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.generate.load import LoadedRun
from genlab.images import class_rows, save_grid, to_uint8
from genlab.methods import Method


def truncate(z: Tensor, psi: float, method: Method | None = None) -> Tensor:
    """Truncation trick in z space: pull latents toward their mean (0) by psi in (0, 1]."""
    if not 0 < psi <= 1:
        raise ConfigError(f"truncation psi must be in (0, 1], got {psi}")
    if psi != 1 and method is not None and not method.truncatable:
        raise ConfigError(f"truncation does not apply to {method.name} models: drop "
                          "--truncation")
    return z * psi


def sample_grid(run: LoadedRun, path: str | Path, *, n: int = 64, seed: int = 0,
                label: str | int | None = None, truncation: float = 1.0,
                nrow: int | None = None) -> Path:
    """Write n samples as a grid PNG; a conditional model without a label gets a row per class."""
    labels = None
    if label is not None:
        labels = torch.full((n,), run.label_index(label), dtype=torch.long)
    elif run.conditional:
        labels, per = class_rows(n, run.info.num_classes)
        nrow = nrow or per
    images = run.sample(len(labels) if labels is not None else n, seed=seed, labels=labels,
                        truncation=truncation)
    return save_grid(images, path, nrow=nrow or 8)


@torch.no_grad()
def generate_images(method: Method, n: int, *, seed: int = 0, labels: Tensor | None = None,
                    truncation: float = 1.0, batch_size: int = 500) -> tuple[Tensor, Tensor | None]:
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
        z = truncate(method.sample_latents(m, gen), truncation, method)
        y = labels[start:start + m].to(method.device) if labels is not None else None
        out.append(to_uint8(method.decode(z, y)))
    return torch.cat(out), labels

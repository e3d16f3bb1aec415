"""Sampling loaded runs: class-ordered grids, large sets written batch by batch (a folder of
PNGs or an .npz), and batches of images for evaluation. With `progress=True` a bar counts
the images on stderr (a diffusion batch advances it sampler step by sampler step)."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genlab.engine.progress import progress_bar
from genlab.errors import ConfigError
from genlab.files import atomic_path
from genlab.generate.paths import N_MAX, check_grid_count, check_png_out, check_sample_out
from genlab.images import class_rows, save_grid, save_image, to_uint8
from genlab.methods.base import Method
from genlab.methods.diffusion import DDPM
from genlab.runs.load import LoadedRun

SAMPLE_BATCH = 256  # images decoded at once when writing: memory holds one batch, not the set


def sample_grid(run: LoadedRun, path: str | Path, *, n: int = 64, seed: int = 0,
                label: str | int | None = None, truncation: float = 1.0,
                nrow: int | None = None, options: Any = None, progress: bool = False) -> Path:
    """Write exactly n samples (at most GRID_MAX) as a grid PNG, decoded SAMPLE_BATCH at a
    time; a conditional model without a label gets its classes laid out by `class_rows`.
    `options`: a diffusion run's sampling options (`guidance.sampling_options`)."""
    path = check_png_out(path)
    with progress_bar(n, label="sample", unit="images", enabled=progress) as report:
        images, _, per = grid_samples(run, n=n, seed=seed, label=label, truncation=truncation,
                                      options=options, on_progress=report)
    return save_grid(images, path, nrow=nrow or per)


def grid_samples(run: LoadedRun, *, n: int = 64, seed: int = 0, label: str | int | None = None,
                 truncation: float = 1.0, options: Any = None,
                 on_progress: Callable[[float], None] | None = None,
                 ) -> tuple[Tensor, Tensor | None, int]:
    """The images of `sample_grid` (uint8), their labels and the images per grid row, without
    a file: the studio shows the same images the command writes for the same seed."""
    _refuse_translating(run)
    check_grid_count(n, f"--n {n}")
    labels, nrow = _labels(run, label, n), 8
    if labels is None and run.conditional:
        labels, nrow = class_rows(n, run.info.num_classes)
    batches = list(iter_images(run.method, n, seed=seed, labels=labels, truncation=truncation,
                               batch_size=SAMPLE_BATCH, options=options,
                               on_progress=on_progress))
    used = [y for _, y in batches if y is not None]
    return (torch.cat([images for images, _ in batches]), torch.cat(used) if used else None,
            nrow)


def save_samples(run: LoadedRun, out: str | Path, *, n: int = 64, seed: int = 0,
                 label: str | int | None = None, truncation: float = 1.0, options: Any = None,
                 batch_size: int = SAMPLE_BATCH, progress: bool = False) -> Path:
    """Write n samples to `out`: a grid (NAME.png), an .npz (uint8 NCHW `images`, and `labels`
    for conditional models) or a folder of PNGs named by index (FOLDER/ or an existing empty
    folder). The .npz and the folder are written batch by batch; the same seed and n give the
    same files. A conditional model without a label draws every class in turn."""
    _refuse_translating(run)
    path, kind = check_sample_out(out, n)
    if kind == "grid":
        return sample_grid(run, path, n=n, seed=seed, label=label, truncation=truncation,
                           options=options, progress=progress)
    labels = _labels(run, label, n)
    with progress_bar(n, label="sample", unit="images", enabled=progress) as report:
        batches = iter_images(run.method, n, seed=seed, labels=labels, truncation=truncation,
                              batch_size=batch_size, options=options, on_progress=report)
        if kind == "npz":
            return _write_npz(path, batches, n)
        width = len(str(N_MAX - 1))
        index = 0
        for images, _ in batches:
            for image in images:
                save_image(image, path / f"{index:0{width}d}.png")
                index += 1
    return path


def _refuse_translating(run: LoadedRun) -> None:
    if run.method.translates:
        raise ConfigError(f"{run.path} translates images: use genlab translate {run.path} "
                          "INPUTS --out DIR")


def _labels(run: LoadedRun, label: str | int | None, n: int) -> Tensor | None:
    if label is None:
        return None
    return torch.full((n,), run.label_index(label), dtype=torch.long)


def _write_npz(path: Path, batches: Iterator[tuple[Tensor, Tensor | None]], n: int) -> Path:
    """Stream uint8 batches into the `images` array of an .npz (np.load reads it), so memory
    holds one batch: the .npy header goes first, with the shape known from the first batch."""
    labels = []
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", allowZip64=True) as archive:
        first = next(batches)
        with archive.open(_entry("images.npy"), "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, {
                "descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
                "fortran_order": False, "shape": (n, *first[0].shape[1:])})
            for images, y in (first, *batches):
                f.write(images.contiguous().numpy().tobytes())
                if y is not None:
                    labels.append(y.cpu())
        if labels:
            with archive.open(_entry("labels.npy"), "w") as f:
                np.lib.format.write_array(f, torch.cat(labels).numpy())
    return path


def _entry(name: str) -> zipfile.ZipInfo:
    """An archive entry with a fixed date, so the same images give the same file bytes."""
    return zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))


def decode(method: Method, z: Tensor, labels: Tensor | None = None, options: Any = None,
           on_step: Callable[[int, int], None] | None = None) -> Tensor:
    """`method.decode`, with `on_step(i, steps)` after each sampler step of a diffusion run,
    the one kind of method whose decoding is long (the images are the same either way)."""
    if on_step is not None and isinstance(method, DDPM):
        return method.decode(z, labels, options, on_step=on_step)
    return method.decode(z, labels, options)


@torch.no_grad()
def iter_images(method: Method, n: int, *, seed: int = 0, labels: Tensor | None = None,
                truncation: float = 1.0, batch_size: int = 500, options: Any = None,
                on_progress: Callable[[float], None] | None = None,
                ) -> Iterator[tuple[Tensor, Tensor | None]]:
    """n uint8 images from a method (already in sampling mode), a batch at a time, with the
    labels of each batch. A conditional model without explicit labels gets every class in
    turn; one generator seeded once draws every batch's latents. `on_progress(images)`: the
    images made so far, after each batch (a fraction of a batch after each diffusion step)."""
    if method.num_classes and labels is None:
        labels = torch.arange(n) % method.num_classes
    gen = torch.Generator(device=method.device).manual_seed(seed)
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        y = labels[start:start + m] if labels is not None else None
        y_dev = y.to(method.device) if y is not None else None
        # the method's own truncation trick (StyleGAN's is in W): it may need the labels
        z = method.truncate(method.sample_latents(m, gen), truncation, y_dev)
        on_step = None if on_progress is None else batch_steps(on_progress, start, m)
        images = decode(method, z, y_dev, options, on_step)
        if on_progress is not None:
            on_progress(start + m)
        yield to_uint8(images), y


def batch_steps(on_progress: Callable[[float], None], start: float,
                size: float) -> Callable[[int, int], None]:
    """A batch's sampler callback on_step(i, steps) as progress in images: the batch of `size`
    from image `start` is i/steps made, so a bar moves (with an ETA) during a long diffusion
    batch instead of waiting for its end."""
    return lambda i, steps: on_progress(start + size * i / steps)


def generate_images(method: Method, n: int, *, seed: int = 0, labels: Tensor | None = None,
                    truncation: float = 1.0, batch_size: int = 500, options: Any = None,
                    progress: bool = False) -> tuple[Tensor, Tensor | None]:
    """n uint8 images from a method (already in sampling mode), and the labels used (so
    metrics can check them); see `iter_images`."""
    with progress_bar(n, label="generate", unit="images", enabled=progress) as report:
        batches = list(iter_images(method, n, seed=seed, labels=labels,
                                   truncation=truncation, batch_size=batch_size,
                                   options=options, on_progress=report))
    used = [y for _, y in batches if y is not None]
    return torch.cat([images for images, _ in batches]), torch.cat(used) if used else None

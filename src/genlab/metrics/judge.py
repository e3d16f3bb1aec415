"""Judges: small classifiers genlab trains on each dataset's real images, whose embeddings are
the feature space of FID, KID, IS and precision/recall (no pretrained Inception is needed).

A judge is cached under `<cache>/judges/<dataset>-<size>px-<fingerprint[:16]>/` and the
fingerprint hashes the very images and labels it was trained on (and tested on), with the rule
of a split genlab drew itself (a folder's held-out part), so a changed dataset or split is never
judged by a stale judge.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from genlab.data import ImageData
from genlab.data.config import DataConfig
from genlab.engine.hardware import cpu_has_fast_bf16
from genlab.engine.progress import StepProgress, console
from genlab.errors import ConfigError, EvalError
from genlab.files import atomic_path, write_json, write_text
from genlab.images import to_float
from genlab.nets.judge import JudgeNet

# Bump when training or the net changes: every cached judge is then retrained.
JUDGE_VERSION = "1"
WIDTH, FEATURE_DIM = 32, 128
MAX_SHIFT = 2  # random translation (pixels) of the training augmentation
LR, WEIGHT_DECAY, LABEL_SMOOTHING = 3e-3, 5e-4, 0.1
# Epochs that reach the accuracy targets quickly on a CPU (see the module tests and README).
DEFAULT_EPOCHS = {"fashion-mnist": 6, "mnist": 4, "digits": 15, "shapes": 3}
WEIGHTS, META = "weights.safetensors", "judge.json"
# Judges shipped inside the package (the ones the results pages were measured with; the
# repository's docs/results/judges points here): a fresh machine, or a wheel install, uses one
# whose data fingerprint matches instead of training its own.
SHIPPED = Path(__file__).resolve().parents[1] / "judges"


@dataclass
class Judge:
    """A trained judge and the facts needed to trust it."""

    net: JudgeNet
    dataset: str
    class_names: list[str]
    channels: int
    image_size: int
    test_accuracy: float
    fingerprint: str
    path: Path | None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def class_index(self, target: str, what: str = "class") -> int:
        """A class index from an index or a class name (a ConfigError names the choices)."""
        names = self.class_names
        if target.isdigit() and int(target) < len(names):
            return int(target)
        if target in names:
            return names.index(target)
        raise ConfigError(f"unknown {what} {target!r}: use 0..{len(names) - 1} or one of "
                          f"{', '.join(names)}")

    def classifier(self, device: torch.device | str) -> Callable[[Tensor], Tensor]:
        """The judge as a frozen logits function on images in [-1, 1]."""
        net = self.net.to(device).eval().requires_grad_(False)
        return lambda x: net(x)[0]

    def predict(self, images: Tensor, batch_size: int = 1024) -> tuple[Tensor, Tensor]:
        """(logits [N, K], features [N, D]) float32 on the CPU for uint8 or [-1, 1] images."""
        expected = (self.channels, self.image_size, self.image_size)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise EvalError(f"images are {list(images.shape)} but the {self.dataset} judge needs "
                            f"[N, {', '.join(map(str, expected))}]: make samples at that size")
        device = next(self.net.parameters()).device
        logits, features = [], []
        was_training = self.net.training
        self.net.eval()
        with torch.no_grad(), _autocast(device):
            for chunk in images.split(batch_size):
                chunk = chunk.to(device)
                x = to_float(chunk) if chunk.dtype == torch.uint8 else chunk.float()
                out_logits, out_features = self.net(x.contiguous(memory_format=torch.channels_last))
                logits.append(out_logits.float().cpu())
                features.append(out_features.float().cpu())
        self.net.train(was_training)
        if not logits:
            return torch.empty(0, self.num_classes), torch.empty(0, self.net.feature_dim)
        return torch.cat(logits), torch.cat(features)


def judge_cache_dir() -> Path:
    """Where judges live: $GENLAB_CACHE/judges, else ~/.cache/genlab/judges."""
    root = os.environ.get("GENLAB_CACHE")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "genlab") / "judges"


def data_fingerprint(data_cfg: DataConfig, seed: int = 0) -> str:
    """sha256 of the train and test images, labels and split rule as loaded with these options."""
    return _fingerprint(*_load_splits(data_cfg, seed))


def train_judge(data_cfg: DataConfig, *, seed: int = 0, epochs: int | None = None,
                batch_size: int = 128, device: str = "cpu", progress: bool = True) -> Judge:
    """Train a judge on the train split, measure it on the test split, cache and return it."""
    train, test = _load_splits(data_cfg, seed)
    epochs = epochs if epochs is not None else _default_epochs(train)
    if epochs < 1 or batch_size < 2:
        raise EvalError(f"a judge needs epochs >= 1 and batch_size >= 2, got {epochs} and "
                        f"{batch_size}: pass larger values")
    start = time.perf_counter()
    net = _fit(train, test, seed=seed, epochs=epochs, batch_size=batch_size,
               device=torch.device(device), progress=progress)
    judge = Judge(net, train.name, list(train.class_names), train.channels, train.image_size,
                  0.0, _fingerprint(train, test), None)
    judge.test_accuracy = _accuracy(judge, test)
    seconds = time.perf_counter() - start
    judge.path = _save(judge, epochs=epochs, seconds=seconds)
    return judge


def load_judge(data_cfg: DataConfig, *, seed: int = 0, train_if_missing: bool = True,
               device: str = "cpu", progress: bool = True) -> Judge:
    """The cached judge for exactly this data, else a newly trained one (if allowed)."""
    train, test = _load_splits(data_cfg, seed)
    fingerprint = _fingerprint(train, test)
    folder = _folder(train.name, train.image_size, fingerprint)
    judge = _read(folder, fingerprint, device)
    if judge is not None:
        return judge
    for shipped in sorted(SHIPPED.glob(f"*/{META}")):
        judge = _read(shipped.parent, fingerprint, device)
        if judge is not None:
            console.print(f"judge: the copy shipped with genlab ({shipped.parent})",
                          highlight=False, markup=False, soft_wrap=True)
            with contextlib.suppress(OSError):  # a read-only cache: use it where it is
                _install(shipped.parent, folder)
                judge.path = folder
            return judge
    if not train_if_missing:
        size = f" --set data.image_size={data_cfg.image_size}" if data_cfg.image_size else ""
        raise EvalError(f"no judge for {train.name} at {train.image_size}px: run "
                        f"`genlab judge train --data {data_cfg.name}{size}`")
    return train_judge(data_cfg, seed=seed, device=device, progress=progress)


def _load_splits(data_cfg: DataConfig, seed: int) -> tuple[ImageData, ImageData]:
    # The judge of image-to-image data is the judge of its plain dataset: one judge (e.g. the
    # shipped Fashion-MNIST one) serves edges -> item, sneaker -> ankle boot and plain runs.
    data_cfg = data_cfg.plain()
    train, test = data_cfg.load("train", seed=seed), data_cfg.load("test", seed=seed)
    if any(d.labels is None or d.num_classes < 2 for d in (train, test)):
        raise EvalError(f"a judge needs class labels and {data_cfg.name} has none: use a labelled "
                        "dataset (e.g. a folder with one sub-folder per class)")
    if len(train) < 2 or len(test) < 1:
        raise EvalError(f"{data_cfg.name} has too few images to train a judge: use more data")
    return train, test


def _fingerprint(train: ImageData, test: ImageData) -> str:
    digest = hashlib.sha256(f"genlab-judge-{JUDGE_VERSION}".encode())
    for data in (train, test):
        assert data.labels is not None  # checked in _load_splits
        digest.update(f"{data.name}|{list(data.images.shape)}|{data.class_names}".encode())
        digest.update(data.images.contiguous().numpy().tobytes())
        digest.update(data.labels.contiguous().numpy().tobytes())
        if data.split is not None:  # a split genlab drew (folder:PATH): its rule is data too
            rule = {k: v for k, v in data.split.items() if k != "summary"}  # wording is not
            digest.update(json.dumps(rule, sort_keys=True).encode())
    return digest.hexdigest()


def _default_epochs(train: ImageData) -> int:
    if train.name in DEFAULT_EPOCHS:
        return DEFAULT_EPOCHS[train.name]
    # Unknown data: about 2,000 optimiser steps at batch 128, within 3..50 epochs.
    return max(3, min(50, math.ceil(2000 * 128 / len(train))))


def _autocast(device: torch.device) -> contextlib.AbstractContextManager[object]:
    """bf16 autocast where it is fast (AMX/AVX512-BF16 CPUs, bf16 GPUs), else nothing."""
    fast = cpu_has_fast_bf16() if device.type == "cpu" else (
        device.type == "cuda" and torch.cuda.is_bf16_supported())
    if fast:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _shift(x: Tensor, generator: torch.Generator) -> Tensor:
    """Translate each image by up to MAX_SHIFT pixels (edges replicated, so no new border)."""
    n, _, h, w = x.shape
    padded = F.pad(x, (MAX_SHIFT,) * 4, mode="replicate")
    dy, dx = torch.randint(0, 2 * MAX_SHIFT + 1, (2, n, 1), generator=generator).to(x.device)
    rows = (torch.arange(h, device=x.device) + dy)[:, None, :, None]  # [n, 1, h, 1]
    cols = (torch.arange(w, device=x.device) + dx)[:, None, None, :]  # [n, 1, 1, w]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def _batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    """A seeded permutation cut into full batches (batch norm needs more than one image)."""
    size = min(batch_size, n)
    order = torch.randperm(n, generator=generator)
    yield from order[: n - n % size].split(size)


def _fit(train: ImageData, test: ImageData, *, seed: int, epochs: int, batch_size: int,
         device: torch.device, progress: bool) -> JudgeNet:
    assert train.labels is not None
    steps_per_epoch = len(train) // min(batch_size, len(train))
    total = epochs * steps_per_epoch
    with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG as it was
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        net = JudgeNet(train.channels, train.image_size, train.num_classes, WIDTH, FEATURE_DIM)
        net = net.to(device, memory_format=torch.channels_last)
        optimizer = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, LR, total_steps=total)
        if progress:
            console.print(f"training a judge for {train.name} ({train.image_size}px, "
                          f"{train.num_classes} classes, {len(train)} images, {epochs} epochs)",
                          highlight=False, markup=False, soft_wrap=True)
        bar = StepProgress(total, 0, enabled=progress)
        step = 0
        try:
            for epoch in range(1, epochs + 1):
                net.train()
                losses = []
                for index in _batches(len(train), batch_size, generator):
                    x = _shift(to_float(train.images[index]), generator).to(device)
                    y = train.labels[index].to(device)
                    with _autocast(device):
                        logits, _ = net(x.contiguous(memory_format=torch.channels_last))
                    loss = F.cross_entropy(logits.float(), y, label_smoothing=LABEL_SMOOTHING)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    schedule.step()
                    losses.append(loss.detach())
                    step += 1
                    bar.update(step)
                if progress:  # the per-epoch test accuracy is for the user only
                    probe = Judge(net, train.name, train.class_names, train.channels,
                                  train.image_size, 0.0, "", None)
                    bar.update(step, {"epoch": epoch, "loss": float(torch.stack(losses).mean()),
                                      "test_acc": _accuracy(probe, test)})
        finally:
            bar.close()
    return net.eval()


def _accuracy(judge: Judge, data: ImageData) -> float:
    assert data.labels is not None
    logits, _ = judge.predict(data.images)
    return float((logits.argmax(1) == data.labels).float().mean())


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "data"


def _folder(name: str, image_size: int, fingerprint: str) -> Path:
    return judge_cache_dir() / f"{_slug(name)}-{image_size}px-{fingerprint[:16]}"


def _save(judge: Judge, *, epochs: int, seconds: float) -> Path:
    folder = _folder(judge.dataset, judge.image_size, judge.fingerprint)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in judge.net.state_dict().items()}
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file(state, str(tmp))
    meta = {"dataset": judge.dataset, "class_names": judge.class_names,
            "channels": judge.channels, "image_size": judge.image_size,
            "test_accuracy": judge.test_accuracy, "fingerprint": judge.fingerprint,
            "width": judge.net.width, "feature_dim": judge.net.feature_dim, "epochs": epochs,
            "seconds": round(seconds, 1)}
    # judge.json is written last: its presence marks a complete judge.
    write_json(folder / META, meta)
    return folder


def _read(folder: Path, fingerprint: str, device: str) -> Judge | None:
    """The judge cached in folder, or None if it is missing, unreadable or for other data."""
    try:
        meta = json.loads((folder / META).read_text())
        if meta["fingerprint"] != fingerprint:
            return None
        net = JudgeNet(meta["channels"], meta["image_size"], len(meta["class_names"]),
                       meta["width"], meta["feature_dim"])
        net.load_state_dict(load_file(str(folder / WEIGHTS)))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError):
        return None  # a damaged cache entry is simply retrained
    net = net.to(torch.device(device), memory_format=torch.channels_last).eval()
    return Judge(net, meta["dataset"], list(meta["class_names"]), meta["channels"],
                 meta["image_size"], float(meta["test_accuracy"]), fingerprint, folder)


def judge_digest(judge: Judge) -> str:
    """sha256 (16 hex) of a cached judge's weights file: which judge measured a result."""
    assert judge.path is not None
    return hashlib.sha256((judge.path / WEIGHTS).read_bytes()).hexdigest()[:16]


def pin_judge(data_cfg: DataConfig, folder: Path, *, progress: bool = True) -> Judge:
    """The judge kept in `folder` (e.g. beside a benchmark page), so later runs of the
    benchmark, on any machine, are measured by the very same weights.

    Judge training is not bit-reproducible across machines (threaded bf16 kernels), so a
    results page keeps a copy of its judge. A copy made for other data is replaced.
    """
    try:
        meta = json.loads((folder / META).read_text())
        cached = _folder(meta["dataset"], int(meta["image_size"]), meta["fingerprint"])
        if not (cached / META).exists():  # install the pinned copy in the cache
            _install(folder, cached)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no usable pinned judge: load or train one below and pin it
    judge = load_judge(data_cfg, progress=progress)
    assert judge.path is not None
    if judge.path.resolve() != folder.resolve() and (
            not (folder / WEIGHTS).exists()
            or (folder / WEIGHTS).read_bytes() != (judge.path / WEIGHTS).read_bytes()):
        _install(judge.path, folder)
    return judge


def _install(source: Path, folder: Path) -> None:
    """Copy a judge's files (weights first, so a half-copied folder has no metadata)."""
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / WEIGHTS) as tmp:
        tmp.write_bytes((source / WEIGHTS).read_bytes())
    write_text(folder / META, (source / META).read_text())

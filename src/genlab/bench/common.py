"""What several benchmarks share: the presets they train, the machine and judge a result was
measured with, the rules that decide whether a raw result counts or is redone, the pool of
worker processes that trains runs side by side, and the quick variants' tiny Fashion-MNIST."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import platform
import struct
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from genlab.config import resolve_config_path
from genlab.data.config import DataConfig
from genlab.generate.sample import generate_images
from genlab.metrics.evaluate import Evaluator, headline

# The GAN family, in the order `genlab bench gan` runs it and its page lists it.
GAN_METHODS = ("gan", "dcgan", "wgan", "wgan-gp", "cdcgan")


def preset_path(method: str) -> Path:
    """The shipped preset a benchmark row trains (package data: works from a wheel too)."""
    return resolve_config_path(method)


def machine_id() -> str:
    """What a CPU-time budget buys depends on it: results from other machines are not mixed."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{model}, {os.cpu_count()} CPUs, {torch.backends.cpu.get_cpu_capability()}, "
            f"torch {torch.__version__.split('+')[0]}")


def judge_folder(out: Path, data_cfg: Any) -> Path:
    """Where a results folder keeps the judge its pages were measured with (committed)."""
    size = f"-{data_cfg.image_size}px" if data_cfg.image_size else ""
    pad = f"-pad{data_cfg.pad}" if getattr(data_cfg, "pad", 0) else ""  # other images, other judge
    return out / "judges" / f"{data_cfg.name}{size}{pad}"


def pinned_judge(out: Path, data_cfg: Any, progress: bool) -> str:
    """Install (or make) the results folder's judge; returns its digest."""
    from genlab.metrics.judge import judge_digest, pin_judge

    return judge_digest(pin_judge(data_cfg, judge_folder(out, data_cfg), progress=progress))


def done_with(path: Path, judge: str, **protocol: Any) -> bool:
    """A raw result exists, was measured by this judge and under this protocol (e.g. the
    budget's clock); other results are redone, never mixed in."""
    try:
        row = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return row.get("judge") == judge and all(row.get(k) == v for k, v in protocol.items())


class FidCurve:
    """A trainer's evaluator that draws an FID-vs-training-time curve: a point every `every_s`
    seconds of the trainer's budget clock (the trainer asks every train.eval_every steps).
    Set `trainer` before training; `points` holds (train seconds, FID)."""

    def __init__(self, evaluator: Evaluator, every_s: float) -> None:
        self.ev, self.every_s, self.next_s = evaluator, every_s, every_s
        self.trainer: Any = None
        self.points: list[tuple[float, float]] = []

    def __call__(self, method: Any, step: int) -> dict[str, float]:
        if self.trainer.train_seconds < self.next_s:
            return {}
        self.next_s += self.every_s
        return self.measure(method)

    def measure(self, method: Any) -> dict[str, float]:
        """One point now (method in sampling mode): its headline metrics, FID kept."""
        images, labels = generate_images(method, self.ev.n, seed=1)
        results = headline(self.ev.evaluate(images, labels))
        self.points.append((float(self.trainer.train_seconds), results["fid"]))
        return results


def config_hash(cfg: Any, **extra: Any) -> str:
    """What makes a run's numbers: its config (a RunConfig; not where or under which name it
    is kept), plus the evaluation's facts."""
    dumped = cfg.model_dump(mode="json")
    dumped.pop("name", None)
    dumped["train"].pop("out_dir", None)
    text = json.dumps({"config": dumped, **extra}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def done_row(path: Path, digest: str) -> dict[str, Any] | None:
    """The finished raw row at `path` if it was made from this hash on this machine (a time
    budget buys other work elsewhere), else None: the run is redone."""
    try:
        row = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return row if row.get("hash") == digest and row.get("machine") == machine_id() else None


class _Inline(Executor):
    """Runs each job at once in this process (one worker: errors and Ctrl-C surface as is)."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def worker_pool(workers: int) -> Executor:
    """`workers` spawned processes (fresh interpreters: no forked threads or torch state), or
    this process itself for one worker."""
    if workers <= 1:
        return _Inline()
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


@contextmanager
def quick_threads(quick: bool) -> Iterator[None]:
    """One torch thread for a --quick bench (tiny nets gain nothing from threads, and lose
    much when the CPU is shared); torch's own count again afterwards."""
    threads = torch.get_num_threads()
    if quick:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def threads_per_worker(workers: int) -> int | None:
    """Each worker's equal share of the CPU threads (None: one worker keeps torch's own)."""
    return max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None


def write_quick_fashion(root: Path, train: int, test: int) -> Path:
    """The first images of each Fashion-MNIST split as IDX files (a --quick data.root)."""
    for split, prefix, n in (("train", "train", train), ("test", "t10k", test)):
        data = DataConfig(name="fashion-mnist").load(split)
        assert data.labels is not None
        images = data.images[:n, 0].numpy()
        labels = data.labels[:n].numpy().astype("uint8")
        root.mkdir(parents=True, exist_ok=True)
        (root / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(
            struct.pack(">IIII", 0x803, *images.shape) + images.tobytes(), mtime=0))
        (root / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(
            struct.pack(">II", 0x801, len(labels)) + labels.tobytes(), mtime=0))
    return root

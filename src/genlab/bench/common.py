"""What several benchmarks share: the presets they train, the machine and judge a result was
measured with, and the rule that decides whether a raw result counts or is redone."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

from genlab.config import resolve_config_path

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
    return out / "judges" / f"{data_cfg.name}{size}"


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

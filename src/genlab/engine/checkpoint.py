"""Checkpoints: weights in safetensors, the rest in a weights-only torch file.

Each checkpoint is a folder `checkpoints/step-NNNNNNN/` that appears by an atomic rename only
once both files are complete and synced, so a crash at any moment leaves earlier checkpoints
intact and never a half-written one under a final name.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from genlab.errors import CheckpointError

WEIGHTS, STATE = "weights.safetensors", "state.pt"
_NAME = re.compile(r"^step-(\d{7,})$")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


BEST = "best"


def save_checkpoint(ckpt_root: Path, step: int, tensors: dict[str, Tensor],
                    state: dict[str, Any], keep_last: int, name: str | None = None) -> Path:
    """Write `step-NNNNNNN` (keeping the newest `keep_last`), or a named one such as `best`."""
    ckpt_root.mkdir(parents=True, exist_ok=True)
    final = ckpt_root / (name or f"step-{step:07d}")
    tmp = ckpt_root / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp / WEIGHTS)
    torch.save(state, tmp / STATE)
    for f in (tmp / WEIGHTS, tmp / STATE, tmp):
        _fsync(f)
    if final.exists():  # same step saved again, or a new best replacing the old one
        _discard(final)
    os.rename(tmp, final)
    _fsync(ckpt_root)
    for old in list_checkpoints(ckpt_root)[:-keep_last]:
        _discard(old)
    return final


def _discard(path: Path) -> None:
    # Rename first so a crash mid-delete never leaves a partial folder under a final name.
    trash = path.with_name(f".trash-{path.name}-{os.getpid()}")
    os.rename(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def list_checkpoints(ckpt_root: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    if not ckpt_root.is_dir():
        return []
    found = [p for p in ckpt_root.iterdir() if p.is_dir() and _NAME.match(p.name)]
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))  # type: ignore[union-attr]


def checkpoint_step(path: Path) -> int:
    match = _NAME.match(path.name)
    if not match:
        raise CheckpointError(f"{path} is not a genlab checkpoint folder (step-NNNNNNN)")
    return int(match.group(1))


def find_checkpoint(run_dir: Path, which: str = "last") -> Path:
    """`last`, `best`, a step number, or a path to a checkpoint folder."""
    if which == BEST:
        path = run_dir / "checkpoints" / BEST
        if not path.is_dir():
            raise CheckpointError(f"{run_dir} has no best checkpoint: train with "
                                  "train.eval_every > 0, or use --checkpoint last")
        return path
    ckpts = list_checkpoints(run_dir / "checkpoints")
    if not ckpts:
        raise CheckpointError(f"no checkpoint in {run_dir}: train it first (or pick another run)")
    if which == "last":
        return ckpts[-1]
    if which.isdigit():
        for path in ckpts:
            if checkpoint_step(path) == int(which):
                return path
        steps = ", ".join(str(checkpoint_step(p)) for p in ckpts)
        raise CheckpointError(f"no checkpoint at step {which} in {run_dir}: have {steps}")
    path = Path(which)
    if path.is_dir():
        return path
    raise CheckpointError(f"unknown checkpoint {which!r}: use last, best, a step number or a "
                          "folder")


def load_checkpoint(path: Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    try:
        tensors = load_file(path / WEIGHTS)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} has no {WEIGHTS}: it is incomplete; "
                              "delete it to fall back to an earlier one") from None
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path}/{WEIGHTS} is corrupt ({_short(err)}): "
                              "delete it to fall back to an earlier one") from None
    try:
        state = torch.load(path / STATE, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} has no {STATE}: it is incomplete; "
                              "delete it to fall back to an earlier one") from None
    except Exception as err:  # torch raises many types for truncated or foreign files
        raise CheckpointError(f"checkpoint {path}/{STATE} is corrupt or not genlab's "
                              f"({_short(err)}): delete it to fall back to an earlier "
                              "one") from None
    if not isinstance(state, dict) or "step" not in state:
        raise CheckpointError(f"checkpoint {path}/{STATE} is not a genlab training state")
    return tensors, state


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:120]


def split_weights(tensors: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """A checkpoint's tensors as (live nets, EMA nets), each by net-relative key."""
    nets = {k[len("nets."):]: v for k, v in tensors.items() if k.startswith("nets.")}
    ema = {k[len("ema."):]: v for k, v in tensors.items() if k.startswith("ema.")}
    return nets, ema


def inference_weights(tensors: dict[str, Tensor], ema: bool = True) -> dict[str, Tensor]:
    """The weights to sample with: the live nets, the EMA copies replacing those they shadow."""
    nets, averaged = split_weights(tensors)
    return {**nets, **averaged} if ema else nets

"""Checkpoints: weights in safetensors, the rest in a weights-only torch file.

Each checkpoint is a folder `checkpoints/step-NNNNNNN/` that appears by an atomic rename only
once both files are complete and synced, so a crash at any moment leaves earlier checkpoints
intact and never a half-written one under a final name.
"""

from __future__ import annotations

import os
import pickle
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
    final = ckpt_root / (name or f"step-{step:07d}")
    tmp = ckpt_root / f".tmp-{final.name}-{os.getpid()}"
    try:
        ckpt_root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        torch.save(state, tmp / STATE)
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp / WEIGHTS)
        # safetensors writes 0600; give the weights the mode the umask gave state.pt
        os.chmod(tmp / WEIGHTS, (tmp / STATE).stat().st_mode & 0o777)
        for f in (tmp / WEIGHTS, tmp / STATE, tmp):
            _fsync(f)
    except OSError as err:  # a full disk, a quota, a read-only folder: nothing half-written
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(f"could not write checkpoint {final.name} in {ckpt_root} "
                              f"({err.strerror or err}): earlier checkpoints are intact; free "
                              "space (or fix the folder) and resume with genlab train --resume "
                              f"{ckpt_root.parent}") from None
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


def clean_stale(ckpt_root: Path) -> list[str]:
    """Remove the temporary and trash folders that a killed process left behind (the caller
    holds the run's lock, so no other writer owns them). Returns their names."""
    if not ckpt_root.is_dir():
        return []
    stale = [p for p in ckpt_root.iterdir() if p.name.startswith((".tmp-", ".trash-"))]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return [p.name for p in stale]


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
    except pickle.UnpicklingError as err:
        if "weights only" not in str(err).lower():  # a truncated file, not a refused one
            raise CheckpointError(f"checkpoint {path}/{STATE} is corrupt ({_short(err)}): "
                                  "delete it to fall back to an earlier one") from None
        raise CheckpointError(f"genlab refused {path}/{STATE}: it holds more than tensors and "
                              "plain values (genlab never runs code from a checkpoint), so it "
                              "was not written by genlab; delete it or use the run's own "
                              "files") from None
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

def load_weights(method: Any, ema: Any, tensors: dict[str, Tensor], path: Path) -> None:
    """Load `nets.*` (and `ema.*`) tensors strictly; a mismatch is a CheckpointError."""
    nets, averaged = split_weights(tensors)
    groups: list[tuple[str, torch.nn.Module, dict[str, Tensor]]] = [("nets.", method.nets, nets)]
    if ema is not None:
        groups.append(("ema.", ema.nets, averaged))
    for prefix, module, part in groups:
        if prefix == "ema." and not part:
            ema.nets.load_state_dict({k: v for k, v in method.nets.state_dict().items()  # type: ignore[union-attr]
                                      if k.split(".")[0] in ema.nets}, strict=True)
            continue
        try:
            module.load_state_dict(part, strict=True)
        except RuntimeError as err:
            first = str(err).split("\n\t")[1] if "\n\t" in str(err) else str(err)[:200]
            raise CheckpointError(f"checkpoint {path} does not fit this model ({first.strip()}): "
                                  "use the config the run was trained with") from None

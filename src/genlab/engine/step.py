"""One training step's plumbing: the per-step seed that makes resume exact, and the context a
method's train_step applies its updates through."""

from __future__ import annotations

import torch
from torch import Tensor

from genlab.engine.guard import check_loss, scaled_lr
from genlab.engine.hardware import Hardware
from genlab.methods.base import Method


def step_seed(seed: int, step: int, rank: int) -> int:
    return (seed * 1_000_003 + step * 7919 + rank * 104_729) % (2**63 - 1)


class StepContext:
    """What a method's train_step uses to apply an update (see methods.base.StepContext)."""

    def __init__(self, method: Method, hw: Hardware, scaler: torch.amp.GradScaler | None):
        self.method, self.hw, self.scaler = method, hw, scaler
        self.lr_scale = 1.0  # lowered by each rollback after a non-finite loss

    def update(self, optimizer: str, loss: Tensor) -> None:
        check_loss(loss, optimizer, self.hw)  # before backward: a NaN never reaches weights
        opt = self.method.optimizers[optimizer]
        opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()
        self.hw.all_reduce_grads(p for g in opt.param_groups for p in g["params"])
        with scaled_lr(opt, self.lr_scale):
            if self.scaler is not None:
                self.scaler.step(opt)
            else:
                opt.step()

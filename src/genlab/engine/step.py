"""One training step's plumbing: the per-step seed that makes resume exact, and the context a
method's train_step applies its updates through."""

from __future__ import annotations

import torch
from torch import Tensor

from genlab.engine.guard import check_loss, scaled_lr
from genlab.engine.hardware import Hardware
from genlab.errors import TrainingError
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
        # Autocast caches the low-precision copy of each weight until the outermost autocast
        # region ends, with no check that the weight changed: a later forward in this step
        # (n_critic > 1) would run on the weights from before this update.
        torch.clear_autocast_cache()


def explain_compile_error(err: RuntimeError, compiled: bool) -> TrainingError | None:
    """A one-line error in place of `err` from a train step, if it is something compiled nets
    cannot do (a double backward through a net the method does not run eagerly)."""
    if compiled and "double backward" in str(err):
        return TrainingError("train.compile=true: this method takes a double backward "
                             "through a compiled net, which torch.compile does not support: "
                             "set train.compile=false")
    return None

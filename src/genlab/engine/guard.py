"""Divergence guards: a non-finite loss is caught before its update is applied, and
non-finite weights are never checkpointed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

from genlab.engine.hardware import Hardware


class NonFiniteLoss(Exception):
    """Raised inside a method's train_step; the trainer decides: stop, roll back or skip."""

    def __init__(self, name: str, value: float) -> None:
        super().__init__(f"the {name} loss is {value}")
        self.name, self.value = name, value


def check_loss(loss: Tensor, name: str, hw: Hardware) -> None:
    """Raise NonFiniteLoss if any process's `loss` is NaN or infinite. One isfinite on a
    scalar (and, under several processes, one tiny all-reduce so every rank agrees)."""
    if hw.any_rank(not bool(torch.isfinite(loss.detach()).all())):
        raise NonFiniteLoss(name, float(loss.detach().float().mean()))


def first_nonfinite(tensors: dict[str, Tensor]) -> str | None:
    """The name of the first floating-point tensor holding a NaN or infinity, if any."""
    for key, value in tensors.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return key
    return None


@contextmanager
def scaled_lr(optimizer: torch.optim.Optimizer, scale: float) -> Iterator[None]:
    """Step with every learning rate times `scale` (after rollbacks), whatever schedule the
    method sets: the method's own values come back after the step."""
    if scale == 1.0:
        yield
        return
    saved = [group["lr"] for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * scale
    try:
        yield
    finally:
        for group, lr in zip(optimizer.param_groups, saved, strict=True):
            group["lr"] = lr

"""Exponential moving average of a method's nets (usually the generator), and sampling
from them."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from genlab.methods.base import Method


class EMA:
    def __init__(self, nets: dict[str, nn.Module], decay: float, start: int = 0) -> None:
        self.decay, self.start = decay, start
        self.live = nets
        self.nets = nn.ModuleDict({k: copy.deepcopy(v).requires_grad_(False).eval()
                                   for k, v in nets.items()})

    def decay_at(self, step: int) -> float:
        """The decay ramps up as (1 + n) / (10 + n) after `start` (copy before), so early
        weights, far from the final ones, are forgotten fast in short runs."""
        if step < self.start:
            return 0.0
        n = step - self.start
        return min(self.decay, (1 + n) / (10 + n))

    @torch.no_grad()
    def update(self, step: int) -> None:
        """Average in the live weights after `step` updates."""
        weight = self.decay_at(step)
        for name, live in self.live.items():
            avg = self.nets[name]
            params = list(avg.parameters())
            torch._foreach_lerp_(params, list(live.parameters()), 1.0 - weight)
            for b_avg, b_live in zip(avg.buffers(), live.buffers(), strict=True):
                b_avg.copy_(b_live)  # batch-norm statistics follow the live net


@contextmanager
def sampling(method: Method, ema: EMA | None) -> Iterator[Method]:
    """Put the EMA nets (if any) in place of the live ones, in eval mode, without grad."""
    swapped = {k: method.nets[k] for k in (ema.nets if ema else {})}
    training = {k: m.training for k, m in method.nets.items()}
    for k in swapped:
        method.nets[k] = ema.nets[k]  # type: ignore[union-attr]
    method.nets.eval()
    try:
        with torch.no_grad():
            yield method
    finally:
        for k, m in swapped.items():
            method.nets[k] = m
        for k, m in method.nets.items():
            m.train(training[k])

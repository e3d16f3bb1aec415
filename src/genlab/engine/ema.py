"""Exponential moving average of a method's nets (usually the generator)."""

from __future__ import annotations

import copy

import torch
from torch import nn


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

"""Controllable generation: steer noise vectors with a classifier's gradient, generator frozen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genlab.methods import Method

Classifier = Callable[[Tensor], Tensor]  # images in [-1, 1] -> logits, differentiable


@dataclass
class Steered:
    before: Tensor  # images in [-1, 1] from the starting latents
    after: Tensor  # images from the optimised latents
    prob_before: float  # mean classifier probability of the target class
    prob_after: float
    z: Tensor  # the optimised latents


def target_probability(classifier: Classifier, images: Tensor, target: int) -> Tensor:
    return classifier(images).float().softmax(dim=1)[:, target]


def steer(method: Method, classifier: Classifier, target: int, *, n: int = 64, steps: int = 100,
          lr: float = 0.05, prior_weight: float = 0.01, seed: int = 0) -> Steered:
    """Optimise n latents so the classifier sees `target`: minimise -log p(target | G(z)) plus
    `prior_weight` * mean(z^2), which keeps z where the generator was trained."""
    gen = torch.Generator(device=method.device).manual_seed(seed)
    z0 = method.sample_latents(n, gen)
    method.nets.eval().requires_grad_(False)
    with torch.no_grad():
        before = method.decode(z0)
        p_before = target_probability(classifier, before, target).mean().item()
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        logits = classifier(method.decode(z)).float()
        loss = -logits.log_softmax(dim=1)[:, target].mean() + prior_weight * z.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = method.decode(z)
        p_after = target_probability(classifier, after, target).mean().item()
    return Steered(before, after, p_before, p_after, z.detach())

"""Controllable generation: steer noise vectors with a classifier's gradient, generator frozen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genlab.engine.progress import Report, progress_bar
from genlab.methods.base import Method

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


def _optimise(method: Method, classifier: Classifier, target: int, z0: Tensor, *, steps: int,
              lr: float, prior_weight: float,
              on_step: Callable[[int], None] | None = None) -> tuple[Tensor, Tensor]:
    """Adam on z; returns each latent's best version seen (by target probability) and that
    probability, so an overshoot late in the run never loses a good latent. `on_step(i)`
    after each of the `steps` updates."""
    z = z0.clone().requires_grad_(True)
    best_z, best_p = z0.clone(), torch.full((len(z0),), -1.0, device=z0.device)
    opt = torch.optim.Adam([z], lr=lr)
    for step in range(steps + 1):
        logits = classifier(method.decode(z)).float()
        with torch.no_grad():
            p = logits.softmax(dim=1)[:, target]
            better = p > best_p
            best_p = torch.where(better, p, best_p)
            best_z[better] = z.detach()[better]
        if step == steps:
            break
        loss = -logits.log_softmax(dim=1)[:, target].mean() + prior_weight * z.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if on_step is not None:
            on_step(step + 1)
    return best_z, best_p


def steer(method: Method, classifier: Classifier, target: int, *, n: int = 64, steps: int = 100,
          lr: float = 0.05, prior_weight: float = 0.01, restarts: int = 0,
          seed: int = 0, progress: bool = False) -> Steered:
    """Optimise n latents so the classifier sees `target`: minimise -log p(target | G(z)) plus
    `prior_weight` * mean(z^2), which keeps z where the generator was trained. Latents still
    below probability 0.5 afterwards are redrawn and optimised again, up to `restarts` times
    (a latent can sit in a region the generator cannot leave toward the target).
    `progress`: a bar on stderr counting the optimisation steps, restarts included (the total
    shrinks to what ran when no latent is left stuck)."""
    gen = torch.Generator(device=method.device).manual_seed(seed)
    z0 = method.sample_latents(n, gen)
    method.nets.eval().requires_grad_(False)
    with torch.no_grad():
        before = method.decode(z0)
        p_before = target_probability(classifier, before, target).mean().item()
    with progress_bar(steps * (1 + restarts), label="steer", unit="steps",
                      enabled=progress) as report:
        options = dict(steps=steps, lr=lr, prior_weight=prior_weight)
        z, p = _optimise(method, classifier, target, z0, **options,
                         on_step=_round(report, 0))
        for done in range(1, restarts + 1):
            stuck = p < 0.5
            if not stuck.any():
                if report is not None:
                    report(done * steps, done * steps)
                break
            fresh, p_fresh = _optimise(method, classifier, target,
                                       method.sample_latents(int(stuck.sum()), gen), **options,
                                       on_step=_round(report, done * steps))
            better = p_fresh > p[stuck]
            index = stuck.nonzero().flatten()[better]
            z[index], p[index] = fresh[better], p_fresh[better]
    with torch.no_grad():
        after = method.decode(z)
        p_after = target_probability(classifier, after, target).mean().item()
    return Steered(before, after, p_before, p_after, z)


def _round(report: Report | None, start: int) -> Callable[[int], None] | None:
    """A round's on_step(i) as steps of the whole run, which began `start` steps earlier."""
    return None if report is None else lambda i: report(start + i)

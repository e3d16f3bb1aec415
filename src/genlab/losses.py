"""GAN losses as plain functions of logits: no backward, no optimiser step."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import Tensor

ADVERSARIAL_LOSSES = ("bce", "bce-saturating", "hinge", "lsgan", "wasserstein")


def _check_kind(kind: str) -> None:
    if kind not in ADVERSARIAL_LOSSES:
        raise ValueError(f"unknown loss {kind!r}; valid: {', '.join(ADVERSARIAL_LOSSES)}")


def discriminator_loss(
    kind: str, real_logits: Tensor, fake_logits: Tensor, real_label: float = 1.0
) -> Tensor:
    """Discriminator (critic) loss to minimise; `real_label` < 1 smooths the real target (bce)."""
    _check_kind(kind)
    # float32: bf16 logits under autocast lose too much in softplus/means.
    real, fake = real_logits.float(), fake_logits.float()
    if kind in ("bce", "bce-saturating"):
        target = torch.full_like(real, real_label)
        return F.binary_cross_entropy_with_logits(
            real, target
        ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    if real_label != 1.0:
        raise ValueError(f"real_label (label smoothing) only applies to bce losses, not {kind!r}")
    if kind == "hinge":
        return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
    if kind == "lsgan":
        return 0.5 * ((real - 1.0) ** 2).mean() + 0.5 * (fake**2).mean()
    return fake.mean() - real.mean()  # wasserstein


def translation_d_loss(kind: str, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The pix2pix/CycleGAN reference code's discriminator loss, halved "to slow down D":
    0.5 (bce(real, 1) + bce(fake, 0)), or 0.5 (mse(real, 1) + mse(fake, 0)), which the lsgan
    loss above already is."""
    loss = discriminator_loss(kind, real_logits, fake_logits)
    return 0.5 * loss if kind in ("bce", "bce-saturating") else loss


def translation_g_loss(kind: str, fake_logits: Tensor) -> Tensor:
    """The pix2pix/CycleGAN reference code's generator loss, so their lambdas keep their
    meaning: bce(fake, 1), or mse(fake, 1) (twice the lsgan generator loss, which has a 1/2)."""
    loss = generator_loss(kind, fake_logits)
    return 2.0 * loss if kind == "lsgan" else loss


def generator_loss(kind: str, fake_logits: Tensor) -> Tensor:
    """Generator loss to minimise, given the discriminator's logits on fakes."""
    _check_kind(kind)
    fake = fake_logits.float()
    if kind == "bce":
        # Non-saturating: -log D(G(z)) = softplus(-l).
        return F.softplus(-fake).mean()
    if kind == "bce-saturating":
        # Minimax: log(1 - D(G(z))) = log sigmoid(-l) = -softplus(l), stable for any l.
        return -F.softplus(fake).mean()
    if kind == "lsgan":
        return 0.5 * ((fake - 1.0) ** 2).mean()
    return -fake.mean()  # hinge and wasserstein


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    alpha: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017): mean((||grad critic(x_hat)||_2 - 1)^2).

    x_hat = alpha * real + (1 - alpha) * fake, alpha ~ U[0, 1) drawn once per example
    (from `generator` if given) unless `alpha` is passed. The result keeps its graph so
    it trains the critic; multiply it by lambda (usually 10) yourself. The critic must
    score each example independently (no BatchNorm), as WGAN-GP requires.
    """
    real, fake = real.detach(), fake.detach()
    if alpha is None:
        # One alpha per example, broadcast over pixels: a per-pixel alpha samples points
        # off the real-fake line the penalty is meant to constrain.
        shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        alpha = torch.rand(shape, generator=generator, device=real.device)
    # Mix and measure in at least float32 (bf16/fp16 inputs), float64 stays float64.
    work = torch.promote_types(real.dtype, torch.float32)
    alpha = alpha.to(real.device, work)
    x_hat = (alpha * real.to(work) + (1.0 - alpha) * fake.to(work)).to(real.dtype)
    # enable_grad: the penalty is meaningless without a graph, even if called under no_grad.
    with torch.enable_grad():
        x_hat.requires_grad_(True)
        # A compiled critic (train.compile) runs eagerly here: torch.compile's graphs do
        # not support the double backward this penalty needs (set_stance: torch >= 2.6).
        stance = getattr(torch.compiler, "set_stance", None)
        with stance("force_eager") if stance else nullcontext():
            scores = critic(x_hat)
        # Summing is fine: each score depends only on its own example.
        (grad,) = torch.autograd.grad(scores.to(work).sum(), x_hat, create_graph=True)
        norms = grad.to(work).flatten(1).norm(2, dim=1)
        return ((norms - 1.0) ** 2).mean()


# ----- likelihood models (VAE, diffusion) -------------------------------------------------
def gaussian_kl(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) summed over latent dimensions: [N]."""
    kl = 0.5 * (mean.float().pow(2) + logvar.float().exp() - 1.0 - logvar.float())
    return kl.flatten(1).sum(dim=1)


def reconstruction_loss(kind: str, recon: Tensor, target: Tensor) -> Tensor:
    """Squared ("mse") or absolute ("l1") error summed over pixels: [N]."""
    diff = recon.float() - target.float()
    err = diff.pow(2) if kind == "mse" else diff.abs()
    return err.flatten(1).sum(dim=1)


def epsilon_loss(predicted: Tensor, noise: Tensor) -> Tensor:
    """The DDPM "simple" objective: mean squared error between the UNet's output and its target
    (the true noise, or v for v-prediction)."""
    return (predicted.float() - noise.float()).pow(2).mean()


def perceptual_distance(features_a: list[Tensor], features_b: list[Tensor]) -> Tensor:
    """LPIPS-style distance (Zhang et al. 2018) without its learned channel weights: per layer,
    unit-normalise each pixel's feature vector, take the squared difference summed over
    channels and averaged over pixels; summed over layers: [N]."""
    total = torch.zeros(features_a[0].shape[0], device=features_a[0].device)
    for a, b in zip(features_a, features_b, strict=True):
        a, b = F.normalize(a.float(), dim=1), F.normalize(b.float(), dim=1)
        total = total + (a - b).pow(2).sum(1).flatten(1).mean(1)
    return total


def clip_loss(image_features: Tensor, text_features: Tensor, logit_scale: Tensor) -> Tensor:
    """CLIP's symmetric InfoNCE (Radford et al. 2021): image i and text i are a positive pair,
    every other text (image) in the batch a negative. Features [B, D] are L2-normalised here;
    logit_scale is the multiplier of the cosine similarities (exp of the learnt log-scale)."""
    image = F.normalize(image_features.float(), dim=-1)
    text = F.normalize(text_features.float(), dim=-1)
    logits = logit_scale.float() * image @ text.T  # [B images, B texts]
    target = torch.arange(len(logits), device=logits.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def spherical_distance(a: Tensor, b: Tensor) -> Tensor:
    """VQGAN-CLIP's loss: 2 * arcsin(|a - b| / 2)^2 between the unit-normalised embeddings along
    the last dim (broadcast). It is half the squared great-circle angle, so it keeps growing
    where the cosine distance flattens out."""
    a, b = F.normalize(a.float(), dim=-1), F.normalize(b.float(), dim=-1)
    return (a - b).norm(dim=-1).div(2).arcsin().pow(2).mul(2)

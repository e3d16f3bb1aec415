"""Adversarial losses and the WGAN-GP penalty against hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from genlab.losses import (
    ADVERSARIAL_LOSSES,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
)

REAL = [2.0, -1.0, 0.5]  # mean 0.5
FAKE = [-1.5, 0.0, 4.5]  # mean 1.0


def _t(values: list[float]) -> torch.Tensor:
    return torch.tensor(values)


def _bce(logit: float, target: float) -> float:
    """Textbook binary cross-entropy of sigmoid(logit) against target."""
    p = 1.0 / (1.0 + math.exp(-logit))
    return -(target * math.log(p) + (1.0 - target) * math.log(1.0 - p))


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _close(actual: torch.Tensor, expected: float) -> None:
    assert actual.dtype == torch.float32 and actual.shape == ()
    assert actual.item() == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_bce_losses_by_hand():
    expected_d = _mean([_bce(r, 1.0) for r in REAL]) + _mean([_bce(f, 0.0) for f in FAKE])
    for kind in ("bce", "bce-saturating"):
        _close(discriminator_loss(kind, _t(REAL), _t(FAKE)), expected_d)
    # Non-saturating: -log D(G(z)).
    _close(generator_loss("bce", _t(FAKE)), _mean([_bce(f, 1.0) for f in FAKE]))
    # Saturating (minimax): log(1 - D(G(z))).
    expected_sat = _mean([math.log(1.0 - 1.0 / (1.0 + math.exp(-f))) for f in FAKE])
    _close(generator_loss("bce-saturating", _t(FAKE)), expected_sat)


def test_bce_saturating_is_stable_for_large_logits():
    # log(1 - sigmoid(100)) underflows naively; the exact value is about -100.
    _close(generator_loss("bce-saturating", _t([100.0])), -100.0)
    _close(generator_loss("bce", _t([-100.0])), 100.0)


@pytest.mark.parametrize(
    ("kind", "d_expected", "g_expected"),
    [
        # D: mean(relu(1 - r)) = (0 + 2 + 0.5)/3, mean(relu(1 + f)) = (0 + 1 + 5.5)/3.
        ("hinge", 3.0, -1.0),
        # D: 0.5 * (1 + 4 + 0.25)/3 + 0.5 * (2.25 + 0 + 20.25)/3; G: 0.5 * (6.25 + 1 + 12.25)/3.
        ("lsgan", 4.625, 3.25),
        # D: mean(f) - mean(r) = 1.0 - 0.5; G: -mean(f).
        ("wasserstein", 0.5, -1.0),
    ],
)
def test_margin_losses_by_hand(kind: str, d_expected: float, g_expected: float):
    _close(discriminator_loss(kind, _t(REAL), _t(FAKE)), d_expected)
    _close(generator_loss(kind, _t(FAKE)), g_expected)


def test_label_smoothing_changes_only_the_real_term():
    # BCE(l, t) = t*softplus(-l) + (1-t)*softplus(l), and softplus(l) - softplus(-l) = l,
    # so lowering t from 1 to 0.9 adds 0.1 * l to each real term: 0.1 * mean(REAL) = 0.05.
    for fake in (FAKE, [3.0, -2.0, 0.25]):
        smooth = discriminator_loss("bce", _t(REAL), _t(fake), real_label=0.9)
        plain = discriminator_loss("bce", _t(REAL), _t(fake))
        assert (smooth - plain).item() == pytest.approx(0.05, abs=1e-6)
    expected = _mean([_bce(r, 0.9) for r in REAL]) + _mean([_bce(f, 0.0) for f in FAKE])
    _close(discriminator_loss("bce", _t(REAL), _t(FAKE), real_label=0.9), expected)


@pytest.mark.parametrize("kind", ADVERSARIAL_LOSSES)
def test_losses_point_the_right_way(kind: str):
    real, fake = _t(REAL) * 0.1, _t(FAKE) * 0.1  # inside every loss's active region
    # The generator gains when D scores fakes higher; D gains by separating them more.
    assert generator_loss(kind, fake + 0.1) < generator_loss(kind, fake)
    assert discriminator_loss(kind, real + 0.1, fake - 0.1) < discriminator_loss(kind, real, fake)


@pytest.mark.parametrize("kind", ADVERSARIAL_LOSSES)
def test_bf16_logits_give_float32_losses(kind: str):
    real, fake = _t(REAL).bfloat16(), _t(FAKE).bfloat16()
    d = discriminator_loss(kind, real, fake)
    g = generator_loss(kind, fake)
    assert d.dtype == g.dtype == torch.float32
    # These logits are exact in bf16, so the values match the float32 ones.
    torch.testing.assert_close(d, discriminator_loss(kind, real.float(), fake.float()))
    torch.testing.assert_close(g, generator_loss(kind, fake.float()))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="bce, bce-saturating, hinge, lsgan, wasserstein"):
        discriminator_loss("vanilla", _t(REAL), _t(FAKE))
    with pytest.raises(ValueError, match="valid"):
        generator_loss("relativistic", _t(FAKE))
    with pytest.raises(ValueError, match="only applies to bce"):
        discriminator_loss("hinge", _t(REAL), _t(FAKE), real_label=0.9)


# --- gradient penalty -----------------------------------------------------------------

N, SHAPE = 4, (2, 3, 3)


def _batch(seed: int = 0, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    real = torch.rand((N, *SHAPE), generator=g, dtype=dtype) * 2 - 1
    fake = torch.rand((N, *SHAPE), generator=g, dtype=dtype) * 2 - 1
    return real, fake


def _quadratic(x: torch.Tensor) -> torch.Tensor:
    """f(x) = 0.5 * ||x||^2 per example, whose gradient is x itself."""
    return 0.5 * x.flatten(1).pow(2).sum(1)


def _quadratic_penalty(real: np.ndarray, fake: np.ndarray, alpha: np.ndarray) -> float:
    x_hat = alpha * real + (1 - alpha) * fake
    norms = np.sqrt((x_hat.reshape(len(x_hat), -1) ** 2).sum(axis=1))
    return float(np.mean((norms - 1.0) ** 2))


def test_linear_critic_penalty_is_exact():
    real, fake = _batch()
    w = torch.linspace(-1.0, 2.0, math.prod(SHAPE), dtype=torch.float64).view(SHAPE)
    gp = gradient_penalty(lambda x: (x * w).flatten(1).sum(1), real, fake)
    # The gradient is w at every x_hat, whatever alpha was drawn.
    expected = (math.sqrt(sum(v * v for v in w.flatten().tolist())) - 1.0) ** 2
    assert gp.item() == pytest.approx(expected, rel=1e-12)


def test_quadratic_critic_penalty_with_given_alpha():
    real, fake = _batch()
    alpha = torch.tensor([0.0, 0.25, 0.5, 0.9], dtype=torch.float64).view(N, 1, 1, 1)
    gp = gradient_penalty(_quadratic, real, fake, alpha=alpha)
    expected = _quadratic_penalty(real.numpy(), fake.numpy(), alpha.numpy())
    assert gp.item() == pytest.approx(expected, rel=1e-12)


def test_alpha_is_drawn_once_per_example():
    real, fake = _batch()
    seen: list[torch.Tensor] = []

    def spy(x: torch.Tensor) -> torch.Tensor:
        seen.append(x.detach().clone())
        return _quadratic(x)

    gp = gradient_penalty(spy, real, fake, generator=torch.Generator().manual_seed(7))
    # Recover alpha from x_hat = alpha * real + (1 - alpha) * fake at every pixel.
    ratio = (seen[0] - fake) / (real - fake)
    per_example = ratio.flatten(1)
    torch.testing.assert_close(per_example, per_example[:, :1].expand_as(per_example))
    alpha = per_example[:, 0].numpy()
    assert ((alpha >= 0) & (alpha < 1)).all() and len(set(alpha.round(6))) == N
    # Same seed -> same alphas -> the value (b)'s hand formula gives.
    same = gradient_penalty(_quadratic, real, fake, generator=torch.Generator().manual_seed(7))
    assert same.item() == gp.item()
    expected = _quadratic_penalty(real.numpy(), fake.numpy(), alpha.reshape(N, 1, 1, 1))
    assert gp.item() == pytest.approx(expected, rel=1e-9)
    # A per-pixel alpha (the PyTorch-GAN issue #5 bug) gives a different penalty.
    per_pixel = np.random.default_rng(7).random((N, *SHAPE))
    assert abs(_quadratic_penalty(real.numpy(), fake.numpy(), per_pixel) - gp.item()) > 1e-3


def test_penalty_trains_the_critic_not_the_generator():
    torch.manual_seed(0)
    real, fake_src = _batch(dtype=torch.float32)
    g_param = nn.Parameter(torch.ones(()))
    fake = fake_src * g_param  # as if fake came from a generator
    lin = nn.Linear(math.prod(SHAPE), 1)
    gp = gradient_penalty(lambda x: lin(x.flatten(1)).squeeze(1), real, fake)
    gp.backward()
    # Penalty = (||w|| - 1)^2, so d/dw = 2 (||w|| - 1) w / ||w||: needs the double backward.
    w = lin.weight.detach()
    norm = w.norm()
    torch.testing.assert_close(lin.weight.grad, 2 * (norm - 1) * w / norm)
    assert lin.weight.grad.abs().sum() > 0
    assert g_param.grad is None  # fake is detached inside


def test_penalty_backpropagates_through_a_nonlinear_critic():
    torch.manual_seed(0)
    real, fake = _batch(dtype=torch.float32)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(18, 8), nn.Tanh(), nn.Linear(8, 1))
    gp = gradient_penalty(lambda x: critic(x).squeeze(1), real, fake)
    gp.backward()
    for name, p in critic.named_parameters():
        if name != "3.bias":  # the output bias does not change the input gradient
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_penalty_under_bf16_autocast_and_no_grad():
    torch.manual_seed(0)
    real, fake = _batch(dtype=torch.float32)
    conv = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.LeakyReLU(0.2), nn.Flatten())
    head = nn.Linear(36, 1)

    def critic(x: torch.Tensor) -> torch.Tensor:
        return head(conv(x)).squeeze(1)

    rng = torch.Generator().manual_seed(1)
    ref = gradient_penalty(critic, real, fake, generator=rng)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gp = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    assert gp.dtype == torch.float32 and torch.isfinite(gp)
    assert gp.item() == pytest.approx(ref.item(), rel=0.05)
    gp.backward()
    assert head.weight.grad is not None and torch.isfinite(head.weight.grad).all()
    with torch.no_grad():
        again = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    assert again.item() == pytest.approx(ref.item(), rel=1e-6)

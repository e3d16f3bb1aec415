"""The layers ProGAN introduced and StyleGAN kept (Karras et al. 2018): equalised learning rate,
pixel-wise feature normalisation, minibatch standard deviation, and the level schedule of a
net that grows from 4x4 to its full side by doublings."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LRELU_GAIN = math.sqrt(2.0)  # He's gain for a leaky ReLU of slope 0.2 (rounded as the papers do)


def levels_for(size: int) -> int:
    """Doublings from 4x4 to a side `size` = 4 * 2^levels; ValueError otherwise."""
    levels = int(math.log2(size / 4)) if size >= 8 else -1
    if levels < 1 or 4 * 2**levels != size:
        raise ValueError(f"needs an image side of 4 x 2^k (8, 16, 32, 64, 128...), got {size}")
    return levels


def level_widths(levels: int, width: int, max_width: int) -> list[int]:
    """Channels at each level, 4x4 first: `width` at the full side, doubling per halving of
    the side up to `max_width` (ProGAN's fmap_base / resolution, capped)."""
    return [min(max_width, width * 2 ** (levels - level)) for level in range(levels + 1)]


class EqualLinear(nn.Module):
    """A linear layer whose weights are N(0, 1) at rest and scaled by He's constant at every
    call, so Adam's per-parameter step sizes act the same on every layer (equalised lr).
    `lr_mul` slows the layer (StyleGAN's mapping network: 0.01)."""

    def __init__(self, in_features: int, out_features: int, *, gain: float = LRELU_GAIN,
                 lr_mul: float = 1.0, bias_init: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_mul))
        self.scale = gain / math.sqrt(in_features) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualConv2d(nn.Module):
    """A same-padded conv with the equalised learning rate (see EqualLinear)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *,
                 gain: float = LRELU_GAIN, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = gain / math.sqrt(in_channels * kernel * kernel)
        self.padding = kernel // 2

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


def pixel_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    """Each pixel's feature vector scaled to unit mean square (ProGAN's generator; also z)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2)


def minibatch_stddev(x: Tensor, group: int = 4) -> Tensor:
    """Append one feature map: the standard deviation of each feature over a group of
    examples, averaged (ProGAN), so the discriminator can see a batch lacking variety."""
    n, c, h, w = x.shape
    g = math.gcd(group, n)  # the largest group size that divides the batch
    y = x.float().reshape(g, -1, c, h, w)
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # [n / g]
    y = y.to(x.dtype).repeat(g).view(n, 1, 1, 1).expand(n, 1, h, w)
    return torch.cat([x, y], dim=1)


def up2(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


def down2(x: Tensor) -> Tensor:
    return F.avg_pool2d(x, 2)


class GrowthSchedule:
    """Which level a growing net is at after `images` training images, and the fade-in alpha:
    `stable` images at 4x4, then per level `fade` images with alpha rising linearly 0 -> 1 and
    `stable` images at alpha 1; the last level lasts for ever. progressive=False: the last
    level from the start (the same nets trained at full size)."""

    def __init__(self, levels: int, fade: int, stable: int, progressive: bool = True) -> None:
        self.levels, self.fade, self.stable, self.progressive = levels, fade, stable, progressive

    def at(self, images: int) -> tuple[int, float]:
        if not self.progressive:
            return self.levels, 1.0
        t = images - self.stable
        if t < 0:
            return 0, 1.0
        for level in range(1, self.levels + 1):
            if t < self.fade:
                return level, t / self.fade
            t -= self.fade + self.stable
            if t < 0 or level == self.levels:
                return level, 1.0
        raise AssertionError("unreachable")

    def images_to_full(self) -> int:
        """Images seen when the last level is fully faded in."""
        return self.levels * (self.fade + self.stable) if self.progressive else 0

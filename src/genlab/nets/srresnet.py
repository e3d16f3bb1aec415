"""SRGAN's nets (Ledig et al. 2017): the SRResNet generator and the strided-conv discriminator.

The generator is fully convolutional, so it upscales images of any side by its `scale`; the
discriminator pools globally before its dense layers, so it scores any side too.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class ResidualBlock(nn.Module):
    """conv3x3 - BN - PReLU - conv3x3 - BN, plus the identity."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
            nn.PReLU(width),
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class UpsampleBlock(nn.Module):
    """x2 by sub-pixel convolution (Shi et al. 2016): conv3x3 to 4x the channels, pixel
    shuffle (channel c*4 + 2i + j goes to pixel (2h + i, 2w + j) of channel c), PReLU."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(width, 4 * width, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.act = nn.PReLU(width)
        icnr_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.shuffle(self.conv(x)))


@torch.no_grad()
def icnr_(weight: Tensor, factor: int = 2) -> None:
    """ICNR initialisation (Aitken et al. 2017): the factor^2 sub-kernels of each output channel
    start equal, so a fresh sub-pixel layer upsamples like nearest neighbour (no checkerboard)."""
    out_ch = weight.shape[0] // factor**2
    base = torch.empty(out_ch, *weight.shape[1:], dtype=weight.dtype, device=weight.device)
    nn.init.kaiming_normal_(base)
    weight.copy_(base.repeat_interleave(factor**2, dim=0))


class SRResNet(nn.Module):
    """conv9x9 + PReLU, `blocks` residual blocks, conv3x3 + BN with a long skip, log2(scale)
    x2 upsampling blocks, conv9x9 to the output channels (no activation: callers clamp)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, scale: int = 4,
                 blocks: int = 16, width: int = 64) -> None:
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"scale must be a power of two >= 2, got {scale}")
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(in_channels, width, 9, padding=4), nn.PReLU(width))
        self.body = nn.Sequential(*(ResidualBlock(width) for _ in range(blocks)))
        self.body_end = nn.Sequential(nn.Conv2d(width, width, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(width))
        self.upsample = nn.Sequential(*(UpsampleBlock(width)
                                        for _ in range(int(math.log2(scale)))))
        self.tail = nn.Conv2d(width, out_channels, 9, padding=4)

    def forward(self, x: Tensor) -> Tensor:
        """[N, in_channels, h, w] -> [N, out_channels, scale*h, scale*w]."""
        head = self.head(x)
        return self.tail(self.upsample(head + self.body_end(self.body(head))))


class SRDiscriminator(nn.Module):
    """conv3x3 + LeakyReLU, then conv-BN-LeakyReLU blocks alternating stride 2 and 1 (width
    doubling every second block: w, 2w, 2w, 4w, 4w, 8w, 8w), global average pooling (the paper
    flattens a 6x6 map at 96 px), Dense(16w) + LeakyReLU, Dense(1): one logit per image."""

    def __init__(self, in_channels: int = 3, width: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1),
                                   nn.LeakyReLU(0.2, True)]
        c_in = width
        for i, mult in enumerate((1, 2, 2, 4, 4, 8, 8)):
            stride = 2 if i % 2 == 0 else 1
            layers += [nn.Conv2d(c_in, width * mult, 3, stride, 1, bias=False),
                       nn.BatchNorm2d(width * mult), nn.LeakyReLU(0.2, True)]
            c_in = width * mult
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(c_in, 16 * width), nn.LeakyReLU(0.2, True),
                                  nn.Linear(16 * width, 1))

    def forward(self, x: Tensor) -> Tensor:
        """Images [N, C, H, W] -> logits [N]."""
        return self.head(self.features(x)).squeeze(1)

"""Image-to-image generators (junyanz/pytorch-CycleGAN-and-pix2pix, re-written): the pix2pix
U-Net (Isola et al. 2017) and the CycleGAN ResNet-block generator (Zhu et al. 2017; Johnson et
al. 2016). Both map [N, C_in, S, S] in [-1, 1] to [N, C_out, S, S] in [-1, 1]."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.nets.patchgan import pix2pix_init

TRANSLATOR_NORMS = ("batch", "instance")


def _norm(kind: str, channels: int) -> nn.Module:
    """Batch norm, or instance norm without affine parameters or running stats (as the
    reference code builds it)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels)
    raise ValueError(f"unknown norm {kind!r}; valid: {', '.join(TRANSLATOR_NORMS)}")


class UNetGenerator(nn.Module):
    """The pix2pix U-Net: `depth` 4x4 stride-2 convs down (width w, 2w, 4w, 8w, 8w...), the
    same number of transposed convs up, each decoder block fed its mirror encoder block's
    output beside its own input (the skips). Dropout after the first `dropout_blocks` decoder
    blocks from the bottleneck is the generator's only noise (no z). The image side must be
    divisible by 2^depth (256 px and depth 8 in the paper give a 1x1 bottleneck)."""

    def __init__(self, in_channels: int, out_channels: int, depth: int = 8, width: int = 64,
                 norm: str = "batch", dropout: float = 0.5, dropout_blocks: int = 3) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        bias = norm == "instance"  # batch norm supplies the shift
        widths = [width * min(2**i, 8) for i in range(depth)]  # output of encoder block i
        self.down = nn.ModuleList()
        for i in range(depth):
            c_in = in_channels if i == 0 else widths[i - 1]
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            # the outermost conv sees the image, the innermost makes the bottleneck: no norm
            plain = i in (0, depth - 1)
            layers.append(nn.Conv2d(c_in, widths[i], 4, 2, 1, bias=plain or bias))
            if not plain:
                layers.append(_norm(norm, widths[i]))
            self.down.append(nn.Sequential(*layers))
        # up[j] undoes down[depth-1-j]; all but the innermost take [own input, skip]
        self.up = nn.ModuleList()
        for j in range(depth):
            i = depth - 1 - j
            c_in = widths[i] * (1 if j == 0 else 2)
            c_out = out_channels if i == 0 else widths[i - 1]
            layers = [nn.ReLU(), nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=i == 0 or bias)]
            if i == 0:
                layers.append(nn.Tanh())
            else:
                layers.append(_norm(norm, c_out))
                if j < dropout_blocks and dropout > 0:
                    layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))
        self.factor = 2**depth
        self.apply(pix2pix_init)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ValueError(f"image side {tuple(x.shape[-2:])} is not divisible by "
                             f"2^depth = {self.factor}")
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        skips.pop()  # the bottleneck feeds the first decoder block directly
        for j, block in enumerate(self.up):
            if j > 0:
                x = torch.cat([x, skips.pop()], dim=1)
            x = block(x)
        return x


class ResnetBlock(nn.Module):
    """x + (reflect-pad, 3x3 conv, norm, ReLU, reflect-pad, 3x3 conv, norm)(x)."""

    def __init__(self, channels: int, norm: str = "instance", dropout: float = 0.0) -> None:
        super().__init__()
        bias = norm == "instance"
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3,
                                                                    bias=bias),
                                   _norm(norm, channels), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias),
                   _norm(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """The CycleGAN generator: reflect-pad + 7x7 conv (width w), `downsample` stride-2 3x3
    convs (doubling the width), `blocks` ResNet blocks, as many stride-2 transposed convs back
    up, reflect-pad + 7x7 conv to the output channels, tanh. Instance norm throughout (the
    paper: 6 blocks at 128 px, 9 at 256). The side must be divisible by 2^downsample."""

    def __init__(self, in_channels: int, out_channels: int, blocks: int = 6, width: int = 64,
                 downsample: int = 2, norm: str = "instance", dropout: float = 0.0) -> None:
        super().__init__()
        bias = norm == "instance"
        layers: list[nn.Module] = [nn.ReflectionPad2d(3),
                                   nn.Conv2d(in_channels, width, 7, bias=bias),
                                   _norm(norm, width), nn.ReLU()]
        c = width
        for _ in range(downsample):
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias), _norm(norm, 2 * c), nn.ReLU()]
            c *= 2
        layers += [ResnetBlock(c, norm, dropout) for _ in range(blocks)]
        for _ in range(downsample):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias),
                       _norm(norm, c // 2), nn.ReLU()]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_channels, 7), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.factor = 2**downsample
        self.apply(pix2pix_init)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ValueError(f"image side {tuple(x.shape[-2:])} is not divisible by "
                             f"2^downsample = {self.factor}")
        return self.main(x)

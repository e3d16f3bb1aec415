"""StyleGAN's generator (Karras et al. 2019) with StyleGAN2's weight modulation/demodulation and
skip outputs (Karras et al. 2020): a mapping network z -> w, a learned 4x4 constant, two
modulated convs per level each with its own style w and per-pixel noise of learned strength.

Styles travel as `ws` [N, num_ws, w_dim]: index 2l and 2l + 1 drive level l's two convs (and
2l + 1 its RGB output), so the first levels' indices are the coarse styles and the last level's
the fine ones. `w_avg`, a running mean of w, is the centre truncation pulls toward.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.nets.blocks import check_labels, one_hot
from genlab.nets.equalized import (
    LRELU_GAIN,
    EqualLinear,
    level_widths,
    levels_for,
    lrelu,
    pixel_norm,
)

NOISE_MODES = ("random", "const", "none")


class MappingNetwork(nn.Module):
    """z (+ class) -> w through `layers` equalised dense layers at lr_mul 0.01; conditional
    nets embed the class and normalise it like z (StyleGAN2-ADA's conditioning)."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, num_classes: int = 0,
                 w_avg_decay: float = 0.995) -> None:
        super().__init__()
        self.num_classes, self.w_avg_decay = num_classes, w_avg_decay
        self.embed = EqualLinear(num_classes, w_dim, gain=1.0) if num_classes else None
        dims = [z_dim + (w_dim if num_classes else 0)] + [w_dim] * layers
        self.layers = nn.ModuleList(EqualLinear(a, b, lr_mul=0.01) for a, b in zip(dims, dims[1:],
                                                                                   strict=False))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        check_labels(labels, self.num_classes, z.shape[0])
        x = pixel_norm(z)
        if self.embed is not None and labels is not None:
            x = torch.cat([x, pixel_norm(self.embed(one_hot(labels, self.num_classes, z.dtype)))],
                          dim=1)
        for layer in self.layers:
            x = lrelu(layer(x)) * LRELU_GAIN
        if self.training:  # the centre of W that truncation pulls toward
            with torch.no_grad():
                self.w_avg.lerp_(x.detach().float().mean(0), 1 - self.w_avg_decay)
        return x


class ModulatedConv(nn.Module):
    """A conv whose input channels are scaled per example by a style (affine of w), the
    output renormalised to unit variance (demodulation), plus noise and a bias.

    Computed as scale input -> shared conv -> scale output (StyleGAN2's unfused form): the
    same arithmetic as per-example weights, as one ordinary conv."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, kernel: int,
                 size: int, *, demodulate: bool = True, noise: bool = True) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, gain=1.0, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = 1 / math.sqrt(in_channels * kernel * kernel)
        self.demodulate, self.padding = demodulate, kernel // 2
        self.noise_strength = nn.Parameter(torch.zeros(())) if noise else None
        if noise:  # the fixed noise images use for `noise="const"` (saved with the weights)
            fixed = torch.randn(1, 1, size, size, generator=torch.Generator().manual_seed(size))
            self.register_buffer("noise_const", fixed)

    def forward(self, x: Tensor, w: Tensor, noise: str | torch.Generator = "random") -> Tensor:
        style = self.affine(w)  # [N, in]
        weight = self.weight * self.scale
        x = x * style.to(x.dtype)[:, :, None, None]
        x = F.conv2d(x, weight.to(x.dtype), padding=self.padding)
        if self.demodulate:  # the output's std had the input were unit: divide it out
            d = torch.rsqrt((weight[None] * style[:, None, :, None, None]).pow(2)
                            .sum(dim=(2, 3, 4)) + 1e-8)
            x = x * d.to(x.dtype)[:, :, None, None]
        if self.noise_strength is not None and noise != "none":
            n, _, h, w_ = x.shape
            if noise == "const":
                fresh = self.noise_const.to(x.dtype).expand(n, 1, h, w_)
            else:
                gen = noise if isinstance(noise, torch.Generator) else None
                fresh = torch.randn(n, 1, h, w_, generator=gen, device=x.device, dtype=x.dtype)
            x = x + fresh * self.noise_strength.to(x.dtype)
        return x + self.bias.to(x.dtype)[None, :, None, None]


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> images [N, C, S, S] (no tanh: StyleGAN's output is linear)."""

    def __init__(self, w_dim: int, out_shape: tuple[int, int, int], *, width: int,
                 max_width: int) -> None:
        super().__init__()
        channels, size = out_shape[0], out_shape[1]
        self.levels = levels_for(size)
        widths = level_widths(self.levels, width, max_width)
        self.num_ws = 2 * (self.levels + 1)
        self.const = nn.Parameter(torch.randn(widths[0], 4, 4))
        self.convs = nn.ModuleList()
        for level, c_out in enumerate(widths):
            c_in = widths[max(level - 1, 0)]
            side = 4 * 2**level
            self.convs.append(ModulatedConv(c_in, c_out, w_dim, 3, side))
            self.convs.append(ModulatedConv(c_out, c_out, w_dim, 3, side))
        self.to_rgb = nn.ModuleList(ModulatedConv(c, channels, w_dim, 1, 4 * 2**level,
                                                  demodulate=False, noise=False)
                                    for level, c in enumerate(widths))

    def forward(self, ws: Tensor, noise: str | torch.Generator = "random") -> Tensor:
        h = self.const[None].expand(ws.shape[0], -1, -1, -1)
        rgb = None
        for level in range(self.levels + 1):
            if level:
                h = F.interpolate(h, scale_factor=2.0, mode="bilinear", align_corners=False)
            for i in (2 * level, 2 * level + 1):
                h = lrelu(self.convs[i](h, ws[:, i], noise)) * LRELU_GAIN
            out = self.to_rgb[level](h, ws[:, 2 * level + 1])
            rgb = out if rgb is None else out + F.interpolate(
                rgb, scale_factor=2.0, mode="bilinear", align_corners=False)
        assert rgb is not None
        return rgb


class StyleGenerator(nn.Module):
    """z [N, z_dim] (+ labels) or ws [N, num_ws, w_dim] -> images [N, C, S, S]."""

    def __init__(self, z_dim: int, w_dim: int, out_shape: tuple[int, int, int], *,
                 num_classes: int = 0, mapping_layers: int = 8, width: int = 32,
                 max_width: int = 512, w_avg_decay: float = 0.995) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.num_classes = z_dim, w_dim, num_classes
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers, num_classes, w_avg_decay)
        self.synthesis = SynthesisNetwork(w_dim, out_shape, width=width, max_width=max_width)
        self.num_ws = self.synthesis.num_ws

    def to_ws(self, z: Tensor, labels: Tensor | None = None, psi: float = 1.0) -> Tensor:
        """Per-layer styles, pulled toward w_avg by psi (truncation in W)."""
        w = self.mapping(z, labels)
        if psi != 1:
            w = torch.lerp(self.mapping.w_avg.to(w.dtype), w, psi)
        return w[:, None].expand(-1, self.num_ws, -1)

    def forward(self, z: Tensor, labels: Tensor | None = None,
                noise: str | torch.Generator = "random") -> Tensor:
        ws = z if z.dim() == 3 else self.to_ws(z, labels)
        if ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"styles must be [N, {self.num_ws}, {self.w_dim}], got "
                             f"{list(ws.shape)}")
        return self.synthesis(ws, noise)

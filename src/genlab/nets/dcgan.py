"""DCGAN generator and discriminator (Radford et al. 2016) for square images."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.nets.blocks import (
    ProjectionHead,
    check_cond,
    check_labels,
    class_maps,
    init_weights,
    make_norm,
    one_hot,
)


def start_resolution(size: int) -> tuple[int, int]:
    """Image size -> (s0, number of x2 steps): halve while even and > 4 (32 -> 4, 28 -> 7)."""
    s0, steps = size, 0
    while s0 % 2 == 0 and s0 > 4:
        s0, steps = s0 // 2, steps + 1
    if steps == 0:
        raise ValueError(f"DCGAN needs an even image size >= 6 (8, 16, 28, 32, 64...), got {size}")
    return s0, steps


def _square_size(shape: tuple[int, int, int]) -> int:
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(f"DCGAN needs a square (C, H, W) shape, got {tuple(shape)}")
    return shape[1]


def _widths(width: int, steps: int) -> list[int]:
    """Channels from the finest feature map to the coarsest (s0): width, 2w, 4w, capped at 8w."""
    return [width * min(2**i, 8) for i in range(steps)]


class DCGANGenerator(nn.Module):
    """z [N, z_dim] (+ labels [N]) -> images [N, C, H, W] in [-1, 1]."""

    def __init__(
        self,
        z_dim: int,
        out_shape: tuple[int, int, int],
        num_classes: int = 0,
        width: int = 64,
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.out_shape = tuple(out_shape)
        self.num_classes = num_classes
        s0, steps = start_resolution(_square_size(self.out_shape))
        chans = _widths(width, steps)[::-1]  # coarse to fine
        # BN follows every hidden conv, so their biases would be redundant.
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim + num_classes, chans[0], s0, bias=False),
            nn.BatchNorm2d(chans[0]),
            nn.ReLU(),
        ]
        for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
            ]
        layers += [nn.ConvTranspose2d(chans[-1], self.out_shape[0], 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Map noise (and class labels when conditional) to images."""
        z = z.reshape(z.shape[0], -1)
        check_labels(labels, self.num_classes, z.shape[0])
        if labels is not None:
            z = torch.cat([z, one_hot(labels, self.num_classes, z.dtype)], dim=1)
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """Images [N, C, H, W] (+ labels [N]) -> logits [N].

    cond="concat" appends one-hot class planes to the input channels and ends with a
    conv of kernel s0; cond="projection" sum-pools the last features into a
    ProjectionHead. Unconditional nets always use the conv ending.
    """

    def __init__(
        self,
        in_shape: tuple[int, int, int],
        num_classes: int = 0,
        width: int = 64,
        norm: str = "batch",
        cond: str = "concat",
        slope: float = 0.2,
    ) -> None:
        super().__init__()
        check_cond(cond)
        make_norm(norm, 1)  # validate before building anything
        self.in_shape = tuple(in_shape)
        self.num_classes = num_classes
        self.concat = num_classes > 0 and cond == "concat"
        s0, steps = start_resolution(_square_size(self.in_shape))
        chans = _widths(width, steps)  # fine to coarse
        c_in = self.in_shape[0] + (num_classes if self.concat else 0)
        # The input layer has no norm (Radford et al.): normalising raw pixels hurt them.
        layers: list[nn.Module] = [nn.Conv2d(c_in, chans[0], 4, 2, 1), nn.LeakyReLU(slope)]
        for c_prev, c_out in zip(chans[:-1], chans[1:], strict=True):
            layers += [
                nn.Conv2d(c_prev, c_out, 4, 2, 1, bias=norm == "none"),
                make_norm(norm, c_out),
                nn.LeakyReLU(slope),
            ]
        self.body = nn.Sequential(*layers)
        if num_classes > 0 and not self.concat:
            self.conv_out = None
            self.projection: ProjectionHead | None = ProjectionHead(chans[-1], num_classes)
        else:
            self.conv_out = nn.Conv2d(chans[-1], 1, s0)
            self.projection = None
        self.apply(init_weights)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Score images; higher means more real."""
        check_labels(labels, self.num_classes, x.shape[0])
        if self.concat and labels is not None:
            maps = class_maps(labels, self.num_classes, x.shape[2], x.shape[3], x.dtype)
            x = torch.cat([x, maps], dim=1)
        h = self.body(x)
        if self.projection is not None:
            return self.projection(h.sum(dim=(2, 3)), labels)
        assert self.conv_out is not None
        return self.conv_out(h).flatten()

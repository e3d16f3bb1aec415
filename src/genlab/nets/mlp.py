"""Fully connected generator and discriminator (Goodfellow et al. 2014, Mirza & Osindero 2014)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from genlab.nets.blocks import ProjectionHead, check_cond, check_labels, one_hot

MLP_NORMS = ("batch", "layer", "none")


def _mlp_norm(kind: str, features: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(features)
    if kind == "layer":
        return nn.LayerNorm(features)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r} for an MLP; valid: {', '.join(MLP_NORMS)}")


class MLPGenerator(nn.Module):
    """z [N, z_dim] (+ labels [N]) -> images [N, C, H, W] in [-1, 1]."""

    def __init__(
        self,
        z_dim: int,
        out_shape: tuple[int, int, int],
        num_classes: int = 0,
        hidden: Sequence[int] = (256, 512, 1024),
        slope: float = 0.2,
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.out_shape = tuple(out_shape)
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        prev = z_dim + num_classes
        for width in hidden:
            layers += [nn.Linear(prev, width), nn.LeakyReLU(slope)]
            prev = width
        layers += [nn.Linear(prev, math.prod(self.out_shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Map noise (and class labels when conditional) to images."""
        z = z.reshape(z.shape[0], -1)
        check_labels(labels, self.num_classes, z.shape[0])
        if labels is not None:
            z = torch.cat([z, one_hot(labels, self.num_classes, z.dtype)], dim=1)
        return self.net(z).view(z.shape[0], *self.out_shape)


class MLPDiscriminator(nn.Module):
    """Images [N, C, H, W] (+ labels [N]) -> logits [N].

    cond="concat" appends the one-hot label to the flattened image;
    cond="projection" puts a ProjectionHead on the last hidden features.
    `norm` ("none" | "layer" | "batch") applies to every hidden layer but the first.
    """

    def __init__(
        self,
        in_shape: tuple[int, int, int],
        num_classes: int = 0,
        hidden: Sequence[int] = (1024, 512, 256),
        slope: float = 0.2,
        dropout: float = 0.0,
        cond: str = "concat",
        norm: str = "none",
    ) -> None:
        super().__init__()
        check_cond(cond)
        _mlp_norm(norm, 1)  # validate before building anything
        self.in_shape = tuple(in_shape)
        self.num_classes = num_classes
        self.concat = num_classes > 0 and cond == "concat"
        layers: list[nn.Module] = []
        prev = math.prod(self.in_shape) + (num_classes if self.concat else 0)
        for i, width in enumerate(hidden):
            layers += [nn.Linear(prev, width)]
            if i > 0:
                layers += [_mlp_norm(norm, width)]
            layers += [nn.LeakyReLU(slope)]
            if dropout > 0:
                layers += [nn.Dropout(dropout)]
            prev = width
        self.body = nn.Sequential(*layers)
        self.head = ProjectionHead(prev, 0 if self.concat else num_classes)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Score images; higher means more real."""
        h = x.reshape(x.shape[0], -1)
        check_labels(labels, self.num_classes, h.shape[0])
        if self.concat and labels is not None:
            h = torch.cat([h, one_hot(labels, self.num_classes, h.dtype)], dim=1)
            labels = None  # the label is already in the input
        return self.head(self.body(h), labels)

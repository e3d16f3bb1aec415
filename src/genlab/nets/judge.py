"""A compact CNN classifier whose penultimate embedding is genlab's feature space for metrics."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _stage(c_in: int, c_out: int) -> list[nn.Module]:
    """Two 3x3 conv + BN + ReLU (bias-free: batch norm supplies the shift)."""
    return [
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True),
    ]


class JudgeNet(nn.Module):
    """Three conv stages (width w, 2w, 4w; max-pool between), global average pool, then
    Linear -> ReLU -> dropout (the features) -> Linear (the logits).

    Global pooling makes it size-agnostic (16..64 px and beyond); image_size is kept so a saved
    judge can refuse images of another size.
    """

    def __init__(self, in_channels: int, image_size: int, num_classes: int, width: int = 32,
                 feature_dim: int = 128) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"a judge needs at least 2 classes, got {num_classes}")
        self.in_channels, self.image_size, self.num_classes = in_channels, image_size, num_classes
        self.width, self.feature_dim = width, feature_dim
        self.trunk = nn.Sequential(
            *_stage(in_channels, width), nn.MaxPool2d(2),
            *_stage(width, 2 * width), nn.MaxPool2d(2),
            *_stage(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.embed = nn.Sequential(nn.Linear(4 * width, feature_dim), nn.ReLU(True))
        self.dropout = nn.Dropout(0.2)
        self.classify = nn.Linear(feature_dim, num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Images [N, C, H, W] in [-1, 1] -> (logits [N, K], features [N, feature_dim])."""
        pooled = self.trunk(x)
        # The head is tiny: run it in fp32 even under autocast so features carry full precision
        # into FID/KID statistics.
        with torch.autocast(x.device.type, enabled=False):
            features = self.embed(pooled.float())
            logits = self.classify(self.dropout(features))
        return logits, features

    def stage_features(self, x: Tensor) -> list[Tensor]:
        """The activations at the end of each conv stage (before each pooling): the feature
        space of the perceptual losses (VQGAN's, SRGAN's content loss)."""
        out = []
        for layer in self.trunk:
            if isinstance(layer, nn.MaxPool2d | nn.AdaptiveAvgPool2d):
                out.append(x)
                if isinstance(layer, nn.AdaptiveAvgPool2d):
                    break
            x = layer(x)
        return out

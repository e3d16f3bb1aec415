"""ProGAN's generator and discriminator (Karras et al. 2018): nets that exist at full size from
the start but run only up to their current level, the newest level faded in with alpha.

The generator holds the training images seen as a buffer, so its level and alpha travel with
its weights (in checkpoints, in its EMA copy and into `load_run`). The discriminator (with
minibatch standard deviation) is also StyleGAN's, run at its last level.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.nets.blocks import check_labels, one_hot
from genlab.nets.equalized import (
    EqualConv2d,
    EqualLinear,
    GrowthSchedule,
    down2,
    level_widths,
    levels_for,
    lrelu,
    minibatch_stddev,
    pixel_norm,
    up2,
)


class ProGANGenerator(nn.Module):
    """z [N, z_dim] (+ labels [N] or soft [N, K]) -> images [N, C, S, S] at the current
    level's side S (upsample to the full side yourself); no tanh, as in the paper."""

    def __init__(self, z_dim: int, out_shape: tuple[int, int, int], schedule: GrowthSchedule, *,
                 num_classes: int = 0, width: int = 32, max_width: int = 512) -> None:
        super().__init__()
        channels, size = out_shape[0], out_shape[1]
        self.levels = levels_for(size)
        self.schedule, self.num_classes, self.z_dim = schedule, num_classes, z_dim
        widths = level_widths(self.levels, width, max_width)
        self.register_buffer("images_seen", torch.zeros((), dtype=torch.int64))
        # The 4x4 block: a dense layer to 4x4 (gain / 4 as the reference code, so its output
        # has the scale of a conv's) and a 3x3 conv.
        self.dense = EqualLinear(z_dim + num_classes, widths[0] * 16, gain=2**0.5 / 4)
        self.blocks = nn.ModuleList([EqualConv2d(widths[0], widths[0], 3)])
        self.blocks.extend(nn.Sequential(EqualConv2d(c_in, c_out, 3), EqualConv2d(c_out, c_out, 3))
                           for c_in, c_out in zip(widths, widths[1:], strict=False))
        self.to_rgb = nn.ModuleList(EqualConv2d(c, channels, 1, gain=1.0) for c in widths)

    def level_alpha(self) -> tuple[int, float]:
        return self.schedule.at(int(self.images_seen))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        check_labels(labels, self.num_classes, z.shape[0])
        level, alpha = self.level_alpha()
        x = pixel_norm(z)
        if labels is not None:
            x = torch.cat([x, one_hot(labels, self.num_classes, x.dtype)], dim=1)
        h = pixel_norm(lrelu(self.dense(x).view(x.shape[0], -1, 4, 4)))
        h = pixel_norm(lrelu(self.blocks[0](h)))
        previous = h
        for block in self.blocks[1:level + 1]:
            previous = h
            h = up2(h)
            for conv in block:
                h = pixel_norm(lrelu(conv(h)))
        out = self.to_rgb[level](h)
        if alpha < 1 and level > 0:  # fade in: the old level's image, upsampled, blended out
            out = torch.lerp(up2(self.to_rgb[level - 1](previous)), out, alpha)
        return out


class ProGANDiscriminator(nn.Module):
    """Images [N, C, S, S] at a level's side (+ labels) -> logits [N]. Conditional nets add a
    projection term <embed(y), features> (Miyato & Koyama 2018)."""

    def __init__(self, in_shape: tuple[int, int, int], *, num_classes: int = 0, width: int = 32,
                 max_width: int = 512, group: int = 4) -> None:
        super().__init__()
        channels, size = in_shape[0], in_shape[1]
        self.levels, self.num_classes, self.group = levels_for(size), num_classes, group
        widths = level_widths(self.levels, width, max_width)
        self.from_rgb = nn.ModuleList(EqualConv2d(channels, c, 1) for c in widths)
        # blocks[level] halves the side of level `level` (blocks[0] is unused: the 4x4 head)
        self.blocks = nn.ModuleList([nn.Identity()])
        self.blocks.extend(nn.Sequential(EqualConv2d(c_out, c_out, 3), EqualConv2d(c_out, c_in, 3))
                           for c_in, c_out in zip(widths, widths[1:], strict=False))
        self.head_conv = EqualConv2d(widths[0] + 1, widths[0], 3)
        self.head_dense = EqualLinear(widths[0] * 16, widths[0])
        self.out = EqualLinear(widths[0], 1, gain=1.0)
        self.embed = EqualLinear(num_classes, widths[0], gain=1.0) if num_classes else None

    def _block(self, level: int, h: Tensor) -> Tensor:
        for conv in self.blocks[level]:
            h = lrelu(conv(h))
        return down2(h)

    def forward(self, x: Tensor, labels: Tensor | None = None, level: int | None = None,
                alpha: float = 1.0) -> Tensor:
        check_labels(labels, self.num_classes, x.shape[0])
        level = self.levels if level is None else level
        h = lrelu(self.from_rgb[level](x))
        if level > 0:
            h = self._block(level, h)
            if alpha < 1:  # fade in: the new level's features blended over the old level's
                h = torch.lerp(lrelu(self.from_rgb[level - 1](down2(x))), h, alpha)
        for lower in range(level - 1, 0, -1):
            h = self._block(lower, h)
        h = lrelu(self.head_conv(minibatch_stddev(h, self.group)))
        h = lrelu(self.head_dense(h.flatten(1)))
        logits = self.out(h).squeeze(1)
        if self.embed is not None and labels is not None:
            logits = logits + (self.embed(one_hot(labels, self.num_classes, h.dtype)) * h).sum(1)
        return logits

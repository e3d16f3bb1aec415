"""Building blocks shared by the generators and discriminators."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NORM_KINDS = ("batch", "layer", "instance", "none")
COND_KINDS = ("concat", "projection")


def make_norm(kind: str, channels: int) -> nn.Module:
    """Normalisation for conv features [N, C, H, W]; "none" gives an identity."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        # GroupNorm(1, C) normalises each example over (C, H, W): no batch
        # statistics, so it is safe in a WGAN-GP critic.
        return nn.GroupNorm(1, channels)
    if kind == "instance":
        return nn.GroupNorm(channels, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; valid: {', '.join(NORM_KINDS)}")


def check_cond(cond: str) -> None:
    """Raise ValueError unless `cond` names a conditioning scheme."""
    if cond not in COND_KINDS:
        raise ValueError(f"unknown cond {cond!r}; valid: {', '.join(COND_KINDS)}")


def check_labels(labels: Tensor | None, num_classes: int, batch: int) -> None:
    """Labels must be given iff the net is conditional: [N] class indices, or [N, K] soft
    one-hot vectors (used to interpolate between classes)."""
    if num_classes > 0 and labels is None:
        raise ValueError(f"this net is conditional ({num_classes} classes): pass labels")
    if num_classes == 0 and labels is not None:
        raise ValueError("this net is unconditional (num_classes=0): do not pass labels")
    if labels is not None and labels.shape not in ((batch,), (batch, num_classes)):
        raise ValueError(f"labels must have shape [{batch}] or [{batch}, {num_classes}], "
                         f"got {list(labels.shape)}")


def one_hot(labels: Tensor, num_classes: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """Integer labels [N] -> one-hot [N, num_classes]; soft vectors [N, K] pass through."""
    if labels.dim() == 2:
        return labels.to(dtype)
    return F.one_hot(labels.long(), num_classes).to(dtype)


def class_maps(
    labels: Tensor, num_classes: int, h: int, w: int, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Integer labels [N] -> one-hot planes [N, num_classes, h, w]."""
    return one_hot(labels, num_classes, dtype)[:, :, None, None].expand(-1, -1, h, w)


class ProjectionHead(nn.Module):
    """Output layer of a projection discriminator (Miyato & Koyama 2018).

    logit = linear(h) + <embed(y), h>; with num_classes == 0 just linear(h).
    """

    def __init__(self, in_features: int, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.linear = nn.Linear(in_features, 1)
        self.embed = nn.Embedding(num_classes, in_features) if num_classes > 0 else None

    def forward(self, h: Tensor, labels: Tensor | None = None) -> Tensor:
        """Features [N, F] (+ labels [N]) -> logits [N]."""
        check_labels(labels, self.num_classes, h.shape[0])
        out = self.linear(h).squeeze(1)
        if self.embed is not None and labels is not None:
            out = out + (self.embed(labels.long()) * h).sum(dim=1)
        return out


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al.): use as `net.apply(init_weights)`."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear | nn.Embedding):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d | nn.GroupNorm | nn.LayerNorm):
        if module.weight is not None:
            nn.init.normal_(module.weight, 1.0, 0.02)
            nn.init.zeros_(module.bias)

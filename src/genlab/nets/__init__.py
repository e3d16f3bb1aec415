"""Networks: plain nn.Modules, no losses, optimisers or loops."""

from __future__ import annotations

from torch import nn

from genlab.nets.blocks import ProjectionHead, class_maps, init_weights, make_norm, one_hot
from genlab.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from genlab.nets.mlp import MLPDiscriminator, MLPGenerator

ARCHS = ("mlp", "dcgan")

__all__ = [
    "ARCHS",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "ProjectionHead",
    "build_discriminator",
    "build_generator",
    "class_maps",
    "init_weights",
    "make_norm",
    "one_hot",
]


def _unknown(arch: str) -> ValueError:
    return ValueError(f"unknown architecture {arch!r}; valid: {', '.join(ARCHS)}")


def build_generator(
    arch: str,
    *,
    z_dim: int,
    out_shape: tuple[int, int, int],
    num_classes: int = 0,
    width: int = 64,
) -> nn.Module:
    """Generator by name; for "mlp" the hidden sizes are (4w, 8w, 16w)."""
    if arch == "mlp":
        hidden = (4 * width, 8 * width, 16 * width)
        return MLPGenerator(z_dim, out_shape, num_classes, hidden=hidden)
    if arch == "dcgan":
        return DCGANGenerator(z_dim, out_shape, num_classes, width=width)
    raise _unknown(arch)


def build_discriminator(
    arch: str,
    *,
    in_shape: tuple[int, int, int],
    num_classes: int = 0,
    width: int = 64,
    norm: str = "batch",
    cond: str = "concat",
    dropout: float = 0.0,
) -> nn.Module:
    """Discriminator by name; for "mlp" the hidden sizes are (16w, 8w, 4w)."""
    if arch == "mlp":
        hidden = (16 * width, 8 * width, 4 * width)
        return MLPDiscriminator(
            in_shape, num_classes, hidden=hidden, dropout=dropout, cond=cond, norm=norm
        )
    if arch == "dcgan":
        if dropout != 0.0:
            raise ValueError("dropout is only supported by the 'mlp' discriminator; set it to 0")
        return DCGANDiscriminator(in_shape, num_classes, width=width, norm=norm, cond=cond)
    raise _unknown(arch)

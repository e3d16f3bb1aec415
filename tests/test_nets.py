"""Shapes, ranges, conditioning and wiring of the GAN generators and discriminators."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genlab.nets import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    ProjectionHead,
    build_discriminator,
    build_generator,
    class_maps,
    make_norm,
    one_hot,
)

Z = 16
CLASSES = 3
# (num_classes, cond): unconditional, concat-conditioned, projection-conditioned.
CONDS = [(0, "concat"), (CLASSES, "concat"), (CLASSES, "projection")]


def _labels(num_classes: int, n: int) -> torch.Tensor | None:
    return torch.arange(n) % num_classes if num_classes else None


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
@pytest.mark.parametrize("size", [8, 16, 28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize(("num_classes", "cond"), CONDS)
def test_shapes_and_ranges(arch: str, size: int, channels: int, num_classes: int, cond: str):
    torch.manual_seed(0)
    shape = (channels, size, size)
    g = build_generator(arch, z_dim=Z, out_shape=shape, num_classes=num_classes, width=4)
    d = build_discriminator(
        arch, in_shape=shape, num_classes=num_classes, width=4, norm="batch", cond=cond
    )
    y = _labels(num_classes, 3)
    x = g(torch.randn(3, Z), y)
    assert x.shape == (3, *shape)
    assert x.min() >= -1 and x.max() <= 1
    logits = d(x, y)
    assert logits.shape == (3,)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("size", [16, 28])
@pytest.mark.parametrize("norm", ["batch", "layer", "instance", "none"])
@pytest.mark.parametrize(("num_classes", "cond"), CONDS)
def test_dcgan_discriminator_norms(size: int, norm: str, num_classes: int, cond: str):
    d = DCGANDiscriminator((3, size, size), num_classes, width=4, norm=norm, cond=cond)
    logits = d(torch.rand(2, 3, size, size) * 2 - 1, _labels(num_classes, 2))
    assert logits.shape == (2,)
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in d.modules())
    assert has_bn == (norm == "batch")


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_mlp_discriminator_norms(norm: str):
    d = build_discriminator(
        "mlp", in_shape=(1, 8, 8), num_classes=0, width=4, norm=norm, cond="concat"
    )
    assert d(torch.zeros(2, 1, 8, 8)).shape == (2,)
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in d.modules())
    assert has_bn == (norm == "batch")


def test_128_and_default_width():
    g = DCGANGenerator(Z, (3, 128, 128), width=8)
    d = DCGANDiscriminator((3, 128, 128), width=8)
    x = g(torch.randn(2, Z))
    assert x.shape == (2, 3, 128, 128) and d(x).shape == (2,)
    # Channels are capped at 8 * width even with 5 doublings.
    assert max(m.out_channels for m in d.modules() if isinstance(m, nn.Conv2d)) == 64


@pytest.mark.parametrize(
    "make",
    [lambda: MLPGenerator(Z, (1, 8, 8), CLASSES), lambda: DCGANGenerator(Z, (1, 8, 8), CLASSES, 4)],
)
def test_conditional_generator_depends_on_label(make):
    torch.manual_seed(0)
    g = make().eval()
    z = torch.randn(1, Z).expand(CLASSES, Z)
    x = g(z, torch.arange(CLASSES))
    assert not torch.allclose(x[0], x[1]) and not torch.allclose(x[1], x[2])
    # Same label and noise -> same image.
    assert torch.equal(g(z[:1], torch.tensor([1])), g(z[:1], torch.tensor([1])))


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
@pytest.mark.parametrize("cond", ["concat", "projection"])
def test_label_presence_is_checked(arch: str, cond: str):
    shape = (1, 8, 8)
    g = build_generator(arch, z_dim=Z, out_shape=shape, num_classes=CLASSES, width=4)
    d = build_discriminator(
        arch, in_shape=shape, num_classes=CLASSES, width=4, norm="none", cond=cond
    )
    with pytest.raises(ValueError, match="pass labels"):
        g(torch.randn(2, Z))
    with pytest.raises(ValueError, match="pass labels"):
        d(torch.zeros(2, *shape))
    g0 = build_generator(arch, z_dim=Z, out_shape=shape, num_classes=0, width=4)
    with pytest.raises(ValueError, match="unconditional"):
        g0(torch.randn(2, Z), torch.zeros(2, dtype=torch.long))


def test_projection_head_by_hand():
    head = ProjectionHead(2, num_classes=2)
    with torch.no_grad():
        head.linear.weight.copy_(torch.tensor([[1.0, -2.0]]))
        head.linear.bias.fill_(0.5)
        head.embed.weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 4.0]]))
    h = torch.tensor([[1.0, 2.0], [-1.0, 3.0]])
    out = head(h, torch.tensor([0, 1]))
    # Row 0: (1 - 4 + 0.5) + 3*1 = 0.5; row 1: (-1 - 6 + 0.5) + 4*3 = 5.5.
    torch.testing.assert_close(out, torch.tensor([0.5, 5.5]))
    plain = ProjectionHead(2)
    with torch.no_grad():
        plain.linear.weight.copy_(torch.tensor([[1.0, -2.0]]))
        plain.linear.bias.fill_(0.5)
    torch.testing.assert_close(plain(h), torch.tensor([-2.5, -6.5]))


def test_dcgan_parameter_counts():
    # Hand count, 32x32x3, width 64, z 100: G = 100*256*16 + 256*128*16 + 128*64*16
    # + 64*3*16 + 3 (conv) + 2*(256+128+64) (BN) = 1,068,931; D = 3*64*16 + 64
    # + 64*128*16 + 128*256*16 + 256*16 + 1 (conv) + 2*(128+256) (BN) = 663,361.
    assert _count(DCGANGenerator(100, (3, 32, 32))) == 1_068_931
    assert _count(DCGANDiscriminator((3, 32, 32))) == 663_361
    assert _count(DCGANGenerator(100, (1, 28, 28))) == 759_681
    assert _count(DCGANDiscriminator((1, 28, 28))) == 138_689


def test_dcgan_init_and_shapes_of_layers():
    g = DCGANGenerator(100, (3, 64, 64))
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [512, 256, 128, 64, 3]
    assert abs(convs[1].weight.std().item() - 0.02) < 0.002
    bn = next(m for m in g.modules() if isinstance(m, nn.BatchNorm2d))
    assert abs(bn.weight.mean().item() - 1.0) < 0.01


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
@pytest.mark.parametrize("cond", ["concat", "projection"])
def test_backward_reaches_every_parameter(arch: str, cond: str):
    shape = (3, 16, 16)
    g = build_generator(arch, z_dim=Z, out_shape=shape, num_classes=CLASSES, width=4)
    d = build_discriminator(
        arch, in_shape=shape, num_classes=CLASSES, width=4, norm="layer", cond=cond
    )
    y = torch.tensor([0, 2])
    d(g(torch.randn(2, Z), y), y).sum().backward()
    for net in (g, d):
        for name, p in net.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_blocks():
    y = torch.tensor([2, 0])
    torch.testing.assert_close(one_hot(y, 3), torch.tensor([[0.0, 0, 1], [1, 0, 0]]))
    maps = class_maps(y, 3, 2, 5)
    assert maps.shape == (2, 3, 2, 5) and maps[0, 2].eq(1).all() and maps[0, :2].eq(0).all()
    assert isinstance(make_norm("layer", 8), nn.GroupNorm) and make_norm("layer", 8).num_groups == 1
    assert make_norm("instance", 8).num_groups == 8
    assert isinstance(make_norm("none", 8), nn.Identity)


def test_bad_names_raise():
    with pytest.raises(ValueError, match="mlp, dcgan"):
        build_generator("stylegan", z_dim=Z, out_shape=(1, 8, 8), num_classes=0, width=4)
    with pytest.raises(ValueError, match="mlp, dcgan"):
        build_discriminator(
            "x", in_shape=(1, 8, 8), num_classes=0, width=4, norm="none", cond="concat"
        )
    with pytest.raises(ValueError, match="batch, layer, instance, none"):
        make_norm("weird", 4)
    with pytest.raises(ValueError, match="concat, projection"):
        DCGANDiscriminator((1, 8, 8), cond="film")
    with pytest.raises(ValueError, match="batch, layer, none"):
        MLPDiscriminator((1, 8, 8), norm="instance")
    with pytest.raises(ValueError, match="even image size"):
        DCGANGenerator(Z, (1, 5, 5))
    with pytest.raises(ValueError, match="square"):
        DCGANDiscriminator((1, 8, 16))

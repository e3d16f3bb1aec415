"""Pix2Pix: the U-Net (shapes, skips, dropout as noise), the PatchGAN on pairs, the loss pieces
of the paper's ablation (L1 alone, GAN alone) and the config checks."""

import pytest
import torch
import torch.nn.functional as F

from conftest import UpdateRecorder as Ctx
from genlab.errors import ConfigError
from genlab.methods.base import DataInfo
from genlab.methods.pix2pix import Pix2Pix, Pix2PixConfig
from genlab.methods.registry import build_method
from genlab.nets.patchgan import PatchDiscriminator
from genlab.nets.translators import UNetGenerator

INFO = DataInfo(channels=3, image_size=16, input_channels=1, input_size=16, paired=True)




def make(info=INFO, **values) -> Pix2Pix:
    torch.manual_seed(0)
    cfg = Pix2PixConfig(**{**Pix2Pix.tiny, **values})
    return build_method(cfg, info)


def batch(n=4, info=INFO):
    g = torch.Generator().manual_seed(1)
    side = info.image_size
    return {"input": torch.rand(n, info.input_channels, side, side, generator=g) * 2 - 1,
            "image": torch.rand(n, info.channels, side, side, generator=g) * 2 - 1}


def params(net):
    return [p.detach().clone() for p in net.parameters()]


# ----- nets ------------------------------------------------------------------------------
@pytest.mark.parametrize(("side", "depth"), [(28, 2), (16, 4), (32, 5)])
def test_unet_keeps_the_side_and_maps_channels(side, depth):
    net = UNetGenerator(1, 3, depth=depth, width=4).eval()
    out = net(torch.randn(2, 1, side, side))
    assert out.shape == (2, 3, side, side)
    assert out.abs().max() <= 1  # tanh


def test_unet_refuses_a_side_not_divisible_by_2_to_the_depth():
    with pytest.raises(ValueError, match="divisible"):
        UNetGenerator(1, 1, depth=3, width=4)(torch.randn(1, 1, 28, 28))


def test_unet_skip_connections_are_used():
    torch.manual_seed(0)
    net = UNetGenerator(1, 1, depth=3, width=4, dropout=0).eval()
    x = torch.randn(2, 1, 16, 16)
    before = net(x)
    # the outermost decoder block takes [own features, skip from the first encoder block]:
    # zero the weights that read the skip channels
    up = net.up[-1][1]
    own = up.in_channels // 2
    with torch.no_grad():
        up.weight[own:] = 0
    after = net(x)
    assert not torch.allclose(before, after)
    # depth 1 has no skip at all and is still a valid net
    assert UNetGenerator(1, 1, depth=1, width=4)(x).shape == x.shape


def test_dropout_is_the_noise_in_training_and_off_in_eval():
    torch.manual_seed(0)
    net = UNetGenerator(1, 1, depth=3, width=4, dropout=0.5, dropout_blocks=2)
    dropouts = [m for m in net.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(dropouts) == 2  # the two decoder blocks nearest the bottleneck
    assert all(isinstance(m, torch.nn.Dropout) for m in (net.up[0][-1], net.up[1][-1]))
    x = torch.randn(2, 1, 16, 16)
    net.train()
    assert not torch.equal(net(x), net(x))
    net.eval()
    assert torch.equal(net(x), net(x))
    none = UNetGenerator(1, 1, depth=3, width=4, dropout=0.0)
    assert not any(isinstance(m, torch.nn.Dropout) for m in none.modules())


def test_unet_widths_double_and_cap_at_8x():
    net = UNetGenerator(3, 3, depth=6, width=4)
    convs = [next(m for m in b if isinstance(m, torch.nn.Conv2d)) for b in net.down]
    assert [c.out_channels for c in convs] == [4, 8, 16, 32, 32, 32]


def test_patch_discriminator_instance_norm_and_its_side():
    d = PatchDiscriminator(4, 8, 2, "instance")
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in d.modules())
    assert d(torch.randn(2, 4, 28, 28)).shape == (2, 1, 5, 5)  # 28 / 4 - 2
    assert PatchDiscriminator.output_side(28, 2) == 5
    with pytest.raises(ValueError, match="unknown norm"):
        PatchDiscriminator(3, 8, 2, "group")


# ----- the method ------------------------------------------------------------------------
def test_nets_and_the_conditional_discriminator_sees_the_pair():
    m = make()
    assert m.translates and not m.generative and m.needs_inputs == "paired"
    assert m.nets["D"].main[0].in_channels == 1 + 3  # input channels + image channels
    x = batch()["input"]
    m.nets.eval()
    assert m.translate(x).shape == (4, 3, 16, 16)
    with pytest.raises(ConfigError, match="AtoB"):
        m.translate(x, "BtoA")


def test_a_step_updates_both_nets_and_logs_the_pieces():
    m = make()
    g, d = params(m.nets["G"]), params(m.nets["D"])
    ctx = Ctx(m)
    logs = m.train_step(batch(), ctx)
    assert set(ctx.losses) == {"D", "G"}
    assert {"loss_g", "loss_d", "gan", "l1", "d_real", "d_fake"} <= set(logs)
    torch.testing.assert_close(logs["loss_g"], logs["gan"] + 100 * logs["l1"])
    assert any(not torch.equal(a, b) for a, b in zip(g, params(m.nets["G"]), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(d, params(m.nets["D"]), strict=True))


def test_gan_weight_0_is_l1_alone_and_leaves_the_discriminator_untouched():
    m = make(gan_weight=0.0)
    ref = make(gan_weight=0.0)
    d = params(m.nets["D"])
    b = batch()
    ctx = Ctx(m)
    torch.manual_seed(5)
    logs = m.train_step(b, ctx)
    assert set(ctx.losses) == {"G"} and "loss_d" not in logs and "gan" not in logs
    assert all(torch.equal(a, b) for a, b in zip(d, params(m.nets["D"]), strict=True))
    # the same update by hand: Adam on 100 * L1 alone (same dropout draws)
    torch.manual_seed(5)
    loss = 100 * F.l1_loss(ref.nets["G"](b["input"]), b["image"])
    ref.optimizers["G"].zero_grad()
    loss.backward()
    ref.optimizers["G"].step()
    torch.testing.assert_close(logs["loss_g"], loss.detach())
    for a, c in zip(params(m.nets["G"]), params(ref.nets["G"]), strict=True):
        torch.testing.assert_close(a, c)


def test_l1_weight_0_is_the_gan_alone():
    m = make(l1_weight=0.0)
    logs = m.train_step(batch(), Ctx(m))
    torch.testing.assert_close(logs["loss_g"], logs["gan"])  # no L1 term
    assert logs["l1"] > 0  # still measured, for the logs
    # the generator's loss is the reference's bce(D(x, G(x)), 1) = softplus(-logit)
    m2 = make(l1_weight=0.0)
    m2.nets.eval()
    b = batch()
    with torch.no_grad():
        logits = m2.nets["D"](torch.cat([b["input"], m2.nets["G"](b["input"])], 1))
    from genlab.losses import translation_g_loss as g_loss_as_reference

    torch.testing.assert_close(g_loss_as_reference("bce", logits), F.softplus(-logits).mean())
    torch.testing.assert_close(g_loss_as_reference("lsgan", logits), ((logits - 1) ** 2).mean())


def test_discriminator_loss_is_the_references_halved_sum():
    from genlab.losses import translation_d_loss as d_loss_as_reference

    real, fake = torch.randn(2, 1, 3, 3), torch.randn(2, 1, 3, 3)
    bce = 0.5 * (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                 + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    torch.testing.assert_close(d_loss_as_reference("bce", real, fake), bce)
    mse = 0.5 * (F.mse_loss(real, torch.ones_like(real)) + F.mse_loss(fake, torch.zeros_like(fake)))
    torch.testing.assert_close(d_loss_as_reference("lsgan", real, fake), mse)


def test_28px_fashion_sizes_work_with_depth_2():
    info = DataInfo(channels=1, image_size=28, input_channels=1, input_size=28)
    m = make(info, depth=2)
    logs = m.train_step(batch(2, info), Ctx(m))
    assert torch.isfinite(logs["loss_g"])


def test_config_errors_say_what_to_do():
    info28 = DataInfo(channels=1, image_size=28, input_channels=1, input_size=28)
    with pytest.raises(ConfigError, match="at most 2"):
        make(info28, depth=3)
    with pytest.raises(ConfigError, match="srgan"):
        make(DataInfo(channels=3, image_size=16, input_channels=3, input_size=8))
    with pytest.raises(ConfigError, match="d_layers"):
        make(d_layers=4)
    with pytest.raises(ConfigError, match="paired"):
        make(DataInfo(channels=3, image_size=16, input_channels=3, input_size=16, paired=False))
    with pytest.raises(ConfigError, match="pairs"):
        make(DataInfo(channels=3, image_size=16))

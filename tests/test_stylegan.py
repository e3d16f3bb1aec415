"""StyleGAN: the mapping network and w_avg, modulated convs against per-example weights, styles
and noise, truncation in W, style-mixing regularisation and the lazy R1."""

import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT
from conftest import UpdateRecorder as Ctx
from genlab.errors import ConfigError
from genlab.methods.base import DataInfo
from genlab.methods.stylegan import StyleGAN, StyleGANConfig, StyleOptions
from genlab.nets.stylegan import MappingNetwork, ModulatedConv, StyleGenerator
from genlab.runs.config import load_config
from genlab.sampling import SamplingOptions


def _method(classes=0, side=16, **cfg):
    torch.manual_seed(0)
    values = {"z_dim": 8, "w_dim": 8, "mapping_layers": 2, "g_width": 4, "d_width": 4,
              "max_width": 8, "r1_every": 2, **cfg}
    names = [str(i) for i in range(classes)]
    return StyleGAN(StyleGANConfig(**values), DataInfo(1, side, classes, names))


def test_w_avg_is_a_running_mean_of_w_in_training_only():
    torch.manual_seed(0)
    net = MappingNetwork(4, 6, layers=2, w_avg_decay=0.9)
    z = torch.randn(5, 4)
    w = net(z)
    torch.testing.assert_close(net.w_avg, 0.1 * w.detach().mean(0))
    net.eval()
    net(torch.randn(5, 4))
    torch.testing.assert_close(net.w_avg, 0.1 * w.detach().mean(0))  # eval: unchanged


def test_modulated_conv_equals_per_example_demodulated_weights():
    torch.manual_seed(0)
    conv = ModulatedConv(3, 5, 4, 3, size=6, noise=False)
    x, w = torch.randn(2, 3, 6, 6), torch.randn(2, 4)
    style = conv.affine(w)
    for i in range(2):  # the paper's form: weights scaled per input channel, then renormalised
        weight = conv.weight * conv.scale * style[i][None, :, None, None]
        weight = weight / weight.pow(2).sum(dim=(1, 2, 3), keepdim=True).add(1e-8).sqrt()
        want = F.conv2d(x[i:i + 1], weight, conv.bias, padding=1)
        torch.testing.assert_close(conv(x, w)[i:i + 1], want, atol=1e-5, rtol=1e-4)


def test_noise_modes():
    torch.manual_seed(0)
    conv = ModulatedConv(2, 2, 4, 3, size=4)
    with torch.no_grad():
        conv.noise_strength.fill_(1.0)
    x, w = torch.randn(3, 2, 4, 4), torch.randn(3, 4)
    const = conv(x, w, "const")
    assert torch.equal(const, conv(x, w, "const"))
    torch.testing.assert_close(const[1] - conv(x, w, "none")[1],
                               conv.noise_const[0].expand(2, 4, 4).detach())
    seeded = [conv(x, w, torch.Generator().manual_seed(s)) for s in (1, 1, 2)]
    assert torch.equal(seeded[0], seeded[1]) and not torch.equal(seeded[0], seeded[2])


@pytest.mark.parametrize(("side", "groups"), [
    (16, {"coarse": (0, 4), "middle": (4, 4), "fine": (4, 6)}),
    (32, {"coarse": (0, 4), "middle": (4, 6), "fine": (6, 8)}),
    (64, {"coarse": (0, 4), "middle": (4, 8), "fine": (8, 10)})])
def test_styles_per_level_and_their_groups(side, groups):
    m = _method(side=side)
    assert m.num_ws == 2 * (side.bit_length() - 2) and m.style_groups() == groups
    ws = m.to_ws(torch.randn(2, 8))
    assert ws.shape == (2, m.num_ws, 8) and torch.equal(ws[:, 0], ws[:, -1])
    m.nets.eval()
    base = m.decode(ws)
    assert base.shape == (2, 1, side, side)
    for i in range(m.num_ws):  # every style reaches the image
        changed = ws.clone()
        changed[:, i] += 1
        assert not torch.equal(m.decode(changed), base), i


def test_truncation_in_w():
    m = _method()
    m.nets.eval()
    with torch.no_grad():
        m.nets["G"].mapping.w_avg.normal_()
    z = torch.randn(3, 8)
    assert torch.equal(m.truncate(z, 1.0), z)  # psi 1: z, untouched
    ws = m.truncate(z, 0.5)
    w = m.to_ws(z)
    w_avg = m.nets["G"].mapping.w_avg
    torch.testing.assert_close(ws, w_avg + 0.5 * (w - w_avg))
    centre = m.decode(m.truncate(torch.randn(4, 8), 1e-9))
    torch.testing.assert_close(centre, centre[:1].expand(4, -1, -1, -1))  # all at w_avg
    with pytest.raises(ConfigError, match="psi"):
        m.truncate(z, 1.5)
    torch.testing.assert_close(m.walk_latents(z), w)


def test_conditional_styles_depend_on_the_class():
    m = _method(classes=3, conditional=True)
    z = torch.randn(1, 8).expand(3, -1)
    ws = m.to_ws(z, torch.arange(3))
    assert not torch.equal(ws[0], ws[1])
    soft = m.to_ws(z[:1], torch.tensor([[1.0, 0.0, 0.0]]))
    torch.testing.assert_close(soft[0], ws[0])  # one-hot vectors = class indices
    with pytest.raises(ConfigError, match="--label"):
        m.decode(torch.randn(2, 8))
    with pytest.raises(ConfigError, match="two classes"):
        _method(classes=0, conditional=True)


def test_style_mixing_regularisation():
    m = _method(mixing_prob=1.0)
    torch.manual_seed(3)
    ws = m._mixed_styles(2, None)
    rows = [i for i in range(1, m.num_ws) if not torch.equal(ws[:, i], ws[:, i - 1])]
    assert len(rows) == 1  # one cutoff: styles before from one latent, after from another
    none = _method(mixing_prob=0.0)._mixed_styles(2, None)
    assert all(torch.equal(none[:, i], none[:, 0]) for i in range(none.shape[1]))


def test_lazy_r1_and_its_adam_correction():
    m = _method(r1_every=4, r1_gamma=1.0)
    d_opt = m.optimizers["D"].param_groups[0]
    assert d_opt["lr"] == pytest.approx(2e-3 * 0.8) and d_opt["betas"][1] == pytest.approx(
        0.99 ** 0.8)
    batch = {"image": torch.rand(4, 1, 16, 16) * 2 - 1}
    logged = ["r1" in m.train_step(batch, Ctx(m)) for _ in range(6)]
    assert logged == [True, False, False, False, True, False] and m.steps == 6
    m2 = _method(r1_gamma=0.0)
    assert "r1" not in m2.train_step(batch, Ctx(m2))
    state = m.extra_state()
    m2.load_extra_state(state)
    assert m2.steps == 6


def test_decode_takes_style_options_only():
    m = _method()
    m.nets.eval()
    with torch.no_grad():
        for conv in m.nets["G"].synthesis.convs:
            conv.noise_strength.fill_(0.5)
    ws = m.to_ws(torch.randn(2, 8))
    const = m.decode(ws)
    assert torch.equal(const, m.decode(ws, None, StyleOptions()))
    fresh = m.decode(ws, None, StyleOptions(noise="random", noise_seed=1))
    assert not torch.equal(fresh, const)
    assert torch.equal(fresh, m.decode(ws, None, StyleOptions(noise="random", noise_seed=1)))
    with pytest.raises(ConfigError, match="sampler"):
        m.decode(ws, None, SamplingOptions())


def test_generator_refuses_styles_of_the_wrong_shape():
    G = StyleGenerator(4, 4, (1, 8, 8), mapping_layers=1, width=2, max_width=4)
    with pytest.raises(ValueError, match="styles must be"):
        G(torch.randn(2, 3, 4))


def test_presets_exist_for_both_tasks():
    for preset in ("stylegan-fashion", "stylegan-shapes"):
        cfg = load_config(ROOT / "configs" / f"{preset}.yaml", [])
        assert cfg.method.name == "stylegan" and cfg.method.mixing_prob == 0.9

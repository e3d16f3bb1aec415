"""CycleGAN: the ResNet generator, the history pool (semantics and saved state), the learning
rate schedule, the loss pieces of the ablation, both directions, and DDP with two processes."""


import pytest
import torch

from genlab.errors import ConfigError
from genlab.methods.base import DataInfo
from genlab.methods.cyclegan import CycleGAN, CycleGANConfig, HistoryPool, lr_factor
from genlab.methods.registry import build_method
from genlab.nets.translators import ResnetGenerator

INFO = DataInfo(channels=3, image_size=16, input_channels=3, input_size=16, paired=False,
                domains=["circle", "square"])


class Ctx:
    def __init__(self, method):
        self.method, self.updates = method, []

    def update(self, name, loss):
        opt = self.method.optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        self.updates.append(name)


def make(info=INFO, **values) -> CycleGAN:
    torch.manual_seed(0)
    return build_method(CycleGANConfig(**{**CycleGAN.tiny, **values}), info)


def batch(n=4, info=INFO, seed=1):
    g = torch.Generator().manual_seed(seed)
    s = info.image_size
    return {"input": torch.rand(n, info.input_channels, s, s, generator=g) * 2 - 1,
            "image": torch.rand(n, info.channels, s, s, generator=g) * 2 - 1}


# ----- nets ------------------------------------------------------------------------------
@pytest.mark.parametrize("side", [28, 32, 16])
def test_resnet_generator_keeps_the_side(side):
    net = ResnetGenerator(1, 3, blocks=2, width=4)
    out = net(torch.randn(2, 1, side, side))
    assert out.shape == (2, 3, side, side) and out.abs().max() <= 1
    assert any(isinstance(m, torch.nn.ReflectionPad2d) for m in net.modules())
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in net.modules())
    with pytest.raises(ValueError, match="divisible"):
        net(torch.randn(1, 1, 30, 30))


# ----- the history pool ------------------------------------------------------------------
def test_pool_returns_new_images_until_full_then_swaps_half():
    pool = HistoryPool(6, seed=0)
    first = torch.randn(4, 1, 2, 2)
    assert torch.equal(pool.query(first), first) and len(pool) == 4
    second = torch.randn(4, 1, 2, 2)
    out = pool.query(second)
    # two fill the pool (returned as they are); the other two arrive at a full pool
    assert torch.equal(out[:2], second[:2]) and len(pool) == 6
    stored = torch.cat([first, second[:2]])
    assert torch.equal(pool.images, stored)
    # once full: each image is either returned itself, or swapped for a stored one
    swapped = 0
    for _ in range(200):
        new = torch.randn(1, 1, 2, 2)
        before = pool.images.clone()
        got = pool.query(new)
        if torch.equal(got, new):
            assert torch.equal(pool.images, before)
        else:
            swapped += 1
            slot = (pool.images != before).flatten(1).any(1).nonzero().flatten()
            assert slot.tolist() and torch.equal(before[slot[0]], got[0])
            assert torch.equal(pool.images[slot[0]], new[0])
    assert 70 < swapped < 130  # about half
    assert torch.equal(HistoryPool(0, seed=0).query(first), first)  # size 0: no pool


def test_pool_state_round_trips_and_continues_identically():
    a = HistoryPool(5, seed=3)
    a.query(torch.randn(7, 2, 3, 3))
    b = HistoryPool(5, seed=99)
    b.load_state(a.state(), torch.device("cpu"))
    assert torch.equal(a.images, b.images)
    x = torch.randn(6, 2, 3, 3)
    assert torch.equal(a.query(x), b.query(x)) and torch.equal(a.images, b.images)


def test_method_extra_state_holds_pools_and_steps_and_survives_weights_only(tmp_path):
    m = make()
    m.train_step(batch(8), Ctx(m))
    m.train_step(batch(8, seed=2), Ctx(m))
    state = m.extra_state()
    torch.save(state, tmp_path / "s.pt")
    loaded = torch.load(tmp_path / "s.pt", weights_only=True)
    m2 = make()
    m2.load_extra_state(loaded)
    assert m2.steps_done == 2
    for k in ("A", "B"):
        assert len(m2.pools[k]) == min(16, CycleGAN.tiny["pool_size"])
        assert torch.equal(m.pools[k].images, m2.pools[k].images)
    x = torch.randn(3, 3, 16, 16)
    assert torch.equal(m.pools["A"].query(x), m2.pools["A"].query(x))


# ----- learning rate ---------------------------------------------------------------------
def test_lr_is_constant_then_decays_linearly_to_zero():
    values = [lr_factor(t, decay_start=10, decay_steps=4) for t in (0, 9, 10, 11, 12, 13, 14, 99)]
    assert values == [1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    assert lr_factor(10**6, 5, 0) == 1.0  # decay_steps 0: constant


def test_the_optimisers_carry_the_scheduled_lr():
    m = make(decay_start=1, decay_steps=2, lr=1e-3)
    logs = m.train_step(batch(), Ctx(m))  # update 0 at the full lr; the method counts it
    assert float(logs["lr"]) == pytest.approx(1e-3) and m.steps_done == 1
    seen = []
    for step in (1, 2, 3):
        m.steps_done = step
        seen.append(round(m._set_lr(), 8))
        assert {g["lr"] for o in m.optimizers.values() for g in o.param_groups} == {seen[-1]}
    assert seen == [1e-3, 5e-4, 0.0]
    assert m.optimizers["G"].state_dict()["param_groups"][0]["lr"] == 0.0  # saved with it


# ----- losses, directions, errors --------------------------------------------------------
def test_a_step_logs_the_pieces_with_the_papers_weights():
    m = make()
    ctx = Ctx(m)
    logs = m.train_step(batch(), ctx)
    assert ctx.updates == ["G", "D"]
    torch.testing.assert_close(logs["loss_g"],
                               logs["gan"] + 10 * logs["cycle"] + 10 * 0.5 * logs["identity"])
    torch.testing.assert_close(logs["loss_d"], logs["loss_d_a"] + logs["loss_d_b"])


def test_ablation_switches_drop_their_terms():
    m = make(cycle_weight=0.0, identity_weight=0.0)
    logs = m.train_step(batch(), Ctx(m))
    assert "cycle" not in logs and "identity" not in logs
    torch.testing.assert_close(logs["loss_g"], logs["gan"])
    # the identity weight is a fraction of the cycle weight: the GAN alone has neither
    m = make(cycle_weight=0.0)
    logs = m.train_step(batch(), Ctx(m))
    assert "identity" not in logs
    torch.testing.assert_close(logs["loss_g"], logs["gan"])
    m = make(identity_weight=0.0)
    logs = m.train_step(batch(), Ctx(m))
    torch.testing.assert_close(logs["loss_g"], logs["gan"] + 10 * logs["cycle"])


def test_identity_loss_needs_equal_channels_and_both_directions_translate():
    grey_to_rgb = DataInfo(channels=3, image_size=16, input_channels=1, input_size=16,
                           paired=False)
    with pytest.raises(ConfigError, match="identity_weight=0"):
        make(grey_to_rgb)
    make(grey_to_rgb, cycle_weight=0.0)  # no identity loss without a cycle weight: no error
    m = make(grey_to_rgb, identity_weight=0.0)
    m.train_step(batch(info=grey_to_rgb), Ctx(m))
    m.nets.eval()
    a, b = torch.rand(2, 1, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    assert m.translate(a).shape == (2, 3, 16, 16)
    assert m.translate(b, "BtoA").shape == (2, 1, 16, 16)
    torch.testing.assert_close(m.translate(b, "BtoA"), m.nets["G_BA"](b).clamp(-1, 1))
    with pytest.raises(ConfigError, match="direction"):
        m.translate(a, "sideways")


def test_grid_shows_the_reconstruction_on_unpaired_data_and_the_target_on_paired():
    m = make()
    m.nets.eval()
    x, y = batch()["input"], batch()["image"]
    cols = m.translation_grid(x, y)
    assert torch.equal(cols[0], x)
    torch.testing.assert_close(cols[2], m.translate(m.translate(x), "BtoA"))
    paired = make(DataInfo(channels=3, image_size=16, input_channels=3, input_size=16))
    assert torch.equal(paired.translation_grid(x, y)[2], y)


def test_config_errors():
    with pytest.raises(ConfigError, match="srgan"):
        make(DataInfo(channels=3, image_size=16, input_channels=3, input_size=8, paired=False))
    with pytest.raises(ConfigError, match="downsample"):
        make(DataInfo(channels=3, image_size=20, input_channels=3, input_size=20), downsample=3)
    with pytest.raises(ConfigError, match="pairs"):
        make(DataInfo(channels=3, image_size=16))



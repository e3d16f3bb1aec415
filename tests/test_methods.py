"""Every shipped GAN config and variant trains a few steps; the variant-specific rules hold."""

import pytest
import torch

from conftest import ROOT, TINY
from conftest import UpdateRecorder as Ctx
from genlab.errors import ConfigError
from genlab.methods.base import DataInfo, split_batch
from genlab.methods.registry import build_method
from genlab.runs.config import load_config

INFO = DataInfo(channels=3, image_size=16, num_classes=3, class_names=["a", "b", "c"])




def make(config, *extra):
    cfg = load_config(ROOT / "configs" / f"{config}.yaml", [*TINY, *extra])
    torch.manual_seed(0)
    return build_method(cfg.method, INFO)


def batch(method, n=8):
    k = method.batches_per_step
    return {"image": torch.rand(n * k, 3, 16, 16) * 2 - 1, "label": torch.arange(n * k) % 3}


@pytest.mark.parametrize("config", ["gan", "dcgan", "wgan", "wgan-gp", "cdcgan"])
@pytest.mark.parametrize("conditional", [False, True])
def test_each_config_trains_and_samples(config, conditional):
    method = make(config, f"method.conditional={str(conditional).lower()}")
    before = {k: v.clone() for k, v in method.nets.state_dict().items()}
    ctx = Ctx(method)
    logs = method.train_step(batch(method), ctx)
    assert {"loss_d", "loss_g"} <= logs.keys()
    assert all(torch.isfinite(v) for v in logs.values())
    assert ctx.updates == {"D": method.cfg.n_critic, "G": 1}
    changed = {k.split(".")[0] for k, v in method.nets.state_dict().items()
               if not torch.equal(v, before[k])}
    assert changed == {"G", "D"}
    labels = torch.tensor([0, 1, 2, 0]) if conditional else None
    images = method.decode(method.sample_latents(4), labels)
    assert images.shape == (4, 3, 16, 16) and images.abs().max() <= 1


@pytest.mark.parametrize("loss", ["bce-saturating", "hinge", "lsgan"])
@pytest.mark.parametrize("cond", ["concat", "projection"])
def test_loss_and_conditioning_options(loss, cond):
    method = make("cdcgan", f"method.loss={loss}", f"method.cond={cond}")
    logs = method.train_step(batch(method), Ctx(method))
    assert torch.isfinite(logs["loss_g"])


def test_wgan_clips_critic_weights():
    method = make("wgan", "method.lr_d=0.5")  # a huge step would push weights far past c
    method.train_step(batch(method), Ctx(method))
    assert max(p.abs().max().item() for p in method.nets["D"].parameters()) <= 0.01 + 1e-7


def test_wgan_gp_logs_the_penalty_and_uses_no_batch_norm():
    method = make("wgan-gp")
    logs = method.train_step(batch(method), Ctx(method))
    assert "gp" in logs and logs["gp"] >= 0
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in method.nets["D"].modules())


def test_conditional_generator_follows_the_label():
    method = make("cdcgan")
    z = method.sample_latents(2)
    a = method.decode(z, torch.tensor([0, 0]))
    b = method.decode(z, torch.tensor([1, 1]))
    assert not torch.allclose(a, b)
    soft = method.decode(z, torch.tensor([[1.0, 0, 0], [1.0, 0, 0]]))  # soft one-hot = hard
    assert torch.allclose(soft, a, atol=1e-6)


@pytest.mark.parametrize("overrides,needle", [
    (["method.conditional=true", "method.gp_weight=10", "method.d_norm=batch"], "batch norm"),
    (["method.real_label=0.9", "method.loss=hinge"], "label smoothing"),
    (["method.arch=mlp", "method.d_norm=instance"], "instance"),
])
def test_invalid_combinations_are_config_errors(overrides, needle):
    with pytest.raises(ConfigError, match=needle):
        make("dcgan", *overrides)


def test_conditional_needs_labels():
    cfg = load_config(ROOT / "configs" / "cdcgan.yaml", TINY)
    with pytest.raises(ConfigError, match="labelled"):
        build_method(cfg.method, DataInfo(channels=3, image_size=16))


def test_split_batch():
    b = {"image": torch.arange(6).view(6, 1), "label": torch.arange(6)}
    parts = split_batch(b, 3)
    assert [p["label"].tolist() for p in parts] == [[0, 1], [2, 3], [4, 5]]

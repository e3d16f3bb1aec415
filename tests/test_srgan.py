"""SRGAN: the SRResNet and its discriminator, the phase switch, the content losses (judge and
VGG from a local file) and the SRResNet -> SRGAN protocol (`--init-from`)."""

import pickle

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from conftest import UpdateRecorder as Ctx
from genlab.errors import CheckpointError, ConfigError
from genlab.losses import perceptual_distance
from genlab.methods.base import DataInfo
from genlab.methods.srgan import SRGAN, SRGANConfig
from genlab.nets.srresnet import SRDiscriminator, SRResNet, UpsampleBlock
from genlab.nets.vgg import VGGFeatures, load_vgg_features


def info(scale=2, channels=1, side=16, classes=0):
    return DataInfo(channels=channels, image_size=side, num_classes=classes,
                    class_names=[str(i) for i in range(classes)], input_channels=channels,
                    input_size=side // scale)


def method(scale=2, classes=0, **cfg):
    torch.manual_seed(0)
    values = {"blocks": 1, "width": 8, "d_width": 4, "content": "pixel", **cfg}
    return SRGAN(SRGANConfig(**values), info(scale, classes=classes))


def batch(scale=2, n=4, side=16):
    torch.manual_seed(1)
    image = torch.rand(n, 1, side, side) * 2 - 1
    return {"image": image, "input": F.avg_pool2d(image, scale)}


def params(net):
    return [p.detach().clone() for p in net.state_dict().values()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


# ----- nets ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("scale", "side", "channels"), [(2, 8, 1), (4, 7, 3), (2, 7, 1),
                                                          (4, 5, 1)])
def test_srresnet_upscales_any_side_by_its_scale(scale, side, channels):
    G = SRResNet(channels, channels, scale, blocks=2, width=8)
    out = G(torch.randn(2, channels, side, side))
    assert out.shape == (2, channels, scale * side, scale * side)
    assert len(G.upsample) == {2: 1, 4: 2}[scale]


def test_srresnet_refuses_scales_that_are_not_powers_of_two():
    with pytest.raises(ValueError, match="power of two"):
        SRResNet(1, 1, 3)


def test_pixel_shuffle_puts_channel_4c_plus_2i_plus_j_at_pixel_2h_plus_i_2w_plus_j():
    block = UpsampleBlock(3)
    y = torch.randn(2, 12, 5, 6)
    hand = torch.empty(2, 3, 10, 12)
    for c in range(3):
        for i in range(2):
            for j in range(2):
                hand[:, c, i::2, j::2] = y[:, 4 * c + 2 * i + j]
    assert torch.equal(block.shuffle(y), hand)
    assert torch.equal(block.shuffle(y), F.pixel_shuffle(y, 2))
    x = torch.randn(2, 3, 5, 6)
    assert torch.allclose(block(x), block.act(F.pixel_shuffle(block.conv(x), 2)))


def test_fresh_subpixel_layer_upsamples_like_nearest_neighbour():
    """ICNR: the four sub-kernels start equal, so each 2x2 cell of a fresh layer is constant."""
    block = UpsampleBlock(4)
    out = block(torch.randn(1, 4, 6, 6))
    cell = out[..., 0::2, 0::2]
    for i, j in ((0, 1), (1, 0), (1, 1)):
        assert torch.equal(out[..., i::2, j::2], cell)


@pytest.mark.parametrize("side", [16, 28, 96])
def test_discriminator_gives_one_logit_per_image_at_any_side(side):
    D = SRDiscriminator(3, width=4)
    assert D(torch.randn(2, 3, side, side)).shape == (2,)
    assert sum(isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2) for m in D.modules()) == 4


# ----- the method ---------------------------------------------------------------------------
def test_pretrain_phase_leaves_d_alone_then_d_trains():
    m = method(pretrain_steps=2)
    ctx, d0 = Ctx(m), params(m.nets["D"])
    for _ in range(2):
        logs = m.train_step(batch(), ctx)
        assert "loss_d" not in logs
    assert ctx.updates == {"G": 2} and same(d0, params(m.nets["D"]))
    logs = m.train_step(batch(), ctx)
    assert ctx.updates == {"G": 3, "D": 1} and not same(d0, params(m.nets["D"]))
    assert {"loss_d", "adv", "content", "psnr"} <= logs.keys()
    assert m.extra_state() == {"steps_done": 3}


def test_pretrain_loss_is_the_pixel_mse_and_psnr_follows_it():
    m = method(pretrain_steps=5)
    b = batch()
    with torch.no_grad():
        expected = (m.nets["G"](b["input"]) - b["image"]).pow(2).mean()
    logs = m.train_step(b, Ctx(m))
    assert torch.allclose(logs["loss_g"], expected) and torch.allclose(logs["mse"], expected)
    assert torch.allclose(logs["psnr"], 10 * torch.log10(4 / expected))


def test_adv_weight_zero_is_an_srresnet_that_never_updates_d():
    m = method(pretrain_steps=1, adv_weight=0.0)
    ctx, d0 = Ctx(m), params(m.nets["D"])
    for _ in range(3):
        logs = m.train_step(batch(), ctx)
    assert ctx.updates == {"G": 3} and same(d0, params(m.nets["D"]))
    assert "adv" not in logs and torch.allclose(logs["loss_g"], logs["content"])


def test_pixel_weight_adds_the_pixel_loss_beside_the_content_loss():
    m = method(pretrain_steps=0, adv_weight=0.0, pixel_weight=0.5)
    logs = m.train_step(batch(), Ctx(m))
    assert torch.allclose(logs["loss_g"], 1.5 * logs["mse"])


def test_phase_counter_survives_a_weights_only_checkpoint(tmp_path):
    m = method(pretrain_steps=1)
    m.train_step(batch(), Ctx(m))
    torch.save(m.extra_state(), tmp_path / "state.pt")
    other = method(pretrain_steps=1)
    other.load_extra_state(torch.load(tmp_path / "state.pt", weights_only=True))
    ctx = Ctx(other)
    other.train_step(batch(), ctx)
    assert ctx.updates == {"D": 1, "G": 1}


def test_judge_content_uses_the_frozen_judge():
    m = method(pretrain_steps=0, content="judge", adv_weight=0.0, classes=3)
    assert SRGAN.judge_net(m.cfg) == "perceptual"
    judge = m.nets["perceptual"]
    before, b = params(judge), batch()
    with torch.no_grad():
        fake = m.nets["G"](b["input"])
        expected = perceptual_distance(judge.eval().stage_features(fake),
                                       judge.stage_features(b["image"])).mean()
    g0 = params(m.nets["G"])
    logs = m.train_step(b, Ctx(m))
    assert torch.allclose(logs["content"], expected, atol=1e-6)
    assert same(before, params(judge)) and not same(g0, params(m.nets["G"]))
    assert not any(p.requires_grad for p in judge.parameters())


def test_translate_upscales_any_side_clamped_and_grid_has_bicubic():
    m = method(scale=4)
    m.nets.eval()
    with torch.no_grad():
        out = m.translate(torch.rand(2, 1, 7, 7) * 2 - 1)
        cols = m.translation_grid(torch.rand(2, 1, 4, 4), torch.rand(2, 1, 16, 16))
    assert out.shape == (2, 1, 28, 28) and out.min() >= -1 and out.max() <= 1
    assert [c.shape[-1] for c in cols] == [4, 16, 16, 16]
    with pytest.raises(ConfigError, match="1 channel"):
        m.translate(torch.zeros(1, 3, 4, 4))


@pytest.mark.parametrize(("scale_info", "cfg", "needle"), [
    (DataInfo(1, 16, input_channels=1, input_size=16), {}, "data.pairs=sr2"),
    (DataInfo(1, 16, input_channels=1, input_size=6), {}, "data.pairs=sr2"),
    (info(), {"content": "judge"}, "labelled"),
    (info(), {"content": "vgg"}, "vgg_weights"),
])
def test_config_mistakes_are_one_line_errors(scale_info, cfg, needle):
    with pytest.raises(ConfigError, match=needle) as err:
        SRGAN(SRGANConfig(**{"blocks": 1, "width": 4, "content": "pixel", **cfg}), scale_info)
    assert "\n" not in str(err.value)


# ----- VGG from a local file ----------------------------------------------------------------
@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """torchvision's vgg19 features with random weights, saved in fp16 (40 MB) as safetensors."""
    from torchvision.models import vgg19

    torch.manual_seed(0)
    features = vgg19(weights=None).features
    state = {f"features.{k}": v.half() for k, v in features.state_dict().items()}
    path = tmp_path_factory.mktemp("vgg") / "vgg19.safetensors"
    save_file(state, path)
    return path, features


def test_vgg54_from_a_file_equals_torchvision_features(vgg_file):
    path, features = vgg_file
    features.load_state_dict({k: v.half().float() for k, v in features.state_dict().items()})
    net = VGGFeatures("54")
    load_vgg_features(net, path)
    assert all(p.dtype == torch.float32 for p in net.parameters())
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        ref = features[:36](((x.repeat(1, 3, 1, 1) + 1) / 2 - mean) / std) / 12.75
        assert torch.allclose(net(x), ref, atol=1e-5)
    assert isinstance(features[35], torch.nn.ReLU) and isinstance(features[36], torch.nn.MaxPool2d)


def test_vgg22_from_a_pth_without_the_prefix(tmp_path, vgg_file):
    _, features = vgg_file
    torch.save({k: v for k, v in features.state_dict().items() if int(k.split(".")[0]) < 9},
               tmp_path / "vgg.pth")
    net = VGGFeatures("22")
    load_vgg_features(net, tmp_path / "vgg.pth")
    assert torch.equal(net.features[7].weight, features[7].weight)
    assert net(torch.zeros(1, 3, 16, 16)).shape == (1, 128, 8, 8)


def test_vgg_content_loads_the_file_at_the_start_of_a_new_run(tmp_path, vgg_file):
    _, features = vgg_file
    save_file({k: v for k, v in features.state_dict().items() if int(k.split(".")[0]) < 9},
              tmp_path / "v.safetensors")
    m = method(content="vgg", vgg_layer="22", vgg_weights=str(tmp_path / "v.safetensors"),
               pretrain_steps=0)
    m.load_initial_weights()
    assert torch.equal(m.nets["vgg"].features[0].weight, features[0].weight)
    logs = m.train_step(batch(), Ctx(m))
    assert logs["content"] > 0


@pytest.mark.parametrize(("write", "needle"), [
    (None, "not found"),
    (lambda p: save_file({"conv.weight": torch.zeros(1)}, p), "no features.0.weight"),
    (lambda p: save_file({"0.weight": torch.zeros(64, 3, 1, 1), "0.bias": torch.zeros(64),
                          "2.weight": torch.zeros(64, 64, 3, 3), "2.bias": torch.zeros(64),
                          "5.weight": torch.zeros(128, 64, 3, 3), "5.bias": torch.zeros(128),
                          "7.weight": torch.zeros(128, 128, 3, 3), "7.bias": torch.zeros(128)},
                         p), "shape"),
    (lambda p: p.write_bytes(b"not a safetensors file"), "cannot read"),
])
def test_vgg_file_errors_are_one_line(tmp_path, write, needle):
    path = tmp_path / "vgg.safetensors"
    if write is not None:
        write(path)
    with pytest.raises(CheckpointError, match=needle) as err:
        load_vgg_features(VGGFeatures("22"), path)
    assert "\n" not in str(err.value)


def test_vgg_pth_with_a_pickled_object_is_refused(tmp_path):
    path = tmp_path / "model.pth"
    path.write_bytes(pickle.dumps(Ctx(None), protocol=2))
    with pytest.raises(CheckpointError, match="cannot read"):
        load_vgg_features(VGGFeatures("22"), path)


# ----- the SRResNet -> SRGAN protocol ---------------------------------------------------------
def test_srgan_run_starts_from_an_srresnet_run(tmp_path):
    """`genlab train --init-from SRRESNET_RUN` (genlab.train(cfg, init_from=...)): the SRGAN run
    begins with the SRResNet's (averaged) generator and goes straight to the adversarial phase."""
    import json

    import genlab
    from conftest import tiny
    from genlab.runs.config import load_config
    from genlab.runs.pretrained import run_weights
    from genlab.runs.train import build_trainer

    def cfg(name, *extra):
        return load_config(None, tiny(tmp_path, "train.steps=2", "train.ckpt_every=0",
                                      "train.sample_every=0", "train.tensorboard=false",
                                      f"name={name}", *extra, method="srgan"))

    srresnet = genlab.train(cfg("srresnet", "method.adv_weight=0"), show_progress=False).run_dir
    source = run_weights(srresnet)
    trainer = build_trainer(cfg("srgan", "method.pretrain_steps=0"), init_from=srresnet,
                            show_progress=False)
    g = trainer.method.nets["G"].state_dict()
    assert all(torch.equal(v, source[f"G.{k}"]) for k, v in g.items())
    report = json.loads((trainer.run_dir / "init_from.json").read_text())
    assert {f"G.{k}" for k in g} <= set(report["loaded"]) and not report["new"]
    trainer.run()
    logged = [json.loads(line) for line in (trainer.run_dir / "metrics.jsonl").open()]
    assert any("loss_d" in row for row in logged)


@pytest.mark.parametrize(("extra", "needle"), [
    (["method.content=vgg"], "method.vgg_weights"),
    (["method.content=vgg", "method.vgg_weights=/nowhere/vgg19.pth"], "not found"),
    (["data.pairs=grey"], "data.pairs=sr2"),
])
def test_cli_refuses_before_any_run_folder(tmp_path, capsys, extra, needle):
    from conftest import assert_one_line_error, run_cli, tiny

    sets = [a for item in tiny(tmp_path, *extra, method="srgan") for a in ("--set", item)]
    code, _, err = run_cli(["train", "srgan-fashion", *sets], capsys)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "runs").exists()

"""ProGAN: the growth schedule, the equalised layers, minibatch stddev, the nets at every level
and fade-in, and a resume in the middle of a fade-in (bit-identical to an unbroken run)."""

import math

import pytest
import torch
from safetensors.torch import load_file

import genlab
from conftest import ROOT, assert_one_line_error, run_cli, tiny
from conftest import UpdateRecorder as Ctx
from genlab.engine.checkpoint import find_checkpoint
from genlab.engine.tracking import METRICS, read_metrics
from genlab.errors import ConfigError
from genlab.methods.base import DataInfo
from genlab.methods.progan import ProGAN, ProGANConfig
from genlab.nets.equalized import (
    EqualConv2d,
    EqualLinear,
    GrowthSchedule,
    level_widths,
    levels_for,
    minibatch_stddev,
    pixel_norm,
)
from genlab.nets.progan import ProGANDiscriminator, ProGANGenerator
from genlab.runs.config import load_config
from genlab.runs.train import resume_config


# ----- layers -------------------------------------------------------------------------------
def test_schedule_by_hand():
    s = GrowthSchedule(levels=2, fade=10, stable=4)
    # 4 images at 4x4, level 1 fades over 10, stable 4, level 2 fades over 10, then for ever
    expected = {0: (0, 1.0), 3: (0, 1.0), 4: (1, 0.0), 9: (1, 0.5), 14: (1, 1.0), 17: (1, 1.0),
                18: (2, 0.0), 23: (2, 0.5), 28: (2, 1.0), 10**6: (2, 1.0)}
    for images, want in expected.items():
        assert s.at(images) == want, images
    assert s.images_to_full() == 28
    assert GrowthSchedule(2, 10, 4, progressive=False).at(0) == (2, 1.0)


def test_levels_and_widths():
    assert [levels_for(s) for s in (8, 16, 32, 64)] == [1, 2, 3, 4]
    for bad in (4, 28, 48, 7):
        with pytest.raises(ValueError, match="4 x 2"):
            levels_for(bad)
    assert level_widths(3, 8, 32) == [32, 32, 16, 8]  # 4x4 first, doubling up to the cap


def test_equalised_layers_scale_weights_by_he_constant_at_run_time():
    torch.manual_seed(0)
    lin = EqualLinear(50, 3, lr_mul=0.1)
    x = torch.randn(4, 50)
    # stored weights are N(0, 1) / lr_mul; used weights are stored * sqrt(2) / sqrt(50) * lr_mul
    want = x @ (lin.weight * math.sqrt(2 / 50) * 0.1).T + lin.bias * 0.1
    torch.testing.assert_close(lin(x), want)
    assert abs(float(lin.weight.detach().std()) * 0.1 - 1) < 0.15
    conv = EqualConv2d(6, 2, 3, gain=1.0)
    img = torch.randn(1, 6, 5, 5)
    want = torch.nn.functional.conv2d(img, conv.weight / math.sqrt(54), conv.bias, padding=1)
    torch.testing.assert_close(conv(img), want)


def test_pixel_norm_and_minibatch_stddev_by_hand():
    x = torch.tensor([[[[3.0]], [[4.0]]]])  # one pixel, features (3, 4): mean square 12.5
    torch.testing.assert_close(pixel_norm(x), x / math.sqrt(12.5))
    feats = torch.arange(8 * 2 * 1 * 1, dtype=torch.float32).view(8, 2, 1, 1)
    out = minibatch_stddev(feats, group=4)
    assert out.shape == (8, 3, 1, 1) and torch.equal(out[:, :2], feats)
    # group g holds examples i, i + 2, i + 4, i + 6 (reference code's layout): values 16 apart
    sd = torch.tensor([0.0, 4.0, 8.0, 12.0]).std(unbiased=False)  # both features alike
    torch.testing.assert_close(out[:, 2].flatten(), torch.full((8,), float(sd)), atol=1e-3,
                               rtol=1e-4)
    assert minibatch_stddev(torch.randn(6, 2, 2, 2), group=4).shape == (6, 3, 2, 2)  # g = 2


# ----- nets ---------------------------------------------------------------------------------
@pytest.mark.parametrize("classes", [0, 3])
def test_nets_run_at_every_level_and_fade_in_continuously(classes):
    torch.manual_seed(0)
    schedule = GrowthSchedule(levels=3, fade=100, stable=100)
    G = ProGANGenerator(8, (1, 32, 32), schedule, num_classes=classes, width=4, max_width=16)
    D = ProGANDiscriminator((1, 32, 32), num_classes=classes, width=4, max_width=16)
    z = torch.randn(4, 8)
    y = torch.arange(4) % 3 if classes else None
    for images, side in ((0, 4), (150, 8), (450, 16), (700, 32)):
        G.images_seen.fill_(images)
        level, alpha = G.level_alpha()
        out = G(z, y)
        assert out.shape == (4, 1, side, side) and 4 * 2**level == side
        assert D(out, y, level, alpha).shape == (4,)
    # alpha 0 of a fade-in draws exactly the old level's image, upsampled
    G.images_seen.fill_(100)  # level 1 at alpha 0
    assert G.level_alpha() == (1, 0.0)
    G.images_seen.fill_(99)
    low = G(z, y)
    G.images_seen.fill_(100)
    torch.testing.assert_close(G(z, y), low.repeat_interleave(2, 2).repeat_interleave(2, 3))


def test_discriminator_at_alpha_zero_sees_only_the_downsampled_image():
    torch.manual_seed(0)
    D = ProGANDiscriminator((3, 16, 16), width=4, max_width=8)
    x = torch.randn(4, 3, 16, 16)
    small = torch.nn.functional.avg_pool2d(x, 2)
    torch.testing.assert_close(D(x, None, 2, 0.0), D(small, None, 1, 1.0))


# ----- method -------------------------------------------------------------------------------
def _method(**cfg):
    torch.manual_seed(0)
    values = {"z_dim": 8, "g_width": 4, "d_width": 4, "max_width": 8, "fade_images": 8,
              "stable_images": 8, **cfg}
    return ProGAN(ProGANConfig(**values), DataInfo(1, 16, 3, ["a", "b", "c"]))


def test_train_step_counts_images_and_grows():
    m = _method()
    batch = {"image": torch.rand(4, 1, 16, 16) * 2 - 1, "label": torch.tensor([0, 1, 2, 0])}
    seen = []
    for _ in range(8):
        logs = m.train_step(batch, Ctx(m))
        seen.append((m.images_seen, int(logs["level"]), float(logs["alpha"])))
        assert all(torch.isfinite(v) for v in logs.values())
    assert seen[0] == (4, 0, 1.0) and seen[-1][0] == 32
    # the level logged is the one the step trained at: 0, 0, then level 1 fading in...
    assert [s[1] for s in seen] == [0, 0, 1, 1, 1, 1, 2, 2]
    assert [s[2] for s in seen][2:4] == [0.0, 0.5]
    assert m.decode(torch.randn(2, 8)).shape == (2, 1, 16, 16)  # always the data's side


def test_fixed_size_control_starts_at_full_size():
    m = _method(progressive=False)
    assert m.level_alpha == (2, 1.0) and m.resolution == 16


def test_real_images_fade_like_the_generator():
    m = _method()
    x = torch.rand(2, 1, 16, 16)
    half = torch.nn.functional.avg_pool2d(x, 2)
    torch.testing.assert_close(m.real_at_level(x, 1, 1.0), half)
    blocky = torch.nn.functional.avg_pool2d(half, 2).repeat_interleave(2, 2).repeat_interleave(2, 3)
    torch.testing.assert_close(m.real_at_level(x, 1, 0.25), 0.75 * blocky + 0.25 * half)


@pytest.mark.parametrize("size", [28, 12])
def test_sides_that_do_not_grow_from_4x4_are_refused(size):
    with pytest.raises(ConfigError, match="data.pad=2"):
        ProGAN(ProGANConfig(), DataInfo(1, size))
    with pytest.raises(ConfigError, match="two classes"):
        ProGAN(ProGANConfig(conditional=True), DataInfo(1, 16))


def test_cli_refuses_28_px_data_in_one_line(tmp_path, capsys):
    code, _, err = run_cli(["train", "progan-fashion", "--set", "data.pad=0", "--set",
                            f"train.out_dir={tmp_path}", "--steps", "1"], capsys)
    assert_one_line_error(code, err, "28 px", "data.pad=2")


# ----- resume in the middle of a fade-in --------------------------------------------------
def _run(tmp_path, steps, name):
    # batch 16: 8 images at 4x4, then level 1 fades in over images 8..56 (alpha 0.5 at 32)
    cfg = load_config(None, tiny(tmp_path, f"train.steps={steps}", "train.ckpt_every=2",
                                 "train.sample_every=0", "train.tensorboard=false",
                                 "method.fade_images=48", "method.stable_images=8",
                                 f"name={name}", method="progan"))
    return genlab.train(cfg, show_progress=False).run_dir


def test_resume_in_the_middle_of_a_fade_in_is_bit_identical(tmp_path):
    full = _run(tmp_path, 4, "full")
    half = _run(tmp_path, 2, "half")
    ckpt = find_checkpoint(half)
    assert int(load_file(ckpt / "weights.safetensors")["nets.G.images_seen"]) == 32
    logs = [r for r in read_metrics(half / METRICS) if "alpha" in r]
    assert [(r["level"], round(r["alpha"], 6)) for r in logs] == [(0.0, 1.0), (1.0, 0.166667)]
    run = genlab.load_run(half)
    assert run.method.level_alpha == (1, 0.5)  # mid fade-in, carried by the weights
    genlab.train(resume_config(half, None, ["train.steps=4"]), resume=half, show_progress=False)
    a = load_file(find_checkpoint(full) / "weights.safetensors")
    b = load_file(find_checkpoint(half) / "weights.safetensors")
    assert a.keys() == b.keys() and int(b["nets.G.images_seen"]) == 64
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_presets_exist_for_both_tasks():
    for preset in ("progan-fashion", "progan-shapes"):
        cfg = load_config(ROOT / "configs" / f"{preset}.yaml", [])
        assert cfg.method.name == "progan" and cfg.method.progressive

"""benchmarks/mfu.py: its FLOP count (torch's formulas without FlopCounterMode's module hooks,
so a double backward, WGAN-GP's gradient penalty, can be counted), its rows (one per trainable
method), where ProGAN's rows measure, and the prerequisite runs latent diffusion needs."""

import importlib.util

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from conftest import ROOT, tiny

spec = importlib.util.spec_from_file_location("mfu", ROOT / "benchmarks" / "mfu.py")
mfu = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mfu)


def test_a_linear_layer_forward_and_backward_by_hand():
    layer, x = nn.Linear(32, 64), torch.randn(8, 32, requires_grad=True)
    with mfu.FlopCount() as count:
        layer(x).sum().backward()
    # forward x @ W^T, backward grad @ W (for x) and grad^T @ x (for W): 2 * 8 * 32 * 64 each
    assert count.total == 3 * 2 * 8 * 32 * 64


def test_a_conv_net_counts_what_flop_counter_mode_counts():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 3, stride=2))
    x = torch.randn(2, 3, 16, 16)
    with FlopCounterMode(display=False) as reference:
        net(x).sum().backward()
    with mfu.FlopCount() as count:
        net(x).sum().backward()
    assert count.total == reference.get_total_flops() > 0


def test_a_gradient_penalty_double_backward_is_counted():
    net = nn.Linear(16, 1)
    x = torch.randn(4, 16, requires_grad=True)
    with mfu.FlopCount() as count:
        (grad,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)
        ((grad.norm(dim=1) - 1) ** 2).mean().backward()
    assert count.total >= 2 * 4 * 16  # at least the forward matmul; and no error


def test_every_trainable_method_has_a_row():
    from genlab.config import read_yaml
    from genlab.methods.registry import METHODS

    measured = {read_yaml(ROOT / "configs" / f"{row.preset}.yaml")["method"]["name"]
                for row in mfu.ROWS.values()}
    assert measured == set(METHODS)


def _tiny_progan(tmp_path, *extra):
    """The ProGAN rows' overrides on tiny shapes at 16 x 16 (two levels above 4 x 4)."""
    return mfu.Row("progan-shapes", (*tiny(tmp_path, method="progan"), *extra))


def test_progan_rows_measure_4x4_and_the_full_size_at_alpha_1(tmp_path):
    at_start = mfu.measure(_tiny_progan(tmp_path, "method.stable_images=1000"), steps=1)
    full = mfu.measure(_tiny_progan(tmp_path, *mfu.ROWS["progan-fashion-full"].overrides), 1)
    assert at_start[3] == "4x4, alpha 1" and full[3] == "16x16, alpha 1"
    assert full[1] > at_start[1] > 0  # the full-size step costs more FLOPs


def test_timed_steps_that_leave_their_level_are_refused(tmp_path):
    # 16 images a step: 4x4 through warm-up (48 < 60 images), fading to 8x8 by step 6 (96)
    row = _tiny_progan(tmp_path, "method.stable_images=60", "method.fade_images=100")
    with pytest.raises(SystemExit, match="4x4, alpha 1.*8x8, alpha 0.36"):
        mfu.measure(row, steps=2)


def test_a_row_trains_the_runs_it_needs_first(tmp_path):
    """Latent diffusion's row trains a VAE run and names it in method.vae_run."""
    vae = mfu.Need("vae_run", "vae-latent", (*tiny(tmp_path, method="vae"),
                                              "method.downsamples=1"))
    row = mfu.Row("ldm", tuple(tiny(tmp_path, method="ldm")), needs=(vae,))
    needs = mfu.train_needs(row, tmp_path / "needs")
    assert list(needs) == ["vae_run"] and (needs["vae_run"] / "run.json").exists()
    cfg = mfu.row_config(row, tmp_path / "out", needs)
    assert cfg.method.vae_run == str(needs["vae_run"])
    precision, flops, rate, at = mfu.measure(row, steps=1)
    assert precision == "fp32" and flops > 0 and rate > 0 and at == "-"

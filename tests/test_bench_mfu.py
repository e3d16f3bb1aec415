"""benchmarks/mfu.py's FLOP count: torch's formulas without FlopCounterMode's module hooks,
so a double backward (WGAN-GP's gradient penalty) can be counted."""

import importlib.util

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from conftest import ROOT

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

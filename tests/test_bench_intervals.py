"""Claims decided from standard errors (bootstrap FID, binomial proportions): hand-worked
z-tests and intervals, and the diffusion page stating a verdict per claim from them."""

import math

import pytest

from genlab.bench.diffusion_page import write_diffusion_page
from genlab.bench.intervals import Z, differ, interval, proportion_se, ratio_at_most
from genlab.bench.verdicts import NOT_RESOLVED


def test_z_and_proportion_by_hand():
    assert Z == pytest.approx(1.959964, abs=1e-6)
    assert proportion_se(0.5, 100) == pytest.approx(0.05)
    assert proportion_se(1.0, 50) == 0.0
    assert interval(10.0, 1.0) == "10 ± 2"


def test_differ_by_hand():
    # 10 vs 7, each with standard error 1: z = 3 / sqrt(2) = 2.1213, p = 0.0339 (two-sided)
    above = differ((10.0, 1.0), (7.0, 1.0), lower=False, text="a above b")
    assert above.holds is True and "z = 2.12" in above.text and "p = 0.034" in above.text
    assert differ((10.0, 1.0), (7.0, 1.0), lower=True, text="a below b").holds is False
    # 10 vs 8: z = 1.414, p = 0.157: not resolved either way
    assert differ((10.0, 1.0), (8.0, 1.0), lower=False, text="x").holds is None
    assert differ((1.0, 0.0), (1.0, 0.0), lower=True, text="x").holds is None


def test_ratio_bound_three_ways():
    # 1.0 / 1.0 with 1% errors: interval 1 -/+ 1.96 * sqrt(2) * 0.01 = 0.972 .. 1.028
    inside = ratio_at_most((1.0, 0.01), (1.0, 0.01), 1.2, text="r")
    assert inside.holds is True and "0.972 to 1.028" in inside.text
    assert ratio_at_most((1.5, 0.01), (1.0, 0.01), 1.2, text="r").holds is False
    assert ratio_at_most((1.2, 0.1), (1.0, 0.01), 1.2, text="r").holds is None


def _row(sampler, steps, fid, se, seconds, **extra):
    return {"sampler": sampler, "steps": steps, "fid": fid, "fid_se": se, "kid": 0.1,
            "precision": 0.7, "recall": 0.6, "coverage": 0.5, "seconds_per_image": seconds,
            "n": 2000, "fid_draws": 200, "batch": 250, **extra}


def test_diffusion_page_decides_each_claim(tmp_path):
    samplers = {"ddpm-1000": _row("ddpm", 1000, 5.0, 0.1, 5.0),
                "ddim-10": _row("ddim", 10, 8.0, 0.1, 0.05),
                "ddim-20": _row("ddim", 20, 5.2, 0.1, 0.1),
                "ddim-50": _row("ddim", 50, 5.1, 0.1, 0.25)}
    checks = {20: _row("ddim", 20, 5.25, 0.1, 0.13, unet_precision="bf16")}
    guidance = {1.0: _row("ddim", 50, 5.1, 0.1, 0.25, cond_acc=0.80),
                3.0: _row("ddim", 50, 5.0, 0.1, 0.5, cond_acc=0.90),
                5.0: _row("ddim", 50, 5.15, 0.1, 0.5, cond_acc=0.91)}
    protocol = {"minutes": 10, "n": 2000, "n_real": 2000, "floor": {"fid": 0.5}}
    page = write_diffusion_page(tmp_path, data="toy", protocol=protocol, samplers=samplers,
                                guidance=guidance, full="ddpm-1000", checks=checks).read_text()
    lines = {line.split("*")[1]: line for line in page.splitlines() if line.startswith("- *")}
    speed = next(v for k, v in lines.items() if k.startswith("DDIM with 20 steps"))
    # ratio 1.04 +- 1.96 * 1.04 * sqrt(2) * 0.02 = 0.98 .. 1.10 <= 1.2; 50x less time
    assert speed.endswith("**supported**.") and "50x less CPU time" in speed
    trend = next(v for k, v in lines.items() if k.startswith("The paper's trend"))
    assert trend.endswith("**supported**.")  # 8.0 -> 5.2 -> 5.1: falls, never rises
    bf = next(v for k, v in lines.items() if k.startswith("The UNet's precision"))
    assert "no difference resolved at this n at any step count" in bf and "0.77x" in bf
    acc = next(v for k, v in lines.items() if k.startswith("Guidance scale 3"))
    # 0.9 vs 0.8 at n = 2000: z = 0.1 / sqrt(0.09/2000 + 0.16/2000) = 8.9
    assert acc.endswith("**supported**.")
    cost = next(v for k, v in lines.items() if k.startswith("Past some scale"))
    assert cost.endswith(f"**{NOT_RESOLVED}**.")  # 5.15 vs 5.0 with errors 0.1
    assert "| ddim | 20 | bf16 | 5.250 ± 0.196 |" in page
    assert f"| 3 | 0.9 ± {Z * math.sqrt(0.09 / 2000):.2g} |" in page

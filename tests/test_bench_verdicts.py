"""`bench.verdicts`' exact tests for shares of hits: the two-sided binomial test against a known
rate and the exact McNemar test between two approaches scored on the same items, against
hand-worked probabilities and scipy; and the claim line."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from genlab.bench.verdicts import (
    NOT_RESOLVED,
    Part,
    binomial_p,
    claim_line,
    compare_hits_paired,
    compare_rate,
)


def test_binomial_p_against_hand_worked_probabilities() -> None:
    # n = 3 at 1/2: P = 1/8, 3/8, 3/8, 1/8; k = 0 is as unlikely as k = 3 only
    assert binomial_p(0, 3, 0.5) == pytest.approx(0.25)
    assert binomial_p(1, 3, 0.5) == pytest.approx(1.0)
    assert binomial_p(10, 10, 0.5) == pytest.approx(2 / 1024)
    # n = 4 at 1/4: P = 81, 108, 54, 12, 1 (/256); an asymmetric case
    assert binomial_p(3, 4, 0.25) == pytest.approx(13 / 256)  # 12 + 1
    assert binomial_p(2, 4, 0.25) == pytest.approx(67 / 256)  # 54 + 12 + 1
    assert binomial_p(1, 4, 0.25) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="hits out of"):
        binomial_p(5, 4, 0.25)


@pytest.mark.parametrize(("k", "n", "rate"), [(21, 50, 1 / 3), (9, 50, 1 / 9), (33, 50, 0.5),
                                              (41, 50, 1 / 6), (0, 30, 0.5), (7, 12, 0.3)])
def test_binomial_p_matches_scipy(k: int, n: int, rate: float) -> None:
    assert binomial_p(k, n, rate) == pytest.approx(binomtest(k, n, rate).pvalue, rel=1e-9)


def test_compare_rate_decides_above_below_or_not_resolved() -> None:
    above = compare_rate([True] * 41 + [False] * 9, 1 / 6, lower=False, text="colour")
    assert above.holds is True and above.text.startswith("colour (41/50, exact binomial p = ")
    near = compare_rate([True] * 21 + [False] * 29, 1 / 3, lower=False, text="shape")
    assert near.holds is None  # p = 0.23: n = 50 cannot tell 0.42 from 1/3
    below = compare_rate([False] * 30, 0.5, lower=False, text="size")
    assert below.holds is False and "p = 1.9e-09" in below.text  # 2 / 2^30
    assert compare_rate([False] * 30, 0.5, lower=True, text="size").holds is True
    assert compare_rate([], 0.5, lower=False, text="size").holds is None


def test_mcnemar_counts_only_the_items_one_side_got_right() -> None:
    best = [True] * 50
    runner_up = [False] * 9 + [True] * 41
    part = compare_hits_paired(best, runner_up, text="LDM vs VQGAN", unit="prompts")
    assert part.holds is True  # 9 against 0 discordant: p = 2 / 2^9
    assert part.text == ("LDM vs VQGAN (9 of 50 prompts right only for the first, 0 only for "
                         "the second: exact McNemar p = 0.0039)")
    assert compare_hits_paired(runner_up, best, text="").holds is False
    # 3 against 2 discordant pairs, however many agree: not resolved
    a = [True, True, True, False, False] + [True] * 95
    b = [False, False, False, True, True] + [True] * 95
    assert compare_hits_paired(a, b, text="").holds is None
    same = compare_hits_paired(b, b, text="")
    assert same.holds is None and "p = 1)" in same.text
    assert compare_hits_paired(a, b[:-1], text="x").text == "x: not measured"


def test_claim_line_states_the_conditions_then_the_verdict() -> None:
    line = claim_line("A beats B", [Part(True, "fid a < b"), Part(None, "kid a < b")], "; note")
    assert line == f"- *A beats B* (fid a < b; kid a < b; note): **{NOT_RESOLVED}**."
    assert claim_line("A", [Part(True, "x")]).endswith("**supported**.")
    assert claim_line("A", [Part(True, "x"), Part(False, "y")]).endswith("**refuted**.")

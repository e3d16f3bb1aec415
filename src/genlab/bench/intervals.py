"""Claims decided from one measurement each with a standard error (a bootstrap over samples,
a binomial proportion), where there are no seeds to test over: normal 95% intervals and
z-tests at verdicts.ALPHA, answered as verdicts' `Part`s."""

from __future__ import annotations

import math

from scipy.stats import norm

from genlab.bench.verdicts import ALPHA, Part, fmt

Z = float(norm.ppf(1 - ALPHA / 2))  # 1.96: half-width of a 95% interval in standard errors


def interval(value: float, se: float) -> str:
    """"v ± h": the estimate and its 95% half-width."""
    return f"{fmt(value)} ± {Z * se:.2g}"


def proportion_se(p: float, n: int) -> float:
    """Binomial standard error of a proportion p measured on n items."""
    return math.sqrt(max(p * (1 - p), 0.0) / n)


def differ(a: tuple[float, float], b: tuple[float, float], *, lower: bool, text: str) -> Part:
    """Is estimate a below (lower=True) or above b? a and b are (value, standard error) of
    independent measurements; a two-sided z-test of the difference at ALPHA: significant the
    right way holds, the other way fails, else undecided."""
    diff, se = a[0] - b[0], math.hypot(a[1], b[1])
    if se == 0:
        holds = None if diff == 0 else (diff < 0) == lower
        return Part(holds, f"{text} (difference {fmt(diff)}, no spread)")
    z = diff / se
    p = float(2 * norm.sf(abs(z)))
    holds = None if p >= ALPHA else (z < 0) == lower
    return Part(holds, f"{text} (difference {fmt(diff)} ± {Z * se:.2g}, z = {z:.2f}, "
                       f"p = {p:.2g})")


def ratio_at_most(a: tuple[float, float], b: tuple[float, float], bound: float, *,
                  text: str) -> Part:
    """Is a / b at most `bound`? The ratio's 95% interval by the delta method (a and b
    independent): wholly at or below the bound holds, wholly above fails, else undecided."""
    ratio = a[0] / b[0]
    se = ratio * math.hypot(a[1] / a[0], b[1] / b[0])
    low, high = ratio - Z * se, ratio + Z * se
    holds = True if high <= bound else False if low > bound else None
    return Part(holds, f"{text}: {ratio:.3f} (95% interval {low:.3f} to {high:.3f}) against "
                       f"at most {bound:g}")

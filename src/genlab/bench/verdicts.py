"""How a results page decides a claim: mean ± std over seeds, Welch's t-test at ALPHA, exact
tests for shares of hits out of n items (binomial against a known rate, McNemar between two
approaches scored on the same items), and a verdict from the measured conditions (shared by
the benchmarks that judge claims)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from scipy.stats import t as student_t

ALPHA = 0.05  # two-sided level of every test
NOT_RESOLVED = "not resolved at this n"


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of the values that are
    numbers: a NaN (nothing to measure, e.g. no pair counted) is left out."""
    values = [v for v in values if not math.isnan(v)]
    if len(values) < 2:
        return (values[0] if values else math.nan), 0.0
    return statistics.fmean(values), statistics.stdev(values)


def welch(a: list[float], b: list[float] | float) -> tuple[float, float, float] | None:
    """Welch's t-test of mean(a) - mean(b): (t, degrees of freedom, two-sided p). `b` may be a
    constant (then a one-sample t-test). None when a sample has fewer than 2 values."""
    if len(a) < 2 or (isinstance(b, list) and len(b) < 2):
        return None
    ma, va = statistics.fmean(a), statistics.variance(a) / len(a)
    if isinstance(b, list):
        mb, vb, nb = statistics.fmean(b), statistics.variance(b) / len(b), len(b)
    else:
        mb, vb, nb = float(b), 0.0, 2  # nb unused when vb = 0
    se2, diff = va + vb, ma - mb
    if se2 == 0:  # no spread on either side: any difference is exact
        return (0.0 if diff == 0 else math.copysign(math.inf, diff)), math.inf, \
            (1.0 if diff == 0 else 0.0)
    df = se2**2 / ((va**2 / (len(a) - 1) if va else 0.0) + (vb**2 / (nb - 1) if vb else 0.0))
    t = diff / math.sqrt(se2)
    return t, df, float(2 * student_t.sf(abs(t), df))


def fmt(x: float) -> str:
    """A number for a sentence: 3 significant digits, whole numbers from 1000 up."""
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def cell(values: list[float]) -> str:
    """A table cell: mean ± std over seeds, then the per-seed values ("-": none)."""
    if not values:
        return "-"
    mean, std = mean_std(values)
    if len(values) == 1:
        return fmt(mean)
    return f"{fmt(mean)} ± {std:.2g} ({', '.join(fmt(v) for v in values)})"


@dataclass
class Part:
    """One measured condition of a claim: holds (True), fails (False) or undecided (None)."""

    holds: bool | None
    text: str


def compare(a: list[float], b: list[float] | float, *, lower: bool, text: str) -> Part:
    """Is sample a below (lower=True) or above sample (or constant) b, by Welch's test at
    ALPHA? Significant the other way: fails; not significant or one seed: undecided."""
    if not a or (isinstance(b, list) and not b):
        return Part(None, f"{text}: not measured")
    test = welch(a, b)
    if test is None:
        return Part(None, f"{text} (one seed: no test)")
    t, df, p = test
    holds = None if p >= ALPHA else (t < 0) == lower
    return Part(holds, f"{text} (Welch t = {fmt(t)}, df = {fmt(df)}, p = {p:.2g})")


def compare_paired(a: list[float], b: list[float], *, lower: bool, text: str) -> Part:
    """Is a below (lower=True) or above b, where a[i] and b[i] were measured on the same run
    (seed i): a paired t-test on the differences at ALPHA (the seeds' own spread cancels)."""
    if not a or len(a) != len(b):
        return Part(None, f"{text}: not measured")
    test = welch([x - y for x, y in zip(a, b, strict=True)], 0.0)
    if test is None:
        return Part(None, f"{text} (one seed: no test)")
    t, df, p = test
    holds = None if p >= ALPHA else (t < 0) == lower
    return Part(holds, f"{text} (paired t = {fmt(t)}, df = {fmt(df)}, p = {p:.2g})")


def verdict(parts: list[Part]) -> str:
    """supported when every part holds, refuted when any fails, else not resolved."""
    if any(p.holds is False for p in parts):
        return "refuted"
    return "supported" if all(p.holds for p in parts) else NOT_RESOLVED


def claim_line(claim: str, parts: list[Part], extra: str = "") -> str:
    """One claim of a page's "What the numbers say": its measured conditions, then the verdict."""
    return f"- *{claim}* ({'; '.join(p.text for p in parts)}{extra}): **{verdict(parts)}**."


# --- proportions: counts of hits out of n items (prompts, scenes), decided exactly ----------

def binomial_p(k: int, n: int, rate: float) -> float:
    """Exact two-sided binomial test of k hits in n at `rate`: the total probability of every
    count no more likely than k (the same rule as scipy.stats.binomtest)."""
    if not 0 <= k <= n:
        raise ValueError(f"{k} hits out of {n}")
    probs = [math.comb(n, i) * rate**i * (1 - rate) ** (n - i) for i in range(n + 1)]
    cut = probs[k] * (1 + 1e-7)  # equal probabilities up to rounding count as as likely
    return min(1.0, sum(q for q in probs if q <= cut))


def compare_rate(hits: list[bool], rate: float, *, lower: bool, text: str) -> Part:
    """Is the share of hits below (lower=True) or above a known rate (e.g. chance), by the
    exact binomial test at ALPHA? Significant the other way: fails; else undecided."""
    if not hits:
        return Part(None, f"{text}: not measured")
    k, n = sum(hits), len(hits)
    p = binomial_p(k, n, rate)
    holds = None if p >= ALPHA else (k / n < rate) == lower
    return Part(holds, f"{text} ({k}/{n}, exact binomial p = {p:.2g})")


def compare_hits_paired(a: list[bool], b: list[bool], *, text: str,
                        unit: str = "items") -> Part:
    """Is a's share of hits above b's, where a[i] and b[i] were scored on the same item (the
    same prompt)? The exact McNemar test at ALPHA: of the items only one side got right, is
    a's count more than a fair coin gives? Significant the other way: fails; else undecided."""
    if not a or len(a) != len(b):
        return Part(None, f"{text}: not measured")
    only_a = sum(x and not y for x, y in zip(a, b, strict=True))
    only_b = sum(y and not x for x, y in zip(a, b, strict=True))
    p = binomial_p(only_a, only_a + only_b, 0.5) if only_a + only_b else 1.0
    holds = None if p >= ALPHA else only_a > only_b
    return Part(holds, f"{text} ({only_a} of {len(a)} {unit} right only for the first, "
                f"{only_b} only for the second: exact McNemar p = {p:.2g})")

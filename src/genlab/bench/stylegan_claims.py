"""The measures and verdicts of `genlab bench stylegan`, as pure functions of the raw rows:
time to a target FID on a curve, the style-mixing read-back fraction, and one verdict per
claim of the ProGAN and StyleGAN papers (Welch's t-test over seeds, `bench.verdicts`)."""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

from genlab.bench.stylegan_tasks import DATA, PROGRESSIVE, VERSUS_DCGAN
from genlab.bench.verdicts import Part, claim_line, compare, compare_paired, fmt, mean_std

Results = dict[str, list[dict[str, Any]]]  # row id ("fashion-progan") -> one raw row per seed
SHAPES_CHANCE = 1 / (3 * 9 * 6)  # a random image: A's shape (1/3), position (1/9), B's colour


def time_to_target(curve: list[tuple[float, float]], target: float,
                   budget_s: float) -> tuple[float, bool]:
    """Training seconds at which an FID curve [(seconds, fid), ...] first reaches `target`,
    linearly interpolated between the points around the crossing (the first point's time when
    it is already there); a curve that never reaches it counts as the whole budget (False)."""
    points = sorted((float(s), float(f)) for s, f in curve)
    for i, (seconds, fid) in enumerate(points):
        if fid <= target:
            if i == 0:
                return seconds, True
            s0, f0 = points[i - 1]
            return s0 + (seconds - s0) * (f0 - target) / (f0 - fid), True
    return budget_s, False


def mix_fraction(mixed: dict[str, Tensor], a: dict[str, Tensor],
                 b: dict[str, Tensor]) -> dict[str, float]:
    """Of the pairs (A, B) that differ in shape or position and in colour, with an object read
    in A, B and the mix (the shapes reader's attribute dicts), the share whose mix has A's shape
    and position and B's colour ("all"), and each of the three on its own. nan: no such pair."""
    found = mixed["found"] & a["found"] & b["found"]
    counted = found & ((a["shape"] != b["shape"]) | (a["position"] != b["position"])) \
        & (a["colour"] != b["colour"])
    shape, position = mixed["shape"] == a["shape"], mixed["position"] == a["position"]
    colour = mixed["colour"] == b["colour"]
    n = int(counted.sum())
    share = (lambda hit: float((hit & counted).sum()) / n) if n else (lambda hit: math.nan)
    return {"all": share(shape & position & colour), "shape": share(shape),
            "position": share(position), "colour": share(colour), "pairs": float(n)}


def _metric(res: Results, row: str, key: str) -> list[float]:
    return [float(r["metrics"][key]) for r in res.get(row, []) if key in r.get("metrics", {})]


def _seeds(values: list[float]) -> str:
    mean, std = mean_std(values)
    if len(values) < 2:
        return fmt(mean)
    return f"{fmt(mean)} ± {std:.2g} ({', '.join(fmt(v) for v in values)})"


def _lower(res: Results, a: str, b: str, key: str, label: str) -> Part:
    """Row a's `key` below row b's (FID: better) by Welch's test."""
    va, vb = _metric(res, a, key), _metric(res, b, key)
    name = lambda r: r.split("-", 1)[1]  # noqa: E731 (the row without its data)
    text = f"{label} {name(a)} {_seeds(va) if va else '-'} vs {name(b)} {_seeds(vb) if vb else '-'}"
    return compare(va, vb, lower=True, text=text)


def progressive_target(res: Results, data: str) -> float | None:
    """The FID both growing variants on `data` are timed to: the worse (higher) of their mean
    FIDs at the end of the budget, on the curve's n (FID depends on n). None: a variant or a
    curve is missing."""
    rows = [res.get(f"{data}-{key}", []) for key in PROGRESSIVE[data]]
    if not all(rows) or not all(r.get("curve") for runs in rows for r in runs):
        return None
    return max(mean_std([float(r["curve"][-1][1]) for r in runs])[0] for runs in rows)


def progressive_claims(res: Results) -> list[str]:
    """ProGAN: progressive growing reaches the target FID sooner than the same nets trained
    at full size; and the final FID of both at the same budget."""
    lines = []
    for data, (grow, fixed) in PROGRESSIVE.items():
        a, b = f"{data}-{grow}", f"{data}-{fixed}"
        if progressive_target(res, data) is None:
            continue
        target = progressive_target(res, data)
        assert target is not None
        times, missed = {}, {}
        for row in (a, b):
            hits = [time_to_target(r["curve"], target, float(r["budget_s"])) for r in res[row]]
            times[row] = [s / 60 for s, _ in hits]
            missed[row] = sum(not reached for _, reached in hits)
        text = (f"CPU minutes to FID {fmt(target)} (the worse variant's mean FID at the end of "
                f"the budget, curve n): {grow} {_seeds(times[a])} vs {fixed} {_seeds(times[b])}")
        never = ", ".join(f"{missed[r]} {r.split('-', 1)[1]} seed(s)" for r in (a, b)
                          if missed[r])
        part = compare(times[a], times[b], lower=True, text=text)
        extra = f"; never reached, counted as the whole budget: {never}" if never else ""
        title = DATA[data][0]
        lines.append(claim_line(f"Progressive growing reaches a given FID sooner than training "
                               f"the final nets at full size ({title})", [part], extra))
        lines.append(claim_line(f"Progressive growing ends at a lower FID after the same CPU "
                               f"budget ({title})",
                               [_lower(res, a, b, "fid", "final FID")]))
    return lines


def dcgan_claims(res: Results) -> list[str]:
    """StyleGAN against DCGAN (and the conditional pair) on FID, precision and recall shown."""
    lines = []
    for style, dcgan in VERSUS_DCGAN:
        a, b = f"fashion-{style}", f"fashion-{dcgan}"
        if not res.get(a) or not res.get(b):
            continue
        others = []
        for key in ("precision", "recall"):
            va, vb = _metric(res, a, key), _metric(res, b, key)
            part = compare(va, vb, lower=False, text=f"{key} {style} {_seeds(va) if va else '-'}"
                           f" vs {dcgan} {_seeds(vb) if vb else '-'}")
            outcome = {True: f"{style} higher", False: f"{dcgan} higher",
                       None: "no significant difference"}[part.holds]
            others.append(part.text + (f": {outcome}" if min(len(va), len(vb)) > 1 else ""))
        lines.append(claim_line(f"{style} reaches a lower FID than {dcgan} in the same CPU "
                               f"minutes, same judge ({DATA['fashion'][0]})",
                               [_lower(res, a, b, "fid", "FID")],
                               "; not part of the verdict: " + "; ".join(others)))
    return lines


def _sweep(rows: list[dict[str, Any]], psi: str, key: str) -> list[float]:
    return [float(r["truncation"][psi][key]) for r in rows if psi in r.get("truncation", {})]


def _monotone(rows: list[dict[str, Any]], key: str, rising: bool) -> int:
    """Seeds whose `key` moves one way (never back) as psi shrinks."""
    count = 0
    for r in rows:
        sweep = r.get("truncation", {})
        values = [sweep[p][key] for p in sorted(sweep, key=float, reverse=True)]  # psi falling
        steps = list(zip(values, values[1:], strict=False))
        count += bool(steps) and all((y >= x) if rising else (y <= x) for x, y in steps)
    return count


def truncation_claims(res: Results) -> list[str]:
    """Truncation trades diversity for fidelity: at psi 0.5 precision above and recall below
    psi 1.0, with the per-seed trend over the whole sweep; W (StyleGAN) and z (DCGAN). Both
    psis are measured on the same run of each seed, so the test is paired."""
    lines = []
    for row, space in (("fashion-stylegan", "W (StyleGAN)"), ("fashion-dcgan", "z (DCGAN)")):
        rows = [r for r in res.get(row, []) if r.get("truncation")]
        if not rows:
            continue
        parts = []
        for key, rises in (("precision", True), ("recall", False)):
            half, full = _sweep(rows, "0.5", key), _sweep(rows, "1.0", key)
            trend = _monotone(rows, key, rises)
            parts.append(compare_paired(half, full, lower=not rises, text=(
                f"{key} at psi 0.5 {_seeds(half)} vs 1.0 {_seeds(full)}; it "
                f"{'never falls' if rises else 'never rises'} as psi shrinks over the whole "
                f"sweep in {trend} of {len(rows)} seeds")))
        lines.append(claim_line(f"Truncation in {space} raises precision and lowers recall as "
                               "psi shrinks", parts))
    return lines


def best_split(rows: list[dict[str, Any]]) -> int | None:
    """The split k (layers < k from A) with the highest mean read-back fraction."""
    splits = {int(k) for r in rows for k in r.get("mixing", {}).get("splits", {})}
    means = {k: mean_std(_split(rows, k))[0] for k in splits}
    means = {k: m for k, m in means.items() if not math.isnan(m)}
    return max(means, key=lambda k: (means[k], -k)) if means else None


def _split(rows: list[dict[str, Any]], k: int, key: str = "all") -> list[float]:
    return [float(r["mixing"]["splits"][str(k)][key]) for r in rows
            if str(k) in r.get("mixing", {}).get("splits", {})
            and not math.isnan(float(r["mixing"]["splits"][str(k)][key]))]


def mixing_claims(res: Results) -> list[str]:
    """Style mixing separates coarse from fine: the read-back fraction of the split the paper
    names (coarse styles, 4x4 and 8x8, from A; the rest from B), decided against an independent
    image's (the chance level); the best split is reported, not tested (it is chosen on the
    same numbers)."""
    rows = [r for r in res.get("shapes-stylegan", []) if r.get("mixing")]
    k = best_split(rows)
    groups = rows[0]["mixing"].get("groups", {}) if rows else {}
    if k is None or "coarse" not in groups:
        return []
    num_ws = int(rows[0]["mixing"]["num_ws"])
    coarse = int(groups["coarse"][1])
    chance = [float(r["mixing"]["baselines"]["independent"]) for r in rows
              if not math.isnan(float(r["mixing"]["baselines"]["independent"]))]
    tested = _split(rows, coarse)
    pairs = [int(r["mixing"]["splits"][str(coarse)]["pairs"]) for r in rows]
    part = compare(tested, chance, lower=False, text=(
        f"coarse styles from A (k = {coarse}: styles 0..{coarse - 1}), the rest from B: "
        f"{_seeds(tested)} of {min(pairs)}-{max(pairs)} counted pairs per seed read A's shape "
        f"and position and B's colour, vs an independent sample's {_seeds(chance)} (uniform "
        f"chance {fmt(SHAPES_CHANCE)}; k = 0 and k = {num_ws} give 0 by construction)"))
    named = [f"{name} ({k_named}): {_seeds(_split(rows, k_named))}"
             for name, k_named in named_splits(groups) if k_named != coarse]
    extra = f"; the best split, chosen on these same numbers, is k = {k}: {_seeds(_split(rows, k))}"
    extra += ("; other named splits: " + "; ".join(named)) if named else ""
    return [claim_line("Style mixing separates coarse from fine: coarse styles from A and fine "
                      "from B give A's shape and position in B's colour", [part], extra)]


def named_splits(groups: dict[str, list[int]]) -> list[tuple[str, int]]:
    """The splits of StyleGAN's groups: coarse from A / the rest from B, and coarse + middle
    from A / fine from B."""
    coarse_end = int(groups["coarse"][1]) if "coarse" in groups else None
    fine_start = int(groups["fine"][0]) if "fine" in groups else None
    if coarse_end is not None and coarse_end == fine_start:  # no middle layers
        return [("coarse from A, fine from B", coarse_end)]
    out = []
    if coarse_end is not None:
        out.append(("coarse from A, middle + fine from B", coarse_end))
    if fine_start is not None:
        out.append(("coarse + middle from A, fine from B", fine_start))
    return out


def mixing_regularisation_claims(res: Results) -> list[str]:
    if not res.get("fashion-stylegan") or not res.get("fashion-stylegan-nomix"):
        return []
    return [claim_line("Style-mixing regularisation (mixing_prob 0.9) lowers FID against none "
                      "(StyleGAN's Table 2 direction)",
                      [_lower(res, "fashion-stylegan", "fashion-stylegan-nomix", "fid", "FID")])]


def all_claims(res: Results) -> list[str]:
    """Every verdict line, in the order of the issue's claims."""
    return [*progressive_claims(res), *dcgan_claims(res), *truncation_claims(res),
            *mixing_claims(res), *mixing_regularisation_claims(res)]

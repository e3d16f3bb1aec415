"""The results page of `genlab bench stylegan`: per-data tables over seeds, FID-vs-time plots,
sample, style-mixing and noise grids, the truncation sweep, the style-mixing measure, and a
verdict on each claim (`stylegan_claims`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from genlab.bench.stylegan_claims import (  # noqa: E402
    Results,
    all_claims,
    best_split,
    named_splits,
    progressive_target,
)
from genlab.bench.stylegan_tasks import DATA, PROGRESSIVE, PSIS, ROWS  # noqa: E402
from genlab.bench.verdicts import ALPHA, NOT_RESOLVED, cell, fmt, mean_std  # noqa: E402
from genlab.files import write_text  # noqa: E402

TABLE = (("fid", "FID"), ("kid", "KID"), ("precision", "precision"), ("recall", "recall"),
         ("coverage", "coverage"), ("class_kl", "class KL"))
MIX_KEYS = (("all", "all three"), ("shape", "shape of A"), ("position", "position of A"),
            ("colour", "colour of B"))


def _values(rows: list[dict[str, Any]], key: str) -> list[float]:
    return [float(r["metrics"][key]) for r in rows if key in r.get("metrics", {})]


def _command(protocol: dict[str, Any], page: Path) -> str:
    if protocol.get("quick"):
        flags = " --quick"
    else:
        flags = (f" --minutes {protocol['minutes']:g} --seeds {protocol['seeds']} --n "
                 f"{protocol['n']} --workers {protocol.get('workers', 1)}")
    return f"genlab bench stylegan{flags} --out {protocol.get('out', page)}"


def _budget(results: Results, protocol: dict[str, Any]) -> str:
    runs = [r for rows in results.values() for r in rows]
    train = sum(float(r.get("train_seconds", 0)) for r in runs) / 60
    ev = sum(float(r.get("eval_seconds", 0)) for r in runs) / 60
    planned = len(ROWS) * protocol["seeds"]
    return (f"Budget: {protocol['minutes']:g} CPU-minutes of training per run "
            f"(`train.budget_clock=cpu`: CPU time of the run's process, so work sharing the "
            f"machine takes nothing from a run); {len(ROWS)} rows x {protocol['seeds']} seeds = "
            f"{planned} runs, {planned * protocol['minutes']:g} CPU-minutes of training in all. "
            f"Measured: {len(runs)} runs, {train:.1f} CPU-min of training + {ev:.1f} CPU-min of "
            f"final measures (FID curves, evaluations, sweeps); runs trained "
            f"{protocol.get('workers', 1)} at a time, {protocol.get('threads_per_run')} "
            "thread(s) each.")


def _table(results: Results, data: str, protocol: dict[str, Any]) -> list[str]:
    rows = [r for r in ROWS if r.data == data]
    lines = ["| row | config | seeds | " + " | ".join(label for _, label in TABLE) +
             " | steps | images/s | side reached |",
             "|---|---|---|" + "---|" * (len(TABLE) + 3)]
    for row in rows:
        runs = results.get(row.id, [])
        sides = sorted({int(r["growth"]["resolution"]) for r in runs
                        if "resolution" in r.get("growth", {})})
        config = f"`{row.preset}`" + "".join(f" `{o}`" for o in row.overrides)
        lines.append(f"| {row.key} | {config} | {len(runs)} | " +
                     " | ".join(cell(_values(runs, k)) for k, _ in TABLE) + " | " +
                     cell([float(r["steps"]) for r in runs]) + " | " +
                     cell([float(r["images_per_s"]) for r in runs]) + " | " +
                     (", ".join(f"{s} px" for s in sides) or "-") + " |")
    floor = protocol.get("floors", {}).get(data, {})
    lines.append("| real vs real (floor) | test vs train split | - | " +
                 " | ".join(fmt(floor[k]) if k in floor else "-" for k, _ in TABLE) +
                 " | - | - | - |")
    return lines


def _plot_curves(results: Results, data: str, path: Path) -> bool:
    """FID against CPU minutes of every run with a curve on `data` (colour per row)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    drawn = False
    for i, row in enumerate(r for r in ROWS if r.data == data and r.curve):
        for j, run in enumerate(results.get(row.id, [])):
            points = run.get("curve") or []
            if points:
                ax.plot([p[0] / 60 for p in points], [p[1] for p in points], marker=".",
                        color=f"C{i}", alpha=0.9, label=row.key if j == 0 else None)
                drawn = True
    target = progressive_target(results, data) if data in PROGRESSIVE else None
    if target is not None:
        ax.axhline(target, color="grey", linestyle="--", linewidth=1, label="target FID")
    if drawn:
        ax.set_xlabel("training CPU-minutes")
        ax.set_ylabel("FID (judge, curve n)")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=90)
    plt.close(fig)
    return drawn


def _truncation(results: Results) -> list[str]:
    lines = []
    for row_id, space in (("fashion-stylegan", "StyleGAN, in W toward w_avg"),
                          ("fashion-dcgan", "DCGAN, in z (z * psi)")):
        rows = [r for r in results.get(row_id, []) if r.get("truncation")]
        if not rows:
            continue
        lines += [f"{space}, {len(rows)} seed(s):", "", "| psi | FID | precision | recall |",
                  "|---|---|---|---|"]
        for psi in PSIS:
            lines.append(f"| {psi} | " + " | ".join(
                cell([float(r["truncation"][str(psi)][k]) for r in rows
                      if str(psi) in r["truncation"]]) for k in ("fid", "precision", "recall"))
                + " |")
        lines.append("")
    return lines or ["Not measured yet.", ""]


def _mixing(results: Results, assets: str) -> list[str]:
    rows = [r for r in results.get("shapes-stylegan", []) if r.get("mixing")]
    if not rows:
        return ["Not measured yet.", ""]
    num_ws = int(rows[0]["mixing"]["num_ws"])
    groups = rows[0]["mixing"].get("groups", {})
    best = best_split(rows)
    named = named_splits(groups)
    lines = [f"Pairs (A, B) of independent latents (seed-specific, {rows[0]['mixing']['pairs']} "
             f"per seed); split k: styles 0..k-1 (the coarse, low-resolution layers) from A, "
             f"k..{num_ws - 1} from B. Counted: the pairs where A and B differ in shape or "
             "position and in colour, with an object read in A, B and the mix. Cells: the "
             "share of counted pairs whose mix reads as said (mean ± std (per seed)). "
             "Groups: " + ", ".join(f"{g} = styles {a}..{b - 1}" for g, (a, b) in
                                    groups.items() if b > a) + ".", "",
             "| k | " + " | ".join(label for _, label in MIX_KEYS) + " | counted pairs |",
             "|---|" + "---|" * (len(MIX_KEYS) + 1)]
    for k in range(1, num_ws):
        def values(key: str, k: int = k) -> list[float]:
            return [v for r in rows if not math.isnan(
                v := float(r["mixing"]["splits"][str(k)][key]))]
        marks = [name for name, at in named if at == k] + (["best"] if k == best else [])
        mark = f" ({'; '.join(marks)})" if marks else ""
        lines.append(f"| {k}{mark} | " + " | ".join(cell(values(key)) for key, _ in MIX_KEYS) +
                     f" | {cell(values('pairs'))} |")
    chance = [float(r["mixing"]["baselines"]["independent"]) for r in rows]
    lines += ["", f"Baselines (all three): an independent sample C in place of the mix "
              f"{cell(chance)}; k = 0 (B itself) "
              f"{cell([float(r['mixing']['baselines']['k0']) for r in rows])}; k = {num_ws} (A "
              f"itself) {cell([float(r['mixing']['baselines'][f'k{num_ws}']) for r in rows])}; "
              "uniform chance 1/162 = 0.0062.", ""]
    for r in rows:
        if r.get("mixing_grid"):
            lines += ["Style-mixing grid (seed 0; StyleGAN's Figure 3 layout: top row the B "
                      "sources, left column the A sources; in each block that group's styles "
                      "come from B, the rest from A):", "",
                      f"![style mixing]({assets}/{r['mixing_grid']})", ""]
    return lines


def _figures(results: Results, assets: str) -> list[str]:
    lines = []
    for row in ROWS:
        first = next((r for r in results.get(row.id, []) if r.get("grid")), None)
        if first is not None:
            lines += [f"### {DATA[row.data][0]}: {row.key}", "",
                      f"![{row.id} samples]({assets}/{first['grid']})", ""]
            if first.get("noise_grid"):
                lines += ["Noise resampling (each row: the net's constant noise, fresh noise "
                          "draws, then the per-pixel standard deviation, white = its row's "
                          "largest):", "", f"![{row.id} noise]({assets}/{first['noise_grid']})",
                          ""]
            if first.get("mixing_grid") and not row.mixing:
                lines += ["Style mixing (as in the shapes section):", "",
                          f"![{row.id} style mixing]({assets}/{first['mixing_grid']})", ""]
    return lines


def write_stylegan_page(page: Path, *, results: Results, protocol: dict[str, Any]) -> Path:
    """Write the page from the raw rows (row id -> one row per seed)."""
    assets = page.stem
    lines = ["# ProGAN and StyleGAN against DCGAN", "",
             f"Command: `{_command(protocol, page)}` (raw numbers per run in `{assets}/raw/`; "
             "finished runs are kept, so a rerun trains only what is missing).", "",
             f"Machine: {protocol.get('machine', '?')}.", "", _budget(results, protocol), "",
             "Protocol: every run trains from its preset for the budget, then its EMA generator "
             f"is measured on n = {protocol['n']} samples against the real test split in the "
             "feature space of the data's judge (pinned beside the page: "
             + ", ".join(f"{d} {j}" for d, j in protocol.get("judges", {}).items()) +
             f"). ProGAN rows also measure FID on n = {protocol['curve_n']} every "
             f"1/{protocol['curve_points']} of the budget and at its end. "
             + ", ".join(f"{k} = {v}" for k, v in protocol.items() if k in
                         ("clock", "psis", "mix_pairs", "quick", "data")) + ".", "",
             f"Cells: mean ± standard deviation over seeds (the per-seed values in parentheses). "
             f"A claim is **supported** when its measured conditions hold by Welch's t-test at "
             f"p < {ALPHA} (two-sided), **refuted** when one is significant the other way, and "
             f"**{NOT_RESOLVED}** otherwise (with one seed nothing is tested).", ""]
    for data, (title, _) in DATA.items():
        lines += [f"## {title}", "", *_table(results, data, protocol), ""]
        plot = f"fid-vs-time-{data}.png"
        if _plot_curves(results, data, page.parent / assets / plot):
            lines += ["FID during training (every seed; dashed: the target FID of the first "
                      "claim):", "", f"![FID vs time, {data}]({assets}/{plot})", ""]
    lines += ["## Truncation sweep (Fashion-MNIST)", "",
              "psi 1 is the untruncated final evaluation.", "", *_truncation(results),
              "## Style mixing (shapes at 64x64)", "", *_mixing(results, assets),
              "## Samples (seed 0)", "", *_figures(results, assets),
              "## What the numbers say", ""]
    lines += all_claims(results) or ["- Not enough rows finished to test the claims."]
    steps = {r.id: mean_std([float(x["steps"]) for x in results.get(r.id, [])])[0]
             for r in ROWS if results.get(r.id)}
    if steps:
        lines += ["", "Every verdict is for this budget: steps per run in the same CPU time: "
                  + ", ".join(f"{k} {fmt(v)}" for k, v in steps.items()) + "."]
    page.parent.mkdir(parents=True, exist_ok=True)
    write_text(page, "\n".join(lines) + "\n")
    return page

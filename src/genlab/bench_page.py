"""The results page of `genlab bench gan`: every number read from the benchmark's result files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from genlab.bench import TABLE, mean_std  # noqa: E402


def _load(raw: Path, methods: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for method in methods:
        runs = sorted(raw.glob(f"{method}-s*.json"))
        if runs:
            out[method] = [json.loads(p.read_text()) for p in runs]
    return out


def _cell(runs: list[dict[str, Any]], key: str) -> str:
    values = [r[key] for r in runs if key in r]
    if not values:
        return "-"
    mean, std = mean_std([float(v) for v in values])
    digits = 0 if key == "images_per_s" else 3
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def _m(runs: dict[str, list[dict[str, Any]]], method: str, key: str) -> tuple[float, float]:
    return mean_std([float(r[key]) for r in runs[method]])


def _claims(res: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Each classic claim, with the numbers that support or refute it."""
    lines = []
    bce = [m for m in ("gan", "dcgan") if m in res]
    if bce and "wgan-gp" in res:
        for m in bce:
            rows = []
            wins = 0
            for key, higher in (("recall", True), ("coverage", True), ("class_kl", False)):
                a, sa = _m(res, m, key)
                b, sb = _m(res, "wgan-gp", key)
                better = (b > a + sa + sb) if higher else (b < a - sa - sb)
                wins += better
                rows.append(f"{key} {a:.3f} vs {b:.3f}")
            verdict = ("supported" if wins == 3 else "not supported" if wins == 0 else
                       f"partly supported ({wins} of 3 measures)")
            lines.append(f"- *BCE GANs collapse modes, WGAN-GP does not* ({m} vs wgan-gp: "
                         f"{', '.join(rows)}): **{verdict}** (better beyond one std each way "
                         "counts).")
    if "wgan" in res and "wgan-gp" in res:
        a, sa = _m(res, "wgan", "fid")
        b, sb = _m(res, "wgan-gp", "fid")
        verdict = "supported" if b < a - sa - sb else "not supported"
        lines.append(f"- *The gradient penalty trains better than weight clipping* (FID wgan "
                     f"{a:.2f} vs wgan-gp {b:.2f}): **{verdict}**.")
    if "dcgan" in res and "cdcgan" in res:
        a, sa = _m(res, "dcgan", "class_kl")
        b, sb = _m(res, "cdcgan", "class_kl")
        verdict = "supported" if b < a - sa - sb else "not supported"
        lines.append(f"- *Conditioning on the class balances the classes* (class KL dcgan "
                     f"{a:.3f} vs cdcgan {b:.3f}): **{verdict}**.")
    trunc = [r["truncation"] for r in res.get("dcgan", []) if "truncation" in r]
    if trunc:
        sweep = trunc[0]
        psis = sorted(sweep, key=float)
        prec = [sweep[p]["precision"] for p in psis]
        rec = [sweep[p]["recall"] for p in psis]
        # psi ascending: precision should fall and recall rise, overall and step by step
        fidelity = prec[0] > prec[-1] and all(a >= b for a, b in zip(prec, prec[1:],
                                                                      strict=False))
        diversity = rec[0] < rec[-1] and all(a <= b for a, b in zip(rec, rec[1:],
                                                                     strict=False))
        verdict = ("supported" if fidelity and diversity else
                   "partly supported" if fidelity or diversity else "not supported")
        lines.append(f"- *Truncation trades diversity for fidelity* (dcgan seed 0, psi "
                     f"{', '.join(psis)}: precision {', '.join(f'{p:.3f}' for p in prec)}; "
                     f"recall {', '.join(f'{r:.3f}' for r in rec)}): **{verdict}** (precision "
                     "should fall and recall rise as psi grows).")
    return lines


def write_gan_page(out: Path, *, data: str, methods: tuple[str, ...],
                   protocol: dict[str, Any], class_names: list[str],
                   plot_hist: Callable[..., Path]) -> Path:
    assets = out / f"gan-{data}"
    res = _load(assets / "raw", methods)
    assets.mkdir(parents=True, exist_ok=True)
    lines = [f"# GAN benchmark on {data}", "",
             f"Command: `genlab bench gan --data {data} --minutes {protocol['minutes']:g} "
             f"--seeds {max(len(v) for v in res.values()) if res else 0}` "
             f"(raw numbers in `gan-{data}/raw/`).", "",
             "Protocol: " + ", ".join(f"{k} = {v}" for k, v in protocol.items()
                                      if k != "floor") + ".", "",
             "| method | seeds | " + " | ".join(label for _, label in TABLE) + " |",
             "|---|---|" + "---|" * len(TABLE)]
    for method, runs in res.items():
        lines.append(f"| {method} | {len(runs)} | " +
                     " | ".join(_cell(runs, key) for key, _ in TABLE) + " |")
    floor = protocol.get("floor", {})
    lines.append("| real vs real (floor) | - | " +
                 " | ".join(f"{floor[k]:.3f}" if k in floor else "-" for k, _ in TABLE) + " |")
    lines += ["", "Mean ± standard deviation over seeds. FID and KID in judge feature space "
              "(not comparable with Inception FIDs); lower is better for FID, KID and class "
              "KL, higher for the rest.", "", "## What the numbers say", ""]
    lines += _claims(res) or ["- Not enough methods finished to test the claims."]
    # FID against training time
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for method, runs in res.items():
        curve = runs[0].get("curve") or []
        if curve:
            ax.plot([c[0] / 60 for c in curve], [c[1] for c in curve], marker=".", label=method)
    ax.set_xlabel("training minutes")
    ax.set_ylabel("FID (judge, 2k samples)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(assets / "fid-vs-time.png", dpi=90)
    plt.close(fig)
    lines += ["", "## FID during training (seed 0)", "",
              f"![FID vs time](gan-{data}/fid-vs-time.png)"]
    lines += ["", "## Class histograms and samples (seed 0)", ""]
    for method, runs in res.items():
        first = runs[0]
        if "hist_fake" in first:
            plot_hist(first["hist_fake"], first["hist_real"], class_names,
                      assets / f"hist-{method}.png")
        lines += [f"### {method}", "", f"![{method} samples](gan-{data}/{first['grid']}) "
                  f"![{method} classes](gan-{data}/hist-{method}.png)", ""]
    trunc = [r["truncation"] for r in res.get("dcgan", []) if "truncation" in r]
    if trunc:
        lines += ["## Truncation sweep (dcgan, seed 0)", "", "| psi | FID | precision | recall |",
                  "|---|---|---|---|"]
        for psi, row in sorted(trunc[0].items(), key=lambda kv: float(kv[0])):
            lines.append(f"| {psi} | {row['fid']:.3f} | {row['precision']:.3f} | "
                         f"{row['recall']:.3f} |")
    page = out / f"gan-{data}.md"
    page.write_text("\n".join(lines) + "\n")
    return page

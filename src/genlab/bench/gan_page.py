"""The results page of `genlab bench gan`: every number read from the benchmark's result files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from genlab.bench.common import GAN_METHODS  # noqa: E402
from genlab.bench.verdicts import mean_std  # noqa: E402

TABLE = [("fid", "FID"), ("kid", "KID"), ("is", "IS"), ("precision", "precision"),
         ("recall", "recall"), ("coverage", "coverage"), ("classes_covered", "classes covered"),
         ("class_kl", "class KL"), ("steps", "steps"), ("images_per_s", "images/s")]


def _load(raw: Path, protocol: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every method with results measured under `protocol` (same judge, clock and machine):
    the GAN family in its order, then the others."""
    same = [k for k in ("judge", "clock", "machine") if k in protocol]
    found = {p.stem.rsplit("-s", 1)[0] for p in raw.glob("*-s[0-9]*.json")}
    methods = [m for m in GAN_METHODS if m in found] + sorted(found - set(GAN_METHODS))
    out: dict[str, list[dict[str, Any]]] = {}
    for method in methods:
        runs = sorted(raw.glob(f"{method}-s*.json"))
        if runs:
            rows = [json.loads(p.read_text()) for p in runs]
            if rows := [r for r in rows if all(r.get(k) == protocol[k] for k in same)]:
                out[method] = rows
    return out


def _cell(runs: list[dict[str, Any]], key: str) -> str:
    values = [r[key] for r in runs if key in r]
    if not values:
        return "-"
    mean, std = mean_std([float(v) for v in values])
    digits = {"images_per_s": 0, "steps": 0, "classes_covered": 1}.get(key, 3)
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def _m(runs: dict[str, list[dict[str, Any]]], method: str, key: str) -> tuple[float, float]:
    return mean_std([float(r[key]) for r in runs[method]])


UNDECIDED = "undecided (needs at least 2 seeds of each method)"


def _better(res: dict[str, list[dict[str, Any]]], a: str, b: str, key: str,
            higher: bool) -> tuple[bool | None, str]:
    """Is method b better than a on `key` by more than one std of each? None while either has
    a single seed (no spread to compare against). And the numbers."""
    ma, sa = _m(res, a, key)
    mb, sb = _m(res, b, key)
    better = (mb > ma + sa + sb) if higher else (mb < ma - sa - sb)
    if min(len(res[a]), len(res[b])) < 2:
        return None, f"{key} {a} {ma:.3f} vs {b} {mb:.3f}"
    return better, f"{key} {a} {ma:.3f} vs {b} {mb:.3f}"


def _claims(res: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Each classic claim, with the numbers that support or refute it."""
    lines = []
    for m in (m for m in ("gan", "dcgan") if m in res and "wgan-gp" in res):
        checks = [_better(res, m, "wgan-gp", key, higher) for key, higher in
                  (("recall", True), ("coverage", True), ("class_kl", False))]
        wins = sum(bool(ok) for ok, _ in checks)
        verdict = (UNDECIDED if any(ok is None for ok, _ in checks) else
                   "supported" if wins == 3 else "not supported" if wins == 0 else
                   f"partly supported ({wins} of 3 measures)")
        lines.append(f"- *BCE GANs collapse modes, WGAN-GP does not* "
                     f"({'; '.join(text for _, text in checks)}): **{verdict}** (better by "
                     "more than one std of each side counts).")
    for a, b, key, higher, claim in (
            ("wgan", "wgan-gp", "fid", False,
             "The gradient penalty trains better than weight clipping"),
            ("dcgan", "cdcgan", "class_kl", False,
             "Conditioning on the class balances the classes"),
            ("cdcgan", "ddpm", "fid", False,
             "Diffusion beats GANs on sample quality (same CPU time, conditional models)"),
            ("vae", "dcgan", "fid", False,
             "GAN samples are sharper than a VAE's (FID)")):
        if a in res and b in res:
            ok, text = _better(res, a, b, key, higher)
            verdict = UNDECIDED if ok is None else "supported" if ok else "not supported"
            lines.append(f"- *{claim}* ({text}): **{verdict}**.")
    steps = {m: _m(res, m, "steps")[0] for m in res if all("steps" in r for r in res[m])}
    if "wgan-gp" in steps and "dcgan" in steps:
        lines.append(f"- Every verdict is for this budget: in the same CPU time WGAN-GP made "
                     f"{steps['wgan-gp']:.0f} generator steps against DCGAN's "
                     f"{steps['dcgan']:.0f} (each of its steps trains the critic 5 times, with "
                     "a double backward for the penalty), so claims about where training "
                     "ends up are tested on runs that have not converged.")
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
        parts = (f"diversity {'is' if diversity else 'is not'} lost as psi shrinks (recall "
                 f"{'falls' if diversity else 'does not fall steadily'}), fidelity "
                 f"{'is' if fidelity else 'is not'} gained (precision "
                 f"{'rises' if fidelity else 'does not rise steadily'})")
        lines.append(f"- *Truncation trades diversity for fidelity* (dcgan seed 0, psi "
                     f"{', '.join(psis)}: precision {', '.join(f'{p:.3f}' for p in prec)}; "
                     f"recall {', '.join(f'{r:.3f}' for r in rec)}): **{verdict}**: {parts}.")
        if not fidelity:
            lines.append("  A likely reason: in a d-dimensional Gaussian z nearly every "
                         "training latent has a norm close to sqrt(d) (10 for configs/dcgan.yaml's "
                         "d = 100), so psi < 1 moves latents inside a "
                         "shell the generator never saw; truncation was made for spaces "
                         "like StyleGAN's W, not for DCGAN's z.")
    return lines


def _workers_flag(protocol: dict[str, Any]) -> str:
    workers = protocol.get("workers", 1)
    clock = protocol.get("clock", "wall")
    return (f" --workers {workers}" if workers > 1 else "") + \
        (" --clock wall" if clock == "wall" else "")


def _side_by_side(protocol: dict[str, Any]) -> str:
    workers = protocol.get("workers", 1)
    clock = (" The budget and images/s count CPU seconds of each run's process (all its "
             "threads), not wall seconds, so work that shared the machine took nothing from "
             "a run's budget." if protocol.get("clock") == "cpu" else "")
    if workers <= 1:
        return clock
    return (f" Runs trained {workers} at a time, each with {protocol.get('threads_per_run')} "
            "CPU thread(s): images/s is per run, not per machine." + clock)


def _others_note(others: list[str]) -> str:
    notes = {"vae": " The VAE (configs/vae.yaml) samples from its prior, with no tricks.",
             "ddpm": " The DDPM (configs/ddpm-fashion.yaml, class-conditional) samples with "
                     "DDIM in 20 steps and no guidance (scale 1), every class equally often; "
                     "its final evaluation costs far more CPU than a GAN's, which the budget "
                     "does not count."}
    return "".join(notes.get(m, "") for m in others)


def write_gan_page(out: Path, *, data: str, methods: tuple[str, ...],
                   protocol: dict[str, Any], class_names: list[str],
                   plot_hist: Callable[..., Path]) -> Path:
    assets = out / f"gan-{data}"
    del methods  # the page shows every method with results, whichever call ran it
    res = _load(assets / "raw", protocol)
    assets.mkdir(parents=True, exist_ok=True)
    others = [m for m in res if m not in GAN_METHODS]
    lines = [f"# GAN benchmark on {data}" + (f" (with {' and '.join(others)})" if others else ""),
             "",
             f"Command: `genlab bench gan --data {data} --minutes {protocol['minutes']:g} "
             f"--seeds {protocol.get('seeds') or max((len(v) for v in res.values()), default=0)}"
             f"{_workers_flag(protocol)}" +
             (f" --methods {','.join(res)}" if others else "") + "` "
             f"(raw numbers in `gan-{data}/raw/`).", "",
             "Protocol: " + ", ".join(f"{k} = {v}" for k, v in protocol.items()
                                      if k not in ("floor", "missing")) + "." +
             _side_by_side(protocol), "",
             *([f"**Partial results**: not measured yet: {', '.join(protocol['missing'])} "
                "(rerun the command to add them; finished runs are kept).", ""]
               if protocol.get("missing") else []),
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
              "KL, higher for the rest." + _others_note(others), "", "## What the numbers say",
              ""]
    lines += _claims(res) or ["- Not enough methods finished to test the claims."]
    # FID against training time
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for method, runs in res.items():
        curve = runs[0].get("curve") or []
        if curve:
            ax.plot([c[0] / 60 for c in curve], [c[1] for c in curve], marker=".", label=method)
    ax.set_xlabel("training minutes" + (" (CPU)" if protocol.get("clock") == "cpu" else ""))
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

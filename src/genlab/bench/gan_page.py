"""The results page of `genlab bench gan`: every number read from the benchmark's result
files (`raw/`, and the pinned judge's class names), so the page can be written again from the
committed files alone (`rewrite_gan_page`); each claim is decided by `verdicts`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from genlab.bench.common import GAN_METHODS  # noqa: E402
from genlab.bench.verdicts import (  # noqa: E402
    ALPHA,
    NOT_RESOLVED,
    Part,
    cell,
    claim_line,
    compare,
    compare_paired,
    mean_std,
)
from genlab.errors import ConfigError  # noqa: E402
from genlab.metrics.report import plot_class_histogram  # noqa: E402

Results = dict[str, list[dict[str, Any]]]  # method -> one raw row per seed

TABLE = [("fid", "FID"), ("kid", "KID"), ("is", "IS"), ("precision", "precision"),
         ("recall", "recall"), ("coverage", "coverage"), ("classes_covered", "classes covered"),
         ("class_kl", "class KL"), ("steps", "steps"), ("images_per_s", "images/s")]


def _load(raw: Path, protocol: dict[str, Any]) -> Results:
    """Every method with results measured under `protocol` (same judge, clock and machine):
    the GAN family in its order, then the others."""
    same = [k for k in ("judge", "clock", "machine") if k in protocol]
    found = {p.stem.rsplit("-s", 1)[0] for p in raw.glob("*-s[0-9]*.json")}
    methods = [m for m in GAN_METHODS if m in found] + sorted(found - set(GAN_METHODS))
    out: Results = {}
    for method in methods:
        runs = sorted(raw.glob(f"{method}-s*.json"))
        if runs:
            rows = [json.loads(p.read_text()) for p in runs]
            if rows := [r for r in rows if all(r.get(k) == protocol[k] for k in same)]:
                out[method] = rows
    return out


def _stat(values: list[float], digits: int) -> str:
    """A table cell: mean ± std over seeds ("-": none)."""
    if not values:
        return "-"
    mean, std = mean_std(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def _cell(runs: list[dict[str, Any]], key: str) -> str:
    digits = {"images_per_s": 0, "steps": 0, "classes_covered": 1}.get(key, 3)
    return _stat([float(r[key]) for r in runs if key in r], digits)


def _values(res: Results, method: str, key: str) -> list[float]:
    return [float(r[key]) for r in res.get(method, []) if key in r]


OUTCOME = {True: "holds", False: "the other way", None: "not resolved"}


def _tagged(part: Part) -> Part:
    """The condition with how it came out in words (for claims of several conditions)."""
    return Part(part.holds, f"{part.text}: {OUTCOME[part.holds]}")


def _better(res: Results, a: str, b: str, key: str, higher: bool, *,
            tag: bool = False) -> Part:
    """Is method b better than a on `key` (higher or lower) by Welch's t-test over seeds?
    `tag`: say in words how it came out."""
    va, vb = _values(res, a, key), _values(res, b, key)
    part = compare(vb, va, lower=not higher, text=f"{key} {b} {cell(vb) if vb else '-'} vs "
                   f"{a} {cell(va) if va else '-'}")
    return _tagged(part) if tag else part


def _sweep(rows: list[dict[str, Any]], psi: str, key: str) -> list[float]:
    return [float(r["truncation"][psi][key]) for r in rows if psi in r["truncation"]]


def _truncation(res: Results) -> list[str]:
    """Truncation trades diversity for fidelity: precision up and recall down at psi 0.5
    against 1.0 (the pair the StyleGAN page tests), paired over seeds: both psis are measured
    on the same run, from the same latents."""
    rows = [r for r in res.get("dcgan", []) if r.get("truncation")]
    if not rows:
        return []
    parts = [_tagged(compare_paired(
        _sweep(rows, "0.5", key), _sweep(rows, "1.0", key), lower=not rises,
        text=f"{key} at psi 0.5 {cell(_sweep(rows, '0.5', key))} vs 1.0 "
             f"{cell(_sweep(rows, '1.0', key))}"))
        for key, rises in (("precision", True), ("recall", False))]
    lines = [claim_line("Truncation trades diversity for fidelity: precision rises and recall "
                        f"falls as psi shrinks (dcgan, {len(rows)} seed(s))", parts,
                        "; every psi is in the sweep's table below")]
    if parts[0].holds is not True:
        lines.append("  Precision is not seen to rise. A likely reason: in a d-dimensional "
                     "Gaussian z nearly every training latent has a norm close to sqrt(d) (10 "
                     "for configs/dcgan.yaml's d = 100), so psi < 1 moves latents inside a "
                     "shell the generator never saw; truncation was made for spaces like "
                     "StyleGAN's W, not for DCGAN's z.")
    return lines


def _claims(res: Results) -> list[str]:
    """Each classic claim, with its test figures and verdict (`verdicts`)."""
    lines = []
    for m in (m for m in ("gan", "dcgan") if m in res and "wgan-gp" in res):
        parts = [_better(res, m, "wgan-gp", key, higher, tag=True) for key, higher in
                 (("recall", True), ("coverage", True), ("class_kl", False))]
        lines.append(claim_line(f"BCE GANs collapse modes, WGAN-GP does not ({m} against "
                                "wgan-gp: higher recall and coverage, lower class KL)", parts))
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
            lines.append(claim_line(claim, [_better(res, a, b, key, higher)]))
    steps = {m: mean_std(_values(res, m, "steps"))[0] for m in res
             if all("steps" in r for r in res[m])}
    if "wgan-gp" in steps and "dcgan" in steps:
        lines.append(f"- Every verdict is for this budget: in the same CPU time WGAN-GP made "
                     f"{steps['wgan-gp']:.0f} generator steps against DCGAN's "
                     f"{steps['dcgan']:.0f} (each of its steps trains the critic 5 times, with "
                     "a double backward for the penalty), so claims about where training "
                     "ends up are tested on runs that have not converged.")
    return lines + _truncation(res)


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


def write_gan_page(out: Path, *, data: str, protocol: dict[str, Any],
                   class_names: list[str]) -> Path:
    """The page of every method with results under `protocol`, whichever call measured it."""
    assets = out / f"gan-{data}"
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
              "", f"Each claim shows its measures over seeds (mean ± std, then the per-seed "
              f"values) and the test that decides it: Welch's t-test between two methods, a "
              f"paired t-test where both sides come from the same runs (the truncation sweep). "
              f"A claim is **supported** when every condition holds at p < {ALPHA} (two-sided), "
              f"**refuted** when any condition is significant the other way, and "
              f"**{NOT_RESOLVED}** otherwise: its difference is within what these seeds "
              f"resolve (with one seed nothing is tested).", ""]
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
    if ax.lines:  # no curve (e.g. DDPM rows only): no legend to draw
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
            plot_class_histogram(first["hist_fake"], first["hist_real"], class_names,
                      assets / f"hist-{method}.png")
        lines += [f"### {method}", "", f"![{method} samples](gan-{data}/{first['grid']}) "
                  f"![{method} classes](gan-{data}/hist-{method}.png)", ""]
    sweeps = [r for r in res.get("dcgan", []) if r.get("truncation")]
    if sweeps:
        lines += [f"## Truncation sweep (dcgan, mean ± std over {len(sweeps)} seed(s))", "",
                  "| psi | FID | precision | recall |", "|---|---|---|---|"]
        for psi in sorted(sweeps[0]["truncation"], key=float):
            lines.append(f"| {psi} | " + " | ".join(_stat(_sweep(sweeps, psi, key), 3) for key
                                                    in ("fid", "precision", "recall")) + " |")
    page = out / f"gan-{data}.md"
    page.write_text("\n".join(lines) + "\n")
    return page


def _class_names(out: Path, judge: str) -> list[str]:
    """The class names of the pinned judge (under out/judges) whose weights have this digest."""
    for meta in sorted((out / "judges").glob("*/judge.json")):
        weights = meta.parent / "weights.safetensors"
        if weights.is_file() and hashlib.sha256(weights.read_bytes()).hexdigest()[:16] == judge:
            return list(json.loads(meta.read_text())["class_names"])
    raise ConfigError(f"no judge {judge} under {out / 'judges'}: the page's class histograms "
                      "need the judge that measured it")


def rewrite_gan_page(out: Path, data: str) -> Path:
    """Write the page of `genlab bench gan --data <data>` again from its committed files alone
    (raw/*.json, raw/protocol.json, the pinned judge): nothing is trained or evaluated."""
    path = out / f"gan-{data}" / "raw" / "protocol.json"
    if not path.is_file():
        raise ConfigError(f"{path} not found: run `genlab bench gan --data {data}` first")
    protocol = json.loads(path.read_text())
    return write_gan_page(out, data=data, protocol=protocol,
                          class_names=_class_names(out, protocol["judge"]))

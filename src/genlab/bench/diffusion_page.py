"""The results page of `genlab bench diffusion`, written from the benchmark's result files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genlab.bench.intervals import Z, differ, interval, proportion_se, ratio_at_most
from genlab.bench.verdicts import Part, claim_line

# DDIM paper (Song et al. 2021), Table 1, CIFAR-10 FID by sampling steps (Inception features).
PAPER_STEPS = (10, 20, 50, 100, 1000)
PAPER_DDIM = (13.36, 6.84, 4.67, 4.16, 4.04)
PAPER_DDPM = (41.07, 18.36, 8.01, 5.78, 4.73)


def _fmt(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    return "-" if value is None else f"{value:.3f}"


def _fid(row: dict[str, Any]) -> str:
    """FID with its 95% interval over samples where the row has a standard error."""
    if "fid_se" not in row:
        return _fmt(row, "fid")
    return f"{row['fid']:.3f} ± {Z * row['fid_se']:.3f}"


def _est(row: dict[str, Any], key: str = "fid") -> tuple[float, float]:
    """(value, standard error) of a row's FID (bootstrap) or a proportion (binomial)."""
    if key == "fid":
        return row["fid"], row.get("fid_se", 0.0)
    return row[key], proportion_se(row[key], row["n"])


def _dpm_option(samplers: dict[str, dict[str, Any]]) -> str:
    """` --dpm-steps ...` where DPM-Solver ran other step counts than DDIM."""
    steps = {name: [r["steps"] for r in samplers.values() if r["sampler"] == name]
             for name in ("ddim", "dpm")}
    return "" if steps["dpm"] == steps["ddim"] else \
        f" --dpm-steps {','.join(map(str, steps['dpm']))}"


def _pairs(fids: tuple[float, ...]) -> str:
    return ", ".join(f"{s}: {f}" for s, f in zip(PAPER_STEPS, fids, strict=True))


def _speed_claim(samplers: dict[str, dict[str, Any]], full: str) -> str:
    if full not in samplers or "ddim-20" not in samplers:
        return "- Not measured: the DDPM and DDIM-20 rows are both needed."
    ref, fast = samplers[full], samplers["ddim-20"]
    speed = ref["seconds_per_image"] / fast["seconds_per_image"]
    claim = f"DDIM with 20 steps is within 20% of {full.upper()}'s FID at 40x less time"
    return claim_line(claim, [
        ratio_at_most(_est(fast), _est(ref), 1.2, text=f"FID ratio DDIM-20 / {full}"),
        Part(speed >= 40, f"{speed:.0f}x less CPU time per image (one timing)")])


def _not_rising(a: tuple[float, float], b: tuple[float, float], text: str) -> Part:
    """Holds unless b is significantly above a."""
    rise = differ(b, a, lower=False, text=text)
    return Part(rise.holds is not True, rise.text)


def _trend_claim(samplers: dict[str, dict[str, Any]]) -> list[str]:
    ddim = sorted((int(k.split("-")[1]), r) for k, r in samplers.items()
                  if k.startswith("ddim-") and k.count("-") == 1)
    if len(ddim) < 2:
        return []
    ours = ", ".join(f"{s}: {_fid(r)}" for s, r in ddim)
    (first, head), (last, tail) = ddim[0], ddim[-1]
    parts = [differ(_est(tail), _est(head), lower=True, text=f"FID at {last} below {first} steps")]
    parts += [_not_rising(_est(a), _est(b), f"{sa} to {sb} steps")
              for (sa, a), (sb, b) in zip(ddim, ddim[1:], strict=False)]
    return [f"- DDIM paper, CIFAR-10 (Table 1), FID by steps: DDIM {_pairs(PAPER_DDIM)}; DDPM "
            f"{_pairs(PAPER_DDPM)}. Ours, DDIM: {ours}.",
            claim_line("The paper's trend holds: FID falls as DDIM takes more steps and never "
                   "rises by more than the noise between step counts", parts)]


def _precision_claim(samplers: dict[str, dict[str, Any]],
                     checks: dict[int, dict[str, Any]]) -> str:
    """Does the UNet's precision change DDIM's FID? Each step count's two rows compared."""
    pairs = [(row, samplers[f"ddim-{k}"]) for k, row in checks.items() if f"ddim-{k}" in samplers]
    if not pairs:
        return "- UNet precision: not compared."
    other, main = pairs[0][0]["unet_precision"], pairs[0][1].get("unet_precision", "fp32")
    parts = [differ(_est(a), _est(b), lower=True, text=f"DDIM-{a['steps']}: FID {other} - {main}")
             for a, b in pairs]
    changed = [p for p in parts if p.holds is not None]
    found = (f"changed at {len(changed)} of {len(parts)} step counts" if changed else
             "no difference resolved at this n at any step count")
    speed = [b["seconds_per_image"] / a["seconds_per_image"] for a, b in pairs]
    return (f"- *The UNet's precision ({main} against {other}) changes DDIM's FID* "
            f"({'; '.join(p.text for p in parts)}): **{found}**. In these runs {other} gave "
            f"{min(speed):.2f}x to {max(speed):.2f}x the images per CPU-second of {main} "
            "(timings of a shared machine; benchmarks/sampling_speed.py measures it alone).")


def _guidance_claims(guidance: dict[float, dict[str, Any]]) -> list[str]:
    if not {1.0, 3.0, 5.0} <= set(guidance):
        return []
    one, three, five = guidance[1.0], guidance[3.0], guidance[5.0]
    return [claim_line("Guidance scale 3 raises conditional accuracy over plain conditional "
                   "sampling (1)", [differ(_est(three, "cond_acc"), _est(one, "cond_acc"),
                                           lower=False, text="accuracy 3 vs 1")]),
            claim_line("Past some scale guidance costs sample quality: FID at scale 5 above "
                   "scale 3", [differ(_est(five), _est(three), lower=False,
                                      text="FID 5 vs 3")])]


def write_diffusion_page(out: Path, *, data: str, protocol: dict[str, Any],
                         samplers: dict[str, dict[str, Any]], guidance: dict[float, dict[str, Any]],
                         full: str, checks: dict[int, dict[str, Any]] | None = None) -> Path:
    ref_time = samplers.get(full, {}).get("seconds_per_image")
    floor = protocol.get("floor", {})
    checks = checks or {}
    rows = [*samplers.values(), *checks.values()]
    lines = [f"# Diffusion benchmark on {data}", "",
             f"Command: `genlab bench diffusion --data {data} --minutes {protocol['minutes']:g} "
             f"--n {protocol['n']}{_dpm_option(samplers)}` (raw numbers in "
             f"`diffusion-{data}/raw/`).", "",
             "Protocol: " + ", ".join(f"{k} = {v}" for k, v in protocol.items()
                                      if k != "floor") + ".", "",
             "## Samplers and steps (classifier-free guidance scale 1: plain conditional)", "",
             "| sampler | steps | UNet precision | FID (95% interval) | KID | precision | recall "
             f"| coverage | CPU s / image | time vs {full} |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        rel = f"1/{ref_time / row['seconds_per_image']:.0f}" if ref_time else "-"
        lines.append(f"| {row['sampler']} | {row['steps']} | {row.get('unet_precision', 'fp32')} | "
                     f"{_fid(row)} | {_fmt(row, 'kid')} | {_fmt(row, 'precision')} | "
                     f"{_fmt(row, 'recall')} | {_fmt(row, 'coverage')} | "
                     f"{row['seconds_per_image']:.4f} | {rel} |")
    lines.append(f"| real vs real (floor) | - | - | {_fmt(floor, 'fid')} | {_fmt(floor, 'kid')} | "
                 f"{_fmt(floor, 'precision')} | {_fmt(floor, 'recall')} | "
                 f"{_fmt(floor, 'coverage')} | - | - |")
    draws = next((r["fid_draws"] for r in rows if "fid_draws" in r), None)
    lines += ["", f"n = {protocol['n']} generated images per row against the same "
              f"{protocol.get('n_real', protocol['n'])} real test images, every row from one "
              "trained model. FID and KID in judge feature space; FID biases upward at small n, "
              "equally for rows at the same n (see docs/evaluation.md, FID against n). "
              + (f"The FID interval is ± 1.96 bootstrap standard errors ({draws} resamples of "
                 "the row's generated images, the real set fixed): it covers which images were "
                 "sampled, not training again with another seed. " if draws else "")
              + "CPU seconds per image: CPU time of the process (all its threads) generating "
              f"in batches of {rows[0].get('batch', 250)} on this machine, so other work on "
              "the machine does not skew the ratios; training minutes are counted the same way.",
              "", "## What the numbers say", "",
              "A claim is **supported** when every measured condition holds at the 95% level "
              "(a z-test of the difference from the standard errors above, or a ratio's 95% "
              "interval within its bound), **refuted** when one is significant the other way, "
              "and **not resolved at this n** otherwise.", "",
              _speed_claim(samplers, full), *_trend_claim(samplers),
              _precision_claim(samplers, checks)]
    lines += ["", "## Classifier-free guidance (DDIM, 50 steps)", "",
              "| guidance scale | conditional accuracy (95% interval) | FID (95% interval) | "
              "coverage | class KL |", "|---|---|---|---|---|"]
    for scale, row in guidance.items():
        acc = "-" if row.get("cond_acc") is None else interval(*_est(row, "cond_acc"))
        lines.append(f"| {scale:g} | {acc} | {_fid(row)} | {_fmt(row, 'coverage')} | "
                     f"{_fmt(row, 'class_kl')} |")
    lines += ["", "Scale 0 is the unconditional model (labels dropped), 1 the conditional one. "
              "Conditional accuracy: the judge reads the requested class (binomial interval).",
              "", *_guidance_claims(guidance), "", "## Samples (a row per class)", ""]
    for key, row in [*samplers.items(), *((f"cfg-{s:g}", r) for s, r in guidance.items())]:
        if "grid" in row:
            lines.append(f"![{key}](diffusion-{data}/{row['grid']}) {key}")
    page = out / f"diffusion-{data}.md"
    page.write_text("\n".join(lines) + "\n")
    return page

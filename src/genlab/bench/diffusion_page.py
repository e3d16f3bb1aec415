"""The results page of `genlab bench diffusion`, written from the benchmark's result files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# DDIM paper (Song et al. 2021), Table 1, CIFAR-10 FID by sampling steps (Inception features).
PAPER_STEPS = (10, 20, 50, 100, 1000)
PAPER_DDIM = (13.36, 6.84, 4.67, 4.16, 4.04)
PAPER_DDPM = (41.07, 18.36, 8.01, 5.78, 4.73)


def _fmt(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    return "-" if value is None else f"{value:.3f}"


def _pairs(fids: tuple[float, ...]) -> str:
    return ", ".join(f"{s}: {f}" for s, f in zip(PAPER_STEPS, fids, strict=True))


def _verdict(samplers: dict[str, dict[str, Any]], full: str) -> str:
    if full not in samplers or "ddim-20" not in samplers:
        return "- Not measured: the DDPM and DDIM-20 rows are both needed."
    ref, fast = samplers[full], samplers["ddim-20"]
    ratio = fast["fid"] / ref["fid"]
    speed = ref["seconds_per_image"] / fast["seconds_per_image"]
    ok = ratio <= 1.2 and speed >= 40
    return (f"- *DDIM with 20 steps is within 20% of {full.upper()}'s FID at 40x less time*: "
            f"DDIM-20 FID {fast['fid']:.3f} vs {ref['fid']:.3f} ({ratio:.2f}x), "
            f"{speed:.0f}x faster per image: **{'supported' if ok else 'not supported'}**.")


def write_diffusion_page(out: Path, *, data: str, protocol: dict[str, Any],
                         samplers: dict[str, dict[str, Any]], guidance: dict[float, dict[str, Any]],
                         full: str) -> Path:
    ref_time = samplers.get(full, {}).get("seconds_per_image")
    floor = protocol.get("floor", {})
    lines = [f"# Diffusion benchmark on {data}", "",
             f"Command: `genlab bench diffusion --data {data} --minutes {protocol['minutes']:g} "
             f"--n {protocol['n']}` (raw numbers in `diffusion-{data}/raw/`).", "",
             "Protocol: " + ", ".join(f"{k} = {v}" for k, v in protocol.items()
                                      if k != "floor") + ".", "",
             "## Samplers and steps (classifier-free guidance scale 1: plain conditional)", "",
             "| sampler | steps | FID | KID | precision | recall | coverage | CPU s / image | "
             f"time vs {full} |", "|---|---|---|---|---|---|---|---|---|"]
    for row in samplers.values():
        rel = f"1/{ref_time / row['seconds_per_image']:.0f}" if ref_time else "-"
        lines.append(f"| {row['sampler']} | {row['steps']} | {_fmt(row, 'fid')} | "
                     f"{_fmt(row, 'kid')} | {_fmt(row, 'precision')} | {_fmt(row, 'recall')} | "
                     f"{_fmt(row, 'coverage')} | {row['seconds_per_image']:.3f} | {rel} |")
    lines.append(f"| real vs real (floor) | - | {_fmt(floor, 'fid')} | {_fmt(floor, 'kid')} | "
                 f"{_fmt(floor, 'precision')} | {_fmt(floor, 'recall')} | "
                 f"{_fmt(floor, 'coverage')} | - | - |")
    lines += ["", "FID and KID in judge feature space, at the same n for every row (small n "
              "biases FID upward, equally for every row). CPU seconds per image: CPU time of "
              "the process (all its threads) generating in batches of 250 on this machine, "
              "so other work on the machine does not skew the ratios; training minutes are "
              "counted the same way.", "", "## What the numbers say",
              "", _verdict(samplers, full)]
    ddim = [(int(k.split("-")[1]), r["fid"]) for k, r in samplers.items()
            if k.startswith("ddim-")]
    if ddim:
        ddim.sort()
        ours = ", ".join(f"{s}: {f:.2f}" for s, f in ddim)
        falling = all(b[1] <= a[1] * 1.05 for a, b in zip(ddim, ddim[1:], strict=False))
        lines.append(f"- DDIM paper, CIFAR-10 (Table 1), FID by steps: DDIM "
                     f"{_pairs(PAPER_DDIM)}; DDPM {_pairs(PAPER_DDPM)}. "
                     f"Ours, DDIM: {ours}. The paper's trend (FID falls as steps grow, most of "
                     f"the gain by 20-50 steps) {'holds' if falling else 'does not hold'} here.")
    lines += ["", "## Classifier-free guidance (DDIM, 50 steps)", "",
              "| guidance scale | conditional accuracy | FID | coverage | class KL |",
              "|---|---|---|---|---|"]
    for scale, row in guidance.items():
        lines.append(f"| {scale:g} | {_fmt(row, 'cond_acc')} | {_fmt(row, 'fid')} | "
                     f"{_fmt(row, 'coverage')} | {_fmt(row, 'class_kl')} |")
    lines += ["", "Scale 0 is the unconditional model (labels dropped), 1 the conditional one; "
              "above 1 guidance pushes toward the class at some cost in diversity.", "",
              "## Samples (a row per class)", ""]
    for key, row in [*samplers.items(), *((f"cfg-{s:g}", r) for s, r in guidance.items())]:
        if "grid" in row:
            lines.append(f"![{key}](diffusion-{data}/{row['grid']}) {key}")
    page = out / f"diffusion-{data}.md"
    page.write_text("\n".join(lines) + "\n")
    return page

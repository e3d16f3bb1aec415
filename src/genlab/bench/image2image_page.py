"""The results page of `genlab bench image2image`: tables of every task over seeds and a
verdict on each claim of the Pix2Pix, CycleGAN and SRGAN papers, decided by Welch's t-test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genlab.bench.verdicts import (
    ALPHA,
    NOT_RESOLVED,
    Part,
    cell,
    compare,
    fmt,
    mean_std,
    verdict,
    welch,
)
from genlab.files import write_text

L1_COST = 1.25  # "a small cost in L1": L1 + GAN's mean L1 at most this times L1 alone's

# task -> (title, what the grid's columns show, metric columns)
TASKS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "edges": ("Pix2Pix, Fashion-MNIST edges -> item (28 px)", "input | output | target",
              ("l1", "psnr", "ssim", "sharpness", "fid")),
    "labels": ("Pix2Pix, shapes label map -> image", "input | output | target",
               ("l1", "psnr", "ssim", "shape_acc")),
    "grey": ("Pix2Pix, shapes grey -> colour", "input | output | target",
             ("l1", "psnr", "ssim", "shape_acc", "colour_acc")),
    "cycle-shapes": ("CycleGAN, shapes circle <-> square (unpaired)",
                     "input A | G(A) | F(G(A))",
                     ("target_acc", "colour_kept", "position_kept", "size_kept", "cycle_l1",
                      "target_acc_BtoA", "cycle_l1_BtoA")),
    "cycle-fashion": ("CycleGAN, Fashion-MNIST Sneaker <-> Ankle boot (unpaired)",
                      "input A | G(A) | F(G(A))",
                      ("target_acc", "cycle_l1", "fid", "target_acc_BtoA", "cycle_l1_BtoA",
                       "fid_BtoA")),
    "sr": ("Super-resolution x4, Fashion-MNIST 7 -> 28 px", "input | bicubic | output | target",
           ("psnr", "ssim", "l1", "sharpness", "fid")),
}
LABELS = {"l1": "L1", "psnr": "PSNR dB", "ssim": "SSIM", "sharpness": "sharpness",
          "fid": "judge FID", "shape_acc": "shape read", "colour_acc": "colour read",
          "target_acc": "target class (A to B)", "colour_kept": "colour kept",
          "position_kept": "position kept", "size_kept": "size kept",
          "cycle_l1": "cycle L1 (A)",
          "target_acc_BtoA": "target class (B to A)", "cycle_l1_BtoA": "cycle L1 (B)",
          "fid_BtoA": "judge FID (B to A)"}
LOWER = {"l1", "fid", "cycle_l1", "cycle_l1_BtoA", "fid_BtoA"}

Results = dict[str, dict[str, list[dict[str, Any]]]]  # task -> variant -> one row per seed


def _values(res: Results, task: str, variant: str, key: str) -> list[float]:
    return [float(r["metrics"][key]) for r in res.get(task, {}).get(variant, [])
            if key in r.get("metrics", {})]


def better(res: Results, task: str, a: str, b: str | float, key: str) -> Part:
    """Is variant a better than b (a variant or a constant) on key, by Welch's test at ALPHA?"""
    va = _values(res, task, a, key)
    vb = _values(res, task, b, key) if isinstance(b, str) else float(b)
    if not va or (isinstance(vb, list) and not vb):
        return Part(None, f"{key}: {a} or {b} not measured")
    lower = key.removesuffix("_BtoA") in LOWER
    mb = mean_std(vb)[0] if isinstance(vb, list) else vb
    sign = "<" if lower else ">"
    name = b if isinstance(b, str) else "chance"  # a constant: the level of guessing
    text = f"{LABELS.get(key, key)} {a} {fmt(mean_std(va)[0])} {sign} {name} {fmt(mb)}"
    return compare(va, vb, lower=lower, text=text)


def l1_cost(res: Results) -> Part:
    """L1 + GAN's L1 at most L1_COST times L1 alone's (means over seeds)."""
    with_gan, alone = _values(res, "edges", "l1+gan", "l1"), _values(res, "edges", "l1", "l1")
    if not with_gan or not alone:
        return Part(None, "L1 cost: not measured")
    ratio = mean_std(with_gan)[0] / mean_std(alone)[0]
    holds = None if min(len(with_gan), len(alone)) < 2 else ratio <= L1_COST
    return Part(holds, f"L1 of l1+gan / L1 of l1 = {ratio:.3g} (small: <= {L1_COST})")


COLOUR_CHANCE = 1 / 6  # shapes has 6 colours: an output of random colour keeps 1 in 6


def claims(res: Results) -> dict[str, list[tuple[str, list[Part]]]]:
    """Each task's claims, each with the measured conditions that decide it."""
    return {
        "edges": [
            ("L1 alone gives blurry outputs (less sharp than L1 + GAN and the targets)",
             [better(res, "edges", "l1+gan", "l1", "sharpness"),
              _below_one(res, "edges", "l1", "sharpness")]),
            ("The GAN loss alone gives sharp but wrong outputs",
             [better(res, "edges", "gan", "l1", "sharpness"),
              better(res, "edges", "l1+gan", "gan", "l1")]),
            ("L1 + GAN is best on realism (judge FID) at a small cost in L1",
             [better(res, "edges", "l1+gan", "l1", "fid"),
              better(res, "edges", "l1+gan", "gan", "fid"), l1_cost(res)])],
        # colour kept by chance alone is 1/6: a claim that a loss keeps colours needs the full
        # model above chance, not only a variant below it
        "cycle-shapes": [
            ("Without the cycle loss the translation loses the input's position",
             [better(res, "cycle-shapes", "full", "no-cycle", "position_kept")]),
            ("Without the cycle loss the translation loses the input's colour",
             [better(res, "cycle-shapes", "full", "no-cycle", "colour_kept"),
              better(res, "cycle-shapes", "full", COLOUR_CHANCE, "colour_kept")]),
            ("The identity loss keeps colours",
             [better(res, "cycle-shapes", "full", "no-identity", "colour_kept"),
              better(res, "cycle-shapes", "full", COLOUR_CHANCE, "colour_kept")])],
        "sr": [
            # srresnet-more: the SRResNet trained as many steps as the srgan variants
            ("SRResNet has the higher PSNR",
             [better(res, "sr", "srresnet-more", "srgan", "psnr")]),
            ("SRGAN has the better perceptual quality (judge FID)",
             [better(res, "sr", "srgan", "srresnet-more", "fid")]),
            # srgan's content loss lives in the judge's features, where FID is measured: the
            # adversarial loss alone (pixel content) says whether the GAN itself helps
            ("The adversarial loss itself (SRGAN-MSE: pixel content + 1e-3 GAN) improves judge "
             "FID and sharpness over SRResNet",
             [better(res, "sr", "srgan-mse", "srresnet-more", "fid"),
              better(res, "sr", "srgan-mse", "srresnet-more", "sharpness")])],
    }


def _below_one(res: Results, task: str, variant: str, key: str) -> Part:
    """Sharpness ratio below 1: blurrier than the real targets (one-sample Welch test)."""
    values = _values(res, task, variant, key)
    if not values:
        return Part(None, f"{key}: {variant} not measured")
    text = f"sharpness of {variant} {fmt(mean_std(values)[0])} < 1 (the targets')"
    test = welch(values, 1.0)
    if test is None:
        return Part(None, f"{text} (one seed: no test)")
    t, df, p = test
    return Part(None if p >= ALPHA else t < 0,
                f"{text} (t = {fmt(t)}, df = {fmt(df)}, p = {p:.2g})")


NOTES = {
    "edges": "Sharpness: the Laplacian energy of the outputs over that of their targets (1: as "
             "sharp as the real items, below 1: blurrier). Variants: l1+gan (lambda 100, GAN "
             "weight 1), l1 (GAN weight 0), gan (L1 weight 0).",
    "labels": "Shape read: the analytic shapes reader's shape of the output equals the "
              "target's. The output colour is the generator's choice (the label map has none).",
    "grey": "Colour read: the reader's colour of the output equals the target's (the grey "
            "level alone leaves colours of equal luma ambiguous).",
    "cycle-shapes": "Target class: outputs of circles read as squares (and B to A: squares as "
                    "circles). Colour / position / size kept: the reader's colour / grid cell / "
                    "size of the output equals the input's (chance: 1/6, 1/9, 1/2); cycle L1 "
                    "is over whole images, mostly black background. With cycle_weight 0 the "
                    "identity loss (a fraction of it) is off too: that row is the paper's 'GAN "
                    "alone'.",
    "cycle-fashion": "Target class: the judge reads a translated Sneaker as an Ankle boot (B to "
                     "A: the reverse); FID against the test images of the target domain.",
    "sr": "bicubic: the low-resolution input upscaled bicubically (no model). srresnet: the "
          "generator trained on MSE alone (adv_weight 0); srgan: that seed's SRResNet, then "
          "trained with the judge-feature content loss (+ the pixel loss, as the preset) + 1e-3 "
          "adversarial loss; srgan-mse: the same start, pixel content + 1e-3 adversarial loss; "
          "srresnet-more: the same start, MSE alone: the SRResNet trained as many steps as "
          "the srgan variants, which the claims compare them with. "
          "Caveat: srgan's content loss is computed in the features of the judge that also "
          "measures FID, so its FID gain is partly by construction; srgan-mse's is not.",
}


def _table(task: str, variants: dict[str, list[dict[str, Any]]]) -> list[str]:
    keys = [k for k in TASKS[task][2]
            if any(k in r.get("metrics", {}) for rows in variants.values() for r in rows)]
    lines = ["| variant | seeds | steps | " + " | ".join(
                 f"{LABELS.get(k, k)} ({'lower' if k in LOWER else 'higher'} better)"
                 if k != "sharpness" else "sharpness (1 = targets')" for k in keys) + " |",
             "|---|---|---|" + "---|" * len(keys)]
    for variant, rows in variants.items():
        steps = sorted({int(r.get("steps", 0)) for r in rows})
        lines.append(f"| {variant} | {len(rows)} | {', '.join(map(str, steps)) or '-'} | " +
                     " | ".join(cell([float(r["metrics"][k]) for r in rows
                                       if k in r.get("metrics", {})]) for k in keys) + " |")
    return lines


def _budget(res: Results, protocol: dict[str, Any]) -> list[str]:
    rows = [r for variants in res.values() for runs in variants.values() for r in runs
            if "train_seconds" in r]  # trained runs (not the bicubic baseline)
    train = sum(float(r.get("train_seconds", 0)) for r in rows)
    ev = sum(float(r.get("eval_seconds", 0)) for r in rows)
    lines = [f"Budget: about {protocol.get('budget_minutes', '?')} wall minutes of this machine "
             f"for the whole benchmark (two runs side by side); measured: {len(rows)} runs, "
             f"{train / 60:.1f} min of training (CPU time of the process) + {ev / 60:.1f} min "
             "of evaluation. Steps per "
             "task (fixed, so a rerun anywhere trains the same runs):", "",
             "| task | preset | steps | batch | train CPU-s per run |", "|---|---|---|---|---|"]
    for task, spec in protocol.get("tasks", {}).items():
        seconds = [float(r.get("train_seconds", 0)) for runs in res.get(task, {}).values()
                   for r in runs]
        lines.append(f"| {task} | {spec['preset']} | {spec['steps']} | {spec['batch']} | "
                     f"{fmt(mean_std(seconds)[0]) if seconds else '-'} |")
    return lines


def write_image2image_page(page: Path, *, results: Results, protocol: dict[str, Any]) -> Path:
    """Write the page from the per-run rows (each with "metrics", "steps", "grid"...)."""
    assets = page.stem
    quick = " --quick" if protocol.get("quick") else ""
    workers = protocol.get("workers", 2)
    quick += f" --workers {workers}" if workers != (1 if quick else 2) else ""
    lines = ["# Image-to-image benchmark: Pix2Pix, CycleGAN, SRGAN", "",
             f"Command: `genlab bench image2image{quick} --seeds {protocol['seeds']} --out "
             f"{protocol.get('out', page)}` (raw numbers per run in `{assets}/raw/`; finished "
             "runs are kept, so a rerun trains only what is missing).", "",
             f"Machine: {protocol.get('machine', '?')}.", "", *_budget(results, protocol), "",
             "Protocol: " + ", ".join(f"{k} = {v}" for k, v in protocol.items()
                                      if k not in ("tasks", "machine", "out", "seeds")) + ".",
             "", f"Cells: mean ± standard deviation over seeds (the per-seed values in "
             f"parentheses). A claim is **supported** when every measured condition holds by "
             f"Welch's t-test at p < {ALPHA} (two-sided), **refuted** when any condition is "
             f"significant the other way, and **{NOT_RESOLVED}** otherwise (with one seed "
             "nothing is tested).", ""]
    if protocol.get("missing"):
        lines += [f"**Partial results**: not measured yet: {', '.join(protocol['missing'])}.",
                  ""]
    every = claims(results)
    for task, (title, columns, _) in TASKS.items():
        lines += [f"## {title}", ""]
        variants = results.get(task, {})
        if not variants:
            lines += ["Not measured yet.", ""]
            continue
        lines += [*_table(task, variants), "", NOTES[task], ""]
        for claim, parts in every.get(task, []):
            lines.append(f"- *{claim}* ({'; '.join(p.text for p in parts)}): "
                         f"**{verdict(parts)}**.")
        if task in every:
            lines.append("")
        grids = [(v, rows[0]["grid"]) for v, rows in variants.items()
                 if rows and rows[0].get("grid")]
        if grids:
            lines += [f"Examples (seed {variants[grids[0][0]][0].get('seed', 0)}; each row "
                      f"{columns}):", ""]
            lines += [f"![{task} {v}]({assets}/{grid}) {v}" for v, grid in grids] + [""]
    page.parent.mkdir(parents=True, exist_ok=True)
    write_text(page, "\n".join(lines))
    return page

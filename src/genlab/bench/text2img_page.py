"""The results page of `genlab bench text2img`, written from the benchmark's rows."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PIL import Image

from genlab.bench.text2img_approaches import ATTRS, CHANCE, Prompt

GENERATIVE = ("clip-vqgan", "clip-diffusion", "text-ldm")


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(rows: dict[str, dict[str, Any]], measured: tuple[str, ...]) -> list[str]:
    lines = ["| approach | how | object found | " + " | ".join(measured) +
             " | CLIP score | s / image |", "|---|---|---|" + "---|" * len(measured) + "---|---|"]
    for name, row in rows.items():
        if row.get("skipped"):
            lines.append(f"| {row['label']} | skipped: {row['skipped']} | - | " +
                         "- | " * len(measured) + "- | - |")
            continue
        chance = name == "random"  # the analytic rates, not this row's few random scenes
        accs = [_fmt(CHANCE[k] if chance else row.get(f"{k}_acc")) for k in measured]
        lines.append(f"| {row['label']} | {row['note']} | "
                     f"{'-' if chance else _fmt(row['found'])} | " + " | ".join(accs) +
                     f" | {_fmt(row['clip_score'])} | "
                     f"{'-' if chance else _fmt(row['seconds_per_image'], 2)} |")
    return lines


def _examples(out: Path, rows: dict[str, dict[str, Any]]) -> tuple[str | None, list[str]]:
    """Stack each row's strip of example images into one grid: a row per approach."""
    folder = out / "text2img-shapes"
    shown = [(name, row) for name, row in rows.items()  # random scenes match no prompt
             if name != "random" and row.get("grid") and (folder / row["grid"]).is_file()]
    if not shown:
        return None, []
    strips = [Image.open(folder / row["grid"]).convert("RGB") for _, row in shown]
    grid = Image.new("RGB", (max(s.width for s in strips), sum(s.height for s in strips)),
                     "white")
    top = 0
    for strip in strips:
        grid.paste(strip, (0, top))
        top += strip.height
    grid.save(folder / "examples.png")
    return "examples.png", [row["label"] for _, row in shown]


def _above_chance(acc: float, key: str, n: int) -> bool:
    """More than two binomial standard errors above the chance rate."""
    p = CHANCE[key]
    return acc > p + 2 * math.sqrt(p * (1 - p) / n)


def _verdict(rows: dict[str, dict[str, Any]], measured: tuple[str, ...], n: int) -> list[str]:
    made = {k: r for k, r in rows.items() if k in GENERATIVE and not r.get("skipped")}
    if not made:
        return ["- No approach was measured."]
    lines = []
    ceiling = rows.get("real", {})
    for key in measured:
        best = max(made, key=lambda name, key=key: made[name][f"{key}_acc"])
        parts = [f"{made[k]['label']} {_fmt(made[k][f'{key}_acc'], 2)}"
                 f"{'' if _above_chance(made[k][f'{key}_acc'], key, n) else ' (chance level)'}"
                 for k in made]
        lines.append(f"- **{key}**: {', '.join(parts)} (chance {CHANCE[key]:.2f}, reader "
                     f"ceiling {_fmt(ceiling.get(f'{key}_acc'), 2)})" +
                     (f"; best: {made[best]['label']}." if len(made) > 1 else "."))
    costs = sorted((r["seconds_per_image"], r["label"]) for r in made.values())
    lines.append("- **cost**: " + ", ".join(f"{label} {s:.2f} s" for s, label in costs) +
                 " per image" + (f"; the slowest takes {costs[-1][0] / costs[0][0]:.0f}x the "
                                 "fastest." if len(costs) > 1 and costs[0][0] > 0 else "."))
    lines.append("- **CLIP score** is measured with the CLIP that steers CLIP + VQGAN and "
                 "CLIP-guided diffusion, so those rows optimise it directly and it flatters "
                 "them; the reader's accuracies are the independent measure. Compare CLIP "
                 f"scores with the real row ({_fmt(ceiling.get('clip_score'), 2)}) and a "
                 f"random scene ({_fmt(rows.get('random', {}).get('clip_score'), 2)}).")
    lines.append(f"- A row is marked *chance level* when its accuracy is within two binomial "
                 f"standard errors of guessing at n = {n} (e.g. colour: below "
                 f"{CHANCE['colour'] + 2 * math.sqrt(CHANCE['colour'] * 5 / 6 / n):.2f}).")
    return lines


OPTIONS = {"clip-vqgan": (("vqgan", "--vqgan"), ("cutouts", "--cutouts"),
                          ("init", "--vqgan-init"), ("init_weight", "--init-weight")),
           "clip-diffusion": (("diffusion", "--diffusion"), ("guide_scale", "--guide-scale")),
           "text-ldm": (("ldm", "--ldm"), ("cfg", "--cfg"))}


def _option_value(value: Any) -> str:
    if isinstance(value, dict):  # a model: its run folder or file
        return str(value["path"])
    return f"{value:g}" if isinstance(value, float) else str(value)


def _command(info: dict[str, Any], rows: dict[str, dict[str, Any]]) -> str:
    """The command that measures these rows again: every option a measured row used."""
    args = [f"--clip {info['clip']['path']}"]
    steps = {}
    for name, options in OPTIONS.items():
        models = rows.get(name, {}).get("models", {})
        for key, flag in options:
            if key in models:
                args.append(f"{flag} {_option_value(models[key])}")
        if "steps" in models:
            steps[name] = models["steps"]
    args.append(f"--prompts {info['n']} --seed {info['seed']} --form {info['form']}")
    others = {v for k, v in steps.items() if k != "clip-vqgan"}
    if len(others) == 1:  # the diffusion rows share --steps; otherwise see each row's note
        args.append(f"--steps {others.pop()}")
    if "clip-vqgan" in steps:
        args.append(f"--vqgan-steps {steps['clip-vqgan']}")
    return "genlab bench text2img " + " ".join(args)


def write_text2img_page(out: Path, *, rows: dict[str, dict[str, Any]], info: dict[str, Any],
                        prompts: list[Prompt]) -> Path:
    measured = tuple(k for k in ATTRS if any(r.get(f"{k}_acc") is not None
                                             for r in rows.values()))
    n = info["n"]
    lines = ["# Text to image on shapes prompts", "",
             f"Command: `{_command(info, rows)}` (raw rows, one per approach, with every "
             "image's reading, in `text2img-shapes/raw/`).", "",
             f"Each approach makes one image for each of {n} prompts; the analytic shapes reader "
             "(`genlab.metrics.shapes_reader`, no weights) reads the dominant object's colour, "
             "shape, size and position back from the pixels, and an attribute counts only when "
             "the prompt names it. CLIP score: cosine similarity between the image's and the "
             "prompt's embeddings under the benchmark's CLIP.", "", *_table(rows, measured), "",
             "## What the numbers say", "", *_verdict(rows, measured, n), "", "## Protocol", "",
             f"- Prompts: {n} in the *{info['form']}* form ('a large red circle at the top "
             "left' / 'a red circle'), a seeded shuffle (seed "
             f"{info['seed']}) of every attribute combination of that form, repeated in order "
             "when there are more prompts than combinations. Shapes captions cover every "
             "combination in training, so these are held out only as scenes and seeds: every "
             "image here is rendered or generated fresh, none comes from the training set.",
             f"- Image seeds: {info['seed']} x 100003 + prompt index, the same for every "
             "approach. The real row renders the prompt's attributes (size and position drawn "
             "from the seed when the prompt leaves them out); the random row renders a random "
             "scene for its CLIP score and shows analytic chance rates.",
             f"- Benchmark CLIP: `{info['clip']['path']}` "
             f"({info['clip'].get('checkpoint', 'weights file')}, sha256 {info['judge']}).",
             f"- Machine: {info['machine']}; device {info['device']}, {info['threads']} "
             "thread(s). Seconds per image: " + ("CPU seconds of this process (fair when other "
             "work shares the machine)" if info.get("clock") == "cpu" else "wall clock") +
             " to generate one image, models loaded.",
             ]
    for row in rows.values():
        if row.get("models") and not row.get("skipped"):
            models = ", ".join(f"{k} = {v['path'] if isinstance(v, dict) else v}"
                               for k, v in row["models"].items())
            lines.append(f"- {row['label']}: {row['note']}; {models}.")
    grid, labels = _examples(out, rows)
    if grid:
        lines += ["", "## Examples", "", f"![examples](text2img-shapes/{grid})", "",
                  "Rows, top to bottom: " + ", ".join(labels) + ". Columns, left to right: " +
                  ", ".join(f"'{p.text}'" for p in prompts) + "."]
    page = out / "text2img-shapes.md"
    page.write_text("\n".join(lines) + "\n")
    return page

"""The results page of `genlab bench text2img`, written from the benchmark's rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image

from genlab.bench.text2img_approaches import ATTRS, CHANCE
from genlab.bench.verdicts import (
    ALPHA,
    NOT_RESOLVED,
    compare_hits_paired,
    compare_rate,
    verdict,
)
from genlab.errors import ConfigError

GENERATIVE = ("clip-vqgan", "clip-diffusion", "text-ldm")
ROWS = ("real", *GENERATIVE, "random")  # the page's order
EXAMPLES = 4  # prompts shown in the example grid


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


def _hits(row: dict[str, Any], key: str) -> list[bool]:
    """Per prompt, whether the reader found the attribute the prompt names (prompt order)."""
    return [bool(item[key]) for item in row.get("items", []) if key in item]


CHANCE_WORDS = {True: "above chance", False: "below chance",
                None: f"difference from chance {NOT_RESOLVED}"}


def _against_chance(row: dict[str, Any], key: str) -> str:
    part = compare_rate(_hits(row, key), CHANCE[key], lower=False, text=_fmt(row[f"{key}_acc"], 2))
    return f"{row['label']} {part.text}: {CHANCE_WORDS[part.holds]}"


def _best(made: dict[str, dict[str, Any]], key: str) -> str:
    """The best approach on `key`, and whether its lead over the runner-up is resolved on these
    prompts: the exact McNemar test (every approach answered the same prompts, same seeds)."""
    ranked = sorted(made, key=lambda name: -made[name][f"{key}_acc"])
    best, second = made[ranked[0]], made[ranked[1]]
    part = compare_hits_paired(_hits(best, key), _hits(second, key), unit="prompts", text=(
        f"{_fmt(best[f'{key}_acc'], 2)} against the runner-up {second['label']} "
        f"{_fmt(second[f'{key}_acc'], 2)}"))
    return f"; *best: {best['label']}*, {part.text}: **{verdict([part])}**."


def _verdict(rows: dict[str, dict[str, Any]], measured: tuple[str, ...], n: int,
             machine: str) -> list[str]:
    made = {k: r for k, r in rows.items() if k in GENERATIVE and not r.get("skipped")}
    if not made:
        return ["- No approach was measured."]
    lines = [f"Accuracies are shares of the n = {n} prompts. Each approach against chance: the "
             "exact two-sided binomial test of its count at the chance rate. The best approach "
             "against the runner-up: the exact McNemar test on the prompts only one of the two "
             "got right (both drew the same prompts with the same seeds). A difference counts "
             f"(*above chance*, **supported**) at p < {ALPHA}, the other way round **refuted**, "
             f"and otherwise it is **{NOT_RESOLVED}**.", ""]
    ceiling = rows.get("real", {})
    for key in measured:
        lines.append(f"- **{key}**: " + "; ".join(_against_chance(made[k], key) for k in made) +
                     f" (chance {CHANCE[key]:.2f}, reader ceiling "
                     f"{_fmt(ceiling.get(f'{key}_acc'), 2)})" +
                     (_best(made, key) if len(made) > 1 else "."))
    costs = sorted((r["seconds_per_image"], r["label"]) for r in made.values())
    lines.append("- **cost** (one run of each approach: the mean over its n images, measured "
                 f"once on {machine}, not tested): " +
                 ", ".join(f"{label} {s:.2f} s" for s, label in costs) +
                 " per image" + (f"; the slowest takes {costs[-1][0] / costs[0][0]:.0f}x the "
                                 "fastest." if len(costs) > 1 and costs[0][0] > 0 else "."))
    lines.append("- **CLIP score** is measured with the CLIP that steers CLIP + VQGAN and "
                 "CLIP-guided diffusion, so those rows optimise it directly and it flatters "
                 "them; the reader's accuracies are the independent measure. Compare CLIP "
                 f"scores with the real row ({_fmt(ceiling.get('clip_score'), 2)}) and a "
                 f"random scene ({_fmt(rows.get('random', {}).get('clip_score'), 2)}).")
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
                        examples: list[str]) -> Path:
    """The page of `rows` (approach -> raw row, or {"label", "skipped"}); `examples`: the
    texts of the prompts in the example grid's columns."""
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
             "## What the numbers say", "", *_verdict(rows, measured, n, info["machine"]), "",
             "## Protocol", "",
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
                  ", ".join(f"'{text}'" for text in examples) + "."]
    page = out / "text2img-shapes.md"
    page.write_text("\n".join(lines) + "\n")
    return page


def rewrite_text2img_page(out: Path) -> Path:
    """Write the page again from its committed files alone (raw/protocol.json and each
    approach's raw row measured on the same prompts by the same CLIP): nothing is generated."""
    raw = out / "text2img-shapes" / "raw"
    if not (raw / "protocol.json").is_file():
        raise ConfigError(f"{raw / 'protocol.json'} not found: run `genlab bench text2img` first")
    info = json.loads((raw / "protocol.json").read_text())
    prompts = info.pop("prompts")
    rows = {}
    for name in ROWS:
        path = raw / f"{name}.json"
        row = json.loads(path.read_text()) if path.is_file() else {}
        if row.get("prompts") == prompts and row.get("judge") == info["judge"]:
            rows[name] = row
    return write_text2img_page(out, rows=rows, info=info, examples=prompts[:EXAMPLES])

"""The text-to-image page written from raw rows alone (`rewrite_text2img_page`): against
chance by the exact binomial test and best against runner-up by the exact McNemar test at
the page's n, with "not resolved at this n" where n cannot tell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genlab.bench.text2img_page import rewrite_text2img_page
from genlab.bench.verdicts import NOT_RESOLVED
from genlab.errors import ConfigError

N = 40
PROMPTS = [f"prompt {i}" for i in range(N)]


def _row(name: str, shape: list[bool], seconds: float) -> dict:
    items = [{"prompt": p, "found": True, "clip_score": 0.5, "shape": hit, "seconds": seconds}
             for p, hit in zip(PROMPTS, shape, strict=True)]
    return {"approach": name, "label": name.upper(), "note": "made up", "found": 1.0,
            "shape_acc": sum(shape) / N, "clip_score": 0.5, "seconds_per_image": seconds,
            "judge": "clip0", "prompts": PROMPTS, "items": items}


def _write(out: Path, rows: dict[str, dict]) -> None:
    raw = out / "text2img-shapes" / "raw"
    raw.mkdir(parents=True)
    for name, row in rows.items():
        (raw / f"{name}.json").write_text(json.dumps(row))
    (raw / "protocol.json").write_text(json.dumps({
        "n": N, "seed": 0, "form": "full", "clip": {"path": "runs/clip"}, "judge": "clip0",
        "device": "cpu", "clock": "cpu", "threads": 1, "machine": "test box",
        "prompts": PROMPTS}))


def _line(page: str, start: str) -> str:
    return next(line for line in page.splitlines() if line.startswith(start))


def test_best_and_chance_are_decided_at_the_pages_n(tmp_path: Path) -> None:
    _write(tmp_path, {
        "text-ldm": _row("text-ldm", [True] * N, 3.0),
        "clip-vqgan": _row("clip-vqgan", [False] * 10 + [True] * 30, 20.0),  # 10 vs 0 prompts
        "clip-diffusion": _row("clip-diffusion", [True] * 16 + [False] * 24, 4.0),  # 0.4 ~ 1/3
        "other": _row("other", [True] * N, 1.0),  # not an approach of the page: ignored
    })
    page = rewrite_text2img_page(tmp_path).read_text()
    shape = _line(page, "- **shape**")
    assert "CLIP-VQGAN 0.75 (30/40, exact binomial p = " in shape
    assert "CLIP-DIFFUSION 0.40 (16/40, exact binomial p = 0.4): difference from chance " \
           f"{NOT_RESOLVED}" in shape
    # 10 prompts right only for the LDM, none only for VQGAN: p = 2 / 2^10
    assert shape.endswith("*best: TEXT-LDM*, 1.00 against the runner-up CLIP-VQGAN 0.75 (10 of "
                          "40 prompts right only for the first, 0 only for the second: exact "
                          "McNemar p = 0.002): **supported**.")
    cost = _line(page, "- **cost**")
    assert "one run of each approach" in cost and "test box" in cost and "not tested" in cost
    assert "TEXT-LDM 3.00 s, CLIP-DIFFUSION 4.00 s, CLIP-VQGAN 20.00 s" in cost
    assert "OTHER" not in page
    assert "exact McNemar test" in page and f"**{NOT_RESOLVED}**" in page  # the rule


def test_a_lead_within_noise_is_not_resolved(tmp_path: Path) -> None:
    _write(tmp_path, {"text-ldm": _row("text-ldm", [True] * 33 + [False] * 7, 3.0),
                      "clip-vqgan": _row("clip-vqgan", [False] * 3 + [True] * 30 + [False] * 7,
                                         20.0)})  # 3 against 0 prompts: p = 0.25
    shape = _line(rewrite_text2img_page(tmp_path).read_text(), "- **shape**")
    assert shape.endswith(f"exact McNemar p = 0.25): **{NOT_RESOLVED}**.")


def test_rows_of_other_prompts_are_left_out_and_a_missing_protocol_is_an_error(
        tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="protocol.json not found"):
        rewrite_text2img_page(tmp_path)
    stale = {**_row("clip-vqgan", [True] * N, 20.0), "prompts": PROMPTS[::-1]}
    _write(tmp_path, {"text-ldm": _row("text-ldm", [True] * N, 3.0), "clip-vqgan": stale})
    page = rewrite_text2img_page(tmp_path).read_text()
    assert "CLIP-VQGAN" not in page and "*best" not in page  # one approach: no ranking

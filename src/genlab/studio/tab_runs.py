"""The Runs tab: a run's facts, its loss curves (re-read on a timer while it trains), the
sample grids the trainer wrote over time and its evaluations; read only, except the Evaluate
button: `genlab eval` on the run (studio.evaluate), its parts shown as they run, then the new
report."""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import takewhile
from typing import Any

import gradio as gr
import pandas as pd
from PIL import Image

from genlab.errors import GenlabError
from genlab.studio.catalog import evaluations, loss_rows, run_view, sample_grids, training_now
from genlab.studio.engine import Studio
from genlab.studio.evaluate import (
    N_DEFAULT,
    N_MAX,
    N_MIN,
    EvalRequest,
    Evaluated,
    evaluate_live,
    progress_markdown,
)

REFRESH_S = 5.0  # how often the open run's files are read again
HEADLINE = ("fid", "kid", "precision", "recall", "coverage", "l1", "psnr", "ssim")


def _open(path: Any) -> Image.Image:
    with Image.open(path) as image:
        return image.copy()  # served from gradio's cache, never from the run folder


def _losses(studio: Studio, name: str) -> pd.DataFrame:
    rows = loss_rows(studio.run_dir(name))
    return pd.DataFrame(rows or [], columns=["step", "value", "series"])


def _summary(studio: Studio, name: str) -> str:
    path = studio.run_dir(name)
    text = run_view(path, name).markdown()
    return text + ("  \n**training now**: the page re-reads its files every "
                   f"{REFRESH_S:g} s" if training_now(path) else "")


def _evaluation(studio: Studio, name: str,
                first: str | None = None) -> tuple[str, Image.Image | None]:
    """The newest evaluation, or the one in eval/`first` (just written), and its samples."""
    found = evaluations(studio.run_dir(name))
    if not found:
        return (f"No evaluation yet: **Evaluate** above, or `genlab eval "
                f"{studio.run_dir(name)} --n {N_DEFAULT}`, writes eval.json and report.md "
                "here."), None
    found.sort(key=lambda f: f[0] != first)  # stable: the rest stay newest first
    sub, _, report, samples = found[0]
    more = f"  \n(also: {', '.join(f[0] for f in found[1:])})" if len(found) > 1 else ""
    return f"### eval/{sub}{more}\n\n{_without_images(report)}", \
        (_open(samples) if samples else None)


def _level(line: str) -> int:
    """A markdown heading's level (0: not a heading)."""
    return len(line) - len(line.lstrip("#"))


def _without_images(report: str) -> str:
    """report.md less its images (files beside it, which the page does not serve: the
    samples are shown apart) and less the headings left with nothing under them."""
    lines = [line for line in report.splitlines() if not line.startswith("![")]
    kept = []
    for i, line in enumerate(lines):
        if _level(line):
            under = takewhile(lambda x, top=_level(line): not 0 < _level(x) <= top,
                              lines[i + 1:])
            if not any(x.strip() for x in under):
                continue
        kept.append(line)
    return "\n".join(kept).strip()


def _headline(numbers: dict[str, Any]) -> str:
    """A few numbers of an eval.json (a generative run's, or an image-to-image run's)."""
    found = numbers.get("generated") or numbers.get("results") or {}
    return " · ".join(f"{key} {found[key]:.4g}" for key in HEADLINE
                      if isinstance(found.get(key), int | float))


def evaluate(studio: Studio, name: str, n: Any, seed: Any) -> Iterator[tuple[Any, ...]]:
    """The Evaluate button: the parts as they run, then the new report and samples (status,
    report, samples, command)."""
    parts: list[tuple[str, float]] = []
    try:
        for item in evaluate_live(studio, EvalRequest(name, n, seed)):
            if isinstance(item, Evaluated):
                report, samples = _evaluation(studio, name, item.folder)
                yield (f"{progress_markdown(parts, time.monotonic(), done=True)}\n\n"
                       f"**done** in {item.seconds:.1f} s: eval/{item.folder}: "
                       f"{_headline(item.results)}", report, samples, item.command)
                return
            if item is not None:
                parts.append((item, time.monotonic()))
            yield progress_markdown(parts, time.monotonic()), gr.skip(), gr.skip(), gr.skip()
    except GenlabError as error:
        yield f"**refused**: {error}", gr.skip(), gr.skip(), ""


def show_run(studio: Studio, name: str) -> tuple[Any, ...]:
    """Everything the tab shows of a run; on a refused name, the message and empty views."""
    try:
        grids = [(_open(p), caption) for p, caption in sample_grids(studio.run_dir(name))]
        report, eval_samples = _evaluation(studio, name)
        return _summary(studio, name), _losses(studio, name), grids, report, eval_samples
    except GenlabError as error:
        return f"**refused**: {error}", None, [], "", None


def refresh(studio: Studio, name: str) -> tuple[Any, ...]:
    """What the timer re-reads: the facts and the losses (a training run's move)."""
    try:
        return _summary(studio, name), _losses(studio, name)
    except GenlabError:
        return gr.skip(), gr.skip()


def build(studio: Studio, run: gr.Dropdown, app: gr.Blocks) -> None:
    """The tab's components and events, inside the caller's `gr.Tab`."""
    summary = gr.Markdown(elem_id="run-summary")
    losses = gr.LinePlot(x="step", y="value", color="series", title="losses (metrics.jsonl)",
                         height=280, elem_id="run-losses")
    grids = gr.Gallery(label="sample grids over training", columns=4, height=320,
                       elem_id="run-grids", interactive=False, format="png",
                       elem_classes="pixels")
    with gr.Row(equal_height=True):  # evaluate: above the report it writes
        n = gr.Number(value=N_DEFAULT, precision=0, label=f"images to generate and measure "
                      f"({N_MIN} to {N_MAX:,})", elem_id="eval-n")
        seed = gr.Number(value=0, precision=0, label="seed", elem_id="eval-seed")
        gr.Markdown("feature space: the data's **judge** (Inception: `genlab eval "
                    "--features inception` on the command line)")
        go = gr.Button("Evaluate", variant="primary", elem_id="eval-button")
    status = gr.Markdown(elem_id="eval-status")
    command = gr.Textbox(label="the same on the command line", interactive=False,
                         elem_id="eval-command")
    with gr.Row():
        report = gr.Markdown(elem_id="run-report")
        eval_samples = gr.Image(label="evaluated samples", type="pil", interactive=False,
                                height=260, format="png", elem_id="run-eval-samples",
                                elem_classes="pixels")
    outputs = [summary, losses, grids, report, eval_samples]
    for event in (run.change, app.load):
        event(lambda name: show_run(studio, name), run, outputs, show_progress="hidden")
    run.change(lambda: ("", ""), None, [status, command], show_progress="hidden")

    def on_evaluate(name: str, n: Any, seed: Any) -> Iterator[tuple[Any, ...]]:
        yield from evaluate(studio, name, n, seed)  # a generator: each yield shows at once

    go.click(on_evaluate, [run, n, seed], [status, report, eval_samples, command],
             show_progress="hidden", concurrency_limit=2, concurrency_id="evaluate")
    timer = gr.Timer(REFRESH_S)
    timer.tick(lambda name: refresh(studio, name), run, [summary, losses],
               show_progress="hidden")

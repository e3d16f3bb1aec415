"""The Runs tab: a run's facts, its loss curves (re-read on a timer while it trains), the
sample grids the trainer wrote over time and its evaluations. Read only."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd
from PIL import Image

from genlab.errors import GenlabError
from genlab.studio.catalog import evaluations, loss_rows, run_view, sample_grids, training_now
from genlab.studio.engine import Studio

REFRESH_S = 5.0  # how often the open run's files are read again


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


def _evaluation(studio: Studio, name: str) -> tuple[str, Image.Image | None]:
    found = evaluations(studio.run_dir(name))
    if not found:
        return (f"No evaluation yet: `genlab eval {studio.run_dir(name)} --n 1000` writes "
                "eval.json and report.md here."), None
    sub, _, report, samples = found[0]
    more = f"  \n(also: {', '.join(f[0] for f in found[1:])})" if len(found) > 1 else ""
    return f"### eval/{sub}{more}\n\n{report}", (_open(samples) if samples else None)


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
    with gr.Row():
        report = gr.Markdown(elem_id="run-report")
        eval_samples = gr.Image(label="evaluated samples", type="pil", interactive=False,
                                height=260, format="png", elem_id="run-eval-samples",
                                elem_classes="pixels")
    outputs = [summary, losses, grids, report, eval_samples]
    for event in (run.change, app.load):
        event(lambda name: show_run(studio, name), run, outputs, show_progress="hidden")
    timer = gr.Timer(REFRESH_S)
    timer.tick(lambda name: refresh(studio, name), run, [summary, losses],
               show_progress="hidden")

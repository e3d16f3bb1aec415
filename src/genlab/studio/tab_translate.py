"""The Translate tab, for image-to-image runs (any method with `translates`): upload an
image, pick a direction where the run learns two, and see the input beside its translation
as `genlab translate --grid` writes it, with the command."""

from __future__ import annotations

from typing import Any

import gradio as gr

from genlab.errors import GenlabError
from genlab.studio.engine import Studio
from genlab.studio.translate import TranslateForm, translate


def form_updates(studio: Studio, name: str) -> tuple[Any, ...]:
    """The run's directions (shown when it has two), or one line on why it cannot translate."""
    try:
        form = TranslateForm.of(studio.loaded(name))
    except GenlabError as error:
        return f"**refused**: {error}", gr.update(visible=False), gr.update(interactive=False)
    direction = gr.update(choices=list(form.directions),
                          value=form.directions[0] if form.directions else None,
                          visible=len(form.directions) > 1)
    note = "" if form.translates else f"**{form.why_not}**"
    return note, direction, gr.update(interactive=form.translates)


def run_translate(studio: Studio, name: str, upload: Any, direction: Any) -> tuple[Any, ...]:
    """One click: status, the input | output grid, the output alone, the command."""
    try:
        done = translate(studio, name, upload, direction)
    except GenlabError as error:
        return f"**refused**: {error}", None, None, ""
    return "; ".join(done.notes), done.grid, done.output, done.command


def build(studio: Studio, run: gr.Dropdown, app: gr.Blocks) -> None:
    """The tab's components and events, inside the caller's `gr.Tab`."""
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            upload = gr.File(label="image to translate (PNG or JPEG)", type="filepath",
                             elem_id="translate-upload")
            direction = gr.Radio(["AtoB"], value="AtoB", label="direction", visible=False,
                                 elem_id="translate-direction")
            go = gr.Button("Translate", variant="primary", elem_id="translate-button")
        with gr.Column(scale=2):
            status = gr.Markdown(elem_id="translate-status")
            grid = gr.Image(label="input | output (as genlab translate --grid writes it)",
                            type="pil", interactive=False, elem_id="translate-grid",
                            height=300, format="png", elem_classes="pixels")
            output = gr.Image(label="the output alone", type="pil", interactive=False,
                              elem_id="translate-output", height=160, format="png",
                              elem_classes="pixels")
            command = gr.Textbox(label="the same on the command line", interactive=False,
                                 elem_id="translate-command")
    for event in (run.change, app.load):
        event(lambda name: form_updates(studio, name), run, [status, direction, go],
              show_progress="hidden")
    go.click(lambda *a: run_translate(studio, *a), [run, upload, direction],
             [status, grid, output, command], concurrency_limit=2,
             concurrency_id="generate")

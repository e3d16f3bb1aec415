"""The Edit tab on a diffusion run, in three parts: img2img (SDEdit: an uploaded image noised
`strength` of the way and denoised back), inpainting with a mask painted in the browser
(tab_inpaint) and editing by text (tab_text_edit). Each runs the function its `genlab`
command calls (studio/edit.py) and shows that command; a bad value or upload gives a one-line
message."""

from __future__ import annotations

from typing import Any

import gradio as gr

from genlab.errors import GenlabError
from genlab.sampling import SAMPLERS
from genlab.studio import edit as work
from genlab.studio import tab_inpaint, tab_text_edit
from genlab.studio.edit import NO_CLASS
from genlab.studio.engine import Studio
from genlab.studio.guard import StudioError
from genlab.studio.tab_widgets import RUN_DEFAULT, count_slider, seed_box


def form_updates(studio: Studio, name: str, no_class: str, pick_first: bool
                 ) -> tuple[Any, ...]:
    """A part's note (why the run cannot be edited), its class list (`no_class` first;
    `pick_first`: the first class picked) and whether its button works."""
    try:
        work.diffusion_run(studio, name)
        classes = studio.form(name).classes
    except StudioError as error:
        return f"**{error}**", gr.update(visible=False), gr.update(interactive=False)
    except GenlabError as error:
        return f"**refused**: {error}", gr.update(visible=False), gr.update(interactive=False)
    picked = classes[0] if classes and pick_first else no_class
    return ("", gr.update(choices=[no_class, *classes], value=picked, visible=bool(classes)),
            gr.update(interactive=True))


def edit(studio: Studio, name: str, image: Any, strength: Any, seed: Any, n: Any, label: Any,
         sampler: Any, steps: Any) -> tuple[Any, ...]:
    """One img2img click: the edited image (a grid when n > 1), the command, a status line."""
    try:
        picture, command, notes = work.img2img(
            studio, name, image, strength=strength, seed=seed, n=n, label=label,
            sampler=None if sampler in (None, RUN_DEFAULT) else sampler,
            steps=steps or None)  # an emptied number box sends 0: the run's steps
    except GenlabError as error:
        return f"**refused**: {error}", None, ""
    return "; ".join(notes), picture, command


def build_img2img(studio: Studio, run: gr.Dropdown) -> tuple[Any, ...]:
    """The img2img part; returns its status, class picker and button."""
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            upload = gr.File(label="starting image (PNG or JPEG at the model's size)",
                             type="filepath", elem_id="edit-upload")
            strength = gr.Slider(0.0, 1.0, value=0.6, step=0.05,
                                 label="strength (0: the input unchanged ... 1: ignore it)",
                                 elem_id="edit-strength")
            seed = seed_box("edit-seed")
            n = count_slider("edit-n")
            label = gr.Dropdown([NO_CLASS], value=NO_CLASS, label="class",
                                elem_id="edit-class")
            sampler = gr.Dropdown([RUN_DEFAULT, *SAMPLERS], value=RUN_DEFAULT,
                                  label="sampler", elem_id="edit-sampler")
            steps = gr.Number(value=None, label="steps (empty or 0: the run's)", precision=0,
                              elem_id="edit-steps")
            go = gr.Button("img2img", variant="primary", elem_id="edit-button")
        with gr.Column(scale=2):
            status = gr.Markdown(elem_id="edit-status")
            result = gr.Image(label="result (as genlab img2img writes it)", type="pil",
                              interactive=False, elem_id="edit-result", height=360,
                              format="png", elem_classes="pixels")
            command = gr.Textbox(label="the same on the command line", interactive=False,
                                 elem_id="edit-command")
    go.click(lambda *a: edit(studio, *a), [run, upload, strength, seed, n, label, sampler,
                                           steps],
             [status, result, command], concurrency_limit=2, concurrency_id="generate")
    return status, label, go


def build(studio: Studio, run: gr.Dropdown, app: gr.Blocks) -> None:
    """The tab's parts, inside the caller's `gr.Tab`; each part's controls follow the run."""
    parts = []
    with gr.Tabs():
        with gr.Tab("img2img", id="edit-img2img"):
            parts.append((build_img2img(studio, run), NO_CLASS, True))
        with gr.Tab("inpaint", id="edit-inpaint"):
            parts.append((tab_inpaint.build(studio, run), NO_CLASS, True))
        with gr.Tab("by text", id="edit-text"):
            parts.append((tab_text_edit.build(studio, run, app), tab_text_edit.FROM_PROMPT,
                          False))
    for outputs, no_class, pick_first in parts:
        def update(name: str, no_class: str = no_class, pick_first: bool = pick_first
                   ) -> tuple[Any, ...]:
            return form_updates(studio, name, no_class, pick_first)

        for event in (run.change, app.load):
            event(update, run, list(outputs), show_progress="hidden")

"""The Edit tab: img2img (SDEdit) on a diffusion run. An uploaded image is noised `strength`
of the way and denoised back by the same function `genlab img2img` calls; the result is the
PNG that command writes, and the command is shown. A file that is not an image (or not at
the model's size) gives a one-line message."""

from __future__ import annotations

from typing import Any

import gradio as gr

from genlab.errors import GenlabError
from genlab.sampling import SAMPLERS
from genlab.studio.engine import Studio
from genlab.studio.guard import N_MAX, SEED_MAX

NO_CLASS = "none"
RUN_DEFAULT = "the run's"


def form_updates(studio: Studio, name: str) -> tuple[Any, ...]:
    """The class list of the run, and a note when its method does not denoise."""
    try:
        form = studio.form(name)
    except GenlabError as error:
        return f"**refused**: {error}", gr.update(visible=False), gr.update(interactive=False)
    note = ("" if form.options is not None else
            f"**img2img needs a diffusion run (ddpm or ldm); {name} is not one**")
    classes = gr.update(choices=[NO_CLASS, *form.classes],
                        value=form.classes[0] if form.classes else NO_CLASS,
                        visible=bool(form.classes))
    return note, classes, gr.update(interactive=form.options is not None)


def edit(studio: Studio, name: str, image: Any, strength: Any, seed: Any, n: Any, label: Any,
         sampler: Any, steps: Any) -> tuple[Any, ...]:
    """One click: the edited image (a grid when n > 1), the command, and a status line."""
    try:
        picture, command, notes = studio.img2img(
            name, image, strength=strength, seed=seed, n=n,
            label=None if label in (None, NO_CLASS) else label,
            sampler=None if sampler in (None, RUN_DEFAULT) else sampler,
            steps=steps or None)  # an emptied number box sends 0: the run's steps
    except GenlabError as error:
        return f"**refused**: {error}", None, ""
    return "; ".join(notes), picture, command


def build(studio: Studio, run: gr.Dropdown, app: gr.Blocks) -> None:
    """The tab's components and events, inside the caller's `gr.Tab`."""
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            upload = gr.File(label="starting image (PNG or JPEG at the model's size)",
                             type="filepath", elem_id="edit-upload")
            strength = gr.Slider(0.0, 1.0, value=0.6, step=0.05,
                                 label="strength (0: the input unchanged ... 1: ignore it)",
                                 elem_id="edit-strength")
            seed = gr.Number(value=0, label="seed", precision=0, minimum=0, maximum=SEED_MAX,
                             elem_id="edit-seed")
            n = gr.Slider(1, N_MAX, value=1, step=1, label="versions", elem_id="edit-n")
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
    for event in (run.change, app.load):
        event(lambda name: form_updates(studio, name), run, [status, label, go],
              show_progress="hidden")
    go.click(lambda *a: edit(studio, *a), [run, upload, strength, seed, n, label, sampler,
                                           steps],
             [status, result, command], concurrency_limit=2, concurrency_id="generate")

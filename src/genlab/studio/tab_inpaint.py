"""The Edit tab's inpainting part: upload an image into the editor, paint the part to redraw
with the brush, and RePaint regenerates it (`genlab inpaint`, every other pixel kept). The
result, the mask used and the command (over the studio's PNG copies of image and mask) are
shown."""

from __future__ import annotations

from typing import Any

import gradio as gr

from genlab.errors import GenlabError
from genlab.studio import edit as work
from genlab.studio.edit import JUMPS_MAX, NO_CLASS, REPAINT_DEFAULTS
from genlab.studio.engine import Studio
from genlab.studio.guard import STEPS_MAX
from genlab.studio.tab_widgets import count_slider, seed_box


def inpaint(studio: Studio, name: str, editor: Any, steps: Any, jumps: Any, jump_length: Any,
            seed: Any, n: Any, label: Any, cfg: Any) -> tuple[Any, ...]:
    """One click: status, result, the mask used and the command."""
    editor = editor or {}
    try:
        done = work.inpaint(studio, name, editor.get("background"), editor.get("layers", []),
                            steps=steps, jumps=jumps, jump_length=jump_length, seed=seed,
                            n=n, label=label, cfg=cfg or None)  # an emptied box sends 0
    except GenlabError as error:
        return f"**refused**: {error}", None, None, ""
    return "; ".join(done.notes), done.picture, done.extra[0], done.command


def build(studio: Studio, run: gr.Dropdown) -> tuple[Any, ...]:
    """The part's components and events; returns its status, class picker and button."""
    with gr.Row():
        with gr.Column(scale=2):
            editor = gr.ImageEditor(
                label="image (PNG or JPEG at the model's size): upload it, then paint the "
                      "part to redraw", type="filepath", format="png", sources=("upload",),
                brush=gr.Brush(colors=["#ff00ff"], color_mode="fixed", default_size=2),
                layers=False, transforms=(), height=420, elem_id="inpaint-editor",
                elem_classes="pixels")
        with gr.Column(scale=1, min_width=240):
            steps = gr.Number(value=REPAINT_DEFAULTS["steps"], precision=0, minimum=1,
                              maximum=STEPS_MAX, label="steps (of the training timesteps)",
                              elem_id="inpaint-steps")
            jumps = gr.Number(value=REPAINT_DEFAULTS["jumps"], precision=0, minimum=1,
                              maximum=JUMPS_MAX, label="jumps (resamplings per span; 1: none)",
                              elem_id="inpaint-jumps")
            jump_length = gr.Number(value=REPAINT_DEFAULTS["jump_length"], precision=0,
                                    minimum=1, maximum=STEPS_MAX, label="jump length (steps)",
                                    elem_id="inpaint-jump-length")
            seed = seed_box("inpaint-seed")
            n = count_slider("inpaint-n")
            label = gr.Dropdown([NO_CLASS], value=NO_CLASS, label="class",
                                elem_id="inpaint-class")
            cfg = gr.Number(value=None, label="CFG scale (empty or 0: the run's)",
                            elem_id="inpaint-cfg")
            go = gr.Button("inpaint", variant="primary", elem_id="inpaint-button")
    status = gr.Markdown(elem_id="inpaint-status")
    with gr.Row():
        result = gr.Image(label="result (as genlab inpaint writes it)", type="pil",
                          interactive=False, elem_id="inpaint-result", height=300,
                          format="png", elem_classes="pixels")
        mask = gr.Image(label="the mask used (white: redrawn)", type="pil", interactive=False,
                        elem_id="inpaint-mask", height=300, format="png",
                        elem_classes="pixels")
    command = gr.Textbox(label="the same on the command line (the studio's copies of the "
                         "image and mask)", interactive=False, elem_id="inpaint-command")
    go.click(lambda *a: inpaint(studio, *a),
             [run, editor, steps, jumps, jump_length, seed, n, label, cfg],
             [status, result, mask, command], concurrency_limit=2, concurrency_id="generate")
    return status, label, go

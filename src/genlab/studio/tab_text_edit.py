"""The Edit tab's by-text part (`genlab edit`): CLIP (a clip run under RUNS_DIR) finds what
`select` names in an uploaded image and the picked diffusion run redraws it toward `prompt`.
The result, the relevance map and the mask CLIP found are shown with the command."""

from __future__ import annotations

from typing import Any

import gradio as gr

from genlab.errors import GenlabError
from genlab.generate.defaults import CLIP_GUIDE_SCALE, EDIT_THRESHOLD
from genlab.studio import edit as work
from genlab.studio.edit import JUMPS_MAX, REPAINT_DEFAULTS, TextEditRequest
from genlab.studio.engine import Studio
from genlab.studio.guard import STEPS_MAX
from genlab.studio.tab_widgets import seed_box

FROM_PROMPT = "the class the prompt names"


def text_edit(studio: Studio, name: str, image: Any, clip: Any, select: Any, prompt: Any,
              label: Any, seed: Any, steps: Any, jumps: Any, jump_length: Any,
              guide_scale: Any, threshold: Any) -> tuple[Any, ...]:
    """One click: status, result, relevance map, mask and the command."""
    request = TextEditRequest(select, prompt, clip, None if label == FROM_PROMPT else label,
                              seed, steps, jumps, jump_length, guide_scale, threshold)
    try:
        done = work.text_edit(studio, name, image, request)
    except GenlabError as error:
        return f"**refused**: {error}", None, None, None, ""
    return ("; ".join(done.notes), done.picture, *done.extra, done.command)


def clip_choices(studio: Studio) -> Any:
    names = work.clip_runs(studio.runs_dir)
    return gr.update(choices=names, value=names[0] if names else None)


def _image(label: str, elem_id: str) -> gr.Image:
    return gr.Image(label=label, type="pil", interactive=False, elem_id=elem_id, height=240,
                    format="png", elem_classes="pixels")


def build(studio: Studio, run: gr.Dropdown, app: gr.Blocks) -> tuple[Any, ...]:
    """The part's components and events; returns its status, class picker and button."""
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            upload = gr.File(label="image (PNG or JPEG at the model's size)",
                             type="filepath", elem_id="textedit-upload")
            select = gr.Textbox(label="select: what to change", placeholder="the red circle",
                                elem_id="textedit-select")
            prompt = gr.Textbox(label="prompt: what to draw there",
                                placeholder="a blue square", elem_id="textedit-prompt")
            clip = gr.Dropdown([], label="CLIP run (finds the selection, guides the drawing)",
                               elem_id="textedit-clip")
            label = gr.Dropdown([FROM_PROMPT], value=FROM_PROMPT, label="class",
                                elem_id="textedit-class")
            with gr.Accordion("more settings", open=False):
                seed = seed_box("textedit-seed")
                steps = gr.Number(value=REPAINT_DEFAULTS["steps"], precision=0, minimum=1,
                                  maximum=STEPS_MAX, label="steps", elem_id="textedit-steps")
                jumps = gr.Number(value=REPAINT_DEFAULTS["jumps"], precision=0, minimum=1,
                                  maximum=JUMPS_MAX, label="jumps", elem_id="textedit-jumps")
                jump_length = gr.Number(value=REPAINT_DEFAULTS["jump_length"], precision=0,
                                        minimum=1, maximum=STEPS_MAX, label="jump length",
                                        elem_id="textedit-jump-length")
                guide_scale = gr.Number(value=CLIP_GUIDE_SCALE, label="guide scale (pull "
                                        "toward the prompt)", elem_id="textedit-guide-scale")
                threshold = gr.Slider(0.05, 1.0, value=EDIT_THRESHOLD, step=0.05,
                                      label="threshold (relevance a pixel needs to be redrawn)",
                                      elem_id="textedit-threshold")
            go = gr.Button("edit by text", variant="primary", elem_id="textedit-button")
        with gr.Column(scale=2):
            status = gr.Markdown(elem_id="textedit-status")
            with gr.Row():
                result = _image("result (as genlab edit writes it)", "textedit-result")
                relevance = _image("relevance (where CLIP sees the selection)",
                                   "textedit-relevance")
                mask = _image("the mask found (white: redrawn)", "textedit-mask")
            command = gr.Textbox(label="the same on the command line (the studio's copy of "
                                 "the image)", interactive=False, elem_id="textedit-command")
    for event in (run.change, app.load):
        event(lambda: clip_choices(studio), None, clip, show_progress="hidden")
    go.click(lambda *a: text_edit(studio, *a),
             [run, upload, clip, select, prompt, label, seed, steps, jumps, jump_length,
              guide_scale, threshold],
             [status, result, relevance, mask, command], concurrency_limit=2,
             concurrency_id="generate")
    return status, label, go

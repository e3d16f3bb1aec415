"""The Explore tab: a walk between random latents (and classes) as an animation, with the
grid and the `genlab interpolate` command that writes the same files."""

from __future__ import annotations

from typing import Any

import gradio as gr

from genlab.errors import GenlabError
from genlab.studio.engine import FRAMES_MAX, ROWS_MAX, Studio
from genlab.studio.guard import SEED_MAX


def walk(studio: Studio, name: str, seed: Any, steps: Any, rows: Any,
         spherical: bool) -> tuple[Any, ...]:
    try:
        png, gif, command = studio.interpolate(name, seed=seed, steps=steps, rows=rows,
                                               spherical=spherical)
    except GenlabError as error:
        return f"**refused**: {error}", None, None, ""
    return "", str(gif), str(png), command


def build(studio: Studio, run: gr.Dropdown, app: gr.Blocks) -> None:
    """The tab's components and events, inside the caller's `gr.Tab`."""
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            seed = gr.Number(value=0, label="seed", precision=0, minimum=0, maximum=SEED_MAX,
                             elem_id="explore-seed")
            steps = gr.Slider(2, FRAMES_MAX, value=16, step=1, label="frames per walk",
                              elem_id="explore-steps")
            rows = gr.Slider(1, ROWS_MAX, value=4, step=1, label="walks (rows)",
                             elem_id="explore-rows")
            spherical = gr.Checkbox(label="spherical (slerp)", elem_id="explore-slerp")
            go = gr.Button("Interpolate", variant="primary", elem_id="explore-button")
        with gr.Column(scale=2):
            status = gr.Markdown(elem_id="explore-status")
            animation = gr.Image(label="the walk, there and back", type="filepath",
                                 interactive=False, elem_id="explore-gif", height=300,
                                 elem_classes="pixels")
            grid = gr.Image(label="every frame, a row per walk", type="filepath",
                            interactive=False, elem_id="explore-grid", elem_classes="pixels")
            command = gr.Textbox(label="the same on the command line", interactive=False,
                                 elem_id="explore-command")
    go.click(lambda *a: walk(studio, *a), [run, seed, steps, rows, spherical],
             [status, animation, grid, command], concurrency_limit=2,
             concurrency_id="generate")

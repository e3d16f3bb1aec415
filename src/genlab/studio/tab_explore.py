"""The Explore tab: a walk between random latents (and classes) as an animation, with the
grid and the `genlab interpolate` command that writes the same files; and noise steered
toward a class by the judge, before beside after, with `genlab control`'s command."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from genlab.errors import GenlabError
from genlab.studio import explore
from genlab.studio.engine import Studio
from genlab.studio.explore import (
    CONTROL_N_MAX,
    CONTROL_STEPS_MAX,
    FRAMES_MAX,
    RESTARTS_MAX,
    ROWS_MAX,
    ControlForm,
    ControlRequest,
)
from genlab.studio.tab_widgets import seed_box


def walk(studio: Studio, name: str, seed: Any, steps: Any, rows: Any,
         spherical: bool) -> tuple[Any, ...]:
    try:
        png, gif, command = explore.interpolate(studio, name, seed=seed, steps=steps,
                                                rows=rows, spherical=spherical)
    except GenlabError as error:
        return f"**refused**: {error}", None, None, ""
    return "", str(gif), str(png), command


def control_updates(studio: Studio, name: str) -> tuple[Any, ...]:
    """The run's classes as targets, or one line on why its noise cannot be steered."""
    try:
        form = ControlForm.of(studio.loaded(name))
    except GenlabError as error:
        return f"**refused**: {error}", gr.update(choices=[], value=None), \
            gr.update(interactive=False)
    target = gr.update(choices=list(form.classes),
                       value=form.classes[0] if form.classes else None)
    note = "" if form.steers else f"**{form.why_not}**"
    return note, target, gr.update(interactive=form.steers)


def steer(studio: Studio, name: str, target: Any, n: Any, steps: Any, restarts: Any,
          seed: Any) -> Iterator[tuple[Any, ...]]:
    """One click: a line while the judge trains (when it must) and the steps run, then
    before, after, the judge's probabilities and the command."""
    try:
        request, note = explore.prepare_control(studio, ControlRequest(
            run=name, target=target, n=n, steps=steps, restarts=restarts, seed=seed))
        yield (note or f"steering {request.n} latents toward {request.target}..."), \
            None, None, ""
        done = explore.control(studio, request)
    except GenlabError as error:
        yield f"**refused**: {error}", None, None, ""
        return
    yield (f"the judge's mean probability of **{request.target}**: "
           f"{done.prob_before:.3f} before, {done.prob_after:.3f} after"), \
        done.before, done.after, done.command


def build(studio: Studio, run: gr.Dropdown, app: gr.Blocks) -> None:
    """The tab's components and events, inside the caller's `gr.Tab`."""
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            seed = seed_box("explore-seed")
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
    _build_control(studio, run, app)


def _build_control(studio: Studio, run: gr.Dropdown, app: gr.Blocks) -> None:
    """Steer toward a class: the noise of an unconditional run, optimised so the judge of its
    data sees the target."""
    gr.Markdown("### Steer toward a class\nThe same noise before and after its latents are "
                "optimised so the judge of the run's data sees the target class.")
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            target = gr.Dropdown([], label="target class", elem_id="control-target")
            n = gr.Slider(1, CONTROL_N_MAX, value=8, step=1, label="images",
                          elem_id="control-n")
            steps = gr.Slider(1, CONTROL_STEPS_MAX, value=50, step=1,
                              label="optimisation steps", elem_id="control-steps")
            restarts = gr.Slider(0, RESTARTS_MAX, value=2, step=1,
                                 label="restarts (latents still below 0.5 are redrawn)",
                                 elem_id="control-restarts")
            seed = seed_box("control-seed")
            go = gr.Button("Steer", variant="primary", elem_id="control-button")
        with gr.Column(scale=2):
            status = gr.Markdown(elem_id="control-status")
            with gr.Row():
                before = gr.Image(label="before", type="pil", interactive=False, format="png",
                                  elem_id="control-before", elem_classes="pixels", height=240)
                after = gr.Image(label="after", type="pil", interactive=False, format="png",
                                 elem_id="control-after", elem_classes="pixels", height=240)
            command = gr.Textbox(label="the same on the command line (before rows over "
                                 "after rows)", interactive=False, elem_id="control-command")
    for event in (run.change, app.load):
        event(lambda name: control_updates(studio, name), run, [status, target, go],
              show_progress="hidden")

    def on_steer(*values: Any) -> Iterator[tuple[Any, ...]]:
        yield from steer(studio, *values)  # a generator: the page shows each line

    go.click(on_steer, [run, target, n, steps, restarts, seed], [status, before, after, command],
             concurrency_limit=2, concurrency_id="generate")

"""The Sample tab: seed, number of images, class, truncation, and for runs whose method takes
sampling options (diffusion) sampler, steps, CFG scale, a guide and a prompt. The grid is the
one `genlab sample` writes for the same values; the command is shown, and a click on an image
says which one it is and how to make it again."""

from __future__ import annotations

from typing import Any

import gradio as gr

from genlab.errors import GenlabError
from genlab.sampling import SAMPLERS
from genlab.studio.engine import SampleRequest, Studio
from genlab.studio.guard import N_MAX
from genlab.studio.tab_widgets import RUN_DEFAULT, count_slider, seed_box

EVERY_CLASS = "every class"


def form_updates(studio: Studio, name: str) -> tuple[Any, ...]:
    """The controls for a run: what its method takes is shown, the rest hidden."""
    try:
        form = studio.form(name)
    except GenlabError as error:
        hidden = gr.update(visible=False)
        return f"**refused**: {error}", hidden, hidden, hidden, hidden, hidden, hidden, \
            hidden, gr.update(interactive=False)
    opts = form.options
    label = gr.update(choices=[EVERY_CLASS, *form.classes], value=EVERY_CLASS,
                      visible=bool(form.classes))
    truncation = gr.update(value=1.0, visible=form.truncatable)
    diffusion = gr.update(visible=opts is not None)
    # the boxes hold the run's own values (an empty gradio number is sent as 0, not None)
    steps, cfg, scale = (gr.update(value=getattr(opts, k, None)) for k in
                         ("steps", "cfg", "guide_scale"))
    prompt = gr.update(value="", visible=form.prompts)
    note = "" if form.samples else f"**{form.why_not}**"
    return note, label, truncation, diffusion, steps, cfg, scale, prompt, \
        gr.update(interactive=form.samples)


def _changed(options: Any, name: str, value: Any) -> Any:
    """A box's value where it differs from the run's own, else None: the request (and the
    command it shows) carries only what the user changed. A run without sampling options
    takes none of them."""
    if options is None or value is None or value == getattr(options, name):
        return None
    return value


def sample(studio: Studio, name: str, seed: Any, n: Any, label: Any, truncation: Any,
           sampler: Any, steps: Any, cfg: Any, guide: Any, guide_scale: Any, prompt: Any,
           progress: gr.Progress | None = None) -> tuple[Any, ...]:
    """One click: the grid, the images for the gallery, the command, the notes per image."""
    try:
        opts = studio.form(name).options
        request = SampleRequest(
            run=name, seed=seed, n=n, label=None if label == EVERY_CLASS else label,
            truncation=truncation,
            sampler=_changed(opts, "sampler", None if sampler == RUN_DEFAULT else sampler),
            steps=_changed(opts, "steps", steps or None), cfg=_changed(opts, "cfg", cfg),
            guide=guide if opts else None,
            guide_scale=_changed(opts, "guide_scale", guide_scale), prompt=prompt)
        count = int(n) if isinstance(n, (int, float)) and 0 < n <= N_MAX else 1
        report = (None if progress is None
                  else lambda done: progress(done / count, desc="sampling"))
        result = studio.sample(request, on_progress=report)
    except GenlabError as error:
        return f"**refused**: {error}", None, [], "", [], ""
    gallery = [(image, f"image {i}") for i, image in enumerate(result.images)]
    return (f"{len(result.images)} images; click one for its settings", result.grid, gallery,
            result.command, result.notes, "")


def build(studio: Studio, run: gr.Dropdown, app: gr.Blocks) -> None:
    """The tab's components and events, inside the caller's `gr.Tab`."""
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            seed = seed_box("sample-seed")
            n = count_slider("sample-n", value=16, label="number of images")
            label = gr.Dropdown([EVERY_CLASS], value=EVERY_CLASS, label="class",
                                elem_id="sample-class")
            truncation = gr.Slider(0.05, 1.0, value=1.0, step=0.05,
                                   label="truncation psi (1: none)", elem_id="sample-psi")
            with gr.Group(visible=False) as diffusion:
                sampler = gr.Dropdown([RUN_DEFAULT, *SAMPLERS], value=RUN_DEFAULT,
                                      label="sampler", elem_id="sample-sampler")
                steps = gr.Number(value=None, label="steps", precision=0,
                                  elem_id="sample-steps")
                cfg = gr.Number(value=None, label="CFG scale", elem_id="sample-cfg")
                guide = gr.Textbox(label="guide (judge:CLASS)", elem_id="sample-guide")
                guide_scale = gr.Number(value=None, label="guide scale",
                                        elem_id="sample-guide-scale")
            prompt = gr.Textbox(label="prompt (text-conditioned runs)", visible=False,
                                elem_id="sample-prompt")
            go = gr.Button("Sample", variant="primary", elem_id="sample-button")
        with gr.Column(scale=2):
            status = gr.Markdown(elem_id="sample-status")
            grid = gr.Image(label="grid (as genlab sample writes it)", type="pil",
                            interactive=False, elem_id="sample-grid", height=360,
                            format="png", elem_classes="pixels")
            command = gr.Textbox(label="the same on the command line", interactive=False,
                                 elem_id="sample-command")
            gallery = gr.Gallery(label="images: click one", columns=8, height=240,
                                 elem_id="sample-gallery", interactive=False, format="png",
                                 elem_classes="pixels")
            picked = gr.Markdown(elem_id="sample-picked")
    notes = gr.State([])

    form_outputs = [status, label, truncation, diffusion, steps, cfg, guide_scale, prompt,
                    go]
    for event in (run.change, app.load):
        event(lambda name: form_updates(studio, name), run, form_outputs,
              show_progress="hidden")

    def on_sample(name: str, seed: Any, n: Any, label: Any, truncation: Any, sampler: Any,
                  steps: Any, cfg: Any, guide: Any, guide_scale: Any, prompt: Any,
                  progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        return sample(studio, name, seed, n, label, truncation, sampler, steps, cfg, guide,
                      guide_scale, prompt, progress)

    go.click(on_sample, [run, seed, n, label, truncation, sampler, steps, cfg, guide,
                         guide_scale, prompt],
             [status, grid, gallery, command, notes, picked], concurrency_limit=2,
             concurrency_id="generate")

    def on_pick(notes: list[str], evt: gr.SelectData) -> str:
        index = evt.index if isinstance(evt.index, int) else 0
        return notes[index] if 0 <= index < len(notes) else ""

    gallery.select(on_pick, notes, picked)

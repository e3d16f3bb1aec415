"""The Text to image tab: CLIP + VQGAN, whose image and status line change while the latent
is optimised (a generator handler: one page update per frame) and whose last image is the PNG
the shown `genlab text2img` command writes; and text-conditioned diffusion, whose grid is the
one the shown `genlab sample --prompt` writes. The run pickers list runs by their method."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from genlab.errors import GenlabError
from genlab.generate.text2img import CANVASES
from genlab.studio.engine import Studio
from genlab.studio.guard import STEPS_MAX, TEXT_MAX
from genlab.studio.tab_widgets import count_slider, seed_box
from genlab.studio.text import TextRequest, TextToImage
from genlab.studio.text_worker import CUTOUTS_MAX, RANDOM_START, SIDE_MAX


def _choices(names: list[str], current: Any) -> Any:
    """A picker's runs, keeping the picked one while it is still there."""
    return gr.update(choices=names, value=current if current in names else
                     (names[0] if names else None))


def run_text(work: TextToImage, prompt: Any, clip: Any, vqgan: Any, steps: Any,
             cutouts: Any, seed: Any, lr: Any, size: Any, start: Any, init_weight: Any,
             owner: str = "") -> Iterator[tuple[Any, ...]]:
    """The status line, the image and the command, once per frame."""
    request = TextRequest(prompt=prompt, clip=clip, vqgan=vqgan, seed=seed, steps=steps,
                          cutouts=cutouts, lr=lr, size=size or None,  # empty box: the run's
                          init=start, init_weight=init_weight or 0.0)
    frame = None
    try:
        for frame in work.text_to_image(request, owner=owner):
            yield frame.line(), frame.image, frame.command
    except GenlabError as error:
        yield f"**refused**: {error}", gr.update(), ""
        return
    if frame is not None and not frame.done:
        yield (f"stopped at step {frame.step}/{frame.steps} (the command runs all "
               f"{frame.steps})", gr.update(), frame.command)


def sample_text(work: TextToImage, run: Any, prompt: Any, seed: Any, n: Any, steps: Any,
                cfg: Any) -> tuple[Any, ...]:
    """The status line, the grid and the command."""
    try:
        result = work.sample_text(run, prompt, seed=seed, n=n, steps=steps or None,
                                  cfg=cfg)
    except GenlabError as error:
        return f"**refused**: {error}", None, ""
    return f"{len(result.images)} images", result.grid, result.command


def run_defaults(work: TextToImage, name: Any) -> tuple[Any, Any]:
    """The picked text-conditioned run's own steps and CFG scale, shown to start from."""
    try:
        options = work.studio.form(name).options
    except GenlabError:
        options = None
    if options is None:
        return gr.update(value=None), gr.update(value=None)
    return gr.update(value=options.steps), gr.update(value=options.cfg)


def build(studio: Studio, run: gr.Dropdown, app: gr.Blocks, tab: gr.Tab) -> None:
    """The tab's components and events, inside the caller's `gr.Tab` (its runs are listed
    again each time the tab is opened)."""
    # the tab picks its own runs (a CLIP, a VQGAN, a text-conditioned run), not `run`
    work = TextToImage(studio)
    clips, vqgans = work.clip_runs(), work.vqgan_runs()
    gr.Markdown("### CLIP + VQGAN\nA VQGAN latent is optimised until CLIP sees the prompt "
                "(`TEXT[:WEIGHT]|...`; a negative weight pushes away); the image shows each "
                "few steps.")
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            prompt = gr.Textbox(label="prompt", max_length=TEXT_MAX, elem_id="text-prompt",
                                placeholder="a red circle:1|a square:-0.5")
            clip = gr.Dropdown(clips, value=clips[0] if clips else None, label="CLIP run",
                               elem_id="text-clip")
            vqgan = gr.Dropdown(vqgans, value=vqgans[0] if vqgans else None,
                                label="VQGAN run", elem_id="text-vqgan")
            # no minimum/maximum on numbers: guard's one-line refusal, not gradio's pop-up
            steps = gr.Number(value=50, label=f"steps (at most {STEPS_MAX})", precision=0,
                              elem_id="text-steps")
            cutouts = gr.Slider(1, CUTOUTS_MAX, value=16, step=1, label="cutouts per step",
                                elem_id="text-cutouts")
            seed = seed_box("text-seed")
            with gr.Accordion("more", open=False):
                lr = gr.Number(value=0.1, label="learning rate", elem_id="text-lr")
                size = gr.Number(value=None, label=f"image side (empty: the VQGAN's; at most "
                                 f"{SIDE_MAX})", precision=0, elem_id="text-size")
                start = gr.Dropdown([RANDOM_START, *CANVASES], value=RANDOM_START,
                                    label="start from", elem_id="text-start")
                init_weight = gr.Number(value=0.0, label="pull toward the start",
                                        elem_id="text-init-weight")
            with gr.Row():
                go = gr.Button("Run", variant="primary", elem_id="text-run")
                stop = gr.Button("Stop", elem_id="text-stop")
        with gr.Column(scale=2):
            status = gr.Markdown(elem_id="text-status")
            image = gr.Image(label="image (the last one: as genlab text2img writes it)",
                             type="pil", interactive=False, elem_id="text-image", height=320,
                             format="png", elem_classes="pixels")
            command = gr.Textbox(label="the same on the command line", interactive=False,
                                 elem_id="text-command")

    gr.Markdown("### Text-conditioned diffusion\nA text-ldm run samples with the prompt as "
                "every image's caption.")
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            ldm = gr.Dropdown([], label="text-conditioned run", elem_id="text-ldm-run")
            ldm_prompt = gr.Textbox(label="prompt", max_length=TEXT_MAX,
                                    elem_id="text-ldm-prompt", placeholder="a red circle")
            ldm_seed = seed_box("text-ldm-seed")
            ldm_n = count_slider("text-ldm-n", value=8, label="number of images")
            ldm_steps = gr.Number(value=None, label="steps", precision=0,
                                  elem_id="text-ldm-steps")
            ldm_cfg = gr.Number(value=None, label="CFG scale", elem_id="text-ldm-cfg")
            ldm_go = gr.Button("Sample", variant="primary", elem_id="text-ldm-button")
        with gr.Column(scale=2):
            ldm_status = gr.Markdown(elem_id="text-ldm-status")
            grid = gr.Image(label="grid (as genlab sample writes it)", type="pil",
                            interactive=False, elem_id="text-ldm-grid", height=320,
                            format="png", elem_classes="pixels")
            ldm_command = gr.Textbox(label="the same on the command line", interactive=False,
                                     elem_id="text-ldm-command")

    def listed(clip_now: Any, vqgan_now: Any, ldm_now: Any) -> tuple[Any, ...]:
        work.warm()
        return (_choices(work.clip_runs(), clip_now), _choices(work.vqgan_runs(), vqgan_now),
                _choices(work.text_runs(), ldm_now))

    tab.select(listed, [clip, vqgan, ldm], [clip, vqgan, ldm], show_progress="hidden")

    def on_run(prompt: Any, clip: Any, vqgan: Any, steps: Any, cutouts: Any, seed: Any,
               lr: Any, size: Any, start: Any, init_weight: Any,
               request: gr.Request) -> Iterator[tuple[Any, ...]]:
        yield from run_text(work, prompt, clip, vqgan, steps, cutouts, seed, lr, size, start,
                            init_weight, owner=request.session_hash or "")

    def on_stop(request: gr.Request) -> None:
        work.stop(request.session_hash or "")

    go.click(on_run, [prompt, clip, vqgan, steps, cutouts, seed, lr, size, start, init_weight],
             [status, image, command], concurrency_limit=2, concurrency_id="generate",
             show_progress="minimal")
    ldm.change(lambda name: run_defaults(work, name), ldm, [ldm_steps, ldm_cfg],
               show_progress="hidden")
    stop.click(on_stop, None, None, show_progress="hidden")
    ldm_go.click(lambda *a: sample_text(work, *a),
                 [ldm, ldm_prompt, ldm_seed, ldm_n, ldm_steps, ldm_cfg],
                 [ldm_status, grid, ldm_command], concurrency_limit=2,
                 concurrency_id="generate")

"""The page: one run picker above the tabs (every tab works on the picked run), built with
gradio. `launch` serves it on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import gradio as gr

from genlab.errors import GenlabError
from genlab.studio import tab_edit, tab_explore, tab_runs, tab_sample, tab_text, tab_translate
from genlab.studio.engine import Studio
from genlab.studio.guard import UPLOAD_BYTES, list_runs

# small model images drawn large with sharp pixels (a 16 x 16 sample is not blurred)
CSS = """
.pixels img { image-rendering: pixelated; }
#sample-grid img, #run-eval-samples img, #explore-gif img, #edit-result img,
#translate-grid img, #translate-output img, #control-before img, #control-after img,
#text-image img, #text-ldm-grid img, #inpaint-result img, #inpaint-mask img,
#textedit-result img, #textedit-relevance img, #textedit-mask img {
  width: 100%; height: 100%; object-fit: contain;
}
"""


def _check_pick(studio: Studio, name: str) -> str:
    """The line over the tabs: which run is open, or why a typed name is refused."""
    try:
        return f"open: `{studio.run_dir(name)}`"
    except GenlabError as error:
        return f"**refused**: {error}"


def build_app(studio: Studio) -> gr.Blocks:
    """The studio's page for the runs under `studio.runs_dir`."""
    names = list_runs(studio.runs_dir)
    with gr.Blocks(title="genlab studio", analytics_enabled=False) as app:
        gr.Markdown(f"## genlab studio\nRuns under `{studio.runs_dir}`: pick one, then look "
                    "at it, sample it and play with it in the tabs.")
        with gr.Row():
            run = gr.Dropdown(names, value=names[0] if names else None, label="run",
                              allow_custom_value=True, filterable=True, elem_id="run",
                              scale=4)
            refresh = gr.Button("refresh the list", scale=1, elem_id="refresh-runs")
        picked = gr.Markdown(elem_id="run-status")
        with gr.Tabs():
            with gr.Tab("Runs", id="runs"):
                tab_runs.build(studio, run, app)
            with gr.Tab("Sample", id="sample"):
                tab_sample.build(studio, run, app)
            with gr.Tab("Translate", id="translate"):
                tab_translate.build(studio, run, app)
            with gr.Tab("Explore", id="explore"):
                tab_explore.build(studio, run, app)
            with gr.Tab("Edit", id="edit"):
                tab_edit.build(studio, run, app)
            with gr.Tab("Text to image", id="text") as text_tab:
                tab_text.build(studio, run, app, text_tab)
        for event in (run.change, app.load):
            event(lambda name: _check_pick(studio, name), run, picked, show_progress="hidden")
        refresh.click(lambda: gr.update(choices=list_runs(studio.runs_dir)), None, run)
    return app


def _patient_start_check() -> None:
    """gradio asks its own page once (3 s timeout) after starting and quits when no answer
    comes; on a busy CPU the first page takes longer. Ask for up to a minute instead."""
    from gradio import networking

    once = networking.url_ok
    if not getattr(once, "patient", False):
        def patient(url: str) -> bool:
            return any(once(url) for _ in range(20))
        patient.patient = True  # type: ignore[attr-defined]
        networking.url_ok = patient


def launch(runs_dir: str | Path, *, host: str = "127.0.0.1", port: int = 7860,
           device: str = "cpu") -> None:
    """Serve the studio until Ctrl-C. Only files gradio made (its cache) are served: images
    from run folders are read here and sent as new files, so no path from the browser reaches
    a run folder or anything else."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    with tempfile.TemporaryDirectory(prefix="genlab-studio-") as scratch:  # gone at exit
        studio = Studio(Path(runs_dir).resolve(), device=device, scratch=Path(scratch))
        app = build_app(studio)
        app.queue(default_concurrency_limit=4)
        _patient_start_check()
        app.launch(server_name=host, server_port=port, max_file_size=UPLOAD_BYTES, quiet=False,
                   allowed_paths=[scratch],  # the studio's own outputs, nothing else
                   show_error=False, footer_links=[], inbrowser=False, css=CSS)

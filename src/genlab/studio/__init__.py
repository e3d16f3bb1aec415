"""genlab studio: a web page (gradio) over the runs of a folder: look at them, sample them,
edit with them. Presentation only: the work is done by the same functions the command line
calls (`genlab.runs`, `genlab.generate`, `genlab.evaluation`).

`guard` (what the browser may ask for), `catalog` (what a run folder holds), `engine` (the
work, no web code) import no gradio; `app` and the `tab_*` modules are the page.
"""

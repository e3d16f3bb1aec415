"""Controls that several tabs share, built in one place (like every tab_* module, this one
imports gradio; the work modules do not)."""

from __future__ import annotations

import gradio as gr

from genlab.studio.guard import N_MAX, SEED_MAX

RUN_DEFAULT = "the run's"  # a sampler picker's entry for the run's own sampler


def seed_box(elem_id: str) -> gr.Number:
    """A seed: a whole number from 0 to guard.SEED_MAX."""
    return gr.Number(value=0, label="seed", precision=0, minimum=0, maximum=SEED_MAX,
                     elem_id=elem_id)


def count_slider(elem_id: str, value: int = 1, label: str = "versions") -> gr.Slider:
    """How many images one click makes: 1 to guard.N_MAX."""
    return gr.Slider(1, N_MAX, value=value, step=1, label=label, elem_id=elem_id)

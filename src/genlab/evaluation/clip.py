"""`genlab clip-eval`: zero-shot classification and image-text retrieval of a CLIP run on the
held-out split of its data. On shapes the images hold one object each, labelled by the prompt
mode, and retrieval uses the full captions (size, colour, shape, position)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from genlab.data.base import DEFAULT_CAPTION_TEMPLATE
from genlab.errors import ConfigError, DataError
from genlab.files import write_json
from genlab.metrics.clip_eval import (
    PROMPT_MODES,
    accuracy_from_embeddings,
    class_embeddings,
    embed_images,
    embed_texts,
    retrieval_recall,
    shapes_prompts,
)
from genlab.runs.load import load_run

RESULTS_FILE = "clip_eval.json"


def clip_eval_run(run: str | Path, *, n: int = 2000, prompts: str | None = None,
                  checkpoint: str = "last") -> tuple[dict[str, Any], Path]:
    """Evaluate a clip run on up to n test images; write RUN/clip_eval.json."""
    from genlab.methods.clip import CLIP

    t0 = time.perf_counter()
    loaded = load_run(run, checkpoint)
    method = loaded.method
    if not isinstance(method, CLIP):
        raise ConfigError(f"{loaded.path} is a {loaded.cfg.method.name} run: clip-eval needs a "
                          "clip run")
    data_cfg = loaded.cfg.data
    mode = "classes"  # zero-shot over the dataset's class names
    if data_cfg.name == "shapes":
        mode = prompts or "shape_colour"
        if mode not in PROMPT_MODES:
            raise ConfigError(f"unknown --prompts {mode!r}: use {', '.join(PROMPT_MODES)}")
        shapes = data_cfg.shapes.model_copy(update=dict(
            objects=1, min_objects=1, label=mode, n_test=n, captions="full"))
        data_cfg = data_cfg.model_copy(update={"shapes": shapes})
        class_prompts: list[Any] = shapes_prompts(mode)
    elif prompts is not None:
        raise ConfigError("--prompts applies to shapes runs only: other datasets use their "
                          "class names in data.caption_template")
    data = data_cfg.load("test", seed=loaded.cfg.seed)
    if data_cfg.name != "shapes":
        template = data_cfg.caption_template or DEFAULT_CAPTION_TEMPLATE
        class_prompts = [template.replace("{class}", c) for c in data.class_names]
    images = data.images[:n]
    if not data.captions and data.labels is None:
        raise DataError(f"{data.name} has neither labels nor captions: nothing to evaluate")

    net = method.nets["clip"]
    image_emb = embed_images(net, images)
    results: dict[str, Any] = {"step": loaded.step, "checkpoint": checkpoint, "data": data.name,
                               "n": len(images)}
    if data.labels is not None:
        class_emb = class_embeddings(net, method.tokenize, class_prompts)
        results.update(prompts=mode, classes=len(class_prompts), chance=1 / len(class_prompts),
                       zero_shot_acc=accuracy_from_embeddings(image_emb, class_emb,
                                                              data.labels[:n]))
    if data.captions:
        captions = data.captions[:n]
        unique = sorted(set(captions))  # a caption shared by several images is listed once
        index = {c: i for i, c in enumerate(unique)}
        owner = torch.tensor([index[c] for c in captions])
        text_emb = embed_texts(net, method.tokenize, unique)
        results.update(captions=len(unique), **retrieval_recall(image_emb, text_emb, (1, 5),
                                                                owner))
    results["seconds"] = time.perf_counter() - t0
    path = loaded.path / RESULTS_FILE
    write_json(path, results)
    return results, path

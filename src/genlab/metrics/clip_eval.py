"""CLIP evaluation: zero-shot classification from text prompts and image-text retrieval.

A model here is anything with `encode_image(images in [-1, 1]) -> [N, D]` and
`encode_text(tokens) -> [M, D]` (genlab's `CLIPNet`); a tokenizer maps a list of texts to the
model's token tensor. Embeddings are compared by cosine similarity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.data.shapes import COLOURS, SHAPES

Tokenizer = Callable[[list[str]], Tensor]
PROMPT_MODES = ("shape_colour", "shape", "colour")


def shapes_prompts(mode: str) -> list[list[str]]:
    """Prompts per class of the shapes labels (`ShapesOptions.label`, same class order).
    shape_colour: "a red circle"; shape and colour average the prompts over the other
    attribute ("a circle" is never a caption; "a red circle", "a green circle"... are)."""
    if mode == "shape_colour":
        return [[f"a {colour} {shape}"] for shape in SHAPES for colour in COLOURS]
    if mode == "shape":
        return [[f"a {colour} {shape}" for colour in COLOURS] for shape in SHAPES]
    if mode == "colour":
        return [[f"a {colour} {shape}" for shape in SHAPES] for colour in COLOURS]
    raise ValueError(f"unknown prompt mode {mode!r}; valid: {', '.join(PROMPT_MODES)}")


@torch.no_grad()
def embed_images(model: Any, images: Tensor, batch_size: int = 256) -> Tensor:
    """Unit-length embeddings [N, D] of float images in [-1, 1] (or uint8), in batches."""
    device = next(model.parameters()).device if hasattr(model, "parameters") else "cpu"
    out = []
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size].to(device)
        if chunk.dtype == torch.uint8:
            chunk = chunk.float() / 127.5 - 1
        out.append(F.normalize(model.encode_image(chunk).float(), dim=-1).cpu())
    return torch.cat(out)


@torch.no_grad()
def embed_texts(model: Any, tokenizer: Tokenizer, texts: list[str],
                batch_size: int = 1024) -> Tensor:
    """Unit-length embeddings [M, D] of texts, in batches."""
    device = next(model.parameters()).device if hasattr(model, "parameters") else "cpu"
    out = []
    for start in range(0, len(texts), batch_size):
        tokens = tokenizer(texts[start:start + batch_size]).to(device)
        out.append(F.normalize(model.encode_text(tokens).float(), dim=-1).cpu())
    return torch.cat(out)


def class_embeddings(model: Any, tokenizer: Tokenizer,
                     class_prompts: Sequence[str | Sequence[str]]) -> Tensor:
    """One unit vector per class: the mean of its prompts' embeddings (prompt ensembling)."""
    groups = [[p] if isinstance(p, str) else list(p) for p in class_prompts]
    flat = [text for group in groups for text in group]
    emb = embed_texts(model, tokenizer, flat)
    owner = torch.repeat_interleave(torch.arange(len(groups)),
                                    torch.tensor([len(g) for g in groups]))
    means = torch.zeros(len(groups), emb.shape[1]).index_add_(0, owner, emb)
    return F.normalize(means, dim=-1)


def zero_shot_accuracy(model: Any, tokenizer: Tokenizer, images: Tensor, labels: Tensor,
                       class_prompts: Sequence[str | Sequence[str]]) -> float:
    """Share of images whose most similar class prompt is their label's. class_prompts[c] is
    the prompt of class c, or a list of prompts whose mean embedding stands for c."""
    if len(images) != len(labels) or not len(images):
        raise ValueError(f"need as many labels as images (got {len(labels)} and {len(images)})")
    classes = class_embeddings(model, tokenizer, class_prompts)
    return accuracy_from_embeddings(embed_images(model, images), classes, labels)


def accuracy_from_embeddings(image_emb: Tensor, class_emb: Tensor, labels: Tensor) -> float:
    """Zero-shot accuracy from unit image embeddings [N, D] and class embeddings [C, D]."""
    predicted = (image_emb @ class_emb.T).argmax(1)
    return float((predicted == labels.cpu()).float().mean())


def retrieval_recall(image_emb: Tensor, text_emb: Tensor, k: Sequence[int] = (1, 5),
                     text_of_image: Tensor | None = None) -> dict[str, float]:
    """Recall@k both ways by cosine similarity. Pairs are (image i, text i), or, with
    text_of_image, (image i, text text_of_image[i]) so a caption shared by several images is
    listed once. image->text: the image's text is among its k nearest texts; text->image: one
    of the text's images is among its k nearest images."""
    image_emb = F.normalize(image_emb.float(), dim=-1)
    text_emb = F.normalize(text_emb.float(), dim=-1)
    if text_of_image is None:
        if len(image_emb) != len(text_emb):
            raise ValueError("paired retrieval needs as many texts as images")
        text_of_image = torch.arange(len(image_emb))
    text_of_image = text_of_image.cpu()
    sims = image_emb @ text_emb.T  # [images, texts]
    out = {}
    for kk in k:
        top_texts = sims.topk(min(kk, sims.shape[1]), dim=1).indices
        out[f"i2t_r{kk}"] = float((top_texts == text_of_image[:, None]).any(1).float().mean())
        top_images = sims.topk(min(kk, sims.shape[0]), dim=0).indices  # [k, texts]
        owners = text_of_image[top_images]  # the text each retrieved image belongs to
        out[f"t2i_r{kk}"] = float((owners == torch.arange(sims.shape[1])).any(0).float().mean())
    return out

"""CLIP for inference (text-to-image, guidance, editing): from a genlab `clip` run folder or
from a local file of standard open_clip/OpenAI weights."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.methods.base import DataInfo
from genlab.methods.clip import CLIP
from genlab.runs.config import load_config

DEFAULT_STANDARD = "ViT-B-32-quickgelu"  # OpenAI's ViT-B/32 weights need QuickGELU


def load_clip(source: str | Path, *, model: str | None = None,
              device: str | torch.device = "cpu") -> CLIP:
    """A frozen CLIP in eval mode: `source` is a clip run folder, or a weights file of the
    open_clip architecture `model` (default ViT-B-32-quickgelu)."""
    path = Path(source).expanduser()
    if path.is_dir():
        from genlab.runs.load import load_run

        run = load_run(path, device=str(device))
        if not isinstance(run.method, CLIP):
            raise ConfigError(f"{path} is a {run.cfg.method.name} run, not a clip run: pass a "
                              "run trained with configs/clip-shapes.yaml or a CLIP weights file")
        method = run.method
    elif path.is_file():
        name = model or DEFAULT_STANDARD
        cfg = load_config(None, ["method.name=clip", f"method.model={name}",
                                 f"method.pretrained={path}", "method.freeze=true"]).method
        method = CLIP(cfg, DataInfo(3, 224))
        method.load_initial_weights()
        method.to(device)
    else:
        raise ConfigError(f"CLIP {source} not found: pass a clip run folder or a local "
                          ".safetensors/.bin file of open_clip weights")
    method.nets.eval().requires_grad_(False)
    return method


def text_embeddings(clip: CLIP, texts: list[str]) -> Tensor:
    """Unit-length text embeddings [N, D] (no gradient)."""
    return clip.embed_texts(texts)


def image_embeddings(clip: CLIP, images: Tensor) -> Tensor:
    """Unit-length image embeddings [N, D] of images in [-1, 1], differentiable in images."""
    return clip.nets["clip"].encode_image(images).float()

"""Containers every dataset loader returns, plus the shared resize helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

# DataWarning lives beside DataError (images, below data, gives it too); loaders import it here.
from genlab.errors import DataWarning as DataWarning

# Resize in chunks so a 60k-image set never needs a full float copy in memory.
_RESIZE_CHUNK = 2048
# Captions of labelled images that come without any (CLIP's own zero-shot prompt style).
DEFAULT_CAPTION_TEMPLATE = "a photo of a {class}"


@dataclass
class ImageData:
    """A whole split held in memory: uint8 images plus whatever annotations the source has."""

    name: str
    images: torch.Tensor  # uint8 [N, C, H, W], contiguous, CPU
    labels: torch.Tensor | None  # int64 [N] or None
    class_names: list[str]  # [] if unlabelled
    captions: list[str] | None = None
    # Per-image / per-object annotations (shapes: int64 [N, K] and "count" [N]).
    attributes: dict[str, torch.Tensor] = field(default_factory=dict)
    # shapes only: bool [N, K, H, W], the visible pixels of each object.
    masks: torch.Tensor | None = None
    # How genlab drew this split when the source has none of its own (folder:PATH; see
    # `OWN_SPLIT` for the keys): run.json, judge fingerprints and eval reports carry it.
    # None: the dataset's own train/test split.
    split: dict[str, Any] | None = None
    # Image-to-image data (`data.pairs`): the input each image is made from, uint8
    # [N, C', S', S'] (C' and S' may differ from the images': edges, label maps, low resolution).
    # paired=False: two unpaired domains; inputs[i] is a domain-A image drawn with no relation
    # to images[i] (domain B). domains names them (input domain, image domain).
    inputs: torch.Tensor | None = None
    paired: bool = True
    domains: tuple[str, str] = ("input", "image")

    def __post_init__(self) -> None:
        # These are programming errors in a loader, not user errors: fail loudly and early.
        images, labels = self.images, self.labels
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[2] != images.shape[3]:
            raise ValueError(f"images must be uint8 [N, C, S, S], got {images.dtype} "
                             f"{tuple(images.shape)}")
        n = images.shape[0]
        if labels is not None and (labels.dtype != torch.int64 or labels.shape != (n,)):
            raise ValueError(f"labels must be int64 [{n}], got {labels.dtype} {labels.shape}")
        if self.captions is not None and len(self.captions) != n:
            raise ValueError(f"captions must have {n} entries, got {len(self.captions)}")
        if self.masks is not None and (self.masks.shape[0] != n or self.masks.dtype != torch.bool):
            raise ValueError(f"masks must be bool [{n}, K, H, W], got {tuple(self.masks.shape)}")
        inputs = self.inputs
        if inputs is not None and (inputs.dtype != torch.uint8 or inputs.ndim != 4
                                   or inputs.shape[0] != n or inputs.shape[2] != inputs.shape[3]):
            raise ValueError(f"inputs must be uint8 [{n}, C, S, S], got {inputs.dtype} "
                             f"{tuple(inputs.shape)}")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.images.shape[2])

    @property
    def input_channels(self) -> int:
        return int(self.inputs.shape[1]) if self.inputs is not None else 0

    @property
    def input_size(self) -> int:
        return int(self.inputs.shape[2]) if self.inputs is not None else 0

    def __len__(self) -> int:
        return int(self.images.shape[0])


# The split facts of a dataset that ships its own train/test split (every source but folders).
OWN_SPLIT: dict[str, Any] = {"rule": "own", "summary": "the dataset's own train and test splits"}


def split_facts(data: ImageData) -> dict[str, Any]:
    """How data's split was drawn: a "rule" name and a one-line "summary" for people."""
    return dict(data.split) if data.split is not None else dict(OWN_SPLIT)


def class_captions(data: ImageData, template: str = DEFAULT_CAPTION_TEMPLATE) -> list[str]:
    """One caption per image from its class name: "{class}" in template is replaced."""
    if data.labels is None:
        raise ValueError(f"{data.name} has no labels to fill a caption template with")
    texts = [template.replace("{class}", name) for name in data.class_names]
    return [texts[i] for i in data.labels.tolist()]


@dataclass
class DatasetStatus:
    """One row of `genlab datasets`."""

    name: str
    available: bool
    detail: str  # where it is, or how to get it: one line


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize uint8 [N, C, H, W] images to [N, C, size, size] (bilinear, antialiased).

    Every loader resizes through here so that all datasets are resampled the same way.
    """
    if images.shape[-2:] == (size, size):
        return images.contiguous()
    out = torch.empty((*images.shape[:2], size, size), dtype=torch.uint8)
    for start in range(0, images.shape[0], _RESIZE_CHUNK):
        chunk = images[start : start + _RESIZE_CHUNK].float()
        chunk = F.interpolate(chunk, size=(size, size), mode="bilinear", antialias=True,
                              align_corners=False)
        out[start : start + _RESIZE_CHUNK] = chunk.round_().clamp_(0, 255).to(torch.uint8)
    return out


def pad_images(data: ImageData, pad: int) -> ImageData:
    """`data` with a black border of `pad` pixels on every side of its images (and masks)."""
    if not pad:
        return data
    border = (pad,) * 4
    data.images = F.pad(data.images, border).contiguous()
    if data.masks is not None:
        data.masks = F.pad(data.masks, border)
    return data


def centre_crop_square(images: torch.Tensor) -> torch.Tensor:
    """Crop [..., H, W] to the largest centred square."""
    h, w = images.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return images[..., top : top + side, left : left + side]

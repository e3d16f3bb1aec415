"""Procedural coloured shapes: a labelled, captioned dataset generated with no files.

Each image holds 1..K objects (circle, square or triangle; 6 colours; 2 sizes) placed in
distinct cells of a 3x3 grid. Objects are rendered with signed-distance fields so edges are
anti-aliased, and everything is vectorised over the batch. `render_shapes` renders any given
attributes, so benchmarks can draw "a large blue square at the centre" exactly.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from genlab.data.base import ImageData
from genlab.errors import DataError

SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "magenta": (255, 0, 255),
    "cyan": (0, 255, 255),
}
SIZES: tuple[str, ...] = ("small", "large")
# Half-extent of each size as a fraction of the image side. Every shape fits a box of
# +-radius around its centre, so a large shape at a corner cell (centre 1/4) with the
# largest jitter still keeps 0.25 - 1/32 - 0.2 ~ 0.02 of the side free.
SIZE_RADII: tuple[float, ...] = (0.12, 0.2)
POSITIONS: tuple[str, ...] = (
    "top left", "top", "top right",
    "left", "centre", "right",
    "bottom left", "bottom", "bottom right",
)
# (x, y) of each cell centre as fractions of the side, same order as POSITIONS.
POSITION_CENTRES: tuple[tuple[float, float], ...] = tuple(
    (x, y) for y in (0.25, 0.5, 0.75) for x in (0.25, 0.5, 0.75)
)
MAX_JITTER = 1 / 32  # largest random offset of a centre, as a fraction of the side
MIN_IMAGE_SIZE = 16
ATTRIBUTE_KEYS: tuple[str, ...] = ("shape", "colour", "size", "position")

_SQRT3 = math.sqrt(3.0)
_PIXELS_PER_CHUNK = 1 << 22  # bounds float memory of one render chunk (~100 MB of temporaries)

RGB = tuple[Annotated[int, Field(ge=0, le=255)], Annotated[int, Field(ge=0, le=255)],
            Annotated[int, Field(ge=0, le=255)]]


class ShapesOptions(BaseModel):
    """Options of the procedural `shapes` dataset."""

    model_config = ConfigDict(extra="forbid")

    n_train: int = Field(20000, ge=1, description="Number of images in the train split.")
    n_test: int = Field(2000, ge=1, description="Number of images in the test split.")
    objects: int = Field(1, ge=1, le=9,
                         description="Most objects in one image (one per grid cell).")
    min_objects: int = Field(1, ge=1, le=9, description="Fewest objects in one image.")
    label: Literal["shape", "colour", "shape_colour"] = Field(
        "shape", description="Class label: the first object's shape, colour, or both (shape-major)."
    )
    background: RGB = Field((0, 0, 0), description="Plain background colour as (R, G, B), 0..255.")
    captions: Literal["full", "varied"] = Field(
        "full", description="full: size, colour, shape and position of every object; varied: "
        "size and position each left out at random, so short prompts ('a red circle') are seen")

    @model_validator(mode="after")
    def _check_counts(self) -> ShapesOptions:
        if self.min_objects > self.objects:
            raise ValueError(f"min_objects ({self.min_objects}) must be <= objects "
                             f"({self.objects})")
        return self


def class_names(label: str) -> list[str]:
    """Class names for a label mode; shape_colour is shape-major (index = shape * 6 + colour)."""
    if label == "shape":
        return list(SHAPES)
    if label == "colour":
        return list(COLOURS)
    return [f"{colour} {shape}" for shape in SHAPES for colour in COLOURS]


def sample_attributes(n: int, *, objects: int = 1, min_objects: int = 1,
                      generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Random scenes: int64 [n, objects] per ATTRIBUTE_KEYS entry (-1 = no object), count [n]."""
    count = torch.randint(min_objects, objects + 1, (n,), generator=generator)
    # A random permutation of the 9 cells per image gives distinct positions.
    position = torch.rand(n, len(POSITIONS), generator=generator).argsort(dim=1)[:, :objects]
    shape = torch.randint(0, len(SHAPES), (n, objects), generator=generator)
    colour = torch.randint(0, len(COLOURS), (n, objects), generator=generator)
    size = torch.randint(0, len(SIZES), (n, objects), generator=generator)
    absent = torch.arange(objects) >= count[:, None]
    attrs = {"shape": shape, "colour": colour, "size": size, "position": position}
    attrs = {key: value.masked_fill(absent, -1) for key, value in attrs.items()}
    attrs["count"] = count
    return attrs


def sample_offsets(n: int, objects: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random centre jitter, float [n, objects, 2] (dx, dy) in fractions of the side."""
    return (torch.rand(n, objects, 2, generator=generator) * 2 - 1) * MAX_JITTER


def describe_object(shape: int, colour: int, size: int, position: int) -> str:
    """'a small red circle at the top left'; size or position -1 leaves that part out."""
    colour_name = list(COLOURS)[colour]
    size_word = f"{SIZES[size]} " if size >= 0 else ""
    where = f" at the {POSITIONS[position]}" if position >= 0 else ""
    return f"a {size_word}{colour_name} {SHAPES[shape]}{where}"


def captions_from_attributes(attributes: dict[str, torch.Tensor],
                             generator: torch.Generator | None = None) -> list[str]:
    """One caption per image, objects joined by ' and ' in drawing order. With a generator,
    each object's size and position are each left out with probability 1/2 (varied captions)."""
    size, position = attributes["size"], attributes["position"]
    if generator is not None:
        size = size.masked_fill(torch.rand(size.shape, generator=generator) < 0.5, -1)
        position = position.masked_fill(torch.rand(size.shape, generator=generator) < 0.5, -1)
    columns = [t.tolist() for t in (attributes["shape"], attributes["colour"], size, position)]
    captions = []
    for shape, colour, size_row, position_row in zip(*columns, strict=True):
        parts = [describe_object(*obj) for obj in zip(shape, colour, size_row, position_row,
                                                      strict=True) if obj[0] >= 0]
        captions.append(" and ".join(parts))
    return captions


def render_shapes(shape: torch.Tensor, colour: torch.Tensor, size: torch.Tensor,
                  position: torch.Tensor, *, image_size: int = 32,
                  background: tuple[int, int, int] = (0, 0, 0),
                  offset: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Render scenes from attribute indices into SHAPES, COLOURS, SIZES and POSITIONS.

    shape, colour, size, position: int tensors [N] (one object) or [N, K]; -1 marks no object.
    offset: float [N, K, 2] (or [N, 2] for one object) centre jitter (dx, dy) in fractions of
    the side; None = exact cell centres.
    Returns uint8 images [N, 3, S, S] and bool masks [N, K, S, S] of each object's visible
    pixels (coverage > 0.5 after later objects are drawn over it).
    """
    attrs = [torch.as_tensor(t, dtype=torch.int64) for t in (shape, colour, size, position)]
    attrs = [t[:, None] if t.ndim == 1 else t for t in attrs]
    n, k = attrs[0].shape
    if any(t.shape != (n, k) for t in attrs):
        raise ValueError("shape, colour, size and position must all have the same shape [N, K]")
    if image_size < MIN_IMAGE_SIZE:
        raise ValueError(f"image_size must be >= {MIN_IMAGE_SIZE}, got {image_size}")
    limits = (len(SHAPES), len(COLOURS), len(SIZES), len(POSITIONS))
    present = attrs[0] >= 0
    for t, limit in zip(attrs, limits, strict=True):
        if bool((t[present] < 0).any() or (t[present] >= limit).any()):
            raise ValueError(f"attribute index out of range [0, {limit}) for a present object")
    offset = torch.zeros(n, k, 2) if offset is None else torch.as_tensor(offset).reshape(n, k, 2)

    images = torch.empty(n, 3, image_size, image_size, dtype=torch.uint8)
    masks = torch.empty(n, k, image_size, image_size, dtype=torch.bool)
    chunk = max(1, _PIXELS_PER_CHUNK // (image_size * image_size * k))
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        images[part], masks[part] = _render_chunk(
            *(t[part] for t in attrs), offset[part].float(), image_size, background
        )
    return images, masks


def _render_chunk(shape: torch.Tensor, colour: torch.Tensor, size: torch.Tensor,
                  position: torch.Tensor, offset: torch.Tensor, s: int,
                  background: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    n, k = shape.shape
    present = shape >= 0
    centres = torch.tensor(POSITION_CENTRES)[position.clamp(min=0)] + offset  # [n, k, 2]
    radii = torch.tensor(SIZE_RADII)[size.clamp(min=0)]  # [n, k]

    # Coverage of every present object, computed per shape type so no work is wasted.
    coverage = torch.zeros(n, k, s, s)
    for shape_index in range(len(SHAPES)):
        select = shape == shape_index
        if bool(select.any()):
            sdf = _sdf(shape_index, centres[select] * s, radii[select] * s, s)
            coverage[select] = (0.5 - sdf).clamp_(0.0, 1.0)

    palette = torch.tensor(list(COLOURS.values()), dtype=torch.float32)
    image = torch.tensor(background, dtype=torch.float32).view(1, 3, 1, 1).repeat(n, 1, s, s)
    for i in range(k):  # later objects are blended over earlier ones
        rgb = palette[colour[:, i].clamp(min=0)].view(n, 3, 1, 1)
        image.add_(coverage[:, i, None] * (rgb - image))

    # Visible share of object i = its coverage times what objects drawn after it leave uncovered.
    masks = torch.empty(n, k, s, s, dtype=torch.bool)
    uncovered = torch.ones(n, s, s)
    for i in reversed(range(k)):
        masks[:, i] = coverage[:, i] * uncovered > 0.5
        uncovered.mul_(1.0 - coverage[:, i])
    masks &= present[:, :, None, None]
    return image.round_().clamp_(0, 255).to(torch.uint8), masks


def _sdf(shape_index: int, centre: torch.Tensor, radius: torch.Tensor, s: int) -> torch.Tensor:
    """Signed distance in pixels (negative inside) for m objects: centre [m, 2], radius [m]."""
    grid = torch.arange(s, dtype=torch.float32) + 0.5  # pixel centres
    dx = grid.view(1, 1, s) - centre[:, 0].view(-1, 1, 1)  # [m, 1, s]
    dy = grid.view(1, s, 1) - centre[:, 1].view(-1, 1, 1)  # [m, s, 1]
    r = radius.view(-1, 1, 1)
    if SHAPES[shape_index] == "circle":
        return torch.sqrt(dx * dx + dy * dy) - r
    if SHAPES[shape_index] == "square":  # half-side r, axis aligned
        qx, qy = torch.broadcast_tensors(dx.abs() - r, dy.abs() - r)
        outside = torch.sqrt(qx.clamp(min=0) ** 2 + qy.clamp(min=0) ** 2)
        return outside + torch.maximum(qx, qy).clamp(max=0)
    # Equilateral triangle pointing up, side 2r, its bounding box centred on the centre.
    # Exact SDF after Inigo Quilez (sdEquilateralTriangle), in y-up coordinates from the centroid,
    # which sits sqrt(3) r / 6 below the box centre.
    px = dx.abs() - r
    py = -dy + _SQRT3 * r / 6 + r / _SQRT3
    px, py = torch.broadcast_tensors(px, py)
    fold = px + _SQRT3 * py > 0
    px, py = (torch.where(fold, (px - _SQRT3 * py) / 2, px),
              torch.where(fold, (-_SQRT3 * px - py) / 2, py))
    px = px - torch.minimum(torch.maximum(px, -2 * r), torch.zeros_like(px))
    return -torch.sqrt(px * px + py * py) * torch.sign(py)


def split_seed(seed: int, split: str) -> int:
    """Train uses the seed itself; test a seed derived from it, so the two never coincide."""
    if split == "train":
        return seed
    return int(np.random.SeedSequence([seed, 0x7E57]).generate_state(1, dtype=np.uint64)[0])


def load_shapes(options: ShapesOptions | None = None, *, split: str = "train",
                image_size: int | None = None, seed: int = 0) -> ImageData:
    """Generate one split of the shapes dataset (deterministic in seed and split)."""
    options = options or ShapesOptions()
    size = 32 if image_size is None else image_size
    if size < MIN_IMAGE_SIZE:
        raise DataError(f"shapes needs image_size >= {MIN_IMAGE_SIZE}, got {size}: "
                        "pass a larger --set data.image_size")
    n = options.n_train if split == "train" else options.n_test
    generator = torch.Generator().manual_seed(split_seed(seed, split))
    attrs = sample_attributes(n, objects=options.objects, min_objects=options.min_objects,
                              generator=generator)
    offsets = sample_offsets(n, options.objects, generator)
    images, masks = render_shapes(attrs["shape"], attrs["colour"], attrs["size"],
                                  attrs["position"], image_size=size,
                                  background=options.background, offset=offsets)
    # Own stream for caption choices, so varied captions leave the images as they were.
    caption_generator = None if options.captions == "full" else \
        torch.Generator().manual_seed((split_seed(seed, split) + 1) % 2**63)
    first_shape, first_colour = attrs["shape"][:, 0], attrs["colour"][:, 0]
    labels = {"shape": first_shape, "colour": first_colour,
              "shape_colour": first_shape * len(COLOURS) + first_colour}[options.label]
    return ImageData(name="shapes", images=images, labels=labels.clone(),
                     class_names=class_names(options.label),
                     captions=captions_from_attributes(attrs, caption_generator),
                     attributes=attrs, masks=masks)

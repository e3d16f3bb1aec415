"""Read a `shapes` image's attributes straight from its pixels: no learning, no weights.

Each pixel is modelled as the background blended with one palette colour,
`pixel = background + alpha * (colour - background)`; pixels whose best colour covers more than
half of them form the foreground. The dominant object is the largest connected blob of the most
common foreground colour; its size, position and shape come from scale-free measurements, so
the reader works at any image size and ignores faint noise in imperfect samples.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.data.shapes import COLOURS, POSITION_CENTRES, SIZE_RADII

ATTRIBUTES: tuple[str, ...] = ("shape", "colour", "size", "position")
LABEL_MODES: tuple[str, ...] = ("shape", "colour", "shape_colour")
# Pixels per chunk: bounds the [n, colours, H, W] temporaries to ~100 MB.
_PIXELS_PER_CHUNK = 1 << 22
# A pixel is foreground when its best palette colour covers more than this share of it.
_MIN_ALPHA = 0.5
# ...and the blend explains it to within this share of that colour's distance from the background.
_MAX_RESIDUAL = 0.35
# Fewer object pixels than this share of the smallest real object (a small triangle) = not found.
_MIN_AREA_SHARE = 0.3
# Area / radius^2 of each shape (radius = half-extent in SIZE_RADII): circle, square, triangle.
_AREA_FACTOR = (math.pi, 4.0, math.sqrt(3.0))
# Thresholds on the 3rd and 4th harmonics (see _measure). Ideal shapes give 3rd: triangle 0.8,
# others 0; 4th: square 0.6, circle 0; pixelation at 16 px lifts a circle's 4th to ~0.28.
_TRIANGLE_THIRD = 0.4
_SQUARE_FOURTH = 0.38


def read_shapes(images: Tensor, background: tuple[int, int, int] = (0, 0, 0)) -> dict[str, Tensor]:
    """Attributes of the dominant object of each image: uint8 [N, 3, H, W] or float [-1, 1].

    Returns int64 [N] "shape", "colour", "size", "position" (indices into SHAPES, COLOURS,
    SIZES, POSITIONS; -1 where no object is found) and bool [N] "found".
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"read_shapes needs RGB images [N, 3, H, W], got {tuple(images.shape)}")
    n, _, h, w = images.shape
    chunk = max(1, _PIXELS_PER_CHUNK // (h * w * len(COLOURS)))
    parts = [_read_chunk(_to_255(images[i : i + chunk]), background)
             for i in range(0, n, chunk)]
    if not parts:
        return {key: torch.empty(0, dtype=torch.int64) for key in ATTRIBUTES} | {
            "found": torch.empty(0, dtype=torch.bool)}
    return {key: torch.cat([p[key] for p in parts]) for key in parts[0]}


def reader_labels(attrs: dict[str, Tensor], label: str) -> Tensor:
    """Class index of each image for a ShapesOptions.label mode; -1 where nothing was found."""
    if label not in LABEL_MODES:
        raise ValueError(f"unknown label mode {label!r}: use one of {', '.join(LABEL_MODES)}")
    shape, colour = attrs["shape"], attrs["colour"]
    value = {"shape": shape, "colour": colour,
             "shape_colour": shape * len(COLOURS) + colour}[label]
    return torch.where(attrs["found"], value, torch.full_like(value, -1))


def _to_255(images: Tensor) -> Tensor:
    if images.dtype == torch.uint8:
        return images.float()
    return (images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5


def _read_chunk(x: Tensor, background: tuple[int, int, int]) -> dict[str, Tensor]:
    n, _, h, w = x.shape
    bg = torch.tensor(background, dtype=torch.float32)
    # Per pixel and palette colour: the blend weight alpha and what the blend leaves unexplained.
    direction = torch.tensor(list(COLOURS.values()), dtype=torch.float32) - bg  # [K, 3]
    norm2 = (direction * direction).sum(1).clamp(min=1.0)  # [K]; 0 if a colour is the background
    # Channels last ([n, h, w, K]) so the reductions over colours run along contiguous memory.
    diff = x.permute(0, 2, 3, 1) - bg  # [n, h, w, 3]
    dot = diff @ direction.T  # [n, h, w, K]
    alpha = (dot / norm2).clamp_(0.0, 1.0)
    # |diff - alpha * direction|^2 as a share of |direction|^2, expanded to avoid a 5-D tensor.
    residual = (diff.pow(2).sum(-1, keepdim=True) - alpha * (2 * dot - alpha * norm2)) / norm2
    best_residual, best = residual.min(-1)  # [n, h, w]
    best_alpha = alpha.gather(-1, best.unsqueeze(-1)).squeeze(-1)
    foreground = (best_alpha > _MIN_ALPHA) & (best_residual < _MAX_RESIDUAL**2)

    # Dominant colour: the palette colour with most foreground pixels.
    k = len(COLOURS)
    index = (torch.arange(n).view(-1, 1, 1) * k + best)[foreground]
    colour = torch.bincount(index, minlength=n * k).view(n, k).argmax(1)
    blob = _largest_blob(foreground & (best == colour.view(-1, 1, 1)))
    # Soft weights: that colour's coverage over the blob and a 1-pixel rim, so anti-aliased
    # edges count by how much they are covered (sub-pixel accurate moments).
    rim = F.max_pool2d(blob.unsqueeze(1).float(), 3, stride=1, padding=1).squeeze(1) > 0
    colour_alpha = alpha.gather(-1, colour.view(-1, 1, 1, 1).expand(n, h, w, 1)).squeeze(-1)
    return _measure(colour_alpha * rim, blob, colour)


def _largest_blob(mask: Tensor) -> Tensor:
    """Keep each image's largest 8-connected blob: pixel ids spread as a running 3x3 maximum."""
    n, h, w = mask.shape
    # Integer ids (int16 when they fit): integer maxima are exact and cheaper than max-pooling.
    dtype = torch.int16 if h * w < 2**15 else torch.int32
    labels = torch.arange(1, h * w + 1, dtype=dtype).view(1, h, w) * mask
    for _ in range(h * w):  # a path is at most h*w pixels long; in practice ~ the blob diameter
        spread = _max3x3(labels) * mask
        if torch.equal(spread, labels):
            break
        labels = spread
    flat = labels.view(n, -1).long()
    sizes = torch.zeros(n, h * w + 1, dtype=torch.int64)
    sizes.scatter_add_(1, flat, torch.ones_like(flat))
    sizes[:, 0] = 0  # label 0 is the background
    return (flat == sizes.argmax(1, keepdim=True)).view(n, h, w) & mask


def _max3x3(x: Tensor) -> Tensor:
    """Maximum over each pixel's 3x3 neighbourhood of [n, h, w] (separable: rows, then columns)."""
    out = x.clone()
    out[:, :, 1:] = torch.maximum(out[:, :, 1:], x[:, :, :-1])
    out[:, :, :-1] = torch.maximum(out[:, :, :-1], x[:, :, 1:])
    rows = out.clone()
    out[:, 1:] = torch.maximum(out[:, 1:], rows[:, :-1])
    out[:, :-1] = torch.maximum(out[:, :-1], rows[:, 1:])
    return out


def _measure(weight: Tensor, blob: Tensor, colour: Tensor) -> dict[str, Tensor]:
    """Attributes from the blob's soft coverage weight [n, h, w]."""
    n, h, w = weight.shape
    side = float(min(h, w))
    found = blob.sum((1, 2)) >= _MIN_AREA_SHARE * _AREA_FACTOR[2] * (SIZE_RADII[0] * side) ** 2
    area = weight.sum((1, 2)).clamp(min=1e-6)
    ys = torch.arange(h, dtype=torch.float32) + 0.5
    xs = torch.arange(w, dtype=torch.float32) + 0.5
    cy = (weight.sum(2) * ys).sum(1) / area
    cx = (weight.sum(1) * xs).sum(1) / area

    # Shape from rotation-invariant harmonics of the mass about the centroid,
    # |E[z^k]| / E[|z|^2]^(k/2) with z = x + iy: a triangle has a strong 3rd harmonic, a square
    # a strong 4th, a circle neither.
    m = _central_moments(weight, cx, cy, area)
    third = torch.hypot(m[3][0] - 3 * m[1][2], 3 * m[2][1] - m[0][3])
    fourth = torch.hypot(m[4][0] - 6 * m[2][2] + m[0][4], 4 * m[3][1] - 4 * m[1][3])
    spread = (m[2][0] + m[0][2]).clamp(min=1e-6)
    third, fourth = third / spread**1.5, fourth / spread**2
    shape = torch.where(third > _TRIANGLE_THIRD, 2, torch.where(fourth > _SQUARE_FOURTH, 1, 0))

    # Size: the half-extent implied by the area for this shape, split at the geometric mean.
    half = (area / torch.tensor(_AREA_FACTOR)[shape]).sqrt()  # pixels
    size = (half / side > math.sqrt(SIZE_RADII[0] * SIZE_RADII[1])).long()

    # Position: the nearest cell to the object's box centre; a triangle's centroid sits
    # sqrt(3)/6 of its half-side below that centre.
    cy = cy - torch.where(shape == 2, half * math.sqrt(3.0) / 6, 0.0)
    centre = torch.stack([cx / w, cy / h], dim=1)
    position = torch.cdist(centre, torch.tensor(POSITION_CENTRES)).argmin(1)

    out = {"shape": shape, "colour": colour, "size": size, "position": position}
    out = {key: torch.where(found, value.long(), -1) for key, value in out.items()}
    out["found"] = found
    return out


def _central_moments(weight: Tensor, cx: Tensor, cy: Tensor,
                     area: Tensor) -> list[list[Tensor]]:
    """m[a][b] = E[x^a y^b] about the centroid (a + b <= 4), each [n]; two small matmuls."""
    n, h, w = weight.shape
    x = (torch.arange(w, dtype=torch.float32) + 0.5) - cx.view(-1, 1)  # [n, w]
    y = (torch.arange(h, dtype=torch.float32) + 0.5) - cy.view(-1, 1)  # [n, h]
    xp = torch.stack([x.pow(a) for a in range(5)], dim=2)  # [n, w, 5]
    yp = torch.stack([y.pow(b) for b in range(5)], dim=2)  # [n, h, 5]
    table = yp.transpose(1, 2) @ weight @ xp / area.view(-1, 1, 1)  # [n, 5 (b), 5 (a)]
    return [[table[:, b, a] for b in range(5)] for a in range(5)]

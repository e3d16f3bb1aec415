"""Where in an image CLIP sees a text: occlusion sensitivity (Zeiler & Fergus 2014).

A window slides over the image; each position is covered with a plain fill, and the drop in
CLIP similarity to the text is credited to the pixels under the window. Pure functions: an
image and a CLIP in, a map out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.errors import ConfigError
from genlab.images import to_float

if TYPE_CHECKING:
    from genlab.methods.clip import CLIP

NOISE = 1e-5  # a similarity drop below this is float rounding, not relevance


def _starts(side: int, patch: int, stride: int) -> list[int]:
    """Window offsets along one side; the last window always touches the far edge."""
    starts = list(range(0, side - patch + 1, stride))
    if starts[-1] != side - patch:
        starts.append(side - patch)
    return starts


@torch.no_grad()
def relevance_map(clip: CLIP, image: Tensor, text: str, *, patch: int, stride: int,
                  fill: float | None = None, batch: int = 64,
                  on_progress: Callable[[int, int], None] | None = None) -> Tensor:
    """Float [H, W] in [0, 1]: how much covering each pixel lowers CLIP's similarity between
    `image` ([C, H, W], uint8 or float in [-1, 1]) and `text`; 1 at the most relevant pixel.

    Windows are filled with `fill` (in [-1, 1]) or, by default, the image's median colour per
    channel: the background of sparse scenes, where a grey square would be a new object.
    `on_progress(windows, total)` after each batch of windows CLIP has seen."""
    from genlab.generate.clip_models import image_embeddings, text_embeddings

    c, h, w = image.shape
    if not 1 <= patch <= min(h, w) or stride < 1:
        raise ConfigError(f"--patch must be in 1..{min(h, w)} and --stride >= 1")
    x = (to_float(image) if image.dtype == torch.uint8 else image.float()).to(clip.device)
    colour = (x.flatten(1).median(dim=1).values if fill is None
              else torch.full((c,), float(fill), device=x.device)).view(1, c, 1, 1)
    target = text_embeddings(clip, [text])[0]
    base = image_embeddings(clip, x[None])[0] @ target
    windows = [(top, left) for top in _starts(h, patch, stride)
               for left in _starts(w, patch, stride)]
    credit = torch.zeros(h, w, device=x.device)
    cover = torch.zeros(h, w, device=x.device)
    for first in range(0, len(windows), batch):
        chunk = windows[first:first + batch]
        covered = torch.zeros(len(chunk), 1, h, w, dtype=torch.bool, device=x.device)
        for i, (top, left) in enumerate(chunk):
            covered[i, :, top:top + patch, left:left + patch] = True
        occluded = torch.where(covered, colour, x[None])
        drop = base - image_embeddings(clip, occluded) @ target  # [n]
        credit += (drop.view(-1, 1, 1) * covered[:, 0]).sum(0)
        cover += covered[:, 0].sum(0)
        if on_progress is not None:
            on_progress(first + len(chunk), len(windows))
    # mean drop over the windows covering each pixel; a rise (negative drop) is no relevance,
    # and a map of rounding noise alone is no map
    heat = (credit / cover).clamp_min(0)
    peak = heat.max()
    return (heat / peak if peak > NOISE else torch.zeros_like(heat)).cpu()


def relevance_mask(relevance: Tensor, threshold: float, dilate: int = 1) -> Tensor:
    """Bool [H, W]: pixels whose relevance reaches `threshold`, grown by `dilate` pixels so the
    anti-aliased rim of an object is regenerated with it."""
    check_mask_options(threshold, dilate)
    mask = (relevance >= threshold).float()[None, None]
    if dilate:
        mask = F.max_pool2d(mask, 2 * dilate + 1, stride=1, padding=dilate)
    return mask[0, 0] > 0


def check_mask_options(threshold: float, dilate: int) -> None:
    if not 0 < threshold <= 1 or dilate < 0:
        raise ConfigError("--threshold must be in (0, 1] and --dilate >= 0")

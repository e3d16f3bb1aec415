"""Image-to-image data made from a loaded dataset (`data.pairs`): an input derived from each
image, or two classes as two unpaired domains.

- edges: Canny edges (kornia: Gaussian sigma 1, gradient thresholds 0.1 / 0.2 of the [0, 1]
  grey image, hysteresis) of each image's luminance, white (255) on black, 1 channel: the
  edges2shoes task. Canny rather than Sobel because pix2pix's edges are thin binary lines,
  not a gradient magnitude (a Sobel map still holds the shading the output should invent).
- labels: `shapes` only. Each object's visible pixels (`masks`) get the grey level of its
  shape (circle 85, square 170, triangle 255; background 0), 1 channel: no colour, so the
  colour is the generator's choice, as in labels -> photo.
- grey: the luminance of an RGB image (ITU-R 601 with PIL's rounding, the rule by which
  `genlab.images.to_rgb_or_grey` turns colour grey), 1 channel.
- sr2 / sr4: the image downscaled by 2 / 4, bicubic and antialiased (the SRGAN protocol).
- unaligned: two classes of a labelled set (`data.domains=[A, B]`): the images are every
  class-B image, the inputs class-A images in a seeded random order (N is the larger count, the
  smaller domain repeated), so nothing pairs them. The inputs' attributes (shapes) are kept
  under "input_" keys so evaluation can check what survives A -> B.
`direction=BtoA` swaps inputs and images (domains too) where the reverse task makes sense.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

import kornia
import numpy as np
import torch
import torch.nn.functional as F

from genlab.data.base import ImageData
from genlab.data.shapes import SHAPES
from genlab.errors import ConfigError, DataError

DERIVED = ("edges", "labels", "grey", "sr2", "sr4")
FOLDER_LAYOUTS = ("aligned", "folders")  # folder:PATH only; "unaligned" reads both kinds
PAIRS = ("none", *DERIVED, *FOLDER_LAYOUTS, "unaligned")
DIRECTIONS = ("AtoB", "BtoA")
CANNY_LOW, CANNY_HIGH = 0.1, 0.2  # kornia's defaults, on gradients of [0, 1] images
_CHUNK = 4096  # images per Canny pass (bounds float memory)
# Names of the two sides: (input domain, image domain) for AtoB.
_DOMAINS = {"edges": ("edges", "image"), "labels": ("labels", "image"),
            "grey": ("grey", "colour"), "sr2": ("low-res", "high-res"),
            "sr4": ("low-res", "high-res")}
_NO_REVERSE = {"labels": "drawing a shape map from an image is segmentation, not this task",
               "sr2": "making a low-resolution image from a high one needs no model",
               "sr4": "making a low-resolution image from a high one needs no model"}


def check_options(name: str, pairs: str, domains: Sequence[str] | None, direction: str,
                  folder: bool) -> None:
    """One-line ConfigErrors for combinations of data.pairs/domains/direction that cannot work."""
    if pairs not in PAIRS:
        raise ConfigError(f"unknown data.pairs {pairs!r}: use one of {', '.join(PAIRS)}")
    if direction not in DIRECTIONS:
        raise ConfigError(f"unknown data.direction {direction!r}: use AtoB or BtoA")
    if pairs == "none" and direction != "AtoB":
        raise ConfigError("data.direction applies to image-to-image data: set data.pairs too "
                          "(e.g. data.pairs=edges)")
    if domains is not None and (pairs != "unaligned" or folder):
        where = ("a folder's domains are its trainA/ and trainB/ sub-folders" if folder
                 else "use it with data.pairs=unaligned")
        raise ConfigError(f"data.domains picks two classes of a labelled dataset: {where}")
    if pairs in FOLDER_LAYOUTS and not folder:
        raise ConfigError(f"data.pairs={pairs} reads a folder of image pairs: use "
                          f"data.name=folder:PATH (or data.pairs=edges, grey, sr2... on {name})")
    if pairs in _NO_REVERSE and direction == "BtoA":
        raise ConfigError(f"data.pairs={pairs} has no BtoA direction ({_NO_REVERSE[pairs]}): "
                          "use data.direction=AtoB")


def make_pairs(data: ImageData, pairs: str, *, domains: Sequence[str] | None = None,
               direction: str = "AtoB", seed: int = 0, split: str = "train") -> ImageData:
    """data with `inputs` (and `paired`, `domains`) filled for a derived or unaligned task."""
    if pairs == "unaligned":
        return unaligned_classes(data, domains, direction=direction, seed=seed, split=split)
    if pairs == "edges":
        inputs = edge_map(data.images)
    elif pairs == "labels":
        inputs = label_map(data)
    elif pairs == "grey":
        if data.channels != 3:
            raise ConfigError(f"data.pairs=grey makes grey inputs for colour images, but "
                              f"{data.name} is already grey: use a colour dataset (shapes, "
                              "cifar10, folder:PATH of colour images) or data.pairs=edges")
        inputs = luminance(data.images)
    elif pairs in ("sr2", "sr4"):
        inputs = downscale(data.images, int(pairs[2]), data.name)
    else:
        raise ConfigError(f"data.pairs={pairs} is not derived from a dataset's images: use one "
                          f"of {', '.join(DERIVED)}")
    paired = dataclasses.replace(data, inputs=inputs, paired=True, domains=_DOMAINS[pairs])
    return swap(paired) if direction == "BtoA" else paired


def swap(data: ImageData) -> ImageData:
    """The BtoA view of paired or unpaired data: inputs and images trade places."""
    assert data.inputs is not None
    images, inputs = data.inputs, data.images
    # masks describe the images' pixels: only meaningful while they stay the images
    masks = data.masks if data.masks is not None and \
        data.masks.shape[-2:] == images.shape[-2:] else None
    return dataclasses.replace(data, images=images.contiguous(), inputs=inputs.contiguous(),
                               masks=masks, domains=(data.domains[1], data.domains[0]))


def grey_of(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 1 or 3, S, S] to uint8 [N, 1, S, S]: grey images as they are, RGB by luma."""
    return images if images.shape[1] == 1 else luminance(images)


def luminance(images: torch.Tensor) -> torch.Tensor:
    """uint8 RGB [N, 3, H, W] to [N, 1, H, W] by PIL's "L" rule: (19595 R + 38470 G + 7471 B
    + 2^15) >> 16, ITU-R 601-2 luma in PIL's fixed point (bit-exact with Image.convert("L"))."""
    weights = torch.tensor([19595, 38470, 7471], dtype=torch.int64).view(1, 3, 1, 1)
    luma = (images.to(torch.int64) * weights).sum(1, keepdim=True) + (1 << 15)
    return (luma >> 16).to(torch.uint8)


_EDGE_CACHE: dict[str, torch.Tensor] = {}  # digest of the images -> their edges (this process)


def edge_map(images: torch.Tensor) -> torch.Tensor:
    """Canny edges of each image's luminance, kept for the process's next call on the same
    images (a benchmark trains several runs on one dataset; Canny over Fashion-MNIST costs
    tens of CPU-seconds each time)."""
    key = hashlib.sha1(images.contiguous().numpy().tobytes()).hexdigest() + str(images.shape)
    if key not in _EDGE_CACHE:
        if len(_EDGE_CACHE) >= 2:  # train and test splits of one dataset
            _EDGE_CACHE.clear()
        _EDGE_CACHE[key] = _canny(images)
    return _EDGE_CACHE[key].clone()


def _canny(images: torch.Tensor) -> torch.Tensor:
    """Canny edges of each image's luminance: uint8 [N, 1, S, S] of 0 and 255.

    kornia's non-maximum suppression and double threshold, then the hysteresis done by
    growing the strong edges through 3x3 max pooling into the weak ones: the same edges as
    kornia.filters.canny(hysteresis=True), several times faster on a CPU."""
    grey = grey_of(images)
    out = torch.empty_like(grey)
    for start in range(0, len(grey), _CHUNK):
        x = grey[start:start + _CHUNK].float() / 255
        _, thresholded = kornia.filters.canny(x, CANNY_LOW, CANNY_HIGH, hysteresis=False)
        strong, weak = thresholded >= 1, thresholded > 0  # 1 strong, 0.5 weak, 0 none
        active = torch.arange(len(x))  # images whose edges still grow (most stop in a few steps)
        while len(active):
            before = strong[active]
            grown = weak[active] & (F.max_pool2d(before.float(), 3, 1, 1) > 0)
            changed = (grown != before).flatten(1).any(1)
            strong[active] = grown
            active = active[changed]
        out[start:start + _CHUNK] = strong.to(torch.uint8) * 255
    return out


def label_levels(num_shapes: int) -> torch.Tensor:
    """The grey level of each shape class in a label map (1..num_shapes spread up to 255)."""
    return torch.tensor([255 * (s + 1) // num_shapes for s in range(num_shapes)],
                        dtype=torch.uint8)


def label_map(data: ImageData) -> torch.Tensor:
    """shapes' per-object shape map without colour: uint8 [N, 1, S, S]."""
    if data.masks is None or "shape" not in data.attributes:
        raise ConfigError(f"data.pairs=labels needs shape masks, which only the shapes dataset "
                          f"has ({data.name} has none): use data.name=shapes, or data.pairs="
                          "edges, grey or sr2 for other data")
    shape = data.attributes["shape"]  # [N, K], -1: no object (its mask is empty)
    levels = label_levels(len(SHAPES))[shape.clamp(min=0)]  # [N, K]
    # visible masks never overlap (each needs > half coverage left by later objects): max = sum
    painted = data.masks.to(torch.uint8) * levels[:, :, None, None]
    return painted.amax(dim=1, keepdim=True) if painted.shape[1] else \
        torch.zeros_like(data.images[:, :1])


def downscale(images: torch.Tensor, factor: int, name: str = "the dataset") -> torch.Tensor:
    """uint8 images downscaled by factor: bicubic, antialiased, rounded (SRGAN's LR inputs)."""
    size = images.shape[-1]
    if size % factor:
        raise ConfigError(f"data.pairs=sr{factor} needs an image side divisible by {factor}, "
                          f"but {name} is {size}px: set data.image_size to a multiple of "
                          f"{factor} (e.g. {size // factor * factor or factor})")
    out = torch.empty((*images.shape[:2], size // factor, size // factor), dtype=torch.uint8)
    for start in range(0, len(images), _CHUNK):
        x = images[start:start + _CHUNK].float()
        small = F.interpolate(x, size=(size // factor,) * 2, mode="bicubic", antialias=True,
                              align_corners=False)
        out[start:start + _CHUNK] = small.round_().clamp_(0, 255).to(torch.uint8)
    return out


def class_index(names: Sequence[str], key: str) -> int:
    """A class by name or index among names; a ConfigError listing the names otherwise."""
    if key in names:
        return names.index(key)
    if key.isdigit() and int(key) < len(names):
        return int(key)
    raise ConfigError(f"unknown class {key!r} in data.domains: use two of {', '.join(names)} "
                      f"(or their indices 0..{len(names) - 1})")


def split_generator(seed: int, split: str, tag: int) -> torch.Generator:
    """A generator for one seed and split (tag: which draw), the same on every machine."""
    state = np.random.SeedSequence([seed, ("train", "test").index(split), tag])
    return torch.Generator().manual_seed(int(state.generate_state(1, dtype=np.uint64)[0] >> 1))


def unpaired_order(n_inputs: int, n_images: int, generator: torch.Generator
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (images, inputs) of an unpaired set of N = max(n_images, n_inputs): the images
    in order (repeated when fewer), the inputs in seeded permutations (repeated when fewer)."""
    n = max(n_inputs, n_images)
    rounds = -(-n // n_inputs)
    inputs = torch.cat([torch.randperm(n_inputs, generator=generator) for _ in range(rounds)])
    return torch.arange(n) % n_images, inputs[:n]


def unaligned_classes(data: ImageData, domains: Sequence[str] | None, *, direction: str = "AtoB",
                      seed: int = 0, split: str = "train") -> ImageData:
    """Two classes of a labelled dataset as domains A and B, with no correspondence."""
    if data.labels is None:
        raise ConfigError(f"data.pairs=unaligned needs two classes of a labelled dataset and "
                          f"{data.name} has no labels: use a labelled set with data.domains, or "
                          "a folder:PATH with trainA/ and trainB/")
    names = ", ".join(data.class_names)
    if domains is None or len(domains) != 2:
        raise ConfigError(f"data.pairs=unaligned on {data.name} needs data.domains=[A, B], two "
                          f"of its classes: {names}")
    a, b = (class_index(data.class_names, str(key)) for key in domains)
    if a == b:
        raise ConfigError(f"data.domains names {data.class_names[a]!r} twice: pick two "
                          f"different classes of {names}")
    if direction == "BtoA":
        a, b = b, a
    members = [torch.nonzero(data.labels == c).flatten() for c in (a, b)]
    for c, found in zip((a, b), members, strict=True):
        if not len(found):
            raise DataError(f"the {split} split of {data.name} has no {data.class_names[c]!r} "
                            "images: pick classes that have images in both splits")
    image_at, input_at = unpaired_order(len(members[0]), len(members[1]),
                                        split_generator(seed, split, 0xD0))
    image_idx, input_idx = members[1][image_at], members[0][input_at]
    attributes = {key: value[image_idx] for key, value in data.attributes.items()}
    attributes.update({f"input_{key}": value[input_idx] for key, value in data.attributes.items()})
    return dataclasses.replace(
        data, images=data.images[image_idx].contiguous(), labels=data.labels[image_idx],
        captions=[data.captions[i] for i in image_idx.tolist()] if data.captions else None,
        attributes=attributes, masks=data.masks[image_idx] if data.masks is not None else None,
        inputs=data.images[input_idx].contiguous(), paired=False,
        domains=(data.class_names[a], data.class_names[b]))

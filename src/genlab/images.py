"""Conversions at the edges: float [-1, 1] tensors to uint8, PNG grids and GIFs, and user image
files of any mode and bit depth to uint8 grey or RGB by one rule (`to_rgb_or_grey`), which
`read_image` and the `folder:PATH` dataset both use."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid

from genlab.errors import DataError, DataWarning
from genlab.files import atomic_path


def to_uint8(images: Tensor) -> Tensor:
    """[-1, 1] float NCHW -> uint8 NCHW."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


def to_float(images: Tensor) -> Tensor:
    """uint8 NCHW -> float [-1, 1]."""
    return images.float().div(127.5).sub(1)


GRID_ROW = 8  # images per grid row unless the classes ask for another length
CLASS_ROW_MAX = 16  # longest row of one class; more images per class cycle the classes


def class_rows(n: int, num_classes: int) -> tuple[Tensor | None, int]:
    """Labels for exactly n grid images of a conditional model (None: unconditional), and the
    row length. When n is 2..CLASS_ROW_MAX images per class, each row is one class; otherwise
    the classes cycle and a row holds as many whole cycles as fit in GRID_ROW (one cycle of up
    to CLASS_ROW_MAX classes; GRID_ROW with more), so each column is one class. The grid is
    one column only for n == 1: n // classes images per class dropped the rest (8 asked, 6
    made with 3 classes) and made a single column of 10 classes of 1."""
    if not num_classes:
        return None, GRID_ROW
    per, rest = divmod(n, num_classes)
    if not rest and 2 <= per <= CLASS_ROW_MAX:
        return torch.arange(num_classes).repeat_interleave(per), per
    row = num_classes * max(1, GRID_ROW // num_classes) if num_classes <= CLASS_ROW_MAX \
        else GRID_ROW
    return torch.arange(n) % num_classes, row


TRANSLATION_ROWS = 8  # examples (rows of input | output | target) in a translation grid


def side_by_side(columns: Sequence[Tensor]) -> Tensor:
    """Images for a grid with one example per row and one column per tensor (input | output |
    target): grey columns become RGB when another is colour, smaller ones (a super-resolution
    input) are enlarged by nearest neighbour so its pixels stay visible. Pass nrow=len(columns)."""
    channels = max(c.shape[1] for c in columns)
    side = max(c.shape[-1] for c in columns)
    ready = []
    for col in columns:
        col = col.detach().float().cpu()
        if col.shape[1] != channels:
            col = col.expand(-1, channels, -1, -1)
        if col.shape[-1] != side:
            col = torch.nn.functional.interpolate(col, size=(side, side), mode="nearest")
        ready.append(col)
    return torch.stack(ready, dim=1).flatten(0, 1)


def grid_image(images: Tensor, nrow: int = 8, padding: int = 2) -> Image.Image:
    """A PIL grid of float [-1, 1] or uint8 images."""
    if images.dtype != torch.uint8:
        images = to_uint8(images)
    grid = make_grid(images.cpu(), nrow=nrow, padding=padding, pad_value=255)
    array = grid.permute(1, 2, 0).numpy()
    return Image.fromarray(array[..., 0] if array.shape[2] == 1 else array)


def _atomic_save(image: Image.Image, path: Path, **kwargs: object) -> None:
    with atomic_path(path) as tmp:
        image.save(tmp, format=path.suffix.lstrip(".").upper().replace("JPG", "JPEG"), **kwargs)


def save_grid(images: Tensor, path: str | Path, nrow: int = 8, upscale: int = 1) -> Path:
    path = Path(path)
    image = grid_image(images, nrow=nrow)
    if upscale > 1:
        image = image.resize((image.width * upscale, image.height * upscale), Image.NEAREST)
    _atomic_save(image, path)
    return path


def save_gif(frames: Sequence[Image.Image], path: str | Path, duration_ms: int = 100) -> Path:
    path = Path(path)
    first, *rest = [f.convert("RGB") for f in frames]
    _atomic_save(first, path, save_all=True, append_images=rest, duration=duration_ms, loop=0)
    return path


# --- user images to uint8, by rule ------------------------------------------------------------
# Every file a user hands in (img2img/inpaint/edit inputs, masks, folder datasets) goes through
# to_rgb_or_grey, so a 16-bit PNG, a float TIFF or a transparent PNG means the same everywhere.
# What it changes beyond plain 8-bit decoding is returned as notes, and reported once per call
# or dataset (`conversion_summary`), never once per image.

BACKGROUND = 255  # transparent pixels are composited on white, as viewers and browsers show them
TINY_FACTOR = 4  # an image this many times smaller than the target size is noted as tiny
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
_NOTES_SHOWN = 5  # kinds of conversion a summary lists before "and N more kinds"


def open_image(path: Path, draft: int | None = None) -> Image.Image:
    """The decoded (first frame of the) image file at path; a one-line DataError when it is
    missing, a folder, not an image, truncated or larger than PIL's decompression-bomb limit.
    `draft`: JPEGs may decode at a reduced scale no smaller than draft x draft."""
    if path.is_dir():
        raise DataError(f"{path} is a folder: pass an image file (PNG or JPEG)")
    if not path.is_file():
        raise DataError(f"image {path} not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:  # closes the file: the pixels stay loaded
                if draft:
                    image.draft(None, (draft, draft))
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(f"{path} is too large (over {Image.MAX_IMAGE_PIXELS} pixels): "
                        "resize it first") from None
    except Exception as err:  # PIL's plugins raise many types for truncated or malformed files
        raise DataError(f"{path} is not a readable image ({err.__class__.__name__}): pass a "
                        "PNG or JPEG file") from None
    return image


def _from_16_bit(values: np.ndarray) -> np.ndarray:
    """0..65535 to 0..255 by round(x * 255 / 65535) (so 128 -> 0, 129 -> 1, 65535 -> 255); x >> 8
    would be a little darker. There are no ties: 65535 / 255 = 257 is odd."""
    return ((values.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _min_max(values: np.ndarray) -> np.ndarray:
    """The smallest value to 0, the largest to 255 (a constant image becomes 0)."""
    values = values.astype(np.float64)
    low, span = values.min(), values.max() - values.min()
    return np.rint((values - low) * (255 / span if span else 0)).astype(np.uint8)


def _from_int32(values: np.ndarray, notes: list[str]) -> np.ndarray:
    """Mode I: values in 0..255 as they are, in 0..65535 as 16-bit, anything else min-max."""
    low, high = int(values.min()), int(values.max())
    if low >= 0 and high <= 255:
        return values.astype(np.uint8)
    if low >= 0 and high <= 65535:
        notes.append("32-bit integer scaled as 16-bit to 8-bit")
        return _from_16_bit(values)
    notes.append("32-bit integer min-max normalised to 0..255")
    return _min_max(values)


def _from_float(values: np.ndarray, notes: list[str]) -> np.ndarray:
    """Mode F: NaN and inf become 0; then values in [0, 1] times 255, values in [0, 255] rounded,
    anything else min-max."""
    finite = np.isfinite(values)
    if not finite.all():
        notes.append("non-finite float pixels set to 0")
        values = np.where(finite, values, 0)
    values = values.astype(np.float64)
    low, high = values.min(), values.max()
    if low >= 0 and high <= 1:
        notes.append("float 0..1 scaled to 0..255")
        return np.rint(values * 255).astype(np.uint8)
    if low >= 0 and high <= 255:
        notes.append("float rounded to 0..255")
        return np.rint(values).astype(np.uint8)
    notes.append("float min-max normalised to 0..255")
    return _min_max(values)


def _composite(array: np.ndarray, notes: list[str]) -> np.ndarray:
    """[H, W, C + alpha] uint8 to [H, W] or [H, W, 3] on the white background."""
    colour, alpha = array[..., :-1], array[..., -1:]
    if (alpha < 255).any():
        notes.append("with alpha composited on white")
        weight = alpha.astype(np.float64) / 255
        colour = np.rint(colour * weight + BACKGROUND * (1 - weight)).astype(np.uint8)
    return colour[..., 0] if colour.shape[-1] == 1 else colour


def _pixels(image: Image.Image, notes: list[str]) -> np.ndarray:
    """uint8 [H, W] for grey modes, [H, W, 3] for the others, alpha composited."""
    mode = image.mode
    if mode in _SIXTEEN_BIT:
        notes.append("16-bit scaled to 8-bit")
        return _from_16_bit(np.asarray(image))
    if mode == "I":
        return _from_int32(np.asarray(image), notes)
    if mode == "F":
        return _from_float(np.asarray(image), notes)
    keyed = "transparency" in image.info and mode in ("L", "RGB")  # one colour is transparent
    if mode in ("P", "PA", "RGBa", "La") or keyed:
        image = image.convert("LA" if mode in ("L", "La") else "RGBA")
    if image.mode in ("LA", "RGBA"):
        return _composite(np.asarray(image), notes)
    if image.mode not in ("L", "RGB"):
        image = image.convert("L" if image.mode == "1" else "RGB")
    return np.asarray(image)


def to_rgb_or_grey(image: Image.Image, channels: int | None = None,
                   size: int | None = None) -> tuple[np.ndarray, list[str]]:
    """A decoded user image as uint8 [H, W] (grey) or [H, W, 3] (RGB), and notes on what was
    converted beyond plain 8-bit decoding (empty for 8-bit grey, RGB, opaque RGBA or palette).

    The rule: 16-bit modes scaled by 255/65535 (rounded); 32-bit integer "I" taken as is when
    in 0..255, scaled as 16-bit when in 0..65535, else min-max to 0..255; float "F" with NaN
    and inf as 0, times 255 when in [0, 1], rounded when in [0, 255], else min-max; alpha (RGBA,
    LA, PA, a palette or grey/RGB image with a transparent colour) composited on white; other
    modes (CMYK, YCbCr...) by PIL's conversion to RGB.
    `channels`: 1 or 3 to force grey (ITU-R 601 luma, as PIL) or RGB; None keeps grey modes
    grey. `size`: the side the caller will resize to; an image whose shorter side is 1 or at
    least TINY_FACTOR times smaller is noted as tiny.
    """
    notes: list[str] = []
    try:
        array = _pixels(image, notes)
    except ValueError:  # PIL converts some modes (LAB...) to nothing we take
        raise DataError(f"{image.mode} images cannot be converted to RGB: save it as an RGB or "
                        "greyscale PNG") from None
    if channels == 1 and array.ndim == 3:
        array = np.asarray(Image.fromarray(array).convert("L"))
    elif channels == 3 and array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    height, width = array.shape[:2]
    side = min(height, width)
    if size is not None and side < size and (side == 1 or side * TINY_FACTOR <= size):
        notes.append(f"tiny ({width}x{height}) upscaled to {size}x{size}")
    return np.array(array, order="C"), notes  # a writable copy: PIL's buffer is read-only


def conversion_summary(notes: Sequence[list[str]]) -> str | None:
    """One line for the notes of all the images of a dataset (one list per image), e.g.
    "converted 3 of 120 images: 2 16-bit scaled to 8-bit, 1 with alpha composited on white"
    (None: nothing was converted)."""
    counts = Counter(note for image_notes in notes for note in image_notes)
    if not counts:
        return None
    kinds = [f"{count} {note}" for note, count in counts.most_common()]
    if len(kinds) > _NOTES_SHOWN:
        kinds = [*kinds[:_NOTES_SHOWN], f"and {len(kinds) - _NOTES_SHOWN} more kinds"]
    converted = sum(1 for image_notes in notes if image_notes)
    return f"converted {converted} of {len(notes)} images: {', '.join(kinds)}"


def read_image(path: str | Path, channels: int, size: int | None = None) -> Tensor:
    """A user's image file as uint8 [C, H, W] with 1 (grey) or 3 (RGB) channels, converted by
    `to_rgb_or_grey`'s rule and reported in one DataWarning. With `size`, an image that is not
    size x size is refused before any conversion is reported: nothing here resizes."""
    path = Path(path)
    image = open_image(path)
    if size is not None and image.size != (size, size):
        raise DataError(f"{path} is {image.width}x{image.height} but the model makes "
                        f"{size}x{size} images: resize it first")
    try:
        array, notes = to_rgb_or_grey(image, channels)
    except DataError as err:
        raise DataError(f"{path}: {err}") from None
    if notes:
        warnings.warn(f"{path}: converted the image: {', '.join(notes)}", DataWarning,
                      stacklevel=2)
    tensor = torch.from_numpy(array)
    return tensor.unsqueeze(0) if tensor.dim() == 2 else tensor.permute(2, 0, 1).contiguous()


def save_image(image: Tensor, path: str | Path) -> Path:
    """One float [-1, 1] or uint8 [C, H, W] image as a PNG at its own size (atomic write)."""
    path = Path(path)
    if image.dtype != torch.uint8:
        image = to_uint8(image)
    array = image.cpu().permute(1, 2, 0).numpy()
    _atomic_save(Image.fromarray(array[..., 0] if array.shape[2] == 1 else array), path)
    return path

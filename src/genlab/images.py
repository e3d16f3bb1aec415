"""Conversions at the edges: float [-1, 1] tensors to uint8, PNG grids and GIFs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid

from genlab.files import atomic_path


def to_uint8(images: Tensor) -> Tensor:
    """[-1, 1] float NCHW -> uint8 NCHW."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


def to_float(images: Tensor) -> Tensor:
    """uint8 NCHW -> float [-1, 1]."""
    return images.float().div(127.5).sub(1)


def class_rows(n: int, num_classes: int) -> tuple[Tensor | None, int]:
    """Labels that lay a grid of about n images out one row per class, and the row length."""
    if not num_classes:
        return None, 8
    per = max(1, n // num_classes)
    return torch.arange(num_classes).repeat_interleave(per), per


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


def read_image(path: str | Path, channels: int) -> Tensor:
    """A PNG/JPEG/... file as uint8 [C, H, W] with 1 (grey) or 3 (RGB) channels."""
    from PIL import UnidentifiedImageError

    from genlab.errors import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"image {path} not found")
    try:
        with Image.open(path) as img:
            array = torch.from_numpy(np.array(img.convert("L" if channels == 1 else "RGB")))
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"{path} is not a readable image ({err.__class__.__name__}): pass a "
                        "PNG or JPEG file") from None
    return array.unsqueeze(0) if array.dim() == 2 else array.permute(2, 0, 1).contiguous()


def save_image(image: Tensor, path: str | Path) -> Path:
    """One float [-1, 1] or uint8 [C, H, W] image as a PNG at its own size (atomic write)."""
    path = Path(path)
    if image.dtype != torch.uint8:
        image = to_uint8(image)
    array = image.cpu().permute(1, 2, 0).numpy()
    _atomic_save(Image.fromarray(array[..., 0] if array.shape[2] == 1 else array), path)
    return path

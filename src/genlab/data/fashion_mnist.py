"""Fashion-MNIST from the standard IDX gz files (Debian package `dataset-fashion-mnist`)."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from genlab.data.base import DatasetStatus, ImageData, resize_images
from genlab.errors import DataError

DEFAULT_ROOT = "/usr/share/datasets/fashion-mnist"
DEFAULT_SIZE = 28
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
_PREFIX = {"train": "train", "test": "t10k"}
FILES = [f"{prefix}-{kind}-ubyte.gz" for prefix in _PREFIX.values()
         for kind in ("images-idx3", "labels-idx1")]


def _how_to_get(root: Path) -> str:
    return (f"fashion-mnist not found in {root}: install it with "
            "`apt-get install dataset-fashion-mnist` or pass --set data.root=DIR holding "
            "the IDX files")


def find_root(root: str | None) -> Path | None:
    """The folder holding all four IDX files: root itself, or its fashion-mnist or
    torchvision-style FashionMNIST/raw sub-folder (so one data.root can serve every dataset)."""
    base = Path(root).expanduser() if root else Path(DEFAULT_ROOT)
    for folder in (base, base / "fashion-mnist", base / "FashionMNIST" / "raw"):
        if all((folder / name).is_file() for name in FILES):
            return folder
    return None


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Read one gzipped IDX file of unsigned bytes, checking its magic number and size."""
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path} is not a readable gzip file ({error}): reinstall "
                        "dataset-fashion-mnist or replace the file") from None
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header or struct.unpack(">I", data[:4])[0] != magic:
        raise DataError(f"{path} is not an IDX file of the expected kind (bad magic number): "
                        "reinstall dataset-fashion-mnist or replace the file")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    if len(data) != header + int(np.prod(shape)):
        raise DataError(f"{path} is truncated or too long for its header {shape}: "
                        "reinstall dataset-fashion-mnist or replace the file")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def load_fashion_mnist(*, split: str = "train", image_size: int | None = None,
                       root: str | None = None) -> ImageData:
    """One split of Fashion-MNIST: 1 channel, default 28x28, 10 classes."""
    folder = find_root(root)
    if folder is None:
        raise DataError(_how_to_get(Path(root).expanduser() if root else Path(DEFAULT_ROOT)))
    prefix = _PREFIX[split]
    pixels = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz", IMAGES_MAGIC)
    targets = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", LABELS_MAGIC)
    if len(pixels) != len(targets) or (len(targets) and targets.max() >= len(CLASS_NAMES)):
        raise DataError(f"fashion-mnist {split} images and labels in {folder} do not match: "
                        "reinstall dataset-fashion-mnist or replace the files")
    # frombuffer views are read-only: copy into tensors the caller may modify.
    images = torch.from_numpy(pixels.copy()).unsqueeze(1)
    labels = torch.from_numpy(targets.astype(np.int64))
    images = resize_images(images, image_size or DEFAULT_SIZE)
    return ImageData(name="fashion-mnist", images=images, labels=labels,
                     class_names=list(CLASS_NAMES),
                     captions=[f"a photo of a {CLASS_NAMES[c]}" for c in labels.tolist()])


def fashion_mnist_status(root: str | None = None) -> DatasetStatus:
    folder = find_root(root)
    if folder is None:
        return DatasetStatus("fashion-mnist", False,
                             _how_to_get(Path(root).expanduser() if root else Path(DEFAULT_ROOT)))
    return DatasetStatus("fashion-mnist", True, f"IDX files in {folder}")

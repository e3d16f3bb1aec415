"""MNIST, CIFAR-10, SVHN and CelebA through torchvision, held in memory as uint8 tensors."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genlab.data.base import DatasetStatus, ImageData, resize_images
from genlab.errors import DataError

DEFAULT_ROOT = "~/.cache/genlab/data"
# torchvision's urlopen calls have no timeout: bound them so a dead network fails, not hangs.
DOWNLOAD_SOCKET_TIMEOUT_S = 60.0
_DIGITS = [str(d) for d in range(10)]
_CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                    "ship", "truck"]
_CELEBA_CROP = 178  # the usual centre crop of the 178x218 aligned faces
_DECODE_CHUNK = 1024

Loaded = tuple[torch.Tensor, torch.Tensor | None]  # images uint8 [N, C, S, S], labels
Read = Callable[[Path, str, bool, int], Loaded]


@dataclass(frozen=True)
class _Source:
    required: Callable[[str], list[str]]  # files/folders (relative to root) a split needs
    read: Read  # (root, split, download, size) -> images uint8 [N, C, size, size], labels
    default_size: int
    class_names: list[str]
    caption: str | None  # format string with {name}, or None for no captions


def _mnist_required(split: str) -> list[str]:
    prefix = "train" if split == "train" else "t10k"
    return [f"MNIST/raw/{prefix}-images-idx3-ubyte", f"MNIST/raw/{prefix}-labels-idx1-ubyte"]


def _cifar10_required(split: str) -> list[str]:
    batches = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    return [f"cifar-10-batches-py/{name}" for name in [*batches, "batches.meta"]]


def _svhn_required(split: str) -> list[str]:
    return [f"{split}_32x32.mat"]


def _celeba_required(split: str) -> list[str]:
    names = ["img_align_celeba", "list_eval_partition.txt", "identity_CelebA.txt",
             "list_attr_celeba.txt", "list_bbox_celeba.txt", "list_landmarks_align_celeba.txt"]
    return [f"celeba/{name}" for name in names]


def _read_mnist(root: Path, split: str, download: bool, size: int) -> Loaded:
    from torchvision.datasets import MNIST

    ds = MNIST(str(root), train=split == "train", download=download)
    return resize_images(ds.data.unsqueeze(1), size), ds.targets.long()


def _read_cifar10(root: Path, split: str, download: bool, size: int) -> Loaded:
    from torchvision.datasets import CIFAR10

    ds = CIFAR10(str(root), train=split == "train", download=download)
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2)  # NHWC -> NCHW
    return resize_images(images, size), torch.tensor(ds.targets, dtype=torch.int64)


def _read_svhn(root: Path, split: str, download: bool, size: int) -> Loaded:
    from torchvision.datasets import SVHN

    ds = SVHN(str(root), split=split, download=download)
    labels = torch.from_numpy(np.asarray(ds.labels, dtype=np.int64))
    return resize_images(torch.from_numpy(ds.data), size), labels


def _read_celeba(root: Path, split: str, download: bool, size: int) -> Loaded:
    from torchvision.datasets import CelebA

    ds = CelebA(str(root), split=split, target_type=[], download=download)
    folder = root / "celeba" / "img_align_celeba"
    images = torch.empty(len(ds.filename), 3, size, size, dtype=torch.uint8)
    # Decode in chunks so only one chunk of full-size faces is in memory at a time.
    for start in range(0, len(ds.filename), _DECODE_CHUNK):
        faces = [_celeba_face(folder / name) for name in ds.filename[start:start + _DECODE_CHUNK]]
        images[start:start + len(faces)] = resize_images(torch.stack(faces), size)
    return images, None


def _celeba_face(path: Path) -> torch.Tensor:
    with Image.open(path) as image:
        w, h = image.size
        left, top = (w - _CELEBA_CROP) // 2, (h - _CELEBA_CROP) // 2
        face = image.convert("RGB").crop((left, top, left + _CELEBA_CROP, top + _CELEBA_CROP))
        return torch.from_numpy(np.asarray(face).copy()).permute(2, 0, 1)


SOURCES: dict[str, _Source] = {
    "mnist": _Source(_mnist_required, _read_mnist, 28, _DIGITS, "a handwritten digit {name}"),
    "cifar10": _Source(_cifar10_required, _read_cifar10, 32, _CIFAR10_CLASSES,
                       "a photo of a {name}"),
    "svhn": _Source(_svhn_required, _read_svhn, 32, _DIGITS, "a photo of the house number {name}"),
    "celeba": _Source(_celeba_required, _read_celeba, 64, [], None),
}


def _root(root: str | None) -> Path:
    return Path(root or DEFAULT_ROOT).expanduser()


def _present(root: Path, name: str, split: str) -> bool:
    return all((root / rel).exists() for rel in SOURCES[name].required(split))


def _short(error: BaseException) -> str:
    """The most telling line of an exception (torchvision's are multi-line), kept short."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[-1] if lines else type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


@contextmanager
def _network_timeout(seconds: float) -> Iterator[None]:
    previous = socket.getdefaulttimeout()
    if previous is None:
        socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def load_torchvision(name: str, *, split: str = "train", image_size: int | None = None,
                     root: str | None = None, download: bool = False) -> ImageData:
    """Load one split of a torchvision dataset named in SOURCES, downloading it if asked."""
    source, base = SOURCES[name], _root(root)
    fetch = not _present(base, name, split)
    if fetch and not download:
        raise DataError(f"{name} not found under {base}: rerun with --download on a machine with "
                        "internet, or put the torchvision files there")
    size = image_size or source.default_size
    try:
        with _network_timeout(DOWNLOAD_SOCKET_TIMEOUT_S) if fetch else nullcontext():
            images, labels = source.read(base, split, fetch, size)
    except Exception as error:  # torchvision raises anything from URLError to RuntimeError
        if fetch:
            raise DataError(f"could not download {name} (no internet?): {_short(error)}") from error
        raise DataError(f"{name} files under {base} are unreadable ({_short(error)}): delete them "
                        "and rerun with --download") from error
    captions = None
    if source.caption is not None and labels is not None:
        captions = [source.caption.format(name=source.class_names[i]) for i in labels.tolist()]
    return ImageData(name=name, images=images.contiguous(), labels=labels,
                     class_names=list(source.class_names), captions=captions)


def torchvision_status(name: str, root: str | None = None) -> DatasetStatus:
    base = _root(root)
    if all(_present(base, name, split) for split in ("train", "test")):
        return DatasetStatus(name, True, f"torchvision files under {base}")
    extra = " and the gdown package" if name == "celeba" else ""
    return DatasetStatus(name, False, f"not under {base}: `--download` fetches it (needs internet"
                                      f"{extra})")

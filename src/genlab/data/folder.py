"""Any folder of images (`folder:PATH`), searched recursively.

Layout rules:
- If PATH has both `train/` and `test/` sub-folders, the split reads that sub-folder;
  otherwise both splits are the whole folder (there is no held-out data to invent).
- If the split folder has sub-folders holding files, each is a class (sorted names) and
  files lying directly in the split folder are ignored with a warning; otherwise the set
  is unlabelled.
- Images are centre-cropped to a square and resized; RGB unless every image is grayscale.
- Unreadable files are skipped and reported in one DataWarning. Hidden files and
  `captions.jsonl` are not images and are not counted.
- `captions.jsonl` (lines `{"file": "relative/path.png", "caption": "..."}`, paths relative
  to the folder holding the jsonl, at PATH or in the split folder) attaches captions;
  images without a line get "" so the captions list always matches the images. Broken lines
  are skipped; broken lines and uncaptioned images are counted in one DataWarning.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genlab.data.base import DataWarning, ImageData, resize_images
from genlab.errors import DataError

DEFAULT_SIZE = 32
CAPTIONS_FILE = "captions.jsonl"
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.name != CAPTIONS_FILE
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _read_captions(folder: Path) -> tuple[dict[Path, str], list[str]]:
    """Captions by resolved image path, and "file:line" of every line that could not be read."""
    path = folder / CAPTIONS_FILE
    if not path.is_file():
        return {}, []
    captions, broken = {}, []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace")
                                  .splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            captions[(folder / entry["file"]).resolve()] = str(entry["caption"])
        except (ValueError, KeyError, TypeError):  # one bad line must not cost the whole set
            broken.append(f"{path}:{number}")
    return captions, broken


def _attach_captions(top: Path, folder: Path, paths: list[Path]) -> list[str] | None:
    """Captions for paths from captions.jsonl at PATH and in the split folder (None: no file)."""
    captions_by_path, broken = _read_captions(top)
    if folder != top:
        more, more_broken = _read_captions(folder)
        captions_by_path.update(more)
        broken += more_broken
    if not captions_by_path and not broken:
        return None
    captions = [captions_by_path.get(p.resolve(), "") for p in paths]
    missing = captions.count("")
    problems = []
    if broken:
        problems.append(f"skipped {len(broken)} lines that are not JSON objects with \"file\" "
                        f"and \"caption\" (e.g. {broken[0]})")
    if missing:
        problems.append(f"{missing} of {len(paths)} images have no caption (given \"\")")
    if problems:
        warnings.warn(f"{CAPTIONS_FILE}: {'; '.join(problems)}", DataWarning, stacklevel=5)
    return captions


def _decode(path: Path, size: int) -> tuple[torch.Tensor, bool] | None:
    """Decoded, centre-cropped image as uint8 [C, size, size] and whether it is grayscale;
    None when the file is not a readable image."""
    try:
        with Image.open(path) as image:
            image.draft(None, (2 * size, 2 * size))  # JPEG: decode big photos at reduced scale
            gray = image.mode in _GRAY_MODES
            image = image.convert("L" if gray else "RGB")
            w, h = image.size
            side = min(w, h)
            left, top = (w - side) // 2, (h - side) // 2
            array = np.asarray(image.crop((left, top, left + side, top + side)))
    except Exception:  # PIL plugins raise many types for truncated or malformed files
        return None
    tensor = torch.from_numpy(array.copy())
    tensor = tensor[None] if gray else tensor.permute(2, 0, 1)
    return resize_images(tensor[None], size)[0], gray


def load_folder(path: str, *, split: str = "train", image_size: int | None = None) -> ImageData:
    """Load every readable image under path (see the module docstring for the layout rules)."""
    top = Path(path).expanduser()
    if not top.is_dir():
        raise DataError(f"image folder {top} does not exist: pass folder:PATH with an existing "
                        "folder of images")
    folder = top / split if (top / "train").is_dir() and (top / "test").is_dir() else top
    size = image_size or DEFAULT_SIZE

    subdirs = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    listed = [(d, _files(d)) for d in subdirs]
    class_dirs = [d for d, files in listed if files]
    if class_dirs:
        groups = [(label, files) for label, (_, files) in enumerate(f for f in listed if f[1])]
        loose = [p for p in folder.iterdir() if p.is_file() and p.name != CAPTIONS_FILE
                 and not p.name.startswith(".")]
        if loose:
            warnings.warn(f"ignored {len(loose)} files directly in {folder}: with class "
                          "sub-folders every image must be inside one", DataWarning, stacklevel=4)
    else:
        groups = [(-1, _files(folder))]

    images, labels, gray, paths, skipped = [], [], [], [], []
    for label, files in groups:
        for file in files:
            decoded = _decode(file, size)
            if decoded is None:
                skipped.append(file)
                continue
            images.append(decoded[0])
            gray.append(decoded[1])
            labels.append(label)
            paths.append(file)
    total = sum(len(files) for _, files in groups)
    if not images:
        raise DataError(f"no readable images among {total} files in {folder}: "
                        "pass folder:PATH pointing at PNG/JPEG images")
    if skipped:
        warnings.warn(f"skipped {len(skipped)} of {total} files in {folder} that are not readable "
                      f"images (e.g. {skipped[0].relative_to(folder)})", DataWarning, stacklevel=4)

    if not all(gray):  # mixed set: promote grayscale images to RGB, as PIL's L->RGB does
        images = [im.expand(3, -1, -1) for im in images]
    captions = _attach_captions(top, folder, paths)
    return ImageData(
        name=f"folder:{path}",
        images=torch.stack(images).contiguous(),
        labels=torch.tensor(labels, dtype=torch.int64) if class_dirs else None,
        class_names=[d.name for d in class_dirs],
        captions=captions,
    )

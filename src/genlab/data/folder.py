"""Any folder of images (`folder:PATH`), searched recursively.

Layout rules:
- If PATH has both `train/` and `test/` sub-folders, the split reads that sub-folder;
  otherwise both splits are the whole folder (there is no held-out data to invent).
- If the split folder has sub-folders holding files, each is a class (sorted names) and
  files lying directly in the split folder are ignored with a warning; otherwise the set
  is unlabelled.
- Images are centre-cropped to a square and resized; RGB unless every image is grayscale.
  Modes and bit depths are converted by `genlab.images.to_rgb_or_grey`'s rule (16-bit scaled,
  alpha composited on white...), the same as every other image a user hands in.
- Unreadable files are skipped. Hidden files and `captions.jsonl` are not images and are not
  counted.
- `captions.jsonl` (lines `{"file": "relative/path.png", "caption": "..."}`, paths relative
  to the folder holding the jsonl, at PATH or in the split folder) attaches captions;
  images without a line get "" so the captions list always matches the images. Broken lines
  are skipped.
- One DataWarning per folder counts what was skipped, converted, upscaled from a tiny image
  or left uncaptioned.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from genlab.data.base import DataWarning, ImageData, centre_crop_square, resize_images
from genlab.errors import DataError
from genlab.images import conversion_summary, open_image, to_rgb_or_grey

DEFAULT_SIZE = 32
CAPTIONS_FILE = "captions.jsonl"


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


def _attach_captions(top: Path, folder: Path, paths: list[Path]) -> tuple[list[str] | None, str]:
    """Captions for paths from captions.jsonl at PATH and in the split folder (None: no file),
    and what was wrong with them ("" when nothing)."""
    captions_by_path, broken = _read_captions(top)
    if folder != top:
        more, more_broken = _read_captions(folder)
        captions_by_path.update(more)
        broken += more_broken
    if not captions_by_path and not broken:
        return None, ""
    captions = [captions_by_path.get(p.resolve(), "") for p in paths]
    missing = captions.count("")
    problems = []
    if broken:
        problems.append(f"skipped {len(broken)} lines that are not JSON objects with \"file\" "
                        f"and \"caption\" (e.g. {broken[0]})")
    if missing:
        problems.append(f"{missing} of {len(paths)} images have no caption (given \"\")")
    return captions, f"{CAPTIONS_FILE}: {'; '.join(problems)}" if problems else ""


def _decode(path: Path, size: int) -> tuple[torch.Tensor, list[str]] | None:
    """Decoded, centre-cropped image as uint8 [1 or 3, size, size] (grey modes stay grey) and
    the notes of its conversion; None when the file is not a readable image."""
    try:
        # draft: JPEGs decode big photos at a reduced scale
        array, notes = to_rgb_or_grey(open_image(path, draft=2 * size), size=size)
    except DataError:
        return None
    tensor = torch.from_numpy(array)
    tensor = tensor[None] if tensor.dim() == 2 else tensor.permute(2, 0, 1)
    return resize_images(centre_crop_square(tensor)[None], size)[0], notes


def _warn_once(folder: Path, total: int, skipped: list[Path], notes: list[list[str]],
               captions_problem: str) -> None:
    """One DataWarning for the whole folder: the files skipped, the images converted and
    upscaled, and the captions that were broken or missing."""
    problems = []
    if skipped:
        problems.append(f"skipped {len(skipped)} of {total} files that are not readable images "
                        f"(e.g. {skipped[0].relative_to(folder)})")
    if converted := conversion_summary(notes):
        problems.append(converted)
    message = f"images in {folder}: {'; '.join(problems)}" if problems else ""
    message = "; ".join(part for part in (message, captions_problem) if part)
    if message:
        warnings.warn(message, DataWarning, stacklevel=4)


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

    images, labels, notes, paths, skipped = [], [], [], [], []
    for label, files in groups:
        for file in files:
            decoded = _decode(file, size)
            if decoded is None:
                skipped.append(file)
                continue
            images.append(decoded[0])
            notes.append(decoded[1])
            labels.append(label)
            paths.append(file)
    total = sum(len(files) for _, files in groups)
    if not images:
        raise DataError(f"no readable images among {total} files in {folder}: "
                        "pass folder:PATH pointing at PNG/JPEG images")

    if any(im.shape[0] == 3 for im in images):  # mixed set: grey images to RGB, as PIL's L->RGB
        images = [im.expand(3, -1, -1) for im in images]
    captions, captions_problem = _attach_captions(top, folder, paths)
    _warn_once(folder, total, skipped, notes, captions_problem)
    return ImageData(
        name=f"folder:{path}",
        images=torch.stack(images).contiguous(),
        labels=torch.tensor(labels, dtype=torch.int64) if class_dirs else None,
        class_names=[d.name for d in class_dirs],
        captions=captions,
    )

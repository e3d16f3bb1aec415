"""Any folder of images (`folder:PATH`), searched recursively.

Layout rules:
- If PATH has both `train/` and `test/` sub-folders, the split reads that sub-folder (the
  folder's own split).
- Otherwise genlab holds out a test split, so that the judge's test accuracy and the
  real-vs-real floor are measured on images nothing trained on: 10% of each class (of the
  whole folder when unlabelled), rounded up, at least one image of every class that has two.
  Which files are held out is decided by a seeded hash of each file's path inside PATH
  (`HOLDOUT_SEED`, fixed: a run of any seed, the judge and an evaluation of any seed must all
  see the same split, as with `digits`), so the draw is the same on every machine and an image
  keeps its split when others are added. The train split is the rest: training runs use it too,
  so the held-out images are unseen by the generator as well and the floor stays the best score
  any model can reach (to train on every image, lay out train/ and test/ yourself).
- A folder with fewer than `MIN_SPLIT_FILES` files is not split (10% would be under ten
  images): both splits are the whole folder, and the folder's warning says that evaluation then
  compares the folder with itself.
- The split's facts (`ImageData.split`; `folder_split` reads them from the file listing alone)
  go into run.json, the judge's data fingerprint and the evaluation report.
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
- One DataWarning per folder (per split, when held out) counts what was skipped, converted,
  upscaled from a tiny image or left uncaptioned, and says when the folder is too small to split.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.data.base import DataWarning, ImageData, centre_crop_square, resize_images
from genlab.errors import DataError
from genlab.images import conversion_summary, open_image, to_rgb_or_grey

DEFAULT_SIZE = 32
CAPTIONS_FILE = "captions.jsonl"
HOLDOUT_PERCENT = 10  # of each class, rounded up, held out as the test split
HOLDOUT_SEED = 0  # fixed: the split belongs to the folder, not to a run's or evaluation's seed
# Fewer files are not split: 10% would be under ten test images, and the metrics need more
# (precision/recall's k-NN balls alone need six).
MIN_SPLIT_FILES = 100


def image_files(folder: Path) -> list[Path]:
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


def read_pixels(path: Path, size: int, *, draft: bool = True
                ) -> tuple[np.ndarray, list[str]] | None:
    """The image file as uint8 [H, W] or [H, W, 3] by `to_rgb_or_grey`'s rule, and the notes of
    its conversion; None when the file is not a readable image. draft: JPEGs decode big photos
    at a reduced scale (off where the file's full size matters: image pairs compare sizes)."""
    try:
        return to_rgb_or_grey(open_image(path, draft=2 * size if draft else None), size=size)
    except DataError:
        return None


def square_tensor(array: np.ndarray, size: int) -> torch.Tensor:
    """Pixels [H, W] or [H, W, C] as uint8 [1 or 3, size, size], centre-cropped and resized."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    tensor = tensor[None] if tensor.dim() == 2 else tensor.permute(2, 0, 1)
    return resize_images(centre_crop_square(tensor)[None], size)[0]


def _decode(path: Path, size: int) -> tuple[torch.Tensor, list[str]] | None:
    """Decoded, centre-cropped image as uint8 [1 or 3, size, size] (grey modes stay grey) and
    the notes of its conversion; None when the file is not a readable image."""
    pixels = read_pixels(path, size)
    return None if pixels is None else (square_tensor(pixels[0], size), pixels[1])


def warn_once(where: str, folder: Path, total: int, skipped: list[Path],
               notes: list[list[str]], more: list[str]) -> None:
    """One DataWarning for the whole folder (or held-out part): the files skipped, the images
    converted and upscaled, and the `more` problems (captions, a folder too small to split)."""
    problems = []
    if skipped:
        problems.append(f"skipped {len(skipped)} of {total} files that are not readable images "
                        f"(e.g. {skipped[0].relative_to(folder)})")
    if converted := conversion_summary(notes):
        problems.append(converted)
    message = f"images in {where}: {'; '.join(problems)}" if problems else ""
    message = "; ".join(part for part in (message, *more) if part)
    if message:
        warnings.warn(message, DataWarning, stacklevel=4)


Groups = list[tuple[int, list[Path]]]  # (label, files); label -1: unlabelled


def folder_top(path: str) -> Path:
    top = Path(path).expanduser()
    if not top.is_dir():
        raise DataError(f"image folder {top} does not exist: pass folder:PATH with an existing "
                        "folder of images")
    return top


def _has_own_split(top: Path) -> bool:
    return (top / "train").is_dir() and (top / "test").is_dir()


def _scan(folder: Path) -> tuple[list[Path], Groups, list[Path]]:
    """Class folders, the files of each class, and the loose files class folders leave out."""
    subdirs = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    listed = [(d, image_files(d)) for d in subdirs]
    class_dirs = [d for d, files in listed if files]
    if not class_dirs:
        return [], [(-1, image_files(folder))], []
    groups = [(label, files) for label, (_, files) in enumerate(f for f in listed if f[1])]
    loose = [p for p in folder.iterdir() if p.is_file() and p.name != CAPTIONS_FILE
             and not p.name.startswith(".")]
    return class_dirs, groups, loose


def _draw_key(top: Path, file: Path) -> str:
    """A file's place in the held-out draw: a seeded hash of its path inside PATH, so the draw
    does not depend on the order the file system lists files in."""
    key = f"{HOLDOUT_SEED}:{file.relative_to(top).as_posix()}"
    return hashlib.sha256(key.encode()).hexdigest()


def hold_out(top: Path, groups: Groups) -> tuple[dict[str, Groups], dict[str, Any]]:
    """The train and test groups of a folder without its own split, and the split's facts."""
    total = sum(len(files) for _, files in groups)
    if total < MIN_SPLIT_FILES:
        return {"train": groups, "test": groups}, {
            "rule": "whole-folder", "min_files": MIN_SPLIT_FILES, "files": total,
            "summary": f"nothing held out: {total} files are fewer than {MIN_SPLIT_FILES}, so "
                       "the train and test splits are both the whole folder"}
    train: Groups = []
    test: Groups = []
    for label, files in groups:
        # integer ceil: 10% of 30 is 3, not float 3.0000000000000004 rounded up to 4
        k = (len(files) * HOLDOUT_PERCENT + 99) // 100 if len(files) >= 2 else 0
        held = set(sorted(files, key=lambda f: _draw_key(top, f))[:k])
        train.append((label, [f for f in files if f not in held]))
        test.append((label, [f for f in files if f in held]))
    n_test = sum(len(files) for _, files in test)
    each = "each class" if groups[0][0] != -1 else "the folder"
    return {"train": train, "test": test}, {
        "rule": "held-out", "percent": HOLDOUT_PERCENT, "seed": HOLDOUT_SEED,
        "by_class": groups[0][0] != -1, "files": total, "test_files": n_test,
        "summary": f"held out {n_test} of {total} files as the test split ({HOLDOUT_PERCENT}% of "
                   f"{each} rounded up, drawn by a hash of each file's path with seed "
                   f"{HOLDOUT_SEED}); the train split, which training uses, is the other "
                   f"{total - n_test}"}


def too_small_warning(top: Path, facts: dict[str, Any] | None, own: str) -> str:
    """The warning part for a folder too small to hold out a test split ("" otherwise); own
    names the sub-folders that give it a split of its own."""
    if facts is None or facts["rule"] != "whole-folder":
        return ""
    return (f"{top} has only {facts['files']} files, too few to hold out a test split "
            f"({MIN_SPLIT_FILES} needed): evaluation, its real-vs-real floor and the "
            f"judge's test accuracy use the training images; add images or give the "
            f"folder {own} sub-folders")


def folder_split(path: str) -> dict[str, Any] | None:
    """The split facts `load_folder` attaches, from the file listing alone (nothing decoded):
    None when PATH has its own train/ and test/ sub-folders."""
    top = folder_top(path)
    return None if _has_own_split(top) else hold_out(top, _scan(top)[1])[1]


def load_folder(path: str, *, split: str = "train", image_size: int | None = None) -> ImageData:
    """Load the readable images of one split of path (see the module docstring for the rules)."""
    top = folder_top(path)
    own = _has_own_split(top)
    folder = top / split if own else top
    size = image_size or DEFAULT_SIZE

    class_dirs, groups, loose = _scan(folder)
    if loose:
        warnings.warn(f"ignored {len(loose)} files directly in {folder}: with class "
                      "sub-folders every image must be inside one", DataWarning, stacklevel=4)
    facts = None
    if not own:
        by_split, facts = hold_out(top, groups)
        groups = by_split[split]

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
    held_out = facts is not None and facts["rule"] == "held-out"
    where = f"{folder} ({split} split)" if held_out else str(folder)
    if not images:
        raise DataError(f"no readable images among {total} files in {where}: "
                        "pass folder:PATH pointing at PNG/JPEG images")

    if any(im.shape[0] == 3 for im in images):  # mixed set: grey images to RGB, as PIL's L->RGB
        images = [im.expand(3, -1, -1) for im in images]
    captions, captions_problem = _attach_captions(top, folder, paths)
    too_small = too_small_warning(top, facts, "train/ and test/")
    warn_once(where, folder, total, skipped, notes, [captions_problem, too_small])
    return ImageData(
        name=f"folder:{path}",
        images=torch.stack(images).contiguous(),
        labels=torch.tensor(labels, dtype=torch.int64) if class_dirs else None,
        class_names=[d.name for d in class_dirs],
        captions=captions,
        split=facts,
    )

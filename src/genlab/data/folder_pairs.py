"""Image pairs and unpaired domains from a user's folder (`folder:PATH` with `data.pairs`), in
the layouts of pix2pix and CycleGAN (junyanz/pytorch-CycleGAN-and-pix2pix):

- aligned: each file is A and B side by side (A left, B right), as the facades and edges2shoes
  downloads are. PATH/train/ and PATH/test/ (else PATH/val/) are the splits when present.
- folders: PATH/A/ and PATH/B/ holding files of matching names (the stem: a.png pairs with
  a.jpg), each pair of one size; A/train/ + A/test/ (or val/) and the same in B/ (pix2pix's
  combine_A_and_B layout) are the splits when present.
- unaligned: PATH/trainA/ and PATH/trainB/, with no pairing; testA/ and testB/ are the test
  split when present. Images are every B file (repeated when A has more), inputs the A files in
  a seeded random order (repeated when fewer).
Without a split of its own, a folder's test split is held out as `folder:PATH` does it (10%,
by a seeded hash of each A file's path; of each domain for unaligned; nothing under 100 files)
and recorded in `ImageData.split`. Files are listed, read and converted as by `folder:PATH`
(`to_rgb_or_grey`'s rule, centre-cropped to a square, resized to data.image_size, default 32);
a domain is RGB unless all of its images are grey. Unreadable files are skipped (with their
partner) and counted in one DataWarning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab.data.base import ImageData
from genlab.data.folder import (
    DEFAULT_SIZE,
    folder_top,
    hold_out,
    image_files,
    read_pixels,
    square_tensor,
    too_small_warning,
    warn_once,
)
from genlab.data.pairs import split_generator, unpaired_order
from genlab.errors import DataError

LAYOUTS = ("aligned", "folders", "unaligned")
_OWN = {"aligned": "train/ and test/", "folders": "A/train/, A/test/, B/train/ and B/test/",
        "unaligned": "testA/ and testB/"}
Items = list[tuple[Path, ...]]  # one tuple per example: (file,), (a, b) or (file,) per domain


def _test_dir(folder: Path) -> Path | None:
    """folder/test, else folder/val (edges2shoes ships train/ and val/ only), else None."""
    return next((d for d in (folder / "test", folder / "val") if d.is_dir()), None)


def _nonempty(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"{folder} does not exist: data.pairs={what} needs it (see "
                        "docs/image2image.md for the folder layouts)")
    files = image_files(folder)
    if not files:
        raise DataError(f"{folder} holds no image files: put the {what} images there")
    return files


def _matched(a_dir: Path, b_dir: Path) -> list[tuple[Path, Path]]:
    """(A, B) files of matching names (relative path without suffix) in a_dir and b_dir."""
    sides = []
    for folder in (a_dir, b_dir):
        by_stem: dict[str, Path] = {}
        for file in _nonempty(folder, "folders"):
            stem = file.relative_to(folder).with_suffix("").as_posix()
            if stem in by_stem:
                raise DataError(f"{by_stem[stem]} and {file} have the same name: keep one file "
                                f"per name in {folder}")
            by_stem[stem] = file
        sides.append(by_stem)
    for here, there, folder in ((sides[0], sides[1], b_dir), (sides[1], sides[0], a_dir)):
        alone = sorted(set(here) - set(there))
        if alone:
            more = f" (and {len(alone) - 1} more)" if len(alone) > 1 else ""
            raise DataError(f"{here[alone[0]]} has no partner of the same name in {folder}"
                            f"{more}: add it or remove the file")
    return [(sides[0][stem], sides[1][stem]) for stem in sorted(sides[0])]


def _listing(top: Path, layout: str, split: str) -> tuple[Items, Items, dict[str, Any] | None]:
    """The A and B files of one split ((file,) per aligned example, A items = B items for the
    paired layouts) and the split facts (None: the folder's own split)."""
    if layout == "aligned":
        if (top / "train").is_dir() and _test_dir(top) is not None:
            folder = top / "train" if split == "train" else _test_dir(top)
            assert folder is not None
            files = _nonempty(folder, "aligned")
            return [(f,) for f in files], [(f,) for f in files], None
        groups = [(-1, _nonempty(top, "aligned"))]
    elif layout == "folders":
        a_dir, b_dir = top / "A", top / "B"
        if (a_dir / "train").is_dir() and _test_dir(a_dir) is not None:
            test = _test_dir(a_dir)
            assert test is not None
            name = "train" if split == "train" else test.name
            pairs = _matched(a_dir / name, b_dir / name)
            return pairs, pairs, None
        pairs = _matched(a_dir, b_dir)
        partner = dict(pairs)
        groups = [(-1, [a for a, _ in pairs])]
    else:
        tests = [top / "testA", top / "testB"]
        a_train, b_train = (_nonempty(top / f"train{d}", "unaligned") for d in "AB")
        if any(t.is_dir() for t in tests):
            a_test, b_test = (_nonempty(t, "unaligned") for t in tests)
            a, b = (a_train, b_train) if split == "train" else (a_test, b_test)
            return [(f,) for f in a], [(f,) for f in b], None
        groups = [(0, a_train), (1, b_train)]
    by_split, facts = hold_out(top, groups)
    facts["layout"] = layout
    chosen = by_split[split]
    if layout == "unaligned":
        facts["summary"] = facts["summary"].replace("each class", "each domain (trainA/, trainB/)")
        return [(f,) for f in chosen[0][1]], [(f,) for f in chosen[1][1]], facts
    if layout == "folders":
        pairs = [(a, partner[a]) for a in chosen[0][1]]
        return pairs, pairs, facts
    return [(f,) for f in chosen[0][1]], [(f,) for f in chosen[0][1]], facts


def folder_pairs_split(path: str, layout: str) -> dict[str, Any] | None:
    """The split facts `load_folder_pairs` attaches, from the file listing alone (None: the
    folder's own split)."""
    return _listing(folder_top(path), layout, "train")[2]


def _same_channels(images: list[torch.Tensor]) -> torch.Tensor:
    """Stacked images of one domain: RGB unless every image is grey (as folder:PATH does)."""
    if any(im.shape[0] == 3 for im in images):
        images = [im.expand(3, -1, -1) for im in images]
    return torch.stack(images).contiguous()


def _read_paired(items: Items, layout: str, size: int, skipped: list[Path],
                 notes: list[list[str]]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The A and B tensors of each readable pair; errors name the file of a bad pair."""
    inputs, images = [], []
    for item in items:
        read = [read_pixels(file, size, draft=False) for file in item]
        if any(r is None for r in read):
            skipped.append(item[[r is None for r in read].index(True)])
            continue
        arrays = [r[0] for r in read if r is not None]
        notes.extend(r[1] for r in read if r is not None)
        if layout == "aligned":
            height, width = arrays[0].shape[:2]
            if width % 2:
                raise DataError(f"{item[0]} is {width}x{height}: an aligned pair is A and B side "
                                "by side, so its width must be even (two halves of one size)")
            arrays = [arrays[0][:, :width // 2], arrays[0][:, width // 2:]]
        elif arrays[0].shape[:2] != arrays[1].shape[:2]:
            (ha, wa), (hb, wb) = arrays[0].shape[:2], arrays[1].shape[:2]
            raise DataError(f"{item[0]} is {wa}x{ha} but its partner {item[1]} is {wb}x{hb}: "
                            "the two images of a pair must have one size")
        inputs.append(square_tensor(arrays[0], size))
        images.append(square_tensor(arrays[1], size))
    return inputs, images


def _read_domain(items: Items, size: int, skipped: list[Path],
                 notes: list[list[str]]) -> list[torch.Tensor]:
    out = []
    for (file,) in items:
        read = read_pixels(file, size)
        if read is None:
            skipped.append(file)
            continue
        out.append(square_tensor(read[0], size))
        notes.append(read[1])
    return out


def load_folder_pairs(path: str, layout: str, *, split: str = "train",
                      image_size: int | None = None, seed: int = 0) -> ImageData:
    """One split of a folder of pairs or unpaired domains (see the module docstring)."""
    top = folder_top(path)
    size = image_size or DEFAULT_SIZE
    a_items, b_items, facts = _listing(top, layout, split)
    skipped: list[Path] = []
    notes: list[list[str]] = []
    if layout == "unaligned":
        inputs = _read_domain(a_items, size, skipped, notes)
        images = _read_domain(b_items, size, skipped, notes)
        for found, domain in ((inputs, "A"), (images, "B")):
            if not found:
                raise DataError(f"no readable domain-{domain} images in the {split} split of "
                                f"{top}: pass PNG/JPEG files in train{domain}/ (test{domain}/)")
        image_at, input_at = unpaired_order(len(inputs), len(images),
                                            split_generator(seed, split, 0xF0))
        inputs_t, images_t = _same_channels(inputs)[input_at], _same_channels(images)[image_at]
    else:
        inputs, images = _read_paired(a_items, layout, size, skipped, notes)
        if not images:
            raise DataError(f"no readable image pairs among {len(a_items)} in the {split} split "
                            f"of {top}: pass PNG/JPEG files")
        inputs_t, images_t = _same_channels(inputs), _same_channels(images)
    total = len({f for item in (*a_items, *b_items) for f in item})
    warn_once(f"{top} ({split} split)", top, total, skipped, notes,
              [too_small_warning(top, facts, _OWN[layout])])
    return ImageData(name=f"folder:{path}", images=images_t.contiguous(), labels=None,
                     class_names=[], split=facts, inputs=inputs_t.contiguous(),
                     paired=layout != "unaligned", domains=("A", "B"))

"""Image-to-image runs (Pix2Pix, CycleGAN, SRGAN) on a user's files: `genlab translate`,
`genlab upscale` and `genlab.translate_images`.

Every input is checked before the model is loaded (missing files, folders without images,
files that are not images, super-resolution outputs too large to write), then the images
are decoded and translated a batch at a time, so memory holds one batch, not the set.
A run whose inputs and outputs have the same side works at that side: each input is
centre-cropped to a square and resized to it, as its training data was. A super-resolution
run (input side != output side) is fully convolutional: it upscales every image at its own
size by the run's factor, and images of one size share a batch.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from genlab.data.base import centre_crop_square, resize_images
from genlab.engine.progress import progress_bar
from genlab.errors import ConfigError, DataError, DataWarning, GenlabError
from genlab.generate.paths import check_folder_out, check_png_out
from genlab.images import (
    conversion_summary,
    open_image,
    save_grid,
    save_image,
    side_by_side,
    to_float,
    to_rgb_or_grey,
    to_uint8,
)
from genlab.methods.base import DataInfo
from genlab.methods.registry import method_class
from genlab.runs.config import RunConfig
from genlab.runs.folder import read_run
from genlab.runs.load import LoadedRun, load_run

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm")
SR_SIDE_MAX = 2048  # longest output side a super-resolution run writes (4x of a 512 px photo)
TRANSLATE_BATCH = 32  # images translated at once
GRID_PAGE_ROWS = 32  # input | output rows per --grid PNG; more inputs make NAME-page2.png...
GRID_CELL_MAX = 256  # side of a super-resolution grid's output cells at most


@dataclass
class Translation:
    """What `translate_images` wrote: one PNG per input (in input order), the grid pages,
    how many inputs were resized to the run's side, and how many outputs got a NAME-2.png
    name because a file (or an earlier input) held theirs."""

    outputs: list[Path]
    grids: list[Path] = field(default_factory=list)
    resized: int = 0
    renamed: int = 0
    side: int = 0  # the side inputs were resized to (0: super-resolution, own sizes)


def is_super_resolution(info: DataInfo) -> bool:
    return bool(info.input_size) and info.input_size != info.image_size


def check_translating(path: str | Path, cfg: RunConfig | None = None) -> None:
    """Raise ConfigError unless the run at `path` maps images to images (reads run.json and
    config only, no weights)."""
    if cfg is None:
        _, cfg, _, _ = read_run(path)
    if not method_class(cfg.method.name).translates:
        raise ConfigError(f"{path} is a {cfg.method.name} run, which makes images from noise: "
                          f"use genlab sample {path}")


def refuse_sampling(path: str | Path) -> None:
    """`genlab sample` on a translating run: one line before any work."""
    try:
        _, cfg, _, _ = read_run(path)
    except GenlabError:
        return  # not a run folder: the verb's own checks say so, in their order
    if method_class(cfg.method.name).translates:
        raise ConfigError(f"{path} translates images: use genlab translate {path} INPUTS "
                          "--out DIR")


def list_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Image files from files and folders (a folder's image files, sorted; not its
    sub-folders), each checked to exist; a folder without image files is an error."""
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.is_file()
                           and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
            if not found:
                subs = any(p.is_dir() for p in item.iterdir())
                hint = f" (sub-folders are not searched: pass them, e.g. {item}/NAME)" \
                    if subs else ""
                raise DataError(f"folder {item} has no image files (PNG, JPEG...){hint}")
            files += found
        elif item.is_file():
            files.append(item)
        else:
            raise DataError(f"input {item} not found: pass image files or folders of them")
    if not files:
        raise DataError("no inputs: pass image files or folders of them")
    return files


def _probe(path: Path) -> tuple[int, int]:
    """(width, height) from the file's header; a one-line DataError when it is not an image."""
    try:
        with warnings.catch_warnings():  # as open_image will refuse it when decoding
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(f"{path} is too large (over {Image.MAX_IMAGE_PIXELS} pixels): resize "
                        "it first") from None
    except Exception as err:  # PIL's plugins raise many types for malformed files
        raise DataError(f"{path} is not a readable image ({err.__class__.__name__}): pass PNG "
                        "or JPEG files") from None


def _spec(info: DataInfo, direction: str) -> tuple[int, int, int]:
    """Channels and side the inputs are read at, and the output side, for a direction
    (BtoA: the inputs are domain-B images, the run's `channels` and `image_size`)."""
    if direction == "BtoA":
        return info.channels, info.image_size, info.input_size
    return info.input_channels, info.input_size, info.image_size


def _out_names(files: Sequence[Path], out_dir: Path) -> tuple[list[Path], int]:
    """Each input's name as a PNG in out_dir; NAME-2.png... where a file or an earlier
    input holds it (nothing is overwritten), and how many were renamed."""
    names: list[Path] = []
    taken: set[Path] = set()
    renamed = 0
    for file in files:
        wanted = path = out_dir / f"{file.stem}.png"
        number = 1
        while path in taken or path.exists():  # unused_path's names, minus those just taken
            number += 1
            path = wanted.with_name(f"{file.stem}-{number}.png")
        renamed += path != wanted
        taken.add(path)
        names.append(path)
    return names, renamed


def _decode(path: Path, channels: int, side: int | None, notes: list[list[str]]) -> Tensor:
    """uint8 [C, H, W]; with `side`, centre-cropped to a square and resized to it."""
    # draft: a JPEG to be resized decodes at a reduced scale, as the folder datasets do
    array, note = to_rgb_or_grey(open_image(path, draft=2 * side if side else None), channels,
                                 size=side)
    notes.append(note)
    image = torch.from_numpy(array)
    image = image[None] if image.dim() == 2 else image.permute(2, 0, 1)
    if side is None:
        return image.contiguous()
    return resize_images(centre_crop_square(image)[None], side)[0]


def _grid_cells(inputs: Tensor, outputs: Tensor, cell: int, factor: float) -> list[Tensor]:
    """A super-resolution batch as square grid cells: outputs at `cell`, inputs at cell /
    factor (side_by_side enlarges them by nearest neighbour, so their pixels show)."""
    small = max(1, round(cell / factor))
    return [resize_images(centre_crop_square(inputs), small),
            resize_images(centre_crop_square(outputs), cell)]


def _write_grids(path: Path, rows: list[list[Tensor]]) -> list[Path]:
    """input | output pages of GRID_PAGE_ROWS rows: NAME.png, NAME-page2.png..."""
    if not rows:
        return []
    inputs = torch.cat([r[0] for r in rows])
    outputs = torch.cat([r[1] for r in rows])
    pages = []
    for number, start in enumerate(range(0, len(inputs), GRID_PAGE_ROWS), start=1):
        page = path if number == 1 else path.with_name(f"{path.stem}-page{number}.png")
        stop = start + GRID_PAGE_ROWS
        columns = [to_float(inputs[start:stop]), to_float(outputs[start:stop])]
        pages.append(save_grid(side_by_side(columns), page, nrow=2))
    return pages


def translate_images(run: LoadedRun | str | Path, inputs: Iterable[str | Path],
                     out_dir: str | Path, *, direction: str = "AtoB", seed: int = 0,
                     grid: str | Path | None = None, checkpoint: str = "last",
                     device: str = "cpu", upscale_only: bool = False,
                     batch_size: int = TRANSLATE_BATCH, progress: bool = False) -> Translation:
    """Translate image files and folders of them with an image-to-image run (a LoadedRun or
    a run folder, loaded at `checkpoint` on `device`) into one PNG per input in `out_dir`,
    named as the input (NAME-2.png rather than replace a file). `direction`: one of the
    method's directions (CycleGAN: AtoB or BtoA). `grid`: also write input | output grid
    PNGs there. `upscale_only`: refuse runs that are not super-resolution. The same inputs
    and seed give the same files."""
    if batch_size < 1:
        raise ConfigError(f"batch_size {batch_size}: translate at least 1 image at a time")
    out_dir = check_folder_out(out_dir, writes="one PNG per input", suffixes=IMAGE_SUFFIXES)
    grid_path = check_png_out(grid, "--grid") if grid is not None else None
    files = list_inputs(inputs)
    sizes = [_probe(f) for f in files]  # every file an image, before the run is read
    if isinstance(run, LoadedRun):
        where, cfg, info = run.path, run.cfg, run.info
    else:
        where, cfg, info, _ = read_run(run)
    super_res = _check_run(where, cfg, info, direction, upscale_only)
    channels, side, out_side = _spec(info, direction)
    factor = out_side / side
    if super_res:
        for file, (w, h) in zip(files, sizes, strict=True):
            if max(w, h) * factor > SR_SIDE_MAX:
                raise DataError(f"{file} is {w}x{h}: x{factor:g} would make "
                                f"{round(w * factor)}x{round(h * factor)}, over the "
                                f"{SR_SIDE_MAX} px side genlab upscales to: crop or shrink "
                                "it first")
    names, renamed = _out_names(files, out_dir)
    loaded = run if isinstance(run, LoadedRun) else load_run(run, checkpoint, device=device)

    # images of one size share a batch (all of them, unless super-resolution)
    batches = _same_size_batches(sizes if super_res else [(side, side)] * len(files),
                                 batch_size)
    cell = min(GRID_CELL_MAX, max(round(min(s) * factor) for s in sizes))
    notes: list[list[str]] = []
    rows: list[tuple[int, list[Tensor]]] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    with progress_bar(len(files), label="translate", unit="images", enabled=progress) as report, \
            torch.random.fork_rng(devices=[loaded.device] if loaded.device.type == "cuda"
                                  else []):
        torch.manual_seed(seed)  # methods that keep noise at inference (dropout) repeat
        done = 0
        for batch in batches:
            x = torch.stack([_decode(files[i], channels, None if super_res else side, notes)
                             for i in batch])
            y = to_uint8(loaded.translate(to_float(x), direction))
            for j, i in enumerate(batch):
                save_image(y[j], names[i])
            if grid_path is not None:
                pair = _grid_cells(x, y, cell, factor) if super_res else [x, y]
                rows += [(i, [pair[0][j:j + 1], pair[1][j:j + 1]]) for j, i in enumerate(batch)]
            done += len(batch)
            if report is not None:
                report(done)
    summary = conversion_summary(notes)
    if summary:
        warnings.warn(f"inputs: {summary}", DataWarning, stacklevel=2)
    resized = 0 if super_res else sum(s != (side, side) for s in sizes)
    grids = _write_grids(grid_path, [r for _, r in sorted(rows, key=lambda r: r[0])]) \
        if grid_path is not None else []
    return Translation(names, grids, resized, renamed, 0 if super_res else side)


def _check_run(where: Path, cfg: RunConfig, info: DataInfo, direction: str,
               upscale_only: bool) -> bool:
    """Refuse a run that does not translate, a direction it does not learn, and (for
    upscale) a run that is not super-resolution; True for a super-resolution run."""
    check_translating(where, cfg)
    directions = method_class(cfg.method.name).directions
    if direction not in directions:
        raise ConfigError(f"--direction {direction}: {where} ({cfg.method.name}) translates "
                          f"{' or '.join(directions)} only")
    super_res = is_super_resolution(info)
    if upscale_only and not super_res:
        raise ConfigError(f"{where} is a {cfg.method.name} run at {info.image_size}x"
                          f"{info.image_size}, not a super-resolution run: use genlab "
                          "translate")
    return super_res


def _same_size_batches(sizes: list[tuple[int, int]], batch_size: int) -> list[list[int]]:
    """Input indices cut into batches of one size each, in order of size then input."""
    batches: list[list[int]] = []
    for i in sorted(range(len(sizes)), key=lambda i: sizes[i]):
        if batches and sizes[batches[-1][0]] == sizes[i] and len(batches[-1]) < batch_size:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches

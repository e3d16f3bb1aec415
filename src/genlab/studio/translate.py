"""The Translate tab's work, with no web code: an uploaded image through an image-to-image
run (pix2pix, CycleGAN, SRGAN: any method with `translates`) by the function `genlab
translate` calls (`generate.translate.translate_images`), so the shown command writes the
same files. The upload is checked by `guard.check_upload`, then copied into the studio's
scratch folder; the command names that copy, and nothing is written into the run."""

from __future__ import annotations

import re
import shlex
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from genlab.studio.guard import StudioError, check_text, check_upload

if TYPE_CHECKING:
    from genlab.runs.load import LoadedRun
    from genlab.studio.engine import Studio

OUT, GRID = "translated", "translated-grid.png"  # what the command writes, in the cwd


@dataclass(frozen=True)
class TranslateForm:
    """What a run offers the tab, read from its method: whether it translates, and its
    directions (CycleGAN learns two; the first is the CLI's default)."""

    translates: bool
    why_not: str
    directions: tuple[str, ...] = ()

    @classmethod
    def of(cls, run: LoadedRun) -> TranslateForm:
        from genlab.methods.registry import METHODS

        if not run.method.translates:
            kinds = ", ".join(n for n, c in METHODS.items() if c.translates)
            return cls(False, f"{run.path.name} is a {run.cfg.method.name} run, which does not "
                              f"translate images: pick an image-to-image run ({kinds})")
        return cls(True, "", tuple(run.method.directions))


@dataclass
class Translated:
    """The input | output grid and the output as `genlab translate` writes them."""

    grid: Image.Image
    output: Image.Image
    command: str
    notes: list[str]


def _copy_upload(upload: Path, folder: Path) -> Path:
    """The upload under a plain name (its own, reduced to safe characters) in `folder`."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", upload.stem)[:64].strip("_") or "upload"
    suffix = upload.suffix.lower() if re.fullmatch(r"\.[a-z]{2,4}", upload.suffix.lower()) \
        else ".png"
    copy = folder / f"{stem}{suffix}"
    shutil.copyfile(upload, copy)
    return copy


def translate(studio: Studio, name: object, upload: object,
              direction: object = None) -> Translated:
    """`genlab translate RUN IMAGE --out translated --grid translated-grid.png` on an upload;
    the files are written in a scratch folder and read back. A bad upload, a run that does
    not translate or a direction it does not learn is a one-line StudioError or ConfigError."""
    from genlab.generate.translate import translate_images

    run = studio.loaded(name)
    form = TranslateForm.of(run)
    if not form.translates:
        raise StudioError(form.why_not)
    way = check_text(direction, "direction") or form.directions[0]  # one: the run's own
    if way not in form.directions:
        raise StudioError(f"direction {way!r}: {run.path.name} translates "
                          f"{' or '.join(form.directions)}")
    file = check_upload(upload, "the image")
    work = Path(tempfile.mkdtemp(dir=studio.scratch))
    image = _copy_upload(file, work)
    with (warnings.catch_warnings(record=True) as caught, studio.locks.hold(run.path),
          studio.global_rng):
        warnings.simplefilter("always")
        done = translate_images(run, [image], work / OUT, direction=way, grid=work / GRID)
    notes = [str(w.message) for w in caught]
    if done.resized:
        notes.append(f"resized to the run's {done.side}x{done.side} first")
    args = ["genlab", "translate", str(run.path), str(image), "--out", OUT, "--grid", GRID]
    if way != "AtoB":  # the command's default
        args += ["--direction", way]
    with Image.open(done.grids[0]) as grid, Image.open(done.outputs[0]) as output:
        grid.load()
        output.load()
    return Translated(grid, output, shlex.join(args), notes)

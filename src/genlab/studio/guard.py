"""What the browser may ask for, checked before any work: run names that resolve inside
RUNS_DIR and nowhere else, bounded counts, steps and image sizes, one generation at a time
per run.

Every value that reaches the studio from a page passes through here, so the rules live in
one place and are tested with hostile inputs (tests/test_studio_guard.py).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from genlab.errors import ConfigError, RunError
from genlab.runs.folder import CONFIG, RUN_INFO

N_MAX = 64  # images one click makes (a grid of 8 x 8): the CLI makes large sets
SEED_MAX = 2**63 - 1  # torch.Generator.manual_seed takes 0..2**64-1; keep it an int64
STEPS_MAX = 1000  # sampler or optimiser steps one click runs
CFG_MAX = 50.0  # classifier-free guidance / guide scale
TEXT_MAX = 300  # characters of a prompt or guide
SIDE_MAX = 1024  # pixels on the longer side of an uploaded image
NAME_MAX = 255  # characters of a run name
UPLOAD_BYTES = 8 * 2**20  # an uploaded file (gradio's upload route refuses larger ones too)
UPLOAD_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")


class StudioError(ConfigError):
    """A request from the page that the studio refuses; the message says what to do."""


def resolve_run(runs_dir: str | Path, name: object) -> Path:
    """The run folder that `name` (as typed or picked in the page) names inside `runs_dir`.

    Refused, before the file system is touched beyond `runs_dir`: anything but a short
    relative name (absolute paths, `~`, `..` or `.` parts, hidden parts, backslashes, NUL,
    control characters); then a path whose real location (symlinks followed) is not inside
    `runs_dir`; then a folder that is not a genlab run (no config.yaml or run.json)."""
    if not isinstance(name, str) or not name.strip():
        raise StudioError("pick a run from the list")
    text = name.strip()
    if len(text) > NAME_MAX or any(ord(c) < 32 or c == "\x7f" for c in text):
        raise StudioError("that is not a run name: pick a run from the list")
    parts = text.split("/")  # as typed: no normalising that could hide a part
    if ("\\" in text or text.startswith(("/", "~")) or PurePosixPath(text).is_absolute()
            or any(p.startswith(".") for p in parts)):
        raise StudioError(f"{text!r} is outside the runs folder: pick a run from the list "
                          "(only runs under RUNS_DIR are served)")
    if "" in parts:
        raise StudioError(f"{text!r} is not a run name: pick a run from the list")
    root = Path(runs_dir).resolve()
    path = root.joinpath(*parts).resolve()
    if not path.is_relative_to(root) or path == root:
        raise StudioError(f"{text!r} is outside the runs folder: pick a run from the list "
                          "(only runs under RUNS_DIR are served)")
    if not path.is_dir():
        raise RunError(f"no run {text!r} under the runs folder: pick a run from the list "
                       "(refresh it after a new run starts)")
    if not (path / CONFIG).is_file() or not (path / RUN_INFO).is_file():
        raise RunError(f"{text!r} is not a genlab run folder (no {CONFIG} or {RUN_INFO}): "
                       "pick a run from the list")
    return path


def list_runs(runs_dir: str | Path, depth: int = 2) -> list[str]:
    """Names of the run folders under `runs_dir` (up to `depth` levels: runs/NAME and
    runs/GROUP/NAME), each one that `resolve_run` accepts, sorted."""
    root = Path(runs_dir).resolve()
    names: list[str] = []

    def visit(folder: Path, level: int) -> None:
        try:
            children = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        except OSError:
            return
        for child in children:
            name = child.relative_to(root).as_posix()
            try:
                resolve_run(root, name)
            except (StudioError, RunError):
                if level < depth and child.is_dir() and child.resolve().is_relative_to(root):
                    visit(child, level + 1)
                continue
            names.append(name)

    if root.is_dir():
        visit(root, 1)
    return names


def check_int(value: object, what: str, low: int, high: int) -> int:
    """An integer from the page (a Number sends floats and None) within [low, high]."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StudioError(f"{what}: give a whole number from {low} to {high:,}")
    if not math.isfinite(value) or value != int(value):  # NaN, infinities, 2.5
        raise StudioError(f"{what}: give a whole number from {low} to {high:,}")
    number = int(value)
    if not low <= number <= high:
        raise StudioError(f"{what} {number:,} is out of range: give {low} to {high:,}")
    return number


def check_float(value: object, what: str, low: float, high: float) -> float:
    """A number from the page within [low, high] (NaN and infinities refused)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StudioError(f"{what}: give a number from {low:g} to {high:g}")
    number = float(value)
    if not low <= number <= high:  # also False for NaN
        raise StudioError(f"{what} {number:g} is out of range: give {low:g} to {high:g}")
    return number


def check_text(value: object, what: str, *, required: bool = False) -> str | None:
    """A prompt, label or guide from the page: None when empty (unless required), at most
    TEXT_MAX characters, no control characters."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            raise StudioError(f"{what}: type something")
        return None
    if len(text) > TEXT_MAX or any(ord(c) < 32 for c in text):
        raise StudioError(f"{what}: at most {TEXT_MAX} characters on one line")
    return text


def check_image_size(width: int, height: int, what: str = "the image") -> None:
    """An uploaded image's pixels: at most SIDE_MAX on each side."""
    if width < 1 or height < 1 or max(width, height) > SIDE_MAX:
        raise StudioError(f"{what} is {width} x {height} pixels: upload one of at most "
                          f"{SIDE_MAX} x {SIDE_MAX}")


def check_upload(path: object, what: str = "the upload") -> Path:
    """An uploaded file the studio may decode: present, at most UPLOAD_BYTES, an image format
    PIL knows by its header, at most SIDE_MAX on a side. Only the header is read here, so a
    small file that claims huge pixels (a decompression bomb) is refused before decoding.
    Messages name the file as the user uploaded it, not the server's temporary path."""
    from PIL import Image, UnidentifiedImageError

    if path is None or str(path) == "":
        raise StudioError(f"{what}: upload an image first (PNG or JPEG)")
    file = Path(str(path))
    if not file.is_file():
        raise StudioError(f"{what}: the uploaded file is gone: upload it again")
    if file.stat().st_size > UPLOAD_BYTES:
        raise StudioError(f"{what} {file.name!r} is over {UPLOAD_BYTES // 2**20} MB: upload a "
                          "smaller image")
    try:
        with Image.open(file) as image:
            kind, (width, height) = image.format, image.size
    except Image.DecompressionBombError:  # the header claims more pixels than PIL opens
        raise StudioError(f"{what} {file.name!r} has too many pixels: upload one of at most "
                          f"{SIDE_MAX} x {SIDE_MAX}") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise StudioError(f"{what} {file.name!r} is not an image: upload a PNG or JPEG"
                          ) from None
    if kind not in UPLOAD_FORMATS:
        raise StudioError(f"{what} {file.name!r} is a {kind} file: upload a PNG or JPEG")
    check_image_size(width, height, f"{what} {file.name!r}")
    return file


class RunLocks:
    """One generation at a time per run: a second request for the same run waits for the
    first (the page shows it queued), requests for other runs go ahead."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Path, threading.Lock] = {}

    @contextmanager
    def hold(self, run_dir: Path) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(run_dir, threading.Lock())
        with lock:
            yield

    def busy(self, run_dir: Path) -> bool:
        with self._guard:
            lock = self._locks.get(run_dir)
        return lock is not None and lock.locked()

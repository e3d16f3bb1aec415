"""User-given paths, checked before any work starts: a typo in --out must not cost a model
load and a sampling run and then end in a traceback (or a stray temporary file).

Output files are written by `genlab.images` (PNG grids and images, GIFs) and by
`generate.sample` (folders of PNGs, .npz); each check here names what its writer accepts.
"""

from __future__ import annotations

import os
from pathlib import Path

from genlab.errors import ConfigError, DataError

GRID_MAX = 1024  # images in one grid PNG (32 x 32 of them); larger sets go to a folder or .npz
N_MAX = 1_000_000  # images one `genlab sample` call makes
SAMPLE_KINDS = "NAME.png (a grid of up to 1024), NAME.npz or FOLDER/ (one PNG per image)"


def check_png_out(path: str | Path, flag: str = "--out") -> Path:
    """A PNG file to write: a .png name whose folder exists or can be made, not a folder."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a folder: pass a file name such as "
                          f"{path / 'out.png'}")
    if path.suffix.lower() != ".png":
        raise ConfigError(f"{flag} {path}: pass a file name ending in .png (PNG is written)")
    _check_creatable(path.parent, flag, path)
    return path


def check_folder_out(path: str | Path, flag: str = "--out", *, writes: str = "its files",
                     suffixes: tuple[str, ...] = ()) -> Path:
    """A folder to write `writes` into: an existing folder or one that can be made. A name
    ending in one of `suffixes` (.png for a command that writes several files) is taken for
    the file name it looks like."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path} is a file: pass a folder (it gets {writes})")
    if not path.exists() and path.suffix.lower() in suffixes:
        raise ConfigError(f"{flag} {path}: pass a folder, not a file name (it gets {writes})")
    _check_creatable(path, flag, path)
    return path


def check_grid_count(count: int, what: str) -> None:
    """A grid PNG of `count` images: at most GRID_MAX (a bigger one takes the memory of the
    whole set at once and makes a picture nobody can look at)."""
    if count > GRID_MAX:
        raise ConfigError(f"{what}: {count} images are more than the {GRID_MAX} a grid PNG "
                          "holds: ask for fewer")


def check_sample_out(out: str | Path, n: int) -> tuple[Path, str]:
    """Where `genlab sample` writes n images, and how: "grid" (.png), "npz" or "folder" (a
    name ending in /, or an existing empty folder)."""
    if not 1 <= n <= N_MAX:
        raise ConfigError(f"--n {n}: ask for 1..{N_MAX} images")
    path = Path(out)
    if str(out).endswith(("/", os.sep)) or path.is_dir():
        if path.is_dir() and any(path.iterdir()):
            raise ConfigError(f"--out {path} is a folder that is not empty: pass a new or "
                              f"empty folder (one PNG per image), or {SAMPLE_KINDS}")
        return check_folder_out(path, writes="one PNG per image"), "folder"
    suffix = path.suffix.lower()
    if suffix not in (".png", ".npz"):
        raise ConfigError(f"--out {path}: pass {SAMPLE_KINDS}")
    if suffix == ".png" and n > GRID_MAX:
        raise ConfigError(f"--n {n} is more than the {GRID_MAX} images a grid PNG holds: pass "
                          f"--out FOLDER/ (one PNG per image) or --out NAME.npz")
    _check_creatable(path.parent, "--out", path)
    return path, "grid" if suffix == ".png" else "npz"


def unused_path(path: str | Path, also: tuple[str, ...] = ()) -> Path:
    """`path`, or NAME-2.png, NAME-3.png... the first that does not exist: a default output
    name must not replace what an earlier command wrote under it. `also`: other suffixes
    written beside it under the same name (".gif"), which must not exist either."""
    path = candidate = Path(path)
    number = 1
    while candidate.exists() or any(candidate.with_suffix(s).exists() for s in also):
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def check_image_file(path: str | Path, flag: str, *, alternatives: str = "") -> Path:
    """An image to read: an existing file, not a folder. `alternatives`: what else the option
    takes, for the message."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{flag} {path} is a folder: pass an image file (PNG or JPEG)"
                        f"{alternatives}")
    if not path.is_file():
        raise DataError(f"{flag}: image {path} not found: pass an image file (PNG or JPEG)"
                        f"{alternatives}")
    return path


def _check_creatable(folder: Path, flag: str, path: Path) -> None:
    """`folder` exists or can be made: its nearest existing ancestor is a writable folder."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{flag} {path}: {existing} is a file, so no folder can be made "
                          "there: pass a path in a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path}: {existing} is not writable: pass a path in a folder "
                          "you can write to")

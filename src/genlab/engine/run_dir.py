"""The run folder the engine trains into."""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock, Timeout

from genlab.errors import RunError
from genlab.files import write_text

LOCK = ".genlab.lock"


def new_run_dir(out_dir: str | Path, name: str) -> Path:
    """Create `out_dir/name`, or `name-2`, `name-3`... so an earlier run is never overwritten."""
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(1, 10_000):
        path = root / (name if i == 1 else f"{name}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RunError(f"too many runs named {name} in {root}: pick another name (--name)")


def write_files(run_dir: Path, files: dict[str, str]) -> None:
    """Write each named text file into the run folder (atomically)."""
    for name, text in files.items():
        write_text(run_dir / name, text)


def lock_run_dir(run_dir: Path) -> FileLock:
    """Hold the run folder for one writer (an OS advisory lock: a killed process releases it),
    so a second `--resume` of the same run is refused instead of interleaving checkpoints."""
    lock = FileLock(str(run_dir / LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunError(f"{run_dir} is being trained by another genlab process: wait for it to "
                       "finish (or stop it with Ctrl-C) before resuming it") from None
    return lock


def clean_temporaries(run_dir: Path) -> None:
    """Remove half-written files (`.NAME.tmp`) a killed process left in the run folder."""
    for path in run_dir.glob(".*.tmp"):
        path.unlink(missing_ok=True)

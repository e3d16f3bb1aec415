"""Run folders: `runs/<name>/` with the resolved config, data facts, logs, samples, checkpoints."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from genlab import __version__
from genlab.config import RunConfig, dump_config, read_yaml, validate_config
from genlab.errors import RunError
from genlab.methods.base import DataInfo

CONFIG, RUN_INFO = "config.yaml", "run.json"


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


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_run_files(run_dir: Path, cfg: RunConfig, info: DataInfo) -> None:
    _write_text(run_dir / CONFIG, dump_config(cfg))
    meta = {"genlab_version": __version__, "method": cfg.method.name, "data": info.__dict__,
            "command": " ".join(sys.argv)}
    _write_text(run_dir / RUN_INFO, json.dumps(meta, indent=2) + "\n")


def read_run(run_dir: str | Path) -> tuple[Path, RunConfig, DataInfo, dict[str, Any]]:
    """The config and data facts of an existing run folder."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"run folder {path} not found: pass a folder under runs/ "
                       "(see `ls runs`)")
    if not (path / CONFIG).is_file() or not (path / RUN_INFO).is_file():
        raise RunError(f"{path} is not a genlab run folder (no {CONFIG} or {RUN_INFO})")
    cfg = validate_config(read_yaml(path / CONFIG))
    try:
        meta = json.loads((path / RUN_INFO).read_text())
        info = DataInfo(**meta["data"])
    except (ValueError, KeyError, TypeError):
        raise RunError(f"{path / RUN_INFO} is damaged: it must hold the run's data facts") from None
    return path, cfg, info, meta

"""Run folders: `runs/<name>/` with the resolved config, data facts, logs, samples, checkpoints.
The engine creates the folder and writes what it trains; this module says what a run is."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from genlab.config import read_yaml
from genlab.errors import RunError
from genlab.methods.base import DataInfo
from genlab.runs.config import RunConfig, dump_config, validate_config
from genlab.version import __version__

CONFIG, RUN_INFO = "config.yaml", "run.json"


def run_files(cfg: RunConfig, info: DataInfo) -> dict[str, str]:
    """The files that make a folder a run: the resolved config and the data facts, with how
    the data was split (a folder without train/ and test/ trains on its train part only)."""
    meta = {"genlab_version": __version__, "method": cfg.method.name, "data": info.__dict__,
            "split": cfg.data.split_facts(), "command": " ".join(sys.argv)}
    return {CONFIG: dump_config(cfg), RUN_INFO: json.dumps(meta, indent=2) + "\n"}


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

"""What every config section shares: pydantic sections that refuse unknown keys, `--set a.b=value`
overrides, YAML reading, and the presets shipped inside the package.

Each layer keeps its own section beside the code that reads it (`data.config`,
`engine.config`, each method's file); `runs.config` joins them into a run's config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from genlab.errors import ConfigError

# The shipped presets (the repository's configs/ folder points here), usable by name anywhere.
PRESETS = Path(__file__).resolve().with_name("presets")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def preset_names() -> list[str]:
    """The names `genlab train NAME` accepts, e.g. dcgan, ddpm-shapes."""
    return sorted(p.stem for p in PRESETS.glob("*.yaml"))


def resolve_config_path(spec: str | Path) -> Path:
    """A YAML file as given, else the shipped preset of that name (`dcgan` or `dcgan.yaml`)."""
    path = Path(spec)
    if path.is_file():
        return path
    preset = PRESETS / (path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml")
    if path.parent == Path(".") and preset.is_file():
        return preset
    raise ConfigError(f"config {spec} not found: pass a YAML file or a preset name "
                      f"({', '.join(preset_names())}; see `genlab config --list`)")


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML config file (or preset name)."""
    path = resolve_config_path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}: fix the syntax") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections (data, method, "
                          "train)")
    return raw


def _parse_override(item: str) -> tuple[list[str], Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"bad override {item!r}: write it as key.sub=value, e.g. train.steps=500")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set `a.b=value` items into a nested dict (values parsed as YAML scalars)."""
    for item in overrides:
        path, value = _parse_override(item)
        node = raw
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"bad override {item!r}: {part} is not a section")
            node = child
        node[path[-1]] = value
    return raw

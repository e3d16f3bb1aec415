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
    if path.is_dir():
        run = (f" (a run folder: its config is {path / 'config.yaml'}; continue it with "
               f"`genlab train --resume {path}`)" if (path / "config.yaml").is_file() else "")
        raise ConfigError(f"config {spec} is a folder, not a file: pass a YAML file or a preset "
                          f"name such as dcgan{run}")
    raise ConfigError(f"config {spec} not found: pass a YAML file or a preset name "
                      f"({', '.join(preset_names())}; see `genlab config --list`)")


_WRITE_A_SECTION = ("write at least one section (data, method, train), or pass a preset name "
                    "such as dcgan")


def _config_text(path: Path) -> str:
    """The file's text; a ConfigError when it is not UTF-8 (a binary file, UTF-16...)."""
    try:
        return path.read_bytes().decode("utf-8-sig")  # -sig: a byte-order mark is harmless
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not a UTF-8 text file: pass a YAML config "
                          "(or save this one as UTF-8)") from None
    except OSError as err:
        raise ConfigError(f"config file {path} cannot be read ({err.strerror}): check its "
                          "permissions") from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML config file (or preset name). Whatever is not one (binary, empty,
    broken or odd YAML, a list) is a one-line ConfigError: an empty file is refused rather than
    read as all the defaults, which would train something the user never asked for."""
    path = resolve_config_path(path)
    text = _config_text(path)
    if all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        raise ConfigError(f"config file {path} is empty: {_WRITE_A_SECTION}")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}: fix the syntax") from None
    except ValueError as err:  # a tag or a date YAML cannot build: !!int x, 2020-13-45
        raise ConfigError(f"config file {path} is not valid YAML ({_one_line(err)}): fix the "
                          "value") from None
    except RecursionError:
        raise ConfigError(f"config file {path} is nested too deeply to be a config: pass a "
                          "YAML mapping of sections (data, method, train)") from None
    if raw is None:  # "---", "~", "null"
        raise ConfigError(f"config file {path} holds no settings: {_WRITE_A_SECTION}")
    if not isinstance(raw, dict):
        got = "a list" if isinstance(raw, list) else f"the single value {_one_line(raw)}"
        raise ConfigError(f"config file {path} must hold a mapping of sections (data, method, "
                          f"train), not {got}")
    return raw


def printable(text: str) -> str:
    """text with line breaks and other control characters escaped (\\n, \\u2028...), for
    messages the CLI prints on one line that quote what a user wrote."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _one_line(value: object, limit: int = 60) -> str:
    """A short repr for a message that must stay on one line."""
    text = repr(value) if not isinstance(value, Exception) else printable(str(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _parse_override(item: str) -> tuple[list[str], Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"bad override {item!r}: write it as key.sub=value, e.g. train.steps=500")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except (yaml.YAMLError, ValueError, RecursionError):  # not YAML, or 2020-13-45: a string
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

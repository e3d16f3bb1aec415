"""A run's config: the data, method and train sections joined, loaded from YAML (or a preset
name) with `--set a.b=value` overrides, validated with errors that name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator

from genlab.config import Section, apply_overrides, printable, read_yaml, resolve_config_path
from genlab.data.config import DataConfig
from genlab.engine.config import TrainConfig
from genlab.errors import ConfigError
from genlab.methods.gan import GANConfig
from genlab.methods.registry import METHOD_NAMES, MethodConfig

__all__ = ["RunConfig", "dump_config", "load_config", "validate_config"]


class RunConfig(Section):
    name: str | None = Field(None, description="run folder name (default: the config file's name)")
    seed: int = Field(0, description="seed of everything random in the run")
    data: DataConfig = Field(default_factory=DataConfig, description="dataset")
    method: MethodConfig = Field(default_factory=GANConfig, description="training method "
                                 f"and nets: method.name picks {', '.join(METHOD_NAMES)}")
    train: TrainConfig = Field(default_factory=TrainConfig, description="training loop")

    @model_validator(mode="before")
    @classmethod
    def _default_method(cls, raw: Any) -> Any:
        """A method section without a name is a GAN (configs written before other methods)."""
        if isinstance(raw, dict) and isinstance(raw.get("method"), dict) \
                and "name" not in raw["method"]:
            raw = {**raw, "method": {"name": "gan", **raw["method"]}}
        return raw


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    parts = [str(p) for p in first["loc"]]
    if parts[:1] == ["method"] and len(parts) > 1 and parts[1] in METHOD_NAMES:
        del parts[1]  # the union's tag, not a key the user wrote
    loc = ".".join(parts)
    if first["type"] == "extra_forbidden":
        return (f"unknown config key {loc!r}: check the spelling (`genlab config CONFIG --keys` "
                "lists every key of that config's method)")
    got = first.get("input")
    got_text = f" (got {got!r})" if not isinstance(got, dict) else ""
    more = f"; and {len(err.errors()) - 1} more problem(s)" if len(err.errors()) > 1 else ""
    # pydantic quotes some inputs raw (a union's tag): a line break there must not split the line
    return f"config key {loc!r}: {printable(first['msg'])}{got_text}{more}"


def validate_config(raw: dict[str, Any]) -> RunConfig:
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_describe(err)) from None


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML config or preset name (the defaults when None), apply overrides, validate."""
    raw = read_yaml(path) if path is not None else {}
    raw = apply_overrides(raw, list(overrides or []))
    cfg = validate_config(raw)
    if cfg.name is None and path is not None:
        cfg.name = resolve_config_path(path).stem
    return cfg


def dump_config(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)

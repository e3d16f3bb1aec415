"""Run configuration: pydantic models loaded from YAML, with `--set a.b=value` overrides.

Every field has a default and a one-line description; unknown keys are errors that name the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from genlab.config_methods import (
    DDPMConfig,
    GANConfig,
    LDMConfig,
    MethodConfig,
    Section,
    VAEConfig,
)
from genlab.data import ImageData, load_dataset
from genlab.data.shapes import ShapesOptions
from genlab.errors import ConfigError

__all__ = ["DDPMConfig", "DataConfig", "GANConfig", "LDMConfig", "RunConfig", "TrainConfig",
           "VAEConfig", "load_config"]


class DataConfig(Section):
    name: str = Field("shapes", description="dataset: shapes, digits, fashion-mnist, mnist, "
                      "cifar10, svhn, celeba or folder:PATH (see `genlab datasets`)")
    root: str | None = Field(None, description="folder holding the dataset files (None: default)")
    image_size: int | None = Field(None, ge=8, description="resize images to this side (None: "
                                   "the dataset's own size)")
    download: bool = Field(False, description="let torchvision download the data (needs internet)")
    shapes: ShapesOptions = Field(default_factory=ShapesOptions,
                                  description="options of the procedural shapes dataset")
    caption_template: str | None = Field(
        None, pattern=r"\{class\}", description="captions from class names, e.g. 'a photo of a "
        "{class}' (None: the dataset's own captions; labelled sets without any get that one)")

    def load(self, split: str = "train", seed: int = 0) -> ImageData:
        """Load one split of this dataset into memory."""
        return load_dataset(self.name, split=split, image_size=self.image_size, root=self.root,
                            download=self.download, shapes=self.shapes, seed=seed,
                            caption_template=self.caption_template)


class EMAConfig(Section):
    enabled: bool = Field(True, description="keep an exponential moving average of the generator")
    decay: float = Field(0.999, ge=0, lt=1, description="EMA decay per step")
    start: int = Field(0, ge=0, description="step at which averaging starts (copy before)")


class TrainConfig(Section):
    steps: int = Field(2000, ge=1, description="generator updates to train for")
    max_minutes: float | None = Field(None, gt=0, description="stop after this much training "
                                      "time (steps only, not evaluation), whatever train.steps")
    budget_clock: Literal["wall", "cpu"] = Field(
        "wall", description="clock of train.max_minutes: wall seconds, or CPU seconds of the "
        "process (all its threads): the same on an idle machine, fair on a shared one")
    batch_size: int = Field(64, ge=1, description="images per update and per process")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="auto: bf16 where the hardware is fast at it, else fp32")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="where to train")
    channels_last: bool = Field(True, description="NHWC memory layout for conv nets (faster "
                                "convolutions with oneDNN/cuDNN, most of all in bf16)")
    ema: EMAConfig = Field(default_factory=EMAConfig, description="generator weight averaging")
    log_every: int = Field(50, ge=1, description="steps between logged losses")
    sample_every: int = Field(500, ge=0, description="steps between sample grids (0: only at "
                              "the end)")
    sample_n: int = Field(64, ge=1, description="images in each sample grid")
    ckpt_every: int = Field(500, ge=0, description="steps between checkpoints (0: only at the end)")
    keep_last: int = Field(3, ge=1, description="checkpoints to keep")
    eval_every: int = Field(0, ge=0, description="steps between evaluations (0: never); the "
                            "best checkpoint by FID is kept in checkpoints/best")
    eval_n: int = Field(2000, ge=10, description="generated images per evaluation during "
                        "training")
    tensorboard: bool = Field(True, description="write TensorBoard logs to RUN/tb")
    wandb: bool = Field(False, description="also log to Weights & Biases (pip install "
                        "genlab[wandb])")
    wandb_project: str = Field("genlab", description="W&B project name")
    out_dir: str = Field("runs", description="folder that holds run folders")


class RunConfig(Section):
    name: str | None = Field(None, description="run folder name (default: the config file's name)")
    seed: int = Field(0, description="seed of everything random in the run")
    data: DataConfig = Field(default_factory=DataConfig, description="dataset")
    method: MethodConfig = Field(default_factory=GANConfig, description="training method "
                                 "and nets: method.name picks gan, vae, ddpm, ldm, vqgan or clip")
    train: TrainConfig = Field(default_factory=TrainConfig, description="training loop")

    @model_validator(mode="before")
    @classmethod
    def _default_method(cls, raw: Any) -> Any:
        """A method section without a name is a GAN (configs written before other methods)."""
        if isinstance(raw, dict) and isinstance(raw.get("method"), dict) \
                and "name" not in raw["method"]:
            raw = {**raw, "method": {"name": "gan", **raw["method"]}}
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


METHOD_NAMES = ("gan", "vae", "ddpm", "ldm", "vqgan", "clip")


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    parts = [str(p) for p in first["loc"]]
    if parts[:1] == ["method"] and len(parts) > 1 and parts[1] in METHOD_NAMES:
        del parts[1]  # the union's tag, not a key the user wrote
    loc = ".".join(parts)
    if first["type"] == "extra_forbidden":
        return f"unknown config key {loc!r}: check the spelling (see `genlab config --help`)"
    got = first.get("input")
    got_text = f" (got {got!r})" if not isinstance(got, dict) else ""
    more = f"; and {len(err.errors()) - 1} more problem(s)" if len(err.errors()) > 1 else ""
    return f"config key {loc!r}: {first['msg']}{got_text}{more}"


def validate_config(raw: dict[str, Any]) -> RunConfig:
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_describe(err)) from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found: pass a YAML file such as "
                          "configs/dcgan.yaml")
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


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML config (or the defaults when path is None), apply overrides, validate."""
    raw = read_yaml(path) if path is not None else {}
    raw = apply_overrides(raw, list(overrides or []))
    cfg = validate_config(raw)
    if cfg.name is None and path is not None:
        cfg.name = Path(path).stem
    return cfg


def dump_config(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)

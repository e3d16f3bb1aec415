"""Weights from other runs: a frozen part a method builds on (the VAE of latent diffusion) and
`--init-from RUN` fine-tuning, which reports what it loaded, reshaped or left new."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from pydantic import ValidationError
from torch import Tensor

from genlab.engine.checkpoint import find_checkpoint, inference_weights, load_checkpoint
from genlab.errors import ConfigError, EvalError
from genlab.methods.base import Method
from genlab.methods.registry import METHODS
from genlab.metrics.judge import load_judge
from genlab.runs.config import RunConfig
from genlab.runs.folder import read_run


def run_weights(run: str | Path, checkpoint: str = "last") -> dict[str, Tensor]:
    """A run's net weights by net-relative key, the EMA copies replacing the nets they shadow."""
    run_dir = read_run(run)[0]
    tensors, _ = load_checkpoint(find_checkpoint(run_dir, checkpoint))
    return inference_weights(tensors)


def resolve_pretrained(cfg: RunConfig, progress: bool = True) -> dict[str, dict[str, Tensor]]:
    """For a new run: copy each referenced run's method config into this config (so the run
    stays self-contained) and return the weights for the nets it fills, including the data's
    judge for a method that asks for it (`Method.judge_net`; trained first if not cached)."""
    out: dict[str, dict[str, Tensor]] = {}
    judge_net = METHODS[cfg.method.name].judge_net(cfg.method)
    if judge_net is not None:
        try:  # seed 0: the judge evaluation uses, so one cached judge serves both
            out[judge_net] = load_judge(cfg.data, seed=0, progress=progress).net.state_dict()
        except EvalError as err:
            raise ConfigError(f"method {cfg.method.name} needs the judge of the data for its "
                              f"{judge_net} net: {err}") from None
    for field_name, target in METHODS[cfg.method.name].pretrained_runs.items():
        path = getattr(cfg.method, field_name)
        if path is None:
            continue
        _, other, _, _ = read_run(path)
        try:
            setattr(cfg.method, target, other.method)
        except ValidationError:
            raise ConfigError(f"method.{field_name}={path} is a {other.method.name} run; it "
                              f"must be a {target} run") from None
        out[target] = run_weights(path)
    return out


def load_pretrained(method: Method, weights: dict[str, dict[str, Tensor]]) -> None:
    for target, tensors in weights.items():
        net = method.nets[target]
        try:
            net.load_state_dict(tensors, strict=True)
        except RuntimeError as err:
            raise ConfigError(f"the {target} run's weights do not fit: "
                              f"{str(err).splitlines()[0][:200]}") from None


@dataclass
class InitReport:
    source: str
    loaded: list[str] = field(default_factory=list)
    reshaped: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"initialised from {self.source}: {len(self.loaded)} tensors loaded, "
                f"{len(self.reshaped)} reshaped, {len(self.new)} new, {len(self.unused)} unused")
        if self.reshaped:
            text += f" (reshaped: {', '.join(self.reshaped[:4])}{'...' * (len(self.reshaped) > 4)})"
        return text

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")


@torch.no_grad()
def init_from(method: Method, run: str | Path, checkpoint: str = "last") -> InitReport:
    """Start from another run's (averaged) weights. Same shape: copied. Same rank, other shape
    (more classes, other channels): the overlapping block copied, the rest kept as
    initialised. Missing or of another rank: kept as initialised."""
    source = run_weights(run, checkpoint)
    report = InitReport(str(run))
    for key, tensor in method.nets.state_dict().items():
        src = source.get(key)
        if src is None or src.dim() != tensor.dim():
            report.new.append(key)
        elif src.shape == tensor.shape:
            tensor.copy_(src)
            report.loaded.append(key)
        else:
            block = tuple(slice(0, min(a, b)) for a, b in zip(src.shape, tensor.shape,
                                                              strict=True))
            tensor[block] = src[block].to(tensor.dtype)
            report.reshaped.append(key)
    target = method.nets.state_dict()
    report.unused = [k for k in source if k not in target]
    if not report.loaded and not report.reshaped:
        raise ConfigError(f"no tensor of {run} fits this model: is it the same kind of method?")
    return report

"""Load a run folder for inference, with no training code: `genlab.load_run(path)`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from genlab.config import RunConfig
from genlab.engine.checkpoint import find_checkpoint, load_checkpoint
from genlab.engine.run_dir import read_run
from genlab.errors import CheckpointError, ConfigError
from genlab.methods import DataInfo, Method, build_method


@dataclass
class LoadedRun:
    """A trained model ready to sample: its method (nets in eval mode), config and data facts."""

    path: Path
    cfg: RunConfig
    info: DataInfo
    method: Method
    step: int

    @property
    def device(self) -> torch.device:
        return self.method.device

    @property
    def conditional(self) -> bool:
        return self.method.num_classes > 0

    def label_index(self, label: str | int) -> int:
        """A class index from an index or a class name."""
        names = self.info.class_names
        if not self.conditional:
            raise ConfigError(f"{self.path} is not a conditional model: drop --label")
        text = str(label)
        if text.lstrip("-").isdigit() and 0 <= int(text) < len(names):
            return int(text)
        if text in names:
            return names.index(text)
        raise ConfigError(f"unknown label {label!r}: use 0..{len(names) - 1} or one of "
                          f"{', '.join(names)}")

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, labels: Tensor | None = None,
               truncation: float = 1.0) -> Tensor:
        """n images in [-1, 1]; labels default to classes in turn for conditional models."""
        from genlab.generate.sample import truncate

        gen = torch.Generator(device=self.device).manual_seed(seed)
        z = truncate(self.method.sample_latents(n, gen), truncation)
        if self.conditional and labels is None:
            labels = torch.arange(n) % self.info.num_classes
        if labels is not None:
            labels = labels.to(self.device)
        return self.method.decode(z, labels)


def load_run(path: str | Path, checkpoint: str = "last", *, ema: bool = True,
             device: str = "cpu") -> LoadedRun:
    """Build a run's method from its folder and load a checkpoint (EMA weights by default)."""
    run_dir, cfg, info, _ = read_run(path)
    ckpt = find_checkpoint(run_dir, checkpoint)
    tensors, state = load_checkpoint(ckpt)
    torch.manual_seed(0)
    method = build_method(cfg.method, info)
    weights = {k[5:]: v for k, v in tensors.items() if k.startswith("nets.")}
    if ema:  # the averaged nets replace the live ones they shadow
        weights.update({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    try:
        method.nets.load_state_dict(weights, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"checkpoint {ckpt} does not fit the run's config: "
                              f"{str(err).splitlines()[0][:200]}") from None
    method.to(device)
    method.nets.eval().requires_grad_(False)
    return LoadedRun(run_dir, cfg, info, method, int(state["step"]))

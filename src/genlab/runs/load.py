"""Load a run folder for inference, with no training code: `genlab.load_run(path)`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.engine.checkpoint import find_checkpoint, inference_weights, load_checkpoint
from genlab.engine.hardware import sampling_precision
from genlab.errors import CheckpointError, ConfigError
from genlab.methods.base import DataInfo, Method
from genlab.methods.diffusion import DDPM, DDPMConfig
from genlab.methods.registry import build_method
from genlab.runs.config import RunConfig
from genlab.runs.folder import read_run
from genlab.sampling import SAMPLERS, make_scheduler

# the pipeline export_diffusers writes: its file (without .py) and class
PIPELINE_CLASS = ("pipeline_genlab", "GenlabPipeline")


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
               truncation: float = 1.0, options: Any = None) -> Tensor:
        """n images in [-1, 1]; labels default to classes in turn for conditional models.
        `options`: a diffusion run's sampling options (see `generate.guidance.sampling_options`;
        None: the run's own)."""
        gen = torch.Generator(device=self.device).manual_seed(seed)
        if self.conditional and labels is None:
            labels = torch.arange(n) % self.info.num_classes
        if labels is not None:
            labels = labels.to(self.device)
        # the method's own truncation trick (StyleGAN's is in W, where the labels enter)
        z = self.method.truncate(self.method.sample_latents(n, gen), truncation, labels)
        return self.method.decode(z, labels, options)

    @torch.no_grad()
    def translate(self, inputs: Tensor, direction: str = "AtoB") -> Tensor:
        """Image-to-image runs (Pix2Pix, CycleGAN, SRGAN): input images in [-1, 1], the run's
        input channels and side (`info.input_channels`, `info.input_size`), to output images.
        `direction`: one of `method.directions` (CycleGAN: "AtoB" or "BtoA")."""
        if direction not in self.method.directions:
            raise ConfigError(f"{self.path} translates {', '.join(self.method.directions)}; "
                              f"got direction {direction!r}")
        return self.method.translate(inputs.to(self.device), direction)


def load_run(path: str | Path, checkpoint: str = "last", *, ema: bool = True,
             device: str = "cpu", precision: str = "auto") -> LoadedRun:
    """Build a run's method from its folder and load a checkpoint (EMA weights by default).
    `precision`: a diffusion UNet's arithmetic when sampling (auto: bf16 where the hardware is
    fast at it; fp32 reproduces fp32 results, e.g. an exported diffusers pipeline's)."""
    precision = sampling_precision(precision, device)
    run_dir, cfg, info, _ = read_run(path)
    ckpt = find_checkpoint(run_dir, checkpoint)
    tensors, state = load_checkpoint(ckpt)
    torch.manual_seed(0)
    method = build_method(cfg.method, info)
    weights = inference_weights(tensors, ema)  # the averaged nets replace the live ones
    try:
        method.nets.load_state_dict(weights, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"checkpoint {ckpt} does not fit the run's config: "
                              f"{str(err).splitlines()[0][:200]}") from None
    _for_inference(method, device, precision)
    return LoadedRun(run_dir, cfg, info, method, int(state["step"]))


def load_unet_folder(path: str | Path, device: str = "cpu",
                     precision: str = "auto") -> LoadedRun:
    """A diffusers `UNet2DModel` folder (`save_pretrained` layout: config.json + weights), or a
    pipeline folder holding `unet/` (and `scheduler/`), ready to sample as a DDPM run.

    Class-conditional UNets follow genlab's convention: num_class_embeds = classes + 1, the
    last embedding being "no class" for classifier-free guidance.
    """
    from diffusers import UNet2DModel

    folder = Path(path)
    if (folder / "unet").is_dir():
        folder = folder / "unet"
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"{path} is not a diffusers UNet folder (no config.json): pass "
                              "a folder written by UNet2DModel.save_pretrained")
    try:
        unet = UNet2DModel.from_pretrained(folder)
    except (OSError, ValueError, RuntimeError, TypeError) as err:
        raise CheckpointError(f"cannot load the UNet in {folder}: "
                              f"{str(err).splitlines()[0][:200]}") from None
    config = dict(unet.config)
    schedule = {**_scheduler_config(folder), **_exported_sampling(folder.parent)}
    classes = (config.get("num_class_embeds") or 1) - 1
    cfg = RunConfig(name=folder.name, method=DDPMConfig(
        unet=config, conditional=classes >= 2, **schedule))
    size = config["sample_size"]
    info = DataInfo(channels=config["in_channels"],
                    image_size=size if isinstance(size, int) else size[0],
                    num_classes=max(classes, 0), class_names=[str(i) for i in range(classes)])
    method = build_method(cfg.method, info)
    method.nets["unet"] = unet
    _for_inference(method, device, sampling_precision(precision, device))
    return LoadedRun(folder, cfg, info, method, 0)


def _for_inference(method: Method, device: str, precision: str) -> None:
    """On the device, in eval mode, frozen; a diffusion UNet samples in `precision` (auto's
    bf16 measured at 1.5x the images per CPU-second of fp32 on an AVX-512 BF16 CPU, FID the
    same within noise: docs/results/diffusion-fashion-mnist.md)."""
    method.to(device)
    method.nets.eval().requires_grad_(False)
    if isinstance(method, DDPM):
        method.sample_precision = precision


def _scheduler_config(unet_folder: Path) -> dict[str, object]:
    """The noise schedule saved beside the UNet (pipeline layout), else DDPM's defaults."""
    for candidate in (unet_folder / "scheduler_config.json",
                      unet_folder.parent / "scheduler" / "scheduler_config.json"):
        if candidate.is_file():
            raw = json.loads(candidate.read_text())
            keys = {"num_train_timesteps": "timesteps", "beta_schedule": "beta_schedule",
                    "beta_start": "beta_start", "beta_end": "beta_end",
                    "clip_sample": "clip_sample", "prediction_type": "prediction_type"}
            return {ours: raw[theirs] for theirs, ours in keys.items() if theirs in raw}
    return {}


def _exported_sampling(pipeline_folder: Path) -> dict[str, object]:
    """The sampler, steps, guidance scale and eta of a run `export_diffusers` wrote, so that
    `--unet` samples as the run did (nothing for other folders: their scheduler is often the
    training one, not a sampler)."""
    index = pipeline_folder / "model_index.json"
    raw = json.loads(index.read_text()) if index.is_file() else {}
    if raw.get("_class_name") != list(PIPELINE_CLASS):
        return {}
    scheduler = json.loads((pipeline_folder / "scheduler" / "scheduler_config.json").read_text())
    samplers = {type(make_scheduler(kind, {})).__name__: kind for kind in SAMPLERS}
    return {"sampler": samplers[scheduler["_class_name"]],
            "sample_steps": raw["num_inference_steps"], "cfg": raw["guidance_scale"],
            "eta": raw["eta"]}


def export_diffusers(run: LoadedRun, out: str | Path) -> Path:
    """Write a diffusion run as a diffusers pipeline folder: unet/, scheduler/ (the run's
    sampler with genlab's trailing spacing), model_index.json (the run's steps, guidance scale
    and eta) and pipeline_genlab.py, the pipeline that samples as `genlab sample` does.
    `DiffusionPipeline.from_pretrained(out, trust_remote_code=True)` loads it (DDPMPipeline
    could not take class labels); `--unet out` loads it back into genlab."""
    from genlab.files import write_json, write_text
    from genlab.runs import pipeline_genlab

    if "unet" not in run.method.nets or not hasattr(run.method, "noise"):
        raise ConfigError(f"{run.path} is a {run.cfg.method.name} run: only ddpm runs export "
                          "to diffusers")
    if run.cfg.method.name != "ddpm":
        raise ConfigError("latent diffusion runs need their VAE: export ddpm runs only")
    cfg = run.cfg.method
    # the training config keeps the run's prediction_type: diffusers' schedulers read v
    scheduler = make_scheduler(cfg.sampler, dict(run.method.noise.config))
    pipe = pipeline_genlab.GenlabPipeline(
        unet=run.method.nets["unet"], scheduler=scheduler, num_inference_steps=cfg.sample_steps,
        guidance_scale=cfg.cfg, eta=cfg.eta)
    out = Path(out)
    pipe.save_pretrained(out)
    source = Path(pipeline_genlab.__file__)
    write_text(out / f"{PIPELINE_CLASS[0]}.py", source.read_text())
    # a [file, class] _class_name is how diffusers finds a folder's own pipeline code
    index = json.loads((out / "model_index.json").read_text())
    write_json(out / "model_index.json", {**index, "_class_name": list(PIPELINE_CLASS)})
    return out

"""genlab's diffusion sampling as a diffusers pipeline, shipped inside exported folders.

`genlab export RUN --out DIR` copies this file to `DIR/pipeline_genlab.py` and names it in
`DIR/model_index.json` (`"_class_name": ["pipeline_genlab", "GenlabPipeline"]`, the diffusers
convention for a folder that carries its own pipeline code), so

    pipe = DiffusionPipeline.from_pretrained(DIR, trust_remote_code=True)
    images = pipe(class_labels=[0, 2], generator=torch.Generator().manual_seed(3)).images

makes the images `genlab sample RUN --seed 3` makes for those labels. `DDPMPipeline` cannot:
it never passes class labels, and samples with the training scheduler's "leading" spacing.

This file imports torch and diffusers only, never genlab: an exported folder is for people
without genlab, and it keeps sampling the way the genlab that exported it did, whatever genlab
is installed later. It therefore restates two small pieces of genlab (the classifier-free
guidance mix of `genlab.sampling.cfg_eps` and the step-noise seed of
`genlab.methods.diffusion.noise_generator`); tests/test_export.py checks that this pipeline and
`genlab sample` give the same images, so the two cannot drift apart unnoticed.

What matches genlab, and why:
- the scheduler is the run's sampler (DDIM unless the run chose DDPM or DPM-Solver), saved
  with "trailing" timestep spacing (the first step starts at the last training timestep), the
  run's `prediction_type` (diffusers' schedulers read v-prediction themselves) and
  `clip_sample`. DDIM steps with `use_clipped_model_output=True`, as genlab's do;
- the defaults of a call (steps, guidance scale, eta) are the run's, saved in model_index.json;
- a class-conditional UNet has one class embedding more than classes: the last one is "no
  class", the unconditional half of classifier-free guidance;
- the starting noise is drawn from `generator` in the shape and order genlab draws it, and the
  fresh noise of stochastic steps (DDPM, DDIM with eta > 0) comes from a generator seeded by
  that starting noise, so one seed fixes every random number.
The images equal genlab's to float rounding (6e-8) for noise-predicting runs. For v-prediction
the scheduler computes x0 from v directly, while genlab turns v into the noise first, which
loses digits where the cosine schedule's alpha_bar is ~1e-9: there they differ by up to ~5e-3,
and this pipeline is the one that agrees with float64 arithmetic (docs/diffusion.md).
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from diffusers import DiffusionPipeline, ImagePipelineOutput, UNet2DModel
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils.torch_utils import randn_tensor


class GenlabPipeline(DiffusionPipeline):
    """Class-conditional (or unconditional) image generation with a genlab DDPM's UNet."""

    model_cpu_offload_seq = "unet"

    def __init__(self, unet: UNet2DModel, scheduler: SchedulerMixin,
                 num_inference_steps: int = 50, guidance_scale: float = 3.0,
                 eta: float = 0.0) -> None:
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)
        # the run's sampling defaults, saved in model_index.json and handed back on loading
        self.register_to_config(num_inference_steps=num_inference_steps,
                                guidance_scale=guidance_scale, eta=eta)

    @property
    def num_classes(self) -> int:
        """Classes the UNet is conditioned on (0: unconditional); index num_classes is the
        "no class" embedding that guidance mixes in."""
        rows = self.unet.config.num_class_embeds
        return rows - 1 if rows else 0

    @torch.no_grad()
    def __call__(self, class_labels: int | list[int] | torch.Tensor | None = None,
                 batch_size: int | None = None, num_inference_steps: int | None = None,
                 guidance_scale: float | None = None, eta: float | None = None,
                 generator: torch.Generator | list[torch.Generator] | None = None,
                 latents: torch.Tensor | None = None, output_type: str = "pil",
                 return_dict: bool = True) -> ImagePipelineOutput | tuple:
        """Images for `class_labels` (one image each; None on a conditional model: the classes
        in turn over `batch_size` images, as genlab does). `guidance_scale` s mixes
        uncond + s (cond - uncond): 1 is plain conditional, 0 unconditional. `eta` applies to
        DDIM only. `latents`: the starting noise [N, C, H, W], instead of drawing it from
        `generator`.
        `output_type`: "pil", "np" (NHWC in [0, 1]) or "pt" (NCHW in [0, 1]). Steps, guidance
        scale and eta default to the exported run's own."""
        cfg = self.config
        steps = cfg.num_inference_steps if num_inference_steps is None else num_inference_steps
        scale = cfg.guidance_scale if guidance_scale is None else guidance_scale
        eta = cfg.eta if eta is None else eta
        device = self._execution_device
        if batch_size is None and latents is not None:
            batch_size = len(latents)
        labels = self._labels(class_labels, batch_size, device)
        n = len(labels) if labels is not None else batch_size or 1
        shape = (n, self.unet.config.in_channels, *_side(self.unet.config.sample_size))
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=device,
                                   dtype=self.unet.dtype)
        elif tuple(latents.shape) != shape:
            raise ValueError(f"latents must have shape {shape}, got {tuple(latents.shape)}")
        latents = latents.to(device, self.unet.dtype)
        step_kwargs = self._step_kwargs(eta, _noise_generator(latents))
        self.scheduler.set_timesteps(steps, device=device)
        x = latents * self.scheduler.init_noise_sigma
        for t in self.progress_bar(self.scheduler.timesteps):
            out = self._predict(self.scheduler.scale_model_input(x, t), t.expand(n), labels,
                                scale)
            x = self.scheduler.step(out, t, x, **step_kwargs).prev_sample
        self.maybe_free_model_hooks()
        images = (x / 2 + 0.5).clamp(0, 1)
        if output_type != "pt":
            images = images.cpu().permute(0, 2, 3, 1).float().numpy()
            if output_type == "pil":
                images = self.numpy_to_pil(images)
        return ImagePipelineOutput(images=images) if return_dict else (images,)

    def _labels(self, class_labels: Any, batch_size: int | None,
                device: torch.device) -> torch.Tensor | None:
        """Class indices as a tensor, checked against the UNet's classes."""
        if not self.num_classes:
            if class_labels is not None:
                raise ValueError("this model is unconditional: drop class_labels (use "
                                 "batch_size for several images)")
            return None
        if class_labels is None:
            return torch.arange(batch_size or 1, device=device) % self.num_classes
        labels = torch.as_tensor(class_labels, device=device).long().reshape(-1)
        if batch_size is not None and batch_size != len(labels):
            raise ValueError(f"batch_size {batch_size} but {len(labels)} class labels: pass "
                             "one label per image")
        if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < self.num_classes:
            raise ValueError(f"class labels must be in 0..{self.num_classes - 1} (for "
                             "unconditional images use guidance_scale=0)")
        return labels

    def _predict(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None,
                 scale: float) -> torch.Tensor:
        """The UNet's output with classifier-free guidance, cond and uncond in one batch (as
        genlab.sampling.cfg_eps; mixing v predictions is mixing the noise they imply, the
        weights summing to 1)."""
        if labels is None:
            return self.unet(x, t).sample
        null = torch.full_like(labels, self.num_classes)
        if scale == 1:
            return self.unet(x, t, class_labels=labels).sample
        if scale == 0:
            return self.unet(x, t, class_labels=null).sample
        both = self.unet(torch.cat([x, x]), torch.cat([t, t]),
                         class_labels=torch.cat([labels, null])).sample
        cond, uncond = both.chunk(2)
        return uncond + scale * (cond - uncond)

    def _step_kwargs(self, eta: float, generator: torch.Generator) -> dict[str, Any]:
        """What the scheduler's step takes: DDIM re-derives the noise from the clipped x0 (as
        genlab does); eta reaches DDIM only."""
        accepts = inspect.signature(self.scheduler.step).parameters
        kwargs: dict[str, Any] = {"generator": generator} if "generator" in accepts else {}
        if "eta" in accepts:
            kwargs["eta"] = eta
        if "use_clipped_model_output" in accepts:
            kwargs["use_clipped_model_output"] = True
        return kwargs


def _side(size: int | list[int] | tuple[int, ...]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (size[0], size[1])


def _noise_generator(latents: torch.Tensor) -> torch.Generator:
    """The generator of the sampler's fresh noise, seeded from the starting noise exactly as
    genlab.methods.diffusion.noise_generator seeds it: the same seed gives genlab's images."""
    seed = int(latents.detach().flatten()[:64].double().abs().sum().item() * 1e6) % (2**63 - 1)
    return torch.Generator(device=latents.device).manual_seed(seed)

"""Latent interpolation (linear or spherical), between random latents and between classes."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from genlab.engine.progress import progress_bar
from genlab.errors import ConfigError
from genlab.generate.paths import check_folder_out, check_grid_count, unused_path
from genlab.generate.sample import batch_steps, decode
from genlab.images import grid_image, save_gif, save_grid
from genlab.runs.load import LoadedRun


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    return a + (b - a) * t


def slerp(a: Tensor, b: Tensor, t: Tensor, eps: float = 1e-7) -> Tensor:
    """Spherical interpolation along the great circle (falls back to lerp when parallel)."""
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(-1, keepdim=True).clamp(-1 + eps, 1 - eps))
    so = torch.sin(omega)
    out = (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b
    return torch.where(so.abs() < 1e-4, lerp(a, b, t), out)


def check_interpolation(out_dir: str | Path, *, steps: int, rows: int) -> Path:
    """The folder `interpolate` writes to and the grid it makes, checked before any work."""
    if steps < 2 or rows < 1:
        raise ConfigError("--steps must be at least 2 and --rows at least 1")
    check_grid_count(steps * rows, f"--steps {steps} x --rows {rows}")
    return check_folder_out(out_dir, writes="interpolation.png and interpolation.gif",
                            suffixes=(".png", ".gif"))


@torch.no_grad()
def interpolate(run: LoadedRun, out_dir: str | Path, *, steps: int = 16, rows: int = 8,
                seed: int = 0, spherical: bool = False,
                progress: bool = False) -> tuple[Path, Path]:
    """Write `interpolation.png` (a row per pair of endpoints) and `interpolation.gif` (or
    `interpolation-2.png`/`.gif`... when an earlier walk is there).

    The walk is in the space `method.walk_latents` gives: z for most methods, the per-layer
    styles in W for StyleGAN. For conditional models each row also moves between two classes
    through soft label vectors (methods that take soft labels; the others keep one class per
    row). `progress`: a bar
    counting the frames (a frame is one image per row) on stderr.
    """
    out = check_interpolation(out_dir, steps=steps, rows=rows)
    method, device = run.method, run.device
    gen = torch.Generator(device=device).manual_seed(seed)
    z0, z1 = method.sample_latents(rows, gen), method.sample_latents(rows, gen)
    t = torch.linspace(0, 1, steps, device=device).view(steps, 1, 1)
    y0, y1, labels = _endpoint_labels(run, rows, t)
    # the space the method walks in: z, or StyleGAN's styles in W (the labels enter there)
    w0, w1 = method.walk_latents(z0, y0), method.walk_latents(z1, y1)
    shape = w0.shape  # vectors, noise images (diffusion), styles: mixed flattened
    mix = slerp if spherical else lerp
    walk = mix(w0.flatten(1).unsqueeze(0), w1.flatten(1).unsqueeze(0), t).view(steps, *shape)
    frames = []
    with progress_bar(steps, label="interpolate", unit="frames", enabled=progress) as report:
        for i in range(steps):
            on_step = batch_steps(report, i, 1) if report is not None else None
            frames.append(decode(method, walk[i], labels[i] if labels is not None else None,
                                 on_step=on_step))
            if report is not None:
                report(i + 1)
    video = torch.stack(frames, dim=1)  # [rows, steps, C, H, W]
    # interpolation.png/.gif, or -2, -3...: an earlier walk is never replaced
    name = unused_path(out / "interpolation.png", also=(".gif",))
    png = save_grid(video.flatten(0, 1), name, nrow=steps)
    pictures = [grid_image(f, nrow=min(rows, 8)) for f in frames]
    gif = save_gif(pictures + pictures[-2:0:-1], name.with_suffix(".gif"))  # there and back
    return png, gif


def _endpoint_labels(run: LoadedRun, rows: int, t: Tensor,
                     ) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """The labels of each row's two endpoints and of every frame [steps, rows(, K)]: for a
    conditional model that takes soft labels, the one-hot vectors of two classes and the
    mixtures between them; for the others one class per row (None for unconditional)."""
    if not run.conditional:
        return None, None, None
    k, device = run.info.num_classes, run.device
    if run.method.soft_labels:
        eye = torch.eye(k, device=device)
        y0, y1 = eye[torch.arange(rows) % k], eye[(torch.arange(rows) + 1) % k]
        return y0, y1, lerp(y0.unsqueeze(0), y1.unsqueeze(0), t)
    y = torch.arange(rows, device=device) % k
    return y, y, y.expand(len(t), rows)

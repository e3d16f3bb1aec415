"""Pixel metrics of image-to-image outputs against their targets: L1, PSNR, SSIM, a sharpness
ratio, and the bicubic upscaling that super-resolution is measured against.

Every function takes uint8 images or float images in [-1, 1] (NCHW) and measures them on the
[0, 1] scale (uint8 / 255, or (x + 1) / 2), so the data range of PSNR and SSIM is 1 and an L1
of 0.1 means a tenth of the full pixel range. Outputs are clamped to [-1, 1] first.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from genlab.errors import EvalError

SSIM_WINDOW = 11  # Wang et al. 2004: an 11x11 Gaussian window, sigma 1.5
PSNR_CAP = 100.0  # dB for identical images (MSE 0), so means stay finite
SCALE_NOTE = ("L1, PSNR and SSIM on images scaled to [0, 1] (uint8 / 255), data range 1; "
              "PSNR is the mean of per-image PSNRs; SSIM uses an 11x11 Gaussian window "
              "(sigma 1.5, valid region)")


def unit(images: Tensor) -> Tensor:
    """float32 images in [0, 1] on the CPU from uint8 or [-1, 1] float images."""
    if images.ndim != 4:
        raise EvalError(f"images must be [N, C, H, W], got shape {tuple(images.shape)}")
    x = images.detach().cpu()
    if x.dtype == torch.uint8:
        return x.float() / 255.0
    return (x.float().clamp(-1, 1) + 1) / 2


def _pair(output: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    a, b = unit(output), unit(target)
    if a.shape != b.shape:
        raise EvalError(f"outputs {list(a.shape)} and targets {list(b.shape)} differ: translate "
                        "to the targets' channels and size")
    if len(a) == 0:
        raise EvalError("no images to measure: use a test split with at least one image")
    return a, b


def l1(output: Tensor, target: Tensor) -> float:
    """Mean absolute pixel difference on the [0, 1] scale."""
    a, b = _pair(output, target)
    return float((a - b).abs().mean())


def psnr(output: Tensor, target: Tensor) -> float:
    """Mean over images of 10 log10(1 / MSE) in dB (data range 1); identical images count as
    PSNR_CAP dB."""
    a, b = _pair(output, target)
    mse = (a - b).double().pow(2).flatten(1).mean(1)
    per_image = torch.where(mse > 0, -10 * torch.log10(mse.clamp(min=1e-300)),
                            torch.full_like(mse, PSNR_CAP))
    return float(per_image.clamp(max=PSNR_CAP).mean())


def ssim(output: Tensor, target: Tensor) -> float:
    """Mean SSIM (Wang et al. 2004; kornia's) over images, channels and valid window
    positions. Images smaller than the window use the largest odd window that fits."""
    from kornia.metrics import ssim as kornia_ssim

    a, b = _pair(output, target)
    side = min(a.shape[-2:])
    window = min(SSIM_WINDOW, side if side % 2 else side - 1)
    if window < 3:
        raise EvalError(f"SSIM needs images of at least 3 pixels, got {side}")
    return float(kornia_ssim(a, b, window, max_val=1.0, padding="valid").mean())


def laplacian_energy(images: Tensor) -> Tensor:
    """Per-image variance of the Laplacian of the grey image [N]: high-frequency energy (the
    usual focus measure; a blurred image has less)."""
    from kornia.filters import laplacian

    x = unit(images).mean(1, keepdim=True)
    return laplacian(x, 3, border_type="reflect", normalized=False).flatten(1).var(1)


def sharpness_ratio(output: Tensor, target: Tensor) -> float:
    """Laplacian energy of the outputs over that of their targets (means over images): below
    1, outputs are blurrier than the real images; near 1, as sharp."""
    a, b = _pair(output, target)
    real = float(laplacian_energy(b).mean())
    return float(laplacian_energy(a).mean()) / real if real > 0 else math.nan


def bicubic(inputs: Tensor, size: int) -> Tensor:
    """Bicubic upscaling of low-resolution images to size x size, as [-1, 1] floats: the
    baseline every super-resolution model must beat."""
    x = unit(inputs) * 2 - 1
    return F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False).clamp(-1, 1)


def pixel_metrics(output: Tensor, target: Tensor) -> dict[str, float]:
    """L1, PSNR, SSIM and the sharpness ratio of outputs against their targets."""
    return {"l1": l1(output, target), "psnr": psnr(output, target),
            "ssim": ssim(output, target), "sharpness": sharpness_ratio(output, target)}

"""Text to image with CLIP + VQGAN (VQGAN-CLIP: Crowson 2021; defaults from nerdyrodent's
`generate.py`). Nothing is trained: a VQGAN latent is optimised so that random augmented crops
of its decoded image embed close to the prompts' CLIP text embeddings.

Each step: quantise z straight-through (nearest code forward, identity gradient back), decode,
cut `cutouts` random crops, augment them (kornia), embed them with CLIP, take the weighted
spherical distance to every prompt, step Adam on z, clamp z to the codebook's range.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.errors import ConfigError, RunError
from genlab.generate.clip_models import image_embeddings, text_embeddings
from genlab.losses import spherical_distance
from genlab.methods.clip import CLIP
from genlab.nets.vqgan import VQGAN, VectorQuantizer

Prompt = tuple[str, float]
NOISE = 0.1  # largest std of the per-cutout Gaussian noise, in [0, 1] pixel units (nerdyrodent)
MAX_FRAMES = 50  # GIF frames kept by default
CANVASES = {"black": -1.0, "grey": 0.0, "white": 1.0}  # plain starts, pixel value in [-1, 1]


def parse_prompts(text: str) -> list[Prompt]:
    """`"a red circle:1|a square:-0.5"` -> [("a red circle", 1.0), ("a square", -0.5)]. The
    part after the last colon is the weight (default 1); a negative weight pushes away."""
    prompts = []
    for part in text.split("|"):
        words, sep, weight = part.rpartition(":")
        if not sep:
            words, weight = part, "1"
        try:
            value = float(weight)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ConfigError(f"bad weight {weight.strip()!r} in prompt {part.strip()!r}: write "
                              "TEXT or TEXT:WEIGHT, e.g. 'a red circle:1|a square:-0.5'")
        if not words.strip():
            raise ConfigError(f"empty prompt in {text!r}: write TEXT or TEXT:WEIGHT separated "
                              "by |, e.g. 'a red circle:1|a square:-0.5'")
        prompts.append((words.strip(), value))
    return prompts


def load_vqgan(source: str | Path, device: str | torch.device = "cpu") -> VQGAN:
    """The VQGAN net, frozen in eval mode, from a genlab vqgan run folder or a taming-
    transformers checkpoint file (.ckpt or .safetensors)."""
    path = Path(source).expanduser()
    if path.is_dir():
        from genlab.methods.vqgan import VQGAN as VQGANMethod
        from genlab.runs.load import load_run

        run = load_run(path, device=str(device))
        if not isinstance(run.method, VQGANMethod):
            raise ConfigError(f"{path} is a {run.cfg.method.name} run, not a vqgan run: pass a "
                              "run trained with configs/vqgan-shapes.yaml or a taming checkpoint")
        net = run.method.ae
    elif path.is_file():
        if path.suffix not in (".ckpt", ".safetensors"):
            raise ConfigError(f"{path} is not a VQGAN checkpoint: pass a vqgan run folder or a "
                              "taming-transformers .ckpt/.safetensors file")
        net = VQGAN.from_taming(path)
    else:
        raise RunError(f"VQGAN {source} not found: pass a vqgan run folder or a taming-"
                       "transformers .ckpt/.safetensors file")
    return net.to(device).eval().requires_grad_(False)


def quantize_straight_through(quantizer: VectorQuantizer, z: Tensor) -> Tensor:
    """The nearest codes in the forward pass, the identity in the backward pass, so the
    gradient reaches the continuous z although the image only ever sees codebook vectors."""
    z_q = quantizer.embed(quantizer.nearest(z)).to(z.dtype)
    return z + (z_q - z).detach()


def codebook_range(quantizer: VectorQuantizer) -> tuple[Tensor, Tensor]:
    """Per-channel (min, max) of the codebook, shaped [1, embed_dim, 1, 1] to clamp z."""
    codes = quantizer.embedding.weight.detach()
    return codes.min(0).values.view(1, -1, 1, 1), codes.max(0).values.view(1, -1, 1, 1)


def augmentations() -> nn.Module:
    """Cheap kornia augmentations: without them CLIP's gradient makes adversarial pixel
    patterns rather than the prompt's content. Milder than nerdyrodent's (perspective 0.7,
    rotation 15 degrees), made for 224-pixel photos: on 32-pixel shapes a strong perspective
    turns a square into a triangle, and the reader found the asked shape in 3 of 12 images
    with them against 8 of 12 with these (12 prompts, 100 steps, random start)."""
    import kornia.augmentation as K

    return nn.Sequential(
        K.RandomAffine(degrees=10, translate=0.1, scale=(0.9, 1.1), p=0.7, padding_mode="border"),
        K.RandomPerspective(distortion_scale=0.2, p=0.5))


def make_cutouts(image: Tensor, n: int, cut_size: int, cut_pow: float = 1.0,
                 augment: nn.Module | None = None) -> Tensor:
    """n random square crops of image [1, C, H, W] in [-1, 1], resized to cut_size and
    augmented: [n, 3, cut_size, cut_size]. Crop sides are uniform**cut_pow between
    min(side, cut_size) and the image side (cut_pow > 1 favours small crops)."""
    side_y, side_x = image.shape[-2:]
    largest = min(side_x, side_y)
    smallest = min(largest, cut_size)
    crops = []
    for _ in range(n):
        size = int(float(torch.rand([])) ** cut_pow * (largest - smallest) + smallest)
        x = int(torch.randint(0, side_x - size + 1, ()))
        y = int(torch.randint(0, side_y - size + 1, ()))
        crop = image[:, :, y:y + size, x:x + size]
        crops.append(F.interpolate(crop, size=(cut_size, cut_size), mode="bilinear",
                                   align_corners=False, antialias=size > cut_size))
    batch = (torch.cat(crops).expand(-1, 3, -1, -1) + 1) / 2  # kornia's colour ops want RGB [0, 1]
    if augment is not None:
        batch = augment(batch)
    noise = batch.new_empty(n, 1, 1, 1).uniform_(0, NOISE)
    return (batch + noise * torch.randn_like(batch)) * 2 - 1


def _clamp_straight_through(image: Tensor) -> Tensor:
    """Clamp to [-1, 1] but keep the gradient of out-of-range pixels, so they can come back."""
    return image + (image.clamp(-1, 1) - image).detach()


def _sides(vqgan: VQGAN, size: int | tuple[int, int] | None,
           init_image: Tensor | None) -> tuple[int, int]:
    if size is None:
        side = (init_image.shape[-2:] if init_image is not None
                else (vqgan.resolution, vqgan.resolution))
        height, width = (s // vqgan.factor * vqgan.factor for s in side)
    else:
        height, width = (size, size) if isinstance(size, int) else size
    for side in (height, width):
        if side < vqgan.factor or side % vqgan.factor:
            raise ConfigError(f"image side {side} is not a positive multiple of the VQGAN's "
                              f"factor {vqgan.factor}: pick e.g. "
                              f"{max(1, side // vqgan.factor) * vqgan.factor}")
    return height, width


def initial_latent(vqgan: VQGAN, height: int, width: int, init_image: Tensor | None = None,
                   generator: torch.Generator | None = None) -> Tensor:
    """z [1, embed_dim, h, w]: the encoded init image (float [-1, 1], resized to height x width),
    or random codebook entries."""
    device = vqgan.quantize.embedding.weight.device
    if init_image is not None:
        image = init_image.to(device).float().reshape(1, *init_image.shape[-3:])
        image = F.interpolate(image, size=(height, width), mode="bicubic", antialias=True,
                              align_corners=False).clamp(-1, 1)
        with torch.no_grad():
            return vqgan.encode_continuous(image)
    shape = (1, height // vqgan.factor, width // vqgan.factor)
    codes = torch.randint(vqgan.quantize.n_embed, shape, generator=generator)
    return vqgan.quantize.embed(codes.to(device)).detach()


def blank_canvas(vqgan: VQGAN, colour: str, size: int | None = None) -> Tensor:
    """A plain image [1, C, side, side] in [-1, 1] to start from (`--init black`): with
    `init_weight` it keeps the background plain, so only what the prompt needs is drawn."""
    if colour not in CANVASES:
        raise ConfigError(f"unknown canvas {colour!r}: use {', '.join(CANVASES)}")
    side = size or vqgan.resolution
    channels = vqgan.encoder.conv_in.in_channels
    return torch.full((1, channels, side, side), CANVASES[colour])


def _clip_side(clip: CLIP) -> int:
    return int(getattr(clip.nets["clip"], "image_size", 224))


def text_to_image(clip: CLIP, vqgan: VQGAN, prompts: list[Prompt], *, steps: int = 500,
                  lr: float = 0.1, cutouts: int = 32, cut_pow: float = 1.0,
                  size: int | tuple[int, int] | None = None, init_image: Tensor | None = None,
                  init_weight: float = 0.0, seed: int = 0, frame_every: int | None = None,
                  callback: Callable[[int, dict[str, float]], None] | None = None,
                  ) -> tuple[Tensor, list[Tensor]]:
    """Optimise a VQGAN latent toward the weighted prompts. Returns the final image [C, H, W]
    in [-1, 1] and GIF frames (the image after 0, k, 2k, ... and all `steps` steps, on the CPU).
    `callback(step, {"loss": ...})` is called after each step with the loss it minimised.
    Same seed, same device: the same image (torch's RNG is seeded inside a fork, so the
    caller's random state is left alone)."""
    if steps < 1 or cutouts < 1 or not prompts:
        raise ConfigError("text2img needs steps >= 1, cutouts >= 1 and at least one prompt")
    height, width = _sides(vqgan, size, init_image)
    device = vqgan.quantize.embedding.weight.device
    texts = text_embeddings(clip, [t for t, _ in prompts]).to(device)  # [P, D]
    weights = torch.tensor([w for _, w in prompts], device=device)
    cut_size = min(_clip_side(clip), height, width)  # CLIPNet.preprocess resizes the rest
    every = frame_every or max(1, steps // MAX_FRAMES)
    forked = [device.index or 0] if device.type == "cuda" else []  # fork_rng wants indices
    with torch.random.fork_rng(devices=forked):
        torch.manual_seed(seed)  # kornia draws from torch's global RNG
        lo, hi = codebook_range(vqgan.quantize)
        z = initial_latent(vqgan, height, width, init_image).clamp(lo, hi).requires_grad_()
        start = z.detach().clone()
        optimizer = torch.optim.Adam([z], lr=lr)
        augment = augmentations().to(device)
        frames = []
        for step in range(steps):
            image = _clamp_straight_through(vqgan.decode(quantize_straight_through(
                vqgan.quantize, z)))
            if step % every == 0:
                frames.append(image.detach()[0].clamp(-1, 1).cpu())
            crops = make_cutouts(image, cutouts, cut_size, cut_pow, augment)
            embeds = image_embeddings(clip, crops)  # [N, D]
            dists = spherical_distance(embeds[:, None], texts[None])  # [N, P]
            loss = (dists.mean(0) * weights).sum()
            if init_weight:  # Crowson's anchor: near the start, change what the text needs
                loss = loss + init_weight / 2 * F.mse_loss(z, start)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():  # stay where the decoder was trained
                z.clamp_(lo, hi)
            if callback is not None:
                callback(step + 1, {"loss": loss.detach().item()})
        with torch.no_grad():
            final = vqgan.decode(vqgan.quantize.embed(vqgan.quantize.nearest(z))).clamp(-1, 1)
    frames.append(final[0].cpu())
    return final[0], frames


@torch.no_grad()
def prompt_similarities(clip: CLIP, image: Tensor, prompts: list[Prompt]) -> list[float]:
    """Cosine similarity between the whole image's CLIP embedding and each prompt's text."""
    texts = text_embeddings(clip, [t for t, _ in prompts])
    embed = image_embeddings(clip, image.reshape(1, *image.shape[-3:]).to(texts.device))
    return (embed @ texts.T)[0].tolist()

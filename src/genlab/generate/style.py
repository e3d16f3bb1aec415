"""StyleGAN's generation figures on a style-based generator: style mixing (the paper's Figure 3:
the coarse, middle or fine styles of one latent taken from a second one) and noise resampling
(Figure 4: the same styles with fresh per-layer noise, and the per-pixel standard deviation
that noise causes). `style_mixing_grid`, `noise_grid` and `mix_styles` work on a method and
return tensors (the bench measures them); `style_figures` writes both PNGs of a loaded run.

A method qualifies by what it can do, not by its name: per-layer styles (`to_ws`, `num_ws`)
split into named groups of layers (`style_groups`), and a `decode` that takes styles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from genlab.errors import ConfigError, GenlabError
from genlab.generate.paths import check_folder_out, check_grid_count, unused_path
from genlab.images import grid_image, save_grid, save_image
from genlab.methods.base import Method
from genlab.methods.registry import method_class
from genlab.methods.stylegan import StyleOptions
from genlab.runs.folder import read_run
from genlab.runs.load import LoadedRun

GROUPS_MAX = 3  # coarse, middle, fine: the blocks of a style-mixing grid
PADDING = 2  # pixels between grid cells (genlab.images.grid_image's)
MIX_BATCH = 64  # mixed images decoded at once: memory holds a batch, not the grid
WRITES = "style-mixing.png and noise.png"


class StyleBased(Protocol):
    """What style mixing and noise resampling need of a method (StyleGAN has it)."""

    name: str
    num_ws: int
    num_classes: int
    device: torch.device

    def style_groups(self) -> dict[str, tuple[int, int]]: ...
    def to_ws(self, z: Tensor, labels: Tensor | None = None, psi: float = 1.0) -> Tensor: ...
    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> Tensor: ...
    def decode(self, z: Tensor, labels: Tensor | None = None, options: Any = None) -> Tensor: ...


def is_style_based(method: object) -> bool:
    """Whether a method (class or instance) has per-layer styles to mix and resample noise in."""
    return all(callable(getattr(method, hook, None)) for hook in ("style_groups", "to_ws"))


def _refusal(what: str) -> ConfigError:
    return ConfigError(f"{what}, which has no per-layer styles: style mixing and noise "
                       "resampling need a StyleGAN run (e.g. genlab train stylegan-fashion)")


def style_method(method: Method) -> StyleBased:
    """The method as a style-based generator, or a one-line ConfigError."""
    if not is_style_based(method):
        raise _refusal(f"this is a {method.name} model")
    return cast(StyleBased, method)


def refuse_unstyled(path: str | Path) -> None:
    """`genlab style` on a run without styles: one line before the model loads."""
    try:
        _, cfg, _, _ = read_run(path)
    except GenlabError:
        return  # not a run folder: loading it says so
    if not is_style_based(method_class(cfg.method.name)):
        raise _refusal(f"{path} is a {cfg.method.name} run")


def check_style(out_dir: str | Path, *, rows: int, cols: int, noise_samples: int,
                truncation: float) -> Path:
    """The options of `style_figures` and the folder it writes to, checked before any work."""
    if rows < 1 or cols < 1:
        raise ConfigError(f"--rows {rows} --cols {cols}: pass at least 1 of each")
    if noise_samples < 2:
        raise ConfigError(f"--noise-samples {noise_samples}: pass at least 2 (noise.png shows "
                          "their per-pixel standard deviation)")
    if not 0 < truncation <= 1:
        raise ConfigError(f"--truncation {truncation}: pass psi in (0, 1]")
    check_grid_count((1 + GROUPS_MAX * rows) * (1 + cols), f"--rows {rows} x --cols {cols}")
    check_grid_count(rows * (noise_samples + 2), f"--rows {rows} x --noise-samples "
                     f"{noise_samples}")
    return check_folder_out(out_dir, writes=WRITES, suffixes=(".png",))


def mix_styles(method: Method, ws_a: Tensor, ws_b: Tensor, start: int, stop: int) -> Tensor:
    """Styles ws [N, num_ws, w_dim] of A with the layers [start, stop) taken from B."""
    num_ws = style_method(method).num_ws
    if ws_a.shape != ws_b.shape or ws_a.dim() != 3 or ws_a.shape[1] != num_ws:
        raise ValueError(f"mix_styles takes two ws of the same shape [N, {num_ws}, w_dim], "
                         f"got {tuple(ws_a.shape)} and {tuple(ws_b.shape)}")
    if not 0 <= start <= stop <= num_ws:
        raise ConfigError(f"style layers {start}:{stop}: pass 0 <= start <= stop <= {num_ws}")
    mixed = ws_a.clone()
    mixed[:, start:stop] = ws_b[:, start:stop]
    return mixed


def source_styles(method: StyleBased, n: int, generator: torch.Generator,
                  truncation: float) -> Tensor:
    """n latents' styles (truncated toward w_avg by psi); a conditional model gets its classes
    in turn (0, 1, 2... from the first latent)."""
    labels = None
    if method.num_classes:
        labels = torch.arange(n, device=method.device) % method.num_classes
    return method.to_ws(method.sample_latents(n, generator), labels, truncation)


@dataclass
class StyleMixing:
    """Images in [-1, 1] of a style-mixing grid: sources A (rows), sources B (columns), and for
    each group of layers (coarse, middle, fine) the images whose group's styles come from B and
    the other styles from A, [rows, cols, C, H, W]."""

    a: Tensor
    b: Tensor
    blocks: dict[str, Tensor]


@torch.no_grad()
def style_mixing_grid(method: Method, *, rows: int = 4, cols: int = 4, seed: int = 0,
                      truncation: float = 1.0, options: Any = None) -> StyleMixing:
    """StyleGAN's Figure 3 as tensors: `rows` latents A and `cols` latents B (drawn in that
    order from one generator seeded with `seed`), mixed group by group. Groups with no layer
    are left out. `options`: the decode options (None: the method's own, const noise)."""
    style = style_method(method)
    gen = torch.Generator(device=style.device).manual_seed(seed)
    ws_a = source_styles(style, rows, gen, truncation)
    ws_b = source_styles(style, cols, gen, truncation)
    pairs_a, pairs_b = ws_a.repeat_interleave(cols, 0), ws_b.repeat(rows, 1, 1)
    blocks = {}
    for name, (start, stop) in style.style_groups().items():
        if stop > start:
            mixed = mix_styles(method, pairs_a, pairs_b, start, stop)
            images = [style.decode(chunk, None, options) for chunk in mixed.split(MIX_BATCH)]
            blocks[name] = torch.cat(images).unflatten(0, (rows, cols))
    return StyleMixing(style.decode(ws_a, None, options), style.decode(ws_b, None, options),
                       blocks)


@dataclass
class NoiseResampling:
    """Images in [-1, 1] of a noise-resampling grid: each latent with the net's constant noise
    [rows, C, H, W], with fresh random noise [rows, samples, C, H, W], and the per-pixel
    standard deviation over the random ones (channel mean) [rows, H, W]."""

    const: Tensor
    random: Tensor
    std: Tensor


@torch.no_grad()
def noise_grid(method: Method, *, rows: int = 4, noise_samples: int = 6, seed: int = 0,
               truncation: float = 1.0) -> NoiseResampling:
    """StyleGAN's Figure 4 as tensors: `rows` latents (the A latents of `style_mixing_grid`
    with the same seed), each decoded with the constant noise and with `noise_samples`
    random noise draws (noise seeds 0, 1, 2...): the same styles, only the noise differs."""
    if noise_samples < 2:
        raise ConfigError(f"noise_samples {noise_samples}: pass at least 2")
    style = style_method(method)
    gen = torch.Generator(device=style.device).manual_seed(seed)
    ws = source_styles(style, rows, gen, truncation)
    const = style.decode(ws, None, StyleOptions(noise="const"))
    random = torch.stack([style.decode(ws, None, StyleOptions(noise="random", noise_seed=k))
                          for k in range(noise_samples)], dim=1)
    return NoiseResampling(const, random, random.std(dim=1).mean(dim=1))


def mixing_cells(mixing: StyleMixing) -> Tensor:
    """The cells of the Figure 3 layout, row by row, 1 + cols per row: a blank corner and the
    B sources, then for each block one row per A source: A, then its mixes with each B."""
    blank = torch.ones_like(mixing.b[:1])  # white, the grid's background
    lines = [torch.cat([blank, mixing.b])]
    for block in mixing.blocks.values():
        lines += [torch.cat([mixing.a[i:i + 1], block[i]]) for i in range(len(mixing.a))]
    return torch.cat(lines)


def noise_cells(noise: NoiseResampling) -> Tensor:
    """The cells of the Figure 4 layout, samples + 2 per row: const noise, the random draws,
    then the standard deviation as a grey image scaled to its own maximum (white)."""
    top = noise.std.flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1)
    grey = (noise.std / top * 2 - 1).unsqueeze(1).expand(-1, noise.const.shape[1], -1, -1)
    return torch.cat([noise.const.unsqueeze(1), noise.random, grey.unsqueeze(1)], 1).flatten(0, 1)


def save_mixing(mixing: StyleMixing, path: str | Path) -> Path:
    """The style-mixing grid as a PNG, with each block's group name in a left margin."""
    grid = grid_image(mixing_cells(mixing), nrow=1 + len(mixing.b), padding=PADDING)
    font = ImageFont.load_default()
    names = list(mixing.blocks)
    probe = ImageDraw.Draw(grid)
    margin = max([int(probe.textlength(n, font=font)) for n in names] + [0]) + 2 * PADDING
    page = Image.new(grid.mode, (grid.width + margin, grid.height), "white")
    page.paste(grid, (margin, 0))
    draw = ImageDraw.Draw(page)
    cell, rows = mixing.a.shape[-2] + PADDING, len(mixing.a)
    for g, name in enumerate(names):  # block g holds grid rows 1 + g*rows .. (g+1)*rows
        middle = PADDING + (1 + g * rows) * cell + rows * cell // 2
        top, bottom = draw.textbbox((0, 0), name, font=font)[1::2]
        draw.text((PADDING, middle - (top + bottom) // 2), name, fill="black", font=font)
    array = torch.from_numpy(np.asarray(page).copy())
    return save_image(array.unsqueeze(0) if array.dim() == 2 else array.permute(2, 0, 1), path)


def save_noise(noise: NoiseResampling, path: str | Path) -> Path:
    return save_grid(noise_cells(noise), path, nrow=noise.random.shape[1] + 2)


@dataclass
class StyleFigures:
    mixing: Path
    noise: Path
    groups: list[str]  # the blocks of the mixing grid, top to bottom


def style_figures(run: LoadedRun, out_dir: str | Path, *, rows: int = 4, cols: int = 4,
                  seed: int = 0, truncation: float = 1.0,
                  noise_samples: int = 6) -> StyleFigures:
    """Write `style-mixing.png` and `noise.png` (or `-2`, `-3`...: an earlier grid is never
    replaced) of a style-based run into out_dir."""
    out = check_style(out_dir, rows=rows, cols=cols, noise_samples=noise_samples,
                      truncation=truncation)
    method = run.method
    mixing = style_mixing_grid(method, rows=rows, cols=cols, seed=seed, truncation=truncation)
    noise = noise_grid(method, rows=rows, noise_samples=noise_samples, seed=seed,
                       truncation=truncation)
    return StyleFigures(save_mixing(mixing, unused_path(out / "style-mixing.png")),
                        save_noise(noise, unused_path(out / "noise.png")), list(mixing.blocks))

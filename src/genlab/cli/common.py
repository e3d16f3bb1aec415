"""What the command modules share: the consoles and the options several commands take."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

out = Console()
err = Console(stderr=True)


def say(text: str) -> None:
    """Print a line as it is: user text (paths, run names, prompts) can hold brackets that rich
    would take for markup and drop (`runs/x[red]` printed as `runs/x`), and a path broken over
    two lines cannot be pasted back."""
    out.print(text, highlight=False, markup=False, soft_wrap=True)

SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", "-s", help="override a config key: --set train.steps=500 (repeatable)")]
SeedOpt = Annotated[int, typer.Option(help="random seed: same seed, same result")]
# diffusion sampling (None: the run's own defaults)
SamplerOpt = Annotated[str | None, typer.Option(help="diffusion sampler: ddpm, ddim or dpm")]
StepsOpt = Annotated[int | None, typer.Option("--steps", help="diffusion sampling steps (at "
                                               "most the model's training timesteps)")]
EtaOpt = Annotated[float | None, typer.Option(help="DDIM eta (0: deterministic)")]
CfgOpt = Annotated[float | None, typer.Option("--cfg", help="classifier-free guidance scale")]
PrecisionOpt = Annotated[str | None, typer.Option(
    help="diffusion UNet arithmetic: auto (bf16 where the CPU or GPU is fast at it, as in "
    "training), fp32 or bf16")]
GuideOpt = Annotated[str | None, typer.Option(help="loss guidance, e.g. judge:CLASS")]
GuideScaleOpt = Annotated[float | None, typer.Option(help="strength of --guide")]
ClipOpt = Annotated[Path | None, typer.Option(help="CLIP of --guide clip:PROMPT: a clip run "
                                              "folder or a local open_clip weights file")]
ClipModelOpt = Annotated[str | None, typer.Option(help="open_clip architecture of a --clip "
                                                  "weights file (default ViT-B-32-quickgelu)")]
TruncationOpt = Annotated[float, typer.Option(help="truncation psi in (0, 1]: latents pulled "
                                              "toward their mean (StyleGAN: in W)")]
LabelOpt = Annotated[str | None, typer.Option(help="class index or name (conditional models)")]

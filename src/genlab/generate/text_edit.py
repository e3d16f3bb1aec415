"""Text-driven editing: CLIP finds what one text names, and diffusion inpainting redraws it
toward another text (CLIP guidance), optionally with a class label of a conditional model.
Every pixel outside the found mask is kept exactly (RePaint composites in uint8)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from torch import Tensor

from genlab.engine.progress import progress_bar
from genlab.errors import ConfigError
from genlab.generate.defaults import CLIP_GUIDE_SCALE, EDIT_DILATE, EDIT_THRESHOLD
from genlab.generate.edit import check_repaint, inpaint
from genlab.generate.guidance import as_float_image, clip_guide
from genlab.generate.relevance import check_mask_options, relevance_map, relevance_mask
from genlab.methods.diffusion import DDPM
from genlab.runs.load import LoadedRun

if TYPE_CHECKING:
    from genlab.methods.clip import CLIP


@dataclass(frozen=True)
class TextEdit:
    image: Tensor  # uint8 [C, H, W]: the edited image
    relevance: Tensor  # float [H, W] in [0, 1]: where CLIP sees the --select text
    mask: Tensor  # bool [H, W]: the regenerated pixels
    label: str | int | None = None  # the class drawn (a conditional model's)


def label_in_prompt(run: LoadedRun, prompt: str) -> str:
    """The class a conditional model should draw: the class the prompt names, the longest
    name when one holds another ("a blue square" -> "blue square", not "square")."""
    def padded(text: str) -> str:  # whole words only: "square" is not in "squares"
        return f" {' '.join(text.lower().split())} "

    found = [name for name in run.info.class_names if padded(name) in padded(prompt)]
    if not found:
        raise ConfigError(f"the diffusion model is class-conditional and --prompt names none "
                          f"of its classes: pass --label (one of "
                          f"{', '.join(run.info.class_names)})")
    # "square" inside "blue square" is the same mention; two full names are two objects
    whole = [name for name in found
             if not any(name != other and padded(name) in padded(other) for other in found)]
    if len(whole) > 1:
        raise ConfigError(f"--prompt names several classes ({', '.join(whole)}): pass --label")
    return whole[0]


def text_edit(run: LoadedRun, clip: CLIP, image: Tensor, *, select: str, prompt: str,
              label: str | int | None = None, threshold: float = EDIT_THRESHOLD,
              dilate: int = EDIT_DILATE,
              patch: int | None = None, stride: int | None = None,
              guide_scale: float = CLIP_GUIDE_SCALE, steps: int = 100, jumps: int = 5,
              jump_length: int = 10, seed: int = 0, options: Any = None,
              progress: bool = False) -> TextEdit:
    """Replace what `select` names in `image` (uint8 [C, H, W]) by what `prompt` says.

    The window of the relevance map defaults to a quarter of the side (about one shapes
    object), moved by a quarter of itself: 13 x 13 positions at any image size. `options`:
    the run's sampling options to start from (e.g. its CFG scale); the CLIP guide is added.
    `progress`: bars on stderr for the windows CLIP sees, then RePaint's steps."""
    method = run.method
    if not isinstance(method, DDPM):
        raise ConfigError(f"--diffusion {run.path} is a {run.cfg.method.name} run: pass a ddpm "
                          "or ldm run")
    if label is None and run.conditional:
        label = label_in_prompt(run, prompt)
    if label is not None:
        run.label_index(label)  # a bad label fails now, not after the slow part
    known = as_float_image(image, run)  # also checks the image fits the model
    check_mask_options(threshold, dilate)
    check_repaint(run, steps=steps, jumps=jumps, jump_length=jump_length)
    patch = max(1, image.shape[-1] // 4) if patch is None else patch
    stride = max(1, patch // 4) if stride is None else stride
    with progress_bar(None, label="relevance", unit="windows", enabled=progress) as report:
        relevance = relevance_map(clip, image, select, patch=patch, stride=stride,
                                  on_progress=report)
    mask = relevance_mask(relevance, threshold, dilate)
    if not mask.any():
        raise ConfigError(f"CLIP finds nothing that {select!r} names at --threshold "
                          f"{threshold}: lower --threshold or reword --select")
    # CLIP judges the picture as it will be: the kept pixels are the input's, not the model's.
    keep = (~mask).to(known.device, known.dtype)
    distance = clip_guide(clip, prompt)
    options = replace(options or method.default_sampling(),
                      guide=lambda x0: distance(keep * known + (1 - keep) * x0),
                      guide_scale=guide_scale)
    edited = inpaint(run, image, mask, steps=steps, jumps=jumps, jump_length=jump_length,
                     seed=seed, label=label, options=options, progress=progress)
    return TextEdit(edited[0], relevance, mask, label)


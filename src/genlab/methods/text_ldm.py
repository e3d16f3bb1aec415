"""Text-conditioned latent diffusion (Rombach et al. 2022, the Stable Diffusion recipe at toy
scale): the LDM's UNet cross-attends to the per-token states of a frozen genlab CLIP's text
tower. Captions become the empty text "" with probability text_dropout in training, so one
model predicts with and without text and classifier-free guidance mixes the two:
eps = eps("") + s * (eps(prompt) - eps(""))."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from genlab.errors import ConfigError, DataError
from genlab.methods.base import DataInfo
from genlab.methods.clip import CLIPConfig, build_clip_model
from genlab.methods.ldm import LDM, LDMConfig
from genlab.nets.clip import CLIPTextTower, tokenize
from genlab.nets.unet import build_cond_unet, cond_unet_config
from genlab.sampling import SamplingOptions, cfg_eps

if TYPE_CHECKING:
    from genlab.data import ImageData

class TextLDMConfig(LDMConfig):
    name: Literal["text-ldm"] = Field("text-ldm", description="training method")  # type: ignore[assignment]
    clip_run: str | None = Field(None, description="run folder of the frozen genlab CLIP whose "
                                 "text tower conditions the UNet")
    clip: CLIPConfig | None = Field(None, description="that CLIP's config (filled from clip_run; "
                                    "kept so the run samples without the CLIP folder)")
    text_dropout: float = Field(0.1, ge=0, lt=1, description="probability of replacing a "
                                "caption with the empty text in training (for classifier-free "
                                "guidance)")
    heads: int = Field(4, ge=1, description="attention heads of the UNet's self- and "
                       "cross-attention (divides every width)")
    prompts: list[str] = Field(default_factory=list, description="captions the sample grids "
                               "show, one per column (empty: the first 8 distinct training "
                               "captions, filled in when training starts)")


GRID_PROMPTS = 8  # distinct training captions the sample grids show (one per column of 8)


@dataclass(frozen=True)
class TextSamplingOptions(SamplingOptions):
    prompts: tuple[str, ...] = ()  # captions given to the images in turn (empty: cfg.prompts)


def drop_captions(tokens: Tensor, empty: Tensor, p: float) -> Tensor:
    """Each row of `tokens` replaced by `empty` (the tokens of "") with probability p."""
    drop = torch.rand(len(tokens), device=tokens.device) < p
    return torch.where(drop[:, None], empty.to(tokens.device), tokens)


class TextLDM(LDM):
    name = "text-ldm"
    Config = TextLDMConfig
    pretrained_runs = {**LDM.pretrained_runs, "clip_run": "clip"}
    tiny = {**LDM.tiny, "heads": 2}
    tiny_pretrained = {**LDM.tiny_pretrained, "clip_run": {"name": "clip"}}

    def __init__(self, cfg: TextLDMConfig, info: DataInfo) -> None:
        if cfg.clip is None:
            raise ConfigError("method.clip_run is required: train a CLIP on the same kind of "
                              "captions first (configs/clip-shapes.yaml)")
        if cfg.conditional:
            raise ConfigError("text-ldm is conditioned on captions, not class labels: set "
                              "method.conditional=false")
        # The image tower is dropped at once, so build it at its smallest (one patch).
        model, self._tokenizer_kwargs = build_clip_model(cfg.clip, cfg.clip.patch_size)
        tower = CLIPTextTower(model)
        self._text_width = tower.width  # the UNet's cross-attention width, needed just below
        super().__init__(cfg, info)
        # The clip run's layout (net "clip" holding module "clip"), so its weights load as-is.
        self.nets["clip"] = nn.ModuleDict({"clip": tower}).requires_grad_(False)
        self._empty = self.tokenize([""])

    def unet_layout(self, **common: Any) -> dict[str, Any]:
        return cond_unet_config(**common, cross_attention_dim=self._text_width,
                                heads=self.cfg.heads)

    def build_unet(self, config: dict[str, Any]) -> Any:
        return build_cond_unet(config)

    # ----- text ----------------------------------------------------------------------------
    @property
    def text_tower(self) -> CLIPTextTower:
        return self.nets["clip"]["clip"]

    def tokenize(self, texts: list[str]) -> Tensor:
        return tokenize(texts, self.text_tower.context_length, self._tokenizer_kwargs)

    @torch.no_grad()
    def embed(self, texts: list[str]) -> Tensor:
        """Per-token text states [N, context_length, width]: what the UNet cross-attends to."""
        return self.text_tower(self.tokenize(texts).to(self.device))

    def prepare_data(self, data: ImageData) -> dict[str, Tensor]:
        """Caption tokens for the batches; the grid prompts default to the first distinct
        captions (set before the engine writes config.yaml, so the run keeps them)."""
        if not data.captions:
            raise DataError(f"{data.name} has no captions and text-ldm learns from image-"
                            "caption pairs: use shapes, a labelled dataset (captions from "
                            "data.caption_template) or folder:PATH with a captions.jsonl")
        if not self.cfg.prompts:
            self.cfg.prompts = list(dict.fromkeys(data.captions))[:GRID_PROMPTS]
        return {"text": self.tokenize(data.captions)}

    # ----- training and sampling -----------------------------------------------------------
    def condition(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        tokens = drop_captions(batch["text"], self._empty, self.cfg.text_dropout)
        with torch.no_grad():  # the text tower is frozen
            return {"encoder_hidden_states": self.text_tower(tokens)}

    def default_sampling(self) -> TextSamplingOptions:
        return TextSamplingOptions(**vars(super().default_sampling()))

    def eps_fn(self, labels: Tensor | None, opts: SamplingOptions) -> Any:
        """Noise predictor for the options' prompts (image i gets prompt i mod k; none: the
        run's grid prompts, or the empty text in a run that never saw data), CFG against ""."""
        if labels is not None:
            raise ConfigError("this model is conditioned on text: pass --prompt, not --label")
        prompts = getattr(opts, "prompts", ())
        cond = self.embed(list(prompts or self.cfg.prompts or [""]))
        null = self.embed([""])
        unet = self.eps_unet(opts.precision)

        def eps(x: Tensor, t: Tensor) -> Tensor:
            rows = torch.arange(len(x), device=x.device) % len(cond)
            return cfg_eps(unet, x, t, {"encoder_hidden_states": cond[rows]},
                           {"encoder_hidden_states": null.expand(len(x), -1, -1)}, opts.cfg)

        return eps

"""CLIP (Radford et al. 2021): an image and a text encoder trained so that matching
image-caption pairs have the most similar embeddings in a batch (symmetric InfoNCE with a
learnt temperature). Not generative: it gives zero-shot classification and retrieval
(`genlab clip-eval`) and later steers generators with text."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from genlab.config import Section
from genlab.errors import ConfigError, DataError
from genlab.losses import clip_loss
from genlab.methods.base import DataInfo, Method, StepContext
from genlab.nets.clip import (
    CLIPNet,
    build_clip,
    create_standard_clip,
    load_pretrained_clip,
    standard_config,
    tokenize,
)

if TYPE_CHECKING:
    from genlab.data import ImageData

class CLIPConfig(Section):
    name: Literal["clip"] = Field("clip", description="training method")
    model: str | None = Field(None, description="a standard open_clip architecture, e.g. "
                              "ViT-B-32-quickgelu (None: the small ViT described below)")
    pretrained: str | None = Field(None, description="local weights file for `model` (open_clip "
                                   "or OpenAI; never downloaded) to start from")
    freeze: bool = Field(False, description="train nothing: wrap the weights as they are (e.g. "
                         "pretrained ones, for evaluation and guidance)")
    embed_dim: int = Field(128, ge=1, description="size of the shared image-text embedding")
    vision_layers: int = Field(4, ge=1, description="ViT transformer layers")
    vision_width: int = Field(128, ge=8, description="ViT width")
    patch_size: int = Field(8, ge=1, description="ViT patch side in pixels (divides the image "
                            "side)")
    text_layers: int = Field(2, ge=1, description="text transformer layers")
    text_width: int = Field(128, ge=8, description="text transformer width")
    heads: int = Field(4, ge=1, description="attention heads in both towers")
    context_length: int = Field(16, ge=4, description="tokens per caption, start and end "
                                "included (longer captions are cut)")
    lr: float = Field(2e-3, gt=0, description="AdamW peak learning rate")
    weight_decay: float = Field(0.1, ge=0, description="AdamW weight decay (not on gains, "
                                "biases or the logit scale)")
    betas: tuple[float, float] = Field((0.9, 0.98), description="AdamW betas (CLIP's)")
    warmup: int = Field(100, ge=0, description="steps of linear learning-rate warm-up")
    cosine_steps: int = Field(0, ge=0, description="steps after which a cosine decay reaches "
                              "5% of lr, held after (0: constant lr; set it to train.steps)")


MAX_LOGIT_SCALE = math.log(100)  # CLIP clips the temperature at 100
MIN_LR_RATIO = 0.05  # where the cosine decay ends


def build_clip_model(cfg: CLIPConfig, image_size: int) -> tuple[nn.Module, dict[str, Any]]:
    """The open_clip model a clip config describes (random weights) and the options of its
    tokenizer (standard models may clean text first)."""
    if cfg.model:
        kwargs = standard_config(cfg.model)["text_cfg"].get("tokenizer_kwargs") or {}
        return create_standard_clip(cfg.model), kwargs
    return build_clip(embed_dim=cfg.embed_dim, image_size=image_size,
                      vision_layers=cfg.vision_layers, vision_width=cfg.vision_width,
                      patch_size=cfg.patch_size, text_layers=cfg.text_layers,
                      text_width=cfg.text_width, context_length=cfg.context_length,
                      heads=cfg.heads), {}


class CLIP(Method):
    name = "clip"
    Config = CLIPConfig
    tiny = {"embed_dim": 16, "vision_layers": 1, "vision_width": 32, "patch_size": 4,
            "text_layers": 1, "text_width": 32, "heads": 2, "warmup": 2}
    generative = False
    soft_labels = False
    truncatable = False

    def __init__(self, cfg: CLIPConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        if cfg.pretrained and not cfg.model:
            raise ConfigError("method.pretrained needs method.model naming its architecture, "
                              "e.g. ViT-B-32-quickgelu for OpenAI's ViT-B/32 weights")
        model, self._tokenizer_kwargs = build_clip_model(cfg, info.image_size)
        self.nets["clip"] = CLIPNet(model)
        if cfg.freeze:
            self.nets["clip"].requires_grad_(False)
            return
        # CLIP's recipe: no weight decay on gains, biases and the temperature.
        decay, no_decay = [], []
        for key, param in self.nets["clip"].named_parameters():
            plain = param.ndim < 2 or "logit_scale" in key or key.endswith("bias")
            (no_decay if plain else decay).append(param)
        groups = [{"params": decay, "weight_decay": cfg.weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        # fused: one kernel for all tensors; the 49,408-token embedding makes the step costly.
        self.optimizers = {"clip": torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas,
                                                     eps=1e-6, fused=True)}

    def load_initial_weights(self) -> None:
        if self.cfg.pretrained:
            loaded = load_pretrained_clip(self.cfg.pretrained, self.cfg.model)
            self.nets["clip"].model.load_state_dict(loaded.state_dict(), strict=True)

    # ----- text ----------------------------------------------------------------------------
    @property
    def context_length(self) -> int:
        return self.nets["clip"].context_length

    def tokenize(self, texts: list[str]) -> Tensor:
        """CLIP tokens of texts, int64 [N, context_length], on the CPU."""
        return tokenize(texts, self.context_length, self._tokenizer_kwargs)

    def prepare_data(self, data: ImageData) -> dict[str, Tensor]:
        """All captions tokenised once; the batcher slices them into batch["text"]."""
        if not data.captions:
            raise DataError(f"{data.name} has no captions and CLIP learns from image-caption "
                            "pairs: use shapes, a labelled dataset (captions from "
                            "data.caption_template) or folder:PATH with a captions.jsonl")
        return {"text": self.tokenize(data.captions)}

    @torch.no_grad()
    def embed_images(self, images: Tensor) -> Tensor:
        """Unit-length embeddings of images in [-1, 1]."""
        return self.nets["clip"].encode_image(images.to(self.device)).float()

    @torch.no_grad()
    def embed_texts(self, texts: list[str]) -> Tensor:
        """Unit-length embeddings of texts."""
        return self.nets["clip"].encode_text(self.tokenize(texts).to(self.device)).float()

    # ----- training ------------------------------------------------------------------------
    def _schedule(self) -> None:
        """Linear warm-up, then an optional cosine decay; counted by the optimiser's own step,
        so it is exact on resume."""
        cfg, opt = self.cfg, self.optimizers["clip"]
        first = opt.param_groups[0]["params"][0]
        done = int(opt.state[first]["step"]) if "step" in opt.state.get(first, {}) else 0
        factor = min(1.0, (done + 1) / max(cfg.warmup, 1))
        if cfg.cosine_steps and done >= cfg.warmup:
            progress = min(1.0, (done - cfg.warmup) / max(cfg.cosine_steps - cfg.warmup, 1))
            factor = MIN_LR_RATIO + (1 - MIN_LR_RATIO) * 0.5 * (1 + math.cos(math.pi * progress))
        for group in opt.param_groups:
            group["lr"] = cfg.lr * factor

    def train_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        net = self.nets["clip"]
        images, texts, scale = net(batch["image"], batch["text"])
        loss = clip_loss(images, texts, scale)
        if self.optimizers:
            self._schedule()
            ctx.update("clip", loss)
            with torch.no_grad():
                net.model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        with torch.no_grad():  # in-batch image->text top-1: a cheap progress signal
            sims = images.float() @ texts.float().T
            hits = sims.argmax(1) == torch.arange(len(sims), device=sims.device)
        return {"loss": loss.detach(), "logit_scale": scale.detach().float(),
                "batch_acc": hits.float().mean()}

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        raise ConfigError("a clip run makes no images: evaluate it with genlab clip-eval")

    def decode(self, z: Tensor, labels: Tensor | None = None, options: None = None) -> Tensor:
        raise ConfigError("a clip run makes no images: evaluate it with genlab clip-eval")

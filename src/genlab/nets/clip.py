"""CLIP (Radford et al. 2021) through open_clip: a small ViT + text transformer built from a few
numbers, the standard architectures (random or from a local weights file), the BPE tokenizer
that open_clip ships, and `CLIPNet`, which takes genlab images ([-1, 1], any channels or side).

Nothing here downloads: pretrained names and hf-hub are never used, only local files.
"""

from __future__ import annotations

import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.errors import CheckpointError, ConfigError

VOCAB_SIZE = 49408  # CLIP's BPE vocabulary (open_clip's bpe_simple_vocab_16e6)
# Keys of an open_clip text config that need a tokenizer or text model from the hub.
_HUB_TEXT_KEYS = ("hf_model_name", "hf_tokenizer_name", "tokenizer_mode")


def build_clip(*, embed_dim: int = 128, image_size: int = 32, vision_layers: int = 4,
               vision_width: int = 128, patch_size: int = 4, text_layers: int = 4,
               text_width: int = 128, context_length: int = 16, heads: int = 4) -> nn.Module:
    """A small open_clip `CLIP`: ViT image tower and causal text transformer (CLIP vocabulary),
    both with `heads` attention heads, projected to embed_dim."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    if image_size % patch_size or vision_width % heads or text_width % heads:
        raise ConfigError(f"CLIP: image size {image_size} must be a multiple of patch_size "
                          f"{patch_size}, and the widths multiples of heads {heads}")
    vision = CLIPVisionCfg(layers=vision_layers, width=vision_width, patch_size=patch_size,
                           image_size=image_size, head_width=vision_width // heads)
    text = CLIPTextCfg(context_length=context_length, vocab_size=VOCAB_SIZE, width=text_width,
                       heads=heads, layers=text_layers)
    return CLIP(embed_dim, vision, text)


def standard_config(name: str) -> dict[str, Any]:
    """open_clip's built-in config of a standard architecture that works offline."""
    import open_clip

    cfg = open_clip.get_model_config(name)
    if cfg is None:
        close = [m for m in open_clip.list_models() if m.split("-")[:2] == name.split("-")[:2]]
        raise ConfigError(f"unknown open_clip architecture {name!r}: use a name from "
                          f"open_clip.list_models(), e.g. {', '.join(close[:4]) or 'ViT-B-32'}")
    if any(cfg.get("text_cfg", {}).get(key) for key in _HUB_TEXT_KEYS):
        raise ConfigError(f"open_clip {name} needs a Hugging Face text model or tokenizer: pick "
                          "a model with CLIP's own text transformer (e.g. ViT-B-32-quickgelu)")
    return cfg


def create_standard_clip(name: str) -> nn.Module:
    """A randomly initialised standard open_clip model (weights come later, from a file)."""
    import open_clip

    standard_config(name)
    return open_clip.create_model(name, pretrained=None)


def _is_torchscript(path: Path) -> bool:
    """OpenAI's original .pt releases are TorchScript archives (code + constants in a zip)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:  # the test torch.load applies: TOP/constants.pkl
        return any(n.count("/") == 1 and n.endswith("/constants.pkl")
                   for n in archive.namelist())


def load_pretrained_clip(file: str | Path, model_name: str) -> nn.Module:
    """A standard open_clip model with the weights of a local file (safetensors or a state
    dict read with weights_only=True), in eval mode. OpenAI weights need the -quickgelu name."""
    import open_clip

    path = Path(file).expanduser().resolve()  # absolute: never mistaken for a pretrained tag
    if not path.is_file():
        raise CheckpointError(f"CLIP weights file {path} not found: pass a local .safetensors, "
                              ".bin or .pt file of open_clip/OpenAI weights")
    standard_config(model_name)
    if _is_torchscript(path):  # loading it would run code from the file: genlab never does
        raise CheckpointError(f"{path} is a TorchScript archive (OpenAI's original .pt): use "
                              "the same weights as a state dict (open_clip's .safetensors or "
                              ".bin release of the -quickgelu model) instead")
    try:
        model, _, _ = open_clip.create_model_and_transforms(model_name, pretrained=str(path),
                                                            weights_only=True)
    except Exception as err:  # corrupt files raise many types (pickle, zip, safetensors...)
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"cannot load {path} as open_clip {model_name} ({first}): check "
                              "the file and that the model name matches its architecture "
                              "(OpenAI weights need a -quickgelu name)") from None
    return model.eval()


@lru_cache(maxsize=4)
def _tokenizer(context_length: int, kwargs: tuple[tuple[str, Any], ...] = ()) -> Any:
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer(context_length=context_length, **dict(kwargs))


def tokenize(texts: list[str], context_length: int,
             tokenizer_kwargs: dict[str, Any] | None = None) -> Tensor:
    """CLIP BPE tokens, int64 [N, context_length] (longer texts are cut, keeping the end
    token, with a warning). Each distinct text is tokenised once: datasets repeat captions."""
    kwargs = tuple(sorted((tokenizer_kwargs or {}).items()))
    unique = sorted(set(texts))
    if not unique:
        return torch.zeros(0, context_length, dtype=torch.int64)
    index = {text: i for i, text in enumerate(unique)}
    # one token more than the context: a text that fills it has lost words when cut back
    tokenizer = _tokenizer(context_length + 1, kwargs)
    tokens = tokenizer(unique).to(torch.int64)
    longer = tokens[:, -1] != 0
    tokens = tokens[:, :context_length]
    tokens[longer, -1] = tokenizer.eot_token_id  # what the tokenizer's own cut does
    if longer.any():
        import warnings

        example = unique[int(longer.nonzero()[0])]
        warnings.warn(f"{int(longer.sum())} text(s) are longer than the model's "
                      f"{context_length}-token context and lose their end, e.g. {example!r}",
                      stacklevel=2)
    return tokens[torch.tensor([index[t] for t in texts], dtype=torch.int64)]


class CLIPNet(nn.Module):
    """An open_clip CLIP that takes genlab images: grey images become RGB, images are resized
    to the model's side and normalised with CLIP's mean and std. Embeddings are unit length."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        size = getattr(model.visual, "image_size", 224)
        self.image_size = int(size[0] if isinstance(size, tuple | list) else size)
        self.context_length = int(model.context_length)
        pre = getattr(model.visual, "preprocess_cfg", {}) or {}
        from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

        mean = pre.get("mean", OPENAI_DATASET_MEAN)
        std = pre.get("std", OPENAI_DATASET_STD)
        # Constants, not weights: kept out of checkpoints.
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, images: Tensor) -> Tensor:
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        if images.shape[-1] != self.image_size or images.shape[-2] != self.image_size:
            images = F.interpolate(images, size=(self.image_size, self.image_size),
                                   mode="bicubic", align_corners=False, antialias=True)
        return ((images + 1) / 2 - self.mean) / self.std

    def encode_image(self, images: Tensor) -> Tensor:
        return self.model.encode_image(self.preprocess(images), normalize=True)

    def encode_text(self, tokens: Tensor) -> Tensor:
        return self.model.encode_text(tokens, normalize=True)

    @property
    def logit_scale(self) -> Tensor:
        """Multiplier of cosine similarities: exp of the learnt log-scale."""
        return self.model.logit_scale.exp()

    def forward(self, images: Tensor, tokens: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.encode_image(images), self.encode_text(tokens), self.logit_scale


class CLIPTextTower(nn.Module):
    """The text half of an open_clip CLIP, for conditioning a generator: per-token states
    [N, context_length, width], the final layer norm's output (what Stable Diffusion
    cross-attends to). The image tower is deleted, and skipped when a whole CLIP's weights are
    loaded: conditioning never uses it, so checkpoints stay small and any image size fits."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        del model.visual
        self.model = model
        self.context_length = int(model.context_length)
        self.width = int(model.transformer.width)
        self.register_load_state_dict_pre_hook(self._skip_image_tower)

    @staticmethod
    def _skip_image_tower(module: nn.Module, state_dict: dict[str, Tensor], prefix: str,
                          *args: Any) -> None:
        for key in [k for k in state_dict if k.startswith(f"{prefix}model.visual.")]:
            del state_dict[key]

    def forward(self, tokens: Tensor) -> Tensor:
        # open_clip's CLIP.encode_text up to (not including) pooling and projection
        m = self.model
        cast = m.transformer.get_cast_dtype()
        x = m.token_embedding(tokens).to(cast) + m.positional_embedding.to(cast)
        return m.ln_final(m.transformer(x, attn_mask=m.attn_mask))

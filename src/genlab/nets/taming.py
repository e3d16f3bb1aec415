"""Read taming-transformers VQGAN checkpoints safely and infer their architecture from shapes.

Nothing is unpickled beyond tensors and plain containers (`torch.load(weights_only=True)`).
The one exception is made safe rather than trusted: Lightning 1.x keys its saved callback
states by the callback *class*, which weights_only refuses; those names are mapped to an inert
stand-in class, so no Lightning code is imported or run.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor, nn

from genlab.errors import CheckpointError

TAMING_RESOLUTION = 256  # not stored in the weights; only places attention (see taming_config)
_LIGHTNING_CLASSES = (
    "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint",
    "pytorch_lightning.callbacks.early_stopping.EarlyStopping",
    "pytorch_lightning.callbacks.lr_monitor.LearningRateMonitor",
)


class _Inert:
    """Stands in for a Lightning class named in a checkpoint: built and filled, never run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        del args, kwargs

    def __setstate__(self, state: Any) -> None:
        del state


def _read(path: Path) -> dict[str, Tensor]:
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as err:
            raise CheckpointError(f"{path} is not a readable safetensors file ({err}): "
                                  "download it again") from None
    try:
        with torch.serialization.safe_globals([(_Inert, n) for n in _LIGHTNING_CLASSES]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        detail = str(err).partition("WeightsUnpickler error:")[2]
        if not detail or "Unsupported operand" in detail:  # bytes that are no pickle at all
            raise CheckpointError(f"{path} is not a readable checkpoint: download it "
                                  "again") from None
        raise CheckpointError(
            f"{path} holds Python objects besides tensors, which genlab never unpickles: if you "
            "trust the file, convert it once with `python -c \"import torch, safetensors.torch "
            "as s; s.save_file(torch.load('IN.ckpt', weights_only=False)['state_dict'], "
            "'OUT.safetensors')\"` and pass the .safetensors file") from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable checkpoint ({str(err)[:120]}): "
                              "download it again") from None
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"{path} holds no state dict of tensors: pass a taming-"
                              "transformers VQGAN checkpoint")
    return state


def load_taming_checkpoint(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """(state dict without the training-only `loss.*` tensors, VQGAN kwargs inferred from it)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found: download a taming-transformers "
                              "VQGAN (e.g. vqgan_imagenet_f16_16384.ckpt) or fix the path")
    # loss.* is the perceptual (LPIPS/VGG) and discriminator state: not needed to encode/decode.
    state = {k: v for k, v in _read(path).items() if not k.startswith("loss.")}
    return state, taming_config(state, str(path))


def _indices(state: dict[str, Tensor], prefix: str) -> list[int]:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    return sorted({int(m.group(1)) for k in state if (m := pattern.match(k))})


def taming_config(state: dict[str, Tensor], source: str = "the state dict") -> dict[str, Any]:
    """VQGAN kwargs from tensor shapes. Not stored in weights: the image resolution (taming's
    256 assumed; it only says at which level attention sits) and the GroupNorm groups (32, as
    taming, where that divides every width, else the largest power of two that does)."""

    def shape(key: str) -> torch.Size:
        if key not in state:
            raise CheckpointError(f"{source} has no {key}: it is not a taming-transformers "
                                  "VQGAN (expected encoder.*, decoder.*, quantize.*)")
        return state[key].shape

    ch, in_channels = shape("encoder.conv_in.weight")[:2]
    levels = _indices(state, "encoder.down.")
    blocks = _indices(state, "encoder.down.0.block.")
    if levels != list(range(len(levels))) or not blocks:
        raise CheckpointError(f"{source} has no encoder.down.{{i}}.block.{{j}} layers in order: "
                              "it is not a taming-transformers VQGAN")
    widths = [shape(f"encoder.down.{i}.block.0.conv1.weight")[0] for i in levels]
    if any(w % ch for w in widths):
        raise CheckpointError(f"{source}: block widths {widths} are not multiples of ch={ch}")
    z_channels = shape("post_quant_conv.weight")[0]
    if shape("encoder.conv_out.weight")[0] != z_channels:
        raise CheckpointError(f"{source}: the encoder outputs {shape('encoder.conv_out.weight')[0]}"
                              f" channels, not z_channels={z_channels} (a KL autoencoder with "
                              "double_z?): only VQGANs are supported")
    n_embed, embed_dim = shape("quantize.embedding.weight")
    attn_levels = [i for i in levels if f"encoder.down.{i}.attn.0.q.weight" in state]
    groups = next(g for g in (32, 16, 8, 4, 2, 1) if all(w % g == 0 for w in widths))
    return dict(ch=ch, ch_mult=tuple(w // ch for w in widths), num_res_blocks=len(blocks),
                attn_resolutions=tuple(TAMING_RESOLUTION // 2**i for i in attn_levels),
                resolution=TAMING_RESOLUTION, z_channels=z_channels, embed_dim=embed_dim,
                n_embed=n_embed, in_channels=in_channels,
                out_channels=shape("decoder.conv_out.weight")[0], norm_groups=groups)


def load_into(model: nn.Module, state: dict[str, Tensor], source: object) -> None:
    """load_state_dict(strict=True); missing or unexpected keys become a CheckpointError."""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        detail = " ".join(str(err).split())[:300]
        raise CheckpointError(f"{source} does not fit the inferred VQGAN ({detail}): pass the "
                              "architecture explicitly to VQGAN.from_taming") from None

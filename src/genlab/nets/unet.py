"""The diffusion UNet is diffusers' `UNet2DModel`, so genlab's models load in the wider
ecosystem (`save_pretrained` folders) and public ones load in genlab."""

from __future__ import annotations

from typing import Any

from diffusers import UNet2DConditionModel, UNet2DModel


def unet_config(*, channels: int, image_size: int, widths: tuple[int, ...],
                attention: tuple[bool, ...], layers_per_block: int, norm_groups: int,
                num_class_embeds: int | None) -> dict[str, Any]:
    """UNet2DModel keyword arguments for a small UNet: every block but the last downsamples."""
    if len(widths) != len(attention):
        raise ValueError(f"channels {widths} and attention {attention} must have one entry "
                         "per UNet block")
    if any(w % norm_groups for w in widths):
        raise ValueError(f"norm_groups={norm_groups} must divide every width in {widths}")
    if image_size % 2 ** (len(widths) - 1):
        raise ValueError(f"image size {image_size} is not divisible by 2^{len(widths) - 1} "
                         f"({len(widths)} UNet blocks): use fewer blocks or resize the data")
    return {
        "sample_size": image_size,
        "in_channels": channels,
        "out_channels": channels,
        "block_out_channels": list(widths),
        "down_block_types": ["AttnDownBlock2D" if a else "DownBlock2D" for a in attention],
        "up_block_types": ["AttnUpBlock2D" if a else "UpBlock2D" for a in attention[::-1]],
        "layers_per_block": layers_per_block,
        "norm_num_groups": norm_groups,
        "attention_head_dim": 8,
        "num_class_embeds": num_class_embeds,
    }


def build_unet(config: dict[str, Any]) -> UNet2DModel:
    """From keyword arguments or a `config.json` (its private `_` keys are ignored)."""
    return UNet2DModel.from_config(config)


def cond_unet_config(*, cross_attention_dim: int, heads: int, **kwargs: Any) -> dict[str, Any]:
    """UNet2DConditionModel keyword arguments: `unet_config`'s UNet whose attention blocks
    (and middle block) also cross-attend to `encoder_hidden_states` [N, tokens,
    cross_attention_dim]; `heads` attention heads (diffusers calls them attention_head_dim)."""
    config = unet_config(num_class_embeds=None, **kwargs)
    if any(w % heads for w in kwargs["widths"]):
        raise ValueError(f"attention heads {heads} must divide every width in "
                         f"{kwargs['widths']}")
    attention = kwargs["attention"]
    config.update(
        down_block_types=["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attention],
        up_block_types=["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in attention[::-1]],
        mid_block_type="UNetMidBlock2DCrossAttn", cross_attention_dim=cross_attention_dim,
        attention_head_dim=heads)
    return config


def build_cond_unet(config: dict[str, Any]) -> UNet2DConditionModel:
    return UNet2DConditionModel.from_config(config)

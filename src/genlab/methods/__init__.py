"""Training methods, one file each, registered by the name used in `method.name`."""

from __future__ import annotations

from typing import Any

from genlab.methods.base import DataInfo, Method
from genlab.methods.clip import CLIP
from genlab.methods.diffusion import DDPM
from genlab.methods.gan import GAN
from genlab.methods.ldm import LDM
from genlab.methods.text_ldm import TextLDM
from genlab.methods.vae import VAE
from genlab.methods.vqgan import VQGAN

METHODS: dict[str, type[Method]] = {m.name: m for m in (GAN, VAE, DDPM, LDM, VQGAN, CLIP,
                                                          TextLDM)}


def build_method(cfg: Any, info: DataInfo) -> Method:
    return METHODS[cfg.name](cfg, info)


__all__ = ["METHODS", "DataInfo", "Method", "build_method"]

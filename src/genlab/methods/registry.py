"""The one list of methods. Every name list, the config union and the tests' tiny settings
are derived from it: a new method is one line here."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field

from genlab.methods.base import DataInfo, Method
from genlab.methods.clip import CLIP
from genlab.methods.cyclegan import CycleGAN
from genlab.methods.diffusion import DDPM
from genlab.methods.gan import GAN
from genlab.methods.ldm import LDM
from genlab.methods.pix2pix import Pix2Pix
from genlab.methods.progan import ProGAN
from genlab.methods.srgan import SRGAN
from genlab.methods.stylegan import StyleGAN
from genlab.methods.text_ldm import TextLDM
from genlab.methods.vae import VAE
from genlab.methods.vqgan import VQGAN

METHODS: dict[str, type[Method]] = {m.name: m for m in (GAN, VAE, DDPM, LDM, VQGAN, CLIP,
                                                          TextLDM, SRGAN, Pix2Pix, CycleGAN,
                                                          ProGAN, StyleGAN)}
METHOD_NAMES = tuple(METHODS)

# `method:` in a run's config: `method.name` picks the class (a pydantic discriminated union).
MethodConfig = Annotated[Union[tuple(m.Config for m in METHODS.values())],  # type: ignore[valid-type]  # noqa: UP007
                         Field(discriminator="name")]


def method_class(name: str) -> type[Method]:
    return METHODS[name]


def build_method(cfg: Any, info: DataInfo) -> Method:
    cls = METHODS[cfg.name]
    cls.check_data(info)
    return cls(cfg, info)


def tiny_overrides(name: str) -> list[str]:
    """`--set` items that make a method's nets tiny (for tests and smoke runs), with the
    `data.*` values it needs (image-to-image methods: data with inputs)."""
    import json

    cls = METHODS[name]
    return [f"method.name={name}",
            *(f"method.{k}={json.dumps(v)}" for k, v in cls.tiny.items()),
            *(f"data.{k}={json.dumps(v)}" for k, v in cls.tiny_data.items())]

"""The contract between a training method and the engine.

A method builds its nets and optimisers from its config, computes losses in `train_step`
and asks the engine (through `StepContext`) to apply each update. It never touches files,
devices, logging or progress.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import torch
from pydantic import BaseModel
from torch import Tensor, nn

from genlab.errors import ConfigError
from genlab.sampling import truncate

if TYPE_CHECKING:
    from genlab.data import ImageData


@dataclass
class DataInfo:
    """What a method needs to know about its data (saved in the run, so sampling needs no data)."""

    channels: int
    image_size: int
    num_classes: int = 0
    class_names: list[str] = field(default_factory=list)
    # image-to-image data: the inputs' channels and side (0: no inputs), whether inputs and
    # images are pairs, and the names of the two domains (input, image)
    input_channels: int = 0
    input_size: int = 0
    paired: bool = True
    domains: list[str] = field(default_factory=lambda: ["input", "image"])


class StepContext(Protocol):
    def update(self, optimizer: str, loss: Tensor) -> None:
        """Zero the optimiser's grads, backpropagate `loss`, sync grads across processes, step."""


class Method:
    """Base class of training methods. Subclasses fill `nets` and `optimizers`.

    A method is registered in `methods.registry` with its pydantic `Config` (the `method:`
    section; its `name` field a Literal of `name`) and `tiny` (config values that make its nets
    tiny: the contract tests build every registered method from them).
    """

    name: ClassVar[str]
    Config: ClassVar[type[BaseModel]]
    tiny: ClassVar[dict[str, Any]] = {}
    # `data.*` values the contract tests train it on (image-to-image methods need inputs)
    tiny_data: ClassVar[dict[str, Any]] = {}
    ema_nets: ClassVar[tuple[str, ...]] = ()  # nets the engine keeps an EMA of
    # config fields naming other runs -> the config field and net their config/weights fill
    # (`runs.pretrained` copies the config in and loads the weights before a new run)
    pretrained_runs: ClassVar[dict[str, str]] = {}
    # for tests: each pretrained_runs field -> the method config of a tiny run it can name
    tiny_pretrained: ClassVar[dict[str, dict[str, Any]]] = {}
    batches_per_step: int = 1  # batches consumed per train_step (e.g. n_critic)
    num_classes: int = 0  # classes the model is conditioned on (0: unconditional)
    soft_labels: ClassVar[bool] = True  # decode accepts [N, K] label mixtures
    truncatable: ClassVar[bool] = True  # shrinking z trades diversity for fidelity
    # sample_latents/decode make images; False (CLIP) makes the engine skip sample grids
    generative: ClassVar[bool] = True
    # maps input images to images (`translate`) instead of latents to images (Pix2Pix,
    # CycleGAN, SRGAN): grids, `genlab translate` and evaluation use `translate`
    translates: ClassVar[bool] = False
    # what `translate` takes as `direction` (CycleGAN learns both ways)
    directions: ClassVar[tuple[str, ...]] = ("AtoB",)
    # what the data must provide (checked by `check_data` before any training)
    needs_inputs: ClassVar[Literal["none", "paired", "any"]] = "none"

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        self.cfg = cfg
        self.info = info
        self.nets = nn.ModuleDict()
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    @property
    def device(self) -> torch.device:
        return next(self.nets.parameters()).device

    def to(self, device: torch.device | str) -> Method:
        self.nets.to(device)
        return self

    def prepare_data(self, data: ImageData) -> dict[str, Tensor]:
        """Per-image tensors [N, ...] derived once from the whole dataset (e.g. caption tokens
        under "text"); the engine slices them into every batch like the labels."""
        del data
        return {}

    def load_initial_weights(self) -> None:
        """Load weights from outside genlab (a public checkpoint named in the config) at the
        start of a new run; never called on resume or when a run folder is loaded."""

    def train_step(self, batch: dict[str, Tensor], ctx: StepContext) -> dict[str, Tensor]:
        """One update; returns detached scalar tensors to log."""
        raise NotImplementedError

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        raise NotImplementedError

    def decode(self, z: Tensor, labels: Tensor | None = None, options: Any = None) -> Tensor:
        """Latents (and labels, or soft one-hot label vectors) to images in [-1, 1].
        `options`: how to sample, chosen per call (diffusion: a `SamplingOptions`); None: the
        method's `default_sampling()`. Methods without options take only None."""
        raise NotImplementedError

    def decode_labels(self, labels: Tensor | None) -> Tensor | None:
        """The labels decode passes on: None for an unconditional model (whatever was given),
        a one-line error for a conditional one given none."""
        if not self.num_classes:
            return None
        if labels is None:
            raise ConfigError("this model is conditional: pass class labels (--label)")
        return labels

    def truncate(self, z: Tensor, psi: float, labels: Tensor | None = None) -> Tensor:
        """The truncation trick: latents pulled toward their mean by psi in (0, 1]. Here in z
        space (z * psi); StyleGAN truncates in W and returns per-layer styles, which its
        `decode` takes in place of z."""
        del labels
        return truncate(z, psi, self.truncatable, self.name)

    def walk_latents(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """The latents an interpolation walks between (what `decode` takes): z itself here;
        StyleGAN's per-layer styles in W."""
        del labels
        return z

    def translate(self, inputs: Tensor, direction: str = "AtoB") -> Tensor:
        """Input images in [-1, 1] (the data's input channels and side) to output images in
        [-1, 1] (the data's image channels and side). `direction`: one of `directions`."""
        raise ConfigError(f"{self.name} runs make images from noise, not from input images: "
                          "use `genlab sample`")

    def translation_grid(self, inputs: Tensor, targets: Tensor) -> list[Tensor]:
        """The columns of a training grid row, one example per row: input | output | target."""
        return [inputs, self.translate(inputs), targets]

    @classmethod
    def check_data(cls, info: DataInfo) -> None:
        """Raise ConfigError, before any work, when the data lacks what this method needs."""
        if cls.needs_inputs == "none":
            return
        if not info.input_channels:
            raise ConfigError(f"method {cls.name} learns image-to-image: pick data with inputs, "
                              "e.g. --set data.pairs=edges (see docs/image2image.md)")
        if cls.needs_inputs == "paired" and not info.paired:
            raise ConfigError(f"method {cls.name} needs paired data (an input for every "
                              "image); for two unpaired domains use method.name=cyclegan")

    def default_sampling(self) -> Any:
        """The sampling options `decode` uses when given none (None: it takes none)."""
        return None

    @classmethod
    def judge_net(cls, cfg: Any) -> str | None:
        """The net (if any) that `runs.train` fills, before a new run, with the weights of the
        judge of the run's data: a frozen feature network, e.g. for a perceptual loss."""
        del cfg
        return None

    def extra_state(self) -> dict[str, Any]:
        """Schedule state beyond weights and optimisers (e.g. ProGAN's fade-in), for resume."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        del state


class Translator(Method):
    """Base of the image-to-image methods (Pix2Pix, CycleGAN, SRGAN): they map inputs to
    images, so they draw no noise, take no labels and have no truncation trick."""

    generative = False
    translates = True
    needs_inputs = "paired"
    soft_labels = False
    truncatable = False

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        raise ConfigError(f"{self.name} runs translate images and draw no noise (nothing to "
                          "sample, interpolate or steer): use `genlab translate RUN INPUTS "
                          "--out DIR`")

    def decode(self, z: Tensor, labels: Tensor | None = None, options: Any = None) -> Tensor:
        return self.sample_latents(len(z))

    def check_same_side(self, info: DataInfo) -> None:
        """Methods that keep the side need inputs as large as the images."""
        if info.input_size and info.input_size != info.image_size:
            raise ConfigError(f"method {self.name} keeps the image side, but the inputs are "
                              f"{info.input_size} px and the images {info.image_size} px: use "
                              "method.name=srgan to change resolution, or equal sizes")


def split_batch(batch: dict[str, Tensor], parts: int) -> list[dict[str, Tensor]]:
    """Split a batch of `parts` * B examples into `parts` batches of B."""
    if parts == 1:
        return [batch]
    chunks = {k: v.chunk(parts) for k, v in batch.items()}
    return [{k: v[i] for k, v in chunks.items()} for i in range(parts)]


@contextmanager
def frozen(net: nn.Module) -> Iterator[None]:
    """Stop gradients into `net`'s parameters (e.g. the discriminator during a generator step)."""
    flags = [p.requires_grad for p in net.parameters()]
    net.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(net.parameters(), flags, strict=True):
            p.requires_grad_(flag)


def conditional_classes(conditional: bool, info: DataInfo) -> int:
    """Classes a GAN is conditioned on (`method.conditional`), checked against the data."""
    if conditional and info.num_classes < 2:
        raise ConfigError("method.conditional=true needs a labelled dataset with at least "
                          "two classes: pick another dataset or set method.conditional=false")
    return info.num_classes if conditional else 0


def growth_levels(info: DataInfo, method: str) -> int:
    """Doublings from 4x4 to the data's side (ProGAN, StyleGAN); ConfigError for other sides."""
    from genlab.nets.equalized import levels_for

    try:
        return levels_for(info.image_size)
    except ValueError:
        raise ConfigError(f"{method} grows from 4x4 by doublings: it needs a side of 8, 16, 32, "
                          f"64 or 128 px, the data has {info.image_size} px (Fashion-MNIST: "
                          "--set data.pad=2 makes 32; or --set data.image_size=32)") from None


def world_size() -> int:
    """Processes training together (1 without torch.distributed)."""
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1

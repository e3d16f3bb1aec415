"""The `data:` section of a run's config."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from genlab.config import Section
from genlab.data.base import ImageData
from genlab.data.registry import dataset_split, load_dataset
from genlab.data.shapes import ShapesOptions


class DataConfig(Section):
    name: str = Field("shapes", description="dataset: shapes, digits, fashion-mnist, mnist, "
                      "cifar10, svhn, celeba or folder:PATH (see `genlab datasets`)")
    root: str | None = Field(None, description="folder holding the dataset files (None: default)")
    image_size: int | None = Field(None, ge=8, description="resize images to this side (None: "
                                   "the dataset's own size)")
    pad: int = Field(0, ge=0, le=64, description="black border added on every side after "
                     "any resize (Fashion-MNIST 28 px + pad 2 = 32 px, a power of two for "
                     "ProGAN/StyleGAN)")
    download: bool = Field(False, description="let torchvision download the data (needs internet)")
    shapes: ShapesOptions = Field(default_factory=ShapesOptions,
                                  description="options of the procedural shapes dataset")
    caption_template: str | None = Field(
        None, pattern=r"\{class\}", description="captions from class names, e.g. 'a photo of a "
        "{class}' (None: the dataset's own captions; labelled sets without any get that one)")

    pairs: Literal["none", "edges", "labels", "grey", "sr2", "sr4", "aligned", "folders",
                   "unaligned"] = Field(
        "none", description="image-to-image data: none; an input derived from each image "
        "(edges, labels: shapes' shape map without colour, grey, sr2/sr4: low resolution); a "
        "folder of A|B side-by-side images (aligned) or A/ and B/ with matching names (folders); "
        "two unpaired domains (unaligned: trainA/ trainB/ folders, or data.domains classes)")
    domains: tuple[str, str] | None = Field(
        None, description="pairs=unaligned on a labelled dataset: the classes (names or "
        "indices) of domain A and domain B, e.g. [Sneaker, Ankle boot]")
    direction: Literal["AtoB", "BtoA"] = Field(
        "AtoB", description="which side is the input: A (AtoB) or B (BtoA); pix2pix's --direction")

    @field_validator("domains", mode="before")
    @classmethod
    def _indices_as_text(cls, value: Any) -> Any:
        """[7, 9] from YAML or --set: class indices, kept as text like class names."""
        if isinstance(value, list | tuple):
            return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v
                    for v in value]
        return value

    def load(self, split: str = "train", seed: int = 0) -> ImageData:
        """Load one split of this dataset into memory."""
        return load_dataset(self.name, split=split, image_size=self.image_size, root=self.root,
                            pad=self.pad,
                            download=self.download, shapes=self.shapes, seed=seed,
                            caption_template=self.caption_template, pairs=self.pairs,
                            domains=self.domains, direction=self.direction)

    def plain(self) -> DataConfig:
        """The same dataset without pairs: whose judge measures image-to-image runs too."""
        return self.model_copy(update={"pairs": "none", "domains": None, "direction": "AtoB"})

    def split_facts(self) -> dict[str, Any]:
        """How the train and test splits are drawn, without loading images (for run.json)."""
        return dataset_split(self.name, self.pairs)


"""scikit-learn's bundled handwritten digits (1,797 images, 8x8): tiny, always available."""

from __future__ import annotations

import numpy as np
import torch

from genlab.data.base import DatasetStatus, ImageData, resize_images

DEFAULT_SIZE = 32
TRAIN_FRACTION = 0.8
# The split is a property of the dataset, not of a run: it never depends on the user's seed.
_SPLIT_SEED = 1797


def load_digits(*, split: str = "train", image_size: int | None = None) -> ImageData:
    """One split (80% train / 20% test of a fixed permutation), 1 channel, default 32x32."""
    from sklearn.datasets import load_digits as sklearn_load_digits  # slow import: only on use

    bunch = sklearn_load_digits()
    # Values are 0..16: scale to the full uint8 range.
    pixels = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    order = np.random.default_rng(_SPLIT_SEED).permutation(len(pixels))
    n_train = round(TRAIN_FRACTION * len(pixels))
    index = order[:n_train] if split == "train" else order[n_train:]
    images = torch.from_numpy(pixels[index]).unsqueeze(1)
    labels = torch.from_numpy(bunch.target[index].astype(np.int64))
    images = resize_images(images, image_size or DEFAULT_SIZE)
    return ImageData(name="digits", images=images, labels=labels,
                     class_names=[str(d) for d in range(10)],
                     captions=[f"a handwritten digit {d}" for d in labels.tolist()])


def digits_status(root: str | None = None) -> DatasetStatus:
    return DatasetStatus("digits", True, "bundled with scikit-learn (1,797 8x8 digits)")

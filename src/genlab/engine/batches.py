"""Batches sliced from one in-memory uint8 tensor on the training device.

The indices of every batch are a pure function of (seed, step, rank), so a resumed run sees
exactly the batches the uninterrupted run would have seen, with no loader state to save.
Image-to-image data adds each image's input under "input". Per-example tensors a method
derives once from the data (`Method.prepare_data`, e.g. caption tokens under "text") are
sliced with the same indices, so no per-item Python runs in the loop.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genlab.data.base import ImageData
from genlab.errors import DataError
from genlab.images import TRANSLATION_ROWS, to_float


class DeviceBatcher:
    def __init__(self, data: ImageData, batch_size: int, *, seed: int, rank: int = 0,
                 world: int = 1, device: torch.device | str = "cpu",
                 memory_format: torch.memory_format = torch.contiguous_format,
                 extra: dict[str, Tensor] | None = None) -> None:
        self.images = data.images.to(device)
        self.labels = data.labels.to(device) if data.labels is not None else None
        # image-to-image data: each image's input (paired) or a domain-A image (unpaired)
        self.inputs = data.inputs.to(device) if data.inputs is not None else None
        self.extra = {}
        for key, tensor in (extra or {}).items():
            if key in ("image", "label", "input") or len(tensor) != len(data):
                raise ValueError(f"extra batch tensor {key!r} must be a new key with one row "
                                 f"per image ({len(data)}), got {tuple(tensor.shape)}")
            self.extra[key] = tensor.to(device)
        self.batch_size, self.rank, self.seed = batch_size, rank, seed
        self.memory_format = memory_format
        self.global_batch = batch_size * world
        if len(self.images) < self.global_batch:
            raise DataError(f"{data.name} has {len(self.images)} images, fewer than one batch "
                            f"of {self.global_batch}: lower train.batch_size")
        self.per_epoch = len(self.images) // self.global_batch
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def _permutation(self, epoch: int) -> Tensor:
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = torch.randperm(len(self.images), generator=gen).to(self.images.device)
            self._epoch = epoch
        return self._perm

    def indices(self, index: int) -> Tensor:
        """Indices of virtual batch `index` for this rank."""
        epoch, i = divmod(index, self.per_epoch)
        start = i * self.global_batch + self.rank * self.batch_size
        return self._permutation(epoch)[start:start + self.batch_size]

    def batch(self, step: int, parts: int = 1) -> dict[str, Tensor]:
        """The batch of training step `step`: `parts` consecutive batches stacked."""
        idx = torch.cat([self.indices(step * parts + j) for j in range(parts)])
        out = {"image": to_float(self.images[idx]).contiguous(memory_format=self.memory_format)}
        if self.labels is not None:
            out["label"] = self.labels[idx]
        if self.inputs is not None:
            out["input"] = to_float(self.inputs[idx]).contiguous(memory_format=self.memory_format)
        out.update({key: tensor[idx] for key, tensor in self.extra.items()})
        return out


def first_pairs(data: ImageData, n: int,
                device: torch.device | str) -> tuple[Tensor, Tensor] | None:
    """The first (at most TRANSLATION_ROWS) inputs and their images, float on `device`: what
    a translating method's training grids show (None: the data has no inputs)."""
    if data.inputs is None:
        return None
    k = min(n, TRANSLATION_ROWS, len(data))
    return to_float(data.inputs[:k]).to(device), to_float(data.images[:k]).to(device)

"""Inception-v3 FID features (pool3, 2048-d) and logits from torch-fidelity's local weights file.

The network is torch-fidelity's own `FeatureExtractorInceptionV3` (TF-compatible resize and
blocks), so features match torch-fidelity's FID. Nothing here touches the network: the weights
come from a file the user passes, never from a download.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from genlab.errors import EvalError
from genlab.files import atomic_path

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
_FEATURES = ["2048", "logits_unbiased"]
_FETCH = (f"download {WEIGHTS_FILE} (torch-fidelity) on a machine with internet and pass "
          "--inception-weights FILE")


def _net_from(state: Any) -> FeatureExtractorInceptionV3:
    """torch-fidelity's Inception holding `state`, an already verified dict of tensors."""
    # torch-fidelity loads its file with weights_only=False; handing it a copy re-saved from
    # tensors we loaded with weights_only=True means nothing from outside is ever unpickled.
    buf = io.BytesIO()
    torch.save(dict(state), buf)
    buf.seek(0)
    return FeatureExtractorInceptionV3("inception-v3-compat", list(_FEATURES),
                                       feature_extractor_weights_path=buf)


class InceptionFeatures:
    """Callable turning uint8 images into Inception pool3 features and 1008-way logits."""

    def __init__(self, weights_path: str | Path, device: str | torch.device = "cpu") -> None:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise EvalError(f"Inception weights not found at {path}: {_FETCH}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.net = _net_from(state)
        except Exception as err:  # torch raises many types for a bad file; all mean the same
            raise EvalError(f"Inception weights at {path} are unreadable or not torch-fidelity's "
                            f"({type(err).__name__}): {_FETCH}") from err
        self.device = torch.device(device)
        self.net.to(self.device)

    @torch.inference_mode()
    def __call__(self, images: Tensor, batch_size: int = 64) -> tuple[Tensor, Tensor]:
        """Features float32 [N, 2048] and logits float32 [N, 1008] of uint8 [N, C, H, W] images."""
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
            raise EvalError(f"Inception needs uint8 [N, 1 or 3, H, W] images, got "
                            f"{images.dtype} {tuple(images.shape)}: convert images to uint8")
        feats, logits = [], []
        for i in range(0, len(images), max(1, batch_size)):
            x = images[i:i + batch_size].to(self.device)
            if x.shape[1] == 1:  # grey: the network wants RGB
                x = x.expand(-1, 3, -1, -1)
            f, lg = self.net(x)
            feats.append(f.float().cpu())
            logits.append(lg.float().cpu())
        if not feats:
            return torch.empty(0, 2048), torch.empty(0, 1008)
        return torch.cat(feats), torch.cat(logits)


class _RandomInception(FeatureExtractorInceptionV3):
    """torch-fidelity's network that keeps its random init instead of loading weights."""

    def load_state_dict(self, *args: Any, **kwargs: Any) -> Any:  # called by its constructor
        return None


def write_random_inception_weights(path: str | Path, seed: int = 0) -> Path:
    """Write a random Inception state dict in torch-fidelity's file format (tests, smoke tests).

    Batch-norm statistics are set from a batch of two random images, so features have a sane
    scale instead of vanishing through ~90 layers of default init.
    """
    empty = io.BytesIO()
    torch.save({}, empty)
    empty.seek(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = _RandomInception("inception-v3-random", list(_FEATURES),
                               feature_extractor_weights_path=empty)
        images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None  # cumulative average: one batch sets the statistics outright
    net.train()
    with torch.no_grad():
        net(images)
    with atomic_path(path) as tmp:
        torch.save(net.state_dict(), tmp)
    return path

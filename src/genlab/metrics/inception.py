"""Inception-v3 FID features (pool3, 2048-d) and logits from torch-fidelity's local weights file.

The network is torch-fidelity's own `FeatureExtractorInceptionV3` (TF-compatible resize and
blocks), so features match torch-fidelity's FID. Nothing here touches the network: the weights
come from a file the user passes, never from a download.

The file is checked before use, by torch hub's naming convention that torch-fidelity follows
(`weights-inception-2015-12-05-6726825d.pth`: the hex after the last '-' starts the file's
sha256): a file whose name carries a hash its content does not have is refused (a truncated or
swapped download would give wrong FIDs without an error); a file whose content is not
torch-fidelity's, whatever its name, is used with a one-line warning, and the report says so,
since its FIDs are not comparable with torch-fidelity's or papers' (random weights for smoke
tests, a fine-tuned Inception).
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch_fidelity.feature_extractor_inceptionv3 import (
    URL_INCEPTION_V3,
    FeatureExtractorInceptionV3,
)

from genlab.errors import EvalError
from genlab.files import atomic_path

WEIGHTS_FILE = URL_INCEPTION_V3.rsplit("/", 1)[-1]  # weights-inception-2015-12-05-6726825d.pth
_FEATURES = ["2048", "logits_unbiased"]
# torch hub's convention: a name ending in -<hex>.<ext> carries the start of the file's sha256
_NAME_HASH = re.compile(r"-([0-9a-f]{8,64})(?=\.)")
_FETCH = (f"download {WEIGHTS_FILE} from {URL_INCEPTION_V3} (torch-fidelity keeps it in "
          f"{Path(torch.hub.get_dir()) / 'checkpoints'}) and pass --inception-weights FILE")


class InceptionWeightsWarning(UserWarning):
    """The Inception weights are not torch-fidelity's: the numbers are not comparable."""


def name_hash(path: Path) -> str | None:
    """The sha256 prefix a file's name carries by torch hub's convention, if any."""
    hashes = _NAME_HASH.findall(path.name)
    return hashes[-1] if hashes else None


def check_weights(path: Path) -> tuple[str, bool]:
    """The file's sha256 and whether it is torch-fidelity's own file; an EvalError when its
    name carries a hash its content does not have (see the module docstring)."""
    with path.open("rb") as file:
        digest = hashlib.file_digest(file, "sha256").hexdigest()
    claimed = name_hash(path)
    if claimed is not None and not digest.startswith(claimed):
        raise EvalError(f"{path} is damaged or not the file its name says (its sha256 starts "
                        f"{digest[:8]}, the name says {claimed}): {_FETCH}")
    return digest, digest.startswith(name_hash(Path(WEIGHTS_FILE)) or "")


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
        self.sha256, self.official = check_weights(path)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.net = _net_from(state)
        except Exception as err:  # torch raises many types for a bad file; all mean the same
            raise EvalError(f"Inception weights at {path} are unreadable or not torch-fidelity's "
                            f"({type(err).__name__}): {_FETCH}") from err
        if not self.official:  # a working network, but not the one FIDs are reported with
            warnings.warn(f"{path} is not torch-fidelity's {WEIGHTS_FILE} (sha256 "
                          f"{self.sha256[:8]}...): its FID, KID and IS are not comparable with "
                          "torch-fidelity's or papers'", InceptionWeightsWarning, stacklevel=2)
        self.device = torch.device(device)
        self.net.to(self.device)

    def describe(self) -> str:
        """Which weights measured the numbers, for the report's protocol line."""
        if self.official:
            return f"torch-fidelity's {WEIGHTS_FILE}"
        return f"sha256 {self.sha256[:16]}, not torch-fidelity's: not comparable with papers"

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

"""VGG19 features for SRGAN's content loss, from a local weights file (genlab downloads none).

The paper's VGG54 is the output of relu5_4 (after the 4th conv before the 5th max-pool); VGG22
the output of relu2_2. Features are divided by 12.75, as in Ledig et al. 2017, so their squared
error is on the scale of a pixel MSE.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import Tensor, nn
from torchvision.models.vgg import cfgs, make_layers

from genlab.errors import CheckpointError

# index of the ReLU in torchvision's vgg19().features that ends each named layer
VGG19_LAYERS = {"22": 8, "54": 35}
FEATURE_SCALE = 1 / 12.75
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGFeatures(nn.Module):
    """torchvision's `vgg19().features` cut after `layer` ("54": relu5_4, "22": relu2_2).

    Takes images in [-1, 1] (grey ones repeated to RGB), maps them to ImageNet normalisation,
    returns the activations times 1/12.75. Its state dict has torchvision's keys (`features.N.`).
    """

    def __init__(self, layer: str = "54") -> None:
        super().__init__()
        if layer not in VGG19_LAYERS:
            raise ValueError(f"unknown VGG layer {layer!r}; valid: {', '.join(VGG19_LAYERS)}")
        self.layer = layer
        # make_layers(cfgs["E"]) is what torchvision.models.vgg19 builds as `.features`, without
        # the 120M-parameter classifier this loss never uses
        self.features = make_layers(cfgs["E"], batch_norm=False)[: VGG19_LAYERS[layer] + 1]
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = ((x + 1) / 2 - self.mean) / self.std
        return self.features(x) * FEATURE_SCALE


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """A state dict from safetensors or a weights-only torch file (nothing is unpickled)."""
    if not path.is_file():
        raise CheckpointError(f"VGG weights file {path} not found: set method.vgg_weights to a "
                              "local vgg19 state dict (.safetensors or .pth)")
    try:
        if path.suffix == ".safetensors":
            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (SafetensorError, pickle.UnpicklingError, OSError, RuntimeError, EOFError,
            ValueError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0][:160]
        raise CheckpointError(f"cannot read VGG weights {path} ({first}): pass a vgg19 state dict "
                              "saved with safetensors or torch.save(model.state_dict())") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"{path} holds no state dict of tensors: save vgg19's with "
                              "torch.save(model.state_dict()) or safetensors")
    return state


def load_vgg_features(net: VGGFeatures, path: str | Path) -> None:
    """Fill `net` from a torchvision vgg19 (or vgg19.features) state dict in `path`, in float32;
    keys with or without the `features.` prefix, the classifier's ignored."""
    path = Path(path).expanduser()
    state = read_state_dict(path)
    if any(k.startswith("features.") for k in state):
        state = {k.removeprefix("features."): v for k, v in state.items()
                 if k.startswith("features.")}
    target = net.features.state_dict()
    missing = [k for k in target if k not in state]
    if missing:
        raise CheckpointError(f"{path} is not a torchvision vgg19 state dict: no "
                              f"{'features.' + missing[0]} ({len(missing)} of the {len(target)} "
                              f"tensors up to relu{net.layer[0]}_{net.layer[1]} missing; "
                              "vgg19_bn weights do not fit)")
    for key, tensor in target.items():
        if state[key].shape != tensor.shape:
            raise CheckpointError(f"{path}: features.{key} has shape {tuple(state[key].shape)}, "
                                  f"vgg19 needs {tuple(tensor.shape)}: is it another VGG?")
    net.features.load_state_dict({k: state[k].float() for k in target}, strict=True)

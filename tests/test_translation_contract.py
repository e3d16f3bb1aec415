"""The image-to-image contract outside any concrete method: batches carry each image's input,
grids put input | output | target side by side, and methods that make images from noise refuse
to translate."""

import pytest
import torch

from genlab.data.base import ImageData
from genlab.engine.batches import DeviceBatcher
from genlab.errors import ConfigError
from genlab.images import side_by_side, to_float
from genlab.methods.base import DataInfo, Method


def _paired(n=8):
    images = torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8)
    inputs = images[:, :1, ::2, ::2].contiguous()  # grey, half size: an SR-like input
    return ImageData("toy", images, None, [], inputs=inputs)


def test_batches_carry_each_images_own_input():
    data = _paired()
    batch = DeviceBatcher(data, 4, seed=0).batch(3)
    assert batch["input"].shape == (4, 1, 4, 4) and batch["image"].shape == (4, 3, 8, 8)
    # the input of each row is the one made from that row's image
    assert torch.equal(batch["input"], batch["image"][:, :1, ::2, ::2])


def test_image_data_checks_inputs_and_reports_their_shape():
    data = _paired()
    assert (data.input_channels, data.input_size) == (1, 4)
    assert ImageData("plain", data.images, None, []).input_channels == 0
    with pytest.raises(ValueError, match="inputs must be"):
        ImageData("bad", data.images, None, [], inputs=data.inputs[:3])


def test_side_by_side_makes_one_example_per_row():
    grey_small = to_float(torch.full((2, 1, 2, 2), 255, dtype=torch.uint8))
    colour = torch.zeros(2, 3, 4, 4)
    colour[1] = -1
    out = side_by_side([grey_small, colour, colour])
    assert out.shape == (6, 3, 4, 4)
    # row i: input i (grey -> RGB, enlarged by nearest neighbour) | output i | target i
    assert torch.equal(out[0], torch.ones(3, 4, 4)) and torch.equal(out[3], torch.ones(3, 4, 4))
    assert torch.equal(out[1], colour[0]) and torch.equal(out[5], colour[1])


class _Noise(Method):
    name = "noise"
    needs_inputs = "none"


class _Paired(Method):
    name = "paired-toy"
    needs_inputs = "paired"


def test_methods_say_what_data_they_need_before_any_work():
    plain = DataInfo(3, 8)
    unpaired = DataInfo(3, 8, input_channels=3, input_size=8, paired=False)
    _Noise.check_data(plain)
    with pytest.raises(ConfigError, match="data.pairs"):
        _Paired.check_data(plain)
    with pytest.raises(ConfigError, match="cyclegan"):
        _Paired.check_data(unpaired)
    with pytest.raises(ConfigError, match="genlab sample"):
        _Noise(None, plain).translate(torch.zeros(1, 3, 8, 8))

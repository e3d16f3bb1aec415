"""The analytic shapes reader: per-attribute accuracy on real images, robustness, label modes."""

import pytest
import torch

from genlab.data import ShapesOptions, load_dataset
from genlab.images import to_float
from genlab.metrics.shapes_reader import ATTRIBUTES, read_shapes, reader_labels


def _accuracies(reading: dict[str, torch.Tensor], attributes: dict[str, torch.Tensor]) -> dict:
    return {key: float((reading[key] == attributes[key][:, 0]).float().mean())
            for key in ATTRIBUTES}


@pytest.mark.parametrize(("size", "n"), [(16, 1000), (32, 1000), (64, 500)])
def test_reads_every_attribute(size: int, n: int):
    options = ShapesOptions(n_test=n)
    data = load_dataset("shapes", split="test", image_size=size, shapes=options)
    reading = read_shapes(data.images)
    assert set(reading) == {*ATTRIBUTES, "found"}
    assert all(reading[key].dtype == torch.int64 and reading[key].shape == (n,)
               for key in ATTRIBUTES)
    assert reading["found"].dtype == torch.bool and bool(reading["found"].all())
    accuracies = _accuracies(reading, data.attributes)
    assert min(accuracies.values()) >= 0.99, accuracies


def test_float_input_and_other_background():
    options = ShapesOptions(n_test=300, background=(200, 200, 200))
    data = load_dataset("shapes", split="test", shapes=options)
    reading = read_shapes(data.images, background=options.background)
    assert min(_accuracies(reading, data.attributes).values()) >= 0.99
    from_float = read_shapes(to_float(data.images), background=options.background)
    assert all(torch.equal(reading[key], from_float[key]) for key in reading)


def test_noisy_images_still_read():
    # Stand-in for imperfect samples: strong pixel noise on every channel.
    data = load_dataset("shapes", split="test", shapes=ShapesOptions(n_test=300))
    noise = 25 * torch.randn(data.images.shape, generator=torch.Generator().manual_seed(0))
    noisy = (data.images.float() + noise).clamp(0, 255).round().to(torch.uint8)
    assert min(_accuracies(read_shapes(noisy), data.attributes).values()) >= 0.95


@pytest.mark.parametrize("background", [(0, 0, 0), (255, 255, 255)])
def test_blank_and_faint_images_find_nothing(background: tuple[int, int, int]):
    blank = torch.tensor(background, dtype=torch.uint8).view(1, 3, 1, 1).repeat(2, 1, 32, 32)
    faint = blank.clone()
    faint[1, :, 10:20, 10:20] = (blank[1, :, 10:20, 10:20].float() * 0.8 + 20).to(torch.uint8)
    reading = read_shapes(torch.cat([blank, faint]), background=background)
    assert not bool(reading["found"].any())
    assert all(bool((reading[key] == -1).all()) for key in ATTRIBUTES)
    for label in ("shape", "colour", "shape_colour"):
        assert bool((reader_labels(reading, label) == -1).all())


def test_tiny_speck_is_not_an_object():
    images = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)
    images[0, 0, 5:7, 5:7] = 255  # a 2x2 red speck: far smaller than the smallest shape
    assert not bool(read_shapes(images)["found"][0])


@pytest.mark.parametrize("label", ["shape", "colour", "shape_colour"])
def test_reader_labels_match_dataset_labels(label: str):
    data = load_dataset("shapes", split="test", shapes=ShapesOptions(n_test=500, label=label))
    labels = reader_labels(read_shapes(data.images), label)
    assert labels.dtype == torch.int64
    assert float((labels == data.labels).float().mean()) >= 0.99


def test_bad_input_and_label_mode():
    with pytest.raises(ValueError, match="RGB"):
        read_shapes(torch.zeros(2, 1, 32, 32, dtype=torch.uint8))
    empty = read_shapes(torch.zeros(0, 3, 32, 32, dtype=torch.uint8))
    assert empty["found"].shape == (0,)
    with pytest.raises(ValueError, match="label mode"):
        reader_labels(empty, "size")

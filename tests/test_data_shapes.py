"""The procedural shapes dataset: determinism, labels, captions, masks and rendering geometry."""

import re

import pydantic
import pytest
import torch
import torch.nn.functional as F

from genlab.data import ShapesOptions, load_dataset
from genlab.data.shapes import (
    COLOURS,
    MAX_JITTER,
    POSITION_CENTRES,
    POSITIONS,
    SHAPES,
    SIZES,
    render_shapes,
)
from genlab.errors import DataError

SMALL = ShapesOptions(n_train=300, n_test=100)
PALETTE = torch.tensor(list(COLOURS.values()))
CAPTION = re.compile(r"a (small|large) (\w+) (circle|square|triangle) at the ([a-z ]+)")


def _shapes(options: ShapesOptions = SMALL, **kwargs):
    return load_dataset("shapes", shapes=options, **kwargs)


def test_types_and_shapes():
    data = _shapes()
    assert data.images.dtype == torch.uint8 and data.images.is_contiguous()
    assert data.images.shape == (300, 3, 32, 32)
    assert data.labels.dtype == torch.int64 and data.labels.shape == (300,)
    assert data.masks.dtype == torch.bool and data.masks.shape == (300, 1, 32, 32)
    assert set(data.attributes) == {"shape", "colour", "size", "position", "count"}
    assert all(v.dtype == torch.int64 for v in data.attributes.values())
    assert data.attributes["shape"].shape == (300, 1) and data.attributes["count"].shape == (300,)
    assert (len(data), data.channels, data.image_size, data.num_classes) == (300, 3, 32, 3)
    assert len(_shapes(split="test")) == 100
    assert _shapes(image_size=48).images.shape == (300, 3, 48, 48)


def test_deterministic_by_seed_and_split():
    a, b, c = _shapes(seed=3), _shapes(seed=3), _shapes(seed=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    assert a.captions == b.captions and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)
    test = _shapes(seed=3, split="test")
    assert not torch.equal(a.images[:100], test.images)
    assert a.captions[:100] != test.captions


@pytest.mark.parametrize("label", ["shape", "colour", "shape_colour"])
def test_labels_follow_attributes(label):
    data = _shapes(ShapesOptions(n_train=300, objects=2, label=label))
    shape, colour = data.attributes["shape"][:, 0], data.attributes["colour"][:, 0]
    expected = {"shape": shape, "colour": colour, "shape_colour": shape * 6 + colour}[label]
    assert torch.equal(data.labels, expected)
    assert data.num_classes == {"shape": 3, "colour": 6, "shape_colour": 18}[label]
    assert int(data.labels.max()) < data.num_classes and int(data.labels.min()) >= 0
    colour_names = list(COLOURS)
    for i in range(20):
        name = data.class_names[int(data.labels[i])]
        s, c = int(shape[i]), int(colour[i])
        assert name == {"shape": SHAPES[s], "colour": colour_names[c],
                        "shape_colour": f"{colour_names[c]} {SHAPES[s]}"}[label]


def test_captions_describe_every_object():
    data = _shapes(ShapesOptions(n_train=200, objects=3, min_objects=1))
    attrs = data.attributes
    for i, caption in enumerate(data.captions):
        parts = caption.split(" and ")
        assert len(parts) == int(attrs["count"][i])
        for k, part in enumerate(parts):
            size, colour, shape, position = CAPTION.fullmatch(part).groups()
            assert SIZES.index(size) == attrs["size"][i, k]
            assert list(COLOURS).index(colour) == attrs["colour"][i, k]
            assert SHAPES.index(shape) == attrs["shape"][i, k]
            assert POSITIONS.index(position) == attrs["position"][i, k]


def test_multi_object_positions_distinct_and_padding():
    data = _shapes(ShapesOptions(n_train=400, objects=4, min_objects=2))
    attrs, count = data.attributes, data.attributes["count"]
    assert int(count.min()) == 2 and int(count.max()) == 4
    present = torch.arange(4) < count[:, None]
    for key in ("shape", "colour", "size", "position"):
        assert bool((attrs[key][~present] == -1).all()) and bool((attrs[key][present] >= 0).all())
    for i in range(len(data)):
        positions = attrs["position"][i, : int(count[i])].tolist()
        assert len(set(positions)) == len(positions)
    assert not data.masks[~present].any()
    assert int(data.masks.sum(dim=1).max()) <= 1  # visible masks never overlap


def test_mask_pixels_have_object_colour_and_rest_is_background():
    background = (40, 80, 120)
    data = _shapes(ShapesOptions(n_train=200, background=background))
    images, masks = data.images.long(), data.masks[:, 0]
    colours = PALETTE[data.attributes["colour"][:, 0]][:, :, None, None]
    bg = torch.tensor(background)[None, :, None, None]
    # Inside the mask every pixel is nearer the object colour than the background...
    to_colour = (images - colours).abs().sum(1)
    to_background = (images - bg).abs().sum(1)
    assert bool((to_colour[masks] < to_background[masks]).all())
    # ...and the mask's interior (eroded by one pixel) is exactly the object colour.
    interior = (-F.max_pool2d(-masks.float()[:, None], 3, 1, 1))[:, 0].bool()
    assert interior.any() and int(to_colour[interior].max()) == 0
    # Away from the mask every pixel is exactly the background.
    near = F.max_pool2d(masks.float()[:, None], 5, 1, 2)[:, 0].bool()
    assert int(to_background[~near].max()) == 0
    # Anti-aliasing: some edge pixels lie strictly between the background and the colour.
    edge = near & ~masks
    partial = (to_colour > 0) & (to_background > 0)
    assert int((partial & (edge | masks)).sum()) > len(data)


def _render(shape, size, position, image_size=64, offset=None):
    n = len(shape)
    return render_shapes(torch.tensor(shape), torch.zeros(n, dtype=torch.long), torch.tensor(size),
                         torch.tensor(position), image_size=image_size, offset=offset)


def test_large_covers_more_than_small():
    _, masks = _render([1, 1, 0, 0, 2, 2], [0, 1] * 3, [4] * 6)
    area = masks.flatten(1).sum(1).float()
    for small, large in ((0, 1), (2, 3), (4, 5)):
        assert area[large] > 2 * area[small]  # radii 0.12 vs 0.2: area ratio ~2.8


def test_shapes_are_what_they_claim():
    # Filled share of the bounding box: square ~1, circle ~pi/4, triangle ~1/2.
    _, masks = _render([0, 1, 2], [1, 1, 1], [4, 4, 4], image_size=128)
    fill = []
    for mask in masks[:, 0]:
        rows, cols = mask.any(1).nonzero(), mask.any(0).nonzero()
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        fill.append(float(mask.sum() / box))
    assert fill[0] == pytest.approx(0.785, abs=0.05)
    assert fill[1] == pytest.approx(1.0, abs=0.05)
    assert fill[2] == pytest.approx(0.5, abs=0.05)
    widths = masks[2, 0].sum(1)
    filled = widths.nonzero()[:, 0]
    assert widths[filled[0]] < widths[filled[-1]] / 4  # apex on top, base at the bottom


@pytest.mark.parametrize("position", range(9))
def test_objects_sit_in_their_named_cell(position):
    _, masks = _render([0], [0], [position])
    ys, xs = masks[0, 0].nonzero(as_tuple=True)
    cx, cy = POSITION_CENTRES[position]
    assert float(xs.float().mean() + 0.5) == pytest.approx(cx * 64, abs=0.5)
    assert float(ys.float().mean() + 0.5) == pytest.approx(cy * 64, abs=0.5)


def test_large_shapes_in_corners_stay_inside():
    corners = {0: (-1, -1), 2: (1, -1), 6: (-1, 1), 8: (1, 1)}
    shape, size, position, offset = [], [], [], []
    for cell, direction in corners.items():
        for s in range(3):
            shape.append(s), size.append(1), position.append(cell)
            offset.append([[d * MAX_JITTER for d in direction]])
    images, _ = _render(shape, size, position, offset=torch.tensor(offset))
    border = torch.cat([images[..., 0, :], images[..., -1, :], images[..., :, 0],
                        images[..., :, -1]], dim=-1)
    assert int(border.max()) == 0


def test_render_accepts_one_object_per_row_and_rejects_bad_indices():
    images, masks = render_shapes(torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([1, 0]),
                                  torch.tensor([4, 0]), image_size=16)
    assert images.shape == (2, 3, 16, 16) and masks.shape == (2, 1, 16, 16)
    with pytest.raises(ValueError):
        render_shapes(torch.tensor([3]), torch.tensor([0]), torch.tensor([0]), torch.tensor([0]))


def test_options_validation():
    with pytest.raises(pydantic.ValidationError):
        ShapesOptions(n_trian=5)
    with pytest.raises(pydantic.ValidationError):
        ShapesOptions(objects=2, min_objects=3)
    with pytest.raises(pydantic.ValidationError):
        ShapesOptions(background=(0, 0, 300))
    with pytest.raises(DataError, match="image_size"):
        _shapes(image_size=8)
    assert all(field.description for field in ShapesOptions.model_fields.values())

"""Image-to-image data (`data.pairs`): inputs derived from images, unpaired class domains, and
the pix2pix / CycleGAN folder layouts, with their one-line errors."""

from pathlib import Path

import kornia
import numpy as np
import pytest
import torch
from PIL import Image

from genlab.data import DataConfig, DataWarning, ShapesOptions, load_dataset
from genlab.data.fashion_mnist import find_root
from genlab.data.registry import dataset_split
from genlab.errors import ConfigError, DataError
from genlab.metrics.judge import data_fingerprint
from genlab.runs.config import load_config

TINY = ShapesOptions(n_train=64, n_test=32)


def shapes(pairs: str, **kw) -> DataConfig:
    return DataConfig(name="shapes", shapes=TINY, pairs=pairs, **kw)


def test_edges_are_canny_of_the_luminance() -> None:
    data = shapes("edges").load("train", seed=0)
    assert data.inputs.shape == (64, 1, 32, 32) and data.inputs.dtype == torch.uint8
    assert set(data.inputs.unique().tolist()) == {0, 255} and data.paired
    assert data.domains == ("edges", "image")
    grey = np.stack([np.asarray(Image.fromarray(im.permute(1, 2, 0).numpy()).convert("L"))
                     for im in data.images])
    _, reference = kornia.filters.canny(torch.from_numpy(grey)[:, None].float() / 255, 0.1, 0.2)
    assert torch.equal(data.inputs, (reference * 255).to(torch.uint8))
    # edges lie on the objects' outlines: none far from every object
    near = torch.nn.functional.max_pool2d(data.masks.any(1, keepdim=True).float(), 5, 1, 2)
    assert not (data.inputs.bool() & (near == 0)).any()
    again = shapes("edges").load("train", seed=0)
    assert torch.equal(again.inputs, data.inputs) and torch.equal(again.images, data.images)


def test_labels_paint_each_object_by_its_shape_only() -> None:
    opts = TINY.model_copy(update={"objects": 3})
    data = DataConfig(name="shapes", shapes=opts, pairs="labels").load("test", seed=1)
    assert data.inputs.shape == (32, 1, 32, 32) and data.domains == ("labels", "image")
    levels = {0: 85, 1: 170, 2: 255}  # circle, square, triangle
    label_map = data.inputs[:, 0]
    for i in range(len(data)):
        for k, shape in enumerate(data.attributes["shape"][i].tolist()):
            if shape >= 0:
                assert (label_map[i][data.masks[i, k]] == levels[shape]).all()
        assert (label_map[i][~data.masks[i].any(0)] == 0).all()
    # no colour: scenes differing only in colour give the same map
    assert sorted(label_map.unique().tolist()) == [0, 85, 170, 255]


def test_grey_is_pil_luminance() -> None:
    data = shapes("grey").load("train", seed=0)
    assert data.inputs.shape == (64, 1, 32, 32) and data.domains == ("grey", "colour")
    for i in range(0, 64, 7):
        expect = np.asarray(Image.fromarray(data.images[i].permute(1, 2, 0).numpy()).convert("L"))
        assert np.array_equal(data.inputs[i, 0].numpy(), expect)


@pytest.mark.parametrize("factor", [2, 4])
def test_super_resolution_inputs_are_bicubic_downscales(factor: int) -> None:
    data = shapes(f"sr{factor}", image_size=16).load("train", seed=0)
    side = 16 // factor
    assert data.images.shape[-1] == 16 and data.inputs.shape == (64, 3, side, side)
    for i in range(0, 64, 9):  # PIL's antialiased bicubic, an independent implementation
        for c in range(3):  # in float ("F"), so that PIL does not clip between its two passes
            pil = Image.fromarray(data.images[i, c].numpy().astype(np.float32))
            expect = np.clip(np.rint(np.asarray(pil.resize((side, side), Image.BICUBIC))), 0, 255)
            assert np.abs(data.inputs[i, c].numpy() - expect).max() <= 1


def test_unaligned_shape_classes_are_two_unpaired_domains() -> None:
    plain = shapes("none").load("train", seed=0)
    counts = [int((plain.labels == c).sum()) for c in (0, 1)]
    data = shapes("unaligned", domains=("circle", "square")).load("train", seed=0)
    assert not data.paired and data.domains == ("circle", "square")
    assert len(data) == max(counts) and data.inputs.shape == data.images.shape
    assert (data.labels == 1).all() and (data.attributes["shape"][:, 0] == 1).all()
    assert (data.attributes["input_shape"][:, 0] == 0).all()
    # each input is a circle image of the split, and its input_ attributes are its own
    index = {bytes(im.numpy()): j for j, im in enumerate(plain.images)}
    sources = [index[bytes(im.numpy())] for im in data.inputs]
    for key in ("colour", "position", "size"):
        assert torch.equal(data.attributes[f"input_{key}"], plain.attributes[key][sources])
    assert len(set(sources)) == counts[0]  # every circle is used
    # no correspondence: the order is a seeded permutation, other seeds differ
    again = shapes("unaligned", domains=("0", "1")).load("train", seed=0)
    assert torch.equal(again.inputs, data.inputs)
    other = shapes("unaligned", domains=("circle", "square")).load("train", seed=5)
    assert not torch.equal(other.inputs, data.inputs)
    reverse = shapes("unaligned", domains=("circle", "square"), direction="BtoA").load("train")
    assert reverse.domains == ("square", "circle") and (reverse.labels == 0).all()
    assert (reverse.attributes["input_shape"][:, 0] == 1).all()


@pytest.mark.skipif(find_root(None) is None, reason="dataset-fashion-mnist is not installed")
def test_fashion_mnist_sneakers_to_ankle_boots() -> None:
    cfg = DataConfig(name="fashion-mnist", pairs="unaligned", domains=("Sneaker", "Ankle boot"))
    data = cfg.load("test", seed=0)
    assert len(data) == 1000 and (data.labels == 9).all()  # 1000 of each class in the test set
    assert data.domains == ("Sneaker", "Ankle boot") and data.inputs.shape == (1000, 1, 28, 28)
    with pytest.raises(ConfigError, match="grey"):
        DataConfig(name="fashion-mnist", pairs="grey").load("test")


def test_direction_btoa_swaps_input_and_image() -> None:
    forward = shapes("edges").load("train", seed=0)
    back = shapes("edges", direction="BtoA").load("train", seed=0)
    assert torch.equal(back.images, forward.inputs) and torch.equal(back.inputs, forward.images)
    assert back.domains == ("image", "edges")


def test_config_overrides_load_pairs_by_the_normal_path() -> None:
    cfg = load_config(None, ["data.name=shapes", "data.pairs=edges", "data.shapes.n_train=32",
                             "data.image_size=16"])
    data = cfg.data.load("train", seed=0)
    assert data.inputs.shape == (32, 1, 16, 16)
    cfg = load_config(None, ["data.pairs=unaligned", "data.domains=[0, 2]",
                             "data.shapes.n_train=32"])
    assert cfg.data.domains == ("0", "2")
    assert cfg.data.load("train", seed=0).domains == ("circle", "triangle")


def test_pairs_none_is_the_plain_dataset_and_the_judge_ignores_pairs() -> None:
    plain = load_dataset("shapes", shapes=TINY)
    assert plain.inputs is None and plain.paired
    assert torch.equal(shapes("none").load().images, plain.images)
    assert data_fingerprint(shapes("sr2")) == data_fingerprint(shapes("none"))
    assert data_fingerprint(shapes("unaligned", domains=("0", "1"))) == \
        data_fingerprint(shapes("none"))


@pytest.mark.parametrize(("cfg", "error", "match"), [
    (dict(name="digits", pairs="labels"), ConfigError, "only the shapes dataset"),
    (dict(name="digits", pairs="grey"), ConfigError, "already grey"),
    (dict(name="shapes", pairs="sr4", image_size=18), ConfigError, "divisible by 4"),
    (dict(name="shapes", pairs="sr2", direction="BtoA"), ConfigError, "no BtoA"),
    (dict(name="shapes", pairs="labels", direction="BtoA"), ConfigError, "no BtoA"),
    (dict(name="shapes", pairs="unaligned", domains=("circle", "hexagon")), ConfigError,
     "unknown class 'hexagon'.*circle, square, triangle"),
    (dict(name="shapes", pairs="unaligned", domains=("square", "1")), ConfigError, "twice"),
    (dict(name="shapes", pairs="unaligned"), ConfigError, "circle, square, triangle"),
    (dict(name="shapes", pairs="aligned"), ConfigError, "folder:PATH"),
    (dict(name="shapes", pairs="edges", domains=("0", "1")), ConfigError, "pairs=unaligned"),
    (dict(name="shapes", direction="BtoA"), ConfigError, "data.pairs"),
])
def test_bad_options_give_one_line_errors(cfg: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match) as caught:
        DataConfig(shapes=TINY, **cfg).load("train")
    assert "\n" not in str(caught.value)


# --- folders ----------------------------------------------------------------------------------


def _noise(seed: int, size: tuple[int, int] = (8, 8)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def _save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _aligned(folder: Path, n: int, start: int = 0) -> None:
    """Files of A | B side by side where B = 255 - A: the pairing can be checked by content."""
    for i in range(start, start + n):
        a = _noise(i)
        _save(np.concatenate([a, 255 - a], axis=1), folder / f"{i:03d}.png")


def _folder(path: Path, pairs: str, **kw) -> DataConfig:
    return DataConfig(name=f"folder:{path}", pairs=pairs, image_size=8, **kw)


def test_aligned_folder_puts_a_in_the_input_and_b_in_the_image(tmp_path: Path) -> None:
    _aligned(tmp_path / "train", 5)
    _aligned(tmp_path / "val", 2, start=50)  # edges2shoes ships train/ and val/
    train = _folder(tmp_path, "aligned").load("train")
    assert train.inputs.shape == train.images.shape == (5, 3, 8, 8) and train.paired
    assert torch.equal(train.images, 255 - train.inputs)
    assert torch.equal(train.inputs[0], torch.from_numpy(_noise(0)).permute(2, 0, 1))
    assert train.split is None and dataset_split(f"folder:{tmp_path}", "aligned")["rule"] == "own"
    test = _folder(tmp_path, "aligned").load("test")
    assert len(test) == 2 and torch.equal(test.images, 255 - test.inputs)
    back = _folder(tmp_path, "aligned", direction="BtoA").load("train")
    assert torch.equal(back.inputs, train.images) and back.domains == ("B", "A")


def test_aligned_folder_without_split_holds_out_ten_percent(tmp_path: Path) -> None:
    _aligned(tmp_path, 110)
    train, test = (_folder(tmp_path, "aligned").load(s) for s in ("train", "test"))
    assert (len(train), len(test)) == (99, 11)
    assert torch.equal(train.images, 255 - train.inputs)
    assert train.split["rule"] == "held-out" and train.split["layout"] == "aligned"
    assert dataset_split(f"folder:{tmp_path}", "aligned") == train.split


def test_folders_a_and_b_pair_by_name(tmp_path: Path) -> None:
    for i, name in enumerate(["cat", "dog", "emu"]):
        _save(_noise(i), tmp_path / "A" / f"{name}.png")
        suffix = ".bmp" if name == "emu" else ".png"  # partners share the stem, not the suffix
        _save(255 - _noise(i), tmp_path / "B" / f"{name}{suffix}")
    with pytest.warns(DataWarning, match="too few to hold out"):
        data = _folder(tmp_path, "folders").load("train")
    assert len(data) == 3 and data.paired and data.domains == ("A", "B")
    assert torch.equal(data.images, 255 - data.inputs)
    assert torch.equal(data.inputs[1], torch.from_numpy(_noise(1)).permute(2, 0, 1))


def test_unaligned_folders_are_unpaired_domains(tmp_path: Path) -> None:
    red, blue = np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)
    red[..., 0], blue[..., 2] = 200, 200
    for i in range(3):
        red[..., 0] = 200 + i
        _save(red, tmp_path / "trainA" / f"{i}.png")
    for i in range(5):
        blue[..., 2] = 200 + i
        _save(blue, tmp_path / "trainB" / f"{i}.png")
    _save(red, tmp_path / "testA" / "x.png")
    _save(blue, tmp_path / "testB" / "y.png")
    data = _folder(tmp_path, "unaligned").load("train", seed=3)
    assert len(data) == 5 and not data.paired
    assert (data.inputs[:, 0] >= 200).all() and (data.inputs[:, 2] == 0).all()
    assert (data.images[:, 2] >= 200).all() and (data.images[:, 0] == 0).all()
    assert len({int(im[2, 0, 0]) for im in data.images}) == 5  # every B image once
    assert len({int(im[0, 0, 0]) for im in data.inputs}) == 3  # every A image, one repeated
    assert len(_folder(tmp_path, "unaligned").load("test")) == 1


def test_unaligned_folder_without_test_folders_holds_out_each_domain(tmp_path: Path) -> None:
    for domain, n in (("A", 60), ("B", 50)):
        for i in range(n):
            _save(_noise(i), tmp_path / f"train{domain}" / f"{i}.png")
    train, test = (_folder(tmp_path, "unaligned").load(s) for s in ("train", "test"))
    assert (len(train), len(test)) == (54, 6)  # max of (54, 45) and of (6, 5)
    assert train.split["rule"] == "held-out" and "each domain" in train.split["summary"]
    assert train.split["test_files"] == 11
    assert dataset_split(f"folder:{tmp_path}", "unaligned") == train.split


def test_folders_with_split_subfolders(tmp_path: Path) -> None:
    for split, n in (("train", 3), ("test", 2)):
        for i in range(n):
            _save(_noise(i), tmp_path / "A" / split / f"{i}.png")
            _save(255 - _noise(i), tmp_path / "B" / split / f"{i}.png")
    train, test = (_folder(tmp_path, "folders").load(s) for s in ("train", "test"))
    assert (len(train), len(test)) == (3, 2) and train.split is None
    assert torch.equal(test.images, 255 - test.inputs)


def _bad_folder(tmp_path: Path, case: str) -> tuple[Path, str, str]:
    if case == "odd":
        _save(np.zeros((8, 17, 3), np.uint8), tmp_path / "wide.png")
        return tmp_path, "aligned", r"wide\.png is 17x8"
    if case == "sizes":
        _save(_noise(0), tmp_path / "A" / "a.png")
        _save(_noise(0, (9, 9)), tmp_path / "B" / "a.png")
        return tmp_path, "folders", r"A/a\.png is 8x8 but its partner .*B/a\.png is 9x9"
    if case == "partner":
        for name in ("a", "b"):
            _save(_noise(0), tmp_path / "A" / f"{name}.png")
        _save(_noise(0), tmp_path / "B" / "a.png")
        return tmp_path, "folders", r"A/b\.png has no partner"
    if case == "reverse":
        _save(_noise(0), tmp_path / "A" / "a.png")
        _save(_noise(0), tmp_path / "B" / "c.png")
        return tmp_path, "folders", r"A/a\.png has no partner"
    _save(_noise(0), tmp_path / "trainA" / "a.png")
    (tmp_path / "trainB").mkdir()
    if case == "missing":
        (tmp_path / "trainB").rmdir()
        return tmp_path, "unaligned", "trainB does not exist"
    return tmp_path, "unaligned", "trainB holds no image files"


@pytest.mark.parametrize("case", ["odd", "sizes", "partner", "reverse", "empty", "missing"])
def test_bad_folders_give_one_line_errors(tmp_path: Path, case: str) -> None:
    path, layout, match = _bad_folder(tmp_path, case)
    with pytest.raises(DataError, match=match) as caught:
        _folder(path, layout).load("train")
    assert "\n" not in str(caught.value)

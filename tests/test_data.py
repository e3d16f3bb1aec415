"""Dataset registry and the file-backed loaders: digits, fashion-mnist, torchvision, folders."""

import gzip
import json
import socket
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.data import DATASET_NAMES, DataWarning, dataset_status, load_dataset
from genlab.data.fashion_mnist import DEFAULT_ROOT as FASHION_ROOT
from genlab.data.registry import dataset_split
from genlab.errors import DataError

TORCHVISION_SETS = ["mnist", "cifar10", "svhn", "celeba"]


def _idx_bytes(array: np.ndarray) -> bytes:
    magic = 0x0800 | array.ndim  # unsigned-byte IDX
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def _write_fashion(folder: Path, n_train: int = 5, n_test: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        arrays[prefix] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[prefix + "-labels"] = rng.integers(0, 10, n, dtype=np.uint8)
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(_idx_bytes(arrays[prefix])))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(_idx_bytes(arrays[prefix + "-labels"])))
    return arrays


def _png(path: Path, colour, size=(40, 20), mode="RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)


def _load_with_warnings(name: str, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_dataset(name, **kwargs)
    return data, [w for w in caught if issubclass(w.category, DataWarning)]


# --- registry -------------------------------------------------------------------------------

def test_unknown_name_lists_valid_names():
    with pytest.raises(DataError, match="unknown dataset 'imagenet'.*shapes.*fashion-mnist"):
        load_dataset("imagenet")
    with pytest.raises(DataError, match="split"):
        load_dataset("digits", split="valid")
    with pytest.raises(DataError, match="folder:PATH"):
        load_dataset("folder:")


def test_dataset_status_rows(tmp_path):
    rows = dataset_status(str(tmp_path))
    assert [row.name for row in rows] == DATASET_NAMES
    by_name = {row.name: row for row in rows}
    assert by_name["shapes"].available and by_name["digits"].available
    assert not by_name["fashion-mnist"].available
    assert "apt-get install dataset-fashion-mnist" in by_name["fashion-mnist"].detail
    for name in TORCHVISION_SETS:
        assert not by_name[name].available and "--download" in by_name[name].detail
    assert "folder:PATH" in by_name["folder:PATH"].detail
    assert all("\n" not in row.detail for row in rows)
    _write_fashion(tmp_path / "fashion-mnist")
    assert {r.name: r for r in dataset_status(str(tmp_path))}["fashion-mnist"].available


# --- digits ---------------------------------------------------------------------------------

def test_digits_split_sizes_classes_and_determinism():
    train, test = load_dataset("digits"), load_dataset("digits", split="test")
    assert train.images.shape[1:] == (1, 32, 32) and train.images.dtype == torch.uint8
    assert len(train) + len(test) == 1797 and len(train) == 1438
    assert train.class_names == [str(d) for d in range(10)]
    assert set(train.labels.tolist()) == set(test.labels.tolist()) == set(range(10))
    assert train.captions[0] == f"a handwritten digit {int(train.labels[0])}"
    again = load_dataset("digits", seed=5)  # the split does not depend on the run seed
    assert torch.equal(again.images, train.images) and torch.equal(again.labels, train.labels)
    native = load_dataset("digits", image_size=8)
    assert native.image_size == 8 and int(native.images.max()) == 255


# --- fashion-mnist --------------------------------------------------------------------------

def test_fashion_mnist_reads_idx_files(tmp_path):
    arrays = _write_fashion(tmp_path)
    train = load_dataset("fashion-mnist", root=str(tmp_path))
    assert train.images.shape == (5, 1, 28, 28)
    assert np.array_equal(train.images[:, 0].numpy(), arrays["train"])
    assert train.labels.tolist() == arrays["train-labels"].tolist()
    assert train.class_names[9] == "Ankle boot"
    assert train.captions[0] == f"a photo of a {train.class_names[int(train.labels[0])]}"
    test = load_dataset("fashion-mnist", split="test", root=str(tmp_path), image_size=32)
    assert test.images.shape == (3, 1, 32, 32)


def test_fashion_mnist_torchvision_layout(tmp_path):
    _write_fashion(tmp_path / "FashionMNIST" / "raw")
    assert len(load_dataset("fashion-mnist", root=str(tmp_path))) == 5


@pytest.mark.parametrize("damage", ["garbage", "magic", "truncated", "mismatch"])
def test_fashion_mnist_corrupt_files(tmp_path, damage):
    _write_fashion(tmp_path)
    images = tmp_path / "train-images-idx3-ubyte.gz"
    if damage == "garbage":
        images.write_bytes(b"this is not gzip")
    elif damage == "magic":
        images.write_bytes(gzip.compress(struct.pack(">IIII", 0x0801, 5, 28, 28) + bytes(5 * 784)))
    elif damage == "truncated":
        images.write_bytes(gzip.compress(struct.pack(">IIII", 0x0803, 5, 28, 28) + bytes(100)))
    else:
        images.write_bytes(gzip.compress(_idx_bytes(np.zeros((4, 28, 28), np.uint8))))
    with pytest.raises(DataError, match="reinstall"):
        load_dataset("fashion-mnist", root=str(tmp_path))


def test_fashion_mnist_missing(tmp_path):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist", root=str(tmp_path / "nowhere"))


@pytest.mark.skipif(not Path(FASHION_ROOT).is_dir(), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_installed_files():
    train, test = load_dataset("fashion-mnist"), load_dataset("fashion-mnist", split="test")
    assert len(train) == 60000 and len(test) == 10000
    assert train.images.shape[1:] == (1, 28, 28)
    assert train.labels.bincount().tolist() == [6000] * 10


# --- torchvision sets -----------------------------------------------------------------------

@pytest.mark.parametrize("name", TORCHVISION_SETS)
def test_torchvision_missing_without_download(tmp_path, name):
    with pytest.raises(DataError, match=f"{name} not found under .*--download"):
        load_dataset(name, root=str(tmp_path))


@pytest.mark.parametrize("name", TORCHVISION_SETS)
def test_torchvision_download_offline(tmp_path, monkeypatch, name):
    # Fail name resolution like an offline machine does: hermetic, instant, never downloads.
    def offline(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    with pytest.raises(DataError, match=rf"could not download {name} \(no internet\?\): \S"):
        load_dataset(name, root=str(tmp_path), download=True)


def _write_mnist(root: Path, n: int) -> None:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix in ("train", "t10k"):
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            _idx_bytes(np.full((n, 28, 28), 7, np.uint8)))
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx_bytes(np.arange(n) % 10))


def test_mnist_from_local_files(tmp_path):
    _write_mnist(tmp_path, 12)
    data = load_dataset("mnist", root=str(tmp_path), image_size=32)
    assert data.images.shape == (12, 1, 32, 32) and int(data.images.max()) == 7
    assert data.labels.tolist() == [i % 10 for i in range(12)]
    assert data.captions[3] == "a handwritten digit 3"
    assert {r.name: r for r in dataset_status(str(tmp_path))}["mnist"].available


def test_mnist_corrupt_local_files(tmp_path):
    _write_mnist(tmp_path, 4)
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"garbage")
    with pytest.raises(DataError, match="unreadable"):
        load_dataset("mnist", root=str(tmp_path))


# --- folder:PATH ----------------------------------------------------------------------------

def test_folder_with_classes_and_a_corrupt_file(tmp_path):
    for i in range(3):
        _png(tmp_path / "cats" / f"{i}.png", (200, 10, 10))
    for i in range(2):
        _png(tmp_path / "dogs" / "nested" / f"{i}.png", (10, 10, 200), size=(20, 50))
    (tmp_path / "cats" / "bad.png").write_bytes(b"\x00garbage, not a png" * 10)
    data, caught = _load_with_warnings(f"folder:{tmp_path}")
    assert data.class_names == ["cats", "dogs"] and data.labels.tolist() == [0, 0, 0, 1, 1]
    assert data.images.shape == (5, 3, 32, 32)
    # labelled, no captions.jsonl: captions from the default template
    assert data.captions == ["a photo of a cats"] * 3 + ["a photo of a dogs"] * 2
    assert data.images[0, :, 16, 16].tolist() == [200, 10, 10]
    assert data.images[4, :, 16, 16].tolist() == [10, 10, 200]
    assert len(caught) == 1
    assert "skipped 1 of 6 files" in str(caught[0].message) and "bad.png" in str(caught[0].message)


def test_folder_unlabelled_grayscale_with_captions(tmp_path):
    for i in range(3):
        _png(tmp_path / f"{i}.png", 100 + i, mode="L")
    lines = [{"file": "0.png", "caption": "a grey square"}, {"file": "2.png", "caption": "lighter"}]
    (tmp_path / "captions.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    data, caught = _load_with_warnings(f"folder:{tmp_path}", image_size=16)
    assert len(caught) == 1  # the captions and the folder's size, in one line
    assert str(caught[0].message).startswith(
        'captions.jsonl: 1 of 3 images have no caption (given ""); '
        f"{tmp_path} has only 3 files, too few to hold out a test split")
    assert data.labels is None and data.class_names == []
    assert data.images.shape == (3, 1, 16, 16)
    assert data.captions == ["a grey square", "", "lighter"]
    _png(tmp_path / "3.png", (1, 2, 3))  # one colour image makes the whole set RGB
    with pytest.warns(DataWarning, match="2 of 4 images"):
        assert load_dataset(f"folder:{tmp_path}").channels == 3


def test_folder_train_test_subfolders(tmp_path):
    for split, n in (("train", 3), ("test", 2)):
        for i in range(n):
            _png(tmp_path / split / "a" / f"{i}.png", (0, 0, 0))
    assert len(load_dataset(f"folder:{tmp_path}")) == 3
    assert len(load_dataset(f"folder:{tmp_path}", split="test")) == 2


def _random_pngs(folder: Path, n: int, seed: int, start: int = 0) -> None:
    """n distinct 16x16 RGB images, so each decoded image tells which file it came from."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def _keys(data) -> set[bytes]:
    return {image.numpy().tobytes() for image in data.images}


def test_folder_without_splits_holds_out_a_seeded_tenth_of_each_class(tmp_path):
    # Issue 18.4: the test split was the whole folder, so the judge's test accuracy and the
    # real-vs-real floor were measured on training images.
    _random_pngs(tmp_path / "cats", 70, seed=1)
    _random_pngs(tmp_path / "dogs", 41, seed=2)
    train, caught = _load_with_warnings(f"folder:{tmp_path}", image_size=16)
    test = load_dataset(f"folder:{tmp_path}", split="test", image_size=16)
    assert not caught  # 111 files: large enough to split
    assert (len(train), len(test)) == (111 - 12, 12)  # ceil(10% of 70) + ceil(10% of 41)
    assert test.labels.bincount().tolist() == [7, 5] and test.class_names == ["cats", "dogs"]
    assert train.labels.bincount().tolist() == [63, 36]
    assert not _keys(train) & _keys(test) and len(_keys(train) | _keys(test)) == 111
    assert train.split == test.split and test.split["rule"] == "held-out"
    assert (test.split["percent"], test.split["seed"], test.split["by_class"]) == (10, 0, True)
    assert "held out 12 of 111 files" in test.split["summary"]
    assert dataset_split(f"folder:{tmp_path}") == test.split  # from the listing alone
    assert _keys(load_dataset(f"folder:{tmp_path}", split="test", image_size=16)) == _keys(test)
    # The draw hashes each file's path: adding images leaves the held-out cats held out.
    _random_pngs(tmp_path / "dogs", 20, seed=3, start=41)
    again = load_dataset(f"folder:{tmp_path}", split="test", image_size=16)
    def cats(data):
        return {image.numpy().tobytes() for image in data.images[data.labels == 0]}

    assert cats(again) == cats(test)


def test_unlabelled_folder_holds_out_a_tenth_and_splits_captions_along(tmp_path):
    _random_pngs(tmp_path, 100, seed=4)
    lines = [json.dumps({"file": f"{i}.png", "caption": f"image {i}"}) for i in range(100)]
    (tmp_path / "captions.jsonl").write_text("\n".join(lines))
    train = load_dataset(f"folder:{tmp_path}", image_size=16)
    test = load_dataset(f"folder:{tmp_path}", split="test", image_size=16)
    assert (len(train), len(test), test.labels, test.split["by_class"]) == (90, 10, None, False)
    assert not set(train.captions) & set(test.captions)
    assert len(set(train.captions) | set(test.captions)) == 100


def test_a_folder_too_small_to_split_is_whole_in_both_and_says_so_once(tmp_path):
    _random_pngs(tmp_path / "a", 60, seed=5)
    _random_pngs(tmp_path / "b", 38, seed=6)
    (tmp_path / "b" / "bad.png").write_bytes(b"not a png")  # 99 files, 98 images
    train, caught = _load_with_warnings(f"folder:{tmp_path}", image_size=16)
    test, _ = _load_with_warnings(f"folder:{tmp_path}", split="test", image_size=16)
    assert len(train) == len(test) == 98 and _keys(train) == _keys(test)
    assert test.split["rule"] == "whole-folder" and test.split["files"] == 99
    assert len(caught) == 1, caught  # one line: the skipped file and the size
    message = str(caught[0].message)
    assert "skipped 1 of 99 files" in message and "\n" not in message
    assert "too few to hold out a test split (100 needed)" in message
    assert "train/ and test/ sub-folders" in message


@pytest.mark.filterwarnings("ignore::genlab.data.DataWarning")
def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(f"folder:{tmp_path / 'missing'}")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="no readable images"):
        load_dataset(f"folder:{tmp_path}")
    (tmp_path / "captions.jsonl").write_text("{not json")
    _png(tmp_path / "x.png", (0, 0, 0))
    with pytest.warns(DataWarning, match="captions.jsonl:1"):  # a broken line is not fatal
        assert load_dataset(f"folder:{tmp_path}").captions == [""]


def test_pad_adds_a_black_border_after_the_resize():
    plain = load_dataset("shapes", split="test", image_size=16)
    padded = load_dataset("shapes", split="test", image_size=16, pad=2)
    assert padded.images.shape[1:] == (3, 20, 20) and padded.masks.shape[-1] == 20
    assert torch.equal(padded.images[:, :, 2:-2, 2:-2], plain.images)
    border = padded.images.clone()
    border[:, :, 2:-2, 2:-2] = 0
    assert int(border.max()) == 0
    assert torch.equal(padded.labels, plain.labels)


def test_pad_is_refused_for_folders_of_pairs(tmp_path):
    from genlab.errors import ConfigError

    with pytest.raises(ConfigError, match="data.pad"):
        load_dataset(f"folder:{tmp_path}", pairs="aligned", pad=2)

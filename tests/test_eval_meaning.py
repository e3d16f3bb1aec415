"""Metrics that say what they mean (issue 18, points 4 and 9): a folder's held-out test split in
run.json, judge fingerprints and reports; KID without a fake ±; a report that says how to read
precision & co; Inception weights checked against the hash their name carries."""

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import assert_one_line_error, run_cli
from genlab.data import ImageData
from genlab.data.config import DataConfig
from genlab.errors import EvalError
from genlab.methods.base import DataInfo
from genlab.metrics import inception as inception_module
from genlab.metrics import judge as judge_module
from genlab.metrics.evaluate import Evaluator
from genlab.metrics.inception import (
    WEIGHTS_FILE,
    InceptionFeatures,
    InceptionWeightsWarning,
    check_weights,
    write_random_inception_weights,
)
from genlab.metrics.judge import train_judge
from genlab.metrics.report import write_report
from genlab.metrics.stats import kid
from genlab.runs.config import load_config
from genlab.runs.folder import RUN_INFO, run_files


@pytest.fixture(autouse=True)
def judge_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))


def _class_folder(root: Path, sizes: dict[str, int]) -> Path:
    """Class sub-folders of distinct random 16x16 images (decoded unchanged at image_size 16)."""
    for seed, (name, n) in enumerate(sizes.items()):
        rng = np.random.default_rng(seed)
        (root / name).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            pixels[..., seed % 3] //= 4  # the classes differ in colour: a judge can read them
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


# --- point 4: a folder without train/ and test/ is judged on held-out images ------------------

def test_run_json_says_how_a_folder_was_split(tmp_path):
    folder = _class_folder(tmp_path / "data", {"a": 60, "b": 50})
    cfg = load_config(None, [f"data.name=folder:{folder}", "data.image_size=16"])
    meta = json.loads(run_files(cfg, DataInfo(3, 16, 2, ["a", "b"]))[RUN_INFO])
    split = meta["split"]
    assert (split["rule"], split["percent"], split["seed"], split["test_files"]) == (
        "held-out", 10, 0, 11)
    assert "training uses" in split["summary"] and "other 99" in split["summary"]
    shapes = load_config(None, [])
    assert json.loads(run_files(shapes, DataInfo(3, 32))[RUN_INFO])["split"]["rule"] == "own"


def test_the_judge_fingerprint_changes_with_the_split(tmp_path):
    # Judges cached before the split trained and tested on the whole folder: their fingerprint
    # hashed the whole folder twice. The held-out split must not match it.
    folder = _class_folder(tmp_path / "data", {"a": 60, "b": 50})
    arrays, labels = [], []
    for label, name in enumerate(("a", "b")):
        for file in sorted((folder / name).iterdir()):
            arrays.append(np.asarray(Image.open(file)).transpose(2, 0, 1))
            labels.append(label)
    whole = ImageData(f"folder:{folder}", torch.from_numpy(np.stack(arrays)).contiguous(),
                      torch.tensor(labels), ["a", "b"])
    cfg = DataConfig(name=f"folder:{folder}", image_size=16)
    assert judge_module.data_fingerprint(cfg) != judge_module._fingerprint(whole, whole)
    assert judge_module.data_fingerprint(cfg) == judge_module.data_fingerprint(cfg)


def test_evaluating_a_folder_uses_its_held_out_part_and_the_report_says_so(tmp_path):
    folder = _class_folder(tmp_path / "data", {"a": 60, "b": 50})
    cfg = DataConfig(name=f"folder:{folder}", image_size=16)
    train_judge(cfg, epochs=2, progress=False)  # cached: the evaluator finds it, quickly
    ev = Evaluator(cfg, n=64, progress=False)
    protocol = ev.protocol()
    assert ev.n_real == 11  # the held-out part, not 64 of the 110 training images
    assert protocol["split_rule"] == "held-out" and "held out 11 of 110" in protocol["split"]
    assert protocol["floor"] == "train split vs test split"
    floor = ev.floor()  # 11 train images against the 11 held-out ones (disjoint: test_data)
    _, report = write_report(tmp_path / "ev", title="t", results=floor, floor=floor,
                             protocol=protocol, class_names=ev.class_names)
    text = report.read_text()
    assert "held out 11 of 110 files" in text and "measured on the held-out test split" in text


def test_a_folder_too_small_to_split_is_flagged_in_the_report(tmp_path):
    folder = _class_folder(tmp_path / "data", {"a": 15, "b": 15})
    cfg = DataConfig(name=f"folder:{folder}", image_size=16)
    with pytest.warns(UserWarning, match="too few to hold out a test split"):
        train_judge(cfg, epochs=2, progress=False)
        ev = Evaluator(cfg, n=64, progress=False)
    protocol = ev.protocol()
    assert protocol["split_rule"] == "whole-folder" and "itself" in protocol["floor"]
    _, report = write_report(tmp_path / "ev", title="t", results=ev.floor(), floor=ev.floor(),
                             protocol=protocol, class_names=ev.class_names)
    text = report.read_text()
    assert "compares the folder with itself and is no floor at all" in text
    assert "measured on its own training images" in text


# --- point 9a: KID with n at most the subset size has no spread -------------------------------

def test_kid_of_whole_sets_has_no_spread_and_the_report_says_why(tmp_path):
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(64, 8)), rng.normal(size=(64, 8)) + 0.3
    value, std = kid(real, fake, subset_size=1000)
    assert std is None and value > 0  # was a float ~1e-16, printed as "± 4e-16"
    results = {"kid": value, "kid_std": std, "fid": 1.0}
    floor = {"kid": 0.001, "kid_std": None, "fid": 0.5}
    _, report = write_report(tmp_path, title="t", results=results, floor=floor,
                             protocol={"n_real": 64, "n_generated": 64}, class_names=[])
    text = report.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| KID |"))
    assert row.count("± n/a") == 2 and "e-1" not in row
    assert "every subset is the whole set" in text


# --- point 9b: the report says how to read its numbers -----------------------------------------

def test_the_report_says_how_to_read_precision_and_the_floor(tmp_path):
    results = {"fid": 5.0, "precision": 0.03, "recall": 0.5, "density": 0.1, "coverage": 0.2}
    floor = {"fid": 1.0, "precision": 0.7, "recall": 0.7, "density": 1.0, "coverage": 0.9}
    protocol = {"n_generated": 500, "features": "judge", "feature_dim": 128, "n_real": 400,
                "split_rule": "own", "split": "the dataset's own train and test splits",
                "prdc_k": 5, "judge_test_accuracy": 0.93, "judge_fingerprint": "0123abcd"}
    _, report = write_report(tmp_path, title="t", results=results, floor=floor,
                             protocol=protocol, class_names=[])
    text = report.read_text()
    notes = text[text.index("## How to read these numbers"):]
    for needle in ("k = 5", "judge's 128-d features", "not Inception", "never with FIDs in papers",
                   "500 generated images against 400 real test images", "**Floor**",
                   "against the floor's, not against 1", "the dataset's own train and test"):
        assert needle in notes, needle


# --- point 9c: Inception weights are checked against the hash their name carries --------------

@pytest.fixture(scope="module")
def random_weights(tmp_path_factory) -> Path:
    """Loadable Inception weights that are not torch-fidelity's (written once: ~4 s, 96 MB);
    tests link them under the names they need."""
    return write_random_inception_weights(tmp_path_factory.mktemp("inception") / "random.pth")


def _named(weights: Path, name: str, folder: Path) -> Path:
    (folder / name).symlink_to(weights)
    return folder / name


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_inception_weights_whose_name_hash_does_not_match_are_refused(tmp_path):
    bad = tmp_path / WEIGHTS_FILE  # the official name, other content
    torch.save({"conv.weight": torch.ones(2, 2)}, bad)
    with pytest.raises(EvalError) as caught:
        InceptionFeatures(bad)
    message = str(caught.value)
    assert "\n" not in message and "damaged or not the file its name says" in message
    assert WEIGHTS_FILE in message.replace(str(bad), "")  # names the file to get...
    assert "github.com/toshas/torch-fidelity/releases" in message  # ...where from...
    assert "hub" in message and "checkpoints" in message  # ...and where torch-fidelity keeps it


def test_unreadable_weights_are_one_error_and_no_warning(tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file" * 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "not torch-fidelity's" line before the error
        with pytest.raises(EvalError, match="unreadable"):
            InceptionFeatures(garbage)


def test_cli_refuses_mismatched_inception_weights(trained_run, random_weights, tmp_path, capsys):
    # Loadable weights that are not torch-fidelity's, under its file's name: they used to give
    # wrong FIDs without a word.
    bad = _named(random_weights, WEIGHTS_FILE, tmp_path)
    code, _, err = run_cli(["eval", trained_run, "--n", "12", "--features", "inception",
                            "--inception-weights", bad], capsys)
    assert_one_line_error(code, err, "damaged or not the file its name says", WEIGHTS_FILE,
                          "torch-fidelity")


@pytest.mark.parametrize("hashed_name", [True, False])
def test_weights_that_are_not_torch_fidelitys_are_used_with_a_warning(random_weights, tmp_path,
                                                                      hashed_name):
    digest = _sha256(random_weights)
    name = f"weights-inception-2015-12-05-{digest[:8]}.pth" if hashed_name else "inception.pth"
    path = _named(random_weights, name, tmp_path)
    assert check_weights(path) == (digest, False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = InceptionFeatures(path)
    messages = [str(w.message) for w in caught if w.category is InceptionWeightsWarning]
    assert len(messages) == 1 and "\n" not in messages[0]
    assert f"not torch-fidelity's {WEIGHTS_FILE}" in messages[0] and "not comparable" in messages[0]
    assert net.describe().startswith(f"sha256 {digest[:16]}, not torch-fidelity's")


def test_torch_fidelitys_own_file_is_used_silently(random_weights, tmp_path, monkeypatch):
    digest = _sha256(random_weights)  # pretend these are the official weights
    monkeypatch.setattr(inception_module, "WEIGHTS_FILE", f"weights-x-{digest[:8]}.pth")
    path = _named(random_weights, "renamed.pth", tmp_path)  # official content, any name
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = InceptionFeatures(path)
    assert check_weights(path) == (digest, True)
    assert net.describe() == f"torch-fidelity's weights-x-{digest[:8]}.pth"

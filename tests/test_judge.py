"""Judges: the net's outputs, a quick real training run, the fingerprinted cache and its errors."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.data import ShapesOptions
from genlab.data.config import DataConfig
from genlab.errors import EvalError
from genlab.images import to_float
from genlab.metrics import judge as judge_module
from genlab.metrics.judge import (
    Judge,
    data_fingerprint,
    judge_cache_dir,
    load_judge,
    train_judge,
)
from genlab.nets.judge import JudgeNet

# Small enough to train in seconds, large enough to learn shapes well.
SMALL = DataConfig(name="shapes", image_size=16, shapes=ShapesOptions(n_train=2000, n_test=500))


@pytest.mark.parametrize("size", [16, 28, 32])
@pytest.mark.parametrize("channels", [1, 3])
def test_net_output_shapes(size: int, channels: int):
    net = JudgeNet(channels, size, num_classes=7, width=8, feature_dim=16)
    logits, features = net(torch.randn(3, channels, size, size))
    assert logits.shape == (3, 7) and features.shape == (3, 16)
    assert bool((features >= 0).all())  # taken after the ReLU


def test_net_needs_two_classes():
    with pytest.raises(ValueError, match="2 classes"):
        JudgeNet(3, 32, num_classes=1)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENLAB_CACHE", str(root))
        yield root


@pytest.fixture(scope="module")
def trained(cache: Path) -> Judge:
    return train_judge(SMALL, epochs=3, progress=False)


def _no_training(monkeypatch: pytest.MonkeyPatch) -> list[DataConfig]:
    """Replace train_judge by a recorder so a test can tell whether training was asked for."""
    calls: list[DataConfig] = []
    monkeypatch.setattr(judge_module, "train_judge", lambda cfg, **_: calls.append(cfg))
    return calls


def test_trained_judge(trained: Judge, cache: Path):
    assert trained.test_accuracy > 0.9
    assert (trained.dataset, trained.num_classes, trained.channels, trained.image_size) == (
        "shapes", 3, 3, 16)
    assert trained.path is not None and trained.path.parent == cache / "judges"
    assert trained.path.name == f"shapes-16px-{trained.fingerprint[:16]}"
    meta = json.loads((trained.path / "judge.json").read_text())
    assert meta["fingerprint"] == trained.fingerprint and meta["epochs"] == 3
    assert meta["test_accuracy"] == pytest.approx(trained.test_accuracy)
    assert (trained.path / "weights.safetensors").is_file()


def test_predict(trained: Judge):
    images = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8)
    logits, features = trained.predict(images, batch_size=2)
    assert logits.shape == (5, 3) and features.shape == (5, 128)
    assert logits.dtype == features.dtype == torch.float32
    again, _ = trained.predict(to_float(images))
    assert torch.allclose(logits, again)
    empty_logits, empty_features = trained.predict(images[:0])
    assert empty_logits.shape == (0, 3) and empty_features.shape == (0, 128)
    with pytest.raises(EvalError, match="16"):
        trained.predict(torch.zeros(2, 3, 32, 32))


def test_cached_judge_is_reused(trained: Judge, monkeypatch: pytest.MonkeyPatch):
    calls = _no_training(monkeypatch)
    loaded = load_judge(SMALL, progress=False)
    assert not calls
    assert loaded.fingerprint == trained.fingerprint == data_fingerprint(SMALL)
    assert loaded.path == trained.path and loaded.class_names == trained.class_names
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    assert torch.allclose(loaded.predict(images)[1], trained.predict(images)[1])


def test_changed_data_needs_a_new_judge(trained: Judge, monkeypatch: pytest.MonkeyPatch):
    changed = SMALL.model_copy(update={"shapes": ShapesOptions(n_train=2000, n_test=500,
                                                               background=(9, 9, 9))})
    assert data_fingerprint(changed) != trained.fingerprint
    assert data_fingerprint(SMALL, seed=1) != trained.fingerprint
    with pytest.raises(EvalError, match="genlab judge train --data shapes"):
        load_judge(changed, train_if_missing=False)
    calls = _no_training(monkeypatch)
    load_judge(changed, progress=False)
    assert calls == [changed]


def test_damaged_cache_is_retrained(trained: Judge, monkeypatch: pytest.MonkeyPatch):
    meta = trained.path / "judge.json"
    saved = meta.read_text()
    try:
        meta.write_text("{not json")
        calls = _no_training(monkeypatch)
        load_judge(SMALL, progress=False)
        assert len(calls) == 1
    finally:
        meta.write_text(saved)


def test_a_shipped_judge_is_used_instead_of_training(trained: Judge, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch):
    shipped = tmp_path / "shipped"
    for name, data in (("other", None), ("shapes-16px", trained.path)):
        (shipped / name).mkdir(parents=True)
        if data is not None:
            for f in ("judge.json", "weights.safetensors"):
                (shipped / name / f).write_bytes((data / f).read_bytes())
    (shipped / "other" / "judge.json").write_text('{"fingerprint": "for other data"}')
    monkeypatch.setattr(judge_module, "SHIPPED", shipped)
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "fresh"))
    calls = _no_training(monkeypatch)
    loaded = load_judge(SMALL, train_if_missing=False, progress=False)
    assert not calls
    assert loaded.path == tmp_path / "fresh" / "judges" / trained.path.name  # now cached
    assert (loaded.path / "weights.safetensors").read_bytes() == (
        trained.path / "weights.safetensors").read_bytes()
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    assert torch.equal(loaded.predict(images)[0], trained.predict(images)[0])


def test_nothing_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(judge_module, "SHIPPED", tmp_path / "none")
    assert judge_cache_dir() == tmp_path / "judges"
    with pytest.raises(EvalError, match="no judge for shapes at 16px"):
        load_judge(SMALL, train_if_missing=False)


def test_training_is_deterministic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path))
    tiny = DataConfig(name="shapes", image_size=16, shapes=ShapesOptions(n_train=256, n_test=32))
    state = torch.get_rng_state()
    first = train_judge(tiny, epochs=1, batch_size=64, progress=False)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's RNG is left alone
    second = train_judge(tiny, epochs=1, batch_size=64, progress=False)
    for (name, a), b in zip(first.net.state_dict().items(), second.net.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name


def test_unlabelled_data_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((16, 16, 3), 40 * i, dtype=np.uint8)).save(folder / f"{i}.png")
    data = DataConfig(name=f"folder:{folder}", image_size=16)
    with pytest.raises(EvalError, match="class labels"):
        train_judge(data, progress=False)
    with pytest.raises(EvalError, match="class labels"):
        load_judge(data, progress=False)

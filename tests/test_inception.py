"""Inception features from a local torch-fidelity weights file (random weights: no download)."""

from pathlib import Path

import pytest
import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from genlab.errors import EvalError
from genlab.metrics.inception import InceptionFeatures, write_random_inception_weights


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_inception_weights(tmp_path_factory.mktemp("inception") / "w.pth")


@pytest.fixture(scope="module")
def inception(weights: Path) -> InceptionFeatures:
    return InceptionFeatures(weights)


def test_random_weights_are_torch_fidelity_format(weights):
    # torch-fidelity itself loads the file (strict load_state_dict) from the path.
    net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                      feature_extractor_weights_path=str(weights))
    saved = torch.load(weights, weights_only=True)
    assert saved.keys() == net.state_dict().keys()
    assert all(torch.equal(saved[k], v) for k, v in net.state_dict().items())


def test_features_and_logits(inception):
    gen = torch.Generator().manual_seed(0)
    grey = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8, generator=gen)
    rgb = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=gen)
    out = {}
    for name, images, batch_size in (("grey", grey, 2), ("rgb", rgb, 64)):
        out[name] = feats, logits = inception(images, batch_size=batch_size)
        assert feats.shape == (4, 2048) and logits.shape == (4, 1008)
        assert feats.dtype == logits.dtype == torch.float32
        assert torch.isfinite(feats).all() and torch.isfinite(logits).all()
        assert feats.std(dim=0).max() > 1e-3  # different images, different features
    # Grey is the same as RGB with the channel repeated, whatever the batching.
    two, _ = inception(grey[2:].repeat(1, 3, 1, 1), batch_size=4)
    torch.testing.assert_close(two, out["grey"][0][2:], rtol=1e-4, atol=1e-4)


def test_bad_inputs_raise(inception, tmp_path):
    with pytest.raises(EvalError, match="uint8"):
        inception(torch.rand(2, 3, 32, 32))
    missing = tmp_path / "nope" / "weights.pth"
    with pytest.raises(EvalError, match="not found") as err:
        InceptionFeatures(missing)
    assert str(missing) in str(err.value) and "\n" not in str(err.value)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file" * 10)
    with pytest.raises(EvalError, match="unreadable"):
        InceptionFeatures(garbage)
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(EvalError, match="unreadable"):
        InceptionFeatures(wrong)

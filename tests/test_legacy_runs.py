"""Run folders written before the restructuring (tests/fixtures/runs-v0.1, made by commit
f21811b) still load, sample the same images and resume to the same weights."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import genlab
from conftest import run_cli
from genlab.engine.checkpoint import find_checkpoint
from genlab.runs.train import resume_config

FIXTURES = Path(__file__).parent / "fixtures" / "runs-v0.1"


@pytest.fixture
def legacy(tmp_path):
    """A writable copy (resuming writes into the run folder)."""
    for name in ("dcgan-v0", "ddpm-v0"):
        shutil.copytree(FIXTURES / name, tmp_path / name)
    return tmp_path


def _png(path):
    return np.asarray(Image.open(path)).astype(int)


def _tiles(grid, size=16, pad=2):
    """The images of a grid PNG in reading order: what was sampled, whatever the layout (3
    images of 3 classes were a column, now a row)."""
    step = size + pad
    return np.stack([grid[top:top + size, left:left + size]
                     for top in range(pad, grid.shape[0] - size + 1, step)
                     for left in range(pad, grid.shape[1] - size + 1, step)])


@pytest.mark.parametrize(("run", "n"), [("dcgan-v0", 6), ("ddpm-v0", 3)])
def test_legacy_run_samples_what_it_sampled_then(legacy, run, n, capsys):
    loaded = genlab.load_run(legacy / run)
    assert loaded.step == 4 and loaded.conditional
    out = legacy / f"{run}.png"
    code, _, err = run_cli(["sample", legacy / run, "--n", n, "--seed", 0, "--out", out,
                            "--precision", "fp32"], capsys)  # what 0.1 sampled in
    assert code == 0, err
    then = _tiles(_png(FIXTURES / "expected" / f"expected-{run.split('-')[0]}-sample.png"))
    now = _tiles(_png(out))
    assert now.shape == then.shape
    # other CPUs' kernels may round a last bit differently: allow one grey level
    assert np.abs(now - then).max() <= 1


@pytest.mark.parametrize("run", ["dcgan-v0", "ddpm-v0"])
def test_legacy_run_resumes_to_the_weights_it_reached_then(legacy, run):
    cfg = resume_config(legacy / run, None, ["train.steps=6"])
    result = genlab.train(cfg, resume=legacy / run, show_progress=False)
    assert result.step == 6
    now = load_file(find_checkpoint(legacy / run) / "weights.safetensors")
    then = load_file(FIXTURES / "expected" / f"{run}-step6.safetensors")
    assert now.keys() == then.keys()
    for key in now:
        torch.testing.assert_close(now[key], then[key], rtol=1e-5, atol=1e-6, msg=key)

"""The method contract, for every registered method: a method added to the registry gets these
tests by being registered (its `tiny` settings, and `tiny_pretrained` for the runs it builds on,
come from its class)."""

import json

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import genlab
from conftest import tiny
from genlab.engine.checkpoint import find_checkpoint
from genlab.methods.registry import METHODS
from genlab.runs.config import load_config
from genlab.runs.train import resume_config


def _tiny_run(out, name: str, method: dict, steps: int, run_name: str):
    """Train a tiny run of `method` (a method config: name + values), its prerequisites first."""
    cls = METHODS[method["name"]]
    extra = [f"method.{k}={json.dumps(v)}" for k, v in method.items() if k != "name"]
    for field, needed in cls.tiny_pretrained.items():
        need = _tiny_run(out, needed["name"], needed, 1, f"{run_name}-{field}")
        extra.append(f"method.{field}={need}")
    cfg = load_config(None, tiny(out, f"train.steps={steps}", "train.ckpt_every=0",
                                 "train.sample_every=0", "train.tensorboard=false",
                                 f"name={run_name}", *extra, method=method["name"]))
    return genlab.train(cfg, show_progress=False).run_dir


def _weights(run_dir):
    return load_file(find_checkpoint(run_dir) / "weights.safetensors")


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_trains_saves_loads_resumes_and_samples(name, tmp_path):
    cls = METHODS[name]
    assert cls.Config.model_fields["name"].default == name  # `method.name` picks this class
    full = _tiny_run(tmp_path, name, {"name": name}, 3, "full")
    half = _tiny_run(tmp_path, name, {"name": name}, 2, "half")
    run = genlab.load_run(half)
    assert type(run.method) is cls and run.step == 2 and run.cfg.method.name == name

    # resume to step 3: bit for bit the run that trained 3 steps at once
    cfg = resume_config(half, None, ["train.steps=3"])
    resumed = genlab.train(cfg, resume=half, show_progress=False)
    assert resumed.run_dir == half and resumed.step == 3 and not resumed.interrupted
    a, b = _weights(full), _weights(half)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key

    if cls.generative:
        loaded = genlab.load_run(half)
        images = loaded.sample(2, seed=0)
        c, s = loaded.info.channels, loaded.info.image_size
        assert images.shape == (2, c, s, s) and images.dtype == torch.float32
        assert torch.isfinite(images).all() and images.min() >= -1 and images.max() <= 1
        assert torch.equal(images, loaded.sample(2, seed=0))  # same seed, same images
        assert (half / "samples" / "final.png").is_file()
    if cls.translates:  # image-to-image: inputs of the data's input shape -> images
        loaded = genlab.load_run(half)
        info = loaded.info
        assert info.input_channels and info.input_size
        a = (info.input_channels, info.input_size, info.input_size)
        b = (info.channels, info.image_size, info.image_size)
        for direction in cls.directions:  # BtoA (CycleGAN) maps image-domain to input-domain
            shape_in, shape_out = (a, b) if direction == "AtoB" else (b, a)
            inputs = torch.rand(2, *shape_in) * 2 - 1
            out = loaded.translate(inputs, direction)
            assert out.shape == (2, *shape_out)
            assert torch.isfinite(out).all() and out.min() >= -1 and out.max() <= 1
            assert torch.equal(out, loaded.translate(inputs, direction))  # eval mode: no noise
        # the grid: one example per row (8), input | output | target (| more) columns
        with Image.open(half / "samples" / "final.png") as grid:
            cols, rows = ((side - 2) / (info.image_size + 2) for side in grid.size)
        assert rows == 8 and cols in (3, 4)

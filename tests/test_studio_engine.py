"""The studio's work without a browser: the controls come from the method contract, and a
sample request gives the very pixels the `genlab sample` command it shows writes."""

import shlex

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, run_cli, tiny
from genlab.errors import ConfigError
from genlab.studio.engine import SampleRequest, Studio


@pytest.fixture(scope="module")
def ddpm_run(tmp_path_factory):
    """A tiny class-conditional DDPM, trained 2 steps."""
    from genlab import train
    from genlab.runs.config import load_config

    out = tmp_path_factory.mktemp("studio-ddpm")
    cfg = load_config(ROOT / "configs" / "ddpm-shapes.yaml",
                      tiny(out, "train.steps=2", "name=ddpm", "method.timesteps=50",
                           method="ddpm"))
    return train(cfg, show_progress=False).run_dir


def same_as_the_command(studio, request, tmp_path, capsys):
    """Sample in the studio, run the command line it shows, compare the pixels."""
    result = studio.sample(request)
    out = tmp_path / "cli.png"
    code, _, err = run_cli([*shlex.split(result.command)[1:], "--out", out], capsys)
    assert code == 0, err
    assert np.array_equal(np.asarray(result.grid), np.asarray(Image.open(out)))
    return result


@pytest.mark.parametrize("request_args", [
    dict(seed=3, n=8, label="square", truncation=0.7),
    dict(seed=5, n=6),  # every class in turn, a class per row
])
def test_a_gan_sample_is_the_image_the_command_writes(trained_run, tmp_path, capsys,
                                                      request_args):
    studio = Studio(trained_run.parent, scratch=tmp_path)
    result = same_as_the_command(studio, SampleRequest(run="tiny", **request_args), tmp_path,
                                 capsys)
    n = request_args["n"]
    assert len(result.images) == len(result.notes) == n
    assert result.images[0].shape == (16, 16, 3) and result.images[0].dtype == np.uint8
    assert f"seed {request_args['seed']}" in result.notes[-1]
    assert result.notes[-1].endswith(result.command)
    assert ("class square" in result.notes[0]) == ("label" in request_args)


def test_controls_follow_the_method_contract(trained_run, ddpm_run, tmp_path):
    gan = Studio(trained_run.parent, scratch=tmp_path).form("tiny")
    assert gan.samples and gan.classes == ("circle", "square", "triangle")
    assert gan.truncatable and gan.options is None and not gan.prompts
    ddpm = Studio(ddpm_run.parent, scratch=tmp_path).form("ddpm")
    assert ddpm.samples and not ddpm.truncatable and ddpm.options is not None
    assert ddpm.options.sampler in ("ddpm", "ddim", "dpm") and not ddpm.prompts


def test_a_diffusion_sample_with_options_is_the_image_the_command_writes(ddpm_run, tmp_path,
                                                                         capsys):
    request = SampleRequest(run="ddpm", seed=1, n=4, label="circle", sampler="ddim", steps=2,
                            cfg=2.0)
    studio = Studio(ddpm_run.parent, scratch=tmp_path)
    result = same_as_the_command(studio, request, tmp_path, capsys)
    assert "--sampler ddim --steps 2 --cfg 2" in result.command


def test_options_a_run_does_not_take_are_one_line_errors(trained_run, ddpm_run, tmp_path):
    gan, ddpm = (Studio(r.parent, scratch=tmp_path) for r in (trained_run, ddpm_run))
    with pytest.raises(ConfigError, match="apply to diffusion runs"):
        gan.sample(SampleRequest(run="tiny", steps=5))
    with pytest.raises(ConfigError, match="truncation does not apply"):
        ddpm.sample(SampleRequest(run="ddpm", truncation=0.5))
    with pytest.raises(ConfigError, match="more than the"):
        ddpm.sample(SampleRequest(run="ddpm", steps=51))


def test_a_run_is_loaded_once_and_again_after_a_new_checkpoint(trained_run, tmp_path):
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(trained_run, runs / "copy")
    studio = Studio(runs, scratch=tmp_path)
    first = studio.loaded("copy")
    assert studio.loaded("copy") is first
    ckpts = runs / "copy" / "checkpoints"
    shutil.copytree(ckpts / "step-0000004", ckpts / "step-0000006")  # training went on
    again = studio.loaded("copy")
    assert again is not first and studio.loaded("copy") is again

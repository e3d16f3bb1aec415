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


def test_an_interpolation_is_the_files_the_command_writes(trained_run, tmp_path, capsys):
    studio = Studio(trained_run.parent, scratch=tmp_path / "scratch")
    (tmp_path / "scratch").mkdir()
    png, gif, command = studio.interpolate("tiny", seed=2, steps=3, rows=2, spherical=True)
    assert png.is_relative_to(tmp_path / "scratch") and gif.suffix == ".gif"
    assert command.endswith("--steps 3 --rows 2 --seed 2 --slerp")
    code, _, err = run_cli([*shlex.split(command)[1:], "--out", tmp_path / "cli"], capsys)
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open(png)),
                          np.asarray(Image.open(tmp_path / "cli" / "interpolation.png")))
    assert not (trained_run / "samples" / "interpolation.png").exists()  # runs are read only
    with pytest.raises(ConfigError, match="frames"):
        studio.interpolate("tiny", steps=10_000)


def an_image(path, size, channels):
    """A PNG at the model's size, some shape on grey noise."""
    rng = np.random.default_rng(0)
    shape = (size, size, 3) if channels == 3 else (size, size)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
    return path


@pytest.mark.parametrize("n", [1, 3])
def test_img2img_is_the_image_the_command_writes(ddpm_run, tmp_path, capsys, n):
    studio = Studio(ddpm_run.parent, scratch=tmp_path)
    info = studio.loaded("ddpm").info
    init = an_image(tmp_path / "init.png", info.image_size, info.channels)
    picture, command, notes = studio.img2img("ddpm", str(init), strength=0.5, seed=4, n=n,
                                             label="square", sampler="ddim", steps=2)
    assert f"--strength 0.5 --n {n} --seed 4 --label square --sampler ddim" in command
    assert notes == []
    out = tmp_path / "cli.png"
    code, _, err = run_cli([*shlex.split(command)[1:], "--out", out], capsys)
    assert code == 0, err
    assert np.array_equal(np.asarray(picture), np.asarray(Image.open(out)))


def test_img2img_uploads_and_runs_are_checked_in_one_line(trained_run, ddpm_run, tmp_path):
    from genlab.studio.tab_edit import edit

    studio = Studio(ddpm_run.parent, scratch=tmp_path)
    text = tmp_path / "notes.png"
    text.write_text("not an image at all\n")
    for upload, match in [(text, "not a readable image"), (None, "upload an image"),
                          (an_image(tmp_path / "big.png", 40, 3), "resize it first")]:
        status, picture, command = edit(studio, "ddpm", upload and str(upload), 0.5, 0, 1,
                                        "square", None, 2)
        assert status.startswith("**refused**") and match in status, status
        assert "\n" not in status and "Traceback" not in status
        assert picture is None and command == ""
    with pytest.raises(ConfigError, match="strength"):
        studio.img2img("ddpm", str(text), strength=1.5)
    gan = Studio(trained_run.parent, scratch=tmp_path)
    with pytest.raises(ConfigError, match="need a diffusion run"):
        gan.img2img("tiny", str(an_image(tmp_path / "g.png", 16, 3)), strength=0.5)

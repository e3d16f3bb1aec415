"""The Explore tab's work without a browser: a walk and a steering toward a class give the very
files the `genlab interpolate` and `genlab control` commands they show write; a judge that would
take long to train is refused with the command that trains it; refusals are one line."""

import shlex

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, run_cli, tiny
from genlab.errors import ConfigError
from genlab.studio import explore
from genlab.studio.engine import Studio
from genlab.studio.explore import ControlForm, ControlRequest, control, prepare_control
from genlab.studio.tab_explore import control_updates, steer


@pytest.fixture(autouse=True)
def judge_cache(tmp_path_factory, monkeypatch):
    """One judge cache for the module (the tiny runs' data trains one in about a second),
    never the user's."""
    cache = tmp_path_factory.getbasetemp() / "studio-explore-cache"
    monkeypatch.setenv("GENLAB_CACHE", str(cache))
    return cache


@pytest.fixture(scope="module")
def unconditional(tmp_path_factory):
    """A tiny unconditional DCGAN on shapes, trained 2 steps, alone in its runs folder."""
    from genlab import train
    from genlab.runs.config import load_config

    out = tmp_path_factory.mktemp("studio-explore")
    cfg = load_config(ROOT / "configs" / "dcgan.yaml", tiny(out, "train.steps=2", "name=unc"))
    return train(cfg, show_progress=False).run_dir


def test_an_interpolation_is_the_files_the_command_writes(trained_run, tmp_path, capsys):
    studio = Studio(trained_run.parent, scratch=tmp_path / "scratch")
    (tmp_path / "scratch").mkdir()
    png, gif, command = explore.interpolate(studio, "tiny", seed=2, steps=3, rows=2,
                                            spherical=True)
    assert png.is_relative_to(tmp_path / "scratch") and gif.suffix == ".gif"
    assert command.endswith("--steps 3 --rows 2 --seed 2 --slerp")
    code, _, err = run_cli([*shlex.split(command)[1:], "--out", tmp_path / "cli"], capsys)
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open(png)),
                          np.asarray(Image.open(tmp_path / "cli" / "interpolation.png")))
    assert not (trained_run / "samples" / "interpolation.png").exists()  # runs are read only
    with pytest.raises(ConfigError, match="frames"):
        explore.interpolate(studio, "tiny", steps=10_000)


def test_steering_is_the_file_the_command_writes(unconditional, tmp_path, capsys):
    studio = Studio(unconditional.parent, scratch=tmp_path)
    form = ControlForm.of(studio.loaded("unc"))
    assert form.steers and form.classes == ("circle", "square", "triangle")
    request, note = prepare_control(studio, ControlRequest(
        run="unc", target="triangle", n=16, steps=5, restarts=1, seed=3))
    assert note.startswith("training the judge of shapes first (256 images")
    done = control(studio, request)
    assert done.command == (f"genlab control {unconditional} --target triangle --steps 5 "
                            "--n 16 --restarts 1 --seed 3")
    assert 0 <= done.prob_before <= 1 and 0 <= done.prob_after <= 1
    assert prepare_control(studio, request)[1] == ""  # the judge is cached now
    first, last = steer(studio, "unc", "triangle", 16, 5, 1, 3)  # what the page shows
    assert first == ("steering 16 latents toward triangle...", None, None, "")
    assert last[0] == (f"the judge's mean probability of **triangle**: "
                       f"{done.prob_before:.3f} before, {done.prob_after:.3f} after")
    assert np.array_equal(np.asarray(last[2]), np.asarray(done.after))
    assert last[3] == done.command
    out = tmp_path / "cli.png"
    code, stdout, err = run_cli([*shlex.split(done.command)[1:], "--out", out], capsys)
    assert code == 0, err
    assert f"{done.prob_before:.3f} before, {done.prob_after:.3f} after" in stdout
    written = np.asarray(Image.open(out))
    assert np.array_equal(np.asarray(Image.open(done.path)), written)
    # before over after: the two grids shown are the halves of that file (2-pixel seam)
    before, after = np.asarray(done.before), np.asarray(done.after)
    assert np.array_equal(written[:before.shape[0]], before)
    assert np.array_equal(written[before.shape[0] - 2:], after)
    assert done.path.is_relative_to(tmp_path)
    assert not list((unconditional / "samples").glob("control*"))  # runs are read only


def test_a_judge_that_takes_long_is_refused_with_the_command_that_trains_it(
        unconditional, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(explore, "JUDGE_QUICK", 0)
    studio = Studio(unconditional.parent, scratch=tmp_path)
    request = ControlRequest(run="unc", target="circle", n=4, steps=2)
    with pytest.raises(ConfigError, match="training one takes minutes") as refused:
        prepare_control(studio, request)
    message = str(refused.value)
    assert "\n" not in message
    assert not (tmp_path / "empty-cache").exists()  # nothing was trained
    command = message.split("`")[1]
    for item in ("genlab judge train --data shapes", "--set data.image_size=16",
                 "--set data.shapes.n_train=256", "--set data.shapes.n_test=64"):
        assert item in command
    code, _, err = run_cli(shlex.split(command)[1:], capsys)  # the command makes that judge
    assert code == 0, err
    assert prepare_control(studio, request)[1] == ""


def test_refusals_are_one_line(unconditional, trained_run, tmp_path):
    studio = Studio(unconditional.parent, scratch=tmp_path)
    for values, match in [
            (("hexagon", 4, 5, 0, 0), "pick one of circle, square, triangle"),
            (("circle", 17, 5, 0, 0), "number of images 17 is out of range"),
            (("circle", 4, 201, 0, 0), "steps 201 is out of range"),
            (("circle", 4, 5, 9, 0), "restarts 9 is out of range"),
            (("circle", 4, 5, 0, -1), "seed -1 is out of range"),
            ((None, 4, 5, 0, 0), "target class: type something")]:
        (status, before, after, command), = list(steer(studio, "unc", *values))
        assert status.startswith("**refused**") and match in status, status
        assert "\n" not in status and before is after is None and command == ""
    gan = Studio(trained_run.parent, scratch=tmp_path)  # `tiny` is a conditional GAN
    note, _, button = control_updates(gan, "tiny")
    assert "conditioned on classes" in note and "\n" not in note
    assert button["interactive"] is False
    (status, *_), = list(steer(gan, "tiny", "circle", 4, 5, 0, 0))
    assert status.startswith("**refused**") and "conditioned on classes" in status
    (status, *_), = list(steer(gan, "../unc", "circle", 4, 5, 0, 0))
    assert "outside the runs folder" in status

"""The Translate tab's work without a browser: an uploaded image through an image-to-image run
gives the very files the `genlab translate` command it shows writes; the run's directions come
from its method; a run that does not translate, a bad direction or a bad upload is one line."""

import shlex

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli, tiny
from genlab.errors import ConfigError
from genlab.studio.engine import Studio
from genlab.studio.translate import GRID, OUT, TranslateForm, translate


@pytest.fixture(scope="module")
def i2i_runs(tmp_path_factory):
    """A tiny pix2pix (shapes: label map -> image) and a tiny CycleGAN (circles <-> squares),
    trained 2 steps each, in one runs folder."""
    from genlab import train
    from genlab.runs.config import load_config

    out = tmp_path_factory.mktemp("studio-i2i")
    for method in ("pix2pix", "cyclegan"):
        cfg = load_config(None, tiny(out, "train.steps=2", f"name={method}",
                                     "train.ckpt_every=2", method=method))
        train(cfg, show_progress=False)
    return out / "runs"


def a_picture(path, width, height):
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def same_as_the_command(done, tmp_path, monkeypatch, capsys):
    """Run the shown command in a fresh folder and compare its files with the studio's."""
    cwd = tmp_path / "cli"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    code, _, err = run_cli(shlex.split(done.command)[1:], capsys)
    assert code == 0, err
    outputs = list((cwd / OUT).iterdir())
    assert len(outputs) == 1
    assert np.array_equal(np.asarray(done.output), np.asarray(Image.open(outputs[0])))
    assert np.array_equal(np.asarray(done.grid), np.asarray(Image.open(cwd / GRID)))


def test_a_translation_is_the_files_the_command_writes(i2i_runs, tmp_path, monkeypatch,
                                                       capsys):
    studio = Studio(i2i_runs, scratch=tmp_path / "scratch")
    (tmp_path / "scratch").mkdir()
    upload = a_picture(tmp_path / "my shape!.png", 16, 16)
    done = translate(studio, "pix2pix", str(upload))
    args = shlex.split(done.command)
    assert args[:3] == ["genlab", "translate", str(i2i_runs / "pix2pix")]
    copy = args[3]
    assert copy.startswith(str(tmp_path / "scratch")) and copy.endswith("my_shape.png")
    assert args[4:] == ["--out", OUT, "--grid", GRID]  # pix2pix: one direction, no flag
    assert done.notes == []
    assert done.grid.size == (2 * 18 + 2, 20) and done.output.size == (16, 16)
    same_as_the_command(done, tmp_path, monkeypatch, capsys)
    assert not any(p.name.startswith("my") for p in (i2i_runs / "pix2pix").rglob("*"))


def test_a_cyclegan_translates_both_ways_as_the_command(i2i_runs, tmp_path, monkeypatch,
                                                        capsys):
    studio = Studio(i2i_runs, scratch=tmp_path)
    form = TranslateForm.of(studio.loaded("cyclegan"))
    assert form.translates and form.directions == ("AtoB", "BtoA")
    upload = a_picture(tmp_path / "wide.png", 40, 24)  # cropped and resized, as the CLI does
    done = translate(studio, "cyclegan", str(upload), "BtoA")
    assert done.command.endswith(f"--out {OUT} --grid {GRID} --direction BtoA")
    assert done.notes == ["resized to the run's 16x16 first"]
    same_as_the_command(done, tmp_path, monkeypatch, capsys)
    ab = translate(studio, "cyclegan", str(upload), "AtoB")
    assert "--direction" not in ab.command
    assert not np.array_equal(np.asarray(ab.output), np.asarray(done.output))


def test_refusals_are_one_line(i2i_runs, trained_run, tmp_path):
    from genlab.studio.tab_translate import form_updates, run_translate

    studio = Studio(i2i_runs, scratch=tmp_path)
    good = str(a_picture(tmp_path / "ok.png", 16, 16))
    text = tmp_path / "notes.png"
    text.write_text("not an image at all\n")
    for name, upload, direction, match in [
            ("pix2pix", str(text), None, "is not an image"),
            ("pix2pix", None, None, "upload an image first"),
            ("pix2pix", good, "BtoA", "translates AtoB"),
            ("cyclegan", good, "sideways", "translates AtoB or BtoA"),
            ("../pix2pix", good, None, "outside the runs folder")]:
        status, grid, output, command = run_translate(studio, name, upload, direction)
        assert status.startswith("**refused**") and match in status, status
        assert "\n" not in status and "Traceback" not in status
        assert grid is output is None and command == ""
    gan = Studio(trained_run.parent, scratch=tmp_path)
    form = TranslateForm.of(gan.loaded("tiny"))
    assert not form.translates and "does not translate" in form.why_not
    assert "pix2pix" in form.why_not and "\n" not in form.why_not
    note, _, button = form_updates(gan, "tiny")
    assert "does not translate" in note and button["interactive"] is False
    with pytest.raises(ConfigError, match="does not translate"):
        translate(gan, "tiny", good)

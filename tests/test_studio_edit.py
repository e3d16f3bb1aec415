"""The Edit tab's work without a browser (studio/edit.py): img2img, inpainting with a painted
mask and editing by text each give the very pixels their shown `genlab` command writes, and
every bad value or upload is a one-line refusal."""

import shlex

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, run_cli, tiny
from genlab.errors import ConfigError
from genlab.studio import edit
from genlab.studio.engine import Studio
from genlab.studio.guard import StudioError


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """RUNS with a tiny class-conditional DDPM (50 timesteps, 2 steps) and a tiny CLIP."""
    from genlab import train
    from genlab.runs.config import load_config

    out = tmp_path_factory.mktemp("studio-edit")
    ddpm = train(load_config(ROOT / "configs" / "ddpm-shapes.yaml",
                             tiny(out, "train.steps=2", "name=ddpm", "method.timesteps=50",
                                  method="ddpm")), show_progress=False).run_dir
    train(load_config(None, tiny(out, "train.steps=2", "name=clip", method="clip")),
          show_progress=False)
    return ddpm.parent


@pytest.fixture
def studio(runs, tmp_path):
    (tmp_path / "scratch").mkdir()
    return Studio(runs, scratch=tmp_path / "scratch")


def an_image(path, size, channels):
    """A PNG at the model's size, some shape on grey noise."""
    rng = np.random.default_rng(0)
    shape = (size, size, 3) if channels == 3 else (size, size)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
    return path


def a_painted_layer(path, side, box):
    """What the editor's brush layer sends: transparent but for a painted box."""
    rgba = np.zeros((side, side, 4), np.uint8)
    top, left, bottom, right = box
    rgba[top:bottom, left:right] = (255, 0, 255, 255)
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def the_command_writes(command, out, capsys):
    code, _, err = run_cli([*shlex.split(command)[1:], "--out", out], capsys)
    assert code == 0, err
    return np.asarray(Image.open(out))


@pytest.mark.parametrize("n", [1, 3])
def test_img2img_is_the_image_the_command_writes(studio, tmp_path, capsys, n):
    init = an_image(tmp_path / "init.png", 16, 3)
    picture, command, notes = edit.img2img(studio, "ddpm", str(init), strength=0.5, seed=4,
                                           n=n, label="square", sampler="ddim", steps=2)
    assert f"--strength 0.5 --n {n} --seed 4 --label square --sampler ddim" in command
    assert notes == []
    assert np.array_equal(np.asarray(picture),
                          the_command_writes(command, tmp_path / "cli.png", capsys))


def test_img2img_uploads_and_runs_are_checked_in_one_line(studio, tmp_path):
    from genlab.studio.tab_edit import edit as click

    text = tmp_path / "notes.png"
    text.write_text("not an image at all\n")
    for upload, match in [(text, "not an image"), (None, "upload an image"),
                          (an_image(tmp_path / "big.png", 40, 3), "resize it first")]:
        status, picture, command = click(studio, "ddpm", upload and str(upload), 0.5, 0, 1,
                                         "square", None, 2)
        assert status.startswith("**refused**") and match in status, status
        assert "\n" not in status and "Traceback" not in status
        assert picture is None and command == ""
    with pytest.raises(ConfigError, match="strength"):
        edit.img2img(studio, "ddpm", str(text), strength=1.5)
    with pytest.raises(ConfigError, match="need a diffusion run"):
        edit.img2img(studio, "clip", str(an_image(tmp_path / "g.png", 16, 3)), strength=0.5)


@pytest.mark.parametrize("layer_side", [16, 48])  # 48: the canvas sent the layer larger
def test_inpaint_is_the_image_the_command_writes_over_the_studios_copies(studio, tmp_path,
                                                                        capsys, layer_side):
    image = an_image(tmp_path / "in.png", 16, 3)
    scale = layer_side // 16
    layer = a_painted_layer(tmp_path / "layer.png", layer_side,
                            (4 * scale, 2 * scale, 9 * scale, 8 * scale))
    done = edit.inpaint(studio, "ddpm", str(image), [str(layer)], steps=5, jumps=2,
                        jump_length=2, seed=3, n=1, label="square")
    words = shlex.split(done.command)
    copies = [words[words.index(flag) + 1] for flag in ("--image", "--mask")]
    assert all(path.startswith(str(studio.scratch)) for path in copies)
    assert "--jumps 2 --jump-length 2 --steps 5 --n 1 --seed 3 --label square" in done.command
    assert (layer_side != 16) == any("resized nearest-neighbour" in n for n in done.notes)
    mask = np.asarray(Image.open(copies[1]))
    painted = np.zeros((16, 16), bool)
    painted[4:9, 2:8] = True
    assert np.array_equal(mask == 255, painted) and np.array_equal(np.asarray(done.extra[0]),
                                                                   mask)
    result = np.asarray(done.picture)
    assert np.array_equal(result, the_command_writes(done.command, tmp_path / "cli.png", capsys))
    assert np.array_equal(result[~painted], np.asarray(Image.open(image))[~painted])


def test_inpaint_refuses_in_one_line(studio, tmp_path):
    from genlab.studio.tab_inpaint import inpaint as click

    image = str(an_image(tmp_path / "in.png", 16, 3))
    blank = str(a_painted_layer(tmp_path / "blank.png", 16, (0, 0, 0, 0)))
    brush = str(a_painted_layer(tmp_path / "brush.png", 16, (0, 0, 4, 4)))
    for editor, steps, jumps, match in [
            (None, 5, 1, "upload an image"),
            ({"background": image, "layers": []}, 5, 1, "paint the part to redraw"),
            ({"background": image, "layers": [blank]}, 5, 1, "paint the part to redraw"),
            ({"background": image, "layers": [brush]}, 51, 1, "more than the 50 timesteps"),
            ({"background": image, "layers": [brush]}, 5, 99, "jumps 99 is out of range"),
            ({"background": image, "layers": [brush]}, 5.5, 1, "steps: give a whole number")]:
        status, result, mask, command = click(studio, "ddpm", editor, steps, jumps, 2, 0, 1,
                                              "square", None)
        assert status.startswith("**refused**") and match in status, status
        assert "\n" not in status and result is None and mask is None and command == ""
    with pytest.raises(StudioError, match="need a diffusion run"):
        edit.inpaint(studio, "clip", image, [brush])


def test_clip_runs_are_found_by_their_method_class(studio):
    assert edit.clip_runs(studio.runs_dir) == ["clip"]


def test_edit_by_text_is_what_the_command_writes(studio, tmp_path, capsys):
    image = an_image(tmp_path / "in.png", 16, 3)
    request = edit.TextEditRequest("the red circle", "a blue square", "clip", steps=4,
                                   jumps=1, jump_length=2, seed=2, threshold=0.5)
    done = edit.text_edit(studio, "ddpm", str(image), request)
    assert done.command.startswith("genlab edit " + str(studio.scratch))
    assert "--diffusion" in done.command and f"--clip {studio.runs_dir / 'clip'}" in done.command
    assert "drew class 'square'" in done.notes[-1]
    out = tmp_path / "cli.png"
    assert np.array_equal(np.asarray(done.picture), the_command_writes(done.command, out, capsys))
    relevance, mask = (np.asarray(p) for p in done.extra)
    assert np.array_equal(relevance, np.asarray(Image.open(tmp_path / "cli-relevance.png")))
    assert np.array_equal(mask, np.asarray(Image.open(tmp_path / "cli-mask.png")))
    assert (mask == 255).any()


def test_edit_by_text_refuses_in_one_line(studio, tmp_path):
    from genlab.studio.tab_text_edit import text_edit as click

    image = str(an_image(tmp_path / "in.png", 16, 3))
    for args, match in [((image, "clip", "", "a square"), "select: type something"),
                        ((image, "clip", "it", " "), "prompt: type something"),
                        ((image, "../clip", "it", "a square"), "outside the runs folder"),
                        ((None, "clip", "it", "a square"), "upload an image"),
                        ((image, "clip", "it", "x" * 301), "at most 300 characters")]:
        status, *images, command = click(studio, "ddpm", *args, "square", 0, 4, 1, 2, 300,
                                         0.3)
        assert status.startswith("**refused**") and match in status, status
        assert "\n" not in status and images == [None] * 3 and command == ""

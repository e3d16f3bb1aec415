"""`genlab translate`, `genlab upscale` and `genlab.translate_images` on tiny trained
image-to-image runs: outputs named as the inputs, at the run's size (or the SR factor times the
input's), the same input giving the same output, and one-line errors for bad input."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import genlab
from conftest import ROOT, assert_one_line_error, run_cli, tiny
from genlab.errors import ConfigError
from genlab.images import to_float, to_uint8
from genlab.runs.config import load_config

DCGAN_RUN = ROOT / "tests" / "fixtures" / "runs-v0.1" / "dcgan-v0"  # makes images from noise


def _train(out: Path, name: str, method: str, *extra: str) -> Path:
    cfg = load_config(None, tiny(out, "train.steps=2", "train.ckpt_every=0",
                                 "train.sample_every=0", "train.tensorboard=false",
                                 "data.shapes.n_train=32", "data.shapes.n_test=16",
                                 "train.batch_size=4", f"name={name}", *extra, method=method))
    return genlab.train(cfg, show_progress=False).run_dir


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Tiny pix2pix (labels -> image), CycleGAN (circles <-> squares) and SRGAN (x2) runs on
    16 px shapes, 2 steps each."""
    out = tmp_path_factory.mktemp("translate-runs")
    return {method: _train(out, method, method) for method in ("pix2pix", "cyclegan", "srgan")}


def _png(path: Path, width: int, height: int, channels: int = 3, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)
    return path


def _size(path: Path) -> tuple[tuple[int, int], str]:
    with Image.open(path) as image:
        return image.size, image.mode


def _mode(channels: int) -> str:
    return "L" if channels == 1 else "RGB"


# --- translating ------------------------------------------------------------------------------

def test_translate_a_file_and_a_folder(runs, tmp_path, capsys):
    run = genlab.load_run(runs["pix2pix"])
    side, mode = run.info.image_size, _mode(run.info.channels)
    inputs = tmp_path / "in"
    _png(inputs / "a.png", side, side, 1, seed=1)
    _png(inputs / "b.png", 24, 20, 3, seed=2)  # resized (and made grey) to the run's input
    (inputs / "notes.txt").write_text("not an image: a folder's other files are left out")

    code, out, err = run_cli(["translate", runs["pix2pix"], inputs / "a.png",
                              "--out", tmp_path / "one"], capsys)
    assert code == 0, err
    assert (tmp_path / "one" / "a.png").is_file() and str(tmp_path / "one" / "a.png") in out
    assert _size(tmp_path / "one" / "a.png") == ((side, side), mode)

    code, out, err = run_cli(["translate", runs["pix2pix"], inputs, "--out", tmp_path / "all",
                              "--grid", tmp_path / "grid.png"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["a.png", "b.png"]
    assert "2 images" in out and "1 resized to the run's 16x16" in out
    assert _size(tmp_path / "all" / "b.png") == ((side, side), mode)
    # same input, same output, whichever batch it was in
    assert np.array_equal(np.asarray(Image.open(tmp_path / "one" / "a.png")),
                          np.asarray(Image.open(tmp_path / "all" / "a.png")))
    # the grid: 2 rows of input | output
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape == (2 * side + 3 * 2, 2 * side + 3 * 2, 3)  # 2 pixels of padding
    a_in = np.asarray(Image.open(inputs / "a.png"))
    a_out = np.asarray(Image.open(tmp_path / "all" / "a.png")).reshape(side, side, -1)
    assert np.array_equal(grid[2:2 + side, 2:2 + side], np.repeat(a_in[..., None], 3, axis=2))
    assert np.array_equal(grid[2:2 + side, 4 + side:4 + 2 * side],
                          np.broadcast_to(a_out, (side, side, 3)))


def test_outputs_never_replace_earlier_files(runs, tmp_path, capsys):
    image = _png(tmp_path / "x.png", 16, 16, 1)
    other = _png(tmp_path / "other" / "x.png", 16, 16, 1, seed=5)
    for _ in range(2):
        code, _, err = run_cli(["translate", runs["pix2pix"], image, "--out", tmp_path / "o"],
                               capsys)
        assert code == 0, err
    code, out, err = run_cli(["translate", runs["pix2pix"], image, other, "--out",
                              tmp_path / "o"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "x-2.png", "x-3.png", "x-4.png", "x.png"]
    assert "named NAME-2.png" in out
    first, second = (np.asarray(Image.open(tmp_path / "o" / n)) for n in ("x.png", "x-2.png"))
    assert np.array_equal(first, second)


def test_super_resolution_upscales_each_image_at_its_own_size(runs, tmp_path, capsys):
    run = genlab.load_run(runs["srgan"])
    factor = run.info.image_size // run.info.input_size
    assert factor == 2
    mode = _mode(run.info.channels)
    photo = _png(tmp_path / "photo.png", 12, 10, seed=3)  # neither the run's side nor square
    small = _png(tmp_path / "small.png", 6, 6, seed=4)
    code, out, err = run_cli(["translate", runs["srgan"], photo, small, "--out",
                              tmp_path / "up", "--grid", tmp_path / "grid.png"], capsys)
    assert code == 0, err
    assert _size(tmp_path / "up" / "photo.png") == ((24, 20), mode)
    assert _size(tmp_path / "up" / "small.png") == ((12, 12), mode)
    assert (tmp_path / "grid.png").is_file() and "resized" not in out

    # genlab upscale: the same path, the same pixels
    code, _, err = run_cli(["upscale", runs["srgan"], photo, "--out", tmp_path / "up2"], capsys)
    assert code == 0, err
    assert np.array_equal(np.asarray(Image.open(tmp_path / "up" / "photo.png")),
                          np.asarray(Image.open(tmp_path / "up2" / "photo.png")))
    # the network's upscaling of the image, not something resized first
    x = to_float(torch.from_numpy(np.asarray(Image.open(photo))).permute(2, 0, 1))
    y = to_uint8(run.translate(x[None]))[0].permute(1, 2, 0).numpy()
    assert np.array_equal(y, np.asarray(Image.open(tmp_path / "up" / "photo.png")))


def test_super_resolution_refuses_outputs_too_large_and_upscale_needs_an_sr_run(
        runs, tmp_path, capsys):
    wide = _png(tmp_path / "wide.png", 1100, 4)
    code, _, err = run_cli(["upscale", runs["srgan"], wide, "--out", tmp_path / "up"], capsys)
    assert_one_line_error(code, err, "wide.png is 1100x4", "2200x8", "2048")
    assert not (tmp_path / "up").exists()
    code, _, err = run_cli(["upscale", runs["pix2pix"], wide, "--out", tmp_path / "up"], capsys)
    assert_one_line_error(code, err, "not a super-resolution run", "genlab translate")


def test_cyclegan_translates_both_ways(runs, tmp_path, capsys):
    run = genlab.load_run(runs["cyclegan"])
    side = run.info.image_size
    square = _png(tmp_path / "square.png", side, side, run.info.channels)
    for direction in ("AtoB", "BtoA"):
        code, _, err = run_cli(["translate", runs["cyclegan"], square, "--out",
                                tmp_path / direction, "--direction", direction], capsys)
        assert code == 0, err
    a_to_b, b_to_a = (np.asarray(Image.open(tmp_path / d / "square.png")) for d in
                      ("AtoB", "BtoA"))
    assert a_to_b.shape == b_to_a.shape == (side, side, 3)
    assert not np.array_equal(a_to_b, b_to_a)  # two generators
    # BtoA is G_BA, as LoadedRun.translate does it
    x = to_float(torch.from_numpy(np.asarray(Image.open(square))).permute(2, 0, 1))
    expected = to_uint8(run.translate(x[None], "BtoA"))[0].permute(1, 2, 0)
    assert np.array_equal(expected.numpy(), b_to_a)


def test_python_api(runs, tmp_path):
    image = _png(tmp_path / "in" / "a.png", 16, 16, 1)
    done = genlab.translate_images(runs["pix2pix"], [tmp_path / "in"], tmp_path / "out")
    assert done.outputs == [tmp_path / "out" / "a.png"] and done.outputs[0].is_file()
    loaded = genlab.load_run(runs["pix2pix"])
    again = genlab.translate_images(loaded, [image], tmp_path / "out", seed=0)
    assert again.outputs == [tmp_path / "out" / "a-2.png"] and again.renamed == 1
    with pytest.raises(ConfigError, match="translates AtoB only"):
        genlab.translate_images(loaded, [image], tmp_path / "x", direction="BtoA")


# --- refusals ---------------------------------------------------------------------------------

def test_direction_only_where_the_method_learns_it(runs, tmp_path, capsys):
    image = _png(tmp_path / "a.png", 16, 16, 1)
    code, _, err = run_cli(["translate", runs["pix2pix"], image, "--out", tmp_path / "o",
                            "--direction", "BtoA"], capsys)
    assert_one_line_error(code, err, "--direction BtoA", "pix2pix", "AtoB only")
    code, _, err = run_cli(["translate", runs["cyclegan"], image, "--out", tmp_path / "o",
                            "--direction", "sideways"], capsys)
    assert_one_line_error(code, err, "AtoB or BtoA")
    assert not (tmp_path / "o").exists()


def test_bad_inputs_get_one_line_errors_before_any_work(runs, tmp_path, capsys):
    run = runs["pix2pix"]
    good = _png(tmp_path / "good.png", 16, 16, 1)
    (tmp_path / "empty").mkdir()
    (tmp_path / "nested" / "sub").mkdir(parents=True)
    _png(tmp_path / "nested" / "sub" / "a.png", 16, 16, 1)
    (tmp_path / "fake.png").write_text("not a PNG")
    (tmp_path / "file").write_text("a file where --out wants a folder")
    cases = [
        ([good, tmp_path / "missing.png", "--out", tmp_path / "o"], ["missing.png not found"]),
        ([good, tmp_path / "fake.png", "--out", tmp_path / "o"], ["fake.png is not a readable"]),
        ([tmp_path / "empty", "--out", tmp_path / "o"], ["has no image files"]),
        ([tmp_path / "nested", "--out", tmp_path / "o"], ["sub-folders are not searched"]),
        ([good, "--out", tmp_path / "file"], ["is a file: pass a folder"]),
        ([good, "--out", tmp_path / "o", "--grid", tmp_path / "g.jpg"], ["ending in .png"]),
        ([good, "--out", tmp_path / "o", "--device", "tpu"], ["--device 'tpu'"]),
    ]
    for args, needles in cases:
        code, _, err = run_cli(["translate", run, *args], capsys)
        assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "o").exists()
    code, _, err = run_cli(["translate", DCGAN_RUN, good, "--out", tmp_path / "o"], capsys)
    assert_one_line_error(code, err, "makes images from noise", "genlab sample")
    code, _, err = run_cli(["translate", tmp_path / "no-run", good, "--out", tmp_path / "o"],
                           capsys)
    assert_one_line_error(code, err, "not found")


def test_sample_refuses_a_translating_run(runs, tmp_path, capsys):
    from genlab.generate.sample import save_samples

    code, _, err = run_cli(["sample", runs["cyclegan"], "--out", tmp_path / "s.png"], capsys)
    assert_one_line_error(code, err, "translates images: use genlab translate")
    assert not (tmp_path / "s.png").exists()
    with pytest.raises(ConfigError, match="translates images"):
        save_samples(genlab.load_run(runs["srgan"]), tmp_path / "s.png", n=4)


@pytest.mark.parametrize("verb", [["interpolate"], ["control", "--target", "circle"]])
def test_noise_verbs_refuse_a_translating_run_in_one_line(runs, verb, capsys):
    code, _, err = run_cli([verb[0], runs["pix2pix"], *verb[1:]], capsys)
    assert_one_line_error(code, err, "translates images", "genlab translate")


# --- a user's folders in the three layouts of pix2pix and CycleGAN ---------------------------

def _layout(top: Path, layout: str, n: int = 6) -> None:
    """A tiny folder: aligned (A|B side by side in one file), folders (A/ and B/ of matching
    names) or unaligned (trainA/ and trainB/)."""
    rng = np.random.default_rng(7)
    for i in range(n):
        a, b = (rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(2))
        if layout == "aligned":
            _save(np.concatenate([a, b], axis=1), top / f"{i}.png")
        else:
            names = ("A", "B") if layout == "folders" else ("trainA", "trainB")
            _save(a, top / names[0] / f"{i}.png")
            _save(b, top / names[1] / f"{i}.png")


def _save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.mark.parametrize("layout", ["aligned", "folders", "unaligned"])
def test_translate_a_users_folder_in_each_layout(layout, tmp_path, capsys):
    top = tmp_path / layout
    _layout(top, layout)
    method = "cyclegan" if layout == "unaligned" else "pix2pix"
    with pytest.warns(UserWarning):  # a folder of 6 pairs is too small to hold out a test split
        run = _train(tmp_path, layout, method, f"data.name=folder:{top}", f"data.pairs={layout}",
                     "data.domains=null")
    if layout == "aligned":  # the A images: the left halves
        for file in sorted(top.glob("*.png")):
            _save(np.asarray(Image.open(file))[:, :16], tmp_path / "A" / file.name)
        a_images = tmp_path / "A"
    else:
        a_images = top / ("A" if layout == "folders" else "trainA")
    code, out, err = run_cli(["translate", run, a_images, "--out", tmp_path / "out"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{i}.png" for i in range(6)]
    assert _size(tmp_path / "out" / "0.png") == ((16, 16), "RGB") and "resized" not in out
    if layout == "unaligned":  # and back: the B images through G_BA
        code, _, err = run_cli(["translate", run, top / "trainB", "--out", tmp_path / "back",
                                "--direction", "BtoA"], capsys)
        assert code == 0, err
        assert len(list((tmp_path / "back").iterdir())) == 6

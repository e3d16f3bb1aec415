"""Bad input to the commands that generate from trained runs (issue 13): every mistake in the
corpus below is one `error:` line, exit code 2, no traceback and no file left behind; output
paths are checked before any model is loaded; `sample` writes large sets in batches to a
folder or an .npz; sampling steps are bounded by the training timesteps; user text is printed
as it is (rich markup does not eat `[red]`)."""

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import assert_one_line_error, run_cli, tiny
from genlab import train
from genlab.errors import ConfigError
from genlab.generate.edit import inpaint
from genlab.generate.guidance import sampling_options
from genlab.generate.text_edit import text_edit
from genlab.runs.config import load_config
from genlab.runs.load import load_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny runs (2 training steps each): a class-conditional DDPM on 3 shapes (T = 1000), an
    unconditional GAN, a VAE and a CLIP, all on 16 px shapes."""
    out = tmp_path_factory.mktemp("bad-input")
    specs = {"ddpm": ("ddpm", ["data.shapes.label=shape", "method.conditional=true"]),
             "gan": ("gan", []), "vae": ("vae", []), "clip": ("clip", [])}
    return {name: train(load_config(None, tiny(out, *extra, "train.steps=2", f"name={name}",
                                               method=method)), show_progress=False).run_dir
            for name, (method, extra) in specs.items()}


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working folder holding an image, a mask, a file, a folder with a file in it and an
    empty folder; relative --out paths land here."""
    Image.new("RGB", (16, 16), (200, 30, 30)).save(tmp_path / "img.png")
    Image.new("L", (16, 16), 255).save(tmp_path / "mask.png")
    (tmp_path / "afile.txt").write_text("not a folder")
    for folder in ("adir", "adir.png"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "keep.txt").write_text("mine")
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _files(*roots):
    return {p for root in roots for p in root.rglob("*")}


STEPS_5000 = ("5000", "1000 timesteps", "1..1000")
EDIT = ["edit", "img.png", "--select", "the red circle", "--prompt", "a blue square",
        "--diffusion", "{ddpm}", "--clip", "{clip}"]
TEXT2IMG = ["text2img", "a red circle", "--clip", "{clip}", "--vqgan", "missing-vqgan"]
INPAINT = ["inpaint", "{ddpm}", "--image", "img.png", "--mask", "mask.png", "--label", "circle"]

# The bad-input corpus: (command line, words the error line must hold). {name} is a run.
CORPUS = [
    (["sample", "{gan}", "--out", "x.txt"], ("x.txt", ".png", ".npz")),
    (["sample", "{gan}", "--out", "noext"], ("noext", ".png")),
    (["sample", "{gan}", "--out", "adir"], ("adir", "not empty")),
    (["sample", "{gan}", "--out", "adir.png"], ("adir.png", "not empty")),
    (["sample", "{gan}", "--out", "afile.txt/x.png"], ("afile.txt", "is a file")),
    (["sample", "{gan}", "--out", "afile.txt/"], ("afile.txt", "is a file")),
    (["sample", "ghost-run", "--out", "x.txt"], ("x.txt",)),  # checked before loading
    (["sample", "{gan}", "--n", "0"], ("--n",)),
    (["sample", "{gan}", "--n", "-5"], ("--n",)),
    (["sample", "{gan}", "--n", "2000000", "--out", "big.npz"], ("--n", "1000000")),
    (["sample", "{gan}", "--n", "2000", "--out", "big.png"], ("1024", ".npz", "/")),
    (["sample", "{gan}", "--n", "2000"], ("1024", ".npz")),
    (["sample", "{ddpm}", "--steps", "5000", "--out", "s.png"], STEPS_5000),
    (["sample", "{ddpm}", "--steps", "5000", "--sampler", "ddpm", "--out", "s.png"],
     STEPS_5000),
    (["sample", "{ddpm}", "--steps", "5000", "--sampler", "dpm", "--out", "s.png"],
     STEPS_5000),
    (["sample", "{ddpm}", "--steps", "1001", "--sampler", "ddim", "--out", "s.png"],
     ("1001", "1..1000")),
    (["sample", "{gan}", "--steps", "5", "--out", "s.png"], ("--steps", "gan")),
    (["interpolate", "{gan}", "--out", "afile.txt"], ("afile.txt", "is a file", "a folder")),
    (["interpolate", "{gan}", "--out", "grid.png"], ("grid.png", "pass a folder")),
    (["interpolate", "{gan}", "--steps", "200", "--rows", "200", "--out", "walk"],
     ("1024",)),
    (["interpolate", "ghost-run", "--out", "afile.txt"], ("afile.txt",)),
    (["control", "{gan}", "--target", "circle", "--out", "x.txt"], ("x.txt", ".png")),
    (["control", "{gan}", "--target", "circle", "--out", "noext"], ("noext", ".png")),
    (["control", "{gan}", "--target", "circle", "--out", "adir.png"],
     ("adir.png", "is a folder")),
    (["control", "ghost-run", "--target", "circle", "--out", "x.txt"], ("x.txt",)),
    (["img2img", "{ddpm}", "--init", "img.png", "--label", "circle", "--out", "x.txt"],
     ("x.txt", ".png")),
    (["img2img", "{ddpm}", "--init", "img.png", "--label", "circle", "--out", "adir.png"],
     ("adir.png", "is a folder")),
    (["img2img", "{ddpm}", "--init", "adir", "--label", "circle", "--out", "o.png"],
     ("adir", "is a folder", "image file")),
    (["img2img", "{ddpm}", "--init", "img.png", "--label", "circle", "--steps", "5000",
      "--out", "o.png"], STEPS_5000),
    (["img2img", "{ddpm}", "--init", "img.png", "--label", "circle", "--n", "5000",
      "--out", "o.png"], ("--n", "1024")),
    (["img2img", "ghost-run", "--init", "img.png", "--out", "x.txt"], ("x.txt",)),
    ([*INPAINT, "--steps", "5000", "--out", "o.png"], STEPS_5000),
    ([*INPAINT, "--out", "noext"], ("noext", ".png")),
    ([*INPAINT, "--out", "adir.png"], ("adir.png", "is a folder")),
    (["inpaint", "{ddpm}", "--image", "adir", "--mask", "mask.png", "--out", "o.png"],
     ("adir", "is a folder")),
    (["inpaint", "{ddpm}", "--image", "img.png", "--mask", "adir", "--out", "o.png"],
     ("adir", "is a folder")),
    (["reconstruct", "{vae}", "--out", "x.txt"], ("x.txt", ".png")),
    (["reconstruct", "{vae}", "--out", "adir.png"], ("adir.png", "is a folder")),
    (["reconstruct", "ghost-run", "--out", "x.txt"], ("x.txt",)),
    ([*TEXT2IMG, "--out", "x.txt"], ("x.txt", ".png")),
    ([*TEXT2IMG, "--out", "adir.png"], ("adir.png", "is a folder")),
    ([*TEXT2IMG, "--init", "adir", "--out", "o.png"], ("adir", "is a folder")),
    ([*EDIT, "--out", "adir.png"], ("adir.png", "is a folder")),
    ([*EDIT, "--out", "x.txt"], ("x.txt", ".png")),
    ([*EDIT[:1], "adir", *EDIT[2:], "--out", "o.png"], ("adir", "is a folder")),
    ([*EDIT, "--label", "circle", "--steps", "5000", "--out", "o.png"], STEPS_5000),
    (["eval", "{ddpm}", "--steps", "5000", "--n", "10"], STEPS_5000),
    (["eval", "{ddpm}", "--n", "10", "--out", "afile.txt"], ("afile.txt", "is a file")),
    (["export", "{ddpm}", "--out", "afile.txt"], ("afile.txt", "is a file")),
]


@pytest.mark.parametrize("args, needles", CORPUS, ids=[" ".join(a) for a, _ in CORPUS])
def test_bad_input_is_one_line_and_leaves_no_file(args, needles, runs, work, capsys):
    before = _files(work, *runs.values())
    code, _, err = run_cli([a.format(**runs) for a in args], capsys)
    assert_one_line_error(code, err, *needles)
    assert _files(work, *runs.values()) == before  # no .x.png.tmp, no half-written output


# --- sample: large sets in batches, to a folder or an .npz ----------------------------------

def _read_folder(folder):
    return np.stack([np.array(Image.open(p)).transpose(2, 0, 1)
                     for p in sorted(folder.glob("*.png"))])


def test_sample_to_a_folder_or_an_npz_same_seed_same_files(runs, work, capsys):
    ddpm = runs["ddpm"]
    common = ["sample", ddpm, "--n", "5", "--steps", "2", "--seed", "3"]
    for out in ("one/", "two/", "empty", "a.npz", "b.npz"):
        code, stdout, err = run_cli([*common, "--out", out], capsys)
        assert code == 0 and "wrote 5 images" in stdout, err
    names = [f"{i:06d}.png" for i in range(5)]
    for folder in ("one", "two", "empty"):
        assert sorted(p.name for p in (work / folder).iterdir()) == names
        for name in names:
            assert (work / folder / name).read_bytes() == (work / "one" / name).read_bytes()
    assert (work / "a.npz").read_bytes() == (work / "b.npz").read_bytes()
    with np.load(work / "a.npz") as data:
        assert data["images"].dtype == np.uint8 and data["images"].shape == (5, 3, 16, 16)
        assert data["labels"].tolist() == [0, 1, 2, 0, 1]  # conditional: classes in turn
        assert np.array_equal(data["images"], _read_folder(work / "one"))


def test_sample_writes_batch_by_batch(runs, tmp_path):
    """Several batches and a remainder: the folder and the .npz hold the same images."""
    from genlab.generate.sample import save_samples

    run = load_run(runs["gan"])
    save_samples(run, f"{tmp_path}/pngs/", n=5, seed=1, batch_size=2)
    save_samples(run, tmp_path / "all.npz", n=5, seed=1, batch_size=2)
    with np.load(tmp_path / "all.npz") as data:
        assert "labels" not in data  # unconditional
        assert np.array_equal(data["images"], _read_folder(tmp_path / "pngs"))
    assert len(list((tmp_path / "pngs").iterdir())) == 5


def test_sample_help_names_the_bounds(capsys):
    code, stdout, _ = run_cli(["sample", "--help"], capsys)
    assert code == 0 and "1024" in stdout and ".npz" in stdout


# --- diffusion steps: at most the training timesteps -----------------------------------------

def test_steps_are_bounded_by_the_training_timesteps(runs):
    run = load_run(runs["ddpm"])
    assert run.cfg.method.timesteps == 1000
    for sampler in ("ddpm", "ddim", "dpm"):
        assert sampling_options(run, sampler=sampler, steps=1000).steps == 1000
        with pytest.raises(ConfigError, match=r"--steps 1001 is more than the 1000 timesteps"):
            sampling_options(run, sampler=sampler, steps=1001)
    image, mask = torch.zeros(3, 16, 16, dtype=torch.uint8), torch.ones(16, 16, dtype=torch.bool)
    with pytest.raises(ConfigError, match=r"use 1\.\.1000"):
        inpaint(run, image, mask, steps=1001, label="circle")
    # text editing refuses before it computes the relevance map (the CLIP is never used)
    with pytest.raises(ConfigError, match=r"use 1\.\.1000"):
        text_edit(run, object(), image, select="a", prompt="b", label="circle", steps=1001)


# --- user text is printed as it is ----------------------------------------------------------

def test_user_text_with_brackets_is_printed_intact(runs, tmp_path, capsys):
    folder = tmp_path / "x[red]"
    shutil.copytree(runs["gan"], folder)
    code, stdout, err = run_cli(["info", folder], capsys)
    assert code == 0 and "x[red]" in stdout, err
    config = tmp_path / "exp.yaml"
    config.write_text("name: exp[v2]\n")
    code, stdout, err = run_cli(["config", config], capsys)
    assert code == 0 and "name: exp[v2]" in stdout, err
    code, stdout, err = run_cli(["config", "--keys"], capsys)
    assert code == 0 and "genlab[wandb]" in stdout, err
    out = tmp_path / "g[bold].png"
    code, stdout, err = run_cli(["sample", folder, "--n", "2", "--out", out], capsys)
    assert code == 0 and f"wrote {out}" in stdout and out.is_file(), err

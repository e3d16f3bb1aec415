"""The studio's Text to image work without a browser: CLIP + VQGAN gives, frame by frame, the
image being optimised and at the end the very PNG the `genlab text2img` command it shows
writes; a text-conditioned run's grid is the one `genlab sample --prompt` writes; bad
values, and runs of the wrong kind, are one-line refusals."""

import shlex
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import CLIP_DATA, ROOT, run_cli, tiny
from genlab.errors import GenlabError
from genlab.studio.engine import Studio
from genlab.studio.guard import STEPS_MAX, TEXT_MAX, StudioError
from genlab.studio.text import TextRequest, TextToImage


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny clip, vqgan, vae and text-ldm runs (2 steps each) in one runs folder."""
    from genlab import train
    from genlab.runs.config import load_config

    out = tmp_path_factory.mktemp("studio-text")

    def made(config, method, name, *extra):
        cfg = load_config(config and ROOT / "configs" / config,
                          tiny(out, "train.steps=2", f"name={name}", *extra, method=method))
        return train(cfg, show_progress=False).run_dir

    clip = made(None, "clip", "clip", *CLIP_DATA)
    made(None, "vqgan", "vq")
    vae = made("vae-latent.yaml", "vae", "vae", "data.name=shapes", "method.downsamples=1",
               "method.z_channels=4")
    made("ldm-text-shapes.yaml", "ldm", "tldm", "method.name=text-ldm", "method.heads=2",
         f"method.vae_run={vae}", f"method.clip_run={clip}")
    return out / "runs"


@pytest.fixture(scope="module")
def work(runs, tmp_path_factory):
    """One studio's text work (and its worker process) for the module."""
    work = TextToImage(Studio(runs, scratch=tmp_path_factory.mktemp("scratch")))
    yield work
    work.close()


def as_the_command(command, tmp_path, capsys):
    out = tmp_path / "cli.png"
    code, _, err = run_cli([*shlex.split(command)[1:], "--out", out], capsys)
    assert code == 0, err
    return np.asarray(Image.open(out))


def test_runs_are_offered_by_their_method(work):
    assert work.clip_runs() == ["clip"]
    assert work.vqgan_runs() == ["vq"]
    assert work.text_runs() == ["tldm"]


@pytest.mark.parametrize("extra", [
    dict(seed=3, steps=6, cutouts=3, lr=0.2),
    dict(seed=1, steps=3, cutouts=2, init="grey", init_weight=0.5, size=8),
])
def test_clip_vqgan_frames_end_on_the_image_the_command_writes(work, tmp_path, capsys, extra):
    request = TextRequest(prompt="a red circle", clip="clip", vqgan="vq", **extra)
    frames = list(work.text_to_image(request, every=2))
    steps = extra["steps"]
    assert [f.step for f in frames] == sorted({1, *range(2, steps, 2), steps})
    assert [f.done for f in frames] == [False] * (len(frames) - 1) + [True]
    last = frames[-1]
    assert last.line().startswith(f"done: step {steps}/{steps}, loss ")
    assert "CLIP similarity" in last.line() and "a red circle" in last.line()
    assert frames[0].line().startswith(f"step 1/{steps}, loss ")
    command = last.command
    assert command.startswith("genlab text2img --clip ") and command.endswith("'a red circle'")
    assert f"--steps {steps} --cutouts {extra['cutouts']}" in command
    assert "--device cpu" in command
    assert np.array_equal(np.asarray(last.image), as_the_command(command, tmp_path, capsys))
    # the page sees the image change: the first look is not the final image
    assert not np.array_equal(np.asarray(frames[0].image), np.asarray(last.image))
    assert frames[0].image.size == last.image.size


def test_the_same_seed_gives_the_same_image_and_closing_stops_the_run(work):
    request = TextRequest(prompt="a blue square:1|a circle:-0.5", clip="clip", vqgan="vq",
                          seed=7, steps=4, cutouts=2)
    first = list(work.text_to_image(request))[-1].image
    # other work of the studio drawing from torch's global RNG meanwhile (loading a run
    # builds nets) does not change the image: the optimisation runs in its own process
    busy = threading.Event()
    drawing = threading.Thread(target=lambda: [torch.rand(1) for _ in iter(busy.is_set, True)])
    drawing.start()
    try:
        again = list(work.text_to_image(request))[-1].image
    finally:
        busy.set()
        drawing.join()
    assert np.array_equal(np.asarray(first), np.asarray(again))
    long = TextRequest(prompt="a circle", clip="clip", vqgan="vq", steps=STEPS_MAX, cutouts=1)
    vq = work.studio.run_dir("vq")
    run = work.text_to_image(long, every=1)
    assert next(run).step == 1
    run.close()  # the worker stops at its next step and the run's lock is free again
    assert not work.studio.locks.busy(vq)
    run = work.text_to_image(long, every=1, owner="page 1")
    assert next(run).step == 1
    assert not work.stop("page 2")  # a page stops only its own run
    assert work.stop("page 1")
    rest = list(run)
    assert len(rest) < 50 and not any(frame.done for frame in rest)
    assert not work.studio.locks.busy(vq)


@pytest.mark.parametrize("changes, match", [
    (dict(prompt=""), "prompt: type something"),
    (dict(prompt="x" * (TEXT_MAX + 1)), f"at most {TEXT_MAX} characters"),
    (dict(prompt="a\ncircle"), "on one line"),
    (dict(prompt="a red circle:heavy"), "bad weight"),
    (dict(steps=STEPS_MAX + 1), "steps"),
    (dict(steps=0), "steps"),
    (dict(steps=2.5), "whole number"),
    (dict(cutouts=65), "cutouts"),
    (dict(seed=-1), "seed"),
    (dict(lr=float("nan")), "learning rate"),
    (dict(size=4096), "image side"),
    (dict(size=9), "not a positive multiple of the VQGAN's factor"),  # from the worker
    (dict(init_weight=-1), "init weight"),
    (dict(init="/etc/passwd"), "start"),
    (dict(clip="../clip"), "outside the runs folder"),
    (dict(vqgan="/etc"), "outside the runs folder"),
    (dict(clip="nothing"), "no run"),
    (dict(clip=None), "pick a run from the list"),  # no CLIP run to pick
    (dict(clip="vq"), "vq is a vqgan run, not a clip run: pick one from the CLIP list"),
    (dict(vqgan="clip"), "clip is a clip run, not a vqgan run: pick one from the VQGAN list"),
    (dict(vqgan="tldm"), "not a vqgan run"),
])
def test_bad_values_and_wrong_runs_are_one_line_refusals(work, changes, match):
    values = dict(prompt="a red circle", clip="clip", vqgan="vq", steps=1, cutouts=1)
    with pytest.raises(GenlabError, match=match) as error:
        next(work.text_to_image(TextRequest(**{**values, **changes})))
    assert "\n" not in str(error.value)


def test_text_ldm_grid_is_the_one_the_command_writes(work, tmp_path, capsys):
    result = work.sample_text("tldm", "a red circle", seed=2, n=4, steps=2, cfg=2.0)
    assert "--prompt 'a red circle'" in result.command and "--steps 2" in result.command
    assert np.array_equal(np.asarray(result.grid),
                          as_the_command(result.command, tmp_path, capsys))
    for run, prompt, match in [("clip", "a circle", "takes no prompt"),
                               ("tldm", "", "prompt: type something"),
                               ("../tldm", "a circle", "outside the runs folder")]:
        with pytest.raises(GenlabError, match=match):
            work.sample_text(run, prompt)
    with pytest.raises(StudioError, match="steps"):
        work.sample_text("tldm", "a circle", steps=STEPS_MAX + 1)

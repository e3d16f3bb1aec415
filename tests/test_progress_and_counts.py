"""Issue 18: long commands show a progress bar whose step, total and ETA stay whole on an
80-column terminal (training, sample, eval, inpaint: the real CLI under a pseudo-terminal);
sample counts are exact and grids never collapse to one column; default sample files are
never overwritten."""

import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time

import numpy as np
import pytest
import torch
from PIL import Image
from rich.console import Console

import genlab.engine.progress as progress_module
from conftest import PYTHON, ROOT, run_cli, subprocess_env, tiny
from genlab import train
from genlab.engine.progress import StepProgress
from genlab.images import class_rows
from genlab.runs.config import load_config

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]")
CLOCK = r"\d+:\d\d:\d\d"


def drawn_lines(cmd: list, columns: int, cwd, env_extra: dict | None = None,
                timeout: float = 300) -> tuple[list[str], str]:
    """Run `python -m genlab CMD` with stderr on a pseudo-terminal `columns` wide; return the
    lines drawn on it (every frame of a live bar, escapes removed) and stdout."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = subprocess_env()
    for key in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CI"):
        env.pop(key, None)
    env.update({"COLUMNS": str(columns), "LINES": "24", "TERM": "xterm-256color",
                **(env_extra or {})})
    proc = subprocess.Popen([PYTHON, "-m", "genlab", *map(str, cmd)], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 1.0)[0]:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        else:
            proc.kill()
            raise AssertionError(f"{cmd[0]} did not finish in {timeout} s")
    finally:
        os.close(master)
    stdout = proc.communicate(timeout=60)[0].decode()
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))
    assert proc.returncode == 0, text[-3000:]
    return [line for line in re.split(r"[\r\n]", text) if line.strip()], stdout


def bar_lines(lines: list[str], total: int, unit: str = "") -> list[str]:
    """The drawn lines that show `done/total [unit]` and an ETA, both whole."""
    unit = f" {unit}" if unit else ""
    pattern = re.compile(rf"(?<![\d…])\d+/{total}{unit}(?![\d…]).* eta {CLOCK}(?![\d…])")
    return [line for line in lines if pattern.search(line)]


# --- training ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pty_training(tmp_path_factory):
    """A tiny conditional GAN trained 50 steps under an 80- and a 120-column terminal, on the
    6 colour classes with a 6-image grid (n // classes per row made that one column)."""
    drawn = {}
    for columns in (80, 120):
        out = tmp_path_factory.mktemp(f"pty-train-{columns}")
        sets = tiny(out, "train.steps=50", "train.ckpt_every=25", "train.sample_every=0",
                    "data.shapes.label=colour", "train.sample_n=6")
        cmd = ["train", ROOT / "configs" / "demo.yaml", "--name", "p", "--set",
               "train.max_minutes=null"]
        for item in sets:
            cmd += ["--set", item]
        lines, _ = drawn_lines(cmd, columns, out)
        drawn[columns] = (lines, out / "runs" / "p")
    return drawn


@pytest.mark.parametrize("columns", [80, 120])
def test_training_bar_keeps_step_total_and_eta_whole(pty_training, columns):
    lines, _ = pty_training[columns]
    shown = bar_lines(lines, 50)
    assert shown, "\n".join(lines[-20:])
    assert all(len(line) <= columns for line in shown)
    assert any("loss_d=" in line for line in lines)  # the losses get the room that is left


def test_training_grid_of_as_many_images_as_classes_is_one_row(pty_training):
    grid = Image.open(pty_training[80][1] / "samples" / "final.png")
    assert grid.size == (6 * 18 + 2, 18 + 2)  # 6 images of 16 px in a row, 2 px padding


# --- the bar itself, in rich's own test console ----------------------------------------------

@pytest.fixture
def terminal(monkeypatch):
    """The progress console as an 80-column terminal writing into a buffer."""
    def make(columns: int) -> io.StringIO:
        buffer = io.StringIO()
        monkeypatch.setattr(progress_module, "console",
                            Console(file=buffer, width=columns, force_terminal=True,
                                    color_system=None))
        return buffer
    return make


@pytest.mark.parametrize("columns", [40, 80, 120])
def test_losses_never_push_out_the_count_or_the_eta(terminal, columns):
    buffer = terminal(columns)
    logs = {"loss_d": 1.2345, "loss_g": 0.98765, "d_real": 0.5, "d_fake": -0.25,
            "train_seconds": 12.3, "images_per_s": 1234.5}
    bar = StepProgress(500, 0)
    for step in range(1, 61):
        time.sleep(0.002)
        bar.update(step, logs if step % 10 == 0 else None)
    bar.close()
    lines = [line for line in re.split(r"[\r\n]", ANSI.sub("", buffer.getvalue())) if line]
    assert bar_lines(lines, 500) and any("60/500" in line for line in bar_lines(lines, 500))
    assert all(len(line) <= columns for line in lines)
    assert any(line.startswith("  loss_d=1.234") for line in lines)


def test_off_a_terminal_a_command_prints_at_most_two_lines(monkeypatch):
    from genlab.engine.progress import progress_bar

    buffer = io.StringIO()
    monkeypatch.setattr(progress_module, "console", Console(file=buffer, width=80))
    with progress_bar(1000, label="sample", unit="images", enabled=True) as report:
        for done in range(0, 1001, 10):
            report(done)
    assert buffer.getvalue() == ""  # quick work: nothing (a script's output stays as it was)
    monkeypatch.setattr(progress_module, "QUIET_SECONDS", 0.0)
    with progress_bar(1000, label="sample", unit="images", enabled=True) as report:
        for done in range(0, 1001, 10):
            report(done)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("sample 500/1000 images elapsed")
    assert lines[1].startswith("sample 1000/1000 images") and "eta 0s" in lines[1]
    with progress_bar(1000, label="sample", unit="images", enabled=False) as report:
        assert report is None  # the Python API's default: no bar, no callback


# --- sample and eval under a terminal ----------------------------------------------------------

@pytest.mark.parametrize("columns", [80, 120])
def test_sample_shows_images_total_and_eta(trained_run, tmp_path, columns):
    lines, stdout = drawn_lines(["sample", trained_run, "--n", "600", "--out",
                                 tmp_path / "set.npz"], columns, tmp_path)
    shown = bar_lines(lines, 600, "images")
    assert shown and all(len(line) <= columns for line in shown), "\n".join(lines)
    assert any(line.startswith("sample ") for line in shown)
    assert "wrote 600 images" in stdout


def test_eval_shows_generation_total_and_eta(trained_run, tmp_path, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "cache"  # the judge test_evaluation trains too
    lines, stdout = drawn_lines(["eval", trained_run, "--n", "200", "--out", tmp_path / "ev"],
                                80, tmp_path, {"GENLAB_CACHE": str(cache)})
    shown = bar_lines(lines, 200, "images")
    assert any(line.startswith("generate ") for line in shown), "\n".join(lines)
    assert any(line.startswith("features ") for line in shown), "\n".join(lines)
    assert all(len(line) <= 80 for line in shown)
    assert (tmp_path / "ev" / "report.md").is_file() and "fid=" in stdout


@pytest.fixture(scope="module")
def ddpm_run(tmp_path_factory):
    """A class-conditional DDPM on 3 shapes, trained 1 step."""
    out = tmp_path_factory.mktemp("ddpm")
    cfg = load_config(None, tiny(out, "data.shapes.label=shape", "method.conditional=true",
                                 "train.steps=1", "name=ddpm", method="ddpm"))
    return train(cfg, show_progress=False).run_dir


def test_inpaint_shows_steps_total_and_eta(ddpm_run, tmp_path):
    Image.new("RGB", (16, 16), (200, 30, 30)).save(tmp_path / "img.png")
    mask = Image.new("L", (16, 16), 0)
    mask.paste(255, (4, 4, 12, 12))
    mask.save(tmp_path / "mask.png")
    lines, _ = drawn_lines(["inpaint", ddpm_run, "--image", "img.png", "--mask", "mask.png",
                            "--label", "circle", "--steps", "10", "--jumps", "2",
                            "--jump-length", "5"], 80, tmp_path)
    shown = [line for line in lines if line.startswith("inpaint ")]
    assert shown and re.search(rf"\d+/\d+ steps .*eta {CLOCK}", shown[-1]), "\n".join(lines)


def test_diffusion_progress_moves_within_a_batch_and_changes_no_image(ddpm_run):
    from genlab.generate.guidance import sampling_options
    from genlab.generate.sample import iter_images
    from genlab.runs.load import load_run

    run = load_run(ddpm_run)
    options = sampling_options(run, steps=4)
    seen = []
    quiet = torch.cat([x for x, _ in iter_images(run.method, 5, seed=3, batch_size=3,
                                                 options=options)])
    watched = torch.cat([x for x, _ in iter_images(run.method, 5, seed=3, batch_size=3,
                                                   options=options, on_progress=seen.append)])
    assert torch.equal(quiet, watched)
    assert seen[0] == pytest.approx(0.75) and seen[-1] == 5  # a quarter of 3 images per step
    assert seen == sorted(seen)


# --- exact counts, grids, names ---------------------------------------------------------------

def test_class_rows_gives_exactly_n_and_never_one_column():
    for n, classes in [(8, 3), (6, 3), (10, 10), (1, 3), (64, 3), (100, 10), (7, 2), (40, 20),
                       (300, 3), (1024, 2)]:
        labels, row = class_rows(n, classes)
        assert len(labels) == n, (n, classes)
        assert row >= 2 or n == 1, (n, classes)
        counts = labels.bincount(minlength=classes)
        assert counts.max() - counts.min() <= 1, (n, classes)  # every class in turn
        if n % classes == 0 and 2 <= n // classes <= 16:  # a row per class
            assert row == n // classes and labels.tolist() == sorted(labels.tolist())
        else:  # classes cycle; a row holds whole cycles, so each column is one class
            assert row % classes == 0 or classes > 16, (n, classes)


def test_sample_gives_exactly_n_images(trained_run, tmp_path, capsys):
    code, stdout, err = run_cli(["sample", trained_run, "--n", "8", "--out",
                                 tmp_path / "g.png"], capsys)
    assert code == 0, err
    assert Image.open(tmp_path / "g.png").size == (6 * 18 + 2, 2 * 18 + 2)  # rows of 6: 6 + 2
    assert "8 images" in stdout
    code, stdout, err = run_cli(["sample", trained_run, "--n", "8", "--out",
                                 tmp_path / "s.npz"], capsys)
    with np.load(tmp_path / "s.npz") as data:
        assert data["images"].shape[0] == 8 and data["labels"].tolist() == [0, 1, 2] * 2 + [0, 1]
    code, stdout, err = run_cli(["sample", trained_run, "--n", "9", "--out",
                                 tmp_path / "rows.png"], capsys)
    assert Image.open(tmp_path / "rows.png").size == (3 * 18 + 2, 3 * 18 + 2)  # a row a class


def test_default_sample_files_are_never_overwritten(trained_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    written = []
    for label in ("1", "0", "1"):
        code, stdout, err = run_cli(["sample", run, "--label", label, "--n", "4"], capsys)
        assert code == 0, err
        written.append(stdout.split("wrote ", 1)[1].split(" (")[0].strip())
    assert len(set(written)) == 3, written
    assert all(os.path.isfile(path) for path in written)
    assert "label-1" in written[0] and "label-0" in written[1]
    # an explicit --out is the user's choice: replaced, and said so
    code, stdout, err = run_cli(["sample", run, "--n", "4", "--out", written[0]], capsys)
    assert code == 0 and "replacing" in stdout, err

"""Evaluate from the studio without a browser: the files are the ones `genlab eval` writes for
the same n and seed (a judge missing for the data is trained first, as a part of its own),
a run that trains is refused and nothing is written, bad values are refused in one line,
and a second evaluation of a run waits for the first."""

import json
import shutil
import threading
import time

import pytest
from filelock import FileLock

from conftest import run_cli
from genlab.engine.run_dir import LOCK
from genlab.studio.engine import Studio
from genlab.studio.evaluate import (
    TRAINING,
    EvalRequest,
    Evaluated,
    evaluate,
    evaluate_live,
    progress_markdown,
)
from genlab.studio.guard import StudioError


@pytest.fixture
def runs(trained_run, tmp_path, monkeypatch):
    """A copy of the session's tiny GAN (the studio writes eval/ into it) and a judge cache
    of this test's own, empty."""
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    shutil.copytree(trained_run, tmp_path / "runs" / "tiny")
    return tmp_path / "runs"


def numbers(folder):
    """eval.json without the seconds it took."""
    found = json.loads((folder / "eval.json").read_text())
    found["generated"].pop("seconds")
    return found


def test_the_studio_writes_what_the_command_writes(runs, tmp_path, capsys):
    studio = Studio(runs, scratch=tmp_path / "scratch")
    parts = []
    result = evaluate(studio, EvalRequest("tiny", 50, 3), on_progress=parts.append)
    folder = runs / "tiny" / "eval" / result.folder
    assert result.folder == "step-0000004"
    assert {p.name for p in folder.iterdir()} >= {"eval.json", "report.md", "samples.png"}
    assert result.command == f"genlab eval {runs / 'tiny'} --n 50 --seed 3"
    assert result.results["protocol"]["n_generated"] == 50
    assert result.results["protocol"]["seed"] == 3
    # the empty cache had no judge: it was trained first, as a part the page shows
    assert any(p.startswith("no judge is cached for shapes at 16 px: training one") for p in
               parts), parts
    assert "generating 50 images" in parts and parts[-1].startswith("writing eval.json")
    assert list((tmp_path / "cache" / "judges").glob("shapes-16px-*/judge.json"))

    code, _, err = run_cli(["eval", runs / "tiny", "--n", "50", "--seed", "3", "--out",
                            tmp_path / "cli"], capsys)
    assert code == 0, err
    assert numbers(folder) == numbers(tmp_path / "cli")

    parts.clear()  # again: the judge is cached now, and the numbers are the same
    assert evaluate(studio, EvalRequest("tiny", 50, 3), parts.append).folder == result.folder
    assert not any("training" in p for p in parts), parts
    assert numbers(folder) == numbers(tmp_path / "cli")


def test_a_training_run_is_refused_and_nothing_is_written(runs, tmp_path):
    studio = Studio(runs, scratch=tmp_path / "scratch")
    with FileLock(str(runs / "tiny" / LOCK), timeout=0):  # what `genlab train` holds
        with pytest.raises(StudioError, match=f"^{TRAINING}$"):
            evaluate(studio, EvalRequest("tiny", 50, 0))
        with pytest.raises(StudioError, match=f"^{TRAINING}$"):
            list(evaluate_live(studio, EvalRequest("tiny", 50, 0)))
    assert not (runs / "tiny" / "eval").exists()
    assert not (tmp_path / "cache").exists()  # not even a judge was trained


@pytest.mark.parametrize("n, seed, needle", [
    (5, 0, "number of images 5 is out of range: give 10 to 10,000"),
    (10_001, 0, "number of images 10,001 is out of range"),
    (2.5, 0, "number of images: give a whole number"),
    (None, 0, "number of images: give a whole number"),
    (float("nan"), 0, "number of images: give a whole number"),
    ("50", 0, "number of images: give a whole number"),
    (50, -1, "seed -1 is out of range"),
    (50, 2**63, "seed 9,223,372,036,854,775,808 is out of range"),
    (50, 1.5, "seed: give a whole number"),
])
def test_bad_values_are_refused_in_one_line(runs, tmp_path, n, seed, needle):
    studio = Studio(runs, scratch=tmp_path / "scratch")
    with pytest.raises(StudioError) as error:
        evaluate(studio, EvalRequest("tiny", n, seed))
    assert needle in str(error.value) and "\n" not in str(error.value)
    assert not (runs / "tiny" / "eval").exists()


@pytest.mark.parametrize("name", ["../tiny", "/etc", "nope"])
def test_a_run_outside_the_folder_is_refused(runs, tmp_path, name):
    from genlab.errors import GenlabError

    with pytest.raises(GenlabError, match="pick a run from the list"):
        evaluate(Studio(runs, scratch=tmp_path / "scratch"), EvalRequest(name, 50, 0))


def test_a_second_evaluation_of_a_run_waits_for_the_first(runs, tmp_path):
    studio = Studio(runs, scratch=tmp_path / "scratch")
    parts: list[str] = []
    with studio.locks.hold(runs / "tiny"):  # a generation or evaluation already running
        worker = threading.Thread(
            target=evaluate, args=(studio, EvalRequest("tiny", 20, 0), parts.append))
        worker.start()
        deadline = time.monotonic() + 30
        while not parts and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        assert parts == ["waiting for the work already running on this run (one at a time "
                         "per run)"]
        assert not (runs / "tiny" / "eval").exists()
    worker.join(timeout=120)
    assert (runs / "tiny" / "eval" / "step-0000004" / "eval.json").is_file()


def test_the_live_view_yields_parts_then_the_result(runs, tmp_path):
    studio = Studio(runs, scratch=tmp_path / "scratch")
    items = list(evaluate_live(studio, EvalRequest("tiny", 20, 1), tick=0.05))
    assert isinstance(items[-1], Evaluated) and items[-1].results["protocol"]["seed"] == 1
    lines = [i for i in items[:-1] if i is not None]
    assert lines[0] == "looking for the judge of shapes at 16 px"
    assert all(isinstance(i, str) for i in lines)


def test_the_progress_lines_say_what_ran_and_for_how_long():
    parts = [("loading", 10.0), ("generating 50 images", 10.5)]
    assert progress_markdown(parts, now=13.2) == (
        "1. loading: 0.5 s\n2. generating 50 images: running (3 s)")
    assert progress_markdown(parts, now=13.2, done=True).endswith("images: 2.7 s")


def test_the_tab_shows_a_refusal_in_one_line(runs, tmp_path):
    from genlab.studio.tab_runs import evaluate as click

    studio = Studio(runs, scratch=tmp_path / "scratch")
    status, *_ = list(click(studio, "tiny", 5, 0))[-1]
    assert status == ("**refused**: number of images 5 is out of range: give 10 to 10,000")
    with FileLock(str(runs / "tiny" / LOCK), timeout=0):
        status, *_ = list(click(studio, "tiny", 50, 0))[-1]
    assert status == f"**refused**: {TRAINING}"
    assert not (runs / "tiny" / "eval").exists()


def test_the_report_on_the_page_leaves_out_the_images_it_cannot_serve():
    from genlab.studio.tab_runs import _without_images

    report = ("# Evaluation of tiny\n\n| FID | 1 |\n\n## Samples\n\n![samples](samples.png)\n\n"
              "## Class histogram\n\n![classes](class_histogram.png)\n")
    assert _without_images(report) == "# Evaluation of tiny\n\n| FID | 1 |"

"""The studio's guards without a browser: run names from the page resolve inside RUNS_DIR and
nowhere else (hostile names, symlinks out), numbers are bounded, one generation per run at a
time, and the run files are read while a run writes them."""

import json
import socket
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from genlab.errors import RunError
from genlab.studio.catalog import loss_rows, run_view, sample_grids, training_now
from genlab.studio.engine import SampleRequest
from genlab.studio.guard import (
    N_MAX,
    SIDE_MAX,
    STEPS_MAX,
    UPLOAD_BYTES,
    RunLocks,
    StudioError,
    check_float,
    check_image_size,
    check_int,
    check_text,
    check_upload,
    list_runs,
    resolve_run,
)


def fake_run(folder):
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("{}\n")
    (folder / "run.json").write_text("{}\n")
    return folder


@pytest.fixture
def runs(tmp_path):
    """runs/a, runs/group/b, a run outside runs/, a plain folder and a file inside."""
    root = tmp_path / "runs"
    fake_run(root / "a")
    fake_run(root / "group" / "b")
    fake_run(tmp_path / "secret-run")
    (root / "notes").mkdir()
    (root / "file.txt").write_text("x")
    (root / "link-out").symlink_to(tmp_path / "secret-run")
    (root / "link-in").symlink_to(root / "a")
    return root


def test_run_names_resolve_inside_the_runs_folder(runs):
    assert resolve_run(runs, "a") == (runs / "a").resolve()
    assert resolve_run(runs, " group/b ") == (runs / "group" / "b").resolve()
    assert resolve_run(runs, "link-in") == (runs / "a").resolve()  # a link that stays inside


HOSTILE = ["../secret-run", "..", "a/../../secret-run", "group/../../secret-run", "./a",
           "a/.", "/etc", "/etc/passwd", "~", "~/x", "..\\secret-run", "a\\..\\..",
           ".hidden", "a/.git", "a//b", "a/", "a\x00b", "a\nb", "\x1b[31m", "x" * 300, "/",
           "//etc"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_refused_before_any_lookup(runs, name):
    with pytest.raises(StudioError) as err:
        resolve_run(runs, name)
    assert "\n" not in str(err.value) and "pick a run" in str(err.value)


def test_absolute_paths_are_refused_even_to_a_run_inside(runs):
    with pytest.raises(StudioError, match="outside the runs folder"):
        resolve_run(runs, str((runs / "a").resolve()))


def test_a_symlink_out_of_the_runs_folder_is_refused(runs):
    with pytest.raises(StudioError, match="outside the runs folder"):
        resolve_run(runs, "link-out")


@pytest.mark.parametrize("name", [None, 3, ["a"], b"a", "", "   "])
def test_names_that_are_not_text_are_refused(runs, name):
    with pytest.raises(StudioError, match="pick a run"):
        resolve_run(runs, name)


@pytest.mark.parametrize("name", ["missing", "notes", "file.txt", "group"])
def test_folders_that_are_not_runs_are_refused(runs, name):
    with pytest.raises(RunError, match="pick a run from the list"):
        resolve_run(runs, name)


def test_the_list_holds_exactly_the_runs_inside(runs):
    assert list_runs(runs) == ["a", "group/b", "link-in"]
    assert list_runs(runs.parent / "nowhere") == []


@pytest.mark.parametrize("value", [None, "3", True, float("nan"), float("inf"), 2.5, -1,
                                   N_MAX + 1, 10**30])
def test_counts_are_whole_numbers_in_range(value):
    with pytest.raises(StudioError, match="number of images"):
        check_int(value, "number of images", 1, N_MAX)


def test_counts_in_range_pass_as_ints():
    assert check_int(4.0, "n", 1, N_MAX) == 4 and check_int(N_MAX, "n", 1, N_MAX) == N_MAX


@pytest.mark.parametrize("value", [float("nan"), float("-inf"), -0.1, 50.5, "1", None])
def test_scales_are_bounded_numbers(value):
    with pytest.raises(StudioError, match="CFG"):
        check_float(value, "CFG", 0, 50)


def test_text_is_one_short_line():
    assert check_text("  a red circle ", "prompt") == "a red circle"
    assert check_text("", "prompt") is None and check_text(None, "prompt") is None
    for bad in ["x" * 301, "a\nb", "a\x00"]:
        with pytest.raises(StudioError, match="prompt"):
            check_text(bad, "prompt")
    with pytest.raises(StudioError, match="type something"):
        check_text(" ", "prompt", required=True)


def test_image_sides_are_bounded():
    check_image_size(SIDE_MAX, 16)
    for w, h in [(SIDE_MAX + 1, 16), (16, 10**6), (0, 16)]:
        with pytest.raises(StudioError, match="at most"):
            check_image_size(w, h)


def _bomb(path):
    """A PNG whose header claims 20,000 x 20,000 pixels: a few hundred bytes on disk."""
    Image.new("1", (20_000, 20_000)).save(path)  # one bit per pixel, all zero: compresses


@pytest.mark.parametrize("case, needle", [
    ("none", "upload an image first"), ("gone", "is gone"), ("text", "is not an image"),
    ("empty", "is not an image"), ("big", "over 8 MB"), ("pdf", "is not an image"),
    ("wide", "at most 1024 x 1024"), ("bomb", "at most 1024 x 1024"), ("ico", "ICO file")])
def test_hostile_uploads_are_refused_in_one_line_before_decoding(case, needle, tmp_path):
    path = tmp_path / "upload.png"
    if case == "text":
        path.write_text("not an image\n")
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "big":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * UPLOAD_BYTES)
    elif case == "pdf":
        path.write_bytes(b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n")
    elif case == "wide":
        Image.new("RGB", (SIDE_MAX + 1, 4)).save(path)
    elif case == "bomb":
        _bomb(path)
    elif case == "ico":
        path = tmp_path / "upload.ico"
        Image.new("RGB", (16, 16)).save(path)
    with pytest.raises(StudioError, match=needle) as error:
        check_upload(None if case == "none" else path, "the image")
    assert "\n" not in str(error.value) and str(tmp_path) not in str(error.value)


def test_an_image_upload_is_accepted_as_it_is(tmp_path):
    for name, size in [("a.png", (16, 16)), ("b.jpg", (SIDE_MAX, 3))]:
        Image.new("RGB", size).save(tmp_path / name)
        assert check_upload(tmp_path / name) == tmp_path / name


@pytest.mark.parametrize("field, value, needle", [
    ("n", 0, "number of images"), ("n", N_MAX + 1, "number of images"),
    ("seed", -1, "seed"), ("seed", 2**64, "seed"), ("steps", 0, "steps"),
    ("steps", STEPS_MAX + 1, "steps"), ("cfg", -1.0, "CFG"), ("guide_scale", 1e9, "guide"),
    ("truncation", 0.0, "truncation"), ("truncation", 1.5, "truncation"),
    ("guide", "clip:a red circle", "judge:CLASS"), ("prompt", "p" * 1000, "prompt")])
def test_sample_requests_are_bounded(field, value, needle):
    with pytest.raises(StudioError, match=needle):
        SampleRequest(run="a", **{field: value}).checked()


def test_the_command_line_says_what_was_asked():
    req = SampleRequest(run="a", seed=3, n=8, label="square", truncation=0.5,
                        sampler="ddim", steps=20, cfg=2.0, guide="judge:a b")
    assert req.checked().command(Path("my runs/a")) == (
        "genlab sample 'my runs/a' --n 8 --seed 3 --label square --truncation 0.5 "
        "--sampler ddim --steps 20 --cfg 2 --guide 'judge:a b'")


def test_one_generation_at_a_time_per_run(tmp_path):
    locks, order = RunLocks(), []
    a, b = tmp_path / "a", tmp_path / "b"

    def work(path, name):
        with locks.hold(path):
            order.append(f"{name} in")
            time.sleep(0.2)
            order.append(f"{name} out")

    first = threading.Thread(target=work, args=(a, "first"))
    first.start()
    time.sleep(0.05)
    assert locks.busy(a) and not locks.busy(b)
    with locks.hold(b):  # another run goes ahead at once
        order.append("other run")
    second = threading.Thread(target=work, args=(a, "second"))
    second.start()
    first.join()
    second.join()
    assert order == ["first in", "other run", "first out", "second in", "second out"]


def test_run_files_are_read_while_a_run_writes_them(trained_run):
    from filelock import FileLock

    from genlab.engine.run_dir import LOCK

    view = run_view(trained_run, "tiny")
    assert (view.method, view.data, view.steps_done, view.generative) == ("gan", "shapes", 4,
                                                                           True)
    assert "loss_d" in view.last_log and "tiny" in view.markdown()
    assert [c for _, c in sample_grids(trained_run)] == ["step 2", "step 4", "final"]
    rows = loss_rows(trained_run)
    assert {r["series"] for r in rows} >= {"loss_d", "loss_g"}
    assert max(r["step"] for r in rows) == 4
    assert not training_now(trained_run)
    with FileLock(str(trained_run / LOCK)):
        assert training_now(trained_run)
    assert not training_now(trained_run)


def test_a_half_written_metrics_line_is_left_for_the_next_read(tmp_path):
    from genlab.engine.tracking import read_metrics

    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps({"step": 1, "loss": 0.5}) + "\n" + '{"step": 2, "lo')
    assert read_metrics(path) == [{"step": 1, "loss": 0.5}]


def test_the_command_refuses_a_missing_folder_and_says_how_to_get_gradio(monkeypatch, capsys,
                                                                         tmp_path):
    import sys

    from conftest import assert_one_line_error, run_cli

    code, _, err = run_cli(["studio", tmp_path / "nope"], capsys)
    assert_one_line_error(code, err, "no folder", "make demo")
    code, _, err = run_cli(["studio", tmp_path, "--port", "70000"], capsys)
    assert_one_line_error(code, err, "--port 70000")
    with socket.create_server(("127.0.0.1", 0)) as taken:  # a port another program holds
        code, _, err = run_cli(["studio", tmp_path, "--port", taken.getsockname()[1]], capsys)
    assert_one_line_error(code, err, "cannot listen on 127.0.0.1:", "free --port")
    code, _, err = run_cli(["studio", tmp_path, "--host", "no-such-host.invalid"], capsys)
    assert_one_line_error(code, err, "cannot listen on no-such-host.invalid")
    monkeypatch.setitem(sys.modules, "gradio", None)  # a plain `pip install genlab`
    for name in [m for m in sys.modules if m.startswith(("genlab.studio.app",
                                                         "genlab.studio.tab_"))]:
        monkeypatch.delitem(sys.modules, name)
    code, _, err = run_cli(["studio", tmp_path], capsys)
    assert_one_line_error(code, err, "pip install 'genlab[studio]'")

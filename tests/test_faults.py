"""Faults during training: a NaN loss, a full disk, two writers of one run, a second Ctrl-C.
Whatever happens, earlier checkpoints stay intact and the run can be resumed."""

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import genlab
import genlab.files as files_module
from conftest import PYTHON, ROOT, assert_one_line_error, run_cli, subprocess_env, tiny
from genlab.engine import checkpoint as checkpoint_module
from genlab.engine.checkpoint import checkpoint_step, find_checkpoint, list_checkpoints
from genlab.errors import CheckpointError, TrainingError
from genlab.runs.config import load_config
from genlab.runs.train import build_trainer, resume_config

DCGAN = ROOT / "configs" / "dcgan.yaml"


def _cfg(tmp_path, *extra, name="f"):
    return load_config(DCGAN, tiny(tmp_path, "data.name=shapes", "train.steps=8",
                                   "train.ckpt_every=2", "train.keep_last=1",
                                   "train.sample_every=0", "train.tensorboard=false",
                                   f"name={name}", *extra))


def _nan_at(trainer, step: int, times: int = 1) -> None:
    """Make the generator's loss NaN when `trainer` takes `step` (the first `times` times)."""
    update, left = trainer.ctx.update, [times]

    def poisoned(name, loss):
        if name == "G" and trainer.step + 1 == step and left[0] > 0:
            left[0] -= 1
            loss = loss * float("nan")
        update(name, loss)

    trainer.ctx.update = poisoned


def _strict_json_lines(path: Path) -> list[dict]:
    def refuse(token):
        raise AssertionError(f"{path} holds {token}, which is not JSON")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


def _all_finite(run_dir: Path) -> bool:
    weights = load_file(find_checkpoint(run_dir) / "weights.safetensors")
    return all(bool(torch.isfinite(v).all()) for v in weights.values())


# --- a non-finite loss -------------------------------------------------------------------------

def test_nan_stops_at_once_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = build_trainer(_cfg(tmp_path), show_progress=False)
    _nan_at(trainer, 5)
    with pytest.raises(TrainingError, match=r"step 5: the G loss is nan.*last good checkpoint "
                                            r"is step 4"):
        trainer.run()
    run = trainer.run_dir
    assert [checkpoint_step(p) for p in list_checkpoints(run / "checkpoints")] == [4]
    assert _all_finite(run)
    records = _strict_json_lines(run / "metrics.jsonl")
    assert records[-1]["step"] == 5 and records[-1]["loss_G"] is None
    assert records[-1]["nonfinite"] == 1
    # the lock was released and the run resumes from step 4
    result = genlab.train(resume_config(run, None, []), resume=run, show_progress=False)
    assert result.step == 8 and _all_finite(run)


def test_nan_rolls_back_and_goes_on_at_a_lower_learning_rate(tmp_path, capsys):
    trainer = build_trainer(_cfg(tmp_path, "train.on_nonfinite=rollback"), show_progress=False)
    _nan_at(trainer, 5)
    result = trainer.run()
    assert result.step == 8 and not result.interrupted
    assert "rolled back to step 4, learning rates x0.5" in capsys.readouterr().err
    _, state = checkpoint_module.load_checkpoint(find_checkpoint(result.run_dir))
    assert state["lr_scale"] == 0.5  # a resumed run keeps the lowered rates
    steps = [r["step"] for r in _strict_json_lines(result.run_dir / "metrics.jsonl")
             if "rolled_back_from" not in r]
    assert steps == list(range(1, 9))  # the replayed steps are logged once
    assert _all_finite(result.run_dir)


def test_nan_skips_the_update_then_stops_after_max_recoveries(tmp_path):
    trainer = build_trainer(_cfg(tmp_path, "train.on_nonfinite=skip", name="skip"),
                            show_progress=False)
    _nan_at(trainer, 3)
    assert trainer.run().step == 8 and trainer.recoveries == 1
    again = build_trainer(_cfg(tmp_path, "train.on_nonfinite=skip", "train.max_recoveries=2",
                               name="many"), show_progress=False)
    update = again.ctx.update
    again.ctx.update = lambda name, loss: update(name, loss * float("nan") if again.step >= 4
                                                 else loss)
    with pytest.raises(TrainingError, match="step 7: the D loss is nan"):
        again.run()
    assert [checkpoint_step(p) for p in list_checkpoints(again.run_dir / "checkpoints")] == [6]


def test_nonfinite_weights_are_never_checkpointed(tmp_path):
    trainer = build_trainer(_cfg(tmp_path, "train.steps=4"), show_progress=False)
    step = trainer.train_step

    def breaking():
        logs = step()
        if trainer.step == 4:  # after the update: only the checkpoint can catch it
            next(trainer.method.nets["G"].parameters()).data[0] = float("inf")
        return logs

    trainer.train_step = breaking
    with pytest.raises(TrainingError, match="step 4: nets.G.* NaN or infinite.*not saved"):
        trainer.run()
    assert [checkpoint_step(p) for p in list_checkpoints(trainer.run_dir / "checkpoints")] == [2]


def test_a_diverging_run_is_one_line_and_exit_2_on_the_command_line(tmp_path, capsys):
    code, _, err = run_cli(["train", DCGAN, *sum((["--set", s] for s in tiny(
        tmp_path, "data.name=shapes", "train.steps=30", "train.ckpt_every=0",
        "train.tensorboard=false", "method.lr_g=1e30", "method.lr_d=1e30", "name=boom")), [])],
        capsys)
    # training printed its progress first; the mistake is one error line, exit 2
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == errors[0]
    assert all(s in errors[0] for s in ("loss is nan", "training diverged", "--resume"))
    run = tmp_path / "runs" / "boom"
    assert not list_checkpoints(run / "checkpoints")  # nothing non-finite was saved
    _strict_json_lines(run / "metrics.jsonl")


# --- a full disk -------------------------------------------------------------------------------

def _disk_full_after(monkeypatch, saves_that_work: int) -> None:
    """safetensors writes half a file, then the disk is full (after some good saves)."""
    real, calls = checkpoint_module.save_file, [0]

    def save_file(tensors, path, *args, **kwargs):
        calls[0] += 1
        if calls[0] > saves_that_work:
            Path(path).write_bytes(b"\0" * 100)
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(tensors, path, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module, "save_file", save_file)


def test_disk_full_during_a_checkpoint_loses_nothing_and_resumes(tmp_path, monkeypatch):
    reference = genlab.train(_cfg(tmp_path, "train.keep_last=3", name="ref"),
                             show_progress=False).run_dir
    _disk_full_after(monkeypatch, 1)  # step 2 saves, step 4 finds the disk full
    trainer = build_trainer(_cfg(tmp_path, "train.keep_last=3"), show_progress=False)
    with pytest.raises(CheckpointError, match="could not write checkpoint step-0000004.*No "
                                              "space left.*earlier checkpoints are intact"):
        trainer.run()
    ckpts = trainer.run_dir / "checkpoints"
    assert [p.name for p in ckpts.iterdir()] == ["step-0000002"]  # no temporary left behind
    monkeypatch.undo()  # space freed
    result = genlab.train(resume_config(trainer.run_dir, None, []), resume=trainer.run_dir,
                          show_progress=False)
    assert result.step == 8
    a, b = (load_file(find_checkpoint(r) / "weights.safetensors")
            for r in (reference, trainer.run_dir))
    assert all(torch.equal(a[k], b[k]) for k in a)  # as if the disk had never filled


def test_disk_full_is_one_line_on_the_command_line_even_when_resuming(tmp_path, monkeypatch,
                                                                      capsys):
    run = genlab.train(_cfg(tmp_path, "train.steps=2"), show_progress=False).run_dir
    config_before = (run / "config.yaml").read_text()

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(files_module.Path, "write_text", full)
    code, _, err = run_cli(["train", "--resume", run, "--set", "train.steps=4"], capsys)
    monkeypatch.undo()
    assert_one_line_error(code, err, "No space left on device", "free space")
    assert (run / "config.yaml").read_text() == config_before
    assert not list(run.glob(".*.tmp"))


def test_leftovers_of_killed_processes_are_cleaned_at_start(tmp_path):
    run = genlab.train(_cfg(tmp_path, "train.steps=2"), show_progress=False).run_dir
    for name in (".tmp-step-0000004-123", ".trash-step-0000002-456"):
        (run / "checkpoints" / name).mkdir()
        (run / "checkpoints" / name / "weights.safetensors").write_bytes(b"x" * 1000)
    (run / ".config.yaml.tmp").write_text("")
    genlab.train(resume_config(run, None, ["train.steps=3", "train.keep_last=3"]), resume=run,
                 show_progress=False)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-0000002",
                                                                       "step-0000003"]
    assert not list(run.glob(".*.tmp"))


# --- two writers, and Ctrl-C twice ---------------------------------------------------------------

def _train_process(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, "-m", "genlab", "train", *args], cwd=tmp_path,
                            env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_for_steps(run: Path, proc: subprocess.Popen, steps: int) -> None:
    from test_process import _logged_steps, _wait_for

    _wait_for(lambda: _logged_steps(run) >= steps, proc)


@pytest.mark.slow
def test_a_second_resume_of_a_run_in_training_is_refused(tmp_path, capsys):
    run = genlab.train(_cfg(tmp_path, "train.steps=2", "train.log_every=1"),
                       show_progress=False).run_dir
    first = _train_process(tmp_path, "--resume", str(run), "--set", "train.steps=100000")
    try:
        _wait_for_steps(run, first, 4)
        code, _, err = run_cli(["train", "--resume", run, "--set", "train.steps=100000"],
                               capsys)
        assert_one_line_error(code, err, "being trained by another genlab process")
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert first.returncode == 130
    steps = [r["step"] for r in _strict_json_lines(run / "metrics.jsonl")]
    assert steps == sorted(set(steps))  # one writer: no duplicate or out-of-order step


def test_a_second_ctrl_c_says_where_the_run_resumes_and_it_does(tmp_path, capsys):
    trainer = build_trainer(_cfg(tmp_path, "train.ckpt_every=0", name="twice"),
                            show_progress=False)
    trainer.train_step()
    trainer.train_step()
    trainer._on_signal(signal.SIGINT, None)  # the first: stop after this step, saving first
    with pytest.raises(KeyboardInterrupt):
        trainer._on_signal(signal.SIGINT, None)  # the second: now, without saving
    err = " ".join(capsys.readouterr().err.split())
    run = trainer.run_dir
    assert (f"aborted at step 2 without saving; no checkpoint was written yet: genlab train "
            f"--resume {run} starts it again from step 0") in err
    trainer._lock.release()  # the process would have exited
    result = genlab.train(resume_config(run, None, ["train.steps=3"]), resume=run,
                          show_progress=False)
    assert result.step == 3  # a run with no checkpoint resumes from step 0
    assert [r["step"] for r in _strict_json_lines(run / "metrics.jsonl")] == [1, 2, 3]


# --- smaller ones -----------------------------------------------------------------------------

def test_the_resume_hint_is_one_unbroken_line_off_a_terminal(tmp_path, monkeypatch, capsys):
    from genlab.engine.trainer import Trainer

    real = Trainer.train_step

    def stop_after_two(self):
        logs = real(self)
        self._stop_requested = self.step >= 2
        return logs

    monkeypatch.setattr(Trainer, "train_step", stop_after_two)
    deep = tmp_path / ("a-long-folder-name-" * 4)
    code, _, err = run_cli(["train", DCGAN, *sum((["--set", s] for s in tiny(
        deep, "data.name=shapes", "train.steps=50", "name=hint")), [])], capsys)
    assert code == 130
    hint = next(line for line in err.splitlines() if line.startswith("interrupted at step 2"))
    assert hint.endswith(f"genlab train --resume {deep / 'runs' / 'hint'}")


def test_a_refused_pickle_is_named_as_genlab_refusing_it(tmp_path, capsys, trained_run):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    state = find_checkpoint(run) / "state.pt"
    subprocess.run([sys.executable, "-c", f"""
import os, torch
class Evil:
    def __reduce__(self):
        return (os.system, ("touch {tmp_path}/pwned",))
torch.save({{"step": 4, "x": Evil()}}, {str(state)!r})
"""], check=True)
    code, _, err = run_cli(["train", "--resume", run, "--set", "train.steps=6"], capsys)
    assert_one_line_error(code, err, "genlab refused", "more than tensors")
    assert "Weights only load failed" not in err and not (tmp_path / "pwned").exists()


def test_weights_follow_the_umask_like_every_other_file(tmp_path):
    old = os.umask(0o022)
    try:
        run = genlab.train(_cfg(tmp_path, "train.steps=2"), show_progress=False).run_dir
    finally:
        os.umask(old)
    ckpt = find_checkpoint(run)
    assert (ckpt / "weights.safetensors").stat().st_mode & 0o777 == 0o644
    assert (ckpt / "state.pt").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("args", [
    ["sample", "runs/x", "--n", "abc"],
    ["train", str(DCGAN), "--bogus"],
    ["nosuchcommand"],
    ["train", str(DCGAN), "--steps"],
])
def test_usage_errors_are_one_line_too(args, capsys):
    code, _, err = run_cli(args, capsys)
    assert_one_line_error(code, err, "--help")


def test_user_text_is_printed_as_written(tmp_path, capsys):
    items = tiny(tmp_path, "data.name=shapes", "train.steps=1", "train.tensorboard=false",
                 "name=exp[v2]", "train.sample_n=3")
    code, out, err = run_cli(["train", DCGAN, *sum((["--set", s] for s in items), [])], capsys)
    assert code == 0, err
    assert "exp[v2]" in out and "exp[v2]" in err  # "done: ..." and "run folder: ..."

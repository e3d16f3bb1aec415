"""Real training processes: Ctrl-C saves and exits cleanly, SIGKILL never corrupts, torchrun."""

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import PYTHON, ROOT, assert_ranks_identical, subprocess_env, tiny
from genlab.engine.checkpoint import list_checkpoints, load_checkpoint

pytestmark = pytest.mark.slow


def _start(tmp_path: Path, *extra: str) -> subprocess.Popen:
    cmd = [PYTHON, "-m", "genlab", "train", str(ROOT / "configs" / "dcgan.yaml"),
           "--name", "p"]
    for item in tiny(tmp_path, "train.steps=100000", *extra):
        cmd += ["--set", item]
    return subprocess.Popen(cmd, cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, proc, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"training exited early: {proc.communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("training did not get going in time")
        time.sleep(0.05)


def _logged_steps(run_dir: Path) -> int:
    path = run_dir / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_sigint_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    run_dir = tmp_path / "runs" / "p"
    proc = _start(tmp_path, "train.ckpt_every=0", "train.sample_every=0")
    _wait_for(lambda: _logged_steps(run_dir) >= 3, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "checkpoint saved" in err and "--resume" in err
    ckpts = list_checkpoints(run_dir / "checkpoints")
    assert len(ckpts) == 1  # ckpt_every=0: the only checkpoint is the one Ctrl-C wrote
    _, state = load_checkpoint(ckpts[0])
    assert state["step"] >= 3


def test_sigkill_never_leaves_a_broken_checkpoint(tmp_path):
    """Kill -9 at random moments while checkpoints are written every step, three times."""
    rng = random.Random(0)
    run_dir = tmp_path / "runs" / "p"
    proc = _start(tmp_path, "train.ckpt_every=1", "train.keep_last=2", "method.g_width=32",
                  "method.d_width=32")
    ckpt_root = run_dir / "checkpoints"
    newest = 0

    def newer_than(step: int):
        return lambda: any(int(p.name[5:]) > step for p in list_checkpoints(ckpt_root))

    for _ in range(3):
        _wait_for(newer_than(newest), proc)
        time.sleep(rng.uniform(0.0, 0.3))  # a random moment, likely in the middle of a save
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        ckpts = list_checkpoints(ckpt_root)
        assert ckpts, "no checkpoint survived"
        for path in ckpts:  # every checkpoint under a final name is complete and loadable
            tensors, state = load_checkpoint(path)
            assert tensors and state["step"] == int(path.name[5:])
        newest = state["step"]
        proc = subprocess.Popen([PYTHON, "-m", "genlab", "train", "--resume", str(run_dir)],
                                cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    _wait_for(newer_than(newest), proc)  # the last resume is training: stop it politely
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err


def test_torchrun_two_ranks_stay_identical_and_only_rank0_writes(tmp_path):
    out = tmp_path / "runs"
    cmd = [PYTHON, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port",
           str(29500 + os.getpid() % 1000), "-m", "genlab", "train",
           str(ROOT / "configs" / "dcgan.yaml"), "--name", "ddp"]
    for item in tiny(tmp_path, "train.steps=20", "train.ckpt_every=0", "train.sample_every=0"):
        cmd += ["--set", item]
    proc = subprocess.run(cmd, cwd=tmp_path, env=subprocess_env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [p.name for p in out.iterdir()] == ["ddp"]  # one run folder: rank 1 wrote nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    assert_ranks_identical(out / "ddp", 2)  # and they hold the weights rank 0 saved


def _torchrun_tiny(tmp_path, method, preset, port_offset):
    """Train a tiny run of `method` from `preset` on 2 ranks for 4 steps; ranks.json + weights."""
    out = tmp_path / "runs"
    cmd = [PYTHON, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port",
           str(29500 + (os.getpid() + port_offset) % 1000), "-m", "genlab", "train",
           str(ROOT / "configs" / f"{preset}.yaml"), "--name", "ddp"]
    for item in tiny(tmp_path, "train.steps=4", "train.ckpt_every=0", "train.sample_every=0",
                     "train.batch_size=8", method=method):
        cmd += ["--set", item]
    proc = subprocess.run(cmd, cwd=tmp_path, env=subprocess_env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [p.name for p in out.iterdir()] == ["ddp"]
    return assert_ranks_identical(out / "ddp", 2)


@pytest.mark.parametrize("method, preset", [("pix2pix", "pix2pix-shapes"),
                                            ("cyclegan", "cyclegan-shapes"),
                                            ("srgan", "srgan-fashion")])
def test_torchrun_keeps_image_to_image_ranks_identical(tmp_path, method, preset):
    """Two ranks of each image-to-image method end with the same weights (batch-norm buffers,
    CycleGAN's history pool and SRGAN's phase switch included)."""
    _torchrun_tiny(tmp_path, method, preset, 500)


@pytest.mark.parametrize("method", ["progan", "stylegan"])
def test_torchrun_keeps_growing_and_style_gans_identical(tmp_path, method):
    """Two ranks of ProGAN (its schedule counts every rank's images: 2 x 8 per step) and of
    StyleGAN (lazy R1 on the same steps) end with the same weights."""
    tensors = _torchrun_tiny(tmp_path, method, f"{method}-shapes", 700)
    if method == "progan":
        assert int(tensors["nets.G.images_seen"]) == 4 * 2 * 8

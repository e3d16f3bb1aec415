"""The launch lines README.md shows under "Scaling", run as they are written, as CPU processes.

The lines are read from the README (docs and test cannot drift); only what a laptop cannot
have is changed: 2 processes instead of 8, 127.0.0.1 for the master host, a free port, tiny
training settings, and the config by its full path. Two torchrun "nodes" on one machine run in
separate folders, as two machines would: anything rank 1 wrote would show in its folder."""

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import PYTHON, ROOT, assert_ranks_identical, subprocess_env, tiny

pytestmark = pytest.mark.slow

SECTION = "## Scaling: GPUs and several processes"
# what stands for `torchrun` / `accelerate` (their scripts need not be on PATH)
LAUNCHERS = {"torchrun": [PYTHON, "-m", "torch.distributed.run"],
             "accelerate": [PYTHON, "-m", "accelerate.commands.accelerate_cli"]}
TRAIN = ["train.steps=2", "train.ckpt_every=0", "train.sample_every=0", "train.tensorboard=false"]


def readme_launch_lines() -> dict[str, list[str]]:
    """The section's shell lines by kind: "single-node", "multi-node", "accelerate"."""
    text = (ROOT / "README.md").read_text()
    assert SECTION in text, f"README.md lost its section {SECTION!r}"
    block = text.split(SECTION, 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = {}
    for line in block.strip().splitlines():
        argv = shlex.split(line, comments=True)
        kind = ("accelerate" if argv[0] == "accelerate" else
                "multi-node" if any(a.startswith("--nnodes") for a in argv) else "single-node")
        lines[kind] = argv
    assert sorted(lines) == ["accelerate", "multi-node", "single-node"], block
    return lines


def set_option(argv: list[str], name: str, value: object) -> list[str]:
    """argv with launcher option `name` set to `value` (`--x=v` or `--x v`; added if absent)."""
    out = list(argv)
    for i, arg in enumerate(out):
        if arg == name:
            out[i + 1] = str(value)
            return out
        if arg.startswith(name + "="):
            out[i] = f"{name}={value}"
            return out
    out.insert(out.index("-m"), f"{name}={value}")  # launcher options go before the script
    return out


def option(argv: list[str], name: str) -> str:
    for i, arg in enumerate(argv):
        if arg == name:
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{name} missing from {shlex.join(argv)}")


def runnable(argv: list[str], cwd: Path, name: str) -> list[str]:
    """A README line made runnable here: the launcher by module, the config by path ("..."
    in the multi-node line stands for the single-node line's config), tiny settings, and a
    run folder relative to `cwd` (so each "node" writes only to its own folder)."""
    assert argv[argv.index("-m") + 1:argv.index("-m") + 3] == ["genlab", "train"], argv
    *launch, config = argv
    config = "configs/dcgan.yaml" if config == "..." else config
    sets = tiny(cwd, *TRAIN, "train.out_dir=runs")
    return [*LAUNCHERS[launch[0]], *launch[1:], str(ROOT / config), "--name", name,
            *(a for item in sets for a in ("--set", item))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_together(jobs: list[tuple[list[str], Path]], logs: Path, timeout: float = 300) -> None:
    """Run each (command, folder) at once, output to files under `logs` (a full pipe would
    block a node); all must exit 0. A node that fails would leave the other waiting for it in
    gloo: the others are killed at once and every node's last output is shown."""
    logs.mkdir(parents=True, exist_ok=True)
    env = subprocess_env() | {"HF_HOME": str(logs / "hf")}  # no accelerate config of ours
    procs = []
    for i, (cmd, cwd) in enumerate(jobs):
        cwd.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{i}.out", "w") as out, open(logs / f"{i}.err", "w") as err:
            procs.append(subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err,
                                          start_new_session=True))  # killpg: its workers too
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            codes = [p.poll() for p in procs]
            if None not in codes or any(c not in (None, 0) for c in codes):
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                procs[codes.index(None)].wait(timeout=0.5)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    codes = [p.returncode for p in procs]
    tails = "\n".join(f"--- node {i} (exit {c}):\n{(logs / f'{i}.err').read_text()[-4000:]}"
                      for i, c in enumerate(codes))
    assert codes == [0] * len(procs), tails


def assert_one_run_by_rank0(node0: Path, name: str, world: int) -> None:
    """One run folder, in rank 0's folder only, whose ranks all hold the weights saved."""
    assert sorted(p.name for p in node0.iterdir()) == ["runs"]
    assert [p.name for p in (node0 / "runs").iterdir()] == [name]
    assert_ranks_identical(node0 / "runs" / name, world)


def test_the_readme_shows_the_three_launch_lines():
    lines = readme_launch_lines()
    assert option(lines["single-node"], "--nproc_per_node") == "2"
    assert option(lines["multi-node"], "--nnodes") == "2"
    assert option(lines["accelerate"], "--num_processes") == "8"
    assert "--multi_gpu" in lines["accelerate"]
    for argv in lines.values():
        assert argv[0] in LAUNCHERS


def test_single_node_torchrun_line_runs_two_cpu_processes(tmp_path):
    argv = set_option(readme_launch_lines()["single-node"], "--master_port", free_port())
    run_together([(runnable(argv, tmp_path / "node0", "one"), tmp_path / "node0")],
                 tmp_path / "logs")
    assert_one_run_by_rank0(tmp_path / "node0", "one", world=2)


def test_multi_node_torchrun_line_runs_as_two_nodes_on_localhost(tmp_path):
    argv = readme_launch_lines()["multi-node"]
    argv = set_option(set_option(argv, "--master_addr", "127.0.0.1"), "--nproc_per_node", 1)
    argv = set_option(argv, "--master_port", free_port())
    run_together([(runnable(set_option(argv, "--node_rank", rank), tmp_path / f"node{rank}",
                            "nodes"), tmp_path / f"node{rank}") for rank in (0, 1)],
                 tmp_path / "logs")
    assert_one_run_by_rank0(tmp_path / "node0", "nodes", world=2)
    assert list((tmp_path / "node1").iterdir()) == []  # the second node wrote nothing


def test_accelerate_multi_gpu_line_runs_two_cpu_processes(tmp_path):
    """accelerate's --multi_gpu launcher is torchrun underneath; without GPUs, genlab's
    processes (accelerate's PartialState) join over gloo on CPU."""
    argv = set_option(readme_launch_lines()["accelerate"], "--num_processes", 2)
    argv = set_option(argv, "--main_process_port", free_port())
    run_together([(runnable(argv, tmp_path / "node0", "acc"), tmp_path / "node0")],
                 tmp_path / "logs")
    assert_one_run_by_rank0(tmp_path / "node0", "acc", world=2)

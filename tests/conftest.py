import os
import sys
from pathlib import Path

import pytest

from genlab.methods.registry import METHODS, tiny_overrides

ROOT = Path(__file__).resolve().parents[1]

# Small, fast data and training settings shared by the tests that really train.
TINY_TRAIN = [
    "data.name=shapes", "data.shapes.n_train=256", "data.shapes.n_test=64", "data.image_size=16",
    "train.batch_size=16", "train.precision=fp32", "train.device=cpu",
    "train.log_every=1", "train.sample_every=2", "train.ckpt_every=2", "train.sample_n=8",
]
# Tiny nets per method, from each method class's `tiny` (the registry is the one list).
TINY_METHOD = {name: tiny_overrides(name)[1:] for name in METHODS}
TINY = [*TINY_TRAIN, *TINY_METHOD["gan"]]  # the GAN's, for configs that leave method.name out
# A CLIP learns from one captioned object per image, with captions of varied length.
CLIP_DATA = ["data.shapes.objects=1", "data.shapes.captions=varied"]


def tiny(tmp_path: Path, *extra: str, method: str = "gan") -> list[str]:
    """Small data and training settings; `method` picks tiny nets for that method."""
    nets = TINY_METHOD["gan"] if method == "gan" else tiny_overrides(method)
    return [*TINY_TRAIN, *nets, f"train.out_dir={tmp_path / 'runs'}", *extra]


class UpdateRecorder:
    """A minimal engine for calling a method's train_step by hand: zero, backward and step,
    counting the updates of each optimiser and keeping its last loss."""

    def __init__(self, method):
        self.method, self.updates, self.losses = method, {}, {}

    def update(self, name, loss):
        opt = self.method.optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        self.updates[name] = self.updates.get(name, 0) + 1
        self.losses[name] = loss.detach()


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


PYTHON = sys.executable


def assert_ranks_identical(run_dir: Path, world: int) -> dict:
    """The run's ranks.json: `world` ranks that ended with bit-identical weights, the weights
    rank 0 saved last. Returns those saved tensors."""
    import json

    from safetensors.torch import load_file

    from genlab.engine.checkpoint import list_checkpoints
    from genlab.engine.hardware import state_digest

    ranks = json.loads((run_dir / "ranks.json").read_text())
    digests = ranks["weights_sha256"]
    assert ranks["world_size"] == world and len(digests) == world, ranks
    assert len(set(digests)) == 1, digests
    tensors = load_file(list_checkpoints(run_dir / "checkpoints")[-1] / "weights.safetensors")
    nets = {k[len("nets."):]: v for k, v in tensors.items() if k.startswith("nets.")}
    assert state_digest(nets) == digests[0]
    return tensors


@pytest.fixture(scope="module")
def ddpm_run(tmp_path_factory):
    """A tiny class-conditional DDPM on 16 px shapes (3 classes), trained for 3 steps."""
    from genlab import train
    from genlab.runs.config import load_config

    out = tmp_path_factory.mktemp("ddpm")
    cfg = load_config(ROOT / "configs" / "ddpm-shapes.yaml",
                      tiny(out, "data.shapes.label=shape", "train.steps=3", "name=ddpm",
                           method="ddpm"))
    return train(cfg, show_progress=False).run_dir


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A tiny conditional DCGAN run on shapes, trained once for the whole session."""
    from genlab import train
    from genlab.runs.config import load_config

    out = tmp_path_factory.mktemp("session")
    cfg = load_config(ROOT / "configs" / "demo.yaml",
                      tiny(out, "train.steps=4", "name=tiny"))
    result = train(cfg, show_progress=False)
    return result.run_dir


def run_cli(args, capsys):
    """Run `genlab ARGS` in-process; return (exit code, stdout, stderr)."""
    from genlab.cli import main

    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
        raise SystemExit(0)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def assert_one_line_error(code, err, *needles):
    """A user's mistake: exit code 2 and one line on stderr that starts with "error: "."""
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


# --- the studio's browser tests (tests/test_studio_browser*.py; helpers in studio_pages.py) --
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Playwright's own browser download cannot work here: the system's Chromium."""
    from studio_pages import CHROMIUM

    return {**browser_type_launch_args, "executable_path": CHROMIUM}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="session")
def studio(trained_run, tmp_path_factory):
    """One `genlab studio` for every browser test, over the runs `studio_pages.make_runs`
    trains; yields a StudioPage."""
    from studio_pages import StudioPage, make_runs, start_studio

    base = tmp_path_factory.mktemp("studio")
    runs = make_runs(base, trained_run)
    proc, url = start_studio(base, base / "runs")
    yield StudioPage(url, base / "runs", runs, trained_run)
    proc.terminate()
    proc.wait(timeout=30)

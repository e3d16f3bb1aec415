"""train.compile: compiled nets train like eager ones (within bf16 tolerance), checkpoints keep
their plain keys and resume; and under autocast every update reaches the next forward."""

import json
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from conftest import ROOT, tiny
from genlab import train
from genlab.engine.checkpoint import find_checkpoint
from genlab.engine.step import StepContext, explain_compile_error
from genlab.errors import TrainingError
from genlab.runs.config import load_config
from genlab.runs.train import build_trainer, resume_config


class OneProcess:
    """The little of engine.hardware.Hardware that StepContext.update uses, for one process."""

    def any_rank(self, flag):
        return flag

    def all_reduce_grads(self, params):
        pass


def test_update_reaches_the_next_forward_under_autocast():
    # Autocast caches bf16 copies of weights until its region ends: a method that updates
    # twice in one step (n_critic > 1) must see its first update in its second forward.
    lin = torch.nn.Linear(4, 4, bias=False)
    torch.nn.init.ones_(lin.weight)
    method = SimpleNamespace(optimizers={"m": torch.optim.SGD(lin.parameters(), lr=1.0)})
    ctx = StepContext(method, OneProcess(), None)
    x = torch.ones(2, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        before = lin(x)
        ctx.update("m", before.float().sum())
        after = lin(x)
    # d(sum)/dw = 2 for every weight (two rows of ones): w goes from 1 to -1 with lr 1
    assert before.float().eq(4).all()
    assert after.float().eq(-4).all()


def _metrics(run_dir):
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_compiled_wgan_gp_matches_eager_and_resumes(tmp_path):
    # WGAN-GP: G and D compiled, the gradient penalty's double backward through eager D.
    path = ROOT / "configs" / "wgan-gp.yaml"
    base = tiny(tmp_path, "train.precision=bf16", "method.n_critic=2", "train.ckpt_every=2",
                "train.sample_every=0", "train.tensorboard=false")
    eager = train(load_config(path, [*base, "train.steps=3", "train.compile=false",
                                     "name=eager"]), show_progress=False)
    half = train(load_config(path, [*base, "train.steps=2", "train.compile=true",
                                    "name=compiled"]), show_progress=False)
    keys = load_file(find_checkpoint(half.run_dir) / "weights.safetensors").keys()
    eager_keys = load_file(find_checkpoint(eager.run_dir) / "weights.safetensors").keys()
    assert keys == eager_keys  # no "_orig_mod." prefixes
    trainer = build_trainer(resume_config(half.run_dir, None, ["train.steps=3"]),
                            resume=half.run_dir, show_progress=False)
    assert trainer.compiled and trainer.step == 2
    assert trainer.run().step == 3
    a, b = _metrics(eager.run_dir), _metrics(half.run_dir)
    assert [r["step"] for r in b] == [1, 2, 3]
    for ra, rb in zip(a, b, strict=True):
        for key in ("loss_d", "loss_g", "gp"):  # bf16 differs by ~1e-3 at losses ~0.2
            assert rb[key] == pytest.approx(ra[key], rel=0.02, abs=0.005), (ra["step"], key)


def test_compile_auto_is_off_on_cpu(tmp_path):
    cfg = load_config(ROOT / "configs" / "gan.yaml", tiny(tmp_path, "train.steps=1"))
    assert cfg.train.compile == "auto"
    assert build_trainer(cfg, show_progress=False).compiled is False


def test_a_double_backward_through_compiled_nets_is_explained():
    err = RuntimeError("torch.compile with aot_autograd does not currently support double backward")
    explained = explain_compile_error(err, compiled=True)
    assert isinstance(explained, TrainingError) and "train.compile=false" in str(explained)
    assert explain_compile_error(err, compiled=False) is None
    assert explain_compile_error(RuntimeError("shapes do not match"), compiled=True) is None

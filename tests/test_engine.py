"""The training loop: run folder contents, exact resume, EMA, batches."""

import json

import pytest
import torch
from safetensors.torch import load_file

from conftest import ROOT, tiny
from genlab import train
from genlab.data import load_dataset
from genlab.engine.batches import DeviceBatcher
from genlab.engine.checkpoint import find_checkpoint, list_checkpoints
from genlab.runs.config import load_config


def test_run_folder_has_everything(trained_run):
    for name in ("config.yaml", "run.json", "metrics.jsonl", "loss_curve.png",
                 "samples/final.png", "samples/step-0000002.png"):
        assert (trained_run / name).is_file(), name
    assert list((trained_run / "tb").glob("events.out.tfevents.*"))
    records = [json.loads(x) for x in (trained_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert {"loss_d", "loss_g", "images_per_s"} <= set(records[0])
    assert [p.name for p in list_checkpoints(trained_run / "checkpoints")] == [
        "step-0000002", "step-0000004"]


def _final_weights(run_dir):
    return load_file(find_checkpoint(run_dir) / "weights.safetensors")


@pytest.mark.parametrize("config", ["dcgan", "wgan-gp", "ddpm-shapes", "vae"])
def test_resume_is_bit_exact(tmp_path, config):
    method = {"ddpm-shapes": "ddpm", "vae": "vae"}.get(config, "gan")
    base = tiny(tmp_path, "train.ckpt_every=3", "train.ema.decay=0.9", "data.name=shapes",
                method=method)
    path = ROOT / "configs" / f"{config}.yaml"
    full = train(load_config(path, [*base, "train.steps=6", "name=full"]), show_progress=False)
    half = train(load_config(path, [*base, "train.steps=3", "name=half"]), show_progress=False)
    from genlab.runs.train import build_trainer, resume_config

    cfg = resume_config(half.run_dir, None, ["train.steps=6"])
    resumed = build_trainer(cfg, resume=half.run_dir, show_progress=False).run()
    assert resumed.run_dir == half.run_dir and resumed.step == 6
    a, b = _final_weights(full.run_dir), _final_weights(half.run_dir)
    assert a.keys() == b.keys() and any(k.startswith("ema.") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # the replayed metrics match too, and no line is duplicated
    rec = lambda r: [json.loads(x) for x in (r / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    ra, rb = rec(full.run_dir), rec(half.run_dir)
    assert [r["step"] for r in rb] == list(range(1, 7))
    loss = "loss_g" if method == "gan" else "loss"
    assert [r[loss] for r in ra] == [r[loss] for r in rb]


def test_runs_never_overwrite_each_other(tmp_path):
    cfg = load_config(ROOT / "configs" / "gan.yaml", tiny(tmp_path, "train.steps=1", "name=x"))
    first = train(cfg, show_progress=False).run_dir
    second = train(cfg, show_progress=False).run_dir
    assert first.name == "x" and second.name == "x-2"


def test_batches_are_a_function_of_the_step_and_cover_an_epoch():
    data = load_dataset("shapes", image_size=16)
    data.images, data.labels = data.images[:64], data.labels[:64]
    b = DeviceBatcher(data, 16, seed=3)
    again = DeviceBatcher(data, 16, seed=3)
    assert torch.equal(b.batch(5)["image"], again.batch(5)["image"])
    seen = torch.cat([b.indices(i) for i in range(4)])
    assert sorted(seen.tolist()) == list(range(64))  # one epoch visits every image once
    assert not torch.equal(b.indices(0), b.indices(4))  # a new permutation each epoch
    # two ranks split each global batch without overlap
    r0 = DeviceBatcher(data, 8, seed=3, rank=0, world=2)
    r1 = DeviceBatcher(data, 8, seed=3, rank=1, world=2)
    assert not set(r0.indices(0).tolist()) & set(r1.indices(0).tolist())


def test_ema_averages_and_copies_before_start():
    from genlab.engine.ema import EMA

    live = torch.nn.Linear(2, 1)
    ema = EMA({"G": live}, decay=0.5, start=2)
    with torch.no_grad():
        live.weight.fill_(1.0)
    ema.update(1)  # before start: copy
    assert torch.equal(ema.nets["G"].weight, live.weight)
    with torch.no_grad():
        live.weight.fill_(3.0)
    ema.update(2)  # warm-up decay (1 + 0) / (10 + 0) = 0.1: 0.1 * 1 + 0.9 * 3
    assert torch.allclose(ema.nets["G"].weight, torch.full_like(live.weight, 2.8))
    assert ema.decay_at(100) == 0.5  # capped at the configured decay
    with torch.no_grad():
        live.weight.fill_(0.8)
    ema.update(100)  # 0.5 * 2.8 + 0.5 * 0.8
    assert torch.allclose(ema.nets["G"].weight, torch.full_like(live.weight, 1.8))

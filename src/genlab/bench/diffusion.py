"""`genlab bench diffusion`: one class-conditional DDPM trained for a stated CPU budget (CPU
seconds of the process, like every time on the page), then
samplers x steps (DDPM at full length; DDIM and DPM-Solver at a few step counts) and a
classifier-free guidance sweep, every row at the same n and judged by the same judge.

Each row's numbers land in `<out>/diffusion-<data>/raw/<row>.json` as soon as it is done, so an
interrupted benchmark resumes where it stopped and the page is written from what is there.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.bench.common import done_with, machine_id, pinned_judge, preset_path
from genlab.bench.diffusion_page import write_diffusion_page
from genlab.engine.progress import console
from genlab.files import atomic_path, write_json
from genlab.generate.guidance import sampling_options, sampling_precision
from genlab.generate.sample import generate_images
from genlab.images import save_grid
from genlab.metrics.evaluate import Evaluator
from genlab.runs.config import load_config
from genlab.runs.load import load_run
from genlab.runs.train import build_trainer

FAST_STEPS = (10, 20, 50, 100)
CFG_SCALES = (0.0, 1.0, 3.0, 5.0)
FID_DRAWS = 200  # bootstrap resamples behind each row's FID standard error
BATCH = 250  # images sampled at once (measured: benchmarks/sampling_speed.py)
SHOWN = ("fid", "fid_se", "kid", "kid_std", "precision", "recall", "coverage", "cond_acc",
         "class_kl")


def _train(cfg_path: Path, data: str, minutes: float, run_dir: Path, raw: Path,
           overrides: list[str], progress: bool) -> dict[str, Any]:
    done = raw / "train.json"
    if done.exists() and (run_dir / "checkpoints").is_dir():
        console.print(f"model: trained earlier ({run_dir})", highlight=False)
        return json.loads(done.read_text())
    if run_dir.exists():  # an unfinished training: start it again from scratch
        shutil.rmtree(run_dir)
    cfg = load_config(cfg_path, [f"data.name={data}", "train.steps=100000000",
                                 f"train.max_minutes={minutes}", "train.budget_clock=cpu",
                                 "train.sample_every=0",
                                 "train.ckpt_every=0", "train.keep_last=1",
                                 f"train.out_dir={run_dir.parent}", f"name={run_dir.name}",
                                 *overrides])
    trainer = build_trainer(cfg, show_progress=progress)
    trainer.run()
    per_step = cfg.train.batch_size * trainer.method.batches_per_step
    params = sum(p.numel() for p in trainer.method.nets["unet"].parameters())
    result = {"steps": trainer.step, "train_seconds": trainer.train_seconds,
              "images_per_s": trainer.step * per_step / max(trainer.train_seconds, 1e-9),
              "unet_parameters": params, "config": cfg_path.name,
              "clock": "cpu"}
    write_json(done, result)
    return result


def samples_name(n: int, **sampling: Any) -> str:
    """The file a row's samples are kept in, named by its options."""
    return "-".join(f"{k}{v:g}" if isinstance(v, float) else f"{k}{v}"
                    for k, v in sorted(sampling.items())) + f"-n{n}.npz"


def _samples(key: str, run: Any, n: int, cache: Path,
             **sampling: Any) -> tuple[torch.Tensor, torch.Tensor | None, float]:
    """A row's n images, labels and CPU seconds, sampled once and kept in the run folder
    (named by the options, so rows with the same options share them): the statistics can be
    recomputed without sampling again."""
    path = cache / samples_name(n, **sampling)
    if path.is_file():
        kept = np.load(path)
        labels = torch.from_numpy(kept["labels"]) if "labels" in kept else None
        return torch.from_numpy(kept["images"]), labels, float(kept["seconds"])
    console.print(f"{key}: sampling {n} images", highlight=False)
    options = sampling_options(run, **sampling)
    start = time.process_time()  # CPU seconds: fair when other work shares the machine
    images, labels = generate_images(run.method, n, seed=0, batch_size=BATCH, options=options)
    seconds = time.process_time() - start
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        np.savez(f, images=images.numpy(), seconds=seconds,
                 **({"labels": labels.numpy()} if labels is not None else {}))
    return images, labels, seconds


def _row(key: str, raw: Path, assets: Path, run: Any, ev: Evaluator, n: int, judge: str,
         **sampling: Any) -> dict[str, Any]:
    path = raw / f"{key}.json"
    if done_with(path, judge, clock="cpu", n=n, fid_draws=FID_DRAWS):
        console.print(f"{key}: done earlier", highlight=False)
        return json.loads(path.read_text())
    images, labels, seconds = _samples(key, run, n, run.path / "samples", **sampling)
    result = {k: v for k, v in ev.evaluate(images, labels, fid_draws=FID_DRAWS).items()
              if k in SHOWN}
    options = {k: v for k, v in sampling.items() if k != "precision"}  # not the metric
    result.update(seconds_per_image=seconds / n, clock="cpu", n=n, judge=judge,
                  fid_draws=FID_DRAWS, batch=BATCH, unet_precision=sampling["precision"],
                  **options)
    if labels is not None:  # four samples of each class, a row per class
        pick = torch.cat([torch.nonzero(labels == c).flatten()[:4]
                          for c in range(int(labels.max()) + 1)])
        result["grid"] = save_grid(images[pick], assets / f"samples-{key}.png", nrow=4).name
    write_json(path, result)
    return result


def bench_diffusion(*, data: str = "fashion-mnist", minutes: float = 10.0, n: int = 200,
                    config: str = "ddpm-fashion", full_steps: int = 1000,
                    fast_steps: tuple[int, ...] = FAST_STEPS,
                    dpm_steps: tuple[int, ...] | None = None,
                    cfg_scales: tuple[float, ...] = CFG_SCALES, runs: Path = Path("runs"),
                    out: Path = Path("docs/results"), overrides: list[str] | None = None,
                    progress: bool = True) -> Path:
    overrides = list(overrides or [])
    assets = out / f"diffusion-{data}"
    raw = assets / "raw"
    run_dir = runs / f"bench-diffusion-{data}" / "ddpm"
    trained = _train(preset_path(config), data, minutes, run_dir, raw, overrides, progress)
    run = load_run(run_dir)
    if not run.conditional:
        from genlab.errors import ConfigError

        raise ConfigError("the diffusion benchmark needs a class-conditional config "
                          "(method.conditional=true)")
    judge = pinned_judge(out, run.cfg.data, progress)
    ev = Evaluator(run.cfg.data, n=n, progress=progress)
    # every row in the precision sampling uses by default here; DDIM's rows again in the
    # other one, to measure what the precision changes
    precision = sampling_precision("auto", run.device)
    other = "fp32" if precision == "bf16" else "bf16"
    samplers: dict[str, dict[str, Any]] = {}
    grid = [("ddpm", full_steps)] + [(s, k) for s, ks in (("ddim", fast_steps),
                                                         ("dpm", dpm_steps or fast_steps))
                                     for k in ks]
    for sampler, steps in grid:
        samplers[f"{sampler}-{steps}"] = _row(f"{sampler}-{steps}", raw, assets, run, ev, n,
                                              judge, sampler=sampler, steps=steps, cfg=1.0,
                                              eta=0.0, precision=precision)
    checks = {k: _row(f"ddim-{k}-{other}", raw, assets, run, ev, n, judge, sampler="ddim",
                      steps=k, cfg=1.0, eta=0.0, precision=other) for k in fast_steps}
    guidance = {s: _row(f"cfg-{s:g}", raw, assets, run, ev, n, judge, sampler="ddim", steps=50,
                        cfg=s, eta=0.0, precision=precision) for s in cfg_scales}
    protocol = {"data": data, "config": config, "minutes": minutes, **trained, "n": n,
                **ev.protocol(), "floor": {k: v for k, v in ev.floor().items() if k in SHOWN},
                "threads": torch.get_num_threads(), "judge": judge, "machine": machine_id(),
                **({"overrides": " ".join(overrides)} if overrides else {})}
    write_json(raw / "protocol.json", protocol)
    return write_diffusion_page(out, data=data, protocol=protocol, samplers=samplers,
                                guidance=guidance, full=f"ddpm-{full_steps}", checks=checks)

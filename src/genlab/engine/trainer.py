"""The one training loop, for every method.

Exactness: each step reseeds torch from (seed, step, rank) and draws its batch as a pure
function of the step, so a run resumed from a checkpoint continues bit for bit.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.data.base import ImageData
from genlab.engine.batches import DeviceBatcher, first_pairs
from genlab.engine.checkpoint import (
    BEST,
    checkpoint_step,
    clean_stale,
    find_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from genlab.engine.config import TrainConfig
from genlab.engine.ema import EMA, sampling
from genlab.engine.guard import NonFiniteLoss, first_nonfinite
from genlab.engine.hardware import Hardware, autocast_dtype, compile_nets, state_digest
from genlab.engine.plots import plot_losses
from genlab.engine.progress import StepProgress, console
from genlab.engine.run_dir import clean_temporaries, lock_run_dir, new_run_dir, write_files
from genlab.engine.step import StepContext, explain_compile_error, step_seed
from genlab.engine.tracking import METRICS, Tracker, read_metrics, require_wandb
from genlab.errors import CheckpointError, TrainingError
from genlab.images import class_rows, grid_image, save_grid, side_by_side
from genlab.methods.base import Method

Evaluator = Callable[[Method, int], dict[str, float]]


@dataclass
class TrainResult:
    run_dir: Path | None  # None on ranks other than 0
    step: int
    interrupted: bool


class Trainer:
    """Trains a built method on in-memory data. It knows no concrete method, dataset or
    metric: `runs.train.build_trainer` assembles those from a config and hands them over."""

    def __init__(self, method: Method, data: ImageData, train: TrainConfig, *, seed: int,
                 name: str, hw: Hardware, precision: str,
                 run_files: Callable[[], dict[str, str]] | None = None,
                 hparams: dict[str, Any] | None = None,
                 resume: Path | None = None, evaluator: Evaluator | None = None,
                 show_progress: bool = True) -> None:
        """`run_files`: the files that describe the run (config, data facts), written into
        the run folder once the method has seen the data (it may fill config defaults);
        `hparams`: what the trackers record as the run's settings."""
        if train.wandb and hw.is_main:
            require_wandb()  # before any folder is made
        self.train, self.seed, self.evaluator = train, seed, evaluator
        self.hparams = hparams or {}
        self.show_progress, self.hw, self.precision = show_progress, hw, precision
        self.method = method.to(hw.device)
        self.memory_format = torch.channels_last if train.channels_last else \
            torch.contiguous_format
        self.method.nets.to(memory_format=self.memory_format)
        self.hw.broadcast_state(self.method.nets)
        self.ema = None
        if train.ema.enabled and self.method.ema_nets:
            self.ema = EMA({k: self.method.nets[k] for k in self.method.ema_nets},
                           train.ema.decay, train.ema.start)
        # after the EMA copy (sampling stays eager), before a resume loads weights
        self.compiled = compile_nets(self.method.nets, train.compile, self.hw.device.type)
        self.batcher = DeviceBatcher(data, train.batch_size, seed=seed,
                                     rank=self.hw.rank, world=self.hw.world,
                                     device=self.hw.device, memory_format=self.memory_format,
                                     extra=self.method.prepare_data(data))
        self.scaler = torch.amp.GradScaler(self.hw.device.type) if self.precision == "fp16" \
            else None
        self.ctx = StepContext(self.method, self.hw, self.scaler)
        self.step = 0
        self.run_dir: Path | None = None
        self.tracker: Tracker | None = None
        self.best: dict[str, float] = {}  # {"fid": ..., "step": ...} of the best evaluation
        # time spent in training steps, by train.budget_clock (the max_minutes budget)
        self.train_seconds = 0.0
        self.recoveries = 0  # rollbacks and skipped updates so far (train.max_recoveries)
        self._lock = None
        if resume is not None:
            self._lock = lock_run_dir(resume) if self.hw.is_main else None
            if list_checkpoints(resume / "checkpoints"):
                self._restore(resume)
            self.run_dir = resume  # no checkpoint yet (stopped early): it starts at step 0
        if self.hw.is_main:
            if self.run_dir is None:
                self.run_dir = new_run_dir(train.out_dir, name)
                self._lock = lock_run_dir(self.run_dir)
            clean_stale(self.run_dir / "checkpoints")
            clean_temporaries(self.run_dir)
            write_files(self.run_dir, run_files() if run_files else {})
        if self.hw.distributed:  # every rank knows the folder (a rollback reads it)
            self.run_dir = Path(str(self.hw.gather(str(self.run_dir))[0]))
        self._grid_labels, self._grid_nrow = class_rows(train.sample_n, self.method.num_classes)
        n_grid = len(self._grid_labels) if self._grid_labels is not None else train.sample_n
        # Methods that make no images (CLIP) get no sample grids.
        self._grid_z = self._fixed_latents(n_grid) if self.method.generative else None
        # image-to-image methods: the grid translates the first training inputs
        self._grid_pairs = first_pairs(data, train.sample_n, self.hw.device) \
            if self.method.translates else None
        self._stop_requested = False

    def _fixed_latents(self, n: int) -> Tensor:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + 12345)
            return self.method.sample_latents(n)

    # ----- checkpoints -------------------------------------------------------------------
    def _tensors(self) -> dict[str, Tensor]:
        out = {f"nets.{k}": v for k, v in self.method.nets.state_dict().items()}
        if self.ema is not None:
            out.update({f"ema.{k}": v for k, v in self.ema.nets.state_dict().items()})
        return out

    def _state(self) -> dict[str, Any]:
        return {"step": self.step,
                "optimizers": {k: o.state_dict() for k, o in self.method.optimizers.items()},
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "method": self.method.extra_state(),
                "precision": self.precision,
                "best": self.best,
                "train_seconds": self.train_seconds,
                "lr_scale": self.ctx.lr_scale}

    def save(self, name: str | None = None) -> Path | None:
        if not self.hw.is_main or self.run_dir is None:
            return None
        tensors = self._tensors()
        bad = first_nonfinite(tensors)
        if bad is not None:  # never a checkpoint of broken weights, never rotate a good one out
            raise TrainingError(f"step {self.step}: {bad} holds NaN or infinite values, so it "
                                f"was not saved; {self._last_good()}")
        return save_checkpoint(self.run_dir / "checkpoints", self.step, tensors,
                               self._state(), self.train.keep_last, name=name)

    def _restore(self, run_dir: Path) -> None:
        path = find_checkpoint(run_dir, "last")
        tensors, state = load_checkpoint(path)
        load_weights(self.method, self.ema, tensors, path)
        try:
            for name, opt in self.method.optimizers.items():
                opt.load_state_dict(state["optimizers"][name])
            if self.scaler is not None and state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
        except (KeyError, ValueError) as err:
            raise CheckpointError(f"optimiser state in {path} does not fit this method "
                                  f"({err}): resume with the run's own config") from None
        self.method.load_extra_state(state.get("method", {}))
        self.step = int(state["step"])
        self.best = state.get("best") or {}
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.ctx.lr_scale = float(state.get("lr_scale", 1.0))
        self.run_dir = run_dir

    def _last_good(self) -> str:
        """Where a stopped run continues from, as a sentence for messages."""
        ckpts = list_checkpoints(self.run_dir / "checkpoints") if self.run_dir else []
        if not ckpts:
            return (f"no checkpoint was written yet: genlab train --resume {self.run_dir} "
                    "starts it again from step 0")
        return (f"the last good checkpoint is step {checkpoint_step(ckpts[-1])}: genlab train "
                f"--resume {self.run_dir} continues from there")

    def _on_nonfinite(self, bad: NonFiniteLoss) -> dict[str, Tensor]:
        """A NaN or infinite loss in the step being taken (its update was not applied): stop,
        roll back to the last checkpoint at a lower learning rate, or skip the update."""
        step, t = self.step + 1, self.train
        for opt in self.method.optimizers.values():
            opt.zero_grad(set_to_none=True)
        if self.tracker is not None:
            self.tracker.log(step, {f"loss_{bad.name}": bad.value, "nonfinite": 1})
        can_recover = t.on_nonfinite != "stop" and self.recoveries < t.max_recoveries
        if can_recover and t.on_nonfinite == "skip":
            self.recoveries += 1
            self.step += 1
            self._say(f"step {step}: {bad}: update skipped ({self.recoveries} of "
                      f"{t.max_recoveries} recoveries)")
            return {}
        if can_recover and self.run_dir and list_checkpoints(self.run_dir / "checkpoints"):
            seconds = self.train_seconds  # the time spent diverging still counts
            self._restore(self.run_dir)
            self.train_seconds = seconds
            self.ctx.lr_scale *= t.rollback_lr_factor
            self.recoveries += 1
            if self.tracker is not None:
                self.tracker.rewind(self.step)
                self.tracker.log(self.step, {"rolled_back_from": step,
                                             "lr_scale": self.ctx.lr_scale})
            self._say(f"step {step}: {bad}: rolled back to step {self.step}, learning rates "
                      f"x{self.ctx.lr_scale:g} ({self.recoveries} of {t.max_recoveries} "
                      "recoveries)")
            return {}
        raise TrainingError(f"step {step}: {bad}: training diverged; {self._last_good()} "
                            "(lower the learning rate with --set, or set "
                            "train.on_nonfinite=rollback or skip)")

    def _say(self, text: str) -> None:
        if self.hw.is_main:
            console.print(text, highlight=False, markup=False, soft_wrap=True)

    # ----- the loop ----------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._stop_requested:  # second Ctrl-C: stop now; saved checkpoints stay intact
            if self.hw.is_main:
                console.print(f"aborted at step {self.step} without saving; "
                              f"{self._last_good()}", highlight=False, markup=False,
                              soft_wrap=True)
            raise KeyboardInterrupt
        self._stop_requested = True
        if self.hw.is_main:
            console.print("stopping: saving a checkpoint first (Ctrl-C again to abort without "
                          "saving)", style="yellow", markup=False, soft_wrap=True)

    def _autocast(self) -> Any:
        dtype = autocast_dtype(self.precision)
        if dtype is None:
            return nullcontext()
        return torch.autocast(self.hw.device.type, dtype=dtype)

    def train_step(self) -> dict[str, Tensor]:
        torch.manual_seed(step_seed(self.seed, self.step, self.hw.rank))
        batch = self.batcher.batch(self.step, self.method.batches_per_step)
        self.method.nets.train()
        try:
            with self._autocast():
                logs = self.method.train_step(batch, self.ctx)
        except NonFiniteLoss as bad:
            return self._on_nonfinite(bad)
        except RuntimeError as err:
            explained = explain_compile_error(err, self.compiled)
            if explained is None:
                raise
            raise explained from None
        if self.scaler is not None:
            self.scaler.update()
        self.step += 1
        if self.ema is not None:
            self.ema.update(self.step)
        self.hw.broadcast_buffers(self.method.nets)  # like DDP: rank 0's batch-norm stats
        return logs

    def _check_ranks_agree(self) -> None:
        """Record each rank's weight digest; they must agree (rank 0's are what was saved)."""
        digests = self.hw.gather(state_digest(self.method.nets.state_dict()))
        if self.hw.is_main and self.run_dir is not None:
            (self.run_dir / "ranks.json").write_text(json.dumps(
                {"world_size": self.hw.world, "weights_sha256": digests}, indent=2) + "\n")
            if len(set(digests)) != 1:
                console.print("warning: processes ended with different weights", style="red")

    def evaluate(self) -> dict[str, float] | None:
        """Run the evaluator (rank 0) on the EMA nets; keep checkpoints/best by lowest FID."""
        if not self.hw.is_main or self.evaluator is None or not (self.method.generative
                                                                 or self.method.translates):
            return None
        with sampling(self.method, self.ema) as m:
            results = {f"eval/{k}": v for k, v in self.evaluator(m, self.step).items()}
        if not results:  # the evaluator chose to skip this time
            return None
        if self.tracker is not None:
            self.tracker.log(self.step, {**results, "train_seconds": self.train_seconds})
        score = results.get("eval/fid")
        if score is not None and score < self.best.get("fid", float("inf")):
            self.best = {"fid": score, "step": self.step}
            self.save(name=BEST)
        return results

    def _due(self, every: int) -> bool:
        return every > 0 and self.step % every == 0

    def write_samples(self, name: str) -> Path | None:
        if not self.hw.is_main or self.run_dir is None:
            return None
        with sampling(self.method, self.ema) as m:
            if self._grid_pairs is not None:
                columns = m.translation_grid(*self._grid_pairs)
                images, nrow = side_by_side(columns), len(columns)
            elif self._grid_z is not None:
                labels = None if self._grid_labels is None else \
                    self._grid_labels.to(self.hw.device)
                images, nrow = m.decode(self._grid_z, labels), self._grid_nrow
            else:
                return None
        path = save_grid(images, self.run_dir / "samples" / f"{name}.png", nrow=nrow)
        if self.tracker is not None:
            self.tracker.log_image(self.step, "samples", grid_image(images, nrow))
        return path

    def run(self) -> TrainResult:
        """Train to `train.steps` (or the time budget, or Ctrl-C), then write the final grid.
        However it ends, the logs are closed and the run folder's lock is released."""
        try:
            return self._run()
        finally:
            if self.tracker is not None:
                self.tracker.close()
            if self._lock is not None:
                self._lock.release()

    def _run(self) -> TrainResult:
        t = self.train
        if self.hw.is_main and self.run_dir is not None:
            self.tracker = Tracker(self.run_dir, tensorboard=t.tensorboard, wandb=t.wandb,
                                   project=t.wandb_project, config=self.hparams,
                                   resume_step=self.step)
        if self.tracker is not None and self.show_progress:
            self._say(f"run folder: {self.run_dir} (step {self.step}/{t.steps}, "
                      f"{self.hw.device.type}, {self.precision}, {self.hw.world} process(es))")
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        progress = StepProgress(t.steps, self.step, self.show_progress and self.hw.is_main)
        images_per_step = t.batch_size * self.method.batches_per_step * self.hw.world
        last_time, last_step = time.perf_counter(), self.step
        saved_at = -1
        budget = t.max_minutes * 60 if t.max_minutes else float("inf")
        clock = time.process_time if t.budget_clock == "cpu" else time.perf_counter
        out_of_time = False
        try:
            while self.step < t.steps and not out_of_time:
                started, before = clock(), self.step
                logs = self.train_step()
                self.train_seconds += clock() - started
                out_of_time = self.hw.any_rank(self.train_seconds >= budget)
                if self.step <= before:  # rolled back: that checkpoint's step is done
                    last_step = self.step
                    continue
                if self._due(t.log_every) or self.step == t.steps or out_of_time:
                    now = time.perf_counter()
                    scalars = {k: float(v) for k, v in logs.items()}
                    scalars["train_seconds"] = self.train_seconds
                    scalars["images_per_s"] = images_per_step * (self.step - last_step) / max(
                        now - last_time, 1e-9)
                    last_time, last_step = now, self.step
                    if self.tracker is not None:
                        self.tracker.log(self.step, scalars)
                    progress.update(self.step, scalars)
                else:
                    progress.update(self.step)
                if self.evaluator is not None and self._due(t.eval_every):
                    self.evaluate()
                if self._due(t.sample_every):
                    self.write_samples(f"step-{self.step:07d}")
                if self._due(t.ckpt_every):
                    self.save()
                    saved_at = self.step
                if self.hw.any_rank(self._stop_requested):
                    break
        finally:
            progress.close()
            for s, handler in old.items():
                signal.signal(s, handler)
        interrupted = self.step < t.steps and not out_of_time
        if saved_at != self.step:
            self.save()
        if self.hw.is_main and self.run_dir is not None:
            if not interrupted:
                self.write_samples("final")
                if out_of_time:
                    self._say(f"time budget of {t.max_minutes} min reached at step {self.step}")
            self.tracker.close()  # type: ignore[union-attr]
            plot_losses(read_metrics(self.run_dir / METRICS), self.run_dir / "loss_curve.png",
                        title=self.run_dir.name)
        if self.hw.distributed:
            self._check_ranks_agree()
        self.hw.barrier()
        return TrainResult(self.run_dir if self.hw.is_main else None, self.step, interrupted)

"""The `train:` section of a run's config: what the engine's loop reads."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from genlab.config import Section


class EMAConfig(Section):
    enabled: bool = Field(True, description="keep an exponential moving average of the generator")
    decay: float = Field(0.999, ge=0, lt=1, description="EMA decay per step")
    start: int = Field(0, ge=0, description="step at which averaging starts (copy before)")


class TrainConfig(Section):
    steps: int = Field(2000, ge=1, description="generator updates to train for")
    max_minutes: float | None = Field(None, gt=0, description="stop after this much training "
                                      "time (steps only, not evaluation), whatever train.steps")
    budget_clock: Literal["wall", "cpu"] = Field(
        "wall", description="clock of train.max_minutes: wall seconds, or CPU seconds of the "
        "process (all its threads): the same on an idle machine, fair on a shared one")
    batch_size: int = Field(64, ge=1, description="images per update and per process")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="auto: bf16 where the hardware is fast at it, else fp32")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="where to train")
    channels_last: bool = Field(True, description="NHWC memory layout for conv nets (faster "
                                "convolutions with oneDNN/cuDNN, most of all in bf16)")
    compile: Literal["auto", True, False] = Field(
        "auto", description="torch.compile (inductor) the method's nets in place: the first "
        "steps take longer while it compiles. auto: only where measured to pay, which is "
        "nowhere yet (off on CPU, where it trained DCGAN slower on a 2-core AVX-512 EPYC; "
        "not measured on CUDA). A penalty that needs a double backward (WGAN-GP) runs its "
        "critic eagerly")
    ema: EMAConfig = Field(default_factory=EMAConfig, description="generator weight averaging")
    log_every: int = Field(50, ge=1, description="steps between logged losses")
    sample_every: int = Field(500, ge=0, description="steps between sample grids (0: only at "
                              "the end)")
    sample_n: int = Field(64, ge=1, description="images in each sample grid")
    ckpt_every: int = Field(500, ge=0, description="steps between checkpoints (0: only at the end)")
    keep_last: int = Field(3, ge=1, description="checkpoints to keep")
    on_nonfinite: Literal["stop", "rollback", "skip"] = Field(
        "stop", description="when a loss is NaN or infinite: stop (the last good checkpoint is "
        "kept), roll back to the last checkpoint and go on at a lower learning rate, or skip "
        "that update")
    rollback_lr_factor: float = Field(0.5, gt=0, lt=1, description="learning rates are "
                                      "multiplied by this at each rollback")
    max_recoveries: int = Field(3, ge=0, description="rollbacks or skipped updates allowed "
                                "before training stops")
    eval_every: int = Field(0, ge=0, description="steps between evaluations (0: never); the "
                            "best checkpoint by FID is kept in checkpoints/best")
    eval_n: int = Field(2000, ge=10, description="generated images per evaluation during "
                        "training")
    tensorboard: bool = Field(True, description="write TensorBoard logs to RUN/tb")
    wandb: bool = Field(False, description="also log to Weights & Biases (pip install "
                        "genlab[wandb])")
    wandb_project: str = Field("genlab", description="W&B project name")
    out_dir: str = Field("runs", description="folder that holds run folders")


"""Device, precision and process-group set-up (through accelerate), and gradient sync."""

from __future__ import annotations

import atexit
import hashlib
import os
from collections.abc import Iterable, Mapping

import torch
import torch.distributed as dist
from accelerate import PartialState
from torch import Tensor, nn

from genlab.errors import ConfigError
from genlab.sampling import PRECISIONS


def cpu_has_fast_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_device(choice: str) -> str:
    if choice == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device=cuda but no CUDA GPU is visible: use train.device=cpu")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice


def resolve_precision(choice: str, device: str) -> str:
    if choice == "fp16" and device != "cuda":
        raise ConfigError("fp16 needs a CUDA GPU: use train.precision=bf16 (fast on CPUs with "
                          "AMX/AVX512-BF16) or fp32")
    if choice == "bf16" and device == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("this GPU has no bf16: use train.precision=fp16 or fp32")
    if choice != "auto":
        return choice
    if device == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_fast_bf16() else "fp32"


def sampling_precision(choice: str, device: torch.device | str) -> str:
    """fp32 or bf16 for a diffusion UNet's sampling, --precision auto|fp32|bf16 on this
    device; auto is training's rule (bf16 where the hardware is fast at it)."""
    if choice not in ("auto", *PRECISIONS):
        raise ConfigError(f"--precision {choice!r}: use auto, {', '.join(PRECISIONS)}")
    return resolve_precision(choice, torch.device(device).type)


def autocast_dtype(precision: str) -> torch.dtype | None:
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)


# train.compile=auto, by device type: compile only where it was measured to pay. A 2-core
# AMD EPYC with AVX-512 BF16 (2026-11-30, channels-last): inductor compiled DCGAN's nets in
# 20-35 s, then trained DCGAN at 0.64x and WGAN-GP at 0.78x the eager bf16 speed (DCGAN 0.69x
# in fp32). CUDA has not been measured yet. (benchmarks/train_throughput.py --set
# train.compile=true measures it.)
COMPILE_PAYS = {"cpu": False, "cuda": False}


def compile_nets(nets: nn.ModuleDict, choice: bool | str, device: str) -> bool:
    """torch.compile each net in place (`Module.compile`: its state_dict keys keep their
    names, no "_orig_mod." prefix, so checkpoints and resume are unchanged). Returns whether
    it compiled."""
    on = choice if isinstance(choice, bool) else COMPILE_PAYS.get(device, False)
    if on:
        for net in nets.values():
            net.compile()
    return on


def close_process_group() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class Hardware:
    """Which process this is, on which device; gradient and buffer sync across processes."""

    def __init__(self, device: str) -> None:
        self.state = PartialState(cpu=device == "cpu")
        self.device = self.state.device
        self.rank, self.world = self.state.process_index, self.state.num_processes
        self.is_main = self.state.is_main_process
        if self.world > 1 and self.device.type == "cpu":
            # Processes on one machine share its cores: don't oversubscribe them.
            local = int(os.environ.get("LOCAL_WORLD_SIZE", self.world))
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
        if self.world > 1:
            # A process group left to interpreter teardown aborts now and then ("terminate
            # called without an active exception", exit -6 after a finished run): close it.
            atexit.register(close_process_group)

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def all_reduce_grads(self, params: Iterable[nn.Parameter]) -> None:
        grads = [p.grad for p in params if p.grad is not None]
        if not self.distributed or not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def broadcast_state(self, module: nn.Module) -> None:
        """Make every rank hold rank 0's parameters and buffers (e.g. batch-norm statistics)."""
        if not self.distributed:
            return
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)

    def broadcast_buffers(self, module: nn.Module) -> None:
        if self.distributed:
            for t in module.buffers():
                dist.broadcast(t.data, src=0)

    def any_rank(self, flag: bool) -> bool:
        if not self.distributed:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def gather(self, value: object) -> list[object]:
        if not self.distributed:
            return [value]
        out: list[object] = [None] * self.world
        dist.all_gather_object(out, value)
        return out

    def barrier(self) -> None:
        if self.distributed:
            self.state.wait_for_everyone()


def state_digest(state: Mapping[str, Tensor]) -> str:
    """sha256 of a state dict's names and bytes: equal digests mean bit-identical weights."""
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()

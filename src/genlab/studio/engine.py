"""The studio's work, with no web code: runs loaded once and cached, each request checked
by `guard`, then handed to the same functions the command line calls (`load_run`,
`guidance.sampling_options`, `generate.sample.grid_samples`), so a seed gives the image
`genlab sample` writes. Nothing is written into a run folder."""

from __future__ import annotations

import shlex
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from genlab.engine.checkpoint import list_checkpoints
from genlab.runs.load import LoadedRun, load_run
from genlab.studio.guard import (
    CFG_MAX,
    N_MAX,
    SEED_MAX,
    STEPS_MAX,
    RunLocks,
    StudioError,
    check_float,
    check_int,
    check_text,
    resolve_run,
)

CACHE_RUNS = 3  # loaded runs kept in memory


def command_line(args: list[str], flags: list[tuple[str, Any]]) -> str:
    """A shell line: `args`, then each flag that has a value. Floats are written short where
    that reads back the same number (0.6, not 0.59999...) and in full where it would not,
    so the line reproduces the very pixels."""
    for flag, value in flags:
        if value is not None:
            text = f"{value:g}" if isinstance(value, float) else str(value)
            if isinstance(value, float) and float(text) != value:
                text = repr(value)
            args = [*args, flag, text]
    return shlex.join(args)


@dataclass(frozen=True)
class SampleRequest:
    """What the Sample tab asks for; None leaves a value to the run (as the CLI's flags)."""

    run: str
    seed: int = 0
    n: int = 16
    label: str | None = None
    truncation: float = 1.0
    sampler: str | None = None
    steps: int | None = None
    cfg: float | None = None
    guide: str | None = None
    guide_scale: float | None = None
    prompt: str | None = None

    def checked(self) -> SampleRequest:
        """The request with every value bounded (StudioError names the first bad one)."""
        steps = None if self.steps is None else check_int(self.steps, "steps", 1, STEPS_MAX)
        cfg = None if self.cfg is None else check_float(self.cfg, "CFG scale", 0, CFG_MAX)
        scale = (None if self.guide_scale is None
                 else check_float(self.guide_scale, "guide scale", 0, CFG_MAX))
        guide = check_text(self.guide, "guide")
        if guide is not None and not guide.startswith("judge:"):
            raise StudioError(f"guide {guide!r}: the studio takes judge:CLASS (CLIP guides "
                              "need --clip on the command line: genlab sample --help)")
        return SampleRequest(
            run=self.run, seed=check_int(self.seed, "seed", 0, SEED_MAX),
            n=check_int(self.n, "number of images", 1, N_MAX),
            label=check_text(self.label, "class"),
            truncation=check_float(self.truncation, "truncation", 1e-6, 1.0),
            sampler=check_text(self.sampler, "sampler"), steps=steps, cfg=cfg, guide=guide,
            guide_scale=scale, prompt=check_text(self.prompt, "prompt"))

    def command(self, run_dir: Path) -> str:
        """The `genlab sample` line that writes the same grid."""
        args = ["genlab", "sample", str(run_dir), "--n", str(self.n), "--seed", str(self.seed)]
        flags: list[tuple[str, Any]] = [
            ("--label", self.label), ("--sampler", self.sampler), ("--steps", self.steps),
            ("--cfg", self.cfg), ("--guide", self.guide), ("--guide-scale", self.guide_scale),
            ("--prompt", self.prompt)]
        if self.truncation != 1:
            flags.insert(1, ("--truncation", self.truncation))
        return command_line(args, flags)


@dataclass
class Sampled:
    """The result of a sample request: the grid the CLI writes and each image alone."""

    grid: Image.Image
    images: list[np.ndarray]  # H x W x C uint8 (C = 1 squeezed for grey)
    notes: list[str]  # per image: its index, class and how to make it again
    command: str
    nrow: int


@dataclass(frozen=True)
class SampleForm:
    """The controls a run takes, read from its method through the contract (nothing per
    method): classes if it is conditioned on them, truncation if its method allows it, the
    sampling options (and their defaults) if `default_sampling()` gives any, a prompt if
    those options carry prompts."""

    samples: bool  # generative and not image-to-image
    why_not: str  # when it does not sample
    classes: tuple[str, ...] = ()
    truncatable: bool = False
    options: Any = None  # the run's own sampling options (None: it takes none)
    prompts: bool = False

    @classmethod
    def of(cls, run: LoadedRun) -> SampleForm:
        method = run.method
        if not method.generative or method.translates:
            kind = "translates images" if method.translates else "makes no images"
            return cls(False, f"{run.path.name} is a {run.cfg.method.name} run, which {kind}: "
                              "pick another run to sample")
        options = method.default_sampling()
        return cls(True, "", tuple(run.info.class_names) if method.num_classes else (),
                   method.truncatable, options, hasattr(options, "prompts"))


@dataclass
class Studio:
    """The runs under `runs_dir`, loaded on demand (the last few kept), one generation at a
    time per run."""

    runs_dir: Path
    device: str = "cpu"
    # where the studio's own files go (never a run folder); the page serves only these
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="genlab-studio-")))
    locks: RunLocks = field(default_factory=RunLocks)
    _cache: OrderedDict[tuple[Path, str], LoadedRun] = field(default_factory=OrderedDict)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)
    # held by work that draws from torch's process-wide generator (building a run's nets,
    # a translation's seeded dropout), so one request cannot shift another's random numbers
    global_rng: threading.Lock = field(default_factory=threading.Lock)

    def run_dir(self, name: object) -> Path:
        return resolve_run(self.runs_dir, name)

    def loaded(self, name: object) -> LoadedRun:
        """The run's last checkpoint, loaded (again when a training run saved a newer one)."""
        path = self.run_dir(name)
        ckpts = list_checkpoints(path / "checkpoints")
        key = (path, ckpts[-1].name if ckpts else "")
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        with self.global_rng:
            run = load_run(path, "last", device=self.device)
        with self._cache_lock:
            for old in [k for k in self._cache if k[0] == path]:
                del self._cache[old]
            self._cache[key] = run
            while len(self._cache) > CACHE_RUNS:
                self._cache.popitem(last=False)
        return run

    def form(self, name: object) -> SampleForm:
        return SampleForm.of(self.loaded(name))

    def sample(self, request: SampleRequest,
               on_progress: Callable[[float], None] | None = None) -> Sampled:
        """The grid `genlab sample` writes for the same values, and its images one by one."""
        from genlab.generate.guidance import sampling_options
        from genlab.generate.sample import grid_samples
        from genlab.images import grid_image
        from genlab.sampling import check_truncation

        req = request.checked()
        run = self.loaded(req.run)
        form = SampleForm.of(run)
        if not form.samples:
            raise StudioError(form.why_not)
        check_truncation(req.truncation, run.method.truncatable, run.cfg.method.name)
        options = sampling_options(run, sampler=req.sampler, steps=req.steps, cfg=req.cfg,
                                   guide=req.guide, guide_scale=req.guide_scale,
                                   prompt=req.prompt)
        with self.locks.hold(run.path):
            images, labels, nrow = grid_samples(
                run, n=req.n, seed=req.seed, label=req.label, truncation=req.truncation,
                options=options, on_progress=on_progress)
        command = req.command(run.path)
        names = run.info.class_names
        notes = []
        for i in range(len(images)):
            row, col = divmod(i, nrow)
            cls = f", class {names[int(labels[i])]}" if labels is not None and names else ""
            notes.append(f"image {i} (row {row + 1}, column {col + 1}) of seed {req.seed}"
                         f"{cls}; made by: {command}")
        pixels = images.permute(0, 2, 3, 1).numpy()
        return Sampled(grid=grid_image(images, nrow=nrow),
                       images=[p[..., 0] if p.shape[2] == 1 else p for p in pixels],
                       notes=notes, command=command, nrow=nrow)

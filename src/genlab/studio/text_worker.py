"""CLIP + VQGAN for the studio in a process of its own: the very calls `genlab text2img` makes
(`parse_prompts`, `load_clip`, `load_vqgan`, `text_to_image`), with the image sent back every
few steps while the latent is optimised, and the last image the PNG the command writes.

A process, not a thread: `text_to_image` seeds torch's process-wide RNG (kornia draws from
it), and any other work of the studio that draws from it meanwhile (building the nets of a
run it loads) would change the image a seed gives (tests/test_studio_text.py shows it)."""

from __future__ import annotations

import queue
import shlex
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from genlab.engine.checkpoint import list_checkpoints
from genlab.studio.guard import (
    CFG_MAX,
    SEED_MAX,
    STEPS_MAX,
    StudioError,
    check_float,
    check_int,
    check_text,
)

CUTOUTS_MAX = 64  # crops CLIP sees per step
SIDE_MAX = 256  # pixels of a CLIP + VQGAN image side (the decoder's memory grows with it)
LR_MAX = 10.0
UPDATES = 25  # images the page gets in one run (at most, besides the first and the last)
CACHE_MODELS = 4  # CLIPs and VQGANs the worker keeps loaded
RANDOM_START = "random codes"


@dataclass(frozen=True)
class TextRequest:
    """What the CLIP + VQGAN section asks for; every field is a `genlab text2img` flag."""

    prompt: str
    clip: str
    vqgan: str
    seed: int = 0
    steps: int = 50
    cutouts: int = 16
    lr: float = 0.1
    size: int | None = None  # None: the VQGAN's training size
    init: str | None = None  # a plain canvas (black, grey, white); None: random codes
    init_weight: float = 0.0

    def checked(self) -> TextRequest:
        """The request with every value bounded (StudioError names the first bad one)."""
        from genlab.generate.text2img import CANVASES, parse_prompts

        prompt = check_text(self.prompt, "prompt", required=True)
        parse_prompts(prompt)  # TEXT:WEIGHT|...: a bad weight is a one-line ConfigError
        init = check_text(self.init, "start")
        if init == RANDOM_START:
            init = None
        if init is not None and init not in CANVASES:
            raise StudioError(f"start {init!r}: pick {RANDOM_START} or one of "
                              f"{', '.join(CANVASES)}")
        size = None if self.size is None else check_int(self.size, "image side", 1, SIDE_MAX)
        return TextRequest(
            prompt=prompt, clip=self.clip, vqgan=self.vqgan,
            seed=check_int(self.seed, "seed", 0, SEED_MAX),
            steps=check_int(self.steps, "steps", 1, STEPS_MAX),
            cutouts=check_int(self.cutouts, "cutouts", 1, CUTOUTS_MAX),
            lr=check_float(self.lr, "learning rate", 1e-6, LR_MAX), size=size, init=init,
            init_weight=check_float(self.init_weight, "init weight", 0.0, CFG_MAX))

    def command(self, clip_dir: Path, vqgan_dir: Path, device: str) -> str:
        """The `genlab text2img` line that writes the same PNG (floats as Python prints them,
        so the command reads back the very same numbers)."""
        args = ["genlab", "text2img", "--clip", str(clip_dir), "--vqgan", str(vqgan_dir),
                "--steps", str(self.steps), "--cutouts", str(self.cutouts), "--lr",
                repr(float(self.lr)), "--seed", str(self.seed), "--device", device]
        if self.size is not None:
            args += ["--size", str(self.size)]
        if self.init is not None:
            args += ["--init", self.init]
        if self.init_weight:
            args += ["--init-weight", repr(float(self.init_weight))]
        # the prompt last, after `--` when it could pass for an option
        return shlex.join([*args, *(["--"] if self.prompt.startswith("-") else []),
                           self.prompt])


@dataclass
class TextFrame:
    """One look at the optimisation: the image the loss of `step` was measured on (the last
    frame: the image `genlab text2img` writes)."""

    step: int
    steps: int
    loss: float | None
    image: Image.Image
    command: str
    done: bool = False
    similarities: list[tuple[str, float]] = field(default_factory=list)  # the last frame

    def line(self) -> str:
        loss = "" if self.loss is None else f", loss {self.loss:.4f}"
        if not self.done:
            return f"step {self.step}/{self.steps}{loss}"
        sims = "; ".join(f"CLIP similarity {s:.3f} to {t!r}" for t, s in self.similarities)
        return f"done: step {self.steps}/{self.steps}{loss}" + (f"; {sims}" if sims else "")


class _Stopped(Exception):
    """The page went away (or stopped the run): end the optimisation at the next step."""


@dataclass(frozen=True)
class Job:
    """One optimisation for the worker process: checked values and resolved paths."""

    request: TextRequest
    clip_dir: Path
    vqgan_dir: Path
    device: str
    every: int
    command: str


class Worker:
    """A process of its own (see the module's note) that runs the optimisations one after
    another, its CLIP and VQGAN models loaded once; started on first use."""

    def __init__(self) -> None:
        self._proc: Any = None
        self._lock = threading.Lock()  # one optimisation at a time: the others queue
        self._owner: str | None = None  # who started the job running now

    def _start(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # torch's threads do not survive fork
        self._jobs, self._results, self._stop = context.Queue(), context.Queue(), context.Event()
        self._proc = context.Process(target=_serve, args=(self._jobs, self._results, self._stop),
                                     name="genlab-text2img", daemon=True)
        self._proc.start()

    def warm(self) -> None:
        """Start the process now (its imports take seconds), unless a job holds it."""
        if self._lock.acquire(blocking=False):
            try:
                if self._proc is None or not self._proc.is_alive():
                    self._start()
            finally:
                self._lock.release()

    def stop(self, owner: str) -> bool:
        """Stop the running job at its next step if `owner` started it. (A page's Stop
        button: closing a generator from another thread fails while it waits for a frame.)"""
        if self._owner is None or self._owner != owner:
            return False
        self._stop.set()
        return True

    def run(self, job: Job, owner: str = "") -> Iterator[TextFrame]:
        """The job's frames (none more once stopped); closing the iterator stops the job."""
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                self._start()
            self._stop.clear()
            self._owner = owner
            self._jobs.put(job)
            ended = False
            try:
                while not ended:
                    kind, value = self._next()
                    ended = kind != "frame"
                    if kind == "error":
                        raise value
                    if kind != "stopped":
                        yield value
            finally:
                if not ended and self._proc is not None:  # stop the job; wait till it has
                    self._stop.set()
                    try:
                        while self._next()[0] == "frame":
                            pass
                    except StudioError:
                        pass
                self._owner = None

    def close(self) -> None:
        """End the worker process (the studio's exit ends it too: it is a daemon)."""
        with self._lock:
            if self._proc is not None and self._proc.is_alive():
                self._jobs.put(None)
                self._proc.join(timeout=30)
            self._proc = None

    def _next(self) -> tuple[str, Any]:
        while True:
            try:
                return self._results.get(timeout=1)
            except queue.Empty:
                if not self._proc.is_alive():
                    self._proc = None
                    raise StudioError("the text-to-image worker stopped (out of memory?): "
                                      "run it again, smaller") from None


def _serve(jobs: Any, results: Any, stop: Any) -> None:
    """The worker process: each job's frames, then "done", "stopped" or "error". It ends
    with the studio, however that ends (a killed studio runs no exit handlers)."""
    import multiprocessing
    import pickle
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the studio, which ends this
    studio = multiprocessing.parent_process()
    models: OrderedDict[tuple[Path, str], Any] = OrderedDict()

    def stopped() -> bool:  # the page asked, or the studio is gone
        return stop.is_set() or (studio is not None and not studio.is_alive())

    while studio is None or studio.is_alive():
        try:
            job = jobs.get(timeout=2)
        except queue.Empty:
            continue
        if job is None:
            return
        try:
            _optimise(job, models, lambda kind, frame: results.put((kind, frame)), stopped)
        except _Stopped:
            results.put(("stopped", None))
        except BaseException as error:  # noqa: BLE001 - sent to the page's process
            try:
                pickle.dumps(error)
            except Exception:  # noqa: BLE001 - an error that cannot travel: its text does
                error = RuntimeError(f"{type(error).__name__}: {error}")
            results.put(("error", error))


def _model(models: OrderedDict[tuple[Path, str], Any], path: Path, load: Callable[..., Any],
           device: str) -> Any:
    """A CLIP or VQGAN, loaded again when its run saved a newer checkpoint."""
    key = last_checkpoint(path)
    if key not in models:
        for old in [k for k in models if k[0] == path]:
            del models[old]
        models[key] = load(path, device=device)
        while len(models) > CACHE_MODELS:
            models.popitem(last=False)
    models.move_to_end(key)
    return models[key]


def _optimise(job: Job, models: OrderedDict[tuple[Path, str], Any],
              send: Callable[[str, TextFrame], None], stopped: Callable[[], bool]) -> None:
    """`genlab text2img`'s calls, sending a frame every `job.every` steps and the last."""
    from genlab.generate.clip_models import load_clip
    from genlab.generate.text2img import (
        blank_canvas,
        load_vqgan,
        parse_prompts,
        prompt_similarities,
        text_to_image,
    )

    req = job.request
    prompts = parse_prompts(req.prompt)
    vqgan = _model(models, job.vqgan_dir, load_vqgan, job.device)
    clip = _model(models, job.clip_dir, load_clip, job.device)
    init = None if req.init is None else blank_canvas(vqgan, req.init, req.size)
    seen: list[Any] = [None]  # the decoded image of the step running now
    loss: list[float | None] = [None]

    def look(_module: Any, _inputs: Any, output: Any) -> None:
        seen[0] = output.detach()  # only read: the optimisation is unchanged

    def callback(step: int, logs: dict[str, float]) -> None:
        if stopped():
            raise _Stopped
        if (step == 1 or step % job.every == 0) and step < req.steps:
            send("frame", TextFrame(step, req.steps, logs["loss"], _picture(seen[0][0]),
                                    job.command))
        loss[0] = logs["loss"]

    # the decoder's output each step is the image that step's loss is measured on
    hook = vqgan.decoder.register_forward_hook(look)
    try:
        image, _ = text_to_image(
            clip, vqgan, prompts, steps=req.steps, lr=req.lr, cutouts=req.cutouts,
            size=req.size, init_image=init, init_weight=req.init_weight, seed=req.seed,
            callback=callback)
    finally:
        hook.remove()
    sims = prompt_similarities(clip, image, prompts)
    send("done", TextFrame(req.steps, req.steps, loss[0], _picture(image), job.command,
                           done=True, similarities=[(t, s) for (t, _), s in
                                                    zip(prompts, sims, strict=True)]))


def last_checkpoint(path: Path) -> tuple[Path, str]:
    """A run folder and its newest checkpoint's name: what a loaded model is kept by."""
    ckpts = list_checkpoints(path / "checkpoints")
    return path, ckpts[-1].name if ckpts else ""


def _picture(image: Any) -> Image.Image:
    """A [C, H, W] image in about [-1, 1] as the PNG pixels `save_image` writes."""
    from genlab.images import grid_image

    return grid_image(image[None], nrow=1, padding=0)

"""Evaluating a run from the page, with no web code: `genlab eval RUN --n N --seed S` by the
very function the command calls (`genlab.evaluation.run.evaluate_run`, same arguments), so
eval/<step>/eval.json, report.md and samples.png are the files the command writes. Each
part is reported as it starts, and a judge missing for the run's data is trained first as a
part of its own (once per data: then it is cached). This is the one thing the studio writes
into a run folder, on the user's click, and never while the run trains."""

from __future__ import annotations

import queue
import shlex
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genlab.errors import EvalError
from genlab.studio.catalog import training_now
from genlab.studio.engine import Studio
from genlab.studio.guard import SEED_MAX, StudioError, check_int

N_MIN, N_MAX, N_DEFAULT = 10, 10_000, 1_000  # `genlab eval` refuses n < 10; CPU-friendly
TRAINING = "the run is training: evaluate it after it finishes"


@dataclass(frozen=True)
class EvalRequest:
    """What the Evaluate button asks for (the feature space is the data's judge)."""

    run: str
    n: Any = N_DEFAULT
    seed: Any = 0

    def checked(self) -> EvalRequest:
        return EvalRequest(self.run, check_int(self.n, "number of images", N_MIN, N_MAX),
                           check_int(self.seed, "seed", 0, SEED_MAX))

    def command(self, run_dir: Path) -> str:
        """The `genlab eval` line that writes the same files."""
        return shlex.join(["genlab", "eval", str(run_dir), "--n", str(self.n), "--seed",
                           str(self.seed)])


@dataclass
class Evaluated:
    """A finished evaluation: its folder under RUN/eval, its numbers, the command."""

    folder: str
    results: dict[str, Any]
    command: str
    seconds: float


def _refuse_training(run_dir: Path) -> None:
    if training_now(run_dir):
        raise StudioError(TRAINING)


def _prepare_judge(run_dir: Path, tell: Callable[[str], None]) -> None:
    """Train the judge of a generative run's data first if none is cached (what the
    evaluation would do inside a part that says nothing of it): the same call with the same
    arguments as `load_judge` makes, so it is the judge `genlab eval` trains."""
    from genlab.methods.registry import METHODS
    from genlab.metrics.judge import load_judge, train_judge
    from genlab.runs.folder import read_run

    _, cfg, info, _ = read_run(run_dir)
    method = METHODS[cfg.method.name]
    if not method.generative or method.translates:  # evaluate_run says what it does
        return
    tell(f"looking for the judge of {cfg.data.name} at {info.image_size} px")
    try:
        load_judge(cfg.data, seed=0, train_if_missing=False, progress=False)
    except EvalError:
        tell(f"no judge is cached for {cfg.data.name} at {info.image_size} px: training one "
             "first (once for this data, then cached; `genlab judge train` does the same; "
             "minutes on a CPU for large data)")
        train_judge(cfg.data, seed=0, device="cpu", progress=False)


def evaluate(studio: Studio, request: EvalRequest,
             on_progress: Callable[[str], None] | None = None) -> Evaluated:
    """`genlab eval` on the run; `on_progress(part)` as each part starts. Refused (one
    line) for bad values and for a run that trains; one at a time per run."""
    from genlab.evaluation.run import evaluate_run

    tell = on_progress or (lambda part: None)
    req = request.checked()
    path = studio.run_dir(req.run)
    _refuse_training(path)
    if studio.locks.busy(path):
        tell("waiting for the work already running on this run (one at a time per run)")
    with studio.locks.hold(path):
        _refuse_training(path)  # it may have started while this one waited
        start = time.perf_counter()
        _prepare_judge(path, tell)
        _, report = evaluate_run(path, n=req.n, seed=req.seed, on_progress=tell)
    return Evaluated(report.parent.name, _numbers(report.parent), req.command(path),
                     time.perf_counter() - start)


def _numbers(folder: Path) -> dict[str, Any]:
    import json

    return json.loads((folder / "eval.json").read_text())


def evaluate_live(studio: Studio, request: EvalRequest,
                  tick: float = 1.0) -> Iterator[str | Evaluated | None]:
    """`evaluate` in a thread of its own: yields each part's line as it starts (and None
    every `tick` seconds between, so a page can show the time go by), then the result, or
    raises its error. Left early (the page closed), the evaluation still ends and writes
    its files whole."""
    parts: queue.Queue[object] = queue.Queue()
    outcome: dict[str, Any] = {}
    finished = object()

    def work() -> None:
        try:
            outcome["result"] = evaluate(studio, request, parts.put)
        except BaseException as error:  # noqa: BLE001 - raised again in the caller
            outcome["error"] = error
        finally:
            parts.put(finished)

    threading.Thread(target=work, name="genlab-studio-eval", daemon=True).start()
    while True:
        try:
            part = parts.get(timeout=tick)
        except queue.Empty:
            part = None
        if part is finished:
            break
        yield part
    if "error" in outcome:
        raise outcome["error"]
    yield outcome["result"]


def progress_markdown(parts: list[tuple[str, float]], now: float,
                      done: bool = False) -> str:
    """The parts so far as a numbered list, each with its seconds; the last one still
    running unless `done`. `parts`: (line, start time)."""
    lines = []
    for i, (part, start) in enumerate(parts):
        end = parts[i + 1][1] if i + 1 < len(parts) else now
        running = i + 1 == len(parts) and not done
        lines.append(f"{i + 1}. {part}: " + (f"running ({end - start:.0f} s)" if running
                                            else f"{end - start:.1f} s"))
    return "\n".join(lines)

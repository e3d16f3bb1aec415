"""Progress of long work on stderr, one class for all of it (training, judges, text2img,
sampling, evaluation, editing): a live rich bar with ETA on a terminal, plain lines elsewhere.

The live bar is laid out here rather than by rich's table of columns: a table shares a
narrow terminal out evenly between its columns, so at 80 columns with the losses beside it
the count and the ETA were the first things cut (`t… … eta`). Here the count and the ETA are
drawn whole first, then the label, the elapsed time and the bar take the room left, and the
latest losses go on a second line, cut with an ellipsis when wider than the terminal.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.progress import Progress, Task, TaskID
from rich.progress_bar import ProgressBar
from rich.text import Text

console = Console(stderr=True)

BAR_MIN, BAR_MAX = 10, 40  # the bar's width in cells: dropped below BAR_MIN, capped at BAR_MAX
OFF_TERMINAL_LINES = 2  # what a sampling or editing command prints off a terminal: half, done
QUIET_SECONDS = 10.0  # ...and only for work that has run this long by then


class Report(Protocol):
    """A bar's callback: the work done so far, and the total when it is learnt on the way
    (the `on_step(i, total)` shape of `genlab.sampling`'s samplers)."""

    def __call__(self, done: float, total: float | None = None) -> None: ...


def format_logs(logs: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4g}" for k, v in logs.items())


def clock(seconds: float | None) -> str:
    """H:MM:SS as rich shows times; -:--:-- while the ETA is not known yet."""
    if seconds is None:
        return "-:--:--"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _done_of_total(task: Task) -> str:
    total = "?" if task.total is None else int(task.total)
    unit = task.fields.get("unit", "")
    return f"{int(task.completed)}/{total}" + (f" {unit}" if unit else "")


def _eta(task: Task) -> float | None:
    """rich's estimate (the speed over its last 30 s), else the mean speed so far: rich needs
    two updates after the start, so work in two chunks would show no ETA until it is done."""
    if task.time_remaining is not None or task.total is None:
        return task.time_remaining
    done = task.completed - task.fields.get("first", 0)
    if done <= 0 or not task.elapsed:
        return None
    return task.elapsed / done * max(task.total - task.completed, 0)


class _TaskView:
    """One task as one or two lines that fit `options.max_width`; see the module docstring."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        task = self.task
        count, eta = _done_of_total(task), f"eta {clock(_eta(task))}"
        label, elapsed = task.fields.get("label", ""), clock(task.elapsed)
        room = options.max_width - cell_len(count) - 1 - len(eta)  # the count and ETA first
        line = Text(no_wrap=True, overflow="ellipsis")
        if label and room > cell_len(label):
            line.append(label + " ", style="bold")
            room -= cell_len(label) + 1
        if room <= len(elapsed):
            elapsed = ""
        else:
            room -= len(elapsed) + 1
        if room > BAR_MIN and task.total:
            width = min(BAR_MAX, room - 1)
            bar = ProgressBar(task.total, task.completed, width=width)
            start = line.cell_len
            for segment in console.render(bar, options.update(width=width)):
                line.append(segment.text, segment.style)
            line.append(" " * (start + width + 1 - line.cell_len))  # uncoloured: no back bar
        line.append(count, style="progress.download")
        if elapsed:
            line.append(" " + elapsed, style="progress.elapsed")
        line.append(" " + eta, style="progress.remaining")
        yield line
        logs = task.fields.get("logs", "")
        if logs:
            yield Text("  " + logs, no_wrap=True, overflow="ellipsis")


class _LiveBars(Progress):
    """rich's Progress (task bookkeeping, speed estimate, refresh thread) drawn by `_TaskView`."""

    def get_renderables(self) -> Iterable[RenderableType]:
        for task in self.tasks:
            yield _TaskView(task)


class StepProgress:
    """Progress toward `total` (steps, images...) from `start`; shown only when `enabled`.

    On a terminal: a live bar. Elsewhere (a log file, a pipe): with `lines=None`, one line per
    update that carries logs (the training log); with `lines=k`, at most k lines, at even
    fractions of the total and only once the work has taken QUIET_SECONDS, so a command in a
    script stays as short as it was unless it is long enough for a log reader to want an ETA.
    `total=None`: not known until the first `report` (RePaint's step count with its jumps)."""

    def __init__(self, total: float | None, start: float = 0, enabled: bool = True,
                 label: str = "train", *, unit: str = "", lines: int | None = None) -> None:
        self.total, self.enabled, self.label, self.unit = total, enabled, label, unit
        self.lines, self._milestones = lines, 0
        self.live = enabled and console.is_terminal
        self._t0, self._s0 = time.perf_counter(), start
        self._bar: _LiveBars | None = None
        if self.live:
            self._bar = _LiveBars(console=console)
            self._task: TaskID = self._bar.add_task(label, total=total, completed=start,
                                                    label=label, unit=unit, logs="",
                                                    first=start)
            self._bar.start()

    def update(self, step: float, logs: dict[str, float] | None = None) -> None:
        if self._bar is not None:
            fields = {"logs": format_logs(logs)} if logs is not None else {}
            self._bar.update(self._task, completed=step, total=self.total, **fields)
        elif self.enabled and self._due(step, logs):
            self._print(step, logs)

    def report(self, done: float, total: float | None = None) -> None:
        """`update` in the `on_step(i, total)` shape the samplers call back with."""
        if total is not None:
            self.total = total
        self.update(done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __enter__(self) -> StepProgress:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _due(self, step: float, logs: dict[str, float] | None) -> bool:
        """Off a terminal: whether this update prints a line."""
        if self.lines is None:
            return logs is not None
        if not self.total or step < self.total * (self._milestones + 1) / self.lines:
            return False
        self._milestones = min(self.lines, int(step * self.lines / self.total))
        return time.perf_counter() - self._t0 >= QUIET_SECONDS

    def _print(self, step: float, logs: dict[str, float] | None) -> None:
        total = int(self.total or 0)
        elapsed = time.perf_counter() - self._t0
        eta = elapsed / max(step - self._s0, 1e-9) * max(total - step, 0)
        head = f"step {int(step)}/{total}" if self.lines is None else \
            f"{self.label} {int(step)}/{total}" + (f" {self.unit}" if self.unit else "")
        middle = f" {format_logs(logs)}" if logs else ""
        console.print(f"{head}{middle} elapsed {elapsed:.0f}s eta {eta:.0f}s", highlight=False,
                      markup=False)




@contextmanager
def progress_bar(total: float | None, *, label: str, unit: str,
                 enabled: bool) -> Iterator[Report | None]:
    """The `report(done, total)` callback of a bar for one piece of long inference work, or
    None when not `enabled` (so the Python API's default path stays untouched)."""
    if not enabled:
        yield None
        return
    with StepProgress(total, 0, label=label, unit=unit, lines=OFF_TERMINAL_LINES) as bar:
        yield bar.report

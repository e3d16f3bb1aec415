"""A rich progress bar with ETA and the latest losses; plain lines when not on a terminal."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


def format_logs(logs: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4g}" for k, v in logs.items())


class TrainProgress:
    def __init__(self, total: int, start: int, enabled: bool = True, label: str = "train") -> None:
        self.total, self.enabled = total, enabled
        self.live = enabled and console.is_terminal
        self._t0, self._s0 = time.perf_counter(), start
        self._bar = None
        if self.live:
            self._bar = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                                 TextColumn("{task.fields[logs]}"), console=console)
            self._task = self._bar.add_task(label, total=total, completed=start, logs="")
            self._bar.start()

    def update(self, step: int, logs: dict[str, float] | None = None) -> None:
        if self._bar is not None:
            fields = {"logs": format_logs(logs)} if logs is not None else {}
            self._bar.update(self._task, completed=step, **fields)
        elif self.enabled and logs is not None:
            done = step - self._s0
            elapsed = time.perf_counter() - self._t0
            eta = elapsed / max(done, 1) * (self.total - step)
            console.print(f"step {step}/{self.total} {format_logs(logs)} "
                          f"elapsed {elapsed:.0f}s eta {eta:.0f}s", highlight=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()

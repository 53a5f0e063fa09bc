"""Training progress on stderr: a rich bar in a terminal, plain lines in a batch job's log.

In a terminal the bar is replaced at the end by one summary line that stays; when stderr is not
a terminal (``pefomed train ... 2> log``, a cluster job) a plain line is printed every
``every`` seconds and at the end, so a log shows the run is alive.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def progress_line(step: int, total: int, loss: float, rate: float, left: str, elapsed: float) -> str:
    """``step 40/200  loss 1.2345  3.2 samples/s  12 s  left: 160 steps`` (one format everywhere)."""
    return (f"train step {step}/{total}  loss {loss:.4f}  {rate:.1f} samples/s  {elapsed:.0f} s"
            f"  left: {left}")


def notes(enabled: bool) -> Callable[[str], None]:
    """A printer of lines that stay (an evaluation, a signal): while a rich bar is live it
    redirects stderr, so these appear above the bar."""
    def note(text: str) -> None:
        if enabled:
            print(text, file=sys.stderr, flush=True)

    return note


class Progress:
    """Shows one run's steps; ``enabled=False`` shows nothing (sweeps, ``--json``)."""

    def __init__(self, total: int, enabled: bool, *, every: float = 30.0, start_step: int = 0,
                 stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.total = total
        self.every = every
        self.step = start_step
        self._start_step = start_step
        self._samples = 0
        self._t0 = time.perf_counter()
        self._last_line = self._t0
        self._last: tuple[float, str] = (float("nan"), "")
        self.bar = None
        if enabled and self.stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress
            from rich.progress import TextColumn, TimeElapsedColumn

            self.console = Console(file=self.stream)
            self.bar = RichProgress(
                TextColumn("train"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TextColumn("loss {task.fields[loss]}  {task.fields[rate]} samples/s  left: {task.fields[left]}"),
                console=self.console, transient=True,
            )
            self.task = self.bar.add_task("train", total=total, completed=start_step, loss="-", rate="-",
                                          left="-")
            self.bar.start()

    @property
    def rate(self) -> float:
        return self._samples / max(time.perf_counter() - self._t0, 1e-9)

    def update(self, step: int, samples: int, loss: float, left: str) -> None:
        self.step = step
        self._samples += samples
        self._last = (loss, left)
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(self.task, completed=step, loss=f"{loss:.4f}", rate=f"{self.rate:.1f}", left=left)
            return
        now = time.perf_counter()
        if now - self._last_line >= self.every:
            self._last_line = now
            self._print()

    def note(self, text: str) -> None:
        """A line that stays (an evaluation, a checkpoint), printed above the bar."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.console.print(text, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    def close(self, stop: str | None = None) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        if self.enabled and self.step > self._start_step:
            self._print(f"  stop: {stop}" if stop else "")

    def _print(self, suffix: str = "") -> None:
        loss, left = self._last
        line = progress_line(self.step, self.total, loss, self.rate, left, time.perf_counter() - self._t0)
        print(line + suffix, file=self.stream, flush=True)


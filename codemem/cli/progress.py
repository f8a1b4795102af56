"""Progress bars on stderr for long work (silent when stderr is not a terminal)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from codemem.cli.output import console

MIN_TOTAL = 200  # at least this much work shows a bar at once; less only once it lasts
# How long a smaller piece of work runs before its bar shows: a quick one would only flicker,
# but one large file (a generated 6 MB source, parsed whole) takes many seconds to its first
# step, and the person should see that `index` is at work.
SHOW_AFTER_SECONDS = 1.0


@contextmanager
def progress_bar(description: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """Yield a `(done, total)` callback that drives a rich progress bar on stderr; the first
    call (`done` 0) says the work has begun."""
    if not enabled or not _on_terminal():
        yield lambda done, total: None
        return
    bar = _Bar(description)
    try:
        yield bar.update
    finally:
        bar.stop()


@contextmanager
def phase_bars(enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """Yield a `(phase, done, total)` callback for work in phases (a digest's reading of
    commits, its model calls, its writes): each phase has a bar of its own, shown as
    `progress_bar`'s is once the phase is large or lasts, and gone when the next begins."""
    if not enabled or not _on_terminal():
        yield lambda phase, done, total: None
        return
    current: list[tuple[str, _Bar]] = []

    def update(phase: str, done: int, total: int) -> None:
        if not current or current[0][0] != phase:
            if current:
                current.pop()[1].stop()
            current.append((phase, _Bar(phase)))
        current[0][1].update(done, total)

    try:
        yield update
    finally:
        if current:
            current[0][1].stop()


def _on_terminal() -> bool:
    """Bars are for a person at a terminal: nothing in a pipe, a file or a CI log."""
    return sys.stderr.isatty()


class _Bar:
    """A bar shown once the work is large or has lasted `SHOW_AFTER_SECONDS` (a timer shows
    it: no step may come for that long), updated from the caller's thread."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.lock = threading.Lock()
        self.progress: Any = None  # rich's Progress, once shown
        self.task: Any = None
        self.timer: threading.Timer | None = None
        self.done = self.total = 0
        self.stopped = False

    def update(self, done: int, total: int) -> None:
        with self.lock:
            self.done, self.total = done, total
            if self.progress is not None:
                self.progress.update(self.task, completed=done, total=total)
                return
        if total >= MIN_TOTAL:
            self.show()
        elif self.timer is None:
            self.timer = threading.Timer(SHOW_AFTER_SECONDS, self.show)
            self.timer.daemon = True
            self.timer.start()

    def show(self) -> None:
        with self.lock:
            if self.stopped or self.progress is not None:
                return
            from rich.progress import (  # rich loads only for a bar shown: start-up stays fast
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console(stderr=True),
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task(
                self.description, total=self.total, completed=self.done
            )

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            if self.timer is not None:
                self.timer.cancel()
            if self.progress is not None:
                self.progress.stop()

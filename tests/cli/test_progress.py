"""`codemem index`'s progress bar: at once for much work, and for little work once it lasts
(one large file parses for many seconds before its first step)."""

from __future__ import annotations

import sys
import threading

import pytest
from rich.progress import Progress

from codemem.cli import progress
from codemem.cli.progress import progress_bar


class Started(list):
    """The bars started (none drawn), and an event set by the first."""

    def __init__(self) -> None:
        super().__init__()
        self.first = threading.Event()

    def start(self, bar: Progress) -> None:
        self.append(bar)
        self.first.set()


@pytest.fixture
def shown(monkeypatch) -> Started:
    """The bars started, as if stderr were a terminal."""
    started = Started()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setattr(Progress, "start", lambda bar: started.start(bar))
    monkeypatch.setattr(Progress, "stop", lambda bar: None)
    return started


def test_a_single_file_that_takes_long_shows_a_bar_before_it_is_done(shown, monkeypatch):
    monkeypatch.setattr(progress, "SHOW_AFTER_SECONDS", 0.0)
    with progress_bar("Indexing") as update:
        update(0, 1)  # begun; the one file parses
        assert shown.first.wait(30)
        (task,) = shown[0].tasks
        assert (task.description, task.completed, task.total) == ("Indexing", 0, 1)
        update(1, 1)
        assert (task.completed, task.total) == (1, 1)


def test_quick_small_work_shows_no_bar_and_much_work_one_at_once(shown, monkeypatch):
    monkeypatch.setattr(progress, "SHOW_AFTER_SECONDS", 3600.0)
    with progress_bar("Indexing") as update:
        update(0, 3)
        update(3, 3)
    assert shown == []
    with progress_bar("Indexing") as update:
        update(0, 500)
        assert len(shown) == 1 and shown[0].tasks[0].total == 500

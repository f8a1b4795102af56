"""Time limits inside one review: a `Budget` shared out among the checks, `time_limit` for each.

The secret scan runs before any of this and is never cut short. Every other check, and the
model review, gets a share of the time left (`Budget.share`: half of it, so one check that
hangs cannot starve the others), under its own alarm; one that runs out is cut short (its findings so
far are kept) and named in a warning, and the rest of the review goes on.

The alarm is SIGALRM, so limits hold in the main thread of a POSIX process (the hook, the
CLI); elsewhere a check runs without one. It repeats every `REPEAT` seconds until cleared, so a
check that swallows the first `ReviewTimeout` in a broad `except` still stops.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn

from codemem.review.errors import ReviewTimeout

REPEAT = 0.05


class Budget:
    """The seconds a review may spend after the secret scan (None: no limit)."""

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.deadline = None if seconds is None else clock() + seconds
        self.ran_out: list[str] = []  # what was cut short or skipped for lack of time

    def remaining(self) -> float | None:
        """Seconds left (None: no limit; never below 0)."""
        return None if self.deadline is None else max(0.0, self.deadline - self.clock())

    def share(self, parts_left: int) -> float | None:
        """The next part's limit: half of what is left (all of it for the last part).

        A check that hangs leaves the others half the time, while a slow but sound one
        (a first grammar load, a `git grep` over a large tree) is not cut short by an even
        split of the budget it does not need to share.
        """
        left = self.remaining()
        return None if left is None else left / min(max(1, parts_left), 2)


def _can_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float | None, what: str) -> Iterator[None]:
    """Raise `ReviewTimeout` ("WHAT took longer than N s") after `seconds` (None: no limit)."""
    if seconds is None or not _can_alarm():
        yield
        return

    def expire(_signum: int, _frame: FrameType | None) -> NoReturn:
        """The alarm went off: stop the work where it is."""
        raise ReviewTimeout(f"{what} took longer than {seconds:.2g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-6), REPEAT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

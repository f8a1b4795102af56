"""How far an index run in this process has come: `RunProgress`, for a reader on another
thread.

`codemem watch` answers searches on one thread while its index runs go on on another; a
search right after a save waits for the run that indexes it. The run says which files it
will write (`planned`) and each batch it commits (`committed`), so the waiting search learns
that the index holds them from the run itself, with no `git ls-files` of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable


class RunProgress:
    """What the index run under way (one at a time) has still to commit."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._left: set[str] | None = None  # None: not planned yet
        self._ended = True  # no run under way

    def begin(self) -> None:
        """A run starts; it has planned nothing yet."""
        with self._changed:
            self._left, self._ended = None, False
            self._changed.notify_all()

    def planned(self, paths: Iterable[str]) -> None:
        """The run will index or remove `paths`."""
        with self._changed:
            self._left = set(paths)
            self._changed.notify_all()

    def committed(self, paths: Iterable[str]) -> None:
        """The run committed `paths` (rows, tags and manifest): a search now finds them."""
        with self._changed:
            if self._left is not None:
                self._left.difference_update(paths)
            self._changed.notify_all()

    def end(self) -> None:
        """The run ended (completed, failed or stopped): the index is free."""
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    @property
    def ended(self) -> bool:
        with self._changed:
            return self._ended

    def wait(self, timeout: float, *, to_end: bool = False) -> bool:
        """Wait up to `timeout` seconds until the run has committed every file it planned
        (`to_end`: until it ended); True when it did, or it ended."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self._ended or (not to_end and self._left == set()), max(0.0, timeout)
            )

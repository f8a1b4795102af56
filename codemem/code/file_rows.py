"""One file's symbol rows, found by their lines (or by their qualified name) without a pass
over them all: a file can hold 300,000 one-line definitions, and a symbol search looks up
each of its k hits in it. (The chunk holding a traceback frame's line is the lexicon's
`chunks_holding`.)"""

from __future__ import annotations

import bisect
from typing import Any


class FileRows:
    """One file's rows, each with `start_line` and `end_line`, in the index's order; every
    answer lists them in that order too."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self._named: dict[str | None, dict[str, Any]] = {}
        self._starts: list[tuple[int, int]] | None = None  # (start line, place), sorted

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self._named.setdefault(row.get("qualname"), row)
        self._starts = None

    def within(self, start: int, end: int) -> list[dict[str, Any]]:
        """The rows that start and end within lines start..end."""
        starts = self._sorted()
        first = bisect.bisect_left(starts, (start, -1))
        last = bisect.bisect_right(starts, (end, len(self.rows)))
        places = sorted(n for _, n in starts[first:last])
        return [self.rows[n] for n in places if self.rows[n]["end_line"] <= end]

    def first_named(self, qualname: str | None) -> dict[str, Any] | None:
        """The first row of this qualified name."""
        return self._named.get(qualname)

    def _sorted(self) -> list[tuple[int, int]]:
        if self._starts is None:
            self._starts = sorted((r["start_line"], n) for n, r in enumerate(self.rows))
        return self._starts

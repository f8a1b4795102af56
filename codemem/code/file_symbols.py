"""One file's symbol rows, found by their lines or qualified name (`FileSymbols`)."""

from __future__ import annotations

import bisect
from typing import Any


class FileSymbols:
    """One file's symbol rows, as the index lists them, found by their lines or qualified
    name without a pass over them all (a file can hold 300,000 definitions, and a symbol
    search refines each of its k hits)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self._starts: list[tuple[int, int]] | None = None  # (start line, row's place), sorted
        self._named: dict[str | None, dict[str, Any]] = {}

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self._named.setdefault(row["qualname"], row)
        self._starts = None

    def within(self, start: int, end: int) -> list[dict[str, Any]]:
        """The rows that start and end within lines start..end, in the index's order."""
        if self._starts is None:
            self._starts = sorted((r["start_line"], n) for n, r in enumerate(self.rows))
        first = bisect.bisect_left(self._starts, (start, -1))
        last = bisect.bisect_right(self._starts, (end, len(self.rows)))
        places = sorted(n for _, n in self._starts[first:last])
        return [self.rows[n] for n in places if self.rows[n]["end_line"] <= end]

    def first_named(self, qualname: str | None) -> dict[str, Any] | None:
        """The first row of this qualified name."""
        return self._named.get(qualname)

"""One file's symbol or chunk rows, found by their lines (or a symbol's by its qualified name)
without a pass over them all: a file can hold 300,000 one-line definitions, and a search looks
up each of its k hits, or each frame of a traceback, in it."""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable
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

    def holding(self, lines: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
        """For each of `lines`, the rows whose lines hold it: one sweep down the file, keeping
        the rows begun and not yet ended (a class outline and the chunk inside it)."""
        starts = self._sorted()
        begun: list[tuple[int, int]] = []  # (end line, place), a heap
        out: dict[int, list[dict[str, Any]]] = {}
        at = 0
        for line in sorted(set(lines)):
            while at < len(starts) and starts[at][0] <= line:
                place = starts[at][1]
                heapq.heappush(begun, (self.rows[place]["end_line"], place))
                at += 1
            while begun and begun[0][0] < line:
                heapq.heappop(begun)
            out[line] = [self.rows[place] for place in sorted(place for _, place in begun)]
        return out

    def first_named(self, qualname: str | None) -> dict[str, Any] | None:
        """The first row of this qualified name."""
        return self._named.get(qualname)

    def _sorted(self) -> list[tuple[int, int]]:
        if self._starts is None:
            self._starts = sorted((r["start_line"], n) for n, r in enumerate(self.rows))
        return self._starts

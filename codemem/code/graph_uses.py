"""Which files a file uses, read from the reference graph's file pairs (a search stage's input).

The graph file keeps one row per (using file, defining file) pair with the summed weight of
the names one takes from the other, sorted by the using file (`code/graph_build.py`); a
lookup is a binary search over that column, nothing is decoded up front.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from pathlib import Path

from codemem.code.columns import Columns, Strings
from codemem.code.graph import open_graph_file


class FileUses:
    """path -> the files defining the names it uses, with the pair's weight."""

    def __init__(self, opened: Columns) -> None:
        self._paths = Strings(opened.bytes("paths"), opened.view("paths_offsets"))
        self._src = opened.view("pair_src")
        self._dst = opened.view("pair_dst")
        self._weight = opened.view("pair_weight")

    def __call__(self, path: str) -> list[tuple[str, float]]:
        i = self._paths.find(path)
        if i is None:
            return []
        lo, hi = bisect_left(self._src, i), bisect_right(self._src, i)
        pairs = zip(self._dst[lo:hi].tolist(), self._weight[lo:hi].tolist(), strict=True)
        return [(self._paths[j], w) for j, w in pairs if j != i]


def read_uses(index_dir: Path | str) -> FileUses | None:
    """The file uses of the cached graph (see `graph.open_graph_file`); None without one."""
    opened = open_graph_file(index_dir)
    return FileUses(opened) if opened is not None else None

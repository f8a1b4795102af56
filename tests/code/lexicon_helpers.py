"""Reads of the lexicon that only tests make."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from codemem.code.lexicon import Lexicon
from codemem.code.lexicon_rows import LexiconRows


def symbols_in(lexicon: Lexicon, paths: Iterable[str]) -> list[dict[str, Any]]:
    """Every live symbol row of these files, in path and line order: what an incremental index
    and a rebuild must agree on (a search never reads a file's rows whole)."""
    wanted = list(dict.fromkeys(paths))
    rows = LexiconRows(lexicon)
    out: list[dict[str, Any]] = []
    for s, seg in lexicon.each_segment():
        offsets = seg.values("p_symbols")
        for _, i in seg.find_paths(wanted):
            out.extend(rows._symbol_row(s, r) for r in range(offsets[i], offsets[i + 1]))
    return sorted(out, key=lambda r: (r["path"], r["start_line"], r["end_line"], r["qualname"]))

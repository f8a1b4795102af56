"""Rows of the lexicon looked up by name, file, line or id (what a search reads after ranking).

The lexicon (`codemem.code.lexicon`) ranks; this reads the same memory-mapped columns to
answer the other questions a search asks of the index: the definitions of some names
(`symbols_named`, and only which files define them, `definers`), the definition a hit points
at (`definitions_at`), the chunks holding some lines (`chunks_holding`), chunks by id
(`chunks_by_id`). Each works on the columns with numpy and builds only the rows it returns,
live rows only (the newest segment covering a path holds them).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from codemem.code.files import is_test_path
from codemem.code.lexicon import Lexicon, Segment, spans
from codemem.code.lexicon_build import (
    NAME_KEY_BYTES,
    NULL_DOCSTRING,
    NULL_PARENT,
    NULL_SIGNATURE,
)
from codemem.code.lexicon_postings import distinct

# A symbol search's hit, for the definition it points at (`LexiconRows.definitions_at`): its
# path, first and last line, the chunk's symbol, and the lines of the traceback frames in a
# file of its name. (A tuple: search builds them without loading this module's numpy.)
SymbolHit = tuple[str, int, int, str | None, tuple[int, ...]]


class LexiconRows:
    """The lexicon's chunk and symbol rows, looked up by name, file, line or chunk id."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon

    def _symbol_row(self, s: int, row: int) -> dict[str, Any]:
        seg, codes = self.lexicon.segments[s], self.lexicon.codes[s]
        value = seg.values
        path = value("s_path")[row]
        null = value("s_null")[row]
        return {
            "path": seg.paths[path],
            "language": codes[value("p_language")[path]],
            "name": seg.strings("s_name")[row],
            "qualname": seg.strings("s_qualname")[row],
            "kind": codes[value("s_kind")[row]],
            "start_line": value("s_start")[row],
            "end_line": value("s_end")[row],
            "signature": None if null & NULL_SIGNATURE else seg.strings("s_signature")[row],
            "docstring": None if null & NULL_DOCSTRING else seg.strings("s_docstring")[row],
            "parent": None if null & NULL_PARENT else seg.strings("s_parent")[row],
            "is_test": bool(value("p_test")[path]),
        }

    def symbols_named(
        self, names: Iterable[str], *, most: int | None = None, pinned: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        """Symbol rows whose name is one of `names`. With `most`, a name defined in more places
        than that (which a search skips: it says little) gives `most + 1` of its rows, those
        outside tests first (enough to tell, even counting those alone), and those whose
        qualified name ends with one of `pinned` (`Class.method`): its other rows, however
        many, are never built."""
        wanted = list(dict.fromkeys(names))
        live = [(s, seg, *self._live_named(seg, wanted)) for s, seg in self.lexicon.each_segment()]
        counts = np.zeros(len(wanted), np.int64)
        for *_, name_of, _ in live:
            counts += np.bincount(name_of, minlength=len(wanted))
        crowded = counts > most if most is not None else np.zeros(len(wanted), bool)
        endings: dict[str, tuple[str, ...]] = {}
        for ending in pinned:
            last = ending.rsplit(".", 1)[-1]
            endings[last] = (*endings.get(last, ()), ending)
        out: list[dict[str, Any]] = []
        spare: dict[int, list[tuple[bool, int, int]]] = {}  # crowded name -> (test, seg, row)
        for s, seg, found, name_of, file_of in live:
            out.extend(self._symbol_row(s, row) for row in found[~crowded[name_of]].tolist())
            many = np.flatnonzero(crowded[name_of])
            if not len(many):
                continue
            files = distinct(file_of[many])
            tests = {f: is_test_path(seg.paths[f]) for f in files.tolist()}
            qualnames = seg.strings("s_qualname")
            for k in many.tolist():
                row, name = int(found[k]), int(name_of[k])
                pins = endings.get(wanted[name])
                if pins and (qualnames[row] or "").endswith(pins):
                    out.append(self._symbol_row(s, row))
                else:
                    spare.setdefault(name, []).append((tests[int(file_of[k])], s, row))
        for rows in spare.values():  # none of them pinned: the first few, tests last
            first = heapq.nsmallest(int(most or 0) + 1, rows)
            out.extend(self._symbol_row(s, row) for _, s, row in first)
        return _ordered(out)

    def definitions_at(
        self, hits: Sequence[SymbolHit], names: Iterable[str]
    ) -> list[dict[str, Any] | None]:
        """For each hit, the definition it points at: of its file's symbol rows within its lines,
        those named one of `names` or holding one of its `lines`, the narrowest (the first in
        line order on a tie); else the file's first row of its qualified name; else None.

        Worked out on the file's line columns with numpy: only the rows chosen are built, so a
        hit in a file of 300,000 definitions costs no row per definition."""
        wanted = list(dict.fromkeys(names))
        by_path: dict[str, list[int]] = {}
        for k, (path, *_) in enumerate(hits):
            by_path.setdefault(path, []).append(k)
        out: list[dict[str, Any] | None] = [None] * len(hits)
        for s, seg in self.lexicon.each_segment():
            located = seg.find_paths(by_path)
            if not located:
                continue
            offsets = seg.values("p_symbols")
            starts, ends = seg.array("s_start"), seg.array("s_end")
            named_rows = self._live_named(seg, wanted)[0] if wanted else np.zeros(0, np.int64)
            for path, i in located:
                first, last = offsets[i], offsets[i + 1]
                here_starts, here_ends = starts[first:last], ends[first:last]
                named = np.zeros(last - first, bool)
                named[named_rows[(named_rows >= first) & (named_rows < last)] - first] = True
                by_start = np.argsort(here_starts, kind="stable")  # once per file, not per hit
                sorted_starts = here_starts[by_start]
                first_of: dict[str, int] | None = None
                for k in by_path[path]:
                    _, start, end, qualname, lines = hits[k]
                    lo = int(np.searchsorted(sorted_starts, start, "left"))
                    hi = int(np.searchsorted(sorted_starts, end, "right"))
                    begun = by_start[lo:hi]  # the rows starting within the hit's lines
                    begun = begun[here_ends[begun] <= end]
                    pointed = named[begun]
                    for line in lines:
                        pointed |= (here_starts[begun] <= line) & (here_ends[begun] >= line)
                    found = begun[pointed]
                    if len(found):  # the narrowest, then the first: they end on one line
                        widths = here_ends[found] - here_starts[found]
                        found = found[widths == widths.min()]
                        found = found[here_starts[found] == here_starts[found].min()]
                    elif qualname is not None:  # worked out for the file once, if ever
                        if first_of is None:
                            first_of = self._first_of_each(seg, first, last, here_starts, here_ends)
                        found = np.array([first_of[qualname]] if qualname in first_of else [])
                    rows = [self._symbol_row(s, first + int(f)) for f in found.tolist()]
                    out[k] = min(rows, key=_line_order, default=None)
        return out

    def _first_of_each(
        self, seg: Segment, first: int, last: int, starts: np.ndarray, ends: np.ndarray
    ) -> dict[str, int]:
        """qualified name -> the first of the rows first..last-1 of `seg` (their places among
        them, with these lines) so named, in line order: one decode of the column, one pass."""
        qualnames = seg.strings("s_qualname").tolist()[first:last]
        out: dict[str, int] = {}
        for place in np.lexsort((ends, starts)).tolist():
            out.setdefault(qualnames[place], place)
        return out

    def _live_named(
        self, seg: Segment, wanted: list[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The live symbol rows of `seg` named one of `wanted`: rows, each one's name (its index
        in `wanted`) and file (its number in `seg`)."""
        encoded = _name_keys(wanted)
        found, name_of = _named_rows(seg, encoded)
        if not len(found):
            return found, name_of, found
        file_of = seg.array("s_path")[found].astype(np.int64)
        live = ~seg.dead[file_of]
        cut = np.array([len(e) == NAME_KEY_BYTES for e in encoded], bool)
        cut_rows = np.flatnonzero(cut[name_of] & live)
        if len(cut_rows):  # a longer name cut to the same key: check the whole name
            names_here = seg.strings("s_name")
            for k in cut_rows.tolist():
                live[k] = names_here[int(found[k])] == wanted[int(name_of[k])]
        return found[live], name_of[live], file_of[live]

    def definers(self, names: Iterable[str]) -> dict[str, set[str]]:
        """name -> the live files defining it, for those of `names` some file defines (reads
        only the name index and the symbols' paths, no rows)."""
        wanted = list(dict.fromkeys(names))
        out: dict[str, set[str]] = {}
        for _, seg in self.lexicon.each_segment():
            found, name_of, file_of = self._live_named(seg, wanted)
            if not len(found):
                continue
            width = len(seg.paths)
            pairs = distinct(name_of * width + file_of)
            file_ids = pairs % width
            files = distinct(file_ids).tolist()
            decoded = dict(zip(files, map(seg.paths.__getitem__, files), strict=True))
            for i, file in zip((pairs // width).tolist(), file_ids.tolist(), strict=True):
                out.setdefault(wanted[i], set()).add(decoded[file])
        return out

    def chunks_holding(
        self, lines: Mapping[str, Iterable[int]]
    ) -> dict[tuple[str, int], list[dict[str, Any]]]:
        """(path, line) -> (id, path, start_line, end_line, kind) of each chunk of that file
        whose lines hold that line, in the index's order. Only the holders are made rows, so a
        file of any number of chunks costs one pass of numpy over its line columns per line."""
        wanted = {path: sorted(set(held)) for path, held in lines.items()}
        out: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for s, seg in self.lexicon.each_segment():
            offsets, ids, codes = seg.values("p_chunks"), seg.strings("c_id"), self.lexicon.codes[s]
            starts, ends, kinds = seg.array("c_start"), seg.array("c_end"), seg.values("c_kind")
            for path, i in seg.find_paths(wanted):
                first, last = offsets[i], offsets[i + 1]
                here_starts, here_ends = starts[first:last], ends[first:last]
                for line in wanted[path]:
                    docs = first + np.flatnonzero((here_starts <= line) & (here_ends >= line))
                    out[(path, line)] = [
                        {"id": ids[doc], "path": path, "start_line": int(starts[doc]),
                         "end_line": int(ends[doc]), "kind": codes[kinds[doc]]}
                        for doc in docs.tolist()
                    ]  # fmt: skip
        return out

    def chunks_by_id(self, ids: list[str]) -> list[dict[str, Any]]:
        """Chunk rows with these ids. An id is `path#lines#n`, the file's `n`th chunk (from 0),
        read there alone; a file's ids are read one by one only for an id of another shape."""
        by_path: dict[str, set[str]] = {}
        for chunk_id in ids:
            by_path.setdefault(chunk_id.rsplit("#", 2)[0], set()).add(chunk_id)
        out: list[dict[str, Any]] = []
        for s, seg in self.lexicon.each_segment():
            offsets, chunk_ids = seg.values("p_chunks"), seg.strings("c_id")
            found: list[int] = []
            for path, i in seg.find_paths(by_path):
                first, last = offsets[i], offsets[i + 1]
                wanted = by_path[path]
                places = {first + _ordinal(c) for c in wanted}
                if first - 1 in places:  # an id of another shape: read the file's ids
                    places = set(range(first, last))
                found += sorted(d for d in places if first <= d < last and chunk_ids[d] in wanted)
            if found:
                row = self.lexicon.chunk_reader(s)
                out.extend(row(doc) for doc in found)
        return out


def _ordinal(chunk_id: str) -> int:
    """The `n` of a chunk id `path#lines#n`: its place among its file's chunks (-1: none)."""
    tail = chunk_id.rsplit("#", 1)[-1]
    return int(tail) if tail.isascii() and tail.isdigit() else -1


def _name_keys(names: Iterable[str]) -> list[bytes]:
    """Each name's key in the name index: its first `NAME_KEY_BYTES` bytes."""
    return [n.encode("utf-8", "surrogateescape")[:NAME_KEY_BYTES] for n in names]


def _named_rows(seg: Segment, keys: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The symbol rows of `seg` whose name key is one of `keys`, and for each row the index of
    its key in `keys` (a cut key also finds the longer names it begins: check those whole)."""
    raw, rows = seg.cols.bytes("sn_keys"), seg.array("sn_rows")
    none = np.empty(0, np.int64)
    if not len(rows) or not keys:
        return none, none
    stored = np.frombuffer(raw, f"S{len(raw) // len(rows)}")
    fits = [i for i, key in enumerate(keys) if len(key) <= stored.dtype.itemsize]
    if not fits:
        return none, none
    query = np.array([keys[i] for i in fits], stored.dtype)
    lo, hi = np.searchsorted(stored, query, "left"), np.searchsorted(stored, query, "right")
    return rows[spans(lo, hi)], np.repeat(np.array(fits, np.int64), hi - lo)


def _line_order(row: dict[str, Any]) -> tuple[int, int, str]:
    """A file's rows in line order (as `_ordered` lists them)."""
    return row["start_line"], row["end_line"], row["qualname"]


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in an order that does not depend on how the segments fall."""
    return sorted(rows, key=lambda r: (r["path"], r["start_line"], r["end_line"], r["qualname"]))


__all__ = ["LexiconRows", "SymbolHit"]

"""Building the search segments of the lexicon (`codemem.code.lexicon`): from a batch of
rows, or by merging the newest small segments into one.

A segment is one column file (`codemem.code.columns`) holding, for the files of one index
batch: their chunk rows, symbol rows and file rows as search returns them, and two inverted
indexes (chunks, files) for BM25 (`codemem.code.lexicon_postings`): a sorted term dictionary
(fixed-width byte strings, so a query looks its terms up with one `searchsorted`), each term's
postings (document, term frequency) and each document's token count. Everything is built with
numpy: the only Python loops run over a batch's distinct terms and rows, never its tokens.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import numpy as np

from codemem.code.columns import Column, write_columns
from codemem.code.joined_rows import FILE_NUMBER, JoinedColumn
from codemem.code.lexicon_postings import (
    Postings,
    build_chunk_and_file_postings,
    distinct,
    distinct_indexed,
    fixed_width,
)
from codemem.code.rows import Batch

SEGMENT_KIND = "codemem-lexicon"
SEGMENT_FORMAT = 1
NAME_KEY_BYTES = 48  # a symbol name's key in the name index: longer names are checked whole
# Null flags of the optional string columns (None is not "").
NULL_SYMBOL, NULL_SYMBOL_KIND = 1, 2
NULL_PARENT, NULL_DOCSTRING, NULL_SIGNATURE = 1, 2, 4


def key_hash(text: str) -> int:
    """A stable 64-bit hash of a path (the segments find paths and tombstones by it)."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def hashes(texts: Iterable[str]) -> np.ndarray:
    return np.array([key_hash(t) for t in texts], dtype=np.uint64)


class RawStrings:
    """A string column copied from segments as byte ranges of theirs, never decoded (what a
    merge writes instead of a list of `str`)."""

    def __init__(self) -> None:
        self.parts: list[memoryview] = []
        self.offsets: list[np.ndarray] = [np.zeros(1, np.int64)]
        self.size = 0  # bytes so far
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def extend(self, seg: Any, column: str, runs: Iterable[tuple[int, int]]) -> None:
        """Append the strings of rows a:b of `column` of the segment `seg` for each (a, b)."""
        blob, offsets = seg.cols.bytes(column), seg.array(f"{column}_offsets")
        for a, b in runs:
            if a == b:
                continue
            low, high = int(offsets[a]), int(offsets[b])
            self.parts.append(blob[low:high])
            self.offsets.append(offsets[a + 1 : b + 1] - low + self.size)
            self.size += high - low
            self.count += b - a

    def columns(self, name: str) -> dict[str, Column]:
        return {name: ("B", self.parts), f"{name}_offsets": ("q", np.concatenate(self.offsets))}


class CodedStrings:
    """A coded string column copied from segments as their codes, never decoded row by row
    (what a merge writes instead of a list of `str`): row i's value is names[ids[i]]."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}  # each name's id, in the order first added
        self._parts: list[np.ndarray] = []

    def extend(self, names: list[str], codes: np.ndarray) -> None:
        """Append rows whose values are names[codes[i]]."""
        ids = [self._ids.setdefault(name, len(self._ids)) for name in names]
        self._parts.append(np.array(ids or [0], np.int64)[codes])

    def coded(self, into: dict[str, int]) -> np.ndarray:
        """The rows' codes in `into` (each value not yet there added in the order the rows
        first hold it, as for a list of `str`)."""
        ids = np.concatenate(self._parts) if self._parts else np.zeros(0, np.int64)
        names = list(self._ids)
        used, first, _ = distinct_indexed(ids)
        lookup = np.zeros(len(names), np.uint32)
        for i in used[np.argsort(first)].tolist():
            lookup[i] = into.setdefault(names[i], len(into))
        return lookup[ids]


@dataclass
class SegmentData:
    """The rows and postings of one segment, before they are written."""

    paths: list[str]
    languages: list[str] | CodedStrings
    tests: list[bool]
    covers: np.ndarray  # uint64 hashes of the paths whose older rows this segment replaces
    chunks: dict[str, Any]  # path (int array), id, start, end, kind, symbol, symbol_kind, null
    symbols: dict[str, Any]  # path (int array), name, qualname, kind, start, end, signature, ...
    chunk_postings: Postings
    file_postings: Postings

    def write(self, path: Path) -> None:
        write_columns(path, {"kind": SEGMENT_KIND, "format": SEGMENT_FORMAT}, self._columns())

    def _columns(self) -> dict[str, Column]:
        from codemem.code.columns import string_columns

        codes: dict[str, int] = {}

        def coded(values: Sequence[str | None] | CodedStrings | JoinedColumn) -> np.ndarray:
            if isinstance(values, CodedStrings):
                return values.coded(codes)
            if isinstance(values, JoinedColumn):
                values = values.tolist()
            # Codes in the order values are first seen; the rows looked up in C, not in a loop.
            own = {v: codes.setdefault(v or "", len(codes)) for v in dict.fromkeys(values)}
            return np.fromiter(map(own.__getitem__, values), np.uint32, len(values))

        def strings(
            name: str, values: Sequence[str | None] | RawStrings | JoinedColumn
        ) -> dict[str, Column]:
            if isinstance(values, RawStrings):
                return values.columns(name)
            if isinstance(values, JoinedColumn):  # already as `string_columns` makes them
                return {name: ("B", values.data), f"{name}_offsets": ("q", values.offsets)}
            blob, offsets = string_columns(values, clean=True)
            return {name: blob, f"{name}_offsets": offsets}

        c, s = self.chunks, self.symbols
        path_hashes = hashes(self.paths)
        order = np.argsort(path_hashes, kind="stable")
        cols: dict[str, Column] = {
            **strings("paths", self.paths),
            "p_hash": ("Q", path_hashes),
            "p_sorted": ("Q", path_hashes[order]),
            "p_order": ("I", order.astype(np.uint32)),
            "covers": ("Q", distinct(self.covers.astype(np.uint64))),
            "p_language": ("I", coded(self.languages)),
            "p_test": ("B", np.array(self.tests, np.uint8)),
            "p_chunks": ("q", _offsets(c["path"], len(self.paths))),
            "p_symbols": ("q", _offsets(s["path"], len(self.paths))),
            "p_chunk_tokens": (
                "q",
                np.bincount(
                    c["path"], weights=self.chunk_postings.lengths, minlength=len(self.paths)
                ).astype(np.int64),
            ),  # fmt: skip
            **strings("c_id", c["id"]),
            **strings("c_symbol", c["symbol"]),
            "c_path": ("I", c["path"].astype(np.uint32)),
            "c_start": ("i", np.asarray(c["start"], np.int32)),
            "c_end": ("i", np.asarray(c["end"], np.int32)),
            "c_kind": ("I", coded(c["kind"])),
            "c_symbol_kind": ("I", coded(c["symbol_kind"])),
            "c_null": ("B", np.asarray(c["null"], np.uint8)),
            **self.chunk_postings.columns("cp"),
            **self.file_postings.columns("fp"),
            **strings("s_name", s["name"]),
            **strings("s_qualname", s["qualname"]),
            **strings("s_signature", s["signature"]),
            **strings("s_docstring", s["docstring"]),
            **strings("s_parent", s["parent"]),
            "s_path": ("I", s["path"].astype(np.uint32)),
            "s_kind": ("I", coded(s["kind"])),
            "s_start": ("i", np.asarray(s["start"], np.int32)),
            "s_end": ("i", np.asarray(s["end"], np.int32)),
            "s_null": ("B", np.asarray(s["null"], np.uint8)),
        }
        keys = _name_keys(cols["s_name"][1], cols["s_name_offsets"][1])
        by_name = np.argsort(keys, kind="stable")
        cols["sn_keys"] = ("B", keys[by_name].tobytes())
        cols["sn_rows"] = ("I", by_name.astype(np.uint32))
        cols.update(strings("codes", list(codes)))  # in code order: insertion order
        return cols


def _name_keys(blob: Any, offsets: Any) -> np.ndarray:
    """Each name's first NAME_KEY_BYTES bytes, as fixed-width keys (`blob`: the names, each
    followed by a NUL, in one buffer or parts; `offsets`: where each one starts, int64)."""
    data = np.frombuffer(blob if _is_buffer(blob) else b"".join(blob), np.uint8)
    offsets = np.frombuffer(offsets, np.int64)
    sizes = np.minimum(np.diff(offsets) - 1, NAME_KEY_BYTES)
    return fixed_width(data, offsets[:-1], sizes)


def _is_buffer(blob: Any) -> bool:
    return isinstance(blob, bytes | bytearray | memoryview | np.ndarray)


def _offsets(row_paths: np.ndarray, paths: int) -> np.ndarray:
    """Where each path's rows start (rows are grouped by path, in path order)."""
    return np.concatenate(([0], np.cumsum(np.bincount(row_paths, minlength=paths)))).astype(
        np.int64
    )


def _null_flags(*columns: tuple[Sequence[Any] | JoinedColumn, int]) -> np.ndarray:
    size = len(columns[0][0]) if columns else 0
    flags = np.zeros(size, np.uint8)
    for values, bit in columns:
        if isinstance(values, JoinedColumn):
            if values.nulls is not None:
                flags[values.nulls] |= bit
            continue
        flags[np.fromiter(map(operator.is_, values, repeat(None)), bool, size)] |= bit
    return flags


def _grouping(row_paths: np.ndarray) -> np.ndarray | None:
    """The order that groups rows by file (stable), or None when they already are."""
    if not (row_paths[1:] < row_paths[:-1]).any():
        return None
    return np.argsort(row_paths, kind="stable")


def _file_numbers(rows: dict[str, Any], paths: list[str]) -> np.ndarray:
    """Each row's file, by its number in `paths`: given (`packed_rows.FILE_NUMBER`), or looked
    up from the rows' paths."""
    if FILE_NUMBER in rows:
        return np.asarray(rows[FILE_NUMBER], np.int64)
    index = {path: i for i, path in enumerate(paths)}
    row_paths = rows.get("path", [])
    return np.fromiter(map(index.__getitem__, row_paths), np.int64, len(row_paths))  # in C


def from_batch(batch: Batch, removed: Iterable[str] = ()) -> SegmentData:
    """The segment of one batch's rows; `removed`: files whose older rows go, with no new ones."""
    files, chunks, symbols = batch.files, batch.chunks, batch.symbols
    paths: list[str] = list(files.get("path", []))
    c_path, s_path = (_file_numbers(rows, paths) for rows in (chunks, symbols))
    c_order, s_order = _grouping(c_path), _grouping(s_path)
    if c_order is not None:
        c_path = c_path[c_order]
    if s_order is not None:
        s_path = s_path[s_order]

    def pick(columns: dict[str, Any], name: str, order: np.ndarray | None) -> Any:
        values = columns.get(name, [])
        if order is None:
            return values
        if isinstance(values, JoinedColumn):  # rows not grouped by file: rare
            values = values.tolist()
        if isinstance(values, list):
            return [values[i] for i in order.tolist()]
        return values.take(order)  # an Arrow column

    chunk_symbol, chunk_symbol_kind = (
        pick(chunks, "symbol", c_order),
        pick(chunks, "symbol_kind", c_order),
    )
    parent, docstring, signature = (
        pick(symbols, n, s_order) for n in ("parent", "docstring", "signature")
    )
    chunk_postings, file_postings = build_chunk_and_file_postings(
        pick(chunks, "search", c_order),
        c_path,
        np.array(pick(chunks, "file_tokens", c_order), np.int64),
        files.get("search", []),
    )
    return SegmentData(
        paths=paths,
        languages=list(files.get("language", [])),
        tests=[bool(t) for t in files.get("is_test", [])],
        covers=hashes(chain(paths, removed)),
        chunks={
            "path": c_path, "id": pick(chunks, "id", c_order),
            "start": pick(chunks, "start_line", c_order), "end": pick(chunks, "end_line", c_order),
            "kind": pick(chunks, "kind", c_order), "symbol": chunk_symbol,
            "symbol_kind": chunk_symbol_kind,
            "null": _null_flags((chunk_symbol, NULL_SYMBOL), (chunk_symbol_kind, NULL_SYMBOL_KIND)),
        },
        symbols={
            "path": s_path, "name": pick(symbols, "name", s_order),
            "qualname": pick(symbols, "qualname", s_order), "kind": pick(symbols, "kind", s_order),
            "start": pick(symbols, "start_line", s_order), "end": pick(symbols, "end_line", s_order),
            "signature": signature, "docstring": docstring, "parent": parent,
            "null": _null_flags((parent, NULL_PARENT), (docstring, NULL_DOCSTRING), (signature, NULL_SIGNATURE)),
        },
        chunk_postings=chunk_postings,
        file_postings=file_postings,
    )  # fmt: skip

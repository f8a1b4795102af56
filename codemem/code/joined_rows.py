"""The rows parser workers packed (`codemem.code.packed_rows`), joined in the indexer.

A batch's packed rows are joined when it is committed, twice over the same buffers: for the
lexicon build the NUL-joined string columns as their bytes (`JoinedColumn`, written into the
segment as they are; decoded only for the few coded columns), each chunk's and symbol's file
by its number in the batch, and the other columns as Python lists; for the store, Arrow
arrays built from the buffers. The workers' `array`s are read as numpy arrays over their own
memory (`_as_numpy`), nothing copied.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from codemem.code.packed_rows import (
    FILE_NUMBER,
    LEXICON_ONLY,
    REPEATED,
    ROW_TABLES,
    ArrowStrings,
    JoinedStrings,
    PackedRows,
)
from codemem.code.rows import CHUNKS, Batch, FileRows

__all__ = ["FILE_NUMBER", "JoinedColumn", "joined_batches"]

Packed = JoinedStrings | ArrowStrings | np.ndarray | list[Any]  # a column, once `_as_numpy`


@dataclass(slots=True)
class JoinedColumn:
    """A string column of joined rows as the lexicon writes it (`codemem.code.columns.
    string_columns`): each value followed by NUL, in UTF-8, None stored as "" and flagged.
    What `joined_batches` hands the lexicon build in place of a list, never decoded."""

    data: bytes
    offsets: np.ndarray  # int64, rows + 1: where each value starts, then the end
    nulls: np.ndarray | None  # bool per row: the value is None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def tolist(self) -> list[Any]:
        """The values as Python strings (and None)."""
        return _decode_joined(self.data, 0, len(self.data), self.nulls)

    def arrow(self) -> Any:
        """The values as an Arrow string array (the NULs dropped in C, no Python strings)."""
        import pyarrow as pa  # the indexer's write path only: workers never load pyarrow

        rows = len(self)
        data = np.frombuffer(self.data, np.uint8)
        data = data[data != 0]  # no value holds NUL (`_joined_strings`): only the ends go
        offsets = self.offsets - np.arange(rows + 1)  # each value's start, less the NULs before
        kind, width = (
            (pa.string(), np.int32) if len(data) < 2**31 else (pa.large_string(), np.int64)
        )
        validity, nulls = None, 0
        if self.nulls is not None and self.nulls.any():
            validity = pa.py_buffer(np.packbits(~self.nulls, bitorder="little"))
            nulls = int(self.nulls.sum())
        buffers = [validity, pa.py_buffer(offsets.astype(width)), pa.py_buffer(data)]
        return pa.Array.from_buffers(kind, rows, buffers, null_count=nulls)


def joined_batches(parts: Sequence[FileRows]) -> tuple[Batch, Batch]:
    """The rows of these files, in order, as two batches: one of Python lists and
    `JoinedColumn`s (what the lexicon build reads; without the `ARROW_ONLY` columns but the
    chunks' search texts, which it reads as their Arrow array) and one whose columns are Arrow
    arrays, numpy arrays or those lists (what the store writes; its file columns are the
    lists' own).

    The lexicon's chunk and symbol rows hold their file's number in the batch (`FILE_NUMBER`,
    an int64 array) in place of the columns that repeat their file's value (`REPEATED`):
    their file rows say those once."""
    ranges = _ranges(parts)
    lists, arrow = Batch(), Batch()
    for rows, a, b in ranges:
        for column, values in rows.files.items():
            lists.files.setdefault(column, []).extend(values[a:b])
    arrow.files = lists.files
    for table in ROW_TABLES:
        names: list[str] = list(
            dict.fromkeys(chain.from_iterable(rows.columns[table] for rows, _, _ in ranges))
        )
        counts = [
            rows.starts[table][a + 1 : b + 1] - rows.starts[table][a:b] for rows, a, b in ranges
        ]
        per_file = np.concatenate(counts) if counts else np.zeros(0, np.int64)
        file_numbers = np.repeat(np.arange(len(per_file)), per_file)
        if names:
            getattr(lists, table)[FILE_NUMBER] = file_numbers
        for name in names:
            parts_of = [(rows.packed[table].get(name), rows, a, b) for rows, a, b in ranges]
            if name in REPEATED and name in lists.files and all(p is None for p, *_ in parts_of):
                getattr(arrow, table)[name] = _repeated_array(lists.files[name], file_numbers)
                continue
            as_list, as_arrow = _joined_column(table, name, parts_of)
            if as_list is not None:
                getattr(lists, table)[name] = as_list
            elif (table, name) == (CHUNKS, "search"):  # the lexicon build reads Arrow texts
                lists.chunks[name] = as_arrow
            getattr(arrow, table)[name] = as_arrow
    return lists, arrow


def _ranges(parts: Sequence[FileRows]) -> list[tuple[PackedRows, int, int]]:
    """Runs of consecutive files of one `PackedRows`: (rows, first file, end), their arrays
    read as numpy arrays (`_as_numpy`)."""
    ranges: list[tuple[PackedRows, int, int]] = []
    for part in parts:
        _as_numpy(part.rows)
        if ranges and ranges[-1][0] is part.rows and ranges[-1][2] == part.index:
            rows, a, _ = ranges[-1]
            ranges[-1] = (rows, a, part.index + 1)
        else:
            ranges.append((part.rows, part.index, part.index + 1))
    return ranges


def _as_numpy(rows: PackedRows) -> None:
    """Read the worker's `array`s of `rows` as numpy arrays over their memory (once)."""
    if rows.as_numpy:
        return
    rows.as_numpy = True
    rows.starts = {table: _numbers(starts) for table, starts in rows.starts.items()}
    for columns in rows.packed.values():
        for name, packed in columns.items():
            if isinstance(packed, array):
                columns[name] = _numbers(packed)
            elif isinstance(packed, ArrowStrings):
                packed.offsets = _numbers(packed.offsets)
            elif isinstance(packed, JoinedStrings):
                packed.file_starts = _numbers(packed.file_starts)
                if packed.nulls is not None:
                    packed.nulls = np.frombuffer(packed.nulls, bool)


def _numbers(values: array[int]) -> np.ndarray:
    return np.frombuffer(values, np.int64)


def _repeated_array(file_values: list[Any], file_numbers: np.ndarray) -> Any:
    """Each row's file's value, as an Arrow array (taken in C)."""
    import pyarrow as pa  # the indexer's write path only: workers never load pyarrow

    return pa.array(file_values).take(_numeric_array(file_numbers))


def _numeric_array(values: np.ndarray) -> Any:
    """A numpy column of numbers as an Arrow array over its own buffer: `pa.array` of a numpy
    array imports `numpy.ma` to look for a mask, 20-30 ms of every cold `codemem index`."""
    import pyarrow as pa  # the indexer's write path only: workers never load pyarrow

    if values.dtype.kind not in "iuf":  # Arrow packs booleans in bits
        return pa.array(values)
    values = np.ascontiguousarray(values)
    kind = pa.from_numpy_dtype(values.dtype)
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])


def _joined_column(
    table: str, name: str, parts: list[tuple[Packed | None, PackedRows, int, int]]
) -> tuple[Any, Any]:
    """A column's values over the ranges: (a list or None for `ARROW_ONLY` columns, what
    the store takes)."""
    spans = [(p, int(rows.starts[table][a]), int(rows.starts[table][b])) for p, rows, a, b in parts]
    kinds = {type(p) for p, _, _ in spans}
    if kinds == {ArrowStrings}:
        if (table, name) in LEXICON_ONLY:  # the lexicon build copies them once, together
            return None, _arrow_chunks(spans)
        return None, _arrow_array(spans)  # LanceDB writes one array faster than chunks
    if kinds == {JoinedStrings}:
        column = _joined_strings_column([(p, rows, a, b) for p, rows, a, b in parts], spans)
        return column, column.arrow()
    if kinds == {np.ndarray}:
        array = np.concatenate([p[lo:hi] for p, lo, hi in spans])  # type: ignore[index]
        return array.tolist(), _numeric_array(array)
    values = list(chain.from_iterable(
        _as_list(packed, rows, a, b, lo, hi)
        for (packed, rows, a, b), (_, lo, hi) in zip(parts, spans, strict=True)
    ))  # fmt: skip
    return values, values


def _as_list(
    packed: Packed | None, rows: PackedRows, a: int, b: int, lo: int, hi: int
) -> list[Any]:
    """One range's values of a column as a list, whatever its layout: files a:b, rows lo:hi."""
    if packed is None:
        return [None] * (hi - lo)
    if isinstance(packed, JoinedStrings):
        first, last = int(packed.file_starts[a]), int(packed.file_starts[b])
        nulls = packed.nulls[lo:hi] if packed.nulls is not None else None
        return _decode_joined(packed.data, first, last, nulls) if lo < hi else []
    if isinstance(packed, ArrowStrings):
        data, offsets = packed.data, packed.offsets.tolist()
        return [data[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(lo, hi)]
    if isinstance(packed, np.ndarray):
        result: list[Any] = packed[lo:hi].tolist()
        return result
    return packed[lo:hi]


def _joined_strings_column(
    parts: list[tuple[Any, PackedRows, int, int]], spans: list[tuple[Any, int, int]]
) -> JoinedColumn:
    """The NUL-joined ranges (files a:b; rows lo:hi in `spans`) as one column: their bytes
    copied once, each value's start found from the NULs, no Python strings."""
    datas, nulls, any_null = [], [], False
    for (packed, _, a, b), (_, lo, hi) in zip(parts, spans, strict=True):
        first, last = int(packed.file_starts[a]), int(packed.file_starts[b])
        datas.append(memoryview(packed.data)[first:last])
        some = packed.nulls[lo:hi] if packed.nulls is not None else None
        any_null = any_null or (some is not None and bool(some.any()))
        nulls.append(some if some is not None else np.zeros(hi - lo, bool))
    data = b"".join(datas)
    offsets = np.zeros(1, np.int64)
    if data:
        ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 0) + 1
        offsets = np.concatenate((offsets, ends))
    return JoinedColumn(data, offsets, np.concatenate(nulls) if any_null else None)


def _decode_joined(data: bytes, first: int, last: int, nulls: np.ndarray | None) -> list[Any]:
    """The NUL-joined values in data[first:last] (each followed by NUL): a decode and a split,
    then the None values (`nulls`) put back."""
    if first == last:
        return []
    strings = str(memoryview(data)[first : last - 1], "utf-8").split("\0")
    if nulls is not None and nulls.any():
        column = np.array(strings, object)
        column[nulls] = None
        strings = column.tolist()
    return strings


def _arrow_array(spans: list[tuple[Any, int, int]]) -> Any:
    """One Arrow string array from the ranges' buffers (copied once, no Python strings)."""
    import pyarrow as pa  # the indexer's write path only: workers never load pyarrow

    datas, offsets, size = [], [], 0
    for packed, lo, hi in spans:
        first, last = int(packed.offsets[lo]), int(packed.offsets[hi])
        datas.append(packed.data[first:last])
        offsets.append(packed.offsets[lo:hi] - first + size)
        size += last - first
    offsets.append(np.array([size], np.int64))
    joined = np.concatenate(offsets)
    kind, width = (pa.string(), np.int32) if size < 2**31 else (pa.large_string(), np.int64)
    return pa.Array.from_buffers(
        kind,
        len(joined) - 1,
        [None, pa.py_buffer(joined.astype(width)), pa.py_buffer(b"".join(datas))],
    )


def _arrow_chunks(spans: list[tuple[Any, int, int]]) -> Any:
    """An Arrow string column over the ranges' buffers: a chunked array, a chunk a range,
    each chunk's values the range's own bytes (nothing copied, no Python strings)."""
    import pyarrow as pa  # the indexer's write path only: workers never load pyarrow

    chunks = []
    for packed, lo, hi in spans:
        if lo == hi:
            continue
        first, last = int(packed.offsets[lo]), int(packed.offsets[hi])
        # One worker's chunk of files: far below 2 GB, so 32-bit offsets always fit.
        offsets = (packed.offsets[lo : hi + 1] - first).astype(np.int32)
        data = memoryview(packed.data)[first:last]
        buffers = [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        chunks.append(pa.Array.from_buffers(pa.string(), hi - lo, buffers))
    return pa.chunked_array(chunks, pa.string())

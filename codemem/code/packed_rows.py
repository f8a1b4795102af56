"""Index rows packed for the trip from a parser worker to the indexer.

A worker sends the rows of a chunk of files as one `PackedRows`, column by column: each
string column as one UTF-8 buffer, numbers as one numpy array each. Pickling that is a few
large copies, not an object per value, and the indexer neither unpickles a `Batch` per file
nor extends its pending lists file by file. Two layouts of strings:

- columns the lexicon build reads (`codemem.code.lexicon_build`): each value followed by
  NUL, the layout of a lexicon segment's string columns, so that a batch's values reach the
  segment as bytes (`JoinedColumn`) and the store as an Arrow array, never decoded (and one
  decode and one split give them all back where Python strings are wanted);
- columns read as Arrow arrays (`ARROW_ONLY`: the chunk texts, the largest column, and the
  lower-case names, which only the tables store; the chunks' search texts, which the
  lexicon build tokenises as Arrow too): Arrow's own layout (the values back to back and
  their offsets), handed to Arrow as they are; they never become Python strings in the
  indexer.

The chunk and symbol columns that repeat their file's value (`REPEATED`) are not sent:
they are rebuilt from the file rows. A string column that cannot be packed (a value holds
NUL, or is not valid Unicode) travels as the list it was, and its table is built from it
as before: the rows are the same whichever way they travelled.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from codemem.code.columns import joined_strings
from codemem.code.rows import CHUNKS, SYMBOLS, Batch, FileRows

# Row columns that hold their file's own value in every row: (file column, its row column).
REPEATED = ("path", "language", "is_test")
# The lexicon's row column in their place: each row's file, by its number in the batch.
FILE_NUMBER = "file"
# String columns never needed as Python strings in the indexer: packed in Arrow's layout.
ARROW_ONLY = {CHUNKS: ("text", "search"), SYMBOLS: ("name_lower",)}
# Of those, the columns only the lexicon build reads (the tables do not store them).
LEXICON_ONLY = {(CHUNKS, "search")}
NUMBERS = {CHUNKS: ("start_line", "end_line", "file_tokens"), SYMBOLS: ("start_line", "end_line")}
ROW_TABLES = (CHUNKS, SYMBOLS)


@dataclass(slots=True)
class JoinedStrings:
    """Strings each followed by NUL, in UTF-8; None values are stored as "" and flagged."""

    data: bytes
    file_starts: np.ndarray  # int64, files + 1: where each file's first value starts in `data`
    nulls: np.ndarray | None  # bool per row: the value is None


@dataclass(slots=True)
class ArrowStrings:
    """Strings back to back in UTF-8 and where each one starts (one more offset than values):
    an Arrow string array's buffers."""

    data: bytes
    offsets: np.ndarray  # int64, rows + 1


Packed = JoinedStrings | ArrowStrings | np.ndarray | list[Any]


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


@dataclass(slots=True)
class PackedRows:
    """The rows of a group of files (their indexed ones, in order), packed by a worker."""

    files: dict[str, list[Any]]
    columns: dict[str, list[str]]  # table -> its column names, in their order
    packed: dict[str, dict[str, Packed]]  # table -> column -> values (`REPEATED` left out)
    starts: dict[str, np.ndarray]  # table -> int64, files + 1: each file's first row


def pack_batches(batches: Sequence[Batch]) -> PackedRows:
    """Pack the rows of these files' batches (one file row each) into one `PackedRows`."""
    files: dict[str, list[Any]] = {}
    for batch in batches:
        for column, values in batch.files.items():
            files.setdefault(column, []).extend(values)
    columns: dict[str, list[str]] = {}
    packed: dict[str, dict[str, Packed]] = {}
    starts: dict[str, np.ndarray] = {}
    for table in ROW_TABLES:
        per_file: list[dict[str, list[Any]]] = [getattr(batch, table) for batch in batches]
        counts = [len(rows.get("path", ())) for rows in per_file]
        starts[table] = np.concatenate(([0], np.cumsum(counts, dtype=np.int64)))
        names = list(dict.fromkeys(chain.from_iterable(per_file)))
        columns[table] = names
        packed[table] = {
            name: _pack_column(
                table, name, [rows.get(name, []) for rows in per_file], starts[table]
            )
            for name in names
            if not (name in REPEATED and name in files)
        }
    return PackedRows(files, columns, packed, starts)


def pack_results(results: Iterable[Any]) -> None:
    """Replace each indexed result's `batch` (`codemem.code.extract.FileResult`) by its
    `FileRows` in one `PackedRows` for them all (in a worker, before they are sent)."""
    indexed = [r for r in results if len(r.batch)]
    if not indexed:
        return
    rows = pack_batches([r.batch for r in indexed])
    for i, result in enumerate(indexed):
        result.batch = FileRows(rows, i)


def _pack_column(
    table: str, name: str, per_file: list[list[Any]], row_starts: np.ndarray
) -> Packed:
    values = list(chain.from_iterable(per_file))
    if name in NUMBERS.get(table, ()):
        try:
            return np.array(values, np.int64)
        except (TypeError, ValueError, OverflowError):
            return values
    if name in ARROW_ONLY.get(table, ()):
        return _arrow_strings(values) or values
    return _joined_strings(values, row_starts) or values


def _joined_strings(values: list[Any], row_starts: np.ndarray) -> JoinedStrings | None:
    """`values` joined, each followed by NUL (`columns.joined_strings`; None if they cannot
    be: Arrow refuses a lone surrogate too); `row_starts`: each file's first row."""
    joined = joined_strings(values)
    if joined is None:
        return None
    data, offsets, nulls = joined
    return JoinedStrings(data, offsets[row_starts], nulls)


def _arrow_strings(values: list[Any]) -> ArrowStrings | None:
    try:
        text = "".join(values)
    except TypeError:  # None among them
        return None
    if text.isascii():  # one byte a character: the lengths are the strings' own
        data = text.encode("ascii")
        lengths = np.fromiter(map(len, values), np.int64, len(values))
    else:
        try:
            encoded = [v.encode("utf-8") for v in values]
        except UnicodeEncodeError:
            return None
        data = b"".join(encoded)
        lengths = np.fromiter(map(len, encoded), np.int64, len(values))
    offsets = np.zeros(len(values) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return ArrowStrings(data, offsets)


# -- in the indexer -------------------------------------------------------------------------


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
    """Runs of consecutive files of one `PackedRows`: (rows, first file, end)."""
    ranges: list[tuple[PackedRows, int, int]] = []
    for part in parts:
        if ranges and ranges[-1][0] is part.rows and ranges[-1][2] == part.index:
            rows, a, _ = ranges[-1]
            ranges[-1] = (rows, a, part.index + 1)
        else:
            ranges.append((part.rows, part.index, part.index + 1))
    return ranges


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

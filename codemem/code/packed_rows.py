"""Index rows packed for the trip from a parser worker to the indexer.

A worker sends the rows of a chunk of files as one `PackedRows`, column by column: each
string column as one UTF-8 buffer, numbers as one `array` each. Pickling that is a few
large copies, not an object per value, and the indexer neither unpickles a `Batch` per file
nor extends its pending lists file by file (`codemem.code.joined_rows` joins them). Two
layouts of strings:

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

Packing needs no numpy (the standard library's `array`): the indexer forks its workers
before it imports numpy, which then loads while they parse.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain
from typing import Any, TypeAlias

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

# Sent as `array`s ("q": int64, "b": a byte per flag); the indexer views them as numpy arrays
# of that type (`codemem.code.joined_rows`).
Numbers = Any  # array("q"), or its numpy view in the indexer
Flags = Any  # array("b"), or its numpy view (bool) in the indexer


@dataclass(slots=True)
class JoinedStrings:
    """Strings each followed by NUL, in UTF-8; None values are stored as "" and flagged."""

    data: bytes
    file_starts: Numbers  # files + 1: where each file's first value starts in `data`
    nulls: Flags | None  # per row: the value is None


@dataclass(slots=True)
class ArrowStrings:
    """Strings back to back in UTF-8 and where each one starts (one more offset than values):
    an Arrow string array's buffers."""

    data: bytes
    offsets: Numbers  # rows + 1


Packed: TypeAlias = "JoinedStrings | ArrowStrings | array[int] | list[Any]"


@dataclass(slots=True)
class PackedRows:
    """The rows of a group of files (their indexed ones, in order), packed by a worker."""

    files: dict[str, list[Any]]
    columns: dict[str, list[str]]  # table -> its column names, in their order
    packed: dict[str, dict[str, Any]]  # table -> column -> values (`REPEATED` left out)
    starts: dict[str, Numbers]  # table -> files + 1: each file's first row
    as_numpy: bool = False  # its arrays are numpy views (in the indexer, once joined)


def pack_batches(batches: Sequence[Batch]) -> PackedRows:
    """Pack the rows of these files' batches (one file row each) into one `PackedRows`."""
    files: dict[str, list[Any]] = {}
    for batch in batches:
        for column, values in batch.files.items():
            files.setdefault(column, []).extend(values)
    columns: dict[str, list[str]] = {}
    packed: dict[str, dict[str, Any]] = {}
    starts: dict[str, Numbers] = {}
    for table in ROW_TABLES:
        per_file: list[dict[str, list[Any]]] = [getattr(batch, table) for batch in batches]
        counts = [len(rows.get("path", ())) for rows in per_file]
        starts[table] = array("q", accumulate(counts, initial=0))
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
    table: str, name: str, per_file: list[list[Any]], row_starts: array[int]
) -> Packed:
    values = list(chain.from_iterable(per_file))
    if name in NUMBERS.get(table, ()):
        try:
            return array("q", values)
        except (TypeError, OverflowError):  # a None, or a number int64 cannot hold
            return values
    if name in ARROW_ONLY.get(table, ()):
        return _arrow_strings(values) or values
    return _joined_strings(values, row_starts) or values


def _joined_strings(values: list[Any], row_starts: array[int]) -> JoinedStrings | None:
    """`values` joined, each followed by NUL (`columns.joined_strings`; None if they cannot
    be: Arrow refuses a lone surrogate too); `row_starts`: each file's first row."""
    joined = joined_strings(values)
    if joined is None:
        return None
    data, offsets, nulls = joined
    return JoinedStrings(data, array("q", map(offsets.__getitem__, row_starts)), nulls)


def _arrow_strings(values: list[Any]) -> ArrowStrings | None:
    try:
        text = "".join(values)
    except TypeError:  # None among them
        return None
    if text.isascii():  # one byte a character: the lengths are the strings' own
        data = text.encode("ascii")
        lengths = map(len, values)
    else:
        try:
            encoded = [v.encode("utf-8") for v in values]
        except UnicodeEncodeError:
            return None
        data = b"".join(encoded)
        lengths = map(len, encoded)
    return ArrowStrings(data, array("q", accumulate(lengths, initial=0)))

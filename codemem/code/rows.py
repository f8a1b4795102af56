"""Rows of the code tables for a group of files, as plain values, column by column.

Parsing produces them (`codemem.code.extract`, in the worker processes) and the store writes
them (`codemem.code.store`); kept apart from the store so that parsing, and a refresh that
finds nothing to parse, never load pyarrow and LanceDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FILES, CHUNKS, SYMBOLS = "files", "chunks", "symbols"  # the index's tables
# The column deletes filter on (`path IN`): a BTREE index on it turns a scan of the whole
# table into a lookup. Rows added after an index was built are still found (scanned beside it)
# until compaction folds them in. Search reads the lexicon, not these tables.
SCALAR_INDEXES = {SYMBOLS: ("path",), CHUNKS: ("path",)}
Columns = dict[str, list[Any]]  # column name -> values, all of one length


@dataclass(slots=True)
class Batch:
    """Index rows of a group of files, column by column: for each table (files, chunks,
    symbols) a dict of equal-length lists named as its schema's columns. Built in the parser
    workers and handed to Arrow as they are: no dict per row, cheap to send between processes.
    """

    files: Columns = field(default_factory=dict)
    chunks: Columns = field(default_factory=dict)
    symbols: Columns = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.files.get("path", ()))

    def count(self, table: str) -> int:
        """The number of rows for `table`."""
        columns: Columns = getattr(self, table)
        return len(columns.get("path", ()))

    def extend(self, other: Batch) -> None:
        for table in (FILES, CHUNKS, SYMBOLS):
            mine: Columns = getattr(self, table)
            for column, values in getattr(other, table).items():
                mine.setdefault(column, []).extend(values)

    def rows(self, table: str) -> list[dict[str, Any]]:
        """`table`'s rows as dicts (for tests and diagnostics)."""
        columns: Columns = getattr(self, table)
        values = zip(*columns.values(), strict=True)
        return [dict(zip(columns, row, strict=True)) for row in values]


@dataclass(slots=True)
class FileRows:
    """One file's rows inside rows packed for a group of files
    (`codemem.code.packed_rows.PackedRows`): what a parser worker sends in place of its
    `Batch`."""

    rows: Any  # the PackedRows
    index: int  # the file's position among them

    def __len__(self) -> int:
        return 1

    def count(self, table: str) -> int:
        """The number of rows for `table` (the packed rows' starts say it)."""
        if table == FILES:
            return 1
        starts = self.rows.starts[table]
        return int(starts[self.index + 1] - starts[self.index])

"""The LanceDB tables of the code index: files, chunks and symbols.

Rows are written per batch of files and a file is recorded as indexed (in the manifest)
only after its batch is committed, so an interrupted run leaves a consistent index that
the next run completes. Full-text indexes cover rows added since they were built (LanceDB
searches unindexed rows directly); `maintain` folds new rows in, compacts fragments and prunes
old versions (see `codemem.code.readers`) so thousands of incremental runs, however quick,
neither slow search nor grow the disk without bound.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from codemem.code.lance import connect
from codemem.code.readers import ReaderLock

log = logging.getLogger("codemem")

FILES, CHUNKS, SYMBOLS = "files", "chunks", "symbols"
FTS_COLUMN = "search"
# How long `maintain` waits for open readers before it falls back to pruning by age only.
READERS_WAIT_SECONDS = 2.0


def files_schema() -> pa.Schema:
    return pa.schema(
        [
            ("path", pa.string()),
            ("language", pa.string()),
            ("content_id", pa.string()),
            ("size", pa.int64()),
            ("lines", pa.int32()),
            ("symbols", pa.int32()),
            ("chunks", pa.int32()),
            ("syntax_errors", pa.int32()),
            ("is_test", pa.bool_()),
            (FTS_COLUMN, pa.string()),
        ]
    )


def chunks_schema(dimensions: int | None) -> pa.Schema:
    fields = [
        ("id", pa.string()),
        ("path", pa.string()),
        ("language", pa.string()),
        ("start_line", pa.int32()),
        ("end_line", pa.int32()),
        ("kind", pa.string()),
        ("symbol", pa.string()),
        ("symbol_kind", pa.string()),
        ("is_test", pa.bool_()),
        ("text", pa.string()),
        (FTS_COLUMN, pa.string()),
    ]
    if dimensions:
        fields.append(("vector", pa.list_(pa.float32(), dimensions)))
    return pa.schema(fields)


def symbols_schema() -> pa.Schema:
    return pa.schema(
        [
            ("path", pa.string()),
            ("language", pa.string()),
            ("name", pa.string()),
            ("name_lower", pa.string()),
            ("qualname", pa.string()),
            ("kind", pa.string()),
            ("start_line", pa.int32()),
            ("end_line", pa.int32()),
            ("signature", pa.string()),
            ("docstring", pa.string()),
            ("parent", pa.string()),
            ("is_test", pa.bool_()),
        ]
    )


@dataclass
class Batch:
    """Rows for a group of files, column by column."""

    files: list[dict[str, Any]] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)
    symbols: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.files)

    def extend(self, other: Batch) -> None:
        self.files += other.files
        self.chunks += other.chunks
        self.symbols += other.symbols


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def _fts_config() -> Any:
    from lancedb.index import FTS

    # Text is tokenized and lower-cased by codemem.code.text; the index only splits on spaces.
    return FTS(
        base_tokenizer="whitespace",
        lower_case=False,
        stem=False,  # measured: stemming code tokens lowered Acc@1 on both suites
        remove_stop_words=False,
        ascii_folding=False,
        with_position=False,
    )


def path_filter(paths: Iterable[str]) -> str:
    return "path IN (" + ", ".join(_quote(p) for p in paths) + ")"


class CodeStore:
    """The code index tables in one LanceDB database."""

    def __init__(self, index_dir: Path, dimensions: int | None = None):
        self.index_dir = index_dir
        self.dimensions = dimensions
        self.readers = ReaderLock(index_dir)  # before opening anything: see maintain
        self.db = connect(index_dir)
        self._tables: dict[str, Any] = {}

    def _schemas(self) -> dict[str, pa.Schema]:
        return {FILES: files_schema(), CHUNKS: chunks_schema(self.dimensions), SYMBOLS: symbols_schema()}

    def table(self, name: str) -> Any:
        """Open a table, creating it empty if missing."""
        if name not in self._tables:
            try:
                self._tables[name] = self.db.open_table(name)
            except (FileNotFoundError, ValueError):
                self._tables[name] = self.db.create_table(name, schema=self._schemas()[name])
        return self._tables[name]

    def has_tables(self) -> bool:
        existing = set(self.table_names())
        return {FILES, CHUNKS, SYMBOLS} <= existing

    def table_names(self) -> list[str]:
        result = self.db.list_tables()
        return list(getattr(result, "tables", result))

    def drop_all(self) -> None:
        """Remove every code table (a full rebuild starts from nothing)."""
        for name in (FILES, CHUNKS, SYMBOLS):
            if name in self.table_names():
                self.db.drop_table(name)
        self._tables.clear()

    def delete_paths(self, paths: list[str]) -> None:
        """Delete every row of these files from every table."""
        for start in range(0, len(paths), 500):
            where = path_filter(paths[start : start + 500])
            for name in (CHUNKS, SYMBOLS, FILES):
                self.table(name).delete(where)

    def write(self, batch: Batch, replace: bool = True) -> None:
        """Replace the rows of the batch's files with the batch's rows."""
        if not batch.files:
            return
        if replace:
            self.delete_paths([row["path"] for row in batch.files])
        schemas = self._schemas()
        for name, rows in ((CHUNKS, batch.chunks), (SYMBOLS, batch.symbols), (FILES, batch.files)):
            if rows:
                self.table(name).add(pa.Table.from_pylist(rows, schema=schemas[name]))

    def ensure_fts(self) -> None:
        """Build the full-text indexes that do not exist yet."""
        for name in (CHUNKS, FILES):
            table = self.table(name)
            if not any(ix.columns == [FTS_COLUMN] for ix in table.list_indices()):
                if table.count_rows() == 0:
                    continue
                table.create_index(FTS_COLUMN, config=_fts_config(), replace=True)

    def unindexed_rows(self) -> int:
        """Rows added since the full-text indexes were last built."""
        total = 0
        for name in (CHUNKS, FILES):
            table = self.table(name)
            for ix in table.list_indices():
                if ix.columns == [FTS_COLUMN]:
                    total += table.index_stats(ix.name).num_unindexed_rows
        return total

    def maintain(self, keep_versions_seconds: int = 300) -> None:
        """Fold new rows into the indexes, compact fragments and drop old versions.

        When no other store is open (no search is reading), every version but the newest is
        dropped: the index holds one copy of its data, however many runs came before. If
        readers stay open longer than `READERS_WAIT_SECONDS`, only versions older than
        `keep_versions_seconds` go this time.
        """
        alone = self.readers.exclusive(READERS_WAIT_SECONDS)
        keep = timedelta(0) if alone else timedelta(seconds=keep_versions_seconds)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*removes every version.*")
                for name in (FILES, CHUNKS, SYMBOLS):
                    self.table(name).optimize(cleanup_older_than=keep)
        finally:
            if alone:
                self.readers.shared()

    def counts(self) -> dict[str, int]:
        return {name: self.table(name).count_rows() for name in (FILES, CHUNKS, SYMBOLS)}

"""The LanceDB tables of the code index: files, chunks and symbols.

The only module that speaks LanceDB: opening the database, the schemas, writes, and the
queries answered from the tables (vectors, whole tables) live here; the rest of codemem sees
rows as plain values through `codemem.code.CodeIndex`. Search reads the lexicon
(`codemem.code.lexicon`) instead, without loading LanceDB; these tables stay the record the
status, the rows and the embeddings read.

Rows are written per batch of files and a file is recorded as indexed (in the manifest)
only after its batch is committed, so an interrupted run leaves a consistent index that
the next run completes. Scalar indexes cover rows added since they were built (LanceDB
scans unindexed rows directly); `maintain` folds new rows in, compacts fragments and prunes
old versions (only while no reader holds `readers.lock`) so thousands of incremental runs, however quick,
neither slow search nor grow the disk without bound.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import sys
import warnings
import weakref
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from codemem.code import lancedb_loading
from codemem.code.files import is_utf8
from codemem.code.rows import CHUNKS, FILES, SCALAR_INDEXES, SYMBOLS, Batch
from codemem.errors import UsageError
from codemem.infra import SharedLock, make_folder, printable

log = logging.getLogger("codemem")

CHUNK_COLUMNS = [
    "id",
    "path",
    "language",
    "start_line",
    "end_line",
    "kind",
    "symbol",
    "symbol_kind",
    "is_test",
]
SYMBOL_COLUMNS = [
    "path", "language", "name", "qualname", "kind", "start_line", "end_line", "signature", "docstring",
    "parent", "is_test",
]  # fmt: skip
FILE_COLUMNS = ["path", "language", "lines", "symbols", "chunks", "syntax_errors", "is_test"]
PATHS_PER_FILTER = 500


def import_lancedb() -> Any:
    """Import lancedb the fast way (`codemem.code.lancedb_loading`), or the ordinary way when
    this lancedb version needs what that skips."""
    if "lancedb" in sys.modules:
        return sys.modules["lancedb"]
    # LanceDB's own log lines (a warning per unreadable index file...) would reach the user's
    # terminal beside codemem's one line about the same failure.
    os.environ.setdefault("LANCEDB_LOG", "error")
    lancedb_loading.install_stand_ins()
    try:
        with lancedb_loading.loading_lancedb():
            import lancedb
    except (ImportError, AttributeError):  # a name a stand-in (pydantic's at least) lacks
        lancedb_loading.drop_stand_ins()
        import lancedb
    return lancedb


def warm_up() -> None:
    """Load lancedb and its index module now rather than on the first write."""
    import_lancedb()
    import lancedb.index  # noqa: F401  (the scalar index refresh after each write)


# New tables are written in Lance's 2.0 file format. The default (2.2 in lancedb 0.40)
# compresses strings, which makes writing about four times the CPU (sympy's three tables:
# 0.28 s instead of 0.08 s; flask's: 34 ms instead of 10 ms of a 0.6 s cold index) to save
# a third of the index's size on disk (sympy: 53 MB of tables instead of 28, beside a 41 MB
# lexicon). Reads are as fast. Changing it means bumping `code/plan.py`'s INDEX_FORMAT.
TABLE_OPTIONS = {"new_table_data_storage_version": "2.0"}


def connect(index_dir: Path, uri: str | None = None) -> Any:
    """A LanceDB connection to `index_dir` (created if missing), reached by `uri` if given."""
    if not is_utf8(str(index_dir)):  # LanceDB takes its paths as UTF-8 only
        raise UsageError(
            f"{printable(str(index_dir))}: the code index cannot be kept under a path that is not "
            "UTF-8: rename the folder that holds the repository (or clone it again) to a UTF-8 name"
        )
    make_folder(index_dir)
    return import_lancedb().connect(uri or str(index_dir), storage_options=TABLE_OPTIONS)


OPEN_FOLDERS = Path("/proc/self/fd")  # Linux names each open descriptor here


def anchored(index_dir: Path) -> tuple[int | None, str | None]:
    """An open descriptor of `index_dir` and the path naming the folder through it, for a
    writer: LanceDB makes every folder it writes to, so a commit in flight while the
    repository is removed (`rm -rf` under `codemem watch`) would make the repository's
    folders again by their path; through the descriptor it fails in the removed folder
    instead. (None, None) where the system names no descriptor by path."""
    if not OPEN_FOLDERS.is_dir():
        return None, None
    folder = os.open(index_dir, os.O_RDONLY | os.O_DIRECTORY)
    return folder, f"{OPEN_FOLDERS}/{folder}"


READERS_LOCK = "readers.lock"
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


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def _btree_config() -> Any:
    import_lancedb()
    from lancedb.index import BTree

    return BTree()


def sql_in_list(values: Iterable[str]) -> str:
    return "(" + ", ".join(_quote(v) for v in values) + ")"


def path_filter(paths: Iterable[str]) -> str:
    return "path IN " + sql_in_list(paths)


class CodeStore:
    """The code index tables in one LanceDB database."""

    def __init__(
        self, index_dir: Path, dimensions: int | None = None, *, writer: bool = False
    ) -> None:
        self.index_dir = index_dir
        self.dimensions = dimensions
        # Held shared from before anything opens: `maintain` prunes old versions only while it
        # holds it alone (LanceDB deletes the files of a pruned version under its readers).
        self.readers = SharedLock(index_dir / READERS_LOCK)
        make_folder(index_dir)
        # A writer reaches its folder through a descriptor (`anchored`), open while it lives.
        folder, uri = anchored(index_dir) if writer else (None, None)
        if folder is not None:
            weakref.finalize(self, os.close, folder)
        self.db = connect(index_dir, uri)
        self._tables: dict[str, Any] = {}

    def close(self) -> None:
        """Done reading: old versions may be pruned again (also when garbage-collected)."""
        self._tables.clear()
        self.readers.close()

    def _schemas(self) -> dict[str, pa.Schema]:
        return {
            FILES: files_schema(),
            CHUNKS: chunks_schema(self.dimensions),
            SYMBOLS: symbols_schema(),
        }

    def _still_there(self) -> None:
        """Refuse a write once the index folder is gone (the repository removed under a
        daemon): LanceDB makes every folder it writes to, the repository's included."""
        if not self.index_dir.is_dir():
            raise FileNotFoundError(errno.ENOENT, "gone (deleted or moved?)", str(self.index_dir))

    def table(self, name: str) -> Any:
        """Open a table, creating it empty if missing."""
        if name not in self._tables:
            try:
                self._tables[name] = self.db.open_table(name)
            except (FileNotFoundError, ValueError):
                self._still_there()
                self._tables[name] = self.db.create_table(name, schema=self._schemas()[name])
        return self._tables[name]

    def table_names(self) -> list[str]:
        result = self.db.list_tables()
        return list(getattr(result, "tables", result))

    def delete_paths(self, paths: list[str]) -> None:
        """Delete every row of these files from every table."""
        # A name that is not UTF-8 (lone surrogates) has no rows (`path_skip_reason`), and no
        # filter can spell it.
        paths = [p for p in paths if is_utf8(p)]
        self._still_there()
        for start in range(0, len(paths), PATHS_PER_FILTER):
            where = path_filter(paths[start : start + PATHS_PER_FILTER])
            for name in (CHUNKS, SYMBOLS, FILES):
                self.table(name).delete(where)

    def write(self, batch: Batch, replace: bool = True) -> None:
        """Replace the rows of the batch's files with the batch's rows."""
        if not len(batch):
            return
        self._still_there()
        if replace:
            self.delete_paths(batch.files["path"])
        schemas = self._schemas()
        for name in (CHUNKS, SYMBOLS, FILES):
            if batch.count(name):
                table = pa.Table.from_pydict(getattr(batch, name), schema=schemas[name])
                if replace or name in self._tables:
                    self.table(name).add(table)
                else:
                    self._create_with(name, table)

    def _create_with(self, name: str, rows: pa.Table) -> None:
        """A new folder's first write: the table is created holding `rows` (one commit, where
        opening, creating it empty and adding take three round trips)."""
        self._still_there()
        try:
            self._tables[name] = self.db.create_table(name, data=rows, schema=rows.schema)
        except ValueError:  # it exists after all (a folder written before)
            self.table(name).add(rows)

    def ensure_scalar(self, name: str | None = None) -> None:
        """Build the scalar indexes that do not exist yet (of table `name`, default all).

        Each only speeds reads up: every filter still answers without it.
        """
        self._still_there()
        for table_name in SCALAR_INDEXES if name is None else (name,):
            table = self.table(table_name)
            indexed = {tuple(ix.columns) for ix in table.list_indices()}
            for column in SCALAR_INDEXES[table_name]:
                if (column,) in indexed:
                    continue
                if table.count_rows() == 0:
                    break
                table.create_index(column, config=_btree_config(), replace=True)

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
                    self._still_there()
                    self.table(name).optimize(cleanup_older_than=keep)
        finally:
            if alone:
                self.readers.shared()

    # -- reads: what is not read from the lexicon -----------------------------------------

    def has_vectors(self) -> bool:
        return "vector" in self.table(CHUNKS).schema.names

    def nearest_chunks(self, vector: Any, limit: int) -> list[dict[str, Any]]:
        """Chunk rows nearest to `vector`, with `_distance`."""
        rows: list[dict[str, Any]] = (
            self.table(CHUNKS)
            .search(vector, vector_column_name="vector")
            .limit(limit)
            .select(CHUNK_COLUMNS)
            .to_list()
        )
        return rows

    def all_rows(self, name: str) -> list[dict[str, Any]]:
        """Every row of the files or symbols table (their own columns, no search text)."""
        columns = {FILES: FILE_COLUMNS, SYMBOLS: SYMBOL_COLUMNS}[name]
        rows: list[dict[str, Any]] = self.table(name).to_arrow().select(columns).to_pylist()
        return rows


# -- integrity: is every table readable and as full as the manifest says? -------------------

_PROBE_COLUMN = {FILES: "is_test", CHUNKS: "is_test", SYMBOLS: "is_test"}
_PROBE_QUERY = "codemem-integrity-probe"  # matches nothing: only opens each index


def probe_tables(index_dir: Path, expected_rows: dict[str, int]) -> str | None:
    """What is wrong with the tables, or None: each opens, holds at least the rows the manifest
    counts, every data file reads (one small column) and each scalar index there is answers
    (a missing one is no damage: the next run builds it).

    Reads without `CodeStore`, which would create a missing table instead of noticing it.
    """
    try:
        db = connect(index_dir)
        result = db.list_tables()
        names = set(getattr(result, "tables", result))
    except Exception as exc:  # any LanceDB or Arrow failure here means damage
        return f"the database cannot be opened: {_first_line(exc)}"
    for name, rows in expected_rows.items():
        if name not in names:
            if rows:
                return f"the {name} table is missing"
            continue
        try:
            table = db.open_table(name)
            count = table.count_rows()
            if count < rows:
                return f"the {name} table holds {count} rows, the manifest {rows}"
            table.search().select([_PROBE_COLUMN[name]]).limit(count + 1).to_arrow()
            indexes = table.list_indices() if count else []
            for column in SCALAR_INDEXES.get(name, ()):
                if any(ix.columns == [column] for ix in indexes):  # missing: only slower
                    table.search().where(f"{column} = {_quote(_PROBE_QUERY)}").limit(1).select(
                        [column]
                    ).to_list()
        except Exception as exc:  # any LanceDB or Arrow failure here means damage
            return f"the {name} table cannot be read: {_first_line(exc)}"
    return None


_RUST_SOURCE = re.compile(r",? /\S+\.rs:\d+:\d+")  # where in LanceDB's Rust the error was raised


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return _RUST_SOURCE.sub("", text[0] if text else type(exc).__name__)[:200]

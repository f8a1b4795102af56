"""The index manifest: what is indexed, at which content id, and with which settings.

The manifest is the source of truth for "is this file indexed?". It is one SQLite file
(`manifest.db`): a row per file keyed by path, and a few settings. It opens in a millisecond
whatever the repository's size, and a search reads only the rows it asks for (the languages of
its candidates, the files a query names by stem or module), never the whole list.

It is saved after each batch of rows is committed, in one transaction, so it never claims more
than the tables hold: a run killed mid-save leaves the journal that the next opener rolls back,
and the next run simply redoes those files. A rebuild's first save writes a new file beside
and renames it over. `full_text` says whether the full-text indexes were built after the last
rows were written: a run stopped before that leaves it False, and the next run builds them.
`name_words` holds the words of each indexed file's name (`file_name_words`), written and
removed with its row, so that a query looks up only its own words. `listing` is a digest of
the files the last complete run saw (`codemem.code.worktree`): when git reports the same
listing, a refresh has nothing to do and reads no row. Reading needs no database but SQLite,
which keeps `status` and no-op runs instant. The rows as a run edits them, and what changed
since the last save, are `codemem.code.manifest_rows`; how a row is laid out in SQLite (a
path's stem, module and package names; a path that is not UTF-8 kept as bytes),
`codemem.code.manifest_packing`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

from codemem.code.files import SKIP_RULES
from codemem.code.manifest_packing import (
    file_row,
    file_stem,
    indexed_in,
    module_name,
    name_word_rows,
    package_name,
    stored,
    unstored,
)
from codemem.code.manifest_rows import INDEXED, Entries, FileEntry
from codemem.infra import make_folder, odd_sqlite_files

MANIFEST_NAME = "manifest.db"
LEGACY_NAME = "manifest.json"  # written by earlier versions: such an index is rebuilt
SCHEMA_VERSION = 3  # 3: the words of file names (`name_words`)
BUSY_SECONDS = 30.0  # how long a reader waits for a save in progress (saves take milliseconds)
PER_QUERY = 500  # paths per `IN (...)` list

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE files (
    path TEXT PRIMARY KEY,
    content_id TEXT,
    status TEXT NOT NULL,
    language TEXT,
    symbols INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    syntax_errors INTEGER NOT NULL,
    stem TEXT NOT NULL,
    module_last TEXT NOT NULL,
    package_last TEXT
) WITHOUT ROWID;
CREATE INDEX files_stem ON files (stem);
CREATE INDEX files_module ON files (module_last);
CREATE INDEX files_package ON files (package_last) WHERE package_last IS NOT NULL;
CREATE TABLE name_words (
    word TEXT NOT NULL,
    path TEXT NOT NULL,
    words INTEGER NOT NULL,
    PRIMARY KEY (word, path)
) WITHOUT ROWID;
"""
_ENTRY_COLUMNS = "path, content_id, status, language, symbols, chunks, syntax_errors"
# What a complete run records of the listing it judged (`codemem.code.indexer`).
LISTING_FIELDS = (
    "listing",
    "settings_key",
    "listing_settings",
    "search_settings",
    "attributes",
    "not_generated",
    "skip_rules",
)
_META = (
    "fingerprint",
    "indexed_at",
    "runs_since_maintain",
    "seconds",
    "full_text",
    *LISTING_FIELDS,
)


def _connect(path: Path) -> sqlite3.Connection:
    """An existing manifest file (never created here), writable so that SQLite can roll back
    the journal of a save that was killed; read-only where the file cannot be written."""
    if not path.is_file():
        raise FileNotFoundError(path)
    uri = path.resolve().as_uri()
    try:
        db = sqlite3.connect(
            uri + "?mode=rw", uri=True, timeout=BUSY_SECONDS, check_same_thread=False
        )
    except sqlite3.OperationalError:
        db = sqlite3.connect(
            uri + "?mode=ro", uri=True, timeout=BUSY_SECONDS, check_same_thread=False
        )
    db.isolation_level = None  # transactions are explicit: BEGIN IMMEDIATE ... COMMIT
    db.execute("PRAGMA trusted_schema = OFF")  # a published index's file is untrusted input
    return db


def _rows(files: dict[str, FileEntry], paths: Iterable[str]) -> Iterator[tuple[Any, ...]]:
    """The `files` rows a save writes, one path after another (`file_row`)."""
    for path in paths:
        yield file_row(path, files[path])


class Manifest:
    """The manifest of one index folder: settings read at once, file rows read when asked.

    `Manifest(fingerprint)` is a new, empty one (a rebuild's); `Manifest.load` opens a saved
    one. `rows` is what the indexer edits and `save` writes back: every row (`files`, loaded
    on first use), or only those of the paths a refresh touches (`read_rows`); the queries
    (`entry`, `languages`, `with_stem`, ...) read only what they need.
    """

    def __init__(self, fingerprint: str = "") -> None:
        self.fingerprint = fingerprint
        self.indexed_at = 0.0
        self.runs_since_maintain = 0
        self.seconds = 0.0
        self.full_text = False
        self.listing = ""  # the digest of the work tree the last complete run saw
        # That run's `codemem.config.layers_key` ("" when unknown) and the listing settings
        # it validated to: a run whose layers have the same key reuses them unvalidated.
        self.settings_key = ""
        self.listing_settings = ""
        # And what a search reads of those settings (`codemem.config.snapshot`), so that a
        # search with the same key needs no validation either.
        self.search_settings = ""
        # The key of the git attributes its files were judged with (`WorkTree.attributes`).
        self.attributes = ""
        # The listed paths it says are not generated (`linguist-generated=false`).
        self.not_generated: frozenset[str] = frozenset()
        # The skip rules (`files.SKIP_RULES`) the files were last checked against.
        self.skip_rules = SKIP_RULES
        self._path: Path | None = None  # the file it was read from or last saved to
        self._db: sqlite3.Connection | None = None
        self._files: Entries | None = Entries()
        self._partial = False  # `_files` holds only the rows `read_rows` read
        self._totals: tuple[int, int, int] | None = None  # as saved, while no row is read

    @classmethod
    def load(cls, index_dir: Path) -> Manifest | None:
        """The saved manifest, or None when missing, unreadable or of another format
        (then: rebuild). Only the settings are read here."""
        path = index_dir / MANIFEST_NAME
        db: sqlite3.Connection | None = None
        try:
            db = _connect(path)
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("schema") != SCHEMA_VERSION:
                db.close()
                return None
            manifest = cls(str(meta["fingerprint"]))
            manifest.indexed_at = float(meta.get("indexed_at") or 0.0)
            manifest.runs_since_maintain = int(meta.get("runs_since_maintain") or 0)
            manifest.seconds = float(meta.get("seconds") or 0.0)
            manifest.full_text = bool(meta.get("full_text"))
            manifest.listing = str(meta.get("listing") or "")
            manifest.settings_key = str(meta.get("settings_key") or "")
            manifest.listing_settings = str(meta.get("listing_settings") or "")
            manifest.search_settings = str(meta.get("search_settings") or "")
            manifest.attributes = str(meta.get("attributes") or "")
            if meta.get("not_generated"):
                manifest.not_generated = frozenset(map(str, json.loads(meta["not_generated"])))
            manifest.skip_rules = int(meta.get("skip_rules") or 1)  # 1: before the stamp
            if isinstance(meta.get("totals"), str):
                files, symbols, chunks = map(int, meta["totals"].split(","))
                manifest._totals = files, symbols, chunks
        except (OSError, sqlite3.Error, KeyError, TypeError, ValueError):
            if db is not None:
                db.close()  # unreadable settings: the caller rebuilds, nobody reads on
            return None
        manifest._path, manifest._db, manifest._files = path, db, None
        return manifest

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Manifest):
            return NotImplemented
        return self._state() == other._state()

    __hash__ = None  # type: ignore[assignment]

    def _state(self) -> tuple[Any, ...]:
        settings = (self.fingerprint, self.indexed_at, self.runs_since_maintain, self.seconds)
        listing = (
            self.listing,
            self.settings_key,
            self.listing_settings,
            self.search_settings,
            self.attributes,
            self.not_generated,
            self.skip_rules,
        )
        return (*settings, self.full_text, *listing, dict(self.files))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- every row, for the indexer and `status` ---------------------------------------------

    @property
    def files(self) -> dict[str, FileEntry]:
        """path -> FileEntry of every file, in path order as saved (read on first use; after
        `read_rows`, the other rows are read now)."""
        if self._files is None or self._partial:
            self._read_all()
        assert self._files is not None
        return self._files

    @property
    def rows(self) -> dict[str, FileEntry]:
        """The rows a run edits: those `read_rows` read, or else every row (`files`)."""
        return self._files if self._files is not None else self.files

    def read_rows(self, paths: Iterable[str]) -> dict[str, FileEntry]:
        """The rows of those of `paths` the manifest has, read alone: a run that changes only
        them needs no other (`rows` is then these; `files` still reads every row)."""
        wanted = list(dict.fromkeys(paths))
        if self._files is not None or self._totals is None:  # read, or no totals to start from
            return {p: e for p in wanted if (e := self.files.get(p)) is not None}
        found = self._select(wanted, _ENTRY_COLUMNS.partition(", ")[2])
        entries = Entries({p: FileEntry(*found[p]) for p in sorted(found)})
        entries.base = self._totals  # the saved totals, that the edits to these adjust
        self._files, self._partial = entries, True
        return dict(entries)

    def paths_with_status(self, status: str) -> list[str]:
        """Every file recorded with `status`, in path order (one read: no row is kept)."""
        if self._files is not None and not self._partial:
            return [p for p, e in self._files.items() if e.status == status]
        rows = self._query("SELECT path FROM files WHERE status = ?", (status,))
        return sorted(unstored(r[0]) for r in rows)

    def _read_all(self) -> None:
        """Every row, in path order; rows `read_rows` read (and maybe edited) are kept."""
        # The rows and their totals (saved with them) in one read: one consistent save.
        self._query("BEGIN")
        try:
            rows = self._query(f"SELECT {_ENTRY_COLUMNS} FROM files ORDER BY path")
            totals = self._query("SELECT value FROM meta WHERE key = 'totals'")
        finally:
            self._query("COMMIT")
        if any(isinstance(r[0], bytes) for r in rows):  # SQLite sorts them after all text
            rows.sort(key=lambda r: unstored(r[0]))
        read = {unstored(r[0]): FileEntry(*r[1:]) for r in rows}
        partial = self._files if self._partial else None
        self._partial = False
        if partial is None:
            self._files = Entries(read)
            with suppress(IndexError, ValueError):  # none saved, or unreadable: counted later
                files, symbols, chunks = map(int, str(totals[0][0]).split(","))
                self._files.base = files, symbols, chunks
            return
        # What the run edited wins over what is saved; a row it deleted stays deleted.
        for path in partial.changed - partial.keys():
            read.pop(path, None)
        read.update(partial)
        self._files = Entries({path: read[path] for path in sorted(read)})
        self._files.adopt_changes(partial)

    def save(self, index_dir: Path) -> None:
        """Write what changed since the last save in one transaction (durable at commit).

        The first save into a folder the manifest was not read from writes a complete new
        file beside and renames it over whatever was there.
        """
        path = index_dir / MANIFEST_NAME
        if self._path != path or self._db is None:
            self._write_new(path, self.files)
            return
        files = self._files if self._files is not None else Entries()  # none read: none changed
        changed = sorted(files.changed)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            kept = [p for p in changed if p in files]
            gone = [(stored(p),) for p in changed if p not in files]
            db.executemany("DELETE FROM files WHERE path = ?", gone)
            # A file's words follow from its path: its old rows are found by their key.
            db.executemany(
                "DELETE FROM name_words WHERE word = ? AND path = ?",
                (row[:2] for row in name_word_rows(changed)),
            )
            db.executemany(
                "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?)", _rows(files, kept)
            )
            db.executemany(
                "INSERT INTO name_words VALUES (?,?,?)", name_word_rows(indexed_in(files, kept))
            )
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", self._meta())
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        files.saved()

    def _meta(self) -> list[tuple[str, Any]]:
        self.indexed_at = self.indexed_at or time.time()
        values = (
            self.fingerprint,
            self.indexed_at,
            self.runs_since_maintain,
            self.seconds,
            int(self.full_text),
            self.listing,
            self.settings_key,
            self.listing_settings,
            self.search_settings,
            self.attributes,
            json.dumps(sorted(self.not_generated)) if self.not_generated else "",
            self.skip_rules,
        )
        meta = [("schema", SCHEMA_VERSION), *zip(_META, values, strict=True)]
        if self._files is not None:  # else no row changed: the saved totals still hold
            self._totals = self._files.totals()
            meta.append(("totals", ",".join(map(str, self._totals))))
        return meta

    def _write_new(self, path: Path, files: dict[str, FileEntry]) -> None:
        make_folder(path.parent)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            db = sqlite3.connect(tmp, isolation_level=None)
            try:
                # A new file nobody opens before it is synced and renamed below: SQLite's own
                # journal and syncs (four per statement of the schema) only slow it down.
                db.execute("PRAGMA journal_mode = OFF")
                db.execute("PRAGMA synchronous = OFF")
                db.executescript(_SCHEMA)
                db.execute("BEGIN")
                db.executemany(
                    "INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?,?)",
                    _rows(files, sorted(files)),
                )
                db.executemany(
                    "INSERT INTO name_words VALUES (?,?,?)",
                    name_word_rows(indexed_in(files, files)),
                )
                db.executemany("INSERT INTO meta VALUES (?, ?)", self._meta())
                db.execute("COMMIT")
            finally:
                db.close()
            with open(tmp, "rb") as handle:  # the whole file, before the rename (synced below)
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _sync_dir(path.parent)
        self.close()
        self._path, self._db = path, _connect(path)
        if isinstance(files, Entries):
            files.saved()

    # -- queries: only the rows asked for ----------------------------------------------------

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        if self._db is None:
            raise sqlite3.OperationalError("the manifest is not saved")
        return self._db.execute(sql, tuple(params)).fetchall()

    def entry(self, path: str) -> FileEntry | None:
        if self._files is not None and self._knows(path):
            return self._files.get(path)
        rows = self._query(f"SELECT {_ENTRY_COLUMNS} FROM files WHERE path = ?", (stored(path),))
        return FileEntry(*rows[0][1:]) if rows else None

    def languages(self, paths: Iterable[str]) -> dict[str, str | None]:
        """path -> language of those of `paths` the manifest lists."""
        wanted = list(dict.fromkeys(paths))
        out: dict[str, str | None] = {}
        if self._files is not None:  # what it holds; with `read_rows`, the rest is read
            known = self._files
            out = {p: e.language for p in wanted if self._knows(p) and (e := known.get(p))}
            wanted = [p for p in wanted if not self._knows(p)]
        out.update((p, row[0]) for p, row in self._select(wanted, "language").items())
        return out

    def _knows(self, path: str) -> bool:
        """Whether `_files` answers for `path`: it holds every row, or read or edited this one."""
        assert self._files is not None
        return not self._partial or path in self._files or path in self._files.changed

    def _select(self, paths: list[str], columns: str) -> dict[str, tuple[Any, ...]]:
        """path -> the saved `columns` of those of `paths` that are saved."""
        out: dict[str, tuple[Any, ...]] = {}
        for start in range(0, len(paths), PER_QUERY):
            part = [stored(p) for p in paths[start : start + PER_QUERY]]
            marks = ",".join("?" * len(part))
            for path, *values in self._query(
                f"SELECT path, {columns} FROM files WHERE path IN ({marks})", part
            ):
                out[unstored(path)] = tuple(values)
        return out

    def indexed_paths(self) -> list[str]:
        """Every indexed file, in path order."""
        return self.paths_with_status(INDEXED)

    def status_counts(self) -> dict[str, int]:
        """status -> how many files have it, in the path order of each status's first file
        (counted by SQLite when no row is read)."""
        if self._files is not None:
            return dict(Counter(e.status for e in self.files.values()))
        rows = self._query("SELECT status, count(*) FROM files GROUP BY 1 ORDER BY min(path)")
        return {str(status): count for status, count in rows}

    def language_totals(self) -> dict[str | None, tuple[int, int, int, int]]:
        """language -> (files, symbols, chunks, files with syntax errors) of the indexed files,
        in the path order of each language's first file (summed by SQLite when no row is read)."""
        if self._files is not None:
            out: dict[str | None, tuple[int, int, int, int]] = {}
            for e in self.files.values():
                if e.status == INDEXED:
                    f, s, c, x = out.get(e.language, (0, 0, 0, 0))
                    out[e.language] = (
                        f + 1,
                        s + e.symbols,
                        c + e.chunks,
                        x + (e.syntax_errors > 0),
                    )
            return out
        rows = self._query(
            "SELECT language, count(*), total(symbols), total(chunks), total(syntax_errors > 0)"
            " FROM files WHERE status = ? GROUP BY 1 ORDER BY min(path)",
            (INDEXED,),
        )
        return {lang: (int(f), int(s), int(c), int(x)) for lang, f, s, c, x in rows}

    def totals(self) -> tuple[int, int, int]:
        """(files, symbols, chunks) indexed (saved with each save: no row is read)."""
        if self._files is not None:
            return self._files.totals()
        if self._totals is None:
            [(files, symbols, chunks)] = self._query(
                "SELECT count(*), total(symbols), total(chunks) FROM files WHERE status = ?",
                (INDEXED,),
            )
            self._totals = int(files), int(symbols), int(chunks)
        return self._totals

    def with_stem(self, stem: str) -> list[str]:
        """Indexed files whose `file_stem` is `stem` (lower case), in path order."""
        rows = self._query(
            "SELECT path FROM files WHERE stem = ? AND status = ?", (stored(stem), INDEXED)
        )
        return sorted(unstored(r[0]) for r in rows)

    def with_module_part(self, last: str) -> list[tuple[str, str]]:
        """(dotted name, path) of indexed files whose module or package name ends in `last`,
        in path order (a package's `__init__` file after its own module name)."""
        rows = self._query(
            "SELECT path, module_last, package_last FROM files"
            " WHERE (module_last = ? OR package_last = ?) AND status = ?",
            (stored(last), stored(last), INDEXED),
        )
        out: list[tuple[str, str]] = []
        for path, module_last, package_last in sorted((unstored(r[0]), *r[1:]) for r in rows):
            if unstored(module_last) == last:
                out.append((module_name(path), path))
            if package_last is not None and unstored(package_last) == last:
                out.append((package_name(path) or "", path))
        return out

    def with_name(self, name: str) -> list[str]:
        """Indexed files called `name` (the last component of their path), in path order."""
        return [p for p in self.with_stem(file_stem(name)) if p.rsplit("/", 1)[-1] == name]

    def with_name_words(self, words: Iterable[str]) -> dict[str, list[tuple[str, int]]]:
        """word → (file, how many words its name has) of the indexed files whose name holds
        one of `words` (`file_name_words`, stored as each file is saved), in path order."""
        wanted = [stored(w) for w in dict.fromkeys(words)]
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(wanted), PER_QUERY):
            part = wanted[start : start + PER_QUERY]
            marks = ",".join("?" * len(part))
            rows += self._query(
                f"SELECT word, path, words FROM name_words WHERE word IN ({marks})", part
            )
        out: dict[str, list[tuple[str, int]]] = {}
        for word, path, count in sorted((unstored(w), unstored(p), c) for w, p, c in rows):
            out.setdefault(word, []).append((path, count))
        return out


def damage(index_dir: Path) -> str | None:
    """What is wrong with the manifest file (one short phrase), or None: its pages check out
    and its settings read (another format is not damage: the indexer rebuilds it)."""
    for odd in odd_sqlite_files(index_dir / MANIFEST_NAME):  # no save could write its journal
        return f"{odd.name} is not a regular file"
    try:
        db = _connect(index_dir / MANIFEST_NAME)
        try:
            problems = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                return f"{MANIFEST_NAME} is damaged: {problems[0]}"
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("schema") == SCHEMA_VERSION:
                db.execute(f"SELECT {_ENTRY_COLUMNS} FROM files LIMIT 1").fetchall()
                db.execute("SELECT word, path, words FROM name_words LIMIT 1").fetchall()
                if not isinstance(meta.get("fingerprint"), str):
                    return f"{MANIFEST_NAME} has settings of the wrong shape"
        finally:
            db.close()
    except (OSError, sqlite3.Error) as exc:
        return f"{MANIFEST_NAME} is unreadable: {exc}"
    return None


def _sync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def last_indexed(index_dir: Path) -> dict[str, Any] | None:
    """When the index was last brought up to date, by whichever command (`index`, `search`,
    `init`, the daemon), how long that run took and the files it holds: `{at, seconds,
    files}` (`watch --status`); None without a readable index (the next run rebuilds it)."""
    manifest = Manifest.load(index_dir)
    if manifest is None:
        return None
    try:
        if not manifest.indexed_at:
            return None
        files = manifest._totals[0] if manifest._totals else None
        return {"at": manifest.indexed_at, "seconds": manifest.seconds, "files": files}
    finally:
        manifest.close()

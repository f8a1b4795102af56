"""Per-file tags (definitions, referenced names, imports) kept beside the index for the repo map.

The reference graph and the repo map need only names, not chunks or vectors, so the indexer
also writes this store (`tags.bin`, without LanceDB or pyarrow): a column file
(`codemem.code.columns`) of paths and each file's pickled definitions and references, opened
by memory map. A warm repo map decodes the definitions of the few files it shows, the graph
build reads every file once without keeping them, an index run re-encodes only the files that
changed. Its `version` changes whenever any file's tags do; the graph cache is keyed on it.
"""

from __future__ import annotations

import gc
import logging
import os
import pickle
import re
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemem.code.columns import (
    Column,
    Columns,
    FileRange,
    Strings,
    string_columns,
    write_columns,
)
from codemem.code.model import ParsedFile
from codemem.errors import IndexingError

log = logging.getLogger("codemem")

TAGS_FILE = "tags.bin"
_MAGIC = "codemem-tags"
_FORMAT = 4
SPILL_BYTES = 32 << 20  # records a streaming writer holds in memory before the first save
SPILL_MAX_BYTES = 64 << 20  # and at most, however large the store (a kernel's is ~400 MB)
RELEASE_BYTES = 64 << 20  # of the mapped file read by a scan before its pages are let go

# (name, qualname, kind, start_line, end_line, signature)
Definition = tuple[str, str, str, int, int, str]


_BRACKET_SPACE = re.compile(r"([(\[{])\s+|,?\s+([)\]}])")


def one_line(signature: str) -> str:
    """A multi-line header on one line: `def f(\n    a,\n)` becomes `def f(a)`."""
    return _BRACKET_SPACE.sub(r"\1\2", " ".join(signature.split()))


@dataclass(slots=True)
class FileTags:
    """What the repo map knows about one file."""

    path: str
    language: str
    defs: list[Definition] = field(default_factory=list)
    refs: dict[str, int] = field(default_factory=dict)  # name -> number of uses
    imports: list[str] = field(default_factory=list)

    @classmethod
    def from_parsed(cls, parsed: ParsedFile) -> FileTags:
        """The tags of one parsed file (definitions in source order, references counted)."""
        defs = [
            (s.name, s.qualname, s.kind, s.start_line, s.end_line, one_line(s.signature))
            for s in parsed.symbols
        ]
        defs.sort(key=lambda d: (d[3], d[4]))
        refs = dict(Counter(r.name for r in parsed.references))
        imports = list(dict.fromkeys(i.target for i in parsed.imports))
        return cls(parsed.path, parsed.language, defs, refs, imports)

    def _row(self) -> tuple[str, list[Definition], dict[str, int], list[str]]:
        return (self.language, self.defs, self.refs, self.imports)


class TagStore:
    """All files' tags, persisted under the index folder as a column file (`tags.bin`).

    The file is opened, not loaded: a record is read from the mapping when a file's
    definitions or references are asked for. `exists` is False when there was no readable
    store on disk: the caller (the indexer) should then feed it every file, not only the
    changed ones.
    """

    def __init__(self, index_dir: Path | str, version: int = 0, *, exists: bool = False) -> None:
        self.index_dir = Path(index_dir)
        self.version = version
        self.exists = exists
        self._opened: Columns | None = None  # the file as last read or written
        # path -> its row in the opened file, or its encoded record: (pickled (language,
        # defs, imports), pickled refs). In the order files were added.
        self._records: dict[str, int | tuple[bytes, bytes]] = {}
        self._meta: dict[str, tuple[str, list[Definition], list[str]]] = {}  # decoded
        self._files: dict[str, FileTags] | None = None  # every file decoded, until a change
        self._held = 0  # bytes of the records held in memory (about)

    @property
    def path(self) -> Path:
        return self.index_dir / TAGS_FILE

    @classmethod
    def load(cls, index_dir: Path | str) -> TagStore:
        """Open the store; a missing or unreadable one gives an empty store (`exists` False)."""
        store = cls(index_dir)
        try:
            opened = _open(store.path)
        except FileNotFoundError:
            return store
        except OSError as exc:
            log.warning("cannot read %s: %s; the repo map starts from scratch", store.path, exc)
            return store
        except ValueError as exc:
            log.info("unreadable %s (%s); the repo map starts from scratch", store.path, exc)
            return store
        store._adopt(opened)
        return store

    @staticmethod
    def stored_version(index_dir: Path | str) -> int | None:
        """The version of the stored file (reads only its header), or None when unreadable."""
        try:
            return int(_open(Path(index_dir) / TAGS_FILE).meta["version"])
        except (OSError, ValueError):
            return None

    @staticmethod
    def damage(index_dir: Path | str) -> str | None:
        """What is wrong with the stored file (cut short, torn, a checksum off, unknown format),
        or None; a missing file, or one an older codemem wrote, is not damage here."""
        path = Path(index_dir) / TAGS_FILE
        try:
            return _open(path).verify()
        except FileNotFoundError:
            return None
        except _OlderFormat:
            return None  # another codemem's store: the indexer rebuilds it (its fingerprint)
        except (OSError, ValueError) as exc:
            return f"{TAGS_FILE} is unreadable: {exc}"

    def _adopt(self, opened: Columns) -> None:
        self._opened, self.version, self.exists = opened, int(opened.meta["version"]), True
        paths = Strings(opened.bytes("paths"), opened.view("paths_offsets")).tolist()
        self._records = dict(zip(paths, range(len(paths)), strict=True))
        self._meta, self._files, self._held = {}, None, 0

    @property
    def paths(self) -> list[str]:
        """Every stored path, in the order files were added."""
        return list(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, path: object) -> bool:
        return path in self._records

    def _record(self, path: str) -> tuple[Any, Any] | None:
        """The encoded (meta, refs) of `path`: bytes, or views of the opened file."""
        record = self._records.get(path)
        if record is None or isinstance(record, tuple):
            return record
        assert self._opened is not None
        return _row(self._opened, "meta", record), _row(self._opened, "refs", record)

    def definitions(self, path: str) -> list[Definition]:
        """One file's definitions in source order (decodes only that file's definitions)."""
        meta = self._meta.get(path)
        if meta is None:
            record = self._record(path)
            if record is None:
                return []
            meta = self._meta[path] = _decode(record[0])
        return meta[1]

    def references(self, path: str) -> dict[str, int]:
        """One file's referenced names and their use counts (decoded, not kept)."""
        record = self._record(path)
        return _decode(record[1]) if record is not None else {}

    def scan(
        self, paths: Iterable[str], *, definitions: bool = True, references: bool = True
    ) -> Iterator[tuple[list[Definition], dict[str, int]]]:
        """(definitions, references) of each of `paths` in turn, decoded one file at a time
        and not kept (what was not asked for comes empty): how the graph reads a whole
        repository in bounded memory."""
        read = 0
        for path in paths:
            record = self._record(path)
            if record is None:
                yield [], {}
                continue
            defs: list[Definition] = []
            if definitions:
                meta = self._meta.get(path)
                defs = (meta or _decode(record[0]))[1]
                read += len(record[0])
            yield defs, _decode(record[1]) if references else {}
            read += len(record[1]) if references else 0
            if read > RELEASE_BYTES and self._opened is not None:
                self._opened.release()  # a pass over a large store keeps little resident
                read = 0
        if read and self._opened is not None:
            self._opened.release()

    def get(self, path: str) -> FileTags | None:
        """One file's tags, or None."""
        record = self._record(path)
        if record is None:
            return None
        self.definitions(path)
        language, defs, imports = self._meta[path]
        return FileTags(path, language, defs, _decode(record[1]), imports)

    @property
    def files(self) -> dict[str, FileTags]:
        """Every file's tags by path (decodes everything: for small stores and tests)."""
        if self._files is None:
            enabled = gc.isenabled()
            gc.disable()  # tens of thousands of small tuples: the collector would only slow it
            try:
                self._files = {p: tags for p in self._records if (tags := self.get(p)) is not None}
            finally:
                if enabled:
                    gc.enable()
        return self._files

    def update(
        self, changed: Iterable[FileTags], removed: Iterable[str], *, cache: bool = True
    ) -> bool:
        """Replace the tags of `changed` files and drop `removed` paths.

        Returns whether anything differs; only then is `version` bumped, so an edit that
        leaves every name in place keeps the cached graph valid. With `cache=False` only the
        compact encoded form is kept (the indexer streams a whole repository through here).
        """
        dirty = False
        for path in removed:
            if self._records.pop(path, None) is not None:
                self._meta.pop(path, None)
                dirty = True
        for tags in changed:
            old = self.get(tags.path)
            if old is not None and old._row() == tags._row():
                continue
            record = (
                pickle.dumps((tags.language, tags.defs, tags.imports), _PROTOCOL),
                pickle.dumps(tags.refs, _PROTOCOL),
            )
            self._records[tags.path] = record
            self._held += len(record[0]) + len(record[1])
            if cache:
                self._meta[tags.path] = (tags.language, tags.defs, tags.imports)
            else:
                self._meta.pop(tags.path, None)
            dirty = True
        if dirty:
            self._files = None
            # Monotonic and never reused, even when the store file is deleted and rebuilt, so
            # a graph cached for an older store can never be taken for the current one.
            self.version = max(self.version + 1, time.time_ns() // 1000)
        return dirty

    def spill(self) -> None:
        """Save once the records held in memory weigh as much as those already on disk, or
        `SPILL_MAX_BYTES`: a store streamed in stays small in memory, and each byte is copied
        a few times at most (the stored part in the kernel, never through this process)."""
        opened = self._opened
        stored = len(opened.bytes("meta")) + len(opened.bytes("refs")) if opened else 0
        if self._held >= min(max(stored, SPILL_BYTES), SPILL_MAX_BYTES):
            self.save()

    def save(self) -> None:
        """Write the store atomically (temp file in the same folder, then rename), then read
        it from there: the records written are no longer held in memory. A store unchanged
        since it was read or written is not written again."""
        if self._opened is not None and self._opened.meta.get("version") == self.version:
            try:
                stat = self.path.stat()
            except OSError:
                stat = None
            if stat is not None and (stat.st_dev, stat.st_ino) == self._opened.identity:
                return
        columns: dict[str, Column] = {}
        columns["paths"], columns["paths_offsets"] = string_columns(self._records)
        fd = _reopen(self._opened)
        try:
            for which, part in enumerate(("meta", "refs")):
                pieces, offsets = _pieces(self._opened, fd, self._records.values(), part, which)
                columns[part], columns[f"{part}_offsets"] = ("B", pieces), ("q", offsets)
            meta = {"kind": _MAGIC, "format": _FORMAT, "version": self.version}
            write_columns(self.path, meta, columns)
        finally:
            if fd is not None:
                os.close(fd)
        decoded = self._meta
        self._adopt(_open(self.path))
        self._meta = decoded  # the definitions decoded so far are still right


_PROTOCOL = pickle.HIGHEST_PROTOCOL


class _OlderFormat(ValueError):
    """A tag store written by an older codemem (a pickle, or another format number)."""


def _open(path: Path) -> Columns:
    """The opened tag file; ValueError when it is not a whole one of this format."""
    try:
        opened = Columns.open(path)
    except ValueError:
        with path.open("rb") as handle:
            if handle.read(2) == b"\x80\x05":  # a pickle: the store before column files
                raise _OlderFormat("written by an older codemem") from None
        raise
    kind, fmt = opened.meta.get("kind"), opened.meta.get("format")
    if kind != _MAGIC:
        raise ValueError(f"unknown format {kind!r}")
    if fmt != _FORMAT:
        raise _OlderFormat(f"format {fmt!r}, not {_FORMAT}")
    for part in ("paths", "paths_offsets", "meta", "meta_offsets", "refs", "refs_offsets"):
        if part not in opened:
            raise ValueError(f"no {part} column")
    rows = len(opened.view("paths_offsets")) - 1
    if rows < 0 or any(len(opened.view(f"{p}_offsets")) != rows + 1 for p in ("meta", "refs")):
        raise ValueError("columns of different lengths")
    for part in ("paths", "meta", "refs"):
        offsets = opened.view(f"{part}_offsets")
        if offsets[0] != 0 or offsets[rows] != len(opened.bytes(part)):
            raise ValueError(f"{part} offsets do not match their data")
    return opened


def encoded_records(path: Path) -> Iterator[bytes]:
    """Every pickled record of the tag file at `path`, undecoded: what a check of untrusted
    input (a shared index) inspects before anything unpickles them. Nothing when the file is
    not a tag file of this format."""
    try:
        opened = _open(path)
    except (OSError, ValueError):
        return
    rows = len(opened.view("paths_offsets")) - 1
    for part in ("meta", "refs"):
        for row in range(rows):
            yield _row(opened, part, row).tobytes()


def _row(opened: Columns, part: str, row: int) -> memoryview:
    offsets = opened.view(f"{part}_offsets")
    return opened.bytes(part)[offsets[row] : offsets[row + 1]]


def _reopen(opened: Columns | None) -> int | None:
    """A descriptor of the file `opened` maps (to copy its records in the kernel), or None."""
    if opened is None or opened.identity is None:
        return None
    try:
        fd = os.open(opened.path, os.O_RDONLY)
    except OSError:
        return None
    stat = os.fstat(fd)
    if (stat.st_dev, stat.st_ino) != opened.identity:  # replaced since: read the mapping
        os.close(fd)
        return None
    return fd


def _pieces(
    opened: Columns | None,
    fd: int | None,
    records: Iterable[int | tuple[bytes, bytes]],
    part: str,
    which: int,
) -> tuple[list[Any], memoryview]:
    """The pieces of one part of every record, in order, and where each record ends.

    Runs of consecutive rows of the opened file become one piece: a range of the file copied
    in the kernel when `fd` is given, else a slice of the mapping.
    """
    pieces: list[Any] = []
    ends = array("q", [0])
    run: list[int] = []  # [first, last + 1] rows of the opened file, not yet added
    stored = opened.view(f"{part}_offsets") if opened is not None else None

    def flush() -> None:
        if run and opened is not None and stored is not None:
            start, end = stored[run[0]], stored[run[1]]
            if fd is not None:
                pieces.append(FileRange(fd, opened.start(part) + start, end - start))
            else:
                pieces.append(opened.bytes(part)[start:end])
        run.clear()

    for record in records:
        if isinstance(record, tuple):
            flush()
            pieces.append(record[which])
            ends.append(ends[-1] + len(record[which]))
            continue
        assert stored is not None
        if run and run[1] == record:
            run[1] = record + 1
        else:
            flush()
            run.extend((record, record + 1))
        ends.append(ends[-1] + stored[record + 1] - stored[record])
    flush()
    return pieces, memoryview(ends).cast("B")


def _decode(blob: bytes | memoryview) -> Any:  # what was pickled; the caller knows its shape
    try:
        return pickle.loads(blob)
    except (pickle.UnpicklingError, ValueError, EOFError, TypeError) as exc:
        raise IndexingError(
            f"the repo-map tags are corrupt ({exc}): run `codemem index --full`"
        ) from None

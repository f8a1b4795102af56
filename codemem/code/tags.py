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
from operator import attrgetter
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
# A path's record: its row in the base file, or (meta, refs) bytes held in memory or the top file.
Record = int | tuple[bytes | memoryview, bytes | memoryview]
_MAGIC = "codemem-tags"
_FORMAT = 5  # the top file; a base file (and a whole store, as earlier versions wrote it) is 4
_BASE_FORMAT = 4
_BASE_PREFIX = "tags.base."
COMPACT_SHARE = 8  # a new base file once 1/8 of the base's bytes, or rows, are elsewhere/stale
SPILL_BYTES = 32 << 20  # records a streaming writer holds in memory before the first save
SPILL_MAX_BYTES = 64 << 20  # and at most, however large the store (a kernel's is ~400 MB)
RELEASE_BYTES = 64 << 20  # of the mapped file read by a scan before its pages are let go

# (name, qualname, kind, start_line, end_line, signature)
Definition = tuple[str, str, str, int, int, str]


_NAME = attrgetter("name")
_BRACKET_SPACE = re.compile(r"([(\[{])\s+|,?\s+([)\]}])")


def one_line(signature: str) -> str:
    """A multi-line header on one line: `def f(\n    a,\n)` becomes `def f(a)`."""
    text = " ".join(signature.split())
    # Spaces are single now: the pattern can only match one of these pairs, which most headers
    # lack (the indexer calls this for every definition).
    if "( " in text or "[ " in text or "{ " in text or " )" in text or " ]" in text or " }" in text:
        return _BRACKET_SPACE.sub(r"\1\2", text)
    return text


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
        refs = dict(Counter(map(_NAME, parsed.references)))
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
        self._stored: _Stored | None = None  # the files as last read or written
        # path -> its row in the base file, or its encoded record: (pickled (language, defs,
        # imports), pickled refs), in memory or views of the top file. In the order files were
        # added.
        self._records: dict[str, Record] = {}
        self._meta: dict[str, tuple[str, list[Definition], list[str]]] = {}  # decoded
        self._files: dict[str, FileTags] | None = None  # every file decoded, until a change
        self._held = 0  # bytes of the records held in memory (about)
        self._stored_paths: list[str] = []  # the paths of `_stored`, in order

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
            return int(_open(Path(index_dir) / TAGS_FILE).top.meta["version"])
        except (OSError, ValueError):
            return None

    @staticmethod
    def damage(index_dir: Path | str) -> str | None:
        """What is wrong with the stored file (cut short, torn, a checksum off, unknown format),
        or None; a missing file, or one an older codemem wrote, is not damage here."""
        path = Path(index_dir) / TAGS_FILE
        try:
            stored = _open(path)
            return stored.top.verify() or (stored.base.verify() if stored.rows else None)
        except FileNotFoundError:
            return None
        except _OlderFormat:
            return None  # another codemem's store: the indexer rebuilds it (its fingerprint)
        except (OSError, ValueError) as exc:
            return f"{TAGS_FILE} is unreadable: {exc}"

    def _adopt(self, stored: _Stored, paths: list[str] | None = None) -> None:
        """Read from `stored` from now on; `paths`, its paths when the caller knows them."""
        top = stored.top
        self._stored, self.version, self.exists = stored, int(top.meta["version"]), True
        if paths is None:
            paths = Strings(top.bytes("paths"), top.view("paths_offsets")).tolist()
        self._stored_paths = paths
        if stored.rows is None:
            self._records = dict(zip(paths, range(len(paths)), strict=True))
        else:
            self._records = dict(zip(paths, stored.rows.tolist(), strict=True))
            for path, row in list(self._records.items()):
                if isinstance(row, int) and row < 0:  # a record kept in the top file: views of it
                    self._records[path] = (_row(top, "meta", -row - 1), _row(top, "refs", -row - 1))
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
        assert self._stored is not None
        base = self._stored.base
        return _row(base, "meta", record), _row(base, "refs", record)

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
            if read > RELEASE_BYTES and self._stored is not None:
                self._stored.base.release()  # a pass over a large store keeps little resident
                read = 0
        if read and self._stored is not None:
            self._stored.base.release()

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
        if self._held >= min(max(self._stored_bytes(), SPILL_BYTES), SPILL_MAX_BYTES):
            self.save()

    def _stored_bytes(self) -> int:
        if self._stored is None:
            return 0
        base = self._stored.base
        return len(base.bytes("meta")) + len(base.bytes("refs"))

    def save(self) -> None:
        """Write the store atomically (temp files in the same folder, then rename), then read
        it from there: the records written are no longer held in memory. A store unchanged
        since it was read or written is not written again.

        Only the top file is rewritten while the records not in the base file stay small
        (an edit writes a few megabytes, not the whole store); past that, or once many base
        records are stale, the whole store goes into a new base file.
        """
        stored = self._stored
        if stored is not None and stored.top.meta.get("version") == self.version:
            try:
                stat = self.path.stat()
            except OSError:
                stat = None
            if stat is not None and (stat.st_dev, stat.st_ino) == stored.top.identity:
                return
        paths = list(self._records)
        if stored is not None and paths == self._stored_paths:  # as written: no re-encoding
            names: tuple[Column, Column] = (
                ("B", stored.top.bytes("paths")),
                ("q", stored.top.bytes("paths_offsets")),
            )
        else:
            names = string_columns(paths)
        own = [r for r in self._records.values() if isinstance(r, tuple)]
        own_bytes = sum(len(meta) + len(refs) for meta, refs in own)
        base_rows = len(stored.base.view("paths_offsets")) - 1 if stored is not None else 0
        if (
            stored is None
            or stored.rows is None  # the whole store is in the top file: it is replaced
            or own_bytes > self._stored_bytes() // COMPACT_SHARE
            or (base_rows - (len(self._records) - len(own))) * COMPACT_SHARE > base_rows
        ):
            base = self._write_base(names)
            own = []  # every record is a row of the new base file
        else:
            base = stored.base
        columns: dict[str, Column] = {}
        columns["paths"], columns["paths_offsets"] = names
        rows, k = array("q"), 0
        for record in self._records.values():
            if isinstance(record, tuple):
                k += 1
                rows.append(-k)
            else:
                rows.append(record)
        columns["base_rows"] = ("q", memoryview(rows).cast("B"))
        for which, part in enumerate(("meta", "refs")):
            pieces, offsets = _pieces(None, None, own, part, which)
            columns[part], columns[f"{part}_offsets"] = ("B", pieces), ("q", offsets)
        assert base.path.name.startswith(_BASE_PREFIX)
        meta = {"kind": _MAGIC, "format": _FORMAT, "version": self.version, "base": base.path.name}
        write_columns(self.path, meta, columns)
        decoded = self._meta
        self._adopt(_open(self.path), paths)
        self._meta = decoded  # the definitions decoded so far are still right
        for path in self.index_dir.glob(f"{_BASE_PREFIX}*.bin"):
            if path.name != base.path.name:  # replaced: readers still map it, unlinked
                path.unlink(missing_ok=True)

    def _write_base(self, names: tuple[Column, Column]) -> Columns:
        """Write every record to a new base file (`tags.base.<version>.bin`, the whole-store
        layout) and point the records at its rows."""
        stored = self._stored
        columns: dict[str, Column] = {}
        columns["paths"], columns["paths_offsets"] = names
        fd = _reopen(stored.base) if stored is not None else None
        base = stored.base if stored is not None else None
        try:
            for which, part in enumerate(("meta", "refs")):
                pieces, offsets = _pieces(base, fd, self._records.values(), part, which)
                columns[part], columns[f"{part}_offsets"] = ("B", pieces), ("q", offsets)
            meta = {"kind": _MAGIC, "format": _BASE_FORMAT, "version": self.version}
            path = self.index_dir / f"{_BASE_PREFIX}{self.version}.bin"
            write_columns(path, meta, columns)
        finally:
            if fd is not None:
                os.close(fd)
        opened = _open_whole(path)
        self._records = dict(zip(self._records, range(len(self._records)), strict=True))
        self._held = 0
        return opened


_PROTOCOL = pickle.HIGHEST_PROTOCOL


class _OlderFormat(ValueError):
    """A tag store written by an older codemem (a pickle, or another format number)."""


@dataclass(frozen=True, slots=True)
class _Stored:
    """The opened store: the top file (`tags.bin`: paths in order, and the records not in the
    base file) and the base file its other records are rows of. `rows` (type "q") gives each
    path's base row, or -k for the top file's own k-th record (from 1); None when the top file
    is a whole store in the base layout (then `base` is `top`)."""

    top: Columns
    base: Columns
    rows: memoryview | None


def _open(path: Path) -> _Stored:
    """The opened store whose top file is `path`; ValueError when it is not a whole one of
    this format (its base file missing or damaged included)."""
    try:
        return _open_once(path)
    except _BaseGone:  # replaced (and the old base deleted) between our two opens: again
        return _open_once(path)


class _BaseGone(ValueError):
    """The base file a top file names is not there."""


def _open_once(path: Path) -> _Stored:
    top = _open_whole(path, formats=(_FORMAT, _BASE_FORMAT))
    if top.meta["format"] == _BASE_FORMAT:
        return _Stored(top, top, None)
    if "base_rows" not in top:
        raise ValueError("no base_rows column")
    name = top.meta.get("base")
    if not isinstance(name, str) or not name.startswith(_BASE_PREFIX) or "/" in name:
        raise ValueError(f"bad base file name {name!r}")
    try:
        base = _open_whole(path.parent / name)
    except FileNotFoundError:
        raise _BaseGone(f"its base file {name} is missing") from None
    except ValueError as exc:
        raise ValueError(f"its base file {name}: {exc}") from None
    rows = top.view("base_rows")
    count = len(top.view("paths_offsets")) - 1
    base_count = len(base.view("paths_offsets")) - 1
    own = len(top.view("meta_offsets")) - 1
    if len(rows) != count:
        raise ValueError("base_rows does not match the paths")
    # Bounds (what reading needs): a base row, or -k for one of the top file's own records.
    if count and (max(rows) >= base_count or min(rows) < -own):
        raise ValueError("base_rows out of bounds")
    return _Stored(top, base, rows)


def _open_whole(path: Path, formats: tuple[int, ...] = (_BASE_FORMAT,)) -> Columns:
    """One tag file (a whole store, a base file, or a top file if `formats` allows); ValueError
    when it is not a whole one of `formats`."""
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
    if fmt not in formats:
        raise _OlderFormat(f"format {fmt!r}, not {_FORMAT}")
    for part in ("paths", "paths_offsets", "meta", "meta_offsets", "refs", "refs_offsets"):
        if part not in opened:
            raise ValueError(f"no {part} column")
    rows = {part: len(opened.view(f"{part}_offsets")) - 1 for part in ("paths", "meta", "refs")}
    whole = fmt == _BASE_FORMAT  # a top file holds fewer records than paths
    if (
        min(rows.values()) < 0
        or rows["meta"] != rows["refs"]
        or (whole and rows["meta"] != rows["paths"])
    ):
        raise ValueError("columns of different lengths")
    for part, count in rows.items():
        offsets = opened.view(f"{part}_offsets")
        if offsets[0] != 0 or offsets[count] != len(opened.bytes(part)):
            raise ValueError(f"{part} offsets do not match their data")
    return opened


def encoded_records(path: Path) -> Iterator[bytes]:
    """Every pickled record of the tag file at `path`, undecoded: what a check of untrusted
    input (a shared index) inspects before anything unpickles them. Nothing when the file is
    not a tag file of this format. A top file gives only its own records: its base file, in
    the same folder, is checked as a tag file of its own."""
    try:
        opened = _open_whole(path, formats=(_FORMAT, _BASE_FORMAT))
    except (OSError, ValueError):
        return
    rows = len(opened.view("meta_offsets")) - 1
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
    records: Iterable[Record],
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

"""The tag store's files on disk: how `TagStore`'s records are laid out, read and written.

The store is two column files (`codemem.code.columns`) in the index folder, each opened by
memory map, never loaded:

- the top file (`tags.bin`, format 5): every path in order (`paths`, `paths_offsets`: strings
  as `columns.string_columns` lays them out), each path's row in the base file or -k for the
  top file's own k-th record, from 1 (`base_rows`), and those own records: the files changed
  since the base file was written. Its meta names the base file.
- the base file (`tags.base.<version>.bin`, format 4): the paths and one record per path.
  A whole store as earlier codemem wrote it has this layout under the top file's name.

A record is two encoded parts, opaque here (the store pickles them): `meta`, a file's
language, definitions and imports, and `refs`, its referenced names; each part is one blob
column and its offsets (one more than records). An edit rewrites only the top file; a new
base file copies the records it keeps from the old one in the kernel, and the old one is
deleted once the top file names the new one (readers that still map it keep their pages).
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Collection, Iterable, Iterator
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

# A path's record: its row in the base file, or (meta, refs) bytes held in memory or the top file.
Record = int | tuple[bytes | memoryview, bytes | memoryview]
# The paths, encoded as two columns: their NUL-joined UTF-8 and where each one starts.
PathColumns = tuple[Column, Column]

_MAGIC = "codemem-tags"
_FORMAT = 5  # the top file; a base file (and a whole store, as earlier versions wrote it) is 4
_BASE_FORMAT = 4
_BASE_PREFIX = "tags.base."
_PARTS = ("meta", "refs")


class OlderFormat(ValueError):
    """A tag store written by an older codemem (a pickle, or another format number)."""


class _BaseGone(ValueError):
    """The base file a top file names is not there."""


@dataclass(frozen=True, slots=True)
class Stored:
    """The opened store: the top file (paths in order, and the records not in the base file)
    and the base file its other records are rows of. `rows` (type "q") gives each path's base
    row, or -k for the top file's own k-th record (from 1); None when the top file is a whole
    store in the base layout (then `base` is `top`)."""

    top: Columns
    base: Columns
    rows: memoryview | None
    # The base file's (blob, offsets) of each part (`_part`), taken once: a pass over every path
    # (the graph's) reads two records a file.
    _base_parts: dict[str, tuple[memoryview, memoryview]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def version(self) -> int:
        """The version the store was written at."""
        return int(self.top.meta["version"])

    @property
    def whole(self) -> bool:
        """Whether the top file is a whole store in the base layout (no base file of its own)."""
        return self.rows is None

    @property
    def base_count(self) -> int:
        """How many records the base file holds (one per path it was written with)."""
        return len(self.base.view("paths_offsets")) - 1

    @property
    def base_bytes(self) -> int:
        """The encoded size of the base file's records."""
        return len(self.base.bytes("meta")) + len(self.base.bytes("refs"))

    def still_on_disk(self, version: int) -> bool:
        """Whether the top file on disk is still this one, at `version`: nothing to write."""
        if self.top.meta.get("version") != version:
            return False
        try:
            stat = self.top.path.stat()
        except OSError:
            return False
        return (stat.st_dev, stat.st_ino) == self.top.identity

    def paths(self) -> list[str]:
        """Every path, in order."""
        return Strings(self.top.bytes("paths"), self.top.view("paths_offsets")).tolist()

    def encoded_paths(self) -> PathColumns:
        """The paths as written (to write them again without encoding them)."""
        return ("B", self.top.bytes("paths")), ("q", self.top.bytes("paths_offsets"))

    def records(self) -> list[Record]:
        """Each path's record, in order: its base row, or (meta, refs) views of the top file."""
        if self.rows is None:
            return list(range(self.base_count))
        meta, refs = _part(self.top, "meta"), _part(self.top, "refs")
        return [
            row if row >= 0 else (_row(meta, -row - 1), _row(refs, -row - 1))
            for row in self.rows.tolist()
        ]

    def base_record(self, row: int) -> tuple[memoryview, memoryview]:
        """The (meta, refs) of the base file's `row`: views of the mapping."""
        parts = self._base_parts
        if not parts:
            for part in _PARTS:
                parts[part] = _part(self.base, part)
        return _row(parts["meta"], row), _row(parts["refs"], row)

    def release(self) -> None:
        """Let go of the base file's pages read so far (a pass over a large store)."""
        self.base.release()

    def verify(self) -> str | None:
        """The first damaged column of the top file, then of its base file, or None (reads
        them all)."""
        return self.top.verify() or (self.base.verify() if self.rows else None)


def encode_paths(paths: Iterable[str]) -> PathColumns:
    """`paths` encoded as the tag files hold them."""
    return string_columns(paths)


def open_store(path: Path) -> Stored:
    """The opened store whose top file is `path`; ValueError when it is not a whole one of
    this format (its base file missing or damaged included), `OlderFormat` when an older
    codemem wrote it, OSError when it cannot be read (FileNotFoundError when there is none)."""
    try:
        return _open_once(path)
    except _BaseGone:  # replaced (and the old base deleted) between our two opens: again
        return _open_once(path)


def write_base(
    index_dir: Path,
    version: int,
    paths: PathColumns,
    records: Collection[Record],
    stored: Stored | None,
) -> Columns:
    """Write every record to a new base file (`tags.base.<version>.bin`) and open it.

    `records` are in the order of `paths`; a base row is one of `stored`'s, copied from its
    base file in the kernel while that file is still the one mapped.
    """
    columns: dict[str, Column] = {}
    columns["paths"], columns["paths_offsets"] = paths
    fd = _reopen(stored.base) if stored is not None else None
    base = stored.base if stored is not None else None
    try:
        for which, part in enumerate(_PARTS):
            pieces, offsets = _pieces(base, fd, records, part, which)
            columns[part], columns[f"{part}_offsets"] = ("B", pieces), ("q", offsets)
        meta = {"kind": _MAGIC, "format": _BASE_FORMAT, "version": version}
        path = index_dir / f"{_BASE_PREFIX}{version}.bin"
        write_columns(path, meta, columns)
    finally:
        if fd is not None:
            os.close(fd)
    return _open_whole(path)


def write_top(
    path: Path, version: int, paths: PathColumns, records: Collection[Record], base: Columns
) -> None:
    """Write the top file at `path` (atomically): `paths`, each one's row of `base` (a base
    file written by `write_base`), and the records that are not rows of it, in order."""
    columns: dict[str, Column] = {}
    columns["paths"], columns["paths_offsets"] = paths
    rows = array("q")
    own: list[Record] = []
    for record in records:
        if isinstance(record, tuple):
            own.append(record)
            rows.append(-len(own))
        else:
            rows.append(record)
    columns["base_rows"] = ("q", memoryview(rows).cast("B"))
    for which, part in enumerate(_PARTS):
        pieces, offsets = _pieces(None, None, own, part, which)
        columns[part], columns[f"{part}_offsets"] = ("B", pieces), ("q", offsets)
    assert base.path.name.startswith(_BASE_PREFIX)
    meta = {"kind": _MAGIC, "format": _FORMAT, "version": version, "base": base.path.name}
    write_columns(path, meta, columns)


def remove_replaced_bases(index_dir: Path, base: Columns) -> None:
    """Delete the base files in `index_dir` other than `base` (once the top file names it):
    readers still map them, unlinked."""
    for path in index_dir.glob(f"{_BASE_PREFIX}*.bin"):
        if path.name != base.path.name:
            path.unlink(missing_ok=True)


def encoded_records(path: Path) -> Iterator[bytes]:
    """Every encoded record part of the tag file at `path`, undecoded: what a check of
    untrusted input (a shared index) inspects before anything unpickles them. Nothing when the
    file is not a tag file of this format. A top file gives only its own records: its base
    file, in the same folder, is checked as a tag file of its own."""
    try:
        opened = _open_whole(path, formats=(_FORMAT, _BASE_FORMAT))
    except (OSError, ValueError):
        return
    rows = len(opened.view("meta_offsets")) - 1
    for part in _PARTS:
        blob_offsets = _part(opened, part)
        for row in range(rows):
            yield _row(blob_offsets, row).tobytes()


def _open_once(path: Path) -> Stored:
    top = _open_whole(path, formats=(_FORMAT, _BASE_FORMAT))
    if top.meta["format"] == _BASE_FORMAT:
        return Stored(top, top, None)
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
    return Stored(top, base, rows)


def _open_whole(path: Path, formats: tuple[int, ...] = (_BASE_FORMAT,)) -> Columns:
    """One tag file (a whole store, a base file, or a top file if `formats` allows); ValueError
    when it is not a whole one of `formats`."""
    try:
        opened = Columns.open(path)
    except ValueError:
        with path.open("rb") as handle:
            if handle.read(2) == b"\x80\x05":  # a pickle: the store before column files
                raise OlderFormat("written by an older codemem") from None
        raise
    kind, fmt = opened.meta.get("kind"), opened.meta.get("format")
    if kind != _MAGIC:
        raise ValueError(f"unknown format {kind!r}")
    if fmt not in formats:
        raise OlderFormat(f"format {fmt!r}, not {_FORMAT}")
    for part in ("paths", "paths_offsets", "meta", "meta_offsets", "refs", "refs_offsets"):
        if part not in opened:
            raise ValueError(f"no {part} column")
    rows = {part: len(opened.view(f"{part}_offsets")) - 1 for part in ("paths", *_PARTS)}
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


def _part(opened: Columns, part: str) -> tuple[memoryview, memoryview]:
    """A record part's (blob, offsets) in `opened`: its rows are the blob cut at the offsets."""
    return opened.bytes(part), opened.view(f"{part}_offsets")


def _row(part: tuple[memoryview, memoryview], row: int) -> memoryview:
    """Row `row` of a record part (`_part`): a view of the mapping."""
    blob, offsets = part
    return blob[offsets[row] : offsets[row + 1]]


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

"""Copying a published index in and out, treating what comes in as untrusted input.

A shared folder may be damaged (a publish cut short by a full disk, a truncated copy) or
hostile (anyone who can write it can plant files). So a published index is read only through
`copy_in`: every file the publisher's record lists, and nothing else, is copied into a folder
under `.codemem/local/` and hashed on the way; paths are confined to that folder; symlinks,
special files, files the record does not list and absurd sizes are refused; and no pickle in
it may name a Python callable (`check_pickles`: the tag store's records are pickles, so were
the graph caches of older versions, and unpickling an arbitrary file runs arbitrary code), and no SQLite file in it may hold
triggers or views (`check_databases`). Only then does anything parse it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path, PurePosixPath
from typing import Any

from codemem.code.columns import MAGIC as COLUMN_FILE
from codemem.code.tags import NamesCode, PlainData
from codemem.code.tags_file import encoded_records
from codemem.code.worktree import LISTING_FORMAT
from codemem.infra import fsync_dir, make_folder, printable

RECORD_NAME = "published.json"  # in each published folder, beside index/
CHUNK = 1 << 20
RECORD_MAX_BYTES = 256 << 20  # a record lists every file: about 100 bytes per file
MAX_FILES = 2_000_000
MAX_DEPTH = 8  # folders deep inside an index (LanceDB uses three)
PICKLE_SUFFIXES = (".bin", ".pkl")  # the tag store, and graph caches of older versions
NESTED_DEPTH = 4  # pickles inside pickles (the tag store keeps each file's tags pickled)
SQLITE_HEADER = b"SQLite format 3\x00"

FileRecord = tuple[str, int, str]  # repo-relative path inside the index, size, sha256


class Refused(Exception):
    """A published index that must not be used; the message is one short phrase."""


def copy_out(src: Path, dst: Path, left_out: set[str]) -> list[FileRecord]:
    """Copy the index folder `src` into `dst` (flushed to disk); returns what was copied."""
    files: list[FileRecord] = []
    for folder, dirs, names in os.walk(src):
        dirs.sort()
        here = Path(folder)
        rel_folder = here.relative_to(src)
        make_folder(dst / rel_folder)
        for name in sorted(names):
            rel = (rel_folder / name).as_posix()
            if rel in left_out or name.endswith(".tmp"):
                continue
            path = here / name
            if not stat.S_ISREG(path.lstat().st_mode):
                continue
            with path.open("rb") as source:
                size, digest = _copy(source, dst / rel)
            files.append((rel, size, digest))
        fsync_dir(dst / rel_folder)
    return files


def read_record(folder: Path) -> dict[str, Any]:
    """The publisher's record `folder/published.json`, checked for shape (not yet for files)."""
    data = _read_small(folder / RECORD_NAME)
    try:
        record = json.loads(data)
    except ValueError as exc:
        raise Refused(f"{RECORD_NAME} is unreadable: {exc}") from None
    if not isinstance(record, dict) or not isinstance(record.get("files"), list):
        raise Refused(f"{RECORD_NAME} is not a published index's record")
    for key in ("commit", "fingerprint"):
        if not isinstance(record.get(key), str):
            raise Refused(f"{RECORD_NAME} has no {key}")
    return record


def record_files(record: dict[str, Any], max_bytes: int) -> list[FileRecord]:
    """The files the record lists, every path confined and the sizes bounded."""
    raw = record["files"]
    if len(raw) > MAX_FILES:
        raise Refused(f"{len(raw):,} files listed, more than an index holds")
    files: list[FileRecord] = []
    seen: set[str] = set()
    total = 0
    for item in raw:
        if not (
            isinstance(item, list)
            and len(item) == 3
            and isinstance(item[0], str)
            and isinstance(item[1], int)
            and isinstance(item[2], str)
            and len(item[2]) == 64
        ):
            raise Refused(f"{RECORD_NAME} lists a file in the wrong shape")
        rel, size, digest = item
        confined_parts(rel)
        if rel in seen:
            raise Refused(f"{RECORD_NAME} lists {rel!r} twice")
        seen.add(rel)
        if size < 0:
            raise Refused(f"{RECORD_NAME} gives {rel!r} a negative size")
        total += size
        if total > max_bytes:
            raise Refused(f"larger than index.shared_max_bytes ({max_bytes:,} bytes)")
        files.append((rel, size, digest))
    return files


def confined_parts(rel: str) -> tuple[str, ...]:
    """The parts of a repo-relative path inside the index; Refused for anything else."""
    parts = PurePosixPath(rel).parts
    if (
        not rel
        or "\\" in rel
        or "\x00" in rel
        or rel.startswith("/")
        or any(part in ("", ".", "..") for part in parts)
        or len(parts) > MAX_DEPTH
        or PurePosixPath(*parts).as_posix() != rel
    ):
        raise Refused(f"the path {rel!r} leaves the index")
    return parts


def copy_in(src: Path, files: list[FileRecord], dst: Path) -> None:
    """Copy exactly the listed files from the published `src` into `dst`, checking each.

    Refused when the published folder holds a symlink, a special file or a file the record
    does not list, or when a file's size or hash differs from the record.
    """
    listed = {rel for rel, _, _ in files}
    for rel in _walk_untrusted(src):
        if rel not in listed:
            raise Refused(f"{rel!r} is not in {RECORD_NAME}")
    make_folder(dst)
    for rel, size, digest in files:
        target = dst.joinpath(*confined_parts(rel))
        make_folder(target.parent)
        fd = _open_untrusted(src, rel)
        with os.fdopen(fd, "rb") as source:
            if os.fstat(source.fileno()).st_size != size:
                raise Refused(f"{rel} is {os.fstat(source.fileno()).st_size:,} bytes, not {size:,}")
            got_size, got = _copy(io.BufferedReader(source), target, limit=size, durable=False)
        if got_size != size or got != digest:
            raise Refused(f"{rel} does not match its hash (damaged or changed since published)")


def check_pickles(index_dir: Path) -> None:
    """Refuse the index when a pickle in it names a callable other than `SAFE_GLOBALS`.

    Only the pickles' own opcodes are run, by a restricted unpickler that makes no object but
    plain data; a pickle nested as bytes inside another (the tag store's per-file tags) is
    checked the same way.
    """
    for path in sorted(index_dir.iterdir()):
        if path.suffix in PICKLE_SUFFIXES and path.is_file():
            data = path.read_bytes()
            # A column file or the work-tree listing is no pickle, and never unpickled; read
            # as one, its bytes (file names: a clone's) could spell an opcode naming anything.
            if not data.startswith((COLUMN_FILE, LISTING_FORMAT)):
                _check_pickle(path.name, data, NESTED_DEPTH)
            del data
            # The tag store is a column file of pickled records (the graph file holds none).
            for record in encoded_records(path):
                _check_pickle(path.name, record, NESTED_DEPTH - 1)


def check_databases(index_dir: Path) -> None:
    """Refuse the index when an SQLite file in it fails its quick check or holds triggers or
    views (SQL that would run, or be trusted, when codemem reads or writes its tables)."""
    for path in sorted(index_dir.iterdir()):
        if not path.is_file():
            continue
        with path.open("rb") as handle:
            if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                continue
        try:
            with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
                db.execute("PRAGMA trusted_schema = OFF")
                code = db.execute(
                    "SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view')"
                ).fetchall()
                checked = db.execute("PRAGMA quick_check").fetchall()
        except sqlite3.Error as exc:
            raise Refused(f"{path.name} is unreadable: {exc}") from None
        if code:
            raise Refused(f"{path.name} holds a {code[0][0]} ({code[0][1]})")
        if checked != [("ok",)]:
            raise Refused(f"{path.name} fails its check: {checked[0][0]}")


def _check_pickle(name: str, data: bytes, depth: int) -> None:
    try:
        value = PlainData(io.BytesIO(data)).load()
    except NamesCode as exc:  # the names are the file's bytes: one line, escaped, bounded
        shown = printable(str(exc))
        raise Refused(f"{name}: {shown if len(shown) <= 200 else shown[:200] + '...'}") from None
    except Exception:  # not a pickle, or a torn one: unpickling it later simply fails
        return
    if depth:
        for blob in _bytes_in(value):
            _check_pickle(name, blob, depth - 1)


def _bytes_in(value: Any) -> list[bytes]:
    """Every bytes value inside nested tuples, lists, sets and dicts."""
    found: list[bytes] = []
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _SCALARS:
            continue
        if kind is bytes or kind is bytearray:
            found.append(bytes(item))
        elif kind is dict:
            stack.extend(v for v in item.values() if type(v) not in _SCALARS)
        elif kind in _SEQUENCES:
            stack.extend(v for v in item if type(v) not in _SCALARS)
    return found


_SCALARS = frozenset({str, int, float, bool, type(None), complex})
_SEQUENCES = frozenset({tuple, list, set, frozenset})


def _walk_untrusted(src: Path) -> list[str]:
    """Every file under `src` (repo-relative); Refused at a symlink or a special file."""
    out: list[str] = []
    for folder, dirs, names in os.walk(src):
        here = Path(folder)
        if len(here.relative_to(src).parts) >= MAX_DEPTH:
            raise Refused("folders nested deeper than an index has")
        for name in [*dirs, *names]:
            mode = (here / name).lstat().st_mode
            rel = (here / name).relative_to(src).as_posix()
            if stat.S_ISLNK(mode):
                raise Refused(f"{rel} is a symlink")
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise Refused(f"{rel} is not a regular file")
            if stat.S_ISREG(mode):
                out.append(rel)
            if len(out) > MAX_FILES:
                raise Refused("more files than an index holds")
    return out


def _open_untrusted(src: Path, rel: str) -> int:
    """Open `src/rel` for reading, following no symlink at any step."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    dir_flags = flags | getattr(os, "O_DIRECTORY", 0)
    parts = confined_parts(rel)
    try:
        fd = os.open(src, dir_flags)
        for part in parts[:-1]:
            next_fd = os.open(part, dir_flags, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        file_fd = os.open(parts[-1], flags, dir_fd=fd)
        os.close(fd)
    except OSError as exc:
        raise Refused(f"{rel} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(file_fd).st_mode):
        os.close(file_fd)
        raise Refused(f"{rel} is not a regular file")
    return file_fd


def _copy(
    source: io.BufferedReader | Any, target: Path, *, limit: int | None = None, durable: bool = True
) -> tuple[int, str]:
    """Copy an open file into `target`, hashing it; at most `limit` + 1 bytes are read."""
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if limit is not None and size > limit:
                break
            digest.update(chunk)
            out.write(chunk)
        if durable:
            out.flush()
            os.fsync(out.fileno())
    return size, digest.hexdigest()


def _read_small(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise Refused(f"{path.name} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"{path.name} is not a regular file")
        if info.st_size > RECORD_MAX_BYTES:
            raise Refused(f"{path.name} is {info.st_size:,} bytes")
        return handle.read(RECORD_MAX_BYTES + 1)

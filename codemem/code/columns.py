"""A file of named flat arrays, opened by memory map: what the tag store and the graph are kept in.

A reader maps the file and reads only the columns (and the parts of them) it uses, so opening
costs the same whatever the repository's size. Columns are read as `memoryview`s cast to their
type (no numpy needed) or as read-only numpy arrays. Layout:

    b"CMCOLS1\\n"  header length (u32)  header crc32 (u32)
    header: JSON {"meta": {...}, "size": data bytes, "columns": {name: [type, offset, bytes, crc32]}}
    padding to 8 bytes, then each column's data, 8-byte aligned (offsets relative to here)

Types are `array` type codes with fixed sizes: b B i I q Q f d. The header's checksum and the
file size are checked on open (a truncated or overwritten header is found at once); the
columns' checksums only by `verify`, which reads everything.
"""

from __future__ import annotations

import io
import json
import mmap
import operator
import os
import struct
import tempfile
import zlib
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate, repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Union

from codemem.infra import atomic_file, make_folder

if TYPE_CHECKING:
    import numpy as np

MAGIC = b"CMCOLS1\n"
_PREFIX = struct.Struct("<8sII")
ITEM_SIZES = {"b": 1, "B": 1, "i": 4, "I": 4, "q": 8, "Q": 8, "f": 4, "d": 8}

COPY_BLOCK = 1 << 20
# Parts of a column smaller than SMALL_PART are joined, up to JOIN_BYTES at a time (`_parts`).
SMALL_PART = 1 << 16
JOIN_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class FileRange:
    """Bytes of an open file, written by copying in the kernel: they never pass through this
    process's memory (a store rewritten around one changed record stays small)."""

    fd: int
    offset: int
    length: int

    def __len__(self) -> int:
        return self.length

    def blocks(self) -> Iterator[bytes]:
        """The bytes, a block at a time (read, not mapped)."""
        done = 0
        while done < self.length:
            block = os.pread(self.fd, min(COPY_BLOCK, self.length - done), self.offset + done)
            if not block:
                raise OSError(f"the file ends {self.length - done} bytes early")
            done += len(block)
            yield block

    def write_to(self, handle: BinaryIO) -> None:
        handle.flush()
        target, done = handle.fileno(), 0
        try:
            while done < self.length:
                copied = os.copy_file_range(self.fd, target, self.length - done, self.offset + done)
                if not copied:
                    raise OSError("copy_file_range copied nothing")
                done += copied
        except OSError:  # not supported here (or cut short): copy the rest by reading it
            os.lseek(target, 0, os.SEEK_END)
            for block in FileRange(self.fd, self.offset + done, self.length - done).blocks():
                handle.write(block)


# One column to write: its type and its data (one buffer, or parts written one after another).
Buffer = Union[bytes, bytearray, memoryview, "np.ndarray"]
Column = tuple[str, Buffer | Sequence[Buffer | FileRange]]


class ColumnSpool:
    """Columns of a file being built, each written ahead as soon as it is done, so the builder
    lets go of it at once: to an unnamed temporary file in `folder` (gone with the process,
    however it ends), copied from there into the column file by `write_columns` without
    passing through memory again. Without a folder the columns are simply kept."""

    def __init__(self, folder: Path | None) -> None:
        self._file = None
        if folder is not None:
            make_folder(folder)
            # Closed by __exit__: the spool lives as long as the build that fills it.
            self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115
        self._columns: dict[str, Column] = {}
        self._size = 0

    def __enter__(self) -> ColumnSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()

    def put(self, name: str, typecode: str, data: Buffer, *, keep: bool = False) -> None:
        """Add column `name` (its data may be let go of once this returns, unless `keep`:
        a column done last is written from memory, not copied through the spool)."""
        if self._file is None or keep:
            self._columns[name] = (typecode, data)
            return
        view = memoryview(data).cast("B")  # type: ignore[arg-type]
        self._file.write(view)
        self._columns[name] = (typecode, [FileRange(self._file.fileno(), self._size, len(view))])
        self._size += len(view)

    def columns(self, names: Iterable[str]) -> dict[str, Column]:
        """The columns put, in the order of `names` (the order they are written in)."""
        if self._file is not None:
            self._file.flush()
        return {name: self._columns[name] for name in names}


def _align(n: int) -> int:
    return (n + 7) & ~7


def _parts(data: Buffer | Sequence[Buffer | FileRange]) -> list[memoryview | FileRange]:
    """The column's data as byte views and file ranges, written one after another.

    Runs of small parts (the tag store's column is a record per file) are joined into
    buffers of up to `JOIN_BYTES`: one checksum and one write each, not one per record.
    """
    if isinstance(data, bytes | bytearray | memoryview) or hasattr(data, "__array_interface__"):
        return [memoryview(data).cast("B")]  # type: ignore[arg-type]
    parts: list[memoryview | FileRange] = []
    small: list[memoryview] = []
    size = 0
    for part in data:
        view = part if isinstance(part, FileRange) else memoryview(part).cast("B")  # type: ignore[arg-type]
        if isinstance(view, FileRange) or len(view) >= SMALL_PART:
            if small:
                parts.append(_joined(small))
                small, size = [], 0
            parts.append(view)
            continue
        small.append(view)
        size += len(view)
        if size >= JOIN_BYTES:
            parts.append(_joined(small))
            small, size = [], 0
    if small:
        parts.append(_joined(small))
    return parts


def _joined(views: list[memoryview]) -> memoryview:
    return views[0] if len(views) == 1 else memoryview(b"".join(views))


def _crc(part: memoryview | FileRange, crc: int) -> int:
    if isinstance(part, FileRange):
        for block in part.blocks():
            crc = zlib.crc32(block, crc)
        return crc
    return zlib.crc32(part, crc)


def write_columns(path: Path, meta: Mapping[str, Any], columns: Mapping[str, Column]) -> None:
    """Write `columns` and `meta` (JSON-able) to `path` atomically (a derived file: no fsync)."""
    with atomic_file(path, durable=False) as handle:  # derived: rebuilt if a crash loses it
        _write(handle, meta, columns)


def _write(handle: BinaryIO, meta: Mapping[str, Any], columns: Mapping[str, Column]) -> None:
    layout: dict[str, list[Any]] = {}
    offset = 0
    prepared: list[tuple[int, list[memoryview | FileRange]]] = []
    for name, (typecode, data) in columns.items():
        parts = _parts(data)
        nbytes = sum(len(p) for p in parts)
        if typecode not in ITEM_SIZES or nbytes % ITEM_SIZES[typecode]:
            raise ValueError(f"column {name}: {nbytes} bytes do not fit type {typecode!r}")
        crc = 0
        for part in parts:
            crc = _crc(part, crc)
        layout[name] = [typecode, offset, nbytes, crc]
        prepared.append((offset, parts))
        offset = _align(offset + nbytes)
    header = json.dumps(
        {"meta": dict(meta), "size": offset, "columns": layout}, separators=(",", ":")
    ).encode()
    start = _align(_PREFIX.size + len(header))
    handle.write(_PREFIX.pack(MAGIC, len(header), zlib.crc32(header)))
    handle.write(header)
    written = _PREFIX.size + len(header)
    for column_offset, parts in prepared:
        handle.write(b"\0" * (start + column_offset - written))
        written = start + column_offset
        for part in parts:
            if isinstance(part, FileRange):
                part.write_to(handle)
            else:
                handle.write(part)
            written += len(part)
    handle.write(b"\0" * (start + offset - written))


@dataclass(frozen=True, slots=True)
class _Spec:
    typecode: str
    offset: int  # absolute, in the file
    nbytes: int
    crc: int


class Columns:
    """An opened column file: `meta`, and each column as a memoryview or numpy array.

    The mapping stays open as long as this object or any view taken from it is alive.
    """

    def __init__(self, path: Path, data: mmap.mmap | bytes, meta: dict[str, Any],
                 specs: dict[str, _Spec], identity: tuple[int, int] | None = None) -> None:  # fmt: skip
        self.path = path
        self.identity = identity  # (device, inode) of the mapped file
        self._data = data
        self._view = memoryview(data)
        self.meta = meta
        self._specs = specs

    @classmethod
    def open(cls, path: Path | str) -> Columns:
        """Map the file; ValueError when it is not a whole column file, OSError when unreadable."""
        path = Path(path)
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            if size < _PREFIX.size:
                raise ValueError(f"{path.name} is cut short ({size} bytes)")
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            stat = os.fstat(handle.fileno())
        opened = cls._parse(path, data)
        opened.identity = (stat.st_dev, stat.st_ino)
        return opened

    @classmethod
    def in_memory(cls, meta: Mapping[str, Any], columns: Mapping[str, Column]) -> Columns:
        """Columns held in memory, read exactly as a written file would be."""
        buffer = io.BytesIO()
        _write(buffer, meta, columns)
        return cls._parse(Path("(memory)"), buffer.getvalue())

    @classmethod
    def _parse(cls, path: Path, data: mmap.mmap | bytes) -> Columns:
        size = len(data)
        if size < _PREFIX.size:
            raise ValueError(f"{path.name} is cut short ({size} bytes)")
        magic, header_len, header_crc = _PREFIX.unpack_from(data, 0)
        if magic != MAGIC:
            raise ValueError(f"{path.name} is not a column file")
        header = data[_PREFIX.size : _PREFIX.size + header_len]
        if len(header) != header_len or zlib.crc32(header) != header_crc:
            raise ValueError(f"{path.name} has a damaged header")
        try:
            parsed = json.loads(header)
            start = _align(_PREFIX.size + header_len)
            specs = {
                name: _Spec(str(t), start + int(offset), int(nbytes), int(crc))
                for name, (t, offset, nbytes, crc) in parsed["columns"].items()
            }
            meta, expected = dict(parsed["meta"]), start + int(parsed["size"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path.name} has a damaged header: {exc}") from None
        if size != expected:
            raise ValueError(f"{path.name} is {size} bytes, not {expected}: cut short or torn")
        for name, spec in specs.items():
            if spec.typecode not in ITEM_SIZES or spec.offset + spec.nbytes > size:
                raise ValueError(f"{path.name}: column {name} is out of bounds")
        return cls(path, data, meta, specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def bytes(self, name: str) -> memoryview:
        """A column's raw bytes (zero-copy)."""
        spec = self._specs[name]
        return self._view[spec.offset : spec.offset + spec.nbytes]

    def start(self, name: str) -> int:
        """Where a column's data starts in the file."""
        return self._specs[name].offset

    def view(self, name: str) -> memoryview:
        """A column as a memoryview of its type: indexable, sliceable, `tolist()`."""
        view: memoryview = self.bytes(name).cast(self._specs[name].typecode)  # type: ignore[call-overload]
        return view

    def array(self, name: str) -> np.ndarray:
        """A column as a read-only numpy array over the mapping."""
        import numpy as np

        spec = self._specs[name]
        return np.frombuffer(self._view, np.dtype(spec.typecode),
                             spec.nbytes // ITEM_SIZES[spec.typecode], spec.offset)  # fmt: skip

    def verify(self) -> str | None:
        """The first column whose data no longer matches its checksum, or None (reads it all)."""
        try:
            for name, spec in self._specs.items():
                if zlib.crc32(self.bytes(name)) != spec.crc:
                    return f"{self.path.name}: column {name} is damaged"
            return None
        finally:
            self.release()

    def release(self) -> None:
        """Let go of the pages read so far (they stay in the page cache, out of this process's
        resident memory); reading them again maps them back."""
        if isinstance(self._data, mmap.mmap):
            self._data.madvise(mmap.MADV_DONTNEED)


# -- strings ---------------------------------------------------------------------------------


def string_columns(strings: Iterable[str | None], *, clean: bool = False) -> tuple[Column, Column]:
    """(blob, offsets) columns holding `strings`: NUL-joined UTF-8, and where each one starts
    (one more offset than strings). A string should hold no NUL (`Strings.tolist` splits on
    it); `clean`: None is stored as "" and NUL characters are left out."""
    texts: list[Any] = strings if isinstance(strings, list) else list(strings)
    joined = joined_strings(texts)
    if joined is not None:
        blob, starts, nulls = joined
        if nulls is not None and not clean:
            raise TypeError("None among the strings")
        return ("B", blob), ("q", memoryview(starts))
    import numpy as np  # writers only: a reader of column files needs no numpy

    # A lone surrogate (kept as surrogateescape does), None, or NUL inside.
    try:
        blob = ("\0".join(texts) + "\0").encode("utf-8", "surrogateescape") if texts else b""
    except TypeError:  # a None among them
        if not clean:
            raise
        return string_columns([text or "" for text in texts], clean=True)
    ends = np.flatnonzero(np.frombuffer(blob, np.uint8) == 0)
    if len(ends) != len(texts):  # a string holds NUL after all: its own end is the next one
        if clean:
            return string_columns([text.replace("\0", "") for text in texts])
        return _string_columns_one_by_one(texts)
    offsets = np.zeros(len(texts) + 1, np.int64)
    offsets[1:] = ends + 1
    return ("B", blob), ("q", offsets)


def joined_strings(values: list[Any]) -> tuple[bytes, array[int], array[int] | None] | None:
    """`values`, strings or None, each followed by NUL in one UTF-8 buffer; where each one
    starts (an int64 `array`, one more offset than values); which are None (a byte per
    value, 1 for None; None when none is; they are stored as ""). None when they cannot be
    so: a value holds NUL, is neither a string nor None, or holds a lone surrogate (which
    UTF-8 cannot encode).

    One join and one encode, the offsets summed from the lengths (ASCII) or those of the
    parts between the NUL bytes, in C: no Python code per string, and no numpy (a parser
    worker packs with it before numpy is loaded). The layout of a column file's string
    column, of a lexicon segment's and of the strings a parser worker packs
    (`codemem.code.packed_rows`)."""
    nulls = None
    try:
        text = "\0".join([*values, ""])  # the "" puts a NUL after the last value too
    except TypeError:  # None among them (or something that is not a string)
        nulls = array("b", map(operator.is_, values, repeat(None)))
        values = ["" if v is None else v for v in values]
        try:
            text = "\0".join([*values, ""])
        except TypeError:
            return None
    if text.count("\0") != len(values):  # a value holds NUL
        return None
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return None
    if len(data) == len(text):  # ASCII: a byte a character, the lengths are the strings'
        lengths = map(len, values)
    else:  # the values' bytes, between the NULs
        parts = data.split(b"\0")
        parts.pop()  # after the last NUL: nothing
        lengths = map(len, parts)
    offsets = array("q", accumulate(map(_WITH_NUL, lengths), initial=0))
    return data, offsets, nulls


_WITH_NUL = (1).__add__  # a value's length and its NUL


def _string_columns_one_by_one(strings: Iterable[str]) -> tuple[Column, Column]:
    blob = bytearray()
    offsets = array("q", [0])
    for text in strings:
        blob += text.encode("utf-8", "surrogateescape")
        blob += b"\0"
        offsets.append(len(blob))
    return ("B", blob), ("q", memoryview(offsets).cast("B"))


class Strings(Sequence[str]):
    """Strings stored by `string_columns`, decoded one at a time on access."""

    def __init__(self, blob: memoryview, offsets: memoryview) -> None:
        self._blob = blob
        self._offsets = offsets  # type "q"

    def __len__(self) -> int:
        return max(len(self._offsets) - 1, 0)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        offsets = self._offsets  # read once per string: searches read thousands
        count = len(offsets) - 1
        if i < 0:
            i += count
        if not 0 <= i < count:
            raise IndexError(i)
        return str(self._blob[offsets[i] : offsets[i + 1] - 1], "utf-8", "surrogateescape")

    def __iter__(self) -> Iterator[str]:
        return iter(self.tolist())

    def tolist(self) -> list[str]:
        """Every string at once (one decode and one split: fast even for many)."""
        if not len(self):
            return []
        text = bytes(self._blob[: self._offsets[-1] - 1]).decode("utf-8", "surrogateescape")
        return text.split("\0")

    def find(self, text: str) -> int | None:
        """The position of `text` in a sorted column (binary search on the bytes), or None."""
        key = text.encode("utf-8", "surrogateescape")
        blob, offsets = self._blob, self._offsets
        lo, hi = 0, len(self)
        while lo < hi:
            mid = (lo + hi) // 2
            if blob[offsets[mid] : offsets[mid + 1] - 1].tobytes() < key:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self) and blob[offsets[lo] : offsets[lo + 1] - 1].tobytes() == key:
            return lo
        return None

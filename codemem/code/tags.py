"""Per-file tags (definitions, referenced names, imports) kept beside the index for the repo map.

The reference graph and the repo map need only names, not chunks or vectors, so the indexer
also writes this store (`tags.bin` and its base file, without LanceDB or pyarrow; their layout
is `codemem.code.tags_file`'s): each file's pickled definitions and references, opened by
memory map. A warm repo map decodes the definitions of the few files it shows, the graph
build reads every file once without keeping them, an index run re-encodes only the files that
changed. Its `version` changes whenever any file's tags do; the graph cache is keyed on it.
"""

from __future__ import annotations

import gc
import io
import logging
import pickle
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from codemem.code.columns import Columns
from codemem.code.model import ParsedFile
from codemem.code.tags_file import (
    OlderFormat,
    PathColumns,
    Record,
    Stored,
    encode_paths,
    open_store,
    remove_replaced_bases,
    write_base,
    write_top,
)
from codemem.errors import IndexingError

log = logging.getLogger("codemem")

TAGS_FILE = "tags.bin"
COMPACT_SHARE = 8  # a new base file once 1/8 of the base's bytes, or rows, are elsewhere/stale
SPILL_BYTES = 32 << 20  # records a streaming writer holds in memory before the first save
SPILL_MAX_BYTES = 64 << 20  # and at most, however large the store (a kernel's is ~400 MB)
RELEASE_BYTES = 64 << 20  # of the mapped file read by a scan before its pages are let go

# (name, qualname, kind, start_line, end_line, signature)
Definition = tuple[str, str, str, int, int, str]


_LINES = itemgetter(3, 4)  # a definition's (start_line, end_line)
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
        defs.sort(key=_LINES)
        refs = dict(Counter(parsed.reference_names))
        imports = list(dict.fromkeys(i.target for i in parsed.imports))
        return cls(parsed.path, parsed.language, defs, refs, imports)

    def _row(self) -> tuple[str, list[Definition], dict[str, int], list[str]]:
        return (self.language, self.defs, self.refs, self.imports)

    def encoded(self) -> EncodedTags:
        """The record the store keeps for this file (what a parser worker sends instead)."""
        # The very bytes the indexer made when it pickled tags that came to it through a
        # pipe: unpickled, every one-character string ("c", a language or a name) is
        # Python's cached object for that character, one object pickled once.
        defs = [
            d if 1 not in (len(d[0]), len(d[1]), len(d[2]), len(d[5])) else tuple(map(_cached, d))
            for d in self.defs
        ]
        return EncodedTags(
            self.path,
            pickle.dumps(
                (_cached(self.language), defs, list(map(_cached, self.imports))), _PROTOCOL
            ),
            pickle.dumps(self.refs, _PROTOCOL),
        )


@dataclass(frozen=True, slots=True)
class EncodedTags:
    """One file's tags as the store keeps them: pickled (language, defs, imports) and
    pickled refs. A parser worker encodes them, so the indexer neither unpickles the
    definitions' many small tuples nor pickles them again."""

    path: str
    meta: bytes
    refs: bytes

    def decoded(self) -> FileTags:
        language, defs, imports = _decode(self.meta)
        return FileTags(self.path, language, defs, _decode(self.refs), imports)


class TagStore:
    """All files' tags, persisted under the index folder (`tags.bin`, and its base file).

    The file is opened, not loaded: a record is read from the mapping when a file's
    definitions or references are asked for. `exists` is False when there was no readable
    store on disk: the caller (the indexer) should then feed it every file, not only the
    changed ones.
    """

    def __init__(self, index_dir: Path | str, version: int = 0, *, exists: bool = False) -> None:
        self.index_dir = Path(index_dir)
        self.version = version
        self.exists = exists
        self._stored: Stored | None = None  # the files as last read or written
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
            opened = open_store(store.path)
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
            return open_store(Path(index_dir) / TAGS_FILE).version
        except (OSError, ValueError):
            return None

    @staticmethod
    def damage(index_dir: Path | str) -> str | None:
        """What is wrong with the stored file (cut short, torn, a checksum off, unknown format),
        or None; a missing file, or one an older codemem wrote, is not damage here."""
        path = Path(index_dir) / TAGS_FILE
        try:
            return open_store(path).verify()
        except FileNotFoundError:
            return None
        except OlderFormat:
            return None  # another codemem's store: the indexer rebuilds it (its fingerprint)
        except (OSError, ValueError) as exc:
            return f"{TAGS_FILE} is unreadable: {exc}"

    def _adopt(self, stored: Stored, paths: list[str] | None = None) -> None:
        """Read from `stored` from now on; `paths`, its paths when the caller knows them."""
        self._stored, self.version, self.exists = stored, stored.version, True
        if paths is None:
            paths = stored.paths()
        self._stored_paths = paths
        self._records = dict(zip(paths, stored.records(), strict=True))
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
        return self._stored.base_record(record)

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
                self._stored.release()  # a pass over a large store keeps little resident
                read = 0
        if read and self._stored is not None:
            self._stored.release()

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
        self,
        changed: Iterable[EncodedTags],
        removed: Iterable[str],
        *,
        cache: bool = True,
    ) -> bool:
        """Replace the tags of `changed` files (encoded, as the parser workers send them:
        `FileTags.encoded`) and drop `removed` paths.

        Returns whether anything differs; only then is `version` bumped, so an edit that
        leaves every name in place keeps the cached graph valid. With `cache=False` only the
        compact encoded form is kept (the indexer streams a whole repository through here,
        encoded by the parser workers).
        """
        dirty = False
        for path in removed:
            if self._records.pop(path, None) is not None:
                self._meta.pop(path, None)
                dirty = True
        for tags in changed:
            old = self.get(tags.path)
            # A new file's record is kept as the worker encoded it, never decoded here.
            decoded = tags.decoded() if old is not None or cache else None
            if old is not None and decoded is not None and old._row() == decoded._row():
                continue
            self._records[tags.path] = (tags.meta, tags.refs)
            self._held += len(tags.meta) + len(tags.refs)
            if cache and decoded is not None:
                self._meta[tags.path] = (decoded.language, decoded.defs, decoded.imports)
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
        return self._stored.base_bytes if self._stored is not None else 0

    def save(self) -> None:
        """Write the store atomically (temp files in the same folder, then rename), then read
        it from there: the records written are no longer held in memory. A store unchanged
        since it was read or written is not written again.

        Only the top file is rewritten while the records not in the base file stay small
        (an edit writes a few megabytes, not the whole store); past that, or once many base
        records are stale, the whole store goes into a new base file.
        """
        stored = self._stored
        if stored is not None and stored.still_on_disk(self.version):
            return
        paths = list(self._records)
        if stored is not None and paths == self._stored_paths:  # as written: no re-encoding
            names = stored.encoded_paths()
        else:
            names = encode_paths(paths)
        own = [r for r in self._records.values() if isinstance(r, tuple)]
        own_bytes = sum(len(meta) + len(refs) for meta, refs in own)
        if (
            stored is None
            or stored.whole  # the whole store is in the top file: it is replaced
            or own_bytes > self._stored_bytes() // COMPACT_SHARE
            or (stored.base_count - (len(self._records) - len(own))) * COMPACT_SHARE
            > stored.base_count
        ):
            base = self._write_base(names)  # every record is a row of the new base file
        else:
            base = stored.base
        write_top(self.path, self.version, names, self._records.values(), base)
        decoded = self._meta
        self._adopt(open_store(self.path), paths)
        self._meta = decoded  # the definitions decoded so far are still right
        remove_replaced_bases(self.index_dir, base)

    def _write_base(self, names: PathColumns) -> Columns:
        """Write every record to a new base file and point the records at its rows."""
        base = write_base(self.index_dir, self.version, names, self._records.values(), self._stored)
        self._records = dict(zip(self._records, range(len(self._records)), strict=True))
        self._held = 0
        return base


_PROTOCOL = pickle.HIGHEST_PROTOCOL


def _cached(value: Any) -> Any:
    """A one-character string of the first 256 code points as unpickling makes it: Python's
    cached object for that character (anything else as it is)."""
    if type(value) is str and len(value) == 1 and ord(value) < 256:
        return chr(ord(value))
    return value


# The only callables a record's pickle may name (none today; `array` for older graph caches).
SAFE_GLOBALS = frozenset({("array", "_array_reconstructor"), ("array", "array")})


class NamesCode(pickle.UnpicklingError):
    """A pickle names a callable that plain data never needs (`os.system`...)."""


class PlainData(pickle.Unpickler):
    """Unpickles plain data only: a pickle that names any other callable than `SAFE_GLOBALS`
    is refused (`NamesCode`) before it runs. The index is derived and local, but a clone can
    commit `.codemem/local/` (`git add -f`), and a published index is anyone's: a record
    naming `os.system` would otherwise run on the next `codemem map`."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in SAFE_GLOBALS:
            return super().find_class(module, name)
        raise NamesCode(f"a pickle in the index names {module}.{name}")


def _decode(blob: bytes | memoryview) -> Any:  # what was pickled; the caller knows its shape
    try:
        return PlainData(io.BytesIO(blob)).load()
    except (pickle.UnpicklingError, ValueError, EOFError, TypeError) as exc:
        raise IndexingError(
            f"the repo-map tags are corrupt ({exc}): run `codemem index --full`"
        ) from None

"""Per-file tags (definitions, referenced names, imports) kept beside the index for the repo map.

The reference graph and the repo map need only names, not chunks or vectors, so the indexer
also writes this small store (`tags.bin`, loaded in milliseconds without LanceDB or pyarrow).
Each file's definitions and references are pickled on their own and decoded on first use: a
warm repo map decodes the definitions of the few files it shows, an index run re-encodes only
the files that changed. Its `version` changes whenever any file's tags do; the graph cache is
keyed on it.
"""

from __future__ import annotations

import gc
import logging
import pickle
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codemem.code.model import ParsedFile
from codemem.errors import IndexingError
from codemem.infra import atomic_write

log = logging.getLogger("codemem")

TAGS_FILE = "tags.bin"
_MAGIC = "codemem-tags"
_FORMAT = 3

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
    """All files' tags, persisted under the index folder.

    `exists` is False when there was no readable store on disk: the caller (the indexer)
    should then feed it every file, not only the changed ones.
    """

    def __init__(self, index_dir: Path | str, version: int = 0, *, exists: bool = False) -> None:
        self.index_dir = Path(index_dir)
        self.version = version
        self.exists = exists
        # path -> (pickled (language, defs, imports), pickled refs): what the file holds.
        self._records: dict[str, tuple[bytes, bytes]] = {}
        self._meta: dict[str, tuple[str, list[Definition], list[str]]] = {}  # decoded
        self._files: dict[str, FileTags] | None = None  # every file decoded, until a change

    @property
    def path(self) -> Path:
        return self.index_dir / TAGS_FILE

    @classmethod
    def load(cls, index_dir: Path | str) -> TagStore:
        """Read the store; a missing or unreadable one gives an empty store (`exists` False)."""
        store = cls(index_dir)
        try:
            data = store.path.read_bytes()
        except FileNotFoundError:
            return store
        except OSError as exc:
            log.warning("cannot read %s: %s; the repo map starts from scratch", store.path, exc)
            return store
        try:
            version, records = _parse(data)
        except ValueError as exc:
            log.info("unreadable %s (%s); the repo map starts from scratch", store.path, exc)
            return store
        store.version, store.exists, store._records = version, True, records
        return store

    @staticmethod
    def damage(index_dir: Path | str) -> str | None:
        """What is wrong with the stored file (unreadable, unknown format), or None; a missing
        file is not damage here."""
        try:
            _parse((Path(index_dir) / TAGS_FILE).read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            return f"{TAGS_FILE} is unreadable: {exc}"
        return None

    @property
    def paths(self) -> list[str]:
        """Every stored path, in the order files were added."""
        return list(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, path: object) -> bool:
        return path in self._records

    def definitions(self, path: str) -> list[Definition]:
        """One file's definitions in source order (decodes only that file's definitions)."""
        meta = self._meta.get(path)
        if meta is None:
            record = self._records.get(path)
            if record is None:
                return []
            meta = self._meta[path] = _decode(record[0])
        return meta[1]

    def get(self, path: str) -> FileTags | None:
        """One file's tags, or None."""
        record = self._records.get(path)
        if record is None:
            return None
        self.definitions(path)
        language, defs, imports = self._meta[path]
        return FileTags(path, language, defs, _decode(record[1]), imports)

    @property
    def files(self) -> dict[str, FileTags]:
        """Every file's tags by path (decodes everything; read it, change it with `update`)."""
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
            self._records[tags.path] = (
                pickle.dumps((tags.language, tags.defs, tags.imports), _PROTOCOL),
                pickle.dumps(tags.refs, _PROTOCOL),
            )
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

    def save(self) -> None:
        """Write the store atomically (temp file in the same folder, then rename)."""
        self.index_dir.mkdir(parents=True, exist_ok=True)
        data = pickle.dumps((_MAGIC, _FORMAT, self.version, self._records), _PROTOCOL)
        atomic_write(self.path, data, durable=False)  # derived: rebuilt if a crash loses it
        self.exists = True


_PROTOCOL = pickle.HIGHEST_PROTOCOL


def _parse(data: bytes) -> tuple[int, dict[str, tuple[bytes, bytes]]]:
    """(version, records) of a stored tag file; ValueError when it is not one."""
    try:
        magic, fmt, version, records = pickle.loads(data)
    except Exception as exc:  # a torn pickle fails in many ways (EOF, bad opcode, import...)
        raise ValueError(str(exc) or type(exc).__name__) from None
    if magic != _MAGIC or fmt != _FORMAT or not isinstance(records, dict):
        raise ValueError(f"unknown format {magic!r} {fmt!r}")
    return int(version), records


def _decode(blob: bytes) -> Any:  # what was pickled; the caller knows its shape
    try:
        return pickle.loads(blob)
    except (pickle.UnpicklingError, ValueError, EOFError, TypeError) as exc:
        raise IndexingError(
            f"the repo-map tags are corrupt ({exc}): run `codemem index --full`"
        ) from None

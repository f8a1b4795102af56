"""The manifest's rows as a run edits them: a file's entry, and the row dict that remembers
what changed since the last save (`Entries`), from which the totals follow without counting
every row again. Pure data: `codemem.code.manifest` reads and writes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INDEXED = "indexed"


@dataclass(slots=True)
class FileEntry:
    content_id: str | None
    status: str  # "indexed" or a skip reason
    language: str | None = None
    symbols: int = 0
    chunks: int = 0
    syntax_errors: int = 0


def _count(files: dict[str, FileEntry]) -> tuple[int, int, int]:
    """(files, symbols, chunks) indexed."""
    indexed = [e for e in files.values() if e.status == INDEXED]
    return len(indexed), sum(e.symbols for e in indexed), sum(e.chunks for e in indexed)


class Entries(dict[str, FileEntry]):
    """path -> FileEntry that remembers which paths changed since the last save, and what
    they held then: the totals follow from those alone, not from a count of every row."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.changed: set[str] = set()
        self.base: tuple[int, int, int] | None = None  # the totals at the last save
        self._before: dict[str, FileEntry | None] = {}  # what changed paths held then

    def _note(self, path: str) -> None:
        if path not in self._before:
            self._before[path] = self.get(path)
        self.changed.add(path)

    def __setitem__(self, path: str, entry: FileEntry) -> None:
        self._note(path)
        super().__setitem__(path, entry)

    def __delitem__(self, path: str) -> None:
        self._note(path)
        super().__delitem__(path)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for path, entry in dict(*args, **kwargs).items():
            self[path] = entry

    def pop(self, path: str, *default: Any) -> Any:
        self._note(path)
        return super().pop(path, *default)

    def setdefault(self, path: str, entry: FileEntry) -> FileEntry:
        if path not in self:
            self[path] = entry
        return self[path]

    def clear(self) -> None:
        for path in self:
            self._note(path)
        super().clear()

    def totals(self) -> tuple[int, int, int]:
        """(files, symbols, chunks) indexed now."""
        if self.base is None:
            self.base, self._before = _count(self), {}
        files, symbols, chunks = self.base
        for path, old in self._before.items():
            for entry, sign in ((old, -1), (self.get(path), 1)):
                if entry is not None and entry.status == INDEXED:
                    files += sign
                    symbols += sign * entry.symbols
                    chunks += sign * entry.chunks
        return files, symbols, chunks

    def adopt_changes(self, other: Entries) -> None:
        """Take over `other`'s record of changes: these rows hold its rows, and more."""
        self.changed, self.base, self._before = set(other.changed), other.base, other._before

    def saved(self) -> None:
        """What is now was saved: changes count from here."""
        self.base = self.totals()
        self._before = {}
        self.changed.clear()

"""How the manifest's rows are laid out in SQLite (`codemem.code.manifest` reads and writes
them): a file's row with the names a query looks it up by (its stem, the last part of its
module name, and of its package's for an `__init__` file), the words of its name
(`name_words`), and a path that is not valid UTF-8 (a name git gave as undecodable bytes)
stored as its bytes. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from codemem.code.manifest_rows import INDEXED, FileEntry
from codemem.code.text import file_name_words


def module_name(path: str) -> str:
    """The dotted name a query may use for a file (`pkg/mod.py` → `pkg.mod`)."""
    return path.rsplit(".", 1)[0].replace("/", ".")


def package_name(path: str) -> str | None:
    """For an `__init__` file, the dotted name of its package (`pkg/sub/__init__.py` → `pkg.sub`)."""
    name = path.rsplit("/", 1)[-1]
    if name.rsplit(".", 1)[0] != "__init__":
        return None
    return path.rpartition("/")[0].replace("/", ".")


def file_stem(path: str) -> str:
    """A file's name without its last extension, lower-cased (how a query names a file)."""
    return path.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()


def stored(value: str) -> str | bytes:
    """A path as SQLite stores it: text, or its bytes when it is not valid UTF-8."""
    if value.isascii():  # nearly every path: no encoding needed to know
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a file name git gave as undecodable bytes (surrogateescape)
        return value.encode("utf-8", "surrogateescape")
    return value


def unstored(value: str | bytes) -> str:
    """A path (or word) as SQLite gave it back: bytes that are not UTF-8 as `surrogateescape`."""
    return value if isinstance(value, str) else value.decode("utf-8", "surrogateescape")


def file_row(path: str, entry: FileEntry) -> tuple[Any, ...]:
    """A file's row of the `files` table: its entry, and the names a query looks it up by."""
    package = package_name(path)
    return (
        stored(path),
        entry.content_id,
        entry.status,
        entry.language,
        entry.symbols,
        entry.chunks,
        entry.syntax_errors,
        stored(file_stem(path)),
        stored(module_name(path).rsplit(".", 1)[-1]),
        stored(package.rsplit(".", 1)[-1]) if package is not None else None,
    )


def name_word_rows(paths: Iterable[str]) -> Iterator[tuple[Any, ...]]:
    """(word, path, words in the name) for each `file_name_words` word of `paths`."""
    known: dict[str, tuple[list[str | bytes], int]] = {}  # many files share a name
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        found = known.get(name)
        if found is None:
            words, count = file_name_words(name)
            found = known[name] = ([stored(word) for word in sorted(words)], count)
        kept, count = found
        text = stored(path)
        for word in kept:
            yield word, text, count


def indexed_in(files: dict[str, FileEntry], paths: Iterable[str]) -> Iterator[str]:
    """The paths of `paths` whose entry in `files` is indexed."""
    return (p for p in paths if files[p].status == INDEXED)

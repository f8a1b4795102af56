"""Which files a file uses: the files defining the names it references (a search stage's input).

Read at search time from the tag store (the file's references) and the lexicon's name index
(who defines each name), both of which every index run keeps current, full or incremental;
the reference graph is rebuilt by full runs only, so its file pairs lack new and renamed
files. A name links the way it does in the graph (`graph_rank`): ignored names and names
defined in more than `MAX_DEFINERS` files link nothing, and a use counts
`name_weight(name, definers) * sqrt(uses)`, split over the files defining it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from math import sqrt
from pathlib import Path

from codemem.code.graph_rank import MAX_DEFINERS, is_ignored_name, name_weight
from codemem.code.tags import TagStore

References = Callable[[str], Mapping[str, int]]  # path -> name -> number of uses
Definers = Callable[[Iterable[str]], Mapping[str, Iterable[str]]]  # names -> name -> files

_name_weight = lru_cache(maxsize=1 << 16)(name_weight)  # a session's searches meet the same names


def used_files(
    path: str, references: Mapping[str, int], definers: Mapping[str, Iterable[str]]
) -> list[tuple[str, float]]:
    """(file, weight) of the files defining the names `path` uses, heaviest first."""
    weights: dict[str, float] = defaultdict(float)
    for name, count in references.items():
        files = set(definers.get(name, ()))
        if not files or len(files) > MAX_DEFINERS:
            continue
        share = _name_weight(name, len(files)) * sqrt(count) / len(files)
        for file in files - {path}:
            weights[file] += share
    return sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))


class FileUses:
    """path -> the files defining the names it uses, with their weight."""

    def __init__(self, references: References, definers: Definers) -> None:
        self._references = references
        self._definers = definers

    def __call__(self, path: str) -> list[tuple[str, float]]:
        names = {n: c for n, c in self._references(path).items() if not is_ignored_name(n)}
        return used_files(path, names, self._definers(names) if names else {})


def tag_references(index_dir: Path) -> References:
    """A file's references, from the tag store opened on the first call (a search whose
    stage does not run never opens it)."""
    opened: list[TagStore] = []

    def references(path: str) -> Mapping[str, int]:
        if not opened:
            opened.append(TagStore.load(index_dir))
        return opened[0].references(path)

    return references

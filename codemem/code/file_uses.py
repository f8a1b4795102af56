"""Which files a file uses: the files defining the names it references (a search stage's input).

Read at search time from the tag store (the file's references) and the lexicon's name index
(who defines each name), both of which every index run keeps current, full or incremental;
the reference graph is rebuilt by full runs only, so its file pairs lack new and renamed
files. A name links the way it does in the graph, by `graph_rank.use_weight` (ignored names
and names defined in more than `MAX_DEFINERS` files link nothing), here split over the files
defining it. Only a file's strongest references are looked up (`USED_NAMES`), so a large
file costs what a small one does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING

from codemem.code.graph_rank import is_ignored_name, use_weight

if TYPE_CHECKING:
    from codemem.code.tags import TagStore

Definers = Callable[[Iterable[str]], Mapping[str, Iterable[str]]]  # names -> name -> files

USED_NAMES = 64  # a file's references looked up (the strongest); more changed no ranking


def used_files(
    path: str, references: Mapping[str, int], definers: Mapping[str, Iterable[str]]
) -> list[tuple[str, float]]:
    """(file, weight) of the files defining the names `path` uses, heaviest first."""
    weights: dict[str, float] = defaultdict(float)
    for name, count in references.items():
        files = set(definers.get(name, ()))
        weight = use_weight(name, len(files), count)
        if not weight:
            continue
        share = weight / len(files)
        for file in files - {path}:
            weights[file] += share
    return sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))


class FileUses:
    """path -> the files defining the names it uses, with their weight. The tag store is asked
    for on the first call only (a search whose stage does not run never reads it)."""

    def __init__(self, tags: Callable[[], TagStore | None], definers: Definers) -> None:
        self._tags_source = tags
        self._definers = definers

    @cached_property
    def _tags(self) -> TagStore | None:
        return self._tags_source()

    def __call__(self, path: str) -> list[tuple[str, float]]:
        tags = self._tags
        refs = tags.references(path) if tags is not None else {}
        names = strongest_names({n: c for n, c in refs.items() if not is_ignored_name(n)})
        return used_files(path, names, self._definers(names) if names else {})


def strongest_names(references: Mapping[str, int], limit: int = USED_NAMES) -> dict[str, int]:
    """The `limit` references that say most about a file (specific names, used often), so a
    large file costs no more lookups than a small one; ties by name."""
    if len(references) <= limit:
        return dict(references)
    strength = {n: use_weight(n, 1, c) for n, c in references.items()}
    kept = sorted(references, key=lambda n: (-strength[n], n))[:limit]
    return {n: references[n] for n in kept}

"""Candidate generators for retrieval: full-text, symbols, paths, vectors.

Each stage asks the store (`codemem.code.store`, where every LanceDB query is) for rows and
returns candidates best first; `codemem.code.search` fuses them. Every stage
can be switched off in config (`search.<stage>: false`) for ablations.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from codemem.code.files import is_test_path
from codemem.code.manifest import file_stem, module_name, package_name
from codemem.code.query import STOP_WORDS, AnalyzedQuery, looks_like_code

if TYPE_CHECKING:
    import numpy as np

    from codemem.code.store import CodeStore

MAX_DEFINITIONS = 25  # a name defined in more places than this says little about where to look
NAME_WEIGHT = 1.0  # a capitalised word of the query (`Router`) that is also a definition's name
# Which definition of a name is the one meant: the type rather than an `impl` of it or a field.
KIND_WEIGHTS = {
    "class": 1.5,
    "struct": 1.5,
    "interface": 1.5,
    "trait": 1.5,
    "type": 1.5,
    "enum": 1.5,
    "module": 1.2,
    "namespace": 1.0,
    "impl": 0.5,
    "field": 0.5,
    "variable": 0.7,
}
TEST_DEFINITION_WEIGHT = 0.5


@dataclass(slots=True)
class Candidate:
    """A span some stage thinks is relevant."""

    path: str
    score: float
    start_line: int = 0
    end_line: int = 0
    symbol: str | None = None
    kind: str | None = None
    language: str | None = None
    chunk_id: str | None = None
    is_test: bool = False


def candidate_from_row(row: dict[str, Any], score: float) -> Candidate:
    return Candidate(
        path=row["path"],
        score=score,
        start_line=row.get("start_line") or 0,
        end_line=row.get("end_line") or 0,
        symbol=row.get("symbol") or row.get("qualname"),
        kind=row.get("symbol_kind") or row.get("kind"),
        language=row.get("language"),
        chunk_id=row.get("id"),
        is_test=bool(row.get("is_test")),
    )


def bm25_chunks(store: CodeStore, query: AnalyzedQuery, limit: int) -> list[Candidate]:
    """Chunks ranked by BM25 over their code-aware search text."""
    text = query.fts_query()
    if not text:
        return []
    return [candidate_from_row(row, float(row["_score"])) for row in store.fts_chunks(text, limit)]


def bm25_files(store: CodeStore, query: AnalyzedQuery, limit: int) -> list[Candidate]:
    """Whole files ranked by BM25 (a file is relevant as a whole, not only in one chunk)."""
    text = query.fts_query()
    if not text:
        return []
    return [candidate_from_row(row, float(row["_score"])) for row in store.fts_files(text, limit)]


def symbol_matches(store: CodeStore, query: AnalyzedQuery, limit: int = 200) -> list[Candidate]:
    """Definitions whose name is an identifier of the query, rarest names first."""
    names = list(
        dict.fromkeys(
            query.identifiers
            + [f.function for f in query.frames if f.function]
            + (query.names if NAME_WEIGHT else [])
        )
    )
    names = [n for n in names if (len(n) > 2 or n in query.exact) and n.lower() not in STOP_WORDS][
        :200
    ]
    if not names:
        return []
    rows = store.symbols_named(names)
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_name[row["name"]].append(row)
    strong = {f.function for f in query.frames if f.function}
    plain_names = set(query.names) - set(query.identifiers)
    out: list[Candidate] = []
    for name, defs in by_name.items():
        if len(defs) > MAX_DEFINITIONS:
            continue
        weight = (2.0 if name in strong else 1.0) * (1.5 if looks_like_code(name) else 1.0)
        if name in plain_names:
            weight *= NAME_WEIGHT
        for row in defs:
            own = KIND_WEIGHTS.get(row.get("kind") or "", 1.0)
            if is_test_path(row["path"]):
                own *= TEST_DEFINITION_WEIGHT
            out.append(candidate_from_row(row, weight * own / len(defs)))
    for dotted in query.dotted:
        # `pkg.Class.method` pins the definition whose qualname ends that way.
        parts = dotted.split(".")
        for row in by_name.get(parts[-1], []):
            if len(parts) > 1 and (row["qualname"] or "").endswith(".".join(parts[-2:])):
                out.append(candidate_from_row(row, 2.0))
    out.sort(key=lambda c: -c.score)
    return out[:limit]


def _suffix_score(mention: list[str], path: list[str]) -> int:
    n = 0
    for a, b in zip(reversed(mention), reversed(path), strict=False):
        if a != b:
            break
        n += 1
    return n


class PathLookup(Protocol):
    """The indexed files a query can name, looked up by name (the manifest is one)."""

    def with_stem(self, stem: str) -> list[str]:
        """Indexed files whose `file_stem` is `stem`, in path order."""
        ...

    def with_module_part(self, last: str) -> list[tuple[str, str]]:
        """(dotted name, path) of indexed files whose dotted name ends in `last`, in path
        order (a package's `__init__` file also under its package's name, after its own)."""
        ...


def path_matches(paths: PathLookup, query: AnalyzedQuery) -> list[Candidate]:
    """Files the query names: paths and traceback frames, module names, file stems.

    A mention matches the indexed paths sharing its longest suffix of components
    (`/venv/lib/site-packages/pkg/mod.py` → `src/pkg/mod.py`). Among traceback frames the
    innermost (listed last) weighs most: that is where the failure surfaced. Only the files
    that share a name with a mention are looked at, never the whole list.
    """
    scores: dict[str, float] = defaultdict(float)
    lines: dict[str, int] = {}
    frame_paths = [f.path for f in query.frames]
    for mention, line in query.paths:
        if mention.startswith("<"):  # <stdin>, <string>: not a file
            continue
        parts = posixpath.normpath(mention.replace("\\", "/")).lstrip("./").split("/")
        best = 0
        matched: list[str] = []
        for path in paths.with_stem(file_stem(parts[-1])):  # a shared suffix ends in the name
            n = _suffix_score(parts, path.split("/"))
            if n > best:
                best, matched = n, [path]
            elif n == best and n:
                matched.append(path)
        depth = 0.0
        if mention in frame_paths:
            depth = 0.5 * (frame_paths.index(mention) + 1) / len(frame_paths)
        for path in matched[:5]:
            scores[path] += (best + depth) / len(matched)
            if line:
                lines.setdefault(path, line)
    for dotted in query.dotted:
        modules: dict[str, list[str]] = {}
        for key, path in paths.with_module_part(dotted.rsplit(".", 1)[-1]):
            modules.setdefault(key, []).append(path)
        for key, hits in modules.items():
            if key == dotted or key.endswith("." + dotted):
                for path in hits:
                    scores[path] += 1.0 / len(hits)
    # A code name that is also a file name (`L031` → rules/L031.py); prose words are not.
    for word in {w.lower() for w in query.identifiers}:
        if word in STOP_WORDS or len(word) <= 2:
            continue
        hits = paths.with_stem(word)
        if hits and len(hits) <= 3:
            for path in hits:
                scores[path] += 0.5 / len(hits)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    return [
        Candidate(path=p, score=s, start_line=lines.get(p, 0), end_line=lines.get(p, 0))
        for p, s in ranked
    ]


class PathList:
    """A `PathLookup` over a list of paths held in memory (tests, recorded benchmarks)."""

    def __init__(self, paths: list[str]) -> None:
        self._stems: defaultdict[str, list[str]] = defaultdict(list)
        self._modules: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)
        for path in sorted(paths):
            self._stems[file_stem(path)].append(path)
            module = module_name(path)
            self._modules[module.rsplit(".", 1)[-1]].append((module, path))
            package = package_name(path)
            if package is not None:
                self._modules[package.rsplit(".", 1)[-1]].append((package, path))

    def with_stem(self, stem: str) -> list[str]:
        return list(self._stems.get(stem, []))

    def with_module_part(self, last: str) -> list[tuple[str, str]]:
        return list(self._modules.get(last, []))


def vector_chunks(store: CodeStore, vector: np.ndarray, limit: int) -> list[Candidate]:
    """Chunks nearest to the query embedding."""
    rows = store.nearest_chunks(vector, limit)
    return [candidate_from_row(row, 1.0 - float(row.get("_distance", 0.0))) for row in rows]

"""The reference graph as stored: files linked through the identifiers they define and use.

The graph is cached per tag-store version in one column file of the index folder
(`graph.<version>.bin`, `codemem.code.columns`), opened by memory map: the static ranking and
each file's search prior are read from it as plain arrays (an unpersonalized map or a search
prior does not even import numpy), the edge arrays only by a personalized query. This module
reads the file and answers the queries; the rules and the ranking are in
`codemem.code.graph_rank`, building is in `codemem.code.graph_build`.
"""

from __future__ import annotations

import heapq
import logging
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, ValuesView
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codemem.code.columns import Column, Columns, Strings
from codemem.code.graph_rank import BUILD_KEY, MENTIONED_MULTIPLIER, pagerank, spread
from codemem.code.tags import Definition, TagStore

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("codemem")

# A personalized query in node and name ids: ((file id, weight), ...), (mentioned name ids).
GraphQuery = tuple[tuple[tuple[int, float], ...], tuple[int, ...]]

GRAPH_KIND = "codemem-graph"
ARRAY_NAMES = (
    "edge_src", "edge_pair", "edge_weight", "edge_key", "name_offsets", "pair_src", "pair_dst",
    "pair_weight", "key_file", "key_name",
)  # fmt: skip


class RefGraph:
    """Files as nodes; edges per (using file, defining file, name), kept as flat arrays.

    Edges are sorted by name, so `name_offsets[k]:name_offsets[k + 1]` are the edges of name
    `k`; each edge also points at its file pair (for PageRank) and at its definition key, the
    (defining file, name) pair that the using file's rank flows to (keys sorted by name, then
    file). The static ranking comes precomputed (`file_rank`, and definition keys by score:
    `order_*`); the edge arrays are read only when a query is personalized. Everything is
    read from an opened column file (`codemem.code.columns`), as the query needs it.
    """

    def __init__(self, opened: Columns, *, store: TagStore | None = None) -> None:
        meta = opened.meta
        if meta.get("kind") != GRAPH_KIND or meta.get("build") != BUILD_KEY:
            raise ValueError("built by other rules")
        self.version = int(meta["version"])
        self.store = store
        self._opened = opened
        self._paths = Strings(opened.bytes("paths"), opened.view("paths_offsets"))
        self.paths = self._paths.tolist()
        self.names = Strings(opened.bytes("names"), opened.view("names_offsets"))  # sorted
        self.file_rank = opened.view("file_rank")  # static PageRank per file
        self.order_score = opened.view("order_score")  # definition keys, best first
        self.order_file = opened.view("order_file")
        self.order_name = opened.view("order_name")
        if not len(self.file_rank) == len(self.paths) == len(opened.view("centrality")):
            raise ValueError("columns of different lengths")
        self.path_index = {path: i for i, path in enumerate(self.paths)}
        self._arrays: dict[str, np.ndarray] | None = None
        self._last: tuple[GraphQuery, tuple[np.ndarray, np.ndarray]] | None = None  # one-query memo

    @classmethod
    def open(cls, path: Path, *, store: TagStore | None = None) -> RefGraph:
        """The graph cached in `path`; ValueError when it is not a whole one built by these rules."""
        return cls(Columns.open(path), store=store)

    @classmethod
    def from_columns(
        cls,
        meta: Mapping[str, Any],
        columns: Mapping[str, Column],
        *,
        store: TagStore | None = None,
    ) -> RefGraph:
        """A graph held in memory (no index folder to cache it in)."""
        return cls(Columns.in_memory(meta, columns), store=store)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The edge arrays (read-only views of the cache file)."""
        if self._arrays is None:
            self._arrays = {name: self._opened.array(name) for name in ARRAY_NAMES}
        return self._arrays

    def files_defining(self, name: str) -> list[str]:
        """The files that define `name` (any kind), in path order."""
        k = self.names.find(name)
        if k is None:
            return []
        key_name = self._opened.view("key_name")  # sorted by name, then file
        lo, hi = bisect_left(key_name, k), bisect_right(key_name, k)
        key_file = self._opened.view("key_file")
        return [self.paths[f] for f in key_file[lo:hi].tolist()]

    # -- ranking ---------------------------------------------------------------------------

    def _query(
        self, personalization: Mapping[str, float] | None, mentioned: Iterable[str]
    ) -> GraphQuery | None:
        """The query in node and name ids; None when it is the static ranking."""
        teleport: dict[int, float] = {}
        for path, value in (personalization or {}).items():
            i = self.path_index.get(path)
            if i is not None and value > 0:
                teleport[i] = teleport.get(i, 0.0) + value
        found = (self.names.find(n) for n in mentioned)
        picked = tuple(sorted({k for k in found if k is not None}))
        if not teleport and not picked:
            return None
        return tuple(sorted(teleport.items())), picked

    def _scores(self, query: GraphQuery) -> tuple[np.ndarray, np.ndarray]:
        """File ranks and definition-key scores of a personalized query."""
        if self._last is not None and self._last[0] == query:
            return self._last[1]
        import numpy as np

        a = self.arrays
        teleport, picked = query
        vector = None
        if teleport:
            vector = np.zeros(len(self.paths))
            for i, value in teleport:
                vector[i] = value
        edge_weight, pair_weight = a["edge_weight"], a["pair_weight"]
        if picked:
            offsets = a["name_offsets"]
            edges = np.concatenate([np.arange(offsets[k], offsets[k + 1]) for k in picked])
            extra = edge_weight[edges] * (MENTIONED_MULTIPLIER - 1)
            edge_weight = edge_weight.copy()
            edge_weight[edges] += extra
            pair_weight = pair_weight + np.bincount(
                a["edge_pair"][edges], weights=extra, minlength=len(pair_weight)
            )
        rank = pagerank(len(self.paths), a["pair_src"], a["pair_dst"], pair_weight, vector)
        result = rank, spread(a, rank, edge_weight)
        self._last = (query, result)
        return result

    def rank_files(
        self,
        personalization: Mapping[str, float] | None = None,
        mentioned_idents: Iterable[str] = (),
    ) -> dict[str, float]:
        """PageRank of every file (summing to 1), teleporting to `personalization` if given."""
        query = self._query(personalization, mentioned_idents)
        ranks = self.file_rank.tolist() if query is None else self._scores(query)[0].tolist()
        return dict(zip(self.paths, ranks, strict=True))

    def file_centrality(self) -> FilePrior:
        """Static PageRank scaled so the most central file is 1.0 (a search prior)."""
        return FilePrior(self._paths, self._opened.view("centrality"))

    def iter_definitions(
        self,
        personalization: Mapping[str, float] | None = None,
        mentioned_idents: Iterable[str] = (),
        *,
        file_weights: Mapping[str, float] | None = None,
        first_files: Iterable[str] = (),
    ) -> Iterator[tuple[str, Definition, float]]:
        """Definitions by the rank flowing to them, best first: (path, definition, score).

        Lazy: only the definitions of files actually reached are decoded. `file_weights`
        (> 0) multiplies the scores of a file's definitions (e.g. to demote tests); the
        definitions of `first_files` come before every other file's, whatever their scores;
        definitions sharing a name in one file share its score and come in line order; ties go
        by path.
        """
        if self.store is None:
            raise ValueError("this graph was loaded without its tag store")
        weights = {
            self.path_index[p]: w for p, w in (file_weights or {}).items() if p in self.path_index
        }
        first = {self.path_index[p] for p in first_files if p in self.path_index}
        query = self._query(personalization, mentioned_idents)
        if query is not None:
            keys = self._query_keys(query, weights, first)
        elif first:  # unranked focus (none reaches here from the map): two passes
            keys = chain(
                (key for key in self._static_keys(weights) if key[1] in first),
                (key for key in self._static_keys(weights) if key[1] not in first),
            )
        else:
            keys = self._static_keys(weights)
        by_file: dict[int, dict[str, list[Definition]]] = {}
        for score, f, k in keys:
            defs = by_file.get(f)
            if defs is None:
                defs = by_file[f] = {}
                for d in self.store.definitions(self.paths[f]):
                    defs.setdefault(d[0], []).append(d)
            for d in defs.get(self.names[k], ()):
                yield self.paths[f], d, score

    def _static_keys(self, weights: dict[int, float]) -> Iterator[tuple[float, int, int]]:
        """Keys of the static ranking; weighted files merged back in by their scaled score."""
        score, file, name = self.order_score, self.order_file, self.order_name
        if not weights:
            yield from zip(score, file, name, strict=True)
            return

        def stream(weight: float) -> Iterator[tuple[float, int, int]]:
            for i in range(len(score)):  # a weight keeps the order within its own files
                if weights.get(file[i], 1.0) == weight:
                    yield -score[i] * weight, file[i], name[i]

        for negated, f, k in heapq.merge(*(stream(w) for w in {1.0, *weights.values()})):
            yield -negated, f, k

    def _query_keys(
        self, query: GraphQuery, weights: dict[int, float], first: set[int]
    ) -> Iterator[tuple[float, int, int]]:
        import numpy as np

        a = self.arrays
        scores = self._scores(query)[1]
        if weights:
            factor = np.ones(len(self.paths))
            factor[list(weights)] = list(weights.values())
            scores = scores * factor[a["key_file"]]
        later = ~np.isin(a["key_file"], list(first))  # the first files' keys sort before
        order = np.lexsort((a["key_name"], a["key_file"], -scores, later))
        files, names = a["key_file"][order].tolist(), a["key_name"][order].tolist()
        yield from zip(scores[order].tolist(), files, names, strict=True)


class FilePrior(Mapping[str, float]):
    """Each file's search prior, read from the graph file: path -> centrality in [0, 1].

    Looking a path up is a binary search over the stored (sorted) paths; nothing is decoded
    up front, so a fresh search pays for the paths it scores, not for the repository.
    """

    def __init__(self, paths: Strings, values: memoryview) -> None:
        self._paths = paths
        self._values = values

    def __getitem__(self, path: str) -> float:
        i = self._paths.find(path)
        if i is None:
            raise KeyError(path)
        return float(self._values[i])

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def values(self) -> ValuesView[float]:
        return _PriorValues(self)


class _PriorValues(ValuesView[float]):
    """The prior's values straight from the column (not one lookup per path)."""

    _mapping: FilePrior

    def __iter__(self) -> Iterator[float]:
        return iter(self._mapping._values.tolist())


def cache_path(index_dir: Path | str, version: int) -> Path:
    """Where the graph for tag-store `version` is cached."""
    return Path(index_dir) / f"graph.{version}.bin"


def read_prior(index_dir: Path | str) -> FilePrior | None:
    """The search prior, read without loading the tags or the graph: from the graph of the
    current tag store, else from the newest older one (an incremental index run leaves the
    graph to the next repo map; a prior one run behind is still a fine prior). None when no
    graph is built, or none reads."""
    opened = open_graph_file(index_dir)
    if opened is None:
        return None
    paths = Strings(opened.bytes("paths"), opened.view("paths_offsets"))
    return FilePrior(paths, opened.view("centrality"))


def open_graph_file(index_dir: Path | str) -> Columns | None:
    """The cached graph file of the current tag store, else the newest older one that reads
    (what search reads its columns from, without loading the tags); None when there is none."""
    index_dir = Path(index_dir)
    version = TagStore.stored_version(index_dir)
    if version is None:
        return None
    candidates = [cache_path(index_dir, version)]
    older = []
    for path in index_dir.glob("graph.*.bin"):
        stamp = path.name.split(".")[1]
        if stamp.isdigit() and int(stamp) < version:
            older.append((int(stamp), path))
    candidates.extend(path for _, path in sorted(older, reverse=True))
    for path in candidates:
        try:
            opened = Columns.open(path)
            meta = opened.meta
            if (meta.get("kind"), meta.get("build")) != (GRAPH_KIND, BUILD_KEY):
                continue
            opened.view("paths_offsets"), opened.view("centrality")  # the columns are there
            return opened
        except (OSError, ValueError, KeyError):
            continue
    return None


def graph_damage(index_dir: Path) -> str | None:
    """A cached graph file that does not read whole (a missing one is simply built again)."""
    for path in sorted(index_dir.glob("graph.*.bin")):
        try:
            opened = Columns.open(path)
            RefGraph(opened)
            damage = opened.verify()
        except ValueError as exc:
            if str(exc) == "built by other rules":
                continue
            return f"{path.name} is unreadable: {exc}"
        except (OSError, KeyError, TypeError) as exc:
            return f"{path.name} is unreadable: {exc or type(exc).__name__}"
        if damage:
            return damage
    return None


def load_graph(index_dir: Path | str, store: TagStore | None = None) -> RefGraph:
    """The graph for the current tag store: from the cache, or built and cached."""
    index_dir = Path(index_dir)
    if store is None:
        store = TagStore.load(index_dir)
    path = cache_path(index_dir, store.version)
    try:
        graph = RefGraph.open(path, store=store)
        if graph.version == store.version and len(graph) == len(store):
            return graph
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError) as exc:
        log.debug("rebuilding graph cache %s: %s", path, exc)
    from codemem.code.graph_build import build_graph

    if index_dir.is_dir():
        try:
            return build_graph(store, index_dir)
        except OSError as exc:
            log.warning("cannot cache the reference graph in %s: %s", index_dir, exc)
    return build_graph(store)

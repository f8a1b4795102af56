"""The reference graph: files linked through the identifiers they define and use.

An edge goes from a file that uses a name to every file that defines it, weighted the way
Aider's repo map does (long compound names count more, private and widely defined names
less, repeated uses with diminishing returns). Files are ranked by personalized PageRank,
computed by power iteration over edge arrays with `np.bincount`, and each file's rank is then
spread over the definitions it points at, which ranks definitions.

The graph is cached per tag-store version in two files of the index folder: the edge arrays
(`graph.<version>.npz`) for personalized queries, and the static ranking as plain arrays
(`graph.<version>.pkl`), so an unpersonalized map or a search prior does not even import
numpy. This module holds the rules and the queries; building and the cache files are in
`codemem.code.graph_build`.
"""

from __future__ import annotations

import heapq
import logging
import pickle
import zlib
from array import array
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codemem.code.tags import Definition, TagStore

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("codemem")

# A personalized query in node and name ids: ((file id, weight), ...), (mentioned name ids).
GraphQuery = tuple[tuple[tuple[int, float], ...], tuple[int, ...]]

DAMPING = 0.85
MAX_ITERATIONS = 50
TOLERANCE = 1e-6  # per node, on the L1 change between iterations (as networkx does)
MENTIONED_MULTIPLIER = 10.0
# Rank a file passes to its own definitions counts this much of rank from other files, so an
# unused helper in a central file does not outrank what other files actually use.
SELF_FLOW = 0.1
SELF_WEIGHT = 0.1  # a file using its own names says little about what matters
UNREFERENCED_WEIGHT = 0.1  # self-edge keeping an unused or ignored definition rankable
MAX_DEFINERS = 20  # a name defined in more files than this (`eval`, `run`) links nothing
# Keyword-like names, builtins and the methods of builtin containers and strings: every file
# uses them and a few files happen to define them, so as links they are noise.
STOP_NAMES = frozenset(
    """
    self cls this super None True False null nil undefined NULL nullptr true false args kwargs
    new delete return yield await async print len str int float bool list dict set tuple
    object type range isinstance issubclass getattr setattr hasattr repr hash iter next
    sorted reversed enumerate zip map filter sum min max abs any all open format round
    append extend insert pop remove clear copy update get keys values items add discard
    join split strip replace startswith endswith lower upper encode decode read write close
    index count sort push length forEach toString valueOf then catch
    """.split()
)
_CACHE_FORMAT = 3  # bump whenever the rules below change
# Changes with anything that shapes the graph, so a cache built by other rules is rebuilt.
BUILD_KEY = zlib.crc32(
    repr(
        (
            _CACHE_FORMAT,
            sorted(STOP_NAMES),
            MAX_DEFINERS,
            SELF_WEIGHT,
            UNREFERENCED_WEIGHT,
            SELF_FLOW,
        )
    ).encode()
)


def is_ignored_name(name: str) -> bool:
    """Names that would link every file to every other: keywords-like, one letter, dunders."""
    return (
        len(name) < 2
        or name in STOP_NAMES
        or (name.startswith("__") and name.endswith("__"))
        or not (name[0].isalpha() or name[0] in "_$")
    )


def name_weight(name: str, definers: int) -> float:
    """Aider's identifier weight: how much one use of `name` says about its definer.

    Long compound names (snake, kebab, camel; 8+ characters) are specific, and so, beyond
    Aider, are capitalized type-like names (`Symbol`, `Expr`): x10. Private names and names
    defined in more than five files: x0.1.
    """
    weight = 1.0
    has_alpha = any(c.isalpha() for c in name)
    is_snake = "_" in name and has_alpha
    is_kebab = "-" in name and has_alpha
    is_camel = any(c.isupper() for c in name) and any(c.islower() for c in name)
    is_type_like = name[:1].isupper() and is_camel and len(name) >= 4
    if ((is_snake or is_kebab or is_camel) and len(name) >= 8) or is_type_like:
        weight *= 10
    if name.startswith("_"):
        weight *= 0.1
    if definers > 5:
        weight *= 0.1
    return weight


ARRAY_NAMES = (
    "edge_src", "edge_pair", "edge_weight", "edge_key", "name_offsets", "pair_src", "pair_dst",
    "pair_weight", "key_file", "key_name",
)  # fmt: skip


def pagerank(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    personalization: np.ndarray | None = None,
) -> np.ndarray:
    """Weighted PageRank of `n` nodes by power iteration; dangling rank goes to the teleport set.

    Self-loops are left out: a file using its own names says nothing about its importance,
    and a self-loop would make its node a sink that hoards rank.
    """
    import numpy as np

    if n == 0:
        return np.zeros(0)
    cross = src != dst
    src, dst, weight = src[cross], dst[cross], weight[cross]
    if personalization is None or personalization.sum() <= 0:
        teleport = np.full(n, 1.0 / n)
    else:
        teleport = personalization / personalization.sum()
    out = np.bincount(src, weights=weight, minlength=n)
    share = weight / out[src]
    dangling = out == 0
    rank = np.full(n, 1.0 / n)
    for _ in range(MAX_ITERATIONS):
        previous = rank
        flow = np.bincount(dst, weights=previous[src] * share, minlength=n)
        rank = DAMPING * (flow + previous[dangling].sum() * teleport) + (1 - DAMPING) * teleport
        if np.abs(rank - previous).sum() < n * TOLERANCE:
            break
    normalized: np.ndarray = rank / rank.sum()
    return normalized


def spread(
    arrays: Mapping[str, np.ndarray], rank: np.ndarray, edge_weight: np.ndarray
) -> np.ndarray:
    """Each file's rank split over its out-edges, summed per definition key (file, name)."""
    import numpy as np

    src, key, key_file = arrays["edge_src"], arrays["edge_key"], arrays["key_file"]
    if not len(edge_weight):
        return np.zeros(len(key_file))
    out = np.bincount(src, weights=edge_weight, minlength=len(rank))
    flow = rank[src] * edge_weight / out[src]
    flow[src == key_file[key]] *= SELF_FLOW
    return np.bincount(key, weights=flow, minlength=len(key_file))


class RefGraph:
    """Files as nodes; edges per (using file, defining file, name), kept as flat arrays.

    Edges are sorted by name, so `name_offsets[k]:name_offsets[k + 1]` are the edges of name
    `k`; each edge also points at its file pair (for PageRank) and at its definition key, the
    (defining file, name) pair that the using file's rank flows to. The static ranking comes
    precomputed (`file_rank`, and definition keys by score: `order_*`); the arrays are read
    only when a query is personalized.
    """

    def __init__(
        self,
        version: int,
        paths: list[str],
        names: list[str],
        static: Mapping[str, array[Any]],
        *,
        arrays: Mapping[str, np.ndarray] | None = None,
        arrays_path: Path | None = None,
        store: TagStore | None = None,
    ) -> None:
        self.version = version
        self.paths = paths
        self.names = names
        self.store = store
        self.file_rank: array[float] = static["file_rank"]  # static PageRank per file
        self.order_score: array[float] = static["order_score"]  # definition keys, best first
        self.order_file: array[int] = static["order_file"]
        self.order_name: array[int] = static["order_name"]
        self.path_index = {path: i for i, path in enumerate(paths)}
        self._arrays = dict(arrays) if arrays is not None else None
        self._arrays_path = arrays_path
        self._name_index: dict[str, int] | None = None
        self._definers: dict[int, list[int]] | None = None  # name id -> file ids
        self._last: tuple[GraphQuery, tuple[np.ndarray, np.ndarray]] | None = None  # one-query memo

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The edge arrays, read from the cache on first use (or rebuilt if it is gone)."""
        if self._arrays is None:
            from codemem.code.graph_build import build_arrays, read_arrays, save_arrays

            try:
                self._arrays = read_arrays(self._arrays_path, self.version)
            except (OSError, ValueError, KeyError, EOFError) as exc:
                if self.store is None or self._arrays_path is None:
                    raise
                log.info("rebuilding graph arrays (%s)", exc)
                paths, names, arrays = build_arrays(self.store)
                if (paths, names) != (self.paths, self.names):
                    raise ValueError("the tag store changed under the graph") from None
                self._arrays = arrays
                try:
                    save_arrays(arrays, self.version, self._arrays_path)
                except OSError as exc:
                    log.warning("cannot cache the graph arrays: %s", exc)
        return self._arrays

    def files_defining(self, name: str) -> list[str]:
        """The files that define `name` (any kind), in path order."""
        if self._definers is None:
            definers: dict[int, list[int]] = {}
            for f, k in zip(self.order_file, self.order_name, strict=True):
                definers.setdefault(k, []).append(f)
            self._definers = definers
        key = self.name_index.get(name)
        return (
            [self.paths[f] for f in sorted(self._definers.get(key, ()))] if key is not None else []
        )

    @property
    def name_index(self) -> dict[str, int]:
        if self._name_index is None:
            self._name_index = {name: k for k, name in enumerate(self.names)}
        return self._name_index

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
        picked = tuple(sorted({self.name_index[n] for n in mentioned if n in self.name_index}))
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
        ranks = self.file_rank if query is None else self._scores(query)[0].tolist()
        return dict(zip(self.paths, ranks, strict=True))

    def file_centrality(self) -> dict[str, float]:
        """Static PageRank scaled so the most central file is 1.0 (a search prior)."""
        top = max(self.file_rank, default=0.0)
        if top <= 0:
            return dict.fromkeys(self.paths, 0.0)
        return {path: rank / top for path, rank in zip(self.paths, self.file_rank, strict=True)}

    def iter_definitions(
        self,
        personalization: Mapping[str, float] | None = None,
        mentioned_idents: Iterable[str] = (),
        *,
        file_weights: Mapping[str, float] | None = None,
    ) -> Iterator[tuple[str, Definition, float]]:
        """Definitions by the rank flowing to them, best first: (path, definition, score).

        Lazy: only the definitions of files actually reached are decoded. `file_weights`
        (> 0) multiplies the scores of a file's definitions (e.g. to demote tests); definitions
        sharing a name in one file share its score and come in line order; ties go by path.
        """
        if self.store is None:
            raise ValueError("this graph was loaded without its tag store")
        weights = {
            self.path_index[p]: w for p, w in (file_weights or {}).items() if p in self.path_index
        }
        query = self._query(personalization, mentioned_idents)
        keys = self._static_keys(weights) if query is None else self._query_keys(query, weights)
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
        self, query: GraphQuery, weights: dict[int, float]
    ) -> Iterator[tuple[float, int, int]]:
        import numpy as np

        a = self.arrays
        scores = self._scores(query)[1]
        if weights:
            factor = np.ones(len(self.paths))
            factor[list(weights)] = list(weights.values())
            scores = scores * factor[a["key_file"]]
        order = np.lexsort((a["key_name"], a["key_file"], -scores))
        files, names = a["key_file"][order].tolist(), a["key_name"][order].tolist()
        yield from zip(scores[order].tolist(), files, names, strict=True)


def cache_paths(index_dir: Path | str, version: int) -> tuple[Path, Path]:
    """Where the graph for tag-store `version` is cached: (static ranking, edge arrays)."""
    index_dir = Path(index_dir)
    return index_dir / f"graph.{version}.pkl", index_dir / f"graph.{version}.npz"


def read_static(path: Path) -> tuple[int, list[str], list[str], dict[str, array[Any]]]:
    """A cached static ranking: (version, paths, names, arrays); ValueError if unusable."""
    key, version, paths, names, static = pickle.loads(path.read_bytes())
    if key != BUILD_KEY:
        raise ValueError("built by other rules")
    return version, paths.split("\0") if paths else [], names.split("\0") if names else [], static


def load_graph(index_dir: Path | str, store: TagStore | None = None) -> RefGraph:
    """The graph for the current tag store: from the cache, or built and cached."""
    index_dir = Path(index_dir)
    if store is None:
        store = TagStore.load(index_dir)
    static_path, arrays_path = cache_paths(index_dir, store.version)
    try:
        version, paths, names, static = read_static(static_path)
        if version == store.version and len(paths) == len(store):
            return RefGraph(version, paths, names, static, arrays_path=arrays_path, store=store)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, TypeError, EOFError, pickle.UnpicklingError) as exc:
        log.debug("rebuilding graph cache %s: %s", static_path, exc)
    from codemem.code.graph_build import build_graph, save_graph

    graph = build_graph(store)
    if index_dir.is_dir():
        try:
            save_graph(graph, index_dir)
        except OSError as exc:
            log.warning("cannot cache the reference graph in %s: %s", index_dir, exc)
    return graph

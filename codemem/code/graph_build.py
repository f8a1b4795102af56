"""Building the reference graph from the tag store, streaming, and its cache file.

Edges follow the rules in `codemem.code.graph`: a file using a name points at every file
defining it, weighted by `name_weight(name) * sqrt(uses)`; names that link everything to
everything only keep their definitions rankable through a weak self-edge, as do definitions
nobody uses.

The build reads the tag store twice, one file at a time (definitions, then references), and
holds flat numpy arrays and the defined names as one sorted blob: memory grows with the
numbers of edges and names, never with the Python objects of every file's tags (the Linux
kernel: 7.8 million edges, 2.7 million names, about 600 MB at the peak). Edges are laid out
by arithmetic, a chunk at a time: each name's edges start at a known offset. The arrays and
their order are exactly those of a plain loop over every name, use and definer.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from codemem.code.columns import Column, Strings, string_columns, write_columns
from codemem.code.graph import (
    BUILD_KEY,
    GRAPH_KIND,
    MAX_DEFINERS,
    SELF_WEIGHT,
    UNREFERENCED_WEIGHT,
    RefGraph,
    cache_path,
    is_ignored_name,
    name_weight,
    pagerank,
    spread,
)
from codemem.code.tags import TagStore

EDGE_CHUNK = 1 << 20  # edges laid out per step: bounds the temporaries
DECODE_BATCH = 1 << 16  # names decoded per step
MATCH_BATCH = 1 << 20  # references matched against the defined names per step
PAIR_RANGES = 8  # ranges of using files whose edges are paired at a time
_TYPECODES = {"int32": "i", "int64": "q", "float64": "d"}


def build_arrays(store: TagStore) -> tuple[list[str], Names, dict[str, np.ndarray]]:
    """(paths, names, edge arrays) of every file in `store`; see `RefGraph` for the layout.

    Names are matched by their (64-bit) hash while the build streams, so no table of every
    name is held as Python objects: two names sharing a hash (odds of about one in a
    million on the Linux kernel's 2.7 million names) would count as one.
    """
    paths = sorted(store.paths)
    # Pass 1: who defines what.
    def_hash, def_file, blob = array("q"), array("i"), bytearray()
    for i, (defs, _) in enumerate(store.scan(paths, references=False)):
        for name in dict.fromkeys(d[0] for d in defs if d[0]):
            def_hash.append(hash(name))
            def_file.append(i)
            blob += name.encode("utf-8", "surrogateescape") + b"\0"
    hashes, first, inverse = np.unique(
        np.frombuffer(def_hash, dtype=np.int64), return_index=True, return_inverse=True
    )
    del def_hash
    ends = np.flatnonzero(np.frombuffer(blob, dtype=np.uint8) == 0)
    starts = np.concatenate(([0], ends[:-1] + 1))
    sorted_names: list[str] = []
    for lo in range(0, len(first), DECODE_BATCH):  # in batches: no list of every offset
        some = first[lo : lo + DECODE_BATCH]
        for a, b in zip(starts[some].tolist(), ends[some].tolist(), strict=True):
            sorted_names.append(blob[a:b].decode("utf-8", "surrogateescape"))
    del blob, ends, starts, first
    sorted_names.sort()
    # Name ids follow the names' order; `hashes` is in hash order.
    sorted_hash = np.fromiter(map(hash, sorted_names), dtype=np.int64, count=len(sorted_names))
    name_of_hash = np.argsort(sorted_hash).astype(np.int32)
    defined = name_of_hash[inverse.ravel()]
    del inverse, hashes
    owners_order = np.lexsort((np.frombuffer(def_file, dtype=np.int32), defined))
    key_name = defined[owners_order]
    key_file = np.frombuffer(def_file, dtype=np.int32)[owners_order]
    del def_file, defined, owners_order
    owners = np.bincount(key_name, minlength=len(sorted_names)).astype(np.int64)
    key_start = np.concatenate(([0], np.cumsum(owners)))
    ignored = np.fromiter(map(is_ignored_name, sorted_names), dtype=bool, count=len(sorted_names))
    linking = (owners <= MAX_DEFINERS) & ~ignored
    names = Names.of(sorted_names)
    del sorted_names, ignored

    # Pass 2: who uses what, for the names that link files (matched by hash, in batches).
    by_hash = np.argsort(sorted_hash[linking])
    link_hash = sorted_hash[linking][by_hash]
    link_id = np.flatnonzero(linking)[by_hash].astype(np.int32)
    del sorted_hash, by_hash
    use_name, use_file, use_count = _uses(store, paths, link_hash, link_id)
    del link_hash, link_id
    use_order = np.lexsort((use_file, use_name))
    u_name, u_file, u_count = use_name[use_order], use_file[use_order], use_count[use_order]
    del use_name, use_file, use_count, use_order
    uses = np.bincount(u_name, minlength=len(names)).astype(np.int64)
    linked = linking & (uses > 0)
    base = np.zeros(len(names))
    for k in np.flatnonzero(linked).tolist():
        base[k] = name_weight(names[k], int(owners[k]))
    per_name = np.where(linked, uses * owners, owners)
    name_offsets = np.concatenate(([0], np.cumsum(per_name)))
    total = int(name_offsets[-1])

    edge_src = np.empty(total, dtype=np.int32)
    edge_key = np.empty(total, dtype=np.int32)
    edge_weight = np.empty(total, dtype=np.float64)
    # Names that link nothing: one weak self-edge per definition.
    lone = np.flatnonzero(~linked)
    for lo, hi in _chunks(owners[lone], EDGE_CHUNK):
        some = lone[lo:hi]
        lone_keys = _ranges(key_start[some], owners[some])
        at = np.repeat(name_offsets[some] - key_start[some], owners[some]) + lone_keys
        edge_src[at] = key_file[lone_keys]
        edge_key[at] = lone_keys
        edge_weight[at] = UNREFERENCED_WEIGHT
    # Uses: each points at every definer of its name, in the definers' order.
    use_start = np.concatenate(([0], np.cumsum(uses)))
    for lo, hi in _chunks(owners[u_name], EDGE_CHUNK):
        used, count = u_name[lo:hi], owners[u_name[lo:hi]]
        rank_in_name = np.arange(lo, hi, dtype=np.int64) - use_start[used]
        first = name_offsets[used] + rank_in_name * count
        at = _ranges(first, count)
        keys_at = _ranges(key_start[used], count)
        src = np.repeat(u_file[lo:hi], count)
        weight = np.repeat(base[used] * np.sqrt(u_count[lo:hi]), count)
        weight[src == key_file[keys_at]] *= SELF_WEIGHT
        edge_src[at], edge_key[at], edge_weight[at] = src, keys_at, weight
    del u_name, u_file, u_count, use_start, owners, uses, key_start, linking, linked, base, per_name

    n = max(len(paths), 1)
    edge_pair, pairs, pair_weight = _pairs(edge_src, key_file[edge_key], edge_weight, n)
    arrays: dict[str, np.ndarray] = {
        "edge_src": edge_src,
        "edge_pair": edge_pair,
        "edge_weight": edge_weight,
        "edge_key": edge_key,
        "name_offsets": name_offsets.astype(np.int64),
        "pair_src": (pairs // n).astype(np.int32),
        "pair_dst": (pairs % n).astype(np.int32),
        "pair_weight": pair_weight,
        "key_file": key_file.astype(np.int32),
        "key_name": key_name.astype(np.int32),
    }
    return paths, names, arrays


def _pairs(
    src: np.ndarray, dst: np.ndarray, weight: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(each edge's file pair, the pairs as `src * n + dst` in order, each pair's weight).

    Done a range of using files at a time, so the sort's temporaries stay a fraction of the
    edges: pairs of a lower range sort first anyway. A pair's weight is the sum of its edges'
    in edge order, as one `bincount` over all edges would add them.
    """
    edge_pair = np.empty(len(src), dtype=np.int32)
    pairs: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    done = 0
    per_range = max(n // PAIR_RANGES + 1, 1)
    for first in range(0, n, per_range):
        edges = np.flatnonzero((src >= first) & (src < first + per_range))
        codes = src[edges].astype(np.int64) * n + dst[edges]
        order = np.argsort(codes, kind="stable")
        codes = codes[order]
        starts = np.concatenate(([True], codes[1:] != codes[:-1])) if len(codes) else codes > 0
        pair_of_sorted = np.cumsum(starts, dtype=np.intp) - 1
        edge_pair[edges[order]] = pair_of_sorted + done
        pairs.append(codes[starts])
        weights.append(np.bincount(pair_of_sorted, weights=weight[edges[order]]))
        done += len(pairs[-1])
    empty = np.zeros(0)
    return (
        edge_pair,
        np.concatenate(pairs) if pairs else empty.astype(np.int64),
        np.concatenate(weights) if weights else empty,
    )


def _uses(
    store: TagStore, paths: list[str], link_hash: np.ndarray, link_id: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(name id, using file, number of uses) of every reference to a linking name."""
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    last = max(len(link_hash) - 1, 0)

    def match(hashes: array[int], files: array[int], counts: array[float]) -> None:
        h = np.frombuffer(hashes, dtype=np.int64)
        at = np.minimum(np.searchsorted(link_hash, h), last)
        hit = link_hash[at] == h if len(link_hash) else np.zeros(len(h), dtype=bool)
        found.append((
            link_id[at[hit]],
            np.frombuffer(files, dtype=np.int32)[hit],
            np.frombuffer(counts, dtype=np.float64)[hit],
        ))  # fmt: skip

    hashes, files, counts = array("q"), array("i"), array("d")
    for i, (_, refs) in enumerate(store.scan(paths, definitions=False)):
        hashes.extend(map(hash, refs))
        files.extend([i] * len(refs))
        counts.extend(refs.values())
        if len(hashes) >= MATCH_BATCH:
            match(hashes, files, counts)
            hashes, files, counts = array("q"), array("i"), array("d")
    match(hashes, files, counts)
    return (
        np.concatenate([f[0] for f in found]),
        np.concatenate([f[1] for f in found]),
        np.concatenate([f[2] for f in found]),
    )


class Names:
    """The sorted names of a graph as its file stores them: NUL-joined UTF-8 and offsets."""

    def __init__(self, blob: Column, offsets: Column) -> None:
        self.blob, self.offsets = blob, offsets
        text = memoryview(blob[1]).cast("B")  # type: ignore[arg-type]
        index = memoryview(offsets[1]).cast("B").cast("q")  # type: ignore[arg-type]
        self._strings = Strings(text, index)

    @classmethod
    def of(cls, names: list[str]) -> Names:
        return cls(*string_columns(names))

    def __len__(self) -> int:
        return len(self._strings)

    def __getitem__(self, k: int) -> str:
        return self._strings[k]


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The concatenation of `arange(s, s + c)` for each start and count."""
    total = int(counts.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    shift = np.repeat(starts - (ends - counts), counts)
    out: np.ndarray = np.arange(total, dtype=np.int64) + shift
    return out


def _chunks(counts: np.ndarray, limit: int) -> Iterator[tuple[int, int]]:
    """[lo, hi) ranges of `counts` each summing to about `limit` (at least one item)."""
    ends = np.cumsum(counts)
    lo = 0
    while lo < len(counts):
        before = int(ends[lo - 1]) if lo else 0
        hi = max(int(np.searchsorted(ends, before + limit, side="right")), lo + 1)
        yield lo, hi
        lo = hi


def build_columns(store: TagStore) -> tuple[dict[str, object], dict[str, Column]]:
    """(meta, columns) of the graph of every file in `store`, with its static ranking."""
    paths, names, arrays = build_arrays(store)
    rank = pagerank(len(paths), arrays["pair_src"], arrays["pair_dst"], arrays["pair_weight"])
    scores = spread(arrays, rank, arrays["edge_weight"])
    order = np.lexsort((arrays["key_name"], arrays["key_file"], -scores))
    top = float(rank.max()) if len(rank) else 0.0
    columns: dict[str, Column] = {}
    columns["paths"], columns["paths_offsets"] = string_columns(paths)
    columns["names"], columns["names_offsets"] = names.blob, names.offsets
    del names
    columns["file_rank"] = ("d", rank)
    columns["centrality"] = ("d", rank / top if top > 0 else np.zeros(len(rank)))
    columns["order_score"] = ("d", scores[order])
    columns["order_file"] = ("i", arrays["key_file"][order])
    columns["order_name"] = ("i", arrays["key_name"][order])
    for name, values in arrays.items():
        columns[name] = (_TYPECODES[values.dtype.name], values)
    meta: dict[str, object] = {"kind": GRAPH_KIND, "build": BUILD_KEY, "version": store.version}
    return meta, columns


def build_graph(store: TagStore, index_dir: Path | None = None) -> RefGraph:
    """Build the graph of `store`: written to `index_dir`'s cache and opened from there
    (older versions deleted), or kept in memory without a folder."""
    meta, columns = build_columns(store)
    if index_dir is None:
        return RefGraph.from_columns(meta, columns, store=store)
    path = cache_path(index_dir, store.version)
    write_columns(path, meta, columns)
    del columns
    for stale in path.parent.glob("graph.*"):
        if stale != path and not stale.name.endswith(".tmp"):
            stale.unlink(missing_ok=True)
    return RefGraph.open(path, store=store)

"""Building the reference graph from the tag store, streaming, and its cache file.

Edges follow the rules in `codemem.code.graph_rank`: a file using a name points at every file
defining it, weighted by `name_weight(name) * sqrt(uses)`; names that link everything to
everything only keep their definitions rankable through a weak self-edge, as do definitions
nobody uses.

The build reads the tag store twice, one file at a time: definitions (`codemem.code.graph_names`:
the defined names as one sorted blob), then references. It holds flat numpy arrays only, and
writes each one ahead to a temporary file as soon as it is final (`ColumnSpool`), so memory
grows with the numbers of edges and names, never with the Python objects of every file's tags,
and the whole graph is never in memory at once (the Linux kernel: 7.8 million edges, 2.7 million
names, a 390 MB file, built in about 10 s of CPU at a peak of about 380 MB). The C heap's free
pages are handed back between phases (`trim_heap`), so one phase's temporaries do not stay
resident through the next (`graph_names.trim_for`: in a graph of at least `TRIM_MIN_NAMES`
names; a small one's are not worth the walk of every arena). Edges are laid out by
arithmetic, a chunk at a time: each name's edges start at a known offset. The arrays and their order are exactly those of a plain loop
over every name, use and definer (`tests/code/test_graph_build.py` holds that loop).
"""

from __future__ import annotations

from array import array
from pathlib import Path

import numpy as np

from codemem.code.columns import ColumnSpool, string_columns, write_columns
from codemem.code.graph import ARRAY_NAMES, GRAPH_KIND, RefGraph, cache_path
from codemem.code.graph_names import defined_names, name_rules, trim_for
from codemem.code.graph_rank import (
    BUILD_KEY,
    MAX_DEFINERS,
    SELF_WEIGHT,
    UNREFERENCED_WEIGHT,
    pagerank,
    spread,
)
from codemem.code.tags import TagStore

EDGE_CHUNK = 1 << 19  # edges laid out per step: bounds the temporaries
MATCH_BATCH = 1 << 20  # references matched against the defined names per step
PAIR_RANGES = 16  # ranges of using files whose edges are paired at a time
_TYPECODES = {"int32": "i", "int64": "q", "float64": "d"}


def build_columns(store: TagStore, spool: ColumnSpool) -> dict[str, object]:
    """Put the graph of every file in `store`, with its static ranking, into `spool`; its
    meta. Each array goes to the spool once it is final and is let go of then."""
    paths = sorted(store.paths)
    (_, path_blob), (_, path_offsets) = string_columns(paths)
    spool.put("paths", "B", path_blob)  # type: ignore[arg-type]
    spool.put("paths_offsets", "q", path_offsets)  # type: ignore[arg-type]
    names = defined_names(store, paths)
    rules = name_rules(names)
    spool.put("names", "B", names.blob)
    spool.put("names_offsets", "q", names.offsets)
    key_name, key_file, count = names.key_name, names.key_file, len(names)
    owners = np.bincount(key_name, minlength=count).astype(np.int64)
    linking = (owners <= MAX_DEFINERS) & ~rules.ignored
    linking_by_hash = linking[names.id_of_hash]
    link_hash, link_id = names.hashes[linking_by_hash], names.id_of_hash[linking_by_hash]
    del names, linking_by_hash
    trim_for(count)  # the name sorting's temporaries leave before the edges take their own

    u_name, u_file, u_count = _uses(store, paths, link_hash, link_id)
    del link_hash, link_id
    uses = np.bincount(u_name, minlength=count).astype(np.int64)
    linked = linking & (uses > 0)
    del linking
    base = np.zeros(count)
    linked_ids = np.flatnonzero(linked)
    base[linked_ids] = rules.weights(linked_ids, owners[linked_ids])
    del rules, linked_ids
    name_offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.where(linked, uses * owners, owners), out=name_offsets[1:])
    use_start = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(uses, out=use_start[1:])
    del uses
    trim_for(count)  # what sorting the uses freed goes back before the edges take their own
    edge_src, edge_key, edge_weight = _lay_out(
        name_offsets, owners, key_file, linked, (u_name, u_file, u_count), use_start, base
    )
    del u_name, u_file, u_count, use_start, owners, base, linked
    spool.put("name_offsets", "q", name_offsets)
    del name_offsets
    trim_for(count)

    edge_pair, pair_src, pair_dst, pair_weight = _pairs(
        edge_src, edge_key, key_file, edge_weight, max(len(paths), 1)
    )
    spool.put("edge_pair", "i", edge_pair)
    del edge_pair
    trim_for(count)
    rank = pagerank(len(paths), pair_src, pair_dst, pair_weight)
    trim_for(count)
    for name, values in (
        ("pair_src", pair_src),
        ("pair_dst", pair_dst),
        ("pair_weight", pair_weight),
    ):
        spool.put(name, _TYPECODES[values.dtype.name], values)
    del pair_src, pair_dst, pair_weight
    edges = {"edge_src": edge_src, "edge_key": edge_key, "key_file": key_file}
    scores = spread(edges, rank, edge_weight)
    spool.put("edge_src", "i", edge_src)
    spool.put("edge_weight", "d", edge_weight)
    spool.put("edge_key", "i", edge_key)
    del edges, edge_src, edge_weight, edge_key
    order = np.lexsort((key_name, key_file, -scores))
    top = float(rank.max()) if len(rank) else 0.0
    # The last columns, held anyway, are written from memory.
    spool.put("file_rank", "d", rank, keep=True)
    spool.put("centrality", "d", rank / top if top > 0 else np.zeros(len(rank)), keep=True)
    spool.put("order_score", "d", scores[order], keep=True)
    spool.put("order_file", "i", key_file[order], keep=True)
    spool.put("order_name", "i", key_name[order], keep=True)
    spool.put("key_file", "i", key_file, keep=True)
    spool.put("key_name", "i", key_name, keep=True)
    del scores, order
    return {"kind": GRAPH_KIND, "build": BUILD_KEY, "version": store.version}


def _lay_out(
    name_offsets: np.ndarray,
    owners: np.ndarray,
    key_file: np.ndarray,
    linked: np.ndarray,
    uses: tuple[np.ndarray, np.ndarray, np.ndarray],
    use_start: np.ndarray,
    base: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(using file, definition key, weight) of every edge, in the order of a plain loop over
    every name, its uses (by file) and its definers (by file), laid out a chunk at a time."""
    total = int(name_offsets[-1])
    edge_src = np.empty(total, dtype=np.int32)
    edge_key = np.empty(total, dtype=np.int32)
    edge_weight = np.empty(total, dtype=np.float64)
    key_start = np.zeros(len(owners) + 1, dtype=np.int64)
    np.cumsum(owners, out=key_start[1:])
    # Names that link nothing: one weak self-edge per definition; names taken in ranges
    # holding about EDGE_CHUNK definitions.
    steps = np.arange(0, max(int(key_start[-1]), 1), EDGE_CHUNK)
    bounds = np.searchsorted(key_start, steps).tolist()
    for lo, hi in zip(bounds, [*bounds[1:], len(owners)], strict=True):
        some = lo + np.flatnonzero(~linked[lo:hi])
        lone_keys = _ranges(key_start[some], owners[some])
        at = np.repeat(name_offsets[some] - key_start[some], owners[some]) + lone_keys
        edge_src[at] = key_file[lone_keys]
        edge_key[at] = lone_keys
        edge_weight[at] = UNREFERENCED_WEIGHT
    # Uses: each points at every definer of its name, in the definers' order; a linking name
    # has at most MAX_DEFINERS of them. The weight is `graph_rank.use_weight`, over arrays.
    u_name, u_file, u_count = uses
    for lo in range(0, len(u_name), EDGE_CHUNK // MAX_DEFINERS):
        hi = min(lo + EDGE_CHUNK // MAX_DEFINERS, len(u_name))
        used = u_name[lo:hi]
        definers = owners[used]
        rank_in_name = np.arange(lo, hi, dtype=np.int64) - use_start[used]
        first = name_offsets[used] + rank_in_name * definers
        at = _ranges(first, definers)
        keys_at = _ranges(key_start[used], definers)
        src = np.repeat(u_file[lo:hi], definers)
        weight = np.repeat(base[used] * np.sqrt(u_count[lo:hi]), definers)
        weight[src == key_file[keys_at]] *= SELF_WEIGHT
        edge_src[at], edge_key[at], edge_weight[at] = src, keys_at, weight
    return edge_src, edge_key, edge_weight


def _pairs(
    src: np.ndarray, key: np.ndarray, key_file: np.ndarray, weight: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(each edge's file pair, the pairs' using and defining files, sorted, each pair's weight).

    Done a range of using files at a time, so the sort's temporaries stay a fraction of the
    edges: pairs of a lower range sort first anyway. A pair's weight is the sum of its edges'
    in edge order, as one `bincount` over all edges would add them.
    """
    edge_pair = np.empty(len(src), dtype=np.int32)
    pair_src: list[np.ndarray] = []
    pair_dst: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    done = 0
    per_range = max(n // PAIR_RANGES + 1, 1)
    for first in range(0, n, per_range):
        edges = np.flatnonzero((src >= first) & (src < first + per_range))
        codes = src[edges].astype(np.int64) * n + key_file[key[edges]]
        order = np.argsort(codes, kind="stable")
        edges = edges[order]
        codes = codes[order]
        del order
        starts = np.concatenate(([True], codes[1:] != codes[:-1])) if len(codes) else codes > 0
        pair_of_sorted = np.cumsum(starts, dtype=np.intp) - 1
        edge_pair[edges] = pair_of_sorted + done
        codes = codes[starts]
        pair_src.append((codes // n).astype(np.int32))
        pair_dst.append((codes % n).astype(np.int32))
        weights.append(np.bincount(pair_of_sorted, weights=weight[edges]))
        done += len(codes)
    if not weights:
        return edge_pair, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0)
    return edge_pair, np.concatenate(pair_src), np.concatenate(pair_dst), np.concatenate(weights)


def _uses(
    store: TagStore, paths: list[str], link_hash: np.ndarray, link_id: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(name id, using file, number of uses) of every reference to a linking name, sorted by
    name, then file."""
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    last = max(len(link_hash) - 1, 0)

    def match(hashes: array[int], users: array[int], uses: array[int], counts: array[int]) -> None:
        """Match the references of the files `users` (uses[k] of file users[k])."""
        files = np.repeat(np.frombuffer(users, dtype=np.int32), np.frombuffer(uses, np.int64))
        h = np.frombuffer(hashes, dtype=np.int64)
        by = np.argsort(h)  # looked up in order, the binary searches stay in cache
        at = np.empty(len(h), dtype=np.intp)
        at[by] = np.searchsorted(link_hash, h[by])
        np.minimum(at, last, out=at)
        hit = link_hash[at] == h if len(link_hash) else np.zeros(len(h), dtype=bool)
        found.append((
            link_id[at[hit]],
            files[hit],
            np.frombuffer(counts, dtype=np.int32)[hit],
        ))  # fmt: skip

    hashes, users, uses, counts = array("q"), array("i"), array("q"), array("i")
    for i, (_, refs) in enumerate(store.scan(paths, definitions=False)):
        if not refs:
            continue
        hashes.extend(map(hash, refs))
        users.append(i)
        uses.append(len(refs))
        counts.extend(refs.values())
        if len(hashes) >= MATCH_BATCH:
            match(hashes, users, uses, counts)
            hashes, users, uses, counts = array("q"), array("i"), array("q"), array("i")
    match(hashes, users, uses, counts)
    del hashes, users, uses, counts
    names = np.concatenate([f[0] for f in found])
    files_of = np.concatenate([f[1] for f in found])
    order = np.lexsort((files_of, names))
    names, files_of = names[order], files_of[order]
    counts_of = np.concatenate([f[2] for f in found])[order]
    return names, files_of, counts_of


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The concatenation of `arange(s, s + c)` for each start and count."""
    total = int(counts.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    shift = np.repeat(starts - (ends - counts), counts)
    out: np.ndarray = np.arange(total, dtype=np.int64) + shift
    return out


COLUMN_ORDER = (
    "paths", "paths_offsets", "names", "names_offsets", "file_rank", "centrality",
    "order_score", "order_file", "order_name", *ARRAY_NAMES,
)  # fmt: skip


def build_graph(store: TagStore, index_dir: Path | None = None) -> RefGraph:
    """Build the graph of `store`: written to `index_dir`'s cache and opened from there
    (older versions deleted), or kept in memory without a folder."""
    with ColumnSpool(index_dir) as spool:
        meta = build_columns(store, spool)
        columns = spool.columns(COLUMN_ORDER)
        if index_dir is None:
            return RefGraph.from_columns(meta, columns, store=store)
        path = cache_path(index_dir, store.version)
        write_columns(path, meta, columns)
    for stale in path.parent.glob("graph.*"):
        if stale != path and not stale.name.endswith(".tmp"):
            stale.unlink(missing_ok=True)
    return RefGraph.open(path, store=store)

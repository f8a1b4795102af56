"""Building the reference graph from the tag store (with numpy), and its cache files.

Edges follow the rules in `codemem.code.graph`: a file using a name points at every file
defining it, weighted by `name_weight(name) * sqrt(uses)`; names that link everything to
everything only keep their definitions rankable through a weak self-edge, as do definitions
nobody uses.
"""

from __future__ import annotations

import math
import pickle
import zipfile
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from codemem.code.graph import (
    ARRAY_NAMES,
    BUILD_KEY,
    MAX_DEFINERS,
    SELF_WEIGHT,
    UNREFERENCED_WEIGHT,
    RefGraph,
    cache_paths,
    is_ignored_name,
    name_weight,
    pagerank,
    spread,
)
from codemem.code.tags import TagStore
from codemem.infra import atomic_file


def build_arrays(store: TagStore) -> tuple[list[str], list[str], dict[str, np.ndarray]]:
    """(paths, names, edge arrays) of every file in `store`; see `RefGraph` for the layout."""
    files = store.files
    paths = sorted(files)
    definers: dict[str, list[int]] = {}
    for i, path in enumerate(paths):
        for name in dict.fromkeys(d[0] for d in files[path].defs if d[0]):
            definers.setdefault(name, []).append(i)
    users: dict[str, list[tuple[int, int]]] = {}
    for i, path in enumerate(paths):
        for name, count in files[path].refs.items():
            if name in definers:
                users.setdefault(name, []).append((i, count))
    names = sorted(definers)
    src: list[int] = []
    dst: list[int] = []
    weight: list[float] = []
    key: list[int] = []
    offsets = [0]
    key_file: list[int] = []
    key_name: list[int] = []
    for k, name in enumerate(names):
        owners = definers[name]
        first_key = len(key_file)
        key_file.extend(owners)
        key_name.extend([k] * len(owners))
        uses = users.get(name)
        if not uses or len(owners) > MAX_DEFINERS or is_ignored_name(name):
            src.extend(owners)
            dst.extend(owners)
            weight.extend([UNREFERENCED_WEIGHT] * len(owners))
            key.extend(range(first_key, first_key + len(owners)))
        else:
            base = name_weight(name, len(owners))
            for user, count in uses:
                w = base * math.sqrt(count)
                for j, owner in enumerate(owners):
                    src.append(user)
                    dst.append(owner)
                    weight.append(w * SELF_WEIGHT if user == owner else w)
                    key.append(first_key + j)
        offsets.append(len(src))
    n = max(len(paths), 1)
    edge_src = np.array(src, dtype=np.int32)
    edge_weight = np.array(weight, dtype=np.float64)
    pairs, edge_pair = np.unique(
        edge_src.astype(np.int64) * n + np.array(dst, dtype=np.int64), return_inverse=True
    )
    edge_pair = edge_pair.ravel()
    arrays: dict[str, np.ndarray] = {
        "edge_src": edge_src,
        "edge_pair": edge_pair.astype(np.int32),
        "edge_weight": edge_weight,
        "edge_key": np.array(key, dtype=np.int32),
        "name_offsets": np.array(offsets, dtype=np.int64),
        "pair_src": (pairs // n).astype(np.int32),
        "pair_dst": (pairs % n).astype(np.int32),
        "pair_weight": np.bincount(edge_pair, weights=edge_weight, minlength=len(pairs)),
        "key_file": np.array(key_file, dtype=np.int32),
        "key_name": np.array(key_name, dtype=np.int32),
    }
    return paths, names, arrays


def _as_array(typecode: str, values: np.ndarray) -> array[Any]:
    out = array(typecode)
    out.frombytes(values.astype(np.float64 if typecode == "d" else np.int32).tobytes())
    return out


def build_graph(store: TagStore) -> RefGraph:
    """Build the graph of every file in `store`, with its static ranking (then cached)."""
    paths, names, arrays = build_arrays(store)
    rank = pagerank(len(paths), arrays["pair_src"], arrays["pair_dst"], arrays["pair_weight"])
    scores = spread(arrays, rank, arrays["edge_weight"])
    order = np.lexsort((arrays["key_name"], arrays["key_file"], -scores))
    static = {
        "file_rank": _as_array("d", rank),
        "order_score": _as_array("d", scores[order]),
        "order_file": _as_array("i", arrays["key_file"][order]),
        "order_name": _as_array("i", arrays["key_name"][order]),
    }
    return RefGraph(store.version, paths, names, static, arrays=arrays, store=store)


def _write_atomically(target: Path, write: Callable[[BinaryIO], None]) -> None:
    with atomic_file(target, durable=False) as handle:  # a cache: rebuilt if a crash loses it
        write(handle)


def save_arrays(arrays: dict[str, np.ndarray], version: int, path: Path) -> None:
    """Write the edge arrays of tag-store `version` (atomically)."""
    header = np.array([BUILD_KEY, version], dtype=np.int64)
    arrays = {name: arrays[name] for name in ARRAY_NAMES}
    payload: dict[str, Any] = {"header": header, **arrays}
    _write_atomically(path, lambda h: np.savez(h, **payload))


def save_graph(graph: RefGraph, index_dir: Path | str) -> tuple[Path, Path]:
    """Cache `graph` (arrays first, then the static ranking) and delete older versions."""
    static_path, arrays_path = cache_paths(index_dir, graph.version)
    save_arrays(graph.arrays, graph.version, arrays_path)
    static = {
        "file_rank": graph.file_rank,
        "order_score": graph.order_score,
        "order_file": graph.order_file,
        "order_name": graph.order_name,
    }
    payload = (BUILD_KEY, graph.version, "\0".join(graph.paths), "\0".join(graph.names), static)
    _write_atomically(static_path, lambda h: pickle.dump(payload, h, pickle.HIGHEST_PROTOCOL))
    for pattern in ("graph.*.npz", "graph.*.pkl"):
        for stale in static_path.parent.glob(pattern):
            if stale not in (static_path, arrays_path):
                stale.unlink(missing_ok=True)
    return static_path, arrays_path


def read_arrays(path: Path | None, version: int) -> dict[str, np.ndarray]:
    """The cached edge arrays of `version`; raises OSError or ValueError when unusable."""
    if path is None:
        raise FileNotFoundError("no graph arrays cached")
    try:
        with np.load(path) as data:
            if data["header"].tolist() != [BUILD_KEY, version]:
                raise ValueError("stale graph arrays")
            return {name: data[name] for name in ARRAY_NAMES}
    except zipfile.BadZipFile as exc:
        raise ValueError(str(exc)) from None

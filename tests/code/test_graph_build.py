"""The graph build against a plain loop over every name, use and definer: the same arrays,
bit for bit, on stores whose names exercise every rule (and both ways of sorting names)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from codemem.code.columns import ColumnSpool, Strings, write_columns
from codemem.code.graph_build import build_graph
from codemem.code.graph_rank import (
    MAX_DEFINERS,
    SELF_FLOW,
    SELF_WEIGHT,
    UNREFERENCED_WEIGHT,
    is_ignored_name,
    name_weight,
    pagerank,
)
from codemem.code.tags import FileTags, TagStore

# Names that exercise each rule: stop names, dunders, one letter, leading digit or `$`,
# snake, kebab, camel and type-like names around the length limits, private names, long
# shared prefixes (the byte sort's ties), and non-ASCII names.
VOCABULARY = [
    "self", "len", "get", "__init__", "__", "___", "_", "x", "Y", "9lives", "$scope", "-dash",
    "run", "main", "Expr", "Symbol", "Abc", "ABCD", "abcD", "parse_config", "parse_conf",
    "a_b", "is-kebab-name", "camelCaseName", "camelCa", "_private_helper", "_x",
    "CONFIG_SHARED_PREFIX_", "CONFIG_SHARED_PREFIX_A", "CONFIG_SHARED_PREFIX_AB",
    "CONFIG_SHARED_PREFIX_ABCDEFGHIJKLMNOP", "CONFIG_SHARED_PREFIX_ABCDEFGHIJKLMNOQ",
    "exactly8", "exactly8b", "exactly8exactly8", "exactly8exactly8x",
    "größe", "naïve_function", "日本語", "Éclair", "éclair", "Ωmega", "zz\u00e9", "zz\U0001f600",
]  # fmt: skip
BROKEN = ["bad\udcff", "x\udc90y", "\udcc3name"]  # undecodable bytes kept as lone surrogates


def random_store(tmp_path, vocabulary: list[str], seed: int) -> TagStore:
    rng = random.Random(seed)
    words = vocabulary + [f"name_{i}" for i in range(60)] + [f"Widely{i}" for i in range(3)]
    files = []
    for i in range(120):
        defined = rng.sample(words, rng.randint(0, 6))
        if i % 4 == 0:
            defined += [f"Widely{j}" for j in range(3)]  # 30 definers: over the limit
        if i % 17 == 0:
            defined += ["run", "run", ""]  # repeated and empty names
        defs = [(n, n, "function", k + 1, k + 2, f"def {n}():") for k, n in enumerate(defined)]
        refs = {n: rng.randint(1, 9) for n in rng.sample(words, rng.randint(0, 12))}
        files.append(FileTags(f"src/m{rng.randint(0, 999):03d}_{i}.py", "python", defs, refs))
    store = TagStore(tmp_path)
    store.update([tags.encoded() for tags in files], [])
    store.save()
    return TagStore.load(tmp_path)


def plain_graph(store: TagStore) -> dict[str, np.ndarray]:
    """Every column of the graph, by plain loops and Python floats."""
    paths = sorted(store.paths)
    definers: dict[str, list[int]] = {}
    for i, path in enumerate(paths):
        for name in dict.fromkeys(d[0] for d in store.definitions(path) if d[0]):
            definers.setdefault(name, []).append(i)
    names = sorted(definers)
    keys = [(k, f) for k, name in enumerate(names) for f in definers[name]]
    key_of = {key: j for j, key in enumerate(keys)}
    uses: dict[str, list[tuple[int, int]]] = {}
    for i, path in enumerate(paths):
        for name, count in store.references(path).items():
            if name in definers:
                uses.setdefault(name, []).append((i, count))
    edges: list[tuple[int, int, float]] = []  # (using file, key, weight)
    name_offsets = [0]
    for k, name in enumerate(names):
        owners = definers[name]
        linking = len(owners) <= MAX_DEFINERS and not is_ignored_name(name)
        if linking and name in uses:
            base = name_weight(name, len(owners))
            for f, count in sorted(uses[name]):
                for d in owners:
                    weight = base * math.sqrt(count)
                    edges.append((f, key_of[(k, d)], weight * SELF_WEIGHT if f == d else weight))
        else:
            edges.extend((d, key_of[(k, d)], UNREFERENCED_WEIGHT) for d in owners)
        name_offsets.append(len(edges))
    pair_ids = {
        pair: j for j, pair in enumerate(sorted({(s, keys[key][1]) for s, key, _ in edges}))
    }
    pair_weight = [0.0] * len(pair_ids)
    for s, key, weight in edges:
        pair_weight[pair_ids[(s, keys[key][1])]] += weight
    pairs = sorted(pair_ids)
    rank = pagerank(
        len(paths),
        np.array([p[0] for p in pairs], dtype=np.int32),
        np.array([p[1] for p in pairs], dtype=np.int32),
        np.array(pair_weight),
    )
    out = [0.0] * len(paths)
    for s, _, weight in edges:
        out[s] += weight
    scores = [0.0] * len(keys)
    for s, key, weight in edges:
        flow = float(rank[s]) * weight / out[s]
        scores[key] += flow * SELF_FLOW if s == keys[key][1] else flow
    order = sorted(range(len(keys)), key=lambda j: (-scores[j], keys[j][1], keys[j][0]))
    top = float(rank.max()) if len(rank) else 0.0
    return {
        "paths": np.array(paths),
        "names": np.array(names, dtype=object),
        "file_rank": rank,
        "centrality": rank / top if top > 0 else np.zeros(len(rank)),
        "order_score": np.array([scores[j] for j in order]),
        "order_file": np.array([keys[j][1] for j in order], dtype=np.int32),
        "order_name": np.array([keys[j][0] for j in order], dtype=np.int32),
        "edge_src": np.array([e[0] for e in edges], dtype=np.int32),
        "edge_pair": np.array([pair_ids[(s, keys[k][1])] for s, k, _ in edges], dtype=np.int32),
        "edge_weight": np.array([e[2] for e in edges]),
        "edge_key": np.array([e[1] for e in edges], dtype=np.int32),
        "name_offsets": np.array(name_offsets, dtype=np.int64),
        "pair_src": np.array([p[0] for p in pairs], dtype=np.int32),
        "pair_dst": np.array([p[1] for p in pairs], dtype=np.int32),
        "pair_weight": np.array(pair_weight),
        "key_file": np.array([f for _, f in keys], dtype=np.int32),
        "key_name": np.array([k for k, _ in keys], dtype=np.int32),
    }


def built_columns(graph) -> dict[str, np.ndarray]:
    opened = graph._opened
    columns = {name: np.asarray(opened.array(name)) for name in graph.arrays}
    for name in ("file_rank", "centrality", "order_score", "order_file", "order_name"):
        columns[name] = np.asarray(opened.array(name))
    columns["paths"] = np.array(graph.paths)
    columns["names"] = np.array(list(graph.names), dtype=object)
    return columns


@pytest.mark.parametrize(
    ("vocabulary", "seed"),
    [(VOCABULARY, 1), (VOCABULARY, 2), (VOCABULARY + BROKEN, 3), ([], 4)],
    ids=["utf8", "utf8-other-seed", "undecodable-names", "generated-names-only"],
)
@pytest.mark.parametrize("cached", [True, False], ids=["file", "memory"])
def test_the_build_equals_a_plain_loop_bit_for_bit(tmp_path, vocabulary, seed, cached):
    store = random_store(tmp_path, vocabulary, seed)
    graph = build_graph(store, tmp_path if cached else None)
    expected, built = plain_graph(store), built_columns(graph)
    assert sorted(built) == sorted(expected)
    for name, values in expected.items():
        assert built[name].dtype == values.dtype or name in ("paths", "names"), name
        assert built[name].tolist() == values.tolist(), name
        if values.dtype.kind == "f":
            assert built[name].tobytes() == values.tobytes(), name


def test_names_are_stored_in_string_order_with_their_bytes(tmp_path):
    store = random_store(tmp_path, VOCABULARY + BROKEN, 5)
    graph = build_graph(store, tmp_path)
    stored = Strings(graph._opened.bytes("names"), graph._opened.view("names_offsets"))
    assert list(stored) == sorted(stored) and len(set(stored)) == len(stored)
    assert set(BROKEN) <= set(stored) and "größe" in set(stored)


def test_an_empty_store_builds_an_empty_graph(tmp_path):
    store = TagStore(tmp_path)
    store.update([FileTags("a.py", "python", [], {"x": 1}).encoded()], [])
    store.save()
    graph = build_graph(TagStore.load(tmp_path), tmp_path)
    assert graph.paths == ["a.py"] and len(graph.names) == 0
    assert all(len(values) == 0 for name, values in graph.arrays.items() if name != "name_offsets")


def test_a_spooled_column_file_is_the_one_written_from_memory(tmp_path):
    columns = {
        "a": ("i", np.arange(5, dtype=np.int32)),
        "b": ("B", b"xyz"),
        "c": ("d", np.array([1.5, -2.0])),
        "empty": ("q", np.zeros(0, dtype=np.int64)),
    }
    write_columns(tmp_path / "direct.bin", {"k": 1}, columns)
    spool_dir = tmp_path / "spool"
    with ColumnSpool(spool_dir) as spool:
        for name in ("c", "empty", "a", "b"):  # put in any order, as they are done
            spool.put(name, *columns[name])
        write_columns(tmp_path / "spooled.bin", {"k": 1}, spool.columns(list(columns)))
        assert list(spool_dir.iterdir()) == []  # the spool has no name: nothing to leave behind
    assert (tmp_path / "spooled.bin").read_bytes() == (tmp_path / "direct.bin").read_bytes()


def test_the_build_leaves_only_the_graph_file_behind(tmp_path):
    store = random_store(tmp_path, VOCABULARY, 6)
    before = {p.name for p in tmp_path.iterdir()}
    build_graph(store, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} - before == {f"graph.{store.version}.bin"}

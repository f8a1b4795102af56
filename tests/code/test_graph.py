"""The tag store, the reference graph and its ranking, on small hand-built repositories."""

from __future__ import annotations

import math
import pickle
from itertools import islice

import numpy as np
import pytest

from codemem.code import graph_build
from codemem.code.graph import cache_path, load_graph
from codemem.code.graph_build import build_graph
from codemem.code.graph_rank import is_ignored_name, name_weight, pagerank
from codemem.code.model import Import, ParsedFile, Reference, Symbol
from codemem.code.tags import FileTags, TagStore, one_line


def fn(name: str, line: int, qualname: str | None = None, kind: str = "function") -> tuple:
    """A definition tuple with a conventional signature."""
    keyword = "class" if kind == "class" else "def"
    return (name, qualname or name, kind, line, line + 3, f"{keyword} {name}():")


# config.py defines what everyone uses; app.py is used by cli.py and the test.
FILES: dict[str, tuple[list[tuple], dict[str, int]]] = {
    "pkg/config.py": ([fn("parse_config", 1), fn("defaults", 10, kind="variable")], {}),
    "pkg/app.py": ([fn("run_app", 1)], {"parse_config": 4, "defaults": 1, "format_output": 1}),
    "pkg/util.py": ([fn("format_output", 1)], {}),
    "pkg/cli.py": ([fn("main", 1)], {"run_app": 1, "parse_config": 1}),
    "tests/test_app.py": ([fn("test_run_app", 1)], {"run_app": 2, "parse_config": 1}),
}


def make_store(index_dir, files=FILES, save: bool = True) -> TagStore:
    store = TagStore.load(index_dir)
    store.update(
        [
            FileTags(path, "python", list(defs), dict(refs)).encoded()
            for path, (defs, refs) in files.items()
        ],
        [],
    )
    if save:
        store.save()
    return store


def edges(graph) -> dict[tuple[str, str, str], float]:
    """{(using file, defining file, name): weight} of every edge, for exact assertions."""
    a = graph.arrays
    out = {}
    for k, name in enumerate(graph.names):
        for e in range(a["name_offsets"][k], a["name_offsets"][k + 1]):
            src = graph.paths[a["edge_src"][e]]
            dst = graph.paths[a["key_file"][a["edge_key"][e]]]
            out[(src, dst, name)] = round(float(a["edge_weight"][e]), 6)
    return out


def order(ranks: dict[str, float]) -> list[str]:
    return sorted(ranks, key=lambda p: (-ranks[p], p))


# -- tags ------------------------------------------------------------------------------------


def test_file_tags_from_parsed_counts_references_and_keeps_source_order():
    parsed = ParsedFile(
        path="a.py",
        language="python",
        symbols=[
            Symbol("b", "A.b", "method", 5, 6, signature="def b(self,\n      x):", parent="A"),
            Symbol("A", "A", "class", 1, 6, signature="class A:"),
        ],
        references=[Reference("f", 2), Reference("g", 3), Reference("f", 4, "call")],
        reference_names=["f", "g", "f"],
        imports=[Import("os", 1), Import("sys", 1), Import("os", 2)],
    )
    assert FileTags.from_parsed(parsed) == FileTags(
        "a.py",
        "python",
        [("A", "A", "class", 1, 6, "class A:"), ("b", "A.b", "method", 5, 6, "def b(self, x):")],
        {"f": 2, "g": 1},
        ["os", "sys"],
    )


def test_multi_line_signatures_become_one_line():
    assert (
        one_line("def f(\n    a: int,\n    b=(1, 2),\n) -> None:")
        == "def f(a: int, b=(1, 2)) -> None:"
    )
    assert one_line("x = [\n  1, 2 ]") == "x = [1, 2]"


def test_store_round_trip_and_lazy_sections(tmp_path):
    store = make_store(tmp_path)
    loaded = TagStore.load(tmp_path)
    assert loaded.exists and loaded.version == store.version > 0
    # Definitions come without decoding the references section.
    assert loaded.definitions("pkg/util.py") == [fn("format_output", 1)]
    assert loaded.paths == list(FILES) and len(loaded) == 5 and "pkg/app.py" in loaded
    assert loaded.get("nowhere.py") is None and loaded.definitions("nowhere.py") == []
    assert loaded._files is None
    assert loaded.files["pkg/app.py"] == FileTags(
        "pkg/app.py", "python", [fn("run_app", 1)], FILES["pkg/app.py"][1], []
    )
    # Saving an undecoded store writes the same sections back.
    fresh = TagStore.load(tmp_path)
    fresh.save()
    assert TagStore.load(tmp_path).files == loaded.files


def test_an_edit_rewrites_only_the_top_file_until_the_base_goes_stale(tmp_path):
    many = [FileTags(f"f{i}.py", "python", [fn(f"f{i}", 1)], {"g": i}) for i in range(40)]
    store = TagStore(tmp_path)
    store.update([tags.encoded() for tags in many], [])
    store.save()
    [base] = tmp_path.glob("tags.base.*.bin")
    written = base.stat().st_mtime_ns, base.stat().st_ino
    # One file changed, one removed, one added (then re-added after a removal: it moves last).
    store.update([FileTags("f3.py", "python", [fn("g3", 2)], {}).encoded()], ["f5.py", "f7.py"])
    store.update([FileTags("new.py", "python", [], {"f3": 1}).encoded(), many[7].encoded()], [])
    store.save()
    assert (base.stat().st_mtime_ns, base.stat().st_ino) == written
    assert list(tmp_path.glob("tags.base.*.bin")) == [base]
    loaded = TagStore.load(tmp_path)
    order = [f"f{i}.py" for i in range(40) if i not in (5, 7)] + ["new.py", "f7.py"]
    assert loaded.paths == store.paths == order
    assert loaded.files == store.files and loaded.version == store.version
    assert loaded.definitions("f3.py") == [fn("g3", 2)]
    assert TagStore.damage(tmp_path) is None
    # Past an eighth of the base's rows stale or elsewhere, the whole store is written anew.
    loaded.update([], [f"f{i}.py" for i in range(10, 20)])
    loaded.save()
    [rewritten] = tmp_path.glob("tags.base.*.bin")
    assert rewritten != base
    assert TagStore.load(tmp_path).files == loaded.files
    # A damaged or missing base file makes the store unreadable, which the indexer rebuilds.
    with rewritten.open("r+b") as handle:
        handle.truncate(rewritten.stat().st_size - 8)
    assert "unreadable" in TagStore.damage(tmp_path)
    assert TagStore.load(tmp_path).exists is False
    rewritten.unlink()
    assert "base file" in TagStore.damage(tmp_path)
    assert TagStore.stored_version(tmp_path) is None


def test_update_bumps_the_version_only_when_tags_change(tmp_path):
    store = make_store(tmp_path)
    first = store.version
    same = FileTags("pkg/util.py", "python", [fn("format_output", 1)], {})
    assert store.update([same.encoded()], ["not/there.py"]) is False
    assert store.version == first
    moved = FileTags("pkg/util.py", "python", [fn("format_output", 2)], {})
    assert store.update([moved.encoded()], []) is True
    second = store.version
    assert second > first
    assert store.update([], ["pkg/cli.py"]) is True
    assert store.version > second and "pkg/cli.py" not in store.files


def test_encoded_tags_are_kept_as_sent_and_compared_by_value(tmp_path):
    store = make_store(tmp_path)
    first = store.version
    same = FileTags("pkg/util.py", "python", [fn("format_output", 1)], {}).encoded()
    assert store.update([same], []) is False
    assert store.version == first
    moved = FileTags("pkg/util.py", "python", [fn("format_output", 2)], {"x": 1}).encoded()
    assert store.update([moved], [], cache=False) is True
    assert store._record("pkg/util.py") == (moved.meta, moved.refs)
    assert store.get("pkg/util.py") == moved.decoded()
    assert store.references("pkg/util.py") == {"x": 1}


def test_encoded_tags_are_the_bytes_of_tags_sent_through_pickle():
    # A worker encodes the tags; the indexer once pickled them after they came through a
    # pipe, where a one-character language is Python's cached string for that character.
    language = "".join(["c", ""])  # "c", but not the cached object
    assert language is not chr(ord("c"))
    tags = FileTags("a.c", language, [fn("c", 1)], {"c": 2})
    sent = pickle.loads(pickle.dumps(tags))
    expected = (
        pickle.dumps((sent.language, sent.defs, sent.imports), pickle.HIGHEST_PROTOCOL),
        pickle.dumps(sent.refs, pickle.HIGHEST_PROTOCOL),
    )
    encoded = tags.encoded()
    assert (encoded.meta, encoded.refs) == expected


def test_missing_or_corrupt_store_loads_empty(tmp_path):
    assert TagStore.load(tmp_path / "nowhere").exists is False
    (tmp_path / "tags.bin").write_bytes(b"not a pickle")
    store = TagStore.load(tmp_path)
    assert (store.exists, store.version, len(store)) == (False, 0, 0)


def test_versions_are_never_reused_after_the_store_is_deleted(tmp_path):
    old = make_store(tmp_path).version
    (tmp_path / "tags.bin").unlink()
    assert make_store(tmp_path).version > old


# -- weights -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "definers", "expected"),
    [
        ("parse_config", 1, 10.0),  # snake_case, 8+ characters
        ("ConfigLoader", 1, 10.0),  # CamelCase
        ("Symbol", 1, 10.0),  # capitalized, type-like
        ("Add", 1, 1.0),  # ... but too short to be specific
        ("HTTP", 1, 1.0),
        ("main-menu-bar", 1, 10.0),  # kebab-case
        ("config", 1, 1.0),  # plain word
        ("parse_it", 1, 10.0),
        ("_private_helper", 1, 1.0),  # x10 long, x0.1 private
        ("_helper", 1, 0.1),
        ("run", 6, 0.1),  # defined in more than five files
    ],
)
def test_name_weight(name, definers, expected):
    assert name_weight(name, definers) == pytest.approx(expected)


def test_ignored_names():
    ignored = ["x", "self", "None", "__init__", "append", "1abc"]
    kept = ["Config", "_private", "parse_config", "$el", "eval"]
    assert [n for n in ignored + kept if is_ignored_name(n)] == ignored


# -- pagerank ----------------------------------------------------------------------------------


def closed_form(n, src, dst, weight, p=None, damping=0.85):
    """PageRank by solving the linear system directly: an independent reference."""
    p = np.full(n, 1.0 / n) if p is None else p / p.sum()
    matrix = np.zeros((n, n))
    out = np.bincount(src, weights=weight, minlength=n)
    for s, d, w in zip(src, dst, weight, strict=True):
        matrix[d, s] += w / out[s]
    matrix += np.outer(p, out == 0)  # dangling nodes jump by the teleport vector
    return np.linalg.solve(np.eye(n) - damping * matrix, (1 - damping) * p)


@pytest.mark.parametrize("personalized", [False, True])
def test_pagerank_matches_the_closed_form(personalized):
    src = np.array([0, 0, 1, 2, 3, 3])
    dst = np.array([1, 2, 2, 0, 2, 1])
    weight = np.array([1.0, 3.0, 1.0, 2.0, 0.5, 0.5])
    p = np.array([0.0, 0.0, 0.0, 1.0, 0.0]) if personalized else None
    got = pagerank(5, src, dst, weight, p)  # node 4 is isolated: dangling
    assert got == pytest.approx(closed_form(5, src, dst, weight, p), abs=1e-5)
    assert got.sum() == pytest.approx(1.0)


def test_pagerank_of_nothing():
    assert pagerank(0, np.zeros(0, int), np.zeros(0, int), np.zeros(0)).shape == (0,)


# -- the graph -------------------------------------------------------------------------------


def test_edges_are_weighted_like_aider(tmp_path):
    files = dict(FILES)
    files["pkg/loop.py"] = (
        [fn("loop_forever", 1), fn("append", 5, "Loop.append", "method")],
        {"loop_forever": 4, "self": 3, "x": 1},
    )
    files["pkg/other.py"] = ([], {"append": 5, "loop_forever": 1})
    graph = build_graph(make_store(tmp_path, files))
    assert edges(graph) == {
        ("pkg/app.py", "pkg/config.py", "defaults"): 1.0,  # uses once, short single word
        ("pkg/loop.py", "pkg/loop.py", "append"): 0.1,  # ignored name: only its self-edge
        ("pkg/app.py", "pkg/util.py", "format_output"): 10.0,
        ("pkg/loop.py", "pkg/loop.py", "loop_forever"): round(10 * math.sqrt(4) * 0.1, 6),
        ("pkg/other.py", "pkg/loop.py", "loop_forever"): 10.0,
        ("pkg/cli.py", "pkg/cli.py", "main"): 0.1,
        ("pkg/app.py", "pkg/config.py", "parse_config"): round(10 * math.sqrt(4), 6),
        ("pkg/cli.py", "pkg/config.py", "parse_config"): 10.0,
        ("tests/test_app.py", "pkg/config.py", "parse_config"): 10.0,
        ("pkg/cli.py", "pkg/app.py", "run_app"): 1.0,  # 7 characters: no bonus
        ("tests/test_app.py", "pkg/app.py", "run_app"): round(math.sqrt(2), 6),
        ("tests/test_app.py", "tests/test_app.py", "test_run_app"): 0.1,  # unused: self-edge
    }


def test_static_ranking_and_centrality(tmp_path):
    graph = build_graph(make_store(tmp_path))
    ranks = graph.rank_files()
    assert order(ranks) == [
        "pkg/config.py",
        "pkg/util.py",
        "pkg/app.py",
        "pkg/cli.py",
        "tests/test_app.py",
    ]
    assert sum(ranks.values()) == pytest.approx(1.0)
    centrality = graph.file_centrality()
    assert centrality["pkg/config.py"] == 1.0
    assert order(centrality) == order(ranks)


def test_personalization_moves_rank_toward_the_focus(tmp_path):
    graph = build_graph(make_store(tmp_path))
    static = graph.rank_files()
    focused = graph.rank_files({"pkg/cli.py": 1.0})
    assert focused["pkg/cli.py"] > 2 * static["pkg/cli.py"]
    assert focused["tests/test_app.py"] < static["tests/test_app.py"]
    # cli.py uses run_app (app.py), which now outranks util.py, used only by app.py; nothing
    # leads to the test any more.
    assert order(focused) == [
        "pkg/cli.py",
        "pkg/config.py",
        "pkg/app.py",
        "pkg/util.py",
        "tests/test_app.py",
    ]
    assert focused["tests/test_app.py"] < 1e-9
    assert graph.rank_files({"unknown.py": 1.0}) == static


def test_ranked_definitions(tmp_path):
    graph = build_graph(make_store(tmp_path))
    ranked = list(graph.iter_definitions())
    assert [(path, d[1]) for path, d, _ in ranked] == [
        ("pkg/config.py", "parse_config"),
        ("pkg/util.py", "format_output"),
        ("pkg/app.py", "run_app"),
        ("pkg/config.py", "defaults"),
        ("pkg/cli.py", "main"),
        ("tests/test_app.py", "test_run_app"),
    ]
    scores = [score for _, _, score in ranked]
    assert scores == sorted(scores, reverse=True)
    assert [d[1] for _, d, _ in islice(graph.iter_definitions(), 2)] == [
        "parse_config",
        "format_output",
    ]
    for personalization in (None, {"pkg/cli.py": 1.0}):  # the static order and a query's
        ranked = [
            (path, d[1])
            for path, d, _ in graph.iter_definitions(
                personalization, first_files=["pkg/app.py", "pkg/cli.py"]
            )
        ]
        assert sorted(ranked[:2]) == [("pkg/app.py", "run_app"), ("pkg/cli.py", "main")]
        unranked = [(path, d[1]) for path, d, _ in graph.iter_definitions(personalization)]
        assert ranked[2:] == [key for key in unranked if key not in ranked[:2]]
    demoted = list(graph.iter_definitions(file_weights={"pkg/config.py": 0.001}))
    assert [d[1] for _, d, _ in demoted] == [
        "format_output",
        "run_app",
        "parse_config",
        "main",
        "test_run_app",
        "defaults",
    ]


def test_mentioned_identifiers_weigh_more(tmp_path):
    graph = build_graph(make_store(tmp_path))
    plain = {d[1]: s for _, d, s in list(graph.iter_definitions())}
    boosted = {d[1]: s for _, d, s in list(graph.iter_definitions(None, ["defaults", "nothing"]))}
    assert boosted["defaults"] > 5 * plain["defaults"]
    assert [d[1] for _, d, _ in list(graph.iter_definitions(None, ["defaults"]))][:2] == [
        "parse_config",
        "defaults",
    ]


def test_definitions_sharing_a_name_share_its_score(tmp_path):
    files = {
        "a.py": ([fn("Shape", 1, kind="class"), fn("area", 3, "Shape.area", "method"),
                  fn("area", 9, "area", "function")], {}),
        "b.py": ([], {"area": 2, "Shape": 1}),
    }  # fmt: skip
    ranked = list(build_graph(make_store(tmp_path, files)).iter_definitions())
    assert [d[1] for _, d, _ in ranked] == ["Shape", "Shape.area", "area"]
    assert ranked[1][2] == ranked[2][2] < ranked[0][2]  # x10 for the type-like name


def test_empty_store(tmp_path):
    graph = load_graph(tmp_path)
    assert (len(graph), graph.rank_files(), graph.file_centrality()) == (0, {}, {})
    assert list(graph.iter_definitions({"x.py": 1.0}, ["x"])) == []


# -- the cache ---------------------------------------------------------------------------------


def cache_files(index_dir) -> list[str]:
    return sorted(p.name for p in index_dir.glob("graph.*"))


def test_graph_is_cached_per_store_version(tmp_path, monkeypatch):
    store = make_store(tmp_path)
    built = []
    real_build = graph_build.build_graph
    monkeypatch.setattr(
        graph_build, "build_graph", lambda s, d=None: built.append(1) or real_build(s, d)
    )

    first = load_graph(tmp_path)
    assert built == [1]
    version = store.version
    assert cache_files(tmp_path) == [f"graph.{version}.bin"]

    warm = load_graph(tmp_path)  # from the cache: nothing rebuilt, same answers
    assert built == [1] and warm._arrays is None  # the static ranking needs no arrays
    assert warm.rank_files() == first.rank_files()
    assert list(warm.iter_definitions()) == list(first.iter_definitions())
    assert warm.file_centrality() == first.file_centrality()
    assert warm._arrays is None
    assert warm.rank_files({"pkg/cli.py": 1}) == first.rank_files({"pkg/cli.py": 1})
    assert warm._arrays is not None and built == [1]

    store.update([FileTags("pkg/extra.py", "python", [], {"parse_config": 1}).encoded()], [])
    store.save()
    stale = load_graph(tmp_path)
    assert built == [1, 1]
    assert "pkg/extra.py" in stale.rank_files()
    version = store.version
    assert cache_files(tmp_path) == [f"graph.{version}.bin"]


def test_static_ranking_with_weights_equals_the_computed_one(tmp_path):
    """The numpy-free static path (merged weight groups) orders like the array path."""
    load_graph(tmp_path, make_store(tmp_path))
    graph = load_graph(tmp_path)  # from the cache
    weights = {"pkg/config.py": 0.01, "tests/test_app.py": 10.0, "pkg/cli.py": 0.01}
    static = list(graph.iter_definitions(file_weights=weights))
    assert graph._arrays is None
    # A uniform teleport is the static ranking, computed with the arrays.
    uniform = dict.fromkeys(graph.paths, 1.0)
    computed = list(graph.iter_definitions(uniform, file_weights=weights))
    assert graph._arrays is not None
    assert [(p, d) for p, d, _ in computed] == [(p, d) for p, d, _ in static]
    assert [s for _, _, s in computed] == pytest.approx([s for _, _, s in static])
    assert [(p, d[1]) for p, d, _ in static] == [
        ("pkg/util.py", "format_output"),
        ("pkg/app.py", "run_app"),
        ("pkg/config.py", "parse_config"),  # x0.01
        ("tests/test_app.py", "test_run_app"),  # x10
        ("pkg/config.py", "defaults"),
        ("pkg/cli.py", "main"),
    ]
    scores = [s for _, _, s in static]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"garbage",
        lambda data: data[: len(data) // 2],  # cut short
        lambda data: data[:20] + b"x" + data[21:],  # the header
    ],
)
def test_unreadable_caches_are_rebuilt(tmp_path, damage):
    from codemem.code.graph import graph_damage

    store = make_store(tmp_path)
    graph = load_graph(tmp_path)
    static, focused = graph.rank_files(), graph.rank_files({"pkg/cli.py": 1.0})
    del graph  # its file is damaged in place below, which codemem itself never does
    path = cache_path(tmp_path, store.version)
    assert graph_damage(tmp_path) is None
    path.write_bytes(damage(path.read_bytes()))
    assert graph_damage(tmp_path) is not None
    rebuilt = load_graph(tmp_path)
    assert rebuilt.rank_files() == static
    assert rebuilt.rank_files({"pkg/cli.py": 1.0}) == focused
    assert graph_damage(tmp_path) is None


def test_a_flipped_bit_in_the_graph_is_found_by_the_damage_check(tmp_path):
    from codemem.code.graph import graph_damage

    store = make_store(tmp_path)
    load_graph(tmp_path)
    path = cache_path(tmp_path, store.version)
    data = path.read_bytes()
    path.write_bytes(data[:-9] + bytes([data[-9] ^ 1]) + data[-8:])
    assert graph_damage(tmp_path) == f"{path.name}: column key_name is damaged"


def test_no_cache_is_written_without_an_index_folder(tmp_path):
    store = make_store(tmp_path / "index", save=False)
    graph = load_graph(tmp_path / "index", store)
    assert len(graph) == 5 and not (tmp_path / "index").exists()


# -- the column files --------------------------------------------------------------------------


def test_a_streamed_store_spills_to_disk_and_reads_back_the_same(tmp_path, monkeypatch):
    from codemem.code import tags as tags_module

    monkeypatch.setattr(tags_module, "SPILL_BYTES", 1)
    store = TagStore(tmp_path)
    for path, (defs, refs) in FILES.items():  # one file per batch, as the indexer streams
        store.update([FileTags(path, "python", list(defs), dict(refs)).encoded()], [], cache=False)
        store.spill()  # saved when what it holds outweighs what is stored
    assert TagStore.stored_version(tmp_path) is not None
    assert store._held > 0 and len(TagStore.load(tmp_path)) < len(FILES)
    store.update([], ["pkg/cli.py"])
    store.save()
    loaded = TagStore.load(tmp_path)
    assert loaded.paths == [p for p in FILES if p != "pkg/cli.py"]
    assert loaded.files == make_store(tmp_path / "other", {
        p: v for p, v in FILES.items() if p != "pkg/cli.py"
    }).files  # fmt: skip
    assert loaded.references("pkg/app.py") == FILES["pkg/app.py"][1]


def test_a_streamed_store_holds_at_most_the_spill_cap(tmp_path, monkeypatch):
    from codemem.code import tags as tags_module

    monkeypatch.setattr(tags_module, "SPILL_MAX_BYTES", 1)  # below what is stored: caps it
    store = TagStore(tmp_path)
    for saved, (path, (defs, refs)) in enumerate(FILES.items(), 1):
        store.update([FileTags(path, "python", list(defs), dict(refs)).encoded()], [], cache=False)
        store.spill()
        assert store._held == 0 and len(TagStore.load(tmp_path)) == saved
    assert TagStore.load(tmp_path).files == make_store(tmp_path / "other", FILES).files


@pytest.mark.parametrize(
    ("how", "damage"),
    [
        ("cut short", lambda data: data[: len(data) - 3]),
        ("emptied", lambda data: b""),
        ("a flipped bit", lambda data: data[:-9] + bytes([data[-9] ^ 1]) + data[-8:]),
    ],
)
def test_a_damaged_tag_store_is_found(tmp_path, how, damage):
    make_store(tmp_path)
    assert TagStore.damage(tmp_path) is None
    path = tmp_path / "tags.bin"
    path.write_bytes(damage(path.read_bytes()))
    assert TagStore.damage(tmp_path) is not None
    if how != "a flipped bit":  # found on open; a flipped bit only by the full check
        assert TagStore.load(tmp_path).exists is False
        assert TagStore.stored_version(tmp_path) is None


def test_a_store_an_older_codemem_pickled_is_not_damage(tmp_path):
    import pickle

    (tmp_path / "tags.bin").write_bytes(pickle.dumps(("codemem-tags", 3, 7, {}), 5))
    assert TagStore.damage(tmp_path) is None
    assert TagStore.load(tmp_path).exists is False


def test_the_search_prior_is_read_without_the_tags_or_the_graph(tmp_path):
    from codemem.code.graph import read_prior

    store = make_store(tmp_path)
    assert read_prior(tmp_path) is None  # no graph built yet
    graph = load_graph(tmp_path)
    prior = read_prior(tmp_path)
    assert prior is not None and dict(prior) == dict(graph.file_centrality())
    assert prior["pkg/config.py"] == 1.0 and max(prior.values()) == 1.0
    assert prior.get("nowhere.py", 0.0) == 0.0 and len(prior) == 5
    assert order(dict(prior)) == order(graph.rank_files())
    store.update([FileTags("pkg/extra.py", "python", [], {"parse_config": 1}).encoded()], [])
    store.save()  # the tags moved on: the last graph's prior serves until the next graph
    assert dict(read_prior(tmp_path)) == dict(prior)
    load_graph(tmp_path)
    assert "pkg/extra.py" in read_prior(tmp_path)
    for path in tmp_path.glob("graph.*.bin"):
        path.write_bytes(b"garbage")
    assert read_prior(tmp_path) is None

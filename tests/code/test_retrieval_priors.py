"""Retrieval priors and indexing choices from issue #13, with exact expectations."""

from __future__ import annotations

import heapq
import random
from collections import Counter
from pathlib import Path

from codemem.code.extract import ExtractSettings, extract_file
from codemem.code.files import path_skip_reason
from codemem.code.fusion import (
    BORROWED_FACTOR,
    LATER_TEST_FACTOR,
    StageResults,
    apply_priors,
    kept_files,
    later_tests_down,
    rank_files,
    rrf,
)
from codemem.code.languages import is_prose
from codemem.code.query import analyze_query
from codemem.code.search import (
    CHUNK_DEPTH,
    FILE_REPEAT_DECAY,
    REPORT_CHUNK_DEPTH,
    chunk_depth,
    spread_over_files,
)
from codemem.code.stages import Candidate

_heappop = heapq.heappop

ISSUE = (
    "Serializer drops nested fields when partial loading is enabled. Loading a schema with "
    "partial=True and a Nested field returns an empty dict; the pytest run below shows it. "
    "The nested schema should receive the partial keys that start with its field name."
)


def test_a_test_word_in_passing_keeps_tests_below_code():
    q = analyze_query(ISSUE)
    assert (q.mentions_tests, q.asks_for_tests) == (True, False)
    scores = apply_priors(
        {"src/schema.py": 1.0, "tests/test_schema.py": 1.0}, q, {}, {}, depth_prior=False
    )
    assert scores == {"src/schema.py": 0.5, "tests/test_schema.py": 0.6}


def test_a_short_query_about_tests_puts_tests_first():
    q = analyze_query("pytest fixtures for the schema")
    assert q.asks_for_tests
    scores = apply_priors(
        {"src/schema.py": 1.0, "tests/test_schema.py": 1.0}, q, {}, {}, depth_prior=False
    )
    assert scores["tests/test_schema.py"] > 1.6 > scores["src/schema.py"]


def test_below_the_kept_files_of_an_issue_report_tests_count_less():
    scores = {"src/a.py": 1.0, "tests/test_a.py": 0.9, "src/b.py": 0.8, "src/c.py": 0.7}
    scores |= {"src/d.py": 0.6, "tests/test_b.py": 0.5, "src/e.py": 0.4}
    later_tests_down(scores, kept_files(scores))
    assert scores["tests/test_a.py"] == 0.9  # among the kept five: never moved
    assert scores["tests/test_b.py"] == 0.25  # below them: under the code ranked after it
    assert [scores[p] for p in ("src/a.py", "src/e.py")] == [1.0, 0.4]

    paths = [p for p in scores if p != "tests/test_a.py"] + ["tests/test_c.py"]
    results = StageResults(files=[Candidate(p, 1.0) for p in paths])
    languages = dict.fromkeys(paths, "python")
    by_query = {}
    about_tests = ISSUE + " The test fixture in the tests skips the nested test cases."
    for text in (ISSUE, "partial loading of nested fields", about_tests):
        q = analyze_query(text)
        ranked = rank_files(results, q, languages, {}, depth_prior=False)
        by_query[(q.is_report, q.asks_for_tests)] = ranked["tests/test_c.py"]
    question, report = by_query[(False, False)], by_query[(True, False)]
    assert report == question * LATER_TEST_FACTOR  # a report, not about tests
    assert by_query[(True, True)] > question  # a report about tests: the test prior's raise


def test_of_two_files_of_one_name_ranked_alike_the_one_nearer_the_root_comes_first():
    q = analyze_query("Schema")
    twins = {"lib/ecto/repo/schema.ex": 1.0, "lib/ecto/schema.ex": 1.0, "lib/ecto/a/b/c.ex": 1.0}
    scores = apply_priors(dict(twins), q, {}, {}, test_prior=False)
    assert 0.9 < scores["lib/ecto/repo/schema.ex"] < scores["lib/ecto/schema.ex"]  # a nudge
    assert scores["lib/ecto/a/b/c.ex"] == 1.0  # depth alone says nothing
    assert apply_priors(dict(twins), q, {}, {}, test_prior=False, depth_prior=False) == twins
    level = {"src/unix/fs.c": 1.0, "src/win/fs.c": 1.0}  # no twin is nearer the root
    assert apply_priors(dict(level), q, {}, {}, test_prior=False) == level


def test_docs_only_when_the_query_is_about_them():
    assert not analyze_query(ISSUE + " See the changelog.").asks_for_docs
    assert analyze_query("changelog entry format").asks_for_docs


def test_grammarless_source_ranks_as_source_and_prose_as_prose():
    assert [
        is_prose(p, "text") for p in ("lib/a.ex", "src/filter.jq", "test/run.bats", "bin/tool")
    ] == [
        False,
        False,
        False,
        False,
    ]
    assert [is_prose(p, "text") for p in ("notes.txt", "setup.cfg", "Makefile", "page.html")] == [
        True
    ] * 4
    assert (is_prose("README.md", "markdown"), is_prose("a.py", "python"), is_prose("a", None)) == (
        True,
        False,
        True,
    )
    scores = apply_priors(
        {"lib/a.ex": 1.0, "README.md": 1.0},
        analyze_query("repo loading"),
        {"lib/a.ex": "text", "README.md": "markdown"},
        {},
        depth_prior=False,
    )
    assert scores == {"lib/a.ex": 1.0, "README.md": 0.5}


def test_every_text_file_is_indexed_but_binary_is_not(tmp_path: Path):
    (tmp_path / "filter.jq").write_text("def keep: select(.ok);\n")
    (tmp_path / "blob.xyz").write_bytes(b"\xff\xfe\x80\x81" * 10)
    settings = ExtractSettings(max_file_bytes=100_000, chunk_lines=60, max_line_chars=400)
    text = extract_file(tmp_path, "filter.jq", None, settings)
    assert (text.status, text.language) == ("indexed", "text")
    assert extract_file(tmp_path, "blob.xyz", None, settings).status == "unsupported"


def test_first_party_vendors_directory_is_indexed():
    assert path_skip_reason("src/vendors/stripe.py") is None
    assert path_skip_reason("vendor/lib/x.go") == "vendored"


def test_a_capitalised_word_may_name_a_type():
    q = analyze_query("How does the Router dispatch a Request to its handler?")
    assert (q.identifiers, q.names) == ([], ["Router", "Request"])
    bare = analyze_query("Router")
    assert (bare.identifiers, bare.exact) == (["Router"], {"Router"})
    assert analyze_query("g").exact == {"g"}
    assert analyze_query("Rack::Response").dotted == ["Rack.Response"]


def test_a_short_question_about_one_name_looks_that_name_up():
    assert analyze_query("what is g?").exact == {"g"}
    assert analyze_query("where is the Router class defined").identifiers == ["Router"]
    # Two words that could be names, or a longer question: no guess.
    assert analyze_query("what is g in flask").exact == set()
    assert analyze_query("how does the Router dispatch").exact == set()
    assert analyze_query("see app/g.py: what is in there").exact == set()


class _Symbols:
    def __init__(self, rows):
        self.rows = rows

    def symbols_named(self, names, **_bounds):
        return [r for r in self.rows if r["name"] in set(names)]


def _sym(path, name, kind, line=1):
    return {
        "path": path,
        "name": name,
        "qualname": name,
        "kind": kind,
        "start_line": line,
        "end_line": line + 5,
    }


def test_the_type_outranks_its_impl_and_test_definitions():
    from codemem.code.stages import symbol_matches

    store = _Symbols(
        [
            _sym("src/impls.rs", "Router", "impl"),
            _sym("src/router.rs", "Router", "struct"),
            _sym("tests/router.rs", "Router", "struct"),
        ]
    )
    found = symbol_matches(store, analyze_query("Router"))
    assert [(c.path, round(c.score, 3)) for c in found] == [
        ("src/router.rs", 0.5),
        ("tests/router.rs", 0.25),
        ("src/impls.rs", 0.167),
    ]
    assert [
        c.path
        for c in symbol_matches(
            _Symbols([_sym("app/globals.py", "g", "variable")]), analyze_query("g")
        )
    ] == ["app/globals.py"]


def test_spans_spread_over_files_and_test_chunks_count_less():
    from codemem.code.search import span_prior, spread_over_files
    from codemem.code.stages import Candidate

    a1, a2, a3 = (Candidate("a.py", 0, n, n + 9) for n in (1, 20, 40))
    b1 = Candidate("b.py", 0, 1, 10)
    ranked = [(a1, 1.0), (a2, 0.9), (a3, 0.8), (b1, 0.6)]
    assert [(c.path, c.start_line, s) for c, s in spread_over_files(ranked, 3)] == [
        ("a.py", 1, 1.0),
        ("b.py", 1, 0.6),
        ("a.py", 20, 0.45),
    ]
    q = analyze_query("parse the header")
    assert span_prior(Candidate("tests/test_a.py", 0, 1, 10), q) == 0.6
    assert span_prior(Candidate("a.py", 0, 3, 3), q) == 1.0


def _spread_by_lowering_every_span(ranked, k):
    """`spread_over_files` as a heap of every span, each lowered when its file is listed
    again: the rule itself, slowly (k times the best file's spans)."""
    heap = [(-score, n, 0) for n, (_, score) in enumerate(ranked)]
    heapq.heapify(heap)
    shown: Counter[str] = Counter()
    out = []
    while heap and len(out) < k:
        neg, n, seen_then = heapq.heappop(heap)
        path = ranked[n][0].path
        if shown[path] != seen_then:
            heapq.heappush(heap, (-ranked[n][1] * FILE_REPEAT_DECAY ** shown[path], n, shown[path]))
            continue
        out.append((ranked[n][0], -neg))
        shown[path] += 1
    return out


def test_spreading_spans_pops_once_a_listed_span_and_lists_what_the_rule_says(monkeypatch):
    rng = random.Random(5)
    for _ in range(300):  # scores with ties, best first, over a few files
        scores = sorted(rng.choice([1.0, 0.5, 0.3, 0.25, rng.random()]) for _ in range(40))
        ranked = [
            (Candidate(f"{rng.choice('abcd')}.py", 0, n, n), score)
            for n, score in enumerate(reversed(scores))
        ]
        k = rng.randint(1, 45)
        assert spread_over_files(ranked, k) == _spread_by_lowering_every_span(ranked, k)
    # One file holding most spans (100,000 one-line definitions): a pop per span listed.
    ranked = [(Candidate("big.py", 0, n, n), 1 / (n + 1)) for n in range(1, 3001)]
    ranked.insert(5, (Candidate("other.py", 0, 1, 1), 0.15))  # between 1/6 and 1/7
    pops = []
    monkeypatch.setattr(heapq, "heappop", lambda heap: pops.append(1) or _heappop(heap))
    listed = spread_over_files(ranked, 1000)
    assert len(pops) == 1000
    assert [(c.path, c.start_line, score) for c, score in listed[:4]] == [
        ("big.py", 1, 1 / 2),
        ("big.py", 2, 1 / 3 * 0.5),
        ("other.py", 1, 0.15),
        ("big.py", 3, 1 / 4 * 0.25),
    ]


def test_a_file_matching_in_several_chunks_passes_one_matching_in_one():
    from codemem.code.fusion import files_by_chunks
    from codemem.code.stages import Candidate

    chunks = [
        Candidate("one_hit.py", 10.0, 1, 1),
        Candidate("many.py", 8.0, 1, 20),
        Candidate("many.py", 4.0, 30, 50),
        Candidate("many.py", 3.0, 60, 80),
        Candidate("other.py", 9.0, 1, 5),
    ]
    # many.py: 8 + 0.3 * (4 + 3) = 10.1 passes one_hit.py's 10 and other.py's 9
    assert files_by_chunks(chunks) == ["many.py", "one_hit.py", "other.py"]


def test_a_file_name_votes_by_how_well_the_query_names_it():
    from codemem.code.fusion import StageResults, rank_files
    from codemem.code.stages import Candidate

    q = analyze_query("store creation")
    results = StageResults(
        chunks=[Candidate("a.ts", 2.0), Candidate("b.ts", 1.0)],
        stems=[Candidate("b.ts", 1.0), Candidate("a.ts", 0.25)],
    )
    scores = rank_files(results, q, dict.fromkeys(["a.ts", "b.ts"], "typescript"), {}, rrf_k=20)
    # b.ts: 1/22 + 0.5/21 (a full name match, the stage's whole vote); a.ts: 1/21 + half of 0.5/22
    assert scores == {"a.ts": 1 / 21 + 0.5 * 0.5 / 22, "b.ts": 1 / 22 + 0.5 / 21}


def test_a_span_in_a_stale_index_is_judged_by_todays_test_rule():
    from codemem.code.search import span_prior
    from codemem.code.stages import Candidate

    q = analyze_query("how bats loads helper libraries")
    stale = Candidate("lib/bats-core/test_functions.bash", 0, 1, 10, is_test=True)
    assert span_prior(stale, q) == 1.0


def test_examples_rank_below_the_library_unless_asked_for():
    from codemem.code.files import is_example_path

    assert is_example_path("_examples/rest/main.go")
    assert is_example_path("docs_src/body/tutorial001.py")
    assert not is_example_path("src/examples.py")
    q = analyze_query("request throttling middleware")
    assert not q.asks_for_examples
    go = {"middleware/throttle.go": "go", "_examples/limits/main.go": "go"}
    scores = apply_priors(
        {"middleware/throttle.go": 1.0, "_examples/limits/main.go": 1.0},
        q,
        go,
        {},
        depth_prior=False,
    )
    assert scores == {"middleware/throttle.go": 1.0, "_examples/limits/main.go": 0.6}
    asked = analyze_query("example of a throttled router")
    assert asked.asks_for_examples
    assert apply_priors({"_examples/limits/main.go": 1.0}, asked, go, {}, depth_prior=False) == {
        "_examples/limits/main.go": 1.0
    }
    assert not analyze_query(ISSUE + " For example, with partial=True.").asks_for_examples


def test_a_list_given_shares_votes_each_entry_by_its_share():
    lists = {"paths": ["a.py", "b.py"], "stems": ["b.py", "c.py"]}
    scores = rrf(lists, {"paths": 1.0, "stems": 0.5}, 20, {"stems": [1.0, 0.25]})
    assert scores == {
        "a.py": 1.0 / 21,
        "b.py": 1.0 / 22 + 0.5 / 21,
        "c.py": 0.5 * 0.25 / 22,
    }


def test_a_file_name_the_query_only_partly_holds_votes_a_share():
    query = analyze_query("plugin state")
    results = StageResults(
        stems=[Candidate("lua/state.lua", 0.5), Candidate("lua/plugin.lua", 0.25)]
    )
    scores = rank_files(results, query, {}, {}, test_prior=False, depth_prior=False)
    assert scores == {"lua/state.lua": 0.5 / 21, "lua/plugin.lua": 0.5 * 0.5 / 22}


def test_an_issue_report_puts_vendored_and_legacy_copies_below_the_code():
    paths = ["lib/compress.c", "vendored/linux/compress.c", "lib/legacy/v01.c", "deps/z.c"]
    languages = dict.fromkeys(paths, "c")
    report = apply_priors(
        dict.fromkeys(paths, 1.0), analyze_query(ISSUE), languages, {}, depth_prior=False
    )
    assert report == {"lib/compress.c": 1.0} | dict.fromkeys(paths[1:], BORROWED_FACTOR)
    question = apply_priors(
        dict.fromkeys(paths, 1.0), analyze_query("zlib compress"), languages, {}, depth_prior=False
    )
    assert question == dict.fromkeys(paths, 1.0)  # a question may be about the copy
    first_party = ["django/contrib/admin/options.py", "django/db/models/query.py"]
    kept = apply_priors(
        dict.fromkeys(first_party, 1.0),
        analyze_query(ISSUE),
        dict.fromkeys(first_party, "python"),
        {},
        depth_prior=False,
    )
    assert kept == dict.fromkeys(first_party, 1.0)  # `contrib/` is often the project's own


def test_an_issue_report_ranks_files_from_a_deeper_chunk_list():
    assert chunk_depth(analyze_query(ISSUE)) == REPORT_CHUNK_DEPTH == 300
    assert chunk_depth(analyze_query("partial loading of nested fields")) == CHUNK_DEPTH == 200
    assert chunk_depth(analyze_query("nested fields"), k=50) == 1000  # k * 20 when more

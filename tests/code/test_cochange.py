"""Co-change companions (issue #13): files that usually change with the best-ranked ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codemem.code import CodeIndex, file_stages, history
from codemem.code.cochange import MAX_FILES_PER_COMMIT, CoChange, companions
from codemem.code.fusion import (
    StageResults,
    add_companions,
    add_counterparts,
    add_used,
    counterparts,
    kept_files,
    rank_files,
    untied_down,
)
from codemem.code.query import analyze_query
from codemem.code.stages import Candidate
from codemem.config import load_config
from codemem.workspace import Workspace
from tests.helpers import git, make_repo

COMMITS = [
    ["src/zip.c", "src/zip.h", "CHANGELOG.md"],
    ["src/zip.c", "src/zip.h", "CHANGELOG.md"],
    ["src/zip.h", "src/zip.c"],
    ["src/zip.c", "src/zip.h"],
    ["src/zip.c", "src/zip.h"],
    ["src/zip.c", "tests/test_zip.c"],
    ["src/zip.c", "tests/test_zip.c"],
    ["src/zip.c", "README.md"],  # one shared commit is no evidence
    ["src/zip.c"],  # a lone file has no partner
    ["README.md", "docs/intro.md"],
    [f"gen/{i}.c" for i in range(MAX_FILES_PER_COMMIT + 1)],  # a sweep, left out
]


def test_partners_are_conditional_shares_with_smoothing():
    cochange = CoChange.from_commits(COMMITS)
    assert len(cochange.commits) == 9
    assert cochange.partners("src/zip.c") == {
        "src/zip.h": 5 / 10,
        "CHANGELOG.md": 2 / 10,
        "tests/test_zip.c": 2 / 10,
    }
    assert cochange.partners("gen/0.c") == {}
    assert companions(cochange, ["src/zip.c", "src/zip.h"]) == {
        "CHANGELOG.md": 2 / 10 + 0.7 * 2 / 7,
        "tests/test_zip.c": 2 / 10,
    }


def test_companions_join_below_the_kept_files_and_never_move_them():
    cochange = CoChange.from_commits(COMMITS)
    scores = {"src/zip.c": 1.0, "a.c": 0.9, "b.c": 0.8, "c.c": 0.7, "d.c": 0.6, "e.c": 0.5}
    add_companions(scores, kept_files(scores), cochange, analyze_query("zip fails on empty input"))
    ranked = sorted(scores, key=lambda p: -scores[p])
    assert ranked[:5] == ["src/zip.c", "a.c", "b.c", "c.c", "d.c"]
    # The header (in half the source's commits: sure) straight after the kept files; the
    # changelog (2 in 10) only raised a little; the test file stays out.
    assert ranked[5:] == ["src/zip.h", "e.c", "CHANGELOG.md"]
    assert scores["src/zip.h"] < scores["d.c"]
    assert scores["CHANGELOG.md"] == 0.25 * 1.0 * (2 / 10)  # × the top score × its share


def test_an_issue_reports_prose_companions_count_more():
    cochange = CoChange.from_commits(COMMITS)
    report = analyze_query(" ".join(["zip fails on empty input and drops the header."] * 4))
    assert report.is_report
    for query, changelog in ((analyze_query("zip"), 2 / 10), (report, 1.5 * 2 / 10)):
        scores = {"src/zip.c": 1.0, "a.c": 0.9, "b.c": 0.8, "c.c": 0.7, "d.c": 0.6}
        add_companions(scores, kept_files(scores), cochange, query)
        assert scores["CHANGELOG.md"] == pytest.approx(0.25 * 1.0 * changelog)
        assert scores["src/zip.h"] < scores["d.c"]  # a source file's odds as they are


def test_companions_must_be_indexed_and_tests_join_only_when_asked():
    cochange = CoChange.from_commits(COMMITS)
    scores = {"src/zip.c": 1.0}
    add_companions(
        scores, kept_files(scores), cochange, analyze_query("zip"), lambda paths: {"CHANGELOG.md"}
    )
    assert list(scores) == ["src/zip.c", "CHANGELOG.md"]
    scores = {"src/zip.c": 1.0}
    add_companions(scores, kept_files(scores), cochange, analyze_query("pytest tests for zip"))
    assert "tests/test_zip.c" in scores


def test_files_the_best_one_uses_join_below_the_kept_files():
    scores = {"api.js": 1.0, "a.js": 0.9, "b.js": 0.8, "c.js": 0.7, "d.js": 0.6}
    scores |= {"e.js": 0.35, "utils.js": 0.1, "test/utils.test.js": 0.2}
    uses = {"api.js": [("utils.js", 3.0), ("lib.js", 1.0), ("test/utils.test.js", 1.0)]}
    used = lambda path: uses.get(path, [])  # noqa: E731
    add_used(scores, kept_files(scores), used, analyze_query("card colour is wrong"), weight=0.5)
    ranked = sorted(scores, key=lambda p: -scores[p])
    assert ranked[:5] == ["api.js", "a.js", "b.js", "c.js", "d.js"]  # never moved
    assert ranked[5:] == ["utils.js", "e.js", "test/utils.test.js"]  # tests not raised
    assert scores["utils.js"] == 0.1 + 0.5 * 1.0 * 3 / 5  # × the top score × its share
    assert "lib.js" not in scores  # only what a stage proposed moves


def test_used_files_join_an_issue_reports_ranking_only():
    results = StageResults(files=[Candidate(p, 1.0) for p in ("api.js", *"abcde", "utils.js")])
    uses = {"api.js": [("utils.js", 3.0)]}
    question = analyze_query("where is the card colour chosen")
    report = analyze_query("The card colour is wrong " * 6)  # 30 words: an issue's text
    assert not question.is_report and report.is_report
    asked: list[str] = []

    def used(path: str) -> list[tuple[str, float]]:
        asked.append(path)
        return uses.get(path, [])

    for query, raised in ((question, False), (report, True)):
        asked.clear()
        ranked = rank_files(results, query, {}, {}, uses=used)
        assert asked == (["api.js"] if raised else [])
        assert (sorted(ranked, key=lambda p: -ranked[p]).index("utils.js") == 5) is raised


def _commit(repo: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "--", *files)
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "repo", commit=False)
    _commit(root, {"src/zip.c": "int zip;\n", "src/zip.h": "int zip;\n"}, "zip")
    _commit(root, {"src/zip.c": "int zip2;\n", "CHANGELOG.md": "- zip\n"}, "fix zip")
    return root


def test_history_is_read_at_head_and_kept_in_a_derived_file(repo: Path, monkeypatch):
    ws = Workspace(repo)
    cochange = history.load_cochange(ws)
    assert cochange is not None
    # The root commit (an initial import) is left out.
    assert cochange.commits == [("CHANGELOG.md", "src/zip.c")]
    stored = ws.local_dir / history.FILE_NAME
    assert json.loads(stored.read_text())["head"] == git(repo, "rev-parse", "HEAD").stdout.strip()

    def no_git(*args, **kwargs):
        raise AssertionError("read git although the file was whole")

    monkeypatch.setattr(history, "read_commits", no_git)
    assert history.load_cochange(ws) == cochange


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # torn
        lambda text: text.replace('"CHANGELOG.md"', '"CHANGELOG.mx"'),  # fails the checksum
        lambda text: json.dumps({**json.loads(text), "commits": [[99]]}),  # bad shape
        lambda text: "\x00\xff garbage",
    ],
)
def test_a_damaged_history_file_is_rebuilt(repo: Path, damage):
    ws = Workspace(repo)
    whole = history.load_cochange(ws)
    stored = ws.local_dir / history.FILE_NAME
    good = stored.read_text()
    stored.write_text(damage(good))
    assert history.load_cochange(ws) == whole
    assert stored.read_text() == good


def test_a_new_commit_refreshes_the_history_and_no_git_means_no_companions(
    repo: Path, tmp_path: Path
):
    ws = Workspace(repo)
    history.load_cochange(ws)
    _commit(repo, {"src/zip.h": "int zip3;\n", "CHANGELOG.md": "- zip3\n"}, "header")
    cochange = history.load_cochange(ws)
    assert cochange is not None and cochange.commits[0] == ("CHANGELOG.md", "src/zip.h")
    plain = tmp_path / "plain"
    plain.mkdir()
    assert history.load_cochange(Workspace(plain)) is None


def test_file_search_lists_the_changelog_that_changes_with_the_fix(repo: Path, monkeypatch):
    for n in range(3):
        _commit(repo, {"src/zip.c": f"int zip_level_{n};\n", "CHANGELOG.md": f"- {n}\n"}, "fix")
    ws = Workspace(repo)
    index = CodeIndex(ws, load_config(ws.config_file))
    index.refresh()
    loads = []
    real = history.load_cochange
    monkeypatch.setattr(history, "load_cochange", lambda w: loads.append(1) or real(w))
    paths = [hit.path for hit in index.search("zip_level_2", level="file")]
    assert paths[0] == "src/zip.c" and "CHANGELOG.md" in paths
    index.search("zip_level_1", level="file")
    assert loads == [1]  # read once per index run, not per query
    ws.config_file.parent.mkdir(parents=True, exist_ok=True)
    ws.config_file.write_text("search:\n  cochange: false\n")
    off = CodeIndex(ws, load_config(ws.config_file))
    assert "CHANGELOG.md" not in [hit.path for hit in off.search("zip_level_2", level="file")]


def test_an_index_run_leaves_the_history_current_so_the_first_search_reads_no_git(
    repo: Path, monkeypatch
):
    ws = Workspace(repo)
    CodeIndex(ws).refresh()
    stored = json.loads((ws.local_dir / history.FILE_NAME).read_text())
    assert stored["head"] == git(repo, "rev-parse", "HEAD").stdout.strip()

    def no_git(*args, **kwargs):
        raise AssertionError("the first search read git although the index run had")

    monkeypatch.setattr(history, "read_commits", no_git)
    assert history.load_cochange(ws) is not None


def test_a_kept_c_file_brings_its_header_below_the_kept_files():
    indexed = file_stages.PathList(
        ["lib/lazy.c", "lib/lazy.h", "lib/fast.c", "include/x.hpp", "src/x.cpp", "a/y.h"]
        + ["b/y.h", "c/y.h", "lib/Lazy.h", "tests/fast.h"]
    )
    assert counterparts("lib/lazy.c", indexed.with_stem) == ["lib/lazy.h"]  # its own folder
    assert counterparts("include/x.hpp", indexed.with_stem) == ["src/x.cpp"]  # one elsewhere
    assert counterparts("src/y.c", indexed.with_stem) == []  # three elsewhere: none is it
    assert counterparts("lib/fast.py", indexed.with_stem) == []  # not a C-family file
    scores = {"lib/lazy.c": 1.0, "a.c": 0.9, "b.c": 0.8, "c.c": 0.7, "lib/fast.c": 0.6}
    scores |= {"d.c": 0.5, "lib/lazy.h": 0.1}
    add_counterparts(scores, kept_files(scores), indexed.with_stem)
    assert scores["lib/lazy.h"] == 0.6 * 0.999  # + half the top score, under the kept files
    assert "tests/fast.h" not in scores  # a test stays where it was
    results = StageResults(files=[Candidate(p, 1.0) for p in scores if p != "lib/lazy.h"])
    report = analyze_query("The lazy matcher reads past the end of the window " * 3)
    question = analyze_query("where does the lazy matcher read the window")
    assert "lib/lazy.h" in rank_files(results, report, {}, {}, with_stem=indexed.with_stem)
    assert "lib/lazy.h" not in rank_files(results, question, {}, {}, with_stem=indexed.with_stem)


def test_a_header_and_its_inline_implementation_are_counterparts():
    indexed = file_stages.PathList(
        ["ondemand/array.h", "ondemand/array-inl.h", "ondemand/object.h", "ondemand/object_impl.h"]
        + ["ondemand/value.h", "ondemand/value.ipp", "other/array.h", "ondemand/array-inl.cpp"]
        + ["src/lazy.cpp", "src/lazy.h", "src/lazy.tpp", "ondemand/parser-inl.h"]
    )
    inline_header = counterparts("ondemand/array-inl.h", indexed.with_stem)
    assert inline_header == ["ondemand/array-inl.cpp", "ondemand/array.h"]  # its source too
    assert counterparts("ondemand/array.h", indexed.with_stem) == ["ondemand/array-inl.h"]
    assert counterparts("ondemand/object_impl.h", indexed.with_stem) == ["ondemand/object.h"]
    assert counterparts("ondemand/value.h", indexed.with_stem) == ["ondemand/value.ipp"]
    assert counterparts("ondemand/value.ipp", indexed.with_stem) == ["ondemand/value.h"]
    # a source keeps its header; the header gains its template file beside it
    assert counterparts("src/lazy.cpp", indexed.with_stem) == ["src/lazy.h"]
    assert counterparts("src/lazy.h", indexed.with_stem) == ["src/lazy.cpp", "src/lazy.tpp"]
    assert counterparts("ondemand/parser-inl.h", indexed.with_stem) == []  # no parser.h
    assert counterparts("lib/array-inl.py", indexed.with_stem) == []  # not a C-family file


# `c.c` changed with `tied.c` twice; nothing else the ranking holds changed with anything.
TIES = [["c.c", "tied.c"], ["c.c", "tied.c"], ["c.c", "x.c"], ["old.c", "older.c"]] * 2
ORDER = ["main.c", "a.c", "b.c", "c.c", "d.c", "lonely.c", "tied.c"]


def test_files_that_never_changed_with_the_first_ten_go_below_those_that_did():
    cochange = CoChange.from_commits(TIES)
    scores = {p: 1.0 - 0.1 * n for n, p in enumerate(ORDER)}
    untied_down(scores, kept_files(scores), cochange)
    ranked = sorted(scores, key=lambda p: -scores[p])
    assert ranked == ["main.c", "a.c", "b.c", "c.c", "d.c", "tied.c", "lonely.c"]  # kept 5 stay
    assert scores["lonely.c"] == pytest.approx(0.5 * 0.5)
    assert scores["tied.c"] == pytest.approx(0.4)  # tied: as it was
    # No history ties any of them: nothing moves.
    scores = {p: 1.0 - 0.1 * n for n, p in enumerate(ORDER)}
    untied_down(scores, kept_files(scores), CoChange.from_commits(TIES[3:4] * 2))
    assert sorted(scores, key=lambda p: -scores[p]) == ORDER


def test_untied_files_go_down_for_an_issue_report_only_and_can_be_switched_off():
    results = StageResults(files=[Candidate(p, 1.0) for p in ORDER])
    cochange = CoChange.from_commits(TIES)
    report = analyze_query("The main loop drops the last frame when the window closes " * 3)
    question = analyze_query("where does the main loop close the window")

    def ranked(query, **options):
        scores = rank_files(results, query, {}, {}, cochange=cochange, **options)
        return sorted(scores, key=lambda p: -scores[p])[5:]

    assert ranked(report) == ["tied.c", "lonely.c"]
    assert ranked(question) == ["lonely.c", "tied.c"]
    assert ranked(report, untied=False) == ["lonely.c", "tied.c"]

"""The manifest store: rows by path in SQLite, saved per batch, never ahead of the tables."""

from __future__ import annotations

import os
import posixpath
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import pytest

from codemem.code import manifest as manifest_module
from codemem.code.file_stages import NameIndex, PathList, path_matches, stem_matches, weigh_frames
from codemem.code.indexer import refresh_index
from codemem.code.integrity import find_damage
from codemem.code.manifest import MANIFEST_NAME, Manifest, damage
from codemem.code.manifest_rows import FileEntry
from codemem.code.query import STOP_WORDS, analyze_query
from codemem.config import load_config
from codemem.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0  # generous bound on waiting for a subprocess (never asserted)

PATHS = {
    "src/pkg/__init__.py": FileEntry("a1", "indexed", "python", 1, 1, 0),
    "src/pkg/mod.py": FileEntry("a2", "indexed", "python", 3, 2, 0),
    "tests/test_mod.py": FileEntry("a3", "indexed", "python", 2, 2, 1),
    "docs/Mod.md": FileEntry("a4", "indexed", "markdown", 0, 1, 0),
    "lib/mod.tar.gz": FileEntry("a5", "binary", None, 0, 0, 0),
    "web/app.js": FileEntry("a6", "indexed", "javascript", 4, 3, 0),
    "odd\udcffname.py": FileEntry("a7", "indexed", "python", 1, 1, 0),  # not UTF-8 on disk
    ".env": FileEntry(None, "secret", None, 0, 0, 0),
}


def saved(index_dir: Path, files: dict[str, FileEntry] = PATHS) -> Manifest:
    manifest = Manifest("fp1")
    manifest.files.update(files)
    manifest.full_text = True
    manifest.save(index_dir)
    return manifest


def test_a_saved_manifest_reads_back_row_by_row_and_whole(tmp_path):
    saved(tmp_path)
    loaded = Manifest.load(tmp_path)
    assert (loaded.fingerprint, loaded.full_text, loaded.listing) == ("fp1", True, "")
    assert loaded.entry("src/pkg/mod.py") == PATHS["src/pkg/mod.py"]
    assert loaded.entry("missing.py") is None
    assert loaded.languages(["web/app.js", "docs/Mod.md", "missing.py", "odd\udcffname.py"]) == {
        "web/app.js": "javascript",
        "docs/Mod.md": "markdown",
        "odd\udcffname.py": "python",
    }
    assert loaded.totals() == (6, 11, 10)
    assert loaded.indexed_paths() == sorted(p for p, e in PATHS.items() if e.status == "indexed")
    assert loaded.files == PATHS
    assert list(loaded.files) == sorted(PATHS)


def test_the_totals_follow_every_change_without_counting_every_row(tmp_path):
    saved(tmp_path)
    manifest = Manifest.load(tmp_path)
    files = manifest.files
    assert manifest.totals() == (6, 11, 10)
    files["web/app.js"] = FileEntry("c1", "indexed", "javascript", 9, 7, 0)  # was 4, 3
    files["lib/mod.tar.gz"] = FileEntry("c2", "indexed", "text", 0, 2, 0)  # was binary
    del files["docs/Mod.md"]
    files.pop("src/pkg/__init__.py")
    files["new.py"] = FileEntry("c3", "indexed", "python", 1, 1, 0)
    files["new.py"] = FileEntry("c4", "binary", None, 0, 0, 0)
    assert manifest.totals() == (5, 15, 14)
    manifest.save(tmp_path)
    files["tests/test_mod.py"] = FileEntry("c5", "too_large", None, 0, 0, 0)
    assert manifest.totals() == (4, 13, 12)
    manifest.save(tmp_path)
    assert Manifest.load(tmp_path).totals() == (4, 13, 12)
    files.clear()
    assert manifest.totals() == (0, 0, 0)


def test_an_incremental_save_writes_only_what_changed(tmp_path):
    saved(tmp_path)
    manifest = Manifest.load(tmp_path)
    del manifest.files["web/app.js"]
    manifest.files.update({"web/new.js": FileEntry("b1", "indexed", "javascript", 1, 1, 0)})
    manifest.files["src/pkg/mod.py"] = FileEntry("b2", "indexed", "python", 5, 4, 0)
    manifest.runs_since_maintain = 3
    manifest.save(tmp_path)
    expected = {k: v for k, v in PATHS.items() if k != "web/app.js"}
    expected["web/new.js"] = FileEntry("b1", "indexed", "javascript", 1, 1, 0)
    expected["src/pkg/mod.py"] = FileEntry("b2", "indexed", "python", 5, 4, 0)
    again = Manifest.load(tmp_path)
    assert (again.files, again.runs_since_maintain) == (expected, 3)
    assert again == manifest


def test_the_path_stage_reads_the_same_from_the_manifest_as_from_a_list(tmp_path):
    saved(tmp_path)
    loaded = Manifest.load(tmp_path)
    listed = PathList([p for p, e in PATHS.items() if e.status == "indexed"])
    for stem in ("mod", "test_mod", "__init__", "app", "gz", "oddname"):
        assert loaded.with_stem(stem) == listed.with_stem(stem), stem
    for last in ("mod", "pkg", "__init__", "app", "tar", "test_mod"):
        assert loaded.with_module_part(last) == listed.with_module_part(last), last
    assert loaded.with_module_part("pkg") == [("src.pkg", "src/pkg/__init__.py")]
    query = analyze_query(
        'File "/venv/site-packages/pkg/mod.py", line 3, in run\n  pkg.mod failed in test_mod'
    )
    found = [(c.path, c.score, c.start_line) for c in path_matches(loaded, query)]
    assert found == [(c.path, c.score, c.start_line) for c in path_matches(listed, query)]
    assert found[:2] == [("src/pkg/mod.py", 3.0, 3), ("tests/test_mod.py", 0.5, 0)]


NAME_WORDS = ["mod", "test", "app", "init", "new", "oddname", "hashcodebuild", "hash", "build"]


def test_the_name_words_follow_files_added_changed_and_removed(tmp_path):
    saved(tmp_path)
    loaded = Manifest.load(tmp_path)
    listed = NameIndex([p for p, e in PATHS.items() if e.status == "indexed"])
    assert loaded.with_name_words(NAME_WORDS) == listed.with_name_words(NAME_WORDS)
    assert loaded.with_name_words(["mod"]) == {
        "mod": [("docs/Mod.md", 1), ("src/pkg/mod.py", 1), ("tests/test_mod.py", 2)]
    }
    for name in ("mod.py", "Mod.md", "__init__.py", "odd\udcffname.py", "mod.tar.gz", "nope.py"):
        assert loaded.with_name(name) == listed.with_name(name), name
    # Added, removed, no longer indexed, indexed again under a changed status.
    loaded.files["lib/HashCodeBuilder.java"] = FileEntry("c1", "indexed", "java", 1, 1, 0)
    del loaded.files["web/app.js"]
    loaded.files["docs/Mod.md"] = FileEntry("c2", "too-large", None, 0, 0, 0)
    loaded.files["lib/mod.tar.gz"] = FileEntry("c3", "indexed", None, 0, 1, 0)
    loaded.save(tmp_path)
    again = Manifest.load(tmp_path)
    listed = NameIndex([p for p, e in again.files.items() if e.status == "indexed"])
    assert again.with_name_words(NAME_WORDS) == listed.with_name_words(NAME_WORDS)
    assert again.with_name_words(["mod", "app", "hash"]) == {
        "mod": [("lib/mod.tar.gz", 1), ("src/pkg/mod.py", 1), ("tests/test_mod.py", 2)],
        "hash": [("lib/HashCodeBuilder.java", 3)],
    }
    query = analyze_query("hash code builder")
    assert [(c.path, c.score) for c in stem_matches(again, query)] == [
        (c.path, c.score) for c in stem_matches(listed, query)
    ]
    assert stem_matches(again, query)[0].path == "lib/HashCodeBuilder.java"


def tracked_paths() -> list[str]:
    """This repository's tracked files: a real tree for the path stages."""
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return sorted(set(listed.splitlines()))


def test_frames_and_file_name_words_read_the_same_from_the_manifest_as_from_a_list(tmp_path):
    paths = tracked_paths()
    saved(tmp_path, {p: FileEntry("x", "indexed", "python") for p in paths})
    loaded, listed = Manifest.load(tmp_path), NameIndex(paths)
    for text in [*QUERIES, "how the lockfile checks the manifest", "stages fusion ranking"]:
        query = analyze_query(text)
        from_manifest = [(c.path, c.score) for c in stem_matches(loaded, query)]
        assert from_manifest == [(c.path, c.score) for c in stem_matches(listed, query)], text
        weigh_frames(query.frames, loaded)
        weights = [f.weight for f in query.frames]
        weigh_frames(query.frames, listed)
        assert weights == [f.weight for f in query.frames], text


@pytest.mark.parametrize("how", ["truncate", "random", "empty", "torn page"])
def test_damage_is_named(tmp_path, how):
    saved(
        tmp_path, {f"src/m{n}.py": FileEntry(f"{n:040}", "indexed", "python") for n in range(3000)}
    )
    path = tmp_path / MANIFEST_NAME
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "random":
        path.write_bytes(os.urandom(len(data)))
    elif how == "empty":
        path.write_bytes(b"")
    else:
        middle = len(data) // 2
        path.write_bytes(data[:middle] + b"\xff\xfe\xc3\x28\x80" + data[middle:])
    assert damage(tmp_path) is not None
    assert damage(tmp_path).startswith(MANIFEST_NAME)


def test_a_manifest_without_its_name_words_is_damage_and_an_older_schema_is_rebuilt(tmp_path):
    saved(tmp_path)
    db = sqlite3.connect(tmp_path / MANIFEST_NAME)
    db.execute("DROP TABLE name_words")
    db.commit()
    assert damage(tmp_path) is not None and damage(tmp_path).startswith(MANIFEST_NAME)
    db.execute("UPDATE meta SET value = 2 WHERE key = 'schema'")  # before the name words
    db.commit()
    db.close()
    assert damage(tmp_path) is None  # another format is not damage: the indexer rebuilds it
    assert Manifest.load(tmp_path) is None


def test_a_missing_manifest_beside_tables_is_damage_but_an_old_json_one_is_not(tmp_path):
    (tmp_path / "chunks.lance").mkdir()
    assert find_damage(tmp_path, deep=False) == f"{MANIFEST_NAME} is missing"
    (tmp_path / "manifest.json").write_text("{}")  # an earlier codemem's index: rebuilt quietly
    assert find_damage(tmp_path, deep=False) is None
    assert Manifest.load(tmp_path) is None


def _child(script: str, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args], env=env)


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + WAIT
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_save_killed_mid_write_leaves_the_last_committed_manifest(tmp_path):
    first = {f"src/m{n}.py": FileEntry(f"{n:040}", "indexed", "python", 1, 1) for n in range(2000)}
    saved(tmp_path, first)
    before = (tmp_path / MANIFEST_NAME).read_bytes()
    marker = tmp_path / "writing"
    proc = _child(
        """
        import sys, time
        from pathlib import Path
        from codemem.code import manifest as m

        index_dir, marker = Path(sys.argv[1]), Path(sys.argv[2])
        real = m._rows

        def slow(files, paths):
            for n, row in enumerate(real(files, paths)):
                if n == 1000:  # half the rows are in the transaction: stop here
                    marker.write_text("x")
                    time.sleep(600)
                yield row

        m._rows = slow
        manifest = m.Manifest.load(index_dir)
        manifest._db.execute("PRAGMA cache_size = 2")  # pages spill into the file mid-write
        for path, entry in list(manifest.files.items()):
            manifest.files[path] = m.FileEntry("new", "indexed", "python", 9, 9)
        manifest.full_text = False
        manifest.save(index_dir)
        """,
        str(tmp_path),
        str(marker),
    )
    try:
        _wait_for(marker)
        assert (tmp_path / f"{MANIFEST_NAME}-journal").exists()  # the transaction is open
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(WAIT)
    assert (tmp_path / MANIFEST_NAME).read_bytes() != before  # half a save reached the file
    assert damage(tmp_path) is None
    loaded = Manifest.load(tmp_path)
    assert (loaded.files, loaded.full_text) == (first, True)  # rolled back: nothing half-saved
    loaded.files["src/m0.py"] = FileEntry("next", "indexed", "python", 2, 2)
    loaded.save(tmp_path)  # the next writer goes on from there
    assert Manifest.load(tmp_path).entry("src/m0.py") == FileEntry(
        "next", "indexed", "python", 2, 2
    )


def test_readers_see_whole_saves_while_another_process_writes(tmp_path):
    paths = [f"src/m{n}.py" for n in range(500)]
    saved(tmp_path, {p: FileEntry("0", "indexed", "python", 0, 0) for p in paths})
    done = tmp_path / "done"
    proc = _child(
        """
        import sys
        from pathlib import Path
        from codemem.code import manifest as m

        index_dir, done = Path(sys.argv[1]), Path(sys.argv[2])
        manifest = m.Manifest.load(index_dir)
        for generation in range(1, 41):
            for path in list(manifest.files):
                manifest.files[path] = m.FileEntry(str(generation), "indexed", "python", generation)
            manifest.save(index_dir)
        done.write_text("x")
        """,
        str(tmp_path),
        str(done),
    )
    seen: set[int] = set()
    deadline = time.monotonic() + WAIT
    try:
        while not done.exists() and time.monotonic() < deadline:
            reader = Manifest.load(tmp_path)
            generations = {e.symbols for e in reader.files.values()}
            assert len(generations) == 1 and len(reader.files) == len(paths)
            assert reader.totals() == (len(paths), len(paths) * min(generations), 0)
            seen |= generations
            reader.close()
    finally:
        assert proc.wait(WAIT) == 0
    assert {e.symbols for e in Manifest.load(tmp_path).files.values()} == {40}
    assert len(seen) > 1  # the reads overlapped the writes


def test_a_no_op_refresh_reads_no_manifest_row(repo_factory, monkeypatch):
    repo = repo_factory("shop")
    ws = Workspace(repo)
    config = load_config(ws.config_file)
    refresh_index(ws, config)
    assert refresh_index(ws, config).up_to_date  # records the listing it found unchanged

    def no_rows(self):
        raise AssertionError("read every row")

    with monkeypatch.context() as patch:
        patch.setattr(Manifest, "files", property(no_rows))
        summary = refresh_index(ws, config)
    assert summary.up_to_date and summary.files == 12
    cart = repo / "shop" / "cart.py"
    cart.write_text(cart.read_text() + "\n\ndef extra():\n    return 1\n")
    summary = refresh_index(ws, config)
    assert (summary.up_to_date, summary.changed) == (False, 1)
    cart.write_text(cart.read_text().replace("\n\ndef extra():\n    return 1\n", ""))
    summary = refresh_index(ws, config)  # back as it was: a real change again, not a no-op
    assert (summary.up_to_date, summary.changed) == (False, 1)
    assert manifest_module.Manifest.load(ws.index_dir).listing != ""


def test_an_index_run_keeps_the_name_words_of_added_changed_and_removed_files(repo_factory):
    repo = repo_factory("shop")
    ws = Workspace(repo)
    config = load_config(ws.config_file)

    def names_of(words: list[str]) -> dict[str, list[str]]:
        loaded = Manifest.load(ws.index_dir)
        listed = NameIndex(loaded.indexed_paths())
        found = loaded.with_name_words(words)
        assert found == listed.with_name_words(words)
        loaded.close()
        return {w: [p for p, _ in hits] for w, hits in found.items()}

    words = ["cart", "price", "check", "token"]
    refresh_index(ws, config)
    assert names_of(words) == {
        "cart": ["shop/cart.py", "tests/test_cart.py", "web/static/cart.js"],
        "token": ["shop/auth/tokens.py"],
    }
    (repo / "shop" / "PriceChecker.py").write_text("def check_price():\n    return 1\n")
    (repo / "shop" / "cart.py").unlink()
    refresh_index(ws, config)
    checker = ["shop/PriceChecker.py"]
    assert names_of(words) == {
        "cart": ["tests/test_cart.py", "web/static/cart.js"],
        "price": checker,
        "check": checker,
        "token": ["shop/auth/tokens.py"],
    }
    (repo / "shop" / "PriceChecker.py").write_text("def check_price():\n    return 2\n")
    assert refresh_index(ws, config).changed == 1
    assert names_of(["price", "check"]) == {"price": checker, "check": checker}


def _path_matches_by_scanning(paths: list[str], query) -> list[tuple[str, float, int]]:
    """The path stage as it was, a loop over every path per query: the oracle."""

    def suffix(mention: list[str], path: list[str]) -> int:
        n = 0
        for a, b in zip(reversed(mention), reversed(path), strict=False):
            if a != b:
                break
            n += 1
        return n

    scores: dict[str, float] = defaultdict(float)
    lines: dict[str, int] = {}
    split_paths = [(p, p.split("/")) for p in paths]
    frame_weight: dict[str, float] = {}
    for frame in query.frames:
        frame_weight[frame.path] = max(frame_weight.get(frame.path, 0.0), frame.weight)
    for mention, line in query.paths:
        if mention.startswith("<"):
            continue
        parts = posixpath.normpath(mention.replace("\\", "/")).lstrip("./").split("/")
        best, matched = 0, []
        for path, pparts in split_paths:
            n = suffix(parts, pparts)
            if n > best:
                best, matched = n, [path]
            elif n == best and n:
                matched.append(path)
        weight = frame_weight.get(mention, 1.0)
        for path in matched[:5]:
            scores[path] += best * weight / len(matched)
            if line:
                lines.setdefault(path, line)
    without_ext: defaultdict[str, list[str]] = defaultdict(list)
    by_stem: defaultdict[str, list[str]] = defaultdict(list)
    for path, pparts in split_paths:
        stem = pparts[-1].rsplit(".", 1)[0]
        by_stem[stem.lower()].append(path)
        without_ext[path.rsplit(".", 1)[0].replace("/", ".")].append(path)
        if stem == "__init__":
            without_ext[posixpath.dirname(path).replace("/", ".")].append(path)
    for dotted in query.dotted:
        for key, hits in without_ext.items():
            if key == dotted or key.endswith("." + dotted):
                for path in hits:
                    scores[path] += 1.0 / len(hits)
    for word in dict.fromkeys(w.lower() for w in query.identifiers):
        hits = by_stem.get(word, [])
        if hits and len(hits) <= 3 and word not in STOP_WORDS and len(word) > 2:
            for path in hits:
                scores[path] += 0.5 / len(hits)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    return [(p, s, lines.get(p, 0)) for p, s in ranked]


QUERIES = [
    'Traceback (most recent call last):\n  File "/venv/lib/site-packages/codemem/code/search.py",'
    ' line 12, in search\n  File "codemem/code/stages.py", line 40, in path_matches\nValueError',
    "codemem.code.manifest Manifest.load fails",
    "`codemem.code` and codemem.cli.search_command",
    "tests/code/test_manifest.py test_manifest stages",
    "where is fusion rank_files defined, see fusion.py and rows",
    "README.md architecture docs/architecture.md",
    "pyproject.toml __init__ conftest",
    "tests.code.conftest and code/__init__.py",
]


@pytest.mark.parametrize("text", QUERIES)
def test_the_path_stage_finds_what_a_scan_of_every_path_found(tmp_path, text):
    paths = tracked_paths()
    saved(tmp_path, {p: FileEntry("x", "indexed", "python") for p in paths})
    query = analyze_query(text)
    found = [(c.path, c.score, c.start_line) for c in path_matches(Manifest.load(tmp_path), query)]
    assert found == _path_matches_by_scanning(paths, query)
    assert found  # each query names some file

"""A refresh reads only the manifest rows of paths whose listing entries changed since the
listing the manifest completed (`codemem.code.worktree.save_listing`): the index must still
equal a full rebuild after every kind of change, a damaged record, and a stopped run."""

from __future__ import annotations

import hashlib
import json
import os
import signal
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from codemem.code.index_status import collect_status
from codemem.code.manifest import Manifest
from codemem.code.worktree import LISTING_FILE, ListingSettings, WorkTree, save_listing
from codemem.config import load_config
from codemem.workspace import Workspace
from tests.code.test_indexer import assert_equals_full_rebuild, index
from tests.code.test_indexer_interrupts import add_modules, start_index
from tests.code.test_publish import clone, commit_edit, index_json, symbol_paths
from tests.helpers import git


@pytest.fixture
def whole_reads(monkeypatch) -> list[int]:
    """Counts the reads of every manifest row (one per run that cannot use the record)."""
    reads: list[int] = []
    monkeypatch.setattr(Manifest, "_read_all", counted_reads(reads))
    return reads


def counted_reads(reads: list[int]):
    read_all = Manifest._read_all

    def counted(self: Manifest) -> None:
        reads.append(1)
        read_all(self)

    return counted


def test_a_one_file_edit_reads_only_the_rows_it_touches(repo_factory, tmp_path, whole_reads):
    repo = repo_factory("shop")
    index(repo)
    assert (Workspace(repo).index_dir / LISTING_FILE).is_file()
    whole_reads.clear()
    cart = repo / "shop" / "cart.py"
    cart.write_text(cart.read_text() + "\n\ndef checkout(cart):\n    return cart.total()\n")
    summary = index(repo)
    assert (summary.added, summary.changed, summary.removed) == (0, 1, 0)
    assert summary.files == 12
    assert whole_reads == []
    assert_equals_full_rebuild(repo, tmp_path)


def test_every_kind_of_change_through_the_record_equals_a_full_rebuild(
    repo_factory, tmp_path, whole_reads
):
    repo = repo_factory("shop")
    index(repo)
    cart = repo / "shop" / "cart.py"
    original = cart.read_text()
    steps = [
        lambda: cart.write_text(original + "\n\ndef later():\n    return 1\n"),  # C entry
        lambda: cart.write_text(original),  # the C entry gone: back to git's blob
        lambda: (repo / "shop" / "fresh.py").write_text("def fresh():\n    return 1\n"),
        lambda: (repo / "shop" / "fresh.py").write_text("def fresher():\n    return 2\n"),
        lambda: git(repo, "add", "shop/fresh.py"),  # untracked to tracked, same content
        lambda: (repo / "shop" / "fresh.py").unlink(),  # still in git's index
        lambda: git(repo, "rm", "-q", "--cached", "shop/fresh.py"),
        lambda: git(repo, "mv", "shop/payments.py", "shop/billing.py"),
        lambda: os.chmod(repo / "shop" / "billing.py", 0o755),  # the mode alone changes
        lambda: git(repo, "commit", "-qam", "billing"),
        lambda: git(repo, "checkout", "-q", "HEAD~1"),
        lambda: git(repo, "checkout", "-q", "-"),
    ]
    for step in steps:
        step()
        index(repo)
        assert_equals_full_rebuild(repo, tmp_path)
    # `assert_equals_full_rebuild` reads the whole manifest twice a step; the runs never did.
    assert len(whole_reads) == 2 * len(steps)


def test_a_file_recorded_missing_is_read_again_with_its_entry_unchanged(repo_factory, tmp_path):
    repo = repo_factory("shop")
    index(repo)
    ws = Workspace(repo)
    manifest = Manifest.load(ws.index_dir)
    entry = manifest.files["shop/cart.py"]
    manifest.files["shop/cart.py"] = type(entry)(entry.content_id, "missing")  # gone while read
    manifest.save(ws.index_dir)
    (repo / "shop" / "new.py").write_text("def new():\n    return 1\n")
    index(repo)
    assert Manifest.load(ws.index_dir).files["shop/cart.py"] == entry
    assert_equals_full_rebuild(repo, tmp_path)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # cut short
        lambda data: data[:-40] + b"x" * 40,  # the entries changed, the checksum not
        lambda data: b"",
        lambda data: b"\xff" * 100,
    ],
)
def test_a_damaged_record_costs_the_shortcut_and_is_written_again(
    repo_factory, tmp_path, whole_reads, damage
):
    repo = repo_factory("shop")
    index(repo)
    record = Workspace(repo).index_dir / LISTING_FILE
    record.write_bytes(damage(record.read_bytes()))
    (repo / "shop" / "cart.py").write_text("def only():\n    return 0\n")
    whole_reads.clear()
    assert index(repo).changed == 1
    assert whole_reads == [1]  # every row compared, as without a record
    assert_equals_full_rebuild(repo, tmp_path)
    whole_reads.clear()
    (repo / "shop" / "cart.py").write_text("def again():\n    return 0\n")
    index(repo)
    assert whole_reads == []  # the record was written anew


@pytest.mark.parametrize("kind", ["fifo", "folder", "symlink"])
def test_a_record_that_is_no_regular_file_is_passed_over_without_hanging(
    repo_factory, tmp_path, whole_reads, kind
):
    repo = repo_factory("shop")
    index(repo)
    record = Workspace(repo).index_dir / LISTING_FILE
    real = tmp_path / "elsewhere.bin"
    real.write_bytes(record.read_bytes())  # what a followed link would find: a valid record
    record.unlink()
    {"fifo": os.mkfifo, "folder": os.mkdir, "symlink": lambda p: os.symlink(real, p)}[kind](record)
    (repo / "shop" / "cart.py").write_text("def only():\n    return 0\n")
    whole_reads.clear()
    index(repo)
    assert whole_reads == [1]
    assert_equals_full_rebuild(repo, tmp_path)


def test_a_record_that_cannot_be_written_costs_only_the_next_shortcut(
    repo_factory, tmp_path, whole_reads, monkeypatch
):
    import codemem.code.worktree as worktree

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    repo = repo_factory("shop")
    index(repo)
    monkeypatch.setattr(worktree, "atomic_file", full_disk)
    (repo / "shop" / "cart.py").write_text("def first():\n    return 0\n")
    assert index(repo).changed == 1
    monkeypatch.undo()
    monkeypatch.setattr(Manifest, "_read_all", counted_reads(whole_reads))
    whole_reads.clear()
    (repo / "shop" / "cart.py").write_text("def second():\n    return 0\n")
    assert index(repo).changed == 1
    assert whole_reads == [1]  # the record kept names the listing before: not used
    assert_equals_full_rebuild(repo, tmp_path)


def test_a_run_stopped_after_a_batch_leaves_no_record_to_trust(repo_factory, tmp_path):
    # The stopped run committed the edited file's rows; the edit is then undone, so the work
    # tree lists exactly what the record holds. Trusting it would keep the edit's rows.
    repo = repo_factory("shop")
    add_modules(repo)
    index(repo)
    target = repo / "pkg" / "mod3.py"
    original = target.read_text()
    for n in range(40):
        (repo / "pkg" / f"mod{n}.py").write_text(f"def edited_{n}():\n    return {n}\n")
    proc = start_index(repo, tmp_path, "batch")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    git(repo, "checkout", "-q", "--", "pkg")
    assert target.read_text() == original
    index(repo)
    assert_equals_full_rebuild(repo, tmp_path)


def test_the_record_is_never_published_nor_taken_from_a_shared_folder(repo_factory, tmp_path):
    origin = repo_factory("shop")
    commit_edit(origin, "in_both")
    shared = tmp_path / "shared"
    index_json(origin, "--publish", str(shared))
    [folder] = list(shared.iterdir())
    record = json.loads((folder / "published.json").read_text())
    assert LISTING_FILE not in [rel for rel, *_ in record["files"]]
    assert not (folder / "index" / LISTING_FILE).exists()

    # A publisher plants a record that claims the clone's own listing was indexed: trusted,
    # the clone's commit would never be read.
    other = clone(origin, tmp_path / "clone")
    commit_edit(other, "only_in_the_clone")
    settings = ListingSettings.of(load_config(Workspace(other).config_file).index)
    published_listing = Manifest.load(folder / "index").listing
    lie = replace(WorkTree.read(other, settings), digest=published_listing)
    save_listing(folder / "index", lie)
    data = (folder / "index" / LISTING_FILE).read_bytes()
    record["files"].append([LISTING_FILE, len(data), hashlib.sha256(data).hexdigest()])
    (folder / "published.json").write_text(json.dumps(record))

    out = index_json(other, "--from", str(shared))
    assert out["started_from"]["used"] is True
    assert out["changed"] == 1
    assert symbol_paths(other, "only_in_the_clone")[0] == "shop/edits.py"


def test_status_counts_what_index_would_do_and_reads_no_row_itself(repo_factory, whole_reads):
    repo = repo_factory("shop")
    index(repo)
    ws = Workspace(repo)
    config = load_config(ws.config_file)
    (repo / "shop" / "cart.py").write_text("def changed():\n    return 0\n")
    (repo / "shop" / "new.py").write_text("def added():\n    return 1\n")
    (repo / "web" / "static" / "format.js").unlink()
    whole_reads.clear()
    report = collect_status(ws, config)
    assert report["freshness"] == {"stale_files": 3}
    assert whole_reads == []  # SQLite summed the rows; only the touched ones were read
    summary = index(repo)
    assert (summary.added, summary.changed, summary.removed) == (1, 1, 1)
    report = collect_status(ws, config)
    assert report["freshness"] == {"stale_files": 0}
    rows = Manifest.load(ws.index_dir).files
    indexed = [e for e in rows.values() if e.status == "indexed"]
    assert report["index"]["files"] == len(indexed) == summary.files
    assert report["index"]["symbols"] == sum(e.symbols for e in indexed)
    assert {lang: row["files"] for lang, row in report["languages"].items()} == dict(
        Counter(e.language for e in indexed)
    )


def _listing(rng, paths):
    """A random listing of `paths` as `read_listing` gives it: untracked first, then tracked
    entries (a C after its H or S, unmerged stages), each path in some state or absent."""
    untracked, tracked = [], []
    for path in paths:
        blob = b"%040x" % rng.randrange(3)
        mode = rng.choice([b"100644", b"100644", b"120000", b"160000"])
        state = rng.choice(["H", "H", "HC", "S", "SC", "M", "MC", "?", "gone"])
        if state == "?":
            untracked.append(b"? " + path)
        elif state == "M":
            tracked += [b"M %s %s %d\t%s" % (mode, blob, stage, path) for stage in (1, 2, 3)]
        elif state == "MC":
            tracked += [
                b"M %s %s 2\t%s" % (mode, blob, path),
                b"C %s %s 2\t%s" % (mode, blob, path),
            ]
        elif state != "gone":
            tracked += [b"%s %s %s 0\t%s" % (tag.encode(), mode, blob, path) for tag in state]
    return [*untracked, *tracked, b""]


def test_the_entries_of_touched_paths_are_those_the_whole_listing_holds(monkeypatch):
    """`touched_since` finds each touched path's entries without reading the listing again
    where it can: the same entries, and the same ids, as a filter of the whole listing."""
    from random import Random

    from codemem.code.files import unvouched
    from codemem.code.worktree import _entry_path

    rng = Random(14)
    names = [b"a.py", b"b/c.py", b".codemem/x", b"\xff.py", b"d.txt", b"e/f/g.c", b"h.md"]
    for _ in range(500):
        paths = rng.sample(names, rng.randrange(len(names) + 1))
        before, entries = _listing(rng, paths), _listing(rng, paths)
        if rng.random() < 0.3:
            before = list(entries)
        also = rng.sample(["a.py", "zz.py", "d.txt"], rng.randrange(2))
        tree = WorkTree(Path("/r"), ListingSettings(), entries, {}, "x")
        touched = tree.touched_since(before, also)
        # as before: every entry of a changed or unvouched path, found by reading all of them
        changed = set(before) ^ set(entries) | set(unvouched(before)) | set(unvouched(entries))
        wanted = ({_entry_path(e) for e in changed if e} - {b""}) | {a.encode() for a in also}
        whole = {p.decode("utf-8", "surrogateescape"): set() for p in wanted}
        for entry in entries:
            if entry and _entry_path(entry) in wanted:
                whole[_entry_path(entry).decode("utf-8", "surrogateescape")].add(entry)
        assert {path: set(found) for path, found in touched.items()} == whole
        assert tree.ids({}, only=touched) == tree.ids(
            {}, only={p: list(e) for p, e in whole.items()}
        )


def test_an_edited_file_is_found_without_reading_the_listing_again(monkeypatch):
    """The common refresh (files edited, added, committed): the changed entries alone say
    which paths and entries; the listing is not read a second time, entry by entry."""
    from codemem.code import worktree

    def entry(tag: bytes, i: int, blob: int) -> bytes:
        return b"%s 100644 %040x 0\tf%d.py" % (tag, blob, i)

    listing = [entry(b"H", i, i) for i in range(1000)] + [b""]
    now = [b"? new.py", *listing[:11], entry(b"C", 10, 10), *listing[11:]]  # f10.py edited
    now[now.index(entry(b"H", 500, 500))] = entry(b"H", 500, 7)  # f500.py committed
    calls: list[bytes] = []
    entry_path = worktree._entry_path
    monkeypatch.setattr(worktree, "_entry_path", lambda e: calls.append(e) or entry_path(e))
    tree = WorkTree(Path("/r"), ListingSettings(), now, {}, "x")
    touched = tree.touched_since(listing)
    assert {path: sorted(entries) for path, entries in touched.items()} == {
        "f10.py": [entry(b"C", 10, 10), entry(b"H", 10, 10)],
        "f500.py": [entry(b"H", 500, 7)],
        "new.py": [b"? new.py"],
    }
    assert len(calls) < 10  # the changed entries', not the listing's 1,000

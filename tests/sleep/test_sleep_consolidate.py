"""Consolidation: blocks within their limits with nothing lost, notes merged, dates absolute."""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
from sleep_helpers import NOW, commit, digest, init, read_value

import codemem.infra.swaps as swaps_module
import codemem.sleep.consolidate as consolidate_module
from codemem.conventions.merge import merge_memory_file
from codemem.memory import Archive, MemoryStore
from codemem.sleep.consolidate import (
    ConsolidationReport,
    consolidate,
    fit_block,
    merge_duplicate_notes,
    sections,
)
from codemem.sleep.writer import MemoryWriter
from codemem.workspace import Workspace
from tests.helpers import git, make_repo


def writer_for(ws, dry_run=False):
    return MemoryWriter(ws, dry_run=dry_run, clock=lambda: NOW)


def over_limit_block(ws, label="team", limit=200):
    """A block a person edited past its limit (the API would refuse it)."""
    MemoryStore(ws, user="tester").create(label, "Team notes.", "", limit=limit)
    path = ws.blocks_dir / f"{label}.md"
    body = (
        "Intro line.\n\n"
        "## Deploys\n" + "Deploy on Tuesdays after the stand-up meeting. " * 4 + "\n\n"
        "## Reviews\nTwo approvals.\n\n"
        "## History\n" + "The service was split out of the monolith in stages. " * 5 + "\n"
    )
    path.write_text(path.read_text() + body)
    return body.rstrip("\n")


def test_sections_split_on_headings_and_skip_regions():
    value = "Intro.\n\n## A\ntext a\n<!-- codemem:x:start -->\nauto\n<!-- codemem:x:end -->\n## B\ntext b"
    assert [(value[s:e], title) for s, e, title in sections(value)] == [
        ("Intro.\n", "Intro."),
        ("## A\ntext a\n", "A"),
        ("## B\ntext b", "B"),
    ]


def test_an_over_limit_block_moves_its_largest_sections_to_archival_notes(repo_factory):
    ws = init(repo_factory())
    original = over_limit_block(ws)
    report = ConsolidationReport()
    fit_block(writer_for(ws), "team", report)
    value = read_value(ws, "team")
    assert len(value) <= 200
    notes = {n.id: n for n in Archive(ws).notes()}
    assert [m.split(" -> ")[0] for m in report.moved] == ["team: History", "team: Deploys"]
    # Nothing lost: each moved section is in its note, and the block points to it.
    for moved in report.moved:
        note_id = moved.split(" -> ")[1]
        assert f"moved to archival note {note_id}" in value
        assert notes[note_id].tags == ["team", "moved-from-block"]
    restored = value
    for note_id, note in notes.items():
        title = note.content.split("\n")[0].lstrip("# ")
        restored = restored.replace(
            f"- {title}: moved to archival note {note_id}",
            note.content.removesuffix("\n\n(moved from the team block)"),
        )
    assert restored == original


def test_duplicate_and_contained_notes_merge_into_one(repo_factory):
    ws = init(repo_factory())
    clock = iter(datetime(2025, 3, 1, 12, m, tzinfo=timezone.utc) for m in range(10))
    archive = Archive(ws, clock=lambda: next(clock))
    first = archive.insert("Run the tests with pytest -q", ["testing"], "session-1").id
    longer = archive.insert(
        "Run the tests with pytest -q; integration tests need Docker", ["ci"]
    ).id
    (ws.archive_dir / "copy.md").write_text(
        "---\nid: copy\ncreated: 2025-03-01T13:00:00+00:00\ntags: [dup]\n---\nrun the tests  with pytest -q\n"
    )
    other = archive.insert("Releases are tagged vX.Y.Z", ["release"]).id
    report = ConsolidationReport()
    merge_duplicate_notes(writer_for(ws), report)
    notes = {n.id: n for n in Archive(ws).notes()}
    assert set(notes) == {longer, other}
    assert notes[longer].tags == ["ci", "testing", "dup"]
    assert notes[longer].extra["merged"] == sorted([first, "copy"])
    assert notes[longer].extra["merged_sources"] == ["session-1"]
    assert sorted(report.merged) == sorted([f"{first} into {longer}", f"copy into {longer}"])


def test_relative_dates_become_absolute_in_notes_and_blocks(tmp_path):
    repo = make_repo(tmp_path / "r", commit=False)
    ws = init(repo)
    store = MemoryStore(ws, user="tester")
    store.create(
        "team", "Team notes.", "Yesterday we moved CI to GitHub Actions.\nKeep `today` in code."
    )
    commit(repo, "Team notes", "2025-03-05T09:00:00+00:00")
    store.append("team", "The flaky test was fixed 2 days ago.")  # not committed: dated by `now`
    Archive(ws, clock=lambda: datetime(2025, 2, 20, 8, 0, tzinfo=timezone.utc)).insert(
        "Since last week the staging database is read-only.", ["ops"]
    )
    report = consolidate(writer_for(ws), now=NOW)
    assert read_value(ws, "team") == (
        "On 2025-03-04 we moved CI to GitHub Actions.\nKeep `today` in code.\n"
        "The flaky test was fixed on 2025-03-08."
    )
    [note] = Archive(ws).notes()
    assert note.content == "Since the week of 2025-02-10 the staging database is read-only."
    assert report.dated == [note.id, "team"]
    assert consolidate(writer_for(ws), now=NOW).dated == []  # nothing relative is left


def test_a_shallow_clone_leaves_dates_older_than_its_history_alone(tmp_path):
    # CI checks out one commit: git blames every older line on that boundary commit, whose
    # date is not the line's. Its relative dates stay; a line of a commit it has is dated.
    repo = make_repo(tmp_path / "r", commit=False)
    ws = init(repo)
    MemoryStore(ws, user="tester").create("team", "Team notes.", "Last week we moved to pytest.")
    commit(repo, "Team notes", "2024-06-05T09:00:00+00:00")
    commit(repo, "More code", "2025-03-07T09:00:00+00:00", {"app.py": "print(1)\n"})
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", repo.resolve().as_uri(), str(clone))
    shallow = Workspace(clone)
    store = MemoryStore(shallow, user="tester")
    store.append("team", "The flaky test was fixed yesterday.")
    commit(clone, "Flaky test", "2025-03-09T09:00:00+00:00")
    report = consolidate(writer_for(shallow), now=NOW)
    assert read_value(shallow, "team") == (
        "Last week we moved to pytest.\nThe flaky test was fixed on 2025-03-08."
    )
    assert report.dated == ["team"]
    # The full history dates the first line by its own commit.
    consolidate(writer_for(ws), now=NOW)
    assert read_value(ws, "team") == "In the week of 2024-05-27 we moved to pytest."


def test_digest_consolidates_and_reports_it(repo_factory):
    ws = init(repo_factory("sleep/pyshop"))
    over_limit_block(ws)
    result = digest(ws)
    assert len(read_value(ws, "team")) <= 200
    assert len(result.consolidation.moved) == 2
    assert digest(ws).changes == []


def test_a_dry_run_consolidation_changes_nothing(repo_factory):
    ws = init(repo_factory())
    original = over_limit_block(ws)
    archive = Archive(ws)
    archive.insert("note one", [])
    (ws.archive_dir / "copy.md").write_text(
        "---\nid: copy\ncreated: 2025-03-01T13:00:00+00:00\n---\nnote  one\n"
    )
    writer = writer_for(ws, dry_run=True)
    report = consolidate(writer, now=NOW)
    assert read_value(ws, "team") == original
    assert len(Archive(ws).notes()) == 2
    assert report.merged and report.moved
    assert {ch.kind for ch in writer.changes} == {
        "note-updated",
        "note-deleted",
        "note-added",
        "block",
    }


# -- a person's edit while the pass runs, and the header they wrote ------------------------------

HAND_NOTE = (
    "---\n"
    "# why: the staging outage of February\n"
    "tags: [ops]   # keep ops first\n"
    "id: hand\n"
    "created: '2025-02-20T08:00:00+00:00'\n"
    "---\n"
    "Since last week the staging database is read-only.\n"
)
HAND_EDIT = HAND_NOTE.replace("read-only.", "read-only; ask Dana before writing to it.")


def hand_written(ws, name, text):
    """A note a person wrote in the archive folder."""
    ws.archive_dir.mkdir(parents=True, exist_ok=True)
    path = ws.archive_dir / name
    path.write_text(text)
    return path


def test_a_rewritten_note_keeps_the_header_lines_it_did_not_change(repo_factory):
    ws = init(repo_factory())
    path = hand_written(ws, "hand.md", HAND_NOTE)
    report = consolidate(writer_for(ws), now=NOW)
    assert report.dated == ["hand"]
    assert path.read_text() == HAND_NOTE.replace("Since last week", "Since the week of 2025-02-10")


def test_a_merged_note_changes_only_its_tag_line_and_adds_what_it_merged(repo_factory):
    ws = init(repo_factory())
    keeper = hand_written(ws, "hand.md", HAND_NOTE.replace("last week", "March"))
    (ws.archive_dir / "copy.md").write_text(
        "---\nid: copy\ncreated: 2025-03-01T13:00:00+00:00\ntags: [dup]\n---\n"
        "the staging database is read-only.\n"
    )
    merge_duplicate_notes(writer_for(ws), ConsolidationReport())
    assert keeper.read_text() == (
        "---\n"
        "# why: the staging outage of February\n"
        "tags: [ops, dup]\n"
        "id: hand\n"
        "created: '2025-02-20T08:00:00+00:00'\n"
        "merged: [copy]\n"
        "---\n"
        "Since March the staging database is read-only.\n"
    )


def test_a_hand_edit_between_the_read_and_the_rewrite_is_kept(repo_factory, monkeypatch):
    ws = init(repo_factory())
    path = hand_written(ws, "hand.md", HAND_NOTE)
    real = consolidate_module.absolute_dates

    def edit_meanwhile(text, when):  # the pass has read the note and computes its new text
        path.write_text(HAND_EDIT)
        return real(text, when)

    monkeypatch.setattr(consolidate_module, "absolute_dates", edit_meanwhile)
    writer = writer_for(ws)
    report = consolidate(writer, now=NOW)
    assert path.read_text() == HAND_EDIT
    assert report.dated == []
    assert writer.changes == []
    assert writer.warnings == [
        ".codemem/archive/hand.md changed while the digest was rewriting it: left as it is "
        "now (the next digest looks at it again)"
    ]


def test_a_hand_edit_just_before_the_replace_is_kept(repo_factory, monkeypatch):
    """The editor saves after the pass checked the file, before its rename: the check made
    just before the rename sees it, and the edit is re-read, not overwritten."""
    ws = init(repo_factory())
    path = hand_written(ws, "hand.md", HAND_NOTE)
    real = swaps_module.atomic_file
    saved = []

    @contextmanager
    def editor_saves_meanwhile(target, *args, **kwargs):
        # the pass's new text is being written (through the note's folder held open)
        if os.path.realpath(target) == str(path.resolve()) and not saved:
            saved.append(target)
            path.write_text(HAND_EDIT)
        with real(target, *args, **kwargs) as handle:
            yield handle

    monkeypatch.setattr(swaps_module, "atomic_file", editor_saves_meanwhile)
    writer = writer_for(ws)
    consolidate(writer, now=NOW)
    assert len(saved) == 1
    assert path.read_text() == HAND_EDIT
    assert writer.changes == []
    assert [w.split(" changed while")[0] for w in writer.warnings] == [".codemem/archive/hand.md"]


def saved_after_the_read(monkeypatch, path, text):
    """Once the pass has read the notes, a person saves `text` in `path`."""
    real = MemoryWriter.settled_notes

    def read_then_save(self):
        notes = real(self)
        path.write_text(text)
        return notes

    monkeypatch.setattr(MemoryWriter, "settled_notes", read_then_save)


def test_a_duplicate_edited_before_it_is_folded_in_is_not_deleted(repo_factory, monkeypatch):
    ws = init(repo_factory())
    Archive(ws).insert("Run the tests with pytest -q; integration tests need Docker", ["ci"])
    copy = ws.archive_dir / "copy.md"
    copy.write_text(
        "---\nid: copy\ncreated: 2025-03-01T13:00:00+00:00\n---\nrun the tests with pytest -q\n"
    )
    edited = copy.read_text().replace("pytest -q", "pytest -q -n 4 (Dana's laptop)")
    keeper = next(p for p in ws.archive_dir.iterdir() if p != copy)
    kept = keeper.read_text()
    # the pass reads the notes, then Dana saves her edit
    saved_after_the_read(monkeypatch, copy, edited)
    writer = writer_for(ws)
    report = ConsolidationReport()
    merge_duplicate_notes(writer, report)
    assert copy.read_text() == edited
    assert report.merged == []
    assert keeper.read_text() == kept  # it names no `merged: [copy]`: nothing was folded
    assert writer.changes == []
    assert writer.warnings == [
        ".codemem/archive/copy.md changed while the digest was folding it into another note: "
        "left as it is now (the next digest looks at it again)"
    ]


def test_a_kill_during_the_rewrite_leaves_the_note_whole(repo_factory, monkeypatch):
    ws = init(repo_factory())
    path = hand_written(ws, "hand.md", HAND_NOTE)

    def killed(*_args):
        raise KeyboardInterrupt  # as a signal lands: after the temp file, before the rename

    monkeypatch.setattr(os, "replace", killed)
    monkeypatch.setattr(swaps_module, "_exchange", killed)  # or the swap that renames it
    with pytest.raises(KeyboardInterrupt):
        consolidate(writer_for(ws), now=NOW)
    monkeypatch.undo()
    assert path.read_text() == HAND_NOTE
    assert sorted(p.name for p in ws.archive_dir.iterdir()) == ["hand.md"]


def test_a_teammates_header_comment_merges_with_the_digests_rewrite(repo_factory):
    """Bob's digest dates a note while Alice comments its header: the driver keeps both."""
    ws = init(repo_factory())
    path = hand_written(ws, "hand.md", HAND_NOTE)
    consolidate(writer_for(ws), now=NOW)
    bobs = path.read_text()
    alices = HAND_NOTE.replace("id: hand\n", "id: hand  # Alice: linked from the runbook\n")
    merged = merge_memory_file(HAND_NOTE, bobs, alices, ".codemem/archive/hand.md")
    assert (merged.conflicts, merged.text) == (
        0,
        alices.replace("Since last week", "Since the week of 2025-02-10"),
    )


def test_a_region_note_edited_by_hand_is_not_deleted_when_the_region_moves_on(
    repo_factory, monkeypatch
):
    ws = init(repo_factory())
    writer = writer_for(ws)
    old_id = writer.sync_overflow("conventions", "Old overflow.", ["conventions"])
    old = ws.archive_dir / f"{old_id}.md"
    edited = old.read_text().replace("Old overflow.", "Old overflow. Dana: keep this one!")
    real = MemoryWriter.insert_note

    def insert_then_edit(self, *args):  # the new note is saved, then the person's edit
        done = real(self, *args)
        old.write_text(edited)
        return done

    monkeypatch.setattr(MemoryWriter, "insert_note", insert_then_edit)
    new_id = writer.sync_overflow("conventions", "New overflow.", ["conventions"])
    assert new_id != old_id
    assert old.read_text() == edited
    assert writer.warnings == [
        f".codemem/archive/{old_id}.md changed while the digest was replacing it: left as it "
        "is now (the next digest looks at it again)"
    ]


def test_the_survivor_names_only_the_duplicates_really_folded_into_it(repo_factory, monkeypatch):
    ws = init(repo_factory())
    keeper = Archive(ws, clock=lambda: NOW).insert(
        "Run the tests with pytest -q; integration tests need Docker", ["ci"]
    )
    one, two = ws.archive_dir / "one.md", ws.archive_dir / "two.md"
    one.write_text(
        "---\nid: one\ncreated: 2025-03-01T13:00:00+00:00\ntags: [tests]\nsource: commit aaa\n"
        "---\nrun the tests with pytest -q\n"
    )
    two.write_text(
        "---\nid: two\ncreated: 2025-03-01T14:00:00+00:00\ntags: [docker]\nsource: commit bbb\n"
        "---\nintegration tests need Docker\n"
    )
    edited = two.read_text().replace("need Docker", "need Docker or Podman (Dana)")
    # the pass reads the notes, then Dana saves her edit of two
    saved_after_the_read(monkeypatch, two, edited)
    writer = writer_for(ws)
    report = ConsolidationReport()
    merge_duplicate_notes(writer, report)
    assert report.merged == [f"one into {keeper.id}"]
    assert not one.exists()
    assert two.read_text() == edited
    assert keeper.note.path.read_text() == (
        f"---\nid: {keeper.id}\ncreated: {NOW.isoformat()}\ntags: [ci, tests]\n"
        "merged: [one]\nmerged_sources: [commit aaa]\n---\n"
        "Run the tests with pytest -q; integration tests need Docker\n"
    )


def test_a_survivor_edited_meanwhile_leaves_every_duplicate_in_place(repo_factory, monkeypatch):
    ws = init(repo_factory())
    keeper = Archive(ws).insert("Run the tests with pytest -q; integration tests need Docker")
    one = ws.archive_dir / "one.md"
    one.write_text("---\nid: one\ncreated: 2025-03-01T13:00:00+00:00\n---\nrun the tests\n")
    duplicate = one.read_text()
    edited = keeper.note.path.read_text().replace("need Docker", "need Docker (Dana)")
    # the pass reads the notes, then Dana edits the survivor
    saved_after_the_read(monkeypatch, keeper.note.path, edited)
    writer = writer_for(ws)
    report = ConsolidationReport()
    merge_duplicate_notes(writer, report)
    assert (report.merged, writer.changes) == ([], [])
    assert keeper.note.path.read_text() == edited
    assert one.read_text() == duplicate
    assert sorted(p.name for p in ws.archive_dir.iterdir()) == sorted(
        [one.name, keeper.note.path.name]
    )


def test_a_second_fold_keeps_what_the_survivor_named_before(repo_factory):
    ws = init(repo_factory())
    keeper = ws.archive_dir / "keeper.md"
    ws.archive_dir.mkdir(parents=True, exist_ok=True)
    keeper.write_text(
        "---\nid: keeper\ncreated: 2025-03-01T12:00:00+00:00\nmerged: old-one\n"
        "merged_sources: [commit zzz]\n---\nRun the tests with pytest -q; Docker needed\n"
    )
    (ws.archive_dir / "one.md").write_text(
        "---\nid: one\ncreated: 2025-03-01T13:00:00+00:00\nsource: commit aaa\n---\n"
        "run the tests with pytest -q\n"
    )
    report = ConsolidationReport()
    merge_duplicate_notes(writer_for(ws), report)
    assert report.merged == ["one into keeper"]
    assert keeper.read_text() == (
        "---\nid: keeper\ncreated: 2025-03-01T12:00:00+00:00\nmerged: [old-one, one]\n"
        "merged_sources: [commit aaa, commit zzz]\n---\n"
        "Run the tests with pytest -q; Docker needed\n"
    )


@pytest.mark.parametrize("name", ["..md", "a\nb.md", "-rf.md"])
def test_a_duplicate_whose_file_name_is_no_note_id_is_folded_in(repo_factory, name):
    # A note named by hand (`..md`, a newline in its name) has the name for its id, which
    # `codemem recall --delete` would refuse as typed: the fold asked for it by that id,
    # found "no such note", folded nothing, and every digest after said both notes "changed
    # while the digest was folding it".
    ws = init(repo_factory())
    keeper = hand_written(ws, "hand.md", HAND_NOTE.replace("last week", "March"))
    odd = hand_written(
        ws,
        name,
        "---\ncreated: 2025-03-01T13:00:00+00:00\n---\nthe staging database is read-only.\n",
    )
    writer = writer_for(ws)
    report = ConsolidationReport()
    merge_duplicate_notes(writer, report)
    assert (writer.warnings, os.path.lexists(odd)) == ([], False)
    notes = Archive(ws).notes()
    assert [(n.path, n.extra["merged"]) for n in notes] == [(keeper, [name.removesuffix(".md")])]


def test_consolidation_reads_again_only_the_blocks_that_may_not_fit(repo_factory, monkeypatch):
    # Every block was listed, then read again to see whether it fits: 20,000 blocks, 40,000
    # reads. Only the one listed over its limit (or re-dated) is read again, and moved.
    ws = init(repo_factory())
    store = MemoryStore(ws, user="tester")
    for number in range(30):
        store.create(f"pkg-{number:02d}", "A package.", f"Package {number}.")
    over_limit_block(ws)
    writer = writer_for(ws)
    again: list[str] = []
    real = writer.read_block

    def read_block(label):
        again.append(label)
        return real(label)

    monkeypatch.setattr(writer, "read_block", read_block)
    consolidate(writer, NOW)
    assert set(again) == {"team"}  # read to fit, and again by the edit that moves
    assert len(read_value(ws, "team")) <= 200

"""Archival notes: files, duplicates, search with filters, delete."""

from __future__ import annotations

import hashlib
import os
from datetime import date, datetime, timezone

import pytest
from memory_helpers import editor_saves_after_the_read

from codemem.errors import UsageError
from codemem.memory import (
    BlockFormatError,
    ConflictError,
    DuplicateNoteError,
    MemoryEditError,
    NotFoundError,
)


def test_insert_writes_one_markdown_file(archive, ws):
    result = archive.insert(
        "CI runs on GitHub Actions.\n", tags=["CI", "#infra", "ci"], source="commit 1a2b3c4"
    )
    digest = hashlib.sha1(b"CI runs on GitHub Actions.").hexdigest()[:8]
    assert result.id == f"20250301-120000-{digest}"
    assert result.near_duplicates == []
    assert (ws.archive_dir / f"{result.id}.md").read_text() == (
        "---\n"
        f"id: {result.id}\n"
        "created: 2025-03-01T12:00:00+00:00\n"
        "tags: [ci, infra]\n"
        "source: commit 1a2b3c4\n"
        "---\n"
        "CI runs on GitHub Actions.\n"
    )
    assert archive.get(result.id) == result.note


def test_insert_without_tags_or_source(archive, ws):
    note = archive.insert("Plain note.").note
    assert note.path.read_text() == (
        f"---\nid: {note.id}\ncreated: 2025-03-01T12:00:00+00:00\ntags: []\n---\nPlain note.\n"
    )


def test_insert_refuses_exact_duplicates(archive, ws):
    first = archive.insert("Deploys  go through\nstaging first.").note
    with pytest.raises(DuplicateNoteError) as error:
        archive.insert("Deploys go through staging first.")
    assert str(error.value) == (
        f"an identical note already exists: {first.id} (created 2025-03-01T12:00:00+00:00); "
        "nothing was saved"
    )
    assert len(list(ws.archive_dir.glob("*.md"))) == 1


def test_insert_reports_near_duplicates_without_refusing(archive):
    first = archive.insert("The CI runs on GitHub Actions with Python 3.11").note
    archive.insert("Something else entirely about the cache layer")
    result = archive.insert("The CI runs on GitHub Actions with Python 3.12")
    assert [(hit.note.id, round(hit.score, 3)) for hit in result.near_duplicates] == [
        (first.id, 0.818)
    ]
    assert len(archive.notes()) == 3


def test_insert_refuses_empty_text(archive):
    with pytest.raises(MemoryEditError, match="the note is empty"):
        archive.insert("  \n ")


def test_a_note_too_large_to_read_back_is_refused_and_nothing_written(archive, ws):
    # `remember` over MCP took a note of 6 MB: saved, then skipped by every read as "larger
    # than 4,194,304 bytes" (recall never found it, status named it for good).
    huge = "word " * 900_000  # 4.5 MB
    draft = archive.draft(huge)
    with pytest.raises(MemoryEditError) as error:
        archive.insert(huge)
    where, said = str(error.value).split(".md ", 1)
    assert (where.startswith(".codemem/archive/"), said) == (
        True,
        f"not written: {len(draft.to_text().encode()):,} bytes, more than the 4,194,304 a "
        "memory file may hold; save a shorter text (what matters, and where the rest is)",
    )
    assert not ws.archive_dir.exists() or list(ws.archive_dir.glob("*.md")) == []
    note = archive.insert("The release notes live in docs/releases.").note
    with pytest.raises(MemoryEditError, match="more than the 4,194,304 a memory file may hold"):
        archive.update(note, huge, note.tags)
    assert archive.get(note.id) == note


@pytest.fixture
def filled(archive):
    """Five notes a minute apart from 2025-03-01T12:00Z, then two a day later."""
    ids = {}
    ids["ci"] = archive.insert(
        "CI runs on GitHub Actions; the workflow is ci.yml.", tags=["ci", "infra"]
    ).id
    ids["db"] = archive.insert(
        "The database is Postgres 16, migrations with alembic.", tags=["db"]
    ).id
    ids["cache"] = archive.insert(
        "Redis caches product pages for five minutes.", tags=["infra", "cache"]
    ).id
    ids["deploy"] = archive.insert(
        "Deploys go through staging; CI must be green first.", tags=["deploy", "ci"]
    ).id
    ids["style"] = archive.insert("Use ruff format; line length 100.", tags=["style"]).id
    archive.clock.now = datetime(2025, 3, 2, 9, 0, tzinfo=timezone.utc)
    ids["late-ci"] = archive.insert("Nightly CI job rebuilds the search index.", tags=["ci"]).id
    ids["late"] = archive.insert("Staging database is reset every Sunday.", tags=["db", "infra"]).id
    return ids


def found(hits):
    return [hit.note.id for hit in hits]


def test_search_ranks_by_bm25(archive, filled):
    hits = archive.search("staging deploys")
    assert found(hits) == [filled["deploy"], filled["late"]]
    assert hits[0].score > hits[1].score > 0


def test_search_matches_tags_too(archive, filled):
    assert found(archive.search("cache")) == [filled["cache"]]


def test_search_without_query_lists_newest_first(archive, filled):
    assert found(archive.search("", k=3)) == [filled["late"], filled["late-ci"], filled["style"]]


def test_search_by_tags_any_and_all(archive, filled):
    assert found(archive.search("", tags=["cache", "deploy"])) == [
        filled["deploy"],
        filled["cache"],
    ]
    assert found(archive.search("", tags=["ci", "infra"], match="all")) == [filled["ci"]]
    assert found(archive.search("postgres", tags=["infra"])) == []


def test_search_by_date_range(archive, filled):
    assert found(archive.search("", since="2025-03-02")) == [filled["late"], filled["late-ci"]]
    assert found(archive.search("", until=date(2025, 3, 1))) == [
        filled["style"],
        filled["deploy"],
        filled["cache"],
        filled["db"],
        filled["ci"],
    ]
    assert found(
        archive.search("", since="2025-03-01T12:01:00", until="2025-03-01T12:02:00+00:00")
    ) == [
        filled["cache"],
        filled["db"],
    ]
    assert found(archive.search("ci", since="2025-03-02")) == [filled["late-ci"]]


def test_search_rejects_bad_filters(archive, filled):
    with pytest.raises(UsageError, match="match must be 'any' or 'all'"):
        archive.search("x", match="some")
    with pytest.raises(UsageError, match="cannot read the date 'yesterday'"):
        archive.search("x", since="yesterday")


def test_delete_by_id(archive, filled, ws):
    removed = archive.delete(filled["db"])
    assert removed.content.startswith("The database is Postgres")
    assert not (ws.archive_dir / f"{filled['db']}.md").exists()
    assert filled["db"] not in found(archive.search("", k=20))
    with pytest.raises(NotFoundError, match=f"no archival note with id '{filled['db']}'"):
        archive.delete(filled["db"])
    with pytest.raises(NotFoundError, match="is not a note id"):
        archive.delete("../blocks/project")


def test_hand_written_and_broken_notes(archive, ws):
    ws.archive_dir.mkdir(parents=True)
    (ws.archive_dir / "my-note.md").write_text("Written by hand, no frontmatter.\n")
    (ws.archive_dir / "dated.md").write_text(
        "---\ncreated: 2024-12-24\ntags: xmas, holiday\n---\nGifts.\n"
    )
    (ws.archive_dir / "broken.md").write_text("---\ncreated: [\n---\nx\n")
    notes, problems = archive.scan()
    assert [(n.id, n.tags) for n in notes if n.id != "my-note"] == [("dated", ["xmas", "holiday"])]
    assert notes[0].created == datetime(2024, 12, 24, tzinfo=timezone.utc)
    assert "my-note" in [n.id for n in notes]
    assert [type(p) for p in problems] == [BlockFormatError]
    assert str(problems[0]).startswith(".codemem/archive/broken.md:3: invalid frontmatter")
    assert found(archive.search("gifts")) == ["dated"]


def test_hand_written_text_fields_read_as_written_not_as_yaml_1_1(archive, ws):
    # YAML 1.1 reads a bare `on`, `off`, `yes` or `no` as a boolean: `tags: [on, off, yes]`
    # came out as the tags `true` and `false` (`yes` lost as a second `true`), `source: no` as
    # "False", and `recall` showed and filtered by those.
    ws.archive_dir.mkdir(parents=True)
    (ws.archive_dir / "flags.md").write_text(
        "---\ncreated: 2024-12-24\ntags: [on, off, yes, 010]\nsource: no\n---\nFlags.\n"
    )
    notes, problems = archive.scan()
    assert problems == []
    assert [(n.tags, n.source) for n in notes] == [(["on", "off", "yes", "010"], "no")]
    assert found(archive.search("", tags=["yes"])) == ["flags"]


def test_delete_never_removes_an_edit_saved_after_the_note_was_read(archive, ws, monkeypatch):
    import codemem.memory.archive as archive_module

    note = archive.insert("Deploys go through staging.").note
    edited = note.path.read_text().replace("staging.", "staging, then canary (Dana).")
    saved = editor_saves_after_the_read(monkeypatch, archive_module, note.path, edited)
    with pytest.raises(ConflictError) as error:
        archive.delete(note.id, note)
    assert saved == [note.path]
    assert note.path.read_text() == edited
    assert str(error.value) == (
        f".codemem/archive/{note.id}.md changed since it was read: left as it is now"
    )
    assert sorted(p.name for p in ws.archive_dir.iterdir()) == [f"{note.id}.md"]


def test_delete_keeps_an_edit_saved_while_the_note_is_being_removed(archive, ws, monkeypatch):
    """The save lands after the note was moved aside: the old text goes, the new file stays."""
    import codemem.infra.removals as removals_module

    note = archive.insert("Deploys go through staging.").note
    edited = note.path.read_text().replace("staging.", "staging, then canary (Dana).")
    real = removals_module.read_regular_bytes

    def save_then_read(path, *args, **kwargs):
        if path != note.path and not note.path.exists():  # the note, moved aside
            note.path.write_text(edited)  # the editor writes a new file where the note was
        return real(path, *args, **kwargs)

    monkeypatch.setattr(removals_module, "read_regular_bytes", save_then_read)
    with pytest.raises(ConflictError, match="changed since it was read: left as it is now"):
        archive.delete(note.id, note)
    assert note.path.read_text() == edited
    assert sorted(p.name for p in ws.archive_dir.iterdir()) == [f"{note.id}.md"]


def test_a_note_a_killed_removal_left_set_aside_is_put_back_by_the_next(archive, ws):
    """Set aside under .codemem/local/ (git ignores it: never committed as a stray file), and
    back in archive/ at the next removal (or load), so no kill between the two loses it."""
    kept = archive.insert("Deploys go through staging.").note
    other = archive.insert("Caches expire after five minutes.").note
    aside = ws.local_dir / "removing" / "archive" / f"{kept.path.name}.0123abcd.removing"
    aside.parent.mkdir(parents=True, exist_ok=True)
    os.rename(kept.path, aside)  # as a removal killed after its move
    archive.delete(other.id)
    assert [note.id for note in archive.notes()] == [kept.id]
    assert list(aside.parent.iterdir()) == []


def test_fold_names_only_what_it_folds_and_keeps_its_duplicates_out_of_git_meanwhile(archive, ws):
    keeper = archive.insert("Deploys go through staging, then canary.").note
    dup = archive.insert("deploys go through staging").note
    during: list[list[str]] = []

    def values(folded):
        during.append(sorted(p.name for p in ws.archive_dir.iterdir()))
        during.append(
            [
                p.name[: -len(".0123abcd.removing")]
                for p in (ws.local_dir / "removing" / "archive").iterdir()
            ]
        )
        return keeper.tags, {"merged": [n.id for n in folded]}

    written, folded = archive.fold(keeper, [dup], values)
    assert during == [[keeper.path.name], [dup.path.name]]
    assert ([n.id for n in folded], written.extra) == ([dup.id], {"merged": [dup.id]})
    assert [note.id for note in archive.notes()] == [keeper.id]


def test_insert_never_writes_over_a_note_file_made_while_it_writes(ws, monkeypatch):
    # `insert` checked that the note's file was not there, then renamed its new file over the
    # name: a file saved there in between (a person, a `git pull`, another clone's codemem
    # under another lock) was replaced. The new note is now linked in only where nothing is.
    from codemem.infra import files as files_module
    from codemem.memory import Archive

    at = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
    archive = Archive(ws, clock=lambda: at)
    path = archive.draft("Deploys go through staging first.").path
    theirs = "---\nid: theirs\n---\nSaved by hand a moment ago.\n"
    real_unnamed = files_module._unnamed_file
    ws.ensure_local()
    ws.archive_dir.mkdir(parents=True)

    def saved_meanwhile(folder):
        if not path.exists():
            path.write_text(theirs)
        return real_unnamed(folder)

    monkeypatch.setattr(files_module, "_unnamed_file", saved_meanwhile)
    with pytest.raises(DuplicateNoteError) as error:
        archive.insert("Deploys go through staging first.")
    assert str(error.value) == f"a note with id {path.stem} already exists; nothing was saved"
    assert path.read_text() == theirs
    assert sorted(os.listdir(ws.archive_dir)) == [path.name]
    assert [name for name in os.listdir(ws.swap_dir) if name.endswith(".tmp")] == []

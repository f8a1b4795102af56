"""Archival memory: one Markdown note per file in `.codemem/archive/`.

A note file is `<id>.md` with frontmatter `id`, `created` (absolute ISO 8601 with offset),
`tags` and, when known, `source` (a commit, a session id, a file). One file per note means two
branches adding notes never conflict. The files are the source of truth and the only store.

Search ranks with BM25 over content and tags in Python (archives are small) and filters by
tags (`any` / `all`) and an inclusive date range. Insert refuses an exact duplicate (same text
up to whitespace) and reports near-duplicates (word-set Jaccard >= 0.8) without refusing; its
file is linked in only where no file is (`infra.rename_new`), never over one saved meanwhile.
`update` (the digest's consolidation) changes a note only if its file still says what was
read, and only in the lines that change: a person's header comments, key order and quoting
stay, and an edit saved meanwhile is never overwritten (nor deleted: `delete(id, expected)`,
which moves the file aside, into `.codemem/local/removing/`, before it compares it; one a kill
left there is put back by the next load). `fold` folds duplicates into a note: those
still as read are moved aside, the note's header is written naming them, and only then are
they removed (put back if the note cannot be written).

Two clones that edit one note (a digest's consolidation, a hand edit) merge it as text where
the merge driver is not set, and a conflict leaves git's markers in it: such a note is read
with both sides, named by `conflicts` (`codemem status`, `recall`), flagged to the agent, and
left alone by the digest until people resolve it; no new note may hold markers.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from codemem.errors import (
    CodememError,
    FileTooLarge,
    NotARegularFile,
    PathOutsideRepository,
    UsageError,
)
from codemem.infra import (
    FileLock,
    SetAside,
    as_utc,
    atomic_file,
    in_range,
    parse_when,
    printable,
    private_dir,
    put_back_set_aside,
    rename_new,
    set_aside,
    update_text,
    utc_now,
)
from codemem.memory import frontmatter
from codemem.memory.errors import (
    BlockFormatError,
    ConflictError,
    ConflictMarkersError,
    DuplicateNoteError,
    MemoryEditError,
    NotFoundError,
)
from codemem.memory.files import (
    MAX_MEMORY_BYTES,
    check_memory_size,
    check_memory_text,
    check_memory_write,
    folder_in_the_way,
    held_memory_path,
    moved_meanwhile,
    read_memory_file,
)
from codemem.memory.markers import CONFLICTED, has_conflict
from codemem.memory.notes import (
    InsertResult,
    Note,
    NoteHit,
    normalize_tags,
    note_id,
    parse_note,
)
from codemem.memory.ranking import bm25_scores, jaccard, normalize
from codemem.memory.removing import move_old_leftovers
from codemem.workspace import Workspace

NEAR_DUPLICATE = 0.8
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _note_text(content: str) -> str:
    """A new note's text as saved, or the refusal of one that cannot be saved."""
    content = content.strip("\n")
    if not content.strip():
        raise MemoryEditError("the note is empty: give the text to remember")
    if has_conflict(content):
        raise ConflictMarkersError(
            "note not saved: the text holds git conflict markers (<<<<<<<, =======, "
            ">>>>>>>): write it without them"
        )
    return content


class Archive:
    """The archival notes of one workspace."""

    def __init__(self, ws: Workspace, clock: Callable[[], datetime] = utc_now) -> None:
        self.ws = ws
        self.dir = ws.archive_dir
        self.clock = clock

    @property
    def _lock(self) -> Path:
        return self.ws.ensure_local() / "locks" / "archive.lock"

    @property
    def _aside(self) -> Path:
        """Where a note waits while it is removed: git ignores it there, and a note a crash
        left there is put back by the next load or removal (`_put_back_leftovers`)."""
        return private_dir(private_dir(self.ws.ensure_local() / "removing") / "archive")

    def _put_back_leftovers(self) -> None:
        """Put back in `archive/` each note a killed removal left set aside (under the lock):
        one folded into another note comes back a duplicate, folded again by the next digest,
        and one being deleted is there to delete again; none is lost. One whose name was taken
        meanwhile stays where it is. What an older codemem set aside in `removing/` itself is
        moved there first (`memory/removing.py`)."""
        move_old_leftovers(self.ws)

        def writable(path: Path) -> contextlib.nullcontext[None]:
            check_memory_write(self.ws, path)
            return contextlib.nullcontext()

        put_back_set_aside(self.ws.local_dir / "removing" / "archive", self.dir, writable)

    def _put_back_at_load(self) -> None:
        """`_put_back_leftovers` before the notes are read, as the blocks' load does, when the
        lock is free at once (its holder, a removal, puts them back itself) and no git operation
        waits for the user (`check_memory_write`): else the next load."""
        if not (self.ws.local_dir / "removing").is_dir():
            return
        with contextlib.suppress(CodememError), FileLock(self._lock, timeout=0):
            self._put_back_leftovers()

    def scan(self) -> tuple[list[Note], list[BlockFormatError]]:
        """Every readable note (oldest first) and one error per unreadable file, after putting
        back the notes a killed removal left set aside (`_put_back_at_load`)."""
        self._put_back_at_load()
        notes: list[Note] = []
        problems: list[BlockFormatError] = []
        if not self.dir.is_dir():
            in_the_way = folder_in_the_way(self.ws, self.dir)
            return notes, [in_the_way] if in_the_way else problems
        for path in sorted(self.dir.glob("*.md")):
            source = printable(path.relative_to(self.ws.root).as_posix())
            try:
                text = read_memory_file(self.ws, path)
                if text is not None:
                    notes.append(parse_note(text, path, source))
            except BlockFormatError as exc:  # also too large, or not UTF-8 (read_memory_file)
                problems.append(exc)
        notes.sort(key=lambda note: (note.created, note.id))
        return notes, problems

    def notes(self) -> list[Note]:
        """The readable notes, oldest first."""
        return self.scan()[0]

    def conflicts(self, notes: Iterable[Note]) -> list[str]:
        """One line per note of `notes` holding git's conflict markers, naming its file and
        the fix (`codemem status` and `codemem recall` print them)."""
        return [
            f"{self._source(note)}: {CONFLICTED}: resolve them in that file, keeping what each "
            "side should still say (the digest leaves the note alone until then)"
            for note in notes
            if has_conflict(note.content)
        ]

    def _source(self, note: Note) -> str:
        path = note.path or self.dir / f"{note.id}.md"
        return printable(path.relative_to(self.ws.root).as_posix())

    def get(self, id: str) -> Note:
        """The note with this id."""
        for note in self.notes():
            if note.id == id:
                return note
        raise NotFoundError(f"no archival note with id '{id}': search the archive to find the id")

    def similar(self, content: str, threshold: float = NEAR_DUPLICATE) -> list[NoteHit]:
        """Notes whose word sets overlap `content`'s by at least `threshold` (Jaccard)."""
        hits = [NoteHit(note, jaccard(content, note.content)) for note in self.notes()]
        hits = [hit for hit in hits if hit.score >= threshold]
        return sorted(hits, key=lambda hit: (-hit.score, hit.note.id))

    def draft(self, content: str, tags: Iterable[str] = (), source: str | None = None) -> Note:
        """The note `insert` would save now, its text checked, its id and file named; nothing
        is written (the sleep-time pass holds its notes until it writes them as one set)."""
        return self._new(_note_text(content), tags, source)

    def _new(self, content: str, tags: Iterable[str], source: str | None) -> Note:
        created = as_utc(self.clock())
        note = Note(note_id(created, content), content, created, normalize_tags(tags), source)
        note.path = self.dir / f"{note.id}.md"
        return note

    def insert(
        self, content: str, tags: Iterable[str] = (), source: str | None = None
    ) -> InsertResult:
        """Save a note; refuses an exact duplicate and reports near-duplicates."""
        content = _note_text(content)
        with FileLock(self._lock):
            existing = self.notes()
            for note in existing:
                if normalize(note.content) == normalize(content):
                    raise DuplicateNoteError(
                        f"an identical note already exists: {note.id} (created "
                        f"{note.created.isoformat()}); nothing was saved"
                    )
            note = self._new(content, tags, source)
            assert note.path is not None
            check_memory_write(self.ws, note.path)
            check_memory_text(self.ws, note.path, note.to_text())  # readable back
            self._save_new(note)
        near = [
            NoteHit(other, score)
            for other in existing
            if (score := jaccard(content, other.content)) >= NEAR_DUPLICATE
        ]
        return InsertResult(note, sorted(near, key=lambda hit: (-hit.score, hit.note.id)))

    def _save_new(self, note: Note) -> None:
        """Write a new note's file (the sleep-time agent's archive holds it instead)."""
        assert note.path is not None
        try:  # linked in only where nothing is, never over a file made a moment before
            ends = self.ws.new_file_line_ends(note.path)  # CRLF in a Windows clone
            with atomic_file(note.path, install=rename_new) as handle:
                handle.write(note.to_text().replace("\n", ends).encode("utf-8"))
        except FileExistsError:  # the same text saved, deleted and saved within a second
            raise DuplicateNoteError(
                f"a note with id {note.id} already exists; nothing was saved"
            ) from None

    def search(
        self,
        query: str = "",
        tags: Iterable[str] | None = None,
        match: str = "any",
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        k: int = 10,
    ) -> list[NoteHit]:
        """Notes matching `query` (BM25), best first; with no query, the newest first.

        `tags` keeps notes with any (`match="any"`) or all (`match="all"`) of the tags;
        `since`/`until` are inclusive (a bare date covers its whole day, UTC).
        """
        if match not in ("any", "all"):
            raise UsageError(f"match must be 'any' or 'all', not '{match}'")
        wanted = set(normalize_tags(tags))
        start, end = parse_when(since), parse_when(until, end=True)
        notes = [
            note
            for note in self.notes()
            if in_range(note.created, start, end)
            and (
                not wanted
                or (wanted <= set(note.tags) if match == "all" else wanted & set(note.tags))
            )
        ]
        if not query.strip():
            newest = sorted(notes, key=lambda note: (note.created, note.id), reverse=True)
            return [NoteHit(note, 0.0) for note in newest[:k]]
        scores = bm25_scores(query, [note.content + "\n" + " ".join(note.tags) for note in notes])
        hits = [
            NoteHit(note, score) for note, score in zip(notes, scores, strict=True) if score > 0
        ]
        hits.sort(key=lambda hit: (-hit.score, -hit.note.created.timestamp(), hit.note.id))
        return hits[:k]

    def update(
        self,
        note: Note,
        content: str,
        tags: list[str],
        extra: dict[str, Any] | None = None,
        *,
        _locked: bool = False,
    ) -> Note:
        """Set the text, tags and `extra` keys of `note` in its file, if the file still says
        exactly what `note` says; returns the note as written.

        Only what changed is rewritten: every frontmatter line of a key whose value is the
        same stays as the person wrote it (comments, order, quoting); a note without
        `created:` gets the time it was read with (the file's time, which this write moves).
        Under the archive's lock with `update_text`'s compare-and-swap, so an edit made since
        `note` was read, one saved just before the rename included, is never overwritten:
        `ConflictError`, and the file is left as it is now.
        """
        if has_conflict(content):
            raise ConflictMarkersError(
                f"{note.id} not changed: the new text holds git conflict markers (<<<<<<<, "
                "=======, >>>>>>>): write it without them"
            )
        path = note.path or self.dir / f"{note.id}.md"
        source = self._source(note)
        checked = check_memory_write(self.ws, path)
        check_memory_size(self.ws, path)  # the compare-and-swap reads it whole
        changed = ConflictError(
            f"{source} changed since it was read: left as it is now; read it again"
        )
        written: list[Note] = []

        def edit(text: str | None) -> str:
            if text is None or parse_note(text, path, source) != note:
                raise changed
            doc = frontmatter.split(text, source)
            meta = dict(doc.meta)
            meta.setdefault("created", note.created)
            if tags != note.tags:
                meta["tags"] = tags
            meta.update(extra or {})
            header = frontmatter.with_values(doc, meta) or frontmatter.dump(meta)
            body = doc.body if content == note.content else frontmatter.value_to_body(content)
            check_memory_text(self.ws, path, header + body)
            written[:] = [parse_note(header + body, path, source)]
            return header + body

        try:
            # `fold` holds the archive's lock already: the write then takes one of its own
            lock = self._lock.with_name("archive-fold.lock") if _locked else self._lock
            with held_memory_path(self.ws, checked, make_folders=True) as held:
                update_text(held, edit, lock, folder=self.ws.swap_dir)
        except (PathOutsideRepository, NotADirectoryError):  # a folder on it swapped since
            raise moved_meanwhile(self.ws, path) from None
        except UnicodeDecodeError:  # replaced by a file that is not text since it was read
            raise changed from None
        return written[0]

    def delete(self, id: str, expected: Note | None = None) -> Note:
        """Remove the note with this id; returns it. Only if its file still says exactly
        `expected` (by default, what it said when it was found): else `ConflictError`, and the
        file is left as it is now.

        The file is moved aside before it is compared (`infra.set_aside`), so an editor's save
        cannot land between the comparison and the removal: one saved before the move is
        compared (and put back), one saved after it is a new file, which stays.
        """
        with FileLock(self._lock):
            self._put_back_leftovers()
            note = self.get(_checked_id(id))
            moved = self._set_aside(note, note if expected is None else expected)
            moved.remove()
            self._check_gone(note)
        return note

    def fold(
        self,
        keeper: Note,
        duplicates: Iterable[Note],
        values: Callable[[list[Note]], tuple[list[str], dict[str, Any]]],
    ) -> tuple[Note, list[Note]]:
        """Fold `duplicates` (notes whose text `keeper` holds) into `keeper`; returns the keeper
        as written and the duplicates folded, each removed.

        A duplicate whose file no longer says what it was read as (edited meanwhile) stays
        as it is and is not folded. The others are moved aside first, then `keeper` is set to
        the tags and `extra` keys `values(folded)` gives, by `update` (so its header names only
        what was really folded), and only then are they removed: if the keeper cannot be
        written (`ConflictError`: edited meanwhile), every one is put back. With nothing to
        fold, nothing is written.
        """
        moved: list[SetAside[Note]] = []
        with FileLock(self._lock):  # held throughout: no other removal puts these back
            self._put_back_leftovers()
            for note in duplicates:
                try:
                    current = self._read_again(note)
                    moved.append(self._set_aside(current, note))
                except (NotFoundError, ConflictError):
                    continue  # gone, or edited since it was read: it says something new
            if not moved:
                return keeper, []
            folded = [aside.value for aside in moved]
            try:
                tags, extra = values(folded)
                written = self.update(keeper, keeper.content, tags, extra, _locked=True)
            except BaseException:
                for aside in moved:
                    aside.restore()
                raise
            for aside in moved:
                aside.remove()
        return written, folded

    def _read_again(self, note: Note) -> Note:
        """`note` as its file says now: found by the file it was read from, not by its id,
        which may be any name a person gave the file (`..`, one with a newline) or two files
        may claim; `NotFoundError` when it is gone."""
        if note.path is None:
            return self.get(_checked_id(note.id))
        for current in self.notes():
            if current.path == note.path:
                return current
        raise NotFoundError(f"no archival note at {self._source(note)}")

    def _set_aside(self, note: Note, expected: Note) -> SetAside[Note]:
        """Move `note`'s file aside if it says exactly `expected` (`infra.set_aside`), else
        `ConflictError` and the file left as it is now; `NotFoundError` if it is gone."""
        path = note.path
        assert path is not None
        check_memory_write(self.ws, path)
        source = self._source(note)
        changed = ConflictError(f"{source} changed since it was read: left as it is now")
        try:
            mtime = path.stat().st_mtime  # a note without `created:` is dated by it
        except FileNotFoundError:
            raise NotFoundError(f"no archival note with id '{note.id}'") from None

        def unchanged(data: bytes) -> Note:
            try:
                moved = parse_note(data.decode("utf-8").replace("\r\n", "\n"), path, source, mtime)
            except (UnicodeDecodeError, BlockFormatError):
                raise changed from None
            if moved != expected:
                raise changed
            return moved

        try:
            return set_aside(path, unchanged, max_bytes=MAX_MEMORY_BYTES, folder=self._aside)
        except FileNotFoundError:  # removed by someone else meanwhile
            raise NotFoundError(f"no archival note with id '{note.id}'") from None
        except (NotARegularFile, FileTooLarge):
            raise changed from None

    def _check_gone(self, note: Note) -> None:
        """`ConflictError` when a file was saved anew where `note` was removed from: it stays."""
        if note.path is not None and os.path.lexists(note.path):
            raise ConflictError(
                f"{self._source(note)} changed since it was read: left as it is now"
            )


def _checked_id(id: str) -> str:
    if not _ID_RE.fullmatch(id or ""):
        raise NotFoundError(f"'{id}' is not a note id: ids look like 20250301-142233-1a2b3c4d")
    return id

"""What a sleep-time pass writes to committed memory, held until the pass has decided all of it.

A pass reads HEAD, then computes its digest, learned regions and consolidation step by step;
each step reads what the earlier ones changed. `HeldWrites` keeps those changes in memory and
lays them over what is on disk (a block's new value, a note added, rewritten, deleted or folded
into another), so
the steps read the pass's own state, while nothing reaches the work tree. At the end the pass
checks that HEAD and its branch are still what it read (a `git checkout` meanwhile would get
files about another branch) and `write` writes the set, each file by the memory layer's
locked compare-and-swap against the text the pass read (a derived file, the digest's or
`conventions.json`, against its bytes as read; one that was not there, only where none is): a
file a person edited meanwhile is left as it is now, and said.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from codemem.memory import (
    Archive,
    Block,
    BlockExistsError,
    BlockFormatError,
    ConflictError,
    DuplicateNoteError,
    MemoryStore,
    Note,
    NotFoundError,
    UnknownLabelError,
    read_memory_file,
    remove_memory_file,
    replace_memory_file,
)
from codemem.workspace import Workspace


@dataclass
class NoteEdit:
    """A note on disk the pass rewrote: as it read it, and as it left it."""

    read: Note
    now: Note
    extra: dict[str, Any] = field(default_factory=dict)  # the frontmatter keys the pass set


@dataclass
class Fold:
    """Duplicates on disk the pass folds into a note on disk (`Archive.fold` at write time)."""

    keeper: Note  # as read
    duplicates: list[Note]  # as read
    values: Callable[[list[Note]], tuple[list[str], dict[str, Any]]]
    now: Note  # the keeper as the pass reads it after the fold


@dataclass
class HeldFile:
    """A derived file the pass writes (its digest, `conventions.json`): its bytes as the pass
    read them (None: no file), and its new text."""

    read: bytes | None
    text: str | None  # None: the file is removed


@dataclass
class LeftAlone:
    """A held write not made: its target changed since the pass read it."""

    target: str  # as in the pass's `Change` (a path, a label or a note id)
    why: str


@dataclass
class HeldWrites:
    """The pass's writes, in memory (see the module docstring)."""

    files: dict[Path, HeldFile] = field(default_factory=dict)
    blocks: dict[str, tuple[Block, Block]] = field(default_factory=dict)  # as read, as left
    added: dict[str, Note] = field(default_factory=dict)
    edited: dict[str, NoteEdit] = field(default_factory=dict)
    deleted: dict[str, Note] = field(default_factory=dict)  # as read
    folds: dict[str, Fold] = field(default_factory=dict)  # by the keeper's id

    # -- reading through them -----------------------------------------------------------------

    def block(self, label: str) -> Block | None:
        """The block as the pass left it, or None when the pass has not changed it."""
        held = self.blocks.get(label)
        return held[1] if held is not None else None

    def over_blocks(self, listed: Iterable[Block]) -> list[Block]:
        """`listed` (the blocks on disk) as the pass left them, new ones included, by label."""
        by_label = {block.label: block for block in listed}
        by_label.update((label, now) for label, (_, now) in self.blocks.items())
        return [by_label[label] for label in sorted(by_label)]

    def over_notes(self, listed: Iterable[Note]) -> list[Note]:
        """`listed` (the notes on disk) as the pass left them, oldest first."""
        away = {note.id for fold in self.folds.values() for note in fold.duplicates}
        notes = [
            self.edited[note.id].now
            if note.id in self.edited
            else self.folds[note.id].now
            if note.id in self.folds
            else note
            for note in listed
            if note.id not in self.deleted and note.id not in away
        ]
        notes += self.added.values()
        return sorted(notes, key=lambda note: (note.created, note.id))

    # -- holding ------------------------------------------------------------------------------

    def set_block(self, read: Block, value: str) -> None:
        first = self.blocks[read.label][0] if read.label in self.blocks else read
        self.blocks[read.label] = (first, replace(read, value=value))

    def put_block(self, read: Block | None, now: Block) -> None:
        """Hold `now` for its label; `read`: the block as the pass read it (None: new), kept
        from the first change the pass made to it."""
        if now.label not in self.blocks:
            self.blocks[now.label] = (read or replace(now, value="", path=None), now)
        else:
            self.blocks[now.label] = (self.blocks[now.label][0], now)

    def put_file(self, path: Path, read: bytes | None, text: str | None) -> None:
        """Hold `text` for `path` (None: remove it); `read`: its bytes as the pass first read
        them."""
        first = self.files[path].read if path in self.files else read
        self.files[path] = HeldFile(first, text)

    def add_note(self, note: Note) -> None:
        self.added[note.id] = note

    def edit_note(
        self, note: Note, content: str, tags: list[str], extra: dict[str, Any] | None
    ) -> None:
        now = replace(note, content=content, tags=tags, extra={**note.extra, **(extra or {})})
        if note.id in self.added:
            self.added[note.id] = now
            return
        held = self.edited.get(note.id)
        before = held.extra if held is not None else {}
        self.edited[note.id] = NoteEdit(
            held.read if held is not None else note, now, {**before, **(extra or {})}
        )

    def fold(
        self,
        keeper: Note,
        duplicates: list[Note],
        values: Callable[[list[Note]], tuple[list[str], dict[str, Any]]],
    ) -> None:
        """Fold `duplicates` into `keeper`: written by `Archive.fold` (a duplicate edited
        meanwhile stays, and the keeper names only what was folded), but where the pass drafted
        or rewrote one of them, as a rewrite and deletions."""
        tags, extra = values(duplicates)
        mine = {*self.added, *self.edited}
        if keeper.id in mine or any(note.id in mine for note in duplicates):
            self.edit_note(keeper, keeper.content, tags, extra)
            for note in duplicates:
                self.delete_note(note)
            return
        now = replace(keeper, tags=tags, extra={**keeper.extra, **extra})
        self.folds[keeper.id] = Fold(keeper, duplicates, values, now)

    def delete_note(self, note: Note) -> None:
        if self.added.pop(note.id, None) is not None:
            return
        held = self.edited.pop(note.id, None)
        self.deleted[note.id] = held.read if held is not None else note

    # -- writing ------------------------------------------------------------------------------

    def write(self, ws: Workspace, store: MemoryStore, archive: Archive) -> list[LeftAlone]:
        """Write every held change; returns those left alone (their files changed meanwhile).

        New notes go first, so a block's pointer never names a note not written yet; deletions
        go last, and only when every note the set added or rewrote was written (a duplicate is
        deleted only once the note it was folded into holds it).
        """
        made = [path for path, held in self.files.items() if held.read is None]
        made += [note.path for note in self.added.values() if note.path is not None]
        made += [
            store.path_for(label) for label, (before, _) in self.blocks.items() if not before.path
        ]
        with ws.making_files(made):  # their line ends asked of git once, not once each
            return self._write(ws, store, archive)

    def _write(self, ws: Workspace, store: MemoryStore, archive: Archive) -> list[LeftAlone]:
        left: list[LeftAlone] = []
        for path, held in self.files.items():
            if held.text is not None and not write_derived(ws, path, held.read, held.text):
                left.append(LeftAlone(path.relative_to(ws.root).as_posix(), "writing it"))
        # a file is removed (a digest another made redundant) only once what replaces it is
        # written: a removal a kill cuts short then loses nothing (`put_back_memory_files`)
        for path, held in self.files.items():
            if held.text is not None or held.read is None:
                continue
            where = path.relative_to(ws.root).as_posix()
            if left:
                left.append(LeftAlone(where, "removing it (what replaces it was left as it is)"))
            elif not remove_memory_file(ws, path, held.read):
                left.append(LeftAlone(where, "removing it"))
        for note in self.added.values():
            try:
                # dated as drafted: the same id, which the pass's pointers may name
                Archive(ws, clock=_at(note.created)).insert(note.content, note.tags, note.source)
            except DuplicateNoteError:
                left.append(LeftAlone(note.id, "saving it (the same text was saved meanwhile)"))
        for fold in self.folds.values():
            left += _write_fold(archive, fold)
        for label, (before, now) in self.blocks.items():
            try:
                if before.path is None:
                    store.create(label, now.description, now.value, now.limit, extra=now.extra)
                else:
                    store.rethink(label, now.value, expected=before.value, keep_conflicts=True)
            except (ConflictError, BlockExistsError, UnknownLabelError, BlockFormatError):
                left.append(LeftAlone(label, "updating it"))
        for edit in self.edited.values():
            try:
                archive.update(edit.read, edit.now.content, edit.now.tags, edit.extra)
            except (ConflictError, BlockFormatError):
                left.append(LeftAlone(edit.read.id, "rewriting it"))
        notes_left = any(item.target in self.added or item.target in self.edited for item in left)
        for note_id, read in self.deleted.items():
            if notes_left:
                left.append(LeftAlone(note_id, "deleting it (a note it went into was not written)"))
                continue
            try:
                archive.delete(note_id, read)
            except NotFoundError:
                continue
            except ConflictError:
                left.append(LeftAlone(note_id, "deleting it"))
        return left


def write_derived(ws: Workspace, path: Path, read: bytes | None, text: str) -> bool:
    """Write a derived file only over what the pass read of it (`read`, None: only where no
    file is); True once it holds `text`, which another pass may have written meanwhile, False
    when a save since the read holds something else (left as it is)."""
    if replace_memory_file(ws, path, read, text):
        return True
    try:
        return read_memory_file(ws, path) == text
    except BlockFormatError:
        return False


def _write_fold(archive: Archive, fold: Fold) -> list[LeftAlone]:
    """`Archive.fold` of a held fold; the notes it left as they are."""
    try:
        _written, folded = archive.fold(fold.keeper, fold.duplicates, fold.values)
    except (ConflictError, BlockFormatError, NotFoundError):  # the keeper edited, or gone
        folded = []
    ids = {note.id for note in folded}
    left = [] if folded else [LeftAlone(fold.keeper.id, "rewriting it")]
    left += [
        LeftAlone(note.id, "folding it into another note")
        for note in fold.duplicates
        if note.id not in ids
    ]
    return left


def _at(when: datetime) -> Callable[[], datetime]:
    return lambda: when

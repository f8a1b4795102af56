"""Every write of the sleep-time pass, in one place, through the memory layer's locked API.

Block edits are `MemoryStore.rethink(label, new, expected=old)`: a compare-and-swap under
the block's lock, retried on fresh text when another process edited the block meanwhile.
Notes go through `Archive`; digests and other files through the memory layer's compare-and-swap
(`replace_memory_file`: only over what the pass read of them). In a dry run
nothing is written and each would-be change is only recorded. With `hold`, the digest's
writer, every change is held in memory (`sleep/held.py`) and read back by the later steps,
until `write_held` writes the whole set (a dry run never does).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from codemem.conventions import (
    RegionError,
    has_conflict,
    region_budget,
    resolve_learned_conflicts,
    with_region,
)
from codemem.infra import printable
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
    check_memory_path,
    check_memory_write,
    default_description,
    default_limit,
    normalize,
    read_memory_bytes,
    remove_memory_file,
)
from codemem.sleep.held import HeldWrites, write_derived
from codemem.workspace import Workspace

log = logging.getLogger("codemem")
ATTEMPTS = 3


@dataclass(frozen=True)
class Change:
    """One write the pass made (or would make, in a dry run)."""

    kind: str  # digest | block | note-added | note-deleted | note-updated | state
    target: str  # a path relative to the repository, a block label or a note id
    detail: str = ""

    def to_json(self) -> dict:
        return {"kind": self.kind, "target": self.target, "detail": self.detail}


class MemoryWriter:
    """Applies (or, with `dry_run`, records) the pass's changes to `.codemem/`."""

    def __init__(
        self, ws: Workspace, *, dry_run: bool, clock: Callable[[], datetime], hold: bool = False
    ) -> None:
        self.ws = ws
        self.dry_run = dry_run
        self.held = HeldWrites() if hold else None
        self.store = MemoryStore(ws, user="codemem")  # user blocks are not touched here
        self.archive = Archive(ws, clock=clock)
        self.changes: list[Change] = []
        self.warnings: list[str] = []
        self._conflicts_reported: set[str] = set()

    # -- blocks -------------------------------------------------------------------------------

    def read_block(self, label: str) -> Block | None:
        """The block, a fresh empty one if it does not exist yet, or None if unreadable."""
        if self.held is not None and (held := self.held.block(label)) is not None:
            return held
        try:
            return self.store.get(label)
        except UnknownLabelError:
            return Block(label, "", default_description(label), default_limit(label))
        except (BlockFormatError, UnicodeDecodeError) as exc:
            self.warnings.append(f"{label}: cannot read the block, left alone: {exc}")
            return None

    def edit_block(self, label: str, change: Callable[[Block], str | None], detail: str) -> bool:
        """Set the block's value to `change(block)` (None: leave it); True if it changed."""
        for _ in range(ATTEMPTS):
            block = self.read_block(label)
            if block is None:
                return False
            if block.read_only:
                self.warnings.append(f"{label} is read-only; its learned content was not updated")
                return False
            try:
                new = change(self._without_learned_conflicts(block))
            except RegionError as exc:
                self.warnings.append(str(exc))
                return False
            if new is None or new == block.value:
                return False
            if len(new) > block.limit:
                self.warnings.append(
                    f"{label} is full ({len(new):,} / {block.limit:,} characters even with its "
                    "learned region shortened): move some of its text to archival memory"
                )
                return False
            if self.held is not None:
                self.held.set_block(block, new)
                self.changes.append(Change("block", label, detail))
                return True
            if self.dry_run:
                self.changes.append(Change("block", label, detail))
                return True
            try:
                if block.path is None:
                    self.store.create(label, block.description, new, block.limit)
                else:
                    self.store.rethink(label, new, expected=block.value, keep_conflicts=True)
            except (ConflictError, BlockExistsError):
                continue  # edited or created meanwhile: recompute on the fresh value
            self.changes.append(Change("block", label, detail))
            return True
        self.warnings.append(f"{label} kept changing during the pass; try again")
        return False

    def _without_learned_conflicts(self, block: Block) -> Block:
        """The block as edits see it: merge conflicts in learned regions resolved (the pass
        re-derives them), others left in place and reported once."""
        if not has_conflict(block.value):
            return block
        fixed = resolve_learned_conflicts(block.value)
        if fixed.left and block.label not in self._conflicts_reported:
            self._conflicts_reported.add(block.label)
            self.warnings.append(
                f"{block.label}: {fixed.left} merge conflict{'s' if fixed.left > 1 else ''} outside the "
                "learned regions left as written; resolve them by hand (look for <<<<<<<)"
            )
        return replace(block, value=fixed.text)

    def blocks(self) -> list[Block]:
        """The readable blocks, sorted by label (as the pass left them, when it holds them)."""
        listed = self.store.list()
        return listed if self.held is None else self.held.over_blocks(listed)

    def held_text(self, block: Block) -> str | None:
        """The file text the pass holds for `block`, or None when it holds none."""
        if self.held is None or self.held.block(block.label) is None:
            return None
        return block.to_text()

    def update_region(self, label: str, name: str, build: Callable[[int], str]) -> bool:
        """Rewrite the marked region `name` of block `label` with `build(budget)`."""

        def change(block: Block) -> str:
            budget = region_budget(block.value, name, block.limit, label)
            return with_region(block.value, name, build(budget), label)

        return self.edit_block(label, change, f"{name} region")

    # -- archival notes -----------------------------------------------------------------------

    def notes(self) -> list[Note]:
        """The readable notes, oldest first (as the pass left them, when it holds them)."""
        listed = self.archive.notes()
        return listed if self.held is None else self.held.over_notes(listed)

    def settled_notes(self) -> list[Note]:
        """The notes an edit may build on: a note holding git's conflict markers is left as
        written and reported once (people resolve it; a rewrite, or a duplicate folded into
        it, would build on both sides)."""
        notes = self.notes()
        for line in self.archive.conflicts(notes):
            if line not in self._conflicts_reported:
                self._conflicts_reported.add(line)
                self.warnings.append(line)
        return [note for note in notes if not has_conflict(note.content)]

    def find_note(self, content: str) -> Note | None:
        wanted = normalize(content)
        return next((n for n in self.notes() if normalize(n.content) == wanted), None)

    def insert_note(self, content: str, tags: list[str], source: str) -> str:
        """Save a note (or reuse an identical one); returns its id."""
        existing = self.find_note(content)
        if existing is not None:
            return existing.id
        if self.held is not None:
            note = self.archive.draft(content, tags, source)
            self.held.add_note(note)
            self.changes.append(Change("note-added", note.id, ", ".join(tags)))
            return note.id
        if self.dry_run:
            self.changes.append(Change("note-added", "(new note)", ", ".join(tags)))
            return "(new note)"
        try:
            note = self.archive.insert(content, tags, source).note
        except DuplicateNoteError:
            found = self.find_note(content)
            if found is None:
                raise
            return found.id
        self.changes.append(Change("note-added", note.id, ", ".join(tags)))
        return note.id

    def delete_note(self, note_id: str, expected: Note | None = None, why: str = "") -> bool:
        """Delete a note (with `expected`, only if its file still says that; else a warning
        naming the note, and nothing deleted); True if it is gone."""
        if self.held is not None:
            read = expected or next((n for n in self.notes() if n.id == note_id), None)
            if read is None:
                return True
            self.held.delete_note(read)
            self.changes.append(Change("note-deleted", note_id))
            return True
        if self.dry_run:
            self.changes.append(Change("note-deleted", note_id))
            return True
        try:
            self.archive.delete(note_id, expected)
        except NotFoundError:
            return True
        except ConflictError:
            self._left_alone(expected, why or "deleting it")
            return False
        self.changes.append(Change("note-deleted", note_id))
        return True

    def rewrite_note(
        self, note: Note, content: str, tags: list[str], extra: dict | None = None
    ) -> bool:
        """Change a note's text, tags and `extra` keys in place (`Archive.update`: only the
        lines that change, and never over an edit made since the pass read it: then a
        warning, and the note is left for the next pass); True if it was written."""
        if self.held is not None:
            self.held.edit_note(note, content, tags, extra)
            self.changes.append(Change("note-updated", note.id))
            return True
        if self.dry_run:
            self.changes.append(Change("note-updated", note.id))
            return True
        try:
            self.archive.update(note, content, tags, extra)
        except (ConflictError, BlockFormatError):  # edited meanwhile, or now unreadable
            self._left_alone(note, "rewriting it")
            return False
        self.changes.append(Change("note-updated", note.id))
        return True

    def fold_notes(
        self,
        keeper: Note,
        duplicates: list[Note],
        values: Callable[[list[Note]], tuple[list[str], dict]],
    ) -> list[Note]:
        """Fold `duplicates` into `keeper` (`Archive.fold`: a duplicate edited since the pass
        read it stays, with a warning, and the keeper names only what was folded; a keeper
        edited meanwhile is left alone, and so is every duplicate); returns those folded (held:
        those it will fold)."""
        if self.held is not None:
            self.held.fold(keeper, duplicates, values)
            self.changes.append(Change("note-updated", keeper.id))
            self.changes.extend(Change("note-deleted", note.id) for note in duplicates)
            return duplicates
        if self.dry_run:
            self.changes.append(Change("note-updated", keeper.id))
            self.changes.extend(Change("note-deleted", note.id) for note in duplicates)
            return duplicates
        try:
            _written, folded = self.archive.fold(keeper, duplicates, values)
        except (ConflictError, BlockFormatError):  # the keeper edited meanwhile, or unreadable
            self._left_alone(keeper, "rewriting it")
            return []
        ids = {note.id for note in folded}
        for note in duplicates:
            if note.id not in ids:
                self._left_alone(note, "folding it into another note")
        if folded:
            self.changes.append(Change("note-updated", keeper.id))
            self.changes.extend(Change("note-deleted", note.id) for note in folded)
        return folded

    def _left_alone(self, note: Note | None, doing: str) -> None:
        where = note.path if note is not None and note.path else None
        self._changed_meanwhile(
            where.relative_to(self.ws.root).as_posix() if where else "a note", doing
        )

    def _changed_meanwhile(self, target: str, doing: str) -> None:
        self.warnings.append(
            f"{printable(target)} changed while the digest was {doing}: left as it is now (the "
            "next digest looks at it again)"
        )

    # -- files --------------------------------------------------------------------------------

    def _read_file(self, path: Path, undone: str) -> tuple[str, bytes | None] | None:
        """(`path` relative to the repository, its bytes now: None for no file), or None, said
        with `undone` ("not written"), when it is too large to compare with anything."""
        # never through a cloned link, nor out of the repository; a dry run, which writes
        # nothing, also while a git operation waits (`run_digest` lets it run then)
        (check_memory_path if self.dry_run else check_memory_write)(self.ws, path)
        try:
            return path.relative_to(self.ws.root).as_posix(), read_memory_bytes(self.ws, path)
        except BlockFormatError as exc:
            self.warnings.append(f"{exc}; {undone}")
            return None

    def write_file(self, path: Path, text: str, kind: str) -> bool:
        """Write a file unless it already holds exactly `text` (a damaged file, one that is not
        UTF-8 text, is written again: everything written here is derived), and only over what
        was read of it now: a save made since is left as it is, and said (so is a file too
        large to read, named with its fix)."""
        found = self._read_file(path, "not written")
        if found is None:
            return False
        target, read = found
        try:
            if read is not None and read.decode("utf-8").replace("\r\n", "\n") == text:
                return False
        except UnicodeDecodeError:
            self.warnings.append(f"{printable(target)}: not UTF-8 text: written again")
        if self.held is not None:
            self.held.put_file(path, read, text)
        elif not self.dry_run and not write_derived(self.ws, path, read, text):
            self._changed_meanwhile(target, "writing it")
            return False
        self.changes.append(Change(kind, target))
        return True

    def remove_file(
        self, path: Path, kind: str, detail: str = "", *, expected: bytes | None = None
    ) -> bool:
        """Remove a derived file (a digest another one made redundant) if it is there, only
        while it holds what was read of it now (and, given `expected`, what the caller read
        and judged before): a save made since is left as it is, and said."""
        found = self._read_file(path, "not removed")
        if found is None or found[1] is None:
            return False
        target, read = found[0], found[1]
        if expected is not None and read != expected:
            self._changed_meanwhile(target, "removing it")
            return False
        if self.held is not None:
            self.held.put_file(path, read, None)
        elif not self.dry_run and not remove_memory_file(self.ws, path, read):
            self._changed_meanwhile(target, "removing it")
            return False
        self.changes.append(Change(kind, target, detail))
        return True

    def sync_overflow(self, region: str, content: str | None, tags: list[str]) -> str | None:
        """Keep one archival note per region holding what the block had no room for.

        The region's note is the one whose source names the region (found in the archive,
        so no state file has to remember it); returns its id. A region that fits again gets
        its note deleted (the block now holds all of it).
        """
        source = f"codemem digest ({region} region)"
        old = [note for note in self.notes() if note.source == source]
        note_id = self.insert_note(content, tags, source) if content is not None else None
        for stale in old:
            if stale.id != note_id:  # a person's edit to it since: kept, and said
                self.delete_note(stale.id, stale, "replacing it")
        return note_id

    # -- the held set -------------------------------------------------------------------------

    def write_held(self) -> None:
        """Write what the pass holds, as one set (`HeldWrites.write`); a change whose file
        changed since the pass read it is left out of `changes` and said in `warnings`."""
        if self.held is None or self.dry_run:
            return
        held, self.held = self.held, None  # what follows (the sleep-time agent) writes at once
        for item in held.write(self.ws, self.store, self.archive):
            self.changes = [c for c in self.changes if c.target != item.target]
            self._changed_meanwhile(item.target, item.why)

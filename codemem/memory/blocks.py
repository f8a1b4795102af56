"""Core memory: labelled Markdown blocks under `.codemem/blocks/`, always in the agent's context.

A block is `blocks/<label>.md`, frontmatter and a value (`Block`); how the folder is read,
and the problem lines naming what is wrong in it, is `block_folder`'s. The label `personal` is
the user's personal block in their home folder; the block codemem creates for the active user
says whose it is (`owner`; see `users`).

Edits (exact semantics; each refuses unknown labels, read-only blocks and results past the
limit, and keeps the frontmatter exactly as written):

- `append(label, content)`: the value becomes `value + "\\n" + content`; no separator when
  the value is empty or already ends with a newline.
- `replace(label, old, new)`: `old` must occur exactly once in the value.
- `insert(label, text, line=-1)`: with the value split into lines, `text` goes after the
  first `line` lines: 0 is the start, -1 (or the line count) the end. One trailing newline
  of `text` is ignored.
- `rethink(label, new_value, expected=None)`: replaces the whole value; with `expected`, the
  edit is refused if the value is no longer what the caller read (the agent's tool passes the
  value the store last showed it, `shown`, so a person's save since is never written over).
- `create`, `delete`, `rename`: whole files (`block_create`, with the active user's own block made
  on first use; `block_removal`; `block_rename`).

Every write goes through `codemem.infra.update_text` (lock + compare-and-swap + atomic rename).
No edit leaves git's conflict markers in a block: a block a merge left them in is read as it
is, and edited again once people resolved them (see `markers`).
"""

from __future__ import annotations

import builtins
import contextlib
import difflib
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from codemem.config import make_user_dir
from codemem.errors import PathOutsideRepository
from codemem.infra import (
    printable,
    stall_for_tests,
    update_text,
)
from codemem.memory.block_create import create_block, ensure_user_block
from codemem.memory.block_folder import Block, BlockFolder, parse_block
from codemem.memory.block_removal import delete_block, put_back_leftovers
from codemem.memory.block_rename import rename_block
from codemem.memory.errors import (
    BlockFormatError,
    ConflictError,
    ConflictMarkersError,
    GitBusyError,
    LimitExceededError,
    LineOutOfRangeError,
    MemoryEditError,
    OldTextError,
    ReadOnlyError,
    UnknownLabelError,
)
from codemem.memory.files import (
    check_git_idle,
    check_memory_path,
    check_memory_size,
    check_memory_write,
    check_own_file,
    folder_in_the_way,
    held_memory_path,
    moved_meanwhile,
    not_text,
)
from codemem.memory.labels import default_limit, limit_message, validate_label
from codemem.memory.markers import CONFLICTED, has_conflict
from codemem.memory.render import render_blocks
from codemem.memory.undone import (
    GIT_TRIES,
    GitRan,
    check_kept,
    quiet_stamp,
    read_under,
    wait_for_git,
)
from codemem.memory.users import (
    PERSONAL_LABEL,
    find_user_slug,
    personal_block_path,
    user_identity,
    user_label,
)
from codemem.workspace import Workspace


def _lines(value: str) -> list[str]:
    return value.split("\n") if value else []


class MemoryStore(BlockFolder):
    """The core memory blocks of one workspace (plus the user's personal block).

    `user` fixes the active user's slug; without it the slug is found from who is at the
    keyboard (`identity`, see `users`), and the block codemem creates for them records it as
    its owner.
    """

    def __init__(self, ws: Workspace, user: str | None = None, home: Path | None = None) -> None:
        super().__init__(ws, personal_block_path(home))
        self.identity = "" if user else user_identity(ws.root)
        self.user = user or find_user_slug(ws, self.identity)
        # each block's value as this store last showed it (`render_blocks`) or wrote it: what
        # an edit of the whole value, made on what was shown, expects it still to be
        self.shown: dict[str, str] = {}
        # the blocks the last render left out (past `max_chars`): their whole value was never
        # shown, so a rewrite of it would drop lines the model has not seen
        self.left_out: set[str] = set()

    @property
    def user_label(self) -> str:
        """The active user's block label, `users/<slug>`."""
        return user_label(self.user)

    # -- where things are -------------------------------------------------------------------

    def _lock_for(self, label: str) -> Path:
        if label == PERSONAL_LABEL:
            return self.personal_path.parent / "locks" / "personal.md.lock"
        return self.ws.ensure_local() / "locks" / "blocks" / f"{label}.md.lock"

    def _writable(self, label: str, path: Path) -> str | None:
        """Refuse a write of the block at `path` (see `check_memory_write`); returns the path
        checked, for the write to hold (`_swap`), None for the personal block."""
        if label == PERSONAL_LABEL:
            check_own_file(self.ws, path)
            return None
        return check_memory_write(self.ws, path)

    def _swap_dir(self, label: str) -> Path | None:
        """Where a write of the block swaps from (`Workspace.swap_dir`); the personal block's
        own folder, outside any repository."""
        return None if label == PERSONAL_LABEL else self.ws.swap_dir

    # -- reading ----------------------------------------------------------------------------

    def scan(self) -> tuple[builtins.list[Block], builtins.list[BlockFormatError]]:
        """`BlockFolder.scan`, after putting back the blocks a killed delete left set aside
        (`block_removal.put_back_leftovers`)."""
        put_back_leftovers(self)
        return super().scan()

    def list(self) -> list[Block]:
        """The readable blocks, sorted by label (broken files are in `problems()`)."""
        return self.scan()[0]

    def problems(self) -> builtins.list[BlockFormatError]:
        """One error per block file that cannot be read."""
        return self.scan()[1]

    def labels(self) -> builtins.list[str]:
        return [block.label for block in self.list()]

    def get(self, label: str) -> Block:
        """The block with this label; `UnknownLabelError` lists the labels that exist."""
        validate_label(label)
        path = self.path_for(label)
        with contextlib.suppress(FileNotFoundError):
            return self._read(label, path)
        put_back_leftovers(self)  # a block a killed delete left set aside is there again
        try:
            return self._read(label, path)
        except FileNotFoundError:
            folders = [p for p in path.parents if p.is_relative_to(self.ws.blocks_dir)]
            for folder in reversed(folders):  # `blocks/users` a clone committed as a file
                if in_the_way := folder_in_the_way(self.ws, folder):
                    raise in_the_way from None
            raise self._unknown(label) from None

    def ensure_user_block(self) -> Block | None:
        """The active user's block, created empty on first use; None without `.codemem/`
        (`block_create.ensure_user_block`)."""
        return ensure_user_block(self)

    def _unknown(self, label: str) -> UnknownLabelError:
        labels = ", ".join(self.labels())
        if not labels and not self.ws.config_file.exists():  # `memory show project` before init
            return UnknownLabelError(
                f"unknown block '{label}': {self.ws.dir.name}/ has no blocks yet: run `codemem"
                " init` first (it creates the project, conventions and your user block)"
            )
        close = difflib.get_close_matches(label, self.labels(), n=1, cutoff=0.6)
        if close:  # a typo: the label meant, before the list
            return UnknownLabelError(
                f"unknown block '{label}': did you mean '{close[0]}'? (the blocks are {labels})"
            )
        labels = labels or "none yet"
        return UnknownLabelError(
            f"unknown block '{label}': the blocks are {labels}; create it first to use a new label"
        )

    def context_blocks(self) -> builtins.list[Block]:
        """The blocks the agent sees: all but other users' blocks, project and conventions first."""
        return self._in_context(self.list())

    def _in_context(self, blocks: Iterable[Block]) -> builtins.list[Block]:
        order = {"project": 0, "conventions": 1, self.user_label: 3, PERSONAL_LABEL: 4}
        shown = [
            block
            for block in blocks
            if not block.label.startswith("users/") or block.label == self.user_label
        ]
        return sorted(shown, key=lambda block: (order.get(block.label, 2), block.label))

    def render_blocks(
        self, labels: Iterable[str] | None = None, max_chars: int | None = None
    ) -> str:
        """The text the agent sees for `labels` (default: `context_blocks()`), the blocks read
        once; with `max_chars`, only what fits in that many characters (project, conventions
        and the user's own blocks first), the rest named as left out (`render.render_blocks`)."""
        if labels is None:
            found, problems = self.scan()
            blocks = self._in_context(found)
        else:
            blocks, problems = [self.get(label) for label in labels], []
        first = ("project", "conventions", self.user_label, PERSONAL_LABEL)
        text, shown = render_blocks(blocks, problems, max_chars, first)
        self.shown.update((block.label, block.value) for block in shown)
        labels_shown = {block.label for block in shown}
        self.left_out |= {block.label for block in blocks} - labels_shown
        self.left_out -= labels_shown
        return text

    # -- edits ------------------------------------------------------------------------------

    def _check_markers(self, label: str, old: str | None, new: str) -> None:
        """Refuse a value that keeps git's conflict markers (or brings new ones)."""
        if not has_conflict(new):
            return
        if old is not None and has_conflict(old):
            raise ConflictMarkersError(
                f"{label} not changed: {self._source(self.path_for(label))} {CONFLICTED}: "
                "resolve them in that file first (or rewrite the whole value without them)"
            )
        raise ConflictMarkersError(
            f"{label} not changed: the new text holds git conflict markers (<<<<<<<, =======, "
            ">>>>>>>): write it without them"
        )

    def _edit(
        self, label: str, change: Callable[[Block], str], *, keep_conflicts: bool = False
    ) -> Block:
        validate_label(label)
        path = self.path_for(label)
        busy: GitBusyError | None = None
        checked: str | None = None
        if label == PERSONAL_LABEL:
            check_own_file(self.ws, path)
        else:
            checked = check_memory_path(self.ws, path)
            try:
                check_git_idle(self.ws, path)
            except GitBusyError as exc:  # mid-merge, only the edit resolving this block's markers
                busy = exc
        if busy is not None and (keep_conflicts or not path.exists()):
            raise busy
        if label != PERSONAL_LABEL:
            check_memory_size(self.ws, path)  # the edit reads it whole
        if not os.path.lexists(path):  # a block a killed delete left set aside is edited
            put_back_leftovers(self)
        if label == self.user_label and not path.exists():
            self.ensure_user_block()
        if checked is not None:
            self._check_blocks_folder(label, path)
        result: list[Block] = []

        def apply(text: str | None) -> str:
            if text is None:
                raise self._unknown(label)
            block = parse_block(label, text, self._source(path))
            self._check_writable(block)
            value = change(block)
            if not keep_conflicts:
                self._check_markers(label, block.value, value)
            if busy is not None and not has_conflict(block.value):
                raise busy
            if len(value) > block.limit:
                raise LimitExceededError(limit_message(label, len(value), block.limit))
            unchanged = value == block.value
            block.value, block.path = value, path
            result[:] = [block]
            # a value written back as it was leaves the file as it is: no final newline added,
            # no blank body dropped (`to_text` writes the value in its one form)
            return text if unchanged else block.to_text()

        try:
            self._swap(label, path, apply, checked)
        except UnknownLabelError:
            # a checkout replaces a file by removing it first: a block read then is missing
            # only until git lets its lock go
            if not wait_for_git(self.ws) and not path.exists():
                raise
            self._swap(label, path, apply, checked)
        self.shown[label] = result[0].value
        return result[0]

    def _swap(
        self, label: str, path: Path, apply: Callable[[str | None], str], checked: str | None
    ) -> None:
        """Write `apply(text)` over the block file's `text` (None: no file yet): every edit and
        creation goes through here, under the block's lock with `update_text`'s compare-and-
        swap (the sleep-time agent's store holds the text instead, `sleep/sleep_agent.py`),
        through the block's folders held open along the path `_writable` checked, `checked`
        (`held_memory_path`: a folder swapped for a link after the check is not written
        through)."""
        lock = self._lock_for(label)  # first: it makes `.codemem/local/`, and `.codemem/`
        try:
            if label == PERSONAL_LABEL:  # in the user's own folder, outside any repository
                make_user_dir(self.personal_path.parent)  # its locks/ too: one line if it cannot
                # kept in dotfiles, a link: the file it leads to is written, the link stays
                update_text(Path(os.path.realpath(path)), apply, lock, folder=self._swap_dir(label))
                return
            assert checked is not None  # a block of the repository: `_writable` checked it
            # a new block in the line ends git would check it out with (CRLF in a Windows clone)
            ends = "\n" if os.path.lexists(path) else self.ws.new_file_line_ends(path)
            for _ in range(GIT_TRIES):  # read while no git command rewrites the work tree
                stamp = quiet_stamp(self.ws, path)
                stall_for_tests("block-stamped")  # a git command may start before the read
                try:
                    with held_memory_path(self.ws, checked, make_folders=True) as held:
                        edit = read_under(self.ws, stamp, apply)
                        before, after = update_text(
                            held, edit, lock, folder=self._swap_dir(label), new_ends=ends
                        )
                except GitRan:
                    continue
                if before != after:  # a git command replacing the file meanwhile undoes it
                    check_kept(self.ws, path, after, stamp)
                return
            raise GitBusyError(
                f"{printable(self.ws.relative(path))} not written: git commands kept rewriting the "
                "work tree while codemem read it; try again once they end"
            )
        except (PathOutsideRepository, NotADirectoryError):
            raise moved_meanwhile(self.ws, path) from None
        except UnicodeDecodeError as exc:  # the compare-and-swap reads the file as text
            raise not_text(self.ws, path, exc) from None

    def _check_blocks_folder(self, label: str, path: Path) -> None:
        """Refuse an edit of a block of the repository where `.codemem/blocks/` is not even
        there (before `codemem init`, say) before its lock or folders are made: the refusal
        would come under the lock anyway, and would leave `.codemem/` made for nothing."""
        if not os.path.lexists(path) and not os.path.isdir(self.ws.blocks_dir):
            raise self._unknown(label)

    def _check_writable(self, block: Block) -> None:
        if block.read_only:
            where = self._source(self.path_for(block.label))
            raise ReadOnlyError(
                f"{block.label} is read-only (read_only: true in {where}): only a person editing "
                "that file can change it; put the text in another block or in archival memory"
            )

    def append(self, label: str, content: str) -> Block:
        """Add `content` at the end of the block, on a new line."""
        if not content:
            raise MemoryEditError(f"nothing to append to {label}: give the text to add")

        def change(block: Block) -> str:
            if not block.value or block.value.endswith("\n"):
                return block.value + content
            return block.value + "\n" + content

        return self._edit(label, change)

    def replace(self, label: str, old: str, new: str) -> Block:
        """Replace the one occurrence of `old` with `new` (`new` may be empty to delete)."""
        if not old:
            raise OldTextError(
                f"the old text is empty: copy the exact text to replace from {label}"
            )

        def change(block: Block) -> str:
            count = block.value.count(old)
            if count == 0:
                raise OldTextError(
                    f"old text occurs 0 times in {label}; it must occur exactly once: copy it "
                    "exactly from the block, including spaces and line breaks"
                )
            if count > 1:
                raise OldTextError(
                    f"old text occurs {count} times in {label}; it must occur exactly once: "
                    "include more of the surrounding text so it matches one place"
                )
            return block.value.replace(old, new, 1)

        return self._edit(label, change)

    def insert(self, label: str, text: str, line: int = -1) -> Block:
        """Insert `text` after the first `line` lines (0: at the start; -1: at the end)."""
        text = text[:-1] if text.endswith("\n") else text

        def change(block: Block) -> str:
            lines = _lines(block.value)
            at = len(lines) if line == -1 else line
            if not 0 <= at <= len(lines):
                raise LineOutOfRangeError(
                    f"line {line} is out of range: {label} has {len(lines)} lines; use 0 (the "
                    f"start) to {len(lines)}, or -1 for the end"
                )
            return "\n".join(lines[:at] + [text] + lines[at:])

        return self._edit(label, change)

    def rethink(
        self,
        label: str,
        new_value: str,
        expected: str | None = None,
        *,
        keep_conflicts: bool = False,
    ) -> Block:
        """Replace the whole value; with `expected`, only if the value is still `expected`.

        A value holding git's conflict markers is refused (`ConflictMarkersError`) unless
        `keep_conflicts` (the sleep-time pass, which rewrites only its learned regions).
        """

        def change(block: Block) -> str:
            if expected is not None and block.value != expected:
                raise ConflictError(
                    f"{label} changed since you read it: read it again and redo the edit"
                )
            return new_value

        return self._edit(label, change, keep_conflicts=keep_conflicts)

    def create(
        self,
        label: str,
        description: str,
        value: str = "",
        limit: int | None = None,
        read_only: bool = False,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> Block:
        """A new block; `BlockExistsError` if the label is taken. `extra`: more frontmatter keys
        (a user's block created elsewhere keeps whose it is) (`block_create.create_block`)."""
        validate_label(label)  # before it names a file
        limit = default_limit(label) if limit is None else limit
        block = Block(label, value, description or "", limit, read_only, extra=dict(extra or {}))
        return create_block(self, block)

    def delete(self, label: str) -> Block:
        """Remove the block's file (a broken file can be deleted too); returns what was removed
        (`block_removal.delete_block`)."""
        return delete_block(self, label)

    def rename(self, old: str, new: str) -> Block:
        """Give a block a new label (its file moves; the content is unchanged): see
        `block_rename.rename_block`."""
        return rename_block(self, old, new)

    def _prune(self, folder: Path) -> None:
        """Remove folders left empty under blocks/ (users/ is kept)."""
        while (
            folder != self.ws.blocks_dir
            and folder.name != "users"
            and self.ws.blocks_dir in folder.parents
        ):
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

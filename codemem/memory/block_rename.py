"""Giving a core memory block a new label: its file moved, never over a block saved there.

Both labels' locks are held while the block is read and moved (`infra.rename_new`: no file
at the new name is replaced). A `users/` block written before owners, its user's by its name
alone, gets the active user written in as its `owner:` first, so it stays theirs under any
name (see `users`). `MemoryStore.rename` is this module's caller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codemem.errors import PathOutsideRepository
from codemem.infra import locked, make_folder, rename_new, replace_text
from codemem.memory import frontmatter
from codemem.memory.block_folder import Block
from codemem.memory.block_removal import put_back_leftovers
from codemem.memory.errors import BlockExistsError, ConflictError, MemoryEditError
from codemem.memory.files import held_memory_path, moved_meanwhile
from codemem.memory.labels import validate_label
from codemem.memory.users import OWNER_KEY, PERSONAL_LABEL, owners, owns

if TYPE_CHECKING:
    from codemem.memory.blocks import MemoryStore


def rename_block(store: MemoryStore, old: str, new: str) -> Block:
    """Give a block a new label (its file moves; the content is unchanged).

    A `users/` block keeps its user under any name by its `owner:` (see `users`); one
    written before owners, which is its user's only by its name, gets the active user as
    owner when it is theirs, and is refused a new `users/` name when it is not.
    """
    validate_label(old)
    validate_label(new)
    if PERSONAL_LABEL in (old, new):
        raise MemoryEditError(
            "the personal block cannot be renamed, and no block can take its label"
        )
    if old == new:
        raise MemoryEditError(f"'{old}' already has that label")
    source, target = store.path_for(old), store.path_for(new)
    checked = store._writable(old, source)
    store._writable(new, target)
    put_back_leftovers(store)  # a block a killed delete left set aside: moved, or in the way
    if checked is not None:  # no blocks folder at all (before init): refused before any lock
        store._check_blocks_folder(old, source)
    with locked(store._lock_for(old), store._lock_for(new)):
        block = store.get(old)
        store._check_writable(block)
        exists = BlockExistsError(
            f"a block labelled '{new}' already exists: delete or rename it first"
        )
        if target.exists():
            raise exists
        if new.startswith("users/") and owners(block.extra) is None:
            _own_before_moving(store, block, old, new, checked)
        make_folder(target.parent)
        try:
            rename_new(source, target)  # never over a block saved there meanwhile
        except FileExistsError:
            raise exists from None
        store._prune(source.parent)
    return store.get(new)


def _own_before_moving(
    store: MemoryStore, block: Block, old: str, new: str, checked: str | None
) -> None:
    """Write the active user in as the owner of `block`, theirs by its name `old` alone,
    before it moves to `new` (a kill between the two leaves it theirs where it was)."""
    if not (
        store.identity
        and old.startswith("users/")
        and owns(block.extra, store.identity, old.removeprefix("users/"))
    ):
        raise MemoryEditError(
            f"{old} names no owner, so as {new} it would be nobody's block: add "
            f"`owner: <their email>` to the frontmatter of {store._source(store.path_for(old))} "
            "first"
        )
    path = store.path_for(old)
    text = store._text(old, path)
    assert text is not None  # read under this lock a moment ago
    # only over what was read (a person's save since stays), in the file's line ends
    owned = frontmatter.add_key(text, OWNER_KEY, store.identity)
    try:
        assert checked is not None  # never the personal block (`rename` refuses it)
        with held_memory_path(store.ws, checked) as held:
            replaced = replace_text(held, text, owned, folder=store._swap_dir(old))
    except (PathOutsideRepository, NotADirectoryError):
        raise moved_meanwhile(store.ws, path) from None
    if not replaced:
        raise ConflictError(
            f"{store._source(path)} changed while it was being renamed: left as it is now; "
            "try again"
        )

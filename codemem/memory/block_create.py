"""Creating a core memory block, and the active user's own block, made on first use.

`create_block` writes a new block only where no file is (`MemoryStore._swap`'s compare-and-swap
refuses a label taken meanwhile: `BlockExistsError`). `ensure_user_block` finds the active
user's block, or creates it empty, passing over a block under the user's label that is someone
else's (see `users`). `MemoryStore.create` and `MemoryStore.ensure_user_block` are this
module's callers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codemem.memory.block_folder import Block
from codemem.memory.block_removal import put_back_leftovers
from codemem.memory.errors import (
    BlockExistsError,
    BlockFormatError,
    GitBusyError,
    LimitExceededError,
    MemoryEditError,
    UnknownLabelError,
)
from codemem.memory.labels import default_description, limit_message
from codemem.memory.users import OWNER_KEY, find_user_slug, owns

if TYPE_CHECKING:
    from codemem.memory.blocks import MemoryStore


def create_block(store: MemoryStore, block: Block) -> Block:
    """Write `block` (a label, its value and frontmatter, as `MemoryStore.create` was given
    them) as a new block; `BlockExistsError` if the label is taken."""
    label, value, limit = block.label, block.value, block.limit
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise MemoryEditError(f"limit must be a positive number of characters, not {limit!r}")
    if len(value) > limit:
        raise LimitExceededError(limit_message(label, len(value), limit))
    store._check_markers(label, None, value)
    path = block.path = store.path_for(label)
    checked = store._writable(label, path)
    if label == store.user_label and store.identity:  # whose it is: see `users`
        block.extra[OWNER_KEY] = store.identity

    def apply(text: str | None) -> str:
        if text is not None:
            raise BlockExistsError(
                f"a block labelled '{label}' already exists: edit it, or choose another label"
            )
        return block.to_text()

    put_back_leftovers(store)  # a block a killed delete left set aside holds the label
    store._swap(label, path, apply, checked)
    store.shown[label] = value
    return store.get(label)


def ensure_user_block(store: MemoryStore) -> Block | None:
    """The active user's block, created empty on first use (a teammate who cloned a
    repository with `.codemem/` committed has none yet); None without `.codemem/`.

    A block found under the user's label that is someone else's (created meanwhile by a
    teammate's process, or brought by a pull) is left alone: the user's slug is found
    again, past it. One that cannot be read (a merge's markers in its frontmatter, not
    UTF-8) is None too: it is named wherever blocks are read, and a session goes on
    without it.
    """
    if not store.ws.dir.is_dir():
        return None
    for _ in range(5):  # each pass moves past one block; two or three exist at most
        label = store.user_label
        try:
            block = store.get(label)
        except UnknownLabelError:
            try:
                return store.create(label, default_description(label))
            except BlockExistsError:  # created meanwhile by another process
                continue
            except GitBusyError:  # created once the merge or rebase ends, not swept into it
                return None
        except BlockFormatError:
            return None
        if not store.identity or owns(block.extra, store.identity, store.user):
            return block
        store.user = find_user_slug(store.ws, store.identity)  # never this label again
    raise MemoryEditError(
        f"no block of your own for {store.identity}: the users/ blocks changed while codemem "
        "looked for yours; run the command again"
    )

"""Removing a core memory block, and putting back what a killed removal left set aside.

`delete_block` moves the block's file aside before it compares it (`infra.remove_file`), so an
editor's save cannot land between the comparison and the removal; a personal block kept as a
link in dotfiles loses the link only (`infra.remove_link`). A block that cannot be read as text
(too large, not UTF-8) is compared byte for byte with what was found. A block is
set aside in `.codemem/local/removing/blocks/`, which git ignores; what a kill left there is
put back by the next load of the blocks or removal of one (`put_back_leftovers`).
`MemoryStore.delete` and `MemoryStore.scan` are this module's callers.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from codemem.errors import CodememError, FileTooLarge, NotARegularFile
from codemem.infra import (
    FileLock,
    private_dir,
    put_back_set_aside,
    read_regular_bytes,
    remove_file,
    remove_link,
)
from codemem.memory.block_folder import Block, parse_block
from codemem.memory.errors import BlockFormatError, ConflictError, MemoryEditError
from codemem.memory.files import MAX_MEMORY_BYTES, NotText, check_memory_write
from codemem.memory.labels import validate_label
from codemem.memory.removing import move_old_leftovers
from codemem.memory.users import PERSONAL_LABEL

if TYPE_CHECKING:
    from codemem.memory.blocks import MemoryStore


_MAX_BROKEN_BYTES = 16 * MAX_MEMORY_BYTES  # a block too large to read, read to be compared


def _link_target(path: Path) -> str | None:
    """Where the link at `path` leads, or None when no link is there."""
    try:
        return os.readlink(path)
    except OSError:  # no link
        return None


def _bytes_of(store: MemoryStore, path: Path) -> bytes | None:
    """The bytes of a block too large to be read as text, up to `_MAX_BROKEN_BYTES` (None for
    no regular file); one larger is refused in one line naming it."""
    try:
        return read_regular_bytes(path, _MAX_BROKEN_BYTES)
    except FileTooLarge:
        raise MemoryEditError(
            f"{store._source(path)}: larger than {_MAX_BROKEN_BYTES:,} bytes, more than codemem "
            "reads to compare it before it deletes it: delete it with `git rm` (or `rm`)"
        ) from None
    except (OSError, CodememError):
        return None


def put_back_leftovers(store: MemoryStore) -> None:
    """Put back in `blocks/` each block a killed delete left set aside in
    `.codemem/local/removing/blocks/` (each under its label's lock, if free at once): the
    delete never finished, so the block is there to delete again, or to read and edit (the
    store puts it back before it names a block unknown or creates one). One whose label was taken meanwhile
    waits there; none while a git operation waits for the user (`check_memory_write`).
    What an older codemem set aside elsewhere is moved there first (`memory/removing.py`),
    and what one set aside beside the block (`.<name>.<hex>.removing`, which `git add -A`
    would commit) is put back from there; so is the personal block, which a delete sets
    aside beside itself in the home folder, a link into the user's dotfiles included (the
    link, never the dotfile; a link whose name was taken meanwhile is removed)."""
    folders = [store.ws.blocks_dir]
    if (store.ws.local_dir / "removing").is_dir():
        move_old_leftovers(store.ws)
        folders.insert(0, store.ws.local_dir / "removing" / "blocks")

    # never a wait for a label's lock: its holder is a delete under way, whose own file this
    # is, or this process itself (an edit naming a block unknown): the next load, then
    def hold(path: Path) -> FileLock:
        check_memory_write(store.ws, path)
        label = path.relative_to(store.ws.blocks_dir).with_suffix("").as_posix()
        return FileLock(store._lock_for(label), timeout=0)

    for folder in folders:
        if folder.is_dir():
            with contextlib.suppress(CodememError):  # busy, or the lock held: the next load
                put_back_set_aside(folder, store.ws.blocks_dir, hold)
    # the personal block is set aside beside itself, in the home folder (`delete`)
    home = store.personal_path.parent
    with contextlib.suppress(CodememError):
        put_back_set_aside(
            home,
            home,
            lambda _: FileLock(store._lock_for(PERSONAL_LABEL), timeout=0),
            only=store.personal_path.name,
        )


def delete_block(store: MemoryStore, label: str) -> Block:
    """Remove the block's file (a broken file can be deleted too); returns what was removed."""
    validate_label(label)
    path = store.path_for(label)
    store._writable(label, path)
    put_back_leftovers(store)
    with FileLock(store._lock_for(label)):
        # what is there as it is read: a link's target (first: the text read is where it
        # led), the text, or for a block that cannot be read as text its bytes, compared so
        link = _link_target(path)
        raw: bytes | None = None
        try:
            text = store._text(label, path)
        except NotText as exc:  # still the user's to delete: the bytes that read found
            text, raw = "", exc.data
        except BlockFormatError:  # too large to read as text: its bytes, read now
            raw = _bytes_of(store, path)
            text = None if raw is None else ""
        broken = raw is not None
        if text is None:
            raise store._unknown(label)
        try:
            block = parse_block(label, text, store._source(path))
        except BlockFormatError:
            block = Block(label, text, path=path)
        store._check_writable(block)
        changed = ConflictError(
            f"{store._source(path)} changed while it was being deleted: left as it is now; "
            "read it again"
        )

        def unchanged(data: bytes) -> None:
            # moved aside first (`remove_file`): an editor's save meanwhile is never deleted
            if broken and data != raw:  # a file too large or not text: compared as bytes
                raise changed
            if not broken and data.decode("utf-8", "replace").replace("\r\n", "\n") != text:
                raise changed

        if path.is_symlink():
            # a personal block kept in dotfiles: the link goes, never what it leads to,
            # and only while it is the link that was read (a save over it stays)
            try:
                if not remove_link(path, link):
                    raise changed
            except FileNotFoundError:
                raise store._unknown(label) from None
        else:
            try:
                # set aside in local/, which git ignores, never beside the block, in the
                # label's own folder (`users/`): a kill's leftover is put back where it was
                aside = None
                if label != PERSONAL_LABEL:
                    aside = private_dir(store.ws.ensure_local() / "removing")
                    aside = private_dir(aside / "blocks" / Path(label).parent)
                limit = _MAX_BROKEN_BYTES if broken else MAX_MEMORY_BYTES
                remove_file(path, unchanged, max_bytes=limit, folder=aside)
            except FileNotFoundError:  # deleted by someone else meanwhile
                raise store._unknown(label) from None
            except (NotARegularFile, FileTooLarge):  # replaced meanwhile: a save stays
                raise changed from None
            if os.path.lexists(path):  # saved anew while it was being deleted: that stays
                raise changed
        store._prune(path.parent)
    return block

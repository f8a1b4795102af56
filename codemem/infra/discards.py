"""Removing a file codemem moved aside only while it holds what codemem moved.

A file moved aside (`removals.set_aside`) or swapped out (`swaps.update_text`) keeps its inode,
and an editor that saves in place (opens the same path and writes over it, keeping the inode,
as vim with `backupcopy=yes` and many IDEs do) and had it open before the move writes its save
into the file codemem is about to remove, after codemem compared it. `discard` removes such a
file only if it still holds what was compared (`Held`: its size and digest), reading it once
more through the same descriptor after the unlink, so a save up to the removal itself is seen;
a save is put back where it was made, or kept beside the file as `<name>.kept` when a file is
there now, and one warning names it. (A save after that reaches a file no name leads to, as it
would after any removal.)
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from codemem.infra.held_paths import real_name
from codemem.infra.renames import rename_new

log = logging.getLogger("codemem")


@dataclass(frozen=True)
class Held:
    """What a file held when codemem compared it: its size and its digest."""

    size: int
    digest: bytes

    @classmethod
    def of(cls, data: bytes) -> Held:
        return cls(len(data), hashlib.blake2b(data, digest_size=16).digest())


def discard(aside: Path, held: Held, home: Path) -> Path | None:
    """Remove `aside` if it holds what `held` says; else (a save made into it since) put it
    back at `home` where it was saved, or beside as `<aside>.kept` if a file is at `home` now.
    Returns where a save was put, None when there was none."""
    fd = os.open(aside, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        if _read(fd) == held:
            os.unlink(aside)
            data = os.pread(fd, os.fstat(fd).st_size + 1, 0)  # a save up to the unlink
            if Held.of(data) == held:
                return None
            _write_new(aside, data, os.fstat(fd).st_mode)
        return _keep(aside, home)
    finally:
        os.close(fd)


def _read(fd: int) -> Held:
    size = os.fstat(fd).st_size
    return Held.of(os.pread(fd, size + 1, 0))  # one byte more: a file that grew differs


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """`data` in a new file at `path` (the name just unlinked), never over one there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode & 0o7777)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _keep(aside: Path, home: Path) -> Path:
    try:
        rename_new(aside, home)
    except FileExistsError:
        kept = aside.with_name(f"{aside.name}.kept")
        os.rename(aside, kept)
        log.warning(
            "%s: saved while codemem was removing it: the save is kept in %s",
            real_name(home),
            real_name(kept),
        )
        return kept
    log.warning("%s: saved while codemem was removing it: the save is put back", real_name(home))
    return home

"""Compare-and-swap on files: written, moved aside or removed only over what the caller read.

`update_text` adds a lock (`locks.FileLock` on a sidecar file: the target itself is replaced on
every write, so it cannot carry the lock) and a compare-and-swap to `atomic_file`: under the
lock it reads, applies the edit and swaps the new file in (`renameat2(RENAME_EXCHANGE)`, one
step), then checks that what it swapped out is what it read, swapping that back if not; a
writer that does not take the lock (a person's editor) makes it re-apply the edit to the fresh
text instead of overwriting that change, even one saved a moment before the rename (where the
system cannot swap, the file is checked just before the rename). `replace_text` is the same
for a caller that holds the lock, `replace_bytes` the same compared byte for byte. The new
file is written in a folder the caller names (git-ignored, `.codemem/local/swapping/`), named
for the file and for what it replaces and writes: what a kill between the swaps leaves there
is settled by the next write of that file, a person's save kept and named, never lost. Every
write of one file through `folder` also holds that file's own lock, named from its path in
`folder/locks/`, whatever lock its caller names (`_file_lock`).
What was swapped out is removed by `discards.discard`: a save an editor made into it in place
since the comparison is kept and named, never removed with it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import signal
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path

from codemem.errors import FileTooLarge, NotARegularFile, WriteConflict
from codemem.infra.discards import Held, discard
from codemem.infra.files import (
    _read_text_and_ends,
    atomic_file,
    read_regular_bytes,
    same_file_system,
)
from codemem.infra.folders import make_folder
from codemem.infra.held_paths import real_name
from codemem.infra.kept import record_kept
from codemem.infra.locks import DEFAULT_TIMEOUT, FileLock
from codemem.infra.renames import exchange as _exchange
from codemem.infra.renames import rename_new
from codemem.infra.signals import HELD, signals_held

log = logging.getLogger("codemem")

# Held between the swaps: what ends codemem, and the alarm that abandons a pass of the watch
# daemon, run after the second swap, never between the two.
SWAP_HELD = (*HELD, signal.SIGALRM)


class _Changed(Exception):
    """The file changed between reading it and replacing it: read and edit again."""


def update_text(
    path: Path,
    edit: Callable[[str | None], str],
    lock: Path,
    *,
    attempts: int = 5,
    timeout: float = DEFAULT_TIMEOUT,
    folder: Path | None = None,
    new_ends: str = "\n",
) -> tuple[str | None, str]:
    """Apply `edit` to the text of `path` (None if missing) and write the result atomically.

    Returns (text read, text written), both with `\\n` line ends; a file written with `\\r\\n`
    keeps them (a new file is written with `new_ends`), so an edit of one line is one changed line in its diff, not every line. `edit`
    may raise to refuse; it may be called more than once, on fresh text, if the file changes
    under it (compare-and-swap on the text read, line ends included: a save that changed
    only them is a change). Raises `LockTimeout` when `lock` stays held,
    `WriteConflict` when the file never settles.

    The new file is written in `folder` (one git ignores, on the same file system; else beside
    `path`) before it is swapped in: what a kill between the two swaps leaves there is settled
    by the next write of `path` (`_settle_leftovers`).
    """
    with FileLock(lock, timeout), _file_lock(path, folder, timeout):
        _settle_leftovers(path, folder)
        for _ in range(attempts):
            before, ends, raw = _read_text_and_ends(path)
            ends = new_ends if raw is None else ends
            after = edit(before)
            if after == before:
                return before, after
            data = after.replace("\r\n", "\n").replace("\n", ends).encode("utf-8")
            prefix = _temp_prefix(path, folder, raw, data)
            # over the text read with its line ends: a save of the line ends alone is a save
            same = _holds_text(None if raw is None else raw.decode("utf-8"))
            if _write_over(path, same, data, prefix, folder):
                return before, after
            # else changed by a writer that took no lock: edit the fresh text
    raise WriteConflict(f"{real_name(path)} kept changing while codemem was writing it: try again")


def replace_text(path: Path, before: str, after: str, *, folder: Path | None = None) -> bool:
    """Write `after` to `path` only if it still holds `before` (as `read_text` reads it), in
    the line ends it mostly uses; False, and the file left as it is, if it does not. The
    compare-and-swap of `update_text`, for a caller that holds the file's lock already."""
    with _file_lock(path, folder, DEFAULT_TIMEOUT):
        _settle_leftovers(path, folder)
        try:
            current, ends, raw = _read_text_and_ends(path)
        except UnicodeDecodeError:
            return False
        if current != before:
            return False
        data = after.replace("\r\n", "\n").replace("\n", ends).encode()
        prefix = _temp_prefix(path, folder, raw, data)
        return _write_over(path, _holds_text(before, line_ends=False), data, prefix, folder)


def replace_bytes(
    path: Path,
    before: bytes | None,
    after: bytes,
    lock: Path,
    *,
    folder: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> bool:
    """Under `lock`, write `after` to `path` only if it still holds exactly the bytes `before`
    (None: no file there); False, and the file left as a save made it, if it does not.

    The compare-and-swap of `update_text` for a file compared as it is on disk, byte for byte
    (a source file: a save that only changed its line ends is a change), its new file written
    in `folder` alike. A link in the file's place is not the file. The new file keeps the old
    one's permission bits.
    """
    same = None if before is None else _holds_exactly(before)
    with FileLock(lock, timeout), _file_lock(path, folder, timeout):
        _settle_leftovers(path, folder)
        prefix = _temp_prefix(path, folder, before, after)
        return _write_over(path, same, after, prefix, folder)


@contextmanager
def _file_lock(path: Path, folder: Path | None, timeout: float) -> Iterator[None]:
    """Hold the lock of `path` itself while it is written through `folder`: callers lock a
    file under names of their own (the file tools' `files.lock`, an export's, the archive's),
    and two compare-and-swaps of one file must never run at once, since each settles what it
    finds of the file's temp files in `folder` as a killed write's (`_settle_leftovers`),
    the other's waiting to be compared included. Named from the file's real path, in
    `folder/locks/`: `<name>.<key>.lock`. With no `folder` (or none that is a real folder,
    which every writer of the file then finds alike), the caller's lock is the file's own.
    The lock file is removed as the write ends, while still held (`FileLock.release`)."""
    lock = None
    if folder is not None:
        with suppress(OSError):
            if stat.S_ISDIR(os.lstat(make_folder(folder)).st_mode):
                lock = folder / "locks" / f"{path.name[:64]}.{_key(path, folder)}.lock"
    if lock is None:
        yield
        return
    held = FileLock(lock, timeout)
    held.acquire()
    try:
        yield
    finally:  # one lock per file ever written would pile up: removed while held
        held.release(remove=True)


def _holds_text(before: str | None, *, line_ends: bool = True) -> Callable[[Path], bool] | None:
    """Whether a file holds the text `before`, line ends and all (without `line_ends`, as
    `read_text` reads it, with `\\n` line ends); None for no file."""
    if before is None:
        return None
    if line_ends:
        return lambda path: _holds(path) == before
    return lambda path: (held := _holds(path)) is not None and held.replace("\r\n", "\n") == before


def _holds_exactly(before: bytes) -> Callable[[Path], bool]:
    """Whether a file, a regular one reached without a link, holds exactly `before`."""

    def holds(path: Path) -> bool:
        try:
            return read_regular_bytes(path, len(before)) == before
        except (FileNotFoundError, NotARegularFile, FileTooLarge):
            return False

    return holds


def _write_over(
    path: Path,
    same: Callable[[Path], bool] | None,
    data: bytes,
    prefix: Path,
    folder: Path | None,
) -> bool:
    """Write `data` to `path` atomically, through a temp file named from `prefix`, if
    `same(path)` (None: if there is no file); False if not. A save kept outside the swap
    `folder` is recorded there (`kept.record_kept`)."""
    install = partial(_install_over, same, data, folder)
    try:  # a new file linked at its name at once, where it can be: no temp name to leave
        with atomic_file(path, install=install, temp_prefix=prefix, new_only=same is None) as out:
            out.write(data)
    except _Changed:
        return False
    except FileExistsError:
        if same is None:  # made meanwhile: never written over
            return False
        raise
    return True


def _install_over(
    same: Callable[[Path], bool] | None, data: bytes, folder: Path | None, temp: Path, path: Path
) -> None:
    """Put `temp` (holding `data`) in `path`'s place only if `same(path)`, that is if `path`
    still holds what was read (None: no file), else `_Changed` with `path` as a save left it.

    The files are swapped in one step (`renameat2(RENAME_EXCHANGE)`) and what was swapped out
    is compared, so a save cannot land between the comparison and the rename: one that landed
    before the swap is swapped back; one after it replaced our text, as its own rename would.
    Where the system cannot swap, the file is compared, then replaced (a moment's window)."""
    if same is None:  # a new file: never over one created meanwhile
        try:
            rename_new(temp, path)
        except FileExistsError:
            raise _Changed from None
        return
    with signals_held(SWAP_HELD):  # a Ctrl-C between the swaps would leave a save out of place
        try:
            swapped = _exchange(temp, path)
        except FileNotFoundError:  # deleted meanwhile
            raise _Changed from None
        if not swapped:
            if not same(path):
                raise _Changed
            os.replace(temp, path)
            return
        swapped_out = _holds_bytes(temp) or b""
        if same(temp):
            # unless a save went into it since
            _discarded(temp, Held.of(swapped_out), path, folder)
            return
        _exchange(temp, path)  # a save landed before the swap: it goes back in place
        superseded = data
        if _holds_bytes(temp) != data:  # and another after it, the newest: that one stays
            _exchange(temp, path)
            superseded = swapped_out
        # what `temp` holds now is superseded, unless an editor that opened it while it was
        # in place saves into it: removed only while it holds what was compared
        _discarded(temp, Held.of(superseded), path, folder)
    raise _Changed


def _discarded(temp: Path, held: Held, path: Path, folder: Path | None) -> None:
    """`discard` what a write swapped out, recording a save kept outside `folder`."""
    try:
        kept = discard(temp, held, path)
    except FileNotFoundError:  # removed by someone else
        return
    if kept is not None and kept != path:
        record_kept(folder, kept)


def _temp_prefix(path: Path, folder: Path | None, before: bytes | None, after: bytes) -> Path:
    """What the temp file of a write of `path` is named from: in `folder` (beside `path` if
    None or on another file system), `.<name>.<key>.<before>.<after>`, the key naming `path`
    and the digests what the write replaces and what it writes, so that the next write of
    `path` tells what a kill left there (`_settle_leftovers`)."""
    where = _temp_folder(path, folder, make=True)
    return where / f".{path.name[:64]}.{_key(path, where)}.{_digest(before)}.{_digest(after)}"


def _temp_folder(path: Path, folder: Path | None, *, make: bool = False) -> Path:
    """`folder`, or `path`'s own where it is None, not a real folder (a link a clone
    committed) or out of a rename's reach (another file system: `renameat2` swaps only
    within one)."""
    if folder is None:
        return path.parent
    with suppress(OSError):
        if make:
            make_folder(path.parent)
            make_folder(folder)
        if same_file_system(folder, path.parent):
            return folder
    return path.parent


def _key(path: Path, where: Path) -> str:
    """`path` named from the folder of its temp files (kept if the repository moves)."""
    real = os.path.join(os.path.realpath(path.parent), path.name)
    return _digest(os.fsencode(os.path.relpath(real, os.path.realpath(where))))


def _digest(data: bytes | None) -> str:
    return "-" * 16 if data is None else hashlib.blake2b(data, digest_size=8).hexdigest()


_LEFTOVER = re.compile(
    r"\.(?P<key>[0-9a-f]{16})\.(?P<before>[0-9a-f]{16}|-{16})\.(?P<after>[0-9a-f]{16})\.[^.]+\.tmp\Z"
)  # `\Z`: a `.tmp.kept` is a person's save, kept: never settled again


OLD_LEFTOVER_AGE = 60.0  # seconds
_OLD_LEFTOVER = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def _settle_leftovers(path: Path, folder: Path | None) -> None:
    """Settle the temp files of writes of `path` that a kill interrupted (under its lock).

    One holding what its write replaced (killed after the swap, before removing what it
    swapped out), what it wrote (killed before the swap, or after swapping a save back) or
    what `path` holds is removed. Any other holds a person's save that the first swap took
    out of place, the kill coming before the comparison that would have put it back: it is
    kept, as `<temp name>.kept`, and a warning names it and `path`, never put in `path`'s
    place unasked (the folder is `.codemem/local/`, which a clone can commit: what is in it is
    never trusted to become a repository file's text). An older codemem's leftovers beside
    `path` are settled too (`_settle_old_leftovers`).
    """
    where = _temp_folder(path, folder)
    key = _key(path, where)
    try:
        names = sorted(name for name in os.listdir(where) if key in name)
    except OSError:  # no folder yet
        names = []
    for name in names:
        found = _LEFTOVER.search(name)
        if found and found["key"] == key and name.startswith(f".{path.name[:64]}."):
            _settle(path, where / name, where, (found["before"], found["after"]), folder)
    _settle_old_leftovers(path, folder)


def _settle_old_leftovers(path: Path, folder: Path | None) -> None:
    """Settle what a kill left of a write by a codemem from before the named temp files:
    `.<name>.<random>.tmp` beside `path` (`atomic_file`'s own name), which carries no digest of
    what it replaced or wrote. One holding what `path` holds is removed; any other may be a
    person's save the old swap took out of place, so it is kept in `where` (out of `git add
    -A`'s reach when that is the swap folder, `folder`) as `<its name>.kept`, with the
    warning. One written in the last `OLD_LEFTOVER_AGE` seconds is left alone: it may be
    another program's write, in flight, under the same kind of name."""
    try:
        names = sorted(name for name in os.listdir(path.parent) if _OLD_LEFTOVER.fullmatch(name))
    except OSError:  # no folder
        return
    names = [name for name in names if name[1:].rsplit(".", 2)[0] == path.name]  # not `a.b`'s
    names = [name for name in names if _older_than(path.parent / name, OLD_LEFTOVER_AGE)]
    where = _temp_folder(path, folder, make=True) if names else path.parent
    for name in names:
        _settle(path, path.parent / name, where, None, folder)


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - os.lstat(path).st_mtime > seconds
    except OSError:
        return False


def _settle(
    path: Path, left: Path, where: Path, digests: tuple[str, str] | None, folder: Path | None
) -> None:
    try:
        held = read_regular_bytes(left)
    except (FileNotFoundError, NotARegularFile):
        return
    try:
        current: bytes | None = read_regular_bytes(path)
    except FileNotFoundError:
        current = None
    except NotARegularFile:  # a link or a folder in its place: not ours to settle
        return
    if held == current or (digests is not None and _digest(held) in digests):
        # unless an editor that had the file open since before the killed write saves into
        # it in place meanwhile: then that save is put back, or kept (`discards.discard`)
        with suppress(FileNotFoundError):
            _discarded(left, Held.of(held), path, folder)
        return
    kept = where / f"{left.name}.kept"
    try:
        rename_new(left, kept)
    except (FileExistsError, OSError):  # another file system, or a name taken: beside it
        kept = left.with_name(f"{left.name}.kept")
        os.rename(left, kept)
    record_kept(folder, kept)  # beside the file (`where` on another file system): listed
    if digests is None:
        log.warning(
            "%s: what an older codemem's write of it left beside it when killed (a save it "
            "took out of place, or the text it replaced) is kept in %s: compare the two and "
            "keep what you mean",
            real_name(path),
            real_name(kept),
        )
        return
    log.warning(
        "%s: a save made just before codemem's write of it, which a kill interrupted before "
        "it could put the save back, is kept in %s: compare the two and keep what you mean",
        real_name(path),
        real_name(kept),
    )


def _holds(path: Path) -> str | None:
    """The text of `path` as `update_text` compares it, its line ends as they are; None for no
    file or not UTF-8 text."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _holds_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None

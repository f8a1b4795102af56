"""The saves codemem kept rather than remove, and where `codemem status` finds them.

A person's save is never deleted with what codemem removes: a save a killed write took out of
place is kept as `<temp name>.kept` (`swaps._settle`), one an editor made in place into a file
codemem was removing as `<its name>.kept` (`discards.discard`), the temp file of a write
(`….tmp.kept`) or a file set aside (`….removing.kept`). Most are kept in the swap folder or in
`.codemem/local/removing/`; one is kept beside its file where the swap folder is on another
file system (a source file under a mount point), and the write records it in its swap folder's
`kept-elsewhere` (`record_kept`), so finding them never walks the repository.

The ledger is a listing, never a save: each record rewrites it (under `kept-elsewhere.lock`, swapped in
whole, so a kill leaves the old one or the new one) without the saves a person has deleted
since, so it holds about as many paths as there are saves kept. A path is dropped only when
its folder is there and the save is not; one whose folder is missing (a mount point not
mounted now) stays listed, and the save it names is never touched.
"""

from __future__ import annotations

import os
import re
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from codemem.errors import LockTimeout, NotARegularFile
from codemem.infra.files import atomic_write, open_regular, read_at_most
from codemem.infra.folders import files_at_top
from codemem.infra.held_paths import real_name
from codemem.infra.locks import FileLock

LEDGER = "kept-elsewhere"  # in a swap folder: NUL-ended paths of saves kept outside it
LEDGER_LOCK = "kept-elsewhere.lock"  # one writer of the ledger at a time
_LEDGER_BYTES = 1 << 20  # read at most: a few thousand paths, more than any clone keeps
# read at most to rewrite it: an older codemem's ledger grew with every record
_OLD_LEDGER_BYTES = 64 << 20

_KEPT = re.compile(
    r"\.(?P<name>.+?)(?:\.[0-9a-f]{16}\.(?:[0-9a-f]{16}|-{16})\.[0-9a-f]{16}\.[^.]+"
    r"|\.[a-z0-9_]{8})\.tmp\.kept"
)
_KEPT_REMOVING = re.compile(r"\.?(?P<name>[^.].*)\.[0-9a-f]{8}\.removing\.kept")


@dataclass(frozen=True)
class KeptSave:
    """A save codemem kept: where it is, the name of the file it was a save of, and whether
    codemem was removing that file (else writing it) when the save came."""

    path: Path
    name: str
    removing: bool


def kept_save(path: Path) -> KeptSave | None:
    """`path` as a kept save, or None when its name is no kept save's."""
    if match := _KEPT.fullmatch(path.name):
        return KeptSave(path, match["name"], removing=False)
    if match := _KEPT_REMOVING.fullmatch(path.name):
        return KeptSave(path, match["name"], removing=True)
    return None


def kept_saves(folder: Path, *, skip: Path | None = None, walk: bool = True) -> list[KeptSave]:
    """The kept saves in `folder` (its subfolders too, with `walk`, but `skip`; no link
    followed), then those its ledger records as kept elsewhere that are still there."""
    found: list[KeptSave] = []
    for where, folders, names in os.walk(folder) if walk else files_at_top(folder):
        folders[:] = sorted(name for name in folders if Path(where, name) != skip)
        found += filter(None, (kept_save(Path(where, name)) for name in sorted(names)))
    return found + _recorded(folder)


def record_kept(folder: Path | None, kept: Path) -> None:
    """Record in `folder`'s ledger a save kept outside it (`kept_saves` finds the others),
    by its real path: one through a held folder (`held_path`) is named by a descriptor that
    is gone once the write ends. The paths of saves deleted since go as it is rewritten."""
    kept = real_name(kept)
    if folder is None or kept.parent == folder or not folder.is_dir():
        return
    ledger = folder / LEDGER
    # a ledger not written loses a listing, never a save
    with suppress(OSError, LockTimeout, NotARegularFile), FileLock(folder / LEDGER_LOCK):
        data = b""
        with suppress(FileNotFoundError), open_regular(ledger) as stream:
            data = read_at_most(stream, _OLD_LEDGER_BYTES, os.fstat(stream.fileno()).st_size)
        paths = [raw for raw in dict.fromkeys(data.split(b"\0")) if raw and _still_wanted(raw)]
        new = os.fsencode(os.path.abspath(kept))
        text = b"".join(raw + b"\0" for raw in [*(p for p in paths if p != new), new])
        atomic_write(ledger, text, 0o600, durable=False)  # a listing: redone by the next write


def _still_wanted(raw: bytes) -> bool:
    """Whether a path of the ledger still names a kept save, or may (its folder is not there
    now, as a mount point not mounted: the save it names may be back)."""
    path = Path(os.fsdecode(raw))
    if not path.is_absolute() or kept_save(path) is None:
        return False
    return _regular(path) or not os.path.isdir(path.parent)


def _recorded(folder: Path) -> list[KeptSave]:
    """The saves `folder`'s ledger names that are still there, each once."""
    try:
        fd = os.open(folder / LEDGER, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return []
    try:
        data = os.read(fd, _LEDGER_BYTES)
    except OSError:
        return []
    finally:
        os.close(fd)
    found = []
    for raw in dict.fromkeys(data.split(b"\0")):
        path = Path(os.fsdecode(raw))
        if raw and path.is_absolute() and (kept := kept_save(path)) and _regular(path):
            found.append(kept)
    return found


def _regular(path: Path) -> bool:
    try:
        return os.path.isfile(path) and not os.path.islink(path)
    except OSError:
        return False

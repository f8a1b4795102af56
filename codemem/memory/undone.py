"""A block edit that a git command rewriting the work tree meanwhile tore or undid.

`git switch`, `checkout`, `stash` and `reset --hard` hold the index's lock while they rewrite
the work tree: they check by stat that the files they will replace hold no change, then remove
each, create git's version as a new, empty file and write it, and last replace the index and
let the lock go. A block edit made meanwhile goes wrong two ways, each seen in a race of edits
against switches (`tests/memory/test_git_race.py`):

- its read finds git's new file still empty (or half written), and the edit, made on that,
  replaces the whole block: its front matter and every line gone, saved without a word (torn);
- its write lands between git's check and git's removal: git removes it, and switched without
  a word (undone).

So an edit takes the index's stamp (`GitStamp`) once no git command holds the lock, and reads
only under that stamp: one that moved by the time the text is read is a read git may have
torn, made again once git is done (`GitRan`). After the write, the same stamp says no git
command ran meanwhile, and the edit is kept (no file read again). Otherwise, once git is done,
the file is read again: when it no longer holds what was written, the edit was undone, and the
person is told, never told it was saved. (What it holds then is not compared with what the
index holds: by the time git is asked, the next switch may have moved the index on, and an
undone edit was taken for a person's save.)

`git merge` is the exception to the lock: it looks at the files with no lock held, and later
writes the merged ones over them unlooked (`infra/git_processes.py`); a write saved in
between, with the index's stamp unchanged, was said to be saved and was gone (soak seed 44).
So an edit also waits (`REWRITE_WAIT` at most) for the git commands rewriting the work tree
that run as it reads, and after the write for those running then, before the file is read
again as above.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codemem.errors import CodememError
from codemem.infra import (
    GitProcess,
    git_operation,
    index_locked,
    printable,
    rewriters_running,
    wait_for_rewriters,
)
from codemem.memory.errors import GitBusyError, MemoryEditError
from codemem.memory.files import read_memory_file
from codemem.workspace import Workspace

GIT_WAIT = 2.0  # seconds: a checkout of a large tree takes a while; an editor's refresh, ms
# seconds: a merge runs a driver process per memory file both sides changed, seconds each on a
# loaded machine; an edit waits for it rather than be undone by it
REWRITE_WAIT = 10.0
GIT_TRIES = 20  # reads made again while git commands keep rewriting the work tree
_CHECKSUM = 20  # bytes: the index ends with the hash of all it holds, files' stat data too


class UndoneByGitError(MemoryEditError):
    """A memory write that a git command replacing the file meanwhile undid."""


class GitRan(Exception):
    """A git command wrote the index (or holds its lock) since the edit's stamp: what was read
    may be a file git was writing. Read and edit again once it is done."""


@dataclass(frozen=True)
class GitStamp:
    """The index as no git command holding its lock left it: it is replaced (a new inode) by
    every command that rewrites the work tree, and its checksum covers the stat data of each
    file it wrote, so a switch and a switch back within one clock tick still change it."""

    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int
    checksum: bytes


def git_stamp(ws: Workspace) -> GitStamp | None:
    """The index's stamp; None while a git command holds its lock."""
    if index_locked(ws.root, ws.git_dir) is not None:
        return None
    index = ws.root / Path(os.environ.get("GIT_INDEX_FILE") or ws.git_dir / "index")
    try:
        with index.open("rb") as file:
            status = os.fstat(file.fileno())
            if status.st_size >= _CHECKSUM:
                file.seek(-_CHECKSUM, os.SEEK_END)
            checksum = file.read(_CHECKSUM)
    except FileNotFoundError:  # no commit staged yet
        return GitStamp(0, 0, 0, 0, b"")
    return GitStamp(status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns, checksum)


def wait_for_git(ws: Workspace) -> bool:
    """Wait while a git command holds the index's lock (at most `GIT_WAIT` seconds); whether
    one did."""
    if index_locked(ws.root, ws.git_dir) is None:
        return False
    deadline = time.monotonic() + GIT_WAIT
    while index_locked(ws.root, ws.git_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    return True


def quiet_stamp(ws: Workspace, path: Path) -> GitStamp:
    """The index's stamp once no git command holds its lock (waiting `GIT_WAIT` seconds at
    most); `GitBusyError` naming the lock when one still does. A git command rewriting the
    work tree may look at the file before it takes the lock (`git merge`): one running now is
    waited for first (`REWRITE_WAIT` at most), or the edit would be made only to be undone;
    not while a rebase or merge stops for the user, when every edit but the one resolving a
    block's conflict is refused (`GitBusyError`), and `rebase --continue` may run for long."""
    if git_operation(ws.git_dir) is None:
        wait_for_rewriters(rewriters_running(ws.root), REWRITE_WAIT)
    wait_for_git(ws)
    stamp = git_stamp(ws)
    if stamp is None:
        busy = index_locked(ws.root, ws.git_dir)
        raise GitBusyError(f"{printable(ws.relative(path))} not written: {busy}")
    return stamp


def read_under(
    ws: Workspace, stamp: GitStamp, edit: Callable[[str | None], str]
) -> Callable[[str | None], str]:
    """`edit`, refusing (`GitRan`) a text read once the index's stamp moved from `stamp`."""

    def guarded(text: str | None) -> str:
        if git_stamp(ws) != stamp:
            raise GitRan
        return edit(text)

    return guarded


def check_kept(ws: Workspace, path: Path, written: str, stamp: GitStamp) -> None:
    """Raise `UndoneByGitError` when a git command that ran since `stamp` was taken replaced
    the file `written` went to (or removed it): once no git command holds the index's lock,
    the file no longer holds `written`. With the stamp unchanged and no git command that
    rewrites the work tree running (`git merge` looks at the file before it takes the lock,
    and may write over the edit after: `rewriters_running`), none ran: nothing is read."""
    rewriters = rewriters_running(ws.root)
    if git_stamp(ws) == stamp and not rewriters:
        return
    running = _wait_for_all(ws, rewriters)
    if running:  # what it does to the file is not known yet
        raise UndoneByGitError(
            f"{printable(ws.relative(path))}: the edit may be undone by the git command still "
            f"running ({running}): once it ends, look at the block and make the edit again if "
            "it is not there"
        )
    if not _holds(ws, path, written):
        raise UndoneByGitError(
            f"{printable(ws.relative(path))}: the edit was undone by a git command that ran "
            "meanwhile (a checkout, a switch or a stash replaced the file with git's version): "
            "nothing of it is kept; make it again on what is checked out now"
        )


def _wait_for_all(ws: Workspace, rewriters: list[GitProcess]) -> str | None:
    """Wait for `rewriters` to end (`REWRITE_WAIT` at most), then for the index's lock
    (`GIT_WAIT`); the one still running, named, else None."""
    running = wait_for_rewriters(rewriters, REWRITE_WAIT)
    if running:
        return ", ".join(str(process) for process in running)
    wait_for_git(ws)
    return index_locked(ws.root, ws.git_dir) if git_stamp(ws) is None else None


def _holds(ws: Workspace, path: Path, written: str) -> bool:
    """Whether `path` holds `written` (line ends aside)."""
    try:
        now = read_memory_file(ws, path)
    except CodememError:
        return True  # damaged since: the next read names it
    return now is not None and now.replace("\r\n", "\n") == written

"""A block write that a git command rewriting the work tree meanwhile undid.

`git switch`, `checkout`, `stash` and `reset --hard` hold the index's lock, check that the
files they will replace hold no change of the user's, then replace them. A memory write that
lands between the check and the replacement is gone, and git switched without a word; the
write itself had succeeded. So after a block write, once such a command ends (its lock let
go, at most `GIT_WAIT` seconds), the file is read again: when it no longer holds what was
written but what git's index holds (or nothing), the edit was undone, and the person is told,
never told it was saved. (A write that lands before git's check stops the command instead:
the file holds a change.)
"""

from __future__ import annotations

import time
from pathlib import Path

from codemem.errors import CodememError
from codemem.infra import index_locked, printable, run_git
from codemem.memory.errors import MemoryEditError
from codemem.memory.files import read_memory_file
from codemem.workspace import Workspace

GIT_WAIT = 2.0  # seconds: a checkout of a large tree takes a while; an editor's refresh, ms


class UndoneByGitError(MemoryEditError):
    """A memory write that a git command replacing the file meanwhile undid."""


def wait_for_git(ws: Workspace) -> bool:
    """Wait while a git command holds the index's lock (at most `GIT_WAIT` seconds); whether
    one did."""
    if index_locked(ws.root, ws.git_dir) is None:
        return False
    deadline = time.monotonic() + GIT_WAIT
    while index_locked(ws.root, ws.git_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    return True


def check_not_undone(ws: Workspace, path: Path, written: str) -> None:
    """Raise `UndoneByGitError` when a git command that ran while `written` was written to
    `path` replaced it with git's version (or removed it): once no git command holds the
    index's lock, the file holds what the index holds for it instead of `written`. (The
    index's stamp cannot tell: a switch and a switch back within one clock tick leave it as it
    was, and the edit gone.)"""
    deadline = time.monotonic() + GIT_WAIT
    while True:
        wait_for_git(ws)
        undone = _undone(ws, path, written)
        # a git command begun since may be halfway (the file removed, the index not yet
        # written): look again once it is done
        if index_locked(ws.root, ws.git_dir) is None or time.monotonic() > deadline:
            break
    if undone:
        raise UndoneByGitError(
            f"{printable(ws.relative(path))}: the edit was undone by a git command that ran "
            "meanwhile (a checkout, a switch or a stash replaced the file with git's version): "
            "nothing of it is kept; make it again on what is checked out now"
        )


def _undone(ws: Workspace, path: Path, written: str) -> bool:
    """Whether `path` holds git's version of it (or is gone with it) instead of `written`."""
    try:
        now = read_memory_file(ws, path)
    except CodememError:
        return False  # damaged since: the next read names it
    if now is not None and _lf(now) == written:
        return False
    try:
        indexed: str | None = run_git(ws.root, "show", f":{ws.relative(path)}").decode(
            "utf-8", "replace"
        )
    except CodememError:
        indexed = None  # not in the index: a switch to a branch without it removed it
    if now is None:
        return indexed is None or index_locked(ws.root, ws.git_dir) is not None
    return indexed is not None and _lf(now) == _lf(indexed)


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")

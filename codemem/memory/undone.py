"""A block write that a git command rewriting the work tree meanwhile undid.

`git switch`, `checkout`, `stash` and `reset --hard` hold the index's lock, check that the
files they will replace hold no change of the user's, then replace them. A memory write that
lands between the check and the replacement is gone, and git switched without a word; the
write itself had succeeded. So a block write notes the index's stamp before it, and after it
waits for such a command to end (its lock let go, at most `GIT_WAIT` seconds); when the index
changed meanwhile and the file no longer holds what was written, but what git's index holds
(or nothing), the edit was undone, and the person is told, never told it was saved.
"""

from __future__ import annotations

import time
from pathlib import Path

from codemem.errors import CodememError
from codemem.infra import index_locked, index_stamp, printable, run_git
from codemem.memory.errors import MemoryEditError
from codemem.memory.files import read_memory_file
from codemem.workspace import Workspace

GIT_WAIT = 2.0  # seconds: a checkout of a large tree takes a while; an editor's refresh, ms


class UndoneByGitError(MemoryEditError):
    """A memory write that a git command replacing the file meanwhile undid."""


Stamp = tuple[int, int, int, int] | None


def stamp_before_write(ws: Workspace) -> Stamp:
    """The index's stamp, read before a memory write (a stat)."""
    return index_stamp(ws.root, ws.git_dir)


def check_not_undone(ws: Workspace, path: Path, written: str, before: Stamp) -> None:
    """Raise `UndoneByGitError` when a git command that ran while `written` was written to
    `path` replaced it with git's version (or removed it): the index changed since `before`,
    and the file holds what the index holds for it instead of `written`."""
    deadline = time.monotonic() + GIT_WAIT
    while index_locked(ws.root, ws.git_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    if index_stamp(ws.root, ws.git_dir) == before:
        return  # no git command wrote the index: none rewrote the work tree from it
    try:
        now = read_memory_file(ws, path)
    except CodememError:
        return  # damaged since: the next read names it
    if now is not None and _lf(now) == written:
        return
    rel = ws.relative(path)
    try:
        indexed: str | None = run_git(ws.root, "show", f":{rel}").decode("utf-8", "replace")
    except CodememError:
        indexed = None  # not in the index (now): a switch to a branch without it removes it
    if now is None or (indexed is not None and _lf(now) == _lf(indexed)):
        raise UndoneByGitError(
            f"{printable(rel)}: the edit was undone by a git command that ran meanwhile (a "
            "checkout, a switch or a stash replaced the file with git's version): nothing of "
            "it is kept; make it again on what is checked out now"
        )


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")

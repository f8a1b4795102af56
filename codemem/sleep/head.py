"""Whether HEAD is still where a sleep-time pass read it: the check before the pass writes its
held set (`digest.write_memory`) and before `digest --push` commits and pushes it, and the
check again once the set is written (`check_head_after`).

Between the check and the writes a git command can begin: a checkout would get the pass's
files in another branch's work tree, a commit could take some of them in. Git's own
`index.lock` held over the writes would keep it out, but a pass killed by SIGKILL (the OOM
killer, a CI timeout) while holding it would leave every git command of the user failing until
the file is removed by hand, and no cleanup runs on SIGKILL. So the window is not closed but
watched: each write is a compare-and-swap (none over a change made since the pass read the
file), and a move seen after the writes is said, with nothing recorded as digested."""

from __future__ import annotations

import time

from codemem.errors import HeadMovedError
from codemem.infra import head_branch, head_commit, index_locked
from codemem.workspace import Workspace

LOCK_WAIT = 2.0  # seconds: an editor's `git status` holds the index's lock for a moment
LOCK_POLL = 0.05


def check_head(ws: Workspace, branch: str | None, read: str | None, done: str = "digested") -> None:
    """Raise `HeadMovedError` ("nothing `done`") unless HEAD is still on `branch` at `read`,
    as a pass read it, and git began no operation since (a merge, rebase, cherry-pick,
    revert or bisect, or a command holding the index's lock): HEAD moves when it ends (a
    rebase has moved it already), or its commit would sweep up what is written now.

    A lock let go within `LOCK_WAIT` seconds (an editor's `git status` refreshing the index)
    is waited for, not a reason to drop the pass; what the command did is then looked at
    (a `git merge` that stopped on a conflict, HEAD moved by a commit)."""
    busy = ws.git_operation()
    if busy is None and index_locked(ws.root, ws.git_dir) is not None:
        busy = _index_lock_kept(ws) or ws.git_operation()  # what the command left, if anything
    if busy is not None:
        moved = f"since the digest began, {busy}"
        raise HeadMovedError(moved, f"nothing {done}: {moved}; run it again once it ends")
    now, head = head_branch(ws.root), head_commit(ws.root)
    if (now, head) != (branch, read):
        moved = f"HEAD moved from {_where(branch, read)} to {_where(now, head)}"
        raise HeadMovedError(
            moved, f"nothing {done}: {moved} since the digest read it; run it again"
        )


def _index_lock_kept(ws: Workspace) -> str | None:
    """None once no git command holds the index's lock, waiting up to `LOCK_WAIT` seconds for
    one to let it go; else the phrase naming the lock."""
    deadline = time.monotonic() + LOCK_WAIT
    while (busy := index_locked(ws.root, ws.git_dir)) is not None and time.monotonic() < deadline:
        time.sleep(LOCK_POLL)
    return busy


def _where(branch: str | None, head: str | None) -> str:
    at = head[:7] if head else "no commit"
    return f"{branch.removeprefix('refs/heads/')} at {at}" if branch else f"{at} (detached)"


def check_head_after(ws: Workspace, branch: str | None, read: str | None, writes: int) -> None:
    """Once the held set is written: raise `HeadMovedError` (naming its `writes`, so the user
    can look at them) when HEAD or git moved since the last check, as `check_head` does."""
    try:
        check_head(ws, branch, read)
    except HeadMovedError as exc:
        made = f"{writes} write{'s' if writes != 1 else ''} under .codemem/"
        raise HeadMovedError(
            exc.moved,
            f"{exc.moved} while the digest wrote its files ({made}): see them with "
            "`git status -- .codemem`; nothing recorded as digested, so the next digest reads "
            "the range again",
            writes=writes,
        ) from None

"""Whether HEAD is still where a sleep-time pass read it: the check before the pass writes its
held set (`digest.write_memory`) and before `digest --push` commits and pushes it."""

from __future__ import annotations

from codemem.errors import HeadMovedError
from codemem.infra import head_branch, head_commit, index_locked
from codemem.workspace import Workspace


def check_head(ws: Workspace, branch: str | None, read: str | None, done: str = "digested") -> None:
    """Raise `HeadMovedError` ("nothing `done`") unless HEAD is still on `branch` at `read`,
    as a pass read it, and git began no operation since (a merge, rebase, cherry-pick,
    revert or bisect, or a command holding the index's lock): HEAD moves when it ends (a
    rebase has moved it already), or its commit would sweep up what is written now."""
    busy = ws.git_operation() or index_locked(ws.root, ws.git_dir)
    if busy is not None:
        moved = f"since the digest began, {busy}"
        raise HeadMovedError(moved, f"nothing {done}: {moved}; run it again once it ends")
    now, head = head_branch(ws.root), head_commit(ws.root)
    if (now, head) != (branch, read):
        moved = f"HEAD moved from {_where(branch, read)} to {_where(now, head)}"
        raise HeadMovedError(
            moved, f"nothing {done}: {moved} since the digest read it; run it again"
        )


def _where(branch: str | None, head: str | None) -> str:
    at = head[:7] if head else "no commit"
    return f"{branch.removeprefix('refs/heads/')} at {at}" if branch else f"{at} (detached)"

"""The repository's recent commits as changed-file lists, kept in a derived file.

`load_cochange` answers from `.codemem/local/cochange.json` when it was made at the current
HEAD, and otherwise reads `git log --name-only` (the last `MAX_COMMITS` commits, merges left
out) and writes the file again. An index run that builds the index (from scratch, or with no
such file yet) brings the file up to date beside its own work (`refresh_beside`), so the first
search after it does not wait for git.
The file is derived: one that does not read, fails its checksum or has the wrong shape is
rebuilt, and a workspace without git history simply has no co-change data. The counting
itself is `code/cochange.py` (pure).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from codemem.code.cochange import CoChange
from codemem.errors import GitError
from codemem.infra import head_commit, read_checked, run_git, write_checked
from codemem.workspace import Workspace

log = logging.getLogger("codemem")

FILE_NAME = "cochange.json"
VERSION = 1
CHECKED = ("paths", "commits")  # what the checksum covers
MAX_COMMITS = 2000  # recent history says which files go together; older adds cost, not signal


def read_commits(root: Path, rev: str = "HEAD", limit: int = MAX_COMMITS) -> list[list[str]]:
    """The changed files of the last `limit` non-merge commits reachable from `rev`, newest
    first (renames as delete + add, so both names count). A root commit is left out: an
    initial import says nothing about which files go together."""
    args = ["log", f"-n{limit}", "--no-merges", "--no-renames", "--name-only", "--format=%x00%P"]
    raw = run_git(root, *args, rev, "--").decode("utf-8", "replace")
    commits = []
    for block in raw.split("\0")[1:]:
        parents, *paths = block.split("\n")
        if parents.strip():
            commits.append([path for path in paths if path])
    return commits


def load_cochange(ws: Workspace) -> CoChange | None:
    """Co-change data for the workspace at HEAD (rebuilt when stale or damaged), or None
    when there is no history to learn from."""
    commits = _current_commits(ws)
    return None if commits is None else CoChange.from_commits(commits)


def has_history(ws: Workspace) -> bool:
    """Whether the derived file exists (at whatever HEAD, whole or not)."""
    return (ws.local_dir / FILE_NAME).exists()


def refresh_beside(ws: Workspace) -> threading.Thread:
    """Bring the derived file up to date with HEAD in a daemon thread; join it when done.

    The thread mostly waits for git, on the other core, while the caller works (an index
    run loads its settings meanwhile); a process that exits without joining it leaves at
    worst no file or the previous one (written atomically), rebuilt when next needed.
    """
    ws.ensure_local()  # here, not beside the caller's own
    thread = threading.Thread(
        target=_current_commits, args=(ws,), name="codemem-history", daemon=True
    )
    thread.start()
    return thread


def _current_commits(ws: Workspace) -> list[list[str]] | None:
    """The commits at HEAD, from the derived file or else from git (then stored)."""
    try:
        head = head_commit(ws.root)
    except GitError as exc:
        log.debug("no history for co-change: %s", exc)
        return None
    if head is None:
        return None
    path = ws.local_dir / FILE_NAME
    commits = _read(path, head)
    if commits is None:
        try:
            commits = read_commits(ws.root, head)
        except GitError as exc:
            log.debug("no history for co-change: %s", exc)
            return None
        _write(ws, head, commits)
    return commits


def _write(ws: Workspace, head: str, commits: list[list[str]]) -> None:
    """Paths once in a table, each commit as indexes into it, and a checksum over both."""
    table: dict[str, int] = {}
    encoded = [[table.setdefault(p, len(table)) for p in files] for files in commits]
    try:
        path = ws.ensure_local() / FILE_NAME
    except OSError as exc:  # a read-only workspace still searches, it only re-reads git
        log.debug("cannot keep %s: %s", FILE_NAME, exc)
        return
    fields = {"head": head, "paths": list(table), "commits": encoded}
    write_checked(path, VERSION, fields, CHECKED)


def _read(path: Path, head: str) -> list[list[str]] | None:
    """The stored commits if the file is whole and was made at `head`, else None."""
    record = read_checked(path, VERSION, CHECKED)
    if record is None or record.get("head") != head:
        return None
    paths = record["paths"]
    try:
        return [[paths[i] for i in files] for files in record["commits"]]
    except (IndexError, TypeError) as exc:
        log.debug("%s is damaged (%s): rebuilding it", path, exc)
        return None

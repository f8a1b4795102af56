"""Whether git is in the middle of something in a clone: an operation waiting for the user (a
merge, rebase, cherry-pick, revert or bisect, from the files git keeps in its directory
meanwhile), or files its index holds unmerged (a conflicted `git stash pop`, which leaves no
such file); and whether a sparse checkout leaves memory out of the work tree. Memory is not
written meanwhile (`Workspace.git_operation`)."""

from __future__ import annotations

import os
from pathlib import Path

from codemem.infra.git import run_git
from codemem.infra.printing import printable

# What git leaves in its directory while an operation waits for the user, and how to end it.
_OPERATIONS = (
    ("rebase-merge", "a rebase", "`git rebase --continue` or `git rebase --abort`"),
    ("rebase-apply", "a rebase (or `git am`)", "`git rebase --continue` or `git rebase --abort`"),
    ("MERGE_HEAD", "a merge", "`git commit` once it is resolved, or `git merge --abort`"),
    ("CHERRY_PICK_HEAD", "a cherry-pick", "`git cherry-pick --continue` or `--abort`"),
    ("REVERT_HEAD", "a revert", "`git revert --continue` or `--abort`"),
    # a cherry-pick or revert of several commits, one of them committed by hand after a
    # conflict: no CHERRY_PICK_HEAD then, but `git status` still says it is in progress
    (
        "sequencer",
        "a cherry-pick or revert of several commits",
        "`git cherry-pick --continue` or `--abort`, or `git revert`'s",
    ),
    ("BISECT_LOG", "a bisect", "`git bisect reset`"),
)


def git_operation(folder: Path) -> str | None:
    """The git operation under way in the git directory `folder` (a merge or rebase stopped
    on a conflict, a cherry-pick, a revert, a bisect), as one phrase naming how to end it;
    None when there is none. Files written into the work tree meanwhile would go into the
    operation's commit, or stop `--continue`."""
    for name, what, end in _OPERATIONS:
        if os.path.lexists(folder / name):
            return f"git is in the middle of {what} (end it with {end})"
    return None


def index_locked(root: Path, folder: Path) -> str | None:
    """Whether a git command is writing the index of git directory `folder` now (a commit, a
    checkout, a merge, a reset hold `index.lock` while they run, and move HEAD before they
    let it go), as one phrase naming the lock; None when none is. A lock left by a git that
    crashed stops every git write until it is removed, so the phrase says how."""
    index = Path(os.environ.get("GIT_INDEX_FILE") or folder / "index")
    lock = root / index.with_name(index.name + ".lock")  # a relative one is the work tree's
    if not os.path.lexists(lock):
        return None
    return (
        f"a git command holds {printable(str(lock))} (if none is running, a git that "
        "crashed left it: remove that file)"
    )


# The index's (inode, size, mtime, ctime) at the last look, and what `git ls-files` listed
# then, per index, question and pathspec: git replaces the index by a rename at every change,
# so the same stamp is the same index, and each memory write costs a stat instead of a git
# process (10-11 ms over an index of 100,000 entries, which `git ls-files -u` reads whole).
_listed_seen: dict[tuple[Path, str, str], tuple[tuple[int, int, int, int], bytes]] = {}


def unmerged_paths(root: Path, folder: Path, pathspec: str) -> list[str]:
    """The paths under `pathspec` that the index of git directory `folder` holds unmerged:
    what a conflicted `git stash pop`, `git stash apply` or `git checkout -m` leaves, with no
    file in `folder` to say so."""
    return list(_unmerged(root, folder, pathspec))


def unmerged_both_sides(root: Path, folder: Path, pathspec: str) -> list[str]:
    """The unmerged paths under `pathspec` that both sides have (no side deleted them): the
    ones git handed to a merge driver, if one is set for them."""
    return [path for path, stages in _unmerged(root, folder, pathspec).items() if {2, 3} <= stages]


def unmerged_one_side(root: Path, folder: Path, pathspec: str) -> list[str]:
    """The unmerged paths under `pathspec` that one side deleted and the other changed (a
    modify/delete conflict): git hands them to no merge driver and leaves them to the user."""
    return [
        path for path, stages in _unmerged(root, folder, pathspec).items() if not {2, 3} <= stages
    ]


def _unmerged(root: Path, folder: Path, pathspec: str) -> dict[str, set[int]]:
    """Each unmerged path under `pathspec`, with the stages the index holds for it."""
    out = _listed(root, folder, "-u", pathspec)
    paths: dict[str, set[int]] = {}
    for entry in out.split(b"\0"):  # "<mode> <id> <stage>\t<path>", one per unmerged stage
        info_part, _, name = entry.partition(b"\t")
        path = name.decode("utf-8", "surrogateescape")
        if path:
            paths.setdefault(path, set()).add(int(info_part.rsplit(b" ", 1)[-1]))
    return paths


def _skipped(root: Path, folder: Path, pathspec: str) -> list[str]:
    """The paths under `pathspec` the index marks skip-worktree (`ls-files -t`'s `S`)."""
    out = _listed(root, folder, "-t", pathspec)
    return [
        entry[2:].decode("utf-8", "surrogateescape")
        for entry in out.split(b"\0")
        if entry.startswith(b"S ")
    ]


def _listed(root: Path, folder: Path, flag: str, pathspec: str) -> bytes:
    """`git ls-files <flag> -z` of `pathspec`, asked again only once the index changed."""
    index = Path(os.environ.get("GIT_INDEX_FILE") or folder / "index")
    try:
        info = os.stat(root / index)  # a relative GIT_INDEX_FILE is the work tree's
    except OSError:
        return b""  # no index yet: nothing is unmerged or skipped
    key = (index, flag, pathspec)
    stamp = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    seen = _listed_seen.get(key)
    if seen is not None and seen[0] == stamp:
        return seen[1]
    out = run_git(root, "ls-files", flag, "-z", "--", f":(top,literal){pathspec}")
    _listed_seen[key] = (stamp, out)
    return out


def sparse_operation(root: Path, folder: Path, pathspec: str) -> str | None:
    """A phrase naming the tracked paths under `pathspec` that a sparse checkout leaves out of
    the work tree (git's index holds them, skipped, and no file is there), with the fix; None
    when there are none. A file written there would not be the one git holds: a block made
    anew in place of the team's, committed by the next `git add`, drops what the team wrote.
    Only asked where git keeps sparse-checkout patterns, so a clone that never made a sparse
    checkout pays a stat."""
    if not os.path.lexists(folder / "info" / "sparse-checkout"):
        return None
    paths = [path for path in _skipped(root, folder, pathspec) if not os.path.lexists(root / path)]
    if not paths:
        return None
    return (
        f"this sparse checkout leaves {printable(pathspec)}/ out of the work tree, and the "
        f"team's memory with it: bring it in with `git sparse-checkout add {printable(pathspec)}`"
    )


def unmerged_operation(root: Path, folder: Path, pathspec: str) -> str | None:
    """`git_operation`'s phrase for unmerged paths under `pathspec` (`unmerged_paths`);
    None when there are none."""
    paths = unmerged_paths(root, folder, pathspec)
    if not paths:
        return None
    named = printable(paths[0]) + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")
    return (
        f"git holds {named} unmerged (a `git stash pop`, `git stash apply` or `git checkout -m` "
        "stopped on a conflict; end it with `git add` once it is resolved)"
    )

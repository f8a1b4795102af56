"""Which published indexes a `--keep N` prune removes, and removing them out of view first.

A team's shared folder holds indexes published from the default branch (CI, after each
merge) and from other branches (pull requests, a developer's publish). Recency alone would let
two publishes from branches remove the default branch's index, which every fresh clone of it
starts from. So a prune keeps:

- the N most recently published commits (the publisher's HEAD always among them);
- the default branch's newest published commit: the first on its first-parent line, as this
  clone knows the branch, and the most recently published one off that line whose record
  says its publisher found it on the branch (published after this clone last fetched);
- the published commit this clone itself would start from (`spare`: its HEAD, just published).

The default branch is the one `origin/HEAD` names, else `init.defaultBranch`, else `main`,
else `master` (a local branch of that name, else `origin/`'s).

Each commit removed is first renamed to a dot folder in one `rename(2)`, so no reader lists
it from then on, and only then deleted: a reader that chose it a moment before fails its copy
(a file is gone, or does not match its hash) and builds locally.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from codemem.code.shared_copy import Refused, read_record
from codemem.infra import git_text, resolve_commit, stall_for_tests

log = logging.getLogger("codemem")

TEMP_PREFIX = ".tmp-"
PRUNED_PREFIX = ".pruned-"  # removed from view, its deletion under way or killed
STALE_TEMP_SECONDS = 24 * 3600  # a publish folder this old was abandoned (killed, crashed)
LINE_DEPTH = 5000  # how far back the default branch's first-parent line is searched
FALLBACK_BRANCHES = ("main", "master")
ON_DEFAULT_LINE = "on_default_line"  # the record's mark: published from the default branch


class DefaultLine:
    """The default branch as this clone knows it: its name, its tip and (read when first
    asked: about a second for 5,000 commits of a large history) its first-parent commits."""

    def __init__(self, root: Path, branch: str | None = None, tip: str | None = None) -> None:
        self.root = root
        self.branch = branch  # None: no default branch found (no origin/HEAD, main or master)
        self.tip = tip
        self._commits: tuple[str, ...] | None = None if tip else ()

    @property
    def commits(self) -> tuple[str, ...]:
        """The first-parent line from the tip, newest first, at most LINE_DEPTH."""
        if self._commits is None:
            out = git_text(
                self.root, "rev-list", "--first-parent", f"--max-count={LINE_DEPTH}", str(self.tip)
            )
            self._commits = tuple(out.split())
        return self._commits

    def holds(self, commit: str) -> bool:
        """Whether `commit` is on the line; its tip (CI publishing the branch) costs no git."""
        return commit == self.tip or (self.tip is not None and commit in self.commits)


def default_line(root: Path) -> DefaultLine:
    """The default branch of the repository at `root`."""
    for ref in _default_refs(root):
        tip = resolve_commit(root, ref)
        if tip is not None:
            name = ref.removeprefix("refs/heads/").removeprefix("refs/remotes/")
            return DefaultLine(root, name, tip)
    return DefaultLine(root)


def _default_refs(root: Path) -> Iterable[str]:
    """The refs that may name the default branch, the likeliest first."""
    origin_head = git_text(
        root, "symbolic-ref", "-q", "refs/remotes/origin/HEAD", ok=(0, 1, 128)
    ).strip()
    if origin_head:
        yield origin_head
    configured = git_text(root, "config", "--get", "init.defaultBranch", ok=(0, 1)).strip()
    for name in (configured, *FALLBACK_BRANCHES) if configured else FALLBACK_BRANCHES:
        yield f"refs/heads/{name}"
        yield f"refs/remotes/origin/{name}"


def prune_published(
    root: Path,
    keep: int,
    spare: str | None = None,
    line: DefaultLine | None = None,
    starts_from: str | None = None,
) -> list[str]:
    """Remove from the shared folder `root` every published commit but the `keep` most
    recently published (by their folder's modification time, set when the publish finished),
    `spare`, `starts_from` (the one the pruning clone would start from, when HEAD's is
    not) and the default branch's newest (`line`, and the records' marks); the removed
    commits, newest first.

    Two pruners at once each delete only what their own rename moved; a pruner killed midway
    leaves a dot folder, out of view, that the next publish clears.
    """
    entries = []
    for entry in os.scandir(root):
        if not is_commit_id(entry.name):
            continue
        with contextlib.suppress(OSError):  # gone meanwhile (another pruner)
            if entry.is_dir(follow_symlinks=False):
                entries.append((entry.stat(follow_symlinks=False).st_mtime, entry.name))
    entries.sort(reverse=True)
    kept = {spare} if spare else set()
    for _mtime, commit in entries:
        if len(kept) >= keep:
            break
        kept.add(commit)
    kept |= {starts_from} if starts_from else set()
    kept |= _default_branch_newest(root, [commit for _, commit in entries], line)
    removed: list[str] = []
    left: list[tuple[str, OSError]] = []
    for _mtime, commit in entries:
        if commit in kept:
            continue
        gone = root / f"{PRUNED_PREFIX}{commit[:12]}-{os.urandom(4).hex()}"
        try:
            os.rename(root / commit, gone)
        except FileNotFoundError:
            continue  # another pruner took it
        except OSError as exc:  # another user's, in a folder with the sticky bit (/tmp's)
            left.append((commit, exc))
            continue
        stall_for_tests("prune")
        shutil.rmtree(gone, ignore_errors=True)
        removed.append(commit)
    if removed:
        log.info("removed %d older published index(es) from %s", len(removed), root)
    if left:  # the publish itself is done: what may not be removed is left, said once
        first, problem = left[0]
        log.warning(
            "%d older published index(es) in %s could not be removed and are left as they "
            "are (%s: %s)",
            len(left),
            root,
            first[:12],
            problem.strerror or problem,
        )
    return removed


def _default_branch_newest(
    root: Path, newest_first: list[str], line: DefaultLine | None
) -> set[str]:
    """The default branch's newest published commit as this clone's git knows the branch, and
    the most recently published one whose record carries the mark but which this clone does
    not know on the branch (published from it after this clone last fetched)."""
    known = line.commits if line is not None else ()
    found = set()
    published = set(newest_first)
    nearest = next((commit for commit in known if commit in published), None)
    if nearest is not None:
        found.add(nearest)
    on_line = set(known)
    for commit in newest_first:
        if commit in on_line:
            continue  # older on the line than `nearest`, or `nearest` itself
        try:
            marked = read_record(root / commit).get(ON_DEFAULT_LINE) is True
        except (Refused, OSError):
            continue  # unreadable or gone: no reader takes it either
        if marked:
            found.add(commit)
            break
    return found


def clear_abandoned(root: Path) -> None:
    """Remove publish folders left by runs killed more than a day ago, and what killed
    prunes left (already out of view)."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    for entry in os.scandir(root):
        if entry.name.startswith(PRUNED_PREFIX):
            shutil.rmtree(entry.path, ignore_errors=True)
            continue
        if not entry.name.startswith(TEMP_PREFIX):
            continue
        with contextlib.suppress(OSError):
            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                shutil.rmtree(entry.path, ignore_errors=True)


def is_commit_id(name: str) -> bool:
    return len(name) in (40, 64) and all(c in "0123456789abcdef" for c in name)

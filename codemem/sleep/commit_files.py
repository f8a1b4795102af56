"""What each commit of a digest's range changed, and which of them are project changes.

One `git diff-tree` per commit gives its files (with blob ids and line counts). Lock files,
generated, vendored and secret-looking files are listed as skipped and never diffed
(`codemem.code.path_skip_reason`); each diff is cut at a byte bound. Merge commits are listed
without a diff: their changes belong to the commits merged.

Not every commit is a project change (`skip_reason`): commits that touch only `.codemem/`
(memory being committed, or merged), merges with no changes of their own, and commits by bots
(dependabot, renovate, any author whose name ends in `[bot]`) are left out of a digest's
sections; the bots' commits are summarised in one line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from codemem.code import path_skip_reason
from codemem.infra import git_head, git_text, is_bot_author
from codemem.sleep.commits import (
    BOT,
    DIGESTED,
    MEMORY_ONLY,
    MERGE,
    Commit,
    CommitRange,
    FileChange,
    first_parent,
)
from codemem.sleep.patches import range_patch_id
from codemem.workspace import CODEMEM_DIR

NULL_SHA = "0" * 40


def skip_reason(root: Path, commit: Commit) -> str | None:
    """Why `commit` is not a project change (`BOT`, `MERGE`, `MEMORY_ONLY`), or None.

    Needs `load_files` first; a merge has no changes of its own when its combined diff is
    empty (no conflict was resolved in it), and is memory only when they are all in
    `.codemem/` (the merge driver's union of two teammates' edits to one block). Memory is
    memory whoever commits it: `digest --push` commits as `codemem[bot]` in a CI job.
    """
    if commit.is_merge:
        own = git_text(
            root, "diff-tree", "--cc", "--name-only", "--no-commit-id", commit.sha
        ).split("\n")
        commit.files = [FileChange("M", path) for path in sorted(filter(None, own))]
    prefix = CODEMEM_DIR + "/"
    if commit.files and all(
        f.path.startswith(prefix) and (f.old_path or prefix).startswith(prefix)
        for f in commit.files
    ):
        return MEMORY_ONLY
    if is_bot_author(commit.author):
        return BOT
    return None if commit.files or not commit.is_merge else MERGE


def split_skipped(
    root: Path, commit_range: CommitRange, progress: Callable[[int, int], None] | None = None
) -> None:
    """Load each commit's files and move the ones that are not project changes to `skipped`;
    `progress(done, total)` after each.

    The range's `base` becomes the parent of its oldest project change (or bot commit): what
    a digest shows then depends only on those commits and HEAD, not on how far this clone's
    last pass got, so two clones write the same file for the same changes.
    """
    kept = []
    shown = []
    total = len(commit_range.commits)
    for done, commit in enumerate(commit_range.commits):
        if progress is not None:
            progress(done, total)
        load_files(root, commit)
        reason = skip_reason(root, commit)
        if reason is None:
            kept.append(commit)
        else:
            commit_range.skipped.append((commit, reason))
        if reason in (None, BOT):
            shown.append(commit)
    commit_range.commits = kept
    if shown:
        commit_range.base = first_parent(root, shown[0])
    commit_range.digest_head = commit_range.head
    if len(shown) > 1 and commit_range.head and not any(c.truncated_history for c in shown):
        commit_range.patch_id = range_patch_id(root, commit_range.base, shown[-1].sha)
    if shown and commit_range.head not in (None, shown[-1].sha):
        # The newest commit shown names the file when all that came after it is memory or
        # merges of nothing else (a note committed, a pull's merge), whichever clone it is.
        after = set(git_text(root, "rev-list", commit_range.head, f"^{shown[-1].sha}").split())
        memory = {
            c.sha for c, reason in commit_range.skipped if reason in (MEMORY_ONLY, MERGE, DIGESTED)
        }
        if after <= memory:
            commit_range.digest_head = shown[-1].sha


def load_files(root: Path, commit: Commit) -> None:
    """Fill `commit.files` (no-op for merges and for the boundary of a shallow clone)."""
    if commit.is_merge or commit.truncated_history:
        return
    out = git_text(
        root,
        "diff-tree",
        "-r",
        "-z",
        "--root",
        "--no-commit-id",
        "--raw",
        "--numstat",
        "-M",
        "--no-abbrev",
        commit.sha,
    )
    tokens = out.split("\0")
    files: dict[str, FileChange] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if not token:
            continue
        if token.startswith(":"):
            _modes_a, _modes_b, old_blob, new_blob, status = token[1:].split(" ")
            kind = status[0]
            if kind in "RC":
                old_path, path = tokens[i], tokens[i + 1]
                i += 2
            else:
                old_path, path = None, tokens[i]
                i += 1
            files[path] = FileChange(
                kind,
                path,
                old_path,
                None if old_blob == NULL_SHA else old_blob,
                None if new_blob == NULL_SHA else new_blob,
            )
            continue
        added, deleted, path = token.split("\t", 2)
        if not path:  # a rename: old and new paths follow
            path = tokens[i + 1]
            i += 2
        change = files.get(path)
        if change is not None and added != "-":
            change.added, change.deleted = int(added), int(deleted)
        elif change is not None:
            change.skipped = "binary"
    for change in files.values():
        reason = path_skip_reason(change.path)
        if reason is not None:
            change.skipped = reason
    commit.files = sorted(files.values(), key=lambda f: f.path)


def load_diff(root: Path, commit: Commit, max_bytes: int) -> None:
    """Fill `commit.diff` with the patch of its diffable files, cut at `max_bytes`."""
    paths = [f.path for f in commit.files if f.skipped is None]
    paths += [f.old_path for f in commit.files if f.skipped is None and f.old_path]
    if commit.is_merge or not paths:
        return
    data, rest = git_head(
        root,
        "diff-tree",
        "-p",
        "-M",
        "--root",
        "--no-color",
        "--no-commit-id",
        commit.sha,
        "--",
        *paths,
        max_bytes=max_bytes,
    )
    if rest:
        cut = data.rfind(b"\n")
        if cut > 0:
            rest += len(data) - cut - 1
            data = data[: cut + 1]
    commit.diff = data.decode("utf-8", "replace")
    commit.diff_omitted = rest

"""What a commit changes, named so that a new id or a new message does not hide it.

`Commit.key` (author, email, author date, subject) survives a rebase and a cherry-pick, not a
message fixed by `git commit --amend` or `rebase -i`'s reword. Those keep the author, the
author date and the patch: `patch_key`, from `git patch-id --stable` of the commit's changes
outside `.codemem/` (memory a squash or an amend carries along is not what the commit means).
A squash merge is one new commit, dated anew, whose patch is that of the range it squashed:
`range_key`, of the patch of a digest's whole range, when it shows two commits or more (one
commit's patch again, with a new date, is as likely a revert reverted: that is a change).

Each is one pipeline of two git commands: `diff-tree --stdin` (or `diff`) into `patch-id`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from codemem.infra import empty_tree, run_git
from codemem.workspace import CODEMEM_DIR

OUTSIDE_MEMORY = ("--", ".", f":(exclude){CODEMEM_DIR}")


def _ids(out: bytes) -> dict[str, str]:
    """`git patch-id` output: {commit (or the null id of a plain diff): patch id}."""
    ids = {}
    for line in out.decode("ascii", "replace").splitlines():
        patch, _, commit = line.partition(" ")
        if patch and commit:
            ids[commit] = patch
    return ids


def commit_patch_ids(root: Path, shas: Sequence[str]) -> dict[str, str]:
    """{commit: its stable patch id} for the `shas` that change something outside
    `.codemem/` (merges and memory-only commits have none)."""
    if not shas:
        return {}
    diffs = run_git(
        root,
        "diff-tree",
        "--stdin",
        "-p",
        "--root",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        *OUTSIDE_MEMORY,
        input="".join(f"{sha}\n" for sha in shas).encode(),
    )
    return _ids(run_git(root, "patch-id", "--stable", input=diffs)) if diffs else {}


def range_patch_id(root: Path, base: str | None, head: str) -> str | None:
    """The stable patch id of everything `base..head` changed outside `.codemem/` (None when
    nothing)."""
    diff = run_git(
        root,
        "diff",
        "-p",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        base or empty_tree(root),
        head,
        *OUTSIDE_MEMORY,
    )
    ids = _ids(run_git(root, "patch-id", "--stable", input=diff)) if diff else {}
    return next(iter(ids.values()), None)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def patch_key(author: str, email: str, authored: str, patch_id: str) -> str:
    """16 hex digits naming a commit by its author, author date and patch."""
    return _digest("patch", author, email, authored, patch_id)


def range_key(patch_id: str) -> str:
    """16 hex digits naming the changes of a range (or of the squash of it) by their patch."""
    return _digest("range", patch_id)

"""A branch digested over several passes, then squash-merged: its squash is digested already.

On a branch, passes digest A, then B, then C (each its own digest, its own `range_key`); the
branch is then squash-merged as S, one new commit whose patch is that of A..C together, which
neither a commit's key nor any one digest's range names. What names it is the patch of all the
branch changed since HEAD's history parted from it: for a digested head HEAD does not hold,
`git diff $(git merge-base HEAD head) head` outside `.codemem/` (every commit of it is reachable
from a digested head, so digested). Its `range_key` counts as a digest's: S, whose patch is
the same, is set aside as digested; a commit made on the branch after its last pass changes
the squash's patch, and S is digested, as it must be.

Only when that range holds two commits or more (one commit's patch again, with a new date, is
as likely a revert reverted: a change), for the `MAX_BRANCHES` newest such heads; each range's
patch id, and its merge base, are kept with the commits' (`PatchIds.of_range`,
`PatchIds.merge_base`), so a pass whose HEAD has not moved asks git nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from codemem.errors import GitError
from codemem.sleep.patch_ids import PatchIds
from codemem.sleep.patches import range_key

MAX_BRANCHES = 20


def squashed_keys(away: Sequence[str], head: str, patch_ids: PatchIds) -> set[str]:
    """The `range_key`s of what each digested head in `away` (not in `head`'s history, oldest
    first) changed since `head`'s history parted from it."""
    keys = set()
    for tip in away[-MAX_BRANCHES:]:
        try:
            base = patch_ids.merge_base(head, tip)
        except GitError:  # a head gone meanwhile
            continue
        found = patch_ids.of_range(base, tip) if base else None
        if found is not None:
            keys.add(range_key(found))
    return keys

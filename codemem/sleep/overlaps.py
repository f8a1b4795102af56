"""Digests that describe a commit another digest describes: two clones' passes that overlapped.

Clone A digests X..Y and pushes; clone B, which had pulled X..Y and has its own Z on top,
digests X..Z before it pulls A's digest, then pulls (with `--rebase` or a merge) and pushes:
both digests land, and X..Y is described twice. Which commits a digest shows is decided when
it is written, so the pass that first sees both settles it: each commit is described once, by
the earlier digest (`overlapping`), and the later one is removed and its range digested again,
which shows only the commits no other digest describes (Z).

That is done only when it loses nothing (`redescribed`): every commit the later digest showed
that no other digest describes must be in the range the pass reads without it. A commit the
heads of other digests reach (a digest written on top of the later one before the pull) would
not be read again: then both stay, as before.

Nor is one removed that a person has written into (`as_codemem_wrote`): its frontmatter's
`checksum:` no longer matches its text (`digest_file.as_written`), or, written by an older
codemem without one, it differs from the text the commit that added it held (or no commit
holds it yet). It stays, said in a warning naming it, and counts as written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from pathlib import Path

from codemem.errors import CodememError, GitError
from codemem.infra import head_commit
from codemem.sleep.commits import CommitRange, existing_commits, keyed_commits
from codemem.sleep.digest_file import as_written
from codemem.sleep.patch_ids import PatchIds, lf

# The commits read, from a later digest's base to HEAD, to find those it alone describes.
READ_LIMIT = 1000


def overlapping(records: Sequence[tuple[str, Collection[str]]]) -> set[str]:
    """The names of the digests (name, keys) that list a key an earlier one lists.

    Earlier: by the date its name starts with (its head commit's), then the one listing fewer
    keys (a digest written without another's newer commits describes fewer), then by name;
    the same on every clone, whatever order the files arrived in.
    """
    seen: set[str] = set()
    later = set()
    for name, keys in sorted(records, key=lambda r: (r[0][:10], len(r[1]), r[0])):
        if seen.intersection(keys):
            later.add(name)
        else:
            seen.update(keys)
    return later


def redescribed(
    root: Path,
    later: Sequence[tuple[str | None, Collection[str]]],
    kept_keys: Collection[str],
    commit_range: CommitRange,
    patch_ids: PatchIds,
) -> bool:
    """Whether every commit of HEAD that a later digest, (base, keys), describes and no kept
    digest does (`kept_keys`) is in `commit_range`, the range read without the later ones.

    One `git log` from each later digest's base to HEAD (its keys' patch ids mostly kept
    already); False when a base is not in this clone (a shallow one) or the log is longer than
    `READ_LIMIT`: then nothing can be said, and the digests stay as they are.
    """
    head = commit_range.head
    if head is None:
        return True
    read = {c.sha for c in commit_range.commits} | {c.sha for c, _ in commit_range.skipped}
    for base, keys in later:
        if base is not None and not existing_commits(root, [base]):
            return False
        try:
            commits = keyed_commits(
                root, [head, "--not", base] if base else [head], patch_ids, READ_LIMIT + 1
            )
        except GitError:
            return False
        if len(commits) > READ_LIMIT:
            return False
        for commit in commits:
            alone = any(key in keys for key in commit.keys) and not commit.digested(kept_keys)
            if alone and commit.sha not in read:
                return False
    return True


def as_codemem_wrote(
    root: Path, relative: str, data: bytes, patch_ids: PatchIds | None = None
) -> bool:
    """Whether a digest's bytes `data` (at `relative`, from the repository's root) are the
    text codemem wrote: by its `checksum:`, or without one, the text the last commit that
    added it holds (line ends aside). An edit before that commit, in a digest an older
    codemem wrote, cannot be told. `patch_ids`: where that text's hash is kept for HEAD, so
    the next pass at the same HEAD asks git nothing (None: asked for this call alone)."""
    written = as_written(data)
    if written is not None:
        return written
    head = head_commit(root)
    if head is None:
        return False
    try:
        committed = (patch_ids or PatchIds(root)).added_text(head, relative)
    except CodememError:
        return False
    return committed is not None and committed == hashlib.sha1(lf(data)).hexdigest()

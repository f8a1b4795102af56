"""Reading git history for a digest: which commits are new (what each one changed, and which
are project changes: `sleep/commit_files.py`).

One `git log` lists the commits past the digested heads (topological, then date order: no
parent after its child, otherwise by commit time), another the digested commits HEAD no
longer holds (`rewritten_keys`).

A rebase (`git pull --rebase`, `git rebase -i`), an amend or a cherry-pick gives a digested
commit a new id, so the digest's `head` no longer reaches it. What git keeps of a commit
through a rebase or a cherry-pick is its author, author date and subject: `Commit.key`, a
digest of those; through an amend or a reword that fixes its message, its author, author date
and patch: `Commit.patch_key` (`codemem.sleep.patches`). A squash merge keeps only the patch
of the range it squashed (`range_key`). A digest lists the keys of the commits it shows and
of its range (`keys:`), and a commit of HEAD one of whose keys a digest lists, or is one of a
digested commit HEAD no longer holds, is digested already (`DIGESTED`): left out like a
memory commit, on every clone alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from codemem.errors import GitError
from codemem.infra import (
    git_path,
    git_text,
    head_commit,
    log_records,
    run_git,
    shallow_hint,
    utc_date,
)
from codemem.sleep.patch_ids import PatchIds
from codemem.sleep.patches import patch_key, range_key
from codemem.sleep.squashes import squashed_keys

# Fields and commits end in NUL (`-z`): the one byte no field can hold (git prints a message
# up to its first NUL), where any other separator can be typed into a commit message.
_FIELDS = ("%H", "%P", "%an", "%aI", "%cI", "%s", "%ae", "%b")
_FORMAT = "%x00".join(_FIELDS)
_KEY_FIELDS = ("%H", "%an", "%ae", "%aI", "%cI", "%s")  # a commit and what its keys are made of
# Digested commits HEAD no longer holds, read for their keys: a rebase of more is rare, and
# their copies past this many are digested again, as before keys.
REWRITTEN_LIMIT = 1000
# What a commit whose author or committer line git cannot parse is dated: git prints the
# placeholder itself (`%aI`) for its date.
NO_DATE = "1970-01-01T00:00:00+00:00"
MEMORY_ONLY, MERGE, BOT = "memory only", "merge", "bot"
DIGESTED = "digested under another id"  # a rebased, amended or cherry-picked copy


@dataclass
class FileChange:
    """One file changed by a commit."""

    status: str  # A(dded), M(odified), D(eleted), R(enamed), C(opied), T(ype changed)
    path: str  # the path after the commit (before it, for a deletion)
    old_path: str | None = None  # for renames and copies
    old_blob: str | None = None
    new_blob: str | None = None
    added: int | None = None  # lines; None for binary files
    deleted: int | None = None
    skipped: str | None = None  # why it is not diffed: generated, vendored, secret, binary

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "path": self.path,
            "old_path": self.old_path,
            "added": self.added,
            "deleted": self.deleted,
            "skipped": self.skipped,
        }


@dataclass
class Commit:
    """One commit as the digest sees it."""

    sha: str
    parents: list[str]
    author: str
    authored: str  # ISO 8601 as git prints it
    committed: str
    subject: str
    body: str = ""
    files: list[FileChange] = field(default_factory=list)
    truncated_history: bool = False  # the boundary of a shallow clone: its diff is unknown
    diff: str = ""  # bounded patch text, only when asked for
    diff_omitted: int = 0  # bytes of the patch left out by the bound
    email: str = ""  # the author's
    patch_id: str | None = None  # `git patch-id --stable` outside `.codemem/` (`read_patch_ids`)

    @property
    def key(self) -> str:
        """What names this commit through a rebase or a cherry-pick (which keep its author,
        author date and subject, and give it a new id)."""
        return commit_key(self.author, self.email, self.authored, self.subject)

    @property
    def patch_key(self) -> str | None:
        """What names this commit through an amend or a reword that changes its message (which
        keep its author, author date and patch); None when it changes nothing outside memory."""
        if self.patch_id is None:
            return None
        return patch_key(self.author, self.email, self.authored, self.patch_id)

    @property
    def keys(self) -> list[str]:
        """What a digest showing this commit lists of it: `key`, and `patch_key` when it has one."""
        return [self.key] if self.patch_key is None else [self.key, self.patch_key]

    def digested(self, keys: Collection[str]) -> bool:
        """Whether `keys` name this commit: its `key`, its `patch_key`, or, for a squash of a
        digested range, the `range_key` of its patch."""
        named = [*self.keys, range_key(self.patch_id) if self.patch_id else None]
        return any(key in keys for key in named if key is not None)

    @property
    def short(self) -> str:
        return self.sha[:7]

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    @property
    def date(self) -> str:
        """The commit's author date, as a UTC calendar date."""
        return utc_date(self.authored)


@dataclass
class CommitRange:
    """The commits a pass digests, oldest first."""

    base: str | None  # the parent of the oldest commit shown (`split_skipped`; None: the root)
    head: str | None
    commits: list[Commit] = field(default_factory=list)
    omitted: int = 0  # older commits in the range beyond the per-pass limit
    warnings: list[str] = field(default_factory=list)
    skipped: list[tuple[Commit, str]] = field(
        default_factory=list
    )  # with `skip_reason`, by `split_skipped`
    # The head the digest file names: the newest commit shown when only memory commits and
    # merges of nothing else follow it (`split_skipped`), so a clone that committed memory
    # before its pass and one that did not name the same range alike.
    digest_head: str | None = None
    # A shallow clone's history ends inside the range: a commit whose parent is not here (its
    # changes unknown), or a digested commit that is not (the commits after it unknown).
    beyond_clone: bool = False
    # The patch id of all `base..` the newest commit shown changed, when it shows two or more
    # (`split_skipped`): what a squash merge of the range keeps (`range_key`).
    patch_id: str | None = None


def commit_key(author: str, email: str, authored: str, subject: str) -> str:
    """`Commit.key`: 16 hex digits of a digest of the author, their email, the author date
    (as `git_date` reads it) and the subject."""
    text = "\0".join((author, email, authored, subject))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def keyed_commits(
    root: Path, revisions: Sequence[str], patch_ids: PatchIds, limit: int = REWRITTEN_LIMIT
) -> list[Commit]:
    """The commits `git log revisions` lists (at most `limit`, newest first), read for their
    keys (`Commit.key`, `Commit.patch_key`) alone; one `git log`, and the patch ids of those
    not seen before."""
    out = git_text(
        root,
        "log",
        "-z",
        f"--max-count={limit}",
        f"--format={'%x00'.join(_KEY_FIELDS)}",
        *revisions,
    )
    listed = []
    for sha, author, email, authored, committed, subject in log_records(out, len(_KEY_FIELDS)):
        commit = Commit(sha, [], author, git_date(authored, git_date(committed)), "", subject)
        commit.email = email
        listed.append(commit)
    read_patch_ids(patch_ids, listed, shallow_commits(root))
    return listed


def rewritten_keys(
    root: Path, known: Sequence[str], head: str, patch_ids: PatchIds | None = None
) -> set[str]:
    """The keys (`Commit.key`, `Commit.patch_key`) of the commits reachable from a `known`
    digested commit but not from `head` (at most `REWRITTEN_LIMIT`): history rewritten since it
    was digested, whose copies in `head` are digested already; one `git log`, printing nothing
    when none is (then no patch is read). With them, what a squash merge of a branch digested
    over several passes names (`squashes.squashed_keys`)."""
    if not known:
        return set()
    patch_ids = patch_ids or PatchIds(root)
    rewritten = keyed_commits(root, [*known, "--not", head], patch_ids)
    away = {commit.sha for commit in rewritten}
    squashed = squashed_keys([sha for sha in known if sha in away], head, patch_ids)
    return {key for commit in rewritten for key in commit.keys} | squashed


def read_patch_ids(
    patch_ids: PatchIds, commits: Sequence[Commit], shallow: Collection[str]
) -> None:
    """Fill each commit's `patch_id` (those not seen before: one pipeline); a merge has none,
    nor has the boundary of a shallow clone (its parent is not here, so its patch would be the
    whole tree)."""
    wanted = [c for c in commits if len(c.parents) < 2 and c.sha not in shallow]
    ids = patch_ids.of([c.sha for c in wanted])
    for commit in wanted:
        commit.patch_id = ids.get(commit.sha)


def shallow_commits(root: Path) -> set[str]:
    """The boundary commits of a shallow clone (their parents are not in the repository).

    Read from the file git names: a linked worktree shares its clone's, which is not in the
    worktree's own git folder (there, every boundary commit read as adding the whole tree).
    """
    try:
        return set(git_path(root, "shallow").read_text(encoding="ascii").split())
    except (GitError, OSError):
        return set()


def existing_commits(root: Path, revisions: Sequence[str]) -> list[str]:
    """Those of `revisions` that are commits of this repository, as full ids (one git call)."""
    wanted = list(dict.fromkeys(r for r in revisions if r))
    if not wanted:
        return []
    out = run_git(
        root,
        "cat-file",
        "--batch-check=%(objectname) %(objecttype)",
        input="".join(f"{r}^{{commit}}\n" for r in wanted).encode(),
    )
    found = []
    for line in out.decode("utf-8", "replace").splitlines():
        sha, _, kind = line.partition(" ")
        if kind == "commit":
            found.append(sha)
    return list(dict.fromkeys(found))


def commits_since(
    root: Path,
    digested: str | Sequence[str] | None,
    *,
    first_run_limit: int,
    max_commits: int,
    digested_keys: Collection[str] | None = None,
    patch_ids: PatchIds | None = None,
) -> CommitRange:
    """The commits of HEAD not reachable from any `digested` commit (oldest first), at most
    `max_commits` of them.

    With nothing digested (the first pass), the newest `first_run_limit` commits. Digested
    commits that are no longer in the repository (rewritten history, a shallow clone) are
    reported in `warnings` when no digest's key names their copies; when none is left, it is
    a first pass. With `digested_keys` (the keys the digests list; None: every commit is
    read), a commit whose key is one of them, or one of a digested
    commit HEAD no longer holds (`rewritten_keys`), is set aside as `DIGESTED`. `patch_ids`:
    where the commits' patch ids are kept (None: computed for this call alone).
    """
    head = head_commit(root)
    result = CommitRange(base=None, head=head)
    if head is None:
        return result
    wanted = [digested] if isinstance(digested, str) else list(digested or ())
    known = existing_commits(root, wanted)
    keys: set[str] = set()
    patch_ids = patch_ids or PatchIds(root)
    if digested_keys is not None:
        keys = set(digested_keys) | rewritten_keys(root, known, head, patch_ids)
    if wanted and not known and not keys:
        result.warnings.append(
            f"the last digested commit {wanted[-1][:12]} is not in this repository"
            f"{shallow_hint(root)}; "
            "digesting the most recent commits instead"
        )
    limit = max_commits if known else min(first_run_limit, max_commits)
    span = [head, "--not", *known] if known else [head]
    total = int(git_text(root, "rev-list", "--count", *span).strip() or 0)
    if not known:
        total = min(total, first_run_limit)
    result.omitted = max(0, total - limit)
    # --reverse applies after --max-count: these are the newest `limit`, oldest first.
    log = git_text(
        root,
        "log",
        "-z",
        f"--max-count={limit}",
        "--reverse",
        "--date-order",
        f"--format={_FORMAT}",
        *span,
    )
    shallow = shallow_commits(root)
    fields = log_records(log, len(_FIELDS))
    listed = []
    for sha, parents, author, authored, committed, subject, email, body in fields:
        committed = git_date(committed)
        authored = git_date(authored, committed)
        commit = Commit(sha, parents.split(), author, authored, committed, subject, body.strip())
        commit.email = email
        commit.truncated_history = sha in shallow
        listed.append(commit)
    read_patch_ids(patch_ids, listed, shallow)
    for commit in listed:
        if commit.digested(keys):
            result.skipped.append((commit, DIGESTED))
        else:
            result.commits.append(commit)
    if shallow:
        read = [*result.commits, *(commit for commit, _ in result.skipped)]
        result.beyond_clone = (bool(wanted) and not known) or any(
            commit.truncated_history for commit in read
        )
    if result.commits:
        result.base = first_parent(root, result.commits[0])
    return result


def git_date(text: str, fallback: str = NO_DATE) -> str:
    """`text` if it is a date with an offset as git prints one (`%aI`), else `fallback`."""
    try:
        return text if datetime.fromisoformat(text).tzinfo is not None else fallback
    except ValueError:
        return fallback


def first_parent(root: Path, commit: Commit) -> str | None:
    """The commit's first parent (None for a root commit). At the edge of a shallow clone git
    lists no parents (it has none of them), so it is read from the commit itself: a digest
    starting there is named from it, never `root`, as a clone with the history names it."""
    if commit.parents or not commit.truncated_history:
        return commit.parents[0] if commit.parents else None
    header = run_git(root, "cat-file", "commit", commit.sha).split(b"\n\n", 1)[0]
    for line in header.split(b"\n"):
        if line.startswith(b"parent "):
            return line[len(b"parent ") :].decode("ascii").strip()
    return None

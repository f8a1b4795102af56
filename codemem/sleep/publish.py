"""`codemem digest --push`: commit what a pass learned and push it, as a polite teammate.

The CI job digests a branch and pushes its memory while developers push too. It commits only
`.codemem/`, pushes, and when the branch moved meanwhile pulls with `--rebase` (the memory
merge driver configured, so memory files merge without markers) and tries again, a bounded
number of times. It never re-digests: which commits are digested comes from the committed
digests, so a developer's digest of the same range is taken as done.

These writes are the user's (`--push`), so git runs them as it runs the user's own (`as_user`):
with the repository's hooks, filters (git-lfs), commit signing, merge driver and transports.
"""

from __future__ import annotations

from dataclasses import dataclass

from codemem.errors import CodememError, GitError, UsageError
from codemem.infra import git_config, git_text, head_branch, printable, run_git
from codemem.merge_driver import configure_merge_driver
from codemem.sleep.head import check_head
from codemem.workspace import CODEMEM_DIR, MEMORY_COMMIT_MESSAGE, Workspace

COMMIT_MESSAGE = MEMORY_COMMIT_MESSAGE
# How git says the branch moved since it was fetched: a pull with --rebase and a new try fix it.
# The others: another push landed between this one's read of the branch and its update (two
# jobs pushing at once), refused by the remote's ref lock or its check of the old value.
_MOVED = ("(fetch first)", "(non-fast-forward)")
_RACED = ("(failed to update ref)", "(incorrect old value provided)", "(cannot lock ref ")
BOT_NAME, BOT_EMAIL = "codemem[bot]", "codemem-bot@users.noreply.github.com"


class PushError(CodememError):
    """The memory could not be pushed (the branch kept moving, or the pull conflicted)."""


@dataclass
class Pushed:
    """What `push_memory` did: the commit it made (None: nothing to commit) and its tries."""

    commit: str | None = None
    branch: str = ""
    attempts: int = 0


def push_memory(
    ws: Workspace,
    remote: str = "origin",
    branch: str | None = None,
    attempts: int = 5,
    *,
    read: tuple[str | None, str | None] | None = None,
) -> Pushed:
    """Commit `.codemem/` changes and push them to `remote`'s `branch` (default: the current one).

    `read`: the branch and commit the digest read (`DigestResult.branch`, `.head`); when HEAD
    is elsewhere now, or git began a merge or rebase since, nothing is committed or pushed
    (`HeadMovedError`): HEAD would be another branch's work, pushed to `branch`.
    """
    if read is not None:
        check_head(ws, *read, done="pushed")
    branch = push_branch(ws, branch)
    configure_merge_driver(ws)
    identity = _identity(ws)
    if git_text(ws.root, "status", "--porcelain", "--", CODEMEM_DIR).strip():
        run_git(ws.root, "add", "-A", "--", CODEMEM_DIR, as_user=True)
        run_git(
            ws.root, *identity, "commit", "-q", "-m", COMMIT_MESSAGE, "--", CODEMEM_DIR,
            as_user=True,
        )  # fmt: skip
    elif not _unpushed_memory_commit(ws, remote, branch):
        return Pushed(branch=branch)
    result = Pushed(branch=branch)
    ref = f"HEAD:refs/heads/{branch}"
    for attempt in range(1, attempts + 1):
        result.attempts = attempt
        try:
            run_git(ws.root, "push", "--porcelain", "--", remote, ref, as_user=True)
        except GitError as exc:
            refused = _refusal(exc.output)
            if refused is not None and not _moved(refused):
                # a protected or checked-out branch, a hook: no pull makes the next try pass
                raise PushError(
                    f"{remote} refused the memory pushed to {branch}: {refused}"
                ) from None
            if refused is None or attempt == attempts:
                tries = f" after {attempts} tries" if refused is not None else ""
                raise PushError(
                    f"could not push memory to {remote}/{branch}{tries}: {exc}"
                ) from None
            _pull_rebase(ws, identity, remote, branch)
            continue
        result.commit = git_text(ws.root, "rev-parse", "HEAD").strip()
        return result
    raise AssertionError("unreachable")  # the loop returns or raises


def _moved(refused: str) -> bool:
    """Whether the remote refused the push because its branch moved (then a pull helps)."""
    return refused.endswith(_MOVED) or any(word in refused for word in _RACED)


def _unpushed_memory_commit(ws: Workspace, remote: str, branch: str) -> bool:
    """Whether HEAD is a memory commit of this module's that `remote`'s `branch` (as last
    fetched) does not hold: an earlier run committed it and its push failed. That run said so;
    this one pushes it instead of finding nothing to commit."""
    head = git_text(ws.root, "log", "-1", "--format=%s", "HEAD", ok=(0, 128)).strip()
    if head != COMMIT_MESSAGE:
        return False
    touched = git_text(ws.root, "diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD")
    if any(not path.startswith(f"{CODEMEM_DIR}/") for path in touched.splitlines()):
        return False  # a commit of that name holding other files is a person's
    tracking = f"refs/remotes/{remote}/{branch}"
    if not run_git(ws.root, "rev-parse", "-q", "--verify", tracking, ok=(0, 1)).strip():
        return True  # never fetched: the push says whether the remote has it
    return not _is_ancestor(ws, tracking)


def _is_ancestor(ws: Workspace, tracking: str) -> bool:
    """Whether HEAD is contained in `tracking` (`merge-base --is-ancestor` says it by exit code)."""
    try:
        run_git(ws.root, "merge-base", "--is-ancestor", "HEAD", tracking)
    except GitError:
        return False
    return True


def _refusal(porcelain: bytes) -> str | None:
    """What the remote said of the refused ref in `git push --porcelain`'s output
    (`[rejected] (fetch first)`, `[remote rejected] (protected branch hook declined)`); None
    when no ref was refused (the push failed before: the network, a pre-push hook)."""
    for line in porcelain.decode("utf-8", "replace").splitlines():
        flag, _, rest = line.partition("\t")
        if flag == "!":
            return printable(rest.partition("\t")[2].strip() or "[rejected]")
    return None


def _pull_rebase(ws: Workspace, identity: list[str], remote: str, branch: str) -> None:
    try:
        run_git(
            ws.root,
            *identity,
            "pull",
            "-q",
            "--rebase",
            "--no-edit",
            "--",
            remote,
            branch,
            as_user=True,
        )
    except GitError as exc:
        run_git(ws.root, "rebase", "--abort", ok=(0, 1, 128), as_user=True)
        raise PushError(f"pulling {remote}/{branch} before pushing memory failed: {exc}") from None


def push_branch(ws: Workspace, branch: str | None = None) -> str:
    """The branch `push_memory` pushes to: `branch`, else the current one. A detached HEAD
    (a CI checkout of a commit) is a `UsageError` naming the fix, asked before the digest
    runs, so a job that lacks `--branch` writes nothing it cannot push; so is a name git
    would not give a branch (`$CI_COMMIT_BRANCH` is whatever a pushed ref was called, and
    a ref may begin with `-`: git would read it as an option)."""
    if branch:
        if run_git(ws.root, "check-ref-format", "--branch", branch, ok=(0, 128)).strip():
            return branch
        raise UsageError(f"--branch {printable(branch)!r} is not a name git gives a branch")
    ref = head_branch(ws.root)
    if ref is None:
        raise UsageError(
            "HEAD is detached: name the branch to push with --branch (e.g. $CI_COMMIT_BRANCH)"
        )
    return ref.removeprefix("refs/heads/")


def _identity(ws: Workspace) -> list[str]:
    """`-c` options naming a committer when the clone has none (a CI job's fresh checkout)."""
    options = []
    if git_config(ws.root, "user.name") is None:
        options += ["-c", f"user.name={BOT_NAME}"]
    if git_config(ws.root, "user.email") is None:
        options += ["-c", f"user.email={BOT_EMAIL}"]
    return options

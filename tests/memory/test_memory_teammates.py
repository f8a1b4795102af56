"""Two teammates editing memory at once, as a clone without the merge driver meets it: git's
conflict markers in a block, and git operations (merge, rebase, cherry-pick, revert, bisect)
stopped for the user while codemem would write `.codemem/`."""

from __future__ import annotations

from pathlib import Path

import pytest
from memory_helpers import run_cli

from codemem.memory import MemoryStore
from codemem.workspace import Workspace
from tests.helpers import git

BLOCK = "---\ndescription: The project.\nlimit: 2000\nread_only: false\n---\nA shop.\n"


def two_sides(root: Path) -> None:
    """`blocks/project.md` committed, then changed in one place on `main` and on `other`."""
    (root / ".codemem" / "blocks").mkdir(parents=True, exist_ok=True)
    (root / ".codemem" / "blocks" / "project.md").write_text(BLOCK, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "memory")
    git(root, "checkout", "-q", "-b", "other")
    with (root / ".codemem" / "blocks" / "project.md").open("a", encoding="utf-8") as file:
        file.write("Build with make.\n")
    git(root, "commit", "-q", "-am", "make")
    git(root, "checkout", "-q", "main")
    with (root / ".codemem" / "blocks" / "project.md").open("a", encoding="utf-8") as file:
        file.write("Build with tox.\n")
    git(root, "commit", "-q", "-am", "tox")


@pytest.fixture
def merging(repo_factory) -> Path:
    """A clone that never ran `codemem init` (no merge driver) in the middle of a merge that
    stopped on a conflict in `blocks/project.md`."""
    root = repo_factory()
    two_sides(root)
    assert git(root, "merge", "other", check=False).returncode == 1
    return root


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        (("merge", "other"), ("merge", "--abort"), "a merge (end it with `git commit`"),
        (("rebase", "other"), ("rebase", "--abort"), "a rebase (end it with `git rebase"),
        (("cherry-pick", "other"), ("cherry-pick", "--abort"), "a cherry-pick (end it"),
        (("revert", "--no-edit", "HEAD"), ("revert", "--abort"), "a revert (end it"),
        (("bisect", "start"), ("bisect", "reset"), "a bisect (end it with `git bisect reset`"),
    ],
)
def test_the_git_operation_waiting_for_the_user_is_named(repo_factory, start, end, says):
    root = repo_factory()
    two_sides(root)
    if start[0] == "revert":  # a revert conflicts with a later edit of the same line
        with (root / ".codemem" / "blocks" / "project.md").open("a", encoding="utf-8") as file:
            file.write("Deploy on Fridays.\n")
        git(root, "commit", "-q", "-am", "later")
        start = ("revert", "--no-edit", "HEAD~1")
    ws = Workspace(root)
    assert ws.git_operation() is None
    git(root, *start, check=False)
    busy = ws.git_operation()
    assert busy is not None and busy.startswith(f"git is in the middle of {says}")
    git(root, *end)
    assert ws.git_operation() is None


def test_no_memory_is_written_while_a_merge_waits(merging):
    before = (merging / ".codemem" / "blocks" / "project.md").read_bytes()
    busy = (
        "git is in the middle of a merge (end it with `git commit` once it is resolved, or "
        "`git merge --abort`)"
    )
    result = run_cli(merging, "remember", "--block", "project", "Run tests with pytest.")
    assert result.exit_code == 2
    assert result.output == (
        f"codemem: error: .codemem/blocks/project.md not written: {busy}; try again once it "
        "ends (memory written now would go into that operation's commit)\n"
    )
    assert (merging / ".codemem" / "blocks" / "project.md").read_bytes() == before
    result = run_cli(merging, "remember", "Prices are in cents.")
    assert result.exit_code == 2 and "not written: git is in the middle of a merge" in result.output
    assert not (merging / ".codemem" / "archive").exists()
    result = run_cli(merging, "digest")
    assert result.exit_code == 2
    assert result.output == f"codemem: error: nothing digested: {busy}, then run it again\n"
    status = git(merging, "status", "--porcelain", "--untracked-files=no").stdout
    assert status == "UU .codemem/blocks/project.md\n"
    # the user's own block is created once the merge ends, not swept into it
    assert MemoryStore(Workspace(merging), user="alice").ensure_user_block() is None
    git(merging, "merge", "--abort")
    assert run_cli(merging, "remember", "Prices are in cents.").exit_code == 0

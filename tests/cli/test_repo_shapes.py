"""Repositories of the shapes CI and teams have: another user's, shallow, linked worktrees,
a `.git` given by the environment. Each command gives the right answer or one line with the
fix and its exit code, never git's raw words or a result about nothing."""

from __future__ import annotations

import pytest

from tests.helpers import git, make_repo, run_codemem

REFUSED = "git's safe.directory check"


@pytest.fixture
def history(tmp_path):
    """A repository with three commits."""
    repo = make_repo(tmp_path / "origin")
    for n in (1, 2):
        (repo / f"m{n}.py").write_text(f"def f{n}():\n    return {n}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"add m{n}")
    return repo


@pytest.mark.parametrize(
    "args",
    [
        ("index",),
        ("review", "--staged"),
        ("review", "--range", "HEAD~1..HEAD"),
        ("hook", "install"),
        ("init",),
    ],
)
def test_a_repository_git_refuses_is_one_line_with_the_fix(history, args):
    # git refuses a repository another user owns; its words were passed on as the last line
    # of its message, a `git diff` usage text, or "'HEAD~1' names no commit" (exit 3 or 2).
    result = run_codemem(history, *args, env={"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"})
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        f"codemem: error: git refuses to work in {history}: another user owns it ({REFUSED}); "
        f"if you trust it, run `git config --global --add safe.directory {history}`\n",
    )
    if args == ("init",):
        assert not (history / ".codemem").exists()

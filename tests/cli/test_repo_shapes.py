"""Repositories of the shapes CI and teams have: another user's, shallow, linked worktrees,
a `.git` given by the environment. Each command gives the right answer or one line with the
fix and its exit code, never git's raw words or a result about nothing."""

from __future__ import annotations

import json

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


SHALLOW = (
    " (a shallow clone: fetch the history it needs, e.g. `git fetch --unshallow`, "
    "or `fetch-depth: 0` in actions/checkout)"
)


def shallow_clone(origin, target, *args: str):
    git(origin.parent, "clone", "-q", "--depth", "1", *args, f"file://{origin}", str(target))
    return target


def test_a_range_reaching_past_a_shallow_clone_says_so_and_how_to_fetch(history, tmp_path):
    # CI checks out one commit: a base outside it was "names no commit" with no word of why,
    # and a three-dot range with no merge base in the clone git's own "fatal" line (exit 3).
    git(history, "checkout", "-q", "-b", "feature", "HEAD~1")
    (history / "leak.py").write_text("x = 3\n")
    git(history, "add", "-A")
    git(history, "commit", "-q", "-m", "feature")
    clone = shallow_clone(history, tmp_path / "ci", "--branch", "feature")
    git(clone, "fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main")
    old = run_codemem(clone, "review", "--range", "HEAD~1..HEAD")
    assert (old.returncode, old.stderr) == (
        2,
        f"codemem: error: --range HEAD~1..HEAD: 'HEAD~1' names no commit{SHALLOW}\n",
    )
    apart = run_codemem(clone, "review", "--range", "origin/main...HEAD")
    assert (apart.returncode, apart.stderr) == (
        2,
        "codemem: error: --range origin/main...HEAD: the two sides have no common commit in "
        f"this clone{SHALLOW}\n",
    )
    git(clone, "fetch", "-q", "--deepen", "2", "origin", "main", "feature")
    deep = run_codemem(clone, "review", "--range", "origin/main...HEAD", "--format", "json")
    assert (deep.returncode, json.loads(deep.stdout)["files"]) == (0, ["leak.py"])

"""Repositories of the shapes CI and teams have: another user's, shallow, linked worktrees,
a `.git` given by the environment. Each command gives the right answer or one line with the
fix and its exit code, never git's raw words or a result about nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from codemem.errors import RepositoryRefused
from codemem.infra import git as infra_git
from codemem.infra import run_git, work_tree_setting
from codemem.memory import Recall
from codemem.workspace import Workspace, find_repo_root
from tests.helpers import commands_run, git, make_repo, run_codemem

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


@pytest.mark.parametrize(
    "args",
    [
        ("remember", "--block", "users/mallory", "Tabs, not spaces."),
        ("remember", "Prices are in cents."),
        ("memory", "list"),
        ("memory", "show", "project"),
        ("recall", "--archive", "prices"),
    ],
)
def test_memory_commands_do_not_run_in_a_repository_git_refuses(history, tmp_path, args):
    # They ran no git, so they went on in another user's repository under this user's
    # global identity: `remember --block users/<me>` created that user's block there.
    assert run_codemem(history, "init", "--no-index").returncode == 0
    git(history, "add", "-A")
    git(history, "commit", "-q", "-m", "memory")
    identity = tmp_path / "gitconfig"
    identity.write_text("[user]\n\tname = Mallory\n\temail = mallory@example.com\n")
    env = {"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1", "GIT_CONFIG_GLOBAL": str(identity)}
    result = run_codemem(history, *args, env=env)
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        f"codemem: error: git refuses to work in {history}: another user owns it ({REFUSED}); "
        f"if you trust it, run `git config --global --add safe.directory {history}`\n",
    )
    assert git(history, "status", "--porcelain", "--untracked-files=all").stdout == ""
    trusted = {**env, "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory"}
    trusted["GIT_CONFIG_VALUE_0"] = str(history)  # the fix it names: then it runs
    assert run_codemem(history, "memory", "list", env=trusted).returncode == 0


def test_finding_the_repository_asks_git_nothing_when_this_user_owns_it(history, monkeypatch):
    runs = []
    monkeypatch.setattr(infra_git, "run_git", lambda *args, **kwargs: runs.append(args))
    assert Workspace.discover(history).root == history
    assert runs == []
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")  # an owner git may refuse
    assert Workspace.discover(history).root == history
    assert runs == [(history, "rev-parse", "--git-dir")]


def test_conversations_are_not_opened_where_git_cannot_say_whose_they_are(history):
    # Whether git tracks recall.sqlite (another clone's, committed) is asked each time it is
    # opened: a refusal was taken as "not tracked", and the database opened as this user's.
    Recall(Workspace(history)).close()
    result = run_codemem(
        history, "recall", "--conversations", "x", env={"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"}
    )
    assert (result.returncode, result.stderr) == (
        2,
        f"codemem: error: git refuses to work in {history}: another user owns it ({REFUSED}); "
        f"if you trust it, run `git config --global --add safe.directory {history}`\n",
    )


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("index",),
        ("search", "f1"),
        ("memory", "create", "personal", "--description", "Mine"),  # needs no `codemem init`
        ("memory", "list"),
    ],
)
def test_a_worktree_of_a_moved_repository_is_one_line_with_the_fix(history, tmp_path, args):
    # Its `.git` file names the old place: git's raw "not a git repository: <path>" came out
    # (exit 3), or memory commands went on as if the folder were a repository of its own.
    work = tmp_path / "work"
    git(history, "worktree", "add", "-q", str(work))
    moved = history.rename(tmp_path / "moved")
    result = run_codemem(work, *args)
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        f"codemem: error: {work}/.git points at {history}/.git/worktrees/work, which is gone "
        f"(the repository moved?): run `git worktree repair {work}` in the repository it "
        "belongs to\n",
    )
    assert not (work / ".codemem").exists()
    git(moved, "worktree", "repair", str(work))  # the fix it names
    assert run_codemem(work, *args).returncode in (0, 1)


def test_git_run_in_a_worktree_of_a_moved_repository_names_the_fix(history, tmp_path):
    work = tmp_path / "work"
    git(history, "worktree", "add", "-q", str(work))
    history.rename(tmp_path / "moved")
    (work / "pkg").mkdir()  # git run below the top finds the same link
    with pytest.raises(RepositoryRefused, match=r"\(the repository moved\?\): run `git worktree"):
        run_git(work / "pkg", "status")


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


def test_a_work_tree_git_finds_through_git_dir_is_the_repository_hook_included(history, tmp_path):
    # A bare repository checked out with GIT_DIR/GIT_WORK_TREE (`git --git-dir --work-tree`,
    # the dotfiles set-up; git runs hooks with GIT_DIR set): codemem looked for a `.git`,
    # found none, and the hook let every commit through ("not inside a git repository").
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(history), str(bare))
    work = tmp_path / "work"
    work.mkdir()
    location = {"GIT_DIR": str(bare), "GIT_WORK_TREE": str(work)}
    git(work, "checkout", "-q", "main", "--", ".", env=location)
    installed = run_codemem(work, "hook", "install", env=location)
    assert (
        installed.stdout == f"Installed the codemem pre-commit hook at {bare}/hooks/pre-commit.\n"
    )
    (work / "key.py").write_text('KEY = "AKIA' + 'Q7XZ2KJH4MPL9WRT"\n')
    outside = (f"--git-dir={bare}", f"--work-tree={work}")
    git(tmp_path, *outside, "add", "key.py")
    result = git(tmp_path, *outside, "commit", "-q", "-m", "key", check=False)
    assert result.returncode == 1
    assert "1 finding (1 error) in 1 of 1 file reviewed." in result.stderr
    assert git(tmp_path, f"--git-dir={bare}", "log", "-1", "--format=%s").stdout == "add m2\n"
    (work / "docs").mkdir()
    found = run_codemem(work / "docs", "status", env=location)
    assert found.stdout.splitlines()[0] == f"Repository: {work}"


def test_a_git_folder_whose_work_tree_is_elsewhere_names_the_command_that_works(history, tmp_path):
    # `core.worktree` set (a dotfiles repository made so): git answers for the files there,
    # and `codemem index` beside the `.git` found every one missing and said nothing.
    work = tmp_path / "work"
    work.mkdir()
    git(history, "config", "core.worktree", str(work))
    git(history, "checkout", "-q", "--", ".")
    assert sorted(p.name for p in work.iterdir()) == ["m1.py", "m2.py"]
    expected = (
        f"codemem: error: {history}/.git sets core.worktree: its work tree is {work}; run "
        f"codemem there with git told where the repository is: `GIT_DIR={history}/.git "
        f"codemem --repo {work} ...`\n"
    )
    for args in (("index",), ("status", "--json"), ("search", "f1")):
        result = run_codemem(history, *args)
        assert (result.returncode, result.stdout, result.stderr) == (2, "", expected)
    fixed = run_codemem(work, "index", "--json", env={"GIT_DIR": str(history / ".git")})
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout)["files"] == 2
    git(history, "config", "--unset", "core.worktree")
    git(history, "config", "extensions.worktreeConfig", "true")  # names none: no refusal
    assert run_codemem(history, "status").returncode == 0


CONFIGS = [  # the bytes of a `.git/config` naming `worktree` somewhere
    b"[core]\n\tworktree = /x\n",
    b"[core]\n\tworktree = /x\n\tworktree = /y\n",
    b'[core "a"]\n\tworktree = /x\n',
    b"[Core]\n\tWorkTree = /a  b\t c  \n",
    b"[core]\r\n\tworktree=/x\r\n",
    b"[extensions]\n\tworktreeConfig = true\n",
    b'[core]\n\tbare = false\n[remote "o"]\n\tworktree = /z\n',
    b"[core.sub]\n\tworktree = /x\n",
    b"\xef\xbb\xbf[core]\nworktree = /bom\n",
    b"# c\n; c\n[core] # x\n  worktree =   ../w  \n[user]\n\tworktree = /no\n",
    b'[core]\n\tworktree = "/q"\n',
    b"[core]\n\tworktree = /x # c\n",
    b"[core]\n\tworktree\n",
    b"[core]\n\tworktree = /a\\\n/b\n",
    b"[core] worktree = /same-line\n",
    b"[core]\n\tworktree = \n",
    b"[cor e]\n\tworktree = /x\n",
]


@pytest.mark.parametrize("config", CONFIGS)
def test_core_worktree_is_read_from_the_config_bytes_as_git_reads_it(tmp_path, config):
    # `find_repo_root` reads `.git/config` once; `core.worktree` is read from those bytes, and
    # git asked only where they are not plain enough (quotes, escapes, continued lines).
    (tmp_path / "config").write_bytes(config)
    asked = git(tmp_path, "config", "--file", "config", "--get", "core.worktree", check=False)
    by_git = asked.stdout.rstrip("\n") if asked.returncode == 0 else None
    plain, value = work_tree_setting(config)
    assert value == (by_git if plain else None)


def test_a_config_naming_no_work_tree_costs_no_git_config(history, monkeypatch):
    # Before: `git config --file .git/config --get core.worktree` ran after the same file's
    # bytes were read, for any config saying `worktree` (`extensions.worktreeConfig`).
    git(history, "config", "extensions.worktreeConfig", "true")
    asked = commands_run(monkeypatch)
    assert find_repo_root(history) == history
    assert [args for args in asked if "--file" in args] == []


@pytest.mark.parametrize("named", ["relative", "absolute"])
def test_a_git_folder_whose_work_tree_is_gone_says_so_and_how_to_fix_it(history, tmp_path, named):
    # `core.worktree` naming a folder moved or deleted: codemem said to run in that folder
    # (absolute), or passed git's `cannot chdir` from `ls-files` on (relative), or a status
    # of nothing indexed; every git command in the repository fails there, `git config` too.
    value = "../moved" if named == "relative" else str(tmp_path / "moved")
    config = history / ".git" / "config"
    git(tmp_path, "config", "--file", str(config), "core.worktree", value)
    expected = (
        f"codemem: error: {history}/.git sets core.worktree to {value}, a folder that does not "
        f"exist (moved or deleted?): make it, or remove the setting: `git -C / config --file "
        f"{config} --unset core.worktree`\n"
    )
    for args in (("index",), ("status", "--json"), ("search", "f1"), ("memory", "list")):
        result = run_codemem(history, *args)
        assert (result.returncode, result.stdout, result.stderr) == (2, "", expected), args
    git(Path("/"), "config", "--file", str(config), "--unset", "core.worktree")  # the fix said
    assert run_codemem(history, "status").returncode == 0


def test_a_bare_repository_says_it_has_no_work_tree(history, tmp_path):
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(history), str(bare))
    expected = (
        f"codemem: error: {bare} is a bare repository, with no work tree for codemem to read: "
        "run it in a checkout (`git worktree add DIR`, or a clone)\n"
    )
    for env in ({}, {"GIT_DIR": str(bare)}):
        result = run_codemem(bare, "index", env=env)
        assert (result.returncode, result.stderr) == (2, expected)


def test_a_digest_since_a_commit_past_a_shallow_clone_says_so(history, tmp_path):
    clone = shallow_clone(history, tmp_path / "ci")
    assert run_codemem(clone, "init", "--no-index").returncode == 0
    result = run_codemem(clone, "digest", "--since", "HEAD~2", "--dry-run")
    assert (result.returncode, result.stderr) == (
        2,
        f"codemem: error: --since HEAD~2: no such commit in this repository{SHALLOW}\n",
    )


def test_a_repository_under_a_path_that_is_not_utf8_says_how_to_index_it(tmp_path):
    # LanceDB refuses such a path: `index`, `search` and `map` ended in an internal error.
    repo = make_repo(tmp_path / os.fsdecode(b"caf\xe9"))
    (repo / "m.py").write_text("def f():\n    return 1\n")
    result = run_codemem(repo, "index")
    shown = str(tmp_path).replace("\\", "\\\\") + "/caf\\xe9/.codemem/local/index.next"
    assert (result.returncode, result.stderr) == (
        2,
        f"codemem: error: {shown}: the code index cannot be kept under a path that is not "
        "UTF-8: rename the folder that holds the repository (or clone it again) to a UTF-8 name\n",
    )


def test_status_names_a_repository_under_a_path_with_a_newline_on_one_line(tmp_path):
    # The path was printed raw: its newline split the `Repository:` line in two, and a
    # terminal code in a folder's name reached the terminal.
    repo = make_repo(tmp_path / "two\nlines\x1b[2K")
    result = run_codemem(repo, "status")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first == f"Repository: {tmp_path}/two\\nlines\\x1b[2K"

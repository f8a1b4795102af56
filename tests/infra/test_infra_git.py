"""The git layer on a real tiny repository: output, failures, blobs, and a lazy GitPython."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from codemem.errors import GitError
from codemem.infra import (
    BlobReader,
    empty_tree,
    git_config,
    git_dir,
    git_head,
    git_text,
    has_head,
    head_commit,
    read_blobs,
    resolve_commit,
    run_git,
)
from tests.helpers import git


@pytest.fixture
def repo(repo_factory):
    repo = repo_factory(commit=False)
    (repo / "a.txt").write_text("alpha\n")
    (repo / "café.txt").write_text("crème\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "two files")
    return repo


def test_run_git_returns_stdout_bytes_exactly(repo):
    assert run_git(repo, "ls-files", "-z") == "a.txt\0café.txt\0".encode()
    assert git_text(repo, "ls-files") == "a.txt\ncafé.txt\n"  # not C-quoted


def test_input_goes_to_stdin(repo):
    blob = git(repo, "rev-parse", "HEAD:a.txt").stdout.strip()
    assert run_git(repo, "hash-object", "--stdin", input=b"alpha\n") == f"{blob}\n".encode()
    assert run_git(repo, "check-ignore", "--stdin", input=b"a.txt\n", ok=(0, 1)) == b""


def test_a_failure_is_a_git_error_with_gits_last_line(repo):
    with pytest.raises(GitError) as caught:
        run_git(repo, "rev-parse", "--verify", "nope")
    assert str(caught.value) == "git rev-parse failed: fatal: Needed a single revision"
    assert run_git(repo, "rev-parse", "--verify", "-q", "nope", ok=(0, 1)) == b""


def test_a_missing_git_is_a_git_error(repo, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GitError, match="^git is not installed or not on PATH$"):
        run_git(repo, "status")


def test_heads_commits_config_and_folders(repo, repo_factory):
    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    assert (has_head(repo), head_commit(repo), resolve_commit(repo, "main")) == (True, head, head)
    assert resolve_commit(repo, "nope") is None
    assert git_dir(repo) == (repo / ".git").resolve()
    assert git_config(repo, "user.email") == "dev@example.com"
    assert git_config(repo, "codemem.unset") is None
    assert empty_tree(repo) == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
    fresh = repo_factory(commit=False)
    assert (has_head(fresh), head_commit(fresh)) == (False, None)


def test_git_dir_outside_a_repository_is_none(tmp_path):
    (tmp_path / "plain").mkdir()
    assert git_dir(tmp_path / "plain") is None


def test_blobs_are_read_with_their_sizes(repo):
    small = git(repo, "rev-parse", "HEAD:a.txt").stdout.strip()
    other = git(repo, "rev-parse", "HEAD:café.txt").stdout.strip()
    tree = git(repo, "rev-parse", "HEAD^{tree}").stdout.strip()
    missing = "0" * 40
    assert read_blobs(repo, [small, other, small, missing, tree, ""], max_bytes=6) == {
        small: (6, b"alpha\n"),
        other: (7, None),  # larger than max_bytes: size only
    }
    with BlobReader(repo) as reader:
        assert reader.read(small, 100) == b"alpha\n"
        assert reader.read(other, 3) is None
        assert reader.read(missing, 100) is None
        assert reader.size(other) == 7


def test_git_head_keeps_the_first_bytes_and_counts_the_rest(repo):
    whole = run_git(repo, "show", "--format=%s", "HEAD")
    assert git_head(repo, "show", "--format=%s", "HEAD", max_bytes=10) == (
        whole[:10],
        len(whole) - 10,
    )
    assert git_head(repo, "show", "--format=%s", "HEAD", max_bytes=10_000) == (whole, 0)
    # A limit from settings is not allocated before reading (`read(2**62)` fails at once).
    assert git_head(repo, "show", "--format=%s", "HEAD", max_bytes=2**62) == (whole, 0)


def test_importing_infra_does_not_import_gitpython():
    code = "import sys, codemem.infra; print('git' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "False\n"


def test_head_is_read_from_the_ref_files_as_git_resolves_it(repo, tmp_path, monkeypatch):
    from codemem.infra.git import _head_from_files

    first = git(repo, "rev-parse", "HEAD").stdout.strip()
    assert _head_from_files(repo) == head_commit(repo) == first  # a loose branch ref
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert _head_from_files(repo) == first  # from packed-refs
    (repo / "a.txt").write_text("beta\n")
    git(repo, "commit", "-q", "-am", "second")
    second = git(repo, "rev-parse", "HEAD").stdout.strip()
    assert _head_from_files(repo) == second  # the loose ref wins over the packed one
    git(repo, "checkout", "-q", "--detach", first)
    assert _head_from_files(repo) == head_commit(repo) == first  # detached
    git(repo, "checkout", "-q", "main")
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked), first)
    assert _head_from_files(linked) == head_commit(linked) == first  # a linked worktree
    git(repo, "checkout", "-q", "--orphan", "unborn")
    assert _head_from_files(repo) is None and head_commit(repo) is None  # git answers
    git(repo, "checkout", "-q", "main")
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    assert _head_from_files(repo) is None  # git's environment: git answers


def test_a_head_the_files_do_not_say_plainly_is_asked_of_git(repo, monkeypatch):
    from codemem.infra import git as git_layer

    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/.invalid\n")  # as reftable has it
    assert git_layer._head_from_files(repo) is None
    asked = []
    real = git_layer.resolve_commit
    monkeypatch.setattr(git_layer, "resolve_commit", lambda *a: asked.append(a) or real(*a))
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert git_layer.head_commit(repo) == head and asked == []


def test_a_hostile_head_never_reads_outside_the_refs(repo, tmp_path):
    from codemem.infra.git import _head_from_files

    planted = tmp_path / "planted"
    planted.write_text("1" * 40 + "\n")  # an object id in a file outside the repository
    escape = os.path.relpath(planted, repo / ".git" / "refs" / "heads")
    for ref in (f"refs/heads/{escape}", "refs/heads/x/../../../planted", "refs/heads/a.lock"):
        (repo / ".git" / "HEAD").write_text(f"ref: {ref}\n")
        assert _head_from_files(repo) is None, ref  # git is asked instead

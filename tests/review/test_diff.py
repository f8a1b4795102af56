"""Reading a change: staged, range, work tree and paths, with exact added lines and hunks."""

from __future__ import annotations

import os

import pytest
from review_helpers import stage, write

from codemem.errors import UsageError
from codemem.review.diff import Target, read_changes
from codemem.review.patch import Hunk
from tests.helpers import git

MAX = 1_000_000


def files(changes) -> list[tuple[str, str, str | None, bool]]:
    return [(f.path, f.status, f.old_path, f.binary) for f in changes.files]


@pytest.fixture
def repo(repo_factory):
    path = repo_factory()
    stage(
        path,
        {
            "a.py": "one\ntwo\nthree\nfour\n",
            "gone.txt": "bye\n",
            "old name.txt": "same\ntext\nhere\n",
        },
    )
    git(path, "commit", "-q", "-m", "base")
    return path


def test_staged_changes_with_hunks_renames_and_deletions(repo):
    write(repo, {"a.py": "one\nTWO\nthree\nfour\nfive\n", "gone.txt": None, "new é.py": "x = 1\n"})
    git(repo, "mv", "old name.txt", "new name.txt")
    write(repo, {"new name.txt": "same\ntext\nhere!\n"})
    git(repo, "add", "-A")
    changes = read_changes(repo, Target("staged"), MAX)
    assert files(changes) == [
        ("a.py", "modified", None, False),
        ("new name.txt", "renamed", "old name.txt", False),
        ("new é.py", "added", None, False),
    ]
    a, renamed, new = changes.files
    assert a.hunks == [Hunk(2, 1, 2, 1, [2], ["two"]), Hunk(4, 0, 5, 1, [5], [])]
    assert a.added == {2: "TWO", 5: "five"}
    assert renamed.added == {3: "here!"}
    assert new.whole and new.added == {1: "x = 1"}


def test_staged_content_is_the_index_not_the_work_tree(repo):
    stage(repo, {"a.py": "one\nstaged\nthree\nfour\n"})
    write(repo, {"a.py": "one\nunstaged\nthree\nfour\n"})
    [a] = read_changes(repo, Target("staged"), MAX).files
    assert a.added == {2: "staged"}
    [a] = read_changes(repo, Target("worktree"), MAX).files
    assert a.added == {2: "unstaged"}


def test_worktree_includes_untracked_files_but_not_ignored_ones(repo):
    write(repo, {".gitignore": "*.log\n", "notes.md": "hi\n", "debug.log": "x\n"})
    changes = read_changes(repo, Target("worktree"), MAX)
    assert [(f.path, f.status, f.whole) for f in changes.files] == [
        (".gitignore", "added", True),
        ("notes.md", "added", True),
    ]


def test_ranges_two_and_three_dots(repo):
    base = git(repo, "rev-parse", "HEAD").stdout.strip()
    git(repo, "checkout", "-q", "-b", "feature")
    stage(repo, {"a.py": "one\ntwo\nthree\nfour\nfeature\n"})
    git(repo, "commit", "-q", "-m", "feature")
    git(repo, "checkout", "-q", "main")
    stage(repo, {"gone.txt": "changed on main\n"})
    git(repo, "commit", "-q", "-m", "main moves on")
    direct = read_changes(repo, Target("range", rev_range="main..feature"), MAX)
    assert files(direct) == [
        ("a.py", "modified", None, False),
        ("gone.txt", "modified", None, False),
    ]
    merge_base = read_changes(repo, Target("range", rev_range="main...feature"), MAX)
    assert files(merge_base) == [("a.py", "modified", None, False)]
    assert merge_base.files[0].added == {5: "feature"}
    assert read_changes(repo, Target("range", rev_range=f"{base}..feature"), MAX).files[
        0
    ].added == {5: "feature"}


def test_binary_files_and_size_limits(repo):
    stage(
        repo,
        {
            "img.png": b"\x89PNG\0\0" + bytes(range(256)) * 4,
            "big.txt": "x" * 2_000 + "\n",
            ".gitattributes": "*.dat binary\n",
            "table.dat": "looks like text\n",
        },
    )
    changes = read_changes(repo, Target("staged"), 1_000)
    by_path = {f.path: f for f in changes.files}
    assert (by_path["img.png"].binary, by_path["img.png"].size, by_path["img.png"].data) == (
        True,
        1030,
        None,
    )
    assert (by_path["big.txt"].binary, by_path["big.txt"].size, by_path["big.txt"].data) == (
        False,
        2001,
        None,
    )
    assert by_path["big.txt"].added == {}
    assert by_path["table.dat"].binary is True


def test_paths_review_whole_files_and_folders(repo):
    write(repo, {"pkg/m.py": "a = 1\nb = 2\n", "pkg/sub/n.py": "c = 3\n"})
    changes = read_changes(
        repo, Target("paths", paths=(str(repo / "pkg"), str(repo / "a.py"))), MAX
    )
    assert [(f.path, f.whole) for f in changes.files] == [
        ("a.py", True),
        ("pkg/m.py", True),
        ("pkg/sub/n.py", True),
    ]
    assert changes.files[1].added == {1: "a = 1", 2: "b = 2"}
    with pytest.raises(UsageError, match="no such file or folder"):
        read_changes(repo, Target("paths", paths=(str(repo / "missing.py"),)), MAX)
    with pytest.raises(UsageError, match="not inside the repository"):
        read_changes(repo, Target("paths", paths=(os.path.dirname(repo),)), MAX)


def test_a_folder_of_a_submodule_is_refused_not_reviewed_as_empty(repo, repo_factory):
    # git lists none of a submodule's files in the superproject: the review of its folder once
    # said "No findings in 1 file reviewed" (the submodule's own entry), whatever it held.
    lib = repo_factory()
    stage(lib, {"src/m.py": "x = 1\n"})
    git(lib, "commit", "-q", "-m", "lib")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "lib")
    write(repo, {"lib/src/key.py": "y = 2\n"})
    for given in ("lib", "lib/src"):
        with pytest.raises(UsageError) as refused:
            read_changes(repo, Target("paths", paths=(str(repo / given),)), MAX)
        assert str(refused.value) == (
            f"{repo / given}: inside lib, a repository of its own (a submodule?): "
            f"review it there: codemem --repo {repo / 'lib'} review ..."
        )
    changes = read_changes(repo, Target("paths", paths=(str(repo),)), MAX)
    assert [f.path for f in changes.files] == [".gitmodules", "a.py", "gone.txt", "old name.txt"]
    one = read_changes(repo, Target("paths", paths=(str(repo / "lib/src/key.py"),)), MAX)
    assert [(f.path, f.added) for f in one.files] == [("lib/src/key.py", {1: "y = 2"})]


def test_a_folder_lists_only_files_on_disk_sparse_checkout_included(repo):
    # A tracked file outside a sparse checkout, or deleted, was counted as reviewed unread.
    stage(repo, {"docs/guide.md": "guide\n", "src/m.py": "x = 1\n"})
    git(repo, "commit", "-q", "-m", "more")
    git(repo, "sparse-checkout", "set", "src")  # top-level files stay (cone mode)
    (repo / "a.py").unlink()
    changes = read_changes(repo, Target("paths", paths=(str(repo),)), MAX)
    assert [f.path for f in changes.files] == ["gone.txt", "old name.txt", "src/m.py"]


def test_symlinks_are_left_out(repo):
    (repo / "link.py").symlink_to("a.py")
    git(repo, "add", "-A")
    assert read_changes(repo, Target("staged"), MAX).files == []


def test_a_repository_without_commits(repo_factory):
    repo = repo_factory(commit=False)
    stage(repo, {"first.py": "print(1)\n"})
    assert files(read_changes(repo, Target("staged"), MAX)) == [("first.py", "added", None, False)]
    assert files(read_changes(repo, Target("worktree"), MAX)) == [
        ("first.py", "added", None, False)
    ]


def test_a_bad_range_is_a_usage_error(repo):
    with pytest.raises(UsageError, match="^--range nope..HEAD: 'nope' names no commit$"):
        read_changes(repo, Target("range", rev_range="nope..HEAD"), MAX)
    with pytest.raises(UsageError, match="^--range HEAD...nope: 'nope' names no commit$"):
        read_changes(repo, Target("range", rev_range="HEAD...nope"), MAX)
    with pytest.raises(UsageError, match="expected A..B or A...B"):
        read_changes(repo, Target("range", rev_range="HEAD"), MAX)

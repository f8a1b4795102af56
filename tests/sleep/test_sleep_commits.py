"""Reading git history: files per commit, skipped files, bounded diffs, definition changes."""

from __future__ import annotations

import json
import subprocess

import pytest
from sleep_helpers import commit, digest, init

from codemem.sleep import patches
from codemem.sleep.changes import compare_file
from codemem.sleep.commit_files import load_diff, load_files, split_skipped
from codemem.sleep.commits import FileChange, commits_since
from tests.helpers import git, make_repo

PARSE = {"chunk_lines": 80, "max_line_chars": 2000}


def test_files_of_a_commit_with_skips(tmp_path):
    repo = make_repo(tmp_path / "r", commit=False)
    commit(repo, "start", "2025-03-01T10:00:00+00:00", {"app.py": "x = 1\n", "old.py": "y = 2\n"})
    commit(
        repo,
        "change",
        "2025-03-02T10:00:00+00:00",
        {
            "app.py": "x = 2\n",
            "old.py": None,
            "package-lock.json": "{}\n",
            "vendor/lib.js": "var a;\n",
            "logo.png": "\x89PNG\r\n\x1a\n\x00\x00",
            ".env": "KEY=1\n",
        },
    )
    [change] = commits_since(repo, None, first_run_limit=1, max_commits=10).commits
    load_files(repo, change)
    assert [(f.status, f.path, f.added, f.deleted, f.skipped) for f in change.files] == [
        ("A", ".env", 1, 0, "secret"),
        ("M", "app.py", 1, 1, None),
        ("A", "logo.png", None, None, "binary"),
        ("D", "old.py", 0, 1, None),
        ("A", "package-lock.json", 1, 0, "generated"),
        ("A", "vendor/lib.js", 1, 0, "vendored"),
    ]
    load_diff(repo, change, max_bytes=10_000)
    assert "+x = 2" in change.diff and "old.py" in change.diff
    assert "KEY" not in change.diff and "package-lock" not in change.diff


def test_diffs_are_cut_at_the_bound_on_a_line_end(tmp_path):
    repo = make_repo(tmp_path / "r", commit=False)
    commit(
        repo,
        "big",
        "2025-03-01T10:00:00+00:00",
        {"big.txt": "".join(f"line {n}\n" for n in range(2000))},
    )
    [big] = commits_since(repo, None, first_run_limit=5, max_commits=5).commits
    load_files(repo, big)
    load_diff(repo, big, max_bytes=1000)
    assert len(big.diff.encode()) <= 1000 and big.diff.endswith("\n")
    assert big.diff_omitted > 10_000


def test_commit_ranges(tmp_path):
    repo = make_repo(tmp_path / "r", commit=False)
    shas = [
        commit(repo, f"c{n}", f"2025-03-0{n}T10:00:00+00:00", {"f.txt": str(n)})
        for n in range(1, 6)
    ]
    first = commits_since(repo, None, first_run_limit=3, max_commits=10)
    assert [c.sha for c in first.commits] == shas[2:] and first.base == shas[1]
    later = commits_since(repo, shas[1], first_run_limit=3, max_commits=2)
    assert [c.sha for c in later.commits] == shas[3:] and later.omitted == 1
    assert commits_since(repo, shas[4], first_run_limit=3, max_commits=2).commits == []


def test_a_shallow_clone_marks_its_boundary(tmp_path):
    repo = make_repo(tmp_path / "r", commit=False)
    shas = [
        commit(repo, f"c{n}", f"2025-03-0{n}T10:00:00+00:00", {"f.txt": str(n)})
        for n in range(1, 4)
    ]
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "2", f"file://{repo}", str(clone)], check=True)
    result = commits_since(clone, "0" * 40, first_run_limit=10, max_commits=10)
    assert [c.truncated_history for c in result.commits] == [True, False]
    assert "shallow clone" in result.warnings[0]
    # The range starts after the boundary's parent, as in a clone with the history: its
    # digest was named `root..` and said `base: null`, as if the boundary were the first commit.
    assert result.base == shas[0]
    split_skipped(clone, result)
    assert result.base == shas[0]


def test_a_linked_worktree_of_a_shallow_clone_marks_its_boundary_too(tmp_path):
    # The clone's `shallow` file is not in a linked worktree's own git folder: read from there,
    # the boundary commit's diff against nothing was digested as adding the whole tree.
    repo = make_repo(tmp_path / "r", commit=False)
    for n in range(1, 4):
        commit(repo, f"c{n}", f"2025-03-0{n}T10:00:00+00:00", {f"f{n}.txt": str(n)})
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "2", f"file://{repo}", str(clone)], check=True)
    linked = tmp_path / "linked"
    subprocess.run(["git", "-C", str(clone), "worktree", "add", "-q", str(linked)], check=True)
    result = commits_since(linked, None, first_run_limit=10, max_commits=10)
    assert [c.truncated_history for c in result.commits] == [True, False]
    for c in result.commits:
        load_files(linked, c)
    assert [[f.path for f in c.files] for c in result.commits] == [[], ["f3.txt"]]


def change(path="m.py"):
    return FileChange("M", path)


def test_definitions_added_changed_and_removed():
    old = b"class Cart:\n    def add(self):\n        return 1\n\n    def total(self):\n        return 2\n\n\ndef gone():\n    pass\n"
    new = b"class Cart:\n    def add(self):\n        return 10\n\n    def total(self):\n        return 2\n\n\ndef fresh():\n    pass\n"
    found = compare_file(change(), old, new, PARSE)
    assert [(s.qualname, s.kind, s.line) for s in found.added] == [("fresh", "function", 9)]
    assert [(s.qualname, s.kind) for s in found.changed] == [
        ("Cart.add", "method")
    ]  # not Cart itself
    assert [(s.qualname, s.kind) for s in found.removed] == [("gone", "function")]


def test_a_class_changes_when_its_own_lines_do():
    old = b'class Cart:\n    """A cart."""\n\n    def add(self):\n        return 1\n'
    new = b'class Cart(Base):\n    """A cart."""\n\n    def add(self):\n        return 1\n'
    assert [s.qualname for s in compare_file(change(), old, new, PARSE).changed] == ["Cart"]


def test_nested_helpers_and_fields_are_not_reported():
    old = b"def outer():\n    def inner():\n        return 1\n    return inner\n"
    new = b"def outer():\n    def inner():\n        return 2\n    return inner\n"
    found = compare_file(change(), old, new, PARSE)
    assert [s.qualname for s in found.changed] == ["outer"] and not found.added


def test_text_files_have_no_definitions():
    assert not compare_file(change("README.md"), b"# A\n", b"# B\n", PARSE)


def literal_commit(repo, header: str, message: str) -> str:
    """A commit of the index's tree on HEAD whose author and committer lines are `header`
    as written, parsable or not (a commit made by a broken tool, or by hand)."""
    tree = git(repo, "write-tree").stdout.strip()
    parent = git(repo, "rev-parse", "HEAD").stdout.strip()
    body = f"tree {tree}\nparent {parent}\n{header}\n\n{message}\n"
    sha = (
        subprocess.run(
            ["git", "hash-object", "-t", "commit", "-w", "--literally", "--stdin"],
            cwd=repo,
            input=body.encode(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    git(repo, "update-ref", "HEAD", sha)
    return sha


def test_messages_holding_any_separator_and_lines_git_cannot_parse(tmp_path):
    repo = make_repo(tmp_path / "r", commit=False)
    commit(repo, "start", "2025-03-01T10:00:00+00:00", {"a.py": "x = 1\n"})
    typed = commit(
        repo,
        "fix \x1e the \x1f parser\n\nbody \x1f with \x1e marks",
        "2025-03-02T10:00:00+00:00",
        {"b.py": "y = 1\n"},
    )
    git(repo, "add", "-A")
    broken = literal_commit(
        repo,
        "author Broken <no-end 12x +0000\ncommitter Broken <x@y.z> 1740909600 +0000",
        "by hand",
    )
    worse = literal_commit(repo, "author <\ncommitter <", "nothing parses")
    result = commits_since(repo, None, first_run_limit=10, max_commits=10)
    assert [(c.sha, c.subject, c.body, c.authored, c.committed) for c in result.commits[1:]] == [
        (
            typed,
            "fix \x1e the \x1f parser",
            "body \x1f with \x1e marks",
            "2025-03-02T10:00:00+00:00",
            "2025-03-02T10:00:00+00:00",
        ),
        (broken, "by hand", "", "2025-03-02T10:00:00+00:00", "2025-03-02T10:00:00+00:00"),
        (worse, "nothing parses", "", "1970-01-01T00:00:00+00:00", "1970-01-01T00:00:00+00:00"),
    ]


def test_a_digest_at_a_head_git_cannot_date(tmp_path):
    repo = make_repo(tmp_path / "r", commit=False)
    commit(repo, "start", "2025-03-01T10:00:00+00:00", {"a.py": "x = 1\n"})
    ws = init(repo)
    (repo / "b.py").write_text("y = 2\n")
    git(repo, "add", "-A")
    head = literal_commit(repo, "author <\ncommitter <", "fix it")
    result = digest(ws)
    assert result.digest_path == f".codemem/digests/1970-01-01-root-{head[:7]}.md"
    assert "`fix it`" in (repo / result.digest_path).read_text()


def maintenance_branch(tmp_path):
    """A clone whose digested head HEAD does not reach: main digested (and its memory
    committed), then a branch from an older commit that took main's memory. Every pass reads
    the patch of each main commit the branch lacks (`rewritten_keys`)."""
    repo = make_repo(tmp_path / "r", commit=False)
    for day in range(1, 7):
        commit(repo, f"change {day}", f"2025-03-0{day}T10:00:00+00:00", {f"m{day}.py": "x = 1\n"})
    ws = init(repo)
    assert digest(ws).digest_path is not None
    commit(repo, "Memory", "2025-03-07T10:00:00+00:00")
    git(repo, "switch", "-q", "-c", "old", "main~5")
    git(repo, "checkout", "main", "--", ".codemem")
    commit(repo, "Memory from main", "2025-03-08T10:00:00+00:00")
    return ws


def patch_ids_asked(monkeypatch) -> list[int]:
    """How many commits each `git diff-tree --stdin` that feeds `git patch-id` is given."""
    asked: list[int] = []
    real = patches.run_git

    def counting(root, *args, **kwargs):
        if args[:2] == ("diff-tree", "--stdin"):
            asked.append(len(kwargs["input"].split()))
        return real(root, *args, **kwargs)

    monkeypatch.setattr(patches, "run_git", counting)
    return asked


def test_a_commits_patch_id_is_computed_once_per_clone(tmp_path, monkeypatch):
    ws = maintenance_branch(tmp_path)
    asked = patch_ids_asked(monkeypatch)
    first = digest(ws)
    assert (first.commits, first.digest_path) == ([], None)
    assert asked == [1]  # its own memory commit; main's four it lacks were read on main
    asked.clear()
    again = digest(ws)
    assert (again.commits, again.digest_path) == ([], None)
    assert asked == []  # main's four, kept in .codemem/local/patch-ids.json


@pytest.mark.parametrize(
    "damage", ["garbage", "checksum", "folder", "link"], ids=lambda damage: damage
)
def test_a_damaged_patch_id_file_is_made_again(tmp_path, monkeypatch, damage):
    ws = maintenance_branch(tmp_path)
    digest(ws)
    path = ws.local_dir / "patch-ids.json"
    kept = json.loads(path.read_text())
    path.unlink()
    if damage == "garbage":
        path.write_bytes(b"\xff{not json")
    elif damage == "checksum":
        kept["ids"][0][1] = "0" * 40
        path.write_text(json.dumps(kept))
    elif damage == "folder":
        path.mkdir()
    else:
        (tmp_path / "elsewhere.json").write_text(json.dumps(kept))
        path.symlink_to(tmp_path / "elsewhere.json")
    asked = patch_ids_asked(monkeypatch)
    again = digest(ws)
    assert (again.commits, again.digest_path, again.warnings) == ([], None, [])
    assert asked == [4]  # main's four commits the branch lacks, read again
    if damage != "folder":  # a folder in its place is left alone: the ids are computed again
        assert not path.is_symlink()
        # main's four commits, the range of them and its merge base (`sleep/squashes.py`)
        assert len(json.loads(path.read_text())["ids"]) == 6
    asked.clear()
    digest(ws)
    assert asked == ([4] if damage == "folder" else [])


def test_two_passes_keeping_patch_ids_at_once_keep_both(tmp_path):
    from codemem.sleep.patch_ids import PatchIds

    repo = make_repo(tmp_path / "r", commit=False)
    shas = [
        commit(repo, f"change {day}", f"2025-03-0{day}T10:00:00+00:00", {f"m{day}.py": "x\n"})
        for day in range(1, 4)
    ]
    memory = commit(repo, "memory", "2025-03-04T10:00:00+00:00", {".codemem/blocks/a.md": "a\n"})
    ws = init(repo)
    one, two = PatchIds(repo, ws), PatchIds(repo, ws)  # both read the file before either writes
    first = one.of(shas[:2])
    second = two.of([shas[2], memory])
    assert sorted(first) == sorted(shas[:2]) and list(second) == [
        shas[2]
    ]  # a memory commit has none
    kept = PatchIds(repo, ws)
    assert kept.known == {**first, **second, memory: ""}
    assert PatchIds(repo, ws, save=False).of(shas) == {**first, **second}

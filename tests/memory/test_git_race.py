"""Block edits racing git commands that rewrite the work tree (`git switch` back and forth).

A real race of edits against switches (the last test, opt-in: CODEMEM_TEST_RACE=<edits>)
lost about 2 in 100 edits saved, and tore whole blocks; the other tests put git's moves at the
moments the race found, one at a time."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from codemem.memory import MemoryStore, blocks, undone
from codemem.workspace import Workspace
from tests.helpers import git

FRONT = "---\ndescription: The project.\nlimit: 100000\n---\n"
RACE_EDITS = int(os.environ.get("CODEMEM_TEST_RACE") or 0)  # read before the isolated env


def two_branches(root: Path) -> Path:
    """`blocks/project.md` differing on branches `a` (checked out) and `b`."""
    block = root / ".codemem" / "blocks" / "project.md"
    block.parent.mkdir(parents=True, exist_ok=True)
    git(root, "switch", "-q", "-c", "a")
    block.write_text(FRONT + "A side.\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "a")
    git(root, "switch", "-q", "-c", "b")
    block.write_text(FRONT + "B side.\n", encoding="utf-8")
    git(root, "commit", "-q", "-am", "b")
    git(root, "switch", "-q", "a")
    return block


def test_a_block_read_while_a_checkout_writes_it_is_read_again_once_git_is_done(
    repo_factory, monkeypatch
):
    # git checks a file out into a new, empty file, then writes it: an edit that read it
    # then wrote the block over (default front matter and the one new line, everything else
    # gone) and said it was saved.
    root = repo_factory()
    block = two_branches(root)
    text = block.read_text()
    index, lock = root / ".git" / "index", root / ".git" / "index.lock"
    update_text = blocks.update_text
    checkouts: list[int] = []

    def during_a_checkout(*args, **kwargs):
        if checkouts:
            return update_text(*args, **kwargs)
        lock.write_bytes(index.read_bytes())  # git holds the index's lock
        block.unlink()
        checkouts.append(os.open(block, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        try:
            return update_text(*args, **kwargs)
        finally:  # git writes the file it created, and lets the lock go
            os.write(checkouts[0], text.encode())
            os.close(checkouts[0])
            os.replace(lock, index)

    monkeypatch.setattr(blocks, "update_text", during_a_checkout)
    MemoryStore(Workspace(root), user="alice").append("project", "Deploy on Fridays.")
    assert block.read_text() == FRONT + "A side.\nDeploy on Fridays.\n"
    assert len(checkouts) == 1


def test_an_edit_a_switch_undid_is_said_to_be_undone_when_the_index_moved_on(
    repo_factory, monkeypatch
):
    # The switch replaced the edit with its branch's version; by the time codemem asked git
    # what the index holds, the next switch had moved the index on: the file held neither the
    # edit nor the index's version, and the edit was taken for kept (then gone for good).
    root = repo_factory()
    block = two_branches(root)
    update_text = blocks.update_text

    def write_then_switch(*args, **kwargs):
        done = update_text(*args, **kwargs)
        git(root, "switch", "-q", "-f", "b")  # past its check: the edit is gone
        git(root, "read-tree", "a")  # the next switch's index, its files not yet written
        return done

    monkeypatch.setattr(blocks, "update_text", write_then_switch)
    with pytest.raises(undone.UndoneByGitError) as caught:
        MemoryStore(Workspace(root), user="alice").append("project", "Deploy on Fridays.")
    assert str(caught.value) == (
        ".codemem/blocks/project.md: the edit was undone by a git command that ran meanwhile (a "
        "checkout, a switch or a stash replaced the file with git's version): nothing of it is "
        "kept; make it again on what is checked out now"
    )
    assert block.read_text() == FRONT + "B side.\n"


def test_an_edit_no_git_command_ran_during_is_not_read_again(repo_factory, monkeypatch):
    # the index's stamp, the same before the read and after the write, says so: one stat and
    # a 20-byte read of the index, not the block read again
    root = repo_factory()
    block = two_branches(root)

    def read_again(*args, **kwargs):
        raise AssertionError("read again")

    monkeypatch.setattr(undone, "read_memory_file", read_again)
    MemoryStore(Workspace(root), user="alice").append("project", "Deploy on Fridays.")
    assert block.read_text() == FRONT + "A side.\nDeploy on Fridays.\n"


def test_an_edit_while_a_git_command_keeps_the_lock_is_refused(repo_factory, monkeypatch):
    root = repo_factory()
    block = two_branches(root)
    (root / ".git" / "index.lock").write_text("")
    monkeypatch.setattr(undone, "GIT_WAIT", 0.05)
    with pytest.raises(blocks.GitBusyError) as caught:
        MemoryStore(Workspace(root), user="alice").append("project", "Deploy on Fridays.")
    assert str(caught.value) == (
        f".codemem/blocks/project.md not written: a git command holds {root}/.git/index.lock "
        "(if none is running, a git that crashed left it: remove that file)"
    )
    assert block.read_text() == FRONT + "A side.\n"


def test_an_edit_while_git_commands_keep_rewriting_the_work_tree_is_refused(
    repo_factory, monkeypatch
):
    root = repo_factory()
    block = two_branches(root)
    stamps = iter(range(1000))
    monkeypatch.setattr(undone, "git_stamp", lambda ws: next(stamps))  # moved at every look
    with pytest.raises(blocks.GitBusyError) as caught:
        MemoryStore(Workspace(root), user="alice").append("project", "Deploy on Fridays.")
    assert str(caught.value) == (
        ".codemem/blocks/project.md not written: git commands kept rewriting the work tree "
        "while codemem read it; try again once they end"
    )
    assert block.read_text() == FRONT + "A side.\n"


SWITCHER = """
import subprocess, sys, time
from pathlib import Path
root, stop = sys.argv[1], Path(sys.argv[2])
def git(*args):
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
while not stop.exists():
    for branch in ("b", "a"):
        if "overwritten" in git("switch", "-q", branch).stderr:  # an edit: kept in a commit
            git("add", ".codemem/blocks")
            git("commit", "-q", "-m", "edit")
        time.sleep(0.001)
"""


@pytest.mark.skipif(
    not RACE_EDITS,
    reason="a race of real processes, minutes long: CODEMEM_TEST_RACE=<number of edits>",
)
def test_block_edits_racing_git_switch_are_kept_or_said_undone(repo_factory):
    root = repo_factory()
    block = two_branches(root)
    stop = root.parent / "stop"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    switcher = subprocess.Popen([sys.executable, "-c", SWITCHER, str(root), str(stop)], env=env)
    saved, refused = [], []
    try:
        for number in range(RACE_EDITS):
            line = f"edit {number}"
            done = subprocess.run(
                [sys.executable, "-m", "codemem", "remember", "--block", "project", line],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
            )
            (saved if done.returncode == 0 else refused).append((line, done.stderr))
    finally:
        stop.touch()
        switcher.wait()
    assert [error for _, error in refused if "Traceback" in error] == []
    heads = {
        branch: git(root, "show", f"{branch}:.codemem/blocks/project.md").stdout for branch in "ab"
    }
    kept = heads["a"] + heads["b"] + block.read_text()
    assert [line for line, _ in saved if not re.search(f"^{line}$", kept, re.M)] == []
    for branch, head in heads.items():  # each side's own text and front matter, as it was
        assert head.startswith(FRONT + f"{branch.upper()} side.\n")
    assert len(saved) > len(refused)

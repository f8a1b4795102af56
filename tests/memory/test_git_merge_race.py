"""A block edit saved while `git merge` runs, before the merge writes the block over it.

`git merge` looks at the work tree with no lock held (it refreshes the index in memory, then
runs `git stash create`), and once its drivers ran writes the merged block over a file it
found unchanged then, without looking again: an edit saved in between was said to be saved,
then gone (soak seed 44: `remember --block` in clone A). Here the merge is held, a real git,
where it starts `git stash create` (its exec path's `git` waits for a file), and the edit, a
real `codemem remember --block`, is held once it has taken the index's stamp, before that."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from codemem.memory import MemoryStore
from codemem.workspace import Workspace
from tests.helpers import git, reach, start_held

TOKEN = "Deploy on Fridays."


def two_sides(root: Path) -> Path:
    """The block `soak`, its first line changed on branch `topic` and a line added on
    `main` (checked out): git merges the two cleanly, writing the block."""
    MemoryStore(Workspace(root)).create("soak", "Soak.", value="one\ntwo\nthree\nfour\nfive")
    block = root / ".codemem" / "blocks" / "soak.md"
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "soak")
    git(root, "switch", "-q", "-c", "topic")
    block.write_text(block.read_text().replace("one\n", "ONE\n"))
    git(root, "commit", "-q", "-am", "topic")
    git(root, "switch", "-q", "main")
    block.write_text(block.read_text() + "six\n")
    git(root, "commit", "-q", "-am", "main")
    return block


def merge_held_at_stash_create(root: Path, folder: Path) -> tuple[subprocess.Popen, Path]:
    """`git merge topic` in `root`, held where it starts `git stash create`, with no lock
    held; the file that lets it go on."""
    exec_path = folder / "exec-path"
    exec_path.mkdir()
    real = git(root, "--exec-path").stdout.strip()
    for name in os.listdir(real):
        if name != "git":
            (exec_path / name).symlink_to(Path(real) / name)
    reached, go = folder / "merge.reached", folder / "merge.go"
    wrapper = exec_path / "git"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = stash ] && [ "$2" = create ]; then\n'
        f"  : > '{reached}'\n"
        f"  while [ ! -e '{go}' ]; do sleep 0.02; done\n"
        "fi\n"
        f"exec '{real}/git' \"$@\"\n"
    )
    wrapper.chmod(0o755)
    merge = subprocess.Popen(
        ["git", "merge", "-q", "--no-edit", "topic"],
        cwd=root,
        env={**os.environ, "GIT_EXEC_PATH": str(exec_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not reached.exists() and merge.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert reached.exists(), merge.communicate()[0]
    return merge, go


def test_an_edit_saved_while_a_merge_runs_is_kept_or_said_undone(
    repo_factory, monkeypatch, tmp_path
):
    monkeypatch.setenv("CODEMEM_USER", "alice")
    root = repo_factory()
    block = two_sides(root)

    stall = tmp_path / "edit.stall"
    args = ("remember", "--block", "soak", TOKEN)
    edit = start_held(root, "block-stamped", stall, *args)
    reach(edit, "block-stamped", stall, args)  # the edit has its stamp: no git ran yet
    merge, merge_go = merge_held_at_stash_create(root, tmp_path)
    Path(f"{stall}.go").touch()  # the edit reads, writes and checks while the merge is held
    deadline = time.monotonic() + 60
    while TOKEN not in block.read_text() and edit.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    merge_go.touch()  # the merge takes the lock, merges and writes the block
    _, err = edit.communicate(timeout=120)
    assert merge.wait(timeout=120) == 0, merge.communicate()[0]

    merged = block.read_text()
    assert "ONE\n" in merged and "six" in merged  # the merge went through
    if TOKEN not in merged:  # written over by the merge: never said to be saved
        assert edit.returncode != 0, f"said saved, then gone: {merged!r}"
        assert "undone by a git command" in err.decode(), err
    assert "Traceback" not in err.decode()


def test_an_edit_made_as_a_merge_runs_waits_for_it_and_is_kept(repo_factory, monkeypatch, tmp_path):
    # Started while the merge is held: the edit waits for the merge to end, and is made on
    # what it merged, rather than be made only to be undone.
    monkeypatch.setenv("CODEMEM_USER", "alice")
    root = repo_factory()
    block = two_sides(root)

    merge, merge_go = merge_held_at_stash_create(root, tmp_path)
    edit = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "codemem",
            "--repo",
            str(root),
            "remember",
            "--block",
            "soak",
            TOKEN,
        ],
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")]
            ),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with contextlib.suppress(subprocess.TimeoutExpired):  # the old code saved it at once,
        edit.wait(timeout=5)  # and the merge wrote over it
    merge_go.touch()
    out, err = edit.communicate(timeout=120)
    assert merge.wait(timeout=120) == 0, merge.communicate()[0]
    assert edit.returncode == 0, err
    merged = block.read_text()
    assert TOKEN in merged and "ONE\n" in merged and "six" in merged, merged


def test_an_edit_made_by_a_hook_of_a_checkout_does_not_wait_for_it(repo_factory, monkeypatch):
    # A post-checkout hook runs once the checkout wrote the work tree, while `git checkout`
    # runs on, waiting for it: an edit the hook makes is not one the checkout can write over,
    # and waiting for its own git (10 s, then "may be undone") would refuse every one.
    monkeypatch.setenv("CODEMEM_USER", "alice")
    root = repo_factory()
    block = two_sides(root)
    hook = root / ".git" / "hooks" / "post-checkout"
    checkout = str(Path(__file__).parents[2])
    hook.write_text(
        "#!/bin/sh\n"
        f"PYTHONPATH='{checkout}' exec '{sys.executable}' -m codemem remember --block soak "
        f"'{TOKEN}'\n"
    )
    hook.chmod(0o755)
    switched = git(root, "checkout", "-q", "topic", check=False)
    assert switched.returncode == 0, switched.stdout + switched.stderr
    assert TOKEN in block.read_text() and "ONE\n" in block.read_text(), switched.stderr

"""`codemem init` killed (SIGKILL) just after a file it writes got a name in `.codemem/`.

Before `.codemem/local/` exists, a write's temp file had to wait beside its target: a kill
between its link and its rename left `.codemem/.config.yml.<hex>.tmp` (or one beside a new
block), which `git add .codemem` commits. A new file is now linked at its own name at once.
The kill lands right after each link the command makes under `.codemem/`, in turn.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, git
from tests.helpers import run_codemem as codemem

# Runs `codemem init` with os.link wrapped: after the N-th link made under `.codemem/`, it
# writes its pid to the stall file and waits to be killed.
HELD_INIT = """
import os, runpy, sys, time
count = [0]
real_link = os.link

def link(src, dst, *args, dst_dir_fd=None, **kwargs):
    real_link(src, dst, *args, dst_dir_fd=dst_dir_fd, **kwargs)
    where = os.readlink(f"/proc/self/fd/{dst_dir_fd}") if dst_dir_fd is not None else ""
    if ".codemem" in os.path.join(where, os.fsdecode(dst)):
        count[0] += 1
        if count[0] == int(os.environ["KILL_AT_LINK"]):
            with open(os.environ["STALL_FILE"], "w") as out:
                out.write(str(os.getpid()))
            time.sleep(600)

os.link = link
sys.argv = ["codemem", "--repo", sys.argv[1], "init"]
runpy.run_module("codemem", run_name="__main__")
"""


def _visible(root: Path) -> list[str]:
    """What `git status` shows and `git add -A` would add under `.codemem/`."""
    shown = git(root, "status", "--porcelain", "--untracked-files=all", "--", ".codemem").stdout
    added = git(root, "add", "-A", "--dry-run", "--", ".codemem").stdout
    return sorted(set(shown.splitlines()) | set(added.splitlines()))


@pytest.mark.parametrize("at", [1, 2, 3, 4, 5])
def test_a_killed_init_leaves_no_temp_name_git_would_add(repo_factory, tmp_path, at):
    root = repo_factory()
    stall = tmp_path / "stalled"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(FIXTURES.parent), os.environ.get("PYTHONPATH", "")]),
        "KILL_AT_LINK": str(at),
        "STALL_FILE": str(stall),
    }
    held = subprocess.Popen(
        [sys.executable, "-c", HELD_INIT, str(root)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not stall.exists() and held.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if held.poll() is None:
        held.send_signal(signal.SIGKILL)
    _, err = held.communicate(timeout=60)
    assert stall.exists() or held.returncode == 0, err  # ended before an N-th link: fine
    visible = _visible(root)
    assert not [line for line in visible if ".tmp" in line], visible
    assert codemem(root, "init").returncode == 0  # the retry completes
    visible = _visible(root)
    assert not [line for line in visible if ".tmp" in line], visible
    for name in ("config.yml", ".gitignore", ".gitattributes"):
        assert (root / ".codemem" / name).is_file()


def _no_file_growth() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # every write fails: EFBIG


def test_a_write_that_fails_leaves_no_empty_codemem_gitignore(repo_factory):
    # `.codemem/.gitignore` (committed) was created, then written: a write that failed there
    # (a full disk, a quota, a kill between the two) left it empty, and the retry, finding
    # a file, kept it so: `git add .codemem` then committed an empty `.gitignore`.
    root = repo_factory()
    result = codemem(root, "index", preexec_fn=_no_file_growth, timeout=120)
    assert result.returncode != 0
    ignore = root / ".codemem" / ".gitignore"
    assert not ignore.exists() or ignore.read_bytes() == b"local/\n"
    assert codemem(root, "index", timeout=300).returncode == 0
    assert ignore.read_bytes() == b"local/\n"

"""The git commands running in a work tree that may write its files, from `/proc`.

`git merge` looks at the work tree before it takes the index's lock: it refreshes the index
in memory, marking each file that matches it as checked, then runs `git stash create` and
only then takes the lock, runs the merge drivers (a process each: seconds on a loaded
machine) and writes the merged files, skipping the look again for every file it marked
(unpack-trees' `verify_uptodate` trusts the mark). A file saved after that first look is
overwritten without a word, and no lock was held when it was saved, nor maybe when its saver
looked again: only the process says a merge is under way (`codemem remember --block` said
"Added" over a merge's write this way, soak seed 44). Commands that take the lock first are
listed too, which costs a wait for them and nothing else. A git command this process runs
under (a hook of `git merge` making a memory edit) is not one: it waits for its hook.

Linux names each process in `/proc`; where there is none, no process is found.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
# The git commands that write work-tree files (`git pull` runs `merge` or `rebase` for it).
REWRITERS = frozenset(
    {
        "am",
        "apply",
        "checkout",
        "checkout-index",
        "cherry-pick",
        "merge",
        "read-tree",
        "rebase",
        "reset",
        "restore",
        "revert",
        "sparse-checkout",
        "stash",
        "switch",
    }
)
# git's own options that take the next word as their value
_WITH_VALUE = frozenset({"-c", "-C", "--git-dir", "--work-tree", "--namespace", "--config-env"})


@dataclass(frozen=True)
class GitProcess:
    """A running git command: its pid, when it started (clock ticks after boot: a pid used
    again is another process) and its command (`merge`)."""

    pid: int
    started: str
    command: str

    def __str__(self) -> str:
        return f"`git {self.command}` (pid {self.pid})"

    def running(self) -> bool:
        return _started(self.pid) == self.started


def rewriters_running(root: Path) -> list[GitProcess]:
    """The git commands that may write files of the work tree at `root` running now (git
    works from the top of the work tree it acts on), this user's that `/proc` shows, but
    those this process runs under."""
    try:
        pids = [int(name) for name in os.listdir(_PROC) if name.isdigit()]
    except OSError:  # no /proc: not Linux, or not mounted
        return []
    top = os.path.realpath(root)
    found = []
    ancestors = _ancestors()
    for pid in pids:
        if pid in ancestors:
            continue
        command = _git_command(pid)
        if command not in REWRITERS:
            continue
        try:
            if os.readlink(_PROC / str(pid) / "cwd") != top:
                continue
        except OSError:  # gone, or another user's
            continue
        started = _started(pid)
        if started is not None:
            found.append(GitProcess(pid, started, command))
    return found


def wait_for_rewriters(processes: list[GitProcess], seconds: float) -> list[GitProcess]:
    """Wait until `processes` have ended, `seconds` at most; those still running."""
    deadline = time.monotonic() + seconds
    running = [p for p in processes if p.running()]
    while running and time.monotonic() < deadline:
        time.sleep(0.01)
        running = [p for p in running if p.running()]
    return running


def _git_command(pid: int) -> str | None:
    """The command of process `pid` if it is git (`git -c x=y merge ...`: `merge`;
    `git-merge`, as git's exec path names its commands, too)."""
    try:
        argv = (_PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    program = os.path.basename(argv[0]).decode(errors="replace")
    if program.startswith("git-"):
        return program[4:]
    if program != "git":
        return None
    words = iter(argv[1:])
    for word in words:
        text = word.decode(errors="replace")
        if text in _WITH_VALUE:
            next(words, None)
        elif not text.startswith("-"):
            return text
    return None


def _ancestors() -> set[int]:
    """This process's parent, its parent's, and so on."""
    found: set[int] = set()
    pid = os.getppid()
    while pid > 1 and pid not in found:
        found.add(pid)
        fields = _stat_fields(pid)
        pid = int(fields[1]) if fields and len(fields) > 1 else 0
    return found


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of process `pid`'s `stat` from the third (its state) on, after the name in
    parentheses, which may hold spaces; None once it is gone."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text(errors="replace")
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()


def _started(pid: int) -> str | None:
    """When process `pid` started (field 22 of its `stat`); None once it is gone or a
    zombie."""
    fields = _stat_fields(pid)
    if not fields or fields[0] == "Z":
        return None
    return fields[19] if len(fields) > 19 else None

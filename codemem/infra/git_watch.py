"""A git process watched for the one wait that never ends by itself: opening a FIFO.

git opens `.gitignore` in every folder it walks, `.gitattributes`, `info/exclude`,
`core.excludesFile`, `info/attributes` and the config files it includes as plain files. A
FIFO (a named pipe) at one of those names, made locally or brought by a tarball or a shared
folder (never by git, which stores no FIFO), makes `open()` wait for a writer that never
comes: `git ls-files -o --exclude-standard` and plain `git status` hang for ever, and with
them `codemem status`, `search`, a digest, the watch daemon and the MCP server.

So a git command is run here as a child that a thread looks at while it runs: every
`POLL_SECONDS` that it has not ended, its kernel wait (`/proc/<pid>/wchan`) is read, and
when it is `wait_for_partner` (the wait inside a FIFO's open) the file it is opening is read
from `/proc/<pid>/syscall` and its memory. A git seen waiting so on the same FIFO at two
looks in a row is killed and `GitStuckOnFifo` names the file. Where the kernel hides the
call's arguments (another user's ptrace rules), the FIFOs at the names git opens are looked
for instead (`_fifo_candidates`: one walk of the work tree's folders, paid only then).

Weighed against looking for such FIFOs before every git command: that is a walk of every
folder git walks, which on the Linux kernel's tree (77,000 files, 5,000 folders) costs about
what the listing itself costs, on every listing; the watch costs nothing until git has run
for `POLL_SECONDS`, then a read of two small `/proc` files per look. Where there is no
`/proc` (macOS), git is waited on as before.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from codemem.errors import GitStuckOnFifo
from codemem.infra.printing import printable

POLL_SECONDS = 0.5  # how often a running git is looked at; a hung one is named after two looks
_FIFO_WAIT = "wait_for_partner"  # the kernel's wait in fifo_open() for the other end
# Syscall numbers of open(2)'s family whose second argument is the path (dirfd first):
# openat on x86-64 and on arm64/riscv (the generic table), openat2 on both.
_OPENAT = {257, 56, 437}
_OPEN = {2}  # x86-64's open(2): the path first, relative to the working folder
_AT_FDCWD = 0xFFFFFF9C  # -100 as the 32 bits the kernel prints of it
_NAMES = (".gitignore", ".gitattributes")  # read in every folder git walks


def run_watched(
    argv: list[str], *, cwd: Path, input: bytes | None, env: Mapping[str, str]
) -> subprocess.CompletedProcess[bytes]:
    """`subprocess.run(argv, capture_output=True)`, but a git that waits for ever opening a
    FIFO is killed, and `GitStuckOnFifo` names the file (see the module docstring)."""
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
    )
    with process, watching(process, cwd, argv):
        try:
            out, err = process.communicate(input)
        except BaseException:
            process.kill()  # a Ctrl-C: as `subprocess.run` does, git is not left running
            raise
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


@contextmanager
def watching(process: subprocess.Popen[bytes], root: Path, argv: list[str]) -> Iterator[None]:
    """Look at the git `process` (run in `root`) every `POLL_SECONDS` while the block runs;
    one seen waiting to open the same FIFO at two looks in a row is killed (the block then
    reads its end), and `GitStuckOnFifo` is raised as the block ends."""
    done = threading.Event()
    stuck: list[Path] = []

    def watch() -> None:
        seen = None
        while not done.wait(POLL_SECONDS):
            waited = fifo_waited_on(process.pid, root)
            if waited is not None and waited == seen:
                stuck.append(waited)
                process.kill()
                return
            seen = waited

    watcher = threading.Thread(target=watch, name="codemem-git-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
    if stuck:
        raise GitStuckOnFifo(_stuck_message(argv, stuck[0], root))


def _stuck_message(argv: list[str], path: Path, root: Path) -> str:
    command = next((arg for arg in argv[1:] if not arg.startswith("-") and "=" not in arg), "")
    inside = path.is_relative_to(root) and root != Path(root.anchor)
    shown = os.path.relpath(path, root) if inside else str(path)
    return (
        f"git {command} waits for ever on {printable(shown)}: a FIFO (named pipe), not a "
        "file, where git reads one; remove it or rename it (git never makes one: a tarball "
        "or a shared folder did)"
    )


def fifo_waited_on(pid: int, root: Path) -> Path | None:
    """The FIFO the process `pid` (a git run in `root`) is waiting to open, or None when it
    is not waiting in a FIFO's open (or the kernel does not say)."""
    try:
        wchan = Path(f"/proc/{pid}/wchan").read_text().strip()
    except OSError:
        return None  # no /proc (macOS), or gone meanwhile
    if wchan != _FIFO_WAIT:
        return None
    path = _opening(pid)
    if path is not None and _is_fifo(path):
        return path
    candidates = _fifo_candidates(root)  # the call's arguments are hidden from us
    return candidates[0] if candidates else None


def _opening(pid: int) -> Path | None:
    """The path the process `pid` is passing to open(2) now, read from its memory."""
    try:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
        number = int(fields[0])
        args = [int(field, 16) for field in fields[1:4]]
    except (OSError, ValueError, IndexError):  # "running", or not ours to read
        return None
    if number in _OPENAT:
        folder_fd, address = args[0] & 0xFFFFFFFF, args[1]
    elif number in _OPEN:
        folder_fd, address = _AT_FDCWD, args[0]
    else:
        return None
    try:
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as memory:
            memory.seek(address)
            raw = memory.read(4096).split(b"\0", 1)[0]
        base = "cwd" if folder_fd == _AT_FDCWD else f"fd/{folder_fd}"
        folder = os.readlink(f"/proc/{pid}/{base}")
    except (OSError, ValueError, OverflowError):
        return None
    return Path(folder, os.fsdecode(raw))


def _is_fifo(path: Path) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def _fifo_candidates(root: Path) -> list[Path]:
    """FIFOs at the names git opens as files in `root`: `.gitignore` and `.gitattributes` in
    every folder (git's own folder left out), `.git/info/exclude` and `.git/info/attributes`,
    and the user's global ignore and attributes files."""
    found = []
    folders = [str(root)]
    while folders:
        with contextlib.suppress(OSError), os.scandir(folders.pop()) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name != ".git":
                            folders.append(entry.path)
                    elif entry.name in _NAMES and stat.S_ISFIFO(entry.stat().st_mode):
                        found.append(Path(entry.path))
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    others = [root / ".git" / "info" / name for name in ("exclude", "attributes")]
    others += [Path(config_home, "git", name) for name in ("ignore", "attributes")]
    return sorted(found) + [path for path in others if _is_fifo(path)]

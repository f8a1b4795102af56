"""The config files git reads for a repository, and one stamp of them all.

A process that runs for hours (`watch`, `mcp`) keeps what it learned from a repository's git
config (`git_guard.py`) until the config changes. The config is more than `.git/config`: in a
linked worktree (`git worktree add`) `.git` is a file naming the worktree's git directory,
whose `commondir` names the shared one holding `config`, and the worktree's own
`config.worktree` counts once `extensions.worktreeConfig` is on; any of them can `[include]`
or `[includeIf]` other files, which can include more; and the user's and the system's files
count too. `config_stamp` stats every one of them (each include listed by git itself, once per
version of the file naming it), so an edit to any is seen by the next command.

Each include is stamped whatever its condition says (a file git would skip costs a stat), and
where a condition depends on the branch (`onbranch:`), so is `HEAD`. The system file is the
one git names (`system_config_file`): `GIT_CONFIG_SYSTEM`, none under `GIT_CONFIG_NOSYSTEM`, else
the one git was built to read (`/etc/gitconfig` for a git in `/usr`, `<prefix>/etc/gitconfig`
for one built elsewhere), asked once per process outside every repository.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from codemem.infra.git_watch import run_watched

# git's own limit on nested includes; and a bound on the files stamped, whatever a config says.
MAX_INCLUDE_DEPTH = 10
MAX_CONFIG_FILES = 64

_GITDIR_LINE = re.compile(rb"gitdir: ?([^\r\n]+)")
_INCLUDE_KEYS = r"^include(if\..*)?\.path$"
_FALSE = ("", "0", "false", "no", "off")

# What would point git at a repository, or add settings to what it reads: left out when git is
# asked where its system config is.
_REPOSITORY_VARIABLES = frozenset(
    {"GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE", "GIT_NAMESPACE",
     "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_DISCOVERY_ACROSS_FILESYSTEM"}
)  # fmt: skip
_UNREADABLE = re.compile(rb"unable to read config file '([^'\n]+)'")
_ASK_SECONDS = 10.0
_NAME_THE_FILE = "printf '%s\\0'"  # the "editor" that prints the file git would have edited
_SCANNED_BYTES = 1 << 20  # a config file larger than this is listed by git, unread here
Stamp = tuple[int, int, int, int] | None  # mtime, change time, size, inode; None: no such file
# Held while git is asked what a process keeps (`asking_git`). A fresh index run asks from two
# threads at once (its listing's and the co-change history's): each missed the cache and ran
# the same `git config` twice.
_ASKING = threading.RLock()


@contextmanager
def asking_git() -> Iterator[None]:
    """Around a cached answer of git's: a thread that wants one another thread is asking for
    waits for it, where both would run git."""
    with _ASKING:
        yield


def _unheld_after_fork() -> None:
    global _ASKING
    _ASKING = threading.RLock()  # a thread of the parent's may have held it: gone in the child


os.register_at_fork(after_in_child=_unheld_after_fork)


def linked_git_dir(top: Path) -> Path | None:
    """The git directory `top/.git` names when it is a file (a linked worktree's or a
    submodule's `gitdir: <path>`, relative to `top` or absolute); None for a folder, a link,
    or a file git did not write."""
    linked = _linked(os.path.join(top, ".git"))
    return None if linked is None else Path(linked)


def _linked(dot_git: str) -> str | None:
    try:
        if not stat.S_ISREG(os.lstat(dot_git).st_mode):
            return None
        with open(dot_git, "rb") as file:
            found = _GITDIR_LINE.match(file.read(4096))
    except OSError:
        return None
    if found is None:
        return None
    return os.path.join(os.path.dirname(dot_git), os.fsdecode(found[1]).rstrip())


def _common_dir(git_dir: str) -> str:
    """The folder holding what a linked worktree shares with the main one (refs, `config`):
    the one its `commondir` file names, else `git_dir` itself."""
    try:
        with open(os.path.join(git_dir, "commondir"), "rb") as file:
            named = file.read(4096).strip()
    except OSError:
        return git_dir
    return os.path.join(git_dir, os.fsdecode(named)) if named else git_dir


def attributes_stamp(root: Path) -> Stamp:
    """The stamp of the repository's own attributes file outside the work tree,
    `info/attributes` in its (shared) git directory, without running git (a few stats: the
    index asks on every run); None when there is none."""
    git_dir = _git_dir(os.fspath(root))
    if git_dir is None:
        return None
    return _stamp(os.path.join(_common_dir(git_dir), "info", "attributes"))


def config_stamp(root: Path) -> tuple[tuple[str, Stamp], ...]:
    """Each config file git reads for the repository at `root` (those that could be read: a
    missing one too, so creating it counts) with its stamp, in the order they were found.

    Paths are plain strings here: this runs before every git command (a few stats, ~20 µs)."""
    stamps: list[tuple[str, Stamp]] = []
    seen: set[str] = set()
    git_dir = _git_dir(os.fspath(root))
    pending = [(path, 0) for path in _first_files(os.fspath(root), git_dir)]
    while pending and len(seen) < MAX_CONFIG_FILES:
        path, depth = pending.pop(0)
        if path in seen:
            continue
        seen.add(path)
        info = _stamp(path)
        stamps.append((path, info))
        if info is None or depth >= MAX_INCLUDE_DEPTH:
            continue
        with asking_git():
            included, on_branch = _included(path, info)
        pending += [(target, depth + 1) for target in included]
        if on_branch and git_dir is not None:  # stamped, never read
            pending.append((os.path.join(git_dir, "HEAD"), MAX_INCLUDE_DEPTH))
    return tuple(stamps)


def _git_dir(root: str) -> str | None:
    if "GIT_DIR" in os.environ:  # git runs in `root`: a relative one is relative to it
        return os.path.join(root, os.environ["GIT_DIR"])
    dot_git = os.path.join(root, ".git")
    if os.path.isdir(dot_git):
        return dot_git
    return _linked(dot_git)


def _first_files(root: str, git_dir: str | None) -> list[str]:
    """The files git reads before any include: the system's, the user's, the repository's."""
    env = os.environ
    with asking_git():
        files = list(
            _users_files(
                env.get("GIT_CONFIG_NOSYSTEM"),
                env.get("GIT_CONFIG_SYSTEM"),
                env.get("GIT_CONFIG_GLOBAL"),
                env.get("HOME"),
                env.get("XDG_CONFIG_HOME"),
                env.get("PATH"),  # which git answers: where its system file is
            )
        )
    if git_dir is not None:
        if "GIT_COMMON_DIR" in env:
            common = os.path.join(root, env["GIT_COMMON_DIR"])
        else:
            common = _common_dir(git_dir)
        files += [os.path.join(common, "config"), os.path.join(git_dir, "config.worktree")]
    return files


@lru_cache(maxsize=8)
def _users_files(
    no_system: str | None,
    system: str | None,
    global_: str | None,
    home: str | None,
    xdg: str | None,
    search_path: str | None,
) -> tuple[str, ...]:
    """The system's config file and the user's, as git finds them from these variables."""
    del search_path  # part of the cache's key only
    files = []
    if (no_system or "").lower() in _FALSE:
        files.append(system or system_config_file())
    if global_ is not None:
        files.append(global_)
    else:
        xdg = xdg or os.path.join(home or "/", ".config")
        files += [os.path.join(xdg, "git", "config"), os.path.join(home or "/", ".gitconfig")]
    return tuple(path for path in files if path and path != os.devnull)


def system_config_file() -> str:
    """The system config file of the `git` on PATH, as git itself names it (its build prefix
    decides: a git built in `/usr/local` reads `/usr/local/etc/gitconfig`).

    git names it as the origin of its settings (`git config --system --show-origin --list`), or
    in its complaint when there is no such file; for an empty one, git 2.42 and later say it
    (`git var GIT_CONFIG_SYSTEM`), and an older git hands it to the editor of
    `git config --system --edit`, which is here `printf` (git writes nothing for the system
    file; `GIT_EDITOR` outranks every editor a config names). They read config files and run
    no program a config names, and they run in `/` with every variable that would point git at a
    repository removed, so no repository's config is read. `/etc/gitconfig` when git names none.
    """
    env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_VARIABLES}
    env["LC_ALL"] = "C"  # git's complaint, read below, in English
    env.pop("GIT_CONFIG_NOSYSTEM", None)  # asked only when the system file counts
    # One git run in the usual cases (a system file with settings, or none at all); `git var`
    # only for an empty one.
    listed = _ask_git(["config", "--system", "--show-origin", "--list", "-z"], env)
    if listed is not None:
        origin = listed.stdout.split(b"\0", 1)[0]
        if listed.returncode == 0 and origin.startswith(b"file:"):
            return os.fsdecode(origin[len(b"file:") :])
        missing = _UNREADABLE.search(listed.stderr)
        if missing is not None:
            return os.fsdecode(missing[1])
    said = _ask_git(["var", "GIT_CONFIG_SYSTEM"], env)
    if said is not None and said.returncode == 0 and said.stdout.strip():
        return os.fsdecode(said.stdout.rstrip(b"\n"))
    # git before 2.42 has no such variable: an empty system file at another prefix than /usr's
    # was taken to be /etc/gitconfig, so a long-lived process never saw a setting added there.
    edited = _ask_git(["config", "--system", "--edit"], env | {"GIT_EDITOR": _NAME_THE_FILE})
    if edited is not None and edited.returncode == 0 and edited.stdout.endswith(b"\0"):
        return os.fsdecode(edited.stdout.split(b"\0", 1)[0])
    return "/etc/gitconfig"


def _ask_git(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes] | None:
    try:
        return subprocess.run(
            ["git", "--no-pager", *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            cwd="/",
            env=env,
            check=False,
            timeout=_ASK_SECONDS,
        )
    except (OSError, subprocess.SubprocessError):
        return None


def _stamp(path: str) -> Stamp:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino


@lru_cache(maxsize=64)
def _included(path: str, stamp: Stamp) -> tuple[tuple[str, ...], bool]:
    """The files `path` includes (`include.path`, `includeIf.<condition>.path`, resolved as
    git resolves them: `~` at the start is a home folder, a relative path is relative to
    `path`'s folder), and whether a condition depends on the branch. Listed by git itself (one
    `git config --file`, which runs nothing), once per version of the file."""
    del stamp  # part of the cache's key only
    if not _may_include(path):
        return (), False
    try:
        proc = run_watched(  # a FIFO `path` includes is named, not waited on
            ["git", "--no-pager", "config", "-z", "--file", path] + ["--get-regexp", _INCLUDE_KEYS],
            cwd=Path("/"),  # `path` is absolute: named so in a message
            input=None,
            env={**os.environ, "LC_ALL": "C", "GIT_CONFIG_NOSYSTEM": "1"},
        )
    except OSError:
        return (), False
    found, on_branch = [], False
    for entry in proc.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]:
        key, _, value = entry.partition("\n")
        on_branch = on_branch or key.startswith("includeif.onbranch:")
        if not value:
            continue
        found.append(os.path.join(os.path.dirname(path), os.path.expanduser(value)))
    return tuple(found), on_branch


def _may_include(path: str) -> bool:
    """False only for a regular file without the word `include` in any case: no line of it
    can include another file (a section's name is ASCII and read case-insensitively, so an
    `[include]` or `[includeIf ...]` header always spells it). Most config files include
    nothing, and then no git process is started to list what they include."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO: no wait
    except OSError:
        return True  # git's own listing says what it can
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return True
        data = os.read(fd, _SCANNED_BYTES + 1)
    except OSError:
        return True
    finally:
        os.close(fd)
    return len(data) > _SCANNED_BYTES or b"include" in data.lower()

"""Typed errors raised by library code.

The CLI is the one error boundary: it turns a `CodememError` into a one-line message and
an exit code (see `codemem.cli`). Library code never prints; it raises one of these.

Exit codes, one rule for every command: 0 ok; 1 findings, or nothing found where a script
needs to know (a command documents when it uses 1); 2 a usage mistake (a bad option, a
revision that does not exist, a broken config, a step to run first, git to let finish: a digest
that HEAD moved under; another digest to let finish); 3 and up codemem's own
failures (3 by default, 4 out of time or steps, 130 interrupted; 128 + signum when an agent
session is `Terminated`).
"""

from __future__ import annotations

import signal


class CodememError(Exception):
    """Base class for every error codemem reports to a user."""

    exit_code = 3


class UsageError(CodememError):
    """The user asked for something that cannot be done as asked."""

    exit_code = 2


class NotARepositoryError(CodememError):
    """No git repository where one was expected."""

    exit_code = 2


class ConfigError(CodememError):
    """A configuration file or value is invalid."""

    exit_code = 2


class IndexingError(CodememError):
    """The code index is missing, corrupt or cannot be written."""


class MemoryEditError(CodememError):
    """A memory operation was refused (unknown label, over the limit, read-only...)."""

    exit_code = 2


class ProviderError(CodememError):
    """A model provider failed (missing key, HTTP error, timeout...)."""


class PermissionDenied(CodememError):
    """A tool call was refused by the permission policy."""


class GitError(CodememError):
    """A git command failed, or git is not installed. `output`: what the command printed on
    stdout before it failed (a `push --porcelain`'s status of each ref), when it ran."""

    output: bytes = b""


class RepositoryRefused(GitError):
    """git refuses to work in the repository: another user owns it (its `safe.directory`
    check), or its `.git` file links to a git directory that is gone (a moved repository).
    A step for the user to take, with the fix."""

    exit_code = 2


class GitStuckOnFifo(GitError):
    """git would wait for ever opening a FIFO (a named pipe) where it reads a file (a
    `.gitignore`, a `.gitattributes`...): killed, and the file named for the user to remove."""

    exit_code = 2


class LockTimeout(CodememError):
    """A file lock was held by another process for longer than the caller would wait."""


class WriteConflict(CodememError):
    """A file kept changing under a compare-and-swap write."""


class PathOutsideRepository(CodememError):
    """A path leads outside the repository (through `..`, an absolute path or a symlink)."""

    exit_code = 2


class NotARegularFile(CodememError):
    """A file codemem reads from the repository is a symlink, a folder or a device, not a file."""

    exit_code = 2


class FileTooLarge(CodememError):
    """A file is larger than codemem reads whole (a memory file, a record, a file a tool edits)."""

    exit_code = 2


class Terminated(BaseException):
    """SIGTERM or SIGHUP (a `kill`, a closed terminal) asked an agent session to end.

    Not an `Exception`: like Ctrl-C's `KeyboardInterrupt` it passes every `except Exception`
    (a tool's failure goes back to the model; this must not), so each `finally` on the way
    out runs: the command's process group is killed, the conversation saved, the terminal
    restored. Unlike Ctrl-C it never just ends a turn: the command line exits 128 + signum.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(f"terminated ({signal.Signals(signum).name})")


class HeadMovedError(CodememError):
    """HEAD moved (a checkout, a commit, a reset) while a sleep-time pass ran, or is about to
    (a merge, rebase, cherry-pick, revert or bisect begun, a git command holding the index's
    lock): the pass is dropped, nothing written, and the next one digests where HEAD is then.
    `moved`: what git did; `writes`: how many writes the pass made before it saw it (0:
    nothing written; else git moved as the pass wrote, and nothing was recorded as digested).
    Exit 2, as for a digest started mid-merge: not codemem's failure, a pass to run again."""

    exit_code = 2

    def __init__(self, moved: str, message: str, *, writes: int = 0) -> None:
        super().__init__(message)
        self.moved = moved
        self.writes = writes


class DigestRunningError(CodememError):
    """Another sleep-time pass holds this clone (`.codemem/local/digest.lock`): one pass at a
    time, so nothing was digested. `lock`: the lock file, relative to the repository; `pid`
    and `command`: the holder, as it wrote itself into the lock (None, "": it did not).
    Exit 2, as for git to let finish: not codemem's failure, a pass to run again."""

    exit_code = 2

    def __init__(self, message: str, lock: str, pid: int | None, command: str) -> None:
        super().__init__(message)
        self.lock, self.pid, self.command = lock, pid, command

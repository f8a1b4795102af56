"""One file lock: an exclusive `fcntl.flock` with a bounded wait that names who holds it.

The kernel drops an flock when its process dies, however it dies, so a lock left by a dead
process is taken at once. The holder writes its pid and command line into the lock file, so
a waiter that gives up can say who is in the way:
`.codemem/local/index.lock is held by pid 1234 (codemem index --full); gave up after 30 s`.
A holder writes itself in a moment after it takes the lock, and clears the record when it
lets go; what a waiter reads in that moment (no one, or a killed holder's record) is read
again until the new holder is named (`current_holder`), and then, should the new holder be
slow to write itself in, checked with the kernel's lock table (`_kernel_holder`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from codemem.errors import LockTimeout, NotARegularFile, PathOutsideRepository
from codemem.infra.folders import make_folder

DEFAULT_TIMEOUT = 30.0
_COMMAND_CHARS = 200
# A lock file is never opened through a link: `git add -f` commits `.codemem/local/` links
# and all, and a holder truncates its lock file and writes itself into it, which through a
# link would be any file this user can write.
_NO_LINK = os.O_NOFOLLOW | os.O_CLOEXEC


def _open_lock(path: Path, flags: int) -> int:
    """`os.open` of a lock file, never through a link (`PathOutsideRepository`), and only a
    regular file (`NotARegularFile`: a FIFO or a device cannot hold a holder's pid)."""
    try:
        fd = os.open(path, flags | _NO_LINK | os.O_NONBLOCK, 0o644)  # a FIFO: no wait
    except OSError as exc:
        if os.path.islink(path):
            raise PathOutsideRepository(
                f"{path} is a symbolic link: codemem keeps its locks only in a real file; "
                "remove the link and run the command again"
            ) from exc
        if isinstance(exc, IsADirectoryError):
            raise _not_regular(path) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _not_regular(path)
    return fd


def _open_to_lock(path: Path, reading: bool) -> tuple[int, bool]:
    """A descriptor of the lock file at `path` to flock, and whether it can hold a record.

    For a reader, where the lock file cannot be written (a checkout mounted read-only, as CI
    does, or a teammate's lock file in a shared clone), an existing one is opened for reading:
    flock needs no write access, so the reader (`status`'s check of the index) still excludes
    a writer elsewhere, and names no holder. A writer gets the error: it could write nothing."""
    try:
        return _open_lock(path, os.O_RDWR | os.O_CREAT), True
    except OSError as exc:
        if not reading or exc.errno not in (errno.EROFS, errno.EACCES):
            raise
        try:
            return _open_lock(path, os.O_RDONLY), False
        except FileNotFoundError:
            raise exc from None


def _not_regular(path: Path) -> NotARegularFile:
    return NotARegularFile(
        f"{path} is not a regular file: codemem keeps its locks only in a real file; "
        "remove it and run the command again"
    )


@dataclass(frozen=True)
class LockHolder:
    """The process that wrote itself into a lock file."""

    pid: int
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.command})" if self.command else f"pid {self.pid}"


def _own_command() -> str:
    return _command_line(sys.argv)


def _command_line(argv: list[str]) -> str:
    """A command line as a holder's record keeps it: the program's name, one line, bounded."""
    words = [Path(argv[0]).name, *argv[1:]] if argv else []
    return " ".join(w for w in words if w).replace("\n", " ")[:_COMMAND_CHARS]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    return True


def read_holder(path: Path) -> LockHolder | None:
    """Who wrote itself into the lock file last (it may have died since), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _NO_LINK)
    except OSError:
        return None
    try:
        text = os.read(fd, 4096).decode("utf-8", errors="replace")
    except OSError:
        return None
    finally:
        os.close(fd)
    first, _, rest = text.partition("\n")
    first = first.strip()
    return LockHolder(int(first), rest.strip()) if first.isdigit() else None


def current_holder(path: Path, settle: float = 0.25) -> LockHolder | None:
    """Who holds the lock on `path` (held by someone: a waiter gave up, or a probe found it),
    as its record tells. A new holder writes itself in a moment after it takes the lock, so
    the record may still be empty (the last holder cleared it as it let go) or name a holder
    killed since (none clears it then): it is read again, for up to `settle` seconds while
    the lock stays held, until it names a living process. A record still empty or naming a
    dead process then is checked with the kernel (`_kernel_holder`): a living holder that has
    not written itself in yet is named from its command line; else the record is returned as
    it is (a dead holder's: a process it started holds the lock, or the kernel cannot say)."""
    deadline = time.monotonic() + settle
    while True:
        holder = read_holder(path)
        if holder is not None and _alive(holder.pid):
            return holder
        if not lock_held(path):
            return holder
        if time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    pid = _kernel_holder(path)
    if pid is not None and (holder is None or pid != holder.pid) and _alive(pid):
        return LockHolder(pid, _command_of(pid))
    return holder


def _kernel_holder(path: Path) -> int | None:
    """The process the kernel's lock table names for the flock on `path` (Linux's
    `/proc/locks`: the one that took it, which a process it started keeps holding it under
    once it dies), or None when there is none or no such table."""
    try:
        info = os.stat(path, follow_symlinks=False)
        with open("/proc/locks", encoding="ascii", errors="replace") as table:
            lines = table.read().splitlines()
    except OSError:
        return None
    where = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    for line in lines:
        fields = line.split()  # `1: FLOCK  ADVISORY  WRITE 1234 fe:00:2148586 0 EOF`
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == where:  # no waiter's `->`
            return int(fields[4]) if fields[4].isdigit() and int(fields[4]) > 0 else None
    return None


def _command_of(pid: int) -> str:
    """A process's command line as a holder writes its own (empty when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as raw:
            argv = [os.fsdecode(word) for word in raw.read().split(b"\0") if word]
    except OSError:
        return ""
    return _command_line(argv)


def lock_held(path: Path) -> bool:
    """Whether some process holds the lock on `path` right now (probes without waiting)."""
    try:
        fd = os.open(path, os.O_RDWR | _NO_LINK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class FileLock:
    """An exclusive lock on `path`; `with FileLock(path):` waits at most `timeout` seconds.

    Works across processes and across threads (each acquisition opens its own descriptor).
    Raises `LockTimeout`, naming the holder, when the wait runs out; `timeout=0` tries once.
    A `reading` holder takes it where its file cannot be written too (`_open_to_lock`): a check
    of the index, which repairs only where it could write anyway.
    """

    def __init__(self, path: Path, timeout: float = DEFAULT_TIMEOUT, *, reading: bool = False):
        self.path = path
        self.timeout = timeout
        self.reading = reading
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, waiting up to `timeout` seconds, and write this process into it.

        The file locked is the one at `path` once the lock is taken: a holder may remove its
        lock file (`release(remove=True)`), and a waiter that opened it before takes the lock
        of a file no name leads to, while a newcomer locks a new file at `path`; so the
        waiter, finding another file (or none) at `path`, opens `path` again and waits there.
        """
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        while True:
            make_folder(self.path.parent)
            fd, writable = _open_to_lock(self.path, self.reading)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        os.close(fd)
                        raise LockTimeout(self._timeout_message()) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
            if _at(self.path, fd):
                break
            os.close(fd)  # removed by its holder while this waited: lock what is there now
        self._fd = fd
        if writable:
            os.ftruncate(fd, 0)
            # An argument that is not UTF-8 (`--repo` a folder so named) is written as its bytes.
            holder = f"{os.getpid()}\n{_own_command()}\n".encode("utf-8", "surrogateescape")
            os.pwrite(fd, holder, 0)

    def is_current(self) -> bool:
        """Whether this lock is held and its file on disk is still the one locked (a lock
        file removed or replaced under a holder no longer excludes anybody)."""
        return self._fd is not None and _at(self.path, self._fd)

    def _timeout_message(self) -> str:
        holder = current_holder(self.path)
        who = f"held by {holder}" if holder else "held by another process"
        if holder and not _alive(holder.pid):
            who += (
                ", which has exited: a process it started still holds it"
                if _kernel_holder(self.path) == holder.pid
                else ", which has exited: a process it started, or one that has not written "
                "itself in yet, holds it"
            )
        return f"{self.path} is {who}; gave up after {self.timeout:g} s"

    def release(self, *, remove: bool = False) -> None:
        """Let the lock go; with `remove`, remove its file first, while it is held (a waiter
        that opened it opens `path` again, `acquire`), so lock files named after what they
        guard do not pile up. Nothing for a lock this object does not hold."""
        if self._fd is not None:
            if remove and self.is_current():
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            with contextlib.suppress(OSError):  # no record names a holder that has let go
                os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _at(path: Path, fd: int) -> bool:
    """Whether `fd` is the file at `path` now."""
    try:
        on_disk = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    held = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


@contextlib.contextmanager
def locked(*paths: Path, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold several locks at once, always taken in sorted order so two holders cannot deadlock."""
    with contextlib.ExitStack() as stack:
        for path in sorted(set(paths)):
            stack.enter_context(FileLock(path, timeout))
        yield


class SharedLock:
    """A shared lock on `path`, held from creation until `close` (or garbage collection).

    Many holders share it; one of them can turn it exclusive for a while (`exclusive`), when
    no other holder is left, and back (`shared`). The code index's readers use it so that old
    versions are pruned only while nobody reads them.
    """

    def __init__(self, path: Path) -> None:
        self._fd: int | None = None
        make_folder(path.parent)
        self._fd, _ = _open_to_lock(path, reading=True)
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def exclusive(self, timeout: float) -> bool:
        """Turn the lock exclusive, waiting up to `timeout` seconds for the other holders to
        let go; whether it is held exclusively (else it is shared again)."""
        assert self._fd is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fcntl.flock(self._fd, fcntl.LOCK_SH)  # a failed conversion may drop it
                    return False
                time.sleep(0.02)

    def shared(self) -> None:
        """Back to shared: other holders may take it again."""
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def close(self) -> None:
        """Let go of the lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()

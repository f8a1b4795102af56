"""Safe writes to committed files: atomic replace, a file lock, compare-and-swap.

`atomic_write` writes a temp file in the same folder, fsyncs it, renames it over the target
and fsyncs the folder, so a crash leaves the old file or the new one, never a torn one.
`FileLock` is an exclusive `fcntl.flock` on a sidecar lock file (the target itself is
replaced on every write, so it cannot carry the lock). `update_text` combines them: under the
lock it reads, applies the edit and, just before the rename, checks the file still holds what
it read; a writer that does not take the lock (a person's editor) makes it re-apply the edit
to the fresh text instead of overwriting that change.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from codemem.memory.errors import ConflictError, LockTimeoutError

# The process umask, read once: mkstemp creates files 0600, committed files should be 0644.
_UMASK = os.umask(0)
os.umask(_UMASK)

DEFAULT_TIMEOUT = 30.0


def read_text(path: Path) -> str | None:
    """The file's text with `\\n` line ends, or None when it does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return data.decode("utf-8").replace("\r\n", "\n")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(path: Path, data: str | bytes) -> Path:
    """A fully written, fsynced temp file next to `path` (same filesystem, so rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_UMASK
        os.chmod(tmp, mode)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _commit(tmp: Path, path: Path) -> None:
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write(path: Path, data: str | bytes) -> None:
    """Replace `path` with `data` atomically (temp file, fsync, rename, fsync folder)."""
    _commit(_write_temp(path, data), path)


class FileLock:
    """An exclusive lock on a sidecar file; `with FileLock(path):` blocks until it is free.

    Works across processes and across threads (each acquisition opens its own descriptor).
    Raises `LockTimeoutError` after `timeout` seconds.
    """

    def __init__(self, path: Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockTimeoutError(
                        f"{self.path} is still locked after {self.timeout:g}s: another codemem "
                        "process is writing; try again"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def locked(*paths: Path, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold several locks at once, always taken in sorted order so two holders cannot deadlock."""
    with contextlib.ExitStack() as stack:
        for path in sorted(set(paths)):
            stack.enter_context(FileLock(path, timeout))
        yield


def update_text(
    path: Path,
    edit: Callable[[str | None], str],
    lock: Path,
    *,
    attempts: int = 5,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[str | None, str]:
    """Apply `edit` to the text of `path` (None if missing) and write the result atomically.

    Returns (text read, text written). `edit` may raise to refuse; it may be called more than
    once, on fresh text, if the file changes under it (compare-and-swap on the text read).
    """
    with FileLock(lock, timeout):
        for _ in range(attempts):
            before = read_text(path)
            after = edit(before)
            if after == before:
                return before, after
            tmp = _write_temp(path, after)
            if read_text(path) != before:
                tmp.unlink(missing_ok=True)
                continue
            _commit(tmp, path)
            return before, after
    raise ConflictError(f"{path} kept changing while codemem was writing it: try again")

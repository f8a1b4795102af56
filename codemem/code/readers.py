"""Readers of the code index versus the pruning of its old versions.

When LanceDB prunes an old version it deletes the files no newer version uses, and a reader
still reading that version fails. So every `CodeStore` holds a shared lock on
`index/readers.lock` for as long as it lives (searches open one per query), and `maintain`
prunes every old version only while it holds that lock exclusively, that is when no other
store is open; a store opened meanwhile waits for the prune (a second or so).
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

LOCK_FILE = "readers.lock"


class ReaderLock:
    """A shared lock on the index, held from creation until `close` (or garbage collection)."""

    def __init__(self, index_dir: Path) -> None:
        index_dir.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(index_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def exclusive(self, timeout: float) -> bool:
        """Turn the lock exclusive, waiting up to `timeout` seconds for the other readers to
        finish; whether it is held exclusively (else it is shared again)."""
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
        """Back to shared: readers may open again."""
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()

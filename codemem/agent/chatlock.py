"""The chat lock: how other processes (the sleep-time daemon) tell a `codemem chat` is running.

A running chat holds an flock on `.codemem/local/sessions/chat.<pid>.lock`. A lock file left
by a chat that died is not locked by anyone: `chat_running` removes it. Standard library
only, so the daemon can ask cheaply.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from codemem.workspace import Workspace

LOCK_GLOB = "chat.*.lock"


class ChatLock:
    """Held for the life of a chat: `.codemem/local/sessions/chat.<pid>.lock` under flock."""

    def __init__(self, ws: Workspace) -> None:
        self.path = ws.sessions_dir / f"chat.{os.getpid()}.lock"
        self._fd: int | None = None

    def __enter__(self) -> ChatLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _held(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        path.unlink(missing_ok=True)  # left by a chat that died: nobody holds it
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def chat_running(ws: Workspace) -> bool:
    """Whether a `codemem chat` is running in this repository (any process)."""
    folder = ws.sessions_dir
    if not folder.is_dir():
        return False
    return any(_held(path) for path in folder.glob(LOCK_GLOB))

"""The chat lock: how other processes (the sleep-time daemon) tell a `codemem chat` is running.

A running chat holds an flock on `.codemem/local/sessions/chat.<pid>.lock`. A lock file left
by a chat that died is not locked by anyone: `chat_running` removes it. The lock is
`codemem.infra.FileLock`, cheap to import, so the daemon can ask cheaply.
"""

from __future__ import annotations

import os
from pathlib import Path

from codemem.infra import FileLock, lock_held
from codemem.workspace import Workspace

LOCK_GLOB = "chat.*.lock"


class ChatLock:
    """Held for the life of a chat: `.codemem/local/sessions/chat.<pid>.lock` under flock."""

    def __init__(self, ws: Workspace) -> None:
        self.path = ws.sessions_dir / f"chat.{os.getpid()}.lock"
        self._lock = FileLock(self.path, timeout=0)  # this process's own file: never contended

    def __enter__(self) -> ChatLock:
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock.held:
            self.path.unlink(missing_ok=True)
            self._lock.release()


def _held(path: Path) -> bool:
    if lock_held(path):
        return True
    path.unlink(missing_ok=True)  # left by a chat that died: nobody holds it
    return False


def chat_running(ws: Workspace) -> bool:
    """Whether a `codemem chat` is running in this repository (any process)."""
    folder = ws.sessions_dir
    if not folder.is_dir():
        return False
    return any(_held(path) for path in folder.glob(LOCK_GLOB))

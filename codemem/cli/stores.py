"""The memory stores a command opens: core blocks, archival notes and recall.

memory is imported when a command runs, not for `--help`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codemem.cli import AppContext
    from codemem.memory import Archive, MemoryStore, Recall


def open_store(app: AppContext) -> MemoryStore:
    """The repository's core memory blocks."""
    from codemem.memory import MemoryStore

    return MemoryStore(app.workspace())


def open_archive(app: AppContext) -> Archive:
    """The repository's archival notes."""
    from codemem.memory import Archive

    return Archive(app.workspace())


def open_recall(app: AppContext) -> Recall | None:
    """The recall database, or None when no session was ever recorded (nothing is created)."""
    from codemem.memory import Recall

    ws = app.workspace()
    return Recall(ws) if ws.recall_db.exists() else None

"""Keeping the code index current while the MCP server runs.

Every `search_code` and `repo_map` call (and the repo-map resource) first marks the index
stale, so the tool's own `ToolContext.ensure_index` runs `CodeIndex.refresh`, the same
incremental refresh `codemem index` does: it compares git's blob ids (hashing only modified
and untracked files) with the manifest and re-parses only what changed. When nothing changed
it returns in about 10 ms without opening LanceDB, so a search right after a save always sees
the saved file. That refresh is the only one: with another writer holding the index, the call
waits `INDEX_WAIT` once, as the agent's does, and answers with the tool's `[not refreshed: ...]`
note.

Why not a watchdog observer: a debounced watcher is always a little behind (a search in the
debounce window would miss the save), costs a thread and one inotify watch per directory for
the life of the editor session, and duplicates `codemem watch`, which people already run for
that. Refreshing on demand is exact, cheap, and shares the index lock with `watch`, a chat and
the git hook, so they never write the index at the same time.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codemem.agent.tools import ToolContext
    from codemem.code import IndexSummary

log = logging.getLogger("codemem")

# The tools (and resources) that read the code index and so need it current.
INDEX_TOOLS = frozenset({"search_code", "repo_map"})


class IndexFreshness:
    """Has the index of a `ToolContext` refreshed by the calls that read it, and logs what
    those refreshes did."""

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.last: IndexSummary | None = None  # what the latest refresh did

    @contextlib.contextmanager
    def refreshing(self) -> Iterator[None]:
        """Around a call that reads the index: its `ensure_index` refreshes it first (a failed
        refresh is the call's to report), and what that refresh did is logged after it."""
        before = self.ctx.refreshed
        self.ctx.index_stale = True
        try:
            yield
        finally:
            summary = self.ctx.refreshed
            if summary is not None and summary is not before:
                self.last = summary
                changed = summary.added + summary.changed + summary.removed
                if summary.full:
                    log.info("indexed %d files in %.2fs", summary.files, summary.seconds)
                elif changed:
                    log.info("re-indexed %d changed files in %.2fs", changed, summary.seconds)

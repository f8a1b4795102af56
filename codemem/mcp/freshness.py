"""Keeping the code index current while the MCP server runs.

Before every `search_code` and `repo_map` call the server runs `CodeIndex.refresh`, the same
incremental refresh `codemem index` does: it compares git's blob ids (hashing only modified
and untracked files) with the manifest and re-parses only what changed. When nothing changed
it returns in about 10 ms without opening LanceDB, so a search right after a save always sees
the saved file.

Why not a watchdog observer: a debounced watcher is always a little behind (a search in the
debounce window would miss the save), costs a thread and one inotify watch per directory for
the life of the editor session, and duplicates `codemem watch`, which people already run for
that. Refreshing on demand is exact, cheap, and shares the index lock with `watch`, a chat and
the git hook, so they never write the index at the same time.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from codemem.agent.tools.toolbox import INDEX_WAIT
from codemem.errors import CodememError

if TYPE_CHECKING:
    from codemem.agent.tools import ToolContext
    from codemem.code import IndexSummary

log = logging.getLogger("codemem")

# The tools (and resources) that read the code index and so need it current.
INDEX_TOOLS = frozenset({"search_code", "repo_map"})


class IndexFreshness:
    """Refreshes the index of a `ToolContext` before the calls that read it."""

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.last: IndexSummary | None = None  # what the latest refresh did

    def refresh(self) -> IndexSummary | None:
        """Bring the index up to date; None if that failed (the tool then reports why)."""
        started = time.perf_counter()
        code = self.ctx.code
        try:
            # Another writer of an existing index is waited for as briefly as the tools wait:
            # the tool's own refresh then says the answer is from the index as last built.
            summary = code.refresh(lock_wait=INDEX_WAIT if code.exists() else None)
        except CodememError as exc:
            log.warning("the code index could not be updated: %s", exc)
            self.ctx.index_stale = True  # the tool's own ensure_index retries and reports it
            return None
        except Exception:  # never let the index take the server down
            log.warning("refreshing the code index failed", exc_info=True)
            self.ctx.index_stale = True
            return None
        self.ctx.index_stale = False
        self.last = summary
        changed = summary.added + summary.changed + summary.removed
        if summary.full:
            log.info("indexed %d files in %.2fs", summary.files, time.perf_counter() - started)
        elif changed:
            log.info("re-indexed %d changed files in %.2fs", changed, time.perf_counter() - started)
        return summary

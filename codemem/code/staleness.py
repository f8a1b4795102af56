"""What the index does not hold yet: the paths a search answered without a refresh misses.

A search that could not bring the index up to date first (another writer held it past the
search's wait: `codemem index --full`, a long run of `codemem watch` after a checkout) answers
from the index as last committed. `unindexed_paths` says which files that answer is stale
for: the plan a refresh would make (`changes_since`), read without the index's lock and
without writing anything, so the answer can name them.

A `codemem search` in a fresh process with no daemon running asks the same before it answers
(`PendingCheck`): on a thread, so the work tree's one `git ls-files` runs on the other core
while the search reads the index. When the listing's digest is the one the index completed
(nothing saved since), that is all it costs: about 10 ms of git for 2,000 files, 0.3 s for
the Linux kernel's 78,000, neither on the search's path. Before it refreshes the index for
what it found, it asks whether that refresh would rebuild the index from scratch
(`rebuild_due`: too long to wait for), and after it answers, whether another process is
rebuilding it (`rebuilding`: the answer came from the last complete index).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codemem.code.manifest import Manifest
from codemem.code.worktree import ListingSettings, WorkTree
from codemem.errors import CodememError, GitStuckOnFifo
from codemem.infra import current_holder, lock_held

if TYPE_CHECKING:
    from codemem.config import Config, IndexConfig
    from codemem.workspace import Workspace

log = logging.getLogger("codemem")


def unindexed_paths(ws: Workspace, config: Config) -> list[str] | None:
    """The paths (sorted) whose work-tree content the index does not hold: added, changed or
    deleted since their rows were last committed. None when that cannot be told (no index, or
    its manifest cannot be read while another process writes it)."""
    return _pending(ws, ListingSettings.of(config.index)).paths


def rebuild_due(ws: Workspace, config: Config) -> bool:
    """Whether the next refresh of the index of `ws` rebuilds it from scratch: there is none,
    or its settings (`index.max_file_bytes`, ...) or codemem's index format changed since."""
    from codemem.code.plan import fingerprint
    from codemem.code.tags import TagStore

    manifest = Manifest.load(ws.index_dir)
    if manifest is None:
        return True
    try:
        return (
            manifest.fingerprint != fingerprint(config)
            or TagStore.stored_version(ws.index_dir) is None
        )
    finally:
        manifest.close()


def rebuilding(ws: Workspace) -> str | None:
    """Who is rebuilding the index of `ws` from scratch now, as the index lock names them;
    None when nobody is (no rebuild folder, or one an interrupted run left: the next run
    clears it)."""
    from codemem.code.index_swap import build_dir
    from codemem.code.indexer import LOCK_NAME

    lock = ws.local_dir / LOCK_NAME
    if not build_dir(ws.index_dir).is_dir() or not lock_held(lock):
        return None
    holder = current_holder(lock)
    return str(holder) if holder is not None else "another process"


def recorded_listing(ws: Workspace, settings_key: str) -> str | None:
    """The listing settings (`ListingSettings.to_json`) the index of `ws` recorded, when the
    settings in force are still those they were validated from (their `layers_key` is
    `settings_key`); None otherwise, or with no index."""
    manifest = Manifest.load(ws.index_dir)
    if manifest is None:
        return None
    try:
        return (
            (manifest.listing_settings or None) if manifest.settings_key == settings_key else None
        )
    finally:
        manifest.close()


def pending_paths(manifest: Manifest, tree: WorkTree, index_dir: Path) -> list[str]:
    """The paths (sorted) a refresh of the index `manifest` describes would read again or
    remove for the work tree `tree`: none when the listing is the one it completed."""
    if manifest.full_text and manifest.listing == tree.digest:
        return []
    from codemem.code.plan import changes_since  # the planner's imports: only when changed

    changes = changes_since(manifest, tree, index_dir)
    return sorted({path for path, _cid in changes.todo}.union(changes.removed))


@dataclass(frozen=True)
class Pending:
    """What a refresh would do now: `paths` (sorted; None: it cannot be told), and the
    listing of the work tree it was read from, which that refresh can use (`tree`)."""

    paths: list[str] | None
    tree: WorkTree | None = None


class PendingCheck:
    """`Pending` read on a thread, started now; `result` waits for it.

    `recorded`: the listing settings the index's manifest recorded (`ListingSettings.to_json`),
    when the settings in force are the ones they were validated from; else `settings`, the
    index settings in force."""

    def __init__(
        self, ws: Workspace, recorded: str | None = None, settings: IndexConfig | None = None
    ) -> None:
        self._found = Pending(None)
        self._stuck: GitStuckOnFifo | None = None
        self._thread = threading.Thread(
            target=self._read, args=(ws, recorded, settings), name="codemem-pending", daemon=True
        )
        self._thread.start()

    def _read(self, ws: Workspace, recorded: str | None, settings: IndexConfig | None) -> None:
        listing = ListingSettings.from_json(recorded) if recorded else None
        if listing is None and settings is not None:
            listing = ListingSettings.of(settings)
        if listing is None:
            return
        try:
            self._found = _pending(ws, listing)
        except GitStuckOnFifo as exc:  # the work tree itself must be fixed: said, not hidden
            self._stuck = exc
        except Exception:  # the search answers regardless; at worst as it did before
            log.debug("search: could not tell what changed since the index run", exc_info=True)

    def result(self) -> Pending:
        """The check's finding (waits for it); `GitStuckOnFifo` when git could not list the
        work tree for a FIFO where it reads a file (every later git command would hang too)."""
        self._thread.join()
        if self._stuck is not None:
            raise self._stuck
        return self._found


def _pending(ws: Workspace, settings: ListingSettings) -> Pending:
    try:
        manifest = Manifest.load(ws.index_dir)
    except (OSError, sqlite3.Error):
        return Pending(None)
    if manifest is None:
        return Pending(None)
    try:
        tree = WorkTree.read(ws.root, settings)
        return Pending(pending_paths(manifest, tree, ws.index_dir), tree)
    except GitStuckOnFifo:
        raise
    except (OSError, sqlite3.Error, CodememError):
        return Pending(None)
    finally:
        manifest.close()

"""What the index does not hold yet: the paths a search answered without a refresh misses.

A search that could not bring the index up to date first (another writer held it past the
search's wait: `codemem index --full`, a long run of `codemem watch` after a checkout) answers
from the index as last committed. `unindexed_paths` says which files that answer is stale
for: the plan a refresh would make (`changes_since`), read without the index's lock and
without writing anything, so the answer can name them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from codemem.code.manifest import Manifest
from codemem.code.plan import changes_since
from codemem.code.worktree import ListingSettings, WorkTree
from codemem.errors import CodememError

if TYPE_CHECKING:
    from codemem.config import Config
    from codemem.workspace import Workspace


def unindexed_paths(ws: Workspace, config: Config) -> list[str] | None:
    """The paths (sorted) whose work-tree content the index does not hold: added, changed or
    deleted since their rows were last committed. None when that cannot be told (no index, or
    its manifest cannot be read while another process writes it)."""
    try:
        manifest = Manifest.load(ws.index_dir)
    except (OSError, sqlite3.Error):
        return None
    if manifest is None:
        return None
    try:
        tree = WorkTree.read(ws.root, ListingSettings.of(config.index))
        return pending_paths(manifest, tree, ws.index_dir)
    except (OSError, sqlite3.Error, CodememError):
        return None
    finally:
        manifest.close()


def pending_paths(manifest: Manifest, tree: WorkTree, index_dir: Path) -> list[str]:
    """The paths (sorted) a refresh of the index `manifest` describes would read again or
    remove for the work tree `tree`: none when the listing is the one it completed."""
    if manifest.full_text and manifest.listing == tree.digest:
        return []
    changes = changes_since(manifest, tree, index_dir)
    return sorted({path for path, _cid in changes.todo}.union(changes.removed))

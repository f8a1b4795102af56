"""A run with nothing to do, found before the settings are validated.

Validating the settings loads pydantic, a third of what a no-op `codemem index` would cost.
The last complete run recorded the `codemem.config.layers_key` of the settings it validated
and the listing settings they gave; when the layers read now have the same key, those
settings still hold, so the work tree is listed with them and compared with the recorded
digest. Anything else (other settings, a changed file, an index that is not as it last
checked out, leftovers of an interrupted run) is left to `refresh_index`, which can reuse
the listing read here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from codemem.code.files import SKIP_RULES
from codemem.code.index_swap import build_dir
from codemem.code.indexer import LOCK_NAME, IndexSummary, index_lock
from codemem.code.integrity import index_listing, still_checked
from codemem.code.manifest import Manifest
from codemem.code.tags import TagStore
from codemem.code.worktree import ListingSettings, WorkTree
from codemem.workspace import Workspace


@dataclass
class Unchanged:
    """What the check found: the summary of a run with nothing to do, else the listing read."""

    summary: IndexSummary | None = None
    tree: WorkTree | None = None


def check_unchanged(ws: Workspace, settings_key: str, lock_wait: float | None = None) -> Unchanged:
    """Whether the index of `ws` is up to date under the settings whose key is `settings_key`.

    Another writer is waited for up to `lock_wait` seconds (None: the indexer's bound), then
    `LockTimeout`, as `refresh_index` does."""
    started = time.perf_counter()
    index_dir = ws.index_dir
    if not (ws.local_dir / LOCK_NAME).exists() or build_dir(index_dir).exists():
        return Unchanged()  # never indexed here, or a rebuild was interrupted
    with index_lock(ws.local_dir / LOCK_NAME, lock_wait):
        manifest = Manifest.load(index_dir)
        if manifest is None:
            return Unchanged()
        try:
            settings = ListingSettings.from_json(manifest.listing_settings)
            if (
                settings is None
                or not manifest.full_text
                or not settings_key
                or manifest.settings_key != settings_key
                or manifest.skip_rules != SKIP_RULES  # checked under older rules: recheck
                or not still_checked(index_dir, index_listing(index_dir))
                or TagStore.stored_version(index_dir) is None
            ):
                return Unchanged()
            tree = WorkTree.read(ws.root, settings)
            if tree.digest != manifest.listing:
                return Unchanged(tree=tree)
            summary = IndexSummary(
                up_to_date=True, checked=True, tracked_local=tree.tracked_local()
            )
            summary.files, summary.symbols, summary.chunks = manifest.totals()
        finally:
            manifest.close()
    summary.seconds = round(time.perf_counter() - started, 3)
    return Unchanged(summary=summary)

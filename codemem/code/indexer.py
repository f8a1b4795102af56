"""Bringing the code index up to date: `refresh_index`, in four steps.

1. plan (`codemem.code.plan`): list candidate files (git) and compare their content ids with
   the manifest; when nothing changed (the listing's digest is the one the manifest
   recorded), return at once without reading the manifest's rows or opening the database.
2. extract: parse changed files in worker processes (`codemem.code.workers`), forked
   before the database is opened so no worker inherits its threads.
3. write: rows batch by batch. An incremental run writes in place and records each batch
   in the manifest only after it is committed; a full rebuild writes a new index beside the
   live one (`codemem.code.index_swap`), which readers keep using meanwhile.
4. finish: build the scalar indexes, compact
   when enough has accumulated, save the tags and notes, record in the manifest that the
   run is complete, and swap a rebuilt index in. A run stopped anywhere leaves an index the next run completes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codemem.code.extract import INDEXED, FileResult
from codemem.code.files import SKIP_RULES
from codemem.code.index_swap import clear_leftovers, swap_in
from codemem.code.integrity import (
    FOREIGN,
    index_listing,
    repair_index,
    still_checked,
    vouch_for_writes,
)
from codemem.code.manifest import LISTING_FIELDS, Manifest
from codemem.code.plan import Plan, extract_settings, make_plan
from codemem.code.rows import SCALAR_INDEXES
from codemem.code.tags import TagStore
from codemem.infra import FileLock, imports_uncollected, stall_for_tests
from codemem.workspace import Workspace

if TYPE_CHECKING:
    from codemem.code.batch_writer import BatchWriter, PendingFiles
    from codemem.code.run_progress import RunProgress
    from codemem.code.worktree import WorkTree
    from codemem.config import Config

log = logging.getLogger("codemem")

Progress = Callable[[int, int], None]
LOCK_NAME = "index.lock"  # beside the index folder, which a rebuild swaps
LOCK_TIMEOUT = 120.0  # seconds to wait for another writer before giving up
SIDE_BY_SIDE_MAX_FILES = 20_000  # larger: the scalar indexes built one at a time
COMPACT_UNIT_CHUNKS = 100_000  # index.compact_every runs per this many chunks indexed


@dataclass
class IndexSummary:
    """What one run did (this run's counts) and what the index now holds (totals)."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    files: int = 0
    symbols: int = 0
    chunks: int = 0
    seconds: float = 0.0
    full: bool = False
    up_to_date: bool = False
    compacted: bool = False
    # The index's files stand checked after the run (it found them as they last checked
    # out and added only its own writes, or rebuilt them): no deep check is due.
    checked: bool = False
    # Files under .codemem/local/ that git tracks, from the run's listing, when the run did
    # not just rebuild the index for it (and said so): the caller reminds the user.
    tracked_local: int = 0
    # The first `NAMED_PATHS` files this run added, changed or removed (in that order), for a
    # log line naming what the counts count.
    paths: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["checked"], data["tracked_local"], data["paths"]  # the index's business
        return data


NAMED_PATHS = 3


@contextmanager
def index_lock(path: Path, timeout: float | None = None) -> Iterator[None]:
    """One writer at a time per index (a chat, `watch` and a hook may all try).

    A writer that waits longer than `timeout` seconds (default LOCK_TIMEOUT) gives up with a
    `LockTimeout` naming the process that holds the lock.
    """
    with FileLock(path, LOCK_TIMEOUT if timeout is None else timeout):
        yield


def refresh_index(
    ws: Workspace,
    config: Config,
    *,
    full: bool = False,
    progress: Progress | None = None,
    settings_key: str = "",
    tree: WorkTree | None = None,
    lock_wait: float | None = None,
    run: RunProgress | None = None,
) -> IndexSummary:
    """Bring the index of `ws` up to date with the work tree.

    `settings_key` is the `layers_key` that `config` was validated from ("" when unknown:
    no later run can then skip validating its settings); `tree`, a listing of the work tree
    this run may use instead of reading its own; `lock_wait`, how long to wait for another
    writer (`LockTimeout` after; None: `LOCK_TIMEOUT`); `run`, told what the run plans and
    commits (a search on another thread waits for it).
    """
    started = time.perf_counter()
    ws.ensure_local()
    with index_lock(ws.local_dir / LOCK_NAME, lock_wait):
        clear_leftovers(ws.index_dir)
        listing = index_listing(ws.index_dir)  # the folder's one walk before the writes
        checked = still_checked(ws.index_dir, listing)
        # Damaged, or tracked by git: removed, so this run rebuilds it.
        found = None if checked else repair_index(ws, deep=False, force=True, listing=listing)
        plan = make_plan(ws, config, full, settings_key, tree)
        plan.run = run
        if run is not None:
            run.planned([path for path, _cid in plan.todo] + plan.removed)
        summary = _refresh(ws, config, plan, progress, started)
        if found != FOREIGN:
            summary.tracked_local = plan.tracked_local
        if (not summary.up_to_date or plan.recorded) and (summary.full or checked):
            vouch_for_writes(ws.index_dir)  # a rebuild, or a checked index plus our writes
        summary.checked = summary.full or checked
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _refresh(
    ws: Workspace, config: Config, plan: Plan, progress: Progress | None, started: float
) -> IndexSummary:
    summary = IndexSummary(full=plan.full)
    if plan.nothing_to_do:
        summary.up_to_date = True
        if _record_listing(plan):  # the next run can then skip the rows
            plan.manifest.save(plan.target)
            plan.recorded = True
        _fill_totals(summary, plan.manifest)
        return summary
    # Parsing and writing load multiprocessing, tree-sitter, numpy and pyarrow: kept out of
    # start-up.
    with imports_uncollected():
        from codemem.code.workers import parse_files

    _count_removed(plan, summary)  # before the writer drops their rows from the manifest
    results = parse_files(
        ws.root,
        plan.to_parse(),
        extract_settings(config),
        config.index.workers,
        progress,
        plan.not_generated,  # never judged generated by their content
    )
    try:
        # The workers are forked; the writer's imports (numpy) and opening the database (a
        # second of imports) overlap parsing.
        with imports_uncollected():
            from codemem.code.batch_writer import BatchWriter

        writer = BatchWriter.open(ws, config, plan.target, plan.manifest, plan.full, plan.removed)
    except BaseException:  # a Ctrl-C meanwhile: the workers stop with the run
        results.close()
        raise
    try:
        try:
            _write(plan, results, writer, summary, config)
        finally:
            results.close()  # stop the workers now, not whenever GC gets to it
        _finish(ws, config, plan, writer, summary, started)
    except BaseException:
        writer.release_interrupts()  # a long-lived process (watch, chat) keeps its Ctrl-C
        raise
    # Its readers lock now, not whenever a reference cycle (a LanceDB error caught while
    # opening a table keeps frames alive) is collected: `maintain` waits for that lock.
    writer.store.close()
    _fill_totals(summary, plan.manifest)
    return summary


def _record_listing(plan: Plan) -> bool:
    """Put the plan's listing and settings in its manifest; whether that changed anything."""
    manifest = plan.manifest
    recorded = [getattr(manifest, name) for name in LISTING_FIELDS]
    manifest.listing = plan.listing
    manifest.settings_key = plan.settings_key
    manifest.listing_settings = plan.listing_settings.to_json()
    manifest.search_settings = plan.search_settings
    manifest.attributes = plan.attributes
    manifest.not_generated = plan.not_generated
    manifest.skip_rules = SKIP_RULES  # every file it holds is checked under these now
    return recorded != [getattr(manifest, name) for name in LISTING_FIELDS]


def _count_removed(plan: Plan, summary: IndexSummary) -> None:
    """Count the files whose rows the run removes, naming the first few in `summary.paths`.
    A file recorded as skipped had none: a merge's temporaries (`.merge_file_*`), listed as
    untracked while git merges and gone by the next run, are not removed from the index."""
    rows = plan.manifest.rows
    removed = [p for p in plan.removed if (e := rows.get(p)) is not None and e.status == INDEXED]
    summary.removed = len(removed)
    summary.paths = removed[:NAMED_PATHS]


def _write(
    plan: Plan,
    results: Iterator[FileResult],
    writer: BatchWriter,
    summary: IndexSummary,
    config: Config,
) -> None:
    """Feed every file of the plan to the writer, batch by batch, counting what changed."""
    from codemem.code.batch_writer import PendingFiles  # the write path's: kept out of start-up

    named: dict[str, list[str]] = {"added": [], "changed": [], "removed": summary.paths}
    pending = PendingFiles()
    left = len(plan.todo)
    for path, cid in plan.todo:
        left -= 1
        reason = plan.current[path][1]
        result = FileResult(path, cid, reason) if reason is not None else next(results)
        previous = plan.manifest.rows.get(path)
        was_indexed = previous is not None and previous.status == INDEXED
        if result.status == INDEXED:
            if was_indexed:
                summary.changed += 1
            else:
                summary.added += 1
            kind = named["changed" if was_indexed else "added"]
            if len(kind) < NAMED_PATHS:
                kind.append(path)
        else:
            summary.skipped[result.status] = summary.skipped.get(result.status, 0) + 1
        pending.add(result, had_rows=was_indexed)
        # A rebuild's tail rule overlaps commits with parsing; while the store is still
        # opening, such a commit would only wait for it, so the files keep coming in instead
        # (a small repository then commits once). The size rule holds regardless.
        if pending.is_large(config, left if plan.full and writer.opened else None):
            _commit(plan, writer, pending)
            stall_for_tests("batch")
    _commit(plan, writer, pending)
    summary.paths = (named["added"] + named["changed"] + named["removed"])[:NAMED_PATHS]


def _commit(plan: Plan, writer: BatchWriter, pending: PendingFiles) -> None:
    """Commit `pending`, and tell the run's watcher which files it held
    (the first commit also removes the files gone, `plan.removed`)."""
    paths = list(pending.entries)
    writer.commit(pending)
    if plan.run is not None:
        plan.run.committed([*paths, *plan.removed])


def _finish(
    ws: Workspace,
    config: Config,
    plan: Plan,
    writer: BatchWriter,
    summary: IndexSummary,
    started: float,
) -> None:
    """Scalar indexes, compaction, tags, the graph; then the manifest says it is complete
    (a rebuild's, written while its graph is built, is live once swapped in, last)."""
    store, manifest = writer.store, plan.manifest
    stall_for_tests("full_text")
    manifest.runs_since_maintain += 1
    # Both cores: LanceDB builds the scalar indexes without the GIL while this thread saves
    # the tags and builds the reference graph. A large repository builds them one after the
    # other in one thread, so that only one index's memory adds to the graph's (the Linux
    # kernel: about 110 MB more at the end, still well under the parsing's peak; both
    # indexes at once would add 285 MB).
    threads = len(SCALAR_INDEXES) if manifest.totals()[0] <= SIDE_BY_SIDE_MAX_FILES else 1
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="indexes") as pool:
        built = [pool.submit(store.ensure_scalar, name) for name in SCALAR_INDEXES]
        writer.tags.save()
        if plan.full:
            # Nobody reads a rebuild's folder before the swap below: its manifest is written
            # beside the graph (SQLite and numpy, much of both without the GIL).
            _complete(manifest, plan, started)
            built.append(pool.submit(manifest.save, plan.target))
            _warm_graph(plan.target, writer.tags)
        for future in built:
            future.result()
    if plan.full:
        swap_in(plan.target, ws.index_dir)
        return
    if _needs_maintenance(manifest, config):
        store.maintain(config.index.keep_versions_seconds)
        manifest.runs_since_maintain = 0
        summary.compacted = True
    _complete(manifest, plan, started)
    manifest.save(plan.target)


def _complete(manifest: Manifest, plan: Plan, started: float) -> None:
    """Mark the manifest as that of a finished run (saved by the caller): the listing it
    records (kept by `make_plan`) is the next run's to compare with."""
    manifest.full_text = True
    _record_listing(plan)
    manifest.indexed_at = time.time()
    manifest.seconds = round(time.perf_counter() - started, 3)


def compaction_due_after(config: Config, indexed_chunks: int) -> int:
    """How many incremental runs pass between compactions of an index this size.

    Compaction rewrites the tables: its cost grows with the index (the Linux kernel's,
    3 million chunks: 44 s of CPU and 2 GB), while what it saves (one small fragment per
    table per run) does not. So `compact_every` runs apply up to COMPACT_UNIT_CHUNKS chunks,
    and a larger index waits proportionally longer.
    """
    return config.index.compact_every * max(1, indexed_chunks // COMPACT_UNIT_CHUNKS)


def _needs_maintenance(manifest: Manifest, config: Config) -> bool:
    indexed_chunks = manifest.totals()[2]
    return manifest.runs_since_maintain >= compaction_due_after(config, indexed_chunks)


def _warm_graph(index_dir: Path, store: TagStore) -> None:
    """Build the graph cache now, so the first map or search after a rebuild is fast."""
    from codemem.code.graph import load_graph

    load_graph(index_dir, store)


def _fill_totals(summary: IndexSummary, manifest: Manifest) -> None:
    summary.files, summary.symbols, summary.chunks = manifest.totals()


def skip_counts(manifest: Manifest) -> dict[str, int]:
    """How many files the index leaves out, by reason."""
    return {s: n for s, n in manifest.status_counts().items() if s != INDEXED}

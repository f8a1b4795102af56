"""Bringing the code index up to date: `refresh_index`.

1. List candidate files (git) and compare their content ids with the manifest.
2. Nothing changed: return at once, without opening the database.
3. Otherwise parse changed files in worker processes (forked before the database is
   opened, so no worker inherits its threads), write their rows batch by batch, record each
   batch in the manifest only after it is committed, then fold new rows into the full-text
   indexes and compact when enough has accumulated.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

from codemem import __version__
from codemem.code.extract import INDEXED, ExtractSettings, FileResult, extract_file
from codemem.code.files import git_blob_id, list_candidates, path_skip_reason, read_repo_file
from codemem.code.integrity import repair_index
from codemem.code.manifest import FileEntry, Manifest
from codemem.code.tags import TAGS_FILE
from codemem.config import Config
from codemem.workspace import Workspace

log = logging.getLogger("codemem")

Progress = Callable[[int, int], None]
PARALLEL_MIN_FILES = 48
INDEX_FORMAT = 3  # bump when rows or index settings change: existing indexes are rebuilt
BATCH_CHUNKS = 40_000


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

    def to_json(self) -> dict:
        return asdict(self)


def _settings(config: Config) -> ExtractSettings:
    return ExtractSettings(
        max_file_bytes=config.index.max_file_bytes,
        chunk_lines=config.index.chunk_lines,
        max_line_chars=config.index.max_line_chars,
    )


def fingerprint(config: Config) -> str:
    """Changes whenever rows would come out differently: then the index is rebuilt."""
    idx = config.index
    key = repr((__version__, INDEX_FORMAT, _settings(config), idx.embeddings, idx.embeddings_dimensions))
    return hashlib.sha1(key.encode()).hexdigest()[:16]


@contextmanager
def index_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time per index (a chat, `watch` and a hook may all try)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / "index.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_ids(root: Path, config: Config) -> dict[str, tuple[str | None, str | None]]:
    """path -> (content id or None, skip reason decided from the path alone)."""
    idx = config.index
    out: dict[str, tuple[str | None, str | None]] = {}
    for cand in list_candidates(root, idx.include, idx.exclude):
        reason = path_skip_reason(cand.path)
        cid = cand.content_id
        if cid is None and reason is None:
            data, read_reason = read_repo_file(root, cand.path, idx.max_file_bytes)
            if read_reason == "missing":  # deleted in the work tree, not yet in git's index
                continue
            if data is None:
                reason = read_reason
            else:
                cid = git_blob_id(data)
        out[cand.path] = (cid, reason)
    return out


def _worker(args: tuple[Path, str, str | None, ExtractSettings]) -> FileResult:
    return extract_file(*args)


def refresh_index(
    ws: Workspace, config: Config, *, full: bool = False, progress: Progress | None = None
) -> IndexSummary:
    """Bring the index of `ws` up to date with the work tree."""
    started = time.perf_counter()
    ws.ensure_local()
    with index_lock(ws.index_dir):
        repair_index(ws.index_dir)  # damaged: removed here, so this run rebuilds it in full
        summary = _refresh(ws, config, full, progress, started)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _refresh(
    ws: Workspace, config: Config, full: bool, progress: Progress | None, started: float
) -> IndexSummary:
    root, index_dir = ws.root, ws.index_dir
    fp = fingerprint(config)
    old = Manifest.load(index_dir)
    if old is None or old.fingerprint != fp or not (index_dir / TAGS_FILE).exists():
        full = True  # settings changed, or derived state is missing: rebuild all of it
    manifest = Manifest(fingerprint=fp) if full else old
    current = current_ids(root, config)
    summary = IndexSummary(full=full)

    todo: list[tuple[str, str | None]] = []
    for path, (cid, reason) in current.items():
        entry = manifest.files.get(path)
        if reason is not None:
            if entry is None or entry.status != reason or entry.content_id != cid:
                todo.append((path, cid))  # recorded as skipped below, rows removed if any
            continue
        if entry is None or entry.content_id != cid or cid is None:
            todo.append((path, cid))
    removed = [p for p in manifest.files if p not in current]

    if not todo and not removed and not full:
        summary.up_to_date = True
        _fill_totals(summary, manifest)
        return summary

    from codemem.code.store import Batch

    settings = _settings(config)
    to_parse = [(p, cid) for p, cid in todo if current[p][1] is None]
    results = _extract_all(root, to_parse, settings, config.index.workers, progress)
    # Workers are forked by now: opening the database (a second of imports) overlaps parsing.
    opener = ThreadPoolExecutor(max_workers=1)
    embedder = _embedder(ws, config)
    dimensions = embedder.dimensions if embedder is not None else None
    store_future = opener.submit(_open_store, index_dir, full, removed, dimensions)
    opener.shutdown(wait=False)
    for path in removed:
        del manifest.files[path]
    summary.removed = len(removed)
    removed = list(removed)

    from codemem.code.tags import TagStore

    tags = TagStore.load(index_dir)
    tags.update([], tags.paths if full else removed)
    saved_tags = [None]  # the tag-store version last written
    tag_updates: list = []  # streamed into the tag store per batch, never all held at once
    pending = Batch()
    pending_entries: dict[str, FileEntry] = {}
    stale_rows: list[str] = []  # files that now are skipped but had rows

    def commit() -> None:
        store = store_future.result()
        if embedder is not None and pending.chunks:
            _embed_rows(embedder, pending.chunks)
        if stale_rows and not full:
            store.delete_paths(stale_rows)
        store.write(pending, replace=not full)
        tags.update(tag_updates, stale_rows, cache=False)
        if tags.version != saved_tags[0]:
            tags.save()  # before the manifest: it never claims a file the tags lack
            saved_tags[0] = tags.version
        tag_updates.clear()
        manifest.files.update(pending_entries)
        manifest.save(index_dir)
        pending.files.clear(), pending.chunks.clear(), pending.symbols.clear()
        pending_entries.clear(), stale_rows.clear()

    try:
        for path, cid in todo:
            reason = current[path][1]
            if reason is not None:
                result = FileResult(path, cid, reason)
            else:
                result = next(results)
            previous = manifest.files.get(path)
            if result.status == INDEXED:
                if previous is None or previous.status != INDEXED:
                    summary.added += 1
                else:
                    summary.changed += 1
                pending.extend(result.batch)
                if result.tags is not None:
                    tag_updates.append(result.tags)
            else:
                summary.skipped[result.status] = summary.skipped.get(result.status, 0) + 1
                if previous is not None and previous.status == INDEXED:
                    stale_rows.append(path)
                    removed.append(path)
            pending_entries[path] = FileEntry(
                result.content_id,
                result.status,
                result.language,
                len(result.batch.symbols),
                len(result.batch.chunks),
                result.syntax_errors,
            )
            if len(pending) >= config.index.batch_files or len(pending.chunks) >= BATCH_CHUNKS:
                commit()
    finally:
        results.close()  # stop the workers now, not whenever GC gets to it
    commit()

    store = store_future.result()
    store.ensure_fts()
    manifest.runs_since_maintain += 1
    if not full and _needs_maintenance(store, manifest, config):
        store.maintain(config.index.keep_versions_seconds)
        manifest.runs_since_maintain = 0
        summary.compacted = True
    _update_tags(index_dir, tags, full)
    manifest.indexed_at = time.time()
    manifest.seconds = round(time.perf_counter() - started, 3)
    manifest.save(index_dir)
    _fill_totals(summary, manifest)
    return summary


def _embedder(ws: Workspace, config: Config):
    """The configured embedder, or None (the default: no vectors)."""
    if config.index.embeddings.lower() in ("", "none"):
        return None
    from codemem.code.embed import make_embedder

    return make_embedder(config.index, root=ws.root)


def _embed_rows(embedder, rows: list[dict]) -> None:
    """Add a `vector` to each chunk row (the text embedded is `embedding_text`)."""
    from codemem.code.embed import embedding_text

    texts = [embedding_text(r["path"], r["symbol"], r["text"]) for r in rows]
    for row, vector in zip(rows, embedder.embed_documents(texts), strict=True):
        row["vector"] = vector.tolist()


def _open_store(index_dir: Path, full: bool, removed: list[str], dimensions: int | None = None):
    from codemem.code.store import CodeStore

    store = CodeStore(index_dir, dimensions=dimensions)
    if full:
        store.drop_all()
    elif removed:
        store.delete_paths(removed)
    return store


def _extract_all(
    root: Path,
    items: list[tuple[str, str | None]],
    settings: ExtractSettings,
    workers: int,
    progress: Progress | None,
) -> Iterator[FileResult]:
    """Results in the order of `items`; parallel when there is enough work."""
    total = len(items)
    workers = workers or os.cpu_count() or 1
    args = [(root, path, cid, settings) for path, cid in items]
    if total < PARALLEL_MIN_FILES or workers < 2:
        return _with_progress(map(_worker, args), total, progress)
    # Fork (cheap) before the database is opened, so no worker inherits LanceDB's threads;
    # a long-lived process (watch, chat, MCP) that has LanceDB loaded uses a fork server.
    method = "forkserver" if "lancedb" in sys.modules else "fork"
    context = get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["codemem.code.extract"])
    pool = ProcessPoolExecutor(max_workers=min(workers, 8), mp_context=context)
    mapped = pool.map(_worker, args, chunksize=max(1, min(32, total // (workers * 8) or 1)))

    def drain() -> Iterator[FileResult]:
        done = 0
        try:
            for result in mapped:
                done += 1
                yield result
        except (BrokenProcessPool, OSError) as exc:
            # A worker died (out of memory, killed): finish the rest in this process.
            log.warning("parser workers failed (%s); continuing in one process", exc)
            yield from map(_worker, args[done:])
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    return _with_progress(drain(), total, progress)


def _with_progress(results, total: int, progress: Progress | None) -> Iterator[FileResult]:
    try:
        for done, result in enumerate(results, 1):
            if progress:
                progress(done, total)
            yield result
    finally:
        if hasattr(results, "close"):
            results.close()  # shut the worker pool down now, not whenever GC gets to it


def _needs_maintenance(store, manifest: Manifest, config: Config) -> bool:
    if manifest.runs_since_maintain >= config.index.compact_every:
        return True
    try:
        unindexed = store.unindexed_rows()
    except Exception:  # index statistics are advisory
        return False
    indexed_chunks = sum(e.chunks for e in manifest.files.values())
    return unindexed > max(5_000, indexed_chunks // 10)


def _update_tags(index_dir: Path, store, full: bool) -> None:
    from codemem.code.graph import load_graph

    store.save()
    if full:  # warm the graph cache so the first map or search after a rebuild is fast
        load_graph(index_dir, store)


def _fill_totals(summary: IndexSummary, manifest: Manifest) -> None:
    indexed = [e for e in manifest.files.values() if e.status == INDEXED]
    summary.files = len(indexed)
    summary.symbols = sum(e.symbols for e in indexed)
    summary.chunks = sum(e.chunks for e in indexed)


def skip_counts(manifest: Manifest) -> dict[str, int]:
    """How many files the index leaves out, by reason."""
    return dict(Counter(e.status for e in manifest.files.values() if e.status != INDEXED))

"""Writing parsed files into the code index, batch by batch.

`PendingFiles` collects parsed files; `BatchWriter.commit` writes them to the plan's target
folder in the order that keeps the manifest honest: rows, then tags, then the manifest.
An incremental run forgets a file in the manifest before its rows change and records it
only after its new rows are committed, so a stop anywhere makes the next run redo it; a
full rebuild writes into a fresh folder nobody reads and saves its manifest at the end.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codemem.code.extract import INDEXED, FileResult
from codemem.code.joined_rows import joined_batches
from codemem.code.manifest import Manifest
from codemem.code.manifest_rows import FileEntry
from codemem.code.rows import CHUNKS, SYMBOLS, Batch, FileRows
from codemem.infra import imports_uncollected, trim_heap
from codemem.workspace import Workspace

if TYPE_CHECKING:
    from codemem.code.embed import Embedder
    from codemem.code.store import CodeStore
    from codemem.code.tags import EncodedTags, TagStore
    from codemem.config import Config

# A batch is written once it holds this many chunks (or `index.batch_files` files): small
# enough that writing overlaps parsing and the pending rows stay under ~100 MB; each commit
# adds a fragment to every table, so not much smaller.
BATCH_CHUNKS = 20_000
# Or this many symbol rows: a register header's thousands of `#define`s are symbols in a few
# module chunks, so chunks alone would let a batch of such headers hold millions of them.
BATCH_SYMBOLS = 50_000
# The smallest batch a full rebuild commits before its last one (see `PendingFiles.is_large`).
TAIL_BATCH_FILES = 128


@dataclass
class PendingFiles:
    """Parsed files not yet committed: their rows (as the workers packed them, joined only
    when committed), manifest entries and tags."""

    rows: list[FileRows] = field(default_factory=list)  # one per file with rows
    chunks: int = 0  # their chunk rows
    symbols: int = 0  # and symbol rows
    entries: dict[str, FileEntry] = field(default_factory=dict)
    # Streamed into the tag store, never all held; encoded by the workers.
    tags: list[EncodedTags] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # files now skipped that had rows

    def add(self, result: FileResult, had_rows: bool) -> None:
        if result.status == INDEXED:
            if isinstance(result.batch, FileRows):  # `parse_files` packs every indexed file's
                self.rows.append(result.batch)
                self.chunks += result.batch.count(CHUNKS)
                self.symbols += result.batch.count(SYMBOLS)
            if result.tags is not None:
                self.tags.append(result.tags)
        elif had_rows:
            self.stale.append(result.path)
        self.entries[result.path] = FileEntry(
            result.content_id,
            result.status,
            result.language,
            result.batch.count(SYMBOLS),
            result.batch.count(CHUNKS),
            result.syntax_errors,
        )

    def is_large(self, config: Config, left: int | None = None) -> bool:
        """Whether to commit these files now; `left`: how many files are still to come
        (a full rebuild says, an incremental run, whose commits also save the manifest
        and the tags, does not).

        Once as many files are pending as are left, they are committed: the last batches
        shrink by half each, so the commit after the last file is parsed (which nothing
        overlaps) is a small one and the larger ones overlap the parsing of the rest.
        """
        files = len(self.rows)
        if (
            files >= config.index.batch_files
            or self.chunks >= BATCH_CHUNKS
            or self.symbols >= BATCH_SYMBOLS
        ):
            return True
        return left is not None and files >= max(TAIL_BATCH_FILES, left)

    def clear(self) -> None:
        self.rows, self.entries, self.tags, self.stale = [], {}, [], []
        self.chunks = self.symbols = 0


class BatchWriter:
    """Commits pending files to `target`: rows, then tags, then the manifest.

    `full`: `target` is a fresh folder for a rebuild, so nothing is replaced and the
    manifest is saved once, at the end, by the caller.
    """

    def __init__(
        self,
        target: Path,
        manifest: Manifest,
        full: bool,
        store: Future[CodeStore],
        embedder: Embedder | None,
        tags: TagStore,
        removed: list[str] | None = None,
    ) -> None:
        self.target, self.manifest, self.full = target, manifest, full
        self._store = store
        self.embedder = embedder
        self.tags = tags
        # numpy: loaded only by a run that writes (not one with nothing to do)
        from codemem.code.lexicon_writer import LexiconWriter

        self.lexicon = LexiconWriter(target, fresh=full)  # what search reads
        self._removed = list(removed or [])  # replaced in the lexicon by the first segment
        self._saved_tags: int | None = None  # the tag-store version last written
        self._held: HeldInterrupt | None = None  # a Ctrl-C held back while the store opens

    @classmethod
    def open(
        cls,
        ws: Workspace,
        config: Config,
        target: Path,
        manifest: Manifest,
        full: bool,
        removed: list[str],
    ) -> BatchWriter:
        """Start opening the store in a thread (its imports overlap parsing); drop `removed`."""
        from codemem.code.tags import TagStore

        embedder = _embedder(ws, config)
        dimensions = embedder.dimensions if embedder is not None else None
        store: Future[CodeStore] = Future()
        held = HeldInterrupt(store)
        try:
            threading.Thread(
                target=_open_store_into,
                args=(store, target, removed, dimensions),
                name="codemem-open-store",
                daemon=True,  # never joined at exit (see `_open_store_into`)
            ).start()
            if full:
                tags = TagStore(target)
            else:
                tags = TagStore.load(target)
                tags.update([], removed)
            for path in removed:
                del manifest.rows[path]  # saved only after the store deleted their rows
            writer = cls(target, manifest, full, store, embedder, tags, removed)
        except BaseException:
            held.release()  # no writer to give Ctrl-C back later
            raise
        writer._held = held
        return writer

    @property
    def opened(self) -> bool:
        """Whether the store is open (or failed to open): `store` will not wait."""
        return self._store.done()

    def release_interrupts(self) -> None:
        """The run stops before it asked for the store: Ctrl-C goes back to its handler."""
        if self._held is not None:
            self._held.release()
            self._held = None

    @property
    def store(self) -> Any:
        try:
            return self._store.result()
        finally:  # open or failed to: Ctrl-C goes back to its handler either way
            if self._held is not None:
                self._held.restore()
                self._held = None

    def commit(self, pending: PendingFiles) -> None:
        store, manifest = self.store, self.manifest
        manifest.listing = ""  # the files change: recorded again when the run completes
        # The same rows twice over the same buffers: Python lists for the lexicon, Arrow
        # arrays (the chunk texts never made Python strings) for the store.
        rows, tables = joined_batches(pending.rows)
        if self.embedder is not None and tables.count(CHUNKS):
            _embed_rows(self.embedder, tables)
        written: Future[None] | None = None
        if self.full:
            # A new folder nobody reads yet, so no order to keep between the two: LanceDB
            # writes the rows in its own threads, without the GIL, while this one builds the
            # lexicon segment.
            written = _beside(store.write, tables, replace=False)
        else:
            store.delete_paths(pending.stale)  # still listed: a stop here redoes them
            replaced = [path for path in pending.entries if path in manifest.rows]
            if replaced:  # forget them before their rows change, so a stop redoes them
                for path in replaced:
                    del manifest.rows[path]
                manifest.save(self.target)
            store.write(tables, replace=True)
        try:
            # After the tables, before the tags and the manifest (see `codemem.code.lexicon`).
            self.lexicon.add(rows, [*self._removed, *pending.stale])
        finally:
            if written is not None:
                wait([written])  # never still writing into a folder a retry clears
        if written is not None:
            written.result()
        self._removed = []
        self.tags.update(pending.tags, pending.stale, cache=False)
        if self.full:
            self.tags.spill()  # nobody reads a rebuild's folder yet: only memory matters
        elif self.tags.version != self._saved_tags:
            self.tags.save()  # before the manifest: it never claims a file the tags lack
            self._saved_tags = self.tags.version
        manifest.rows.update(pending.entries)
        manifest.full_text = False  # until the run finishes (scalar indexes, tags, graph)
        if not self.full:
            manifest.save(self.target)
        pending.clear()
        del rows, tables
        self.lexicon.merge_tail()  # with the batch's rows let go: their memory peaks never add up
        trim_heap()  # what the batch and the merge freed leaves the process (`trim_heap`)


def _beside(call: Callable[..., None], *args: Any, **kwargs: Any) -> Future[None]:
    """Run `call` in a daemon thread (never joined at exit, like `_open_store_into`)."""
    done: Future[None] = Future()

    def run() -> None:
        try:
            call(*args, **kwargs)
        except BaseException as exc:  # handed to whoever waits for it
            done.set_exception(exc)
        else:
            done.set_result(None)

    threading.Thread(target=run, name="codemem-write", daemon=True).start()
    return done


def _embedder(ws: Workspace, config: Config) -> Embedder | None:
    """The configured embedder, or None (the default: no vectors)."""
    if config.index.embeddings.lower() in ("", "none"):
        return None
    from codemem.code.embed import make_embedder

    return make_embedder(config.index, root=ws.root)


def _embed_rows(embedder: Embedder, tables: Batch) -> None:
    """Add a `vector` column to the store's chunk columns (the text embedded is
    `embedding_text`)."""
    from codemem.code.embed import embedding_text

    chunks = tables.chunks
    paths, symbols, bodies = (
        values if isinstance(values, list) else values.to_pylist()  # Arrow arrays
        for values in (chunks["path"], chunks["symbol"], chunks["text"])
    )
    texts = [
        embedding_text(path, symbol, text)
        for path, symbol, text in zip(paths, symbols, bodies, strict=True)
    ]
    tables.chunks["vector"] = [vector.tolist() for vector in embedder.embed_documents(texts)]


class HeldInterrupt:
    """Holds a Ctrl-C back while the store opens in another thread, then delivers it.

    Python runs a signal handler between any two bytecodes of the main thread, also inside
    the import system's own callbacks: a KeyboardInterrupt raised there is swallowed and
    leaves the import lock held, and a thread importing at the same time then waits for it
    forever (found by the kill tests). So while the store opens, a Ctrl-C is only noted;
    once it is open the main thread is signalled again and stops as usual. Only the main
    thread can set handlers: opened from another thread, nothing is held.
    """

    def __init__(self, opened: Future[Any]) -> None:
        self.opened, self.pending = opened, False
        self.previous: Any = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._note)
            opened.add_done_callback(self._deliver)

    def _note(self, signum: int, frame: Any) -> None:
        if not self.opened.done():
            self.pending = True
            return
        previous = self.previous
        self.restore()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    def _deliver(self, _opened: Future[Any]) -> None:
        if self.pending:  # in the opening thread, now that it imports nothing more
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    def release(self) -> None:
        """The run ends early (an error): the previous handler is back at once, and a Ctrl-C
        noted meanwhile is dropped, never delivered later into whatever the process does next
        (the error is already on its way)."""
        self.pending = False
        self.restore()

    def restore(self) -> None:
        """Put the previous handler back (main thread only)."""
        if self.previous is not None and threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGINT) == self._note:
                signal.signal(signal.SIGINT, self.previous)
            self.previous = None


def _open_store_into(
    store: Future[CodeStore], index_dir: Path, removed: list[str], dimensions: int | None
) -> None:
    """Open the store into `store`, in a daemon thread.

    Not an executor's thread: Python joins those at exit, and a Ctrl-C that stops the main
    thread in the middle of an import both of them make can leave this one waiting for an
    import lock forever, so the interrupted run would never exit (found by the kill tests).
    """
    try:
        store.set_result(_open_store(index_dir, removed, dimensions))
    except BaseException as exc:  # handed to whoever asks for the store
        store.set_exception(exc)


def _open_store(index_dir: Path, removed: list[str], dimensions: int | None = None) -> CodeStore:
    with imports_uncollected():  # pyarrow, then lancedb (`store.import_lancedb`)
        from codemem.code.store import CodeStore

    store = CodeStore(index_dir, dimensions=dimensions, writer=True)
    if removed:
        store.delete_paths(removed)
    return store

"""Parser worker processes that never outlive the indexer.

Workers die with their parent: on Linux the kernel kills them when the process that forked
them ends (`PR_SET_PDEATHSIG`), elsewhere a thread notices that they were re-parented; the
same thread ends a fork server's worker within a second of the indexer's death (a SIGKILLed
`chat` or `run` left the fork server, its workers and the resource tracker running for good). They
ignore SIGINT, SIGTERM and SIGHUP (a Ctrl-C, a closed terminal or CI's SIGTERM reaches the
whole process group; the indexer alone decides, and a worker dying of it first would read as
a failed worker), and when the indexer stops early (Ctrl-C, an error) they are killed at once
instead of being left to finish their chunk of files. An orphaned worker would otherwise hold the index
lock, which it inherited with the fork, forever.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from itertools import pairwise
from multiprocessing import get_context
from pathlib import Path

from codemem.code.extract import ExtractSettings, FileResult, extract_file
from codemem.code.packed_rows import pack_results
from codemem.infra import imports_uncollected, signals_held

log = logging.getLogger("codemem")

Progress = Callable[[int, int], None]
PARALLEL_MIN_FILES = 48
# The workers fork before the indexer loads numpy (`codemem.code.packed_rows` packs without
# it), so that its import overlaps their parsing. From this many files, it is loaded before:
# the workers' secret scan then finds anchors in long files with it from the first file
# (`codemem.infra.secret_windows`) instead of each worker importing it once that pays.
NUMPY_FIRST_FILES = 1_000
MAX_WORKERS = 8
PR_SET_PDEATHSIG = 1
PARENT_POLL_SECONDS = 1.0
WORKER_EXIT_SECONDS = 5.0  # how long a killed worker is waited for
# Chunks of files submitted ahead per worker: enough to keep parsing while the writer
# commits a batch (about a second).
IN_FLIGHT_PER_WORKER = 8
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}  # the indexer's to act on


_Args = tuple[Path, str, str | None, ExtractSettings, bool]  # one file's `extract_file` arguments


def _worker(args: _Args) -> FileResult:
    """One file's result as the indexer takes it: its tags encoded as the tag store keeps
    them (`EncodedTags`), a few bytes objects to send instead of many small tuples that the
    indexer would unpickle only to pickle them again."""
    result = extract_file(*args)
    if result.tags is not None:
        result.tags = result.tags.encoded()
    return result


def _worker_chunk(chunk: list[_Args]) -> list[FileResult]:
    """A chunk's results, their rows packed together (`codemem.code.packed_rows`)."""
    results = [_worker(args) for args in chunk]
    pack_results(results)
    return results


def _packed_worker(args: _Args) -> FileResult:
    """One file's result parsed in this process, its rows packed as a worker's are: the
    writer takes every file's rows in that one shape."""
    return _worker_chunk([args])[0]


def _init_worker(parent: int | None, indexer: int) -> None:
    """Runs first in every worker: ignore the stop signals and die with the parent (and the
    indexer)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    # Blocked while forking: one that came meanwhile is pending, and now discarded.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no usable libc: the thread below still watches
            pass
    parent = parent or os.getppid()  # a forkserver's child knows its parent only now
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)
    threading.Thread(target=_exit_when_orphaned, args=(parent, indexer), daemon=True).start()
    # What a worker inherited is never garbage, and what it makes for a file is freed by
    # reference counting (parse results hold no cycles): the collector leaves the inherited
    # objects alone and runs far less often (it took about 4 % of a worker's CPU).
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def _exit_when_orphaned(parent: int, indexer: int) -> None:
    """Exit once the parent is gone, or the indexer: a fork server's child outlives a killed
    indexer otherwise, and keeps the fork server (whose pipe it holds) alive with it."""
    while True:
        time.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != parent or not _alive(indexer):
            os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's (the pid was reused)
        return True
    return True


class ParsedFiles(Iterator[FileResult]):
    """The files' results in order. `close` stops the workers whether or not a result was
    read: a generator never started runs no `finally` when closed, so a Ctrl-C between the
    fork and the first result left the pool's idle workers and its thread behind (the
    indexer's exit then waited for them, a long-lived process kept them)."""

    def __init__(self, results: Generator[FileResult, None, None], stop: Callable[[], None]):
        self._results, self._stop = results, stop

    def __next__(self) -> FileResult:
        return next(self._results)

    def close(self) -> None:
        """Stop the workers now (killed unless every result was read)."""
        try:
            self._results.close()
        finally:
            self._stop()


class _Stopper:
    """Stops a pool once (`_stop`), from whichever end of the run gets there first."""

    def __init__(self, pool: ProcessPoolExecutor | None) -> None:
        self._pool = pool

    def stop(self, finished: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            _stop(pool, finished)


def parse_files(
    root: Path,
    items: list[tuple[str, str | None]],
    settings: ExtractSettings,
    workers: int,
    progress: Progress | None,
    not_generated: frozenset[str] = frozenset(),
) -> ParsedFiles:
    """Results in the order of `items`, their rows packed (`FileRows`); parallel when there
    is enough work. The files `not_generated` are never judged generated by their content.

    The workers are forked when this is called (before the caller opens the database);
    close the returned iterator to stop them.
    """
    total = len(items)
    workers = workers or os.cpu_count() or 1
    args = [(root, path, cid, settings, path not in not_generated) for path, cid in items]
    if total < PARALLEL_MIN_FILES or workers < 2:
        results = _with_progress(map(_packed_worker, args), total, progress)
        return ParsedFiles(results, _Stopper(None).stop)
    # Fork (cheap) before the database is opened, so no worker inherits LanceDB's threads;
    # a long-lived process (watch, chat, MCP) that has LanceDB loaded uses a fork server.
    method = "forkserver" if "lancedb" in sys.modules else "fork"
    size = max(1, min(32, total // (workers * 8) or 1))
    chunks = _chunked(args, size, min(workers, MAX_WORKERS))
    context = get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["codemem.code.extract", "numpy"])
    else:
        _load_parsers(chunks)
        if total >= NUMPY_FIRST_FILES:
            with imports_uncollected():
                import numpy  # noqa: F401  (see NUMPY_FIRST_FILES)
    pool = ProcessPoolExecutor(
        max_workers=min(workers, MAX_WORKERS),
        mp_context=context,
        initializer=_init_worker,
        initargs=(os.getpid() if method == "fork" else None, os.getpid()),
    )
    # Only a few chunks are in flight: results wait in this process only as long as the
    # writer needs, whatever the repository's size.
    window = min(workers, MAX_WORKERS) * IN_FLIGHT_PER_WORKER
    pending: deque[Future[list[FileResult]]] = deque()
    stopper = _Stopper(pool)
    try:
        with _forking():
            for chunk in chunks[:window]:  # the first submission forks the workers
                pending.append(pool.submit(_worker_chunk, chunk))
    except BaseException:  # a Ctrl-C held over the forks is raised as they end
        stopper.stop()
        raise

    def drain() -> Iterator[FileResult]:
        done, queued = 0, len(pending)
        try:
            while pending:
                results = pending.popleft().result()
                if queued < len(chunks):
                    pending.append(pool.submit(_worker_chunk, chunks[queued]))
                    queued += 1
                for result in results:
                    done += 1
                    yield result
        except (BrokenProcessPool, OSError) as exc:
            # A worker died (out of memory, killed): finish the rest in this process.
            log.warning("parser workers failed (%s); continuing in one process", exc)
            yield from map(_packed_worker, args[done:])
        finally:
            stopper.stop(finished=done == total)

    return ParsedFiles(_with_progress(drain(), total, progress), stopper.stop)


def _load_parsers(chunks: list[list[_Args]]) -> None:
    """Load the parsers' modules, and the grammar and compiled tag query of each code language
    that more than one chunk of files holds, in this process before it forks: every worker
    loaded its own otherwise (the modules: about 10 ms; Python's query: 16 ms; C++'s: 0.23 s).
    A `.h` file, whose language its content decides, counts for none."""
    from codemem.code import parse  # noqa: F401  (what `extract_file` imports on first use)
    from codemem.code.languages import get_query, language_for_path

    chunks_of: Counter[str | None] = Counter()
    for chunk in chunks:
        chunks_of.update({language_for_path(path) for _, path, _, _, _ in chunk if _decided(path)})
    for language, count in chunks_of.items():
        if language is not None and count > 1:
            get_query(language, with_errors=True)  # the one `parse_file` runs (and its grammar)


def _decided(path: str) -> bool:
    """Whether a file's language is known from its path alone."""
    return not path.lower().endswith(".h")


@contextmanager
def _forking() -> Iterator[None]:
    """Around the forks of the workers: the stop signals held, in both processes.

    A worker inherits this thread's mask: one that comes between its fork and its
    initializer stays pending there (else a traceback, or a worker dead of SIGTERM), and is
    discarded once the initializer ignores it. This process is signalled all the same
    (another thread takes it), and Python runs the handler in this thread at once, also
    inside the fork's own callbacks (`os.register_at_fork`: logging's), where the
    KeyboardInterrupt was printed as "Exception ignored" and lost: so the handlers are held
    too (`signals_held`), and run once the forks are done.
    """
    with signals_held():
        masked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, masked)


def _chunked(args: list[_Args], size: int, workers: int) -> list[list[_Args]]:
    """`args` in chunks of `size`; the last few quarter that size, so that no worker idles
    long while another parses the run's last chunk."""
    small = max(1, size // 4)
    head = max(0, len(args) - 2 * workers * size)
    starts = [*range(0, head, size), *range(head, len(args), small)]
    return [args[a:b] for a, b in pairwise([*starts, len(args)])]


def _stop(pool: ProcessPoolExecutor, finished: bool) -> None:
    """Shut the pool down; kill the workers first when their work is no longer wanted.

    Workers that finished are told to exit and not waited for (a few milliseconds at the
    end of every run): the pool's own thread reaps them, and they hold nothing the caller
    needs (the index lock they inherited is released with `flock`'s unlock, not by a close).
    """
    if not finished:
        # Python 3.11 has no public way to terminate a pool's workers (3.14 adds one).
        processes = list((getattr(pool, "_processes", None) or {}).values())
        for process in processes:
            process.kill()
        for process in processes:
            process.join(WORKER_EXIT_SECONDS)
        # A worker killed while it sent a result left half a message, and the pool's thread
        # waits for the rest, which never comes while this process holds the pipe's other
        # end (the pool never writes to it): closed, the read ends, and so does the thread.
        writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
        if writer is not None:
            writer.close()
    pool.shutdown(wait=not finished, cancel_futures=True)


def _with_progress(
    results: Iterator[FileResult], total: int, progress: Progress | None
) -> Generator[FileResult, None, None]:
    try:
        if progress:  # begun: the first file can take a while (a 6 MB one, many seconds)
            progress(0, total)
        for done, result in enumerate(results, 1):
            if progress:
                progress(done, total)
            yield result
    finally:
        if isinstance(results, Generator):
            results.close()  # shut the worker pool down now, not whenever GC gets to it

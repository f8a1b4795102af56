"""Changed paths, from the file system to a batch worth one index refresh.

`TreeObserver` runs a watchdog observer (inotify on Linux: the thread sleeps in the kernel
until something happens) over the work tree: the root itself, plus a recursive watch per
top-level folder that is not `.git/`, `.codemem/` or ignored by git, so a `node_modules/` or
`.venv/` costs no inotify watches and wakes nobody. Only writes, creations, deletions and
moves are delivered: reading files (our own indexing) never wakes the daemon. When the kernel
has no inotify watch or instance left (`fs.inotify.max_user_watches`, `max_user_instances`:
at start, for a new top-level folder, or, as watchdog only logs, for a folder made inside a
watched one), it says so once with the sysctl to raise and polls the same folders every
`POLL_SECONDS` (the polling observer started before the inotify one stops, so no change falls
between). While it polls it tries inotify again (`inotify_again`) every `RETRY_SECONDS`, and at
once when one of the kernel's inotify limits changes (someone ran that sysctl); it goes back
when every folder is watched again, the poller stopped only then (what changed between the
poller's last look and inotify's first is for the caller's next index run to find).

`Debouncer` collects changed paths from the observer's thread and says when a batch is ready:
after `quiet` seconds without a new event, or `max_wait` seconds after the first one, so a
burst of saves (an editor's write-rename-chmod, a `git checkout`) becomes one refresh and a
lone save is still searchable within a second. It wakes the main loop through a pipe, which a
signal handler can also write to without taking any lock.

`PathFilter` decides which paths can change the index: nothing under `.git/` or `.codemem/`,
nothing git ignores (one `git check-ignore --stdin` per batch, answers cached), nothing the
`index.exclude` globs leave out.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from watchdog import events as fs
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserverVFS

from codemem.code import matches_any
from codemem.errors import GitError
from codemem.infra import run_git

log = logging.getLogger("codemem")

QUIET_SECONDS = 0.3
MAX_WAIT_SECONDS = 1.0
SKIPPED_DIRS = (".git", ".codemem")
CACHE_LIMIT = 20_000
POLL_SECONDS = 2.0
RETRY_SECONDS = 60.0
# The kernel's inotify limits: the system's, and the user namespace's (the lower one holds).
LIMIT_FILES = (
    "/proc/sys/fs/inotify/max_user_watches",
    "/proc/sys/fs/inotify/max_user_instances",
    "/proc/sys/user/max_inotify_watches",
    "/proc/sys/user/max_inotify_instances",
)
# inotify out of watches (ENOSPC: fs.inotify.max_user_watches) or of instances (EMFILE:
# fs.inotify.max_user_instances); watchdog raises these from `schedule` and `start`.
INOTIFY_LIMITS = (errno.ENOSPC, errno.EMFILE)
WATCHDOG_INOTIFY_LOG = logging.getLogger("watchdog.observers.inotify")


class Debouncer:
    """Pending changed paths, shared between the observer thread and the main loop."""

    def __init__(
        self,
        quiet: float = QUIET_SECONDS,
        max_wait: float = MAX_WAIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet = quiet
        self.max_wait = max_wait
        self.clock = clock
        self._lock = threading.Lock()
        self._paths: set[str] = set()
        self._first: float | None = None
        self._last: float | None = None
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def add(self, path: str) -> None:
        """Record a changed repository path (called from the observer thread)."""
        now = self.clock()
        with self._lock:
            first = not self._paths
            self._paths.add(path)
            self._last = now
            if first:
                self._first = now
        if first:
            self.wake()

    def wake(self) -> None:
        """Interrupt `wait` (safe from a signal handler: one write(2), no lock)."""
        with contextlib.suppress(OSError):  # full or closed: the loop is awake or gone anyway
            os.write(self._write, b"!")

    def ready_at(self) -> float | None:
        """When the pending batch becomes ready (None: nothing pending)."""
        with self._lock:
            if self._first is None or self._last is None:
                return None
            return min(self._last + self.quiet, self._first + self.max_wait)

    def wait(self, timeout: float | None) -> None:
        """Sleep until woken, a batch is ready, or `timeout` seconds (None: indefinitely)."""
        ready = self.ready_at()
        if ready is not None:
            until_ready = max(0.0, ready - self.clock())
            timeout = until_ready if timeout is None else min(timeout, until_ready)
        try:
            readable, _, _ = select.select([self._read], [], [], timeout)
        except InterruptedError:  # pragma: no cover - PEP 475 retries, kept for safety
            readable = []
        if readable:
            try:
                while os.read(self._read, 4096):
                    pass
            except BlockingIOError:
                pass

    def take(self, force: bool = False) -> tuple[set[str], float | None]:
        """The ready batch and the time of its last event; empty while it is still settling."""
        now = self.clock()
        with self._lock:
            if self._first is None or self._last is None:
                return set(), None
            if not force and now < min(self._last + self.quiet, self._first + self.max_wait):
                return set(), None
            paths, last = self._paths, self._last
            self._paths, self._first, self._last = set(), None, None
        return paths, last

    def close(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


def skipped_by_name(path: str) -> bool:
    """Paths that never trigger work, judged from the name alone (cheap: the observer thread)."""
    return path.split("/", 1)[0] in SKIPPED_DIRS or "/.git/" in f"/{path}"


class PathFilter:
    """Which changed paths could change the code index."""

    def __init__(
        self, root: Path, include: Iterable[str] = (), exclude: Iterable[str] = ()
    ) -> None:
        self.root = root
        self.include = list(include)
        self.exclude = list(exclude)
        self._ignored: dict[str, bool] = {}

    def relevant(self, paths: Iterable[str]) -> list[str]:
        """The paths (sorted) that are neither skipped, ignored by git, nor excluded."""
        candidates = sorted(p for p in set(paths) if p and not skipped_by_name(p))
        if any(p == ".gitignore" or p.endswith("/.gitignore") for p in candidates):
            self._ignored.clear()  # the rules changed: every cached answer may be wrong
        unknown = [p for p in candidates if p not in self._ignored]
        if unknown:
            if len(self._ignored) > CACHE_LIMIT:
                self._ignored.clear()
            ignored = self._check_ignore(unknown)
            self._ignored.update((p, p in ignored) for p in unknown)
        out = []
        for path in candidates:
            if self._ignored[path] and not (self.include and matches_any(path, self.include)):
                continue
            if self.exclude and matches_any(path, self.exclude):
                continue
            out.append(path)
        return out

    def _check_ignore(self, paths: list[str]) -> set[str]:
        """One `git check-ignore` for the whole batch (tracked files are never ignored)."""
        data = b"".join(p.encode("utf-8", "surrogateescape") + b"\0" for p in paths)
        try:  # exit code 1: nothing ignored
            out = run_git(self.root, "check-ignore", "-z", "--stdin", input=data, ok=(0, 1))
        except GitError:  # git failed: assume nothing is ignored
            return set()
        return {p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p}


class _EventHandler(fs.FileSystemEventHandler):
    """Receives watchdog events (observer thread) and passes repository paths on, cheaply."""

    def __init__(self, root: Path, debouncer: Debouncer) -> None:
        self.root = str(root)
        self.debouncer = debouncer

    def dispatch(self, event: fs.FileSystemEvent) -> None:
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if not raw:
                continue
            rel = os.path.relpath(os.fsdecode(raw), self.root).replace(os.sep, "/")
            if rel.startswith("../") or rel == "." or skipped_by_name(rel):
                continue
            self.debouncer.add(rel)


# The events that can change what is indexed (not FileOpenedEvent and the like).
EVENT_TYPES = [
    fs.FileCreatedEvent,
    fs.FileModifiedEvent,
    fs.FileDeletedEvent,
    fs.FileMovedEvent,
    fs.FileClosedEvent,
    fs.DirCreatedEvent,
    fs.DirDeletedEvent,
    fs.DirMovedEvent,
]


class TreeObserver:
    """Watches the work tree and feeds changed repository paths to a `Debouncer`."""

    def __init__(
        self,
        root: Path,
        debouncer: Debouncer,
        path_filter: PathFilter,
        *,
        watch_ignored: bool = False,
    ) -> None:
        self.root = root
        self.filter = path_filter
        self.watch_ignored = watch_ignored  # `index.include` globs may reach into ignored trees
        self._handler = _EventHandler(root, debouncer)
        self._observer: BaseObserver | None = None
        self._watched: dict[str, ObservedWatch] = {}  # top-level folder -> its recursive watch
        self.polling: str | None = None  # why it polls, once inotify ran out
        self._spotter = _LimitSpotter(self._limit_reached)
        self._limit_hit: OSError | None = None  # in a folder made since (the observer's thread)
        self._retry_at = 0.0  # while polling: when to try inotify again
        self._limits: tuple[str, ...] = ()  # the kernel's limits when inotify last ran out

    def start(self) -> None:
        """Watch with inotify or, when the kernel has no watch or instance left, by polling."""
        WATCHDOG_INOTIFY_LOG.addFilter(self._spotter)
        try:
            self._begin(Observer())
        except OSError as exc:
            if exc.errno not in INOTIFY_LIMITS:
                raise
            self._fall_back(exc)

    def _begin(self, observer: BaseObserver, *, strict: bool = False) -> None:
        """Start `observer` on the root, then add a watch per top-level folder (the old
        observer, if any, runs on meanwhile: no change falls between the two). `strict`: a
        folder that cannot be watched for a kernel limit fails it all, the old observer kept."""
        old, old_watched = self._observer, self._watched
        self._observer, self._watched = observer, {}
        try:
            observer.schedule(
                self._handler, str(self.root), recursive=False, event_filter=EVENT_TYPES
            )
            observer.start()
            names = sorted(
                e.name
                for e in os.scandir(self.root)
                if e.is_dir(follow_symlinks=False) and e.name not in SKIPPED_DIRS
            )
            self._watch(names if self.watch_ignored else self.filter.relevant(names), strict)
        except BaseException:
            self._observer, self._watched = old, old_watched
            _stop(observer)
            raise
        if old is not None:
            _stop(old)

    def inotify_again(self) -> bool:
        """While polling: try inotify again, when `RETRY_SECONDS` have passed since the last
        try or the kernel's limits changed; whether it is back on inotify (the poller stopped;
        the caller looks for what changed meanwhile)."""
        if not self.polling:
            return False
        now, limits = time.monotonic(), _inotify_limits()
        if now < self._retry_at and limits == self._limits:
            return False
        self._retry_at, self._limits = now + RETRY_SECONDS, limits
        self._limit_hit = None
        try:
            self._begin(Observer(), strict=True)
        except OSError as exc:
            if exc.errno not in INOTIFY_LIMITS:
                log.warning("watch: cannot watch with inotify again, still polling: %s", exc)
            return False
        if self._limit_hit is not None:  # a folder made inside meanwhile found none left
            self._fall_back(self._limit_hit)
            return False
        log.warning("watch: inotify has room again; no longer polling")
        self.polling = None
        return True

    def _fall_back(self, exc: OSError) -> None:
        """Out of inotify watches or instances: poll the same folders instead, and say how to
        get inotify back."""
        which, setting = (
            ("watch", "max_user_watches=524288")
            if exc.errno == errno.ENOSPC
            else ("instance", "max_user_instances=1024")
        )
        self.polling = (
            f"the inotify {which} limit is reached; polling every {POLL_SECONDS:g}s instead "
            f"(raise it: sudo sysctl fs.inotify.{setting}; codemem watch then goes back to "
            f"inotify, and tries again every {RETRY_SECONDS:g}s meanwhile)"
        )
        log.warning("watch: %s", self.polling)
        self._retry_at, self._limits = time.monotonic() + RETRY_SECONDS, _inotify_limits()
        self._begin(PollingObserverVFS(os.lstat, _scan_unskipped, polling_interval=POLL_SECONDS))

    def _limit_reached(self, exc: OSError, path: str) -> None:
        """watchdog found no watch left for a folder made inside a watched one (observer
        thread): have the main loop fall back to polling, in `saw`, before it indexes."""
        self._limit_hit = exc
        self._handler.dispatch(fs.DirCreatedEvent(path))

    def saw(self, paths: set[str], relevant: list[str]) -> None:
        """Follow top-level folders that appeared or went away in a batch of changed paths
        (`relevant`: the batch after the path filter)."""
        if self._limit_hit is not None and not self.polling:
            self._fall_back(self._limit_hit)  # the index run after this sees what polling missed
            return
        for gone in [p for p in paths if p in self._watched and not (self.root / p).is_dir()]:
            self._unwatch(gone)
        wanted = set(relevant)
        self._watch(
            sorted(
                p
                for p in paths
                if "/" not in p
                and (self.watch_ignored or p in wanted)
                and (self.root / p).is_dir()
                and not (self.root / p).is_symlink()
            )
        )

    def _unwatch(self, name: str) -> None:
        old = self._watched.pop(name, None)
        if old is not None:
            assert self._observer is not None  # a watch exists only while started
            with contextlib.suppress(KeyError, OSError):
                self._observer.unschedule(old)

    def _watch(self, names: list[str], strict: bool = False) -> None:
        assert self._observer is not None  # called from start() and while running
        for name in names:
            self._unwatch(name)  # re-created or renamed: a watch follows the old folder
            try:
                self._watched[name] = self._observer.schedule(
                    self._handler, str(self.root / name), recursive=True, event_filter=EVENT_TYPES
                )
            except OSError as exc:
                if exc.errno in INOTIFY_LIMITS and strict:
                    raise  # back to inotify only with every folder watched
                if exc.errno in INOTIFY_LIMITS and not self.polling:
                    self._fall_back(exc)  # polls every folder, this one and those left
                    return
                log.warning("watch: cannot watch %s/: %s", name, exc)  # gone again

    def stop(self) -> None:
        WATCHDOG_INOTIFY_LOG.removeFilter(self._spotter)
        if self._observer is not None:
            _stop(self._observer)
            self._observer = None


class _LimitSpotter(logging.Filter):
    """Hears watchdog's warning that a new folder inside a watched one could not be watched
    for want of inotify watches (it raises that only while a watch starts), and keeps it."""

    def __init__(self, on_limit: Callable[[OSError, str], None]) -> None:
        super().__init__()
        self.on_limit = on_limit

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        errors = [a for a in args if isinstance(a, OSError) and a.errno in INOTIFY_LIMITS]
        paths = [os.fsdecode(a) for a in args if isinstance(a, (bytes, str))]
        if errors and paths:
            self.on_limit(errors[0], paths[0])
            return False  # the daemon says it, once, with the fix
        return True


def _inotify_limits() -> tuple[str, ...]:
    """The kernel's inotify limits as they read now (empty where there are none to read)."""
    values = []
    for name in LIMIT_FILES:
        try:
            with open(name, encoding="ascii") as limit:
                values.append(limit.read().strip())
        except (OSError, ValueError):
            values.append("")
    return tuple(values)


def _stop(observer: BaseObserver) -> None:
    """Stop an observer, started or not (stopping one releases its inotify instance)."""
    observer.stop()
    if observer.ident is not None:  # joining a thread never started raises
        observer.join(timeout=5)


def _scan_unskipped(path: str | None) -> Iterator[os.DirEntry]:
    """The polling observer's `scandir`: `.git/` and `.codemem/` at any depth are not walked
    (and, with `os.lstat`, no symlink is followed: as with inotify)."""
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name not in SKIPPED_DIRS or not entry.is_dir(follow_symlinks=False):
                yield entry

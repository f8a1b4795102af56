"""The watch daemon as a process: one per repository, its pid, status, log, start and stop.

Everything lives in `.codemem/local/`:

- `watch.lock`: held (flock) for the daemon's whole life. The kernel drops it when the process
  dies, however it dies, so a lock that can be taken means no daemon runs, and a pid file
  next to it is stale (left by a crash) and is simply replaced.
- `watch.pid`: the daemon's pid, for `--stop` and for people.
- `watch.json`: what it is doing and has done (start time, last index, last digest), and
  where its search socket is; rewritten atomically; `--status` reads it.
- `watch.log`: a small rotating log.

If `.codemem/local/` is removed or replaced under a running daemon, the daemon notices (its
lock file is no longer the one it holds, `DaemonLock.still_ours`) and stops: a daemon no
`--stop` can find must not go on beside the one started next.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import signal
import stat
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from codemem.daemon.query_client import STATUS_FILE, other_version
from codemem.errors import CodememError, FileTooLarge, LockTimeout, NotARegularFile
from codemem.infra import (
    FileLock,
    atomic_write,
    create_private,
    git_text,
    read_regular,
    read_regular_bytes,
)
from codemem.infra import lock_held as file_lock_held
from codemem.merge_driver import codemem_argv
from codemem.workspace import Workspace

log = logging.getLogger("codemem")

LOCK_FILE = "watch.lock"
PID_FILE = "watch.pid"
LOG_FILE = "watch.log"
LOG_BYTES = 512 * 1024
LOG_BACKUPS = 2
# A status probe holds the lock for microseconds; a starting daemon retries this long first.
ACQUIRE_SECONDS = 1.0
PID_REWRITE_SECONDS = 5.0  # a pid file removed alone is written again after this long


class WatchRunningError(CodememError):
    """Another `codemem watch` already runs in this repository."""

    exit_code = 2  # asked for what cannot be done now: a usage mistake, not a failure


def already_running(ws: Workspace) -> WatchRunningError:
    """What `--detach` says when a daemon holds the lock (found before it starts one, or by
    the one it started, when another start won the race)."""
    return WatchRunningError(f"codemem watch is already running in {ws.root} (pid {read_pid(ws)})")


def local_path(ws: Workspace, name: str) -> Path:
    return ws.local_dir / name


class DaemonLock:
    """The one-per-repository lock and its pid file; `with DaemonLock(ws):` or raise."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.lock_path = local_path(ws, LOCK_FILE)
        self.pid_path = local_path(ws, PID_FILE)
        self._lock: FileLock | None = None
        self._folder: int | None = None  # `.codemem/local/` as locked, wherever it is now
        self._pid_missing_since: float | None = None  # when `still_ours` found no pid file
        self.stale_pid: int | None = None  # the pid a crashed daemon left behind, if any

    def acquire(self) -> None:
        self.ws.ensure_local()
        folder = os.open(self.ws.local_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        lock = FileLock(self.lock_path, ACQUIRE_SECONDS)
        try:
            lock.acquire()
        except LockTimeout:
            os.close(folder)
            pid = read_pid(self.ws)
            who = f" (pid {pid})" if pid else ""
            raise WatchRunningError(
                f"codemem watch is already running in {self.ws.root}{who}; "
                "`codemem watch --status` shows it, `codemem watch --stop` stops it"
            ) from None
        except BaseException:
            os.close(folder)
            raise
        self._lock, self._folder = lock, folder
        self.stale_pid = read_pid(self.ws)
        atomic_write(self.pid_path, f"{os.getpid()}\n")

    def still_ours(self) -> bool:
        """Whether the lock file is still the one this process holds (not removed or replaced).

        A pid file removed alone is written again, once it has stayed away for
        `PID_REWRITE_SECONDS` with the lock in place: whoever holds the lock owns it. (Not at
        once: an `rm -rf` of the folder that has reached the pid file but not yet the lock
        would fail with "Directory not empty".)
        """
        if self._lock is None or not self._lock.is_current():
            return False
        if read_pid(self.ws) == os.getpid():
            self._pid_missing_since = None
        elif self._pid_missing_since is None:
            self._pid_missing_since = time.monotonic()
        elif time.monotonic() - self._pid_missing_since >= PID_REWRITE_SECONDS:
            atomic_write(self.pid_path, f"{os.getpid()}\n")
            self._pid_missing_since = None
        return True

    def release(self) -> None:
        if self._lock is None:
            return
        if self._folder is not None:
            self._remove_own_pid(self._folder)
            os.close(self._folder)
            self._folder = None
        self._lock.release()
        self._lock = None

    @staticmethod
    def _remove_own_pid(folder: int) -> None:
        """Remove the pid file if it names this process, in the folder this daemon locked,
        found by its descriptor: a repository moved (`mv`) under the daemon keeps no pid file
        that says it did not stop cleanly, and a folder removed and made anew for the daemon
        started next is not touched."""
        try:
            fd = os.open(PID_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
        except OSError:
            return
        try:
            ours = stat.S_ISREG(os.fstat(fd).st_mode) and os.read(fd, 64).strip() == (
                str(os.getpid()).encode()
            )
        finally:
            os.close(fd)
        if ours:
            with contextlib.suppress(OSError):
                os.unlink(PID_FILE, dir_fd=folder)

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_pid(ws: Workspace) -> int | None:
    try:  # read as every file under local/ is: no link followed, no FIFO waited on, bounded
        text = read_regular(local_path(ws, PID_FILE), max_bytes=64).strip()
    except (OSError, UnicodeDecodeError, NotARegularFile, FileTooLarge):
        return None
    return int(text) if text.isdigit() else None


def lock_held(ws: Workspace) -> bool:
    """Whether a daemon holds the lock (probes it without waiting)."""
    return file_lock_held(local_path(ws, LOCK_FILE))


# -- status ---------------------------------------------------------------------------------


@dataclass
class WatchStatus:
    """What the daemon writes to `watch.json` (and `--status --json` prints, plus `running`)."""

    pid: int | None = None
    started_at: float | None = None  # epoch seconds
    idle_minutes: float | None = None
    activity: str = "stopped"  # starting | watching | indexing | digesting | stopped
    last_event_at: float | None = None
    index_runs: int = 0  # refreshes since this daemon started (the catch-up one included)
    last_index: dict[str, Any] | None = (
        None  # at, ended, paths, seconds, added, changed, removed, error
    )
    last_digest: dict[str, Any] | None = None  # at, head, commits, digest, changes, error
    # bookkeeping of the idle check: what the last pass already saw
    digested_head: str | None = None
    sessions_seen: str | None = None
    socket: str | None = None  # where it answers searches (set once it listens)
    polling: str | None = None  # why it polls the tree (inotify ran out), with the fix
    protocol: int | None = None  # query_client.PROTOCOL of the daemon's version (None: before it)

    @classmethod
    def from_json(cls, data: Any) -> WatchStatus:
        if not isinstance(data, dict):
            return cls()
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        try:
            return cls(**known)
        except TypeError:
            return cls()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def read_status(ws: Workspace) -> WatchStatus:
    try:
        return WatchStatus.from_json(json.loads(read_regular_bytes(local_path(ws, STATUS_FILE))))
    except (OSError, ValueError, NotARegularFile):
        return WatchStatus()


def write_status(ws: Workspace, status: WatchStatus) -> None:
    text = json.dumps(status.to_json(), indent=2, sort_keys=True) + "\n"
    atomic_write(local_path(ws, STATUS_FILE), text)


def describe_status(ws: Workspace) -> dict[str, Any]:
    """`--status`: running or not, with pid, uptime and the last index and digest."""
    status = read_status(ws)
    running = lock_held(ws)
    pid = read_pid(ws) if running else None
    out: dict[str, Any] = {
        "running": running,
        "pid": pid,
        # never below 0: the clock may have been set back since (a laptop resumed)
        "uptime_s": max(0.0, round(time.time() - status.started_at, 1))
        if running and status.started_at and status.pid == pid
        else None,
        "activity": status.activity if running else "stopped",
        "idle_minutes": status.idle_minutes,
        "index_runs": status.index_runs if running else None,
        # the last index run whoever ran it (an `index`, a search, `init`), and the daemon's
        "last_index": _last_index(ws, status.last_index),
        "watch_index": status.last_index,
        # the last digest whoever ran it (`by`), and the daemon's own last one (its errors too)
        "last_digest": last_digest(ws) or _by_watch(status.last_digest),
        "watch_digest": status.last_digest,
        "socket": status.socket if running else None,
        "polling": status.polling if running else None,
        "other_version": running and other_version(status.to_json()),
        "log": str(local_path(ws, LOG_FILE)),
        "uncommitted_memory": uncommitted_memory(ws),
    }
    if not running and read_pid(ws) is not None:
        out["stale_pid"] = read_pid(ws)
    return out


def last_digest(ws: Workspace) -> dict[str, Any] | None:
    """What the last digest in this clone did, whoever ran it: `{at, by, head, commits,
    digest, changes}` (`sleep.state.write_last_digest`); None before any, or when the record
    is damaged (derived: the next pass writes it anew)."""
    try:
        record = json.loads(read_regular_bytes(ws.last_digest_file, 64 * 1024))
    except (OSError, ValueError, NotARegularFile, FileTooLarge):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("at"), (int, float)):
        return None
    return record


def _last_index(ws: Workspace, daemons: dict[str, Any] | None) -> dict[str, Any] | None:
    """The daemon's record of its last index run, with what it changed, unless the index was
    brought up to date since by another command: then when, and the files it holds."""
    from codemem.code import last_indexed  # the manifest's settings; --stop needs no code index

    saved = last_indexed(ws.index_dir)
    if daemons and (saved is None or _ended(daemons) >= saved["at"]):
        return {**daemons, "by": "codemem watch"}
    return saved


def _ended(record: dict[str, Any]) -> float:
    """When a run the daemon recorded ended (an older daemon's record: began, plus its time)."""
    ended = record.get("ended")
    if isinstance(ended, (int, float)):
        return float(ended)
    return float(record.get("at") or 0) + float(record.get("seconds") or 0)


def _by_watch(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """The daemon's record of its last digest, said to be the daemon's (an older version's
    daemon wrote no `last-digest.json`)."""
    return {**record, "by": "codemem watch"} if record else None


def uncommitted_memory(ws: Workspace) -> list[str]:
    """The files under `.codemem/` that differ from the last commit (git ignores local/)."""
    try:
        out = git_text(ws.root, "status", "--porcelain", "--untracked-files=all", "--", ws.dir.name)
    except CodememError:  # no git, or not a repository: nothing to say
        return []
    return sorted(line[3:] for line in out.splitlines() if line.strip())


# -- log ------------------------------------------------------------------------------------


class _DaemonLogHandler(RotatingFileHandler):
    """A rotating log that, in a detached daemon, also carries stdout and stderr.

    The detached daemon's fds 1 and 2 point at the log (a traceback from a crash still lands
    there); after a rollover they are moved to the new file with the handler's stream.
    """

    def __init__(self, path: Path, detached: bool) -> None:
        super().__init__(path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
        self.detached = detached

    def _open(self) -> io.TextIOWrapper:  # the log quotes file names and errors: the owner's alone
        create_private(Path(self.baseFilename))
        return super()._open()

    def doRollover(self) -> None:  # noqa: N802 - logging's name
        super().doRollover()
        if self.detached and self.stream is not None:
            sys.stdout.flush(), sys.stderr.flush()
            for fd in (1, 2):
                os.dup2(self.stream.fileno(), fd)


def setup_log(ws: Workspace, *, detached: bool, level: int = logging.INFO) -> logging.Handler:
    """Send codemem's log to `watch.log` (and, in the foreground, on to stderr as usual)."""
    handler = _DaemonLogHandler(local_path(ws, LOG_FILE), detached)
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
    logger = logging.getLogger("codemem")
    logger.addHandler(handler)
    logger.setLevel(min(level, logger.getEffectiveLevel()))
    if detached:
        logger.propagate = False  # no terminal: the log file is the only output
    return handler


# -- start and stop -------------------------------------------------------------------------


def start_detached(ws: Workspace, argv: list[str], timeout: float = 30.0) -> int:
    """Start `codemem watch` in the background (a new session, output to the log); its pid.

    Waits until the daemon serves (holds its lock and listens on its socket); if it exits
    first, raises with the last line it wrote to the log (its error).
    """
    ws.ensure_local()
    logfile = create_private(local_path(ws, LOG_FILE))
    with open(logfile, "ab") as out:
        start = out.tell()
        proc = subprocess.Popen(
            [*codemem_argv(), "--repo", str(ws.root), "watch", *argv, "--daemon"],
            cwd=ws.root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code == WatchRunningError.exit_code and lock_held(ws):  # another start won the race
            raise already_running(ws)
        if code is not None:
            raise CodememError(
                f"codemem watch stopped as it started (exit {code}): "
                f"{_last_line(logfile, start)} (log: {logfile})"
            )
        status = read_status(ws)
        if status.pid == proc.pid and status.socket and lock_held(ws):
            return proc.pid
        time.sleep(0.05)
    raise CodememError(f"codemem watch did not start within {timeout:g}s; see {logfile}")


def stop_daemon(ws: Workspace, timeout: float = 30.0) -> int | None:
    """SIGTERM the running daemon and wait for it to let go of its lock; its pid, or None."""
    if not lock_held(ws):
        return None
    pid = read_pid(ws)
    if pid is None:
        raise CodememError(f"codemem watch holds {local_path(ws, LOCK_FILE)} but wrote no pid file")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not lock_held(ws):
            return pid
        time.sleep(0.05)
    raise CodememError(f"codemem watch (pid {pid}) did not stop within {timeout:g}s")


def _last_line(path: Path, start: int) -> str:
    """The last line written to the log after offset `start` (an error's one-line reason:
    `codemem: error: ...`, or a traceback's last line)."""
    try:
        with open(path, "rb") as log_file:
            log_file.seek(start)
            text = log_file.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1].removeprefix("codemem: error: ") if lines else "(nothing in the log)"

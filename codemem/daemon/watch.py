"""`codemem watch`: keep the index fresh while files change; digest when the repository rests.

A watchdog observer (inotify on Linux: the process sleeps in the kernel until something
happens) feeds changed paths to a `Debouncer`; the main thread waits on it, and when a batch
settles it drops what cannot change the index (`.git/`, `.codemem/`, ignored files) and runs
one `CodeIndex.refresh`; so does a change of the git directory's `info/attributes`, which no
watch covers (its stamp is looked at each time the loop wakes). Every index write and every digest runs in this one thread, never two at
once.

Idle means no relevant file event for `sleep.idle_minutes`, no `codemem chat` running, no
git merge, rebase, cherry-pick, revert or bisect waiting for the user (its commit would sweep
up what the pass writes), no git command holding the index's lock and no other digest
running in the clone (`codemem digest`, a CI job: it does this pass's work). Then,
if something is new since the last pass (HEAD moved past the commit the last pass reached,
or recall has a session newer than the last one seen), it runs one `run_digest`. A pass that
fails is not retried until something new appears again; one dropped because HEAD moved under
it, or one of those git operations began (`HeadMovedError`: it wrote nothing), or another
digest took the clone first (`DigestRunningError`), is redone at the next idle moment if
still needed.

Stopping: SIGINT or SIGTERM sets a flag and wakes the loop. A pass in progress stops at its
next safe point (between files of the re-index, before consolidation), or after
`STOP_GRACE_SECONDS` wherever it is (or at once on a second signal): every write of a pass is
atomic (temp file, fsync, rename) and the local bookkeeping is written last, so an interrupted pass
leaves no torn file and is simply redone by the next one.

State gone: at least every `STATE_CHECK_SECONDS`, and before each status write, the daemon
checks that `.codemem/local/watch.lock` is still the file it locked; if that folder was removed
or replaced it stops (leaving the new folder alone), so a daemon started next never runs
beside one that `--stop` can no longer find. A pass checks too, at its safe points (at most
every `STATE_CHECK_IN_PASS_SECONDS`): the repository deleted or moved mid-pass stops it there,
rather than have it make `.codemem/local/` again where the repository was. Between two safe
points no write makes a missing `.codemem/local/`, `.codemem/` or repository folder
(`infra.make_folder`; the index store checks its folder before each LanceDB write, and the
index writer reaches it through a descriptor, `code/store.py`'s `anchored`), and the
parser workers a stop kills never hang the pool that waits on them (`code/workers.py`).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import time
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING

from codemem.agent.chatlock import chat_running
from codemem.code import CodeIndex
from codemem.config import Config
from codemem.daemon import lifeline
from codemem.daemon.events import Debouncer, PathFilter, TreeObserver
from codemem.daemon.process import DaemonLock, WatchStatus, read_status, write_status
from codemem.daemon.query_client import PROTOCOL
from codemem.daemon.query_server import QueryServer
from codemem.errors import DigestRunningError, HeadMovedError
from codemem.infra import (
    LockHolder,
    attributes_stamp,
    head_commit,
    index_locked,
    parse_when,
    utc_now,
)
from codemem.memory import GitBusyError, Recall
from codemem.sleep import DigestOptions, digest_running, run_digest

if TYPE_CHECKING:
    from codemem.code import IndexSummary
from codemem.sleep.state import read_local_state, read_state
from codemem.workspace import Workspace

log = logging.getLogger("codemem")

STOP_GRACE_SECONDS = 10.0
MAX_RECHECK_SECONDS = 60.0
STATE_CHECK_SECONDS = 1.0
STATE_CHECK_IN_PASS_SECONDS = 0.2


class StopRequested(BaseException):
    """Raised inside a pass to abandon it (a BaseException, so no `except Exception` eats it)."""


def newest_session(ws: Workspace) -> datetime | None:
    """When the newest recall message was written (never creates the database)."""
    if not ws.recall_db.exists():
        return None
    with Recall(ws) as recall:
        stamps = [s.last_message for s in recall.list_sessions() if s.last_message is not None]
    return max(stamps, default=None)


class Watcher:
    """The daemon's loop over one repository (see the module docstring)."""

    def __init__(
        self,
        ws: Workspace,
        config: Config,
        *,
        idle_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ws = ws
        self.config = config
        settings = config.sleep
        self.idle_seconds = idle_seconds if idle_seconds is not None else settings.idle_minutes * 60
        self.sessions = settings.sessions
        self.use_model = settings.watch_llm
        # Nothing produces a file event when a commit lands or a chat ends: look again this often.
        self.recheck_seconds = min(MAX_RECHECK_SECONDS, max(1.0, self.idle_seconds / 4))
        self.clock = clock
        self.debouncer = Debouncer(clock=clock)
        self.filter = PathFilter(ws.root, config.index.include, config.index.exclude)
        self.status = WatchStatus()
        self.stopping = False
        self._busy = False
        self._last_activity = clock()
        self._last_check = float("-inf")
        self._chat_waited: str | None = None
        self._git_waited: str | None = None  # the git operation the digest last waited for
        self._pass_waited: LockHolder | None = None  # the other pass the digest last waited for
        self._lock: DaemonLock | None = None
        self.state_lost = False  # .codemem/local/ was removed or replaced under the daemon
        self._state_checked = float("-inf")  # when a pass last looked (`_checkpoint`)
        self._guarded = False  # lifeline armed: what this process forks dies with it
        self.queries: QueryServer | None = None  # answering searches, once serving
        self.observer = TreeObserver(
            ws.root, self.debouncer, self.filter, watch_ignored=bool(config.index.include)
        )
        # The git directory's `info/attributes` as last seen (`_attributes_changed`).
        self._attributes_seen = attributes_stamp(ws.root)

    # -- the loop --------------------------------------------------------------------------------

    def run(self, on_started: Callable[[], None] | None = None) -> None:
        """Hold the daemon lock and watch until SIGINT or SIGTERM (main thread only).

        `on_started` is called once the lock is held (a second instance never gets there).
        """
        self.ws.check_initialized()
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_alarm)
        try:
            with DaemonLock(self.ws) as lock:
                if lock.stale_pid is not None:
                    log.warning(
                        "watch: replaced the pid file of a daemon that did not stop "
                        "cleanly (pid %s)",
                        lock.stale_pid,
                    )
                self._lock = lock
                if on_started is not None:
                    on_started()
                self._serve()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.debouncer.close()

    def _serve(self) -> None:
        old = read_status(self.ws)
        self.status = WatchStatus(
            pid=os.getpid(),
            started_at=time.time(),
            idle_minutes=self.idle_seconds / 60,
            activity="starting",
            last_index=old.last_index,
            last_digest=old.last_digest,
            digested_head=old.digested_head,
            sessions_seen=old.sessions_seen,
            protocol=PROTOCOL,
        )
        self._save_status()
        log.info(
            "watch: started in %s (pid %d, idle after %g min)",
            self.ws.root,
            os.getpid(),
            self.idle_seconds / 60,
        )
        queries = self.queries = QueryServer(self.ws, self.config)
        try:
            queries.bind()  # what can fail at start fails while --detach waits
            self.observer.start()
            self.status.polling = self.observer.polling
            CodeIndex.warm_up()  # before the catch-up, so every index run forks from the fork server
            queries.serve()
            lifeline.arm()
            self._guarded = True
            self.status.socket = str(queries.path)
            self._save_status()  # serving: --detach returns once it reads the socket here
            self._index([])  # catch up with what changed while nobody watched
            while not self.stopping:
                self.status.activity = "watching"
                self.debouncer.wait(min(self._timeout(), STATE_CHECK_SECONDS))
                if self.stopping or not self._state_intact():
                    break
                if self.observer.polling and self.observer.inotify_again():
                    self.status.polling = None
                    self._index([])  # what changed after the poller's last look
                paths, last = self.debouncer.take()
                indexed = bool(paths) and self._changed(paths, last)
                if self._attributes_changed() and not indexed:
                    self._index([])  # the files it marks, or no longer marks, judged again
                if not self.stopping and self._idle_check_due():
                    self._last_check = self.clock()
                    self.on_idle()
        except StopRequested:
            log.info("watch: stopped in the middle of a pass (it is redone next time)")
        finally:
            queries.stop()
            self.observer.stop()
            self.status.activity = "stopped"
            self.status.socket = None
            self._save_status()
            log.info("watch: stopped")

    def _state_intact(self) -> bool:
        """Whether `.codemem/local/` is still this daemon's; if not, stop (see the module doc)."""
        if self.state_lost:
            return False
        if self._lock is None or self._lock.still_ours():
            return True
        log.warning(
            "watch: %s was removed or replaced under the daemon; stopping "
            "(`codemem watch --detach` starts it again)",
            self.ws.local_dir,
        )
        self.state_lost = True
        self.request_stop()
        return False

    def _save_status(self) -> None:
        """Write the status file, unless the state folder is no longer this daemon's."""
        if self._state_intact():
            write_status(self.ws, self.status)

    def _timeout(self) -> float:
        return max(0.0, self._next_check() - self.clock())

    def _next_check(self) -> float:
        return max(self._last_activity + self.idle_seconds, self._last_check + self.recheck_seconds)

    def _idle_check_due(self) -> bool:
        return self.clock() >= self._next_check()

    # -- signals --------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the loop to stop (what SIGINT and SIGTERM do)."""
        self.stopping = True
        self.debouncer.wake()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.stopping and self._busy:
            raise StopRequested  # a second signal: stop now
        log.info("watch: %s received, stopping", signal.Signals(signum).name)
        self.request_stop()
        if self._busy:
            signal.setitimer(signal.ITIMER_REAL, STOP_GRACE_SECONDS)

    def _on_alarm(self, _signum: int, _frame: FrameType | None) -> None:
        if self.stopping and self._busy:
            log.warning(
                "watch: the pass did not reach a safe point in %gs; abandoning it",
                STOP_GRACE_SECONDS,
            )
            raise StopRequested

    def _checkpoint(self, *_args: object) -> None:
        """A safe point inside a pass: stop here if asked to, or if the repository's state
        folder is gone (the repository deleted or moved: the pass would make its folders
        again, under a path nobody uses, and a long one would outlast the `rm -rf`)."""
        if self.stopping:
            raise StopRequested
        now = time.monotonic()  # the real clock: a pass checks each file, the disk less often
        if now - self._state_checked >= STATE_CHECK_IN_PASS_SECONDS:
            self._state_checked = now
            if not self._state_intact():
                raise StopRequested

    def _stop_if_state_lost(self) -> None:
        """A pass that failed because the repository went (a write refused to make its
        folders again, `infra.make_folder`) stops, as at a safe point: no failure to report."""
        if not self._state_intact():
            raise StopRequested

    def _now(self) -> datetime:
        self._checkpoint()
        return utc_now()

    # -- work -----------------------------------------------------------------------------------

    def _changed(self, paths: set[str], last_event: float | None) -> bool:
        """Index what changed of `paths`; whether the index was refreshed."""
        relevant = self.filter.relevant(paths)
        self.observer.saw(paths, relevant)
        if self.observer.polling != self.status.polling:  # it fell back to polling just now
            self.status.polling = self.observer.polling
            self._save_status()
        if not relevant:
            return False
        self._last_activity = last_event if last_event is not None else self.clock()
        self.status.last_event_at = time.time()
        self._index(relevant)
        return True

    def _attributes_changed(self) -> bool:
        """Whether the git directory's `info/attributes` changed since last looked: it is no
        work-tree file, so no watch reports it, yet it marks files as a `.gitattributes` does
        (a few stats, each time the loop wakes)."""
        stamp = attributes_stamp(self.ws.root)
        if stamp == self._attributes_seen:
            return False
        self._attributes_seen = stamp
        return True

    def _index(self, paths: list[str]) -> None:
        started = time.time()
        self.status.activity = "indexing"
        record: dict = {"at": started, "paths": paths[:20]}
        self._save_status()  # `--status` says so: a checkout's run takes minutes
        self.status.index_runs += 1  # counted with the run's record, saved as it ends
        self._busy = True
        if self.queries is not None:  # a search waits for a run of saves: it must see them
            self.queries.run_started(paths)
        try:
            if self._guarded:
                lifeline.ensure_fork_server()  # again, should something have killed it
            summary = CodeIndex(self.ws, self.config).refresh(
                progress=self._checkpoint,
                saved=paths,
                run=self.queries.run if self.queries is not None else None,
            )
        except StopRequested:
            raise
        except Exception as exc:  # a daemon keeps running; the next change tries again
            self._stop_if_state_lost()
            log.exception("watch: indexing failed")
            record["error"] = str(exc)
        else:
            record.update(
                seconds=summary.seconds,
                added=summary.added,
                changed=summary.changed,
                removed=summary.removed,
                up_to_date=summary.up_to_date,
            )
            if summary.added or summary.changed or summary.removed:
                log.info(
                    "watch: indexed %d added, %d changed, %d removed in %.2fs (%s)",
                    summary.added,
                    summary.changed,
                    summary.removed,
                    summary.seconds,
                    _named(summary),
                )
        finally:
            self._busy = False
            if self.queries is not None:
                self.queries.run_started(None)
        record["ended"] = time.time()  # after the index's own stamp: `watch --status` compares
        self.status.last_index = record
        self.status.activity = "watching"
        self._save_status()

    def on_idle(self) -> str | None:
        """The repository has rested: digest if something is new and no chat runs.

        Returns why it digested (None: it did not).
        """
        if not self.config.sleep.watch_digest:
            return None  # sleep.watch_digest: false: the daemon only keeps the index fresh
        if self.debouncer.ready_at() is not None:
            return None  # changes are still settling: not idle
        try:
            reason = self.pending_work()
            chatting = reason is not None and chat_running(self.ws)
        except Exception:  # unreadable bookkeeping or recall database: say so, keep watching
            log.exception("watch: cannot tell whether anything is new")
            return None
        if reason is None:
            return None
        busy = self.ws.git_operation() or index_locked(self.ws.root, self.ws.git_dir)
        if busy is not None:  # the pass would write into that operation's commit
            if self._git_waited != busy:
                log.info("watch: %s, but %s; the digest waits", reason, busy)
                self._git_waited = busy
            return None
        self._git_waited = None
        holder = digest_running(self.ws)  # `codemem digest`, a CI job: its pass is this one's
        if holder is not None:
            if self._pass_waited != holder:
                log.info(
                    "watch: %s, but another digest is running (%s); the digest waits",
                    reason,
                    holder,
                )
                self._pass_waited = holder
            return None
        self._pass_waited = None
        if chatting:
            if self._chat_waited != reason:  # once, not at every look during a long chat
                log.info("watch: %s, but a chat is running; the digest waits", reason)
                self._chat_waited = reason
            return None
        self._digest(reason)
        return reason

    def pending_work(self) -> str | None:
        """Why a digest should run now (None: nothing new since the last pass)."""
        head = head_commit(self.ws.root)
        if (
            head is not None
            and head != read_state(self.ws).last_commit
            and head != self.status.digested_head
        ):
            return f"new commits up to {head[:7]}"
        if self.sessions:
            newest = newest_session(self.ws)
            seen = [
                parse_when(read_local_state(self.ws).sessions_until),
                parse_when(self.status.sessions_seen),
            ]
            latest_seen = max((s for s in seen if s is not None), default=None)
            if newest is not None and (latest_seen is None or newest > latest_seen):
                return "new chat sessions"
        return None

    def _digest(self, reason: str) -> None:
        head = head_commit(self.ws.root)
        newest = newest_session(self.ws) if self.sessions else None
        log.info("watch: idle and %s: digesting", reason)
        started = time.time()
        self.status.activity = "digesting"
        self._save_status()
        record: dict = {"at": started, "reason": reason, "head": head}
        self._busy = True
        try:
            result = run_digest(
                self.ws,
                self.config,
                DigestOptions(llm=self.use_model, by="codemem watch"),
                progress=self._checkpoint,
                now=self._now,
            )
        except StopRequested:
            raise
        except HeadMovedError as exc:  # a checkout mid-pass: dropped, redone once idle again
            if exc.writes:  # git moved as the pass wrote: its files are there to look at
                log.warning("watch: digest: %s (redone once idle)", exc)
            else:
                log.info("watch: digest dropped, nothing written: %s (redone once idle)", exc.moved)
            record["error"] = str(exc)
            head, newest = self.status.digested_head, None  # neither counts as seen
        except (GitBusyError, DigestRunningError) as exc:  # since `on_idle` looked: waited for
            log.info("watch: digest not run: %s (redone once idle)", exc)
            record["error"] = str(exc)
            head, newest = self.status.digested_head, None
        except Exception as exc:  # not retried until something new appears
            self._stop_if_state_lost()
            log.exception("watch: digest failed")
            record["error"] = str(exc)
        else:
            record.update(
                commits=len(result.commits),
                digest=result.digest_path,
                changes=len(result.changes),
                warnings=result.warnings,
            )
            log.info(
                "watch: digest done in %.1fs: %d commit(s), %d change(s)%s",
                time.time() - started,
                len(result.commits),
                len(result.changes),
                f", wrote {result.digest_path}" if result.digest_path else "",
            )
            for warning in result.warnings:
                log.warning("watch: digest: %s", warning)
            if result.changes:
                log.info(
                    "watch: .codemem/ now has uncommitted memory changes: review and commit them"
                )
        finally:
            self._busy = False
            signal.setitimer(signal.ITIMER_REAL, 0)
        record["seconds"] = round(time.time() - started, 3)
        self.status.last_digest = record
        self.status.digested_head = head
        self.status.sessions_seen = (
            newest.isoformat() if newest is not None else self.status.sessions_seen
        )
        self.status.activity = "watching"
        self._save_status()
        gc.collect()  # a pass parses many blobs; give the memory back before resting


def _named(summary: IndexSummary) -> str:
    """The files an index run's log line names: those it added, changed or removed (not the
    paths the watcher saw, which include files gone before the run, or never indexed)."""
    more = summary.added + summary.changed + summary.removed > len(summary.paths)
    return ", ".join(summary.paths) + (", ..." if more else "")

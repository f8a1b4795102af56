"""Answering `codemem search` from the running watch daemon.

A cold `codemem search` spends about a second importing LanceDB before it can look anything
up. The watch daemon has it loaded already, so while it runs it also listens on a Unix socket
(in a private folder outside the repository, see `query_client`; readable only by its owner)
and answers searches there: the client (`ask_daemon`) imports nothing heavy, and a search
takes a small fraction of a second.

Protocol: one JSON object per connection each way. Request
`{"op": "search", "protocol": int, "query": str, "k": int | null, "level": str, "env": {...}}`
(a request of another `PROTOCOL`, or another op, is declined); reply
`{"hits": [hit + "text"]}` (with `"indexing": true` when an index run was under way, the
answer then from what it last committed, and `"stale": [path, ...]`, the first
`STALE_LISTED` of the `"stale_total"` files that answer does not hold as they are in the work
tree, when they can be told) or `{"error": str}`. The daemon answers only when
its settings are the client's: the same `CODEMEM_*` overrides and no config file changed
since it started; otherwise it replies `{"decline": reason}` and the client searches
in-process. A connection closed before its request, or before its reply, is let go quietly.

A search brings the index up to date first. An index run under way holds it back: the
daemon's own run for a few saves (`SAVES_RUN_FILES` at most: an agent's edits, a `sed -i`
over a package) is waited for up to `SAVES_WAIT_SECONDS`, or until the index holds every
file as it is in the work tree (its rows committed before the run ends: the run tells,
`RunProgress`, so the wait lists nothing), since it is what the
search must see (on a loaded machine a run of 60 files takes 2-5 s, and a flat half second answered 3
searches in 4 without the save made just before); a long run (a checkout's thousands of
files, the catch-up at start) or another process's only `WRITER_WAIT_SECONDS`. Then it
answers from the index as that run last committed it, rather than keep the client waiting
for the whole run, and names the files that answer is stale for (`CodeIndex.unindexed`),
which the client prints. When that run is the first (no index yet: a fresh clone's catch-up)
there is nothing to answer from: the daemon declines, and the client's own search waits for
the run (the index lock's bound) and answers, as it does with no daemon running.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socketserver
import threading
import time
from pathlib import Path

from codemem.code import CodeIndex, RunProgress
from codemem.config import Config, user_config_dir
from codemem.daemon.query_client import (
    PROTOCOL,
    private_dir,
    remove_dead_sockets,
    settings_env,
    socket_identity,
    socket_path,
    sockets_lock,
)
from codemem.errors import CodememError, LockTimeout
from codemem.workspace import Workspace

log = logging.getLogger("codemem")

MAX_REQUEST = 4 * 1024 * 1024
# A search waits this long for a long index run to end (or another process's), then answers
# from the index as that run last committed it: the lexicon's segments are immutable and
# listed by one atomic rename, so a reader never sees half a batch.
WRITER_WAIT_SECONDS = 0.5
# The daemon's own run for at most this many saved files is waited for up to this long (the
# client waits `query_client.REPLY_SECONDS` in all, and the search's own refresh follows).
SAVES_RUN_FILES = 200
SAVES_WAIT_SECONDS = 5.0
STALE_LISTED = 100  # the stale files a reply names (`stale_total` counts them all)
# How long a starting daemon waits for a sweep of its socket folder (a probe takes 0.2 s).
BIND_WAIT_SECONDS = 5.0


def _config_stamp(ws: Workspace) -> list[tuple[str, int | None, int | None]]:
    stamps: list[tuple[str, int | None, int | None]] = []
    for path in (ws.config_file, user_config_dir() / "config.yml"):
        try:
            stat = path.stat()
            stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
        except OSError:
            stamps.append((str(path), None, None))
    return stamps


class QueryServer:
    """A thread answering searches on the daemon's socket."""

    def __init__(self, ws: Workspace, config: Config):
        self.ws = ws
        self.config = config
        self.env = settings_env()
        self.stamp = _config_stamp(ws)
        self.path = socket_path(ws.root)
        self._server: socketserver.ThreadingUnixStreamServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one search at a time: they share the index
        self.index = CodeIndex(ws, config)  # keeps the repo-map graph (a search prior) loaded
        self._identity: tuple[int, int, int] | None = None  # the socket file this server made
        self._saves_run = False  # the watcher's run under way is one for a few saves
        # How far the watcher's run has come (it tells as it commits): what a search waits on.
        self.run = RunProgress()

    def run_started(self, paths: list[str] | None) -> None:
        """The watcher's index run for `paths` (changed files it saw; empty: a catch-up of
        unknown size) begins, telling `run` how far it came; None: it ended."""
        self._saves_run = paths is not None and 0 < len(paths) <= SAVES_RUN_FILES
        if paths is None:
            self.run.end()
        else:
            self.run.begin()

    def bind(self) -> None:
        """Listen on the socket (raises `CodememError` if it cannot); `serve` answers.

        A client that connects in between waits in the backlog until `serve`.
        """
        private_dir(self.path.parent)
        remove_dead_sockets(self.path.parent)  # those other repositories' killed daemons left
        handler = _handler_for(self)
        # Under the sweeps' lock, from removing the old socket to listening on the new one: a
        # sweep that found the old one dead removes it before, or finds the new one listening.
        with _sockets_lock_held(self.path.parent):
            self.path.unlink(missing_ok=True)  # left by a daemon that crashed (we hold its lock)
            old_umask = os.umask(0o177)
            try:
                self._server = socketserver.ThreadingUnixStreamServer(str(self.path), handler)
            except OSError as exc:
                raise CodememError(f"cannot listen on {self.path}: {exc}") from exc
            finally:
                os.umask(old_umask)
            self._identity = socket_identity(self.path.lstat())

    def serve(self) -> None:
        """Answer on a thread (after LanceDB is imported: two threads must not import it)."""
        assert self._server is not None, "bind() first"
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="codemem-query", daemon=True
        )
        self._thread.start()
        log.info("watch: answering searches on %s", self.path)

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:  # shutdown() waits for serve_forever, if it runs
                self._server.shutdown()
                self._thread = None
            self._server.server_close()
            self._server = None
        if self._identity is not None:
            # Not when a daemon that replaced this one (see Watcher) has bound it since.
            with (
                contextlib.suppress(OSError, LockTimeout),
                sockets_lock(self.path.parent, BIND_WAIT_SECONDS),
            ):
                if socket_identity(self.path.lstat()) == self._identity:
                    self.path.unlink()
        self._identity = None

    def answer(self, request: dict) -> dict:
        if request.get("protocol", 1) != PROTOCOL:  # another codemem version's client
            return {"decline": "another codemem version"}
        if request.get("op") != "search":
            return {"decline": f"unknown op {request.get('op')!r}"}
        if request.get("env", {}) != self.env:
            return {"decline": "different CODEMEM_* settings"}
        if _config_stamp(self.ws) != self.stamp:
            return {"decline": "configuration changed since the daemon started"}
        with self._lock:
            try:
                reply = self._refresh()
                if reply and not self.index.exists():
                    # The first run (a catch-up in a fresh clone) holds the index and has not
                    # written one yet: the client's own search waits for that run and answers.
                    return {"decline": "no index yet: its first run is under way"}
                k = request.get("k") or self.config.search.k
                hits = self.index.search(request["query"], k=int(k), level=request["level"])
            except CodememError as exc:
                return {"error": str(exc)}
        reply["hits"] = [{**hit.to_json(), "text": hit.text} for hit in hits]
        return reply

    def _refresh(self) -> dict:
        """Bring the index up to date (exact freshness: ~10 ms when nothing changed) unless
        another run holds it past the wait; then the reply's `indexing` and `stale` fields.

        The watcher's run of saves is waited for on its own word (`RunProgress`, no git
        call): until it ends (then the index is refreshed here), or until it has committed
        every file it planned, when one listing of the work tree (`unindexed`) tells whether
        the index holds every file as it is (a save after the run's plan: its run comes
        next; then only its end is waited for). A wait that ends otherwise names the stale
        files from one such listing."""
        saves = self._saves_run
        deadline = time.monotonic() + (SAVES_WAIT_SECONDS if saves else WRITER_WAIT_SECONDS)

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        while not self._refreshed(saves, left()):
            if not saves or not left() or not self.run.wait(left()):
                return _indexing(self.index.unindexed())
            if self.run.ended:
                continue  # the index is free: refreshed here
            stale = self.index.unindexed()  # the run committed every file it planned
            if stale == []:
                return _indexing(stale)
            while not self._refreshed(saves, left()):  # a save after its plan: its end
                if not left() or not self.run.wait(left(), to_end=True):
                    return _indexing(stale)
            return {}
        return {}

    def _refreshed(self, saves: bool, left: float) -> bool:
        """Whether a refresh brought the index up to date: it does not wait for the watcher's
        run of `saves` under way (its end wakes `RunProgress.wait`), another writer up to
        `WRITER_WAIT_SECONDS` within the `left` seconds."""
        wait = 0.0 if saves and not self.run.ended else min(WRITER_WAIT_SECONDS, left)
        try:
            self.index.refresh(lock_wait=wait)
        except LockTimeout:  # a run is on: the daemon's own, another process's
            return False
        return True


def _indexing(stale: list[str] | None) -> dict:
    """The reply's fields for an answer from the index as the run under way last committed
    it, naming the files it does not hold as they are, when they could be told."""
    reply: dict = {"indexing": True}
    if stale is not None:
        reply["stale"] = stale[:STALE_LISTED]
        reply["stale_total"] = len(stale)
    return reply


def _sockets_lock_held(directory: Path) -> contextlib.ExitStack:
    """`sockets_lock` held, or, when a holder keeps it past `BIND_WAIT_SECONDS` (one stopped
    in a debugger, say), nothing: the daemon binds anyway rather than answer no search."""
    held = contextlib.ExitStack()
    try:
        held.enter_context(sockets_lock(directory, timeout=BIND_WAIT_SECONDS))
    except LockTimeout as exc:
        log.warning("watch: binding the search socket without its folder's lock: %s", exc)
    return held


def _handler_for(server: QueryServer) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            try:
                line = self.rfile.readline(MAX_REQUEST)
            except OSError:
                return
            if not line.strip():  # the client went before asking (killed, or only probing)
                return
            try:
                reply = server.answer(json.loads(line))
            except Exception as exc:  # a bad request never takes the daemon down
                log.exception("watch: search request failed")
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            with contextlib.suppress(OSError):  # a client gone before the answer (timed out)
                self.wfile.write(json.dumps(reply).encode() + b"\n")

    return Handler

"""Every process the watch daemon (or `codemem mcp`) starts dies with it, however it dies
(SIGKILL too).

The index's parser workers come from multiprocessing. Once LanceDB is loaded (always, in the
daemon) they are forked by multiprocessing's fork server, not by the daemon: each worker holds
the server's "alive" pipe, so a daemon killed mid-index left the server, its workers and the
resource tracker running for good. So the daemon (`arm`, then `ensure_fork_server` before each
index run):

- has the kernel kill every process it forks itself when it dies (`PR_SET_PDEATHSIG`, set in
  the child right after the fork);
- starts the fork server itself, with `codemem.daemon.fork_server_guard` preloaded there,
  which sets the same death signal for the server and for every worker it forks.

The resource tracker then exits by itself: its pipe closes when the last of them is gone.
The MCP server arms it too: a host that stops it mid-index (SIGTERM, SIGKILL) left the same
processes behind.
Linux only; elsewhere these are no-ops.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from multiprocessing import forkserver

PR_SET_PDEATHSIG = 1
# Preloaded in the fork server: the guard first, then what the workers run (as the indexer
# preloads it), so a worker starts without importing the parsers.
FORK_SERVER_PRELOAD = ["codemem.daemon.fork_server_guard", "codemem.code.extract"]


def die_with_parent(parent: int) -> None:
    """In a child of `parent`: be SIGKILLed when the parent (the thread that forked it) ends."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def kill_children_with(parent: int) -> None:
    """In `parent`: every child it forks from now on dies with it."""
    os.register_at_fork(after_in_child=lambda: die_with_parent(parent))


def arm() -> None:
    """In the daemon, from its main thread: children it forks, and the fork server with its
    workers, die with it."""
    kill_children_with(os.getpid())
    ensure_fork_server()


def ensure_fork_server() -> None:
    """Start the fork server with the guard preloaded, unless it runs (the main thread's job:
    the server dies with the thread that started it)."""
    forkserver.set_forkserver_preload(FORK_SERVER_PRELOAD)
    forkserver.ensure_running()

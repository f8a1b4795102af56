"""`codemem mcp`: serve the repository's memory and code index over MCP on stdio."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
from pathlib import Path

import click

from codemem.cli import AppContext
from codemem.errors import CodememError, UsageError

SDK_REQUIREMENT = "mcp>=2.3,<3"


@click.command("mcp")
@click.option(
    "--repo",
    type=click.Path(path_type=Path),  # a file: `find_repo_root`'s one line
    metavar="DIRECTORY",
    help="Repository to serve (the same as `codemem --repo DIR mcp`).",
)
@click.option("--read-only", is_flag=True, help="Offer no tool that changes memory.")
@click.pass_obj
def mcp_command(app: AppContext, repo: Path | None, read_only: bool) -> None:
    """Run an MCP server on stdio for Claude Code, Cursor, Codex or any MCP client.

    It offers search_code, repo_map, memory_read, memory_append, memory_replace,
    memory_rethink, archival_insert, archival_search, conversation_search and remember
    (--read-only leaves out the ones that write), the memory blocks, repo map and latest
    digest as resources, and a load_memory prompt. The code index is refreshed
    incrementally before every search. Register it with, for example:

        claude mcp add codemem -- codemem --repo /path/to/repo mcp
    """
    _require_sdk()
    if sys.stdin is None or sys.stdout is None:  # fd 0 closed (fd 1: `cli.main` says so first)
        raise UsageError("codemem mcp speaks over stdin and stdout: start it with both open")
    import anyio

    from codemem.cli.agent import load_agent_settings
    from codemem.daemon import lifeline
    from codemem.mcp.server import McpSession, serve_stdio

    if repo is not None:
        app.repo = repo  # before anything asked for the workspace
    ws, config, _settings = load_agent_settings(app, None)
    session = McpSession(ws, config, read_only=read_only)
    # A search may index with parser workers forked by multiprocessing's fork server: they
    # die with this process however it ends (a host's SIGTERM or SIGKILL, `_exit_now`).
    lifeline.arm()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_now)
    with contextlib.suppress(OSError, ValueError):  # a stdout with no descriptor: no pipe
        _exit_when_unread(os.dup(sys.stdout.fileno()))  # before the SDK points fd 1 at stderr
    try:
        served = anyio.run(serve_stdio, session)
    except Exception as exc:
        if not _client_gone(exc):
            raise
        # The client closed our stdout and a reply met the closed pipe before the watch
        # thread (`_exit_when_unread`) woke: leave as it would have.
        with contextlib.suppress(OSError):
            sys.stderr.flush()
        os._exit(141)
    if not served:
        # A call or the warm-up is still indexing: leave as a signal would (see `_exit_now`).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _client_gone(exc: BaseException) -> bool:
    """Whether `exc` is a broken pipe, alone or as every error of the SDK's task groups."""
    if isinstance(exc, BrokenPipeError):
        return True
    leaves = getattr(exc, "exceptions", None) or ()  # an ExceptionGroup's (or the backport's)
    return bool(leaves) and all(_client_gone(leaf) for leaf in leaves)


def _exit_now(signum: int, frame: object) -> None:
    """Leave at once on SIGINT or SIGTERM.

    The SDK reads stdin in a thread that a signal cannot wake, so a graceful shutdown would
    wait for the host to close the pipe. Exiting without it is safe: every memory write is
    an atomic rename under a lock the kernel releases, and an interrupted index refresh
    leaves the previous index in place.
    """
    sys.stderr.flush()
    os._exit(128 + signum)


def _exit_when_unread(fd: int) -> None:
    """Leave at once (exit 141, as `codemem search | head` does) when the client closes its
    end of our stdout, watched through `fd`, a copy of it.

    A host that died may leave our stdin open (a process it started holds it): the server
    would wait on it for good, and the first reply it wrote would end in an "internal error"
    once stdin closed. A pipe whose reader is gone polls as an error; a terminal or a file
    never does, and then this daemon thread just waits with the process.
    """

    def watch() -> None:
        poller = select.poll()
        poller.register(fd, 0)  # no event asked for: only POLLERR and POLLHUP wake it
        while not poller.poll():
            pass
        with contextlib.suppress(OSError):
            sys.stderr.flush()
        os._exit(141)

    threading.Thread(target=watch, name="codemem-client-watch", daemon=True).start()


def _require_sdk() -> None:
    """The official MCP SDK, major version 2 (its server API differs from 1.x)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("mcp")
    except PackageNotFoundError:
        raise CodememError(
            f"the MCP server needs the `mcp` package: pip install '{SDK_REQUIREMENT}'"
        ) from None
    if installed.split(".")[0] != "2":
        raise CodememError(
            f"the MCP server needs {SDK_REQUIREMENT}, not mcp {installed}: pip install '{SDK_REQUIREMENT}'"
        )

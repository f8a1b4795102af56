"""`codemem watch`: the sleep-time daemon (foreground, --detach, --stop, --status)."""

from __future__ import annotations

import json
import time

import click

from codemem.cli import AppContext
from codemem.config import Config
from codemem.daemon import process
from codemem.errors import UsageError
from codemem.infra import printable
from codemem.workspace import Workspace


def _ago(epoch: float | None) -> str:
    if not epoch:
        return "never"
    seconds = max(0, int(time.time() - epoch))
    return f"{_span(seconds)} ago"


def _span(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _digest_did(digest: dict) -> str:
    """What a digest did, in brackets: its commits and file, or its error."""
    if digest.get("error"):
        return f" (error: {digest['error']})"
    wrote = f", {digest['digest']}" if digest.get("digest") else ""
    return f" ({_plural(digest.get('commits', 0), 'commit')}{wrote})"


def status_lines(info: dict) -> list[str]:
    """`--status` for people."""
    if info["running"]:
        lines = [
            f"codemem watch is running (pid {info['pid']}"
            + (f", up {_span(info['uptime_s'])}" if info["uptime_s"] is not None else "")
            + f", {info['activity']})."
        ]
    else:
        lines = ["codemem watch is not running."]
        if info.get("stale_pid"):
            lines.append(
                f"A pid file from pid {info['stale_pid']} was left by a daemon that did "
                "not stop cleanly; the next start replaces it."
            )
    if info.get("other_version"):
        lines.append(
            "It is another codemem version's: it answers no search of this one, and the two "
            "may rebuild the index in turn; `codemem watch --stop`, then `codemem watch --detach`."
        )
    if info.get("polling"):
        lines.append(f"Not using inotify: {info['polling']}.")
    index, digest = info["last_index"] or {}, info["last_digest"] or {}
    if index:
        if index.get("error"):
            what = f" (error: {index['error']})"
        elif index.get("up_to_date"):
            what = " (up to date)"
        elif "added" in index or "files" not in index:
            what = (
                f" ({index.get('added', 0)} added, {index.get('changed', 0)} changed, "
                f"{index.get('removed', 0)} removed)"
            )
        else:  # another command's run: the index's own record, what it holds
            what = f" (holds {_plural(index['files'] or 0, 'file')})"
        lines.append(f"Last index: {_ago(index.get('at'))}{what}.")
    else:
        lines.append("Last index: never.")
    if digest:
        by = f" by {digest['by']}" if digest.get("by") else ""
        lines.append(f"Last digest: {_ago(digest.get('at'))}{by}{_digest_did(digest)}.")
    else:
        lines.append("Last digest: never.")
    daemon = info.get("watch_digest") or {}
    if daemon and (daemon.get("error") or digest.get("by") != "codemem watch"):
        lines.append(f"The daemon's last digest: {_ago(daemon.get('at'))}{_digest_did(daemon)}.")
    changed = info.get("uncommitted_memory") or []
    if changed:
        lines.append(
            f"Memory: {_plural(len(changed), 'file')} under .codemem/ not committed (digests and "
            "learned regions): review with `git diff .codemem`, commit to share them "
            "(sleep.watch_digest: false stops the idle digest)."
        )
    lines.append(f"Log: {info['log']}")
    return lines


@click.command("watch")
@click.option(
    "--idle",
    type=float,
    metavar="MINUTES",
    help="Digest after this many quiet minutes (default: sleep.idle_minutes, 10).",
)
@click.option(
    "--detach",
    is_flag=True,
    help="Run in the background (returns once it serves, or fails with its error); "
    "the log goes to .codemem/local/watch.log.",
)
@click.option("--stop", is_flag=True, help="Stop the running daemon (SIGTERM) and wait for it.")
@click.option(
    "--status",
    "show_status",
    is_flag=True,
    help="Show whether it runs, its pid, uptime, last index and digest.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="With --status ({running, pid, uptime_s, last_index, watch_index, last_digest, "
    "watch_digest, ...}: last_index is the last index run whoever ran it, the daemon's own "
    "in watch_index; last_digest is the last digest whoever ran it, with at, by, head, commits, digest and "
    "changes; watch_digest the daemon's own last one, its error included), --stop ({stopped, "
    "pid}) or --detach ({started, pid, log}): JSON on stdout.",
)
@click.option("--daemon", is_flag=True, hidden=True)  # set by --detach for the background process
@click.pass_obj
def watch_command(
    app: AppContext,
    idle: float | None,
    detach: bool,
    stop: bool,
    show_status: bool,
    as_json: bool,
    daemon: bool,
) -> None:
    """Keep the index fresh as files change; digest new commits when the repository rests.

    Changed files are re-indexed within a second or two (saves are debounced; .git/,
    .codemem/ and files git ignores are left out). When no file has changed for
    sleep.idle_minutes (or --idle), no `codemem chat` is running, and there are new commits
    or chat sessions since the last pass, it runs `codemem digest`.

    One daemon per repository: it holds .codemem/local/watch.lock and writes watch.pid
    (a pid file left by a crash is replaced). Ctrl-C or SIGTERM stops it cleanly, even
    during a digest; so does removing .codemem/local/. Processes it starts die with it,
    however it dies. It logs to .codemem/local/watch.log.
    """
    if sum((detach, stop, show_status)) > 1:
        raise UsageError("use only one of --detach, --stop and --status")
    if idle is not None and idle <= 0:
        raise UsageError("--idle must be a positive number of minutes")
    if as_json and not (detach or stop or show_status):
        raise UsageError("--json goes with --status, --stop or --detach")
    ws = app.workspace()
    if show_status:
        _show_status(ws, as_json)
    elif stop:
        _stop(ws, as_json)
    elif detach:
        _start_config(app, ws, idle)
        _detach(ws, idle, as_json)
    else:
        _foreground(ws, _start_config(app, ws, idle), detached=daemon)


def _show_status(ws: Workspace, as_json: bool) -> None:
    """`--status`: whether a daemon runs here, and what it last did."""
    info = process.describe_status(ws)
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False))
        return
    for line in status_lines(info):
        click.echo(line)


def _stop(ws: Workspace, as_json: bool) -> None:
    """`--stop`: SIGTERM the daemon and wait until it has let go of its lock."""
    pid = process.stop_daemon(ws)
    if as_json:
        click.echo(json.dumps({"stopped": pid is not None, "pid": pid}))
    elif pid is None:
        click.echo("codemem watch is not running.")
    else:
        click.echo(f"Stopped codemem watch (pid {pid}).")


def _start_config(app: AppContext, ws: Workspace, idle: float | None) -> Config:
    """The configuration a starting daemon runs with, checked here (a bad setting fails now,
    not later in a background log)."""
    flags = {"sleep": {"idle_minutes": idle}} if idle is not None else None
    config = app.config(flags)  # a bad setting fails here, not later in a background log
    ws.check_initialized()
    return config


def _detach(ws: Workspace, idle: float | None, as_json: bool) -> None:
    """`--detach`: start the daemon in the background and say where it logs."""
    if process.lock_held(ws):
        raise process.already_running(ws)
    argv = ["--idle", repr(idle)] if idle is not None else []
    pid = process.start_detached(ws, argv)
    log = process.local_path(ws, process.LOG_FILE)
    if as_json:
        click.echo(json.dumps({"started": True, "pid": pid, "log": str(log)}))
    else:
        click.echo(f"Started codemem watch in the background (pid {pid}); log: {log}")


def _foreground(ws: Workspace, config: Config, *, detached: bool) -> None:
    """Watch in this process until Ctrl-C or SIGTERM (`detached`: the process --detach
    started, which has no terminal)."""
    # Imported here so --status and --stop start without loading the index and the sleep pass.
    from codemem.daemon.watch import Watcher

    watcher = Watcher(ws, config)
    ws.ensure_local()
    process.setup_log(ws, detached=detached)

    def started() -> None:
        if not detached:
            click.echo(
                f"codemem watch: watching {printable(str(ws.root))} (digest after "
                f"{watcher.idle_seconds / 60:g} idle minutes); Ctrl-C stops.",
                err=True,
            )

    watcher.run(on_started=started)
    if not detached:
        click.echo("codemem watch: stopped.", err=True)

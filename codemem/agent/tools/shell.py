"""Running a shell command for the agent: captured, time-limited, and killed as a group.

The command runs in its own session (`start_new_session`), so it and everything it starts
form one process group. On a timeout, a Ctrl-C or a SIGTERM (`codemem.errors.Terminated`) the
whole group gets SIGTERM, then SIGKILL after a grace period (at once on a second Ctrl-C): a
test runner's workers or a dev server die with it. A process that left the group (`setsid`, a
daemon's double fork) still carries the command's mark in its environment
(`CODEMEM_COMMAND`), inherited and never shown to it as anything else, and is signalled
with the group wherever `/proc` lists environments (Linux). If codemem itself is killed
(SIGKILL), `GroupWatchdog` kills the group and the marked processes. Output (stdout and
stderr interleaved) is read on a thread and kept bounded (head and tail) however much comes.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from bisect import bisect_right
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING

from codemem.agent.tools.budget import head_tail
from codemem.agent.tools.permissions import Request
from codemem.agent.tools.registry import ToolError, ToolResult
from codemem.infra import find_secrets, placeholder, signals_held

if TYPE_CHECKING:
    from codemem.agent.tools.toolbox import ToolContext

GRACE_SECONDS = 2.0


@dataclass
class CommandResult:
    """What a command did: its exit code (None if killed), its output, and how it ended."""

    command: str
    exit_code: int | None
    output: str
    seconds: float
    timed_out: bool = False
    dropped: int = 0  # bytes of output not kept (the middle of a huge output)


class _Collector:
    """Keeps the first and the last `keep` bytes of a stream."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> None:
        room = self.keep - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.keep:
                excess = len(self.tail) - self.keep
                del self.tail[:excess]
                self.dropped += excess

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if self.dropped:
            return f"{head}\n[... {self.dropped:,} bytes of output omitted ...]\n{tail}"
        return head + tail


MARK = "CODEMEM_COMMAND"  # names the command whose process set it: see the module's text
_PROC = Path("/proc")


def kill_group(process: subprocess.Popen, grace: float = GRACE_SECONDS, mark: str = "") -> None:
    """SIGTERM the process group, and the processes that left it but carry `mark`
    (`marked_processes`), then SIGKILL whatever is left of them after `grace` seconds, or at
    once when a second Ctrl-C (or a signal) cuts the grace short."""
    try:
        gone = _signal_group(process, signal.SIGTERM, grace, mark)
    except BaseException:  # the person will not wait: nothing may outlive codemem still
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        _signal_marked(mark, signal.SIGKILL)
        # SIGKILL ends it once the kernel runs it: wait for that, or codemem could end
        # first and leave it, for a moment, running (or unreaped) after codemem is gone.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5.0)
        raise
    if not gone:
        _signal_group(process, signal.SIGKILL, 5.0, mark)


def _signal_group(process: subprocess.Popen, sig: int, wait: float, mark: str) -> bool:
    """Send `sig` to the group `process` leads and the processes marked `mark`, and wait up
    to `wait` seconds for them to be gone."""
    pgid = process.pid  # the leader of its own session: its pid is the group id
    try:
        os.killpg(pgid, sig)
        group = True
    except ProcessLookupError:
        group = False
    marked = _signal_marked(mark, sig)
    deadline = time.monotonic() + wait
    while group or marked:
        process.poll()  # reap the leader so it does not linger as a zombie
        if group:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                group = False
        if marked:  # a marked process forked meanwhile: its child is signalled too
            marked = _signal_marked(mark, sig)
        if time.monotonic() >= deadline:
            return not (group or marked)
        time.sleep(0.02)
    return True


def _signal_marked(mark: str, sig: int) -> bool:
    """Send `sig` to every process marked `mark`; whether one still ran (zombies aside)."""
    found = False
    for pid in marked_processes(mark):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
            found = True
    return found


def marked_processes(mark: str) -> list[int]:
    """The live processes whose environment holds `CODEMEM_COMMAND=<mark>`: those a command
    started, in its group or not (none where `/proc` shows no environments)."""
    if not mark:
        return []
    entry = f"{MARK}={mark}".encode()
    try:
        pids = [int(name) for name in os.listdir(_PROC) if name.isdigit()]
    except OSError:
        return []
    found = []
    for pid in pids:
        try:
            environ = (_PROC / str(pid) / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if entry in environ.split(b"\0"):  # a zombie's reads empty
            found.append(pid)
    return found


# Variables whose names say they hold a secret: an agent's command does not inherit them. The
# repository's own code runs in it (an allowed `pytest` runs its conftest.py), and the model
# reads its output. Codex's default shell environment policy drops the same names.
SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
# A URL's user part (`https://<key>@o1.ingest.sentry.io/1` is a Sentry DSN); a key there has
# letters and digits, eight or more (`git@`, `postgres@` are names).
_URL_USER = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://([^/\s:@]+)@")
_KEY_LIKE = re.compile(r"(?=.*[0-9])(?=.*[a-zA-Z])[\w.~-]{8,}")
# A parameter: `?token=...` or `&api_key=...` in a URL, `password=...` in a connection string
# (`;` between them in ODBC's and ADO.NET's); a number is not a secret (`CFLAGS=-DKEYSIZE=4096`)
# unless the name is a password's (`password=48151623`, `Pwd=90210`; `PASSWORD_MIN=8` is not).
_PARAMETER = re.compile(r"(?:^|[?&;\s])([\w.-]+)=([^&#;\s]+)")
_NUMBER = re.compile(r"[0-9.]+")
_PASSWORD = re.compile(r"(?:passw(?:or)?d|(?:^|[_.-])pwd)$", re.IGNORECASE)


def secret_variables(env: Mapping[str, str]) -> set[str]:
    """The names of the variables whose values hold a secret: anything `find_secrets`
    recognises (a key of a known format, a password in a URL, a token), a key as a URL's user
    (a Sentry DSN), or a parameter whose name says it is secret (`?token=...`, `password=...`).

    The values are searched as one text: it runs for every command, and a usual environment
    (60 variables) then costs ~0.4 ms, a tenth of what a search of each value would."""
    names, values = list(env), list(env.values())
    starts = list(accumulate((len(value) + 1 for value in values), initial=0))
    text = "\n".join(values)
    places = [found.start for found in find_secrets(text)]
    places += [m.start(1) for m in _URL_USER.finditer(text) if _KEY_LIKE.fullmatch(m[1])]
    places += [m.start(2) for m in _PARAMETER.finditer(text) if _secret_parameter(m[1], m[2])]
    return {names[bisect_right(starts, at) - 1] for at in places}


def _secret_parameter(name: str, value: str) -> bool:
    if placeholder(value):
        return False
    if _PASSWORD.search(name):
        return True
    return bool(SECRET_NAME.search(name)) and not _NUMBER.fullmatch(value)


def command_environment(keep: Collection[str] = ()) -> dict[str, str]:
    """The environment an agent's command runs with: this process's, without the variables
    whose names say they hold a secret (`SECRET_NAME`) or whose values hold one
    (`secret_variables`: `DATABASE_URL=postgres://app:pw@db/prod`) unless `keep` names them
    (globs, `agent.command_env_keep`), pagers off."""
    env = dict(os.environ)
    secret = {name for name in env if SECRET_NAME.search(name)} | secret_variables(env)
    env = {
        name: value
        for name, value in env.items()
        if name not in secret or any(fnmatch.fnmatchcase(name, k) for k in keep)
    }
    env.update(PAGER="cat", GIT_PAGER="cat", TERM="dumb", CODEMEM_AGENT="1")
    return env


class GroupWatchdog:
    """Kills a command's process group, and the processes marked as its own, if codemem dies
    without doing it (SIGKILL, the OOM killer): a small shell in a session of its own waits on
    a pipe only codemem writes to; end of file without the all-clear line means codemem is
    gone.

    It starts before the command and is told the command's group as soon as the command
    runs (`guard`): started after it, a SIGKILL of codemem while the watchdog started (on a
    loaded machine a good part of a second) left the command running. Killed between the
    command's start and `guard`, codemem leaves the watchdog only the mark to find it by
    (Linux)."""

    # dash's kill takes no `--`; grep -z reads the NUL-separated environments (GNU, busybox).
    # The first line names the group (or says "done": no command ran), the second is the
    # all-clear.
    SCRIPT = (
        'read pgid || pgid=; [ "$pgid" = done ] && exit; '
        'if [ -n "$pgid" ]; then read line && exit; kill -9 "-$pgid"; fi; '
        '[ -n "$1" ] || exit; '
        'for f in $(grep -lzxF "$1" /proc/[0-9]*/environ 2>/dev/null); do '
        'p=${f#/proc/}; kill -9 "${p%/environ}" 2>/dev/null; done'
    )

    def __init__(self, mark: str = "") -> None:
        read_end, self._write_end = os.pipe()  # neither end inherited by the command
        entry = f"{MARK}={mark}" if mark else ""
        try:
            self._process = subprocess.Popen(
                ["/bin/sh", "-c", self.SCRIPT, "codemem-watchdog", entry],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C or a closed terminal is not for it
            )
        except BaseException:
            os.close(self._write_end)
            raise
        finally:
            os.close(read_end)

    def guard(self, pgid: int) -> None:
        """The command runs as process group `pgid`: kill it if codemem dies from now on."""
        with contextlib.suppress(OSError):  # a watchdog someone killed: nothing to tell
            os.write(self._write_end, f"{pgid}\n".encode())

    def stand_down(self) -> None:
        """The command's group is dealt with (or none ran): let the watchdog end without
        killing."""
        try:
            with contextlib.suppress(OSError):  # a watchdog someone killed: nothing to tell
                os.write(self._write_end, b"done\n")
        finally:
            os.close(self._write_end)
            self._process.wait()


def run_shell(
    command: str,
    cwd: Path,
    timeout: float,
    keep_bytes: int = 64_000,
    env: Mapping[str, str] | None = None,
) -> CommandResult:
    """Run `command` with `sh -c` in `cwd` (environment `env`, else `command_environment()`,
    plus this run's `MARK`); Ctrl-C kills the group and re-raises."""
    started = time.monotonic()
    mark = secrets.token_hex(8)
    env = {**(command_environment() if env is None else env), MARK: mark}
    process = watchdog = None
    try:
        # A Ctrl-C or a signal while the command starts (it may run before `Popen` returns)
        # is held until codemem knows its process, then kills it like one a moment later.
        with signals_held():
            watchdog = GroupWatchdog(mark)  # first: codemem may be killed as the command starts
            process = subprocess.Popen(
                ["/bin/sh", "-c", command],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
            watchdog.guard(process.pid)
        return _collect(command, process, timeout, keep_bytes, started, mark)
    except BaseException:  # a Ctrl-C at any moment once the command started, even this one
        if process is not None:
            kill_group(process, mark=mark)
        raise
    finally:
        if watchdog is not None:
            watchdog.stand_down()


def _collect(
    command: str,
    process: subprocess.Popen,
    timeout: float,
    keep_bytes: int,
    started: float,
    mark: str,
) -> CommandResult:
    """Wait for `process` (up to `timeout` seconds), reading its output as it comes."""
    collector = _Collector(keep_bytes)
    assert isinstance(process.stdout, io.BufferedReader)  # a pipe with the default buffering
    stream = process.stdout

    def pump() -> None:
        while chunk := stream.read1(65536):
            collector.feed(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(process, mark=mark)
    except BaseException:  # Ctrl-C, SIGTERM: nothing may outlive the step
        kill_group(process, mark=mark)
        reader.join(timeout=1.0)
        raise
    # A background child may hold the pipe open after the leader exits: do not wait forever.
    reader.join(timeout=1.0 if not timed_out else 5.0)
    if reader.is_alive():
        kill_group(process, grace=0.5, mark=mark)
        reader.join(timeout=2.0)
    stream.close()
    code = None if timed_out else process.returncode
    return CommandResult(
        command, code, collector.text(), time.monotonic() - started, timed_out, collector.dropped
    )


def run_command(ctx: ToolContext, command: str, timeout: int = 120) -> ToolResult:
    """Run a shell command in the repository root (tests, builds, linters) and show its output.

    The command gets no input; output is stdout and stderr together. On a timeout the
    command and everything it started are killed. Environment variables whose names hold
    KEY, SECRET, TOKEN, PASSWORD or CREDENTIAL, or whose values hold a secret (a key, a
    password or token in a URL), are not passed to it (the user can keep some with
    agent.command_env_keep).

    Args:
        command: The command line, run with /bin/sh -c.
        timeout: Seconds before the command is killed.
    """
    if not command.strip():
        raise ToolError("the command is empty")
    if "\0" in command:  # no shell can be given one; say so before asking anyone
        raise ToolError("the command contains a NUL character: no shell can run it")
    limit = ctx.settings.max_command_timeout
    if not 1 <= timeout <= limit:
        raise ToolError(f"timeout must be between 1 and {limit:g} seconds, not {timeout}")
    ctx.permissions.check(Request("run_command", command, f"run: {command}", command))
    env = command_environment(ctx.settings.command_env_keep)
    result = run_shell(command, ctx.ws.root, timeout, keep_bytes=ctx.max_chars, env=env)
    ctx.file_changed(None)  # a command may change any file: the index is stale
    output = head_tail(result.output, ctx.max_chars - 300, "run a narrower command to see it")
    if result.timed_out:
        status = f"timed out after {timeout}s; the command and its children were killed"
    else:
        status = f"exit code {result.exit_code}"
    text = f"$ {command}\n[{status}, {result.seconds:.1f}s]\n{output}".rstrip() + "\n"
    return ToolResult(
        text,
        is_error=result.timed_out,
        data={"exit_code": result.exit_code, "timed_out": result.timed_out},
    )

"""run_command: output and exit code, timeouts that kill the whole process group, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from codemem.agent.tools import PermissionPolicy, ToolContext, build_tools
from codemem.agent.tools.shell import command_environment, run_shell
from codemem.config import PermissionsConfig


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_output_and_exit_code(ws, tools):
    result = tools.call("run_command", {"command": "echo out; echo err >&2; exit 3"})
    lines = result.content.splitlines()
    assert not result.is_error
    assert lines[0] == "$ echo out; echo err >&2; exit 3"
    assert lines[1].startswith("[exit code 3, ") and lines[1].endswith("s]")
    assert lines[2:] == ["out", "err"]
    assert result.data == {"exit_code": 3, "timed_out": False}


def test_runs_in_the_repository_root(ws, tools):
    result = tools.call("run_command", {"command": "pwd; ls shop/cart.py"})
    assert result.content.splitlines()[2:] == [str(ws.root.resolve()), "shop/cart.py"]


def test_timeout_kills_the_whole_group(ws, tools, tmp_path):
    pid_file = tmp_path / "child.pid"
    command = f"sleep 60 & echo $! > {pid_file}; wait"
    result = tools.call("run_command", {"command": command, "timeout": 1})
    assert result.is_error
    assert result.content.splitlines()[1].startswith(
        "[timed out after 1s; the command and its children were killed, "
    )
    child = int(pid_file.read_text())
    assert wait_gone(child), "the background child outlived the timeout"


def escaping_command(pid_file, then: str) -> str:
    """A command that starts a process in a session of its own (out of the command's group,
    as `setsid` or a daemon's double fork leaves it), waits for it to write its pid, then
    runs `then`."""
    escape = (
        "import os, sys, time; os.setsid(); "
        "open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)"
    )
    return (
        f'{sys.executable} -c "{escape}" {pid_file} </dev/null >/dev/null 2>&1 & '
        f"while [ ! -s {pid_file} ]; do sleep 0.05; done; {then}"
    )


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="marked processes are found in /proc")
def test_a_timeout_kills_what_left_the_group_too(ws, tmp_path):
    pid_file = tmp_path / "escaped.pid"
    result = run_shell(escaping_command(pid_file, "sleep 120"), ws.root, timeout=10)
    assert result.timed_out
    escaped = int(pid_file.read_text())
    try:
        assert wait_gone(escaped), "a process in a session of its own outlived the timeout"
    finally:
        if alive(escaped):
            os.kill(escaped, signal.SIGKILL)


def test_what_left_the_group_may_outlive_a_command_that_ended(ws, tmp_path):
    # A server started on purpose (`setsid server &`) by a command that then ended normally.
    pid_file = tmp_path / "escaped.pid"
    result = run_shell(escaping_command(pid_file, "echo started"), ws.root, timeout=30)
    escaped = int(pid_file.read_text())
    try:
        assert (result.exit_code, result.output) == (0, "started\n")
        assert alive(escaped)
    finally:
        os.kill(escaped, signal.SIGKILL)


def test_background_children_do_not_hang_the_call(ws, tmp_path):
    pid_file = tmp_path / "bg.pid"
    started = time.monotonic()
    result = run_shell(f"(sleep 60 & echo $! > {pid_file}); echo done", ws.root, timeout=30)
    assert time.monotonic() - started < 10
    assert result.exit_code == 0 and result.output == "done\n"
    assert wait_gone(int(pid_file.read_text()))


@pytest.fixture
def ctrl_c():
    """SIGINT raises KeyboardInterrupt in the test (the suite may run as a background job,
    which inherits SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_kills_the_group_and_propagates(ws, tmp_path, ctrl_c):
    pid_file = tmp_path / "child.pid"
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_shell(f"sleep 60 & echo $! > {pid_file}; wait", ws.root, timeout=30)
    finally:
        timer.cancel()
    assert wait_gone(int(pid_file.read_text()))


def written_pid(path, seconds: float = 30.0) -> int:
    """The pid a command writes to `path` once it runs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.01)
    raise AssertionError(f"the command never wrote {path}")


def ctrl_c_as_the_watchdog_starts(pid_file):
    """A stand-in for `GroupWatchdog`: a Ctrl-C while it is told the command's group, once
    the command runs (it wrote its pid to `pid_file`)."""

    class Interrupted:
        def __init__(self, mark: str = "") -> None:
            pass

        def guard(self, pgid: int) -> None:
            written_pid(pid_file)
            raise KeyboardInterrupt

        def stand_down(self) -> None:
            pass

    return Interrupted


def test_a_ctrl_c_as_soon_as_the_command_started_kills_its_group(ws, tmp_path, monkeypatch):
    from codemem.agent.tools import shell

    pid_file = tmp_path / "command.pid"
    monkeypatch.setattr(shell, "GroupWatchdog", ctrl_c_as_the_watchdog_starts(pid_file))
    with pytest.raises(KeyboardInterrupt):
        run_shell(f"echo $$ > {pid_file}; while :; do sleep 0.1; done", ws.root, timeout=30)
    assert wait_gone(int(pid_file.read_text()))


def test_a_ctrl_c_while_popen_returns_kills_the_command_it_started(
    ws, tmp_path, monkeypatch, ctrl_c
):
    # The command runs before `Popen` returns: on a loaded machine a Ctrl-C typed as it starts
    # arrived while codemem was still inside `Popen`, and left it running unknown.
    pid_file = tmp_path / "command.pid"
    popen = subprocess.Popen

    def popen_then_ctrl_c(args, *rest, **kwargs):
        process = popen(args, *rest, **kwargs)
        if "codemem-watchdog" not in args:  # the command's, not the watchdog's
            written_pid(pid_file)
            os.kill(os.getpid(), signal.SIGINT)  # handled before this returns
        return process

    monkeypatch.setattr(subprocess, "Popen", popen_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        run_shell(f"echo $$ > {pid_file}; while :; do sleep 0.1; done", ws.root, timeout=30)
    monkeypatch.undo()
    command = int(pid_file.read_text())
    try:
        assert wait_gone(command), "the command outlived the Ctrl-C"
    finally:
        if alive(command):
            os.killpg(command, signal.SIGKILL)


def test_a_second_ctrl_c_returns_only_once_the_command_is_gone(ws, tmp_path, monkeypatch):
    from codemem.agent.tools import shell

    pid_file = tmp_path / "command.pid"
    running = True

    def ctrl_c(signum, frame):  # one that came after the call is dropped, not raised in pytest
        if running:
            raise KeyboardInterrupt

    monkeypatch.setattr(shell, "GroupWatchdog", ctrl_c_as_the_watchdog_starts(pid_file))
    previous = signal.signal(signal.SIGINT, ctrl_c)
    # The command takes SIGTERM as the cue for the second Ctrl-C: it comes in the grace.
    command = f"trap 'kill -INT $PPID' TERM; echo $$ > {pid_file}; while :; do sleep 0.1; done"
    try:
        with pytest.raises(KeyboardInterrupt):
            run_shell(command, ws.root, timeout=30)
        running = False
        assert not alive(int(pid_file.read_text())), "run_shell returned before its command ended"
    finally:
        signal.signal(signal.SIGINT, previous)
        leader = int(pid_file.read_text())
        if alive(leader):
            os.killpg(leader, signal.SIGKILL)


def test_huge_output_keeps_head_and_tail(ws):
    result = run_shell("seq 1 200000", ws.root, timeout=30, keep_bytes=1000)
    assert result.output.startswith("1\n2\n3\n")
    assert result.output.endswith("199999\n200000\n")
    assert result.dropped == len("".join(f"{n}\n" for n in range(1, 200001))) - 2000
    assert f"[... {result.dropped:,} bytes of output omitted ...]" in result.output


def test_invalid_timeout_and_empty_command(tools):
    assert tools.call("run_command", {"command": "true", "timeout": 0}).content == (
        "run_command: timeout must be between 1 and 1800 seconds, not 0"
    )
    assert (
        tools.call("run_command", {"command": "  "}).content == "run_command: the command is empty"
    )
    assert tools.call("run_command", {"command": "pytest\0-q"}).content == (
        "run_command: the command contains a NUL character: no shell can run it"
    )


def test_refused_without_permission(ws, config):
    ctx = ToolContext(ws, config, PermissionPolicy(PermissionsConfig(allow=["run_command:echo*"])))
    tools = build_tools(ctx)
    assert not tools.call("run_command", {"command": "echo ok"}).is_error
    result = tools.call("run_command", {"command": "echo ok; touch pwned"})
    assert result.is_error and "permission denied (run: echo ok; touch pwned)" in result.content
    assert not (ws.root / "pwned").exists()


def test_a_command_does_not_inherit_the_environments_secrets(ws, ctx, monkeypatch):
    # The repository's own code runs in an agent's command (an allowed pytest runs its
    # conftest.py) and the model reads the output: API keys and tokens stay with codemem.
    for name, value in {
        "OPENAI_API_KEY": "sk-victim",
        "GITHUB_TOKEN": "ghp-victim",
        "db_password": "hunter2",
        "AWS_SECRET_ACCESS_KEY": "aws-victim",
        "PLAIN_SETTING": "kept",
    }.items():
        monkeypatch.setenv(name, value)
    result = build_tools(ctx).call("run_command", {"command": "env"})
    assert "PLAIN_SETTING=kept" in result.content and "PAGER=cat" in result.content
    assert "victim" not in result.content and "hunter2" not in result.content
    ctx.settings = ctx.settings.model_copy(update={"command_env_keep": ["GITHUB_*"]})
    kept = build_tools(ctx).call("run_command", {"command": "env"})
    assert "GITHUB_TOKEN=ghp-victim" in kept.content and "sk-victim" not in kept.content


# Made up, in the formats of a GitHub token and an AWS access key ID.
GITHUB_TOKEN = "ghp_" + "q7Xz2KjH4mPl9WrTa8VbN3cD5eF6gH1iJ0kL"
AWS_KEY = "AKIA" + "Q3EGRT5ZQWJ7XK2M"
SECRET_VALUES = {
    "DATABASE_URL": "postgres://app:hunter2pass@db/prod",
    "SENTRY_DSN": "https://9f3c2a7b5e1d4c8a9b6e3f2a1d0c7b8e@o1.ingest.sentry.io/1",
    "MY_CFG": GITHUB_TOKEN,
    "AWS_ACCESS": AWS_KEY,
    "HOOK": "https://api.example.com/hook?team=7&token=Zt8qW3xL9pR2",
    "UPLOAD_URL": "https://storage.example.com/b?api_key=Zt8qW3xL9pR2",
    "PGCONN": "host=db user=app password=hunter2pass",
    "PG_OPTIONS": "host=db user=app password=48151623",  # a password may be all digits
    "JDBC_URL": "jdbc:mysql://db/shop?user=app&password=123456",
    "ODBC": "Driver={ODBC 18};Server=db;Uid=app;Pwd=90210;",  # parameters split by `;`
    "MSSQL": "Server=db;User Id=app;Password=hunter2pass;",
    "SESSION": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
}
ORDINARY_VALUES = {
    "PATH": "/home/dev/.venv/bin:/usr/local/bin:/usr/bin:/bin",
    "HOME": "/home/dev",
    "LANG": "en_US.UTF-8",
    "PS1": "\\u@\\h:\\w\\$ ",
    "LS_COLORS": "rs=0:di=01;34:ln=01;36:mh=00:pi=40;33:so=01;35:*.tar=01;31:*.pem=00;33",
    "PYTHONPATH": "/home/dev/src:/opt/lib/python",
    "VIRTUAL_ENV": "/home/dev/.venv",
    "BUILD_SHA": "3f9c2a7b5e1d4c8a9b6e3f2a1d0c7b8e9f0a1b2c",
    "RUN_ID": "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d",
    "REPO_URL": "https://github.com/acme/shop.git",
    "GIT_REMOTE": "ssh://git@github.com/acme/shop.git",
    "http_proxy": "http://proxy.internal:3128",
    "SETUP_DOCS": "https://docs.example.com/setup?token=<your-token>",  # a placeholder
    "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus",
    "MAKEFLAGS": "-j4 --jobserver-auth=3,4",
    "CFLAGS": "-O2 -DKEYSIZE=4096 -DTOKEN_BITS=1.5",  # a number is not a secret
    "APP_FLAGS": "-DPASSWORD_MIN=8 --cache-bypass=1 --pass=2",  # nor a password's setting
}


def test_a_variable_whose_value_holds_a_secret_is_not_passed_whatever_its_name(monkeypatch):
    for name, value in {**SECRET_VALUES, **ORDINARY_VALUES}.items():
        monkeypatch.setenv(name, value)
    env = command_environment()
    assert [name for name in SECRET_VALUES if name in env] == []
    assert {name: env.get(name) for name in ORDINARY_VALUES} == ORDINARY_VALUES
    kept = command_environment(["DATABASE_URL", "SENTRY_*"])
    assert [name for name in SECRET_VALUES if name in kept] == ["DATABASE_URL", "SENTRY_DSN"]

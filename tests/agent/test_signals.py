"""`codemem run` stopped by a signal while the agent's command runs: real processes, real signals.

The agent's command runs in its own session, so a signal meant for codemem (a Ctrl-C, a
`kill`, a closed terminal) reaches codemem alone: whatever the signal, codemem must take the
command's whole group with it, save the conversation, and end with one line and 128 + the
signal's number.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from agent_helpers import recall_rows
from test_tools_shell import alive, escaping_command, wait_gone

from tests.helpers import FIXTURES

TIMEOUT = 60  # start-up imports on a busy machine


def start_run(
    ws, tmp_path, command: str, nohup: bool = False, entry: tuple[str, ...] = ("-m", "codemem")
) -> subprocess.Popen:
    """`codemem run --yes --json` whose scripted model runs `command`, in its own group
    (with SIGHUP ignored, as `nohup` starts it, if `nohup`; `entry`: how Python starts
    codemem)."""
    script = tmp_path / "script.yml"
    step = {"tool_calls": [{"name": "run_command", "arguments": {"command": command}}]}
    script.write_text(yaml.safe_dump([step, "Done."]))
    env = {**os.environ, "PYTHONPATH": str(FIXTURES.parent), "CODEMEM_AGENT__REFRESH_INDEX": "0"}
    return subprocess.Popen(
        [sys.executable, *entry, "--repo", str(ws.root), "run", "-m", f"scripted/{script}"]
        + ["--yes", "--json", "tidy up"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
        # SIGHUP ignored as `nohup` starts a process, or else as a terminal does, whatever
        # the suite itself was started under.
        preexec_fn=lambda: signal.signal(
            signal.SIGHUP, signal.SIG_IGN if nohup else signal.SIG_DFL
        ),
    )


def wait_for_pid(path, process: subprocess.Popen) -> int:
    """The pid the agent's command wrote to `path` once it runs."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        if path.is_file() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"the command never started: {process.communicate()}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_termination_signal_kills_the_command_and_saves_the_session(ws, tmp_path, signum):
    pid_file = tmp_path / "command.pid"
    command = f"echo $$ > {pid_file}; while :; do sleep 0.1; done"
    process = start_run(ws, tmp_path, command)
    shell = wait_for_pid(pid_file, process)
    process.send_signal(signum)
    out, err = process.communicate(timeout=TIMEOUT)
    try:
        assert wait_gone(shell), "the agent's command outlived codemem"
    finally:
        if alive(shell):
            os.killpg(shell, signal.SIGKILL)
    name = signal.Signals(signum).name
    assert (process.returncode, err) == (128 + signum, f"codemem: terminated ({name})\n")
    events = [json.loads(line) for line in out.splitlines()]
    assert [event["type"] for event in events] == [
        "session",
        "tool_call",
        "error",
        "usage",
        "end",
    ]
    assert events[-1] == {
        "type": "end",
        "status": "interrupted",
        "exit_code": 128 + signum,
        "error": f"terminated ({name})",
    }
    assert [role for role, _ in recall_rows(ws, events[0]["id"])] == ["user", "assistant", "tool"]


def test_a_second_ctrl_c_kills_a_command_that_ignores_sigterm(ws, tmp_path):
    pid_file, termed = tmp_path / "command.pid", tmp_path / "termed"
    # SIGTERM is noted, not obeyed (`sleep` dies of it; the loop goes on).
    command = f"trap 'echo > {termed}' TERM; echo $$ > {pid_file}; while :; do sleep 0.1; done"
    process = start_run(ws, tmp_path, command)
    shell = wait_for_pid(pid_file, process)
    process.send_signal(signal.SIGINT)
    # codemem asked the group to stop and waits out the grace period (a fixed pause here sent
    # the second Ctrl-C, on a loaded machine, before codemem had handled the first).
    deadline = time.monotonic() + TIMEOUT
    while not termed.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert termed.exists(), "codemem never asked the command's group to stop"
    process.send_signal(signal.SIGINT)  # impatient: now
    out, err = process.communicate(timeout=TIMEOUT)
    try:
        assert wait_gone(shell, seconds=1.0), "the agent's command outlived codemem"
    finally:
        if alive(shell):
            os.killpg(shell, signal.SIGKILL)
    assert process.returncode == 130
    assert json.loads(out.splitlines()[-1])["status"] == "interrupted"


def test_under_nohup_a_hangup_changes_nothing(ws, tmp_path):
    pid_file = tmp_path / "command.pid"
    process = start_run(ws, tmp_path, f"echo $$ > {pid_file}; sleep 1; echo finished", nohup=True)
    wait_for_pid(pid_file, process)
    process.send_signal(signal.SIGHUP)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    assert json.loads(out.splitlines()[-1])["status"] == "done"


def test_a_killed_codemem_takes_the_command_and_its_children_with_it(ws, tmp_path):
    pid_file, child_file = tmp_path / "command.pid", tmp_path / "child.pid"
    command = (
        f"sleep 120 & echo $! > {child_file}; echo $$ > {pid_file}; while :; do sleep 0.1; done"
    )
    process = start_run(ws, tmp_path, command)
    shell = wait_for_pid(pid_file, process)
    child = int(child_file.read_text())
    process.kill()  # SIGKILL: no handler, no finally
    out, _ = process.communicate(timeout=TIMEOUT)
    try:
        assert wait_gone(shell) and wait_gone(child), "the agent's command outlived codemem"
    finally:
        if alive(shell) or alive(child):
            os.killpg(shell, signal.SIGKILL)
    # The task and the call in flight were saved before the command ran: resumable.
    session = json.loads(out.splitlines()[0])["id"]
    assert [role for role, _ in recall_rows(ws, session)] == ["user", "assistant"]


SLOW_WATCHDOG = """
import subprocess, sys, time
import codemem.__main__ as entry
popen = subprocess.Popen.__init__
def slow(self, args, *rest, **kwargs):
    if "codemem-watchdog" in args:
        time.sleep(3)  # a loaded machine: the watchdog's shell takes long to start
    popen(self, args, *rest, **kwargs)
subprocess.Popen.__init__ = slow
sys.argv = ["codemem", *sys.argv[1:]]
entry.run()
"""


def test_a_codemem_killed_while_its_watchdog_starts_takes_the_command_with_it(ws, tmp_path):
    # The watchdog was started after the command: on a loaded machine codemem killed while
    # the watchdog's shell started (the command already running) left the command behind.
    pid_file = tmp_path / "command.pid"
    command = f"echo $$ > {pid_file}; while :; do sleep 0.1; done"
    process = start_run(ws, tmp_path, command, entry=("-c", SLOW_WATCHDOG))
    shell = wait_for_pid(pid_file, process)
    process.kill()
    process.communicate(timeout=TIMEOUT)
    try:
        assert wait_gone(shell), "the agent's command outlived codemem"
    finally:
        if alive(shell):
            os.killpg(shell, signal.SIGKILL)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="marked processes are found in /proc")
def test_a_killed_codemem_takes_what_left_the_group_with_it(ws, tmp_path):
    pid_file, escaped_file = tmp_path / "command.pid", tmp_path / "escaped.pid"
    command = escaping_command(escaped_file, f"echo $$ > {pid_file}; while :; do sleep 0.1; done")
    process = start_run(ws, tmp_path, command)
    shell = wait_for_pid(pid_file, process)
    escaped = int(escaped_file.read_text())
    process.kill()  # SIGKILL: the watchdog alone is left to act
    process.communicate(timeout=TIMEOUT)
    try:
        assert wait_gone(shell), "the agent's command outlived codemem"
        assert wait_gone(escaped), "a process in a session of its own outlived codemem"
    finally:
        for pid in (shell, escaped):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


KILLED_WRITING = """
import os, signal, sys
import codemem.__main__ as entry
os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)  # killed while the file is written
sys.argv = ["codemem", *sys.argv[1:]]
entry.run()
"""


def test_a_codemem_killed_mid_write_leaves_no_torn_file_in_the_work_tree(ws, tmp_path):
    script = tmp_path / "script.yml"
    write = {"name": "write_file", "arguments": {"path": "notes.md", "content": "n\n" * 100_000}}
    script.write_text(yaml.safe_dump([{"tool_calls": [write]}, "Done."]))
    before = sorted(p.name for p in ws.root.iterdir())
    env = {**os.environ, "PYTHONPATH": str(FIXTURES.parent), "CODEMEM_AGENT__REFRESH_INDEX": "0"}
    argv = ["--repo", str(ws.root), "run", "-m", f"scripted/{script}", "--yes", "write notes"]
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WRITING, *argv],
        env=env,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    assert sorted(p.name for p in ws.root.iterdir()) == before


def terminated_while_indexing(ws, tmp_path, script, *args: str, **env: str):
    """(stdout, stderr) of `codemem ARGS -m scripted/SCRIPT`, stopped by SIGTERM once an index
    build reaches its first batch (codemem's test hook stalls it there)."""
    stall, script_file = tmp_path / "stalled", tmp_path / "script.yml"
    script_file.write_text(yaml.safe_dump(script))
    env = {
        **os.environ,
        "PYTHONPATH": str(FIXTURES.parent),
        "CODEMEM_TEST_STALL_AT": "batch",
        "CODEMEM_TEST_STALL_FILE": str(stall),
        "CODEMEM_INDEX__BATCH_FILES": "2",
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "codemem", "--repo", str(ws.root), *args]
        + ["-m", f"scripted/{script_file}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + TIMEOUT
    while not stall.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert stall.exists(), process.communicate()
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=TIMEOUT)
    assert (process.returncode, err) == (143, "codemem: terminated (SIGTERM)\n")
    return out


def test_ask_json_stopped_by_sigterm_still_prints_its_object(ws, tmp_path):
    search = {"name": "search_code", "arguments": {"query": "cart total"}}
    out = terminated_while_indexing(  # the search builds the index
        ws,
        tmp_path,
        [{"tool_calls": [search]}, "Done."],
        "ask",
        "--json",
        "what?",
        CODEMEM_AGENT__REFRESH_INDEX="0",
    )
    answer = json.loads(out)
    assert (answer["answer"], answer["error"]) == (None, "terminated (SIGTERM)")


def test_run_json_stopped_by_sigterm_while_indexing_at_start_ends_with_its_end_event(ws, tmp_path):
    # the index is brought up to date before the session starts
    out = terminated_while_indexing(ws, tmp_path, ["Done."], "run", "--json", "tidy up")
    assert [json.loads(line) for line in out.splitlines()] == [
        {"type": "end", "status": "interrupted", "exit_code": 143, "error": "terminated (SIGTERM)"}
    ]

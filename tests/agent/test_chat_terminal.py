"""`codemem chat` on a real pseudo-terminal: approvals and Ctrl-C, with a scripted model."""

from __future__ import annotations

import os
import signal
import sys
import termios
import time

import pytest
import yaml
from agent_helpers import recall_rows

pexpect = pytest.importorskip("pexpect")

CART = "shop/cart.py"
OLD = "    def total(self) -> float:"
NEW = "    def total(self) -> float:  # euros"
EDIT = {
    "tool_calls": [
        {"name": "edit_file", "arguments": {"path": CART, "old_string": OLD, "new_string": NEW}}
    ]
}
ASK = r"\[y\]es / \[n\]o / \[a\]lways this session:"
PROMPT = "›"  # prompt_toolkit moves the cursor rather than print the space
TIMEOUT = 60  # start-up imports on a busy machine


@pytest.fixture
def spawn_chat(ws, tmp_path):
    children = []

    def spawn(items, **variables):
        script = tmp_path / f"script{len(children)}.yml"
        script.write_text(yaml.safe_dump(items, sort_keys=False))
        env = dict(os.environ, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", **variables)
        env["CODEMEM_AGENT__REFRESH_INDEX"] = "false"
        child = pexpect.spawn(
            sys.executable,
            ["-m", "codemem", "--repo", str(ws.root), "chat", "--model", f"scripted/{script}"],
            env=env,
            encoding="utf-8",
            timeout=TIMEOUT,
            dimensions=(40, 200),
            # A suite started under `nohup` would hand its SIGHUP-ignored on: codemem keeps
            # it so (as `nohup codemem chat` should), and a closed terminal would end nothing.
            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
        )
        children.append(child)
        child.expect_exact(PROMPT)
        return child

    yield spawn
    for child in children:
        child.close(force=True)


def enter(child, text: str) -> None:
    """Type `text` and Enter (a bare line feed is Ctrl+J: a new line in the message)."""
    child.send(text + "\r")


def leave(child) -> None:
    child.expect_exact(PROMPT)
    enter(child, "/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_approving_an_edit_on_a_terminal(ws, spawn_chat):
    child = spawn_chat([EDIT, "Done."])
    enter(child, "comment the total")
    child.expect(ASK)
    enter(child, "y")
    child.expect_exact("Done.")
    leave(child)
    assert NEW + "\n" in (ws.root / CART).read_text()


def test_ctrl_c_at_an_approval_stops_the_turn(ws, spawn_chat):
    from codemem.memory import Recall

    child = spawn_chat([EDIT, "Hello again."])
    enter(child, "comment the total")
    child.expect(ASK)
    child.sendcontrol("c")
    child.expect_exact("Stopped (Ctrl-C): the turn ended here; the conversation so far is kept.")
    child.expect_exact(PROMPT)
    enter(child, "are you there?")
    child.expect_exact("Hello again.")
    leave(child)
    assert OLD + "\n" in (ws.root / CART).read_text()
    with Recall(ws) as recall:
        session = recall.list_sessions()[0].id
    rows = recall_rows(ws, session)
    assert [role for role, _ in rows] == ["user", "assistant", "tool", "user", "assistant"]
    assert rows[2][1] == "interrupted by the user before this tool call finished"
    assert rows[4][1] == "Hello again."


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_kill_at_the_prompt_gives_the_terminal_back(ws, spawn_chat, signame):
    signum = signal.Signals[signame]
    child = spawn_chat(["Hello."])
    time.sleep(0.3)  # the prompt is drawn: the terminal is in raw mode, bracketed paste on
    os.kill(child.pid, signum)
    child.expect(pexpect.EOF)
    modes = termios.tcgetattr(child.child_fd)[3]
    child.close()
    assert (child.exitstatus, child.signalstatus) == (128 + signum, None)
    assert child.before.endswith(f"\x1b[?2004lcodemem: terminated ({signame})\r\n")
    assert modes & termios.ECHO and modes & termios.ICANON  # typing shows again
    assert list(ws.sessions_dir.glob("chat.*.lock")) == []


def test_ctrl_c_stops_a_slow_slash_command_not_the_chat(ws, spawn_chat, tmp_path):
    stall = tmp_path / "stalled"
    child = spawn_chat(  # /search builds the index, and stalls after its first batch
        ["Hello."],
        CODEMEM_TEST_STALL_AT="batch",
        CODEMEM_TEST_STALL_FILE=str(stall),
        CODEMEM_INDEX__BATCH_FILES="2",
    )
    enter(child, "/search cart total")
    deadline = time.monotonic() + TIMEOUT
    while not stall.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stall.exists(), "the search never reached its first batch"
    child.sendcontrol("c")
    child.expect_exact("Stopped (Ctrl-C).")
    enter(child, "hello?")
    child.expect_exact("Hello.")
    leave(child)

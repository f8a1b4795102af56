"""`codemem sessions`, driven through the real CLI entry point."""

from __future__ import annotations

import json

from memory_helpers import cli_ok as ok
from memory_helpers import run_cli as run

from codemem.memory import Recall
from codemem.workspace import Workspace


def test_sessions_commands(repo, tmp_path):
    assert ok(repo, "sessions", "list").stdout == "No sessions yet.\n"
    assert not Workspace(repo).recall_db.exists()  # reading created nothing
    with Recall(Workspace(repo)) as recall:
        session = recall.start_session("openai/gpt-5", "Fix CI")
        recall.add_message(session, "user", "CI is red")
    assert (
        ok(repo, "sessions", "list").stdout == f"{session}     1 messages  openai/gpt-5  Fix CI\n"
    )
    assert json.loads(ok(repo, "sessions", "list", "--json").stdout)[0]["id"] == session
    shown = ok(repo, "sessions", "show", session[:15]).stdout
    assert shown.startswith(f"# Session {session}: Fix CI\n")
    assert (
        json.loads(ok(repo, "sessions", "show", session, "--json").stdout)["messages"][0]["content"]
        == "CI is red"
    )
    target = tmp_path / "out.json"
    ok(repo, "sessions", "export", session, "--format", "json", "--output", str(target))
    assert json.loads(target.read_text())["title"] == "Fix CI"
    assert ok(repo, "sessions", "export", session).stdout == shown
    missing = run(repo, "sessions", "show", "nope")
    assert (missing.exit_code, missing.stderr) == (
        2,
        "codemem: error: no session 'nope': `codemem sessions list` shows the ids\n",
    )


def test_sessions_are_shown_without_terminal_codes(repo):
    # A tool's result is what a file or command of the repository printed, saved as it was:
    # `sessions show` wrote its codes to the terminal (erase a line, retitle the window,
    # write the clipboard), where `ask`, `recall` and `memory show` print them escaped.
    with Recall(Workspace(repo)) as recall:
        session = recall.start_session("m", "Read \x1b]52;c;cm0gLXJmIH4=\x07 it")
        recall.add_message(session, "user", "What is in notes.txt?")
        recall.add_message(session, "tool", "safe line\n\x1b[2K\rhidden\x9b31m line\tend")
    assert ok(repo, "sessions", "list").stdout == (
        f"{session}     2 messages  m  Read \\x1b]52;c;cm0gLXJmIH4=\\x07 it\n"
    )
    shown = ok(repo, "sessions", "show", session).stdout
    assert shown.startswith(f"# Session {session}: Read \\x1b]52;c;cm0gLXJmIH4=\\x07 it\n")
    assert "safe line\n\\x1b[2K\\rhidden\\x9b31m line\tend\n" in shown
    assert "\x1b" not in shown and "\x9b" not in shown
    exported = ok(repo, "sessions", "show", session, "--json").stdout  # data: escaped by JSON
    assert json.loads(exported)["messages"][1]["content"].startswith("safe line\n\x1b[2K")

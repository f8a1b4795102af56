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

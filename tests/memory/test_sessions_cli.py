"""`codemem sessions`, driven through the real CLI entry point."""

from __future__ import annotations

import json
import logging
import sqlite3

from memory_helpers import cli_ok as ok
from memory_helpers import run_cli as run

from codemem.infra import printable_text
from codemem.memory import Recall
from codemem.workspace import Workspace
from tests.helpers import codemem_on_a_terminal, run_codemem


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


def test_sessions_export_is_exact_through_a_pipe_and_escaped_on_a_terminal(repo):
    # to stdout it wrote a tool's codes to the terminal, and click stripped those that look
    # like colour from a pipe, so `export > file` was not the transcript either
    with Recall(Workspace(repo)) as recall:
        session = recall.start_session("m", "Codes")
        recall.add_message(session, "tool", "a \x1b]52;c;ZXZpbA==\x07 b \x1b[31mred\x1b[0m")
    exported = recall_export(repo, session)
    piped = run_codemem(repo, "sessions", "export", session)
    assert (piped.returncode, piped.stdout) == (0, exported)
    assert "a \x1b]52;c;ZXZpbA==\x07 b \x1b[31mred\x1b[0m" in exported
    shown = codemem_on_a_terminal(repo, "sessions", "export", session).decode()
    assert shown == printable_text(exported).replace("\n", "\r\n")
    assert "\x1b" not in shown


def recall_export(repo, session: str) -> str:
    with Recall(Workspace(repo)) as recall:
        return recall.export_session(session, "markdown")


def test_odd_values_in_recall_rows_are_placeholders_told_once(repo, caplog):
    # SQLite keeps any value in any column: a hand edit left a time that is no time, bytes
    # where text belongs, a number that is no number, tool calls that are no JSON. `sessions`
    # and `recall` failed with an internal error on the first such row.
    with Recall(Workspace(repo)) as recall:
        odd = recall.start_session("m", "Odd")
        recall.add_message(odd, "user", "hello world")
        recall.add_message(odd, "assistant", "hello there", tool_calls=[{"id": "1"}])
        fine = recall.start_session("m", "Fine")
        recall.add_message(fine, "user", "hello again")
    conn = sqlite3.connect(Workspace(repo).recall_db)
    conn.execute("UPDATE sessions SET started = 'garbage', model = X'00ff' WHERE id = ?", (odd,))
    conn.execute(
        "UPDATE messages SET created = 'garbage', seq = 'x', tokens = 'many', "
        "tool_calls = '{bad' WHERE session_id = ? AND role = 'assistant'",
        (odd,),
    )
    conn.execute(
        "UPDATE messages SET content = CAST(X'68656c6c6f20ff' AS TEXT) WHERE role = 'user'"
        " AND session_id = ?",
        (odd,),
    )
    conn.execute("INSERT INTO sessions (id, started) VALUES (NULL, 'garbage')")
    conn.execute(
        "UPDATE messages SET created = '0001-01-01T00:00:00+01:00', tool_results = ? "
        "WHERE session_id = ?",
        ("[" * 100_000, fine),
    )
    conn.commit()
    conn.close()
    before = Workspace(repo).recall_db.read_bytes()

    def told() -> list[str]:
        said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        caplog.clear()
        return said

    listed = ok(repo, "sessions", "list")
    assert listed.stdout == (  # no start time: last, where SQLite sorts 'garbage' first
        f"{fine}     1 messages  m  Fine\n{odd}     2 messages  \\x00\ufffd  Odd\n"
    )
    db = Workspace(repo).recall_db
    assert told() == [
        f"{db} holds values codemem cannot read (sessions.id None, "
        # a session's last message time is its newest one stored as codemem stores times:
        # neither 'garbage' nor the fine session's, in another offset than UTC's
        "sessions.started 'garbage', sessions.model b'\\x00\\xff'): "
        "shown as placeholders, 1 session(s) with no readable id left out; the file is left "
        "as it is"
    ]
    assert [s["started"] for s in json.loads(ok(repo, "sessions", "list", "--json").stdout)][
        1
    ] is None
    assert len(told()) == 1  # once per command
    shown = ok(repo, "sessions", "show", odd)
    assert "- Started: unknown time\n" in shown.stdout
    assert "## 0. assistant (unknown time)\n\nhello there\n" in shown.stdout
    assert "hello \ufffd\n" in shown.stdout
    assert len(told()) == 1
    data = json.loads(ok(repo, "sessions", "export", odd, "--format", "json").stdout)
    assert [(m["seq"], m["tool_calls"], m["tokens"], m["created"]) for m in data["messages"]][
        1
    ] == (0, None, None, None)
    assert len(told()) == 1
    found = ok(repo, "recall", "hello", "--conversations")
    assert sorted(found.stdout.splitlines()) == sorted(
        [
            f"session {odd} #1 user: [hello] \ufffd",
            f"session {odd} #0 assistant: [hello] there",
            f"session {fine} #1 user: [hello] again",
        ]
    )
    assert len(told()) == 1

    assert Workspace(repo).recall_db.read_bytes() == before  # nothing rewritten, nothing lost


def test_export_to_a_folder_writes_the_default_name_inside_it(repo, tmp_path):
    # `--output out/` wrote a file named `out` beside where the folder was meant to be, and
    # `--output out` (a folder there) was click's "is a directory" usage error.
    with Recall(Workspace(repo)) as recall:
        session = recall.start_session("m", "Fix CI")
        recall.add_message(session, "user", "CI is red")
    folder = tmp_path / "out"
    folder.mkdir()
    for given in (str(folder), f"{folder}/"):
        wrote = ok(repo, "sessions", "export", session[:15], "--format", "json", "-o", given)
        assert wrote.stderr == f"Wrote {folder / session}.json.\n"
    assert json.loads((folder / f"{session}.json").read_text())["title"] == "Fix CI"
    ok(repo, "sessions", "export", session, "-o", str(folder))
    assert sorted(p.name for p in folder.iterdir()) == [f"{session}.json", f"{session}.md"]
    for given, why in (
        (
            f"{tmp_path}/new/",
            f"--output {tmp_path}/new/: no such folder; make it first or name a file",
        ),
        (
            f"{tmp_path}/new/x.md",
            f"--output {tmp_path}/new/x.md: no folder {tmp_path}/new; make it first",
        ),
    ):
        refused = run(repo, "sessions", "export", session, "-o", given)
        assert (refused.exit_code, refused.stderr) == (2, f"codemem: error: {why}\n")
    assert not (tmp_path / "new").exists()


def test_memory_export_and_review_to_a_folder(repo, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    assert ok(
        repo, "memory", "export", "--format", "claude-md", "--output", f"{folder}/"
    ).stdout == (f"Updated {folder}/CLAUDE.md\n")
    assert "A shop." in (folder / "CLAUDE.md").read_text()
    reviewed = run(repo, "review", "--format", "json", "-o", str(folder))
    assert reviewed.exit_code == 0, reviewed.output
    assert json.loads((folder / "review.json").read_text())["findings"] == []
    refused = run(repo, "review", "-o", f"{tmp_path}/new/")
    assert (refused.exit_code, refused.stderr) == (
        2,
        f"codemem: error: --output {tmp_path}/new/: no such folder; make it first or name a file\n",
    )
    assert sorted(p.name for p in folder.iterdir()) == ["CLAUDE.md", "review.json"]


def test_a_message_whose_time_cannot_be_read_is_outside_every_date_filter(repo):
    # `--since` and `--until` compared the stored text: 'garbage' sorts after every ISO time,
    # so it was "since" any date and never "until" one, and the newest of all. Only a time
    # as codemem stores it (UTC, to the second) orders as the moment it names.
    with Recall(Workspace(repo)) as recall:
        session = recall.start_session("m", "Dates")
        for n in range(4):
            recall.add_message(session, "user", f"deploy step {n}")
    conn = sqlite3.connect(Workspace(repo).recall_db)
    for content, created in [
        ("deploy step 0", "2026-01-10T12:00:00+00:00"),
        ("deploy step 1", "2026-03-10T12:00:00+00:00"),
        ("deploy step 2", "garbage"),
        ("deploy step 3", "2026-01-31T20:00:00+00:00"),
    ]:
        conn.execute("UPDATE messages SET created = ? WHERE content = ?", (created, content))
    conn.commit()
    conn.close()

    def found(*bounds: str) -> list[str]:
        out = json.loads(ok(repo, "recall", "deploy", "--conversations", "--json", *bounds).stdout)
        return sorted(hit["content"] for hit in out["conversations"])

    assert found("--since", "2026-02-01") == ["deploy step 1"]
    assert found("--until", "2026-01-31") == ["deploy step 0", "deploy step 3"]
    assert found("--since", "2026-01-01", "--until", "2026-12-31") == [
        "deploy step 0",
        "deploy step 1",
        "deploy step 3",
    ]
    assert found() == [f"deploy step {n}" for n in range(4)]  # no filter: every message
    listed = json.loads(ok(repo, "recall", "", "--conversations", "--json").stdout)
    assert [hit["content"] for hit in listed["conversations"]][:3] == [
        "deploy step 1",
        "deploy step 3",
        "deploy step 0",
    ]  # newest first
    assert [hit["content"] for hit in listed["conversations"]][3] == "deploy step 2"  # then it
    # the session's last message is its newest readable one: `max` of the text took
    # 'garbage', which reads as no time, and the sleep-time pass skipped such a session
    (only,) = json.loads(ok(repo, "sessions", "list", "--json").stdout)
    assert only["last_message"] == "2026-03-10T12:00:00+00:00"

"""Recall memory: sessions and messages in SQLite, search with filters, export, migrations."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone

import pytest
from memory_helpers import START, Clock

from codemem.errors import UsageError
from codemem.memory import NotFoundError, Recall
from codemem.memory.recall_schema import MIGRATIONS, SCHEMA_VERSION


@pytest.fixture
def history(recall):
    """Two sessions; the clock advances a minute per read, from 2025-03-01T12:00Z."""
    recall.clock.now = START  # opening the database read the clock once
    first = recall.start_session("anthropic/claude-sonnet-4-5", "Fix the flaky test")  # 12:00
    recall.add_message(first, "user", "The checkout test fails randomly on CI")  # 12:01
    recall.add_message(
        first,
        "assistant",
        "Looking at the checkout test.",
        tool_calls=[{"name": "grep", "arguments": {"pattern": "checkout"}}],
        tool_results=[{"output": "tests/test_checkout.py:12"}],
        tokens=42,
    )  # 12:02
    recall.add_message(first, "assistant", "The test depends on dict ordering; fixed.")  # 12:03
    recall.clock.now = datetime(2025, 3, 5, 9, 0, tzinfo=timezone.utc)
    second = recall.start_session("openai/gpt-5", "Speed up CI")  # 03-05 09:00
    recall.add_message(
        second, "user", "CI takes twenty minutes; the checkout suite is slow"
    )  # 09:01
    recall.add_message(second, "assistant", "Caching the virtualenv would help.")  # 09:02
    return first, second


def test_sessions_are_recorded_in_order(recall, history):
    first, second = history
    assert first.startswith("20250301-120000-") and second.startswith("20250305-090000-")
    sessions = recall.list_sessions()
    assert [(s.id, s.model, s.title, s.message_count) for s in sessions] == [
        (second, "openai/gpt-5", "Speed up CI", 2),
        (first, "anthropic/claude-sonnet-4-5", "Fix the flaky test", 3),
    ]
    assert sessions[1].started == datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
    assert sessions[1].last_message == datetime(2025, 3, 1, 12, 3, tzinfo=timezone.utc)


def test_sessions_started_in_one_second_are_listed_latest_first(recall):
    # `chat --continue` resumes the first listed: it took the one whose random id suffix
    # sorted last, so of two sessions started in one second it could resume the older.
    recall.clock = lambda: START
    started = [recall.start_session("m", f"session {n}") for n in range(8)]
    assert len({s[:15] for s in started}) == 1  # one second
    assert [s.id for s in recall.list_sessions()] == started[::-1]


def test_get_session_returns_every_field(recall, history):
    transcript = recall.get_session(history[0])
    assert [(m.seq, m.role) for m in transcript.messages] == [
        (1, "user"),
        (2, "assistant"),
        (3, "assistant"),
    ]
    message = transcript.messages[1]
    assert message.content == "Looking at the checkout test."
    assert message.tool_calls == [{"name": "grep", "arguments": {"pattern": "checkout"}}]
    assert message.tool_results == [{"output": "tests/test_checkout.py:12"}]
    assert message.tokens == 42
    assert message.created == datetime(2025, 3, 1, 12, 2, tzinfo=timezone.utc)


def test_sessions_are_found_by_a_unique_prefix(recall, history):
    first, _ = history
    assert recall.get_session(first[:10]).session.id == first
    with pytest.raises(NotFoundError, match="matches several sessions"):
        recall.get_session("2025030")
    with pytest.raises(
        NotFoundError, match="no session 'nope': `codemem sessions list` shows the ids"
    ):
        recall.get_session("nope")
    with pytest.raises(NotFoundError):
        recall.add_message("nope", "user", "x")


def contents(hits):
    return [hit.message.content for hit in hits]


def test_search_by_text(recall, history):
    hits = recall.search("checkout")
    assert set(contents(hits)) == {
        "The checkout test fails randomly on CI",
        "Looking at the checkout test.",
        "CI takes twenty minutes; the checkout suite is slow",
    }
    assert recall.search("ordering")[0].snippet == "The test depends on dict [ordering]; fixed."
    assert recall.search("ordering")[0].session_title == "Fix the flaky test"
    assert recall.search("kubernetes") == []


def test_search_ranks_better_matches_first(recall, history):
    assert contents(recall.search("checkout test", k=1)) == ["Looking at the checkout test."]


def test_search_with_role_and_date_filters(recall, history):
    assert contents(recall.search("checkout", roles=["user"])) == [  # the shorter message first
        "The checkout test fails randomly on CI",
        "CI takes twenty minutes; the checkout suite is slow",
    ]
    assert contents(recall.search("checkout", since="2025-03-02")) == [
        "CI takes twenty minutes; the checkout suite is slow"
    ]
    assert contents(recall.search("checkout", until="2025-03-01", roles=["assistant"])) == [
        "Looking at the checkout test."
    ]
    assert contents(
        recall.search("", since="2025-03-01T12:02:00", until="2025-03-01T12:03:00")
    ) == [
        "The test depends on dict ordering; fixed.",
        "Looking at the checkout test.",
    ]


def test_search_takes_any_text_safely(recall, history):
    assert recall.search('"unbalanced AND (quote* NEAR') == []
    assert contents(recall.search("dict-ordering!")) == [
        "The test depends on dict ordering; fixed."
    ]


def test_export_markdown(recall, history):
    first, _ = history
    assert recall.export_session(first, "markdown") == (
        f"# Session {first}: Fix the flaky test\n"
        "\n"
        "- Started: 2025-03-01T12:00:00+00:00\n"
        "- Model: anthropic/claude-sonnet-4-5\n"
        "- Messages: 3\n"
        "\n"
        "## 1. user (2025-03-01T12:01:00+00:00)\n"
        "\n"
        "The checkout test fails randomly on CI\n"
        "\n"
        "## 2. assistant (2025-03-01T12:02:00+00:00, 42 tokens)\n"
        "\n"
        "Looking at the checkout test.\n"
        "\n"
        "Tool calls:\n"
        "\n"
        "```json\n"
        "[\n"
        "  {\n"
        '    "name": "grep",\n'
        '    "arguments": {\n'
        '      "pattern": "checkout"\n'
        "    }\n"
        "  }\n"
        "]\n"
        "```\n"
        "\n"
        "Tool results:\n"
        "\n"
        "```json\n"
        "[\n"
        "  {\n"
        '    "output": "tests/test_checkout.py:12"\n'
        "  }\n"
        "]\n"
        "```\n"
        "\n"
        "## 3. assistant (2025-03-01T12:03:00+00:00)\n"
        "\n"
        "The test depends on dict ordering; fixed.\n"
    )


def test_export_json(recall, history):
    _, second = history
    assert json.loads(recall.export_session(second, "json")) == {
        "id": second,
        "started": "2025-03-05T09:00:00+00:00",
        "model": "openai/gpt-5",
        "title": "Speed up CI",
        "message_count": 2,
        "last_message": "2025-03-05T09:02:00+00:00",
        "messages": [
            {
                "seq": 1,
                "role": "user",
                "content": "CI takes twenty minutes; the checkout suite is slow",
                "tool_calls": None,
                "tool_results": None,
                "tokens": None,
                "created": "2025-03-05T09:01:00+00:00",
            },
            {
                "seq": 2,
                "role": "assistant",
                "content": "Caching the virtualenv would help.",
                "tool_calls": None,
                "tool_results": None,
                "tokens": None,
                "created": "2025-03-05T09:02:00+00:00",
            },
        ],
    }
    with pytest.raises(UsageError, match="unknown export format 'pdf'"):
        recall.export_session(second, "pdf")


def test_database_is_wal_with_recorded_migrations(recall, ws):
    assert recall.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = recall.conn.execute(
        "SELECT version, name, applied FROM schema_migrations ORDER BY version"
    ).fetchall()
    assert [tuple(row) for row in rows] == [
        (version, name, "2025-03-01T12:00:00+00:00") for version, name, _ in MIGRATIONS
    ]
    assert ws.recall_db.exists()


def test_migrations_bring_an_old_database_up_to_date_once(ws):
    ws.recall_db.parent.mkdir(parents=True)
    old = sqlite3.connect(ws.recall_db)  # what codemem with schema version 1 left behind
    old.executescript(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL);"
        + MIGRATIONS[0][2]
        + "INSERT INTO schema_migrations VALUES (1, 'sessions and messages', '2024-01-01T00:00:00+00:00');"
        "INSERT INTO sessions VALUES ('20240101-000000-abcd', '2024-01-01T00:00:00+00:00', 'm', 'Old');"
        "INSERT INTO messages (session_id, seq, role, content, created) VALUES "
        "('20240101-000000-abcd', 1, 'user', 'an old question about pagination', '2024-01-01T00:00:01+00:00');"
    )
    old.commit()
    old.close()

    with Recall(ws, clock=Clock()) as recall:
        applied = [
            tuple(r)
            for r in recall.conn.execute(
                "SELECT version, applied FROM schema_migrations ORDER BY version"
            )
        ]
        assert applied == [(1, "2024-01-01T00:00:00+00:00")] + [
            (version, "2025-03-01T12:00:00+00:00") for version in range(2, SCHEMA_VERSION + 1)
        ]
        assert contents(recall.search("pagination")) == ["an old question about pagination"]
        recall.add_message("20240101-000000-abcd", "assistant", "use cursors")
    with Recall(ws, clock=Clock(datetime(2030, 1, 1, tzinfo=timezone.utc))) as again:
        assert [
            tuple(r)
            for r in again.conn.execute(
                "SELECT version, applied FROM schema_migrations ORDER BY version"
            )
        ] == applied
        assert [m.content for m in again.get_session("20240101").messages] == [
            "an old question about pagination",
            "use cursors",
        ]


def test_a_newer_database_is_refused(ws):
    ws.recall_db.parent.mkdir(parents=True)
    with sqlite3.connect(ws.recall_db) as db:
        db.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)"
        )
        db.execute("INSERT INTO schema_migrations VALUES (99, 'future', 'x')")
    with pytest.raises(Exception, match="schema version 99, newer than this codemem knows"):
        Recall(ws)


def test_threads_sharing_one_recall_keep_every_message(recall):
    import threading

    session = recall.start_session("m", "threads")

    def talk(name: str) -> None:
        for i in range(25):
            recall.add_message(session, "user", f"{name} says {i}")

    threads = [threading.Thread(target=talk, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    messages = recall.get_session(session).messages
    assert [m.seq for m in messages] == list(range(1, 101))
    assert len({m.content for m in messages}) == 100


def test_processes_sharing_the_database_keep_every_message(recall, ws):
    import subprocess
    import sys

    session = recall.start_session("m", "processes")
    script = (
        "import sys\nfrom pathlib import Path\n"
        "from codemem.memory import Recall\n"
        "from codemem.workspace import Workspace\n"
        "with Recall(Workspace(Path(sys.argv[1]))) as recall:\n"
        "    for i in range(50):\n"
        "        recall.add_message(sys.argv[2], 'user', f'{sys.argv[3]} says {i}')\n"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script, str(ws.root), session, f"p{n}"])
        for n in range(3)
    ]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0, 0]
    messages = recall.get_session(session).messages
    assert [m.seq for m in messages] == list(range(1, 151))
    assert len({m.content for m in messages}) == 150


def test_a_ctrl_c_just_after_a_message_is_committed_is_not_lost(ws):
    """The interrupt lands between COMMIT and the return: it must reach the caller as the
    interrupt (the agent stops), not as "cannot rollback" (which the agent logs and goes on)."""

    class InterruptedAfterCommit:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self.conn = conn

        def __getattr__(self, name: str):
            return getattr(self.conn, name)

        def execute(self, sql: str, *args):
            cursor = self.conn.execute(sql, *args)
            if sql == "COMMIT":
                raise KeyboardInterrupt
            return cursor

    with Recall(ws) as recall:
        session = recall.start_session("m", "t")
        real, recall.conn = recall.conn, InterruptedAfterCommit(recall.conn)
        with pytest.raises(KeyboardInterrupt):
            recall.add_message(session, "user", "hello")
        recall.conn = real
        assert [m.content for m in recall.get_session(session).messages] == ["hello"]

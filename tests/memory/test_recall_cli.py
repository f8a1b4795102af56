"""`codemem remember` and `codemem recall`, driven through the real CLI entry point."""

from __future__ import annotations

import json

from memory_helpers import cli_ok as ok
from memory_helpers import run_cli as run

from codemem.memory import Archive, MemoryStore, Recall
from codemem.workspace import Workspace


def test_remember_saves_a_note_by_default(repo):
    result = ok(
        repo,
        "remember",
        "Deploys go through staging first.",
        "--tag",
        "deploy",
        "--source",
        "commit abc",
    )
    assert result.stdout.startswith("Saved note ")
    note_id = result.stdout.split()[-1].rstrip(".")
    note = Archive(Workspace(repo)).get(note_id)
    assert (note.content, note.tags, note.source) == (
        "Deploys go through staging first.",
        ["deploy"],
        "commit abc",
    )
    again = run(repo, "remember", "Deploys go through staging first.")
    assert again.exit_code == 2
    assert again.stderr.startswith(f"codemem: error: an identical note already exists: {note_id}")
    near = ok(repo, "remember", "Deploys go through staging first!!", "--json")
    assert json.loads(near.stdout)["near_duplicates"] == [
        {"id": note_id, "similarity": 1.0}
    ]  # same words
    close = ok(repo, "remember", "Deploys always go through staging first.")
    assert "similar to" in close.stderr


def test_remember_into_a_block(repo):
    assert ok(repo, "remember", "Uses Python 3.12.", "--block", "project").stdout == (
        "Added to project: 25 / 8,000 characters.\n"
    )
    assert MemoryStore(Workspace(repo)).get("project").value == "A shop.\nUses Python 3.12."
    assert run(repo, "remember", "x", "--block", "project", "--tag", "t").exit_code == 2
    assert run(repo, "remember", "x", "--block", "project", "--archive").exit_code == 2


def test_recall_searches_notes_and_conversations(repo):
    ws = Workspace(repo)
    Archive(ws).insert("The staging database resets on Sundays.", tags=["db"])
    with Recall(ws) as recall:
        session = recall.start_session("m", "Staging questions")
        recall.add_message(session, "user", "Why is staging empty on Monday?")
    both = json.loads(ok(repo, "recall", "staging", "--json").stdout)
    assert [hit["content"] for hit in both["archive"]] == [
        "The staging database resets on Sundays."
    ]
    assert [(hit["session"], hit["role"]) for hit in both["conversations"]] == [(session, "user")]
    only = json.loads(ok(repo, "recall", "staging", "--archive", "--json").stdout)
    assert list(only) == ["archive"]
    # nothing found exits 1, as `codemem search` does: also with --json, which says so
    none = run(repo, "recall", "staging", "--conversations", "--role", "assistant", "--json")
    assert (none.exit_code, json.loads(none.stdout)) == (1, {"conversations": []})
    text = ok(repo, "recall", "staging").stdout.splitlines()
    assert text[0].endswith("[db]: The staging database resets on Sundays.")
    assert text[1] == f"session {session} #1 user: Why is [staging] empty on Monday?"
    nothing = run(repo, "recall", "kubernetes")
    assert (nothing.exit_code, nothing.stdout, nothing.stderr) == (1, "", "Nothing found.\n")
    assert run(repo, "recall", "x", "--archive", "--conversations").exit_code == 2

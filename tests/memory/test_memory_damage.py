"""Damaged memory files: named in one line with the fix, the rest still works."""

from __future__ import annotations

import errno
import json
import logging
import os

import pytest
from memory_helpers import run_cli as run

from codemem.memory import MemoryStore, Recall
from codemem.sleep.state import read_state
from codemem.workspace import Workspace


@pytest.fixture
def repo(repo_factory, monkeypatch):
    monkeypatch.setenv("CODEMEM_USER", "alice")
    root = repo_factory()
    store = MemoryStore(Workspace(root))
    store.create("project", "What the project is.", value="A shop.")
    store.create("conventions", "Conventions.", value="Tabs.")
    return root


def damaged_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "was damaged" in r.getMessage()]


def test_a_non_utf8_block_is_named_once_and_the_others_still_show(repo):
    bad = repo / ".codemem" / "blocks" / "notes.md"
    bad.write_bytes(b"---\ndescription: x\n---\nbad \xff byte\n")
    result = run(repo, "memory", "show")
    assert result.exit_code == 0
    assert "A shop." in result.stdout and "Tabs." in result.stdout
    assert result.stderr == (
        "codemem: warning: .codemem/blocks/notes.md: not UTF-8 text (invalid start byte at byte 27): "
        "re-save it as UTF-8, or restore it with `git checkout -- .codemem/blocks/notes.md`\n"
    )
    one = run(repo, "memory", "show", "notes")
    assert one.exit_code == 2
    assert one.stderr.startswith("codemem: error: .codemem/blocks/notes.md: not UTF-8 text")
    assert "Traceback" not in one.output


def test_a_corrupt_recall_database_is_set_aside_once_and_commands_work(repo, caplog):
    ws = Workspace(repo)
    with Recall(ws) as recall:
        recall.add_message(recall.start_session(title="old"), "user", "hello there")
    ws.recall_db.write_bytes(b"this is not a database" * 100)
    caplog.set_level(logging.WARNING, logger="codemem")
    # the conversation went with the damaged database: recall finds nothing (exit 1, as search)
    for args, code in ((["sessions", "list"], 0), (["recall", "hello"], 1), (["digest"], 0)):
        result = run(repo, *args)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
    lines = damaged_lines(caplog)
    assert len(lines) == 1
    assert (
        "recall.sqlite was damaged (file is not a database); moved it to recall.sqlite.damaged-"
        in lines[0]
    )
    aside = sorted(p.name for p in ws.local_dir.glob("recall.sqlite.damaged-*"))
    assert len(aside) == 1
    assert (ws.local_dir / aside[0]).read_bytes() == b"this is not a database" * 100
    with Recall(ws) as recall:
        assert recall.list_sessions() == []


def long_conversation(repo) -> Workspace:
    """The repository's workspace, its recall holding one conversation of 200 messages."""
    ws = Workspace(repo)
    with Recall(ws) as recall:
        session = recall.start_session(title="long")
        for _ in range(200):
            recall.add_message(session, "user", "words " * 100)
    return ws


def test_a_truncated_recall_database_is_set_aside(repo, caplog):
    ws = long_conversation(repo)
    data = ws.recall_db.read_bytes()
    for suffix in ("-wal", "-shm"):
        (ws.local_dir / f"recall.sqlite{suffix}").unlink(missing_ok=True)
    ws.recall_db.write_bytes(data[: len(data) // 2])
    caplog.set_level(logging.WARNING, logger="codemem")
    result = run(repo, "sessions", "list")
    assert result.exit_code == 0, result.output
    assert len(damaged_lines(caplog)) == 1


def test_a_recall_database_damaged_inside_is_named_in_one_line(repo, caplog):
    ws = long_conversation(repo)
    with open(ws.recall_db, "r+b") as handle:  # one page in the middle overwritten
        handle.seek(4096 * 20)
        handle.write(b"\xff" * 4096)
    caplog.set_level(logging.WARNING, logger="codemem")
    result = run(repo, "sessions", "list")
    assert (result.exit_code, result.stdout) == (0, "No sessions yet.\n")
    [line] = damaged_lines(caplog)
    assert line.startswith(f"{ws.recall_db} was damaged (quick check: *** in database main *** ")
    assert "\n" not in line


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_recall_database_that_is_not_a_file_is_set_aside(repo, caplog, kind):
    ws = Workspace(repo)
    ws.ensure_local()
    if kind == "folder":
        ws.recall_db.mkdir()
    else:
        os.mkfifo(ws.recall_db)
    caplog.set_level(logging.WARNING, logger="codemem")
    for args in (["sessions", "list"], ["recall", "hello"]):
        result = run(repo, *args)
        assert result.exit_code in (0, 1), result.output
        assert "internal error" not in result.output
    [line] = damaged_lines(caplog)
    assert "recall.sqlite was damaged (not a regular file); moved it to" in line
    with Recall(ws) as recall:
        assert recall.list_sessions() == []


@pytest.mark.parametrize("kind", ["folder", "dangling link", "link to a file"])
def test_a_wal_or_shm_file_that_is_no_file_is_set_aside_and_the_sessions_kept(
    repo, caplog, tmp_path, kind
):
    # SQLite opens neither through a link nor a folder: every command that read recall
    # (`ask`, `chat`, `recall`, `sessions`) was "internal error: OperationalError: unable to
    # open database file", for good.
    ws = Workspace(repo)
    with Recall(ws) as recall:
        session = recall.start_session("m", "Fix CI")
        recall.add_message(session, "user", "CI is red")
    outside = tmp_path / "precious.txt"
    outside.write_text("precious\n")
    for suffix in ("-wal", "-shm"):
        sidecar = ws.recall_db.with_name(ws.recall_db.name + suffix)
        sidecar.unlink(missing_ok=True)
        if kind == "folder":
            sidecar.mkdir()
        else:
            sidecar.symlink_to(outside if kind == "link to a file" else tmp_path / "nowhere")
    caplog.set_level(logging.WARNING, logger="codemem")
    result = run(repo, "sessions", "list")
    assert (result.exit_code, result.stdout) == (
        0,
        f"{session}     1 messages  m  Fix CI\n",
    ), result.output
    lines = [record.getMessage() for record in caplog.records]
    assert [line.split(" moved")[0] for line in lines] == [
        f"{ws.recall_db}-wal is not a regular file:",
        f"{ws.recall_db}-shm is not a regular file:",
    ]
    assert all(line.endswith(" (SQLite cannot open it)") for line in lines), lines
    with Recall(ws) as recall:
        recall.add_message(session, "assistant", "Fixed.")
        assert len(recall.get_session(session).messages) == 2
    assert outside.read_text() == "precious\n"


def test_disk_full_is_one_line_exit_3_and_the_old_file_is_intact(repo, monkeypatch):
    block = repo / ".codemem" / "blocks" / "project.md"
    before = block.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("codemem.infra.files.os.fsync", full)
    state_before = (
        (repo / ".codemem" / "state.json").read_bytes()
        if (repo / ".codemem" / "state.json").exists()
        else None
    )
    for args in (
        ["memory", "set", "project", "--value", "A bigger shop."],
        ["remember", "a note about carts"],
        ["digest"],
    ):
        result = run(repo, *args)
        assert result.exit_code == 3, result.output
        assert result.stderr == (
            "codemem: error: the disk is full (free some space and run the command again)\n"
        )
    assert block.read_bytes() == before
    state = repo / ".codemem" / "state.json"
    assert (state.read_bytes() if state.exists() else None) == state_before
    assert not [p for p in block.parent.iterdir() if p.suffix == ".tmp"]
    assert not (repo / ".codemem" / "archive").exists() or not list(
        (repo / ".codemem" / "archive").iterdir()
    )


def test_debug_re_raises(repo, monkeypatch):
    monkeypatch.setenv("CODEMEM_DEBUG", "1")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("codemem.infra.files.os.fsync", full)
    result = run(repo, "memory", "set", "project", "--value", "A bigger shop.")
    assert isinstance(result.exception, OSError)
    assert result.exception.errno == errno.ENOSPC


def test_sleep_bookkeeping_with_a_wrong_type_is_ignored_in_one_line(repo, caplog):
    ws = Workspace(repo)
    ws.ensure_local()
    (ws.local_dir / "sleep.json").write_text(
        json.dumps({"last_head": 5, "sessions_until": "2026-01-01"})
    )
    ws.state_file.write_text(json.dumps({"sleep": {"last_commit": ["x"]}}))
    caplog.set_level(logging.WARNING, logger="codemem")
    state = read_state(ws)
    assert state.last_commit is None
    assert [r.getMessage() for r in caplog.records] == [
        ".codemem/local/sleep.json: 'last_head' has the wrong type (int); ignoring it "
        "(the next digest derives it again)",
        ".codemem/state.json: 'last_commit' has the wrong type (list); ignoring it "
        "(the next digest derives it again)",
    ]
    result = run(repo, "digest")
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads((ws.local_dir / "sleep.json").read_text())["last_head"], str)


def test_status_lists_each_damage(repo):
    ws = Workspace(repo)
    (ws.blocks_dir / "notes.md").write_bytes(b"---\ndescription: x\n---\n\xff\n")
    ws.archive_dir.mkdir(parents=True, exist_ok=True)
    (ws.archive_dir / "20260101-000000-abcd.md").write_bytes(b"\xfe\xff")
    ws.ensure_local()
    ws.recall_db.write_bytes(b"garbage" * 100)
    (ws.local_dir / "sleep.json").write_text('{"last_head": []}')
    (ws.dir / "conventions.json").write_text("{")
    result = run(repo, "status", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [d["kind"] for d in report["damage"]] == [
        "block",
        "note",
        "recall",
        "state",
        "conventions",
    ]
    for damage in report["damage"]:
        assert damage["message"] in report["problems"]
    text = run(repo, "status").stdout
    assert "Problems: none" not in text
    assert ".codemem/local/recall.sqlite: damaged (file is not a database)" in text


def test_a_key_given_twice_in_frontmatter_is_named_and_nothing_rewrites_the_file(repo):
    ws = Workspace(repo)
    ws.archive_dir.mkdir(parents=True, exist_ok=True)
    note = ws.archive_dir / "twice.md"
    note.write_text(
        "---\nid: twice\ntags: [ops]\ncreated: 2025-02-20T08:00:00+00:00\ntags: [billing]\n---\n"
        "Since last week the billing job runs at night.\n"
    )
    block = ws.blocks_dir / "conventions.md"
    block.write_text(block.read_text().replace("---\n", "---\nlimit: 100\n", 1))
    before = {path: path.read_bytes() for path in (note, block)}
    said = {
        note: ".codemem/archive/twice.md:5: invalid frontmatter (duplicate key 'tags' on lines 3 "
        "and 5: keep one of them (YAML would take the last silently)): fix the YAML between the "
        "'---' lines",
        block: ".codemem/blocks/conventions.md:4: invalid frontmatter (duplicate key 'limit' on "
        "lines 2 and 4: keep one of them (YAML would take the last silently)): fix the YAML "
        "between the '---' lines",
    }
    status = run(repo, "status")
    assert status.exit_code == 0
    assert f"  - {said[block]}" in status.stdout.splitlines()
    assert f"  - {said[note]}" in status.stdout.splitlines()
    edit = run(repo, "remember", "--block", "conventions", "Spaces.")
    assert (edit.exit_code, edit.stderr) == (2, f"codemem: error: {said[block]}\n")
    digest = run(repo, "digest")
    assert digest.exit_code == 0, digest.output
    # before: the last `tags:` won, and the digest's rewrite of the note dropped [ops]
    assert {path: path.read_bytes() for path in (note, block)} == before

"""A teammate's clone that commits memory with Windows line ends (CRLF): what the digest
rewrites keeps them, so `git diff` shows only what changed in meaning."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sleep_helpers import digest as run_digest
from sleep_helpers import init, scripted_history

from codemem.cli import cli
from codemem.memory import Archive, MemoryStore
from tests.helpers import commands_run, git, make_repo


def digest(repo):
    return CliRunner().invoke(cli, ["--repo", str(repo), "digest", "--no-llm"])


def test_the_learned_records_keep_the_line_ends_they_were_committed_with(tmp_path):
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    scripted_history(repo)
    init(repo)
    assert digest(repo).exit_code == 0
    records = repo / ".codemem" / "conventions.json"
    rules = json.loads(records.read_text(encoding="utf-8"))
    # committed from Windows: every line ends in CRLF, and one rule was removed by hand
    lost = rules["rules"].pop()
    text = json.dumps(rules, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    records.write_bytes(text.replace("\n", "\r\n").encode())
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Memory from Windows")

    assert digest(repo).exit_code == 0

    data = records.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n")  # no line of it turned to LF
    assert json.loads(data)["rules"][-1] == lost
    numstat = git(repo, "diff", "--numstat", "--", ".codemem/conventions.json").stdout
    meaning = git(
        repo, "diff", "--numstat", "--ignore-cr-at-eol", "--", ".codemem/conventions.json"
    ).stdout
    assert numstat == meaning  # the lines the rule takes, not the whole file
    assert numstat.split("\t")[1] == "0"


def test_a_digest_writing_several_notes_asks_git_their_line_ends_once(tmp_path, monkeypatch):
    # Before: two git commands (`check-attr`, `config --get-regexp`) for each new file: a digest
    # moving five sections of a block to five notes ran them for each note, the digest and
    # conventions.json alike: (7, 7) here.
    repo = make_repo(tmp_path / "r", "sleep/pyshop", commit=False)
    scripted_history(repo)
    git(repo, "config", "core.autocrlf", "true")
    ws = init(repo)
    MemoryStore(ws, user="tester").create("team", "Team notes.", "", limit=400)
    block = ws.blocks_dir / "team.md"
    sections = [
        f"## Part {n}\n" + f"Section {n} says something long enough. " * 4 for n in range(5)
    ]
    block.write_text(block.read_text() + "Intro line.\n\n" + "\n\n".join(sections) + "\n")
    asked = commands_run(monkeypatch)
    result = run_digest(ws)
    monkeypatch.undo()

    assert len(result.consolidation.moved) == 5
    notes = Archive(ws).notes()
    assert len(notes) == 5
    for note in notes:
        data = note.path.read_bytes()
        assert data.count(b"\n") == data.count(b"\r\n")  # as git checks them out here
    attributes = [args for args in asked if "check-attr" in args]
    config = [args for args in asked if r"^core\.(autocrlf|eol)$" in args]
    # the attributes of every new file at once; the config as `init` read it in this process
    # (its files unchanged since)
    assert (len(attributes), len(config)) == (1, 0)

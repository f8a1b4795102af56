"""A teammate's clone that commits memory with Windows line ends (CRLF): what the digest
rewrites keeps them, so `git diff` shows only what changed in meaning."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sleep_helpers import init, scripted_history

from codemem.cli import cli
from tests.helpers import git, make_repo


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

"""`codemem status --skipped`: which files the index leaves out, and why."""

from __future__ import annotations

import json

from click.testing import CliRunner

from codemem.cli import cli


def run(repo, *args):
    return CliRunner().invoke(cli, ["--repo", str(repo), *args], catch_exceptions=False)


def test_skipped_files_with_their_reasons(repo_factory):
    repo = repo_factory("shop")
    (repo / "blob.bin").write_bytes(b"\0\1\2" * 100)
    (repo / ".env").write_text("TOKEN=x\n")
    assert run(repo, "index").exit_code == 0
    report = json.loads(run(repo, "status", "--skipped", "--json").stdout)
    assert report["skipped_files"] == [
        {"path": ".env", "reason": "secret"},
        {"path": "blob.bin", "reason": "binary"},
    ]
    assert "skipped_files" not in json.loads(run(repo, "status", "--json").stdout)
    text = run(repo, "status", "--skipped").stdout
    assert "Skipped:\n  secret                         1\n      .env\n" in text
    assert "  binary                         1\n      blob.bin\n" in text


def test_nothing_skipped_says_so(repo_factory):
    repo = repo_factory()
    (repo / "a.py").write_text("x = 1\n")
    assert run(repo, "index").exit_code == 0
    assert "Skipped: nothing.\n" in run(repo, "status", "--skipped").stdout
    assert json.loads(run(repo, "status", "--skipped", "--json").stdout)["skipped_files"] == []

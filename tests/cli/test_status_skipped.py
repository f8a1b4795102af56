"""`codemem status --skipped`: which files the index leaves out, and why."""

from __future__ import annotations

import json

from click.testing import CliRunner

from codemem.cli import cli
from tests.helpers import git


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


def test_submodules_are_named_as_repositories_of_their_own(repo_factory):
    # Their files are not in the superproject's index, and status once said nothing of them.
    lib = repo_factory()
    (lib / "lib.py").write_text("def helper():\n    return 1\n")
    git(lib, "add", "-A")
    git(lib, "commit", "-q", "-m", "lib")
    repo = repo_factory()
    (repo / "a.py").write_text("x = 1\n")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "vendor lib")
    assert run(repo, "index").exit_code == 0
    assert json.loads(run(repo, "status", "--json").stdout)["submodules"] == ["vendor lib"]
    assert (
        "Submodules (repositories of their own, not indexed here: run codemem in each): "
        "vendor lib\n" in run(repo, "status").stdout
    )


def test_skipped_names_are_shown_with_their_control_characters_escaped(repo_factory):
    repo = repo_factory()
    (repo / "a\x1b[2J.bin").write_bytes(b"\0\1\2")
    assert run(repo, "index").exit_code == 0
    assert "      a\\x1b[2J.bin\n" in run(repo, "status", "--skipped").stdout

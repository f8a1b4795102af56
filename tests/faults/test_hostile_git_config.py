"""A repository that arrives with its own `.git` (a tarball, a zip, a shared folder, a CI cache)
carries a `.git/config` whose programs git runs: fsmonitor, clean and smudge filters, textconv,
external diffs, gpg, hooks. codemem's commands read that repository as they read any other and
run none of them; `tests/helpers.py: arm_git_config` names each one.

Every command is the real command line in a subprocess, as the watch daemon, an editor's MCP
server or the commit hook would start it. (`digest --push` commits as the user asked, hooks and
filters included: tests/infra/test_infra_git_config.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import arm_git_config, forge_signature, git, marked, run_codemem, stale_stat

DATED = {"GIT_AUTHOR_DATE": "2025-03-10T12:00:00Z", "GIT_COMMITTER_DATE": "2025-03-10T12:00:00Z"}


@pytest.fixture
def armed(repo_factory, tmp_path):
    """(repo, marks): a repository with two commits of code, codemem's memory committed (a
    block saying "yesterday", for the digest to date by `git blame`), a signed-looking HEAD,
    and then its `.git/config` armed; every tracked file's stat information is stale."""
    repo = repo_factory(commit=False)
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text("def parser_token():\n    return 1\n")
    (repo / "src" / "util.py").write_text("def helper():\n    return 0\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "first")
    (repo / "src" / "app.py").write_text("def parser_token():\n    return 2\n")
    git(repo, "commit", "-qam", "second")
    assert run_codemem(repo, "init").returncode == 0
    with (repo / ".codemem" / "blocks" / "project.md").open("a") as block:
        block.write("\nWe fixed the parser yesterday.\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "memory", env=DATED)
    forge_signature(repo)
    tracked = git(repo, "ls-files").stdout.splitlines()
    marks = tmp_path / "marks"
    arm_git_config(repo, marks)
    stale_stat(repo, *tracked)
    return repo, marks


def _ok(repo: Path, *args: str) -> str:
    done = run_codemem(repo, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_index_status_and_search_run_nothing_the_repository_config_names(armed):
    repo, marks = armed
    summary = json.loads(_ok(repo, "index", "--json"))
    assert (summary["files"], summary["added"], summary["changed"]) == (2, 0, 0)
    assert marked(marks) == []
    status = json.loads(_ok(repo, "status", "--json"))
    assert (status["problems"], status["freshness"]) == ([], {"stale_files": 0})
    assert marked(marks) == []
    hits = json.loads(_ok(repo, "search", "parser_token", "--json"))
    assert hits[0]["path"] == "src/app.py"
    assert marked(marks) == []


def test_review_of_the_work_tree_and_of_the_stage_runs_nothing_it_names(armed):
    repo, marks = armed
    (repo / "src" / "util.py").write_text("def helper():\n    return 3\n")
    report = json.loads(_ok(repo, "review", "--format", "json"))
    assert (report["files"], report["findings"]) == (["src/util.py"], [])
    assert marked(marks) == []
    git(repo, "add", "src/util.py")  # the test's own git runs them
    for name in marked(marks):
        (marks / name).unlink()
    report = json.loads(_ok(repo, "review", "--staged", "--format", "json"))
    assert (report["files"], report["findings"]) == (["src/util.py"], [])
    assert marked(marks) == []


def test_digest_and_memory_history_read_the_log_and_blame_through_nothing_it_names(armed):
    repo, marks = armed
    _ok(repo, "digest")
    assert marked(marks) == []
    assert len(list((repo / ".codemem" / "digests").glob("*.md"))) == 1
    # Consolidation dated the block's "yesterday" by `git blame` of the line: its commit's day.
    block = (repo / ".codemem" / "blocks" / "project.md").read_text()
    assert "We fixed the parser on 2025-03-09.\n" in block
    history = _ok(repo, "memory", "history", "project", "-p")
    assert "+We fixed the parser yesterday.\n" in history
    assert marked(marks) == []
